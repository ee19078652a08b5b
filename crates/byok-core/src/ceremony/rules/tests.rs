//! Every plan rule, by calling the checker.

use super::*;
use crate::ceremony::testplan::{self, key, CEREMONY};
use serde_json::{json, Value};

type Edit = Box<dyn Fn(&mut Value)>;

/// Every rule, broken alone: the checker names it, with the words of its message.
#[test]
fn every_rule_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let abs = dir.path().join("keks/a.json").display().to_string();
    let fp_b = testplan::keks()[1].1.clone();
    let fp_b2 = fp_b.clone();
    let cases: Vec<(&str, &[&str], Edit)> = vec![
        (
            "ceremony-id",
            &["ceremony"],
            Box::new(|p| p["ceremony"] = json!("../etc")),
        ),
        (
            "token-label",
            &["token"],
            Box::new(|p| p["token"] = json!("")),
        ),
        (
            "token-label",
            &["token"],
            Box::new(|p| p["token"] = json!(" Padded")),
        ),
        (
            "two-officers",
            &["officers", "dual control"],
            Box::new(|p| {
                p["officers"].as_array_mut().unwrap().pop();
            }),
        ),
        (
            "distinct-officers",
            &["officer 2", "alice example", "named twice"],
            Box::new(|p| p["officers"][1]["name"] = json!("alice example ")),
        ),
        (
            "officer-named",
            &["officer 2"],
            Box::new(|p| p["officers"][1]["role"] = json!("")),
        ),
        (
            "officer-named",
            &["officer 1", "control characters"],
            Box::new(|p| p["officers"][0]["name"] = json!("Alice\u{1b}[2K\rMallory")),
        ),
        (
            "policy-description",
            &["policy \"USA_mailboxes\"", "control characters"],
            Box::new(|p| p["policies"][0]["description"] = json!("US\rmailboxes")),
        ),
        (
            "token-label",
            &["printable"],
            Box::new(|p| p["token"] = json!("Tok\u{7}")),
        ),
        (
            "officer-named",
            &["officer 2", "invisible"],
            Box::new(|p| p["officers"][1]["name"] = json!("Bob \u{202e}elpmaxE")),
        ),
        (
            "officer-named",
            &["officer 2", "several scripts"],
            // A Cyrillic "о" among Latin letters.
            Box::new(|p| p["officers"][1]["name"] = json!("B\u{43e}b Example")),
        ),
        (
            "distinct-officers",
            &["officer 2", "named twice"],
            // Full-width letters: one person, written wider.
            Box::new(|p| {
                p["officers"][1]["name"] = json!("\u{FF21}\u{FF2C}\u{FF29}\u{FF23}\u{FF25} example")
            }),
        ),
        (
            "policy-name",
            &["policy \"Pol$(Stop-Computer -Force)\"", "ASCII letters"],
            Box::new(|p| p["policies"][0]["name"] = json!("Pol$(Stop-Computer -Force)")),
        ),
        (
            "policy-name",
            &["ASCII letters"],
            Box::new(|p| p["policies"][0]["name"] = json!("Pol\u{2019};Stop-Computer")),
        ),
        (
            "policy-name",
            &["ASCII letters"],
            Box::new(|p| p["policies"][0]["name"] = json!("-Force")),
        ),
        (
            "policy-description",
            &["policy \"USA_mailboxes\"", "control"],
            Box::new(|p| {
                p["policies"][0]["description"] =
                    json!("US $(Remove-Item C:\\ -Recurse)\nStop-Computer")
            }),
        ),
        (
            "policy-description",
            &["typographic quotes"],
            Box::new(|p| {
                p["policies"][0]["description"] = json!("US\u{2019}; Stop-Computer; \u{2018}")
            }),
        ),
        (
            "policy-description",
            &["backticks"],
            Box::new(|p| p["policies"][0]["description"] = json!("US `$x")),
        ),
        (
            "admin-url",
            &["policy \"NA_geo\"", "SharePoint admin host"],
            Box::new(|p| {
                p["policies"][1]["admin_url"] =
                    json!("https://contoso-admin.sharepoint.com/;Stop-Computer;#")
            }),
        ),
        (
            "admin-url",
            &["SharePoint admin host"],
            Box::new(|p| p["policies"][1]["admin_url"] = json!("https://evil.example.com")),
        ),
        (
            "admin-url",
            &["SharePoint admin host"],
            Box::new(|p| {
                p["policies"][1]["admin_url"] = json!("https://contoso-admin.sharepoint.com:444")
            }),
        ),
        (
            "admin-url",
            &["SharePoint admin host"],
            Box::new(|p| {
                p["policies"][1]["admin_url"] = json!("https://u@contoso-admin.sharepoint.com")
            }),
        ),
        (
            "admin-url",
            &["SharePoint admin host"],
            Box::new(|p| {
                p["policies"][1]["admin_url"] = json!("https://contoso-admin.sharepoint.com/?a=b")
            }),
        ),
        (
            "admin-url",
            &["SharePoint admin host"],
            Box::new(|p| p["policies"][1]["admin_url"] = json!("https://contoso.sharepoint.com")),
        ),
        (
            "admin-url",
            &["SharePoint admin host"],
            Box::new(|p| {
                p["policies"][1]["admin_url"] =
                    json!("https://contoso-admin.sharepoint.com.evil.io")
            }),
        ),
        (
            "one-multi-workload-dep",
            &[
                "policies \"USA_mailboxes\", \"NA_geo\"",
                "exactly one multi-workload DEP",
            ],
            Box::new(|p| {
                p["policies"][0]["service"] = json!("m365");
                p["policies"][1]["service"] = json!("m365");
                p["policies"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("admin_url");
            }),
        ),
        (
            "admin-url",
            &["policy \"USA_mailboxes\"", "a multi-workload DEP has none"],
            Box::new(|p| {
                p["policies"][0]["service"] = json!("m365");
                p["policies"][0]["admin_url"] = json!("https://contoso-admin.sharepoint.com");
            }),
        ),
        (
            "roll-whole-policy",
            &["policy \"USA_mailboxes\"", "1 of its 2 keys"],
            Box::new(|p| p["policies"][0]["keys"][0]["roll"] = json!(true)),
        ),
        (
            "roll-sharepoint-stagger",
            &["policy \"NA_geo\"", "stagger them"],
            Box::new(|p| {
                for i in 0..2 {
                    p["policies"][1]["keys"][i]["roll"] = json!(true);
                    p["policies"][1]["keys"][i]["key_type"] = json!("primary");
                }
            }),
        ),
        (
            "roll-key-type",
            &["Contoso-SP-A1-Key001", "needs \"key_type\""],
            Box::new(|p| {
                p["policies"][1]["keys"].as_array_mut().unwrap().pop();
                p["policies"][1]["keys"][0]["roll"] = json!(true);
            }),
        ),
        (
            "roll-label",
            &[
                "key \"Kxxxx",
                "longer than 127 characters",
                "shorten the ceremony id",
            ],
            Box::new(|p| {
                p["policies"][0]["keys"][0]["name"] = json!(format!("K{}", "x".repeat(100)));
                p["policies"][0]["keys"][0]["roll"] = json!(true);
                p["policies"][0]["keys"][1]["roll"] = json!(true);
                p["ceremony"] = json!(format!("c{}", "y".repeat(40)));
            }),
        ),
        (
            "roll-key-type",
            &["Contoso-EX-A1-Key001", "only for a rolled SharePoint key"],
            Box::new(|p| p["policies"][0]["keys"][0]["key_type"] = json!("primary")),
        ),
        (
            "two-keys",
            &["policy \"USA_mailboxes\"", "rolls 3 keys"],
            Box::new(|p| {
                let extra = key("Contoso-EX-A1-Key002", true);
                p["policies"][0]["keys"].as_array_mut().unwrap().push(extra);
                for i in 0..3 {
                    p["policies"][0]["keys"][i]["roll"] = json!(true);
                }
            }),
        ),
        (
            "unique-key-names",
            &[
                "key \"Contoso-EX-A1-Key001-contoso-test\"",
                "also used in policy \"USA_mailboxes\"",
            ],
            Box::new(|p| {
                p["policies"][0]["keys"][0]["roll"] = json!(true);
                p["policies"][0]["keys"][1]["roll"] = json!(true);
                p["policies"][1]["keys"][0]["name"] = json!("Contoso-EX-A1-Key001-contoso-test");
            }),
        ),
        (
            "service",
            &["policy \"USA_mailboxes\"", "teams"],
            Box::new(|p| p["policies"][0]["service"] = json!("teams")),
        ),
        (
            "admin-url",
            &["policy \"NA_geo\"", "needs admin_url"],
            Box::new(|p| {
                p["policies"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("admin_url");
            }),
        ),
        (
            "admin-url",
            &["policy \"NA_geo\"", "not an https"],
            Box::new(|p| {
                p["policies"][1]["admin_url"] = json!("http://contoso-admin.sharepoint.com")
            }),
        ),
        (
            "admin-url",
            &["policy \"NA_geo\"", "not an https"],
            Box::new(|p| {
                p["policies"][1]["admin_url"] =
                    json!("https://contoso-admin.sharepoint.com/;Remove-Item -Recurse C:\\")
            }),
        ),
        (
            "admin-url",
            &["policy \"USA_mailboxes\"", "for sharepoint policies"],
            Box::new(|p| {
                p["policies"][0]["admin_url"] = json!("https://contoso-admin.sharepoint.com")
            }),
        ),
        (
            "two-keys",
            &["policy \"USA_mailboxes\"", "1 key"],
            Box::new(|p| {
                p["policies"][0]["keys"].as_array_mut().unwrap().pop();
            }),
        ),
        (
            "two-vaults",
            &[
                "policy \"USA_mailboxes\"",
                "both keys are in vault",
                "two vaults",
            ],
            Box::new(|p| p["policies"][0]["keys"][1] = key("Contoso-EX-A1-Key002", true)),
        ),
        (
            "key-name",
            &["Bad_Name"],
            Box::new(|p| p["policies"][0]["keys"][0]["name"] = json!("Bad_Name")),
        ),
        (
            "key-name",
            &["transcript signer"],
            Box::new(|p| {
                p["policies"][0]["keys"][0]["name"] = json!(format!("{CEREMONY}-transcript-signer"))
            }),
        ),
        (
            "unique-key-names",
            &["policy \"NA_geo\"", "also used in policy \"USA_mailboxes\""],
            Box::new(|p| p["policies"][1]["keys"][0]["name"] = json!("contoso-ex-a1-key001")),
        ),
        (
            "key-size",
            &["1024"],
            Box::new(|p| p["policies"][1]["keys"][1]["size"] = json!(1024)),
        ),
        (
            "vault-url",
            &["https://example.com"],
            Box::new(|p| p["policies"][0]["keys"][0]["vault"] = json!("https://example.com")),
        ),
        (
            "vault-url",
            &["loopback", "rehearsal"],
            Box::new(|p| p["policies"][0]["keys"][0]["vault"] = json!("https://127.0.0.1:8443")),
        ),
        (
            "kek-pin",
            &["not the pinned"],
            Box::new(move |p| p["policies"][0]["keys"][0]["kek_sha256"] = json!(fp_b.clone())),
        ),
        (
            "kek-pin",
            &["64 hex digits"],
            Box::new(|p| p["policies"][0]["keys"][0]["kek_sha256"] = json!("abc")),
        ),
        (
            "kek-vault",
            &[
                "is in vault https://contoso-vaulta2",
                "not in the key's vault https://contoso-vaulta1",
            ],
            Box::new(move |p| {
                p["policies"][0]["keys"][0]["kek"] = json!("keks/b.json");
                p["policies"][0]["keys"][0]["kek_sha256"] = json!(fp_b2.clone());
            }),
        ),
        (
            "kek-file",
            &["keks/missing.json"],
            Box::new(|p| p["policies"][0]["keys"][0]["kek"] = json!("keks/missing.json")),
        ),
        (
            "kek-path",
            &["relative"],
            Box::new(move |p| p["policies"][0]["keys"][0]["kek"] = json!(abs.clone())),
        ),
        // A control character in the path would act on the terminal in every report.
        (
            "kek-path",
            &["relative"],
            Box::new(|p| p["policies"][0]["keys"][0]["kek"] = json!("keks/a\u{1b}[2J.json")),
        ),
        (
            "kek-path",
            &["relative"],
            Box::new(|p| p["policies"][0]["keys"][0]["kek"] = json!("keks/\na.json")),
        ),
        (
            "policies",
            &["neither a policy nor a key"],
            Box::new(|p| p["policies"] = json!([])),
        ),
        (
            "witness-named",
            &["witness 1", "name and a role"],
            Box::new(|p| p["witnesses"] = json!([{"name": "Carol Auditor", "role": " "}])),
        ),
        (
            "witness-named",
            &["witness 1", "control characters"],
            Box::new(|p| p["witnesses"] = json!([{"name": "Carol\u{202e}", "role": "auditor"}])),
        ),
        (
            "witness-named",
            &["witness 2", "several scripts"],
            Box::new(|p| {
                p["witnesses"] = json!([{"name": "Carol Auditor", "role": "auditor"},
                                         {"name": "D\u{430}ve Witness", "role": "witness"}])
            }),
        ),
        (
            "distinct-witnesses",
            &["witness 1", "already named as an officer"],
            Box::new(|p| p["witnesses"] = json!([{"name": "BOB EXAMPLE", "role": "auditor"}])),
        ),
        (
            "distinct-witnesses",
            &["witness 2", "already named"],
            Box::new(|p| {
                p["witnesses"] = json!([{"name": "Carol Auditor", "role": "auditor"},
                                         {"name": "ｃａｒｏｌ auditor", "role": "witness"}])
            }),
        ),
        (
            "location",
            &["location", "printable"],
            Box::new(|p| p["location"] = json!("Room 4\r\nRoom 5")),
        ),
        (
            "location",
            &["location"],
            Box::new(|p| p["location"] = json!("  ")),
        ),
        (
            "hsm-bags",
            &["hsm_bags.out", "no bag number"],
            Box::new(|p| p["hsm_bags"] = json!({"in": ["TEB-1"], "out": []})),
        ),
        (
            "hsm-bags",
            &["hsm_bags.in", "not a bag number"],
            Box::new(|p| p["hsm_bags"] = json!({"in": ["TEB 1"], "out": ["TEB-2"]})),
        ),
        (
            "hsm-bags",
            &["hsm_bags.in", "not a bag number"],
            Box::new(|p| p["hsm_bags"] = json!({"in": ["<b>"], "out": ["TEB-2"]})),
        ),
        // A bag is sealed once: the new bag cannot be one just opened.
        (
            "hsm-bags",
            &["hsm_bags.out", "\"teb-1\" is listed twice"],
            Box::new(|p| p["hsm_bags"] = json!({"in": ["TEB-1"], "out": ["teb-1"]})),
        ),
    ];
    for (rule, words, edit) in cases {
        let mut plan = testplan::value(4);
        edit(&mut plan);
        let (report, checked) = testplan::check(dir.path(), &plan);
        assert!(checked.is_none(), "{rule}: a broken plan is not checked");
        assert_eq!(
            report.violations.len(),
            1,
            "{rule}: {:?}",
            report.violations
        );
        let v = &report.violations[0];
        assert_eq!(v.rule, rule, "{v:?}");
        let text = v.text();
        for w in words {
            assert!(text.contains(w), "{rule}: {w:?} not in {text}");
        }
    }
}

#[test]
fn the_record_fields_are_optional_and_strict() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = testplan::value(2);
    v["location"] = json!("Contoso HQ, secure room 4.12");
    v["witnesses"] = json!([{"name": "Carol Auditor", "role": "internal auditor"},
                            {"name": "山田 太郎", "role": "witness"}]);
    v["hsm_bags"] = json!({"in": ["TEB-100231", "TEB-100232"], "out": ["TEB-100298"]});
    let (report, checked) = testplan::check(dir.path(), &v);
    let plan = checked.unwrap_or_else(|| panic!("{:?}", report.violations));
    assert_eq!(plan.plan.witnesses.len(), 2);
    let bags = plan.plan.hsm_bags.as_ref().unwrap();
    assert_eq!(bags.bags_in, ["TEB-100231", "TEB-100232"]);
    assert_eq!(bags.bags_out, ["TEB-100298"]);
    // Unknown fields stay errors, inside the new objects too.
    for (field, value) in [
        (
            "hsm_bags",
            json!({"in": ["A"], "out": ["B"], "spare": ["C"]}),
        ),
        ("hsm_bags", json!({"in": ["A"]})),
        (
            "witnesses",
            json!([{"name": "Carol", "role": "auditor", "id": "x"}]),
        ),
    ] {
        let mut v = testplan::value(2);
        v[field] = value;
        testplan::write(dir.path(), &v);
        let roots = crate::attestation::TrustRoots::marvell().unwrap();
        let e = crate::ceremony::plan::check(
            &dir.path().join("plan.json"),
            &roots,
            crate::keyid::Mode::Ceremony,
        )
        .expect_err("refused");
        assert!(e.message().contains("not a valid ceremony plan"), "{e}");
    }
    // Absent, they leave the plan as it was.
    let (_, checked) = testplan::check(dir.path(), &testplan::value(2));
    let plan = checked.unwrap();
    assert!(plan.plan.location.is_none() && plan.plan.witnesses.is_empty());
    assert!(plan.plan.hsm_bags.is_none());
}

