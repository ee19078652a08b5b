//! The connected pipeline end to end: a SoftHSM2 token, the real simulator over HTTPS,
//! and the real `byok` binary: KEK, keygen, wrap, upload, verify, backup, restore drill,
//! under injected 429s, 503s and dropped connections; and the bad inputs.

mod common;

use common::sim::SimProc;
use common::*;
use std::fs;
use std::path::Path;

/// A token plus two simulated vaults of one "subscription" (they restore each other's
/// backups): `vault` (production rules) and `scratch` (purgeable, for restore drills).
struct Rig {
    tok: Token,
    vault: SimProc,
    scratch: SimProc,
    ca: String,
}

fn rig(vault_flags: &[&str]) -> Rig {
    let tok = Token::new("pipeline");
    let dir = tok.dir();
    let sub = dir.join("subscription.key");
    let sub = sub.to_str().unwrap();
    let mut flags = vec!["--subscription-key", sub, "--accept-padded-pkcs8"];
    flags.extend_from_slice(vault_flags);
    let vault = SimProc::start(&dir.join("vault"), &flags);
    let scratch = SimProc::start(
        &dir.join("scratch"),
        &[
            "--subscription-key",
            sub,
            "--recovery-level",
            "Recoverable+Purgeable",
        ],
    );
    let ca = dir.join("cas.pem");
    fs::write(
        &ca,
        [fs::read(&vault.ca).unwrap(), fs::read(&scratch.ca).unwrap()].concat(),
    )
    .unwrap();
    Rig {
        tok,
        vault,
        scratch,
        ca: ca.to_str().unwrap().to_string(),
    }
}

impl Rig {
    fn byok(&self, args: &[&str]) -> std::process::Output {
        self.tok
            .cmd(args)
            .env("BYOK_CA_FILE", &self.ca)
            .env("BYOK_ACCESS_TOKEN", "test-token")
            .output()
            .unwrap()
    }
    fn path(&self, p: &str) -> String {
        self.tok.dir().join(p).to_str().unwrap().to_string()
    }
}

fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// KEK in the vault, fetched; a key made on the token and wrapped under it.
fn kek_and_package(r: &Rig, kek: &str, key: &str) {
    let v = r.vault.url.as_str();
    ok(&r.byok(&[
        "kek", "create", "--vault", v, "--name", kek, "--size", "2048",
    ]));
    let fetched = json(&r.byok(&[
        "kek",
        "fetch",
        "--vault",
        v,
        "--name",
        kek,
        "--out",
        &format!("{kek}.json"),
        "--json",
    ]));
    // The fetched file reads as the KEK the offline side checks.
    let inspected = json(&r.byok(&["kek", "inspect", &format!("{kek}.json"), "--json"]));
    assert_eq!(fetched["sha256"], inspected["sha256"]);
    assert_eq!(inspected["kty"], "RSA-HSM");
    ok(&r.byok(&["keygen", "--label", key, "--size", "2048"]));
    ok(&r.byok(&[
        "wrap",
        "--key",
        key,
        "--kek",
        &format!("{kek}.json"),
        "--out",
        &format!("{key}.byok"),
    ]));
}

