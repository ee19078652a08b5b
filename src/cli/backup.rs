//! `byok backup` and `byok backup verify DIR` (feature `network`).

use super::args::ConnArgs;
use super::output::emit;
use byok_azure::backup::{self as backups, VerifyReport};
use byok_azure::pipeline::{self, BackupReport, BlobTarget, DrillResult};
use byok_azure::vault::{Connection, Vault};
use byok_core::{bail, Mode, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// `byok backup --vault … --name … --out-dir …`, or `byok backup verify DIR`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BackupCmd {
    #[command(subcommand)]
    sub: Option<BackupSub>,
    #[command(flatten)]
    args: BackupArgs,
}

#[derive(Args)]
pub struct BackupArgs {
    /// The vault.
    #[arg(long, value_name = "URL", required = true)]
    vault: Option<String>,
    /// The key's name in the vault.
    #[arg(long, required = true)]
    name: Option<String>,
    /// Directory for the backup files and their manifest.
    #[arg(long, value_name = "DIR", required = true)]
    out_dir: Option<PathBuf>,
    /// Also store the backup in this Blob Storage container (the online copy).
    #[arg(long, value_name = "CONTAINER-URL")]
    copy_to: Option<String>,
    #[command(flatten)]
    conn: ConnArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
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

pub fn run(cmd: BackupCmd, mode: Mode) -> Result<()> {
    match cmd.sub {
        Some(BackupSub::Verify {
            dir,
            restore_to,
            conn,
            json,
        }) => verify(dir, restore_to.as_deref(), &conn.connection(mode), json),
        None => backup(cmd.args, mode),
    }
}

fn backup(a: BackupArgs, mode: Mode) -> Result<()> {
    // clap requires all three without a subcommand; this is for the type system.
    let (Some(vault), Some(name), Some(out_dir)) = (a.vault, a.name, a.out_dir) else {
        bail!("byok backup needs --vault, --name and --out-dir");
    };
    let v = Vault::connect(&vault, &a.conn.connection(mode))?;
    // A bad container URL, or no token for Blob Storage (the Key Vault token is never
    // sent there), is refused before anything is backed up.
    let target = match &a.copy_to {
        Some(container) => Some(BlobTarget::prepare(&v, container)?),
        None => None,
    };
    let mut report = pipeline::backup(&v, &name, &out_dir)?;
    if let Some(target) = &target {
        report.copied_to = Some(pipeline::copy_to_blob(&v, target, &report.path)?);
    }
    let manifest = out_dir.join(backups::MANIFEST);
    emit(a.json, &BackedUp { report, manifest })
}

fn verify(dir: PathBuf, restore_to: Option<&str>, conn: &Connection, json: bool) -> Result<()> {
    let (entries, report) = backups::verify_dir(&dir)?;
    if !report.problems.is_empty() {
        bail!(
            "backup directory {} fails {} check(s): {}",
            dir.display(),
            report.problems.len(),
            report.problems.join("; ")
        );
    }
    let restore_drill = match restore_to {
        Some(url) => {
            let scratch = Vault::connect(url, conn)?;
            Some(pipeline::restore_drill(
                &scratch,
                &dir,
                &entries,
                &super::console::Terminal::default(),
            )?)
        }
        None => None,
    };
    emit(
        json,
        &Checked {
            dir,
            report,
            restore_drill,
        },
    )
}

/// What `byok backup` prints.
#[derive(Serialize)]
#[serde(transparent)]
pub struct BackedUp {
    pub report: BackupReport,
    /// The manifest the backup was listed in.
    #[serde(skip)]
    pub manifest: PathBuf,
}

impl fmt::Display for BackedUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        writeln!(
            f,
            "backed up {} (version {}) to {}",
            r.entry.key,
            r.entry.version,
            r.path.display()
        )?;
        writeln!(
            f,
            "SHA-256:   {} ({} bytes); manifest: {}",
            r.entry.sha256,
            r.entry.size,
            self.manifest.display()
        )?;
        if let Some(url) = &r.copied_to {
            writeln!(f, "online copy: {url}")?;
        }
        Ok(())
    }
}

