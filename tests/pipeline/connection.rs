//! Connection problems fail fast and clearly.

use crate::common::sim::SimProc;
use crate::common::*;
use crate::rig::*;
use std::fs;
use std::path::Path;

#[test]
fn connection_problems_fail_fast_and_clearly() {
    let r = rig(&[]);
    let v = r.vault.url.as_str();
    // Without the simulator's CA the TLS handshake fails at once, naming --ca-file.
    let started = std::time::Instant::now();
    let o = r
        .tok
        .cmd(&["kek", "create", "--vault", v, "--name", "K"])
        .env("BYOK_ACCESS_TOKEN", "t")
        .output()
        .unwrap();
    fails(&o, &["--ca-file"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "TLS failure was retried"
    );
    // A vault that pins its token refuses others, and the token never shows in messages.
    let tokfile = r.tok.dir().join("pinned.token");
    fs::write(&tokfile, "the-right-token").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&tokfile, fs::Permissions::from_mode(0o600)).unwrap();
    let pinned = SimProc::start(
        &r.tok.dir().join("pinned"),
        &["--token-file", tokfile.to_str().unwrap()],
    );
    let o = r
        .tok
        .cmd(&["kek", "create", "--vault", &pinned.url, "--name", "K"])
        .env("BYOK_CA_FILE", &pinned.ca)
        .env("BYOK_ACCESS_TOKEN", "a-wrong-token")
        .output()
        .unwrap();
    let line = fails(&o, &["401"]);
    assert!(!line.contains("a-wrong-token"));
    let o = r
        .tok
        .cmd(&[
            "kek",
            "create",
            "--vault",
            &pinned.url,
            "--name",
            "K",
            "--access-token-file",
            tokfile.to_str().unwrap(),
        ])
        .env("BYOK_CA_FILE", &pinned.ca)
        .output()
        .unwrap();
    ok(&o);
    // A token file others can read is refused.
    fs::set_permissions(&tokfile, fs::Permissions::from_mode(0o644)).unwrap();
    let o = r
        .tok
        .cmd(&[
            "kek",
            "fetch",
            "--vault",
            &pinned.url,
            "--name",
            "K",
            "--out",
            "k.json",
            "--access-token-file",
            tokfile.to_str().unwrap(),
        ])
        .env("BYOK_CA_FILE", &pinned.ca)
        .output()
        .unwrap();
    fails(&o, &["chmod 600"]);
    assert!(!Path::new(&r.path("k.json")).exists());
}
