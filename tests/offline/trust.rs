//! Trusted KEKs stored under dual control, and loopback key ids only in a rehearsal.

use crate::common::*;
use crate::rig::*;
use byok_testkit::softhsm::TokenKind;
use cryptoki::object::Attribute;
use std::fs;

#[test]
fn security_officer_stores_a_trusted_kek_under_dual_control() {
    let tok = Token::new("trust");
    let kek_file = write_kek(&tok.dir(), 2048);
    let kek_arg = kek_file.to_str().unwrap();
    let so_pin = tok.t.so_pin_file.to_str().unwrap().to_string();
    let v: serde_json::Value =
        serde_json::from_str(&ok(&tok.byok(&["kek", "inspect", kek_arg, "--json"]))).unwrap();
    let fp = v["sha256"].as_str().unwrap().to_string();
    // A fingerprint the officers did not confirm is refused before login.
    let wrong = format!("{}00", &fp[..62]);
    fails(
        &tok.byok(&[
            "kek",
            "trust",
            "--kek",
            kek_arg,
            "--sha256",
            &wrong,
            "--so-pin-file",
            &so_pin,
        ]),
        &["not the KEK the officers confirmed"],
    );
    // The user PIN is not the SO PIN.
    let user_pin = tok.t.user_pin_file.to_str().unwrap().to_string();
    fails(
        &tok.byok(&[
            "kek",
            "trust",
            "--kek",
            kek_arg,
            "--sha256",
            &fp,
            "--so-pin-file",
            &user_pin,
        ]),
        &["Security Officer PIN", "incorrect"],
    );
    let kind = tok.t.kind;
    if kind == TokenKind::Kryoptic {
        // Kryoptic never lets CKA_TRUSTED be set: named as unable to give dual control,
        // and a key that would need a trusted KEK is not made.
        fails(
            &tok.byok(&[
                "kek",
                "trust",
                "--kek",
                kek_arg,
                "--sha256",
                &fp,
                "--so-pin-file",
                &so_pin,
            ]),
            &["NO_DUAL_CONTROL", "cannot give dual control"],
        );
        fails(
            &tok.byok(&[
                "keygen",
                "--label",
                "Trusted-Key",
                "--size",
                "2048",
                "--wrap-with-trusted",
            ]),
            &["CKM_RSA_AES_KEY_WRAP"],
        );
        assert!(tok.labels().is_empty(), "{:?}", tok.labels());
        return;
    }
    let out = ok(&tok.byok(&[
        "kek",
        "trust",
        "--kek",
        kek_arg,
        "--sha256",
        &fp,
        "--so-pin-file",
        &so_pin,
        "--json",
    ]));
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let label = r["label"].as_str().unwrap().to_string();
    fails(
        &tok.byok(&[
            "kek",
            "trust",
            "--kek",
            kek_arg,
            "--sha256",
            &fp,
            "--so-pin-file",
            &so_pin,
        ]),
        &["already holds"],
    );
    tok.with_session(|s| {
        let found = s
            .find_objects(&[
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Trusted(true),
                Attribute::Wrap(true),
            ])
            .unwrap();
        assert_eq!(found.len(), 1, "trusted KEK object stored");
    });
    if kind == TokenKind::SoftHsm270 {
        dual_control_end_to_end(&tok, kek_arg);
        return;
    }
    // SoftHSM 2.6 has no CKM_RSA_AES_KEY_WRAP, so a wrap-with-trusted key could never be
    // exported there: keygen refuses to make one.
    fails(
        &tok.byok(&[
            "keygen",
            "--label",
            "Trusted-Key",
            "--size",
            "2048",
            "--wrap-with-trusted",
        ]),
        &["CKM_RSA_AES_KEY_WRAP"],
    );
    // A key that demands a trusted wrapping key is refused with the reason, not half-wrapped.
    tok.with_session(|s| {
        s.generate_key_pair(
            &cryptoki::mechanism::Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::ModulusBits(2048u64.into()),
                Attribute::Label(b"WWT".to_vec()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
                Attribute::WrapWithTrusted(true),
                Attribute::Label(b"WWT".to_vec()),
            ],
        )
        .unwrap();
    });
    fails(
        &tok.byok(&[
            "wrap", "--key", "WWT", "--kek", kek_arg, "--out", "wwt.byok",
        ]),
        &["trusted", "CKM_RSA_AES_KEY_WRAP"],
    );
    assert!(!tok.dir().join("wwt.byok").exists());
}

