//! What the verifier demands: the whole padded signature block, the KEK's properties,
//! matching kids; and clear errors for bad inputs.

use crate::rig::*;
use byok_core::attestation::*;
use byok_testkit::testchain::{self, KeyFlags};
use rsa::traits::PublicKeyParts;

#[test]
fn signature_must_match_the_whole_padded_block() {
    // A signature whose recovered block ends with the right digest but has
    // wrong padding before it must be refused: forge one with the test
    // partition key and the raw RSA private operation.
    use sha2::Digest;
    let f = fixture();
    let roots = test_roots();
    let key = ExpectedKey::from_rsa(&f.kek, None);
    let pk = &f.chain.partition_key;
    let body = &f.att.private_blob[..f.att.private_blob.len() - 256];
    let digest = sha2::Sha256::digest(body);
    let k = pk.size();
    for variant in 0..3 {
        let mut em = vec![0u8; k];
        em[1] = 1;
        match variant {
            0 => {} // 00 01 00 00 .. 00 || H: no FF padding at all
            1 => em[2..k - 33].fill(0xfe),
            _ => {
                em[2..k - 33].fill(0xff);
                em[k - 33] = 0x01; // wrong separator
            }
        }
        em[k - 32..].copy_from_slice(&digest);
        let m = rsa::BoxedUint::from_be_slice(&em, pk.n_bits_precision()).expect("m");
        let s = rsa::hazmat::rsa_decrypt(Some(&mut rand::rng()), pk, &m).expect("raw sign");
        let bytes = s.to_be_bytes();
        let sig = &bytes[bytes.len() - k..];
        let mut att = f.att.clone();
        att.private_blob = [body, sig].concat();
        let e = verify_azure(&att.az_file_json(), Some(&key), &roots).unwrap_err();
        assert!(e.message().contains("not signed by the partition"), "{e}");
    }
    // The correct block, made the same way, is accepted (the forging is sound).
    let mut em = vec![0xffu8; k];
    em[0] = 0;
    em[1] = 1;
    em[k - 33] = 0;
    em[k - 32..].copy_from_slice(&digest);
    let m = rsa::BoxedUint::from_be_slice(&em, pk.n_bits_precision()).expect("m");
    let s = rsa::hazmat::rsa_decrypt(Some(&mut rand::rng()), pk, &m).expect("raw sign");
    let bytes = s.to_be_bytes();
    let mut att = f.att.clone();
    att.private_blob = [body, &bytes[bytes.len() - k..]].concat();
    verify_azure(&att.az_file_json(), Some(&key), &roots).expect("well-formed block");
}

#[test]
fn kek_properties_are_enforced() {
    let f = fixture();
    let roots = test_roots();
    let key = ExpectedKey::from_rsa(&f.kek, None);
    let cases = [
        (
            KeyFlags {
                extractable: true,
                ..KeyFlags::default()
            },
            "extractable = true",
        ),
        (
            KeyFlags {
                never_extractable: false,
                ..KeyFlags::default()
            },
            "never-extractable",
        ),
        (
            KeyFlags {
                sensitive: false,
                ..KeyFlags::default()
            },
            "sensitive",
        ),
        (
            KeyFlags {
                local: false,
                ..KeyFlags::default()
            },
            "local",
        ),
    ];
    for (flags, needle) in cases {
        let att = f
            .chain
            .mrvl1_attestation(&f.kek, flags, ATTESTED_ID)
            .expect("att");
        let r = verify_azure(&att.az_file_json(), Some(&key), &roots).expect("verifies");
        let e = check_kek_properties(&r).unwrap_err();
        assert!(e.message().contains(needle), "{needle}: {e}");
    }
    // A missing attribute is an error too, naming it.
    let mut attrs =
        testchain::rsa_attributes(&f.kek, CLASS_PRIVATE_KEY, KeyFlags::default(), ATTESTED_ID);
    attrs.retain(|(t, _)| *t != ATTR_NEVER_EXTRACTABLE);
    let mut att = f.att.clone();
    att.private_blob =
        testchain::build_mrvl1_blob(1, &attrs, &f.chain.partition_key).expect("blob");
    let r = verify_azure(&att.az_file_json(), Some(&key), &roots).expect("verifies");
    let e = check_kek_properties(&r).unwrap_err();
    assert!(e.message().contains("never-extractable"), "{e}");
    // The RSA Google sample's key was imported (local = false).
    let objects = parse_blob_unverified(RSA_NOCHAIN).expect("parse");
    assert_eq!(objects[0].local, Some(false));
}

