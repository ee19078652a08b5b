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
            "multi-workload.plan.json",
            "sharepoint-geo.plan.json"
        ],
        "every example plan is checked here"
    );
    for plan in &plans {
        let o = byok_in(&dir, &["ceremony", "check", plan, "--json"]);
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        let rules: Vec<&str> = r["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["rule"].as_str().unwrap())
            .collect();
        let keys = r["keys"].as_u64().unwrap() as usize;
        // A KEK file shared by several keys is reported missing once.
        let files = keys.min(2);
        let want: Vec<&str> = std::iter::repeat_n("kek-pin", keys)
            .chain(std::iter::repeat_n("kek-file", files))
            .collect();
        assert_eq!(rules, want, "{plan}: {r}");
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
