//! wrapKey and unwrapKey (`POST /keys/{name}/{version}/wrapkey|unwrapkey`), with the
//! service's refusals: the key must allow the operation, be enabled and be in its
//! `nbf`..`exp` window.

use super::body::{self, CryptKey};
use super::render::kid;
use super::{bad, check_name, error_inner, internal, live, refused, version_not_found};
use super::{Reply, Request, R};
use crate::crypto;
use crate::App;
use byok_core::kek::{decode_b64url, encode_b64url};
use serde_json::json;

/// The two key operations the simulator performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Wrap,
    Unwrap,
}

impl Op {
    /// The name in `key_ops` and messages.
    fn name(self) -> &'static str {
        match self {
            Op::Wrap => "wrapKey",
            Op::Unwrap => "unwrapKey",
        }
    }
}

pub fn crypt(app: &App, req: &Request, name: &str, version: &str, op: Op) -> R {
    check_name(name)?;
    let body: CryptKey = body::decode(req.body)?;
    let alg = body.alg.ok_or_else(|| bad("'alg' is required."))?;
    let value = body.value.ok_or_else(|| bad("'value' is required."))?;
    let data = decode_b64url(&value).map_err(|_| bad("'value' is not base64url."))?;
    let (rec, v) = {
        let store = app.lock();
        let rec = live(&store.state, name)?;
        let v = rec
            .version(version)
            .ok_or_else(|| version_not_found(name, version))?;
        (rec.clone(), v.clone())
    };
    let op_name = op.name();
    if !v.enabled {
        return Err(error_inner(
            403,
            "Forbidden",
            format!("Operation {op_name} is not allowed on a disabled key."),
            "KeyDisabled",
        ));
    }
    if v.nbf.is_some_and(|t| req.now < t) || v.exp.is_some_and(|t| req.now >= t) {
        return Err(error_inner(
            403,
            "Forbidden",
            format!("Operation {op_name} is not allowed: the key is not yet valid or has expired."),
            "KeyExpiredOrNotYetValid",
        ));
    }
    if !v.key_ops.iter().any(|o| o == op_name) {
        return Err(error_inner(
            403,
            "Forbidden",
            format!("Operation {op_name} is not permitted on this key."),
            "KeyOperationForbidden",
        ));
    }
    let key = crypto::private_key(&v.private_pkcs8).map_err(internal)?;
    let out = match op {
        Op::Wrap => crypto::wrap(&key, &alg, &data).map_err(refused)?,
        Op::Unwrap => crypto::unwrap(&key, &alg, &data).map_err(refused)?.to_vec(),
    };
    Ok(Reply::ok(
        json!({"kid": kid(req, &rec, &v), "value": encode_b64url(&out)}),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{expect_err, version_of, Vault};
    use byok_core::kek::{decode_b64url, encode_b64url};
    use serde_json::json;

    #[test]
    fn wrap_then_unwrap_with_each_algorithm() {
        let v = Vault::new("Recoverable", false);
        let k = v.ok(
            "POST",
            "/keys/wk/create",
            Some(json!({"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"]})),
        );
        let cek = [9u8; 32];
        for alg in ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"] {
            let w = v.ok(
                "POST",
                &format!("/keys/wk/{}/wrapkey", version_of(&k)),
                Some(json!({"alg": alg, "value": encode_b64url(&cek), "extra": true})),
            );
            assert_eq!(w["kid"], k["key"]["kid"]);
            let u = v.ok(
                "POST",
                "/keys/wk//unwrapkey",
                Some(json!({"alg": alg, "value": w["value"]})),
            );
            assert_eq!(decode_b64url(u["value"].as_str().unwrap()).unwrap(), cek);
        }
        for body in [
            json!({"value": "AAAA"}),
            json!({"alg": "RSA-OAEP"}),
            json!({"alg": "A256KW", "value": "AAAA"}),
            json!({"alg": "RSA-OAEP", "value": "!!"}),
            json!({"alg": "RSA-OAEP", "value": 5}),
            json!({"alg": "RSA-OAEP", "value": encode_b64url(&[1u8; 250])}),
        ] {
            expect_err(
                &v.call("POST", "/keys/wk//wrapkey", Some(body)),
                400,
                "BadParameter",
            );
        }
        expect_err(
            &v.call(
                "POST",
                "/keys/wk//unwrapkey",
                Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
            ),
            400,
            "BadParameter",
        );
        expect_err(
            &v.call("POST", "/keys/wk//wrapkey", None),
            400,
            "BadParameter",
        );
    }

    #[test]
    fn refusals_by_key_ops_state_and_time() {
        let v = Vault::new("Recoverable", false);
        v.ok(
            "POST",
            "/keys/w/create",
            Some(json!({"kty": "RSA", "key_ops": ["wrapKey"],
                        "attributes": {"nbf": 1_000, "exp": 2_000}})),
        );
        let body = json!({"alg": "RSA-OAEP", "value": "AAAA"}).to_string();
        let at = |path: &str, now: i64| v.at("POST", path, body.as_bytes(), now);
        let inner = |r: &super::Reply| {
            r.body.as_ref().unwrap()["error"]["innererror"]["code"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(at("/keys/w//wrapkey", 1_500).status, 200);
        for now in [999, 2_000] {
            let r = at("/keys/w//wrapkey", now);
            expect_err(&r, 403, "Forbidden");
            assert_eq!(inner(&r), "KeyExpiredOrNotYetValid");
        }
        let r = at("/keys/w//unwrapkey", 1_500);
        expect_err(&r, 403, "Forbidden");
        assert_eq!(inner(&r), "KeyOperationForbidden");
        v.ok(
            "PATCH",
            "/keys/w/",
            Some(json!({"attributes": {"enabled": false}})),
        );
        let r = at("/keys/w//wrapkey", 1_500);
        expect_err(&r, 403, "Forbidden");
        assert_eq!(inner(&r), "KeyDisabled");
        let missing = format!("/keys/w/{}/wrapkey", "b".repeat(32));
        expect_err(&at(&missing, 1_500), 404, "KeyNotFound");
        expect_err(&at("/keys/none//wrapkey", 1_500), 404, "KeyNotFound");
    }
}