#[test]
fn a_sound_plan_passes_with_its_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let (report, checked) = testplan::check(dir.path(), &testplan::value(4));
    let plan = checked.expect("sound");
    assert!(report.ok && report.violations.is_empty());
    assert_eq!((report.policies, report.keys), (2, 4));
    assert!(report
        .warnings
        .iter()
        .any(|w| w.contains("two different Azure regions")));
    assert!(report.warnings.iter().any(|w| w.contains("50 DEPs")));
    assert_eq!(plan.mode, Mode::Ceremony);
    // Names without a common prefix are a warning, not a violation.
    let mut v = testplan::value(2);
    v["policies"][0]["keys"][1]["name"] = json!("OtherKey");
    let (report, checked) = testplan::check(dir.path(), &v);
    assert!(checked.is_some());
    assert!(report
        .warnings
        .iter()
        .any(|w| w.contains("share no common prefix")));
}

#[test]
fn one_multi_workload_policy_passes_with_its_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = testplan::value(4);
    v["policies"][0]["service"] = json!("m365");
    let (report, checked) = testplan::check(dir.path(), &v);
    let plan = checked.expect("sound");
    assert_eq!(plan.keys.iter().filter(|k| k.service == "m365").count(), 2);
    assert!(report
        .warnings
        .iter()
        .any(|w| w.contains("one multi-workload DEP")
            && w.contains("Get-M365DataAtRestEncryptionPolicy")));
    // No Exchange policy is left: no Exchange warning.
    assert!(!report.warnings.iter().any(|w| w.contains("50 DEPs")));
}