fn run_pipeline(r: &Rig) {
    let v = r.vault.url.as_str();
    for (kek, key) in [("KEK-A", "Contoso-Key001"), ("KEK-B", "Contoso-Key002")] {
        kek_and_package(r, kek, key);
        let up = json(&r.byok(&[
            "upload",
            &format!("{key}.byok"),
            "--vault",
            v,
            "--name",
            key,
            "--json",
        ]));
        assert_eq!(up["already_done"], false);
        // Rerun: done already, nothing sent again.
        let again = json(&r.byok(&[
            "upload",
            &format!("{key}.byok"),
            "--vault",
            v,
            "--name",
            key,
            "--json",
        ]));
        assert_eq!(again["already_done"], true);
        assert_eq!(again["kid"], up["kid"]);
        let ver = json(&r.byok(&[
            "verify",
            "--vault",
            v,
            "--name",
            key,
            "--pub",
            &format!("{key}.pub.pem"),
            "--json",
        ]));
        assert_eq!(ver["ok"], true, "{ver}");
        assert_eq!(ver["kid"], up["kid"]);
        let text = ok(&r.byok(&[
            "verify",
            "--vault",
            v,
            "--name",
            key,
            "--pub",
            &format!("{key}.pub.pem"),
        ]));
        assert!(text.contains("key URI: https://127.0.0.1:"), "{text}");
        fs::create_dir_all(r.tok.dir().join("backups")).unwrap();
        let b = json(&r.byok(&[
            "backup",
            "--vault",
            v,
            "--name",
            key,
            "--out-dir",
            "backups",
            "--json",
        ]));
        assert!(b["entry"]["file"]
            .as_str()
            .unwrap()
            .contains(&format!("-{key}-Backup-")));
    }
    let drill = json(&r.byok(&[
        "backup",
        "verify",
        "backups",
        "--restore-to",
        &r.scratch.url,
        "--json",
    ]));
    assert_eq!(drill["entries"], 2);
    assert_eq!(drill["restore_drill"].as_array().unwrap().len(), 2);
    assert!(drill["restore_drill"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["same_key"] == true));
    // Nothing duplicated, nothing lost: one version of each KEK and key.
    for name in ["KEK-A", "KEK-B", "Contoso-Key001", "Contoso-Key002"] {
        assert_eq!(r.vault.versions(name), 1, "{name}");
    }
    // The drill left the scratch vault empty.
    assert_eq!(
        r.scratch.get("/keys")["value"].as_array().map(|a| a.len()),
        Some(0)
    );
}

#[test]
fn whole_pipeline_against_the_simulator() {
    let r = rig(&[]);
    run_pipeline(&r);
    // Backup file bytes are what the vault's backup returns (the Key Vault backup form).
    let (entries, report) = byok_azure::backup::verify_dir(&r.tok.dir().join("backups")).unwrap();
    assert!(report.problems.is_empty());
    assert_eq!(entries.len(), 2);
}

#[test]
fn whole_pipeline_under_throttling_errors_and_dropped_connections() {
    // Every 5th request 429, every 7th 503, every 3rd write applied and then its
    // connection dropped: the pipeline must end with exactly one of everything.
    let r = rig(&["--fault-429", "5", "--fault-503", "7", "--fault-drop", "3"]);
    run_pipeline(&r);
    let log = r.vault.log_text();
    assert!(
        log.contains("429") && log.contains("503"),
        "faults were not injected:\n{log}"
    );
    assert!(
        log.to_lowercase().contains("drop"),
        "no connection was dropped:\n{log}"
    );
}

