//! Key Vault key identifiers (`kid`): which vault, which key, which version; and the
//! [`Mode`] that says whether a loopback address (the local simulator) may stand for a vault.

use crate::{bail, Result};
use serde::Serialize;

/// Whether byok works for real or rehearses against the local simulator.
///
/// Only a rehearsal accepts loopback addresses (`https://127.0.0.1:PORT`, `localhost`,
/// `[::1]`) as vaults and key ids, and only a rehearsal lets the vault client skip the
/// challenge's host check for them. A rehearsal is asked for by the plan
/// (`"rehearsal": true`) or the command (`--rehearsal`); it is warned about every time
/// and recorded in transcripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Real vaults only: Key Vault and Managed HSM hosts of the public and sovereign clouds.
    Ceremony,
    /// Loopback addresses (byok-vault-sim) are accepted too.
    Rehearsal,
}

impl Mode {
    /// `Rehearsal` when `rehearsal`, else `Ceremony`.
    pub fn rehearsal_if(rehearsal: bool) -> Mode {
        if rehearsal {
            Mode::Rehearsal
        } else {
            Mode::Ceremony
        }
    }

    pub fn is_rehearsal(self) -> bool {
        self == Mode::Rehearsal
    }

    /// The warning every rehearsal prints.
    pub fn warning(self) -> Option<&'static str> {
        self.is_rehearsal().then_some(
            "REHEARSAL: loopback addresses (the local simulator) are accepted as vaults; nothing done here is a real ceremony",
        )
    }
}

/// The refusal of a loopback address outside a rehearsal.
pub const LOOPBACK_REFUSED: &str = "is a loopback address (a local simulator): allowed only in a rehearsal (the plan's \"rehearsal\": true, or --rehearsal)";

/// Which service a vault address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// Azure Key Vault (`*.vault.azure.net` and the sovereign clouds' hosts).
    KeyVault,
    /// Azure Managed HSM (`*.managedhsm.azure.net` and the sovereign clouds' hosts).
    ManagedHsm,
    /// A loopback address: the local simulator, in a rehearsal only.
    Loopback,
}

/// A versioned key URL of Key Vault, Managed HSM, or a loopback simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyId {
    /// `https://host[:port]`, without a trailing slash.
    pub vault: String,
    pub name: String,
    pub version: String,
    pub service: Service,
}

/// A vault's address, checked: `https://host[:port]`, lowercase, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultUrl {
    pub url: String,
    pub service: Service,
}

/// Check a vault URL: https, nothing but the scheme and the host (and a port), and a Key
/// Vault or Managed HSM host, or in a rehearsal a loopback address. The one check of vault
/// addresses, for plans and for the connected commands alike.
pub fn vault_url(url: &str, mode: Mode) -> Result<VaultUrl> {
    let trimmed = url.trim_end_matches('/');
    let Some(rest) = trimmed.strip_prefix("https://") else {
        bail!("vault {url:?} is not a vault URL: it must be https (https://VAULT.vault.azure.net)");
    };
    if rest.is_empty()
        || rest.contains(['/', '?', '#', '@', ' ', '\\'])
        || rest.chars().any(char::is_control)
    {
        bail!("vault {url:?} is not a vault URL: give only https://VAULT.vault.azure.net");
    }
    let Some(service) = host_service(rest) else {
        bail!("vault {url:?} is not a vault URL: its host is not a Key Vault or Managed HSM address (https://VAULT.vault.azure.net, where VAULT is 3-24 letters, digits and dashes starting with a letter; a Managed HSM: https://NAME.managedhsm.azure.net)");
    };
    if service == Service::Loopback && mode != Mode::Rehearsal {
        bail!("vault {url:?} {LOOPBACK_REFUSED}");
    }
    Ok(VaultUrl {
        url: format!("https://{}", rest.to_ascii_lowercase()),
        service,
    })
}

