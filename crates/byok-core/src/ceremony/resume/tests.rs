//! The resume logic against a fake token: what is adopted, what is refused.

use super::*;
use crate::ceremony::testplan;
use crate::hsm::fake::{byok_facts, signer_facts, FakeToken};
use crate::hsm::PrivateKeyFacts;

fn keygen_record(token: &FakeToken, label: &str) -> Record {
    let key = token.private_keys(label).unwrap()[0];
    let spki = token.key_facts(key).unwrap().spki_sha256().unwrap();
    Record::new(StepName::Keygen, "byok")
        .detail("label", label)
        .detail("spki_sha256", spki)
}

fn started(label: &str) -> Record {
    Record::new(StepName::KeygenStarted, "byok").detail("label", label)
}

#[test]
fn a_fresh_token_passes_and_a_foreign_label_is_refused() {
    let (_dir, plan) = testplan::checked(2);
    let token = FakeToken::default();
    check_token(&plan, &token, &Prior::default()).unwrap();
    token.add_other(&plan.keys[1].key.name);
    let e = check_token(&plan, &token, &Prior::default()).unwrap_err();
    assert!(e.message().contains("this ceremony did not make"), "{e}");
    assert_eq!(e.kind(), crate::ErrorKind::Exists);
}

#[test]
fn a_foreign_signer_label_is_refused_too() {
    let (_dir, plan) = testplan::checked(2);
    let token = FakeToken::default();
    token.add_key(&plan.signer_label(), 3072, signer_facts());
    let e = check_token(&plan, &token, &Prior::default()).unwrap_err();
    assert!(e.message().contains(&plan.signer_label()), "{e}");
}

#[test]
fn recorded_keys_must_be_there_once_and_the_same() {
    let (_dir, plan) = testplan::checked(2);
    let name = plan.keys[0].key.name.clone();
    let token = FakeToken::default();
    token.add_key(&name, 2048, byok_facts());
    let prior = Prior {
        records: vec![started(&name), keygen_record(&token, &name)],
    };
    check_token(&plan, &token, &prior).unwrap();
    // Doubled: a second key with the label.
    token.add_key(&name, 2048, byok_facts());
    let e = check_token(&plan, &token, &prior).unwrap_err();
    assert!(
        e.message().contains("2 private keys") && e.message().contains("doubled"),
        "{e}"
    );
    // Swapped: another key under the recorded label.
    let other = FakeToken::default();
    other.add_key(&name, 2048, byok_facts());
    let e = check_token(&plan, &other, &prior).unwrap_err();
    assert!(
        e.message().contains("not the key the transcript recorded"),
        "{e}"
    );
    // Lost.
    let e = check_token(&plan, &FakeToken::default(), &prior).unwrap_err();
    assert!(e.message().contains("0 private keys"), "{e}");
}

#[test]
fn a_started_keygen_adopts_the_one_key_and_writes_its_public_key() {
    let (dir, plan) = testplan::checked(2);
    let k = &plan.keys[0];
    let token = FakeToken::default();
    token.add_key(&k.key.name, k.key.size, byok_facts());
    check_token(
        &plan,
        &token,
        &Prior {
            records: vec![started(&k.key.name)],
        },
    )
    .unwrap();
    let rec = keygen_or_adopt(&token, dir.path(), k, true).unwrap();
    assert_eq!(rec.detail.get("adopted"), Some(&serde_json::json!(true)));
    assert_eq!(token.generated.get(), 0, "nothing generated");
    let pem = std::fs::read(dir.path().join(pub_file(&k.key.name))).unwrap();
    assert_eq!(
        rec.outputs.get(&pub_file(&k.key.name)),
        Some(&sha256_hex(&pem))
    );
    // Run again with the file there: the same file is accepted, the record the same key.
    let again = keygen_or_adopt(&token, dir.path(), k, true).unwrap();
    assert_eq!(
        again.detail_str("spki_sha256"),
        rec.detail_str("spki_sha256")
    );
}

#[test]
fn adoption_refuses_a_key_that_is_not_the_planned_kind() {
    let (dir, plan) = testplan::checked(2);
    let k = &plan.keys[0];
    for (facts, bits) in [
        (
            PrivateKeyFacts {
                local: false,
                ..byok_facts()
            },
            k.key.size,
        ),
        (
            PrivateKeyFacts {
                extractable: false,
                ..byok_facts()
            },
            k.key.size,
        ),
        (
            PrivateKeyFacts {
                decrypt: true,
                ..byok_facts()
            },
            k.key.size,
        ),
        (byok_facts(), 3072),
    ] {
        let token = FakeToken::default();
        token.add_key(&k.key.name, bits, facts);
        let e = keygen_or_adopt(&token, dir.path(), k, true).unwrap_err();
        assert!(
            e.message().contains("not the key this ceremony started"),
            "{e}"
        );
        assert!(!dir.path().join(pub_file(&k.key.name)).exists());
    }
}

