//! Kills at every crash window, each followed by `--resume`.

use crate::common::*;
use crate::rig::*;
use std::fs;

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
