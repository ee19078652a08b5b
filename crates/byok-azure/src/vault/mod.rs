//! The Key Vault client: the official Azure SDK for Rust (`azure_security_keyvault_keys`,
//! `azure_identity`) behind a small synchronous wrapper.
//!
//! What the wrapper adds to the SDK, and why:
//! - **Our own HTTP client** (reqwest with rustls and ring): `--ca-file` / `BYOK_CA_FILE`
//!   adds trusted CAs (the simulator's, or a TLS-inspecting proxy's), and it sets timeouts.
//! - **No blind retry of writes.** The SDK retries any request whose connection broke,
//!   writes included, so a dropped import would add a second key version. The transport
//!   here turns a broken write into an "outcome unknown" error that is not retried; the
//!   callers then look at what the vault holds and decide (see `upload`). Requests that
//!   never reached the server, and 429/5xx answers, are retried by the SDK with backoff,
//!   honouring `Retry-After`.
//! - **TLS failures fail at once** with a message about `--ca-file`, instead of a minute
//!   of retries.
//! - **Credentials as `az` users expect**: a static bearer token (`--access-token-file`,
//!   `BYOK_ACCESS_TOKEN`), else a service principal from `AZURE_TENANT_ID`,
//!   `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, else a managed identity, else the Azure
//!   CLI's login. (azure_identity has no default chain yet.)
//! - **One-line errors** with the service's error code and what to do.
//!
//! The SDK is pinned to 1.1.0-beta.1: 1.0.0 caches a challenge's scope before checking
//! that it matches the vault's host, so after one refused challenge it would send the
//! token to the unchecked host. The challenge check stays on for every real vault; it is
//! off only for loopback addresses (the simulator), whose challenge names
//! `vault.azure.net`.

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_core::time::{Duration, OffsetDateTime};
use azure_security_keyvault_keys::models::{
    CreateKeyParameters, EncryptionAlgorithm, ImportKeyParameters, JsonWebKey, KeyAttributes,
    KeyClientGetKeyAttestationOptions, KeyClientGetKeyOptions, KeyClientUnwrapKeyOptions,
    KeyOperation, KeyOperationParameters, KeyType, RestoreKeyParameters,
};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use byok_core::{bail, err, Error, Mode, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The data-plane API version byok speaks.
pub const API_VERSION: &str = "2025-07-01";

/// What the transport wraps a write in when its connection broke after it was sent: the
/// vault may or may not have applied it. [`sdk_error`] finds it in the error's causes and
/// makes the error [`ErrorKind::OutcomeUnknown`](byok_core::ErrorKind::OutcomeUnknown).
#[derive(Debug)]
struct WriteOutcomeUnknown(azure_core::Error);

impl std::fmt::Display for WriteOutcomeUnknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the connection broke after the request was sent")
    }
}

