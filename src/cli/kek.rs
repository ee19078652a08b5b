//! `byok kek inspect` and `byok kek trust`; with feature `network`, `kek create` and
//! `kek fetch`.

use super::args::{HsmArgs, KekAttestationArgs};
use super::output::{emit, Words};
use byok_core::attestation::policy::KekAttestation;
use byok_core::kek::{Kek, KekReport};
use byok_core::keygen::{self, TrustReport};
use byok_core::text::Printable as P;
use byok_core::{Mode, Result};
use clap::Subcommand;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum KekCmd {
    /// Create a KEK in the vault: RSA-HSM, key_ops import only (connected side).
    #[cfg(feature = "network")]
    Create(net::KekCreateArgs),
    /// Fetch a KEK's KeyBundle JSON for the offline side; prints its fingerprint.
    #[cfg(feature = "network")]
    Fetch(net::KekFetchArgs),
    /// Read a KEK file, check it as Azure would, print its fingerprint.
    Inspect {
        /// PEM or DER public key, or the KeyBundle JSON of `az keyvault key show`.
        file: PathBuf,
        /// The KEK's versioned key URL, when the file does not carry it.
        #[arg(long, value_name = "URL")]
        kid: Option<String>,
        #[command(flatten)]
        att: KekAttestationArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Security Officer step: store a checked KEK on the token as a trusted wrapping key.
    Trust {
        #[command(flatten)]
        hsm: HsmArgs,
        /// The KEK file.
        #[arg(long, value_name = "FILE")]
        kek: PathBuf,
        #[arg(long, value_name = "URL")]
        kid: Option<String>,
        /// The KEK fingerprint (hex SHA-256 of its SPKI) the officers confirmed.
        #[arg(long, value_name = "HEX")]
        sha256: String,
        /// File holding the Security Officer PIN. Default: prompt, or BYOK_SO_PIN.
        #[arg(long, value_name = "PATH")]
        so_pin_file: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: KekCmd, mode: Mode) -> Result<()> {
    match cmd {
        #[cfg(feature = "network")]
        KekCmd::Create(a) => net::create(a, mode),
        #[cfg(feature = "network")]
        KekCmd::Fetch(a) => net::fetch(a, mode),
        KekCmd::Inspect {
            file,
            kid,
            att,
            json,
        } => {
            let kek = Kek::load(&file, kid.as_deref(), mode)?;
            let attestation = att.check(&file, &kek)?;
            emit(
                json,
                &Inspected {
                    file,
                    kek: kek.report(),
                    attestation,
                },
            )
        }
        KekCmd::Trust {
            hsm,
            kek,
            kid,
            sha256,
            so_pin_file,
            json,
        } => {
            let k = Kek::load(&kek, kid.as_deref(), mode)?;
            let t = hsm.target(None, None)?;
            let h = t.open()?;
            let report = keygen::trust_kek(
                &h,
                &k,
                &sha256,
                so_pin_file.as_deref(),
                &crate::cli::console::Terminal::default(),
            )?;
            emit(
                json,
                &Trusted {
                    report,
                    token: h.identity().label.clone(),
                },
            )
        }
    }
}

/// What `byok kek inspect` prints: the KEK and its attestation.
#[derive(Serialize)]
pub struct Inspected {
    #[serde(skip)]
    pub file: PathBuf,
    #[serde(flatten)]
    pub kek: KekReport,
    pub attestation: KekAttestation,
}

impl fmt::Display for Inspected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.kek;
        writeln!(f, "KEK:       {} ({})", P(self.file.display()), r.format)?;
        writeln!(f, "key:       RSA-{} e={}", r.bits, r.exponent)?;
        match &r.kid {
            Some(k) => writeln!(f, "kid:       {}", P(k))?,
            None => writeln!(
                f,
                "kid:       (none in the file; `byok wrap` will need --kid)"
            )?,
        }
        if let Some(kty) = &r.kty {
            writeln!(f, "kty:       {}", P(kty))?;
        }
        if let Some(ops) = &r.key_ops {
            writeln!(f, "key_ops:   {}", P(ops.join(", ")))?;
        }
        writeln!(f, "SHA-256:   {}", r.sha256)?;
        write!(f, "words:\n{}", Words(&r.sha256))?;
        writeln!(f, "attestation: {}", P(&self.attestation.summary))?;
        if let Some(rep) = &self.attestation.report {
            write!(f, "{rep}")?;
        }
        Ok(())
    }
}

