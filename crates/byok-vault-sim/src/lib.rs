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
//! Modules: [`http`] (TLS listener, auth, query, faults), [`routes`] (operations),
//! [`state`] (persistence), [`crypto`] (keys, wrapping, BYOK unwrap, backup sealing),
//! [`tls`] (certificates).

pub mod crypto;
pub mod http;
pub mod routes;
pub mod state;
pub mod tls;

use byok_core::{bail, err, Result};
use byok_testkit::testchain::TestChain;
use std::path::{Path, PathBuf};
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

/// The TEST attestation chain with its private keys (mode 600), in the state directory.
pub const ATTESTATION_CHAIN_FILE: &str = "attestation-chain.json";
/// The TEST chain's root certificate: pass it to byok as `--trust-root` (rehearsals only).
pub const ATTESTATION_ROOT_FILE: &str = "attestation-root.pem";

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

/// Read the pinned bearer token from `path` (`--token-file`): a private file (as
/// `fsutil::read_secret_file` checks) holding one non-empty UTF-8 line.
pub fn read_token(path: &Path) -> Result<Zeroizing<String>> {
    let bytes = byok_core::fsutil::read_secret_file(path, "token file")?;
    match std::str::from_utf8(&bytes) {
        Ok(s) if !s.trim().is_empty() => Ok(Zeroizing::new(s.trim().to_string())),
        _ => bail!(
            "token file {} is empty or not UTF-8; put the token in it",
            path.display()
        ),
    }
}

/// What a vault holds, loaded from its state directory.
pub struct Vault {
    store: state::Store,
    sealer: crypto::Sealer,
    attestation: Option<TestChain>,
}

impl Vault {
    /// The state, the backup secret and (for a Managed HSM) the TEST attestation chain.
    pub fn open(dir: &Path, subscription_key: Option<&Path>, managed_hsm: bool) -> Result<Vault> {
        Ok(Vault {
            store: state::Store::open(dir)?,
            sealer: crypto::Sealer::open(dir, subscription_key)?,
            attestation: if managed_hsm {
                Some(attestation_chain(dir)?)
            } else {
                None
            },
        })
    }
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
    pub attestation: Option<TestChain>,
    /// `https://127.0.0.1:PORT`, the vault's own address.
    pub base_url: String,
    pub port: u16,
    requests: AtomicU64,
    mutations: AtomicU64,
}

impl App {
    /// The vault `vault` serving at `base_url` (port `port`), as `config` says.
    pub fn new(vault: Vault, config: Config, base_url: String, port: u16) -> App {
        App {
            store: Mutex::new(vault.store),
            sealer: vault.sealer,
            token: config.token,
            recovery_level: config.recovery_level,
            faults: config.faults,
            accept_padded_pkcs8: config.accept_padded_pkcs8,
            attestation: vault.attestation,
            base_url,
            port,
            requests: AtomicU64::new(0),
            mutations: AtomicU64::new(0),
        }
    }

    /// The state, even if another thread panicked while holding it (it is only ever
    /// replaced whole, after a successful write, so it is never half-changed).
    pub fn lock(&self) -> MutexGuard<'_, state::Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Does it play a Managed HSM (`--managed-hsm`)? Then it attests its keys and its
    /// challenge names `https://managedhsm.azure.net`.
    pub fn is_managed_hsm(&self) -> bool {
        self.attestation.is_some()
    }

    /// The service it plays, as the ready line says: `managedhsm` or `keyvault`.
    pub fn kind(&self) -> &'static str {
        if self.is_managed_hsm() {
            "managedhsm"
        } else {
            "keyvault"
        }
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

    /// A vault in `dir` at `https://127.0.0.1:4443`, for unit tests (nothing listens).
    #[cfg(test)]
    pub(crate) fn for_tests(dir: &Path, recovery_level: &str, managed_hsm: bool) -> Result<App> {
        let config = Config {
            listen: "127.0.0.1:4443".into(),
            state_dir: dir.to_path_buf(),
            token: None,
            recovery_level: recovery_level.into(),
            faults: Faults::default(),
            accept_padded_pkcs8: false,
            subscription_key: None,
            managed_hsm,
        };
        let vault = Vault::open(dir, None, managed_hsm)?;
        Ok(App::new(
            vault,
            config,
            "https://127.0.0.1:4443".into(),
            4443,
        ))
    }
}

