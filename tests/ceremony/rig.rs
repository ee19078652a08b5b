//! The rehearsal plan (two policies, four keys, two loopback vaults) and the helpers that
//! run it and check the finished ceremony.

use crate::common::*;
use byok_testkit::testkek::TestKek;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

pub(crate) const TOKEN: &str = "Contoso-Ceremony";
pub(crate) const CEREMONY: &str = "contoso-rehearsal";
pub(crate) const VAULT_A: &str = "https://127.0.0.1:8443";
pub(crate) const VAULT_B: &str = "https://127.0.0.1:8444";
/// The plan's keys in plan order, with the vault (A or B) each is in.
pub(crate) const KEYS: [(&str, bool); 4] = [
    ("Contoso-O365EX-NA-VaultA1-Key001", true),
    ("Contoso-O365EX-NA-VaultA2-Key001", false),
    ("Contoso-O365SP-NA-VaultA1-Key001", true),
    ("Contoso-O365SP-NA-VaultA2-Key001", false),
];

/// The two vaults' software KEKs, made once per test process.
pub(crate) fn keks() -> &'static (TestKek, TestKek) {
    static K: OnceLock<(TestKek, TestKek)> = OnceLock::new();
    K.get_or_init(|| {
        (
            TestKek::generate(2048, VAULT_A, "vault-a-kek").unwrap(),
            TestKek::generate(2048, VAULT_B, "vault-b-kek").unwrap(),
        )
    })
}

pub(crate) fn kek_of(vault_a: bool) -> &'static TestKek {
    if vault_a {
        &keks().0
    } else {
        &keks().1
    }
}

pub(crate) fn fp(k: &TestKek) -> String {
    hex::encode(k.kek().unwrap().sha256())
}

pub(crate) fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) fn key(name: &str, a: bool) -> Value {
    json!({"vault": if a { VAULT_A } else { VAULT_B }, "name": name, "size": 2048,
           "kek": if a { "keks/a.json" } else { "keks/b.json" }, "kek_sha256": fp(kek_of(a))})
}

/// The rehearsal plan: an Exchange DEP and a SharePoint geo DEP, two keys each.
pub(crate) fn plan_value() -> Value {
    json!({
        "ceremony": CEREMONY,
        "token": TOKEN,
        "rehearsal": true,
        "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
                     {"name": "Bob Example", "role": "crypto officer"}],
        "policies": [
            {"name": "USA_mailboxes", "service": "exchange", "description": "US mailboxes",
             "keys": [key(KEYS[0].0, true), key(KEYS[1].0, false)]},
            {"name": "NA_geo", "service": "sharepoint", "admin_url": "https://contoso-admin.sharepoint.com",
             "keys": [key(KEYS[2].0, true), key(KEYS[3].0, false)]}
        ]
    })
}

/// Write the KEK files and `plan` as DIR/plan.json.
pub(crate) fn write_plan(dir: &Path, plan: &Value) -> PathBuf {
    fs::create_dir_all(dir.join("keks")).unwrap();
    fs::write(dir.join("keks/a.json"), keks().0.key_bundle_json()).unwrap();
    fs::write(dir.join("keks/b.json"), keks().1.key_bundle_json()).unwrap();
    let p = dir.join("plan.json");
    fs::write(&p, serde_json::to_vec_pretty(plan).unwrap()).unwrap();
    p
}

pub(crate) fn run_args(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "out",
        "--non-interactive",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

pub(crate) fn run(tok: &Token, extra: &[&str]) -> Output {
    let args = run_args(extra);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    tok.byok(&a)
}

/// Run, to be killed by the crash hook at `point`.
pub(crate) fn run_crashing(tok: &Token, point: &str, resume: bool) {
    let args = run_args(if resume { &["--resume"] } else { &[] });
    let o = tok
        .cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .env("BYOK_TEST_CRASH_AFTER", point)
        .output()
        .unwrap();
    assert!(
        o.status.code().is_none(),
        "expected an abort at {point}, got {:?} (is byok built with --features test-hooks? softhsm/test.sh builds it so): {}",
        o.status.code(),
        stderr(&o)
    );
    assert!(
        stderr(&o).contains(&format!("aborting after {point}")),
        "{}",
        stderr(&o)
    );
}

pub(crate) fn signer() -> String {
    format!("{CEREMONY}-transcript-signer")
}

/// The finished ceremony is whole: the transcript verifies against the plan; the token
/// holds each key once (private and public object) and the signer, nothing else; every
/// package unwraps in software to its public key; DIR holds exactly the outputs; the
/// manifest's hashes are the files'.
pub(crate) fn check_ceremony(tok: &Token) -> String {
    let out = tok.dir().join("out");
    let v = ok(&tok.byok(&[
        "transcript",
        "verify",
        "out/transcript.jsonl",
        "--plan",
        "plan.json",
        "--json",
    ]));
    let report: Value = serde_json::from_str(&v).unwrap();
    assert_eq!(report["signed"], true);
    let mut expected: Vec<String> = KEYS
        .iter()
        .flat_map(|(n, _)| [n.to_string(), n.to_string()])
        .collect();
    expected.push(signer());
    expected.push(signer());
    expected.sort();
    assert_eq!(tok.labels(), expected, "token objects");
    for (name, a) in KEYS {
        let (n, e) = pem_public(&out.join(format!("{name}.pub.pem")));
        let pkg = fs::read(out.join(format!("{name}.byok"))).unwrap();
        byok_testkit::testkek::check_package(&kek_of(a).private, &pkg, &n, &e)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let v: Value = serde_json::from_slice(&pkg).unwrap();
        assert_eq!(v["header"]["kid"], kek_of(a).kid.as_str());
    }
    let mut files: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut want: Vec<String> = KEYS
        .iter()
        .flat_map(|(n, _)| [format!("{n}.byok"), format!("{n}.pub.pem")])
        .collect();
    want.push("manifest.json".into());
    want.push("transcript.jsonl".into());
    want.sort();
    assert_eq!(files, want, "files in DIR (no temp files)");
    let m: Value = serde_json::from_slice(&fs::read(out.join("manifest.json")).unwrap()).unwrap();
    for k in m["keys"].as_array().unwrap() {
        let pkg = fs::read(out.join(k["package"].as_str().unwrap())).unwrap();
        assert_eq!(k["package_sha256"], sha(&pkg));
        let pem = fs::read(out.join(k["public_key"].as_str().unwrap())).unwrap();
        assert_eq!(k["public_key_sha256"], sha(&pem));
    }
    fs::read_to_string(out.join("transcript.jsonl")).unwrap()
}

pub(crate) fn steps(transcript: &str) -> Vec<String> {
    transcript
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["step"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}
