//! A whole Customer Key rehearsal: KEKs made in two simulated vaults and fetched, a plan
//! with two policies and four keys, the offline ceremony on a SoftHSM2 token killed part
//! way and resumed, then the connected import into the vaults, backups and a restore
//! drill, and a rerun that finds everything done.

mod common;

use common::sim::SimProc;
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

const TOKEN: &str = "Contoso-Ceremony";

struct Rehearsal {
    tok: Token,
    a: SimProc,
    b: SimProc,
    scratch: SimProc,
    ca: String,
}

impl Rehearsal {
    fn new() -> Rehearsal {
        Rehearsal::with(&[])
    }

    /// With extra simulator flags for the two vaults (e.g. `--managed-hsm`).
    fn with(extra: &[&str]) -> Rehearsal {
        let tok = Token::new(TOKEN);
        let dir = tok.dir();
        let sub = dir.join("subscription.key");
        let sub = sub.to_str().unwrap().to_string();
        let mut flags = vec!["--subscription-key", sub.as_str(), "--accept-padded-pkcs8"];
        flags.extend_from_slice(extra);
        let a = SimProc::start(&dir.join("vault-a"), &flags);
        let b = SimProc::start(&dir.join("vault-b"), &flags);
        let scratch = SimProc::start(
            &dir.join("scratch"),
            &[
                "--subscription-key",
                &sub,
                "--recovery-level",
                "Recoverable+Purgeable",
            ],
        );
        let ca = dir.join("cas.pem");
        fs::write(
            &ca,
            [&a.ca, &b.ca, &scratch.ca]
                .iter()
                .flat_map(|p| fs::read(p).unwrap())
                .collect::<Vec<u8>>(),
        )
        .unwrap();
        Rehearsal {
            tok,
            a,
            b,
            scratch,
            ca: ca.to_str().unwrap().to_string(),
        }
    }

    fn cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.tok.cmd(args);
        c.env("BYOK_CA_FILE", &self.ca)
            .env("BYOK_ACCESS_TOKEN", "rehearsal-token");
        c
    }

    fn byok(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).output().unwrap()
    }

    /// The connected side makes a KEK in each vault and fetches it; the plan pins them.
    fn plan(&self) {
        self.plan_with(&[], json!("optional"))
    }

    fn plan_with(&self, fetch_flags: &[&str], kek_attestation: Value) {
        fs::create_dir_all(self.tok.dir().join("keks")).unwrap();
        let mut fps = Vec::new();
        for (sim, name) in [(&self.a, "a"), (&self.b, "b")] {
            ok(&self.byok(&[
                "kek",
                "create",
                "--vault",
                &sim.url,
                "--name",
                &format!("KEK-{name}"),
                "--size",
                "2048",
            ]));
            let (kek_name, out) = (format!("KEK-{name}"), format!("keks/{name}.json"));
            let mut args = vec![
                "kek", "fetch", "--vault", &sim.url, "--name", &kek_name, "--out", &out, "--json",
            ];
            args.extend_from_slice(fetch_flags);
            let r: Value = serde_json::from_str(&ok(&self.byok(&args))).unwrap();
            fps.push(r["sha256"].as_str().unwrap().to_string());
        }
        let key = |name: &str, a: bool| {
            json!({"vault": if a { &self.a.url } else { &self.b.url }, "name": name, "size": 2048,
                   "kek": if a { "keks/a.json" } else { "keks/b.json" }, "kek_sha256": fps[if a { 0 } else { 1 }],
                   "kek_attestation": kek_attestation})
        };
        let plan = json!({
            "ceremony": "contoso-rehearsal",
            "token": TOKEN,
            "rehearsal": true,
            "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
                         {"name": "Bob Example", "role": "crypto officer"}],
            "policies": [
                {"name": "USA_mailboxes", "service": "exchange", "description": "US mailboxes",
                 "keys": [key("Contoso-O365EX-NA-VaultA1-Key001", true), key("Contoso-O365EX-NA-VaultA2-Key001", false)]},
                {"name": "NA_geo", "service": "sharepoint", "admin_url": "https://contoso-admin.sharepoint.com",
                 "keys": [key("Contoso-O365SP-NA-VaultA1-Key001", true), key("Contoso-O365SP-NA-VaultA2-Key001", false)]}
            ]
        });
        fs::write(
            self.tok.dir().join("plan.json"),
            serde_json::to_vec_pretty(&plan).unwrap(),
        )
        .unwrap();
    }
}

