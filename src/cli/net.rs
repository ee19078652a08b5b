//! The connected commands (feature `network`): KEKs in the vault, upload, verify,
//! backup. Thin: parse, call `byok_azure::pipeline`, print.

use crate::{emit, fingerprint_lines};
use byok_azure::pipeline;
use byok_azure::vault::{Connection, Vault};
use byok_core::{bail, Mode, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// How to reach the vault.
#[derive(Args, Clone)]
pub struct VaultArgs {
    /// The vault, e.g. https://contoso-vault1.vault.azure.net
    #[arg(long, value_name = "URL")]
    pub vault: String,
    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Args, Clone)]
pub struct ConnArgs {
    /// PEM bundle of extra trusted CAs (the simulator's ca.pem, a proxy's CA).
    #[arg(long, env = "BYOK_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// File holding a bearer token (mode 600). Default: BYOK_ACCESS_TOKEN, else a service
    /// principal from AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, a managed
    /// identity, or the Azure CLI's login.
    #[arg(long, value_name = "PATH")]
    pub access_token_file: Option<PathBuf>,
}

impl ConnArgs {
    fn connection(&self, mode: Mode) -> Connection {
        Connection {
            ca_file: self.ca_file.clone(),
            access_token_file: self.access_token_file.clone(),
            mode,
        }
    }
}

impl VaultArgs {
    fn connect(&self, mode: Mode) -> Result<Vault> {
        Vault::connect(&self.vault, &self.conn.connection(mode))
    }
}