impl std::error::Error for WriteOutcomeUnknown {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// How to reach vaults: extra CAs and credentials.
#[derive(Debug, Clone)]
pub struct Connection {
    /// PEM bundle of extra trusted CAs.
    pub ca_file: Option<PathBuf>,
    /// A file holding a bearer token (mode 600).
    pub access_token_file: Option<PathBuf>,
    /// A rehearsal accepts loopback vaults (the simulator) and skips the challenge's host
    /// check for them only.
    pub mode: Mode,
}

/// A connected vault.
pub struct Vault {
    rt: tokio::runtime::Runtime,
    client: KeyClient,
    /// `https://host[:port]`, no trailing slash.
    pub url: String,
    /// The connection's mode: a rehearsal accepts the simulator's loopback addresses.
    pub mode: Mode,
    http: reqwest::Client,
    cred: Arc<dyn TokenCredential>,
}

/// The vault's answer to an attestation request.
#[derive(Debug, Clone)]
pub enum AttestationAnswer {
    /// The KeyBundle with `attributes.attestation`.
    Bundle(KeyBundle),
    /// The vault refused: it offers no attestation for this key (the error, one line).
    NoAttestation(String),
}

/// A key as the vault returns it (`KeyBundle` JSON), with typed accessors.
#[derive(Debug, Clone)]
pub struct KeyBundle {
    pub json: Value,
}

impl KeyBundle {
    fn key(&self) -> &Value {
        &self.json["key"]
    }
    pub fn kid(&self) -> Option<&str> {
        self.key()["kid"].as_str()
    }
    pub fn version(&self) -> Option<&str> {
        self.kid().and_then(|k| k.rsplit('/').next())
    }
    pub fn kty(&self) -> Option<&str> {
        self.key()["kty"].as_str()
    }
    pub fn key_ops(&self) -> Vec<String> {
        self.key()["key_ops"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
    fn b64(&self, field: &str) -> Option<Vec<u8>> {
        let s = self.key()[field].as_str()?;
        let raw = byok_core::kek::decode_b64url(s).ok()?;
        let i = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
        Some(raw[i..].to_vec())
    }
    /// Modulus, big-endian without leading zeros.
    pub fn n(&self) -> Option<Vec<u8>> {
        self.b64("n")
    }
    pub fn e(&self) -> Option<Vec<u8>> {
        self.b64("e")
    }
    pub fn attributes(&self) -> &Value {
        &self.json["attributes"]
    }
    pub fn enabled(&self) -> Option<bool> {
        self.attributes()["enabled"].as_bool()
    }
    /// Expiry, Unix seconds.
    pub fn exp(&self) -> Option<i64> {
        self.attributes()["exp"].as_i64()
    }
    pub fn recovery_level(&self) -> Option<&str> {
        self.attributes()["recoveryLevel"].as_str()
    }
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.json["tags"][name].as_str()
    }
    /// SHA-256 of the public key's SubjectPublicKeyInfo DER.
    pub fn spki_sha256(&self) -> Result<String> {
        use rsa::pkcs8::EncodePublicKey;
        use sha2::Digest;
        let (Some(n), Some(e)) = (self.n(), self.e()) else {
            bail!("the vault's key has no RSA public key");
        };
        let key = byok_core::kek::rsa_from_parts(&n, &e)?;
        let der = key
            .to_public_key_der()
            .map_err(|e| err!("cannot encode the vault's public key: {e}"))?;
        Ok(hex::encode(sha2::Sha256::digest(der.as_bytes())))
    }
}

/// Check a vault URL: https, and a Key Vault or Managed HSM host, or (in a rehearsal) a
/// loopback address. Returns it without a trailing slash.
pub fn check_vault_url(url: &str, mode: Mode) -> Result<String> {
    let trimmed = url.trim_end_matches('/');
    // Reuse the key-id rules: a vault URL plus a dummy key path must be a valid kid.
    let probe = format!("{trimmed}/keys/probe/{}", "0".repeat(32));
    match byok_core::keyid::KeyId::parse(&probe, Mode::Rehearsal) {
        Ok(k) if k.service == "loopback" && mode != Mode::Rehearsal => {
            bail!("vault {url:?} {}", byok_core::keyid::LOOPBACK_REFUSED)
        }
        Ok(_) => Ok(trimmed.to_ascii_lowercase()),
        Err(_) => bail!("{url:?} is not a vault URL: use https://VAULT.vault.azure.net (or a Managed HSM, or in a rehearsal the simulator's https://127.0.0.1:PORT)"),
    }
}

fn is_loopback(url: &str) -> bool {
    let host = url.trim_start_matches("https://");
    host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")
}

/// A bearer token from a file or the environment.
#[derive(Debug)]
struct StaticToken(Secret);

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        // A far expiry: the SDK must never try to refresh a token it cannot renew.
        Ok(AccessToken::new(
            self.0.secret().to_string(),
            OffsetDateTime::now_utc() + Duration::days(365),
        ))
    }
}

/// Try credentials in turn; the first that yields a token wins.
#[derive(Debug)]
struct Chain(Vec<Arc<dyn TokenCredential>>);

