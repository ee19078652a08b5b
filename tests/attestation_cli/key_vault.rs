//! Key Vault has no attestations.

use crate::common::*;
use crate::rig::*;
use serde_json::Value;
use std::fs;

#[test]
fn key_vault_has_no_attestation() {
    let r = rig(false);
    let v = r.sim.url.as_str();
    ok(&r.byok(&[
        "kek", "create", "--vault", v, "--name", "KEK-P", "--size", "2048",
    ]));
    fails(
        &r.byok(&[
            "kek",
            "fetch",
            "--vault",
            v,
            "--name",
            "KEK-P",
            "--out",
            "kek.json",
            "--attestation",
        ]),
        &["Key Vault Premium does not provide key attestation; only Managed HSM does"],
    );
    assert!(!r.path("kek.json").exists());
    ok(&r.byok(&[
        "kek", "fetch", "--vault", v, "--name", "KEK-P", "--out", "kek.json",
    ]));
    let text = ok(&r.byok(&["kek", "inspect", "kek.json"]));
    assert!(text.contains("attestation: none"), "{text}");
    ok(&r.byok(&["keygen", "--label", "Key-P1", "--size", "2048"]));
    fails(
        &r.byok(&[
            "wrap",
            "--key",
            "Key-P1",
            "--kek",
            "kek.json",
            "--out",
            "p1.byok",
            "--require-attestation",
        ]),
        &["without an attestation"],
    );
    assert!(!r.path("p1.byok").exists());
    // A real Key Vault KEK (host *.vault.azure.net) is named for what it is.
    let mut kek: Value =
        serde_json::from_str(&fs::read_to_string(r.path("kek.json")).unwrap()).unwrap();
    let kid = kek["key"]["kid"].as_str().unwrap().to_string();
    let ver = kid.rsplit('/').next().unwrap();
    kek["key"]["kid"] = Value::from(format!(
        "https://contoso-kv1.vault.azure.net/keys/KEK-P/{ver}"
    ));
    r.write("kv.json", &kek);
    fails(
        &r.byok(&["kek", "inspect", "kv.json", "--require-attestation"]),
        &["Key Vault Premium does not provide key attestation; only Managed HSM does"],
    );
    let text = ok(&r.byok(&["kek", "inspect", "kv.json"]));
    assert!(
        text.contains("Key Vault Premium does not provide key attestation"),
        "{text}"
    );
    // The Key Vault simulator answers the attestation route as a Key Vault does.
    let e = r.sim.get(&format!("/keys/KEK-P/{ver}/attestation"));
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Managed HSM"),
        "{e}"
    );
}
