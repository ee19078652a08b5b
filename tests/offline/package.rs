//! `byok package inspect` on damaged packages.

use crate::common::*;
use crate::rig::*;
use std::fs;

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
