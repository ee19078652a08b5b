//! A key as the vault returns it (`KeyBundle` JSON), with typed accessors.
//!
//! byok keeps the vault's JSON as it came rather than the SDK's model: the models leave
//! read-only attributes (`recoveryLevel`, `created`) out, and byok checks them. Every
//! accessor answers `None` (or empty) for a field that is missing or of another type.

use byok_core::{bail, err, util, Result};
use serde_json::Value;

/// A key as the vault returns it.
#[derive(Debug, Clone)]
pub struct KeyBundle {
    pub json: Value,
}

impl KeyBundle {
    /// The vault's answer; refused unless it is a JSON object with a `key` object.
    pub fn from_json(json: Value) -> Result<KeyBundle> {
        if !json.get("key").is_some_and(Value::is_object) {
            bail!(Service, "the vault's answer holds no key");
        }
        Ok(KeyBundle { json })
    }

    fn key(&self) -> &Value {
        &self.json["key"]
    }

    /// The key id: `https://VAULT/keys/NAME/VERSION`.
    pub fn kid(&self) -> Option<&str> {
        self.key()["kid"].as_str()
    }

    /// The version: the last segment of a kid of the form `…/keys/NAME/VERSION`.
    pub fn version(&self) -> Option<&str> {
        let path = self.kid()?.strip_prefix("https://")?;
        let segs: Vec<&str> = path.split('/').collect();
        match segs.as_slice() {
            [_host, "keys", name, version] if !name.is_empty() && !version.is_empty() => {
                Some(version)
            }
            _ => None,
        }
    }

    pub fn kty(&self) -> Option<&str> {
        self.key()["kty"].as_str()
    }

    /// The key's operations; entries that are not strings are left out.
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

    /// A base64url big-endian integer of the key, without leading zeros.
    fn integer(&self, field: &str) -> Option<Vec<u8>> {
        let s = self.key()[field].as_str()?;
        let raw = byok_core::kek::decode_b64url(s).ok()?;
        Some(util::strip_zeros(&raw).to_vec())
    }

    /// Modulus, big-endian without leading zeros.
    pub fn n(&self) -> Option<Vec<u8>> {
        self.integer("n")
    }

