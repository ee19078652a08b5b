//! `byok verify` (feature `network`): the vault holds exactly the HSM's key, as
//! Customer Key requires. With `--pub-from FILE`, offline: the public key another cloud
//! says it holds (AWS KMS's `get-public-key`, Cloud KMS's `versions get-public-key`) is
//! the HSM's key.

use super::args::{trust_roots, ConnArgs};
use super::output::emit;
use byok_azure::pipeline::{self, VerifyReport};
use byok_core::kek::load_rsa_public;
use byok_core::{bail, Mode, Result};
use clap::Args;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct VerifyArgs {
    /// The vault, e.g. https://contoso-vault1.vault.azure.net
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "pub_from",
        conflicts_with = "pub_from"
    )]
    vault: Option<String>,
    #[command(flatten)]
    conn: ConnArgs,
    /// The key's name in the vault.
    #[arg(
        long,
        required_unless_present = "pub_from",
        conflicts_with = "pub_from"
    )]
    name: Option<String>,
    /// The HSM's public key (`byok keygen` wrote it).
    #[arg(long = "pub", visible_alias = "key", value_name = "PEM")]
    public: PathBuf,
    /// Offline, no vault: compare the HSM's key with the public key a cloud returned:
    /// DER SubjectPublicKeyInfo (`aws kms get-public-key … | base64 -d`), its base64 (the
    /// AWS CLI's text output) or PEM (`gcloud kms keys versions get-public-key`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["vault", "trust_root"])]
    pub_from: Option<PathBuf>,
    /// An extra root for the Managed HSM attestation rule, e.g. the simulator's
    /// attestation-root.pem. For rehearsals only: warned every time.
    #[arg(long, value_name = "PEM")]
    trust_root: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Every rule is printed, then a failed rule makes the command fail.
pub fn run(a: VerifyArgs, mode: Mode) -> Result<()> {
    if let Some(from) = &a.pub_from {
        return emit(a.json, &compare_public(from, &a.public)?);
    }
    let (Some(vault), Some(name)) = (&a.vault, &a.name) else {
        bail!(
            "byok verify needs --vault and --name (or --pub-from FILE for an offline comparison)"
        );
    };
    let roots = trust_roots(&a.trust_root)?;
    let v = byok_azure::vault::Vault::connect(vault, &a.conn.connection(mode))?;
    let r = Verified(pipeline::verify_with_roots(&v, name, &a.public, &roots)?);
    emit(a.json, &r)?;
    let r = &r.0;
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

/// What `byok verify --pub-from` prints when the keys are one.
#[derive(Serialize)]
pub struct SameKey {
    pub ok: bool,
    /// SHA-256 of the SubjectPublicKeyInfo DER, hex.
    pub spki_sha256: String,
    pub bits: usize,
    /// The form the cloud's file was in.
    pub cloud_format: &'static str,
}

impl fmt::Display for SameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the cloud's key is the HSM's key (SPKI SHA-256 {}, RSA-{})",
            self.spki_sha256, self.bits
        )
    }
}

/// Compare the cloud's public key (`cloud`) with the HSM's (`hsm`): the same RSA key, or
/// an error naming both fingerprints.
fn compare_public(cloud: &Path, hsm: &Path) -> Result<SameKey> {
    let c = load_rsa_public(cloud).map_err(|e| e.context("--pub-from"))?;
    let h = load_rsa_public(hsm).map_err(|e| e.context("--key"))?;
    let (cs, hs) = (hex::encode(c.sha256()), hex::encode(h.sha256()));
    if c.spki_der != h.spki_der {
        bail!(
            Integrity,
            "the cloud's key (SPKI SHA-256 {cs}) is not the HSM's key (SPKI SHA-256 {hs}): the cloud holds another key, or {} is another key's public half; do not use this cloud key",
            byok_core::text::Printable(hsm.display())
        );
    }
    Ok(SameKey {
        ok: true,
        spki_sha256: hs,
        bits: h.bits(),
        cloud_format: c.format,
    })
}

/// What `byok verify` prints: one line per rule, with the fix of a failed one.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Verified(pub VerifyReport);

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        for rule in &r.rules {
            let mark = if rule.ok { "ok  " } else { "FAIL" };
            writeln!(f, "{mark} {} ({})", rule.rule, rule.found)?;
            if !rule.ok {
                writeln!(f, "     fix: {}", rule.fix)?;
            }
        }
        writeln!(f, "key URI: {}", r.kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_azure::pipeline::Rule;

    #[test]
    fn text() {
        let r = VerifyReport {
            vault: "https://v.vault.azure.net".into(),
            name: "k1".into(),
            kid: "https://v.vault.azure.net/keys/k1/1".into(),
            rules: vec![
                Rule {
                    rule: "key type RSA-HSM",
                    ok: true,
                    found: "RSA-HSM".into(),
                    fix: "re-import",
                },
                Rule {
                    rule: "soft-delete on",
                    ok: false,
                    found: "off".into(),
                    fix: "turn soft-delete on",
                },
            ],
            ok: false,
        };
        assert_eq!(
            Verified(r).to_string(),
            "ok   key type RSA-HSM (RSA-HSM)\n\
             FAIL soft-delete on (off)\n\
             \x20    fix: turn soft-delete on\n\
             key URI: https://v.vault.azure.net/keys/k1/1\n"
        );
    }
}
