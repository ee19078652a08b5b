//! `byok-vault-sim`: a local Azure Key Vault (keys data plane) for rehearsals and tests.
//!
//! It speaks the service's wire protocol closely enough for the official SDKs (Python
//! `azure-keyvault-keys`, which `az` uses) to work against it unchanged: HTTPS with its
//! own CA, challenge authentication, `api-version` checks, the KeyBundle / paged-list /
//! error JSON shapes, soft delete, backup/restore, wrapKey/unwrapKey, and — the reason it
//! exists — the BYOK import of a `.byok` transfer package, really unwrapped with the KEK.
//!
//! It is a SIMULATOR: "HSM" keys are software keys whose private halves live in the state
//! directory (see [`state`]). Never import a production key into it.
//!
//! Modules: [`http`] (TLS listener, auth, faults), [`routes`] (operations), [`state`]
//! (persistence), [`crypto`] (keys, wrapping, BYOK unwrap, backup sealing), [`tls`]
//! (certificates).

pub mod crypto;
pub mod http;
pub mod routes;
pub mod state;
pub mod tls;

use byok_core::{bail, err, Result};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};
use zeroize::Zeroizing;

/// Recovery levels Key Vault reports.
pub const RECOVERY_LEVELS: [&str; 7] = [
    "Purgeable",
    "Recoverable+Purgeable",
    "Recoverable",
    "Recoverable+ProtectedSubscription",
    "CustomizedRecoverable+Purgeable",
    "CustomizedRecoverable",
    "CustomizedRecoverable+ProtectedSubscription",
];

/// Fault injection: each is "every Nth", 0 = off. Counters, not chance, so a test that
/// knows its request sequence knows exactly which request is hit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Every Nth request (counting every request received) gets 429 + `Retry-After: 1`.
    pub every_429: u64,
    /// Every Nth request gets 503 + `Retry-After: 1` (429 wins when both hit).
    pub every_503: u64,
    /// Every Nth mutating request (authenticated, valid api-version, a changing route)
    /// is applied, then its connection is dropped without an answer.
    pub every_drop: u64,
}

/// How the simulator is started.
pub struct Config {
    /// `IP:PORT`; port 0 picks a free port.
    pub listen: String,
    pub state_dir: PathBuf,
    /// The one bearer token accepted; `None` accepts any.
    pub token: Option<Zeroizing<String>>,
    pub recovery_level: String,
    pub faults: Faults,
    /// Accept a BYOK key whose PKCS#8 is followed by zero padding (SoftHSM 2.6).
    pub accept_padded_pkcs8: bool,
    /// A backup secret shared with other simulated vaults of the same "subscription".
    pub subscription_key: Option<PathBuf>,
    /// Behave as a Managed HSM: answer key attestation requests (TEST chain).
    pub managed_hsm: bool,
}

/// The running vault, shared by all connections.
pub struct App {
    store: Mutex<state::Store>,
    pub sealer: crypto::Sealer,
    pub token: Option<Zeroizing<String>>,
    pub recovery_level: String,
    pub faults: Faults,
    pub accept_padded_pkcs8: bool,
    /// The TEST attestation chain (Managed HSM mode only).
    pub attestation: Option<byok_testkit::testchain::TestChain>,
    /// `https://127.0.0.1:PORT`, the vault's own address.
    pub base_url: String,
    pub port: u16,
    requests: AtomicU64,
    mutations: AtomicU64,
}

impl App {
    /// The state, even if another thread panicked while holding it (it is only ever
    /// replaced whole, after a successful write, so it is never half-changed).
    pub fn lock(&self) -> MutexGuard<'_, state::Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Is `vault` (`https://host:port` from a kid) this vault, as addressed by the client or otherwise?
    pub fn is_own_vault(&self, vault: &str, addressed: &str) -> bool {
        let vault = vault.to_ascii_lowercase();
        let p = self.port;
        vault == addressed.to_ascii_lowercase()
            || [
                format!("https://127.0.0.1:{p}"),
                format!("https://localhost:{p}"),
                format!("https://[::1]:{p}"),
            ]
            .contains(&vault)
    }
}

