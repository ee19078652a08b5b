//! Bad KEK files and bad keygen and wrap requests: refused with the reason, nothing left
//! behind.

use crate::common::*;
use crate::rig::*;
use std::fs;

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
