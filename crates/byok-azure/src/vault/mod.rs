//! The Key Vault client: the official Azure SDK for Rust (`azure_security_keyvault_keys`,
//! `azure_identity`) behind a small synchronous wrapper.
//!
//! What the wrapper adds to the SDK, and why (one file each):
//! - [`transport`]: **our own HTTP client** (reqwest with rustls and ring: `--ca-file` /
//!   `BYOK_CA_FILE` adds trusted CAs, the simulator's or a TLS-inspecting proxy's, and it
//!   sets timeouts), **no blind retry of writes** (a write whose connection broke becomes
//!   "outcome unknown"; the callers look at the vault and decide, see `upload`), and **TLS
//!   failures fail at once** with a message about `--ca-file`.
//! - [`credential`]: **credentials as `az` users expect**: a static bearer token
//!   (`--access-token-file`, `BYOK_ACCESS_TOKEN`), else a service principal from
//!   `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`, else a managed
//!   identity, else the Azure CLI's login.
//! - [`errors`]: **one-line errors with a kind**, the service's error code and what to do.
//! - [`bundle`]: the vault's `KeyBundle` JSON as it came, with typed accessors.
//!
//! The SDK is pinned to 1.1.0-beta.1: 1.0.0 caches a challenge's scope before checking
//! that it matches the vault's host, so after one refused challenge it would send the
//! token to the unchecked host. The challenge check stays on for every real vault; it is
//! off only for loopback addresses (the simulator), whose challenge names
//! `vault.azure.net` (or `managedhsm.azure.net`), not its host, and only in a rehearsal.
//! [`kind`]: which of the two a loopback vault plays, from that challenge.

mod bundle;
mod credential;
mod errors;
mod kind;
pub(crate) mod transport;

pub use bundle::KeyBundle;
pub use errors::{outcome_unknown, sdk_error};

use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_core::time::Duration;
use azure_security_keyvault_keys::models::{
    CreateKeyParameters, EncryptionAlgorithm, ImportKeyParameters, JsonWebKey, KeyAttributes,
    KeyClientGetKeyAttestationOptions, KeyClientGetKeyOptions, KeyClientUnwrapKeyOptions,
    KeyOperation, KeyOperationParameters, KeyType, RestoreKeyParameters,
};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use byok_core::keyid::{vault_url, Service, VaultUrl};
use byok_core::{bail, err, Mode, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The data-plane API version byok speaks.
pub const API_VERSION: &str = "2025-07-01";

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
    service: Service,
    /// What a loopback vault plays, asked once when first needed (see [`kind`]).
    kind: std::sync::OnceLock<(Service, Option<String>)>,
    http: reqwest::Client,
    /// The connection and client options, for the Blob Storage credential.
    conn: Connection,
    options: ClientOptions,
}

/// Most versions of one key byok lists.
pub const MAX_VERSIONS: usize = 5000;

/// One version of a key, as the vault lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyVersion {
    /// 32 hex digits.
    pub version: String,
    /// `attributes.enabled`; `None` when the vault did not say.
    pub enabled: Option<bool>,
    /// `attributes.exp`, seconds since 1970, when the version expires.
    pub expires: Option<i64>,
    /// The version's `byok-package-sha256` tag: the package byok imported as it.
    pub package_sha256: Option<String>,
}

/// The vault's answer to an attestation request.
#[derive(Debug, Clone)]
pub enum AttestationAnswer {
    /// The KeyBundle with `attributes.attestation`.
    Bundle(KeyBundle),
    /// The vault refused: it offers no attestation for this key (the error, one line).
    NoAttestation(String),
}

/// Check a vault URL: https, and a Key Vault or Managed HSM host, or (in a rehearsal) a
/// loopback address. Returns it lowercase, without a trailing slash.
/// ([`byok_core::keyid::vault_url`], the one check of vault addresses.)
pub fn check_vault_url(url: &str, mode: Mode) -> Result<String> {
    Ok(vault_url(url, mode)?.url)
}