#[test]
fn upload_refuses_wrong_vault_tampered_packages_and_silent_replacement() {
    let r = rig(&[]);
    let v = r.vault.url.as_str();
    kek_and_package(&r, "KEK-A", "Key-A");
    // A package for another vault is refused before anything is sent.
    let before = r.scratch.log_text().lines().count();
    fails(
        &r.byok(&[
            "upload",
            "Key-A.byok",
            "--vault",
            &r.scratch.url,
            "--name",
            "Key-A",
        ]),
        &["wrapped under a KEK of", "upload it there"],
    );
    assert_eq!(
        r.scratch.log_text().lines().count(),
        before,
        "a request reached the wrong vault"
    );
    // A tampered package: the vault refuses it and stores nothing.
    let mut pkg: serde_json::Value =
        serde_json::from_slice(&fs::read(r.tok.dir().join("Key-A.byok")).unwrap()).unwrap();
    let ct = pkg["ciphertext"].as_str().unwrap().to_string();
    let flipped = if ct.as_bytes()[300] == b'A' { 'B' } else { 'A' };
    pkg["ciphertext"] = format!("{}{}{}", &ct[..300], flipped, &ct[301..]).into();
    fs::write(
        r.tok.dir().join("tampered.byok"),
        serde_json::to_vec_pretty(&pkg).unwrap(),
    )
    .unwrap();
    fails(
        &r.byok(&["upload", "tampered.byok", "--vault", v, "--name", "Key-A"]),
        &["HTTP 400"],
    );
    assert_eq!(r.vault.versions("Key-A"), 0);
    // A damaged file is refused locally.
    fs::write(r.tok.dir().join("broken.byok"), b"{\"schema_version\":").unwrap();
    fails(
        &r.byok(&["upload", "broken.byok", "--vault", v, "--name", "Key-A"]),
        &["not a BYOK package"],
    );
    ok(&r.byok(&["upload", "Key-A.byok", "--vault", v, "--name", "Key-A"]));
    // Another package under an existing name: refused unless it is a key roll.
    ok(&r.byok(&["keygen", "--label", "Key-A2", "--size", "2048"]));
    ok(&r.byok(&[
        "wrap",
        "--key",
        "Key-A2",
        "--kek",
        "KEK-A.json",
        "--out",
        "Key-A2.byok",
    ]));
    fails(
        &r.byok(&["upload", "Key-A2.byok", "--vault", v, "--name", "Key-A"]),
        &["already exists", "--new-version"],
    );
    assert_eq!(r.vault.versions("Key-A"), 1);
    ok(&r.byok(&[
        "upload",
        "Key-A2.byok",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--new-version",
    ]));
    assert_eq!(r.vault.versions("Key-A"), 2);
    // The vault's key is now Key-A2's: verify against Key-A's public key names the rule.
    let o = r.byok(&[
        "verify",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--pub",
        "Key-A.pub.pem",
    ]);
    fails(&o, &["fails", "the vault's key is the HSM's key"]);
    assert!(stdout(&o).contains("FAIL the vault's key is the HSM's key"));
    ok(&r.byok(&[
        "verify",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--pub",
        "Key-A2.pub.pem",
    ]));
    // Bad names and URLs.
    fails(
        &r.byok(&[
            "upload",
            "Key-A.byok",
            "--vault",
            "http://127.0.0.1:1",
            "--name",
            "Key-A",
        ]),
        &["not a vault URL"],
    );
    fails(
        &r.byok(&["upload", "Key-A.byok", "--vault", v, "--name", "bad_name"]),
        &["not a valid Key Vault key name"],
    );
    fails(
        &r.byok(&[
            "verify",
            "--vault",
            v,
            "--name",
            "No-Such-Key",
            "--pub",
            "Key-A.pub.pem",
        ]),
        &["no key No-Such-Key"],
    );
    fails(
        &r.byok(&["kek", "create", "--vault", v, "--name", "KEK-A"]),
        &["already exists"],
    );
}

#[test]
fn verify_names_each_broken_customer_key_rule() {
    // A vault whose keys report a recovery level Customer Key does not accept.
    let r = rig(&["--recovery-level", "Recoverable"]);
    let v = r.vault.url.as_str();
    kek_and_package(&r, "KEK-A", "Key-A");
    ok(&r.byok(&["upload", "Key-A.byok", "--vault", v, "--name", "Key-A"]));
    let o = r.byok(&[
        "verify",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--pub",
        "Key-A.pub.pem",
        "--json",
    ]);
    fails(&o, &["recovery level"]);
    let rep: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let failed: Vec<&str> = rep["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["ok"] == false)
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["recovery level Recoverable+ProtectedSubscription"]);
}

