//! The request bodies, one typed struct per operation, and the checks on their fields.
//!
//! A body is read in two steps: into a `serde_json::Value`, then into the operation's
//! struct. The first step gives duplicate keys the meaning Key Vault gives them: the
//! service reads JSON with .NET's reader, where the last of two equal keys wins, and so
//! does `serde_json::Value`, while a derived `Deserialize` would refuse the body with
//! "duplicate field". Unknown fields are ignored, as the service ignores them (the SDKs
//! send fields the simulator does not use). A wrong type is a 400 naming the field.

use super::{bad, Reply};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// Every key operation Key Vault knows, in its spelling.
const KNOWN_OPS: [&str; 8] = [
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "wrapKey",
    "unwrapKey",
    "import",
    "export",
];

/// Operations a new RSA key gets when the request names none.
pub const DEFAULT_OPS: [&str; 6] = [
    "encrypt",
    "decrypt",
    "sign",
    "verify",
    "wrapKey",
    "unwrapKey",
];

/// Most tags a key may have, and the longest tag name and value.
const MAX_TAGS: usize = 15;
const MAX_TAG_NAME: usize = 512;
const MAX_TAG_VALUE: usize = 256;

/// Read a JSON object body into `T` (see the module comment); every failure is a 400.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(bad(
            "The request body is missing; this operation needs a JSON object.",
        ));
    }
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return Err(bad("The request body must be a JSON object.")),
        Err(e) => return Err(bad(format!("The request body is not valid JSON: {e}"))),
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        bad(format!("'{path}' is invalid: {}.", e.into_inner()))
    })
}

