//! `byok upload` (feature `network`): a BYOK package into Key Vault as a key.

use super::args::VaultArgs;
use super::output::emit;
use byok_azure::pipeline::{self, UploadReport};
use byok_core::{Mode, Result};
use clap::Args;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Args)]
pub struct UploadArgs {
    /// The package.
    package: PathBuf,
    #[command(flatten)]
    v: VaultArgs,
    /// The key's name in the vault.
    #[arg(long)]
    name: String,
    /// Add a version to an existing key (a key roll).
    #[arg(long)]
    new_version: bool,
    /// The HSM's public key: a vault key with it counts as uploaded, even without byok's tag.
    #[arg(long = "pub", value_name = "PEM")]
    public: Option<PathBuf>,
    /// Upload only if the package's SHA-256 is this (hex; e.g. the manifest's
    /// `package_sha256`): a swapped or changed file is refused before anything is sent.
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: UploadArgs, mode: Mode) -> Result<()> {
    let v = a.v.connect(mode)?;
    let report = pipeline::upload(
        &v,
        &a.package,
        &a.name,
        a.new_version,
        a.public.as_deref(),
        a.sha256.as_deref(),
    )?;
    emit(
        a.json,
        &Uploaded {
            report,
            package: a.package,
        },
    )
}

/// What `byok upload` prints.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Uploaded {
    pub report: UploadReport,
    #[serde(skip)]
    pub package: PathBuf,
}

impl fmt::Display for Uploaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        if r.already_done {
            writeln!(f, "already uploaded: {} holds this package's key", r.kid)?;
        } else {
            writeln!(f, "uploaded {} as {}", self.package.display(), r.kid)?;
        }
        writeln!(f, "key SHA-256: {}", r.key_spki_sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Cmd};
    use super::*;
    use clap::Parser;

    fn uploaded(already_done: bool) -> Uploaded {
        Uploaded {
            report: UploadReport {
                vault: "https://v.vault.azure.net".into(),
                name: "k1".into(),
                kid: "https://v.vault.azure.net/keys/k1/7".into(),
                version: "7".into(),
                package_sha256: "11".into(),
                key_spki_sha256: "22".into(),
                already_done,
            },
            package: "k1.byok".into(),
        }
    }

    #[test]
    fn text() {
        assert_eq!(
            uploaded(false).to_string(),
            "uploaded k1.byok as https://v.vault.azure.net/keys/k1/7\nkey SHA-256: 22\n"
        );
        assert_eq!(
            uploaded(true).to_string(),
            "already uploaded: https://v.vault.azure.net/keys/k1/7 holds this package's key\nkey SHA-256: 22\n"
        );
    }

    #[test]
    fn pub_is_the_flag_name() {
        let cli = Cli::try_parse_from([
            "byok",
            "upload",
            "k1.byok",
            "--vault",
            "https://v.vault.azure.net",
            "--name",
            "k1",
            "--pub",
            "k1.pub.pem",
        ])
        .unwrap();
        let Cmd::Upload(a) = cli.cmd else {
            panic!("not upload");
        };
        assert_eq!(a.public, Some(PathBuf::from("k1.pub.pem")));
        assert!(!a.new_version);
        assert!(Cli::try_parse_from(["byok", "upload", "k1.byok", "--name", "k1"]).is_err());
    }
}
