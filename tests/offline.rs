//! The offline core on real SoftHSM2 tokens: keygen, wrap, selftest, info, and every
//! bad input refused cleanly. Packages are checked by an independent software unwrap
//! (the `rsa` and `aes-kw` crates).

mod common;

use common::*;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use std::fs;

fn keygen(tok: &Token, label: &str, bits: usize) -> std::path::PathBuf {
    ok(&tok.byok(&["keygen", "--label", label, "--size", &bits.to_string()]));
    tok.dir().join(format!("{label}.pub.pem"))
}

#[test]
fn every_size_of_key_and_kek_unwraps_in_software_to_the_hsm_key() {
    let tok = Token::new("sizes");
    for key_bits in [2048, 3072, 4096] {
        let label = format!("Key-{key_bits}");
        let pem = keygen(&tok, &label, key_bits);
        let (n, e) = pem_public(&pem);
        assert_eq!(n.len() * 8, key_bits);
        for kek_bits in [2048, 3072, 4096] {
            let kek_file = write_kek(&tok.dir(), kek_bits);
            let out = format!("{label}-under-{kek_bits}.byok");
            let o = tok.byok(&[
                "wrap",
                "--key",
                &label,
                "--kek",
                kek_file.to_str().unwrap(),
                "--out",
                &out,
                "--json",
            ]);
            let report: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
            let bytes = fs::read(tok.dir().join(&out)).unwrap();
            // The printed SHA-256 is the file's.
            assert_eq!(
                report["sha256"],
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
            );
            // Independent software unwrap equals the HSM's key.
            let check =
                byok_testkit::testkek::check_package(&kek(kek_bits).private, &bytes, &n, &e)
                    .unwrap_or_else(|err| panic!("{out}: {err}"));
            assert!(check.modulus_matches);
            // The package is exactly the four fields, base64url without padding.
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let obj = v.as_object().unwrap();
            let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
            keys.sort();
            assert_eq!(
                keys,
                ["ciphertext", "generator", "header", "schema_version"]
            );
            assert_eq!(v["schema_version"], "1.0.0");
            assert_eq!(v["header"]["alg"], "dir");
            assert_eq!(v["header"]["enc"], "CKM_RSA_AES_KEY_WRAP");
            assert_eq!(v["header"]["kid"], kek(kek_bits).kid.as_str());
            let ct = v["ciphertext"].as_str().unwrap();
            assert!(ct
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            let g = v["generator"].as_str().unwrap();
            assert!(
                g.contains(env!("CARGO_PKG_VERSION"))
                    && g.contains("SoftHSM")
                    && g.contains("firmware 2."),
                "{g}"
            );
            // package inspect agrees, with and without the KEK.
            let o = tok.byok(&[
                "package",
                "inspect",
                &out,
                "--kek",
                kek_file.to_str().unwrap(),
                "--json",
            ]);
            let r: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
            assert_eq!(r["rsa_part_bytes"], kek_bits / 8);
            assert_eq!(r["target_key_bits"], key_bits);
            assert_eq!(r["kek_checked"], true);
            let o = tok.byok(&["package", "inspect", &out, "--json"]);
            let r: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
            assert_eq!(r["fits_kek_bits"], serde_json::json!([kek_bits]));
            assert_eq!(r["target_key_bits"], key_bits);
        }
    }
    // Only the three key pairs are on the token: no session KEK or AES key stayed.
    let labels = tok.labels();
    assert_eq!(
        labels,
        ["Key-2048", "Key-2048", "Key-3072", "Key-3072", "Key-4096", "Key-4096"]
    );
}

#[test]
fn keygen_sets_byok_attributes_on_the_token() {
    let tok = Token::new("attrs");
    let o = tok.byok(&[
        "keygen",
        "--label",
        "Attr-Key001",
        "--size",
        "2048",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(report["attributes"]["local"], true);
    assert_eq!(report["attributes"]["always_sensitive"], true);
    assert_eq!(
        report["attributes"]["key_gen_mechanism"],
        "CKM_RSA_PKCS_KEY_PAIR_GEN"
    );
    // Read the attributes back from the token ourselves.
    tok.with_session(|s| {
        let privs = s
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(b"Attr-Key001".to_vec()),
            ])
            .unwrap();
        assert_eq!(privs.len(), 1);
        let want = [
            (AttributeType::Token, true),
            (AttributeType::Private, true),
            (AttributeType::Sensitive, true),
            (AttributeType::Extractable, true),
            (AttributeType::Sign, false),
            (AttributeType::SignRecover, false),
            (AttributeType::Decrypt, false),
            (AttributeType::Unwrap, false),
            (AttributeType::Derive, false),
            (AttributeType::Local, true),
            (AttributeType::AlwaysSensitive, true),
            (AttributeType::Modifiable, false),
        ];
        for (t, v) in want {
            let got = s.get_attributes(privs[0], &[t]).unwrap();
            assert_eq!(bool_of(&got), Some(v), "private {t:?}");
        }
        let pubs = s
            .find_objects(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Label(b"Attr-Key001".to_vec()),
            ])
            .unwrap();
        assert_eq!(pubs.len(), 1);
        for (t, v) in [
            (AttributeType::Encrypt, false),
            (AttributeType::Verify, false),
            (AttributeType::Wrap, false),
            (AttributeType::Token, true),
        ] {
            let got = s.get_attributes(pubs[0], &[t]).unwrap();
            assert_eq!(bool_of(&got), Some(v), "public {t:?}");
        }
        // Both halves share a random 16-byte CKA_ID.
        let id = |h| match s.get_attributes(h, &[AttributeType::Id]).unwrap().pop() {
            Some(Attribute::Id(v)) => v,
            _ => panic!("no id"),
        };
        assert_eq!(id(privs[0]), id(pubs[0]));
        assert_eq!(id(privs[0]).len(), 16);
        assert_eq!(hex::encode(id(privs[0])), report["id"].as_str().unwrap());
    });
}

