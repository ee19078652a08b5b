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

/// The stand-alone plan's AWS KMS key.
pub const AWS_ARN: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/// The stand-alone plan's Cloud KMS key and import job (one key ring).
pub const GCP_KEY: &str =
    "projects/contoso-p1/locations/us-east1/keyRings/ring1/cryptoKeys/signing";
pub const GCP_JOB: &str = "projects/contoso-p1/locations/us-east1/keyRings/ring1/importJobs/job1";
/// The stand-alone plan's OpenBao server.
pub const BAO_ADDR: &str = "https://bao.example.com:8200";
/// A P-256 public key (DER SubjectPublicKeyInfo, base64): what an AWS `PublicKey` of
/// another key spec looks like; not RSA.
pub const EC_SPKI_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZ8WQSNjOSqcDHH1wKYEQO7TI5ilRsui+aLS5KwRmTazUHdmsrdUqfteedOmjdBLvv/xFvz8w5gnhQaDCGRNkIA==";

/// A target's wrapping key, as the target hands it out: (file text, SHA-256 of its
/// SPKI, private key).
pub type TargetKek = (String, String, rsa::PrivateKey);

/// The other targets' wrapping keys, made once: AWS (RSA-2048, the base64 of its DER
/// SPKI as `aws kms get-parameters-for-import --query PublicKey --output text` prints
/// it), Google Cloud (RSA-3072, the import job's `publicKey.pem`), OpenBao (RSA-4096,
/// `MOUNT/wrapping_key`'s PEM).
pub struct TargetKeks {
    pub aws: TargetKek,
    pub gcp: TargetKek,
    pub bao: TargetKek,
}

fn target_kek(bits: usize, pem: bool) -> TargetKek {
    use base64::Engine as _;
    use rsa::pkcs8::EncodePublicKey;
    let k = rsa::PrivateKey::new(&mut rand::rng(), bits).expect("test wrapping key");
    let public = k.to_public_key();
    let text = if pem {
        public
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .expect("PEM")
    } else {
        let der = public.to_public_key_der().expect("DER");
        format!(
            "{}\n",
            base64::engine::general_purpose::STANDARD.encode(der.as_bytes())
        )
    };
    let fp = crate::kek::Kek::from_bytes(text.as_bytes(), None, Mode::Ceremony)
        .map(|k| hex::encode(k.sha256()))
        .expect("a wrapping key");
    (text, fp, k)
}

/// The other targets' wrapping keys, made once per test process.
pub fn target_keks() -> &'static TargetKeks {
    static K: OnceLock<TargetKeks> = OnceLock::new();
    K.get_or_init(|| TargetKeks {
        aws: target_kek(2048, false),
        gcp: target_kek(3072, true),
        bao: target_kek(4096, true),
    })
}

/// A plan with only stand-alone `keys` (no `policies`), one per target, in this order:
/// `Archive-Key` (azure, vault A, the default target), `Payments-Root` (aws-kms),
/// `Signing` (gcp-kms, RSA-3072, SHA-256 method), `app-key` (openbao, SHA256, rsa-2048).
pub fn targets_value() -> Value {
    let t = target_keks();
    json!({
        "ceremony": CEREMONY,
        "token": TOKEN,
        "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
                     {"name": "Bob Example", "role": "crypto officer"}],
        "keys": [
            {"name": "Archive-Key", "size": 2048, "vault": VAULT_A,
             "kek": "keks/a.json", "kek_sha256": keks()[0].1},
            {"name": "Payments-Root", "size": 2048, "target": "aws-kms",
             "kek": "keks/aws.b64", "kek_sha256": t.aws.1,
             "aws": {"key_arn": AWS_ARN, "import_token": "keks/aws-token.bin",
                     "wrapping_algorithm": "RSA_AES_KEY_WRAP_SHA_256"}},
            {"name": "Signing", "size": 3072, "target": "gcp-kms",
             "kek": "keks/gcp.pem", "kek_sha256": t.gcp.1,
             "gcp": {"crypto_key": GCP_KEY, "import_job": GCP_JOB,
                     "import_method": "RSA_OAEP_3072_SHA256_AES_256",
                     "algorithm": "RSA_SIGN_PKCS1_3072_SHA256"}},
            {"name": "app-key", "size": 2048, "target": "openbao",
             "kek": "keks/bao.pem", "kek_sha256": t.bao.1,
             "openbao": {"address": BAO_ADDR, "mount": "transit",
                         "hash_function": "SHA256", "type": "rsa-2048"}},
        ],
    })
}

/// The AWS import token the stand-alone plan names (opaque bytes to byok).
pub const AWS_TOKEN: &[u8] = b"\x01\x02test import token\xff";

/// [`write`], and the other targets' files beside the Azure KEKs: `keks/aws.b64`,
/// `keks/aws-token.bin`, `keks/gcp.pem`, `keks/bao.pem`; and for the tests of bad
/// inputs `keks/ec.b64` (a P-256 key) and `keks/empty-token.bin`.
pub fn write_targets(dir: &Path, plan: &Value) {
    write(dir, plan);
    let t = target_keks();
    let keks = dir.join("keks");
    for (name, bytes) in [
        ("aws.b64", t.aws.0.as_bytes()),
        ("aws-token.bin", AWS_TOKEN),
        ("gcp.pem", t.gcp.0.as_bytes()),
        ("bao.pem", t.bao.0.as_bytes()),
        ("ec.b64", EC_SPKI_B64.as_bytes()),
        ("empty-token.bin", b""),
    ] {
        std::fs::write(keks.join(name), bytes).expect("a target file");
    }
}

/// Check `plan` written into `dir` with [`write_targets`], in `mode`.
pub fn check_targets(
    dir: &Path,
    plan: &Value,
    mode: Mode,
) -> (plan::CheckReport, Option<CheckedPlan>) {
    write_targets(dir, plan);
    let roots = TrustRoots::marvell().expect("pinned roots");
    plan::check(&dir.join("plan.json"), &roots, mode).expect("a plan file")
}
