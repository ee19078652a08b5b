//! Google Cloud KMS import jobs: `gcloud kms import-jobs describe --format=json` checked
//! by `targets::gcp::verify_import_job`, with the TEST chain (the testkit plays Marvell
//! and Google) and the real Google bundle.

use crate::rig::*;
use byok_core::attestation::TrustRoots;
use byok_core::kek::{rsa_public_from_bytes, Kek};
use byok_core::targets::gcp::{verify_import_job, ImportMethod};
use byok_core::ErrorKind;
use byok_testkit::testchain::{KeyFlags, TestChain};
use rsa::pkcs8::EncodePublicKey;
use rsa::{PrivateKey, PublicKey};
use std::sync::OnceLock;

struct Rig {
    chain: TestChain,
    key: PublicKey,
    other: PublicKey,
}

fn rig() -> &'static Rig {
    static R: OnceLock<Rig> = OnceLock::new();
    R.get_or_init(|| Rig {
        chain: TestChain::generate("GCP-TEST-1", true).expect("chain"),
        key: PrivateKey::new(&mut rand::rng(), 3072)
            .unwrap()
            .to_public_key(),
        other: PrivateKey::new(&mut rand::rng(), 3072)
            .unwrap()
            .to_public_key(),
    })
}

fn kek(k: &PublicKey) -> Kek {
    rsa_public_from_bytes(k.to_public_key_der().unwrap().as_bytes()).unwrap()
}

fn with_test_root() -> TrustRoots {
    let mut roots = pinned();
    roots.add_extra_pem(&rig().chain.root_pem()).unwrap();
    roots
}

const SHA1_3072: ImportMethod = ImportMethod::RsaOaep3072Sha1Aes256;

#[test]
fn a_good_job_verifies_with_the_test_root() {
    let r = rig();
    let json = r
        .chain
        .gcp_import_job_json(&r.key, "RSA_OAEP_3072_SHA1_AES_256")
        .unwrap();
    let rep = verify_import_job(json.as_bytes(), &kek(&r.key), SHA1_3072, &with_test_root())
        .expect("verifies");
    assert_eq!(rep.state, "ACTIVE");
    assert_eq!(rep.protection_level, "HSM");
    assert_eq!(
        rep.attestation_format.as_deref(),
        Some("CAVIUM_V2_COMPRESSED")
    );
    let a = rep.attestation.expect("attested");
    assert!(a.extra_root_used);
    assert!(a.key_compared);
    assert_eq!(a.hsm_serial.as_deref(), Some("GCP-TEST-1"));
    assert_eq!(a.objects.len(), 2);
    assert!(
        a.signature_form.contains("DigestInfo"),
        "{}",
        a.signature_form
    );
}

#[test]
fn without_the_test_root_it_is_untrusted() {
    let r = rig();
    let json = r
        .chain
        .gcp_import_job_json(&r.key, "RSA_OAEP_3072_SHA1_AES_256")
        .unwrap();
    let e = verify_import_job(json.as_bytes(), &kek(&r.key), SHA1_3072, &pinned()).unwrap_err();
    assert!(e.is(ErrorKind::UntrustedRoot), "{e}");
    assert!(
        e.message().starts_with("the import job: attestation"),
        "{e}"
    );
}

#[test]
fn an_attestation_of_another_key_is_refused() {
    let r = rig();
    // publicKey.pem is the KEK, but the HSM attested another key.
    let blob = r.chain.generic_blob(&r.other, KeyFlags::default()).unwrap();
    let json = r
        .chain
        .gcp_import_job_json_with_blob(&r.key, "RSA_OAEP_3072_SHA1_AES_256", &blob)
        .unwrap();
    let e =
        verify_import_job(json.as_bytes(), &kek(&r.key), SHA1_3072, &with_test_root()).unwrap_err();
    assert!(e.is(ErrorKind::Integrity), "{e}");
    assert!(e.message().contains("modulus differs"), "{e}");
    // The job's key itself is another key than the KEK file.
    let json = r
        .chain
        .gcp_import_job_json(&r.other, "RSA_OAEP_3072_SHA1_AES_256")
        .unwrap();
    let e =
        verify_import_job(json.as_bytes(), &kek(&r.key), SHA1_3072, &with_test_root()).unwrap_err();
    assert!(e.message().contains("is not the KEK the wrap uses"), "{e}");
}

#[test]
fn a_method_mismatch_is_refused() {
    let r = rig();
    let json = r
        .chain
        .gcp_import_job_json(&r.key, "RSA_OAEP_3072_SHA256_AES_256")
        .unwrap();
    let e =
        verify_import_job(json.as_bytes(), &kek(&r.key), SHA1_3072, &with_test_root()).unwrap_err();
    assert!(e.is(ErrorKind::Integrity), "{e}");
    assert!(
        e.message().contains(
            "method is RSA_OAEP_3072_SHA256_AES_256, the plan says RSA_OAEP_3072_SHA1_AES_256"
        ),
        "{e}"
    );
    // A 3072-bit job key under a 4096 method: refused too.
    let json = r
        .chain
        .gcp_import_job_json(&r.key, "RSA_OAEP_4096_SHA1_AES_256")
        .unwrap();
    let e = verify_import_job(
        json.as_bytes(),
        &kek(&r.key),
        ImportMethod::RsaOaep4096Sha1Aes256,
        &with_test_root(),
    )
    .unwrap_err();
    assert!(e.message().contains("RSA-3072"), "{e}");
}

