//! Both wraps on one token: the default (native where the token has
//! CKM_RSA_AES_KEY_WRAP) and the two-step wrap forced by BYOK_FORCE_COMPOSITE=1, compared
//! by an independent software unwrap (the `rsa` and `aes-kw` crates, not byok's code).

use crate::common::*;
use crate::rig::*;
use byok_testkit::softhsm::TokenKind;
use std::fs;

/// RSA-OAEP (SHA-1) then AES-KWP, in software: the PKCS#8 the package holds, with any
/// zero padding the token added.
fn unwrap_in_software(kek_private: &rsa::PrivateKey, package: &[u8]) -> Vec<u8> {
    use aes_kw::KeyInit;
    use base64::Engine;
    use rsa::traits::PublicKeyParts;
    let v: serde_json::Value = serde_json::from_slice(package).unwrap();
    let ct = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v["ciphertext"].as_str().unwrap())
        .unwrap();
    let (rsa_part, kwp_part) = ct.split_at(kek_private.size());
    let aes = kek_private
        .decrypt(rsa::Oaep::<sha1::Sha1>::new(), rsa_part)
        .unwrap();
    assert_eq!(aes.len(), 32, "an AES-256 key");
    let kwp = aes_kw::KwpAes256::new_from_slice(&aes).unwrap();
    let mut buf = vec![0u8; kwp_part.len()];
    let n = kwp.unwrap_key(kwp_part, &mut buf).unwrap().len();
    buf.truncate(n);
    buf
}

#[test]
fn forced_composite_and_default_wraps_hold_the_same_key() {
    let tok = Token::new("both-wraps");
    let kind = tok.t.kind;
    keygen(&tok, "Both-Key", 3072);
    let kek_file = write_kek(&tok.dir(), 2048);
    let kek_arg = kek_file.to_str().unwrap();
    let wrap = |out: &str, force: bool| {
        let mut c = tok.cmd(&[
            "wrap", "--key", "Both-Key", "--kek", kek_arg, "--out", out, "--json",
        ]);
        if force {
            c.env("BYOK_FORCE_COMPOSITE", "1");
        }
        let r: serde_json::Value = serde_json::from_str(&ok(&c.output().unwrap())).unwrap();
        let bytes = fs::read(tok.dir().join(out)).unwrap();
        (r["mechanism"].as_str().unwrap().to_string(), bytes)
    };
    let (default_mech, default_pkg) = wrap("default.byok", false);
    let (forced_mech, forced_pkg) = wrap("forced.byok", true);
    assert_eq!(default_mech, kind.mechanism());
    let composite = match kind {
        // SoftHSM 2.7.0 lists both 0x1054 and 0x210A: forced, it takes 0x210A.
        TokenKind::SoftHsm270 | TokenKind::SoftHsm261 => {
            "CKM_AES_KEY_WRAP_PAD + CKM_RSA_PKCS_OAEP(SHA-1)"
        }
        TokenKind::Kryoptic => "CKM_AES_KEY_WRAP_KWP + CKM_RSA_PKCS_OAEP(SHA-1)",
    };
    assert_eq!(forced_mech, composite);
    assert_ne!(default_pkg, forced_pkg, "fresh AES keys each time");
    let private = &kek(2048).private;
    let a = unwrap_in_software(private, &default_pkg);
    let b = unwrap_in_software(private, &forced_pkg);
    assert_eq!(a, b, "both wraps hold the same PKCS#8, byte for byte");
    // The key is the one on the token: the public key in its PKCS#8 is the .pub.pem's.
    let (n, e) = pem_public(&tok.dir().join("Both-Key.pub.pem"));
    let check = byok_testkit::testkek::check_package(private, &default_pkg, &n, &e).unwrap();
    assert!(check.modulus_matches);
    if !kind.pads_pkcs8() {
        // Exact RFC 5649 of the exact DER (a 3072-bit key's PKCS#8 is not a multiple of 8).
        assert_eq!(check.trailing_zero_bytes, 0);
        assert_eq!(a.len(), check.pkcs8_bytes);
    }
}
