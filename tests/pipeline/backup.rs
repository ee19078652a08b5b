//! Backups: damage caught, unsafe restore drills refused, the copy to Blob Storage.

use crate::common;
use crate::common::sim::SimProc;
use crate::common::*;
use crate::rig::*;
use std::fs;

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
    // A manifest that is a link (to a file elsewhere, or dangling) is refused before
    // anything is fetched: nothing appended or created outside the directory.
    let linked = r.tok.dir().join("linked");
    fs::create_dir_all(&linked).unwrap();
    let elsewhere = r.tok.dir().join("elsewhere.jsonl");
    fs::write(&elsewhere, b"").unwrap();
    let dangling = r.tok.dir().join("dangling.jsonl");
    for target in [&elsewhere, &dangling] {
        let _ = fs::remove_file(linked.join("manifest.jsonl"));
        std::os::unix::fs::symlink(target, linked.join("manifest.jsonl")).unwrap();
        fails(
            &r.byok(&[
                "backup",
                "--vault",
                v,
                "--name",
                "Key-A",
                "--out-dir",
                "linked",
            ]),
            &["symbolic link"],
        );
        assert_eq!(fs::read_dir(&linked).unwrap().count(), 1, "only the link");
    }
    assert_eq!(fs::read(&elsewhere).unwrap(), b"");
    assert!(!dangling.exists());
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
    // The vault's token and Blob Storage's are separate: the simulator takes any;
    // Azurite checks its claims.
    let token = mint_token(3600);
    let run = |args: &[&str]| {
        r.tok
            .cmd(args)
            .env("BYOK_CA_FILE", &cas)
            .env("BYOK_ACCESS_TOKEN", "vault-token")
            .env("BYOK_STORAGE_TOKEN", &token)
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
            &byok_azure::blob::ContainerUrl::parse(
                &az.container_url,
                byok_core::keyid::Mode::Rehearsal,
            )
            .unwrap(),
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
        .env("BYOK_ACCESS_TOKEN", "vault-token")
        .env("BYOK_STORAGE_TOKEN", &expired)
        .output()
        .unwrap();
    fails(&o, &["online copy was not stored"]);
    ok(&r.byok(&["backup", "verify", "bk"]));
}
