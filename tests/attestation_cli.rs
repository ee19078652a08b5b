//! HSM key attestation through the CLI: the real Google sample, and the simulator's
//! Managed HSM attestations end to end (kek fetch --attestation, kek inspect, wrap
//! --require-attestation, upload, verify), Key Vault's lack of them, and bad inputs.

mod common;

use base64::Engine;
use common::sim::SimProc;
use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/attestation");

/// `byok ARGS` with no token and no network settings (the offline commands).
fn byok_plain(dir: &Path, args: &[&str]) -> Output {
    byok_in(dir, args)
}

fn json(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap()
}

#[test]
fn google_sample_verifies_and_a_changed_byte_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let blob = format!("{FIX}/gcp-ec-p256-attestation.bin");
    let chain = format!("{FIX}/gcp-ec-p256-chain.pem");
    let out = ok(&byok_plain(
        d,
        &["attestation", "verify", &blob, "--chain", &chain],
    ));
    assert!(out.contains("VERIFIED"), "{out}");
    assert!(out.contains("extractable"), "{out}");
    let j = json(&byok_plain(
        d,
        &["attestation", "verify", &blob, "--chain", &chain, "--json"],
    ));
    assert_eq!(j["format"], "marvell");
    assert_eq!(j["extra_root_used"], false);
    assert!(j["hsm_serial"].is_string());
    assert!(["FIPS", "non-FIPS"].contains(&j["mode"].as_str().unwrap()));
    let o = &j["objects"][0];
    for f in [
        "class_name",
        "key_type_name",
        "key_bits",
        "extractable",
        "never_extractable",
        "local",
        "sensitive",
    ] {
        assert!(!o[f].is_null(), "{f} missing in {o}");
    }

    // One changed byte in the signed part, and a cut-off blob: refused, no panic.
    let mut bytes = fs::read(&blob).unwrap();
    let i = bytes.len() / 3;
    bytes[i] ^= 0x01;
    fs::write(d.join("changed.bin"), &bytes).unwrap();
    fails(
        &byok_plain(
            d,
            &["attestation", "verify", "changed.bin", "--chain", &chain],
        ),
        &["attestation"],
    );
    let bytes = fs::read(&blob).unwrap();
    fs::write(d.join("cut.bin"), &bytes[..bytes.len() / 2]).unwrap();
    fails(
        &byok_plain(d, &["attestation", "verify", "cut.bin", "--chain", &chain]),
        &["attestation"],
    );
    // A generic blob needs its chain; a missing file is one clear line.
    fails(
        &byok_plain(d, &["attestation", "verify", &blob]),
        &["--chain"],
    );
    fails(
        &byok_plain(d, &["attestation", "verify", "nothing.bin"]),
        &["nothing.bin"],
    );
    fails(
        &byok_plain(
            d,
            &[
                "attestation",
                "verify",
                &blob,
                "--chain",
                &chain,
                "--kid",
                "https://contoso-hsm.managedhsm.azure.net/keys/k/00000000000000000000000000000000",
            ],
        ),
        &["--kid"],
    );
    // The chain without its partition certificate.
    let pem = fs::read_to_string(&chain).unwrap();
    let certs: Vec<&str> = pem.split_inclusive("-----END CERTIFICATE-----\n").collect();
    fs::write(d.join("short.pem"), certs[..1].concat()).unwrap();
    fails(
        &byok_plain(d, &["attestation", "verify", &blob, "--chain", "short.pem"]),
        &["attestation"],
    );
}

/// A token and a simulator (Managed HSM or Key Vault).
struct Rig {
    tok: Token,
    sim: SimProc,
    root: String,
}

fn rig(managed: bool) -> Rig {
    let tok = Token::new("attest");
    let mut flags = vec!["--accept-padded-pkcs8"];
    if managed {
        flags.push("--managed-hsm");
    }
    let dir = tok.dir().join("vault");
    let sim = SimProc::start(&dir, &flags);
    let root = dir.join("attestation-root.pem");
    assert_eq!(root.exists(), managed);
    Rig {
        tok,
        sim,
        root: root.to_str().unwrap().to_string(),
    }
}

impl Rig {
    fn byok(&self, args: &[&str]) -> Output {
        self.tok
            .cmd(args)
            .env("BYOK_CA_FILE", &self.sim.ca)
            .env("BYOK_ACCESS_TOKEN", "test-token")
            .output()
            .unwrap()
    }
    fn path(&self, p: &str) -> PathBuf {
        self.tok.dir().join(p)
    }
    fn write(&self, name: &str, v: &Value) -> String {
        fs::write(self.path(name), v.to_string()).unwrap();
        name.to_string()
    }
}

fn warned(o: &Output) {
    let err = stderr(o);
    assert!(
        err.lines()
            .any(|l| l.starts_with("warning: --trust-root") && l.contains("rehearsals only")),
        "no --trust-root warning: {err}"
    );
}

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