#[test]
fn adoption_refuses_a_lost_key_a_foreign_public_key_file_and_doubles() {
    let (dir, plan) = testplan::checked(2);
    let k = &plan.keys[0];
    let pem = dir.path().join(pub_file(&k.key.name));
    std::fs::write(&pem, "not this key").unwrap();
    let e = keygen_or_adopt(&FakeToken::default(), dir.path(), k, true).unwrap_err();
    assert!(e.message().contains("the key was lost"), "{e}");
    let token = FakeToken::default();
    token.add_key(&k.key.name, k.key.size, byok_facts());
    let e = keygen_or_adopt(&token, dir.path(), k, true).unwrap_err();
    assert!(e.message().contains("is not the public key"), "{e}");
    std::fs::remove_file(&pem).unwrap();
    token.add_key(&k.key.name, k.key.size, byok_facts());
    let e = keygen_or_adopt(&token, dir.path(), k, true).unwrap_err();
    assert!(e.message().contains("2 private keys"), "{e}");
}

#[test]
fn without_a_started_keygen_a_key_is_generated_never_adopted() {
    let (dir, plan) = testplan::checked(2);
    let k = &plan.keys[1];
    let token = FakeToken::default();
    let rec = keygen_or_adopt(&token, dir.path(), k, false).unwrap();
    assert_eq!(rec.detail.get("adopted"), Some(&serde_json::json!(false)));
    assert_eq!(token.generated.get(), 1);
    assert_eq!(token.private_labels(), vec![k.key.name.clone()]);
}

#[test]
fn the_signer_is_adopted_only_when_its_generation_was_recorded() {
    let token = FakeToken::default();
    assert!(matches!(
        find_signer(&token, "s", false).unwrap(),
        SignerPlan::Generate
    ));
    token.add_key("s", 3072, signer_facts());
    assert!(matches!(
        find_signer(&token, "s", true).unwrap(),
        SignerPlan::Adopt(_)
    ));
    let e = find_signer(&token, "s", false).err().expect("refused");
    assert!(e.message().contains("did not record"), "{e}");
    token.add_key("s", 3072, signer_facts());
    assert!(
        find_signer(&token, "s", true).is_err(),
        "two signers are never adopted"
    );
}

#[test]
fn a_signer_must_be_a_signer() {
    let token = FakeToken::default();
    let good = token.add_key("s", 3072, signer_facts());
    let s = signer_from(&token, "s", good.private).unwrap();
    assert_eq!(s.spki_sha256, sha256_hex(&s.spki));
    let bad = token.add_key("x", 3072, byok_facts());
    let e = signer_from(&token, "x", bad.private).unwrap_err();
    assert!(e.message().contains("not a transcript signer"), "{e}");
}

#[test]
fn the_directory_may_hold_only_what_the_ceremony_writes() {
    let (_plandir, plan) = testplan::checked(2);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join(TRANSCRIPT), "").unwrap();
    let pubf = pub_file(&plan.keys[0].key.name);
    std::fs::write(d.join(&pubf), "pem").unwrap();
    std::fs::write(d.join(format!(".{pubf}.tmp-0123456789abcdef")), "half").unwrap();
    let prior = Prior {
        records: vec![Record::new(StepName::Keygen, "byok").output(&pubf, &sha256_hex(b"pem"))],
    };
    let temps = check_dir(&plan, d, &prior).unwrap();
    assert_eq!(temps, vec![format!(".{pubf}.tmp-0123456789abcdef")]);
    std::fs::write(d.join(&pubf), "PEM").unwrap();
    let e = check_dir(&plan, d, &prior).unwrap_err();
    assert!(e.message().contains("was altered"), "{e}");
    assert_eq!(e.kind(), crate::ErrorKind::Integrity);
    std::fs::write(d.join(&pubf), "pem").unwrap();
    std::fs::write(d.join("notes.txt"), "").unwrap();
    let e = check_dir(&plan, d, &prior).unwrap_err();
    assert!(e.message().contains("\"notes.txt\""), "{e}");
    std::fs::remove_file(d.join("notes.txt")).unwrap();
    std::fs::remove_file(d.join(&pubf)).unwrap();
    let e = check_dir(&plan, d, &prior).unwrap_err();
    assert!(e.message().contains("is missing"), "{e}");
}
