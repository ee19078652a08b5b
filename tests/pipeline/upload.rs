//! `byok upload`: wrong vault, tampered packages, silent replacement, and a key another
//! tool imported.

use crate::common::*;
use crate::rig::*;
use std::fs;

#[test]
fn upload_refuses_wrong_vault_tampered_packages_and_silent_replacement() {
    let r = rig(&[]);
    let v = r.vault.url.as_str();
    kek_and_package(&r, "KEK-A", "Key-A");
    // A package for another vault is refused before anything is sent.
    let before = r.scratch.log_text().lines().count();
    fails(
        &r.byok(&[
            "upload",
            "Key-A.byok",
            "--vault",
            &r.scratch.url,
            "--name",
            "Key-A",
        ]),
        &["wrapped under a KEK of", "upload it there"],
    );
    assert_eq!(
        r.scratch.log_text().lines().count(),
        before,
        "a request reached the wrong vault"
    );
    // A tampered package: the vault refuses it and stores nothing.
    let mut pkg: serde_json::Value =
        serde_json::from_slice(&fs::read(r.tok.dir().join("Key-A.byok")).unwrap()).unwrap();
    let ct = pkg["ciphertext"].as_str().unwrap().to_string();
    let flipped = if ct.as_bytes()[300] == b'A' { 'B' } else { 'A' };
    pkg["ciphertext"] = format!("{}{}{}", &ct[..300], flipped, &ct[301..]).into();
    fs::write(
        r.tok.dir().join("tampered.byok"),
        serde_json::to_vec_pretty(&pkg).unwrap(),
    )
    .unwrap();
    fails(
        &r.byok(&["upload", "tampered.byok", "--vault", v, "--name", "Key-A"]),
        &["HTTP 400"],
    );
    assert_eq!(r.vault.versions("Key-A"), 0);
    // A damaged file is refused locally.
    fs::write(r.tok.dir().join("broken.byok"), b"{\"schema_version\":").unwrap();
    fails(
        &r.byok(&["upload", "broken.byok", "--vault", v, "--name", "Key-A"]),
        &["not a BYOK package"],
    );
    // --sha256: only the package with that hash is sent (the import passes the
    // manifest's, so a file swapped after its checks is refused).
    let sha = byok_core::util::sha256_hex(&fs::read(r.tok.dir().join("Key-A.byok")).unwrap());
    fails(
        &r.byok(&[
            "upload",
            "Key-A.byok",
            "--vault",
            v,
            "--name",
            "Key-A",
            "--sha256",
            &"0".repeat(64),
        ]),
        &["not the package that was checked", "nothing was sent"],
    );
    assert_eq!(r.vault.versions("Key-A"), 0);
    ok(&r.byok(&[
        "upload",
        "Key-A.byok",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--sha256",
        &sha,
    ]));
    // Another package under an existing name: refused unless it is a key roll.
    ok(&r.byok(&["keygen", "--label", "Key-A2", "--size", "2048"]));
    ok(&r.byok(&[
        "wrap",
        "--key",
        "Key-A2",
        "--kek",
        "KEK-A.json",
        "--out",
        "Key-A2.byok",
    ]));
    fails(
        &r.byok(&["upload", "Key-A2.byok", "--vault", v, "--name", "Key-A"]),
        &["already exists", "--new-version"],
    );
    assert_eq!(r.vault.versions("Key-A"), 1);
    ok(&r.byok(&[
        "upload",
        "Key-A2.byok",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--new-version",
    ]));
    assert_eq!(r.vault.versions("Key-A"), 2);
    // The vault's key is now Key-A2's: verify against Key-A's public key names the rule.
    let o = r.byok(&[
        "verify",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--pub",
        "Key-A.pub.pem",
    ]);
    fails(&o, &["fails", "the vault's key is the HSM's key"]);
    assert!(stdout(&o).contains("FAIL the vault's key is the HSM's key"));
    ok(&r.byok(&[
        "verify",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--pub",
        "Key-A2.pub.pem",
    ]));
    // Bad names and URLs.
    fails(
        &r.byok(&[
            "upload",
            "Key-A.byok",
            "--vault",
            "http://127.0.0.1:1",
            "--name",
            "Key-A",
        ]),
        &["not a vault URL"],
    );
    fails(
        &r.byok(&["upload", "Key-A.byok", "--vault", v, "--name", "bad_name"]),
        &["not a valid Key Vault key name"],
    );
    fails(
        &r.byok(&[
            "verify",
            "--vault",
            v,
            "--name",
            "No-Such-Key",
            "--pub",
            "Key-A.pub.pem",
        ]),
        &["no key No-Such-Key"],
    );
    fails(
        &r.byok(&["kek", "create", "--vault", v, "--name", "KEK-A"]),
        &["already exists"],
    );
}

#[test]
fn upload_recognizes_a_key_another_tool_imported_by_its_public_key() {
    use base64::Engine;
    let r = rig(&[]);
    let v = r.vault.url.as_str();
    kek_and_package(&r, "KEK-A", "Key-A");
    // Imported as `az keyvault key import --byok-file` does: no byok tag.
    let raw = fs::read(r.tok.dir().join("Key-A.byok")).unwrap();
    let body = serde_json::json!({"key": {"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"],
        "key_hsm": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw)}, "Hsm": true});
    let imported = r.vault.call("PUT", "/keys/Key-A", Some(body));
    assert!(imported["key"]["kid"].is_string(), "{imported}");
    // Without the public key byok cannot tell it is the same key: it refuses.
    fails(
        &r.byok(&["upload", "Key-A.byok", "--vault", v, "--name", "Key-A"]),
        &["already exists"],
    );
    let j = json(&r.byok(&[
        "upload",
        "Key-A.byok",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--pub",
        "Key-A.pub.pem",
        "--json",
    ]));
    assert_eq!(j["already_done"], true);
    assert_eq!(r.vault.versions("Key-A"), 1);
    // Another key's public key does not pass for it.
    ok(&r.byok(&["keygen", "--label", "Other", "--size", "2048"]));
    fails(
        &r.byok(&[
            "upload",
            "Key-A.byok",
            "--vault",
            v,
            "--name",
            "Key-A",
            "--pub",
            "Other.pub.pem",
        ]),
        &["already exists"],
    );
}
