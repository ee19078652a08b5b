//! HSM key attestation: the real Google Cloud HSM sample, generated MRVL-1
//! chains, tampering and bad inputs.

use std::io::Write;
use std::sync::OnceLock;

use base64::Engine;
use byok_core::attestation::*;
use byok_testkit::testchain::{self, KeyFlags, Mrvl1Attestation, TestChain};
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};

const SAMPLE: &[u8] = include_bytes!("fixtures/attestation/gcp-ec-p256-attestation.bin");
const SAMPLE_CHAIN: &str = include_str!("fixtures/attestation/gcp-ec-p256-chain.pem");
const RSA_NOCHAIN: &[u8] = include_bytes!("fixtures/attestation/gcp-rsa-attestation-nochain.bin");
const MARVELL_ROOTS: &str = include_str!("fixtures/attestation/marvell-liquidsecurity-roots.pem");

const KID: &str =
    "https://test-hsm.managedhsm.azure.net/keys/kek1/0123456789abcdef0123456789abcdef";
const ATTESTED_ID: &str = "/keys/kek1/0123456789abcdef0123456789abcdef";

fn pinned() -> TrustRoots {
    TrustRoots::marvell().expect("pinned roots")
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn pem_certs(pem: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut body = String::new();
    for line in pem.lines() {
        if line.starts_with("-----BEGIN") {
            body.clear();
        } else if line.starts_with("-----END") {
            out.push(
                base64::engine::general_purpose::STANDARD
                    .decode(&body)
                    .expect("b64"),
            );
        } else {
            body.push_str(line.trim());
        }
    }
    out
}

fn to_pem(certs: &[Vec<u8>]) -> String {
    certs
        .iter()
        .map(|d| {
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                b64(d)
            )
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

// ---------------------------------------------------------------------------
// The real Google Cloud HSM sample

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

// ---------------------------------------------------------------------------
// Generated MRVL-1 chains

struct Fixture {
    chain: TestChain,
    kek: PublicKey,
    other: PublicKey,
    att: Mrvl1Attestation,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let chain = TestChain::generate("5.3G2201-ICM000042", true).expect("chain");
        let mut rng = rand::rng();
        let kek = PrivateKey::new(&mut rng, 2048)
            .expect("kek")
            .to_public_key();
        let other = PrivateKey::new(&mut rng, 2048)
            .expect("other")
            .to_public_key();
        let att = chain
            .mrvl1_attestation(&kek, KeyFlags::default(), ATTESTED_ID)
            .expect("attestation");
        Fixture {
            chain,
            kek,
            other,
            att,
        }
    })
}

fn chain() -> &'static TestChain {
    &fixture().chain
}

fn test_roots() -> TrustRoots {
    let mut r = pinned();
    r.add_extra_pem(&chain().root_pem()).expect("test root");
    assert!(r.has_extra());
    r
}

fn spki_pem(key: &PublicKey) -> String {
    use pkcs8::EncodePublicKey;
    key.to_public_key_pem(pkcs8::LineEnding::LF).expect("pem")
}

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

/// Deterministic pseudo-random mutations (several bytes at once, header
/// fields set to extreme values): never a panic, and never accepted.
#[test]
fn mutated_blobs_never_panic_or_verify() {
    let roots = pinned();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let extremes: [u32; 7] = [0, 1, 8, 12, 0x7fff_ffff, 0xffff_fff4, 0xffff_ffff];
    for sample in [SAMPLE, RSA_NOCHAIN] {
        // Header fields (u32 at 0..16, u16 info header at the data start).
        for field in 0..4 {
            for v in extremes {
                let mut d = sample.to_vec();
                d[field * 4..field * 4 + 4].copy_from_slice(&v.to_be_bytes());
                let _ = parse_blob_unverified(&d);
                if v as usize
                    != u32::from_be_bytes(sample[field * 4..field * 4 + 4].try_into().unwrap())
                        as usize
                {
                    assert!(verify_marvell_blob(&d, SAMPLE_CHAIN, None, &roots).is_err());
                }
            }
        }
        for round in 0..3000 {
            let mut d = sample.to_vec();
            for _ in 0..1 + round % 4 {
                let at = (next() as usize) % d.len();
                d[at] = next() as u8;
            }
            let cut = (next() as usize) % (d.len() + 1);
            if round % 5 == 0 {
                d.truncate(cut);
            }
            let _ = parse_blob_unverified(&d);
            if d.as_slice() != sample {
                assert!(verify_marvell_blob(&d, SAMPLE_CHAIN, None, &roots).is_err());
            }
        }
    }
    // Attribute-level mutations of a generated MRVL-1 body: parse only.
    let f = fixture();
    let body = testchain::mrvl1_body(
        1,
        &testchain::rsa_attributes(&f.kek, CLASS_PRIVATE_KEY, KeyFlags::default(), ATTESTED_ID),
    );
    for round in 0..3000 {
        let mut d = body.clone();
        let at = (next() as usize) % d.len();
        d[at] = extremes[round % extremes.len()].to_be_bytes()[round % 4];
        d.extend_from_slice(&[0u8; 256]);
        let _ = parse_blob_unverified(&d);
    }
}
