//! The real Google Cloud HSM sample.

use crate::rig::*;
use byok_core::attestation::*;

#[test]
fn google_sample_verifies_and_reports() {
    let r = verify_marvell_blob(SAMPLE, SAMPLE_CHAIN, None, &pinned()).expect("sample verifies");
    assert_eq!(r.format, "marvell");
    assert_eq!(r.hsm_serial.as_deref(), Some("5.3G1953-ICM001225"));
    assert_eq!(r.partition.as_deref(), Some("1"));
    assert_eq!(r.mode, "FIPS");
    assert!(!r.extra_root_used);
    assert!(r.root.contains("localca.liquidsecurity.cavium.com"));
    assert!(r.signature_form.contains("DigestInfo"));
    assert_eq!(r.owner_root, None);
    assert!(!r.key_compared);
    assert_eq!(r.objects.len(), 2);

    let public = &r.objects[0];
    assert_eq!(public.class, Some(CLASS_PUBLIC_KEY));
    assert_eq!(public.key_type, Some(KEY_TYPE_EC));
    assert_eq!(public.key_bits, Some(256));
    assert_eq!(public.extractable, Some(true));
    assert!(public.ec_point.as_deref().unwrap().starts_with("044832"));
    assert_eq!(public.label.as_deref(), Some("app_key"));
    assert_eq!(public.key_check_value.as_deref(), Some("81b1a7"));
    assert!(public.other_attributes.contains(&"0x80000174".to_string()));

    let private = r.private_object().expect("private object");
    assert_eq!(private.key_type_name, "EC");
    assert_eq!(private.key_bits, Some(256));
    assert_eq!(private.extractable, Some(false));
    assert_eq!(private.never_extractable, Some(true));
    assert_eq!(private.sensitive, Some(true));
    assert_eq!(private.always_sensitive, Some(true));
    assert_eq!(private.local, Some(true));
    assert!(private
        .id
        .as_deref()
        .unwrap()
        .starts_with("d06cc801f7dffdbdd7a9240bdc0ae1ad"));
    check_kek_properties(&r).expect("the sample's private key has KEK properties");

    // Text and JSON renderings carry the fields.
    let text = r.to_text();
    for needle in [
        "5.3G1953-ICM001225",
        "FIPS",
        "never extractable: yes",
        "private key EC",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["hsm_serial"], "5.3G1953-ICM001225");
    assert_eq!(json["objects"][1]["never_extractable"], true);

    // Gzip-wrapped, as Google serves it.
    let rz = verify_marvell_blob(&gzip(SAMPLE), SAMPLE_CHAIN, None, &pinned()).expect("gzip");
    assert_eq!(rz, r);
}

#[test]
fn google_sample_refused_without_marvell_roots_and_with_published_roots_as_extra() {
    let e = verify_marvell_blob(SAMPLE, SAMPLE_CHAIN, None, &TrustRoots::empty()).unwrap_err();
    assert!(e.message().contains("trust root"), "{e}");
    // The published root certificates, passed as extra roots, work too.
    let mut extra = TrustRoots::empty();
    assert_eq!(extra.add_extra_pem(MARVELL_ROOTS).expect("roots"), 2);
    let r = verify_marvell_blob(SAMPLE, SAMPLE_CHAIN, None, &extra).expect("verifies");
    assert!(r.extra_root_used);
    // A generated (untrusted) root does not help.
    let mut other = TrustRoots::empty();
    other.add_extra_pem(&chain().root_pem()).expect("root");
    let e = verify_marvell_blob(SAMPLE, SAMPLE_CHAIN, None, &other).unwrap_err();
    assert!(e.message().contains("not signed by"), "{e}");
}

#[test]
fn google_sample_every_bit_flip_in_blob_is_refused() {
    let roots = pinned();
    let mut data = SAMPLE.to_vec();
    for i in 0..data.len() {
        let bit = 1u8 << (i % 8);
        data[i] ^= bit;
        let r = verify_marvell_blob(&data, SAMPLE_CHAIN, None, &roots);
        assert!(r.is_err(), "flip of byte {i} accepted");
        data[i] ^= bit;
    }
}