    /// Public exponent, big-endian without leading zeros.
    pub fn e(&self) -> Option<Vec<u8>> {
        self.integer("e")
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

    /// Is `other` the same key: the same kid, modulus and exponent (all present)?
    pub fn same_key_as(&self, other: &KeyBundle) -> bool {
        self.kid().is_some()
            && self.n().is_some()
            && self.kid() == other.kid()
            && self.n() == other.n()
            && self.e() == other.e()
    }

    /// Put `attestation` under `attributes.attestation` (made an object when absent).
    pub fn set_attestation(&mut self, attestation: Value) -> Result<()> {
        let top = self
            .json
            .as_object_mut()
            .ok_or_else(|| err!(Service, "the vault's key is not a JSON object"))?;
        let attrs = top
            .entry("attributes")
            .or_insert_with(|| Value::Object(Default::default()));
        if attrs.is_null() {
            *attrs = Value::Object(Default::default());
        }
        let attrs = attrs.as_object_mut().ok_or_else(|| {
            err!(
                Service,
                "the vault's key has attributes that are not a JSON object"
            )
        })?;
        attrs.insert("attestation".into(), attestation);
        Ok(())
    }

    /// SHA-256 of the public key's SubjectPublicKeyInfo DER.
    pub fn spki_sha256(&self) -> Result<String> {
        use rsa::pkcs8::EncodePublicKey;
        let (Some(n), Some(e)) = (self.n(), self.e()) else {
            bail!(Service, "the vault's key has no RSA public key");
        };
        let key = byok_core::kek::rsa_from_parts(&n, &e)?;
        let der = key
            .to_public_key_der()
            .map_err(|e| err!(Internal, "cannot encode the vault's public key: {e}"))?;
        Ok(util::sha256_hex(der.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;
    use serde_json::json;

    const V: &str = "0123456789abcdef0123456789abcdef";

    fn bundle(v: Value) -> KeyBundle {
        KeyBundle::from_json(v).unwrap()
    }

    #[test]
    fn refuses_answers_without_a_key() {
        for v in [
            json!(null),
            json!([1, 2]),
            json!("key"),
            json!({}),
            json!({"key": "x"}),
            json!({"key": null}),
        ] {
            let e = KeyBundle::from_json(v.clone()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Service, "{v}");
        }
    }

    #[test]
    fn accessors_on_a_full_bundle() {
        let b = bundle(json!({
            "key": {"kid": format!("https://v1.vault.azure.net/keys/k1/{V}"), "kty": "RSA-HSM",
                    "key_ops": ["wrapKey", 7, "unwrapKey"], "n": "AAEC", "e": "AQAB"},
            "attributes": {"enabled": true, "exp": 253402214400_i64,
                           "recoveryLevel": "Recoverable+ProtectedSubscription"},
            "tags": {"t": "v", "n": 1}
        }));
        assert_eq!(b.version(), Some(V));
        assert_eq!(b.kty(), Some("RSA-HSM"));
        assert_eq!(b.key_ops(), ["wrapKey", "unwrapKey"]);
        // Leading zero bytes are dropped.
        assert_eq!(b.n(), Some(vec![1, 2]));
        assert_eq!(b.e(), Some(vec![1, 0, 1]));
        assert_eq!(b.enabled(), Some(true));
        assert_eq!(b.exp(), Some(253_402_214_400));
        assert_eq!(
            b.recovery_level(),
            Some("Recoverable+ProtectedSubscription")
        );
        assert_eq!(b.tag("t"), Some("v"));
        assert_eq!(b.tag("n"), None, "a number is not a tag value");
        assert_eq!(b.tag("missing"), None);
    }

    #[test]
    fn accessors_on_odd_json() {
        let b = bundle(json!({
            "key": {"kid": 5, "kty": ["RSA"], "key_ops": "wrapKey", "n": "!!", "e": 3},
            "attributes": "none",
            "tags": []
        }));
        assert_eq!(b.kid(), None);
        assert_eq!(b.version(), None);
        assert_eq!(b.kty(), None);
        assert!(b.key_ops().is_empty());
        assert_eq!(b.n(), None, "not base64url");
        assert_eq!(b.e(), None);
        assert_eq!(b.enabled(), None);
        assert_eq!(b.exp(), None);
        assert_eq!(b.recovery_level(), None);
        assert_eq!(b.tag("t"), None);
        assert_eq!(b.spki_sha256().unwrap_err().kind(), ErrorKind::Service);
    }

    #[test]
    fn version_needs_a_versioned_kid() {
        let kid = |k: &str| bundle(json!({"key": {"kid": k}}));
        assert_eq!(
            kid("https://v1.vault.azure.net/keys/k1").version(),
            None,
            "no version"
        );
        assert_eq!(kid("https://v1.vault.azure.net/keys/k1/").version(), None);
        assert_eq!(kid("v1/keys/k1/abc").version(), None, "not https");
        assert_eq!(
            kid("https://v1.vault.azure.net/secrets/k1/abc").version(),
            None
        );
        assert_eq!(
            kid("https://127.0.0.1:8443/keys/k1/abc").version(),
            Some("abc")
        );
    }

    #[test]
    fn same_key_needs_kid_and_modulus() {
        let k = |kid: &str, n: &str| bundle(json!({"key": {"kid": kid, "n": n, "e": "AQAB"}}));
        let a = k("https://v/keys/a/1", "AQID");
        assert!(a.same_key_as(&k("https://v/keys/a/1", "AAECAw")));
        assert!(!a.same_key_as(&k("https://v/keys/a/2", "AQID")));
        assert!(!a.same_key_as(&k("https://v/keys/a/1", "AQIE")));
        let empty = bundle(json!({"key": {}}));
        assert!(!empty.same_key_as(&empty.clone()), "nothing to compare");
    }

    #[test]
    fn attestation_goes_under_attributes() {
        let mut b = bundle(json!({"key": {}}));
        b.set_attestation(json!({"a": 1})).unwrap();
        assert_eq!(b.json["attributes"]["attestation"]["a"], 1);
        let mut b = bundle(json!({"key": {}, "attributes": {"enabled": true}}));
        b.set_attestation(json!({"a": 2})).unwrap();
        assert_eq!(b.enabled(), Some(true));
        assert_eq!(b.attributes()["attestation"]["a"], 2);
        // Attributes of another type: an error, not a panic.
        let mut b = bundle(json!({"key": {}, "attributes": "x"}));
        assert_eq!(
            b.set_attestation(json!({})).unwrap_err().kind(),
            ErrorKind::Service
        );
    }

    #[test]
    fn spki_hash_of_a_known_key() {
        use rsa::pkcs8::EncodePublicKey;
        let key = byok_testkit::harness::kek(2048);
        let kek = key.kek().unwrap();
        let b = bundle(json!({"key": {
            "n": byok_core::kek::encode_b64url(&kek.public_modulus()),
            "e": byok_core::kek::encode_b64url(&kek.public_exponent()),
        }}));
        let public = byok_core::kek::rsa_from_parts(&b.n().unwrap(), &b.e().unwrap()).unwrap();
        let der = public.to_public_key_der().unwrap();
        assert_eq!(b.spki_sha256().unwrap(), util::sha256_hex(der.as_bytes()));
        assert_eq!(b.spki_sha256().unwrap(), hex::encode(kek.sha256()));
    }
}
