//! Hostile key material, and request bodies read as Key Vault reads them.

use crate::rig::*;
use byok_core::kek::{decode_b64url, encode_b64url};
use byok_core::keyid::KeyId;
use byok_core::package::Package;
use rsa::pkcs8::EncodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use serde_json::json;

/// Hostile RSA components (plain JWK and, through a real KEK, PKCS#8 in a BYOK package)
/// are refused with 400; the server never fails or dies.
#[test]
fn hostile_key_material_is_refused() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let real = software_rsa(2048);
    let be = |x: &rsa::BoxedUint| x.to_be_bytes_trimmed_vartime().to_vec();
    let n = be(real.n());
    let e = be(real.e());
    let d = be(real.d());
    let p = be(&real.primes()[0]);
    let q = be(&real.primes()[1]);
    let big = vec![0xffu8; 256];
    let even = {
        let mut x = n.clone();
        *x.last_mut().unwrap() &= 0xfe;
        x
    };
    let cases: Vec<[Vec<u8>; 5]> = vec![
        [vec![0], e.clone(), d.clone(), p.clone(), q.clone()],
        [vec![1], e.clone(), d.clone(), p.clone(), q.clone()],
        [n.clone(), vec![0], d.clone(), p.clone(), q.clone()],
        [n.clone(), vec![1], d.clone(), p.clone(), q.clone()],
        [n.clone(), vec![2], d.clone(), p.clone(), q.clone()],
        [n.clone(), e.clone(), vec![0], p.clone(), q.clone()],
        [n.clone(), e.clone(), vec![1], p.clone(), q.clone()],
        [n.clone(), e.clone(), d.clone(), vec![0], q.clone()],
        [n.clone(), e.clone(), d.clone(), vec![1], vec![1]],
        [n.clone(), e.clone(), d.clone(), vec![2], q.clone()],
        [n.clone(), e.clone(), d.clone(), p.clone(), p.clone()],
        [n.clone(), e.clone(), d.clone(), n.clone(), vec![1]],
        [
            big.clone(),
            e.clone(),
            big.clone(),
            big[..128].to_vec(),
            big[..128].to_vec(),
        ],
        [even, e.clone(), d.clone(), p.clone(), q.clone()],
        [n.clone(), vec![0xff; 9], d.clone(), p.clone(), q.clone()],
        [
            n[..128].to_vec(),
            e.clone(),
            d[..100].to_vec(),
            p[..64].to_vec(),
            q[..64].to_vec(),
        ],
        [vec![0xff; 1025], e.clone(), d.clone(), p.clone(), q.clone()],
    ];
    for (i, [n, e, d, p, q]) in cases.iter().enumerate() {
        let jwk = json!({"kty": "RSA", "n": encode_b64url(n), "e": encode_b64url(e),
                         "d": encode_b64url(d), "p": encode_b64url(p), "q": encode_b64url(q)});
        let r = sim.call("PUT", "/keys/hostile", Some(json!({"key": jwk})));
        assert_eq!(r.status, 400, "case {i}: {}", r.body);
    }
    // The real components (with p and q swapped too) are fine.
    for (a, b) in [(&p, &q), (&q, &p)] {
        let jwk = json!({"kty": "RSA", "n": encode_b64url(&n), "e": encode_b64url(&e),
                         "d": encode_b64url(&d), "p": encode_b64url(a), "q": encode_b64url(b)});
        sim.ok("PUT", "/keys/fine", Some(json!({"key": jwk})));
    }

    // Through BYOK: well wrapped, but the plaintext is not an acceptable key.
    let (kek_kid, kn, ke) = make_kek(&sim, "kek");
    let small = software_rsa(1024).to_pkcs8_der().unwrap();
    let junk_pkcs8: Vec<Vec<u8>> = vec![
        small.as_bytes().to_vec(),
        vec![0x30, 0x03, 0x02, 0x01, 0x00],
        vec![0x30, 0x82, 0xff, 0xff, 0x00],
        vec![0u8; 64],
        b"not DER at all, just text".to_vec(),
        {
            let mut x = real.to_pkcs8_der().unwrap().as_bytes().to_vec();
            x.extend_from_slice(&[1, 2, 3]);
            x
        },
    ];
    for (i, pt) in junk_pkcs8.iter().enumerate() {
        let pkg = byok_package(&kek_kid, &kn, &ke, pt);
        let r = sim.call(
            "PUT",
            "/keys/hostile",
            Some(import_body(&pkg, json!(["wrapKey"]))),
        );
        assert_eq!(r.status, 400, "byok case {i}: {}", r.body);
    }
    // Ciphertexts at or above the modulus, and too-long plaintexts.
    let mut ct = vec![0xffu8; 256];
    let mut kwp = [0x5au8; 1224].to_vec();
    ct.append(&mut kwp);
    let pkg = Package::new(
        &KeyId::parse(&kek_kid, byok_core::Mode::Rehearsal).unwrap(),
        &ct,
        "junk".into(),
    )
    .to_bytes();
    expect_err(
        sim.call(
            "PUT",
            "/keys/hostile",
            Some(import_body(&pkg, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    sim.create("wk", json!({"kty": "RSA"}));
    for alg in ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"] {
        for len in [0usize, 255, 256, 257, 4096] {
            let v = encode_b64url(&vec![0xff; len]);
            let r = sim.call(
                "POST",
                "/keys/wk//unwrapkey",
                Some(json!({"alg": alg, "value": v})),
            );
            assert_eq!(r.status, 400, "unwrap {alg} {len}: {}", r.body);
        }
        let r = sim.call(
            "POST",
            "/keys/wk//wrapkey",
            Some(json!({"alg": alg, "value": encode_b64url(&[1u8; 250])})),
        );
        assert_eq!(r.status, 400, "wrap {alg}: {}", r.body);
    }

    // Zero padding after the DER (SoftHSM 2.6): refused unless --accept-padded-pkcs8.
    let mut padded = real.to_pkcs8_der().unwrap().as_bytes().to_vec();
    padded.extend_from_slice(&[0, 0, 0, 0, 0]);
    let pkg = byok_package(&kek_kid, &kn, &ke, &padded);
    let r = expect_err(
        sim.call(
            "PUT",
            "/keys/padded",
            Some(import_body(&pkg, json!(["wrapKey"]))),
        ),
        400,
        "BadParameter",
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("--accept-padded-pkcs8"));
    expect_err(sim.call("GET", "/keys/hostile", None), 404, "KeyNotFound");
    drop(sim);
    let sim = Sim::start(dir.path(), &["--accept-padded-pkcs8"]);
    let kek = sim.ok("GET", "/keys/kek", None);
    let pkg = byok_package(kek["key"]["kid"].as_str().unwrap(), &kn, &ke, &padded);
    let ok = sim.ok(
        "PUT",
        "/keys/padded",
        Some(import_body(&pkg, json!(["wrapKey"]))),
    );
    assert_eq!(decode_b64url(ok["key"]["n"].as_str().unwrap()).unwrap(), n);
}

/// Request bodies as Key Vault reads them: of two equal keys the last wins (its .NET JSON
/// reader does that; the body is not refused), unknown fields are ignored, and a wrong
/// type is a 400 that names the field.
#[test]
fn duplicate_keys_unknown_fields_and_wrong_types() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let send = |path: &str, body: &str| {
        sim.raw(
            "POST",
            &format!("{path}?api-version=7.6"),
            &[("authorization", AUTH)],
            Some(body.as_bytes().to_vec()),
        )
        .unwrap()
    };
    let r = send(
        "/keys/dup/create",
        r#"{"kty": "EC", "kty": "RSA", "key_ops": ["sign"], "key_ops": ["wrapKey"],
            "release_policy": null, "attributes": {"enabled": true, "hsmPlatform": "x"}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["key"]["kty"], "RSA");
    assert_eq!(r.body["key"]["key_ops"], json!(["wrapKey"]));
    let r = send("/keys/dup2/create", r#"{"kty": "RSA", "kty": "EC"}"#);
    expect_err(r, 400, "BadParameter");
    let r = send("/keys/dup2/create", r#"{"kty": "RSA", "key_size": "big"}"#);
    let r = expect_err(r, 400, "BadParameter");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("'key_size'"), "{message}");
    expect_err(sim.call("GET", "/keys/dup2", None), 404, "KeyNotFound");
}
