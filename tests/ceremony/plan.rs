//! `byok ceremony check`: every way a plan is refused or warned about, and the example
//! plans.

use crate::common::*;
use crate::rig::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

#[test]
fn plan_violations_are_reported_in_one_line_and_as_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_plan(dir, &plan_value());
    ok(&byok_in(dir, &["ceremony", "check", "plan.json"]));
    let abs = dir.join("keks/a.json");
    type Edit = Box<dyn Fn(&mut Value)>;
    // Each rule is unit-tested by calling the checker (byok-core ceremony::rules); here,
    // how the command reports one broken rule, and all of them at once.
    let cases: Vec<(&str, &[&str], Edit)> = vec![
        (
            "key-size",
            &["1024"],
            Box::new(|p| p["policies"][1]["keys"][1]["size"] = json!(1024)),
        ),
        (
            "kek-path",
            &["relative"],
            Box::new(move |p| p["policies"][0]["keys"][0]["kek"] = json!(abs.to_str().unwrap())),
        ),
    ];
    for (rule, words, edit) in cases {
        let mut plan = plan_value();
        edit(&mut plan);
        fs::write(
            dir.join("bad.json"),
            serde_json::to_vec_pretty(&plan).unwrap(),
        )
        .unwrap();
        let o = byok_in(dir, &["ceremony", "check", "bad.json"]);
        let line = fails(&o, words);
        assert!(line.contains(&format!("[{rule}]")), "{rule}: {line}");
        assert!(
            line.contains("breaks 1 rule:"),
            "{rule}: exactly one rule broken: {line}"
        );
        // The JSON report lists it too.
        let o = byok_in(dir, &["ceremony", "check", "bad.json", "--json"]);
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["ok"], false);
        assert_eq!(r["violations"][0]["rule"], rule);
    }
    // Every broken rule is reported, in one line.
    let mut plan = plan_value();
    plan["ceremony"] = json!("bad id");
    plan["policies"][0]["keys"][0]["size"] = json!(1000);
    plan["policies"][1]["service"] = json!("onedrive");
    fs::write(
        dir.join("bad.json"),
        serde_json::to_vec_pretty(&plan).unwrap(),
    )
    .unwrap();
    let line = fails(
        &byok_in(dir, &["ceremony", "check", "bad.json"]),
        &["breaks 3 rules"],
    );
    for r in ["[ceremony-id]", "[key-size]", "[service]"] {
        assert!(line.contains(r), "{line}");
    }
    // Unknown fields (a PIN, say) and bad JSON are refused.
    let mut plan = plan_value();
    plan["pin"] = json!("1234");
    fs::write(
        dir.join("bad.json"),
        serde_json::to_vec_pretty(&plan).unwrap(),
    )
    .unwrap();
    fails(
        &byok_in(dir, &["ceremony", "check", "bad.json"]),
        &["unknown field", "pin"],
    );
    let mut plan = plan_value();
    plan["policies"][0]["keys"][0]["kek_attestation"] = json!("sometimes");
    fs::write(
        dir.join("bad.json"),
        serde_json::to_vec_pretty(&plan).unwrap(),
    )
    .unwrap();
    fails(
        &byok_in(dir, &["ceremony", "check", "bad.json"]),
        &["unknown variant"],
    );
    fs::write(dir.join("bad.json"), b"{\"ceremony\": ").unwrap();
    fails(
        &byok_in(dir, &["ceremony", "check", "bad.json"]),
        &["not a valid ceremony plan"],
    );
    // A bad plan is refused by run too, before anything is touched.
    let mut plan = plan_value();
    plan["policies"][0]["keys"][0]["size"] = json!(1024);
    fs::write(
        dir.join("bad.json"),
        serde_json::to_vec_pretty(&plan).unwrap(),
    )
    .unwrap();
    fails(
        &byok_in(
            dir,
            &[
                "ceremony",
                "run",
                "bad.json",
                "--out",
                "out",
                "--non-interactive",
            ],
        ),
        &["[key-size]"],
    );
    assert!(!dir.join("out").exists());
    // Names without a common prefix are a warning, not an error.
    let mut plan = plan_value();
    plan["policies"][0]["keys"][1]["name"] = json!("OtherKey");
    fs::write(
        dir.join("warn.json"),
        serde_json::to_vec_pretty(&plan).unwrap(),
    )
    .unwrap();
    let o = byok_in(dir, &["ceremony", "check", "warn.json"]);
    ok(&o);
    assert!(
        stderr(&o).contains("warning: policy \"USA_mailboxes\": key names"),
        "{}",
        stderr(&o)
    );
}

