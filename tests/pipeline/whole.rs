//! The whole pipeline, also under throttling, errors and dropped connections.

use crate::common::*;
use crate::rig::*;
use std::fs;

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
