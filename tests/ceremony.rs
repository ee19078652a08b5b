//! `byok ceremony check|run` and `byok transcript verify|render` on real SoftHSM2 tokens:
//! a whole rehearsal (two policies, four keys, two loopback vaults), kills at every
//! crash window followed by `--resume`, resumes refused when the token or a file
//! changed, every plan rule, every way of tampering with a transcript, and the dry-run
//! script against its snapshot.

mod common;

use byok_testkit::testkek::TestKek;
use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const TOKEN: &str = "Contoso-Ceremony";
const CEREMONY: &str = "contoso-rehearsal";
const VAULT_A: &str = "https://127.0.0.1:8443";
const VAULT_B: &str = "https://127.0.0.1:8444";
/// The plan's keys in plan order, with the vault (A or B) each is in.
const KEYS: [(&str, bool); 4] = [
    ("Contoso-O365EX-NA-VaultA1-Key001", true),
    ("Contoso-O365EX-NA-VaultA2-Key001", false),
    ("Contoso-O365SP-NA-VaultA1-Key001", true),
    ("Contoso-O365SP-NA-VaultA2-Key001", false),
];

/// The two vaults' software KEKs, made once per test process.
fn keks() -> &'static (TestKek, TestKek) {
    static K: OnceLock<(TestKek, TestKek)> = OnceLock::new();
    K.get_or_init(|| {
        (
            TestKek::generate(2048, VAULT_A, "vault-a-kek").unwrap(),
            TestKek::generate(2048, VAULT_B, "vault-b-kek").unwrap(),
        )
    })
}

fn kek_of(vault_a: bool) -> &'static TestKek {
    if vault_a {
        &keks().0
    } else {
        &keks().1
    }
}