#[test]
fn a_flipped_byte_in_the_attestation_is_refused() {
    let r = rig();
    let good = r.chain.generic_blob(&r.key, KeyFlags::default()).unwrap();
    // Every eighth byte of the signed part and the signature, one at a time.
    for i in (0..good.len()).step_by(good.len() / 8) {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        let json = r
            .chain
            .gcp_import_job_json_with_blob(&r.key, "RSA_OAEP_3072_SHA1_AES_256", &bad)
            .unwrap();
        let e = verify_import_job(json.as_bytes(), &kek(&r.key), SHA1_3072, &with_test_root())
            .unwrap_err();
        assert!(e.message().contains("attestation"), "byte {i}: {e}");
    }
    // The gzip itself damaged (base64 of the content changed).
    let json = r
        .chain
        .gcp_import_job_json(&r.key, "RSA_OAEP_3072_SHA1_AES_256")
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let content = v["attestation"]["content"].as_str().unwrap().to_string();
    let mut raw =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &content).unwrap();
    let mid = raw.len() / 2;
    raw[mid] ^= 0x40;
    v["attestation"]["content"] = b64(&raw).into();
    let e = verify_import_job(
        v.to_string().as_bytes(),
        &kek(&r.key),
        SHA1_3072,
        &with_test_root(),
    )
    .unwrap_err();
    assert!(e.message().contains("attestation"), "{e}");
}

#[test]
fn an_extractable_key_or_a_broken_description_is_refused() {
    let r = rig();
    let flags = KeyFlags {
        extractable: true,
        never_extractable: false,
        ..KeyFlags::default()
    };
    let blob = r.chain.generic_blob(&r.key, flags).unwrap();
    let json = r
        .chain
        .gcp_import_job_json_with_blob(&r.key, "RSA_OAEP_3072_SHA1_AES_256", &blob)
        .unwrap();
    let e =
        verify_import_job(json.as_bytes(), &kek(&r.key), SHA1_3072, &with_test_root()).unwrap_err();
    assert!(e.message().contains("extractable"), "{e}");

    let json = r
        .chain
        .gcp_import_job_json(&r.key, "RSA_OAEP_3072_SHA1_AES_256")
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, Edit, &str)> = vec![
        (
            "software level",
            Box::new(|v| v["protectionLevel"] = "SOFTWARE".into()),
            "not HSM",
        ),
        (
            "unknown format",
            Box::new(|v| v["attestation"]["format"] = "TPM".into()),
            "CAVIUM_V1_COMPRESSED",
        ),
        (
            "no partition certs",
            Box::new(|v| {
                v["attestation"]["certChains"]["googlePartitionCerts"] = serde_json::json!([])
            }),
            "owner partition",
        ),
        (
            "no cavium certs",
            Box::new(|v| {
                v["attestation"]["certChains"]
                    .as_object_mut()
                    .unwrap()
                    .remove("caviumCerts");
            }),
            "caviumCerts",
        ),
        (
            "content not base64",
            Box::new(|v| v["attestation"]["content"] = "%%%".into()),
            "not base64",
        ),
        (
            "expired",
            Box::new(|v| v["state"] = "EXPIRED".into()),
            "EXPIRED",
        ),
    ];
    for (what, edit, words) in edits {
        let mut w = v.clone();
        edit(&mut w);
        let e = verify_import_job(
            w.to_string().as_bytes(),
            &kek(&r.key),
            SHA1_3072,
            &with_test_root(),
        )
        .unwrap_err();
        assert!(e.message().contains(words), "{what}: {e}");
    }
    // A key named twice anywhere in the document.
    let dup = json.replacen(
        "\"format\":",
        "\"format\": \"CAVIUM_V1_COMPRESSED\", \"format\":",
        1,
    );
    let e =
        verify_import_job(dup.as_bytes(), &kek(&r.key), SHA1_3072, &with_test_root()).unwrap_err();
    assert!(e.message().contains("twice"), "{e}");
}

/// Google's real bundle, split the way an import job's `certChains` splits it (Marvell's
/// partition and card certificates, Google's partition and card certificates), reaches
/// the pinned Marvell root; the sample attests an EC key, so as an import job's key it
/// is refused after the chain and signature checks passed.
#[test]
fn the_real_google_bundle_through_the_import_job_form() {
    let certs = pem_certs(SAMPLE_CHAIN);
    assert_eq!(certs.len(), 4);
    let r = rig();
    let pem = r.key.to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let json = serde_json::json!({
        "importMethod": "RSA_OAEP_3072_SHA1_AES_256",
        "protectionLevel": "HSM",
        "state": "ACTIVE",
        "publicKey": {"pem": pem},
        "attestation": {
            "format": "CAVIUM_V2_COMPRESSED",
            "content": b64(SAMPLE),
            "certChains": {
                "caviumCerts": [to_pem(&certs[0..1]), to_pem(&certs[1..2])],
                "googlePartitionCerts": [to_pem(&certs[2..3])],
                "googleCardCerts": [to_pem(&certs[3..4])],
            }
        }
    })
    .to_string();
    let e = verify_import_job(json.as_bytes(), &kek(&r.key), SHA1_3072, &pinned()).unwrap_err();
    assert!(e.is(ErrorKind::Integrity), "{e}");
    assert!(e.message().contains("RSA"), "{e}");
    // Without Google's partition certificate the owner chain is missing.
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v["attestation"]["certChains"]["googlePartitionCerts"] = serde_json::json!([]);
    let e = verify_import_job(v.to_string().as_bytes(), &kek(&r.key), SHA1_3072, &pinned())
        .unwrap_err();
    assert!(e.message().contains("owner partition"), "{e}");
}
