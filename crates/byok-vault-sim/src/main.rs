//! `byok-vault-sim`: a local Azure Key Vault for BYOK rehearsals and tests.
//!
//! Thin command-line layer: flags → [`Config`] → [`byok_vault_sim::run`]; see
//! `docs/simulator.md`.

use byok_vault_sim::{Config, Faults};
use clap::Parser;
use std::path::PathBuf;

/// A local Azure Key Vault (keys) over HTTPS, for BYOK rehearsals and tests.
///
/// Prints one JSON line `{"url": ..., "ca": ..., "kind": "keyvault"|"managedhsm"}` on stdout
/// when ready, then logs to stderr.
/// A SIMULATOR: its "HSM" keys are software keys kept in the state directory.
#[derive(Parser)]
#[command(name = "byok-vault-sim", version)]
struct Args {
    /// Address to listen on, IP:PORT (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Directory for the state, the backup secret and the TLS certificates (created if missing).
    #[arg(long)]
    state_dir: PathBuf,
    /// Accept only the bearer token in this file (mode 600); without it any token is accepted.
    #[arg(long, alias = "token")]
    token_file: Option<PathBuf>,
    /// Recovery level keys report; purge works only when it contains "Purgeable",
    /// and delete is immediate when it does not contain "Recoverable".
    #[arg(long, default_value = "Recoverable+ProtectedSubscription")]
    recovery_level: String,
    /// Answer every Nth request with 429 and Retry-After: 1 (0 = off).
    #[arg(long, value_name = "N", default_value_t = 0)]
    fault_429: u64,
    /// Answer every Nth request with 503 and Retry-After: 1 (0 = off).
    #[arg(long, value_name = "N", default_value_t = 0)]
    fault_503: u64,
    /// Apply every Nth mutating request, then drop its connection without an answer (0 = off).
    #[arg(long, value_name = "N", default_value_t = 0)]
    fault_drop: u64,
    /// Accept BYOK keys whose PKCS#8 DER is followed by zero padding (SoftHSM 2.6 does this).
    #[arg(long)]
    accept_padded_pkcs8: bool,
    /// Backup secret shared by simulated vaults of one subscription (created if missing):
    /// vaults started with the same file restore each other's backups.
    #[arg(long, value_name = "FILE")]
    subscription_key: Option<PathBuf>,
    /// Behave as a Managed HSM: its challenge names https://managedhsm.azure.net, and it
    /// answers GET /keys/NAME/VERSION/attestation with MRVL-1 attestations signed by a
    /// TEST chain made in the state directory (its root: DIR/attestation-root.pem).
    /// Without it the simulator is Key Vault, which has none.
    #[arg(long)]
    managed_hsm: bool,
}

impl Args {
    /// The configuration these flags ask for (this reads the token file).
    fn into_config(self) -> byok_core::Result<Config> {
        let token = match &self.token_file {
            None => None,
            Some(path) => Some(byok_vault_sim::read_token(path)?),
        };
        Ok(Config {
            listen: self.listen,
            state_dir: self.state_dir,
            token,
            recovery_level: self.recovery_level,
            faults: Faults {
                every_429: self.fault_429,
                every_503: self.fault_503,
                every_drop: self.fault_drop,
            },
            accept_padded_pkcs8: self.accept_padded_pkcs8,
            subscription_key: self.subscription_key,
            managed_hsm: self.managed_hsm,
        })
    }
}

fn main() {
    let config = match Args::parse().into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = byok_vault_sim::run(config) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("byok-vault-sim").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn flags_become_the_config() {
        let c = parse(&["--state-dir", "d"]).unwrap().into_config().unwrap();
        assert_eq!(c.listen, "127.0.0.1:0");
        assert_eq!(c.recovery_level, "Recoverable+ProtectedSubscription");
        assert!(c.token.is_none() && c.subscription_key.is_none());
        assert!(!c.managed_hsm && !c.accept_padded_pkcs8);
        assert_eq!(
            c.faults.every_429 + c.faults.every_503 + c.faults.every_drop,
            0
        );
        let c = parse(&[
            "--state-dir",
            "d",
            "--listen",
            "127.0.0.1:4443",
            "--fault-429",
            "3",
            "--fault-503",
            "4",
            "--fault-drop",
            "5",
            "--managed-hsm",
            "--accept-padded-pkcs8",
            "--recovery-level",
            "Purgeable",
            "--subscription-key",
            "s.key",
        ])
        .unwrap()
        .into_config()
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:4443");
        assert_eq!(c.state_dir, PathBuf::from("d"));
        assert_eq!(
            (c.faults.every_429, c.faults.every_503, c.faults.every_drop),
            (3, 4, 5)
        );
        assert!(c.managed_hsm && c.accept_padded_pkcs8);
        assert_eq!(c.recovery_level, "Purgeable");
        assert_eq!(c.subscription_key, Some(PathBuf::from("s.key")));
    }

    #[test]
    fn bad_flags_and_token_files_are_refused() {
        assert!(parse(&[]).is_err(), "--state-dir is required");
        assert!(parse(&["--state-dir", "d", "--fault-429", "-1"]).is_err());
        let a = parse(&["--state-dir", "d", "--token", "/nonexistent/token"]).unwrap();
        assert_eq!(a.token_file, Some(PathBuf::from("/nonexistent/token")));
        assert!(a.into_config().is_err());
    }
}