fn fp(k: &TestKek) -> String {
    hex::encode(k.kek().unwrap().sha256())
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn key(name: &str, a: bool) -> Value {
    json!({"vault": if a { VAULT_A } else { VAULT_B }, "name": name, "size": 2048,
           "kek": if a { "keks/a.json" } else { "keks/b.json" }, "kek_sha256": fp(kek_of(a))})
}

/// The rehearsal plan: an Exchange DEP and a SharePoint geo DEP, two keys each.
fn plan_value() -> Value {
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
fn write_plan(dir: &Path, plan: &Value) -> PathBuf {
    fs::create_dir_all(dir.join("keks")).unwrap();
    fs::write(dir.join("keks/a.json"), keks().0.key_bundle_json()).unwrap();
    fs::write(dir.join("keks/b.json"), keks().1.key_bundle_json()).unwrap();
    let p = dir.join("plan.json");
    fs::write(&p, serde_json::to_vec_pretty(plan).unwrap()).unwrap();
    p
}

fn run_args(extra: &[&str]) -> Vec<String> {
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

fn run(tok: &Token, extra: &[&str]) -> Output {
    let args = run_args(extra);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    tok.byok(&a)
}

/// Run, to be killed by the crash hook at `point`.
fn run_crashing(tok: &Token, point: &str, resume: bool) {
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

fn signer() -> String {
    format!("{CEREMONY}-transcript-signer")
}

/// The finished ceremony is whole: the transcript verifies against the plan; the token
/// holds each key once (private and public object) and the signer, nothing else; every
/// package unwraps in software to its public key; DIR holds exactly the outputs; the
/// manifest's hashes are the files'.
fn check_ceremony(tok: &Token) -> String {
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

fn steps(transcript: &str) -> Vec<String> {
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

#[test]
fn rehearsal_four_keys_two_policies_non_interactive() {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    let o = run(&tok, &["--json"]);
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(report["keys"].as_array().unwrap().len(), 4);
    assert_eq!(report["signed"], true);
    let err = stderr(&o);
    assert!(
        err.contains("warning: policy \"USA_mailboxes\": byok cannot check offline"),
        "{err}"
    );
    assert!(err.contains("SOFTHSM_TEST_ONLY"), "{err}");
    let t = check_ceremony(&tok);
    let s = steps(&t);
    assert_eq!(s.first().map(String::as_str), Some("open"));
    assert_eq!(s.last().map(String::as_str), Some("close"));
    assert_eq!(s.iter().filter(|x| *x == "keygen").count(), 4);
    assert_eq!(s.iter().filter(|x| *x == "wrap").count(), 4);
    assert_eq!(s.iter().filter(|x| *x == "kek-confirmed").count(), 2);
    assert!(t.contains("non-interactive: checked against the plan's pinned kek_sha256"));
    // Each record carries the token identity or none, the tool, a time in RFC 3339 UTC.
    for l in t.lines() {
        let r: Value = serde_json::from_str(l).unwrap();
        assert_eq!(r["tool"]["name"], "byok");
        let time = r["time"].as_str().unwrap();
        assert!(time.len() == 20 && time.ends_with('Z'), "{time}");
    }
    // The signer's fingerprint is recorded before any key is generated.
    let signer_at = s.iter().position(|x| x == "signer").unwrap();
    let keygen_at = s.iter().position(|x| x == "keygen").unwrap();
    assert!(signer_at < keygen_at);

    // Printable record.
    let out = ok(&tok.byok(&[
        "transcript",
        "render",
        "out/transcript.jsonl",
        "--out-dir",
        "print",
    ]));
    assert!(out.contains("transcript.html"), "{out}");
    let html = fs::read_to_string(tok.dir().join("print/transcript.html")).unwrap();
    let md = fs::read_to_string(tok.dir().join("print/transcript.md")).unwrap();
    let digest = report["transcript_digest"].as_str().unwrap();
    let words = report["transcript_digest_words"].as_str().unwrap();
    let first_word = words.split(' ').next().unwrap();
    for doc in [&html, &md] {
        assert!(doc.contains(digest));
        assert!(doc.contains(first_word));
        assert!(doc.contains("Alice Example") && doc.contains("Bob Example"));
        assert!(doc.contains("Signature:") && doc.contains("Date:"));
        assert!(doc.contains(&fp(&keks().0)));
    }
    assert!(
        html.contains("@media print") && !html.contains("<script") && !html.contains("http-equiv")
    );
    // Rendering never overwrites.
    fails(
        &tok.byok(&[
            "transcript",
            "render",
            "out/transcript.jsonl",
            "--out-dir",
            "print",
        ]),
        &["already exists"],
    );

    // The finished ceremony cannot be run again, nor resumed.
    fails(&run(&tok, &[]), &["not empty", "--resume"]);
    fails(&run(&tok, &["--resume"]), &["already closed"]);
    assert_eq!(
        fs::read_to_string(tok.dir().join("out/transcript.jsonl")).unwrap(),
        t
    );
}

#[test]
fn interactive_kek_confirmation_and_a_wrong_word_stops() {
    use std::io::Write;
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    let spawn = |answers: &str| {
        let mut c = tok.cmd(&["ceremony", "run", "plan.json", "--out", "out"]);
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answers.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let b_words = byok_core::words::to_words(&keks().1.kek().unwrap().sha256());
    let list: Vec<&str> = b_words.split(' ').collect();
    // A wrong word stops the ceremony before any key is made.
    let o = spawn(&format!("yes\n{} wrong\n", list[0]));
    fails_after_progress(&o, &["do not match", "keks/b.json"]);
    assert_eq!(tok.labels(), vec![signer(), signer()]);
    // Resume with the right words.
    let mut c = tok.cmd(&["ceremony", "run", "plan.json", "--out", "out", "--resume"]);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{} {}\n", list[0], list[list.len() - 1]).as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    ok(&o);
    let t = check_ceremony(&tok);
    assert!(t.contains("officers read the words aloud and answered yes"));
    assert!(t.contains("officers typed the first and last words"));
    assert!(t.contains(
        "\"actor\":\"Alice Example (ceremony administrator), Bob Example (crypto officer)\""
    ));
}

/// A clean failure after progress lines: exit 1, no panic, exactly one `error: …` line,
/// the last, holding every one of `words`.
fn fails_after_progress(o: &Output, words: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert_eq!(err.lines().last(), Some(errors[0]), "{err}");
    for w in words {
        assert!(errors[0].contains(w), "{w:?} missing: {err}");
    }
}

/// Kill byok at each of `points` in turn (the first run fresh, later ones resuming),
/// then resume to the end and check the ceremony is whole.
fn crash_then_resume(points: &[&str]) -> String {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    for (i, p) in points.iter().enumerate() {
        run_crashing(&tok, p, i > 0);
    }
    let o = run(&tok, &["--resume"]);
    ok(&o);
    let t = check_ceremony(&tok);
    assert_eq!(
        steps(&t).iter().filter(|s| *s == "resume").count(),
        points.len()
    );
    t
}

#[test]
fn crash_after_signer_intent_before_it_exists() {
    crash_then_resume(&["recorded:keygen-started:1"]);
}

#[test]
fn crash_after_signer_generated_before_recorded() {
    let t = crash_then_resume(&["generated:signer:1"]);
    assert!(t.contains("\"step\":\"signer\"") && t.contains("\"adopted\":true"));
}

#[test]
fn crash_after_key_intent_before_keygen() {
    crash_then_resume(&["recorded:keygen-started:3"]);
}

#[test]
fn crash_after_keygen_before_public_key_file() {
    let t = crash_then_resume(&["generated:keygen:2"]);
    assert!(t.contains("\"adopted\":true"));
}

#[test]
fn crash_after_public_key_file_before_record() {
    crash_then_resume(&["done:keygen:2"]);
}

#[test]
fn crash_mid_write_of_a_public_key_leaves_a_temp_file_that_resume_removes() {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    run_crashing(&tok, "temp-written:3", false);
    let temps: Vec<String> = fs::read_dir(tok.dir().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert_eq!(temps.len(), 1, "{temps:?}");
    ok(&run(&tok, &["--resume"]));
    let t = check_ceremony(&tok);
    assert!(
        t.contains(&temps[0]),
        "the resume record names the removed temp file"
    );
}

#[test]
fn crash_mid_wrap_and_a_torn_transcript_line() {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    run_crashing(&tok, "done:wrap:2", false);
    // A record cut short by the kill: never reported done, cut off on resume.
    let path = tok.dir().join("out/transcript.jsonl");
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    std::io::Write::write_all(&mut f, b"{\"seq\":99,\"prev\":\"").unwrap();
    drop(f);
    ok(&run(&tok, &["--resume"]));
    let t = check_ceremony(&tok);
    assert!(t.contains("replaced_unrecorded_package_sha256\":\""));
    assert!(t.contains("torn_line_sha256\":\""));
}

#[test]
fn killed_before_the_first_record_resume_starts_afresh() {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    fs::create_dir(tok.dir().join("out")).unwrap();
    // The transcript was created, and its first line torn.
    fs::write(tok.dir().join("out/transcript.jsonl"), b"{\"seq\":0,").unwrap();
    ok(&run(&tok, &["--resume"]));
    check_ceremony(&tok);
}

#[test]
fn crash_mid_write_of_a_package() {
    crash_then_resume(&["temp-written:6"]);
}

#[test]
fn crash_before_and_after_the_manifest_and_before_close() {
    crash_then_resume(&["recorded:wrap:4", "done:manifest:1", "recorded:manifest:1"]);
}

#[test]
fn crash_twice_in_different_windows() {
    crash_then_resume(&["generated:keygen:1", "done:wrap:1"]);
}

#[test]
fn resume_refused_on_another_token() {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    run_crashing(&tok, "done:wrap:1", false);
    let before = fs::read(tok.dir().join("out/transcript.jsonl")).unwrap();
    // Same label, another token (another serial).
    let other = Token::new(TOKEN);
    let plan = tok.dir().join("plan.json");
    let out = tok.dir().join("out");
    let o = other.byok(&[
        "ceremony",
        "run",
        plan.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--non-interactive",
        "--resume",
    ]);
    fails(&o, &["not the ceremony's token", "serial"]);
    assert!(other.labels().is_empty(), "nothing made on the other token");
    assert_eq!(
        fs::read(tok.dir().join("out/transcript.jsonl")).unwrap(),
        before
    );
    // --token may not rename the plan's token.
    fails(
        &run(&tok, &["--resume", "--token", "Other-Token"]),
        &["plan names", "Contoso-Ceremony"],
    );
    // The right token still resumes.
    ok(&run(&tok, &["--resume"]));
    check_ceremony(&tok);
}

#[test]
fn resume_refused_when_a_file_or_the_plan_changed() {
    let tok = Token::new(TOKEN);
    let plan = write_plan(&tok.dir(), &plan_value());
    run_crashing(&tok, "done:wrap:2", false);
    let out = tok.dir().join("out");
    let transcript = fs::read(out.join("transcript.jsonl")).unwrap();
    let labels = tok.labels();

    // A recorded file altered.
    let pem = out.join(format!("{}.pub.pem", KEYS[0].0));
    let good = fs::read(&pem).unwrap();
    fs::write(&pem, [&good[..], b"\n"].concat()).unwrap();
    fails(&run(&tok, &["--resume"]), &["altered", "pub.pem"]);
    // A recorded file gone.
    fs::remove_file(&pem).unwrap();
    fails(&run(&tok, &["--resume"]), &["missing", "pub.pem"]);
    fs::write(&pem, &good).unwrap();
    // A file byok does not write.
    fs::write(out.join("notes.txt"), b"x").unwrap();
    fails(&run(&tok, &["--resume"]), &["notes.txt", "does not write"]);
    fs::remove_file(out.join("notes.txt")).unwrap();
    // The plan changed.
    let plan_bytes = fs::read(&plan).unwrap();
    fs::write(&plan, [&plan_bytes[..], b" "].concat()).unwrap();
    fails(&run(&tok, &["--resume"]), &["plan changed"]);
    fs::write(&plan, &plan_bytes).unwrap();
    // No directory with no transcript to resume.
    fails(
        &tok.byok(&[
            "ceremony",
            "run",
            "plan.json",
            "--out",
            "nowhere",
            "--non-interactive",
            "--resume",
        ]),
        &["no transcript.jsonl"],
    );
    // Nothing changed by the refusals.
    assert_eq!(fs::read(out.join("transcript.jsonl")).unwrap(), transcript);
    assert_eq!(tok.labels(), labels);
    ok(&run(&tok, &["--resume"]));
    check_ceremony(&tok);
}

#[test]
fn a_key_lost_from_the_token_is_refused() {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    run_crashing(&tok, "done:wrap:1", false);
    tok.with_session(|s| {
        for h in s
            .find_objects(&[cryptoki::object::Attribute::Label(
                KEYS[1].0.as_bytes().to_vec(),
            )])
            .unwrap()
        {
            s.destroy_object(h).unwrap();
        }
    });
    fails(&run(&tok, &["--resume"]), &[KEYS[1].0, "0 private keys"]);
}

#[test]
fn a_label_already_on_the_token_is_never_adopted() {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    ok(&tok.byok(&[
        "keygen",
        "--label",
        KEYS[2].0,
        "--size",
        "2048",
        "--out-dir",
        ".",
    ]));
    fails(
        &run(&tok, &[]),
        &["already has an object labelled", KEYS[2].0],
    );
    assert!(!tok.dir().join("out").exists(), "no directory left behind");
}

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
    for plan in ["exchange-dep.plan.json", "sharepoint-geo.plan.json"] {
        let o = byok_in(&dir, &["ceremony", "check", plan, "--json"]);
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        let rules: Vec<&str> = r["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["rule"].as_str().unwrap())
            .collect();
        assert_eq!(
            rules,
            ["kek-pin", "kek-pin", "kek-file", "kek-file"],
            "{plan}: {r}"
        );
    }
}

#[test]
fn transcript_tampering_is_caught() {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    ok(&run(&tok, &[]));
    let good = fs::read_to_string(tok.dir().join("out/transcript.jsonl")).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let n = lines.len();
    let verify = |name: &str, text: &str| {
        let p = tok.dir().join(name);
        fs::write(&p, text).unwrap();
        tok.byok(&["transcript", "verify", p.to_str().unwrap()])
    };
    let join = |ls: &[&str]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();
    ok(&verify("same.jsonl", &good));

    // A field edited.
    let mut ls = lines.clone();
    let edited = ls[5].replacen("\"actor\":\"byok\"", "\"actor\":\"mallory\"", 1);
    assert_ne!(edited, ls[5]);
    ls[5] = &edited;
    fails(
        &verify("edit.jsonl", &join(&ls)),
        &["record 6", "record 5 was edited"],
    );
    // A record deleted.
    let mut ls = lines.clone();
    ls.remove(4);
    fails(&verify("delete.jsonl", &join(&ls)), &["record 4", "seq 5"]);
    // Two records swapped.
    let mut ls = lines.clone();
    ls.swap(3, 4);
    fails(
        &verify("swap.jsonl", &join(&ls)),
        &["record 3", "seq 4", "reordered"],
    );
    // A record appended after the close.
    let mut ls = lines.clone();
    ls.push(lines[n - 2]);
    fails(
        &verify("append.jsonl", &join(&ls)),
        &[&format!("record {n}"), "follows the close record"],
    );
    // The close record truncated.
    let cut = &good[..good.len() - 30];
    fails(&verify("truncate.jsonl", cut), &["broken"]);
    // Never closed.
    fails(
        &verify("open.jsonl", &join(&lines[..n - 1])),
        &["never closed", "finish it"],
    );
    // The close record edited: its HSM signature no longer verifies.
    let mut ls = lines.clone();
    let close = ls[n - 1].replacen("\"keys\":4", "\"keys\":5", 1);
    assert_ne!(close, ls[n - 1]);
    ls[n - 1] = &close;
    fails(
        &verify("close.jsonl", &join(&ls)),
        &["record", "signature", "does not verify"],
    );
    // The signature stripped, with an "unsigned" excuse.
    let mut ls = lines.clone();
    let i = ls[n - 1].rfind(",\"signature\":").unwrap();
    let stripped = format!("{},\"unsigned\":\"no\"}}}}", &ls[n - 1][..i - 1]);
    ls[n - 1] = &stripped;
    fails(
        &verify("strip.jsonl", &join(&ls)),
        &["signature was removed"],
    );
    // The open record's plan hash changed.
    let mut ls = lines.clone();
    let open = ls[0].replacen("\"prev\":\"", "\"prev\":\"00", 1);
    ls[0] = &open;
    fails(&verify("plan.jsonl", &join(&ls)), &["record 0", "plan"]);
    // Garbage and an empty file.
    fails(
        &verify("garbage.jsonl", "not json\n"),
        &["record 0", "broken"],
    );
    fails(&verify("empty.jsonl", ""), &["empty"]);
    // --plan: a transcript from another plan.
    fs::write(tok.dir().join("other-plan.json"), b"{}").unwrap();
    fails(
        &tok.byok(&[
            "transcript",
            "verify",
            "out/transcript.jsonl",
            "--plan",
            "other-plan.json",
        ]),
        &["does not start from plan"],
    );
    // Render refuses a transcript that does not verify.
    fails(
        &tok.byok(&["transcript", "render", "edit.jsonl", "--out-dir", "p"]),
        &["record 6"],
    );
    assert!(!tok.dir().join("p").exists());
}

#[test]
fn signature_checks_out_with_openssl() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl not installed; skipped");
        return;
    }
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    ok(&run(&tok, &[]));
    // The auditor's commands from docs/transcript.md.
    let script = r#"set -e
tail -n 1 out/transcript.jsonl > close.json
sed 's/.*,"signature":{.*"spki":"\([^"]*\)".*/\1/' close.json | base64 -d > signer.der
sed 's/.*,"signature":{.*"value":"\([^"]*\)".*/\1/' close.json | base64 -d > close.sig
sed 's/,"signature":{.*}$/}/' close.json | tr -d '\n' > close.body
openssl pkey -pubin -inform DER -in signer.der -out signer.pem
openssl dgst -sha256 -verify signer.pem -signature close.sig close.body
"#;
    let o = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(tok.dir())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("Verified OK"), "{}", stdout(&o));
}

#[test]
fn dry_run_is_the_snapshot_script_and_touches_nothing() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ceremony");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::create_dir_all(dir.join("keks")).unwrap();
    fs::copy(fixture.join("plan.json"), dir.join("plan.json")).unwrap();
    for k in ["vault-a-kek.json", "vault-b-kek.json"] {
        fs::copy(fixture.join("keks").join(k), dir.join("keks").join(k)).unwrap();
    }
    let o = Command::new(byok_testkit::bin("byok"))
        .args(["ceremony", "run", "plan.json", "--out", "out", "--dry-run"])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // No HSM is loaded: a module that does not exist does not matter.
        .env("BYOK_PKCS11_MODULE", "/nonexistent/libpkcs11.so")
        .output()
        .unwrap();
    let got = ok(&o);
    assert!(!dir.join("out").exists(), "the dry run wrote nothing");
    let snap = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/ceremony-dry-run.txt");
    if std::env::var_os("BYOK_UPDATE_SNAPSHOTS").is_some() {
        fs::write(&snap, &got).unwrap();
    }
    let want = fs::read_to_string(&snap).expect("snapshot (BYOK_UPDATE_SNAPSHOTS=1 writes it)");
    assert_eq!(got, want, "dry-run output differs from {}", snap.display());
}