#[test]
fn backup_verify_catches_damage_and_refuses_unsafe_drills() {
    let r = rig(&[]);
    let v = r.vault.url.as_str();
    kek_and_package(&r, "KEK-A", "Key-A");
    ok(&r.byok(&["upload", "Key-A.byok", "--vault", v, "--name", "Key-A"]));
    let dir = r.tok.dir().join("bk");
    fs::create_dir_all(&dir).unwrap();
    fails(
        &r.byok(&[
            "backup",
            "--vault",
            v,
            "--name",
            "Key-A",
            "--out-dir",
            "missing-dir",
        ]),
        &["does not exist"],
    );
    let first = json(&r.byok(&[
        "backup",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--out-dir",
        "bk",
        "--json",
    ]));
    let second = json(&r.byok(&[
        "backup",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--out-dir",
        "bk",
        "--json",
    ]));
    // Never overwritten: the second backup of the day gets its own name.
    assert_ne!(first["entry"]["file"], second["entry"]["file"]);
    ok(&r.byok(&["backup", "verify", "bk"]));
    let file = |e: &serde_json::Value| dir.join(e["entry"]["file"].as_str().unwrap());
    // The restore drill never goes into the source vault.
    fails(
        &r.byok(&["backup", "verify", "bk", "--restore-to", v]),
        &["never the source"],
    );
    // A scratch vault that cannot purge is refused after the first restore.
    let locked = SimProc::start(
        &r.tok.dir().join("locked"),
        &["--subscription-key", &r.path("subscription.key")],
    );
    let ca2 = r.tok.dir().join("cas2.pem");
    fs::write(
        &ca2,
        [fs::read(&r.ca).unwrap(), fs::read(&locked.ca).unwrap()].concat(),
    )
    .unwrap();
    let o = r
        .tok
        .cmd(&["backup", "verify", "bk", "--restore-to", &locked.url])
        .env("BYOK_CA_FILE", &ca2)
        .env("BYOK_ACCESS_TOKEN", "t")
        .output()
        .unwrap();
    fails(&o, &["refuses to purge"]);
    // Damage: a changed byte, a missing file, an unlisted file, a corrupt blob.
    let mut bytes = fs::read(file(&first)).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 1;
    fs::write(file(&first), &bytes).unwrap();
    fails(
        &r.byok(&["backup", "verify", "bk"]),
        &["does not match its manifest hash"],
    );
    fs::remove_file(file(&first)).unwrap();
    fails(&r.byok(&["backup", "verify", "bk"]), &["missing"]);
    fs::write(dir.join("stray.backup"), b"x").unwrap();
    fails(
        &r.byok(&["backup", "verify", "bk"]),
        &["not in the manifest"],
    );
    fails(
        &r.byok(&["backup", "verify", "no-such-dir"]),
        &["cannot read"],
    );
    // A backup blob that is no Key Vault backup, even with a matching manifest hash.
    let clean = r.tok.dir().join("clean");
    fs::create_dir_all(&clean).unwrap();
    let junk = b"JkF6dXJlS2V5VmF1bHRLZXlCYWNrdXBWMS5taWNyb3NvZnQuY29t";
    fs::write(clean.join("x.backup"), junk).unwrap();
    let entry = serde_json::json!({"file": "x.backup", "sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(junk)),
        "size": junk.len(), "vault": v, "key": "x", "version": "v", "time": "t", "key_spki_sha256": "s"});
    fs::write(clean.join("manifest.jsonl"), format!("{entry}\n")).unwrap();
    fails(&r.byok(&["backup", "verify", "clean"]), &["base64 text"]);
    let _ = second;
}

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