#[async_trait::async_trait]
impl TokenCredential for Chain {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let mut errs = Vec::new();
        for c in &self.0 {
            match c.get_token(scopes, options.clone()).await {
                Ok(t) => return Ok(t),
                Err(e) => errs.push(e.to_string()),
            }
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!(
                "no credential worked ({}); run `az login`, or give --access-token-file or BYOK_ACCESS_TOKEN",
                errs.join("; ")
            ),
        ))
    }
}

/// The HTTP transport: our reqwest client, with writes never retried blind and TLS
/// failures never retried.
#[derive(Debug)]
struct ByokTransport(reqwest::Client);

fn find_source<T: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = cur {
        if x.downcast_ref::<T>().is_some() {
            return true;
        }
        if let Some(inner) = x
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if find_source::<T>(inner) {
                return true;
            }
        }
        cur = x.source();
    }
    false
}

/// Requests that change nothing, or whose repetition changes nothing.
fn safe_to_repeat(req: &azure_core::http::Request) -> bool {
    use azure_core::http::Method;
    let path = req.url().path();
    matches!(req.method(), Method::Get | Method::Head)
        || (req.method() == Method::Post
            && (path.ends_with("/backup")
                || path.ends_with("/wrapkey")
                || path.ends_with("/unwrapkey")))
}

#[async_trait::async_trait]
impl azure_core::http::HttpClient for ByokTransport {
    async fn execute_request(
        &self,
        req: &azure_core::http::Request,
    ) -> azure_core::Result<azure_core::http::AsyncRawResponse> {
        use azure_core::error::ErrorKind;
        self.0.execute_request(req).await.map_err(|e| {
            if find_source::<rustls::Error>(&e) {
                azure_core::Error::with_message(
                    ErrorKind::Other,
                    "TLS: the server's certificate is not trusted; for the simulator or a proxy give its CA with --ca-file or BYOK_CA_FILE",
                )
            } else if matches!(e.kind(), ErrorKind::Io) && !safe_to_repeat(req) {
                azure_core::Error::with_error(
                    ErrorKind::Other,
                    WriteOutcomeUnknown(e),
                    "byok: the connection broke after the request was sent",
                )
            } else {
                e
            }
        })
    }
}

/// Did this request break after it was sent, so that the vault may or may not have applied it?
pub fn outcome_unknown(e: &Error) -> bool {
    e.is(byok_core::ErrorKind::OutcomeUnknown)
}

fn http_client(conn: &Connection) -> Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(15))
        .read_timeout(std::time::Duration::from_secs(60))
        .timeout(std::time::Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = &conn.ca_file {
        let pem = byok_core::fsutil::read_limited(path, 1 << 20, "CA file")?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            err!(
                "CA file {} is not a PEM bundle of certificates ({e})",
                path.display()
            )
        })?;
        if certs.is_empty() {
            bail!("CA file {} holds no certificate", path.display());
        }
        // Extra CAs are added to the system's, not put in their place.
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| err!("cannot set up HTTPS ({e})"))
}

fn credential(conn: &Connection, options: &ClientOptions) -> Result<Arc<dyn TokenCredential>> {
    if let Some(path) = &conn.access_token_file {
        let raw = byok_core::fsutil::read_secret_file(path, "access token file")?;
        let token = std::str::from_utf8(&raw)
            .map_err(|_| err!("access token file {} is not text", path.display()))?
            .trim()
            .to_string();
        if token.is_empty() {
            bail!("access token file {} is empty", path.display());
        }
        return Ok(Arc::new(StaticToken(Secret::new(token))));
    }
    if let Ok(token) = std::env::var("BYOK_ACCESS_TOKEN") {
        if !token.trim().is_empty() {
            return Ok(Arc::new(StaticToken(Secret::new(token.trim().to_string()))));
        }
    }
    let mut chain: Vec<Arc<dyn TokenCredential>> = Vec::new();
    if let (Ok(t), Ok(c), Ok(s)) = (
        std::env::var("AZURE_TENANT_ID"),
        std::env::var("AZURE_CLIENT_ID"),
        std::env::var("AZURE_CLIENT_SECRET"),
    ) {
        chain.push(
            azure_identity::ClientSecretCredential::new(
                &t,
                c,
                Secret::new(s),
                Some(azure_identity::ClientSecretCredentialOptions {
                    client_options: options.clone(),
                }),
            )
            .map_err(|e| err!("the service principal in AZURE_* is not usable ({e})"))?,
        );
    }
    if let Ok(mi) = azure_identity::ManagedIdentityCredential::new(Some(
        azure_identity::ManagedIdentityCredentialOptions {
            client_options: options.clone(),
            ..Default::default()
        },
    )) {
        chain.push(mi);
    }
    if let Ok(cli) = azure_identity::AzureCliCredential::new(None) {
        chain.push(cli);
    }
    Ok(Arc::new(Chain(chain)))
}

