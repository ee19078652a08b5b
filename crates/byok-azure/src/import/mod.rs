//! `byok ceremony import`: the connected run of a ceremony.
//!
//! Reads the same plan as the offline run, the ceremony directory the officers carried
//! over (the closed, signed offline transcript, `manifest.json`, the packages and public
//! keys) and the transcript digest the officers signed on paper at the close. Before
//! anything is sent ([`check`]) it checks that the transcript verifies and has exactly
//! that digest (see [`byok_core::transcript::custody`]: anyone can wrap keys under the
//! public KEKs, only the witnessed ceremony has the signed digest), that its close is
//! signed by the signer it recorded, on the token the plan pins, that it starts from this
//! plan, that the manifest is the one the transcript recorded, and that every file is
//! byte for byte what the manifest says. Then, key by key: upload, verify
//! (Customer Key's rules and a live round trip), back up. At the end it prints the
//! versioned key URIs and the exact Office 365 commands that finish the setup, and the
//! commands for a future key roll.
//!
//! Rerunnable: uploads already done are recognized by the package hash tag, verification
//! runs again, and a key version already in the backup manifest is not backed up twice.
//! Each run writes its own transcript, `import-transcript.jsonl` (then `-2`, `-3`, … for
//! later runs), chained from the plan's hash and naming the offline transcript's digest,
//! and closed unsigned (the connected workstation holds no HSM) with the reason stated.

mod commands;
mod inputs;
mod targets;

pub use commands::PolicyCommands;
pub use targets::{BaoImported, CloudCommands};

use crate::backup::{self, ManifestEntry};
use crate::pipeline;
use crate::vault::{check_vault_url, Connection, KeyVersion, Vault};
use byok_core::ceremony::manifest::TRANSCRIPT;
use byok_core::ceremony::plan::{CheckedPlan, KeyPlan, TargetKind};
use byok_core::console::{Console, Steps};
use byok_core::keyid::Service;
use byok_core::transcript::{self, Custody, Record, StepName, Writer};
use byok_core::util::sha256_hex;
use byok_core::{bail, err, ErrorKind, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The key id the vault answered for key `name` in vault `url`, which goes into the
/// printed Office 365 commands: it must be a key id of that vault and key, with a proper
/// version (32 hex digits), and the version just uploaded.
fn vault_kid(
    kid: &str,
    url: &str,
    name: &str,
    uploaded: &str,
    mode: byok_core::Mode,
) -> Result<byok_core::keyid::KeyId> {
    let k = byok_core::keyid::KeyId::parse(kid, mode)
        .map_err(|e| e.context(format!("the key id {url} answered for {name}")))?;
    if k.vault != url || !k.name.eq_ignore_ascii_case(name) || k.version != uploaded {
        bail!(
            Integrity,
            "{url} answered with key id {} for key {name} (version {uploaded} uploaded): not this key; stop and check the vault",
            k.url()
        );
    }
    Ok(k)
}

/// An unfinished import transcript is continued only if it is an import of this plan and
/// of this offline ceremony (its open record says so): one planted in the carried
/// directory, or left by another ceremony, is refused, not written into.
fn check_same_import(
    path: &Path,
    records: &[Record],
    plan: &CheckedPlan,
    custody: &Custody,
) -> Result<()> {
    let same = records.first().is_some_and(|open| {
        open.step == StepName::Open
            && open.prev == plan.sha256_hex()
            && open.detail_str("run") == Some("import")
            && open.detail_str("offline_transcript_digest") == Some(custody.digest.as_str())
    });
    if !same {
        bail!(
            Integrity,
            "{} is an unfinished import of another plan or ceremony (or not an import at all): move it out of the ceremony directory and import again",
            path.display()
        );
    }
    Ok(())
}

/// A backup an earlier run listed in the manifest: its file must be there with the
/// manifest's size and SHA-256, of the key the ceremony made (`key_spki_sha256`).
fn check_earlier_backup(dir: &Path, e: &ManifestEntry, key_spki_sha256: &str) -> Result<()> {
    if !backup::is_plain_file_name(&e.file) {
        bail!(
            Integrity,
            "the backup manifest in {} names {:?}, which is not a file there: the manifest was altered",
            dir.display(),
            e.file
        );
    }
    let bytes = backup::read_backup_file(dir, &e.file)?;
    if bytes.len() as u64 != e.size || sha256_hex(&bytes) != e.sha256 {
        bail!(
            Integrity,
            "{} is not the backup the manifest in {} lists (size or SHA-256 differ): it was altered; move the backup directory away and import again",
            e.file,
            dir.display()
        );
    }
    if !e.key_spki_sha256.eq_ignore_ascii_case(key_spki_sha256) {
        bail!(
            Integrity,
            "the backup manifest in {} lists {} as a backup of another key than the ceremony's {} (SPKI SHA-256 {}, not {key_spki_sha256}): move the backup directory away and import again",
            dir.display(),
            e.file,
            e.key,
            e.key_spki_sha256
        );
    }
    Ok(())
}

/// Seconds since 1970, now.
fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Before a roll of key `name` in vault `url` sends anything: every version there is
/// enabled and unexpired (Customer Key needs them all; one disabled now would be an older
/// version after the roll), and the package (`package_sha256`) is not already a version
/// other than the latest (a rerun after someone added a version: uploading it again would
/// make a second copy of the key, and the refresh would not pick it up).
fn check_roll_before(
    url: &str,
    name: &str,
    package_sha256: &str,
    latest: &str,
    versions: &[KeyVersion],
    now: i64,
) -> Result<()> {
    check_versions_usable(url, name, versions, now).map_err(|e| {
        byok_core::Error::new(e.kind(), format!("{}; nothing was sent", e.message()))
    })?;
    if let Some(v) = versions.iter().find(|v| {
        v.package_sha256
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(package_sha256))
            && !v.version.eq_ignore_ascii_case(latest)
    }) {
        bail!(
            Integrity,
            "version {} of key {name} in {url} is already this ceremony's package, but version {latest} was added after it: byok does not upload it again; find out who added {latest}, then decide which version the policy uses; nothing was sent",
            v.version
        );
    }
    Ok(())
}

