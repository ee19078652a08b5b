//! Which binary ran: `byok version` and the `binary` the transcript's open record carries,
//! both checked against the SHA-256 of the executable file itself.

use crate::common::*;
use crate::rig::*;
use byok_core::util::sha256_hex;
use serde_json::Value;
use std::fs;

/// The SHA-256 of the byok binary the tests run, read as a file.
fn byok_sha256() -> String {
    sha256_hex(&fs::read(byok_testkit::bin("byok")).unwrap())
}

/// Every key of the shared contract, and nothing else, with sane values.
fn check_identity(v: &Value) {
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = [
        "version",
        "commit",
        "exe_sha256",
        "target",
        "rustc",
        "features",
        "cargo_lock_sha256",
    ];
    want.sort();
    assert_eq!(keys, want, "{v}");
    assert_eq!(v["exe_sha256"], byok_sha256(), "{v}");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let commit = v["commit"].as_str().unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    assert!(v["rustc"].as_str().unwrap().starts_with("rustc 1."), "{v}");
    assert!(v["target"].as_str().unwrap().contains("linux"), "{v}");
    // The test build: the default features plus the test hook.
    assert_eq!(v["features"], serde_json::json!(["network", "test-hooks"]));
    let lock = fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    assert_eq!(v["cargo_lock_sha256"], sha256_hex(&lock));
}

#[test]
fn version_names_the_executable_by_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let v: Value = serde_json::from_str(&ok(&byok_in(dir.path(), &["version", "--json"]))).unwrap();
    check_identity(&v);
    let text = ok(&byok_in(dir.path(), &["version"]));
    assert!(
        text.starts_with(&format!("byok {}\n", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(
        text.contains(&format!("\nexe SHA-256: {}\n", byok_sha256())),
        "{text}"
    );
}

#[test]
fn the_open_record_names_the_binary_and_verify_shows_it() {
    let tok = Token::new(TOKEN);
    write_plan(&tok.dir(), &plan_value());
    ok(&run(&tok, &[]));
    let path = tok.dir().join("out/transcript.jsonl");
    let text = fs::read_to_string(&path).unwrap();
    let open: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(open["step"], "open");
    check_identity(&open["detail"]["binary"]);

    let p = path.to_str().unwrap();
    let v: Value =
        serde_json::from_str(&ok(&tok.byok(&["transcript", "verify", p, "--json"]))).unwrap();
    assert_eq!(v["binary"], open["detail"]["binary"]);
    assert_eq!(v["resumed_by"], serde_json::json!([]));
    let human = ok(&tok.byok(&["transcript", "verify", p]));
    assert!(
        human.contains(&format!("\n  exe SHA-256: {}\n", byok_sha256())),
        "{human}"
    );
}