/// The rules a `ceremony check --json` report names, in order.
fn rules_of(r: &Value) -> Vec<&str> {
    r["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect()
}

/// The import job of ceremony/multi-cloud.plan.json.
const MULTI_CLOUD_JOB: &str =
    "projects/contoso-pki/locations/europe-west1/keyRings/contoso-ceremony/importJobs/contoso-multi-2026-12";

#[test]
fn example_plans_lack_only_their_kek_files_and_pins() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ceremony");
    let mut plans: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".plan.json"))
        .collect();
    plans.sort();
    assert_eq!(
        plans,
        [
            "exchange-dep.plan.json",
            "key-roll.plan.json",
            "managed-hsm.plan.json",
            "multi-cloud.plan.json",
            "multi-workload.plan.json",
            "sharepoint-geo.plan.json"
        ],
        "every example plan is checked here"
    );
    for plan in &plans {
        let o = byok_in(&dir, &["ceremony", "check", plan, "--json"]);
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        let keys = r["keys"].as_u64().unwrap() as usize;
        // Every key's pin is a placeholder; every KEK file is missing, each file
        // reported once (the Managed HSM plan's six keys share one KEK per HSM: two
        // files; every other plan has a file per key). A stand-alone key whose wrapping
        // key did not load is checked no further: the multi-cloud plan's AWS import token
        // and GCP attestation, missing too, are not reached (see
        // `multi_cloud_example_with_its_files_breaks_only_the_azure_rules`).
        let files = match plan.as_str() {
            "managed-hsm.plan.json" => 2,
            _ => keys,
        };
        let want: Vec<&str> = std::iter::repeat_n("kek-pin", keys)
            .chain(std::iter::repeat_n("kek-file", files))
            .collect();
        assert_eq!(rules_of(&r), want, "{plan}: {r}");
    }
    // The Managed HSM example: three services, each on both HSMs, attestation required.
    let p: Value =
        serde_json::from_slice(&fs::read(dir.join("managed-hsm.plan.json")).unwrap()).unwrap();
    let services: Vec<&str> = p["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["service"].as_str().unwrap())
        .collect();
    assert_eq!(services, ["exchange", "sharepoint", "m365"]);
    for k in p["policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|x| x["keys"].as_array().unwrap())
    {
        assert!(
            k["vault"]
                .as_str()
                .unwrap()
                .ends_with(".managedhsm.azure.net"),
            "{k}"
        );
        assert_eq!(k["kek_attestation"], "required", "{k}");
    }
}

/// The multi-cloud example with software wrapping keys in its stand-alone keys' files
/// (AWS's base64 DER and import token, the GCP job's PEM and its attested description
/// under the TEST chain, OpenBao's PEM) and their pins: every target block is checked
/// and passes; only the two Azure keys' KEK files and pins are still missing.
#[test]
fn multi_cloud_example_with_its_files_breaks_only_the_azure_rules() {
    use base64::Engine;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("ceremony/multi-cloud.plan.json");
    let mut plan: Value = serde_json::from_slice(&fs::read(src).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::create_dir(dir.join("keks")).unwrap();
    let public = |bits: usize| kek(bits).private.to_public_key();
    let pin = |bits: usize| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            public(bits).to_public_key_der().unwrap().as_bytes(),
        ))
    };
    let keys = plan["keys"].as_array_mut().unwrap();
    let file = |k: &Value, f: &str| dir.join(k[f].as_str().unwrap());
    // AWS: GetParametersForImport's PublicKey as the CLI prints it (base64 DER), RSA-4096.
    let aws = &mut keys[0];
    assert_eq!(aws["target"], "aws-kms");
    let der = public(4096).to_public_key_der().unwrap();
    fs::write(
        file(aws, "kek"),
        base64::engine::general_purpose::STANDARD.encode(der.as_bytes()),
    )
    .unwrap();
    fs::write(file(&aws["aws"], "import_token"), [7u8; 1500]).unwrap();
    aws["kek_sha256"] = json!(pin(4096));
    // GCP: the import job's publicKey.pem (RSA-3072, as its method says) and its
    // description, attested by the TEST chain.
    let gcp = &mut keys[1];
    assert_eq!(gcp["target"], "gcp-kms");
    let pem3072 = public(3072).to_public_key_pem(LineEnding::LF).unwrap();
    fs::write(file(gcp, "kek"), &pem3072).unwrap();
    let chain = byok_testkit::testchain::TestChain::generate("GCP-TEST-1", true).unwrap();
    let job = chain
        .gcp_import_job_json_named(
            &public(3072),
            "RSA_OAEP_3072_SHA256_AES_256",
            gcp["gcp"]["import_job"].as_str().unwrap(),
        )
        .unwrap();
    fs::write(file(&gcp["gcp"], "attestation"), job).unwrap();
    fs::write(dir.join("test-root.pem"), chain.root_pem()).unwrap();
    gcp["kek_sha256"] = json!(pin(3072));
    // OpenBao: the transit mount's wrapping key, always RSA-4096.
    let bao = &mut keys[2];
    assert_eq!(bao["target"], "openbao");
    fs::write(
        file(bao, "kek"),
        public(4096).to_public_key_pem(LineEnding::LF).unwrap(),
    )
    .unwrap();
    bao["kek_sha256"] = json!(pin(4096));
    fs::write(
        dir.join("multi-cloud.plan.json"),
        serde_json::to_vec_pretty(&plan).unwrap(),
    )
    .unwrap();
    let o = byok_in(
        dir,
        &[
            "ceremony",
            "check",
            "multi-cloud.plan.json",
            "--trust-root",
            "test-root.pem",
            "--json",
        ],
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        rules_of(&r),
        ["kek-pin", "kek-pin", "kek-file", "kek-file"],
        "{r}\n{}",
        stderr(&o)
    );
    for v in r["violations"].as_array().unwrap() {
        assert!(
            v["place"]
                .as_str()
                .unwrap()
                .contains("Contoso-O365EX-EU-VaultA"),
            "{v}"
        );
    }
    let err = stderr(&o);
    assert!(
        err.contains("valid 24 hours") && err.contains("contoso-aws-payments-import-token.bin"),
        "{err}"
    );
    // The files are read: without the import token, and with the description of a job
    // whose key is not the plan's, both targets break their rules.
    fs::remove_file(dir.join("keks/contoso-aws-payments-import-token.bin")).unwrap();
    let other = chain
        .gcp_import_job_json_named(
            &public(2048),
            "RSA_OAEP_3072_SHA256_AES_256",
            MULTI_CLOUD_JOB,
        )
        .unwrap();
    fs::write(dir.join("keks/contoso-gcp-signing-import-job.json"), other).unwrap();
    let o = byok_in(
        dir,
        &[
            "ceremony",
            "check",
            "multi-cloud.plan.json",
            "--trust-root",
            "test-root.pem",
            "--json",
        ],
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        rules_of(&r),
        [
            "kek-pin",
            "kek-pin",
            "aws-import-token",
            "gcp-attestation",
            "kek-file",
            "kek-file"
        ],
        "{r}"
    );
}
