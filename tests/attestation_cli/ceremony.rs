//! A ceremony plan with `"kek_attestation": "required"`.

use crate::common::sim::SimProc;
use crate::common::*;
use crate::rig::*;
use serde_json::Value;
use std::fs;

/// A ceremony whose plan requires KEK attestations, against two Managed HSM simulators.
#[test]
fn ceremony_plan_requires_kek_attestation() {
    let tok = Token::new("Att-Ceremony");
    let dir = tok.dir();
    let a = SimProc::start(&dir.join("hsm-a"), &["--managed-hsm"]);
    let b = SimProc::start(&dir.join("hsm-b"), &["--managed-hsm"]);
    let ca = dir.join("cas.pem");
    fs::write(
        &ca,
        [fs::read(&a.ca).unwrap(), fs::read(&b.ca).unwrap()].concat(),
    )
    .unwrap();
    let roots: Vec<String> = ["hsm-a", "hsm-b"]
        .iter()
        .map(|d| {
            dir.join(d)
                .join("attestation-root.pem")
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let byok = |args: &[&str]| {
        tok.cmd(args)
            .env("BYOK_CA_FILE", &ca)
            .env("BYOK_ACCESS_TOKEN", "t")
            .output()
            .unwrap()
    };
    fs::create_dir_all(dir.join("keks")).unwrap();
    let mut fps = Vec::new();
    for (sim, n) in [(&a, "a"), (&b, "b")] {
        let name = format!("KEK-{n}");
        ok(&byok(&[
            "kek", "create", "--vault", &sim.url, "--name", &name, "--size", "2048",
        ]));
        let out = format!("keks/{n}.json");
        let j = json(&byok(&[
            "kek",
            "fetch",
            "--vault",
            &sim.url,
            "--name",
            &name,
            "--out",
            &out,
            "--attestation",
            "--json",
        ]));
        fps.push(j["sha256"].as_str().unwrap().to_string());
        ok(&byok(&[
            "kek",
            "fetch",
            "--vault",
            &sim.url,
            "--name",
            &name,
            "--out",
            &format!("keks/{n}-plain.json"),
        ]));
    }
    let plan = |suffix: &str| {
        let key = |name: &str, i: usize, sim: &SimProc, n: &str| {
            serde_json::json!({"vault": sim.url, "name": name, "size": 2048,
                "kek": format!("keks/{n}{suffix}.json"), "kek_sha256": fps[i],
                "kek_attestation": "required"})
        };
        serde_json::json!({
            "ceremony": "att-rehearsal", "token": "Att-Ceremony", "rehearsal": true,
            "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
                         {"name": "Bob Example", "role": "crypto officer"}],
            "policies": [{"name": "USA_mailboxes", "service": "exchange",
                "keys": [key("Contoso-Att-Key001", 0, &a, "a"), key("Contoso-Att-Key002", 1, &b, "b")]}]
        })
    };
    fs::write(dir.join("plan.json"), plan("").to_string()).unwrap();
    fs::write(dir.join("plain.json"), plan("-plain").to_string()).unwrap();

    // The TEST chains are refused without --trust-root: a broken rule per key.
    let e = fails(
        &byok(&["ceremony", "check", "plan.json"]),
        &["[kek-attestation]", "marvell"],
    );
    assert_eq!(e.matches("[kek-attestation]").count(), 2, "{e}");
    // KEK files without attestation break the rule whatever the roots.
    fails(
        &byok(&[
            "ceremony",
            "check",
            "plain.json",
            "--trust-root",
            &roots[0],
            "--trust-root",
            &roots[1],
        ]),
        &["[kek-attestation]", "without an attestation"],
    );
    let o = byok(&[
        "ceremony",
        "check",
        "plan.json",
        "--trust-root",
        &roots[0],
        "--trust-root",
        &roots[1],
    ]);
    warned(&o);
    ok(&o);
    fails(
        &byok(&[
            "ceremony",
            "run",
            "plan.json",
            "--out",
            "out",
            "--non-interactive",
        ]),
        &["[kek-attestation]"],
    );
    let o = byok(&[
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "out",
        "--non-interactive",
        "--trust-root",
        &roots[0],
        "--trust-root",
        &roots[1],
    ]);
    warned(&o);
    ok(&o);
    let t = fs::read_to_string(dir.join("out/transcript.jsonl")).unwrap();
    let recs: Vec<Value> = t
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let confirmed: Vec<&Value> = recs
        .iter()
        .filter(|r| r["step"] == "kek-confirmed")
        .collect();
    assert_eq!(confirmed.len(), 2);
    for r in confirmed {
        assert!(
            r["detail"]["attestation"]
                .as_str()
                .unwrap()
                .starts_with("verified"),
            "{r}"
        );
    }
    let keygens: Vec<&Value> = recs.iter().filter(|r| r["step"] == "keygen").collect();
    assert_eq!(keygens.len(), 2);
    for r in keygens {
        let d = &r["detail"];
        assert_eq!(d["attributes"]["local"], true, "{r}");
        assert_eq!(d["attributes"]["sensitive"], true, "{r}");
        assert!(d["attributes"]["key_gen_mechanism"].is_string(), "{r}");
        assert!(d["token"]["serial"].is_string(), "{r}");
        assert!(d["token"]["model"].is_string(), "{r}");
    }
}