#[test]
fn backup_copy_goes_to_blob_storage_too() {
    use common::azurite::{mint_token, Azurite};
    let r = rig(&[]);
    let az = Azurite::start();
    let v = r.vault.url.as_str();
    let cas = r.tok.dir().join("cas-az.pem");
    fs::write(
        &cas,
        [fs::read(&r.ca).unwrap(), fs::read(&az.ca_pem).unwrap()].concat(),
    )
    .unwrap();
    // One token for both: the simulator takes any; Azurite checks its claims.
    let token = mint_token(3600);
    let run = |args: &[&str]| {
        r.tok
            .cmd(args)
            .env("BYOK_CA_FILE", &cas)
            .env("BYOK_ACCESS_TOKEN", &token)
            .output()
            .unwrap()
    };
    kek_and_package(&r, "KEK-A", "Key-A");
    ok(&r.byok(&["upload", "Key-A.byok", "--vault", v, "--name", "Key-A"]));
    fs::create_dir_all(r.tok.dir().join("bk")).unwrap();
    // A SAS in the URL would put a secret on the command line: refused before any backup.
    fails(
        &run(&[
            "backup",
            "--vault",
            v,
            "--name",
            "Key-A",
            "--out-dir",
            "bk",
            "--copy-to",
            &format!("{}?sv=2024&sig=x", az.container_url),
        ]),
        &["SAS"],
    );
    assert_eq!(fs::read_dir(r.tok.dir().join("bk")).unwrap().count(), 0);
    let out: serde_json::Value = serde_json::from_str(&ok(&run(&[
        "backup",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--out-dir",
        "bk",
        "--copy-to",
        &az.container_url,
        "--json",
    ])))
    .unwrap();
    let file = out["entry"]["file"].as_str().unwrap();
    assert_eq!(
        out["copied_to"].as_str().unwrap(),
        format!("{}/{file}", az.container_url)
    );
    // The blob holds the same bytes as the local file.
    let local = fs::read(r.tok.dir().join("bk").join(file)).unwrap();
    let http = common::azurite::client(Some(&az.ca_pem));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let blob = rt
        .block_on(byok_azure::blob::get_blob(
            &http,
            &az.token,
            &az.container_url,
            file,
        ))
        .unwrap();
    assert_eq!(blob, local);
    // An expired token is a clear error; the local backup is still made and listed.
    let expired = mint_token(-600);
    let o = r
        .tok
        .cmd(&[
            "backup",
            "--vault",
            v,
            "--name",
            "Key-A",
            "--out-dir",
            "bk",
            "--copy-to",
            &az.container_url,
        ])
        .env("BYOK_CA_FILE", &cas)
        .env("BYOK_ACCESS_TOKEN", &expired)
        .output()
        .unwrap();
    fails(&o, &["online copy was not stored"]);
    ok(&r.byok(&["backup", "verify", "bk"]));
}

#[test]
fn upload_recognizes_a_key_another_tool_imported_by_its_public_key() {
    use base64::Engine;
    let r = rig(&[]);
    let v = r.vault.url.as_str();
    kek_and_package(&r, "KEK-A", "Key-A");
    // Imported as `az keyvault key import --byok-file` does: no byok tag.
    let raw = fs::read(r.tok.dir().join("Key-A.byok")).unwrap();
    let body = serde_json::json!({"key": {"kty": "RSA-HSM", "key_ops": ["wrapKey", "unwrapKey"],
        "key_hsm": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw)}, "Hsm": true});
    let imported = r.vault.call("PUT", "/keys/Key-A", Some(body));
    assert!(imported["key"]["kid"].is_string(), "{imported}");
    // Without the public key byok cannot tell it is the same key: it refuses.
    fails(
        &r.byok(&["upload", "Key-A.byok", "--vault", v, "--name", "Key-A"]),
        &["already exists"],
    );
    let j = json(&r.byok(&[
        "upload",
        "Key-A.byok",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--pub",
        "Key-A.pub.pem",
        "--json",
    ]));
    assert_eq!(j["already_done"], true);
    assert_eq!(r.vault.versions("Key-A"), 1);
    // Another key's public key does not pass for it.
    ok(&r.byok(&["keygen", "--label", "Other", "--size", "2048"]));
    fails(
        &r.byok(&[
            "upload",
            "Key-A.byok",
            "--vault",
            v,
            "--name",
            "Key-A",
            "--pub",
            "Other.pub.pem",
        ]),
        &["already exists"],
    );
}