/// Data-plane host suffixes of Key Vault and Managed HSM in the public and sovereign clouds.
const VAULT_SUFFIXES: &[(&str, Service)] = &[
    (".vault.azure.net", Service::KeyVault),
    (".vault.azure.cn", Service::KeyVault),
    (".vault.usgovcloudapi.net", Service::KeyVault),
    (".vault.microsoftazure.de", Service::KeyVault),
    (".managedhsm.azure.net", Service::ManagedHsm),
    (".managedhsm.azure.cn", Service::ManagedHsm),
    (".managedhsm.usgovcloudapi.net", Service::ManagedHsm),
];

const HINT: &str = "a KEK id looks like https://VAULT.vault.azure.net/keys/NAME/VERSION (copy `kid` from `az keyvault key show`)";

/// Is `name` a valid Key Vault object name (1–127 of `0-9a-zA-Z-`)?
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 127
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl KeyId {
    /// Parse and check a versioned key URL; a loopback one only in [`Mode::Rehearsal`].
    pub fn parse(url: &str, mode: Mode) -> Result<KeyId> {
        let Some(rest) = url.strip_prefix("https://") else {
            bail!("kid {url:?} is not an https URL; {HINT}");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => bail!("kid {url:?} has no key path; {HINT}"),
        };
        if url.contains(['?', '#', '@', ' ']) {
            bail!("kid {url:?} has a query, fragment, user or space; {HINT}");
        }
        let service = host_service(authority)
            .ok_or_else(|| crate::err!("kid {url:?} is not on a Key Vault or Managed HSM host (or an https loopback address); {HINT}"))?;
        if service == Service::Loopback && mode != Mode::Rehearsal {
            bail!("kid {url:?} {LOOPBACK_REFUSED}");
        }
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            ["keys", name, version] => {
                if !valid_key_name(name) {
                    bail!("kid {url:?}: key name {name:?} is not a valid Key Vault name (1-127 letters, digits and dashes)");
                }
                if version.len() != 32 || !version.bytes().all(|b| b.is_ascii_hexdigit()) {
                    bail!("kid {url:?}: {version:?} is not a key version (32 hex digits); {HINT}");
                }
                Ok(KeyId {
                    vault: format!("https://{}", authority.to_ascii_lowercase()),
                    name: name.to_string(),
                    version: version.to_string(),
                    service,
                })
            }
            ["keys", _] => bail!(
                "kid {url:?} names no version: the package must name the exact KEK version; {HINT}"
            ),
            _ => bail!("kid {url:?} is not a key URL; {HINT}"),
        }
    }

    pub fn url(&self) -> String {
        format!("{}/keys/{}/{}", self.vault, self.name, self.version)
    }
}

/// Which service an `https://` authority (host and optional port) belongs to.
fn host_service(authority: &str) -> Option<Service> {
    let (host, port) = split_port(authority)?;
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().is_err() {
            return None;
        }
    }
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host == "[::1]" || is_loopback_v4(&host) {
        return Some(Service::Loopback);
    }
    if port.is_some() {
        return None;
    }
    VAULT_SUFFIXES.iter().find_map(|(suffix, service)| {
        let label = host.strip_suffix(suffix)?;
        // Vault names: 3-24 letters, digits and dashes, starting with a letter.
        let ok = (3..=24).contains(&label.len())
            && label.as_bytes()[0].is_ascii_alphabetic()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        ok.then_some(*service)
    })
}

fn split_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let host = &authority[..=end];
        match &authority[end + 1..] {
            "" => Some((host, None)),
            rest => Some((host, Some(rest.strip_prefix(':')?))),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => Some((h, Some(p))),
            None => Some((authority, None)),
        }
    }
}