#[test]
fn dual_control_is_the_plans_unless_a_key_says_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let trusted = |v: &Value| -> Vec<bool> {
        let (_, checked) = testplan::check(dir.path(), v);
        checked
            .expect("sound")
            .keys
            .iter()
            .map(|k| k.wrap_with_trusted)
            .collect()
    };
    let mut v = testplan::value(4);
    assert_eq!(trusted(&v), [false; 4], "off by default");
    v["wrap_with_trusted"] = json!(true);
    v["policies"][1]["keys"][0]["wrap_with_trusted"] = json!(false);
    assert_eq!(trusted(&v), [true, true, false, true]);
    let mut v = testplan::value(4);
    v["policies"][0]["keys"][1]["wrap_with_trusted"] = json!(true);
    assert_eq!(trusted(&v), [false, true, false, false]);
    // Not a boolean: the plan does not load, and says where.
    v["wrap_with_trusted"] = json!("yes");
    testplan::write(dir.path(), &v);
    let roots = crate::attestation::TrustRoots::marvell().unwrap();
    let e = crate::ceremony::plan::check(&dir.path().join("plan.json"), &roots, Mode::Ceremony)
        .unwrap_err();
    assert!(e.message().contains("expected a boolean"), "{e}");
}

/// A plan whose SharePoint policy is on two Managed HSMs (KEKs without attestation).
fn managed_hsm_plan(dir: &Path) -> Value {
    std::fs::create_dir_all(dir.join("keks")).unwrap();
    let mut v = testplan::value(4);
    for (i, url) in [
        "https://contoso-o365-mhsm1.managedhsm.azure.net",
        "https://contoso-o365-mhsm2.managedhsm.azure.net",
    ]
    .into_iter()
    .enumerate()
    {
        let (bundle, fp, _) = testplan::kek(url);
        std::fs::write(dir.join(format!("keks/hsm{i}.json")), bundle).unwrap();
        v["policies"][1]["keys"][i] = json!({"vault": url, "name": format!("Contoso-SP-M{i}-Key001"),
            "size": 2048, "kek": format!("keks/hsm{i}.json"), "kek_sha256": fp});
    }
    v
}

