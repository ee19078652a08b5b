//! `byok attestation verify`: an HSM key attestation, checked to a trust root.

use super::args::TrustArgs;
use super::output::{emit, warn};
use byok_core::attestation::{policy, AttestationReport};
use byok_core::{fsutil, Mode, Result};
use clap::Subcommand;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AttestationCmd {
    /// Verify a key attestation: chain to the pinned Marvell root, signatures, the key.
    Verify {
        /// The Azure MRVL-1 attestation (the REST answer of GET /keys/NAME/VERSION/attestation,
        /// a KEK file from `byok kek fetch --attestation`, or what `az keyvault key
        /// get-attestation --file` writes), or a generic Marvell blob (gzip-wrapped or not).
        file: PathBuf,
        /// The expected public key (PEM, JWK or KeyBundle JSON); needed for the az file form.
        #[arg(long, value_name = "KEYFILE")]
        key: Option<PathBuf>,
        /// The certificate chain (PEM) of a generic Marvell blob.
        #[arg(long, value_name = "PEM")]
        chain: Option<PathBuf>,
        #[command(flatten)]
        trust: TrustArgs,
        /// The key's versioned id: the attested id must name this key and version.
        #[arg(long, value_name = "URL")]
        kid: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The largest attestation, key or chain file read.
const LIMIT: u64 = 1 << 20;

pub fn run(cmd: AttestationCmd, mode: Mode) -> Result<()> {
    let AttestationCmd::Verify {
        file,
        key,
        chain,
        trust,
        kid,
        json,
    } = cmd;
    let roots = trust.roots()?;
    let bytes = fsutil::read_limited(&file, LIMIT, "attestation file")?;
    let key = key
        .map(|k| fsutil::read_limited(&k, LIMIT, "key file"))
        .transpose()?;
    let chain = chain
        .map(|c| fsutil::read_limited(&c, LIMIT, "chain file"))
        .transpose()?;
    let r = policy::verify_file(
        &bytes,
        key.as_deref(),
        chain.as_deref(),
        kid.as_deref(),
        &roots,
        mode,
    )
    .map_err(|e| e.context(file.display()))?;
    if r.extra_root_used {
        warn("this attestation chains to an EXTRA trust root, not to a pinned Marvell root: it proves nothing about real HSM hardware");
    }
    emit(json, &Verified(r))
}

/// What `byok attestation verify` prints: the library's report, as the library writes it.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Verified(pub AttestationReport);

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Cmd};
    use super::*;
    use clap::Parser;

    #[test]
    fn several_trust_roots_and_a_kid() {
        let cli = Cli::try_parse_from([
            "byok",
            "attestation",
            "verify",
            "att.json",
            "--trust-root",
            "a.pem",
            "--trust-root",
            "b.pem",
            "--kid",
            "https://v.vault.azure.net/keys/k/1",
            "--json",
        ])
        .unwrap();
        let Cmd::Attestation(AttestationCmd::Verify {
            file,
            trust,
            kid,
            json,
            key,
            chain,
        }) = cli.cmd
        else {
            panic!("not attestation verify");
        };
        assert_eq!(file, PathBuf::from("att.json"));
        assert_eq!(trust.trust_root.len(), 2);
        assert_eq!(kid.as_deref(), Some("https://v.vault.azure.net/keys/k/1"));
        assert!(json && key.is_none() && chain.is_none());
    }
}