fn bool_of(attrs: &[Attribute]) -> Option<bool> {
    attrs.iter().find_map(|a| match a {
        Attribute::Token(b)
        | Attribute::Private(b)
        | Attribute::Sensitive(b)
        | Attribute::Extractable(b)
        | Attribute::Sign(b)
        | Attribute::SignRecover(b)
        | Attribute::Decrypt(b)
        | Attribute::Unwrap(b)
        | Attribute::Derive(b)
        | Attribute::Local(b)
        | Attribute::AlwaysSensitive(b)
        | Attribute::Modifiable(b)
        | Attribute::Encrypt(b)
        | Attribute::Verify(b)
        | Attribute::Wrap(b) => Some(*b),
        _ => None,
    })
}

#[test]
fn selftest_passes_names_softhsm_padding_and_leaves_no_objects() {
    let tok = Token::new("selftest");
    keygen(&tok, "Existing-Key", 2048);
    let before = tok.labels();
    let o = tok.byok(&["hsm", "selftest", "--json"]);
    let r: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(r["passed"], true);
    assert_eq!(r["verdict"], "composite");
    assert_eq!(r["token_objects_before"], r["token_objects_after"]);
    // SoftHSM 2.6 pads the PKCS#8 to a multiple of 8 and the self-test names it. A
    // round whose PKCS#8 is already a multiple of 8 cannot show it; the self-test then
    // tries another key, up to four.
    let zeros = r["trailing_zero_bytes"].as_u64().unwrap();
    let warned = stderr(&o).contains("warning: SOFTHSM_PKCS8_ZERO_PADDING");
    assert_eq!(zeros > 0, warned, "{}", stderr(&o));
    assert!(
        warned || r["rounds"] == 4,
        "the padding defect went unreported: {r}"
    );
    assert_eq!((r["pkcs8_bytes"].as_u64().unwrap() + zeros) % 8, 0);
    assert!(stderr(&o).contains("SOFTHSM_TEST_ONLY"));
    assert_eq!(tok.labels(), before);
}