/// One line for an SDK error: status, the service's code and message, and what to do.
pub fn sdk_error(what: &str, e: azure_core::Error) -> Error {
    use azure_core::error::ErrorKind;
    let mut detail = String::new();
    if let ErrorKind::HttpResponse {
        status,
        error_code,
        raw_response,
    } = e.kind()
    {
        let body: Value = raw_response
            .as_ref()
            .and_then(|r| serde_json::from_slice(r.body().as_ref()).ok())
            .unwrap_or(Value::Null);
        let code = body["error"]["code"]
            .as_str()
            .map(str::to_string)
            .or_else(|| error_code.clone())
            .unwrap_or_default();
        let msg = body["error"]["message"].as_str().unwrap_or("");
        let hint = match u16::from(*status) {
            401 => "; check the credentials (az login, --access-token-file or BYOK_ACCESS_TOKEN)",
            403 => "; the identity lacks this permission on the vault (access policy or RBAC role), or the key's operations forbid it",
            429 => "; the vault is throttling: wait and run the command again",
            _ => "",
        };
        detail = format!("HTTP {} {code}: {msg}{hint}", u16::from(*status));
    }
    if detail.is_empty() {
        // Walk the cause chain: the SDK's top message often hides the reason.
        let mut parts = vec![e.to_string()];
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            let t = s.to_string();
            if !parts.contains(&t) {
                parts.push(t);
            }
            src = s.source();
        }
        detail = parts.join(": ");
    }
    let kind = if find_source::<WriteOutcomeUnknown>(&e) {
        byok_core::ErrorKind::OutcomeUnknown
    } else if e.http_status().map(u16::from) == Some(404) {
        byok_core::ErrorKind::NotFound
    } else {
        byok_core::ErrorKind::Service
    };
    Error::new(kind, format!("{what} failed: {detail}")).with_source(e)
}