/// The service of a vault URL; `None` when it is not a vault URL.
pub fn vault_service(url: &str) -> Option<Service> {
    vault_url(url, Mode::Rehearsal).ok().map(|v| v.service)
}

impl Vault {
    /// Connect to `url` (checked) with `conn`'s CAs and credentials.
    pub fn connect(url: &str, conn: &Connection) -> Result<Vault> {
        let VaultUrl { url, service } = vault_url(url, conn.mode)?;
        let http = transport::http_client(conn)?;
        let transport_to = |origin: Option<String>| {
            Transport::new(Arc::new(transport::ByokTransport {
                client: http.clone(),
                origin,
            }))
        };
        let vault_origin = azure_core::http::Url::parse(&url)
            .map(|u| transport::origin_of(&u))
            .map_err(|e| err!(Internal, "internal: vault URL {url} ({e})"))?;
        // The credentials reach Entra ID or a managed identity endpoint; the key client
        // reaches the vault alone.
        let options = ClientOptions {
            transport: Some(transport_to(None)),
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                initial_delay: Duration::milliseconds(500),
                max_retries: 6,
                max_total_elapsed: Duration::seconds(120),
                max_delay: Duration::seconds(30),
            }),
            ..Default::default()
        };
        let cred = credential::credential(conn, &options)?;
        let client = KeyClient::new(
            &url,
            cred,
            Some(KeyClientOptions {
                api_version: API_VERSION.into(),
                client_options: ClientOptions {
                    transport: Some(transport_to(Some(vault_origin))),
                    ..options.clone()
                },
                // The simulator's challenge names vault.azure.net (or managedhsm.azure.net),
                // not its loopback host: only a rehearsal, which
                // alone reaches loopback addresses, skips the check, and only for them.
                verify_challenge_resource: Some(!skip_challenge_check(conn.mode, service)),
            }),
        )
        .map_err(|e| sdk_error("setting up the Key Vault client", e))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| err!(Io, "cannot start the async runtime ({e})"))?;
        Ok(Vault {
            rt,
            client,
            url,
            mode: conn.mode,
            service,
            kind: std::sync::OnceLock::new(),
            http,
            conn: conn.clone(),
            options,
        })
    }

    /// The vault's answer as it came: the SDK's models leave read-only attributes
    /// (`recoveryLevel`, `created`) out when serialized, and byok checks them.
    fn bundle<T, F>(r: azure_core::http::Response<T, F>) -> Result<KeyBundle> {
        let json: Value = serde_json::from_slice(r.body().as_ref())
            .map_err(|e| err!(Service, "the vault's answer is not JSON ({e})"))?;
        KeyBundle::from_json(json)
    }

    /// Check that the key id in the vault's answer for key `name` (and `version`, when
    /// one was asked for) names this vault, that key and that version: a vault (or
    /// whatever answers in its place) that returns another key is refused, before anything
    /// of its answer is used or written.
    fn check_answer_kid(
        &self,
        bundle: &KeyBundle,
        name: &str,
        version: Option<&str>,
    ) -> Result<()> {
        let Some(kid) = bundle.kid() else {
            bail!(
                Service,
                "{} answered for key {name} without a kid",
                self.url
            );
        };
        let k = byok_core::keyid::KeyId::parse(kid, self.mode).map_err(|e| {
            crate::causes::rekind(
                e,
                byok_core::ErrorKind::Integrity,
                &format!("the key id {} answered for {name}", self.url),
            )
        })?;
        let same = k.vault == self.url
            && k.name.eq_ignore_ascii_case(name)
            && version.is_none_or(|v| k.version.eq_ignore_ascii_case(v));
        if !same {
            bail!(
                Integrity,
                "{} answered for key {name}{} with another key, {}: nothing of it is used; stop and check the vault URL and any proxy in between",
                self.url,
                version.map(|v| format!(" version {v}")).unwrap_or_default(),
                k.url()
            );
        }
        Ok(())
    }

    /// The key `name` (latest, or `version`); `None` when the vault has no such key. The
    /// answer's kid must name this vault, key and version.
    pub fn get_key(&self, name: &str, version: Option<&str>) -> Result<Option<KeyBundle>> {
        check_key_name(name)?;
        if let Some(v) = version {
            check_key_version(v)?;
        }
        let opts = version.map(|v| KeyClientGetKeyOptions {
            key_version: Some(v.to_string()),
            ..Default::default()
        });
        match self.rt.block_on(self.client.get_key(name, opts)) {
            Ok(r) => {
                let b = Self::bundle(r)?;
                self.check_answer_kid(&b, name, version)?;
                Ok(Some(b))
            }
            Err(e) => {
                let e = sdk_error(&format!("getting key {name} from {}", self.url), e);
                if e.is(byok_core::ErrorKind::NotFound) {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Every version of key `name`, in the vault's order (at most [`MAX_VERSIONS`]), each
    /// key id checked to name this vault and key with a proper version. The SDK follows
    /// the list's `nextLink`s; the transport refuses one that points off the vault.
    pub fn list_versions(&self, name: &str) -> Result<Vec<KeyVersion>> {
        use futures::StreamExt;
        check_key_name(name)?;
        let what = format!("listing the versions of key {name} in {}", self.url);
        let mut pager = self
            .client
            .list_key_properties_versions(name, None)
            .map_err(|e| sdk_error(&what, e))?;
        self.rt.block_on(async {
            let mut out: Vec<KeyVersion> = Vec::new();
            while let Some(item) = pager.next().await {
                let p = item.map_err(|e| sdk_error(&what, e))?;
                if out.len() >= MAX_VERSIONS {
                    bail!(
                        Service,
                        "{} lists more than {MAX_VERSIONS} versions of key {name}: more than byok checks; check the key with `az keyvault key list-versions`",
                        self.url
                    );
                }
                let kid = p.kid.as_deref().unwrap_or("");
                let k = byok_core::keyid::KeyId::parse(kid, self.mode).map_err(|e| {
                    crate::causes::rekind(
                        e,
                        byok_core::ErrorKind::Integrity,
                        &format!("a version {} listed for {name}", self.url),
                    )
                })?;
                if k.vault != self.url || !k.name.eq_ignore_ascii_case(name) {
                    bail!(
                        Integrity,
                        "{} listed {} among the versions of key {name}: not this key; stop and check the vault URL and any proxy in between",
                        self.url,
                        k.url()
                    );
                }
                check_key_version(&k.version)?;
                if out.iter().any(|v| v.version.eq_ignore_ascii_case(&k.version)) {
                    bail!(
                        Integrity,
                        "{} listed version {} of key {name} twice: stop and check the vault URL and any proxy in between",
                        self.url,
                        k.version
                    );
                }
                let a = p.attributes.as_ref();
                out.push(KeyVersion {
                    version: k.version.clone(),
                    enabled: a.and_then(|a| a.enabled),
                    expires: a.and_then(|a| a.expires).map(|t| t.unix_timestamp()),
                    package_sha256: p
                        .tags
                        .as_ref()
                        .and_then(|t| t.get(crate::pipeline::PACKAGE_TAG).cloned()),
                });
            }
            Ok(out)
        })
    }

    /// The attestation of key `name` version `version` (always a version: the SDK builds
    /// `/keys/NAME//attestation` without one): the raw KeyBundle JSON with
    /// `attributes.attestation`. A vault that offers no attestation (Key Vault answers
    /// 400, 404, 405 or 501 for a key it has) gives `NoAttestation` with its words.
    pub fn get_attestation(&self, name: &str, version: &str) -> Result<AttestationAnswer> {
        if version.is_empty() {
            bail!(
                Internal,
                "internal: an attestation request needs the key's version"
            );
        }
        check_key_name(name)?;
        check_key_version(version)?;
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
        let b = Self::bundle(r)?;
        self.check_answer_kid(&b, name, None)?;
        Ok(b)
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
            .ok_or_else(|| err!(Service, "the vault's unwrapKey answer has no result"))
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
            .ok_or_else(|| err!(Service, "the vault's backup of {name} is empty"))
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

    /// A bearer token for Blob Storage (scope `https://storage.azure.com/.default`), never
    /// the Key Vault token: `BYOK_STORAGE_TOKEN`, or the chain's token for that scope;
    /// refused when the Key Vault token is a static one and no storage token is given
    /// (see [`credential::storage_sources`]).
    pub fn storage_token(&self) -> Result<String> {
        let cred = credential::storage_credential(&self.conn, &self.options)?;
        let t = self
            .rt
            .block_on(cred.get_token(&[credential::STORAGE_SCOPE], None))
            .map_err(|e| sdk_error("getting a token for Blob Storage", e))?;
        Ok(t.token.secret().to_string())
    }

    /// The vault's service: Key Vault, Managed HSM, or the simulator (loopback).
    pub fn service(&self) -> Service {
        self.service
    }

    /// The kind of vault this is, never `Loopback`: Key Vault or Managed HSM by the URL's
    /// host; a loopback vault (the simulator, only in a rehearsal) is asked once, by the
    /// 401 challenge of an unauthenticated request (`resource="https://managedhsm.azure.net"`
    /// for a Managed HSM), and is taken as a Key Vault when its answer names neither (see
    /// [`Vault::kind_warning`]).
    pub fn kind(&self) -> Service {
        self.learn_kind().0
    }

    /// Why a loopback vault is taken as a Key Vault without saying so (its answer named
    /// no kind); `None` when its kind is known.
    pub fn kind_warning(&self) -> Option<&str> {
        self.learn_kind().1.as_deref()
    }

    fn learn_kind(&self) -> &(Service, Option<String>) {
        self.kind.get_or_init(|| match self.service {
            Service::Loopback => match self.rt.block_on(kind::probe(&self.http, &self.url)) {
                Ok(s) => (s, None),
                Err(why) => (Service::KeyVault, Some(kind::warning(&self.url, &why))),
            },
            s => (s, None),
        })
    }

    /// The HTTP client (for the blob copy), and the runtime to drive it.
    pub fn http(&self) -> (&reqwest::Client, &tokio::runtime::Runtime) {
        (&self.http, &self.rt)
    }
}

/// Skip the SDK's check that a challenge names the vault's host? Only for the simulator's
/// loopback address, and only in a rehearsal (whose challenge names vault.azure.net).
fn skip_challenge_check(mode: Mode, service: Service) -> bool {
    mode.is_rehearsal() && service == Service::Loopback
}

/// Refuse a key version that is not 32 hex digits (what Key Vault and Managed HSM
/// versions are). Anything else would become part of the request path: `../other` would
/// ask for another key.
pub fn check_key_version(version: &str) -> Result<()> {
    if version.len() != 32 || !version.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!(
            "{:?} is not a key version: a version is 32 hex digits (`az keyvault key list-versions` lists them)",
            version.escape_debug().to_string()
        );
    }
    Ok(())
}

/// Refuse a name that is not a valid Key Vault key name.
pub fn check_key_name(name: &str) -> Result<()> {
    if !byok_core::keyid::valid_key_name(name) {
        bail!("{name:?} is not a valid Key Vault key name (1-127 letters, digits and dashes)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;

    #[test]
    fn vault_urls_of_real_vaults() {
        for (url, want) in [
            (
                "https://contoso-vault1.vault.azure.net",
                "https://contoso-vault1.vault.azure.net",
            ),
            (
                "https://Contoso-Vault1.vault.azure.net/",
                "https://contoso-vault1.vault.azure.net",
            ),
            (
                "https://contoso.vault.azure.cn//",
                "https://contoso.vault.azure.cn",
            ),
            (
                "https://contoso-hsm.managedhsm.azure.net",
                "https://contoso-hsm.managedhsm.azure.net",
            ),
        ] {
            for mode in [Mode::Ceremony, Mode::Rehearsal] {
                assert_eq!(check_vault_url(url, mode).unwrap(), want, "{url} {mode:?}");
            }
        }
        assert_eq!(
            vault_service("https://contoso.vault.azure.net"),
            Some(Service::KeyVault)
        );
        assert_eq!(
            vault_service("https://contoso.managedhsm.azure.net/"),
            Some(Service::ManagedHsm)
        );
        assert_eq!(
            vault_service("https://127.0.0.1:8443"),
            Some(Service::Loopback)
        );
        assert_eq!(vault_service("https://example.com"), None);
    }

    #[test]
    fn loopback_only_in_a_rehearsal() {
        for url in [
            "https://127.0.0.1:8443",
            "https://localhost:1",
            "https://[::1]:9",
            "https://127.8.9.10:443",
        ] {
            assert_eq!(check_vault_url(url, Mode::Rehearsal).unwrap(), url);
            let e = check_vault_url(url, Mode::Ceremony).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadInput);
            assert!(e.message().contains("only in a rehearsal"), "{e}");
        }
    }

    #[test]
    fn hostile_and_malformed_urls_are_refused() {
        for url in [
            "https://vault.azure.net.evil.com",
            "https://contoso.vault.azure.net.evil.com",
            "https://evil.com/contoso.vault.azure.net",
            "https://evil.com#.vault.azure.net",
            "https://evil.com?.vault.azure.net",
            "https://user@contoso.vault.azure.net",
            "https://user:pw@contoso.vault.azure.net",
            "https://contoso.vault.azure.net@evil.com",
            "https://contoso.vault.azure.net:443",
            "https://contoso.vault.azure.net:8443",
            "https://contoso.vault.azure.net/keys",
            "https://contoso.vault.azure.net/keys/k",
            "http://contoso.vault.azure.net",
            "HTTPS://contoso.vault.azure.net",
            "contoso.vault.azure.net",
            "https://ab.vault.azure.net",
            "https://1contoso.vault.azure.net",
            "https://con_toso.vault.azure.net",
            "https://127.0.0.1.nip.io:8443",
            "https://127.evil.com",
            "https://localhost.evil.com:8443",
            "https://127.0.0.1:99999",
            "https://127.0.0.1:",
            "https://[::1]x:9",
            "https://10.0.0.1:8443",
            "",
            "https://",
        ] {
            for mode in [Mode::Ceremony, Mode::Rehearsal] {
                let e = check_vault_url(url, mode).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::BadInput, "{url}");
            }
            assert_ne!(vault_service(url), Some(Service::KeyVault), "{url}");
        }
    }

    #[test]
    fn the_challenge_check_is_skipped_only_for_the_simulator_in_a_rehearsal() {
        assert!(skip_challenge_check(Mode::Rehearsal, Service::Loopback));
        assert!(!skip_challenge_check(Mode::Ceremony, Service::Loopback));
        assert!(!skip_challenge_check(Mode::Rehearsal, Service::KeyVault));
        assert!(!skip_challenge_check(Mode::Rehearsal, Service::ManagedHsm));
        assert!(!skip_challenge_check(Mode::Ceremony, Service::KeyVault));
    }

    #[test]
    fn key_versions() {
        check_key_version("0123456789abcdef0123456789ABCDEF").unwrap();
        for bad in [
            "",
            "../other",
            "../Other-KEK",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef/123456789abcdef",
            "0123456789abcdef0123456789abcdeg",
            "%2e%2e%2fother",
        ] {
            let e = check_key_version(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadInput, "{bad}");
            assert!(e.message().contains("32 hex digits"), "{e}");
        }
    }

    #[test]
    fn key_names() {
        check_key_name("Contoso-O365EX-NA-VaultA1-Key001").unwrap();
        check_key_name(&"k".repeat(127)).unwrap();
        for bad in ["", "a_b", "a b", "a/b", "ä", &"k".repeat(128)] {
            assert_eq!(
                check_key_name(bad).unwrap_err().kind(),
                ErrorKind::BadInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn connect_refuses_a_bad_url_before_any_network() {
        let conn = Connection {
            ca_file: None,
            access_token_file: None,
            mode: Mode::Ceremony,
        };
        let e = Vault::connect("https://127.0.0.1:9", &conn).err().unwrap();
        assert!(e.message().contains("only in a rehearsal"), "{e}");
        let e = Vault::connect("https://vault.azure.net.evil.com", &conn)
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::BadInput);
    }
}
