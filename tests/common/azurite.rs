//! Azurite, the Azure Storage emulator, as a test Blob Storage: HTTPS with a throwaway
//! CA (made by the simulator's certificate code) and OAuth in its "basic" mode, so the
//! requests carry bearer tokens exactly as against Azure.
//!
//! Install: `npm ci --prefix tests/azurite` (Node 20+; Azurite is pinned at 3.35.0, the
//! last release that supports Node 20: 3.36 wants Node 21+, 3.37 Node 22+). The binary is
//! `tests/azurite/node_modules/.bin/azurite-blob`, or `$BYOK_AZURITE`. A missing Azurite
//! FAILS the tests that need it, saying how to install it: it is never a skip.
//!
//! `--oauth basic` checks a bearer token's form and claims, not its signature (Azurite's
//! `BlobTokenAuthenticator.authenticateBasic`): a JWT that decodes (header and payload
//! JSON, base64url, signature part may be empty), with numeric `iat`, `nbf` and `exp`
//! (now within [nbf, exp]), `iss` starting with `https://sts.windows.net/` (or another
//! Entra ID issuer) and `aud` `https://storage.azure.com` (or the account's blob
//! endpoint). [`mint_token`] makes such an unsigned token.

use base64::Engine as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The emulator's one account, in the path of its (path-style) URLs.
pub const ACCOUNT: &str = "devstoreaccount1";
/// The container [`Azurite::start`] creates.
pub const CONTAINER: &str = "backups";

pub struct Azurite {
    child: Child,
    dir: tempfile::TempDir,
    /// `https://127.0.0.1:PORT/devstoreaccount1`
    pub account_url: String,
    /// `https://127.0.0.1:PORT/devstoreaccount1/backups`, created and empty.
    pub container_url: String,
    /// The CA that issued Azurite's server certificate (PEM file).
    pub ca_pem: PathBuf,
    /// A bearer token Azurite accepts, valid for an hour.
    pub token: String,
    pub port: u16,
}

/// The azurite-blob executable: `$BYOK_AZURITE` or the project-local npm install.
pub fn azurite_bin() -> PathBuf {
    match std::env::var_os("BYOK_AZURITE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/azurite/node_modules/.bin/azurite-blob"),
    }
}

/// An unsigned JWT (`alg` `none`, empty signature) with the claims Azurite's
/// `--oauth basic` checks; `exp_in_secs` from now (negative: already expired).
pub fn mint_token(exp_in_secs: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
    };
    let tenant = "72f988bf-0000-4000-8000-00000000b10b";
    let header = b64(serde_json::json!({"alg": "none", "typ": "JWT"}));
    let payload = b64(serde_json::json!({
        "aud": "https://storage.azure.com",
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now - 600,
        "nbf": now - 600,
        "exp": now + exp_in_secs,
        "tid": tenant,
        "oid": "0b0c0000-0000-4000-8000-000000000001",
        "scp": "user_impersonation",
    }));
    format!("{header}.{payload}.")
}

/// A `reqwest::Client` as byok builds one: rustls with ring, HTTP/1.1, timeouts, and
/// trusting only `ca` (the PEM file) — or no CA at all with `None`, to see a refusal.
pub fn client(ca: Option<&Path>) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = ca {
        for c in CertificateDer::pem_file_iter(ca).expect("read CA PEM") {
            roots.add(c.expect("CA PEM")).expect("add CA");
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .expect("build reqwest client")
}

impl Azurite {
    /// Start Azurite on a free loopback port with a new empty store, and create the
    /// container [`CONTAINER`]. Panics (test failure) if Azurite is not installed.
    pub fn start() -> Azurite {
        Azurite::start_with(&azurite_bin())
    }

    /// [`Azurite::start`] with this azurite-blob executable.
    pub fn start_with(bin: &Path) -> Azurite {
        let bin = bin.to_path_buf();
        if !bin.exists() {
            panic!(
                "Azurite is not installed at {}: run `npm ci --prefix tests/azurite` (Node 20+ \
                 and npm), or set BYOK_AZURITE to an azurite-blob executable",
                bin.display()
            );
        }
        let dir = tempfile::tempdir().expect("temp dir");
        byok_vault_sim::tls::ensure_certificates(dir.path()).expect("make TLS certificates");
        let mut last = String::new();
        // A free port can be taken between our probe and Azurite's bind: try a few.
        for _ in 0..3 {
            let port = free_port();
            let log = dir.path().join(format!("azurite-{port}.log"));
            let out = std::fs::File::create(&log).expect("azurite log");
            let child = Command::new(&bin)
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .arg("--location")
                .arg(dir.path().join("data"))
                .args(["--oauth", "basic", "--cert"])
                .arg(dir.path().join("server.pem"))
                .arg("--key")
                .arg(dir.path().join("server-key.pem"))
                .args(["--silent", "--disableTelemetry"])
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run Azurite at {} ({e}): run `npm ci --prefix tests/azurite` \
                         (Node 20+), or set BYOK_AZURITE",
                        bin.display()
                    )
                });
            let mut child = child;
            match wait_ready(&mut child, &log) {
                Ok(()) => {
                    let account_url = format!("https://127.0.0.1:{port}/{ACCOUNT}");
                    let az = Azurite {
                        child,
                        container_url: format!("{account_url}/{CONTAINER}"),
                        account_url,
                        ca_pem: dir.path().join("ca.pem"),
                        token: mint_token(3600),
                        port,
                        dir,
                    };
                    az.create_container(CONTAINER);
                    return az;
                }
                Err(e) => {
                    last = e;
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!("Azurite did not start: {last}");
    }

    /// Create a container (PUT ?restype=container) with the bearer token.
    pub fn create_container(&self, name: &str) {
        let agent = super::agent_trusting(&self.ca_pem);
        let mut resp = agent
            .put(&format!("{}/{name}?restype=container", self.account_url))
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("x-ms-version", byok_azure::blob::API_VERSION)
            .send_empty()
            .expect("create the container in Azurite");
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(status, 201, "create container {name}: {body}");
    }

    /// The directory with the certificates and the store.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait until Azurite says it listens (it prints so), or fail with its log.
fn wait_ready(child: &mut Child, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("successfully listens") {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("Azurite exited ({status}): {}", text.trim()));
        }
        if Instant::now() > deadline {
            return Err(format!("Azurite not listening after 60 s: {}", text.trim()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probe a free port")
        .port()
}