/// What `byok backup verify` prints: the directory's check and any restore drill.
#[derive(Serialize)]
pub struct Checked {
    /// The directory as given.
    #[serde(skip)]
    pub dir: PathBuf,
    #[serde(flatten)]
    pub report: VerifyReport,
    pub restore_drill: Option<Vec<DrillResult>>,
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {} backups, every one present, intact and of the Key Vault backup form; nothing unlisted", self.dir.display(), self.report.entries)?;
        for r in self.restore_drill.iter().flatten() {
            writeln!(
                f,
                "restore drill: {} restored as {} — the same key; removed again",
                r.file, r.restored_kid
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Cmd};
    use super::*;
    use clap::error::ErrorKind as ClapKind;
    use clap::Parser;

    fn parse(args: &[&str]) -> std::result::Result<BackupCmd, clap::Error> {
        let cli = Cli::try_parse_from(["byok", "backup"].iter().chain(args))?;
        match cli.cmd {
            Cmd::Backup(b) => Ok(b),
            _ => panic!("not backup"),
        }
    }

    #[test]
    fn verify_dir_is_the_subcommand() {
        let b = parse(&[
            "verify",
            "bk",
            "--restore-to",
            "https://scratch.vault.azure.net",
        ])
        .unwrap();
        let Some(BackupSub::Verify {
            dir, restore_to, ..
        }) = b.sub
        else {
            panic!("no verify");
        };
        assert_eq!(dir, PathBuf::from("bk"));
        assert_eq!(
            restore_to.as_deref(),
            Some("https://scratch.vault.azure.net")
        );
    }

    #[test]
    fn a_backup_needs_vault_name_and_out_dir() {
        let b = parse(&[
            "--vault",
            "https://v.vault.azure.net",
            "--name",
            "k1",
            "--out-dir",
            "bk",
            "--copy-to",
            "https://s.blob.core.windows.net/c",
        ])
        .unwrap();
        assert!(b.sub.is_none());
        assert_eq!(b.args.name.as_deref(), Some("k1"));
        assert_eq!(
            b.args.copy_to.as_deref(),
            Some("https://s.blob.core.windows.net/c")
        );
        let e = parse(&["--vault", "https://v.vault.azure.net"])
            .err()
            .unwrap();
        assert_eq!(e.kind(), ClapKind::MissingRequiredArgument);
        assert!(parse(&["verify"]).is_err());
    }

    #[test]
    fn backup_arguments_and_verify_conflict() {
        // Before the subcommand: the subcommand conflicts with them.
        let e = parse(&["--vault", "https://v.vault.azure.net", "verify", "bk"])
            .err()
            .unwrap();
        assert_eq!(e.kind(), ClapKind::ArgumentConflict);
        // After it: verify has no --vault.
        let e = parse(&["verify", "bk", "--vault", "https://v.vault.azure.net"])
            .err()
            .unwrap();
        assert_eq!(e.kind(), ClapKind::UnknownArgument);
    }

    #[test]
    fn checked_text() {
        let c = Checked {
            dir: "bk".into(),
            report: VerifyReport {
                dir: "bk".into(),
                entries: 2,
                problems: vec![],
            },
            restore_drill: Some(vec![DrillResult {
                file: "v-k1-1.keybackup".into(),
                key: "k1".into(),
                restored_kid: "https://s.vault.azure.net/keys/k1/1".into(),
                same_key: true,
                cleaned_up: true,
            }]),
        };
        assert_eq!(
            c.to_string(),
            "bk: 2 backups, every one present, intact and of the Key Vault backup form; nothing unlisted\n\
             restore drill: v-k1-1.keybackup restored as https://s.vault.azure.net/keys/k1/1 — the same key; removed again\n"
        );
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["entries"], 2);
        assert_eq!(v["restore_drill"][0]["same_key"], true);
    }
}
