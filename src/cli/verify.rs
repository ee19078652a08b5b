//! `byok verify` (feature `network`): the vault holds exactly the HSM's key, as
//! Customer Key requires.

use super::args::{trust_roots, VaultArgs};
use super::output::emit;
use byok_azure::pipeline::{self, VerifyReport};
use byok_core::{bail, Mode, Result};
use clap::Args;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    v: VaultArgs,
    /// The key's name in the vault.
    #[arg(long)]
    name: String,
    /// The HSM's public key (`byok keygen` wrote it).
    #[arg(long = "pub", value_name = "PEM")]
    public: PathBuf,
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
    let roots = trust_roots(&a.trust_root)?;
    let v = a.v.connect(mode)?;
    let r = Verified(pipeline::verify_with_roots(&v, &a.name, &a.public, &roots)?);
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