#[test]
fn hsm_info_reports_mechanisms_and_verdict() {
    let tok = Token::new("info");
    let o = tok.byok(&["hsm", "info", "--json"]);
    let r: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(r["verdict"], "composite");
    assert_eq!(r["token"]["label"], "info");
    assert!(r["token"]["firmware"].as_str().unwrap().starts_with("2."));
    let mechs = r["mechanisms"].as_array().unwrap();
    let present = |n: &str| {
        mechs.iter().find(|m| m["name"] == n).unwrap()["present"]
            .as_bool()
            .unwrap()
    };
    assert!(!present("CKM_RSA_AES_KEY_WRAP"));
    assert!(present("CKM_AES_KEY_WRAP_PAD"));
    assert!(present("CKM_RSA_PKCS_OAEP"));
    let text = ok(&tok.byok(&["hsm", "info"]));
    assert!(text.contains("verdict:   composite"), "{text}");
}

#[test]
fn pkcs11_uris_name_token_and_key() {
    let tok = Token::new("uri token");
    let kek_file = write_kek(&tok.dir(), 2048);
    let pem = {
        let o = tok
            .cmd(&[
                "keygen",
                "--token",
                "pkcs11:token=uri%20token",
                "--label",
                "Uri-Key",
                "--size",
                "2048",
            ])
            .env_remove("BYOK_TOKEN")
            .output()
            .unwrap();
        ok(&o);
        tok.dir().join("Uri-Key.pub.pem")
    };
    let o = tok
        .cmd(&[
            "wrap",
            "--key",
            "pkcs11:token=uri%20token;object=Uri-Key;type=private",
            "--kek",
            kek_file.to_str().unwrap(),
            "--out",
            "u.byok",
        ])
        .env_remove("BYOK_TOKEN")
        .output()
        .unwrap();
    ok(&o);
    let (n, e) = pem_public(&pem);
    byok_testkit::testkek::check_package(
        &kek(2048).private,
        &fs::read(tok.dir().join("u.byok")).unwrap(),
        &n,
        &e,
    )
    .unwrap();
    // A PIN in a URI is refused and not echoed.
    let o = tok.byok(&[
        "wrap",
        "--key",
        "pkcs11:object=Uri-Key?pin-value=123456",
        "--kek",
        kek_file.to_str().unwrap(),
        "--out",
        "v.byok",
    ]);
    let line = fails(&o, &["pin-value"]);
    assert!(!line.contains("123456"));
}

#[test]
fn pin_file_is_used_and_refused_when_others_can_read_it() {
    use std::os::unix::fs::PermissionsExt;
    let tok = Token::new("pinfile");
    let pin_file = tok.t.user_pin_file.clone();
    let o = tok
        .cmd(&["hsm", "selftest", "--pin-file", pin_file.to_str().unwrap()])
        .env_remove("BYOK_PIN")
        .output()
        .unwrap();
    ok(&o);
    let loose = tok.dir().join("loose.pin");
    fs::copy(&pin_file, &loose).unwrap();
    fs::set_permissions(&loose, fs::Permissions::from_mode(0o644)).unwrap();
    let o = tok
        .cmd(&["hsm", "selftest", "--pin-file", loose.to_str().unwrap()])
        .env_remove("BYOK_PIN")
        .output()
        .unwrap();
    fails(&o, &["chmod 600"]);
    // No PIN and no terminal: a clear error, not a hang.
    let o = tok
        .cmd_without_terminal(&["hsm", "selftest"])
        .env_remove("BYOK_PIN")
        .output()
        .unwrap();
    fails(&o, &["--pin-file", "BYOK_PIN"]);
}

