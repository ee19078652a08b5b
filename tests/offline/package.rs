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

/// The other targets' blobs: raw (`NAME.aws.bin`, `NAME.gcp.bin`) and base64
/// (`NAME.openbao.b64`), made in software, checked against their wrapping keys' sizes.
#[test]
fn package_inspect_checks_raw_and_base64_blobs() {
    use base64::Engine;
    use byok_core::hsm::OaepHash;
    use byok_testkit::bao::software_wrap;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pem = |bits: usize| {
        kek(bits)
            .private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    };
    let (pem3072, pem4096) = (pem(3072), pem(4096));
    fs::write(dir.join("wrap-3072.pem"), &pem3072).unwrap();
    fs::write(dir.join("wrap-2048.pem"), pem(2048)).unwrap();
    fs::write(dir.join("bao-4096.pem"), &pem4096).unwrap();
    let inspect = |args: &[&str]| byok_in(dir, &[&["package", "inspect"][..], args].concat());

    // Good raw blobs of each key size under a 3072-bit wrapping key (AWS and GCP names).
    let mut blob3072 = Vec::new();
    for (bits, file) in [
        (2048, "k2048.aws.bin"),
        (3072, "k3072.gcp.bin"),
        (4096, "k4096.aws.bin"),
    ] {
        let blob = software_wrap(&pem3072, &kek(bits).private, OaepHash::Sha256);
        fs::write(dir.join(file), &blob).unwrap();
        let text = ok(&inspect(&[file, "--kek", "wrap-3072.pem"]));
        assert!(
            text.contains(&format!("({} bytes, raw)", blob.len()))
                && text.contains(&format!("RSA-OAEP 384 + AES-KWP {}", blob.len() - 384))
                && text.contains(&format!(
                    "an RSA-{bits} key (checked against the wrapping key)"
                )),
            "{text}"
        );
        // Without the key, the length alone tells the 3072-bit wrapping key.
        let text = ok(&inspect(&[file]));
        assert!(
            text.contains("(a 3072-bit wrapping key)") && text.contains("give --kek"),
            "{text}"
        );
        let v: serde_json::Value =
            serde_json::from_str(&ok(&inspect(&[file, "--kek", "wrap-3072.pem", "--json"])))
                .unwrap();
        assert_eq!(v["form"], "raw");
        assert_eq!(v["kek_checked"], true);
        assert_eq!(v["target_key_bits"], bits);
        assert_eq!(v["fits_kek_bits"], serde_json::json!([3072]));
        if bits == 2048 {
            blob3072 = blob;
        }
    }
    // --form overrides the name; the Azure KeyBundle JSON of the same size is a key too.
    fs::write(dir.join("blob.dat"), &blob3072).unwrap();
    let kek_json = write_kek(dir, 3072);
    ok(&inspect(&[
        "blob.dat",
        "--form",
        "raw",
        "--kek",
        kek_json.to_str().unwrap(),
    ]));
    // By its name, blob.dat is an Azure package, which it is not.
    fails(&inspect(&["blob.dat"]), &["UTF-8 JSON"]);

    // Damaged raw blobs: cut in half, one byte short, empty.
    for (name, bytes, words) in [
        (
            "half.aws.bin",
            &blob3072[..blob3072.len() / 2],
            &["truncated"][..],
        ),
        (
            "short.gcp.bin",
            &blob3072[..blob3072.len() - 1],
            &["truncated"][..],
        ),
        ("empty.aws.bin", &[][..], &["empty"][..]),
    ] {
        fs::write(dir.join(name), bytes).unwrap();
        fails(&inspect(&[name, "--kek", "wrap-3072.pem"]), words);
        fails(&inspect(&[name]), words);
    }
    // The right blob against a wrapping key of another size.
    for other in ["wrap-2048.pem", "bao-4096.pem"] {
        fails(
            &inspect(&["k2048.aws.bin", "--kek", other]),
            &["not for this key"],
        );
    }

    // OpenBao: base64 of a blob under its 4096-bit wrapping key, SHA-256.
    let bao = software_wrap(&pem4096, &kek(2048).private, OaepHash::Sha256);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bao);
    fs::write(dir.join("k.openbao.b64"), &b64).unwrap();
    let text = ok(&inspect(&["k.openbao.b64", "--kek", "bao-4096.pem"]));
    assert!(
        text.contains(&format!("({} bytes, base64)", b64.len()))
            && text.contains(&format!("{} bytes = RSA-OAEP 512 + AES-KWP", bao.len()))
            && text.contains("an RSA-2048 key (checked against the wrapping key)"),
        "{text}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&ok(&inspect(&["k.openbao.b64", "--json"]))).unwrap();
    assert_eq!(v["form"], "base64");
    assert_eq!(v["fits_kek_bits"], serde_json::json!([4096]));
    assert_eq!(v["kek_checked"], false);
    // A final newline (an editor's) is forgiven; --form base64 reads any name.
    fs::write(dir.join("nl.openbao.b64"), format!("{b64}\n")).unwrap();
    ok(&inspect(&["nl.openbao.b64", "--kek", "bao-4096.pem"]));
    fs::write(dir.join("bao.txt"), &b64).unwrap();
    ok(&inspect(&["bao.txt", "--form", "base64"]));
    // The same blob against the 3072-bit key is refused.
    fails(
        &inspect(&["k.openbao.b64", "--kek", "wrap-3072.pem"]),
        &["not for this key"],
    );
    // Damaged base64: a line break inside, characters outside base64, base64url, raw
    // bytes, cut short.
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "wrapped.openbao.b64",
            format!("{}\n{}", &b64[..76], &b64[76..]).into_bytes(),
            "one line",
        ),
        ("junk.openbao.b64", b"@@@@not base64@@@@".to_vec(), "base64"),
        (
            "url.openbao.b64",
            b64.replace('+', "-").replace('/', "_").into_bytes(),
            "base64",
        ),
        ("raw.openbao.b64", bao.clone(), "base64"),
        (
            "cut.openbao.b64",
            b64.as_bytes()[..b64.len() - 8].to_vec(),
            "truncated",
        ),
    ];
    for (name, bytes, word) in cases {
        fs::write(dir.join(name), bytes).unwrap();
        fails(&inspect(&[name, "--kek", "bao-4096.pem"]), &[word]);
    }
}