fn is_loopback_v4(host: &str) -> bool {
    host.parse::<std::net::Ipv4Addr>()
        .map(|a| a.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn accepts_vaults_hsms_and_loopback() {
        for url in [
            format!("https://contoso-vault1.vault.azure.net/keys/KEK-1/{V}"),
            format!("https://contoso.vault.azure.cn/keys/k/{V}"),
            format!("https://contoso.vault.usgovcloudapi.net/keys/k/{V}"),
            format!("https://contoso-hsm.managedhsm.azure.net/keys/k/{V}"),
            format!("https://127.0.0.1:8443/keys/k/{V}"),
            format!("https://localhost:1/keys/k/{V}"),
            format!("https://[::1]:9/keys/k/{V}"),
        ] {
            let id = KeyId::parse(&url, Mode::Rehearsal).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(id.url(), url);
        }
    }

    #[test]
    fn refuses_what_is_no_key_url() {
        for url in [
            "".to_string(),
            "kek.pem".to_string(),
            format!("http://contoso.vault.azure.net/keys/k/{V}"),
            "https://contoso.vault.azure.net/keys/k".to_string(),
            format!("https://contoso.vault.azure.net/secrets/k/{V}"),
            format!("https://contoso.vault.azure.net/keys/k/{V}/extra"),
            format!("https://contoso.vault.azure.net/keys/k_1/{V}"),
            "https://contoso.vault.azure.net/keys/k/nothex".to_string(),
            format!("https://evil.example.com/keys/k/{V}"),
            format!("https://contoso.vault.azure.net.evil.com/keys/k/{V}"),
            format!("https://contoso.vault.azure.net:444/keys/k/{V}"),
            format!("https://10.0.0.1:443/keys/k/{V}"),
            format!("https://127.0.0.1:99999/keys/k/{V}"),
            format!("https://127.0.0.1:/keys/k/{V}"),
            format!("https://127.0.0.1:+443/keys/k/{V}"),
            format!("https://contoso.vault.azure.net/keys/k/{V}?x=1"),
            format!("https://a.vault.azure.net/keys/k/{V}"),
        ] {
            assert!(
                KeyId::parse(&url, Mode::Rehearsal).is_err(),
                "{url} accepted"
            );
        }
    }

    #[test]
    fn loopback_only_in_a_rehearsal() {
        for url in [
            format!("https://127.0.0.1:8443/keys/k/{V}"),
            format!("https://localhost:1/keys/k/{V}"),
            format!("https://[::1]:9/keys/k/{V}"),
        ] {
            let e = KeyId::parse(&url, Mode::Ceremony).unwrap_err();
            assert!(e.message().contains("rehearsal"), "{e}");
            assert_eq!(
                KeyId::parse(&url, Mode::Rehearsal).unwrap().service,
                Service::Loopback
            );
        }
        let real = format!("https://contoso-vault1.vault.azure.net/keys/KEK-1/{V}");
        assert_eq!(
            KeyId::parse(&real, Mode::Ceremony).unwrap().service,
            Service::KeyVault
        );
    }

    #[test]
    fn one_check_for_vault_addresses() {
        let v = vault_url("https://Contoso-VaultA1.vault.azure.net/", Mode::Ceremony).unwrap();
        assert_eq!(v.url, "https://contoso-vaulta1.vault.azure.net");
        assert_eq!(v.service, Service::KeyVault);
        let v = vault_url("https://contoso-hsm.managedhsm.azure.net", Mode::Ceremony).unwrap();
        assert_eq!(v.service, Service::ManagedHsm);
        let v = vault_url("https://127.0.0.1:8443", Mode::Rehearsal).unwrap();
        assert_eq!(v.service, Service::Loopback);
        for (url, words) in [
            ("https://127.0.0.1:8443", "rehearsal"),
            ("http://x.vault.azure.net", "must be https"),
            ("https://x.vault.azure.net/keys", "give only"),
            ("https://user@contoso.vault.azure.net", "give only"),
            ("https://contoso.vault.azure.net?x=1", "give only"),
            ("https://example.com", "not a Key Vault"),
            (
                "https://contoso.vault.azure.net.evil.com",
                "not a Key Vault",
            ),
            ("https://contoso.vault.azure.net:444", "not a Key Vault"),
            ("https://127.0.0.1:99999", "not a Key Vault"),
            ("https://", "must be https"),
        ] {
            let e = vault_url(url, Mode::Ceremony).unwrap_err();
            assert!(e.message().contains(words), "{url}: {e}");
        }
        assert_eq!(
            serde_json::to_value(Service::ManagedHsm).unwrap(),
            "managedhsm"
        );
    }
}