/// For fields where `null` and absence differ: absent is `None` (with
/// `#[serde(default)]`), `null` is `Some(None)`.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /keys/{name}/create`.
#[derive(Debug, Deserialize)]
pub struct CreateKey {
    pub kty: Option<String>,
    pub key_size: Option<u64>,
    pub public_exponent: Option<u64>,
    pub crv: Option<String>,
    pub key_ops: Option<Vec<String>>,
    pub attributes: Option<Attributes>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// `PUT /keys/{name}`: a plain JWK or a BYOK package (`key.key_hsm`).
#[derive(Debug, Deserialize)]
pub struct ImportKey {
    pub key: Option<Jwk>,
    /// The SDKs send `Hsm`; `hsm` is read when `Hsm` is absent.
    #[serde(rename = "Hsm", default, deserialize_with = "present")]
    hsm_upper: Option<Option<bool>>,
    hsm: Option<bool>,
    pub attributes: Option<Attributes>,
    pub tags: Option<BTreeMap<String, String>>,
}

impl ImportKey {
    /// Is the key to be stored as an HSM key?
    pub fn hsm(&self) -> bool {
        match self.hsm_upper {
            Some(v) => v.unwrap_or(false),
            None => self.hsm.unwrap_or(false),
        }
    }
}

/// The JSON Web Key of an import: RSA components, or `key_hsm` (the raw `.byok`
/// package, base64url) with kty `RSA-HSM`.
#[derive(Debug, Deserialize)]
pub struct Jwk {
    pub kty: Option<String>,
    pub key_ops: Option<Vec<String>>,
    pub key_hsm: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub d: Option<String>,
    pub p: Option<String>,
    pub q: Option<String>,
}

/// `PATCH /keys/{name}/{version}`.
#[derive(Debug, Deserialize)]
pub struct UpdateKey {
    pub key_ops: Option<Vec<String>>,
    pub attributes: Option<Attributes>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// `POST /keys/{name}/{version}/wrapkey` and `/unwrapkey`.
#[derive(Debug, Deserialize)]
pub struct CryptKey {
    pub alg: Option<String>,
    pub value: Option<String>,
}

/// `POST /keys/restore`.
#[derive(Debug, Deserialize)]
pub struct RestoreKey {
    pub value: Option<String>,
}

/// Attributes a client may set: enabled, nbf, exp (the read-only ones are ignored).
#[derive(Debug, Default, Deserialize)]
pub struct Attributes {
    pub enabled: Option<bool>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    pub nbf: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub exp: Option<Option<i64>>,
    pub exportable: Option<bool>,
}

/// Checked attributes: what to change (`None` leaves a value as it is).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AttrIn {
    pub enabled: Option<bool>,
    pub nbf: Option<Option<i64>>,
    pub exp: Option<Option<i64>>,
}

/// Check the attributes: times are Unix seconds, no exportable keys.
pub fn attributes(a: Option<Attributes>) -> Result<AttrIn, Reply> {
    let Some(a) = a else {
        return Ok(AttrIn::default());
    };
    for (k, t) in [("nbf", a.nbf), ("exp", a.exp)] {
        if matches!(t, Some(Some(t)) if t < 0) {
            return Err(bad(format!("'attributes.{k}' must be Unix seconds.")));
        }
    }
    if a.exportable == Some(true) {
        return Err(bad(
            "Exportable keys need a release policy, which this simulator does not support.",
        ));
    }
    Ok(AttrIn {
        enabled: a.enabled,
        nbf: a.nbf,
        exp: a.exp,
    })
}

/// Check the tags: at most 15, names at most 512 and values at most 256 characters.
pub fn tags(
    t: Option<BTreeMap<String, String>>,
) -> Result<Option<BTreeMap<String, String>>, Reply> {
    let Some(t) = t else {
        return Ok(None);
    };
    if t.len() > MAX_TAGS {
        return Err(bad(format!("A key may have at most {MAX_TAGS} tags.")));
    }
    if t.iter()
        .any(|(k, v)| k.len() > MAX_TAG_NAME || v.len() > MAX_TAG_VALUE)
    {
        return Err(bad(format!(
            "Tag names are at most {MAX_TAG_NAME} and values at most {MAX_TAG_VALUE} characters."
        )));
    }
    Ok(Some(t))
}

/// `key_ops`: known operations, canonical spelling, no duplicates; `export` never;
/// `import` only alone, on RSA-HSM.
pub fn key_ops(list: Option<Vec<String>>, kty: &str) -> Result<Option<Vec<String>>, Reply> {
    let Some(list) = list else {
        return Ok(None);
    };
    let mut ops: Vec<String> = Vec::new();
    for s in &list {
        let Some(canon) = KNOWN_OPS.iter().find(|k| k.eq_ignore_ascii_case(s)) else {
            return Err(bad(format!(
                "Invalid key operation {s:?}; known operations: {}.",
                KNOWN_OPS.join(", ")
            )));
        };
        if !ops.iter().any(|o| o == canon) {
            ops.push(canon.to_string());
        }
    }
    if ops.iter().any(|o| o == "export") {
        return Err(bad(
            "Key operation 'export' needs an exportable key with a release policy, which this simulator does not support.",
        ));
    }
    if ops.iter().any(|o| o == "import") {
        if kty != "RSA-HSM" {
            return Err(bad(
                "Key operation 'import' is only allowed on RSA-HSM keys (a BYOK key exchange key).",
            ));
        }
        if ops.len() != 1 {
            return Err(bad(
                "Key operation 'import' cannot be combined with other operations: a key exchange key has key_ops [\"import\"] only.",
            ));
        }
    }
    Ok(Some(ops))
}

/// The operations a new key gets when the request names none.
pub fn default_ops() -> Vec<String> {
    DEFAULT_OPS.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode_ok<T: DeserializeOwned>(body: &str) -> T {
        match decode::<T>(body.as_bytes()) {
            Ok(t) => t,
            Err(r) => panic!("{body}: {:?}", r.body),
        }
    }

    /// The 400 message for `body` read as `T`.
    fn refusal<T: DeserializeOwned + std::fmt::Debug>(body: &[u8]) -> String {
        let r = decode::<T>(body).expect_err("refused");
        assert_eq!((r.status, r.code()), (400, Some("BadParameter")));
        r.body.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn missing_malformed_and_non_object_bodies_are_refused() {
        assert!(refusal::<CryptKey>(b"").contains("missing"));
        assert!(refusal::<CryptKey>(b" \n\t").contains("missing"));
        assert!(refusal::<CryptKey>(b"{").contains("not valid JSON"));
        assert!(refusal::<CryptKey>(b"\xff\xfe").contains("not valid JSON"));
        assert!(refusal::<CryptKey>(b"[]").contains("JSON object"));
        assert!(refusal::<CryptKey>(b"null").contains("JSON object"));
        assert!(refusal::<CryptKey>(b"\"x\"").contains("JSON object"));
        // Nesting beyond serde_json's limit is a 400, not a stack overflow.
        let deep = format!("{{\"value\": {}}}", "[".repeat(10_000));
        assert!(refusal::<CryptKey>(deep.as_bytes()).contains("not valid JSON"));
    }

    #[test]
    fn wrong_types_name_the_field() {
        let m = refusal::<CreateKey>(br#"{"kty": 5}"#);
        assert!(m.starts_with("'kty' is invalid: invalid type"), "{m}");
        let m = refusal::<CreateKey>(br#"{"kty": "RSA", "key_size": "big"}"#);
        assert!(m.starts_with("'key_size' is invalid"), "{m}");
        let m = refusal::<CreateKey>(br#"{"kty": "RSA", "key_size": 2048.5}"#);
        assert!(m.starts_with("'key_size' is invalid"), "{m}");
        let m = refusal::<CreateKey>(br#"{"key_ops": ["wrapKey", 1]}"#);
        assert!(m.starts_with("'key_ops[1]' is invalid"), "{m}");
        let m = refusal::<CreateKey>(br#"{"tags": {"a": 1}}"#);
        assert!(m.starts_with("'tags.a' is invalid"), "{m}");
        let m = refusal::<CreateKey>(br#"{"attributes": []}"#);
        assert!(m.starts_with("'attributes' is invalid"), "{m}");
        let m = refusal::<UpdateKey>(br#"{"attributes": {"exp": 1.5}}"#);
        assert!(m.starts_with("'attributes.exp' is invalid"), "{m}");
        let m = refusal::<UpdateKey>(br#"{"attributes": {"nbf": 9223372036854775808}}"#);
        assert!(m.starts_with("'attributes.nbf' is invalid"), "{m}");
        let m = refusal::<UpdateKey>(br#"{"attributes": {"enabled": "yes"}}"#);
        assert!(m.starts_with("'attributes.enabled' is invalid"), "{m}");
        let m = refusal::<ImportKey>(br#"{"key": "x"}"#);
        assert!(m.starts_with("'key' is invalid"), "{m}");
        let m = refusal::<ImportKey>(br#"{"key": {"kty": "RSA-HSM", "key_hsm": 7}}"#);
        assert!(m.starts_with("'key.key_hsm' is invalid"), "{m}");
        let m = refusal::<ImportKey>(br#"{"key": {}, "Hsm": "yes"}"#);
        assert!(m.starts_with("'Hsm' is invalid"), "{m}");
        let m = refusal::<CryptKey>(br#"{"alg": "RSA-OAEP", "value": ["AAAA"]}"#);
        assert!(m.starts_with("'value' is invalid"), "{m}");
        let m = refusal::<RestoreKey>(br#"{"value": {}}"#);
        assert!(m.starts_with("'value' is invalid"), "{m}");
    }

    #[test]
    fn unknown_fields_and_nulls_are_ignored() {
        // What the Python SDK sends for a create, with fields the simulator does not use.
        let c: CreateKey = decode_ok(
            r#"{"kty": "RSA-HSM", "key_size": 3072, "public_exponent": 65537, "crv": null,
                "key_ops": ["wrapKey"], "attributes": {"enabled": true, "created": 1,
                "recoveryLevel": "x", "exportable": false}, "tags": {"a": "b"},
                "release_policy": null, "future": {"x": [1, 2]}}"#,
        );
        assert_eq!(c.kty.as_deref(), Some("RSA-HSM"));
        assert_eq!((c.key_size, c.public_exponent), (Some(3072), Some(65537)));
        assert_eq!(c.crv, None);
        assert_eq!(c.key_ops, Some(vec!["wrapKey".to_string()]));
        assert_eq!(c.tags.unwrap()["a"], "b");
        let a = attributes(c.attributes).unwrap();
        assert_eq!(a.enabled, Some(true));
        let c: CreateKey = decode_ok(r#"{"kty": null, "key_ops": null, "tags": null}"#);
        assert!(c.kty.is_none() && c.key_ops.is_none() && c.tags.is_none());
    }

    #[test]
    fn import_bodies() {
        let i: ImportKey = decode_ok(
            r#"{"key": {"kty": "RSA-HSM", "key_ops": ["wrapKey"], "key_hsm": "eyJ9", "kid": "x"},
                "Hsm": true, "tags": {"source": "test"}}"#,
        );
        assert!(i.hsm());
        let k = i.key.unwrap();
        assert_eq!(k.kty.as_deref(), Some("RSA-HSM"));
        assert_eq!(k.key_hsm.as_deref(), Some("eyJ9"));
        assert!(k.n.is_none() && k.d.is_none());
        let i: ImportKey = decode_ok(r#"{"key": {"kty": "RSA", "n": "AQ", "e": "AQAB"}}"#);
        assert!(!i.hsm());
        assert_eq!(i.key.unwrap().e.as_deref(), Some("AQAB"));
        // `hsm` is the fallback; `Hsm` (even null) wins.
        assert!(decode_ok::<ImportKey>(r#"{"hsm": true}"#).hsm());
        assert!(!decode_ok::<ImportKey>(r#"{"Hsm": null, "hsm": true}"#).hsm());
        assert!(!decode_ok::<ImportKey>(r#"{"Hsm": false, "hsm": true}"#).hsm());
        assert!(decode_ok::<ImportKey>(r#"{}"#).key.is_none());
    }

    /// Key Vault reads bodies with .NET's JSON reader: of two equal keys the last wins,
    /// at every depth. The simulator does the same and does not refuse the body.
    #[test]
    fn duplicate_keys_last_wins() {
        let c: CreateKey = decode_ok(r#"{"kty": "EC", "kty": "RSA", "key_size": 4096}"#);
        assert_eq!(c.kty.as_deref(), Some("RSA"));
        let c: CreateKey = decode_ok(r#"{"kty": "RSA", "kty": "EC"}"#);
        assert_eq!(c.kty.as_deref(), Some("EC"));
        let u: UpdateKey = decode_ok(
            r#"{"attributes": {"enabled": false, "enabled": true},
                "attributes": {"exp": 5, "exp": null}}"#,
        );
        // The whole first `attributes` object is replaced by the second.
        let a = attributes(u.attributes).unwrap();
        assert_eq!(
            a,
            AttrIn {
                enabled: None,
                nbf: None,
                exp: Some(None)
            }
        );
        let w: CryptKey = decode_ok(r#"{"alg": 1, "alg": "RSA-OAEP", "value": "AAAA"}"#);
        assert_eq!(w.alg.as_deref(), Some("RSA-OAEP"));
        // A bad last value is refused even if an earlier one was good.
        let m = refusal::<CryptKey>(br#"{"alg": "RSA-OAEP", "alg": 1}"#);
        assert!(m.starts_with("'alg' is invalid"), "{m}");
    }

    #[test]
    fn attributes_are_checked() {
        let a = |v: serde_json::Value| {
            attributes(Some(serde_json::from_value::<Attributes>(v).unwrap()))
        };
        assert_eq!(
            a(json!({"enabled": false, "nbf": 0, "exp": null})).unwrap(),
            AttrIn {
                enabled: Some(false),
                nbf: Some(Some(0)),
                exp: Some(None)
            }
        );
        assert_eq!(a(json!({})).unwrap(), AttrIn::default());
        assert_eq!(attributes(None).unwrap(), AttrIn::default());
        for bad in [
            json!({"exp": -1}),
            json!({"nbf": -5}),
            json!({"exportable": true}),
        ] {
            let r = a(bad.clone()).expect_err("refused");
            assert_eq!(r.status, 400, "{bad}");
        }
    }

    #[test]
    fn tags_are_checked() {
        let many: BTreeMap<String, String> =
            (0..16).map(|i| (format!("t{i}"), "v".into())).collect();
        assert_eq!(tags(Some(many)).unwrap_err().status, 400);
        let fifteen: BTreeMap<String, String> =
            (0..15).map(|i| (format!("t{i}"), "v".into())).collect();
        assert_eq!(tags(Some(fifteen)).unwrap().unwrap().len(), 15);
        let long_value = BTreeMap::from([("k".to_string(), "v".repeat(257))]);
        assert_eq!(tags(Some(long_value)).unwrap_err().status, 400);
        let long_name = BTreeMap::from([("k".repeat(513), "v".to_string())]);
        assert_eq!(tags(Some(long_name)).unwrap_err().status, 400);
        assert_eq!(tags(None).unwrap(), None);
    }

    #[test]
    fn key_ops_are_canonical_and_checked() {
        let ops =
            |v: &[&str], kty: &str| key_ops(Some(v.iter().map(|s| s.to_string()).collect()), kty);
        assert_eq!(
            ops(&["WRAPKEY", "unwrapkey", "wrapKey"], "RSA").unwrap(),
            Some(vec!["wrapKey".to_string(), "unwrapKey".to_string()])
        );
        assert_eq!(
            ops(&["Import"], "RSA-HSM").unwrap(),
            Some(vec!["import".to_string()])
        );
        assert_eq!(ops(&[], "RSA").unwrap(), Some(vec![]));
        assert_eq!(key_ops(None, "RSA").unwrap(), None);
        for (v, kty) in [
            (&["fly"][..], "RSA"),
            (&["export"][..], "RSA-HSM"),
            (&["import"][..], "RSA"),
            (&["import", "wrapKey"][..], "RSA-HSM"),
        ] {
            let r = ops(v, kty).expect_err("refused");
            assert_eq!((r.status, r.code()), (400, Some("BadParameter")), "{v:?}");
        }
        assert_eq!(default_ops().len(), 6);
        assert!(!default_ops().iter().any(|o| o == "import"));
    }
}
