//! The argument groups several commands share: the HSM and its login, attestation trust
//! roots, the KEK attestation checks, and (feature `network`) how to reach a vault.

use super::output::warn_all;
use byok_core::attestation::policy::{self, KekAttestation};
use byok_core::attestation::TrustRoots;
use byok_core::hsm::Target;
use byok_core::kek::Kek;
use byok_core::Result;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Clone)]
pub struct HsmArgs {
    /// PKCS#11 library of the HSM.
    #[arg(long, env = "BYOK_PKCS11_MODULE", value_name = "PATH")]
    pub module: Option<PathBuf>,
    /// Token label, or a PKCS#11 URI (pkcs11:token=…).
    #[arg(long, env = "BYOK_TOKEN", value_name = "LABEL|URI")]
    pub token: Option<String>,
}

impl HsmArgs {
    /// The token (and, with `key`, the key on it) these arguments name.
    pub fn target(&self, key: Option<&str>, pin_file: Option<&Path>) -> Result<Target> {
        Target::resolve(
            self.module.clone(),
            self.token.as_deref(),
            key,
            pin_file.map(Path::to_path_buf),
        )
    }
}

#[derive(Args, Clone)]
pub struct LoginArgs {
    /// File holding the user PIN; refused when group- or world-readable. Default: prompt,
    /// or BYOK_PIN.
    #[arg(long, value_name = "PATH")]
    pub pin_file: Option<PathBuf>,
}

#[derive(Args, Clone)]
pub struct TrustArgs {
    /// An extra trust root (PEM certificate or public key) besides the pinned Marvell
    /// roots, e.g. the simulator's attestation-root.pem. For rehearsals only: warned
    /// every time.
    #[arg(long, value_name = "PEM")]
    pub trust_root: Vec<PathBuf>,
}

impl TrustArgs {
    /// The roots, with the extra-root warnings printed.
    pub fn roots(&self) -> Result<TrustRoots> {
        trust_roots(&self.trust_root)
    }
}

/// The pinned roots plus `extra`, with the extra-root warnings printed.
pub fn trust_roots(extra: &[PathBuf]) -> Result<TrustRoots> {
    let (roots, warnings) = policy::trust_roots(extra)?;
    warn_all(&warnings);
    Ok(roots)
}

#[derive(Args, Clone)]
pub struct KekAttestationArgs {
    /// Refuse a KEK without a valid HSM attestation (Managed HSM KEKs only).
    #[arg(long)]
    pub require_attestation: bool,
    /// The KEK's attestation, when the KEK file does not carry it (the vault's answer,
    /// or what `az keyvault key get-attestation --file` writes).
    #[arg(long, value_name = "FILE")]
    pub attestation: Option<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
}

impl KekAttestationArgs {
    /// Check the attestation of the KEK read from `kek_path`.
    pub fn check(&self, kek_path: &Path, kek: &Kek) -> Result<KekAttestation> {
        let roots = self.trust.roots()?;
        policy::check_kek_files(
            kek_path,
            self.attestation.as_deref(),
            kek,
            self.require_attestation,
            &roots,
        )
    }
}

#[cfg(feature = "network")]
pub use net::{ConnArgs, VaultArgs};

#[cfg(feature = "network")]
mod net {
    use byok_azure::vault::{Connection, Vault};
    use byok_core::{Mode, Result};
    use clap::Args;
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

    impl VaultArgs {
        pub fn connect(&self, mode: Mode) -> Result<Vault> {
            Vault::connect(&self.vault, &self.conn.connection(mode))
        }
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
        pub fn connection(&self, mode: Mode) -> Connection {
            Connection {
                ca_file: self.ca_file.clone(),
                access_token_file: self.access_token_file.clone(),
                mode,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        hsm: HsmArgs,
        #[command(flatten)]
        login: LoginArgs,
        #[command(flatten)]
        att: KekAttestationArgs,
    }

    #[test]
    fn shared_groups_parse() {
        T::command().debug_assert();
        let t = T::try_parse_from([
            "t",
            "--module",
            "/lib/p11.so",
            "--token",
            "pkcs11:token=A",
            "--pin-file",
            "pin",
            "--trust-root",
            "a.pem",
            "--trust-root",
            "b.pem",
            "--require-attestation",
        ])
        .unwrap();
        assert_eq!(t.hsm.module.as_deref(), Some(Path::new("/lib/p11.so")));
        assert_eq!(t.hsm.token.as_deref(), Some("pkcs11:token=A"));
        assert_eq!(t.login.pin_file.as_deref(), Some(Path::new("pin")));
        assert_eq!(t.att.trust.trust_root.len(), 2);
        assert!(t.att.require_attestation);
        assert!(t.att.attestation.is_none());
    }

    #[test]
    fn a_missing_extra_root_is_an_error() {
        let e = trust_roots(&[PathBuf::from("/nonexistent/root.pem")]).unwrap_err();
        assert!(!e.message().is_empty());
    }
}