#[test]
fn managed_hsm_keys_require_kek_attestation_unless_the_plan_says_optional() {
    let dir = tempfile::tempdir().unwrap();
    let is_warning = |w: &String| w.contains("Managed HSM") && w.contains("\"required\"");
    // Absent: required for the Managed HSM keys (whose KEKs have none), not for the
    // Key Vault keys.
    let mut v = managed_hsm_plan(dir.path());
    let (report, checked) = testplan::check(dir.path(), &v);
    assert!(checked.is_none());
    let places: Vec<(&str, &str)> = report
        .violations
        .iter()
        .map(|x| (x.rule, x.place.as_str()))
        .collect();
    assert_eq!(
        places,
        [
            (
                "kek-attestation",
                "policy \"NA_geo\" key \"Contoso-SP-M0-Key001\""
            ),
            (
                "kek-attestation",
                "policy \"NA_geo\" key \"Contoso-SP-M1-Key001\""
            ),
        ]
    );
    assert!(!report.warnings.iter().any(is_warning));
    // Explicitly optional: allowed, with a warning for each Managed HSM key.
    for k in 0..2 {
        v["policies"][1]["keys"][k]["kek_attestation"] = json!("optional");
        v["policies"][0]["keys"][k]["kek_attestation"] = json!("optional");
    }
    let (report, checked) = testplan::check(dir.path(), &v);
    let plan = checked.expect("sound");
    let warned: Vec<&String> = report.warnings.iter().filter(|w| is_warning(w)).collect();
    assert_eq!(warned.len(), 2, "{:?}", report.warnings);
    assert!(warned[0].contains("Contoso-SP-M0-Key001"), "{}", warned[0]);
    assert!(plan
        .keys
        .iter()
        .all(|k| k.key.kek_attestation_or_default() == KekAttestation::Optional));
    // Explicitly required: required, as absent.
    v["policies"][1]["keys"][0]["kek_attestation"] = json!("required");
    let (report, _) = testplan::check(dir.path(), &v);
    assert_eq!(report.violations.len(), 1);
    assert_eq!(report.violations[0].rule, "kek-attestation");
}

