//! Dual control asked for by the plan (`"wrap_with_trusted": true` for the plan, or per
//! key): on SoftHSM 2.7.0 (native CKM_RSA_AES_KEY_WRAP, CKA_WRAP_WITH_TRUSTED enforced)
//! the ceremony needs the SO's trusted KEKs first, then generates keys that can be
//! wrapped only under them; tokens without the native mechanism are refused before
//! anything is generated.

use crate::common::*;
use crate::rig::*;
use byok_testkit::softhsm::TokenKind;
use serde_json::Value;
use std::fs;

#[test]
fn the_plan_asks_for_dual_control() {
    let tok = Token::new(TOKEN);
    let mut plan = plan_value();
    plan["wrap_with_trusted"] = true.into();
    // One key says otherwise: the key's own setting wins.
    let plain = KEYS[3].0;
    plan["policies"][1]["keys"][1]["wrap_with_trusted"] = false.into();
    write_plan(&tok.dir(), &plan);
    ok(&tok.byok(&["ceremony", "check", "plan.json"]));
    let kind = tok.t.kind;
    if kind != TokenKind::SoftHsm270 {
        // No CKM_RSA_AES_KEY_WRAP: refused before login, nothing generated or written.
        fails(
            &run(&tok, &[]),
            &["wrap_with_trusted", "CKM_RSA_AES_KEY_WRAP"],
        );
        assert!(tok.labels().is_empty(), "{:?}", tok.labels());
        assert!(!tok.dir().join("out/transcript.jsonl").exists());
        return;
    }
    // The SO has not trusted the KEKs yet: refused before anything is generated.
    fails(&run(&tok, &[]), &["trusted KEK", "byok kek trust"]);
    assert!(tok.labels().is_empty(), "{:?}", tok.labels());
    assert!(!tok.dir().join("out/transcript.jsonl").exists());
    let so_pin = tok.t.so_pin_file.to_str().unwrap().to_string();
    for (file, a) in [("keks/a.json", true), ("keks/b.json", false)] {
        ok(&tok.byok(&[
            "kek",
            "trust",
            "--kek",
            file,
            "--sha256",
            &fp(kek_of(a)),
            "--so-pin-file",
            &so_pin,
        ]));
    }
    let o = run(&tok, &["--json"]);
    let report: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(report["signed"], true);
    ok(&tok.byok(&[
        "transcript",
        "verify",
        "out/transcript.jsonl",
        "--plan",
        "plan.json",
    ]));
    let t = fs::read_to_string(tok.dir().join("out/transcript.jsonl")).unwrap();
    let mut seen = 0;
    for l in t.lines() {
        let r: Value = serde_json::from_str(l).unwrap();
        let label = r["detail"]["label"].as_str().unwrap_or_default();
        let want = label != plain;
        if r["step"] == "keygen" {
            assert_eq!(r["detail"]["attributes"]["wrap_with_trusted"], want, "{l}");
        }
        if r["step"] == "wrap" {
            seen += 1;
            assert_eq!(r["detail"]["trusted_kek"], want, "{l}");
            assert_eq!(r["detail"]["mechanism"], "CKM_RSA_AES_KEY_WRAP", "{l}");
        }
    }
    assert_eq!(seen, KEYS.len());
    let out = tok.dir().join("out");
    for (name, a) in KEYS {
        let (n, e) = pem_public(&out.join(format!("{name}.pub.pem")));
        let pkg = fs::read(out.join(format!("{name}.byok"))).unwrap();
        let c = byok_testkit::testkek::check_package(&kek_of(a).private, &pkg, &n, &e)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c.trailing_zero_bytes, 0);
    }
    // A trusted key is wrapped under no KEK the SO did not trust.
    let other = write_kek(&tok.dir(), 3072);
    fails(
        &tok.byok(&[
            "wrap",
            "--key",
            KEYS[0].0,
            "--kek",
            other.to_str().unwrap(),
            "--out",
            "x.byok",
        ]),
        &["trusted KEK"],
    );
    assert!(!tok.dir().join("x.byok").exists());
}
