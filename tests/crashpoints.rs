//! `byok ceremony run` killed at every crash point a run passes, then resumed: the
//! ceremony finishes with every key once, the transcript verifies, and the packages are
//! the tokens' keys. The points are not listed by hand: they are read off a whole run's
//! transcript (`recorded:STEP:N` and `done:STEP:N` for each record, `generated:` for each
//! key pair, `temp-written:` for each file), so a step added to the run is covered too.

mod common;

use byok_testkit::testkek::TestKek;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

const TOKEN: &str = "Contoso-CP";
const KEYS: [&str; 2] = ["Contoso-CP-A1-Key001", "Contoso-CP-A2-Key001"];

/// Two software KEKs, in two simulated vaults.
fn keks() -> &'static [TestKek; 2] {
    static K: std::sync::OnceLock<[TestKek; 2]> = std::sync::OnceLock::new();
    K.get_or_init(|| {
        [
            TestKek::generate(2048, "https://127.0.0.1:8443", "kek-a").expect("kek a"),
            TestKek::generate(2048, "https://127.0.0.1:8444", "kek-b").expect("kek b"),
        ]
    })
}

/// A rehearsal plan with one Exchange policy and its two keys, and its KEK files.
fn write_plan(dir: &Path) {
    fs::create_dir_all(dir.join("keks")).unwrap();
    let mut keys = Vec::new();
    for (i, (k, name)) in keks().iter().zip(KEYS).enumerate() {
        let file = format!("keks/{i}.json");
        fs::write(dir.join(&file), k.key_bundle_json()).unwrap();
        let vault = k.kid.split("/keys/").next().unwrap().to_string();
        keys.push(
            json!({"vault": vault, "name": name, "size": 2048, "kek": file,
                         "kek_sha256": hex::encode(k.kek().unwrap().sha256())}),
        );
    }
    let plan = json!({
        "ceremony": "crash-points", "token": TOKEN, "rehearsal": true,
        "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
                     {"name": "Bob Example", "role": "crypto officer"}],
        "policies": [{"name": "USA_mailboxes", "service": "exchange", "keys": keys}]
    });
    fs::write(
        dir.join("plan.json"),
        serde_json::to_vec_pretty(&plan).unwrap(),
    )
    .unwrap();
}

fn run(tok: &Token, resume: bool, crash: Option<&str>) -> std::process::Output {
    let mut args = vec![
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "out",
        "--non-interactive",
    ];
    if resume {
        args.push("--resume");
    }
    let mut c = tok.cmd(&args);
    if let Some(p) = crash {
        c.env("BYOK_TEST_CRASH_AFTER", p);
    }
    c.output().unwrap()
}

/// Every crash point a whole run passes, from its transcript.
fn points_of(transcript: &str) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut points = Vec::new();
    for line in transcript.lines() {
        let rec: Value = serde_json::from_str(line).unwrap();
        let step = rec["step"].as_str().unwrap().to_string();
        let n = seen.entry(step.clone()).or_insert(0);
        *n += 1;
        points.push(format!("done:{step}:{n}"));
        if step != "close" {
            points.push(format!("recorded:{step}:{n}"));
        }
    }
    points.push("generated:signer:1".into());
    for n in 1..=KEYS.len() {
        points.push(format!("generated:keygen:{n}"));
    }
    // Each public key, each package and the manifest is written through a temp file.
    for n in 1..=2 * KEYS.len() + 1 {
        points.push(format!("temp-written:{n}"));
    }
    points
}

/// Kill a fresh ceremony at `point`, resume it, and check what it left.
fn crash_and_resume(point: &str) {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir());
    let o = run(&tok, false, Some(point));
    assert!(
        o.status.code().is_none(),
        "{point}: expected an abort (is byok built with --features test-hooks?), got {:?}: {}",
        o.status.code(),
        stderr(&o)
    );
    assert!(
        stderr(&o).contains(&format!("aborting after {point}")),
        "{point}: {}",
        stderr(&o)
    );
    let o = run(&tok, true, None);
    assert!(
        o.status.success(),
        "{point}: the resume failed: {}",
        stderr(&o)
    );
    let t = tok.dir().join("out/transcript.jsonl");
    ok(&tok.byok(&["transcript", "verify", t.to_str().unwrap()]));
    // Every key once: its private and its public object, nothing else.
    let mut want: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    want.push("crash-points-transcript-signer".into());
    want.extend(want.clone());
    want.sort();
    assert_eq!(tok.labels(), want, "{point}");
    for ((k, name), i) in keks().iter().zip(KEYS).zip(0..) {
        let pkg = fs::read(tok.dir().join(format!("out/{name}.byok"))).unwrap();
        let (n, e) = pem_public(&tok.dir().join(format!("out/{name}.pub.pem")));
        byok_testkit::testkek::check_package(&k.private, &pkg, &n, &e)
            .unwrap_or_else(|e| panic!("{point}: package {i}: {e}"));
    }
}

#[test]
fn every_crash_point_of_a_run_is_survived() {
    let reference = Token::new(TOKEN);
    write_plan(&reference.dir());
    ok(&run(&reference, false, None));
    let transcript = fs::read_to_string(reference.dir().join("out/transcript.jsonl")).unwrap();
    let points = points_of(&transcript);
    assert!(points.len() > 30, "{points:?}");
    // Two at a time: each runs its own byok processes on its own token.
    for pair in points.chunks(2) {
        std::thread::scope(|s| {
            for p in pair {
                s.spawn(move || crash_and_resume(p));
            }
        });
    }
}
