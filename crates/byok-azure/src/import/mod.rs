//! `byok ceremony import`: the connected run of a ceremony.
//!
//! Reads the same plan as the offline run, and the ceremony directory the officers
//! carried over: the closed, signed offline transcript, `manifest.json`, the packages and
//! public keys. Before anything is sent it checks that the transcript verifies and starts
//! from this plan, that the manifest is the one the transcript recorded, and that every
//! file is byte for byte what the manifest says. Then, key by key: upload, verify
//! (Customer Key's rules and a live round trip), back up. At the end it prints the
//! versioned key URIs and the exact Office 365 commands that finish the setup, and the
//! commands for a future key roll.
//!
//! Rerunnable: uploads already done are recognized by the package hash tag, verification
//! runs again, and a key version already in the backup manifest is not backed up twice.
//! Each run writes its own transcript, `import-transcript.jsonl` (then `-2`, `-3`, … for
//! later runs), chained from the plan's hash and naming the offline transcript's digest,
//! and closed unsigned (the connected workstation holds no HSM) with the reason stated.

use crate::backup::{self, ManifestEntry};
use crate::pipeline;
use crate::vault::{Connection, Vault};
use byok_core::ceremony::plan::CheckedPlan;
use byok_core::ceremony::run::{MANIFEST, TRANSCRIPT};
use byok_core::transcript::{self, sha256_hex, Record, Writer};
use byok_core::{bail, err, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The subset of `manifest.json` the import reads.
#[derive(Debug, Deserialize)]
struct Manifest {
    ceremony: String,
    plan_sha256: String,
    keys: Vec<ManifestKey>,
}

#[derive(Debug, Clone, Deserialize)]
struct ManifestKey {
    policy: String,
    vault: String,
    name: String,
    kek_kid: String,
    public_key: String,
    public_key_sha256: String,
    package: String,
    package_sha256: String,
}

/// One imported key.
#[derive(Debug, Serialize)]
pub struct ImportedKey {
    pub policy: String,
    pub vault: String,
    pub name: String,
    /// The versioned key URI.
    pub kid: String,
    pub version: String,
    pub uploaded_now: bool,
    pub verified: bool,
    pub backup_file: String,
}

/// One policy's Office 365 commands.
#[derive(Debug, Serialize)]
pub struct PolicyCommands {
    pub policy: String,
    pub service: String,
    pub setup: Vec<String>,
    pub after_key_roll: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ImportReport {
    pub ceremony: String,
    pub keys: Vec<ImportedKey>,
    pub commands: Vec<PolicyCommands>,
    pub transcript: PathBuf,
    pub transcript_digest: String,
    pub backup_dir: PathBuf,
}

pub struct ImportOptions<'a> {
    /// The checked plan (the same file as the offline run's).
    pub plan: &'a CheckedPlan,
    pub packages: &'a Path,
    pub backup_dir: Option<&'a Path>,
    pub conn: &'a Connection,
    /// Attestation trust roots: the pinned Marvell roots, plus any rehearsal roots.
    pub roots: &'a byok_core::attestation::TrustRoots,
}

/// Check the carried-over directory against the plan before anything is sent.
fn check_inputs(plan: &CheckedPlan, dir: &Path) -> Result<(Manifest, String, String)> {
    let tpath = dir.join(TRANSCRIPT);
    let verified = transcript::verify(&tpath)
        .map_err(|e| e.context("the offline transcript does not verify; stop: the ceremony directory was altered or is incomplete"))?;
    if verified.report.plan_sha256 != plan.sha256_hex() {
        bail!(
            "{} was made from another plan (SHA-256 {}), not {}: use the plan of that ceremony",
            tpath.display(),
            verified.report.plan_sha256,
            plan.path.display()
        );
    }
    let recorded_manifest = verified
        .records
        .iter()
        .find(|r| r.step == "manifest")
        .and_then(|r| r.outputs.get(MANIFEST).cloned())
        .ok_or_else(|| {
            err!(
                "{} records no manifest: the offline ceremony did not finish",
                tpath.display()
            )
        })?;
    let mpath = dir.join(MANIFEST);
    let mbytes = byok_core::fsutil::read_limited(&mpath, 1 << 20, "manifest")?;
    if sha256_hex(&mbytes) != recorded_manifest {
        bail!(
            "{} is not the manifest the transcript recorded: it was altered; stop and investigate",
            mpath.display()
        );
    }
    let manifest: Manifest = serde_json::from_slice(&mbytes)
        .map_err(|e| err!("{} does not parse ({e})", mpath.display()))?;
    if manifest.plan_sha256 != plan.sha256_hex() || manifest.ceremony != plan.plan.ceremony {
        bail!("{} belongs to another ceremony or plan", mpath.display());
    }
    for pk in &plan.keys {
        let Some(mk) = manifest.keys.iter().find(|m| m.name == pk.key.name) else {
            bail!("the manifest has no key {} of the plan", pk.key.name);
        };
        if mk.policy != pk.policy {
            bail!(
                "the manifest puts {} in policy {}, the plan in {}",
                mk.name,
                mk.policy,
                pk.policy
            );
        }
        if crate::vault::check_vault_url(&mk.vault, plan.mode)?
            != crate::vault::check_vault_url(&pk.key.vault, plan.mode)?
        {
            bail!(
                "the manifest puts {} in {}, the plan in {}",
                mk.name,
                mk.vault,
                pk.key.vault
            );
        }
        for (file, want) in [
            (&mk.package, &mk.package_sha256),
            (&mk.public_key, &mk.public_key_sha256),
        ] {
            if file.contains('/') || file.starts_with('.') {
                bail!("the manifest names {file:?}, which is not a file of the ceremony directory");
            }
            let bytes = byok_core::fsutil::read_limited(&dir.join(file), 1 << 20, "ceremony file")?;
            if &sha256_hex(&bytes) != want {
                bail!("{file} is not the file the ceremony made (its SHA-256 differs from the manifest's): it was altered in transit; stop");
            }
        }
    }
    let digest = verified.report.digest.clone();
    Ok((
        manifest,
        sha256_hex(
            &std::fs::read(&tpath).map_err(|e| err!("cannot read {}: {e}", tpath.display()))?,
        ),
        digest,
    ))
}

/// The transcript file of this import run: an unfinished one is continued; after a
/// closed one, the next number.
fn transcript_path(dir: &Path) -> Result<(PathBuf, bool)> {
    for n in 1..1000 {
        let name = if n == 1 {
            "import-transcript.jsonl".to_string()
        } else {
            format!("import-transcript-{n}.jsonl")
        };
        let p = dir.join(name);
        if !p.exists() {
            return Ok((p, false));
        }
        if transcript::verify(&p).is_err() {
            // Not closed (or damaged): reopening checks its chain and says which.
            return Ok((p, true));
        }
    }
    bail!("too many import transcripts in {}", dir.display())
}

/// The vault name Office 365 cmdlets want: the first label of the vault's host.
fn vault_name(url: &str) -> String {
    backup::vault_file_label(url)
}

fn commands(plan: &CheckedPlan, keys: &[ImportedKey]) -> Vec<PolicyCommands> {
    let mut out = Vec::new();
    for p in &plan.plan.policies {
        let ks: Vec<&ImportedKey> = keys.iter().filter(|k| k.policy == p.name).collect();
        if ks.len() != 2 {
            continue;
        }
        let (a, b) = (ks[0], ks[1]);
        let q = |s: &str| format!("\"{}\"", s.replace('"', "`\""));
        let (setup, roll) = if p.service == "exchange" {
            let mut setup = vec![format!(
                "New-DataEncryptionPolicy -Name {} -Description {} -AzureKeyIDs {}, {}",
                q(&p.name),
                q(p.description.as_deref().unwrap_or(&p.name)),
                q(&a.kid),
                q(&b.kid)
            )];
            setup.push(format!(
                "Set-Mailbox -Identity <mailbox> -DataEncryptionPolicy {}",
                q(&p.name)
            ));
            (
                setup,
                vec![format!(
                    "Set-DataEncryptionPolicy -Identity {} -Refresh",
                    q(&p.name)
                )],
            )
        } else {
            let admin = p.admin_url.clone().unwrap_or_default();
            let setup = vec![format!(
                "Register-SPODataEncryptionPolicy -Identity {admin} -PrimaryKeyVaultName {} -PrimaryKeyName {} -PrimaryKeyVersion {} -SecondaryKeyVaultName {} -SecondaryKeyName {} -SecondaryKeyVersion {}",
                vault_name(&a.vault), a.name, a.version, vault_name(&b.vault), b.name, b.version
            )];
            let roll = vec![
                format!(
                    "Update-SPODataEncryptionPolicy -Identity {admin} -KeyVaultName {} -KeyName {} -KeyVersion <new version> -KeyType Primary",
                    vault_name(&a.vault),
                    a.name
                ),
                "(wait until Get-SPODataEncryptionPolicy shows the roll done, then the secondary:)".to_string(),
                format!(
                    "Update-SPODataEncryptionPolicy -Identity {admin} -KeyVaultName {} -KeyName {} -KeyVersion <new version> -KeyType Secondary",
                    vault_name(&b.vault),
                    b.name
                ),
            ];
            (setup, roll)
        };
        let mut roll = roll;
        roll.insert(
            0,
            "after `byok upload … --new-version` and `byok backup` of the rolled key:".to_string(),
        );
        out.push(PolicyCommands {
            policy: p.name.clone(),
            service: p.service.clone(),
            setup,
            after_key_roll: roll,
        });
    }
    out
}

/// Run the import. `vaults` connects to a vault URL (the CLI passes `Vault::connect`).
pub fn import(opts: &ImportOptions<'_>) -> Result<ImportReport> {
    let plan = opts.plan;
    let mode = plan.mode;
    let conn = Connection {
        mode,
        ..opts.conn.clone()
    };
    let dir = opts.packages;
    let (manifest, offline_sha, offline_digest) = check_inputs(plan, dir)?;
    let backup_dir = opts
        .backup_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.join("backups"));
    if !backup_dir.exists() {
        std::fs::create_dir(&backup_dir)
            .map_err(|e| err!("cannot create {}: {e}", backup_dir.display()))?;
    }
    // Connect to every vault first: a wrong URL or credential stops the run before any upload.
    let mut vaults: BTreeMap<String, Vault> = BTreeMap::new();
    for k in &manifest.keys {
        let url = crate::vault::check_vault_url(&k.vault, mode)?;
        if !vaults.contains_key(&url) {
            vaults.insert(url.clone(), Vault::connect(&url, &conn)?);
        }
    }
    let (tpath, continuing) = transcript_path(dir)?;
    let mut w = if continuing {
        Writer::reopen(&tpath)?.0
    } else {
        let mut w = Writer::create(&tpath, plan.sha256)?;
        w.append(
            Record::new("open", "byok")
                .input("plan", &plan.sha256_hex())
                .input(TRANSCRIPT, &offline_sha)
                .detail("ceremony", &plan.plan.ceremony)
                .detail("run", "import")
                .detail("rehearsal", mode.is_rehearsal())
                .detail("offline_transcript_digest", &offline_digest)
                .detail("vaults", vaults.keys().collect::<Vec<_>>()),
        )?;
        w
    };
    let done_in_backups: Vec<ManifestEntry> =
        backup::read_manifest(&backup_dir).unwrap_or_default();
    let mut keys = Vec::new();
    for pk in &plan.keys {
        let Some(mk) = manifest.keys.iter().find(|m| m.name == pk.key.name) else {
            bail!("internal: key {} vanished from the manifest", pk.key.name);
        };
        let url = crate::vault::check_vault_url(&mk.vault, mode)?;
        let v = vaults
            .get(&url)
            .ok_or_else(|| err!("internal: no connection to {url}"))?;
        if byok_core::keyid::KeyId::parse(&mk.kek_kid, mode)?.vault != url {
            bail!("the manifest's KEK for {} is not in {url}", mk.name);
        }
        let up = pipeline::upload(
            v,
            &dir.join(&mk.package),
            &mk.name,
            false,
            Some(&dir.join(&mk.public_key)),
        )?;
        w.append(
            Record::new("upload", "byok")
                .input(&mk.package, &mk.package_sha256)
                .detail("vault", &url)
                .detail("key", &mk.name)
                .detail("kid", &up.kid)
                .detail("already_done", up.already_done)
                .detail("spki_sha256", &up.key_spki_sha256),
        )?;
        let ver = pipeline::verify_with_roots(v, &mk.name, &dir.join(&mk.public_key), opts.roots)?;
        if !ver.ok {
            let failed: Vec<String> = ver
                .rules
                .iter()
                .filter(|r| !r.ok)
                .map(|r| format!("{} (fix: {})", r.rule, r.fix))
                .collect();
            bail!("key {} in {url} fails: {}", mk.name, failed.join("; "));
        }
        w.append(
            Record::new("verify", "byok")
                .input(&mk.public_key, &mk.public_key_sha256)
                .detail("kid", &ver.kid)
                .detail(
                    "rules",
                    ver.rules.iter().map(|r| r.rule).collect::<Vec<_>>(),
                ),
        )?;
        let version = up.version.clone();
        let existing = done_in_backups
            .iter()
            .find(|e| {
                crate::vault::check_vault_url(&e.vault, mode)
                    .ok()
                    .as_deref()
                    == Some(url.as_str())
                    && e.key == mk.name
                    && e.version == version
            })
            .cloned();
        let entry = match existing {
            Some(e) => e,
            None => {
                let b = pipeline::backup(v, &mk.name, &backup_dir)?;
                w.append(
                    Record::new("backup", "byok")
                        .output(&b.entry.file, &b.entry.sha256)
                        .detail("kid", &ver.kid)
                        .detail("dir", backup_dir.display().to_string()),
                )?;
                b.entry
            }
        };
        keys.push(ImportedKey {
            policy: pk.policy.clone(),
            vault: url.clone(),
            name: mk.name.clone(),
            kid: ver.kid.clone(),
            version,
            uploaded_now: !up.already_done,
            verified: true,
            backup_file: entry.file,
        });
    }
    let commands = commands(plan, &keys);
    let mut close = Record::new("close", "byok")
        .detail(
            "unsigned",
            "the connected workstation holds no HSM; the offline transcript is signed",
        )
        .detail("keys", keys.iter().map(|k| &k.kid).collect::<Vec<_>>())
        .detail(
            "office365_commands",
            commands
                .iter()
                .flat_map(|c| c.setup.clone())
                .collect::<Vec<_>>(),
        );
    for k in &keys {
        let bytes = std::fs::read(backup_dir.join(&k.backup_file))
            .map_err(|e| err!("cannot read {}: {e}", k.backup_file))?;
        close = close.output(&k.backup_file, &sha256_hex(&bytes));
    }
    w.append(close)?;
    let verified = transcript::verify(&tpath)?;
    Ok(ImportReport {
        ceremony: plan.plan.ceremony.clone(),
        keys,
        commands,
        transcript: tpath,
        transcript_digest: verified.report.digest,
        backup_dir,
    })
}
