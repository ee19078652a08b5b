//! Test plans for the ceremony's unit tests: two software KEKs standing in for two
//! vaults' (made once per test process), written as KeyBundle JSON beside a plan.
//! Compiled for unit tests only (`#[cfg(test)]` in `ceremony/mod.rs`): a failed setup
//! step panics, which fails the test that needed it.

use super::plan::{self, CheckedPlan};
use crate::attestation::TrustRoots;
use crate::keyid::Mode;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::OnceLock;

pub const VAULT_A: &str = "https://contoso-vaulta1.vault.azure.net";
pub const VAULT_B: &str = "https://contoso-vaulta2.vault.azure.net";
pub const CEREMONY: &str = "contoso-test";
pub const TOKEN: &str = "Contoso-Ceremony";

/// A software KEK of vault `vault`: (KeyBundle JSON, SHA-256 of its SPKI, private key).
pub fn kek(vault: &str) -> (String, String, rsa::PrivateKey) {
    let k = rsa::PrivateKey::new(&mut rand::rng(), 2048).expect("test KEK");
    let b64 = |b: &[u8]| crate::kek::encode_b64url(b);
    let bundle = json!({
        "key": {
            "kid": format!("{vault}/keys/kek/{}", "0123456789abcdef".repeat(2)),
            "kty": "RSA-HSM",
            "key_ops": ["import"],
            "n": b64(&k.n().to_be_bytes_trimmed_vartime()),
            "e": b64(&k.e().to_be_bytes_trimmed_vartime()),
        },
        "attributes": {"enabled": true},
    })
    .to_string();
    let fp = crate::kek::Kek::from_bytes(bundle.as_bytes(), None, Mode::Ceremony)
        .map(|k| hex::encode(k.sha256()))
        .expect("a KEK");
    (bundle, fp, k)
}

/// The two vaults' KEKs (KeyBundle JSON, fingerprint, private key), made once.
pub fn keks() -> &'static [(String, String, rsa::PrivateKey); 2] {
    static K: OnceLock<[(String, String, rsa::PrivateKey); 2]> = OnceLock::new();
    K.get_or_init(|| [kek(VAULT_A), kek(VAULT_B)])
}

/// A plan key in vault A (`a`) or B.
pub fn key(name: &str, a: bool) -> Value {
    let (file, fp) = if a {
        ("keks/a.json", &keks()[0].1)
    } else {
        ("keks/b.json", &keks()[1].1)
    };
    json!({"vault": if a { VAULT_A } else { VAULT_B }, "name": name, "size": 2048,
           "kek": file, "kek_sha256": fp})
}

/// A plan with `keys` keys (2 or 4): an Exchange DEP, then a SharePoint DEP.
pub fn value(keys: usize) -> Value {
    let mut policies = vec![json!({"name": "USA_mailboxes", "service": "exchange",
        "keys": [key("Contoso-EX-A1-Key001", true), key("Contoso-EX-A2-Key001", false)]})];
    if keys == 4 {
        policies.push(json!({"name": "NA_geo", "service": "sharepoint",
            "admin_url": "https://contoso-admin.sharepoint.com",
            "keys": [key("Contoso-SP-A1-Key001", true), key("Contoso-SP-A2-Key001", false)]}));
    }
    json!({
        "ceremony": CEREMONY,
        "token": TOKEN,
        "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
                     {"name": "Bob Example", "role": "crypto officer"}],
        "policies": policies,
    })
}

/// Write the KEK files and `plan` into `dir` as `plan.json`.
pub fn write(dir: &Path, plan: &Value) {
    std::fs::create_dir_all(dir.join("keks")).expect("keks dir");
    std::fs::write(dir.join("keks/a.json"), &keks()[0].0).expect("kek a");
    std::fs::write(dir.join("keks/b.json"), &keks()[1].0).expect("kek b");
    std::fs::write(
        dir.join("plan.json"),
        serde_json::to_vec_pretty(plan).expect("json"),
    )
    .expect("plan");
}

/// Check `plan` written into `dir`.
pub fn check(dir: &Path, plan: &Value) -> (plan::CheckReport, Option<CheckedPlan>) {
    write(dir, plan);
    let roots = TrustRoots::marvell().expect("pinned roots");
    plan::check(&dir.join("plan.json"), &roots, Mode::Ceremony).expect("a plan file")
}

/// A temp dir holding a sound plan of `keys` keys, and the plan checked.
pub fn checked(keys: usize) -> (tempfile::TempDir, CheckedPlan) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (report, plan) = check(dir.path(), &value(keys));
    let plan = plan.unwrap_or_else(|| panic!("a sound plan: {:?}", report.violations));
    (dir, plan)
}
