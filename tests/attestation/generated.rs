//! Generated MRVL-1 chains: the right root, the expected key, name and version, and
//! tampering.

use crate::rig::*;
use base64::Engine;
use byok_core::attestation::*;
use rsa::traits::PublicKeyParts;

#[test]
fn generated_key_bundle_verifies_only_with_its_root() {
    let f = fixture();
    let json = f.att.key_bundle_json(KID, &f.kek);
    let r = verify_azure(&json, None, &test_roots()).expect("verifies");
    assert_eq!(r.format, "MRVL-1");
    assert!(r.extra_root_used);
    assert!(
        r.signature_form.contains("bare SHA-256"),
        "{}",
        r.signature_form
    );
    assert_eq!(r.hsm_serial.as_deref(), Some("5.3G2201-ICM000042"));
    assert_eq!(r.partition.as_deref(), Some("2"));
    assert_eq!(r.mode, "FIPS");
    assert_eq!(r.owner_root.as_deref(), Some("test-hsm-5.3G2201-ICM000042"));
    assert!(r.key_compared);
    assert_eq!(r.kid.as_deref(), Some(KID));
    assert_eq!(r.key_name.as_deref(), Some("kek1"));
    assert_eq!(
        r.key_version.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(r.objects.len(), 2);
    let p = r.private_object().expect("private");
    assert_eq!(p.key_bits, Some(2048));
    assert_eq!(p.key_type_name, "RSA");
    check_kek_properties(&r).expect("KEK properties");
    assert!(r.to_text().contains("WARNING"));

    // Without the test root: refused.
    let e = verify_azure(&json, None, &pinned()).unwrap_err();
    assert!(e.message().contains("pinned Marvell root"), "{e}");
}

#[test]
fn generated_az_file_needs_and_checks_the_expected_key() {
    let f = fixture();
    let roots = test_roots();
    let file = f.att.az_file_json();
    let e = verify_azure(&file, None, &roots).unwrap_err();
    assert!(e.message().contains("no public key"), "{e}");

    // The key in every accepted form.
    use pkcs1::EncodeRsaPublicKey;
    let pkcs1 = f.kek.to_pkcs1_pem(pkcs1::LineEnding::LF).expect("pkcs1");
    let b64u = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let jwk =
        serde_json::json!({"kty": "RSA", "n": b64u(&f.kek.n_bytes()), "e": b64u(&f.kek.e_bytes())})
            .to_string();
    let bundle = serde_json::json!({"key": {"kid": KID, "kty": "RSA-HSM", "n": b64(&f.kek.n_bytes()), "e": b64(&f.kek.e_bytes())}}).to_string();
    for text in [spki_pem(&f.kek), pkcs1.to_string(), jwk, bundle.clone()] {
        let k = ExpectedKey::parse(&text).expect("key parses");
        let r = verify_azure(&file, Some(&k), &roots).expect("verifies");
        assert!(r.key_compared);
    }
    // The kid of a KeyBundle key is checked against the attested id.
    let k = ExpectedKey::parse(&bundle).expect("bundle");
    assert_eq!(k.kid.as_deref(), Some(KID));

    // The wrapping "attestation" object, and REST base64url inside it, work too.
    let wrapped = serde_json::json!({"attestation": f.att.attestation_json(true)}).to_string();
    verify_azure(&wrapped, Some(&k), &roots).expect("wrapped form");

    // Wrong key: refused.
    let wrong = ExpectedKey::from_rsa(&f.other, None);
    let e = verify_azure(&file, Some(&wrong), &roots).unwrap_err();
    assert!(e.message().contains("modulus differs"), "{e}");
    // Same modulus, other exponent: refused.
    let mut odd = ExpectedKey::from_rsa(&f.kek, None);
    odd.e = vec![3];
    let e = verify_azure(&file, Some(&odd), &roots).unwrap_err();
    assert!(e.message().contains("exponent"), "{e}");
    // KeyBundle with the wrong key in it: refused even if the caller's is right.
    let bad_bundle = f.att.key_bundle_json(KID, &f.other);
    let right = ExpectedKey::from_rsa(&f.kek, None);
    assert!(verify_azure(&bad_bundle, Some(&right), &roots).is_err());
}

#[test]
fn generated_wrong_name_or_version_is_refused() {
    let f = fixture();
    let roots = test_roots();
    let file = f.att.az_file_json();
    let kid_other_name =
        "https://test-hsm.managedhsm.azure.net/keys/kek2/0123456789abcdef0123456789abcdef";
    let kid_other_version =
        "https://test-hsm.managedhsm.azure.net/keys/kek1/ffffffffffffffffffffffffffffffff";
    let kid_no_version = "https://test-hsm.managedhsm.azure.net/keys/kek1";
    let with_kid = |kid: &str| ExpectedKey::from_rsa(&f.kek, Some(kid.to_string()));
    let e = verify_azure(&file, Some(&with_kid(kid_other_name)), &roots).unwrap_err();
    assert!(e.message().contains("names key"), "{e}");
    let e = verify_azure(&file, Some(&with_kid(kid_other_version)), &roots).unwrap_err();
    assert!(e.message().contains("version"), "{e}");
    verify_azure(&file, Some(&with_kid(kid_no_version)), &roots).expect("name only");
    let e = verify_azure(&file, Some(&with_kid("not-a-kid")), &roots).unwrap_err();
    assert!(e.message().contains("does not name"), "{e}");
    // The REST form: the bundle's own kid must match the attested id.
    let json = f.att.key_bundle_json(kid_other_version, &f.kek);
    assert!(verify_azure(&json, None, &roots).is_err());
}

#[test]
fn generated_blob_every_bit_flip_is_refused() {
    let f = fixture();
    let roots = test_roots();
    let key = ExpectedKey::from_rsa(&f.kek, None);
    for which in ["private", "public"] {
        let original = if which == "private" {
            &f.att.private_blob
        } else {
            &f.att.public_blob
        };
        let mut blob = original.clone();
        for i in 0..blob.len() {
            let bit = 1u8 << (i % 8);
            blob[i] ^= bit;
            let mut att = f.att.clone();
            if which == "private" {
                att.private_blob = blob.clone();
            } else {
                att.public_blob = blob.clone();
            }
            let r = verify_azure(&att.az_file_json(), Some(&key), &roots);
            assert!(r.is_err(), "flip of byte {i} of the {which} blob accepted");
            blob[i] ^= bit;
        }
    }
}

#[test]
fn generated_truncations_are_refused() {
    let f = fixture();
    let roots = test_roots();
    let key = ExpectedKey::from_rsa(&f.kek, None);
    for n in 0..f.att.private_blob.len() {
        let mut att = f.att.clone();
        att.private_blob.truncate(n);
        let e = verify_azure(&att.az_file_json(), Some(&key), &roots).unwrap_err();
        assert!(e.message().contains("attestation"), "{e}");
    }
}

#[test]
fn generated_chain_missing_or_swapped_certificates_are_refused() {
    let f = fixture();
    let roots = test_roots();
    let key = ExpectedKey::from_rsa(&f.kek, None);
    let certs = pem_certs(&f.att.certificate_pem);
    assert_eq!(certs.len(), 4);
    for drop in 0..certs.len() {
        let mut less = certs.clone();
        less.remove(drop);
        let mut att = f.att.clone();
        att.certificate_pem = to_pem(&less);
        let e = verify_azure(&att.az_file_json(), Some(&key), &roots).unwrap_err();
        assert!(e.message().starts_with("attestation: "), "{e}");
        assert!(e.message().contains("get a fresh attestation"), "{e}");
    }
    // Every byte of every certificate is covered (all are checked for MRVL-1).
    for (ci, cert) in certs.iter().enumerate() {
        for i in 0..cert.len() {
            let mut bad = certs.clone();
            bad[ci][i] ^= 1u8 << (i % 8);
            let mut att = f.att.clone();
            att.certificate_pem = to_pem(&bad);
            let r = verify_azure(&att.az_file_json(), Some(&key), &roots);
            assert!(r.is_err(), "flip of byte {i} of certificate {ci} accepted");
        }
    }
}
