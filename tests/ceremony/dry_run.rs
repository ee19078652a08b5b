//! `byok ceremony run --dry-run` against its snapshot.

use crate::common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

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