/// Where the SubjectPublicKeyInfo of a certificate lies (byte range), found
/// by searching its DER for the SPKI that openssl-free code can re-derive:
/// the SPKI is the only place the modulus appears.
fn spki_range(cert: &[u8]) -> std::ops::Range<usize> {
    // rsaEncryption AlgorithmIdentifier; the SPKI SEQUENCE header is 4 bytes before.
    let alg = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    let at = cert
        .windows(alg.len())
        .position(|w| w == alg)
        .expect("rsa spki");
    let start = at - 4;
    let len = u16::from_be_bytes([cert[start + 2], cert[start + 3]]) as usize;
    start..start + 4 + len
}

#[test]
fn google_sample_chain_byte_flips_are_refused() {
    let roots = pinned();
    let certs = pem_certs(SAMPLE_CHAIN);
    assert_eq!(certs.len(), 4);
    // 0: Marvell partition, 1: Marvell card (v1): every byte is covered by a
    // signature we check. 2, 3: Google's owner partition and card
    // certificates: Google's owner root is not in the bundle, so only their
    // keys are checked (against Marvell's); flip their SPKI bytes.
    for (ci, cert) in certs.iter().enumerate() {
        let range = if ci < 2 {
            0..cert.len()
        } else {
            spki_range(cert)
        };
        for i in range {
            let mut bad = certs.clone();
            bad[ci][i] ^= 1u8 << (i % 8);
            let r = verify_marvell_blob(SAMPLE, &to_pem(&bad), None, &roots);
            assert!(r.is_err(), "flip of byte {i} of certificate {ci} accepted");
        }
    }
}

#[test]
fn google_sample_missing_certificates_are_refused() {
    let roots = pinned();
    let certs = pem_certs(SAMPLE_CHAIN);
    for drop in 0..certs.len() {
        let mut less = certs.clone();
        less.remove(drop);
        let r = verify_marvell_blob(SAMPLE, &to_pem(&less), None, &roots);
        if drop == 3 {
            // Google's owner card certificate is informative only.
            assert!(r.is_ok(), "dropping the owner card certificate");
        } else {
            let e = r.unwrap_err();
            assert!(e.message().starts_with("attestation: "), "{e}");
        }
    }
    let e = verify_marvell_blob(SAMPLE, "", None, &roots).unwrap_err();
    assert!(e.message().contains("no certificate"), "{e}");
}

#[test]
fn google_sample_truncations_and_garbage_are_refused() {
    let roots = pinned();
    for n in 0..SAMPLE.len() {
        let e = verify_marvell_blob(&SAMPLE[..n], SAMPLE_CHAIN, None, &roots).unwrap_err();
        assert!(!e.message().is_empty());
    }
    let e = verify_marvell_blob(
        &[0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5],
        SAMPLE_CHAIN,
        None,
        &roots,
    )
    .unwrap_err();
    assert!(e.message().contains("gzip"), "{e}");
    let gz = gzip(SAMPLE);
    for n in [10, gz.len() / 2, gz.len() - 1] {
        assert!(verify_marvell_blob(&gz[..n], SAMPLE_CHAIN, None, &roots).is_err());
    }
    let e = verify_marvell_blob(
        SAMPLE,
        "-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----\n",
        None,
        &roots,
    )
    .unwrap_err();
    assert!(e.message().contains("base64"), "{e}");
}

#[test]
fn rsa_sample_without_chain_parses() {
    let objects = parse_blob_unverified(RSA_NOCHAIN).expect("parses");
    assert_eq!(objects.len(), 1);
    let o = &objects[0];
    assert_eq!(o.class, Some(CLASS_PRIVATE_KEY));
    assert_eq!(o.key_type, Some(KEY_TYPE_RSA));
    assert_eq!(o.key_bits, Some(4096));
    assert_eq!(o.public_exponent.as_deref(), Some("010001"));
    assert_eq!(o.modulus.as_deref().map(str::len), Some(1024));
    assert_eq!(o.extractable, Some(false));
    assert_eq!(o.local, Some(false)); // imported, not generated
    assert!(o.other_attributes.contains(&"0x80000000".to_string()));
    // Also through gzip.
    assert_eq!(
        parse_blob_unverified(&gzip(RSA_NOCHAIN)).expect("gz"),
        objects
    );
    for n in 0..RSA_NOCHAIN.len() {
        assert!(
            parse_blob_unverified(&RSA_NOCHAIN[..n]).is_err(),
            "truncated to {n}"
        );
    }
}
