//! `byok wrap`: a key on the token, wrapped under a KEK into an Azure BYOK package.

use super::args::{HsmArgs, KekAttestationArgs, LoginArgs};
use super::output::{emit, warn_all};
use byok_core::attestation::policy::KekAttestation;
use byok_core::kek::Kek;
use byok_core::text::Printable as P;
use byok_core::wrap::{self, KeySelector, KeyShape, WrapReport};
use byok_core::{bail, fsutil, Mode, Result};
use clap::Args;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Args)]
pub struct WrapArgs {
    #[command(flatten)]
    hsm: HsmArgs,
    #[command(flatten)]
    login: LoginArgs,
    /// Label of the key to wrap, or a PKCS#11 URI (pkcs11:token=…;object=…).
    #[arg(long, value_name = "LABEL|URI")]
    key: String,
    /// The vault's KEK (PEM, DER or KeyBundle JSON).
    #[arg(long, value_name = "FILE")]
    kek: PathBuf,
    /// The KEK's versioned key URL, when the file does not carry it.
    #[arg(long, value_name = "URL")]
    kid: Option<String>,
    /// The package to write (must not exist).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    att: KekAttestationArgs,
    /// Wrap a key that is not a BYOK key (not generated on the token for this alone:
    /// e.g. one that may also sign or decrypt). Warned, and recorded in the package's
    /// generator and the report.
    #[arg(long)]
    allow_non_byok_key: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The KEK, its attestation and the output path are checked before the token is opened.
pub fn run(a: WrapArgs, mode: Mode) -> Result<()> {
    let t = a.hsm.target(Some(&a.key), a.login.pin_file.as_deref())?;
    let kek = Kek::load(&a.kek, a.kid.as_deref(), mode)?;
    if kek.kid.is_none() {
        bail!("the KEK has no kid: give --kid https://VAULT.vault.azure.net/keys/NAME/VERSION, or use the KEK's JSON from `az keyvault key show`");
    }
    let kek_attestation = a.att.check(&a.kek, &kek)?;
    fsutil::refuse_existing(&a.out)?;
    let h = t.open()?;
    let s = h.login(
        t.pin_file.as_deref(),
        &crate::cli::console::Terminal::default(),
    )?;
    let sel = KeySelector {
        label: t.key_label.as_deref(),
        id: t.key_id.as_deref(),
    };
    let shape = if a.allow_non_byok_key {
        KeyShape::AllowNonByok
    } else {
        KeyShape::ByokOnly
    };
    let r = wrap::wrap(&s, &sel, &kek, &a.out, shape)?;
    drop(s);
    warn_all(&r.warnings);
    emit(
        a.json,
        &Wrapped {
            wrap: r,
            kek_attestation,
        },
    )
}

/// What `byok wrap` prints: the package and the KEK's attestation.
#[derive(Serialize)]
pub struct Wrapped {
    #[serde(flatten)]
    pub wrap: WrapReport,
    pub kek_attestation: KekAttestation,
}

impl fmt::Display for Wrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.wrap;
        writeln!(f, "KEK attestation: {}", P(&self.kek_attestation.summary))?;
        writeln!(
            f,
            "wrapped key \"{}\" (RSA-{}) under KEK {}",
            P(&r.key_label),
            r.key_bits,
            P(&r.kek_kid)
        )?;
        if !r.non_byok_override.is_empty() {
            writeln!(
                f,
                "OVERRIDE:  not a BYOK key ({}); recorded in the package",
                P(r.non_byok_override.join(", "))
            )?;
        }
        writeln!(f, "mechanism: {}", r.mechanism)?;
        writeln!(f, "package:   {}", P(r.package.display()))?;
        writeln!(f, "SHA-256:   {}", r.sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::hsm::TokenIdentity;

    fn wrapped() -> Wrapped {
        Wrapped {
            wrap: WrapReport {
                package: "k1.byok".into(),
                sha256: "ab".repeat(32),
                key_label: "k1".into(),
                key_bits: 3072,
                key_spki_sha256: "cd".repeat(32),
                kek_kid: "https://v.vault.azure.net/keys/kek/1".into(),
                kek_sha256: "ef".repeat(32),
                mechanism: "CKM_RSA_AES_KEY_WRAP",
                trusted_kek: false,
                oaep_hash: byok_core::hsm::OaepHash::Sha1,
                token: TokenIdentity {
                    label: "t".into(),
                    manufacturer: "m".into(),
                    model: "mo".into(),
                    serial: "1".into(),
                    firmware: "f".into(),
                    hardware: "h".into(),
                },
                non_byok_override: vec![],
                warnings: vec![],
            },
            kek_attestation: KekAttestation {
                status: "absent",
                summary: "none (an Azure Key Vault KEK has none)".into(),
                report: None,
            },
        }
    }

    #[test]
    fn text() {
        assert_eq!(
            wrapped().to_string(),
            format!(
                "KEK attestation: none (an Azure Key Vault KEK has none)\n\
                 wrapped key \"k1\" (RSA-3072) under KEK https://v.vault.azure.net/keys/kek/1\n\
                 mechanism: CKM_RSA_AES_KEY_WRAP\n\
                 package:   k1.byok\n\
                 SHA-256:   {}\n",
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn json_flattens_the_library_report() {
        let v = serde_json::to_value(wrapped()).unwrap();
        assert_eq!(v["key_label"], "k1");
        assert_eq!(v["token"]["serial"], "1");
        assert_eq!(v["kek_attestation"]["status"], "absent");
        assert!(v.get("wrap").is_none());
    }
}