#[test]
fn the_default_kek_attestation_follows_the_vault() {
    let key = |vault: &str, set: Option<KekAttestation>| super::super::plan::PlanKey {
        vault: vault.into(),
        name: "k".into(),
        size: 2048,
        kek: "k.json".into(),
        kek_sha256: String::new(),
        kek_attestation: set,
        wrap_with_trusted: None,
        roll: false,
        key_type: None,
    };
    for url in [
        "https://contoso-o365-mhsm1.managedhsm.azure.net",
        "https://Contoso.ManagedHSM.azure.net/",
        "https://contoso.managedhsm.azure.cn",
        "https://contoso.managedhsm.usgovcloudapi.net",
    ] {
        assert!(key(url, None).is_managed_hsm(), "{url}");
        assert_eq!(
            key(url, None).kek_attestation_or_default(),
            KekAttestation::Required,
            "{url}"
        );
    }
    for url in [
        "https://contoso-vaulta1.vault.azure.net",
        "https://contoso.vault.azure.cn",
        "https://127.0.0.1:8443",
        "https://contoso.managedhsm.azure.net.evil.com",
        "not a url",
    ] {
        assert!(!key(url, None).is_managed_hsm(), "{url}");
        assert_eq!(
            key(url, None).kek_attestation_or_default(),
            KekAttestation::Optional,
            "{url}"
        );
    }
    let hsm = "https://contoso.managedhsm.azure.net";
    let kv = "https://contoso-vaulta1.vault.azure.net";
    for (url, set) in [
        (hsm, KekAttestation::Optional),
        (hsm, KekAttestation::Required),
        (kv, KekAttestation::Required),
        (kv, KekAttestation::Optional),
    ] {
        assert_eq!(key(url, Some(set)).kek_attestation_or_default(), set);
    }
    // Absent stays absent when the plan is written back.
    let v = serde_json::to_value(key(kv, None)).unwrap();
    assert!(v.get("kek_attestation").is_none(), "{v}");
}