impl Vault {
    /// Connect to `url` (checked) with `conn`'s CAs and credentials.
    pub fn connect(url: &str, conn: &Connection) -> Result<Vault> {
        let url = check_vault_url(url, conn.mode)?;
        let http = http_client(conn)?;
        let options = ClientOptions {
            transport: Some(Transport::new(Arc::new(ByokTransport(http.clone())))),
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                initial_delay: Duration::milliseconds(500),
                max_retries: 6,
                max_total_elapsed: Duration::seconds(120),
                max_delay: Duration::seconds(30),
            }),
            ..Default::default()
        };
        let cred = credential(conn, &options)?;
        let client = KeyClient::new(
            &url,
            cred.clone(),
            Some(KeyClientOptions {
                api_version: API_VERSION.into(),
                client_options: options,
                // The simulator's challenge names vault.azure.net: only a rehearsal, which
                // alone reaches loopback addresses, skips the check, and only for them.
                verify_challenge_resource: Some(!(conn.mode.is_rehearsal() && is_loopback(&url))),
            }),
        )
        .map_err(|e| sdk_error("setting up the Key Vault client", e))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err!("cannot start the async runtime ({e})"))?;
        Ok(Vault {
            rt,
            client,
            url,
            mode: conn.mode,
            http,
            cred,
        })
    }

    /// The vault's answer as it came: the SDK's models leave read-only attributes
    /// (`recoveryLevel`, `created`) out when serialized, and byok checks them.
    fn bundle<T, F>(r: azure_core::http::Response<T, F>) -> Result<KeyBundle> {
        let json: Value = serde_json::from_slice(r.body().as_ref())
            .map_err(|e| err!("the vault's answer is not JSON ({e})"))?;
        if !json["key"].is_object() {
            bail!("the vault's answer holds no key");
        }
        Ok(KeyBundle { json })
    }

    /// The key `name` (latest, or `version`); `None` when the vault has no such key.
    pub fn get_key(&self, name: &str, version: Option<&str>) -> Result<Option<KeyBundle>> {
        let opts = version.map(|v| KeyClientGetKeyOptions {
            key_version: Some(v.to_string()),
            ..Default::default()
        });
        match self.rt.block_on(self.client.get_key(name, opts)) {
            Ok(r) => Ok(Some(Self::bundle(r)?)),
            Err(e) if e.http_status().map(u16::from) == Some(404) => Ok(None),
            Err(e) => Err(sdk_error(
                &format!("getting key {name} from {}", self.url),
                e,
            )),
        }
    }

    /// The attestation of key `name` version `version` (always a version: the SDK builds
    /// `/keys/NAME//attestation` without one): the raw KeyBundle JSON with
    /// `attributes.attestation`. A vault that offers no attestation (Key Vault answers
    /// 400, 404, 405 or 501 for a key it has) gives `NoAttestation` with its words.
    pub fn get_attestation(&self, name: &str, version: &str) -> Result<AttestationAnswer> {
        if version.is_empty() {
            bail!("internal: an attestation request needs the key's version");
        }
        let opts = KeyClientGetKeyAttestationOptions {
            key_version: Some(version.to_string()),
            ..Default::default()
        };
        match self
            .rt
            .block_on(self.client.get_key_attestation(name, Some(opts)))
        {
            Ok(r) => Ok(AttestationAnswer::Bundle(Self::bundle(r)?)),
            Err(e) if matches!(e.http_status().map(u16::from), Some(400 | 404 | 405 | 501)) => {
                let what = format!("getting the attestation of {name} from {}", self.url);
                Ok(AttestationAnswer::NoAttestation(
                    sdk_error(&what, e).message().to_string(),
                ))
            }
            Err(e) => Err(sdk_error(
                &format!("getting the attestation of {name} from {}", self.url),
                e,
            )),
        }
    }

    /// Create an RSA-HSM key with the given operations.
    pub fn create_rsa_hsm(
        &self,
        name: &str,
        bits: u32,
        ops: Vec<KeyOperation>,
    ) -> Result<KeyBundle> {
        let params = CreateKeyParameters {
            kty: Some(KeyType::RsaHsm),
            key_size: Some(bits as i32),
            key_ops: Some(ops),
            ..Default::default()
        };
        let body = params
            .try_into()
            .map_err(|e| sdk_error("encoding the request", e))?;
        let r = self
            .rt
            .block_on(self.client.create_key(name, body, None))
            .map_err(|e| sdk_error(&format!("creating key {name} in {}", self.url), e))?;
        Self::bundle(r)
    }

    /// Import a BYOK package: its raw bytes go as `key_hsm`, with `Hsm: true`, as `az` does.
    pub fn import_byok(
        &self,
        name: &str,
        package: &[u8],
        ops: &[&str],
        tags: BTreeMap<String, String>,
    ) -> Result<KeyBundle> {
        let params = ImportKeyParameters {
            hsm: Some(true),
            key: Some(JsonWebKey {
                kty: Some(KeyType::RsaHsm),
                key_ops: Some(ops.iter().map(|s| s.to_string()).collect()),
                t: Some(package.to_vec()),
                ..Default::default()
            }),
            key_attributes: Some(KeyAttributes {
                enabled: Some(true),
                ..Default::default()
            }),
            tags: Some(tags.into_iter().collect()),
            ..Default::default()
        };
        let body = params
            .try_into()
            .map_err(|e| sdk_error("encoding the request", e))?;
        let r = self
            .rt
            .block_on(self.client.import_key(name, body, None))
            .map_err(|e| sdk_error(&format!("importing {name} into {}", self.url), e))?;
        Self::bundle(r)
    }

    /// Unwrap `value` with the key's private half in the vault.
    pub fn unwrap_key(
        &self,
        name: &str,
        version: &str,
        alg: EncryptionAlgorithm,
        value: &[u8],
    ) -> Result<Vec<u8>> {
        let params = KeyOperationParameters {
            algorithm: Some(alg),
            value: Some(value.to_vec()),
            ..Default::default()
        };
        let body = params
            .try_into()
            .map_err(|e| sdk_error("encoding the request", e))?;
        let model = self
            .rt
            .block_on(self.client.unwrap_key(
                name,
                version,
                body,
                None::<KeyClientUnwrapKeyOptions>,
            ))
            .and_then(|r| r.into_model())
            .map_err(|e| sdk_error(&format!("unwrapKey with {name} in {}", self.url), e))?;
        model
            .result
            .ok_or_else(|| err!("the vault's unwrapKey answer has no result"))
    }

    /// The raw backup bytes of key `name` (what `az keyvault key backup` writes).
    pub fn backup(&self, name: &str) -> Result<Vec<u8>> {
        let model = self
            .rt
            .block_on(self.client.backup_key(name, None))
            .and_then(|r| r.into_model())
            .map_err(|e| sdk_error(&format!("backing up {name} in {}", self.url), e))?;
        model
            .value
            .filter(|v| !v.is_empty())
            .ok_or_else(|| err!("the vault's backup of {name} is empty"))
    }

    /// Restore a backup; a taken name (also by a deleted key) is a 409 from the vault.
    pub fn restore(&self, blob: &[u8]) -> Result<KeyBundle> {
        let body = RestoreKeyParameters {
            key_backup: Some(blob.to_vec()),
        }
        .try_into()
        .map_err(|e| sdk_error("encoding the request", e))?;
        let r = self
            .rt
            .block_on(self.client.restore_key(body, None))
            .map_err(|e| sdk_error(&format!("restoring a backup into {}", self.url), e))?;
        Self::bundle(r)
    }

    /// Soft-delete key `name`, then purge it when the vault allows (scratch vaults only).
    pub fn delete_and_purge(&self, name: &str) -> Result<bool> {
        self.rt
            .block_on(self.client.delete_key(name, None))
            .map_err(|e| sdk_error(&format!("deleting {name} in {}", self.url), e))?;
        match self.rt.block_on(self.client.purge_deleted_key(name, None)) {
            Ok(_) => Ok(true),
            Err(e) if e.http_status().map(u16::from) == Some(403) => Ok(false),
            Err(e) => Err(sdk_error(&format!("purging {name} in {}", self.url), e)),
        }
    }

    /// A bearer token for another Azure resource (e.g. `https://storage.azure.com/.default`).
    pub fn token_for(&self, scope: &str) -> Result<String> {
        let t = self
            .rt
            .block_on(self.cred.get_token(&[scope], None))
            .map_err(|e| sdk_error("getting a token", e))?;
        Ok(t.token.secret().to_string())
    }

    /// The HTTP client (for the blob copy), and the runtime to drive it.
    pub fn http(&self) -> (&reqwest::Client, &tokio::runtime::Runtime) {
        (&self.http, &self.rt)
    }
}

/// Refuse a name that is not a valid Key Vault key name.
pub fn check_key_name(name: &str) -> Result<()> {
    if !byok_core::keyid::valid_key_name(name) {
        bail!("{name:?} is not a valid Key Vault key name (1-127 letters, digits and dashes)");
    }
    Ok(())
}
