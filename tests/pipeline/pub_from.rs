//! `byok verify --pub-from FILE --key NAME.pub.pem`: offline, no vault: the key AWS KMS
//! or Cloud KMS returns is the HSM's key, in each form their CLIs write.

use crate::common::*;
use base64::Engine;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use std::fs;

/// An EC P-256 SubjectPublicKeyInfo (made with openssl), base64.
const EC_SPKI_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERoyto1iC1yNskMHe2CeXQuQLmHKouQKvod736FjQUdgQePRskkXCRHaM2Zq0uAn5wHsFyQtu7k9ePF5/YKRWtg==";

fn verify(d: &std::path::Path, from: &str, key: &str) -> std::process::Output {
    byok_in(d, &["verify", "--pub-from", from, "--key", key])
}

#[test]
fn the_clouds_key_is_compared_with_the_hsms_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let hsm = rsa::PrivateKey::new(&mut rand::rng(), 2048).unwrap();
    let pk = hsm.to_public_key();
    let der = pk.to_public_key_der().unwrap();
    let pem = pk.to_public_key_pem(LineEnding::LF).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
    fs::write(d.join("k1.pub.pem"), &pem).unwrap();
    // aws kms get-public-key … | base64 -d; the AWS CLI's text; gcloud's PEM.
    fs::write(d.join("aws.der"), der.as_bytes()).unwrap();
    fs::write(d.join("aws.b64"), format!("{b64}\n")).unwrap();
    fs::write(d.join("gcp.pem"), &pem).unwrap();
    let fp = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(der.as_bytes()))
    };
    for f in ["aws.der", "aws.b64", "gcp.pem"] {
        let out = ok(&verify(d, f, "k1.pub.pem"));
        assert_eq!(
            out,
            format!("the cloud's key is the HSM's key (SPKI SHA-256 {fp}, RSA-2048)\n"),
            "{f}"
        );
    }
    // --pub is the same option; --json gives the fingerprint.
    let j: serde_json::Value = serde_json::from_str(&ok(&byok_in(
        d,
        &[
            "verify",
            "--pub-from",
            "aws.b64",
            "--pub",
            "k1.pub.pem",
            "--json",
        ],
    )))
    .unwrap();
    assert_eq!(j["ok"], true);
    assert_eq!(j["spki_sha256"], fp.as_str());
    assert_eq!(j["cloud_format"], "base64 DER SubjectPublicKeyInfo");

    // Another key: one line naming both fingerprints.
    let other = rsa::PrivateKey::new(&mut rand::rng(), 2048)
        .unwrap()
        .to_public_key();
    let other_der = other.to_public_key_der().unwrap();
    fs::write(d.join("other.der"), other_der.as_bytes()).unwrap();
    let other_fp = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(other_der.as_bytes()))
    };
    fails(
        &verify(d, "other.der", "k1.pub.pem"),
        &["is not the HSM's key", &other_fp, &fp],
    );

    // Garbage, an EC key (base64 and DER), a private key, an empty file, a missing one.
    fs::write(d.join("garbage"), "not a key at all\n").unwrap();
    fs::write(d.join("ec.b64"), EC_SPKI_B64).unwrap();
    fs::write(
        d.join("ec.der"),
        base64::engine::general_purpose::STANDARD
            .decode(EC_SPKI_B64)
            .unwrap(),
    )
    .unwrap();
    fs::write(
        d.join("private.pem"),
        hsm.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    fs::write(d.join("empty"), "").unwrap();
    fs::write(d.join("cut.der"), &der.as_bytes()[..100]).unwrap();
    for (f, words) in [
        ("garbage", &["--pub-from", "not a KEK"][..]),
        ("ec.b64", &["--pub-from", "not RSA (algorithm EC)"][..]),
        ("ec.der", &["--pub-from", "not RSA (algorithm EC)"][..]),
        ("private.pem", &["--pub-from", "PRIVATE key"][..]),
        ("empty", &["--pub-from", "empty"][..]),
        ("cut.der", &["--pub-from"][..]),
        ("missing", &["--pub-from", "missing"][..]),
    ] {
        fails(&verify(d, f, "k1.pub.pem"), words);
    }
    // The HSM's side is read as strictly.
    fails(&verify(d, "aws.der", "ec.b64"), &["--key", "not RSA"]);

    // --pub-from is offline: no vault, no name, no trust root with it.
    for extra in [
        &["--vault", "https://x.vault.azure.net"][..],
        &["--name", "k1"][..],
        &["--trust-root", "k1.pub.pem"][..],
    ] {
        let mut args = vec!["verify", "--pub-from", "aws.der", "--key", "k1.pub.pem"];
        args.extend_from_slice(extra);
        let o = byok_in(d, &args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("cannot be used with"), "{}", stderr(&o));
    }
    // Without it, the vault and the name are still needed.
    let o = byok_in(d, &["verify", "--key", "k1.pub.pem"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--name"), "{}", stderr(&o));
}