#[test]
fn bad_azure_inputs_give_clear_errors() {
    let f = fixture();
    let roots = test_roots();
    let key = ExpectedKey::from_rsa(&f.kek, None);
    let base = f.att.attestation_json(false);

    let with = |k: &str, v: serde_json::Value| {
        let mut j = base.clone();
        j[k] = v;
        j.to_string()
    };
    let without = |k: &str| {
        let mut j = base.clone();
        j.as_object_mut().unwrap().remove(k);
        j.to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        (
            with("version", "MRVL-2".into()),
            "unknown attestation version",
        ),
        (without("version"), "no \"version\""),
        (without("certificatePemFile"), "certificatePemFile"),
        (without("privateKeyAttestation"), "privateKeyAttestation"),
        (
            with("privateKeyAttestation", "!!!not base64!!!".into()),
            "base64",
        ),
        (with("certificatePemFile", "!!!".into()), "base64"),
        (
            with("certificatePemFile", b64(&[0xff, 0xfe, 0x00]).into()),
            "PEM",
        ),
        (
            with("certificatePemFile", b64(b"no pem here").into()),
            "no certificate",
        ),
        (
            with(
                "privateKeyAttestation",
                b64(&[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]).into(),
            ),
            "gzip",
        ),
        (with("privateKeyAttestation", "".into()), "too short"),
        (
            with("publicKeyAttestation", b64(&[1, 2, 3]).into()),
            "too short",
        ),
        // The private and public blobs swapped.
        (
            with("privateKeyAttestation", b64(&f.att.public_blob).into()),
            "not a private key",
        ),
        ("not json".to_string(), "not valid JSON"),
        ("{}".to_string(), "no \"version\""),
    ];
    for (input, needle) in cases {
        let e = verify_azure(&input, Some(&key), &roots).unwrap_err();
        assert!(e.message().contains(needle), "{needle}: {e}");
        assert!(!e.to_string().contains('\n'));
    }
    // Without the public key attestation the private one suffices.
    verify_azure(&without("publicKeyAttestation"), Some(&key), &roots).expect("private only");
    // Gzip-wrapped blobs are accepted.
    let gz = with(
        "privateKeyAttestation",
        b64(&gzip(&f.att.private_blob)).into(),
    );
    verify_azure(&gz, Some(&key), &roots).expect("gzip blob");

    // Expected key parsing errors.
    for (text, needle) in [
        ("", "no PUBLIC KEY"),
        ("{\"kty\": \"EC\"}", "no RSA key"),
        ("{\"n\": \"@@\", \"e\": \"AQAB\"}", "base64"),
        (
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            "not an RSA key",
        ),
    ] {
        let e = ExpectedKey::parse(text).unwrap_err();
        assert!(e.message().contains(needle), "{needle}: {e}");
    }
}

#[test]
fn extra_root_pem_errors() {
    let mut r = TrustRoots::empty();
    assert!(r.add_extra_pem("nothing").is_err());
    assert!(r
        .add_extra_pem("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")
        .is_err());
    assert!(!r.has_extra());
}

#[test]
fn caller_kid_and_bundle_kid_must_both_match() {
    let f = fixture();
    let roots = test_roots();
    let json = f.att.key_bundle_json(KID, &f.kek);
    let other = ExpectedKey::from_rsa(
        &f.kek,
        Some(
            "https://test-hsm.managedhsm.azure.net/keys/kek9/0123456789abcdef0123456789abcdef"
                .into(),
        ),
    );
    let e = verify_azure(&json, Some(&other), &roots).unwrap_err();
    assert!(e.message().contains("kek9"), "{e}");
}