const EC_P256_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEqdUijb1VQrN0CpNDnHdNRf6jZQSO
hQnG9S9juGoFfH1DmPCsj6Y7gTNfrpxiXHzGJkQHeDTk7u/uyWuDpHRb4w==
-----END PUBLIC KEY-----
";

#[test]
fn bad_kek_files_are_refused_with_the_reason() {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let tok = Token::new("badkek");
    keygen(&tok, "Victim", 2048);
    let dir = tok.dir();
    let good_json = kek(2048).key_bundle_json();
    let good: serde_json::Value = serde_json::from_str(&good_json).unwrap();
    let spki_pem = kek(2048)
        .private
        .to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let small = rsa::PrivateKey::new(&mut rand::rng(), 1024).unwrap();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string()
    };
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("empty", String::new(), vec!["empty"]),
        (
            "garbage",
            "hello, world\u{1}\u{2}".into(),
            vec!["not a KEK"],
        ),
        (
            "truncated-pem",
            spki_pem[..spki_pem.len() / 2].to_string(),
            vec!["damaged or truncated"],
        ),
        (
            "rsa-1024",
            small
                .to_public_key()
                .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                .unwrap(),
            vec!["RSA-1024", "2048"],
        ),
        ("ec", EC_P256_SPKI.into(), vec!["not RSA", "EC"]),
        (
            "duplicate-key",
            good_json.replacen("\"kty\"", "\"kty\": \"RSA\", \"kty\"", 1),
            vec!["\"kty\" twice"],
        ),
        (
            "private",
            small
                .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .unwrap()
                .to_string(),
            vec!["private key"],
        ),
        (
            "ops",
            with(&|v| v["key"]["key_ops"] = serde_json::json!(["wrapKey", "import"])),
            vec!["key_ops", "import"],
        ),
        (
            "kty",
            with(&|v| v["key"]["kty"] = serde_json::json!("RSA")),
            vec!["RSA-HSM"],
        ),
        (
            "jwk-private",
            with(&|v| v["key"]["d"] = serde_json::json!("AAAA")),
            vec!["private key"],
        ),
        (
            "badjson",
            good_json[..good_json.len() - 10].to_string(),
            vec!["JSON does not parse"],
        ),
        (
            "badkid",
            with(&|v| {
                v["key"]["kid"] =
                    serde_json::json!("https://example.com/keys/k/0123456789abcdef0123456789abcdef")
            }),
            vec!["kid", "Key Vault"],
        ),
        (
            "nokid-version",
            with(&|v| {
                v["key"]["kid"] = serde_json::json!("https://contoso.vault.azure.net/keys/kek")
            }),
            vec!["no version"],
        ),
    ];
    for (name, content, words) in cases {
        let f = dir.join(format!("{name}.kek"));
        fs::write(&f, &content).unwrap();
        let o = tok.byok(&["kek", "inspect", f.to_str().unwrap()]);
        fails(&o, &words);
        let out = format!("{name}.byok");
        let o = tok.byok(&[
            "wrap",
            "--key",
            "Victim",
            "--kek",
            f.to_str().unwrap(),
            "--out",
            &out,
        ]);
        fails(&o, &words);
        assert!(!dir.join(&out).exists(), "{name}: output left behind");
    }
    // A kid that is no key URL, given on the command line.
    let pem = dir.join("spki.pem");
    fs::write(&pem, &spki_pem).unwrap();
    let o = tok.byok(&[
        "wrap",
        "--key",
        "Victim",
        "--kek",
        "spki.pem",
        "--kid",
        "https://evil.example/keys/x/y",
        "--out",
        "x.byok",
    ]);
    fails(&o, &["kid"]);
    // A PEM KEK without a kid cannot make a package.
    let o = tok.byok(&[
        "wrap", "--key", "Victim", "--kek", "spki.pem", "--out", "x.byok",
    ]);
    fails(&o, &["no kid", "--kid"]);
    assert!(!dir.join("x.byok").exists());
    // ...but inspect shows it, with the fingerprint as hex and words.
    let text = ok(&tok.byok(&["kek", "inspect", "spki.pem"]));
    assert!(
        text.contains("SHA-256:") && text.contains("words:"),
        "{text}"
    );
    // The other formats of the same KEK give the same fingerprint.
    let fp = |f: &str, extra: &[&str]| -> String {
        let mut args = vec!["kek", "inspect", f, "--json"];
        args.extend_from_slice(extra);
        let v: serde_json::Value = serde_json::from_str(&ok(&tok.byok(&args))).unwrap();
        v["sha256"].as_str().unwrap().to_string()
    };
    fs::write(
        dir.join("k.der"),
        kek(2048)
            .private
            .to_public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    fs::write(dir.join("k.json"), &good_json).unwrap();
    let a = fp("spki.pem", &[]);
    assert_eq!(a, fp("k.der", &[]));
    assert_eq!(a, fp("k.json", &[]));
    assert_eq!(a, fp("spki.pem", &["--kid", &kek(2048).kid]));
    // Only the victim key pair is on the token.
    assert_eq!(tok.labels(), ["Victim", "Victim"]);
}