fn check_recovery_level(level: &str) -> Result<()> {
    if !RECOVERY_LEVELS.contains(&level) {
        bail!(
            "--recovery-level {level:?} is not a Key Vault recovery level; use one of {}",
            RECOVERY_LEVELS.join(", ")
        );
    }
    Ok(())
}

/// The state directory, made (private: it holds the simulated HSM's private keys) when
/// missing, as an absolute path.
fn state_dir(dir: &Path) -> Result<PathBuf> {
    if !dir.is_dir() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| err!(Io, "cannot create state directory {}: {e}", dir.display()))?;
    }
    dir.canonicalize()
        .map_err(|e| err!(Io, "cannot use state directory {}: {e}", dir.display()))
}

/// The one line printed on stdout when ready: `{"url": …, "ca": …, "kind": …}`, url
/// first (the harness and the demo read it); `kind` is `keyvault` or `managedhsm`, the
/// service the simulator plays.
fn ready_line(base_url: &str, ca: &Path, kind: &str) -> String {
    format!(
        "{{\"url\": {}, \"ca\": {}, \"kind\": {}}}",
        serde_json::Value::from(base_url),
        serde_json::Value::from(ca.to_string_lossy().as_ref()),
        serde_json::Value::from(kind)
    )
}

/// Is the listen address `IP:PORT` (or `localhost:PORT`) on this machine only?
fn is_loopback_listen(listen: &str) -> bool {
    if let Ok(addr) = listen.parse::<std::net::SocketAddr>() {
        return addr.ip().is_loopback();
    }
    listen
        .rsplit_once(':')
        .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost"))
}

/// Refuse to serve beyond this machine without a pinned token: without `--token-file`
/// the simulator accepts any bearer token, which is fine on loopback (the tests and
/// rehearsals) but would let anyone on the network create, import and restore keys.
fn check_listen(listen: &str, token_pinned: bool) -> Result<()> {
    if !token_pinned && !is_loopback_listen(listen) {
        bail!(
            "--listen {listen} is not a loopback address, and without --token-file the simulator accepts any token from anyone who can reach it: give --token-file FILE (mode 600), or listen on 127.0.0.1"
        );
    }
    Ok(())
}