/// Every version in `versions` of key `name` in vault `url` is enabled and unexpired at
/// `now`.
fn check_versions_usable(url: &str, name: &str, versions: &[KeyVersion], now: i64) -> Result<()> {
    for o in versions {
        if o.enabled != Some(true) {
            bail!(
                Service,
                "version {} of key {name} in {url} is not enabled: Customer Key needs every older version to decrypt older content; enable it (`az keyvault key set-attributes --id {url}/keys/{name}/{} --enabled true`) and run the import again",
                o.version,
                o.version
            );
        }
        if o.expires.is_some_and(|e| e <= now) {
            bail!(
                Service,
                "version {} of key {name} in {url} has expired: Customer Key needs every older version to decrypt older content; clear its expiry (`az keyvault key set-attributes --id {url}/keys/{name}/{} --expires ''`) and run the import again",
                o.version,
                o.version
            );
        }
    }
    Ok(())
}

/// After a roll of key `name` in vault `url`: `new` (the version just uploaded) is the
/// newest listed, every version listed `before` the upload is still there, and every
/// other version is enabled and unexpired at `now`: Customer Key decrypts older content
/// with the older versions, so none may be lost or disabled.
fn check_roll_versions(
    url: &str,
    name: &str,
    new: &str,
    before: &[KeyVersion],
    after: &[KeyVersion],
    now: i64,
) -> Result<()> {
    if !after.iter().any(|v| v.version.eq_ignore_ascii_case(new)) {
        bail!(
            Integrity,
            "{url} does not list the new version {new} of key {name}: stop and check the vault"
        );
    }
    if let Some(gone) = before.iter().find(|b| {
        !after
            .iter()
            .any(|a| a.version.eq_ignore_ascii_case(&b.version))
    }) {
        bail!(
            Integrity,
            "version {} of key {name} in {url} was there before the roll and is gone: Customer Key needs every older version; stop and restore it from the backup",
            gone.version
        );
    }
    let older: Vec<&KeyVersion> = after
        .iter()
        .filter(|v| !v.version.eq_ignore_ascii_case(new))
        .collect();
    if older.is_empty() {
        bail!(
            Integrity,
            "key {name} in {url} has no version but the new {new}: this was not a roll of an existing key; stop and check the vault"
        );
    }
    let older: Vec<KeyVersion> = older.into_iter().cloned().collect();
    check_versions_usable(url, name, &older, now)
}

