//! Resumes refused when the token, a file or the plan changed.

use crate::common::*;
use crate::rig::*;
use std::fs;

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

/// A KEK file re-serialised around the same key (so the plan's pin still matches) is a
/// changed recorded file: the resume refuses it, before the token is touched, whether or
/// not its KEK was already confirmed.
#[test]
fn resume_refused_when_a_kek_file_was_reserialised() {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    run_crashing(&tok, "done:wrap:1", false);
    let out = tok.dir().join("out");
    let transcript = fs::read(out.join("transcript.jsonl")).unwrap();
    let labels = tok.labels();
    for file in ["keks/a.json", "keks/b.json"] {
        let p = tok.dir().join(file);
        let good = fs::read(&p).unwrap();
        // The same JSON value written otherwise (compact, with a final newline): other
        // bytes, the same key, so the plan's pin still matches.
        let v: serde_json::Value = serde_json::from_slice(&good).unwrap();
        let again = [serde_json::to_vec(&v).unwrap(), b"\n".to_vec()].concat();
        assert_ne!(again, good);
        fs::write(&p, &again).unwrap();
        ok(&tok.byok(&["ceremony", "check", "plan.json"]));
        fails(
            &run(&tok, &["--resume"]),
            &[file, "changed since the transcript recorded it", "same key"],
        );
        assert_eq!(fs::read(out.join("transcript.jsonl")).unwrap(), transcript);
        assert_eq!(tok.labels(), labels);
        fs::write(&p, &good).unwrap();
    }
    ok(&run(&tok, &["--resume"]));
    check_ceremony(&tok);
}