const KEYS: [(&str, bool); 4] = [
    ("Contoso-O365EX-NA-VaultA1-Key001", true),
    ("Contoso-O365EX-NA-VaultA2-Key001", false),
    ("Contoso-O365SP-NA-VaultA1-Key001", true),
    ("Contoso-O365SP-NA-VaultA2-Key001", false),
];

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        if e.path().is_file() {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn rehearsal_offline_killed_and_resumed_then_imported_and_rerun() {
    let r = Rehearsal::new();
    r.plan();
    ok(&r.byok(&["ceremony", "check", "plan.json"]));

    // Offline: killed after the third key's generation, then resumed.
    let o = r
        .cmd(&[
            "ceremony",
            "run",
            "plan.json",
            "--out",
            "ceremony",
            "--non-interactive",
        ])
        .env("BYOK_TEST_CRASH_AFTER", "done:keygen:3")
        .output()
        .unwrap();
    assert!(
        o.status.code().is_none(),
        "the crash hook did not fire (is byok built with --features test-hooks?): {}",
        stderr(&o)
    );
    ok(&r.byok(&[
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "ceremony",
        "--non-interactive",
        "--resume",
    ]));
    ok(&r.byok(&[
        "transcript",
        "verify",
        "ceremony/transcript.jsonl",
        "--plan",
        "plan.json",
    ]));
    let mut labels = r.tok.labels();
    labels.dedup();
    assert_eq!(
        labels.len(),
        5,
        "four keys and the transcript signer, no duplicate: {labels:?}"
    );

    // A package altered in transit is caught before anything is sent.
    let dir = r.tok.dir();
    copy_dir(&dir.join("ceremony"), &dir.join("tampered"));
    let p = dir.join("tampered").join(format!("{}.byok", KEYS[2].0));
    let mut bytes = fs::read(&p).unwrap();
    let i = bytes.len() - 20;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    fs::write(&p, bytes).unwrap();
    fails(
        &r.byok(&["ceremony", "import", "plan.json", "--packages", "tampered"]),
        &["altered in transit"],
    );
    for (name, _) in KEYS {
        assert_eq!(
            r.a.versions(name) + r.b.versions(name),
            0,
            "{name} reached a vault"
        );
    }

    // Connected: upload, verify, back up, print the Office 365 commands.
    let out = ok(&r.byok(&["ceremony", "import", "plan.json", "--packages", "ceremony"]));
    for (name, a) in KEYS {
        let sim = if a { &r.a } else { &r.b };
        assert_eq!(sim.versions(name), 1, "{name}");
        assert!(out.contains(&format!("{}/keys/{name}/", sim.url)), "{out}");
    }
    assert!(out.contains("New-DataEncryptionPolicy -Name 'USA_mailboxes' -Description 'US mailboxes' -AzureKeyIDs '"), "{out}");
    assert!(
        out.contains("Set-DataEncryptionPolicy -Identity 'USA_mailboxes' -Refresh"),
        "{out}"
    );
    assert!(out.contains("Register-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -PrimaryKeyVaultName '"), "{out}");
    assert!(
        out.contains("-KeyType Primary") && out.contains("-KeyType Secondary"),
        "{out}"
    );
    ok(&r.byok(&[
        "transcript",
        "verify",
        "ceremony/import-transcript.jsonl",
        "--plan",
        "plan.json",
    ]));
    let drill: Value = serde_json::from_str(&ok(&r.byok(&[
        "backup",
        "verify",
        "ceremony/backups",
        "--restore-to",
        &r.scratch.url,
        "--json",
    ])))
    .unwrap();
    assert_eq!(drill["entries"], 4);

    // Rerun: what is done stays done; a new import transcript records the rerun.
    let j: Value = serde_json::from_str(&ok(&r.byok(&[
        "ceremony",
        "import",
        "plan.json",
        "--packages",
        "ceremony",
        "--json",
    ])))
    .unwrap();
    assert!(j["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["uploaded_now"] == false));
    for (name, a) in KEYS {
        assert_eq!(
            if a { &r.a } else { &r.b }.versions(name),
            1,
            "{name} duplicated"
        );
    }
    assert_eq!(
        fs::read_dir(dir.join("ceremony/backups")).unwrap().count(),
        5,
        "4 backups and the manifest"
    );
    ok(&r.byok(&[
        "transcript",
        "verify",
        "ceremony/import-transcript-2.jsonl",
        "--plan",
        "plan.json",
    ]));
    // The import refuses another plan's directory.
    let mut other: Value =
        serde_json::from_slice(&fs::read(dir.join("plan.json")).unwrap()).unwrap();
    other["ceremony"] = "another-ceremony".into();
    fs::write(
        dir.join("other.json"),
        serde_json::to_vec_pretty(&other).unwrap(),
    )
    .unwrap();
    fails(
        &r.byok(&["ceremony", "import", "other.json", "--packages", "ceremony"]),
        &["another plan"],
    );
}

#[test]
fn rehearsal_against_managed_hsms_with_required_kek_attestation() {
    let r = Rehearsal::with(&["--managed-hsm"]);
    r.plan_with(&["--attestation"], json!("required"));
    let roots: Vec<String> = [&r.a, &r.b]
        .iter()
        .map(|s| {
            s.ca.parent()
                .unwrap()
                .join("attestation-root.pem")
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let tr = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        for root in &roots {
            v.push("--trust-root".into());
            v.push(root.clone());
        }
        v
    };
    let run = |args: Vec<String>| r.byok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // The simulators' test chains are not Marvell's: without --trust-root nothing passes.
    fails(
        &r.byok(&["ceremony", "check", "plan.json"]),
        &["kek-attestation"],
    );
    // The officers' script says the attestation will be checked.
    let dry = ok(&run(tr(&[
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "ceremony",
        "--dry-run",
    ])));
    assert!(dry.contains("attestation required"), "{dry}");
    let o = run(tr(&[
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "ceremony",
        "--non-interactive",
    ]));
    ok(&o);
    assert!(
        stderr(&o).contains("warning: --trust-root"),
        "{}",
        stderr(&o)
    );
    fails(
        &r.byok(&["ceremony", "import", "plan.json", "--packages", "ceremony"]),
        &["attestation"],
    );
    for (name, a) in KEYS {
        assert_eq!(
            if a { &r.a } else { &r.b }.versions(name),
            0,
            "{name} was uploaded before the plan's checks passed"
        );
    }
    let o = run(tr(&[
        "ceremony",
        "import",
        "plan.json",
        "--packages",
        "ceremony",
        "--json",
    ]));
    let j: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(j["keys"].as_array().unwrap().len(), 4);
    assert!(stderr(&o).contains("warning: --trust-root"));
    // Each vault's attestation says the imported key is the HSM's and cannot leave.
    for (name, a) in KEYS {
        let sim = if a { &r.a } else { &r.b };
        let o = run(tr(&[
            "verify",
            "--vault",
            &sim.url,
            "--name",
            name,
            "--pub",
            &format!("ceremony/{name}.pub.pem"),
            "--json",
        ]));
        let v: Value = serde_json::from_str(&ok(&o)).unwrap();
        assert!(
            v["rules"].as_array().unwrap().iter().any(|x| x["rule"]
                .as_str()
                .unwrap()
                .contains("attestation")
                && x["ok"] == true),
            "{v}"
        );
    }
}