/// Most import runs of one ceremony directory.
const MAX_RUNS: usize = 999;

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
    /// A roll: the key's new version, the older ones kept.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub roll: bool,
    /// A roll: how many versions the key has now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct ImportReport {
    pub ceremony: String,
    /// The offline ceremony imported, as the officers signed it.
    pub offline: Custody,
    pub keys: Vec<ImportedKey>,
    /// Keys imported into OpenBao (or Vault) transit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub openbao: Vec<BaoImported>,
    /// Keys for AWS KMS and Google Cloud KMS: the commands to run, and the check after.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_clouds: Vec<CloudCommands>,
    pub commands: Vec<PolicyCommands>,
    /// What the operator should know (printed as `warning: …` lines).
    pub warnings: Vec<String>,
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
    /// The offline transcript's digest as the officers signed it on paper: only the
    /// ceremony directory with exactly this digest is imported.
    pub digest: [u8; 32],
    /// The running binary, recorded in the import transcript's `open` record (detail
    /// `binary`).
    pub binary: &'a byok_core::identity::BinaryIdentity,
    /// OpenBao keys: the token's file (else `BAO_TOKEN`, else `VAULT_TOKEN`).
    pub bao_token_file: Option<&'a Path>,
}

/// A ceremony directory that passed every check, nothing sent yet: what the operator
/// compares with the paper record before [`import`] sends anything.
#[derive(Debug)]
pub struct Checked {
    /// The offline ceremony: digest, HSM, signer.
    pub custody: Custody,
    /// How many keys the directory holds.
    pub keys: usize,
    inputs: inputs::Checked,
    /// This run's transcript, and whether it continues an unfinished one.
    transcript: PathBuf,
    continuing: bool,
    backup_dir: PathBuf,
    /// The backups earlier runs made (checked).
    backups: Vec<ManifestEntry>,
}

/// Check the ceremony directory against the plan and the officers' digest, sending
/// nothing: the offline transcript verifies, has the officers' digest, is signed by its
/// recorded signer on the plan's token, and every file is what it recorded.
pub fn check(opts: &ImportOptions<'_>) -> Result<Checked> {
    let inputs = inputs::check_inputs(opts.plan, opts.packages, &opts.digest)?;
    let dir = opts.packages;
    // What an earlier run left in the directory, which the courier could have planted:
    // an unfinished import transcript is continued only if it is this import's, and a
    // backup counts as done only if it is there, whole, and of the ceremony's key.
    let (transcript, continuing) = transcript_path(dir)?;
    if continuing {
        let (records, _) = transcript::read_unfinished(&transcript)?;
        check_same_import(&transcript, &records, opts.plan, &inputs.custody)?;
    }
    let backup_dir = backup_dir_of(opts);
    match std::fs::symlink_metadata(&backup_dir) {
        Ok(m) if !m.is_dir() => bail!(
            "the backup directory {} is not a directory (a file or a link): give a directory with --backup-dir",
            backup_dir.display()
        ),
        _ => {}
    }
    let backups: Vec<ManifestEntry> = match backup::read_manifest(&backup_dir) {
        Ok(entries) => entries,
        Err(e) if e.is(ErrorKind::NotFound) => Vec::new(),
        Err(e) => return Err(e),
    };
    for e in &backups {
        if let Some(k) = inputs.manifest.keys.iter().find(|k| k.name == e.key) {
            check_earlier_backup(&backup_dir, e, &k.spki_sha256)?;
        }
    }
    Ok(Checked {
        custody: inputs.custody.clone(),
        keys: inputs.manifest.keys.len(),
        inputs,
        transcript,
        continuing,
        backup_dir,
        backups,
    })
}

/// Where this import's backups go: `--backup-dir`, else `DIR/backups`.
fn backup_dir_of(opts: &ImportOptions<'_>) -> PathBuf {
    opts.backup_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| opts.packages.join("backups"))
}