/// SoftHSM 2.7.0 (native CKM_RSA_AES_KEY_WRAP, CKA_WRAP_WITH_TRUSTED enforced), after the
/// SO trusted the 2048-bit test KEK: a wrap-with-trusted key is made, wraps under the
/// trusted KEK, and under no other; the HSM itself refuses an untrusted wrapping key; the
/// user cannot mark a key trusted.
fn dual_control_end_to_end(tok: &Token, trusted_kek: &str) {
    let o = tok.byok(&[
        "keygen",
        "--label",
        "Trusted-Key",
        "--size",
        "2048",
        "--wrap-with-trusted",
        "--json",
    ]);
    let r: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(r["attributes"]["wrap_with_trusted"], true, "{r}");
    let (n, e) = pem_public(&tok.dir().join("Trusted-Key.pub.pem"));
    // Under the trusted KEK: wrapped natively, and it unwraps in software to the key.
    let o = tok.byok(&[
        "wrap",
        "--key",
        "Trusted-Key",
        "--kek",
        trusted_kek,
        "--out",
        "trusted.byok",
        "--json",
    ]);
    let r: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(r["trusted_kek"], true, "{r}");
    assert_eq!(r["mechanism"], "CKM_RSA_AES_KEY_WRAP", "{r}");
    let bytes = fs::read(tok.dir().join("trusted.byok")).unwrap();
    let check = byok_testkit::testkek::check_package(&kek(2048).private, &bytes, &n, &e).unwrap();
    assert!(check.modulus_matches);
    assert_eq!(check.trailing_zero_bytes, 0, "exact PKCS#8 on 2.7.0");
    // Under another KEK: refused, nothing written.
    let other = write_kek(&tok.dir(), 3072);
    fails(
        &tok.byok(&[
            "wrap",
            "--key",
            "Trusted-Key",
            "--kek",
            other.to_str().unwrap(),
            "--out",
            "other.byok",
        ]),
        &["trusted KEK", "byok kek trust"],
    );
    assert!(!tok.dir().join("other.byok").exists());
    // The two-step wrap cannot keep the promise (its AES key is not trusted): refused.
    let o = tok
        .cmd(&[
            "wrap",
            "--key",
            "Trusted-Key",
            "--kek",
            trusted_kek,
            "--out",
            "composite.byok",
        ])
        .env("BYOK_FORCE_COMPOSITE", "1")
        .output()
        .unwrap();
    fails(&o, &["trusted", "CKM_RSA_AES_KEY_WRAP"]);
    assert!(!tok.dir().join("composite.byok").exists());
    // The HSM itself enforces it: an untrusted wrapping key (a session AES key the user
    // makes) is refused with CKR_KEY_NOT_WRAPPABLE, whatever byok does.
    tok.with_session(|s| {
        use cryptoki::error::{Error, RvError};
        use cryptoki::mechanism::Mechanism;
        let key = s
            .find_objects(&[
                Attribute::Label(b"Trusted-Key".to_vec()),
                Attribute::Class(cryptoki::object::ObjectClass::PRIVATE_KEY),
            ])
            .unwrap()[0];
        let aes = s
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(false),
                    Attribute::ValueLen(32u64.into()),
                    Attribute::Wrap(true),
                ],
            )
            .unwrap();
        match s.wrap_key(&Mechanism::AesKeyWrapPad, aes, key) {
            Err(Error::Pkcs11(RvError::KeyNotWrappable, _)) => {}
            other => panic!("the HSM let an untrusted key wrap a wrap-with-trusted key: {other:?}"),
        }
        // And the user cannot make a trusted key.
        let kek = kek(3072);
        use rsa::traits::PublicKeyParts;
        let made = s.create_object(&[
            Attribute::Class(cryptoki::object::ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(cryptoki::object::KeyType::RSA),
            Attribute::Token(false),
            Attribute::Wrap(true),
            Attribute::Trusted(true),
            Attribute::Modulus(kek.private.n().to_be_bytes_trimmed_vartime().to_vec()),
            Attribute::PublicExponent(kek.private.e().to_be_bytes_trimmed_vartime().to_vec()),
        ]);
        assert!(made.is_err(), "the user marked a key trusted");
    });
}

/// Loopback key ids (the simulator's, the test KEKs') are for rehearsals only: refused
/// without `--rehearsal`, warned with it; a real vault's kid needs no flag.
#[test]
fn loopback_kids_only_in_a_rehearsal() {
    let tok = Token::new("rehearsal");
    keygen(&tok, "Key-R", 2048);
    let kek = write_kek(&tok.dir(), 2048);
    let kek = kek.to_str().unwrap();
    let real = |args: &[&str]| tok.cmd_for_real(args).output().unwrap();
    fails(&real(&["kek", "inspect", kek]), &["loopback", "rehearsal"]);
    fails(
        &real(&["wrap", "--key", "Key-R", "--kek", kek, "--out", "r.byok"]),
        &["loopback", "rehearsal"],
    );
    assert!(!tok.dir().join("r.byok").exists(), "nothing written");
    let o = real(&["--rehearsal", "kek", "inspect", kek]);
    ok(&o);
    assert!(stderr(&o).contains("warning: REHEARSAL"), "{}", stderr(&o));
    ok(&real(&[
        "--rehearsal",
        "wrap",
        "--key",
        "Key-R",
        "--kek",
        kek,
        "--out",
        "r.byok",
    ]));
    fails(
        &real(&["package", "inspect", "r.byok"]),
        &["loopback", "rehearsal"],
    );
    ok(&real(&["package", "inspect", "r.byok", "--rehearsal"]));
    // The same KEK under a real vault's kid needs no flag.
    let bundle: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(kek).unwrap()).unwrap();
    let mut real_kek = bundle.clone();
    let version = bundle["key"]["kid"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    real_kek["key"]["kid"] =
        format!("https://contoso-vault1.vault.azure.net/keys/kek/{version}").into();
    fs::write(tok.dir().join("real-kek.json"), real_kek.to_string()).unwrap();
    let o = real(&["kek", "inspect", "real-kek.json"]);
    ok(&o);
    assert!(!stderr(&o).contains("REHEARSAL"), "{}", stderr(&o));
}
