//! How the officers confirm a KEK (whole runs are tested in `run/tests.rs`).

use super::*;
use crate::ceremony::testplan;
use crate::console::Scripted;

#[test]
fn the_officers_confirm_with_yes_or_the_first_and_last_words_and_nothing_else() {
    let (_dir, plan) = testplan::checked(2);
    let k = &plan.keys[0];
    let fp = k.kek.sha256();
    let (first, last) = words::first_last(&fp);
    for (answer, method) in [
        ("yes", "answered yes"),
        ("YES", "answered yes"),
        (&format!("{first} {last}") as &str, "first and last words"),
        (
            &format!("  {}   {}  ", first.to_uppercase(), last) as &str,
            "first and last words",
        ),
    ] {
        let c = Scripted::answering(&[answer]);
        let m = ask_officers(&c, k, "kid", &fp).unwrap();
        assert!(m.contains(method), "{answer:?}: {m}");
        assert!(
            c.transcript().contains(&hex::encode(fp)),
            "the fingerprint was shown"
        );
    }
    for answer in [
        format!("{last} {first}"),
        first.to_string(),
        format!("{first} x {last}"),
        "no".to_string(),
    ] {
        let c = Scripted::answering(&[&answer]);
        let e = ask_officers(&c, k, "kid", &fp).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Integrity, "{answer:?}");
    }
    let e = ask_officers(&Scripted::answering(&[""]), k, "kid", &fp).unwrap_err();
    assert!(e.message().contains("no answer"), "{e}");
}
