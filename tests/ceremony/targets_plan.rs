//! `byok ceremony check` on plans of stand-alone keys for every target (each rule is
//! unit-tested in byok-core's ceremony::rules::standalone): a sound four-target plan,
//! and Google Cloud's import-job attestation verified with the TEST chain's root given
//! by `--trust-root`.

use crate::common::*;
use byok_testkit::testchain::TestChain;
use byok_testkit::testkek::TestKek;
use rsa::pkcs8::EncodePublicKey;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

const VAULT: &str = "https://contoso-archive.vault.azure.net";
const GCP_KEY: &str = "projects/p-1/locations/us-east1/keyRings/ring1/cryptoKeys/signing";
const GCP_JOB: &str = "projects/p-1/locations/us-east1/keyRings/ring1/importJobs/job1";
const SHA256_3072: &str = "RSA_OAEP_3072_SHA256_AES_256";

struct Rig {
    chain: TestChain,
    azure: TestKek,
    aws: rsa::PublicKey,
    gcp: rsa::PublicKey,
    other3072: rsa::PublicKey,
    bao: rsa::PublicKey,
}

fn rig() -> &'static Rig {
    static R: OnceLock<Rig> = OnceLock::new();
    R.get_or_init(|| {
        let new = |bits| {
            rsa::PrivateKey::new(&mut rand::rng(), bits)
                .unwrap()
                .to_public_key()
        };
        Rig {
            chain: TestChain::generate("GCP-PLAN-1", true).unwrap(),
            azure: TestKek::generate(2048, VAULT, "archive-kek").unwrap(),
            aws: new(2048),
            gcp: new(3072),
            other3072: new(3072),
            bao: new(4096),
        }
    })
}

fn pem(k: &rsa::PublicKey) -> String {
    k.to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap()
}

fn fp(k: &rsa::PublicKey) -> String {
    sha256_hex(k.to_public_key_der().unwrap().as_bytes())
}

fn sha256_hex(b: &[u8]) -> String {
    byok_core::util::sha256_hex(b)
}

/// Write the wrapping keys, the import token, the job's description (of `job_key`,
/// made for `job_method`, attested by the TEST chain) and `plan` into `dir`.
fn write(dir: &Path, plan: &Value, job_key: &rsa::PublicKey, job_method: &str) {
    use base64::Engine as _;
    let r = rig();
    fs::create_dir_all(dir.join("keks")).unwrap();
    let aws = base64::engine::general_purpose::STANDARD
        .encode(r.aws.to_public_key_der().unwrap().as_bytes());
    for (name, text) in [
        ("archive.json", r.azure.key_bundle_json()),
        ("aws.b64", aws),
        ("aws-token.bin", "\u{1}binary token\u{2}".into()),
        ("gcp.pem", pem(&r.gcp)),
        ("bao.pem", pem(&r.bao)),
        (
            "gcp-job.json",
            r.chain.gcp_import_job_json(job_key, job_method).unwrap(),
        ),
        ("test-root.pem", r.chain.root_pem()),
    ] {
        fs::write(dir.join("keks").join(name), text).unwrap();
    }
    fs::write(
        dir.join("plan.json"),
        serde_json::to_vec_pretty(plan).unwrap(),
    )
    .unwrap();
}