/// Check the flags, prepare the state directory and certificates, and serve until killed.
pub fn run(config: Config) -> Result<()> {
    if !RECOVERY_LEVELS.contains(&config.recovery_level.as_str()) {
        bail!(
            "--recovery-level {:?} is not a Key Vault recovery level; use one of {}",
            config.recovery_level,
            RECOVERY_LEVELS.join(", ")
        );
    }
    let dir = &config.state_dir;
    if !dir.is_dir() {
        // Private: the state holds the simulated HSM's private keys.
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| err!("cannot create state directory {}: {e}", dir.display()))?;
    }
    let dir = dir
        .canonicalize()
        .map_err(|e| err!("cannot use state directory {}: {e}", dir.display()))?;
    tls::ensure_certificates(&dir)?;
    let tls_config = tls::server_config(&dir)?;
    let store = state::Store::open(&dir)?;
    let sealer = crypto::Sealer::open(&dir, config.subscription_key.as_deref())?;
    let attestation = if config.managed_hsm {
        Some(attestation_chain(&dir)?)
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| err!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| err!("cannot listen on {}: {e}", config.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| err!("cannot read the listening address: {e}"))?;
        let host = match addr.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let base_url = format!("https://{host}:{}", addr.port());
        let app = std::sync::Arc::new(App {
            store: Mutex::new(store),
            sealer,
            token: config.token,
            recovery_level: config.recovery_level,
            faults: config.faults,
            accept_padded_pkcs8: config.accept_padded_pkcs8,
            attestation,
            base_url: base_url.clone(),
            port: addr.port(),
            requests: AtomicU64::new(0),
            mutations: AtomicU64::new(0),
        });
        let ca = dir.join(tls::CA_FILE);
        // Field order as documented: url first, then ca.
        let line = format!(
            "{{\"url\": {}, \"ca\": {}}}",
            serde_json::Value::from(base_url.as_str()),
            serde_json::Value::from(ca.to_string_lossy().as_ref())
        );
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}")
                .and_then(|_| out.flush())
                .map_err(|e| err!("cannot write the ready line to stdout: {e}"))?;
        }
        eprintln!(
            "byok-vault-sim: serving {base_url} (state {}, recovery level {}{})",
            dir.display(),
            app.recovery_level,
            if app.attestation.is_some() {
                format!(
                    "; Managed HSM: attestations signed by the TEST root {}",
                    dir.join(ATTESTATION_ROOT_FILE).display()
                )
            } else {
                String::new()
            }
        );
        http::serve(listener, tls_config, app).await;
        Ok(())
    })
}

/// The TEST attestation chain with its private keys (mode 600), in the state directory.
pub const ATTESTATION_CHAIN_FILE: &str = "attestation-chain.json";
/// The TEST chain's root certificate: pass it to byok as `--trust-root` (rehearsals only).
pub const ATTESTATION_ROOT_FILE: &str = "attestation-root.pem";

/// Load the TEST attestation chain from `dir`, or make it on first start; (re)write
/// its root certificate to `dir/attestation-root.pem`.
fn attestation_chain(dir: &std::path::Path) -> Result<byok_testkit::testchain::TestChain> {
    use byok_testkit::testchain::TestChain;
    let path = dir.join(ATTESTATION_CHAIN_FILE);
    let chain = match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| {
                err!(
                    "{} is not text; move it away to make a new chain",
                    path.display()
                )
            })?;
            TestChain::from_json(&text).map_err(|e| {
                e.context(format!(
                    "{} (move it away to make a new chain)",
                    path.display()
                ))
            })?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let serial = format!("SIM-{}", &crypto::new_version_id()[..8]);
            let chain = TestChain::generate(&serial, true)?;
            byok_core::fsutil::write_new(&path, chain.to_json()?.as_bytes(), 0o600)?;
            chain
        }
        Err(e) => bail!("cannot read {}: {e}", path.display()),
    };
    byok_core::fsutil::write_replace(
        &dir.join(ATTESTATION_ROOT_FILE),
        chain.root_pem().as_bytes(),
        0o644,
    )?;
    Ok(chain)
}
