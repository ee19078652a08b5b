//! Whole runs against the fake token: fresh, interactive, stopped and resumed, unsigned.

use super::*;
use crate::ceremony::manifest::TRANSCRIPT;
use crate::ceremony::plan::KeyPlan;
use crate::ceremony::testplan;
use crate::console::Scripted;
use crate::hsm::fake::FakeToken;
use crate::transcript::StepName;
use crate::util::sha256_hex;
use std::path::Path;

fn opts(dir: &Path, resume: bool, non_interactive: bool) -> RunOptions {
    RunOptions {
        out: dir.join("out"),
        resume,
        non_interactive,
        module: None,
        token: None,
        pin_file: None,
        binary: crate::identity::BinaryIdentity::for_tests(),
        deviations: vec![],
    }
}

/// The KEK private key of plan key `k` (the tests' software vaults).
fn kek_private(k: &KeyPlan) -> &'static rsa::PrivateKey {
    let i = if k.key.kek == "keks/a.json" { 0 } else { 1 };
    &testplan::keks()[i].2
}

#[test]
fn a_fresh_run_makes_every_package_a_signed_transcript_and_the_manifest() {
    let (dir, plan) = testplan::checked(2);
    let token = FakeToken::default();
    let console = Scripted::default();
    let o = opts(dir.path(), false, true);
    let r = execute(&plan, &o, &console, &token, Prior::default(), vec![]).unwrap();
    assert!(r.signed && !r.resumed && !r.rehearsal);
    assert_eq!(r.keys.len(), 2);
    let v = transcript::verify(&o.out.join(TRANSCRIPT)).unwrap();
    assert_eq!(v.report.digest, r.transcript_digest);
    assert!(v.report.signed);
    let written: Vec<&str> = v.records.iter().map(|r| r.step.as_str()).collect();
    assert_eq!(
        written,
        [
            "open",
            "preflight",
            "selftest",
            "keygen-started",
            "signer",
            "kek-confirmed",
            "kek-confirmed",
            "keygen-started",
            "keygen",
            "keygen-started",
            "keygen",
            "wrap",
            "wrap",
            "manifest",
            "close"
        ]
    );
    // Each package holds exactly the token's key (unwrapped in software with the KEK).
    for (k, mk) in plan.keys.iter().zip(&r.keys) {
        let bytes = std::fs::read(o.out.join(&mk.package)).unwrap();
        let (pkg, _) =
            crate::package::inspect(&bytes, Some(&k.kek), crate::Mode::Ceremony).unwrap();
        let ct = crate::kek::decode_b64url(&pkg.ciphertext).unwrap();
        let un = crate::package::software_unwrap(kek_private(k), &ct, crate::hsm::OaepHash::Sha1)
            .unwrap();
        let (n, _) = crate::package::pkcs8_rsa_public(&un.pkcs8).unwrap();
        let key = token.private_keys(&k.key.name).unwrap()[0];
        assert_eq!(n, token.key_facts(key).unwrap().modulus);
        assert_eq!(mk.package_sha256, sha256_hex(&bytes));
    }
    // The progress showed every step, and the total was the list's length.
    let shown = console.transcript();
    let n = steps(&plan).len();
    assert!(shown.starts_with(&format!("begin: {n} steps")), "{shown}");
    assert_eq!(shown.matches("\ndone: ").count(), n, "{shown}");
}

#[test]
fn officers_confirm_each_kek_and_a_wrong_answer_stops_the_run_for_a_resume() {
    let (dir, plan) = testplan::checked(2);
    let token = FakeToken::default();
    let o = opts(dir.path(), false, false);
    let fp = plan.keys[0].kek.sha256();
    let words = crate::words::to_words(&fp);
    let list: Vec<&str> = words.split(' ').collect();
    let first_last = format!("{} {}", list[0], list[list.len() - 1]);
    // KEK a: the first and last words; KEK b: a wrong answer.
    let console = Scripted::answering(&[&first_last, "aardvark zulu"]);
    let e = execute(&plan, &o, &console, &token, Prior::default(), vec![]).unwrap_err();
    assert!(e.message().contains("do not match its fingerprint"), "{e}");
    assert!(console
        .transcript()
        .contains(&format!("SHA-256: {}", hex::encode(fp))));
    // The transcript is unfinished; a resume asks only for KEK b.
    let path = o.out.join(TRANSCRIPT);
    assert!(transcript::verify(&path).is_err(), "not closed");
    let (records, _) = transcript::read_unfinished(&path).unwrap();
    let confirmed = records
        .iter()
        .filter(|r| r.step == StepName::KekConfirmed)
        .count();
    assert_eq!(confirmed, 1);
    let prior = Prior { records };
    let o = opts(dir.path(), true, false);
    let temps = resume::check_dir(&plan, &o.out, &prior).unwrap();
    // KEK b, then no deviation at the close.
    let console = Scripted::answering(&["yes", ""]);
    let r = execute(&plan, &o, &console, &token, prior, temps).unwrap();
    assert!(r.resumed && r.signed);
    let v = transcript::verify(&path).unwrap();
    let methods: Vec<&str> = v
        .records
        .iter()
        .filter(|r| r.step == StepName::KekConfirmed)
        .filter_map(|r| r.detail_str("method"))
        .collect();
    assert_eq!(
        methods,
        [
            "officers typed the first and last words",
            "officers read the words aloud and answered yes"
        ]
    );
    assert_eq!(
        v.records
            .iter()
            .filter(|r| r.step == StepName::Resume)
            .count(),
        1
    );
    assert_eq!(
        token.private_labels().len(),
        3,
        "two keys and the signer, nothing doubled"
    );
}