/// The transcript file of this import run: an unfinished one is continued; after a
/// closed one, the next number.
fn transcript_path(dir: &Path) -> Result<(PathBuf, bool)> {
    for n in 1..=MAX_RUNS {
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
    bail!(
        Exists,
        "{} already holds {MAX_RUNS} import transcripts: copy the ceremony directory and import from the copy",
        dir.display()
    )
}

/// Run the import of a directory [`check`] passed: connect to every vault, then key by
/// key upload, verify and back up, each step recorded in this run's transcript, and each
/// key done shown on `console` (a bar with an ETA on a terminal).
pub fn import(
    opts: &ImportOptions<'_>,
    checked: Checked,
    console: &dyn Console,
) -> Result<ImportReport> {
    let plan = opts.plan;
    let mode = plan.mode;
    let conn = Connection {
        mode,
        ..opts.conn.clone()
    };
    let dir = opts.packages;
    let Checked {
        inputs:
            inputs::Checked {
                manifest,
                transcript_sha256: offline_sha,
                custody,
            },
        transcript: tpath,
        continuing,
        backup_dir,
        backups: done_in_backups,
        ..
    } = checked;
    // Connect to every vault first, and ask each for a key of the manifest (a read):
    // a wrong URL, CA or credential stops the run before anything is written or sent.
    // A rolled key must already be in its vault (a roll adds a version; it creates no
    // key): its versions are listed now, before anything is sent, and checked again
    // after the upload.
    let mut vaults: BTreeMap<String, Vault> = BTreeMap::new();
    let mut before: BTreeMap<String, Vec<KeyVersion>> = BTreeMap::new();
    for k in manifest
        .keys
        .iter()
        .filter(|k| k.target == TargetKind::Azure)
    {
        let url = check_vault_url(&k.vault, mode)?;
        if !vaults.contains_key(&url) {
            let v = Vault::connect(&url, &conn)?;
            v.get_key(&k.name, None)?;
            vaults.insert(url.clone(), v);
        }
        if k.roll {
            let v = vaults
                .get(&url)
                .ok_or_else(|| err!(Internal, "internal: no connection to {url}"))?;
            let (latest, versions) = match v.get_key(&k.name, None)? {
                Some(b) => (
                    b.version().unwrap_or_default().to_string(),
                    v.list_versions(&k.name)?,
                ),
                None => (String::new(), Vec::new()),
            };
            if versions.is_empty() {
                bail!(
                    NotFound,
                    "key {} does not exist in {url}, and the plan rolls it: a roll adds a new version to an existing key; check the plan's vault and key name (`az keyvault key show`), or drop \"roll\" to create the key; nothing was sent",
                    k.name
                );
            }
            check_roll_before(
                &url,
                &k.name,
                &k.package_sha256,
                &latest,
                &versions,
                now_unix(),
            )?;
            before.insert(k.name.clone(), versions);
        }
    }
    // OpenBao: connect and read each key first too (a roll needs it, a new key must not
    // be there unless this ceremony put it there).
    let bao_keys: Vec<&KeyPlan> = plan
        .keys
        .iter()
        .filter(|k| k.target.kind() == TargetKind::OpenBao)
        .collect();
    let (bao, bao_plan) = targets::connect(
        &bao_keys,
        &manifest.keys,
        conn.ca_file.as_deref(),
        opts.bao_token_file,
        mode.is_rehearsal(),
    )?;
    if !backup_dir.exists() {
        std::fs::create_dir(&backup_dir)
            .map_err(|e| err!(Io, "cannot create {}: {e}", backup_dir.display()))?;
    }
    let mut w = if continuing {
        Writer::reopen(&tpath)?.0
    } else {
        let mut w = Writer::create(&tpath, plan.sha256)?;
        w.append(
            Record::new(StepName::Open, "byok")
                .input("plan", &plan.sha256_hex())
                .input(TRANSCRIPT, &offline_sha)
                .detail("ceremony", &plan.plan.ceremony)
                .detail("run", "import")
                .detail("binary", opts.binary)
                .detail("rehearsal", mode.is_rehearsal())
                .detail("offline_transcript_digest", &custody.digest)
                .detail("offline_hsm_serial", &custody.hsm.serial)
                .detail("offline_signer_spki_sha256", &custody.signer_spki_sha256)
                .detail("vaults", vaults.keys().collect::<Vec<_>>())
                .detail(
                    "openbao",
                    bao.keys()
                        .map(|(a, m)| format!("{a} mount {m}"))
                        .collect::<Vec<_>>(),
                ),
        )?;
        w
    };
    let mut keys = Vec::new();
    let mut bao_done = Vec::new();
    let mut other_clouds = Vec::new();
    let progress = Steps::begin(console, plan.keys.len());
    for pk in &plan.keys {
        let Some(mk) = manifest.keys.iter().find(|m| m.name == pk.key.name) else {
            bail!(
                Internal,
                "internal: key {} vanished from the manifest",
                pk.key.name
            );
        };
        match pk.target.kind() {
            TargetKind::Azure => {}
            TargetKind::OpenBao => {
                let b = targets::import_bao(&bao, &bao_plan, pk, mk, dir, &mut w)?;
                progress.step(&format!(
                    "key {} in {}: {}, verified",
                    b.name,
                    pk.destination(),
                    if b.uploaded_now {
                        "imported"
                    } else {
                        "already imported"
                    }
                ));
                bao_done.push(b);
                continue;
            }
            TargetKind::AwsKms | TargetKind::GcpKms => {
                if let Some(c) = targets::cloud_commands(pk, mk, dir)? {
                    progress.step(&format!(
                        "key {} for {}: commands printed below",
                        c.name, c.destination
                    ));
                    other_clouds.push(c);
                }
                continue;
            }
        }
        let url = check_vault_url(&mk.vault, mode)?;
        let v = vaults
            .get(&url)
            .ok_or_else(|| err!(Internal, "internal: no connection to {url}"))?;
        if byok_core::keyid::KeyId::parse(&mk.kek_kid, mode)?.vault != url {
            bail!("the manifest's KEK for {} is not in {url}", mk.name);
        }
        // A roll uploads a new version; a rerun finds it by the package hash tag on the
        // key's latest version and uploads nothing.
        let up = pipeline::upload(
            v,
            &dir.join(&mk.package),
            &mk.name,
            mk.roll,
            Some(&dir.join(&mk.public_key)),
            Some(&mk.package_sha256),
        )?;
        // (Test builds only: a kill here leaves the new version in the vault, unrecorded.)
        byok_core::crashpoint::hit(byok_core::crashpoint::CrashPoint::Done(StepName::Upload));
        let mut rec = Record::new(StepName::Upload, "byok")
            .input(&mk.package, &mk.package_sha256)
            .detail("vault", &url)
            .detail("key", &mk.name)
            .detail("kid", &up.kid)
            .detail("already_done", up.already_done)
            .detail("spki_sha256", &up.key_spki_sha256);
        if mk.roll {
            rec = rec.detail("roll", true);
        }
        w.append(rec)?;
        let ver = pipeline::verify_with_roots(v, &mk.name, &dir.join(&mk.public_key), opts.roots)?;
        if !ver.ok {
            let failed: Vec<String> = ver
                .rules
                .iter()
                .filter(|r| !r.ok)
                .map(|r| format!("{} (fix: {})", r.rule, r.fix))
                .collect();
            // Another key than the ceremony's is an integrity failure; the rest is the
            // vault's configuration.
            let kind = if ver
                .rules
                .iter()
                .any(|r| !r.ok && r.rule == pipeline::verify::SAME_KEY_RULE)
            {
                ErrorKind::Integrity
            } else {
                ErrorKind::Service
            };
            return Err(byok_core::Error::new(
                kind,
                format!("key {} in {url} fails: {}", mk.name, failed.join("; ")),
            ));
        }
        w.append(
            Record::new(StepName::Verify, "byok")
                .input(&mk.public_key, &mk.public_key_sha256)
                .detail("kid", &ver.kid)
                .detail(
                    "rules",
                    ver.rules.iter().map(|r| r.rule).collect::<Vec<_>>(),
                ),
        )?;
        let kid = vault_kid(&ver.kid, &url, &mk.name, &up.version, mode)?;
        let version = kid.version.clone();
        let existing = done_in_backups
            .iter()
            .find(|e| {
                check_vault_url(&e.vault, mode).ok().as_deref() == Some(url.as_str())
                    && e.key == mk.name
                    && e.version == version
            })
            .cloned();
        let entry = match existing {
            // Checked by `check`: there, whole, and of the ceremony's key (which the
            // verify step just found in the vault).
            Some(e) => e,
            None => {
                let b = pipeline::backup(v, &mk.name, &backup_dir)?;
                w.append(
                    Record::new(StepName::Backup, "byok")
                        .output(&b.entry.file, &b.entry.sha256)
                        .detail("kid", &ver.kid)
                        .detail("dir", backup_dir.display().to_string()),
                )?;
                b.entry
            }
        };
        // A roll: the new version is current (the verify step found the ceremony's key
        // as the latest), and every older version is still there, enabled and
        // unexpired. Checked after the backup, which holds every version either way.
        let versions = if mk.roll {
            let after = v.list_versions(&mk.name)?;
            let was = before.get(&mk.name).map(Vec::as_slice).unwrap_or_default();
            check_roll_versions(&url, &mk.name, &version, was, &after, now_unix())?;
            w.append(
                Record::new(StepName::Verify, "byok")
                    .detail("kid", &ver.kid)
                    .detail("roll", true)
                    .detail("versions", after.len())
                    .detail(
                        "older_versions",
                        after
                            .iter()
                            .filter(|x| x.version != version)
                            .map(|x| &x.version)
                            .collect::<Vec<_>>(),
                    )
                    .detail(
                        "rules",
                        ["roll-new-version-current", "roll-older-versions-kept"],
                    ),
            )?;
            Some(after.len())
        } else {
            None
        };
        keys.push(ImportedKey {
            policy: pk.policy.clone(),
            vault: url.clone(),
            name: mk.name.clone(),
            kid: kid.url(),
            version,
            uploaded_now: !up.already_done,
            verified: true,
            backup_file: entry.file,
            roll: mk.roll,
            versions,
        });
        progress.step(&format!(
            "key {} in {url}: {}, verified, backed up",
            mk.name,
            if up.already_done {
                "already in the vault"
            } else {
                "uploaded"
            }
        ));
    }
    drop(progress);
    // Which permission command a vault needs: a rehearsal's simulator is asked which
    // kind it plays (its challenge says), and is a Key Vault when it does not say.
    let kind = |url: &str| match vaults.get(url).map(Vault::kind) {
        Some(Service::ManagedHsm) => Service::ManagedHsm,
        _ => Service::KeyVault,
    };
    let commands = commands::commands(plan, &keys, &kind);
    let warnings: Vec<String> = vaults
        .values()
        .filter_map(|v| v.kind_warning().map(str::to_string))
        .collect();
    let mut close = Record::new(StepName::Close, "byok")
        .detail(
            "unsigned",
            "the connected workstation holds no HSM; the offline transcript is signed",
        )
        .detail("keys", keys.iter().map(|k| &k.kid).collect::<Vec<_>>())
        .detail(
            "openbao_keys",
            bao_done
                .iter()
                .map(|b| format!("{} {} {} version {}", b.address, b.mount, b.name, b.version))
                .collect::<Vec<_>>(),
        )
        .detail(
            "other_cloud_commands",
            other_clouds
                .iter()
                .flat_map(|c| c.import.iter().chain(std::iter::once(&c.verify)).cloned())
                .collect::<Vec<_>>(),
        )
        .detail(
            "office365_commands",
            commands
                .iter()
                .flat_map(|c| c.permissions.iter().chain(&c.setup).cloned())
                .collect::<Vec<_>>(),
        );
    for k in &keys {
        if !backup::is_plain_file_name(&k.backup_file) {
            bail!(
                Integrity,
                "the backup manifest in {} names {:?}, which is not a file there: the manifest was altered",
                backup_dir.display(),
                k.backup_file
            );
        }
        let bytes = backup::read_backup_file(&backup_dir, &k.backup_file)?;
        close = close.output(&k.backup_file, &sha256_hex(&bytes));
    }
    w.append(close)?;
    let verified = transcript::verify(&tpath)?;
    Ok(ImportReport {
        ceremony: plan.plan.ceremony.clone(),
        offline: custody,
        keys,
        openbao: bao_done,
        other_clouds,
        commands,
        warnings,
        transcript: tpath,
        transcript_digest: verified.report.digest,
        backup_dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vaults_key_id_must_be_this_key_and_version() {
        use byok_core::Mode;
        let url = "https://contoso-vault1.vault.azure.net";
        let v = "0123456789abcdef0123456789abcdef";
        let good = format!("{url}/keys/K1/{v}");
        assert_eq!(
            vault_kid(&good, url, "K1", v, Mode::Ceremony)
                .unwrap()
                .version,
            v
        );
        for (kid, uploaded) in [
            (format!("{url}/keys/K2/{v}"), v),
            (
                format!("https://other-vault.vault.azure.net/keys/K1/{v}"),
                v,
            ),
            (
                format!("{url}/keys/K1/{v}"),
                "ffffffffffffffffffffffffffffffff",
            ),
            // A version that would end up inside a printed PowerShell command.
            (format!("{url}/keys/K1/abc;Remove-Item"), "abc;Remove-Item"),
        ] {
            assert!(
                vault_kid(&kid, url, "K1", uploaded, Mode::Ceremony).is_err(),
                "{kid}"
            );
        }
    }

    fn ver(n: u8, enabled: Option<bool>, expires: Option<i64>) -> KeyVersion {
        KeyVersion {
            version: format!("{n:02x}").repeat(16),
            enabled,
            expires,
            package_sha256: None,
        }
    }

    #[test]
    fn before_a_roll_every_version_is_usable_and_the_package_not_already_older() {
        let url = "https://contoso-vault1.vault.azure.net";
        let now = 1_000_000;
        let pkg = "ab".repeat(32);
        let (v1, mut v2) = (ver(1, Some(true), None), ver(2, Some(true), None));
        check_roll_before(url, "K1", &pkg, &v1.version, std::slice::from_ref(&v1), now).unwrap();
        // A rerun: the package is the latest version already (upload finds it).
        v2.package_sha256 = Some(pkg.to_uppercase());
        check_roll_before(url, "K1", &pkg, &v2.version, &[v1.clone(), v2.clone()], now).unwrap();
        // Someone added a version after it: refused, nothing sent.
        let v3 = ver(3, Some(true), None);
        let e = check_roll_before(
            url,
            "K1",
            &pkg,
            &v3.version,
            &[v1.clone(), v2.clone(), v3.clone()],
            now,
        )
        .unwrap_err();
        assert!(
            e.message().contains("was added after it") && e.message().ends_with("nothing was sent"),
            "{e}"
        );
        // A disabled or expired version is refused before the upload.
        for bad in [ver(1, Some(false), None), ver(1, Some(true), Some(now))] {
            let e = check_roll_before(
                url,
                "K1",
                &pkg,
                &bad.version,
                std::slice::from_ref(&bad),
                now,
            )
            .unwrap_err();
            assert!(e.message().ends_with("; nothing was sent"), "{e}");
        }
    }

    #[test]
    fn a_roll_keeps_every_older_version_enabled_and_unexpired() {
        let url = "https://contoso-vault1.vault.azure.net";
        let (old, new) = (ver(1, Some(true), None), ver(2, Some(true), None));
        let now = 1_000_000;
        let check = |before: &[KeyVersion], after: &[KeyVersion]| {
            check_roll_versions(url, "K1", &new.version, before, after, now)
        };
        check(std::slice::from_ref(&old), &[old.clone(), new.clone()]).unwrap();
        // A rerun lists the new version before as well.
        check(&[old.clone(), new.clone()], &[old.clone(), new.clone()]).unwrap();
        check(
            std::slice::from_ref(&old),
            &[ver(1, Some(true), Some(now + 60)), new.clone()],
        )
        .unwrap();
        for (after, words) in [
            (vec![old.clone()], "does not list the new version"),
            (vec![new.clone()], "was there before the roll and is gone"),
            (
                vec![ver(1, Some(false), None), new.clone()],
                "is not enabled",
            ),
            (vec![ver(1, None, None), new.clone()], "is not enabled"),
            (
                vec![ver(1, Some(true), Some(now - 1)), new.clone()],
                "has expired",
            ),
        ] {
            let e = check(std::slice::from_ref(&old), &after).unwrap_err();
            assert!(e.message().contains(words), "{e}");
        }
        let e = check(&[], std::slice::from_ref(&new)).unwrap_err();
        assert!(e.message().contains("no version but the new"), "{e}");
    }

    fn closed_transcript(p: &Path) {
        let mut w = Writer::create(p, [1; 32]).unwrap();
        w.append(Record::new(StepName::Open, "byok").input("plan", &hex::encode([1u8; 32])))
            .unwrap();
        w.append(Record::new(StepName::Close, "byok").detail("unsigned", "test"))
            .unwrap();
    }

    #[test]
    fn each_run_gets_its_transcript() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let (p, cont) = transcript_path(d).unwrap();
        assert_eq!(p, d.join("import-transcript.jsonl"));
        assert!(!cont);
        closed_transcript(&p);
        let (p2, cont) = transcript_path(d).unwrap();
        assert_eq!(p2, d.join("import-transcript-2.jsonl"));
        assert!(!cont);
        // An unfinished run is continued.
        let mut w = Writer::create(&p2, [1; 32]).unwrap();
        w.append(Record::new(StepName::Open, "byok").input("plan", &hex::encode([1u8; 32])))
            .unwrap();
        assert_eq!(transcript_path(d).unwrap(), (p2, true));
    }
}
