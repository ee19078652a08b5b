//! BYOK import and its refusals.

use crate::rig::*;
use byok_core::kek::{decode_b64url, encode_b64url};
use rsa::pkcs8::EncodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde_json::{json, Value};

#[test]
fn byok_import_and_refusals() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let (kek_kid, n, e) = make_kek(&sim, "kek");

    // The key the "HSM" exports.
    let target = software_rsa(2048);
    let pkcs8 = target.to_pkcs8_der().unwrap();
    let package = byok_package(&kek_kid, &n, &e, pkcs8.as_bytes());
    let imported = sim.ok(
        "PUT",
        "/keys/target",
        Some(import_body(&package, json!(["wrapKey", "unwrapKey"]))),
    );
    assert_eq!(imported["key"]["kty"], "RSA-HSM");
    assert_eq!(
        decode_b64url(imported["key"]["n"].as_str().unwrap()).unwrap(),
        target.n().to_be_bytes_trimmed_vartime().to_vec()
    );
    assert_eq!(imported["key"]["key_ops"], json!(["wrapKey", "unwrapKey"]));
    assert_eq!(imported["tags"], json!({"source": "test"}));

    // Proof the vault holds exactly the software key: the vault wraps, we unwrap locally.
    let w = sim.ok(
        "POST",
        &format!("/keys/target/{}/wrapkey", version_of(&imported)),
        Some(
            json!({"alg": "RSA-OAEP", "value": encode_b64url(b"thirty-two bytes of key material")}),
        ),
    );
    let plain = target
        .decrypt(
            rsa::Oaep::<sha1::Sha1>::new(),
            &decode_b64url(w["value"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
    assert_eq!(plain, b"thirty-two bytes of key material");

    // Importing again adds a version.
    let again = sim.ok(
        "PUT",
        "/keys/target",
        Some(import_body(&package, json!(["wrapKey"]))),
    );
    assert_ne!(version_of(&again), version_of(&imported));

    // Tampered ciphertext: 400, nothing stored.
    let mut pkg: Value = serde_json::from_slice(&package).unwrap();
    let mut ct = decode_b64url(pkg["ciphertext"].as_str().unwrap()).unwrap();
    let last = ct.len() - 3;
    ct[last] ^= 0x40;
    pkg["ciphertext"] = json!(encode_b64url(&ct));
    let tampered = serde_json::to_vec(&pkg).unwrap();
    let r = expect_err(
        sim.call(
            "PUT",
            "/keys/tampered",
            Some(import_body(&tampered, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unwrap"),
        "{}",
        r.body
    );
    expect_err(sim.call("GET", "/keys/tampered", None), 404, "KeyNotFound");
    // Tampered RSA part too.
    let mut ct2 = decode_b64url(
        serde_json::from_slice::<Value>(&package).unwrap()["ciphertext"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    ct2[10] ^= 1;
    pkg["ciphertext"] = json!(encode_b64url(&ct2));
    let tampered = serde_json::to_vec(&pkg).unwrap();
    expect_err(
        sim.call(
            "PUT",
            "/keys/tampered",
            Some(import_body(&tampered, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );

    // KEK with other key_ops, or not RSA-HSM.
    let other = sim.create(
        "notkek",
        json!({"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"]}),
    );
    let on = decode_b64url(other["key"]["n"].as_str().unwrap()).unwrap();
    let p = byok_package(
        other["key"]["kid"].as_str().unwrap(),
        &on,
        &e,
        pkcs8.as_bytes(),
    );
    let r = expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("import"),
        "{}",
        r.body
    );
    let soft = sim.create("softkek", json!({"kty": "RSA"}));
    let sn = decode_b64url(soft["key"]["n"].as_str().unwrap()).unwrap();
    let p = byok_package(
        soft["key"]["kid"].as_str().unwrap(),
        &sn,
        &e,
        pkcs8.as_bytes(),
    );
    expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );

    // KEK in another vault: same key, another host; and an unknown KEK version.
    let elsewhere = kek_kid.replace(&sim.url, "https://contoso.vault.azure.net");
    let p = byok_package(&elsewhere, &n, &e, pkcs8.as_bytes());
    let r = expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not in this vault"),
        "{}",
        r.body
    );
    let other_port = kek_kid.replace(&sim.url, "https://127.0.0.1:1");
    let p = byok_package(&other_port, &n, &e, pkcs8.as_bytes());
    expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    let wrong_version = format!("{}/keys/kek/{}", sim.url, "a".repeat(32));
    let p = byok_package(&wrong_version, &n, &e, pkcs8.as_bytes());
    expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );

    // A package for a KEK that was since disabled.
    let disabled = sim.create("kek2", json!({"kty": "RSA-HSM", "key_ops": ["import"]}));
    let dn = decode_b64url(disabled["key"]["n"].as_str().unwrap()).unwrap();
    let p = byok_package(
        disabled["key"]["kid"].as_str().unwrap(),
        &dn,
        &e,
        pkcs8.as_bytes(),
    );
    sim.ok(
        "PATCH",
        "/keys/kek2/",
        Some(json!({"attributes": {"enabled": false}})),
    );
    expect_err(
        sim.call(
            "PUT",
            "/keys/refused",
            Some(import_body(&p, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );

    // Malformed key_hsm / package / kty.
    for body in [
        json!({"key": {"kty": "RSA-HSM", "key_hsm": "***"}, "Hsm": true}),
        json!({"key": {"kty": "RSA-HSM", "key_hsm": encode_b64url(b"not json")}, "Hsm": true}),
        json!({"key": {"kty": "RSA-HSM", "key_hsm": encode_b64url(b"{\"schema_version\":\"1.0.0\"}")}, "Hsm": true}),
        json!({"key": {"kty": "RSA", "key_hsm": encode_b64url(&package)}, "Hsm": true}),
        json!({"key": {"kty": "RSA-HSM"}, "Hsm": true}),
        json!({"key": {"kty": "RSA-HSM", "key_hsm": encode_b64url(&package), "key_ops": ["import"]}, "Hsm": true}),
        json!({"key": "x"}),
        json!({"Hsm": true}),
    ] {
        expect_err(
            sim.call("PUT", "/keys/refused", Some(body)),
            400,
            "BadParameter",
        );
    }
    expect_err(sim.call("GET", "/keys/refused", None), 404, "KeyNotFound");

    // A plain JWK import (software key).
    let jwk_key = software_rsa(2048);
    let b = |x: &rsa::BoxedUint| encode_b64url(&x.to_be_bytes_trimmed_vartime());
    let jwk = json!({
        "kty": "RSA", "key_ops": ["unwrapKey"],
        "n": b(jwk_key.n()), "e": b(jwk_key.e()), "d": b(jwk_key.d()),
        "p": b(&jwk_key.primes()[0]), "q": b(&jwk_key.primes()[1]),
    });
    let plain = sim.ok("PUT", "/keys/plain", Some(json!({"key": jwk})));
    assert_eq!(plain["key"]["kty"], "RSA");
    assert_eq!(plain["key"]["n"], jwk["n"]);
    let hsm = sim.ok(
        "PUT",
        "/keys/plainhsm",
        Some(json!({"key": jwk, "Hsm": true})),
    );
    assert_eq!(hsm["key"]["kty"], "RSA-HSM");
    let mut broken = jwk.clone();
    broken["d"] = json!(encode_b64url(&[1u8; 256]));
    expect_err(
        sim.call("PUT", "/keys/refused", Some(json!({"key": broken}))),
        400,
        "BadParameter",
    );

    let names: Vec<String> = sim.ok("GET", "/keys", None)["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["kid"]
                .as_str()
                .unwrap()
                .split('/')
                .nth(4)
                .unwrap()
                .to_string()
        })
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(
        names,
        ["kek", "kek2", "notkek", "plain", "plainhsm", "softkek", "target"]
    );
}