#[test]
fn bad_keygen_and_wrap_requests_leave_nothing_behind() {
    let tok = Token::new("badops");
    let dir = tok.dir();
    let kek_file = write_kek(&dir, 2048);
    let kek_arg = kek_file.to_str().unwrap();
    keygen(&tok, "Dup-Key", 2048);

    // 1024-bit keys are refused before the token is touched.
    fails(
        &tok.byok(&["keygen", "--label", "Small", "--size", "1024"]),
        &["RSA-1024"],
    );
    // A duplicate label.
    fs::remove_file(dir.join("Dup-Key.pub.pem")).unwrap();
    fails(
        &tok.byok(&["keygen", "--label", "Dup-Key", "--size", "2048"]),
        &["already has", "Dup-Key"],
    );
    assert!(!dir.join("Dup-Key.pub.pem").exists());
    // A label that is no Key Vault name.
    fails(
        &tok.byok(&["keygen", "--label", "../evil", "--size", "2048"]),
        &["not allowed"],
    );
    // An existing public-key file is left untouched and no key is made.
    fs::write(dir.join("Taken.pub.pem"), "precious").unwrap();
    fails(
        &tok.byok(&["keygen", "--label", "Taken", "--size", "2048"]),
        &["already exists"],
    );
    assert_eq!(
        fs::read_to_string(dir.join("Taken.pub.pem")).unwrap(),
        "precious"
    );
    // A missing key label.
    fails(
        &tok.byok(&[
            "wrap",
            "--key",
            "No-Such-Key",
            "--kek",
            kek_arg,
            "--out",
            "n.byok",
        ]),
        &["no private key", "No-Such-Key"],
    );
    assert!(!dir.join("n.byok").exists());
    // An existing package is left untouched.
    fs::write(dir.join("exists.byok"), "precious").unwrap();
    fails(
        &tok.byok(&[
            "wrap",
            "--key",
            "Dup-Key",
            "--kek",
            kek_arg,
            "--out",
            "exists.byok",
        ]),
        &["already exists"],
    );
    assert_eq!(
        fs::read_to_string(dir.join("exists.byok")).unwrap(),
        "precious"
    );
    // Nothing but the first key pair is on the token.
    assert_eq!(tok.labels(), ["Dup-Key", "Dup-Key"]);
}