/// Four stand-alone keys, one per target, and no policies; the GCP key names its job's
/// description.
fn plan() -> Value {
    let r = rig();
    json!({
        "ceremony": "multi-cloud-1",
        "token": "Contoso-Ceremony",
        "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
                     {"name": "Bob Example", "role": "crypto officer"}],
        "keys": [
            {"name": "Archive-Key", "size": 2048, "vault": VAULT, "kek": "keks/archive.json",
             "kek_sha256": hex::encode(r.azure.kek().unwrap().sha256())},
            {"name": "Payments-Root", "size": 3072, "target": "aws-kms", "kek": "keks/aws.b64",
             "kek_sha256": fp(&r.aws),
             "aws": {"key_arn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                     "import_token": "keks/aws-token.bin", "wrapping_algorithm": "RSA_AES_KEY_WRAP_SHA_256"}},
            {"name": "Signing", "size": 3072, "target": "gcp-kms", "kek": "keks/gcp.pem",
             "kek_sha256": fp(&r.gcp),
             "gcp": {"crypto_key": GCP_KEY, "import_job": GCP_JOB, "import_method": SHA256_3072,
                     "algorithm": "RSA_SIGN_PKCS1_3072_SHA256", "attestation": "keks/gcp-job.json"}},
            {"name": "app-key", "size": 2048, "target": "openbao", "kek": "keks/bao.pem",
             "kek_sha256": fp(&r.bao),
             "openbao": {"address": "https://bao.example.com:8200", "mount": "transit",
                         "hash_function": "SHA256", "type": "rsa-2048"}}
        ]
    })
}

const WITH_ROOT: [&str; 2] = ["--trust-root", "keks/test-root.pem"];

#[test]
fn a_four_target_plan_with_an_attested_gcp_job_is_sound() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let r = rig();
    write(dir, &plan(), &r.gcp, SHA256_3072);
    fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["ceremony", "check", "plan.json"];
        a.extend_from_slice(extra);
        a
    }
    let mut json_args = WITH_ROOT.to_vec();
    json_args.push("--json");
    let o = byok_in(dir, &args(&json_args));
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["policies"], 0);
    assert_eq!(report["keys"], 4);
    assert_eq!(report["violations"], json!([]));
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("valid 24 hours")
            && warnings.contains(&sha256_hex(b"\x01binary token\x02")),
        "{warnings}"
    );
    let out = ok(&byok_in(dir, &args(&WITH_ROOT)));
    assert!(out.contains("is sound: 0 policies, 4 keys"), "{out}");
    // Without the TEST root, the job's attestation does not verify: one broken rule.
    let line = fails(
        &byok_in(dir, &args(&[])),
        &[
            "breaks 1 rule",
            "[gcp-attestation]",
            "key \"Signing\"",
            "the import job: attestation",
        ],
    );
    assert!(!line.contains("panicked"), "{line}");
    let o = byok_in(dir, &args(&["--json"]));
    assert_eq!(o.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["violations"].as_array().unwrap().len(), 1);
    assert_eq!(report["violations"][0]["rule"], "gcp-attestation");
    assert_eq!(report["violations"][0]["place"], "key \"Signing\"");
}

#[test]
fn a_gcp_job_of_another_key_or_method_breaks_the_attestation_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let r = rig();
    let check = || {
        let mut a = vec!["ceremony", "check", "plan.json"];
        a.extend_from_slice(&WITH_ROOT);
        byok_in(dir, &a)
    };
    // The HSM attests the job's key, but the plan's kek file is another key.
    write(dir, &plan(), &r.other3072, SHA256_3072);
    fails(
        &check(),
        &[
            "breaks 1 rule",
            "[gcp-attestation]",
            "is not the KEK the wrap uses",
        ],
    );
    // The job was made for SHA-1; the plan wraps with SHA-256.
    write(dir, &plan(), &r.gcp, "RSA_OAEP_3072_SHA1_AES_256");
    fails(
        &check(),
        &[
            "breaks 1 rule",
            "[gcp-attestation]",
            "the plan says RSA_OAEP_3072_SHA256_AES_256",
        ],
    );
    // The plan's method is for RSA-4096, the job's key is RSA-3072: the size rule says
    // so, and the description (made for the plan's method) disagrees too.
    let mut p = plan();
    p["keys"][2]["gcp"]["import_method"] = json!("RSA_OAEP_4096_SHA256_AES_256");
    write(dir, &p, &r.gcp, "RSA_OAEP_4096_SHA256_AES_256");
    let line = fails(
        &check(),
        &["breaks 2 rules", "[gcp-method-size]", "[gcp-attestation]"],
    );
    assert!(line.contains("RSA-3072"), "{line}");
}

#[test]
fn an_unknown_target_is_one_error_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut p = plan();
    p["keys"][0]["target"] = json!("azure-kms");
    write(dir, &p, &rig().gcp, SHA256_3072);
    for extra in [&[][..], &["--json"][..]] {
        let mut a = vec!["ceremony", "check", "plan.json"];
        a.extend_from_slice(extra);
        fails(
            &byok_in(dir, &a),
            &["not a valid ceremony plan", "unknown variant `azure-kms`"],
        );
    }
}