#[test]
fn no_answer_is_no_confirmation() {
    let (dir, plan) = testplan::checked(2);
    let console = Scripted::answering(&[""]);
    let e = execute(
        &plan,
        &opts(dir.path(), false, false),
        &console,
        &FakeToken::default(),
        Prior::default(),
        vec![],
    )
    .unwrap_err();
    assert!(e.message().contains("no answer for KEK keks/a.json"), "{e}");
}

#[test]
fn a_token_that_cannot_sign_closes_unsigned_and_says_why() {
    let (dir, plan) = testplan::checked(2);
    let mut token = FakeToken::default();
    token.can_sign = false;
    let o = opts(dir.path(), false, true);
    let r = execute(
        &plan,
        &o,
        &Scripted::default(),
        &token,
        Prior::default(),
        vec![],
    )
    .unwrap();
    assert!(!r.signed);
    let v = transcript::verify(&o.out.join(TRANSCRIPT)).unwrap();
    assert!(v
        .report
        .unsigned_reason
        .unwrap()
        .contains("CKM_SHA256_RSA_PKCS"));
    assert!(!token.private_labels().contains(&plan.signer_label()));
}

#[test]
fn a_rehearsal_plan_is_recorded_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut value = testplan::value(2);
    value["rehearsal"] = serde_json::json!(true);
    let (_, plan) = testplan::check(dir.path(), &value);
    let plan = plan.unwrap();
    let o = opts(dir.path(), false, true);
    let r = execute(
        &plan,
        &o,
        &Scripted::default(),
        &FakeToken::default(),
        Prior::default(),
        vec![],
    )
    .unwrap();
    assert!(r.rehearsal);
    let v = transcript::verify(&o.out.join(TRANSCRIPT)).unwrap();
    assert_eq!(
        v.records[0].detail.get("rehearsal"),
        Some(&serde_json::json!(true))
    );
}

#[test]
fn a_resume_keeps_the_mode_the_ceremony_began_with() {
    let (dir, plan) = testplan::checked(2);
    let o = opts(dir.path(), false, true);
    // A run stopped after its preflight (a wrong answer stops an interactive run later).
    let console = Scripted::answering(&["no"]);
    let interactive = opts(dir.path(), false, false);
    let _ = execute(
        &plan,
        &interactive,
        &console,
        &FakeToken::default(),
        Prior::default(),
        vec![],
    );
    let (records, _) = transcript::read_unfinished(&o.out.join(TRANSCRIPT)).unwrap();
    let prior = Prior { records };
    check_same_mode(&prior, &plan).unwrap();
    let rehearsal = CheckedPlan {
        mode: crate::Mode::Rehearsal,
        ..plan.clone()
    };
    let e = check_same_mode(&prior, &rehearsal).unwrap_err();
    assert!(e.message().contains("began as a real ceremony"), "{e}");
}

