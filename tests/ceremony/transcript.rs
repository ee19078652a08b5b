//! `byok transcript verify`: every way of tampering with a transcript, and the auditor's
//! openssl check of the signature.

use crate::common::*;
use crate::rig::*;
use std::fs;
use std::process::Command;

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