#[test]
fn wrong_pin_missing_module_and_missing_token_fail_clearly() {
    let tok = Token::new("login");
    let o = tok
        .cmd(&["hsm", "selftest"])
        .env("BYOK_PIN", "wrong-pin-000")
        .output()
        .unwrap();
    let line = fails(&o, &["PIN", "login", "does not retry"]);
    assert!(
        !line.contains("wrong-pin-000"),
        "the PIN leaked into the message"
    );
    let o = tok
        .cmd(&["hsm", "info"])
        .env("BYOK_PKCS11_MODULE", "/nonexistent/libpkcs11.so")
        .output()
        .unwrap();
    fails(&o, &["module", "/nonexistent/libpkcs11.so", "--module"]);
    let o = tok
        .cmd(&["hsm", "info"])
        .env("BYOK_TOKEN", "no-such-token")
        .output()
        .unwrap();
    fails(&o, &["no token", "no-such-token", "login"]);
    let o = tok
        .cmd(&["hsm", "info"])
        .env_remove("BYOK_TOKEN")
        .output()
        .unwrap();
    fails(&o, &["--token"]);
    // A file that is not a PKCS#11 library.
    let junk = tok.dir().join("junk.so");
    fs::write(&junk, "not a library").unwrap();
    let o = tok
        .cmd(&["hsm", "info", "--module", junk.to_str().unwrap()])
        .output()
        .unwrap();
    fails(&o, &["cannot load"]);
    // The right PIN still works: the wrong one was tried once, not until lock-out.
    ok(&tok.byok(&["hsm", "selftest"]));
}

#[test]
fn package_inspect_refuses_damaged_packages() {
    let tok = Token::new("pkg");
    let dir = tok.dir();
    let kek_file = write_kek(&dir, 2048);
    let other_kek = write_kek(&dir, 3072);
    keygen(&tok, "Pkg-Key", 2048);
    ok(&tok.byok(&[
        "wrap",
        "--key",
        "Pkg-Key",
        "--kek",
        kek_file.to_str().unwrap(),
        "--out",
        "good.byok",
    ]));
    let good = fs::read_to_string(dir.join("good.byok")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut x = v.clone();
        f(&mut x);
        x.to_string()
    };
    let ct = v["ciphertext"].as_str().unwrap().to_string();
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("empty", String::new(), vec!["empty"]),
        (
            "truncated",
            good[..good.len() / 2].to_string(),
            vec!["not a BYOK package"],
        ),
        (
            "extra-field",
            with(&|x| x["extra"] = serde_json::json!(1)),
            vec!["unknown field"],
        ),
        (
            "schema",
            with(&|x| x["schema_version"] = serde_json::json!("2.0.0")),
            vec!["schema_version"],
        ),
        (
            "enc",
            with(&|x| x["header"]["enc"] = serde_json::json!("RSA-OAEP")),
            vec!["header.enc"],
        ),
        (
            "kid",
            with(&|x| x["header"]["kid"] = serde_json::json!("not-a-url")),
            vec!["kid"],
        ),
        (
            "b64",
            with(&|x| x["ciphertext"] = serde_json::json!("@@@@")),
            vec!["base64url"],
        ),
        (
            "short",
            with(&|x| x["ciphertext"] = serde_json::json!(&ct[..400])),
            vec!["bytes"],
        ),
        (
            "padded",
            with(&|x| x["ciphertext"] = serde_json::json!(format!("{ct}=="))),
            vec!["padding"],
        ),
    ];
    for (name, content, words) in cases {
        let f = format!("{name}.byok");
        fs::write(dir.join(&f), content).unwrap();
        fails(
            &tok.byok(&[
                "package",
                "inspect",
                &f,
                "--kek",
                kek_file.to_str().unwrap(),
            ]),
            &words,
        );
    }
    // The right package against the wrong KEK.
    fails(
        &tok.byok(&[
            "package",
            "inspect",
            "good.byok",
            "--kek",
            other_kek.to_str().unwrap(),
        ]),
        &["made for KEK"],
    );
    let text = ok(&tok.byok(&["package", "inspect", "good.byok"]));
    assert!(
        text.contains("RSA-OAEP 256 (a 2048-bit KEK) + AES-KWP")
            && text.contains("an RSA-2048 key"),
        "{text}"
    );
}

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
