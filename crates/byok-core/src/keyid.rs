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

/// A versioned key URL of Key Vault, Managed HSM, or a loopback simulator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyId {
    /// `https://host[:port]`, without a trailing slash.
    pub vault: String,
    pub name: String,
    pub version: String,
    /// `keyvault`, `managedhsm` or `loopback`.
    pub service: &'static str,
}

/// Data-plane host suffixes of Key Vault and Managed HSM in the public and sovereign clouds.
const VAULT_SUFFIXES: &[(&str, &str)] = &[
    (".vault.azure.net", "keyvault"),
    (".vault.azure.cn", "keyvault"),
    (".vault.usgovcloudapi.net", "keyvault"),
    (".vault.microsoftazure.de", "keyvault"),
    (".managedhsm.azure.net", "managedhsm"),
    (".managedhsm.azure.cn", "managedhsm"),
    (".managedhsm.usgovcloudapi.net", "managedhsm"),
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
        if service == "loopback" && mode != Mode::Rehearsal {
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
fn host_service(authority: &str) -> Option<&'static str> {
    let (host, port) = split_port(authority)?;
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().is_err() {
            return None;
        }
    }
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host == "[::1]" || is_loopback_v4(&host) {
        return Some("loopback");
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
                "loopback"
            );
        }
        let real = format!("https://contoso-vault1.vault.azure.net/keys/KEK-1/{V}");
        assert_eq!(
            KeyId::parse(&real, Mode::Ceremony).unwrap().service,
            "keyvault"
        );
    }
}