/// What `byok kek trust` prints.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Trusted {
    pub report: TrustReport,
    /// The token's label.
    #[serde(skip)]
    pub token: String,
}

impl fmt::Display for Trusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        writeln!(
            f,
            "stored the KEK as trusted wrapping key \"{}\" on token \"{}\"",
            P(&r.label),
            P(&self.token)
        )?;
        write!(f, "SHA-256:   {}\nwords:\n{}", r.sha256, Words(&r.sha256))
    }
}

#[cfg(feature = "network")]
mod net {
    use super::super::args::VaultArgs;
    use super::super::output::{emit, Words};
    use byok_azure::pipeline::{self, KekVaultReport};
    use byok_core::text::Printable as P;
    use byok_core::{Mode, Result};
    use clap::Args;
    use serde::Serialize;
    use std::fmt;
    use std::path::PathBuf;

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

    pub fn create(a: KekCreateArgs, mode: Mode) -> Result<()> {
        let v = a.v.connect(mode)?;
        emit(a.json, &Created(pipeline::kek_create(&v, &a.name, a.size)?))
    }

    pub fn fetch(a: KekFetchArgs, mode: Mode) -> Result<()> {
        let v = a.v.connect(mode)?;
        let report = pipeline::kek_fetch(&v, &a.name, a.version.as_deref(), &a.out, a.attestation)?;
        emit(a.json, &Fetched { report, out: a.out })
    }

    /// What `byok kek create` prints.
    #[derive(Serialize)]
    #[serde(transparent)]
    pub struct Created(pub KekVaultReport);

    impl fmt::Display for Created {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let r = &self.0;
            writeln!(
                f,
                "created KEK {} (RSA-{}, RSA-HSM, key_ops import)",
                P(&r.kid),
                r.bits
            )?;
            write!(f, "SHA-256:   {}\nwords:\n{}", r.sha256, Words(&r.sha256))
        }
    }

    /// What `byok kek fetch` prints.
    #[derive(Serialize)]
    #[serde(transparent)]
    pub struct Fetched {
        pub report: KekVaultReport,
        /// The file written (`--out`).
        #[serde(skip)]
        pub out: PathBuf,
    }

    impl fmt::Display for Fetched {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let r = &self.report;
            writeln!(
                f,
                "wrote {} (KEK {}, RSA-{})",
                P(self.out.display()),
                P(&r.kid),
                r.bits
            )?;
            if r.attestation_stored {
                writeln!(f, "attestation: stored in the file (not yet verified: `byok kek inspect` verifies it)")?;
            }
            writeln!(f, "SHA-256:   {}", r.sha256)?;
            write!(
                f,
                "words (read them aloud at the ceremony):\n{}",
                Words(&r.sha256)
            )
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn fetched_text() {
            let fp = "00".repeat(32);
            let report = KekVaultReport {
                kid: "https://v.vault.azure.net/keys/kek/0123".into(),
                bits: 3072,
                sha256: fp.clone(),
                sha256_words: String::new(),
                file: None,
                created: false,
                attestation_stored: true,
            };
            let text = Fetched {
                report,
                out: "kek.json".into(),
            }
            .to_string();
            let expect = format!(
                "wrote kek.json (KEK https://v.vault.azure.net/keys/kek/0123, RSA-3072)\n\
                 attestation: stored in the file (not yet verified: `byok kek inspect` verifies it)\n\
                 SHA-256:   {fp}\n\
                 words (read them aloud at the ceremony):\n{}",
                Words(&fp)
            );
            assert_eq!(text, expect);
            assert_eq!(text.lines().count(), 4 + 8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_text_and_json() {
        let fp = "ff".repeat(32);
        let t = Trusted {
            report: TrustReport {
                label: "kek-trusted".into(),
                kid: None,
                sha256: fp.clone(),
                sha256_words: "w".into(),
            },
            token: "byok-test".into(),
        };
        let text = t.to_string();
        assert!(text.starts_with(
            "stored the KEK as trusted wrapping key \"kek-trusted\" on token \"byok-test\"\n\
             SHA-256:   ffff"
        ));
        assert!(text.ends_with(&format!("\nwords:\n{}", Words(&fp))));
        // The JSON is the library's report alone: the token label is text only.
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"label": "kek-trusted", "kid": null, "sha256": fp, "sha256_words": "w"})
        );
    }
}
