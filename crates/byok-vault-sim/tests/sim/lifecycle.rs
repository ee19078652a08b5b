//! Backup and restore, soft delete, recover and purge, and state kept across restarts.

use crate::rig::*;
use byok_core::kek::{decode_b64url, encode_b64url};
use serde_json::json;
use std::process::Command;

#[test]
fn backup_restore_and_conflicts() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &["--recovery-level", "Recoverable+Purgeable"]);
    let b1 = sim.create(
        "bk",
        json!({"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"]}),
    );
    let b2 = sim.create(
        "bk",
        json!({"kty": "RSA-HSM", "key_ops": ["wrapKey"], "tags": {"v": "2"}}),
    );
    let backup = sim.ok("POST", "/keys/bk/backup", None);
    let blob = decode_b64url(backup["value"].as_str().unwrap()).unwrap();
    // The same shape as a real Key Vault key backup: marker, then a compact JWE.
    byok_azure::backup::check_backup_form(&blob).unwrap();
    // Opaque: no key material or name in the clear.
    let text = String::from_utf8_lossy(&blob);
    assert!(
        !text.contains("private_pkcs8") && !text.contains("wrapKey"),
        "backup is not encrypted"
    );
    assert!(!blob
        .windows(8)
        .any(|w| w == &decode_b64url(b1["key"]["n"].as_str().unwrap()).unwrap()[..8]));

    // Live name: 409.
    let r = expect_err(
        sim.call("POST", "/keys/restore", Some(backup.clone())),
        409,
        "Conflict",
    );
    assert!(r.body["error"]["message"].as_str().unwrap().contains("bk"));
    // Deleted (recoverable) name: still 409.
    sim.ok("DELETE", "/keys/bk", None);
    expect_err(
        sim.call("POST", "/keys/restore", Some(backup.clone())),
        409,
        "Conflict",
    );
    // Tampered: 400.
    let mut bad = blob.clone();
    let i = bad.len() / 2;
    bad[i] ^= 1;
    expect_err(
        sim.call(
            "POST",
            "/keys/restore",
            Some(json!({"value": encode_b64url(&bad)})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call(
            "POST",
            "/keys/restore",
            Some(json!({"value": encode_b64url(&blob[..20])})),
        ),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call("POST", "/keys/restore", Some(json!({"value": "%%%"}))),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call("POST", "/keys/restore", Some(json!({}))),
        400,
        "BadParameter",
    );
    expect_err(
        sim.call("POST", "/keys/missing/backup", None),
        404,
        "KeyNotFound",
    );
    expect_err(
        sim.call("POST", "/keys/bk/backup", None),
        404,
        "KeyNotFound",
    );

    // Purged: restore brings back every version, same ids and material.
    let r = sim.call("DELETE", "/deletedkeys/bk", None);
    assert_eq!(r.status, 204, "{}", r.body);
    let restored = sim.ok("POST", "/keys/restore", Some(backup.clone()));
    assert_eq!(restored["key"], b2["key"]);
    assert_eq!(restored["tags"], json!({"v": "2"}));
    assert_eq!(
        sim.ok("GET", &format!("/keys/bk/{}", version_of(&b1)), None)["key"],
        b1["key"]
    );
    assert_eq!(
        sim.ok("GET", "/keys/bk/versions", None)["value"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Another vault (another secret) cannot open it.
    let dir2 = tmp();
    let other = Sim::start(dir2.path(), &[]);
    expect_err(
        other.call("POST", "/keys/restore", Some(backup)),
        400,
        "BadParameter",
    );
}

#[test]
fn soft_delete_recover_purge_by_recovery_level() {
    // Default level: soft delete, recover, no purge.
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let k = sim.create("dk", json!({"kty": "RSA-HSM"}));
    let d = sim.ok("DELETE", "/keys/dk", None);
    assert_eq!(d["recoveryId"], format!("{}/deletedkeys/dk", sim.url));
    let dd = d["deletedDate"].as_i64().unwrap();
    assert_eq!(d["scheduledPurgeDate"].as_i64().unwrap(), dd + 90 * 86400);
    assert_eq!(d["key"], k["key"]);
    expect_err(sim.call("GET", "/keys/dk", None), 404, "KeyNotFound");
    expect_err(sim.call("DELETE", "/keys/dk", None), 404, "KeyNotFound");
    assert_eq!(sim.ok("GET", "/keys", None)["value"], json!([]));
    let listed = sim.ok("GET", "/deletedkeys", None);
    assert_eq!(listed["value"][0]["recoveryId"], d["recoveryId"]);
    assert_eq!(listed["value"][0]["kid"], k["key"]["kid"]);
    assert_eq!(sim.ok("GET", "/deletedkeys/dk", None)["key"], k["key"]);
    expect_err(
        sim.call("POST", "/keys/dk/create", Some(json!({"kty": "RSA"}))),
        409,
        "Conflict",
    );
    let r = expect_err(
        sim.call("DELETE", "/deletedkeys/dk", None),
        403,
        "Forbidden",
    );
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Recoverable+ProtectedSubscription"));
    let rec = sim.ok("POST", "/deletedkeys/dk/recover", None);
    assert_eq!(rec["key"], k["key"]);
    assert_eq!(sim.ok("GET", "/keys/dk", None)["key"], k["key"]);
    expect_err(sim.call("GET", "/deletedkeys/dk", None), 404, "KeyNotFound");
    expect_err(
        sim.call("POST", "/deletedkeys/dk/recover", None),
        404,
        "KeyNotFound",
    );
    drop(sim);

    // Purgeable level: purge works, the name is free again.
    let dir = tmp();
    let sim = Sim::start(dir.path(), &["--recovery-level", "Recoverable+Purgeable"]);
    sim.create("pk", json!({"kty": "RSA"}));
    let d = sim.ok("DELETE", "/keys/pk", None);
    assert_eq!(d["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    assert_eq!(sim.call("DELETE", "/deletedkeys/pk", None).status, 204);
    expect_err(sim.call("GET", "/deletedkeys/pk", None), 404, "KeyNotFound");
    expect_err(
        sim.call("DELETE", "/deletedkeys/pk", None),
        404,
        "KeyNotFound",
    );
    sim.create("pk", json!({"kty": "RSA"}));
    drop(sim);

    // No soft delete at all: delete is final.
    let dir = tmp();
    let sim = Sim::start(dir.path(), &["--recovery-level", "Purgeable"]);
    sim.create("gone", json!({"kty": "RSA"}));
    let d = sim.ok("DELETE", "/keys/gone", None);
    assert!(d.get("recoveryId").is_none());
    assert!(d["attributes"].get("recoverableDays").is_none());
    assert_eq!(sim.ok("GET", "/deletedkeys", None)["value"], json!([]));
    expect_err(sim.call("GET", "/keys/gone", None), 404, "KeyNotFound");
}

#[test]
fn bad_recovery_level_is_refused() {
    let dir = tmp();
    let out = Command::new(env!("CARGO_BIN_EXE_byok-vault-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--recovery-level",
            "Forever",
            "--state-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("recovery level"));
}

#[test]
fn a_non_loopback_listener_needs_a_pinned_token() {
    let dir = tmp();
    let state = dir.path().join("state");
    let run = |extra: &[&str]| {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_byok-vault-sim"))
            .args(["--listen", "0.0.0.0:0", "--state-dir"])
            .arg(&state)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        (line, out)
    };
    // Without --token-file: one error line, a failure, nothing served, nothing made.
    let (ready, out) = run(&[]);
    assert!(ready.is_empty(), "it served: {ready}");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: --listen 0.0.0.0:0 is not a loopback address"),
        "{err}"
    );
    assert!(err.contains("--token-file"), "{err}");
    assert!(!state.exists(), "the state directory was made");
    // With a pinned token it serves.
    let token = dir.path().join("token");
    std::fs::write(&token, "pinned-token").unwrap();
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let (ready, _) = run(&["--token-file", token.to_str().unwrap()]);
    assert!(ready.starts_with("{\"url\": \"https://0.0.0.0:"), "{ready}");
}

#[test]
fn restart_keeps_state_certificates_and_backup_secret() {
    let dir = tmp();
    let sim = Sim::start(dir.path(), &[]);
    let k = sim.create(
        "keep",
        json!({"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"], "tags": {"a": "b"}}),
    );
    sim.create("gone", json!({"kty": "RSA"}));
    sim.ok("DELETE", "/keys/gone", None);
    let backup = sim.ok("POST", "/keys/keep/backup", None);
    let w = sim.ok(
        "POST",
        "/keys/keep//wrapkey",
        Some(json!({"alg": "RSA-OAEP", "value": encode_b64url(b"abc")})),
    );
    let ca = std::fs::read(&sim.ca).unwrap();
    let old_url = sim.url.clone();
    drop(sim);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.path().join("state.json"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "state file must be private");

    let sim = Sim::start(dir.path(), &[]);
    assert_eq!(std::fs::read(&sim.ca).unwrap(), ca, "the CA is reused");
    let again = sim.ok("GET", "/keys/keep", None);
    assert_eq!(again["key"]["n"], k["key"]["n"]);
    assert_eq!(version_of(&again), version_of(&k));
    assert_eq!(again["tags"], json!({"a": "b"}));
    assert_eq!(
        again["key"]["kid"],
        k["key"]["kid"]
            .as_str()
            .unwrap()
            .replace(&old_url, &sim.url)
    );
    assert!(sim.ok("GET", "/deletedkeys/gone", None)["recoveryId"].is_string());
    let u = sim.ok(
        "POST",
        "/keys/keep//unwrapkey",
        Some(json!({"alg": "RSA-OAEP", "value": w["value"]})),
    );
    assert_eq!(decode_b64url(u["value"].as_str().unwrap()).unwrap(), b"abc");
    // The blob still opens (409 because the name is taken, not 400).
    expect_err(
        sim.call("POST", "/keys/restore", Some(backup)),
        409,
        "Conflict",
    );
}
