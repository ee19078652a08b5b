//! Wrap, unwrap and key operations.

use crate::rig::*;
use byok_core::kek::{decode_b64url, encode_b64url, rsa_from_parts};
use serde_json::json;

#[test]
fn wrap_unwrap_and_key_ops() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let k = sim.create(
        "wk",
        json!({"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"]}),
    );
    let v = version_of(&k);
    let cek = [7u8; 32];
    for alg in ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"] {
        for path in [format!("/keys/wk/{v}"), "/keys/wk/".to_string()] {
            let w = sim.ok(
                "POST",
                &format!("{path}/wrapkey"),
                Some(json!({"alg": alg, "value": encode_b64url(&cek)})),
            );
            assert_eq!(w["kid"], k["key"]["kid"]);
            let u = sim.ok(
                "POST",
                &format!("{path}/unwrapKey"),
                Some(json!({"alg": alg, "value": w["value"]})),
            );
            assert_eq!(decode_b64url(u["value"].as_str().unwrap()).unwrap(), cek);
        }
    }
    // Wrapped locally with the public key (as the SDK does), unwrapped by the vault.
    let public = rsa_from_parts(
        &decode_b64url(k["key"]["n"].as_str().unwrap()).unwrap(),
        &decode_b64url(k["key"]["e"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let ct = public
        .encrypt(&mut rand::rng(), rsa::Oaep::<sha2::Sha256>::new(), &cek)
        .unwrap();
    let u = sim.ok(
        "POST",
        &format!("/keys/wk/{v}/unwrapkey"),
        Some(json!({"alg": "RSA-OAEP-256", "value": encode_b64url(&ct)})),
    );
    assert_eq!(decode_b64url(u["value"].as_str().unwrap()).unwrap(), cek);
    // Wrong algorithm for the ciphertext, garbage, unknown alg, bad base64.
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/unwrapkey"),
            Some(json!({"alg": "RSA-OAEP", "value": encode_b64url(&ct)})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/unwrapkey"),
            Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/wrapkey"),
            Some(json!({"alg": "A256KW", "value": "AAAA"})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/wrapkey"),
            Some(json!({"alg": "RSA-OAEP", "value": "!!"})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/wrapkey"),
            Some(json!({"value": "AAAA"})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{}/wrapkey", "b".repeat(32)),
            Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
        ),
        404,
        "KeyNotFound",
    );

    // key_ops are obeyed.
    sim.create("onlywrap", json!({"kty": "RSA", "key_ops": ["wrapKey"]}));
    let w = sim.ok(
        "POST",
        "/keys/onlywrap//wrapkey",
        Some(json!({"alg": "RSA-OAEP", "value": encode_b64url(&cek)})),
    );
    let r = expect_err(
        sim.call(
            "POST",
            "/keys/onlywrap//unwrapkey",
            Some(json!({"alg": "RSA-OAEP", "value": w["value"]})),
        ),
        403,
        "Forbidden",
    );
    assert_eq!(
        r.body["error"]["innererror"]["code"],
        "KeyOperationForbidden"
    );
    make_kek(&sim, "kek");
    expect_err(
        sim.call(
            "POST",
            "/keys/kek//wrapkey",
            Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
        ),
        403,
        "Forbidden",
    );
    // Disabled keys refuse, and work again when re-enabled.
    sim.ok(
        "PATCH",
        &format!("/keys/wk/{v}"),
        Some(json!({"attributes": {"enabled": false}})),
    );
    let r = expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/wrapkey"),
            Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
        ),
        403,
        "Forbidden",
    );
    assert_eq!(r.body["error"]["innererror"]["code"], "KeyDisabled");
    sim.ok(
        "PATCH",
        &format!("/keys/wk/{v}"),
        Some(json!({"attributes": {"enabled": true, "exp": 1000}})),
    );
    expect_err(
        sim.call(
            "POST",
            &format!("/keys/wk/{v}/wrapkey"),
            Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
        ),
        403,
        "Forbidden",
    );
    sim.ok(
        "PATCH",
        &format!("/keys/wk/{v}"),
        Some(json!({"attributes": {"exp": null}})),
    );
    sim.ok(
        "POST",
        &format!("/keys/wk/{v}/wrapkey"),
        Some(json!({"alg": "RSA-OAEP", "value": "AAAA"})),
    );
}