#[test]
fn every_broken_rule_is_reported_at_once_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = testplan::value(4);
    plan["ceremony"] = json!("bad id");
    plan["policies"][0]["keys"][0]["size"] = json!(1000);
    plan["policies"][1]["service"] = json!("onedrive");
    let (report, _) = testplan::check(dir.path(), &plan);
    let rules: Vec<&str> = report.violations.iter().map(|v| v.rule).collect();
    assert_eq!(rules, ["ceremony-id", "key-size", "service"]);
    let e = crate::ceremony::plan::violations_error(&report.violations);
    assert!(
        e.message()
            .starts_with("the plan breaks 3 rules: [ceremony-id]"),
        "{e}"
    );
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn loopback_vaults_only_in_a_rehearsal_plan() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = testplan::value(2);
    plan["rehearsal"] = json!(true);
    plan["policies"][0]["keys"][0]["vault"] = json!("https://127.0.0.1:8443");
    // The KEK's kid is still in the real vault: that rule still holds.
    let (report, _) = testplan::check(dir.path(), &plan);
    let rules: Vec<&str> = report.violations.iter().map(|v| v.rule).collect();
    assert_eq!(rules, ["kek-vault"]);
    assert!(report.rehearsal);
    assert!(report.warnings.iter().any(|w| w.starts_with("REHEARSAL")));
}

