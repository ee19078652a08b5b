//! Whole runs: non-interactive and interactive, the printable record, and a label already
//! on the token.

use crate::common::*;
use crate::rig::*;
use serde_json::Value;
use std::fs;
use std::process::Output;

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
    // The preflight and every package's record name the mechanism actually used, and
    // the preflight why (SoftHSM 2.6.1: the two-step wrap through 0x210A; 2.7.0: the
    // native wrap; Kryoptic: the two-step wrap through 0x210B).
    let kind = tok.t.kind;
    for l in t.lines() {
        let r: Value = serde_json::from_str(l).unwrap();
        if r["step"] == "wrap" || r["step"] == "preflight" {
            assert_eq!(r["detail"]["mechanism"], kind.mechanism(), "{l}");
        }
        if r["step"] == "preflight" {
            assert_eq!(r["detail"]["verdict"], kind.verdict(), "{l}");
            let reason = r["detail"]["verdict_reason"].as_str().unwrap();
            assert_eq!(
                reason.starts_with("no CKM_RSA_AES_KEY_WRAP (0x1054)"),
                kind.verdict() == "composite",
                "{l}"
            );
        }
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
