//! The key an attestation must be about, read from what the user or the vault gives
//! (PEM, JWK, KeyBundle JSON), and the helpers to read Key Vault key ids and base64.

use base64::Engine;
use rsa::traits::PublicKeyParts;
use rsa::PublicKey;

use super::pem;
use crate::error::Result;
use crate::util::strip_zeros;
use crate::{bail, err};

/// The key the attestation must be about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedKey {
    /// Modulus, big-endian without leading zeros.
    pub n: Vec<u8>,
    /// Public exponent, big-endian without leading zeros.
    pub e: Vec<u8>,
    /// Key Vault key id (`https://.../keys/{name}/{version}`), if known.
    pub kid: Option<String>,
}

impl ExpectedKey {
    pub fn from_rsa(key: &PublicKey, kid: Option<String>) -> ExpectedKey {
        ExpectedKey {
            n: strip_zeros(&key.n_bytes()).to_vec(),
            e: strip_zeros(&key.e_bytes()).to_vec(),
            kid,
        }
    }

    /// Read a public key from PEM (`PUBLIC KEY` = SPKI, `RSA PUBLIC KEY` =
    /// PKCS#1), a KeyBundle JSON (`{"key": {jwk}}`), or a bare JWK.
    pub fn parse(text: &str) -> Result<ExpectedKey> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            crate::json::check_unique_keys(trimmed.as_bytes())
                .map_err(|e| e.context("expected key"))?;
            let v: serde_json::Value = serde_json::from_str(trimmed)
                .map_err(|e| err!("expected key: not valid JSON ({e}); pass a PEM public key, a JWK or the key's JSON from Key Vault"))?;
            let jwk = if v.get("key").is_some_and(|k| k.is_object()) {
                v.get("key").unwrap_or(&v)
            } else {
                &v
            };
            return Self::from_jwk(jwk)?
                .ok_or_else(|| err!("expected key: the JSON holds no RSA key (no \"n\" and \"e\"); pass the KEK's public key"));
        }
        use pkcs1::DecodeRsaPublicKey;
        use pkcs8::DecodePublicKey;
        for (label, der) in pem::blocks(text)? {
            let key = match label.as_str() {
                "PUBLIC KEY" => PublicKey::from_public_key_der(&der).map_err(|e| {
                    err!("expected key: the PUBLIC KEY block is not an RSA key ({e})")
                })?,
                "RSA PUBLIC KEY" => PublicKey::from_pkcs1_der(&der).map_err(|e| {
                    err!("expected key: the RSA PUBLIC KEY block does not parse ({e})")
                })?,
                _ => continue,
            };
            return Ok(Self::from_rsa(&key, None));
        }
        bail!("expected key: no PUBLIC KEY or RSA PUBLIC KEY PEM block and not JSON; pass the KEK's public key")
    }

    /// From a JWK object; `Ok(None)` if it has no `n`/`e`.
    pub(super) fn from_jwk(jwk: &serde_json::Value) -> Result<Option<ExpectedKey>> {
        let (Some(n), Some(e)) = (
            jwk.get("n").and_then(|v| v.as_str()),
            jwk.get("e").and_then(|v| v.as_str()),
        ) else {
            return Ok(None);
        };
        let n = b64_any(n).map_err(|e| e.context("key \"n\""))?;
        let e = b64_any(e).map_err(|e| e.context("key \"e\""))?;
        if strip_zeros(&n).is_empty() || strip_zeros(&e).is_empty() {
            bail!("key: \"n\" or \"e\" is zero; the key JSON is damaged");
        }
        Ok(Some(ExpectedKey {
            n: strip_zeros(&n).to_vec(),
            e: strip_zeros(&e).to_vec(),
            kid: jwk.get("kid").and_then(|v| v.as_str()).map(str::to_string),
        }))
    }
}