#[test]
fn vault_urls_normalize() {
    assert_eq!(
        normalize_vault("https://Contoso-VaultA1.vault.azure.net/", Mode::Ceremony).as_deref(),
        Ok("https://contoso-vaulta1.vault.azure.net")
    );
    assert_eq!(
        normalize_vault("https://127.0.0.1:8443", Mode::Rehearsal).as_deref(),
        Ok("https://127.0.0.1:8443")
    );
    assert!(normalize_vault("https://127.0.0.1:8443", Mode::Ceremony)
        .unwrap_err()
        .contains("rehearsal"));
    assert!(normalize_vault("http://x.vault.azure.net", Mode::Rehearsal).is_err());
    assert!(normalize_vault("https://example.com", Mode::Rehearsal).is_err());
    assert!(normalize_vault("https://x.vault.azure.net/keys", Mode::Rehearsal).is_err());
}

#[test]
fn prefixes_and_ids() {
    // Names that are not ASCII never split a character (they are refused, not a panic).
    assert_eq!(common_prefix("Key-é", "Key-è"), "Key-");
    assert_eq!(common_prefix("é", "è"), "");
    assert_eq!(
        common_prefix("Contoso-A1-Key001", "Contoso-A2-Key001"),
        "Contoso-"
    );
    assert_eq!(common_prefix("KeyA", "KeyB"), "");
    assert!(valid_ceremony_id("contoso-na-2026-12"));
    assert!(!valid_ceremony_id("../x"));
    assert!(!valid_ceremony_id(""));
}

