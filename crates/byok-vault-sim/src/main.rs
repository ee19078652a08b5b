//! `byok-vault-sim`: a local Azure Key Vault for BYOK rehearsals and tests.
//!
//! Thin command-line layer over [`byok_core::sim`]; see `docs/simulator.md`.

use byok_vault_sim::{Config, Faults};
use clap::Parser;
use std::path::PathBuf;

/// A local Azure Key Vault (keys) over HTTPS, for BYOK rehearsals and tests.
///
/// Prints one JSON line `{"url": ..., "ca": ...}` on stdout when ready, then logs to stderr.
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
    /// Behave as a Managed HSM: answer GET /keys/NAME/VERSION/attestation with MRVL-1
    /// attestations signed by a TEST chain made in the state directory (its root:
    /// DIR/attestation-root.pem). Without it the simulator is Key Vault, which has none.
    #[arg(long)]
    managed_hsm: bool,
}

fn main() {
    let args = Args::parse();
    let token = match &args.token_file {
        None => None,
        Some(path) => match byok_core::fsutil::read_secret_file(path, "token file") {
            Ok(bytes) => match String::from_utf8(bytes.to_vec()) {
                Ok(s) if !s.trim().is_empty() => {
                    Some(zeroize::Zeroizing::new(s.trim().to_string()))
                }
                _ => {
                    eprintln!("error: token file {} is empty or not UTF-8", path.display());
                    std::process::exit(2);
                }
            },
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        },
    };
    let config = Config {
        listen: args.listen,
        state_dir: args.state_dir,
        token,
        recovery_level: args.recovery_level,
        faults: Faults {
            every_429: args.fault_429,
            every_503: args.fault_503,
            every_drop: args.fault_drop,
        },
        accept_padded_pkcs8: args.accept_padded_pkcs8,
        subscription_key: args.subscription_key,
        managed_hsm: args.managed_hsm,
    };
    if let Err(e) = byok_vault_sim::run(config) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