/// Decode base64 in either alphabet (standard or URL-safe), padded or not.
pub(super) fn b64_any(s: &str) -> Result<Vec<u8>> {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(cleaned)
        .map_err(|e| err!("not valid base64 ({e}); the file is damaged, get a fresh copy"))
}

/// Split `.../keys/{name}/{version}` into name and optional version.
pub(super) fn key_name_version(s: &str) -> Option<(String, Option<String>)> {
    let path = s.split(['?', '#']).next().unwrap_or_default();
    let segs: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let pos = segs.iter().rposition(|p| p.eq_ignore_ascii_case("keys"))?;
    let name = segs.get(pos + 1)?.to_string();
    let version = segs.get(pos + 2).map(|v| v.to_string());
    Some((name, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::PrivateKey;

    fn key() -> PublicKey {
        PrivateKey::new(&mut rand::rng(), 1024)
            .expect("key")
            .to_public_key()
    }

    #[test]
    fn key_ids() {
        assert_eq!(
            key_name_version("https://v.vault.azure.net/keys/kek/0123abc"),
            Some(("kek".into(), Some("0123abc".into())))
        );
        assert_eq!(
            key_name_version("https://v.vault.azure.net/KEYS/kek/v1?api-version=7.4"),
            Some(("kek".into(), Some("v1".into())))
        );
        assert_eq!(key_name_version("/keys/kek"), Some(("kek".into(), None)));
        assert_eq!(key_name_version("/keys/"), None);
        assert_eq!(key_name_version("d06cc801f7dffdbdd7a9240"), None);
    }

    #[test]
    fn base64_both_alphabets() {
        assert_eq!(b64_any("-_8=").unwrap(), b64_any("+/8").unwrap());
        assert_eq!(b64_any(" AQ\nAB ").unwrap(), vec![1, 0, 1]);
        assert!(b64_any("@@@").is_err());
    }

    #[test]
    fn parses_pem_jwk_and_bundle_alike() {
        use pkcs1::EncodeRsaPublicKey;
        use pkcs8::EncodePublicKey;
        let k = key();
        let want = ExpectedKey::from_rsa(&k, None);
        assert_eq!(want.e, vec![1, 0, 1]);
        assert_ne!(want.n.first(), Some(&0));
        let spki = k.to_public_key_pem(pkcs8::LineEnding::LF).expect("spki");
        let pkcs1 = k.to_pkcs1_pem(pkcs1::LineEnding::LF).expect("pkcs1");
        let b64u = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        // A leading zero byte in "n" is dropped.
        let n0 = [&[0u8][..], &k.n_bytes()].concat();
        let jwk = serde_json::json!({"kty": "RSA", "n": b64u(&n0), "e": b64u(&k.e_bytes())});
        let bundle = serde_json::json!({"key": {"kid": "https://v/keys/a/b", "n": b64u(&k.n_bytes()), "e": "AQAB"}});
        for text in [
            format!("junk before\n{spki}"),
            pkcs1.to_string(),
            jwk.to_string(),
        ] {
            assert_eq!(ExpectedKey::parse(&text).expect("parses"), want);
        }
        let b = ExpectedKey::parse(&bundle.to_string()).expect("bundle");
        assert_eq!(
            (b.n, b.kid.as_deref()),
            (want.n, Some("https://v/keys/a/b"))
        );
    }

    #[test]
    fn bad_keys_are_refused() {
        for (text, needle) in [
            ("", "no PUBLIC KEY"),
            ("{", "not valid JSON"),
            ("{\"kty\": \"EC\"}", "no RSA key"),
            ("{\"n\": \"@@\", \"e\": \"AQAB\"}", "base64"),
            ("{\"n\": \"AA\", \"e\": \"AQAB\"}", "zero"),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                "not an RSA key",
            ),
            (
                "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n",
                "does not parse",
            ),
        ] {
            let e = ExpectedKey::parse(text).unwrap_err();
            assert!(e.message().contains(needle), "{needle}: {e}");
            assert!(e.is(crate::ErrorKind::BadInput));
        }
    }
}
