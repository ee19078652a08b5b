//! The simulator's Managed HSM attestations end to end, and its chain across restarts.

use crate::common::sim::SimProc;
use crate::common::*;
use crate::rig::*;
use base64::Engine;
use serde_json::Value;
use std::fs;
use std::process::Command;

#[test]
fn managed_hsm_simulator_end_to_end() {
    let r = rig(true);
    let v = r.sim.url.as_str();
    ok(&r.byok(&[
        "kek", "create", "--vault", v, "--name", "KEK-M", "--size", "2048",
    ]));
    let f = json(&r.byok(&[
        "kek",
        "fetch",
        "--vault",
        v,
        "--name",
        "KEK-M",
        "--out",
        "kek.json",
        "--attestation",
        "--json",
    ]));
    assert_eq!(f["attestation_stored"], true);
    let kek: Value =
        serde_json::from_str(&fs::read_to_string(r.path("kek.json")).unwrap()).unwrap();
    assert_eq!(kek["attributes"]["attestation"]["version"], "MRVL-1");
    let kid = kek["key"]["kid"].as_str().unwrap().to_string();
    let version = kid.rsplit('/').next().unwrap().to_string();

    // The TEST chain is refused without --trust-root ...
    fails(
        &r.byok(&["kek", "inspect", "kek.json"]),
        &["attestation", "marvell"],
    );
    // ... and accepted with it, warned every time.
    let o = r.byok(&[
        "kek",
        "inspect",
        "kek.json",
        "--trust-root",
        &r.root,
        "--json",
    ]);
    warned(&o);
    let j = json(&o);
    assert_eq!(j["attestation"]["status"], "verified");
    let rep = &j["attestation"]["report"];
    assert_eq!(rep["extra_root_used"], true);
    assert_eq!(rep["mode"], "FIPS");
    assert_eq!(rep["key_name"], "KEK-M");
    assert_eq!(rep["key_version"], version.as_str());
    let p = &rep["objects"][0];
    assert_eq!(p["class_name"], "private key");
    assert_eq!(p["extractable"], false);
    assert_eq!(p["never_extractable"], true);
    assert_eq!(p["local"], true);
    assert_eq!(p["sensitive"], true);
    let text = ok(&r.byok(&["kek", "inspect", "kek.json", "--trust-root", &r.root]));
    assert!(text.contains("attestation: verified"), "{text}");
    assert!(text.contains("never extractable: yes"), "{text}");

    // wrap --require-attestation: refused without the root, works with it (warned).
    ok(&r.byok(&["keygen", "--label", "Key-M1", "--size", "2048"]));
    fails(
        &r.byok(&[
            "wrap",
            "--key",
            "Key-M1",
            "--kek",
            "kek.json",
            "--out",
            "m1.byok",
            "--require-attestation",
        ]),
        &["attestation"],
    );
    assert!(!r.path("m1.byok").exists());
    let o = r.byok(&[
        "wrap",
        "--key",
        "Key-M1",
        "--kek",
        "kek.json",
        "--out",
        "m1.byok",
        "--require-attestation",
        "--trust-root",
        &r.root,
    ]);
    warned(&o);
    let w = ok(&o);
    assert!(w.contains("KEK attestation: verified"), "{w}");

    // Upload, then verify includes the attestation rule: imported, not extractable.
    ok(&r.byok(&["upload", "m1.byok", "--vault", v, "--name", "Key-M1"]));
    let o = r.byok(&[
        "verify",
        "--vault",
        v,
        "--name",
        "Key-M1",
        "--pub",
        "Key-M1.pub.pem",
        "--trust-root",
        &r.root,
        "--json",
    ]);
    warned(&o);
    let j = json(&o);
    let rule = j["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rule"].as_str().unwrap().contains("attestation"))
        .expect("attestation rule")
        .clone();
    assert_eq!(rule["ok"], true, "{rule}");
    assert!(rule["found"].as_str().unwrap().contains("extractable no"));
    // Without the root the rule fails, with its own fix.
    let o = r.byok(&[
        "verify",
        "--vault",
        v,
        "--name",
        "Key-M1",
        "--pub",
        "Key-M1.pub.pem",
    ]);
    fails(&o, &["attestation"]);
    assert!(
        stdout(&o).contains("attestation-root.pem"),
        "{}",
        stdout(&o)
    );

    // The imported key's attestation: not local, not never-extractable, sensitive.
    let key = r.sim.get("/keys/Key-M1");
    let kver = key["key"]["kid"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let imp = r.sim.get(&format!("/keys/Key-M1/{kver}/attestation"));
    r.write("imp.json", &imp);
    let j = json(&r.byok(&[
        "attestation",
        "verify",
        "imp.json",
        "--trust-root",
        &r.root,
        "--json",
    ]));
    let p = &j["objects"][0];
    assert_eq!(p["local"], false);
    assert_eq!(p["never_extractable"], false);
    assert_eq!(p["extractable"], false);
    assert_eq!(p["sensitive"], true);
    // Such a key is no KEK.
    fails(
        &r.byok(&[
            "kek",
            "inspect",
            "kek.json",
            "--attestation",
            "imp.json",
            "--trust-root",
            &r.root,
        ]),
        &["attestation"],
    );

    // attestation verify on the REST answer, with the kid; wrong version / name refused.
    let att = r.sim.get(&format!("/keys/KEK-M/{version}/attestation"));
    r.write("att.json", &att);
    let o = r.byok(&[
        "attestation",
        "verify",
        "att.json",
        "--trust-root",
        &r.root,
        "--kid",
        &kid,
    ]);
    warned(&o);
    assert!(ok(&o).contains("VERIFIED"));
    let other_version = kid.replace(&version, &"0".repeat(32));
    fails(
        &r.byok(&[
            "attestation",
            "verify",
            "att.json",
            "--trust-root",
            &r.root,
            "--kid",
            &other_version,
        ]),
        &["version"],
    );
    let other_name = kid.replace("/KEK-M/", "/KEK-X/");
    fails(
        &r.byok(&[
            "attestation",
            "verify",
            "att.json",
            "--trust-root",
            &r.root,
            "--kid",
            &other_name,
        ]),
        &["another key"],
    );
    fails(
        &r.byok(&["attestation", "verify", "att.json"]),
        &["marvell"],
    );

    // The az --file form (standard base64, no key): needs --key; a wrong key is refused.
    let a = &att["attributes"]["attestation"];
    let std_b64 = |f: &str| {
        let raw = byok_core::kek::decode_b64url(a[f].as_str().unwrap()).unwrap();
        base64::engine::general_purpose::STANDARD.encode(raw)
    };
    let az = serde_json::json!({
        "certificatePemFile": std_b64("certificatePemFile"),
        "privateKeyAttestation": std_b64("privateKeyAttestation"),
        "publicKeyAttestation": std_b64("publicKeyAttestation"),
        "version": "MRVL-1",
    });
    r.write("az.json", &az);
    fails(
        &r.byok(&["attestation", "verify", "az.json", "--trust-root", &r.root]),
        &["no public key"],
    );
    ok(&r.byok(&[
        "attestation",
        "verify",
        "az.json",
        "--key",
        "kek.json",
        "--trust-root",
        &r.root,
    ]));
    fails(
        &r.byok(&[
            "attestation",
            "verify",
            "az.json",
            "--key",
            "Key-M1.pub.pem",
            "--trust-root",
            &r.root,
        ]),
        &["modulus differs"],
    );

    // Damaged attestations: truncated blob, missing certificate, garbage base64.
    let mut bad = att.clone();
    let blob = byok_core::kek::decode_b64url(a["privateKeyAttestation"].as_str().unwrap()).unwrap();
    bad["attributes"]["attestation"]["privateKeyAttestation"] =
        Value::from(byok_core::kek::encode_b64url(&blob[..blob.len() - 40]));
    r.write("trunc.json", &bad);
    fails(
        &r.byok(&[
            "attestation",
            "verify",
            "trunc.json",
            "--trust-root",
            &r.root,
        ]),
        &["attestation"],
    );
    let pem = String::from_utf8(
        byok_core::kek::decode_b64url(a["certificatePemFile"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let certs: Vec<&str> = pem.split_inclusive("-----END CERTIFICATE-----\n").collect();
    assert_eq!(certs.len(), 4);
    let mut bad = att.clone();
    bad["attributes"]["attestation"]["certificatePemFile"] = Value::from(
        byok_core::kek::encode_b64url([certs[0], certs[2], certs[3]].concat().as_bytes()),
    );
    r.write("nocert.json", &bad);
    fails(
        &r.byok(&[
            "attestation",
            "verify",
            "nocert.json",
            "--trust-root",
            &r.root,
        ]),
        &["partition certificate"],
    );
    let mut bad = att.clone();
    bad["attributes"]["attestation"]["publicKeyAttestation"] = Value::from("!!not base64!!");
    r.write("garbage.json", &bad);
    fails(
        &r.byok(&[
            "attestation",
            "verify",
            "garbage.json",
            "--trust-root",
            &r.root,
        ]),
        &["publicKeyAttestation"],
    );
    // An unknown version: the vault has none, nothing is written.
    fails(
        &r.byok(&[
            "kek",
            "fetch",
            "--vault",
            v,
            "--name",
            "KEK-M",
            "--version",
            &"0".repeat(32),
            "--out",
            "none.json",
            "--attestation",
        ]),
        &["no version 00000000000000000000000000000000 of key KEK-M"],
    );
    assert!(!r.path("none.json").exists());
    // A KEK file whose attestation was tampered with is refused even without --require.
    let mut k2 = kek.clone();
    k2["attributes"]["attestation"]["privateKeyAttestation"] =
        bad["attributes"]["attestation"]["publicKeyAttestation"].clone();
    r.write("kek-bad.json", &k2);
    fails(
        &r.byok(&["kek", "inspect", "kek-bad.json", "--trust-root", &r.root]),
        &["attestation"],
    );
}

/// The TEST chain is made once and kept: a restarted simulator signs with the same chain.
#[test]
fn simulator_chain_persists_across_restarts() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hsm");
    let root = dir.join("attestation-root.pem");
    let first = {
        let _sim = SimProc::start(&dir, &["--managed-hsm"]);
        fs::read(&root).unwrap()
    };
    let mode = fs::metadata(dir.join("attestation-chain.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let sim = SimProc::start(&dir, &["--managed-hsm"]);
    assert_eq!(fs::read(&root).unwrap(), first);
    // A damaged chain file is refused at start, with what to do.
    drop(sim);
    fs::write(dir.join("attestation-chain.json"), "{}").unwrap();
    let o = Command::new(byok_testkit::sim_bin())
        .args(["--listen", "127.0.0.1:0", "--managed-hsm", "--state-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: ") && err.contains("move it away"),
        "{err}"
    );
}