/// Check the flags, prepare the state directory and certificates, and serve until killed.
pub fn run(config: Config) -> Result<()> {
    check_listen(&config.listen, config.token.is_some())?;
    check_recovery_level(&config.recovery_level)?;
    let dir = state_dir(&config.state_dir)?;
    tls::ensure_certificates(&dir)?;
    let tls_config = tls::server_config(&dir)?;
    let vault = Vault::open(&dir, config.subscription_key.as_deref(), config.managed_hsm)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| err!(Internal, "cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| err!(Io, "cannot listen on {}: {e}", config.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| err!(Io, "cannot read the listening address: {e}"))?;
        let host = match addr.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let base_url = format!("https://{host}:{}", addr.port());
        let app = std::sync::Arc::new(App::new(vault, config, base_url.clone(), addr.port()));
        let line = ready_line(&base_url, &dir.join(tls::CA_FILE), app.kind());
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}")
                .and_then(|_| out.flush())
                .map_err(|e| err!(Io, "cannot write the ready line to stdout: {e}"))?;
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

/// Load the TEST attestation chain from `dir`, or make it on first start; (re)write
/// its root certificate to `dir/attestation-root.pem`.
fn attestation_chain(dir: &Path) -> Result<TestChain> {
    let path = dir.join(ATTESTATION_CHAIN_FILE);
    let chain = match std::fs::read(&path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| {
                err!(
                    Integrity,
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
            let serial = format!("SIM-{}", hex::encode(rand::random::<[u8; 4]>()));
            let chain = TestChain::generate(&serial, true)?;
            byok_core::fsutil::write_new(&path, chain.to_json()?.as_bytes(), 0o600)?;
            chain
        }
        Err(e) => bail!(Io, "cannot read {}: {e}", path.display()),
    };
    byok_core::fsutil::write_replace(
        &dir.join(ATTESTATION_ROOT_FILE),
        chain.root_pem().as_bytes(),
        0o644,
    )?;
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;

    #[test]
    fn recovery_levels() {
        for l in RECOVERY_LEVELS {
            check_recovery_level(l).unwrap();
        }
        for l in ["Forever", "recoverable", "", "Recoverable+"] {
            let e = check_recovery_level(l).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadInput);
            assert!(e.message().contains("Recoverable+Purgeable"), "{e}");
        }
    }

    #[test]
    fn the_ready_line_is_url_then_ca_then_kind() {
        let line = ready_line(
            "https://127.0.0.1:4443",
            Path::new("/s/ca \"x\".pem"),
            "managedhsm",
        );
        assert_eq!(
            line,
            r#"{"url": "https://127.0.0.1:4443", "ca": "/s/ca \"x\".pem", "kind": "managedhsm"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ca"], "/s/ca \"x\".pem");
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let kv = App::for_tests(a.path(), "Recoverable", false).unwrap();
        let hsm = App::for_tests(b.path(), "Recoverable", true).unwrap();
        assert_eq!((kv.kind(), hsm.kind()), ("keyvault", "managedhsm"));
    }

    #[test]
    fn state_dir_is_made_private_and_absolute() {
        let tmp = tempfile::tempdir().unwrap();
        let rel = tmp.path().join("a/b/../c");
        let dir = state_dir(&rel).unwrap();
        assert!(dir.is_absolute());
        assert_eq!(dir, tmp.path().canonicalize().unwrap().join("a/c"));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&dir).unwrap().permissions(),
        );
        assert_eq!(mode & 0o077, 0);
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(state_dir(&file).unwrap_err().kind(), ErrorKind::Io);
    }

    #[test]
    fn own_vault_addresses() {
        let tmp = tempfile::tempdir().unwrap();
        let app = App::for_tests(tmp.path(), "Recoverable", false).unwrap();
        let addressed = "https://MyHost:4443";
        for own in [
            "https://127.0.0.1:4443",
            "https://LOCALHOST:4443",
            "https://[::1]:4443",
            "https://myhost:4443",
        ] {
            assert!(app.is_own_vault(own, addressed), "{own}");
        }
        for other in [
            "https://127.0.0.1:4444",
            "https://contoso.vault.azure.net",
            "http://127.0.0.1:4443",
            "https://myhost:1",
        ] {
            assert!(!app.is_own_vault(other, addressed), "{other}");
        }
    }

    #[test]
    fn only_loopback_without_a_pinned_token() {
        for ok in ["127.0.0.1:0", "127.8.0.1:4443", "[::1]:0", "localhost:8443"] {
            check_listen(ok, false).unwrap();
        }
        for open in [
            "0.0.0.0:0",
            "[::]:0",
            "192.0.2.2:4443",
            "example.com:443",
            "x",
        ] {
            let e = check_listen(open, false).unwrap_err();
            assert!(e.message().contains("--token-file"), "{open}: {e}");
            check_listen(open, true).unwrap();
        }
    }

    #[test]
    fn tokens_from_files() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8], mode: u32| {
            let p = tmp.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let good = write("good", b"  s3cret\n", 0o600);
        assert_eq!(read_token(&good).unwrap().as_str(), "s3cret");
        for (name, bytes) in [("empty", &b" \n"[..]), ("binary", &b"\xff\xfe"[..])] {
            let e = read_token(&write(name, bytes, 0o600)).unwrap_err();
            assert!(e.message().contains("empty or not UTF-8"), "{e}");
        }
        // Others may not read it.
        assert!(read_token(&write("open", b"s3cret", 0o644)).is_err());
        assert!(read_token(&tmp.path().join("missing")).is_err());
    }

    #[test]
    fn the_attestation_chain_is_made_once_and_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let first = attestation_chain(d).unwrap();
        let root = std::fs::read_to_string(d.join(ATTESTATION_ROOT_FILE)).unwrap();
        assert_eq!(root, first.root_pem());
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(d.join(ATTESTATION_CHAIN_FILE))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o077, 0, "the chain holds private keys");
        // The root file is rewritten at every start; the chain is reused.
        std::fs::write(d.join(ATTESTATION_ROOT_FILE), "stale").unwrap();
        let again = attestation_chain(d).unwrap();
        assert_eq!(again.root_pem(), first.root_pem());
        assert_eq!(
            std::fs::read_to_string(d.join(ATTESTATION_ROOT_FILE)).unwrap(),
            root
        );
        // A damaged chain file is refused, not replaced.
        std::fs::write(d.join(ATTESTATION_CHAIN_FILE), b"\xff").unwrap();
        let e = attestation_chain(d).err().expect("refused");
        assert!(e.message().contains("move it away"), "{e}");
        std::fs::write(d.join(ATTESTATION_CHAIN_FILE), b"{}").unwrap();
        assert!(attestation_chain(d).is_err());
        assert_eq!(
            std::fs::read(d.join(ATTESTATION_CHAIN_FILE)).unwrap(),
            b"{}"
        );
    }
}