#[derive(Args)]
pub struct KekCreateArgs {
    #[command(flatten)]
    pub v: VaultArgs,
    /// Name of the new KEK.
    #[arg(long)]
    pub name: String,
    /// RSA size: 2048, 3072 or 4096.
    #[arg(long, default_value_t = 4096)]
    pub size: u32,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct KekFetchArgs {
    #[command(flatten)]
    pub v: VaultArgs,
    /// The key's name in the vault.
    #[arg(long)]
    pub name: String,
    /// A version; default the latest.
    #[arg(long)]
    pub version: Option<String>,
    /// Where to write the KeyBundle JSON (must not exist).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Also fetch the KEK's HSM key attestation (Managed HSM only) and store it in the
    /// file, under attributes.attestation.
    #[arg(long)]
    pub attestation: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct UploadArgs {
    /// The package.
    pub package: PathBuf,
    #[command(flatten)]
    pub v: VaultArgs,
    /// The key's name in the vault.
    #[arg(long)]
    pub name: String,
    /// Add a version to an existing key (a key roll).
    #[arg(long)]
    pub new_version: bool,
    /// The HSM's public key: a vault key with it counts as uploaded, even without byok's tag.
    #[arg(long = "pub", value_name = "PEM")]
    pub public: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub v: VaultArgs,
    /// The key's name in the vault.
    #[arg(long)]
    pub name: String,
    /// The HSM's public key (`byok keygen` wrote it).
    #[arg(long = "pub", value_name = "PEM")]
    pub public: PathBuf,
    /// An extra root for the Managed HSM attestation rule, e.g. the simulator's
    /// attestation-root.pem. For rehearsals only: warned every time.
    #[arg(long, value_name = "PEM")]
    pub trust_root: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `byok backup --vault … --name … --out-dir …`, or `byok backup verify DIR`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BackupCmd {
    #[command(subcommand)]
    pub sub: Option<BackupSub>,
    #[command(flatten)]
    pub args: BackupArgs,
}

#[derive(Args)]
pub struct BackupArgs {
    /// The vault.
    #[arg(long, value_name = "URL", required = true)]
    pub vault: Option<String>,
    /// The key's name in the vault.
    #[arg(long, required = true)]
    pub name: Option<String>,
    /// Directory for the backup files and their manifest.
    #[arg(long, value_name = "DIR", required = true)]
    pub out_dir: Option<PathBuf>,
    /// Also store the backup in this Blob Storage container (the online copy).
    #[arg(long, value_name = "CONTAINER-URL")]
    pub copy_to: Option<String>,
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum BackupSub {
    /// Check a backup directory; with --restore-to, restore every backup into a scratch vault.
    Verify {
        dir: PathBuf,
        /// A scratch vault for a restore drill (never a production vault).
        #[arg(long, value_name = "URL")]
        restore_to: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn kek_create(a: KekCreateArgs, mode: Mode) -> Result<()> {
    let v = a.v.connect(mode)?;
    let r = pipeline::kek_create(&v, &a.name, a.size)?;
    emit(a.json, &r, |r| {
        println!(
            "created KEK {} (RSA-{}, RSA-HSM, key_ops import)",
            r.kid, r.bits
        );
        println!(
            "SHA-256:   {}\nwords:\n{}",
            r.sha256,
            fingerprint_lines(&r.sha256)
        );
    })
}

pub fn kek_fetch(a: KekFetchArgs, mode: Mode) -> Result<()> {
    let v = a.v.connect(mode)?;
    let r = pipeline::kek_fetch(&v, &a.name, a.version.as_deref(), &a.out, a.attestation)?;
    emit(a.json, &r, |r| {
        println!("wrote {} (KEK {}, RSA-{})", a.out.display(), r.kid, r.bits);
        if r.attestation_stored {
            println!("attestation: stored in the file (not yet verified: `byok kek inspect` verifies it)");
        }
        println!("SHA-256:   {}", r.sha256);
        println!(
            "words (read them aloud at the ceremony):\n{}",
            fingerprint_lines(&r.sha256)
        );
    })
}

pub fn upload(a: UploadArgs, mode: Mode) -> Result<()> {
    let v = a.v.connect(mode)?;
    let r = pipeline::upload(&v, &a.package, &a.name, a.new_version, a.public.as_deref())?;
    emit(a.json, &r, |r| {
        if r.already_done {
            println!("already uploaded: {} holds this package's key", r.kid);
        } else {
            println!("uploaded {} as {}", a.package.display(), r.kid);
        }
        println!("key SHA-256: {}", r.key_spki_sha256);
    })
}

pub fn verify(a: VerifyArgs, mode: Mode) -> Result<()> {
    let (roots, warnings) = byok_core::attestation::policy::trust_roots(&a.trust_root)?;
    crate::warn_all(&warnings);
    let v = a.v.connect(mode)?;
    let r = pipeline::verify_with_roots(&v, &a.name, &a.public, &roots)?;
    emit(a.json, &r, |r| {
        for rule in &r.rules {
            let mark = if rule.ok { "ok  " } else { "FAIL" };
            println!("{mark} {} ({})", rule.rule, rule.found);
            if !rule.ok {
                println!("     fix: {}", rule.fix);
            }
        }
        println!("key URI: {}", r.kid);
    })?;
    if !r.ok {
        let failed: Vec<&str> = r.rules.iter().filter(|x| !x.ok).map(|x| x.rule).collect();
        bail!(
            "key {} in {} fails {} rule(s): {}; see the fixes above",
            r.name,
            r.vault,
            failed.len(),
            failed.join("; ")
        );
    }
    Ok(())
}

pub fn backup(cmd: BackupCmd, mode: Mode) -> Result<()> {
    match cmd.sub {
        Some(BackupSub::Verify {
            dir,
            restore_to,
            conn,
            json,
        }) => backup_verify(&dir, restore_to.as_deref(), &conn.connection(mode), json),
        None => {
            let a = cmd.args;
            let (Some(vault), Some(name), Some(out_dir)) = (a.vault, a.name, a.out_dir) else {
                bail!("byok backup needs --vault, --name and --out-dir");
            };
            let v = Vault::connect(&vault, &a.conn.connection(mode))?;
            if let Some(container) = &a.copy_to {
                // A bad container URL is refused before anything is backed up.
                byok_azure::blob::ContainerUrl::parse(container)?;
            }
            let mut r = pipeline::backup(&v, &name, &out_dir)?;
            if let Some(container) = &a.copy_to {
                r.copied_to = Some(pipeline::copy_to_blob(&v, container, &r.path)?);
            }
            emit(a.json, &r, |r| {
                println!(
                    "backed up {} (version {}) to {}",
                    r.entry.key,
                    r.entry.version,
                    r.path.display()
                );
                println!(
                    "SHA-256:   {} ({} bytes); manifest: {}",
                    r.entry.sha256,
                    r.entry.size,
                    out_dir.join(byok_azure::backup::MANIFEST).display()
                );
                if let Some(url) = &r.copied_to {
                    println!("online copy: {url}");
                }
            })
        }
    }
}

fn backup_verify(
    dir: &std::path::Path,
    restore_to: Option<&str>,
    conn: &Connection,
    json: bool,
) -> Result<()> {
    let (entries, report) = byok_azure::backup::verify_dir(dir)?;
    if !report.problems.is_empty() {
        bail!(
            "backup directory {} fails {} check(s): {}",
            dir.display(),
            report.problems.len(),
            report.problems.join("; ")
        );
    }
    let drill = match restore_to {
        Some(url) => {
            let scratch = Vault::connect(url, conn)?;
            Some(pipeline::restore_drill(&scratch, dir, &entries)?)
        }
        None => None,
    };
    #[derive(serde::Serialize)]
    struct Out<'a> {
        #[serde(flatten)]
        report: &'a byok_azure::backup::VerifyReport,
        restore_drill: Option<Vec<pipeline::DrillResult>>,
    }
    let out = Out {
        report: &report,
        restore_drill: drill,
    };
    emit(json, &out, |o| {
        println!("{}: {} backups, every one present, intact and of the Key Vault backup form; nothing unlisted", dir.display(), o.report.entries);
        if let Some(d) = &o.restore_drill {
            for r in d {
                println!(
                    "restore drill: {} restored as {} — the same key; removed again",
                    r.file, r.restored_kid
                );
            }
        }
    })
}

#[derive(Args)]
pub struct CeremonyImportArgs {
    /// The plan (the same file as the offline run's).
    pub plan: PathBuf,
    /// The ceremony directory carried from the offline run.
    #[arg(long, value_name = "DIR")]
    pub packages: PathBuf,
    /// Where backups go (default DIR/backups).
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    #[command(flatten)]
    pub conn: ConnArgs,
    /// An extra attestation trust root, for rehearsals against the simulator only
    /// (warned every time).
    #[arg(long, value_name = "PEM")]
    pub trust_root: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn ceremony_import(a: CeremonyImportArgs, mode: Mode) -> Result<()> {
    let (roots, warnings) = byok_core::attestation::policy::trust_roots(&a.trust_root)?;
    crate::warn_all(&warnings);
    let conn = a.conn.connection(mode);
    let plan = byok_core::ceremony::plan::load(&a.plan, &roots, mode)?;
    crate::warn_all(
        plan.warnings
            .iter()
            .filter(|w| mode.warning() != Some(w.as_str())),
    );
    let r = byok_azure::import::import(&byok_azure::import::ImportOptions {
        plan: &plan,
        packages: &a.packages,
        backup_dir: a.backup_dir.as_deref(),
        conn: &conn,
        roots: &roots,
    })?;
    emit(a.json, &r, |r| {
        println!(
            "ceremony {}: every key uploaded, verified and backed up",
            r.ceremony
        );
        for k in &r.keys {
            let how = if k.uploaded_now {
                "uploaded"
            } else {
                "already in the vault"
            };
            println!(
                "  {:<12} {}  ({how}; backup {})",
                k.policy, k.kid, k.backup_file
            );
        }
        for c in &r.commands {
            println!("\nOffice 365, policy {} ({}):", c.policy, c.service);
            for line in &c.setup {
                println!("  {line}");
            }
            println!("  after a future key roll:");
            for line in &c.after_key_roll {
                println!("    {line}");
            }
        }
        println!(
            "\ntranscript: {} (digest {})",
            r.transcript.display(),
            r.transcript_digest
        );
        println!("backups:    {}", r.backup_dir.display());
    })
}