/// Names that are not ASCII are violations, never a crash of the checker.
#[test]
fn non_ascii_key_names_are_violations_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut plan = testplan::value(2);
    plan["policies"][0]["keys"][0]["name"] = json!("é");
    plan["policies"][0]["keys"][1]["name"] = json!("è");
    let (report, checked) = testplan::check(dir.path(), &plan);
    assert!(checked.is_none());
    let rules: Vec<&str> = report.violations.iter().map(|v| v.rule).collect();
    assert_eq!(rules, ["key-name", "key-name"]);
}

/// The admin URLs of every SharePoint cloud pass, in any case, with a trailing slash.
#[test]
fn sharepoint_admin_urls_of_every_cloud() {
    for u in [
        "https://contoso-admin.sharepoint.com",
        "https://Contoso-Admin.SharePoint.com/",
        "https://contosoEUR-admin.sharepoint.com",
        "https://contoso-gov-admin.sharepoint.us",
        "https://contoso-admin.sharepoint-mil.us",
        "https://contoso-admin.sharepoint.cn",
    ] {
        assert!(valid_admin_url(u), "{u}");
    }
    for u in [
        "https://-admin.sharepoint.com",
        "https://contoso--admin.sharepoint.com",
        "https://contoso-admin.sharepoint.de",
        "https://contoso-admin.sharepoint.com#x",
        "https://contoso-admin.sharepoint.com//",
        "https://contoso-admin.sharepoint.com/sites",
        "https://cont oso-admin.sharepoint.com",
        "https://contoso-admin.xn--sharepoint.com",
    ] {
        assert!(!valid_admin_url(u), "{u}");
    }
    assert!(valid_policy_name("USA mailboxes-2026_v1.0"));
    assert!(!valid_policy_name("USA "));
    assert!(!valid_policy_name(&"a".repeat(65)));
    assert!(valid_description("Contoso's US mailboxes ($, %, (all))"));
}

/// A roll plan: one Exchange key and one SharePoint primary, each alone under its
/// policy; labelled apart from the earlier keys on the token; no new DEP counted.
#[test]
fn a_roll_plan_lists_only_the_rolled_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = testplan::value(4);
    v["policies"][0]["keys"].as_array_mut().unwrap().pop();
    v["policies"][0]["keys"][0]["roll"] = json!(true);
    v["policies"][1]["keys"].as_array_mut().unwrap().pop();
    v["policies"][1]["keys"][0]["roll"] = json!(true);
    v["policies"][1]["keys"][0]["key_type"] = json!("primary");
    v["ceremony"] = json!("contoso_roll.2027");
    let (report, plan) = testplan::check(dir.path(), &v);
    let plan = plan.unwrap_or_else(|| panic!("{:?}", report.violations));
    assert_eq!(plan.keys.len(), 2);
    for k in &plan.keys {
        assert!(k.key.roll);
        // A label is a key name (what keygen accepts): the id's '_' and '.' become '-'.
        assert_eq!(k.label, format!("{}-contoso-roll-2027", k.key.name));
        assert!(crate::keyid::valid_key_name(&k.label));
    }
    let w = report.warnings.join("\n");
    assert!(w.contains("a new version of the existing key"), "{w}");
    assert!(w.contains("wait until Get-SPODataEncryptionPolicy"), "{w}");
    assert!(
        !w.contains("Exchange Online allows at most"),
        "a roll creates no DEP: {w}"
    );
    // A key created, not rolled, keeps its name as its label.
    let (_d, created) = testplan::checked(2);
    assert_eq!(created.keys[0].label, created.keys[0].key.name);
}