#[test]
fn bags_and_deviations_go_into_the_signed_chain() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = testplan::value(2);
    v["location"] = serde_json::json!("Contoso HQ, room 4.12");
    v["witnesses"] = serde_json::json!([{"name": "Carol Auditor", "role": "internal auditor"}]);
    v["hsm_bags"] = serde_json::json!({"in": ["TEB-1"], "out": ["TEB-9"]});
    let (_, plan) = testplan::check(dir.path(), &v);
    let plan = plan.unwrap();
    let token = FakeToken::default();
    let mut o = opts(dir.path(), false, false);
    o.deviations = vec!["the printer jammed; the script was printed again".into()];
    // Bags in, KEK a, KEK b, bags out (not the plan's), one deviation, the end.
    let console =
        Scripted::answering(&["TEB-1", "yes", "yes", "TEB-10", "Bob left 09:40-09:45", ""]);
    let r = execute(&plan, &o, &console, &token, Prior::default(), vec![]).unwrap();
    assert!(r.signed);
    let v = transcript::verify(&r.transcript).unwrap();
    let open = &v.records[0];
    assert_eq!(open.detail_str("location"), Some("Contoso HQ, room 4.12"));
    assert_eq!(open.detail["witnesses"][0]["name"], "Carol Auditor");
    assert_eq!(
        open.detail["hsm_bags_in"]["bags"],
        serde_json::json!(["TEB-1"])
    );
    assert_eq!(open.detail["hsm_bags_in"]["source"], "officers");
    let close = v.records.last().unwrap();
    assert!(close.signature.is_some(), "under the HSM's signature");
    assert_eq!(
        close.detail["hsm_bags_out"]["bags"],
        serde_json::json!(["TEB-10"])
    );
    assert_eq!(
        close.detail["hsm_bags_out"]["planned"],
        serde_json::json!(["TEB-9"])
    );
    let d: Vec<(&str, &str)> = close.detail["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["source"].as_str().unwrap(), d["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        d,
        [
            (
                "--deviation",
                "the printer jammed; the script was printed again"
            ),
            (
                "byok",
                "the HSM and smartcards were sealed in bags TEB-10, not the plan's TEB-9"
            ),
            ("officers", "Bob left 09:40-09:45"),
        ]
    );
    // Non-interactive: the plan's bags, recorded as such; no deviation is none.
    let o = RunOptions {
        out: dir.path().join("out2"),
        ..opts(dir.path(), false, true)
    };
    let r = execute(
        &plan,
        &o,
        &Scripted::default(),
        &FakeToken::default(),
        Prior::default(),
        vec![],
    )
    .unwrap();
    let v = transcript::verify(&r.transcript).unwrap();
    assert_eq!(v.records[0].detail["hsm_bags_in"]["source"], "plan");
    let close = v.records.last().unwrap();
    assert_eq!(close.detail["hsm_bags_out"]["source"], "plan");
    assert_eq!(
        close.detail["hsm_bags_out"]["bags"],
        serde_json::json!(["TEB-9"])
    );
    assert_eq!(close.detail["deviations"], serde_json::json!([]));
    // A bag that is not the plan's stops before anything is written.
    let o = RunOptions {
        out: dir.path().join("out3"),
        ..opts(dir.path(), false, false)
    };
    let e = execute(
        &plan,
        &o,
        &Scripted::answering(&["TEB-2"]),
        &FakeToken::default(),
        Prior::default(),
        vec![],
    )
    .unwrap_err();
    assert!(e.message().contains("not the plan's hsm_bags.in"), "{e}");
    assert!(!o.out.exists(), "nothing written");
}

#[test]
fn a_deviation_byok_cannot_record_is_refused_before_anything_happens() {
    let (dir, plan) = testplan::checked(2);
    let mut o = opts(dir.path(), false, true);
    o.deviations = vec!["ok".into(), "line one\nline two".into()];
    // `run` refuses before it opens any module (there is none here) or writes anything.
    let e = run(&plan, &o, &Scripted::default()).unwrap_err();
    assert!(e.message().starts_with("--deviation: deviation"), "{e}");
    assert!(e.message().contains("one line"), "{e}");
    assert!(!o.out.exists());
}

/// A `--deviation` given to a run that stopped is recorded when given (in the open
/// record), and the close of the resumed run carries it even when the resume does not
/// repeat it; one repeated is recorded once; one the resume adds is there too.
#[test]
fn deviations_given_before_an_interruption_reach_the_close() {
    let (dir, plan) = testplan::checked(2);
    let token = FakeToken::default();
    let mut o = opts(dir.path(), false, false);
    o.deviations = vec!["the first printer failed".into()];
    // KEK a: a wrong answer stops the run.
    let console = Scripted::answering(&["aardvark zulu"]);
    execute(&plan, &o, &console, &token, Prior::default(), vec![]).unwrap_err();
    let path = o.out.join(TRANSCRIPT);
    let (records, _) = transcript::read_unfinished(&path).unwrap();
    assert_eq!(
        records[0].detail["deviations_given"],
        serde_json::json!(["the first printer failed"])
    );
    let prior = Prior { records };
    let mut o = opts(dir.path(), true, false);
    // The resume names a new one first and repeats the earlier one: the earlier comes
    // first (from the open record), and once.
    o.deviations = vec![
        "resumed after lunch".into(),
        "the first printer failed".into(),
    ];
    let temps = resume::check_dir(&plan, &o.out, &prior).unwrap();
    let console = Scripted::answering(&["yes", "yes", ""]);
    let r = execute(&plan, &o, &console, &token, prior, temps).unwrap();
    assert!(r.resumed && r.signed);
    let v = transcript::verify(&path).unwrap();
    let texts: Vec<&str> = v.records.last().unwrap().detail["deviations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["the first printer failed", "resumed after lunch"]);
}
