//! A whole Customer Key rehearsal: KEKs made in two simulated vaults and fetched, a plan
//! with two policies and four keys, the offline ceremony on a software token killed part
//! way and resumed, then the connected import into the vaults, backups and a restore
//! drill, and a rerun that finds everything done.

mod common;

use common::sim::SimProc;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
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
        // The simulator is strict by default; only SoftHSM 2.6's zero-padded PKCS#8
        // needs it lenient (the tokens that do not pad are imported strictly).
        let mut flags = vec!["--subscription-key", sub.as_str()];
        if tok.t.kind.pads_pkcs8() {
            flags.push("--accept-padded-pkcs8");
        }
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

    /// The digest of the offline transcript in `dir`, as the officers sign it.
    fn digest(&self, dir: &str) -> String {
        let v: Value = serde_json::from_str(&ok(&self.byok(&[
            "transcript",
            "verify",
            &format!("{dir}/transcript.jsonl"),
            "--json",
        ])))
        .unwrap();
        v["digest"].as_str().unwrap().to_string()
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
        // Dual control where the token can give it (SoftHSM 2.7.0): the SO trusts both
        // KEKs, and the plan asks for every key to be wrapped only under them.
        let dual = self.tok.t.kind == byok_testkit::softhsm::TokenKind::SoftHsm270;
        if dual {
            let so_pin = self.tok.t.so_pin_file.to_str().unwrap().to_string();
            for (file, fp) in [("keks/a.json", &fps[0]), ("keks/b.json", &fps[1])] {
                ok(&self.byok(&[
                    "kek",
                    "trust",
                    "--kek",
                    file,
                    "--sha256",
                    fp,
                    "--so-pin-file",
                    &so_pin,
                ]));
            }
        }
        let plan = json!({
            "ceremony": "contoso-rehearsal",
            "token": TOKEN,
            "rehearsal": true,
            "wrap_with_trusted": dual,
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

/// Where the plan asks for dual control, the token's SO trusts the plan's two KEKs (as a
/// second token's owner would, to run the same plan).
fn so_trusts_the_plans_keks(tok: &Token) {
    let plan: Value =
        serde_json::from_slice(&fs::read(tok.dir().join("plan.json")).unwrap()).unwrap();
    if plan["wrap_with_trusted"] != true {
        return;
    }
    let so_pin = tok.t.so_pin_file.to_str().unwrap().to_string();
    for k in plan["policies"][0]["keys"].as_array().unwrap() {
        let o = tok
            .cmd(&[
                "kek",
                "trust",
                "--kek",
                k["kek"].as_str().unwrap(),
                "--sha256",
                k["kek_sha256"].as_str().unwrap(),
                "--so-pin-file",
                &so_pin,
            ])
            .output()
            .unwrap();
        ok(&o);
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
    // On SoftHSM 2.7.0 the plan asked for dual control: every key was wrapped natively
    // under the SO's trusted KEK, and the token also holds those two KEKs.
    let kind = r.tok.t.kind;
    let dual = kind == byok_testkit::softhsm::TokenKind::SoftHsm270;
    let t = fs::read_to_string(r.tok.dir().join("ceremony/transcript.jsonl")).unwrap();
    let wraps: Vec<Value> = t
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["step"] == "wrap")
        .collect();
    assert_eq!(wraps.len(), 4);
    for w in &wraps {
        assert_eq!(w["detail"]["trusted_kek"], dual, "{w}");
        assert_eq!(w["detail"]["mechanism"], kind.mechanism(), "{w}");
    }
    let mut labels = r.tok.labels();
    labels.dedup();
    assert_eq!(
        labels.len(),
        if dual { 7 } else { 5 },
        "four keys and the transcript signer (and the trusted KEKs), no duplicate: {labels:?}"
    );

    // A package altered in transit is caught before anything is sent.
    let dir = r.tok.dir();
    copy_dir(&dir.join("ceremony"), &dir.join("tampered"));
    let p = dir.join("tampered").join(format!("{}.byok", KEYS[2].0));
    let mut bytes = fs::read(&p).unwrap();
    let i = bytes.len() - 20;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    fs::write(&p, bytes).unwrap();
    let digest = r.digest("ceremony");
    fails(
        &r.byok(&[
            "ceremony",
            "import",
            "plan.json",
            "--packages",
            "tampered",
            "--digest",
            &digest,
        ]),
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
    let o = r.byok(&[
        "ceremony",
        "import",
        "plan.json",
        "--packages",
        "ceremony",
        "--digest",
        &digest,
    ]);
    let out = ok(&o);
    // Before sending anything, the import showed what to compare with the paper record.
    let err = stderr(&o);
    assert!(
        err.contains("the officers' digest matches")
            && err.contains(&format!("digest:  {digest}"))
            && err.contains(r.tok.t.kind.manufacturer())
            && err.contains("signer:  SPKI SHA-256 ")
            && err.contains("keys:    4"),
        "{err}"
    );
    // Progress, key by key (plain lines: stderr is not a terminal).
    for n in 1..=4 {
        assert!(
            err.contains(&format!("[{n}/4] key ")),
            "[{n}/4] missing: {err}"
        );
    }
    assert!(err.contains(": uploaded, verified, backed up"), "{err}");
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
    assert!(out.contains("Register-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -PrimaryKeyVaultUri '"), "{out}");
    assert!(
        out.contains("-KeyType Primary") && out.contains("-KeyType Secondary"),
        "{out}"
    );
    // An import transcript is unsigned (no HSM on the connected side): verify says so
    // and fails unless told that unsigned is expected.
    fails(
        &r.byok(&[
            "transcript",
            "verify",
            "ceremony/import-transcript.jsonl",
            "--plan",
            "plan.json",
        ]),
        &["UNSIGNED", "--allow-unsigned"],
    );
    ok(&r.byok(&[
        "transcript",
        "verify",
        "ceremony/import-transcript.jsonl",
        "--plan",
        "plan.json",
        "--allow-unsigned",
    ]));
    // Both transcripts name the binary that wrote them, as `byok version` does; the
    // offline run was resumed by the same binary, so no other is named.
    let byok_sha256 = byok_core::util::sha256_hex(&fs::read(byok_testkit::bin("byok")).unwrap());
    for t in [
        "ceremony/transcript.jsonl",
        "ceremony/import-transcript.jsonl",
    ] {
        let v: Value = serde_json::from_str(&ok(&r.byok(&[
            "transcript",
            "verify",
            t,
            "--allow-unsigned",
            "--json",
        ])))
        .unwrap();
        assert_eq!(v["binary"]["exe_sha256"], byok_sha256, "{t}");
        assert_eq!(v["resumed_by"], serde_json::json!([]), "{t}");
    }
    let o = r.byok(&[
        "backup",
        "verify",
        "ceremony/backups",
        "--restore-to",
        &r.scratch.url,
        "--json",
    ]);
    let drill: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(drill["entries"], 4);
    let err = stderr(&o);
    assert!(err.contains("[4/4] restore drill: "), "{err}");

    // Rerun: what is done stays done; a new import transcript records the rerun.
    let j: Value = serde_json::from_str(&ok(&r.byok(&[
        "ceremony",
        "import",
        "plan.json",
        "--packages",
        "ceremony",
        "--digest",
        &digest,
        "--json",
    ])))
    .unwrap();
    assert_eq!(j["offline"]["digest"], digest.as_str());
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
        "--allow-unsigned",
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
        &r.byok(&[
            "ceremony",
            "import",
            "other.json",
            "--packages",
            "ceremony",
            "--digest",
            &digest,
        ]),
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
    let digest = r.digest("ceremony");
    fails(
        &r.byok(&[
            "ceremony",
            "import",
            "plan.json",
            "--packages",
            "ceremony",
            "--digest",
            &digest,
        ]),
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
        "--digest",
        &digest,
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

/// The name the printed permission commands give a simulator (`127-0-0-1-PORT`).
fn sim_label(sim: &SimProc) -> String {
    sim.url
        .trim_start_matches("https://")
        .replace(['.', ':'], "-")
}

/// A mixed plan (issue 11): an Exchange DEP on two Key Vault simulators, a SharePoint DEP
/// on two `--managed-hsm` simulators (KEK attestation required), and the multi-workload
/// DEP on one of each. The import learns each simulator's kind from its challenge and
/// prints each vault's permission commands in its own form, for each service's app id.
#[test]
fn rehearsal_of_a_mixed_key_vault_and_managed_hsm_plan_with_all_three_services() {
    const EXO: &str = "00000002-0000-0ff1-ce00-000000000000";
    const SPO: &str = "00000003-0000-0ff1-ce00-000000000000";
    const M365: &str = "c066d759-24ae-40e7-a56f-027002b5d3e4";
    const ROLE: &str = "'Managed HSM Crypto Service Encryption User'";
    let r = Rehearsal::new();
    let dir = r.tok.dir();
    let sub = dir.join("subscription.key").to_str().unwrap().to_string();
    let mut flags = vec!["--subscription-key", sub.as_str(), "--managed-hsm"];
    if r.tok.t.kind.pads_pkcs8() {
        flags.push("--accept-padded-pkcs8");
    }
    let h1 = SimProc::start(&dir.join("hsm-1"), &flags);
    let h2 = SimProc::start(&dir.join("hsm-2"), &flags);
    assert_eq!(
        [&r.a.kind, &r.b.kind, &h1.kind, &h2.kind],
        ["keyvault", "keyvault", "managedhsm", "managedhsm"]
    );
    {
        use std::io::Write;
        let mut cas = fs::OpenOptions::new().append(true).open(&r.ca).unwrap();
        for s in [&h1, &h2] {
            cas.write_all(&fs::read(&s.ca).unwrap()).unwrap();
        }
    }
    let roots: Vec<String> = [&h1, &h2]
        .iter()
        .map(|s| {
            let p = s.ca.parent().unwrap().join("attestation-root.pem");
            p.to_str().unwrap().to_string()
        })
        .collect();
    let run = |args: &[&str]| {
        let mut v: Vec<&str> = args.to_vec();
        for root in &roots {
            v.extend(["--trust-root", root.as_str()]);
        }
        r.byok(&v)
    };
    // A KEK in each vault, fetched (with the HSMs' attestations) and pinned.
    fs::create_dir_all(dir.join("keks")).unwrap();
    let mut fps = BTreeMap::new();
    for (sim, name) in [(&r.a, "a"), (&r.b, "b"), (&h1, "h1"), (&h2, "h2")] {
        let kek = format!("KEK-{name}");
        ok(&r.byok(&[
            "kek", "create", "--vault", &sim.url, "--name", &kek, "--size", "2048",
        ]));
        let out = format!("keks/{name}.json");
        let mut args = vec![
            "kek", "fetch", "--vault", &sim.url, "--name", &kek, "--out", &out, "--json",
        ];
        if sim.kind == "managedhsm" {
            args.push("--attestation");
        }
        let f: Value = serde_json::from_str(&ok(&r.byok(&args))).unwrap();
        fps.insert(name, f["sha256"].as_str().unwrap().to_string());
    }
    let sims = [("a", &r.a), ("b", &r.b), ("h1", &h1), ("h2", &h2)];
    let key = |name: &str, vault: &str| {
        let sim = sims.iter().find(|(n, _)| *n == vault).unwrap().1;
        let mut k = json!({"vault": sim.url, "name": name, "size": 2048,
                           "kek": format!("keks/{vault}.json"), "kek_sha256": fps[vault]});
        if sim.kind == "managedhsm" {
            k["kek_attestation"] = json!("required");
        }
        k
    };
    let plan = json!({
        "ceremony": "contoso-mixed-rehearsal",
        "token": TOKEN,
        "rehearsal": true,
        "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
                     {"name": "Bob Example", "role": "crypto officer"}],
        "policies": [
            {"name": "USA_mailboxes", "service": "exchange", "description": "US mailboxes",
             "keys": [key("Contoso-O365EX-NA-VaultA1-Key001", "a"), key("Contoso-O365EX-NA-VaultA2-Key001", "b")]},
            {"name": "NA_geo", "service": "sharepoint", "admin_url": "https://contoso-admin.sharepoint.com",
             "keys": [key("Contoso-O365SP-NA-MHSM1-Key001", "h1"), key("Contoso-O365SP-NA-MHSM2-Key001", "h2")]},
            {"name": "Contoso_M365", "service": "m365", "description": "All workloads",
             "keys": [key("Contoso-O365MW-NA-VaultA1-Key001", "a"), key("Contoso-O365MW-NA-MHSM2-Key001", "h2")]}
        ]
    });
    fs::write(
        dir.join("plan.json"),
        serde_json::to_vec_pretty(&plan).unwrap(),
    )
    .unwrap();
    ok(&run(&[
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "ceremony",
        "--non-interactive",
    ]));
    let digest = r.digest("ceremony");
    let o = run(&[
        "ceremony",
        "import",
        "plan.json",
        "--packages",
        "ceremony",
        "--digest",
        &digest,
        "--json",
    ]);
    let j: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(j["warnings"], json!([]), "every simulator said its kind");
    assert!(
        !stderr(&o).contains("Key Vault or a Managed HSM"),
        "{}",
        stderr(&o)
    );
    // Every key imported, once, into its own vault.
    let keys = j["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 6);
    let mut kids = BTreeMap::new();
    for p in plan["policies"].as_array().unwrap() {
        for k in p["keys"].as_array().unwrap() {
            let name = k["name"].as_str().unwrap();
            let sim = sims.iter().find(|(_, s)| s.url == k["vault"]).unwrap().1;
            assert_eq!(sim.versions(name), 1, "{name}");
            let got = keys.iter().find(|x| x["name"] == name).unwrap();
            let kid = got["kid"].as_str().unwrap();
            assert!(
                kid.starts_with(&format!("{}/keys/{name}/", sim.url)),
                "{kid}"
            );
            kids.insert(name.to_string(), kid.to_string());
        }
    }
    let kv = |sim: &SimProc, app: &str| {
        format!(
            "Set-AzKeyVaultAccessPolicy -VaultName '{}' -PermissionsToKeys wrapKey,unwrapKey,get -ServicePrincipalName '{app}'",
            sim_label(sim)
        )
    };
    let hsm = |sim: &SimProc, app: &str, key: &str| {
        format!(
            "az keyvault role assignment create --hsm-name '{}' --role {ROLE} --assignee '{app}' --scope '/keys/{key}'",
            sim_label(sim)
        )
    };
    let commands = j["commands"].as_array().unwrap();
    let of = |policy: &str, field: &str| -> Vec<String> {
        let c = commands.iter().find(|c| c["policy"] == policy).unwrap();
        c[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(commands.len(), 3, "{j}");
    assert_eq!(
        of("USA_mailboxes", "permissions"),
        [kv(&r.a, EXO), kv(&r.b, EXO)]
    );
    assert_eq!(
        of("NA_geo", "permissions"),
        [
            hsm(&h1, SPO, "Contoso-O365SP-NA-MHSM1-Key001"),
            hsm(&h2, SPO, "Contoso-O365SP-NA-MHSM2-Key001")
        ]
    );
    assert_eq!(
        of("Contoso_M365", "permissions"),
        [
            kv(&r.a, M365),
            hsm(&h2, M365, "Contoso-O365MW-NA-MHSM2-Key001")
        ]
    );
    let kid = |name: &str| kids[name].clone();
    assert!(of("USA_mailboxes", "setup").contains(&format!(
        "New-DataEncryptionPolicy -Name 'USA_mailboxes' -Description 'US mailboxes' -AzureKeyIDs '{}', '{}'",
        kid("Contoso-O365EX-NA-VaultA1-Key001"),
        kid("Contoso-O365EX-NA-VaultA2-Key001")
    )));
    assert_eq!(
        of("NA_geo", "setup"),
        [format!(
            "Register-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -PrimaryKeyVaultUri '{}' -SecondaryKeyVaultUri '{}'",
            kid("Contoso-O365SP-NA-MHSM1-Key001"),
            kid("Contoso-O365SP-NA-MHSM2-Key001")
        )]
    );
    assert_eq!(
        of("Contoso_M365", "setup"),
        [
            format!(
                "New-M365DataAtRestEncryptionPolicy -Name 'Contoso_M365' -AzureKeyIDs '{}','{}' -Description 'All workloads'",
                kid("Contoso-O365MW-NA-VaultA1-Key001"),
                kid("Contoso-O365MW-NA-MHSM2-Key001")
            ),
            "Set-M365DataAtRestEncryptionPolicyAssignment -DataEncryptionPolicy 'Contoso_M365'"
                .to_string()
        ]
    );
    assert!(of("Contoso_M365", "after_key_roll").contains(
        &"Set-M365DataAtRestEncryptionPolicy -Identity 'Contoso_M365' -Refresh".to_string()
    ));
}

/// The chain of custody (issue 9): a ceremony directory made without any HSM, or on a
/// second token labelled like the real one, is refused before anything is sent; only
/// the directory whose transcript has the digest the officers signed imports.
#[test]
fn forged_and_swapped_ceremony_directories_are_refused() {
    use byok_testkit::forge::{forge_ceremony, Close};
    let r = Rehearsal::new();
    r.plan();
    let dir = r.tok.dir();
    let run = [
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "ceremony",
        "--non-interactive",
    ];
    ok(&r.byok(&run));
    let genuine: Value = serde_json::from_str(&ok(&r.byok(&[
        "transcript",
        "verify",
        "ceremony/transcript.jsonl",
        "--json",
    ])))
    .unwrap();
    let digest = genuine["digest"].as_str().unwrap().to_string();
    let hsm: byok_core::hsm::TokenIdentity =
        serde_json::from_value(genuine["hsm"].clone()).unwrap();
    let import = |packages: &str, digest: &str| {
        r.byok(&[
            "ceremony",
            "import",
            "plan.json",
            "--packages",
            packages,
            "--digest",
            digest,
        ])
    };
    let nothing_sent = || {
        for (name, a) in KEYS {
            let sim = if a { &r.a } else { &r.b };
            assert_eq!(sim.versions(name), 0, "{name} reached a vault");
        }
    };

    // 1. No HSM at all: software keys wrapped under the plan's public KEKs, a manifest,
    //    and a transcript chained on the plan's hash, closed unsigned and claiming the
    //    real token. Its chain holds, so `transcript verify` only passes it when told
    //    unsigned is fine.
    let forged = forge_ceremony(
        &dir.join("plan.json"),
        &dir.join("forged"),
        &hsm,
        Close::Unsigned,
    )
    .unwrap();
    fails(
        &r.byok(&["transcript", "verify", "forged/transcript.jsonl"]),
        &["UNSIGNED", "--allow-unsigned"],
    );
    let v = ok(&r.byok(&[
        "transcript",
        "verify",
        "forged/transcript.jsonl",
        "--allow-unsigned",
    ]));
    assert!(v.contains("signature: UNSIGNED"), "{v}");
    let e = fails(
        &import("forged", &digest),
        &["not the ceremony they signed"],
    );
    let (ff, fl) = byok_core::words::first_last(&hex::decode(&forged).unwrap());
    assert!(
        e.contains(&format!("({ff} … {fl})")) && e.contains(&digest) && !e.contains(&forged),
        "names both digests, the directory's by its words only (it must not be pasted back): {e}"
    );
    // Even a courier who got the officers to sign the forgery's digest gets nowhere.
    fails(&import("forged", &forged), &["UNSIGNED"]);
    nothing_sent();

    //    The same, closed with a signature by a software key posing as the signer: the
    //    signature checks out against the key the forged transcript names, so only the
    //    digest tells it from the ceremony.
    let posing = &byok_testkit::harness::kek(3072).private;
    let signed = forge_ceremony(
        &dir.join("plan.json"),
        &dir.join("forged-signed"),
        &hsm,
        Close::SignedBy(posing),
    )
    .unwrap();
    let v = ok(&r.byok(&["transcript", "verify", "forged-signed/transcript.jsonl"]));
    assert!(v.contains("not evidence of an HSM"), "{v}");
    // An auditor holding the paper record gives its digest to verify too.
    fails(
        &r.byok(&[
            "transcript",
            "verify",
            "forged-signed/transcript.jsonl",
            "--digest",
            &digest,
        ]),
        &["not the one the officers signed"],
    );
    ok(&r.byok(&[
        "transcript",
        "verify",
        "ceremony/transcript.jsonl",
        "--digest",
        &digest,
    ]));
    let e = fails(
        &import("forged-signed", &digest),
        &["not the ceremony they signed"],
    );
    let (sf, sl) = byok_core::words::first_last(&hex::decode(&signed).unwrap());
    assert!(e.contains(&format!("({sf} … {sl})")), "{e}");
    nothing_sent();

    // 2. Another token with the same label runs the same plan: a real, signed ceremony,
    //    but not the one the officers witnessed.
    let other = Token::new(TOKEN);
    fs::copy(dir.join("plan.json"), other.dir().join("plan.json")).unwrap();
    copy_dir(&dir.join("keks"), &other.dir().join("keks"));
    so_trusts_the_plans_keks(&other);
    ok(&other.byok(&run));
    copy_dir(&other.dir().join("ceremony"), &dir.join("swapped"));
    let swapped: Value = serde_json::from_str(&ok(&r.byok(&[
        "transcript",
        "verify",
        "swapped/transcript.jsonl",
        "--json",
    ])))
    .unwrap();
    let other_serial = swapped["hsm"]["serial"].as_str().unwrap().to_string();
    assert_ne!(other_serial, hsm.serial, "two tokens, two serials");
    fails(
        &import("swapped", &digest),
        &["not the ceremony they signed"],
    );
    nothing_sent();

    // A ceremony's plan (real vault names) that pins the token's serial: `ceremony check`
    // and the officers' script say so, and `ceremony run` refuses any other token before
    // logging in. A rehearsal of the same plan file on a throwaway token is warned about.
    let mut real_keys = Vec::new();
    for v in ["a1", "a2"] {
        let vault = format!("https://contoso-vault{v}.vault.azure.net");
        let k = byok_testkit::testkek::TestKek::generate(2048, &vault, "Contoso-KEK").unwrap();
        fs::write(dir.join(format!("keks/real-{v}.json")), k.key_bundle_json()).unwrap();
        real_keys.push((vault, v, hex::encode(k.kek().unwrap().sha256())));
    }
    // The plan; `n` numbers its key names (byok never reuses a label on a token).
    let real_n = |serial: &str, n: u32| {
        let keys: Vec<Value> = real_keys
            .iter()
            .map(|(vault, v, fp)| {
                json!({"vault": vault, "name": format!("Contoso-Real-{v}-Key00{n}"),
                       "size": 2048, "kek": format!("keks/real-{v}.json"), "kek_sha256": fp})
            })
            .collect();
        json!({"ceremony": format!("contoso-real-{n}"), "token": TOKEN, "token_serial": serial,
               "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
                            {"name": "Bob Example", "role": "crypto officer"}],
               "policies": [{"name": "USA_mailboxes", "service": "exchange", "keys": keys}]})
    };
    let real = |serial: &str| real_n(serial, 1);
    fs::write(dir.join("real.json"), real(&other_serial).to_string()).unwrap();
    let c = ok(&r.byok(&["ceremony", "check", "real.json"]));
    assert!(
        c.contains(&format!("only the token with serial {other_serial}")),
        "{c}"
    );
    let before = r.tok.labels();
    let pinned_run = [
        "ceremony",
        "run",
        "real.json",
        "--out",
        "pinned",
        "--non-interactive",
    ];
    fails(
        &r.byok(&pinned_run),
        &["no token", &other_serial, "token_serial"],
    );
    assert_eq!(r.tok.labels(), before, "nothing made on the wrong token");
    assert!(!dir.join("pinned").exists(), "nothing left behind");
    let mut rehearsed = vec!["--rehearsal"];
    rehearsed.extend_from_slice(&pinned_run);
    let o = r.tok.cmd_for_real(&rehearsed).output().unwrap();
    ok(&o);
    assert!(
        stderr(&o).contains(&format!("not the plan's token_serial \"{other_serial}\"")),
        "{}",
        stderr(&o)
    );
    fs::write(dir.join("real.json"), real(&hsm.serial).to_string()).unwrap();
    let script = ok(&r.byok(&["ceremony", "run", "real.json", "--out", "x", "--dry-run"]));
    assert!(
        script.contains(&format!("serial {} (pinned", hsm.serial)),
        "{script}"
    );
    // A ceremony (not a rehearsal) on the pinned token; its import under a plan that pins
    // another serial is refused from the transcript alone, before any vault is reached
    // (these vault names are real Key Vault hosts: nothing may be sent to them).
    let real_run = [
        "ceremony",
        "run",
        "real.json",
        "--out",
        "real",
        "--non-interactive",
    ];
    fs::write(dir.join("real.json"), real_n(&hsm.serial, 2).to_string()).unwrap();
    ok(&r.tok.cmd_for_real(&real_run).output().unwrap());
    let real_digest = r.digest("real");
    fs::write(dir.join("real.json"), real_n(&other_serial, 2).to_string()).unwrap();
    let o = r
        .tok
        .cmd_for_real(&[
            "ceremony",
            "import",
            "real.json",
            "--packages",
            "real",
            "--digest",
            &real_digest,
        ])
        .output()
        .unwrap();
    fails(&o, &[&hsm.serial, "token_serial", &other_serial]);
    assert!(!dir.join("real/import-transcript.jsonl").exists());

    // The digest must come from the officers: no --digest and no terminal is refused; a
    // mistyped word is named.
    fails(
        &r.byok(&["ceremony", "import", "plan.json", "--packages", "ceremony"]),
        &["--digest"],
    );
    // At a terminal (a pty from script(1)) the import asks for it, and checks what was
    // typed the same way.
    let at_terminal = |packages: &str, typed: &[&str]| {
        let inner = r.cmd(&["ceremony", "import", "plan.json", "--packages", packages]);
        let mut c = std::process::Command::new("script");
        c.arg("-qec")
            .arg(format!(
                "'{}' ceremony import plan.json --packages {packages}",
                byok_testkit::bin("byok").display()
            ))
            .arg("/dev/null")
            .env_clear()
            .current_dir(inner.get_current_dir().unwrap())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                c.env(k, v);
            }
        }
        let mut child = c.spawn().unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            for line in typed {
                writeln!(stdin, "{line}").unwrap();
            }
        }
        child.wait_with_output().unwrap()
    };
    let o = at_terminal("swapped", &[&digest]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Type the transcript digest")
            && text.contains("error: ")
            && text.contains("not the ceremony they signed"),
        "{text}"
    );
    nothing_sent();
    // The right digest shows the custody block, and at a terminal the import goes on only
    // when the operator confirms it matches the paper record.
    let o = at_terminal("ceremony", &[&digest, "no"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("serial {}", hsm.serial))
            && text.contains("Type yes to import")
            && text.contains("error: the import stopped before anything was sent"),
        "{text}"
    );
    nothing_sent();
    assert!(
        !dir.join("ceremony/import-transcript.jsonl").exists(),
        "an unconfirmed import leaves no transcript"
    );
    let words = genuine["digest_words"].as_str().unwrap().to_string();
    let first = words.split(' ').next().unwrap().to_string();
    let typo = words.replacen(&first, &format!("{first}x"), 1);
    fails(&import("ceremony", &typo), &["word 1", "did you mean"]);
    nothing_sent();

    // The genuine directory, with the digest as the officers wrote it in words, imports.
    let out = ok(&import("ceremony", &words.to_lowercase()));
    for (name, a) in KEYS {
        let sim = if a { &r.a } else { &r.b };
        assert_eq!(sim.versions(name), 1, "{name}");
        assert!(out.contains(&format!("{}/keys/{name}/", sim.url)), "{out}");
    }
    assert!(
        out.contains(&format!("offline:    digest {digest}")),
        "{out}"
    );

    // What a courier plants in the directory for a rerun: an unfinished import transcript
    // of another plan is not continued, and a backup that is not the one listed is not
    // taken for done.
    let planted = dir.join("ceremony/import-transcript-2.jsonl");
    let mut w = byok_core::transcript::Writer::create(&planted, [0xab; 32]).unwrap();
    w.append(
        byok_core::transcript::Record::new(byok_core::transcript::StepName::Open, "byok")
            .input("plan", &"ab".repeat(32))
            .detail("run", "import"),
    )
    .unwrap();
    drop(w);
    fails(
        &import("ceremony", &digest),
        &[
            "import-transcript-2.jsonl",
            "unfinished import of another plan",
        ],
    );
    assert!(!dir.join("ceremony/import-transcript-3.jsonl").exists());
    fs::remove_file(&planted).unwrap();
    let backup = fs::read_dir(dir.join("ceremony/backups"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "backup"))
        .unwrap();
    fs::write(&backup, b"not a backup").unwrap();
    fails(
        &import("ceremony", &digest),
        &[
            "not the backup the manifest",
            "move the backup directory away",
        ],
    );
}

/// The key versions the official Python SDK (azure-keyvault-keys) lists in `sim` for
/// `names`: `{name: {"versions": [{"version", "enabled", "expires"}], "current": id}}`.
fn sdk_versions(sim: &SimProc, names: &[&str]) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("BYOK_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join(".venv-test/bin/python"));
    assert!(
        python.exists(),
        "{} not found: run softhsm/setup.sh --tests (or set BYOK_PYTHON)",
        python.display()
    );
    let o = std::process::Command::new(&python)
        .arg(root.join("tests/python/sdk_versions.py"))
        .arg(&sim.url)
        .arg(&sim.ca)
        .args(names)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sdk_versions.py failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A key roll after a first ceremony (issue 11): a second plan rolls one Exchange key and
/// the SharePoint primary. The offline run makes new HSM keys beside the old ones; the
/// import adds a version to each, keeps the older versions, prints the refresh and update
/// commands with the new versions, and a rerun adds no third version. A roll of a key the
/// vault does not have, and a vault whose older version was disabled, are refused.
#[test]
fn a_key_roll_after_the_first_ceremony() {
    let r = Rehearsal::new();
    r.plan();
    let run = |plan: &str, out: &str| {
        ok(&r.byok(&["ceremony", "run", plan, "--out", out, "--non-interactive"]))
    };
    let import = |plan: &str, dir: &str, digest: &str| {
        r.byok(&[
            "ceremony",
            "import",
            plan,
            "--packages",
            dir,
            "--digest",
            digest,
            "--json",
        ])
    };
    run("plan.json", "ceremony");
    ok(&import("plan.json", "ceremony", &r.digest("ceremony")));
    let (ex, sp) = (KEYS[0].0, KEYS[2].0);

    // The roll plan lists only the rolled keys, under their policies.
    let dir = r.tok.dir();
    let mut plan: Value =
        serde_json::from_slice(&fs::read(dir.join("plan.json")).unwrap()).unwrap();
    plan["ceremony"] = json!("contoso-roll-2027");
    for (i, name) in [(0, ex), (1, sp)] {
        let keys = plan["policies"][i]["keys"].as_array_mut().unwrap();
        keys.retain(|k| k["name"] == name);
        keys[0]["roll"] = json!(true);
        if i == 1 {
            keys[0]["key_type"] = json!("primary");
        }
    }
    fs::write(
        dir.join("roll.json"),
        serde_json::to_vec_pretty(&plan).unwrap(),
    )
    .unwrap();
    let o = r.byok(&["ceremony", "check", "roll.json"]);
    ok(&o);
    assert!(
        stderr(&o).contains("a new version of the existing key"),
        "{}",
        stderr(&o)
    );
    run("roll.json", "roll");
    let labels = r.tok.labels();
    for name in [ex, sp] {
        let label = format!("{name}-contoso-roll-2027");
        assert!(labels.contains(&name.to_string()), "{labels:?}");
        assert!(labels.contains(&label), "{labels:?}");
        assert!(dir.join(format!("roll/{label}.byok")).exists());
    }
    let manifest: Value =
        serde_json::from_slice(&fs::read(dir.join("roll/manifest.json")).unwrap()).unwrap();
    assert!(manifest["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["roll"] == true));
    let t = fs::read_to_string(dir.join("roll/transcript.jsonl")).unwrap();
    assert!(t.contains(&format!("\"rolls\":[\"{ex}\",\"{sp}\"]")), "{t}");

    let digest = r.digest("roll");
    // A version already disabled before the roll is refused before anything is sent.
    let kid = r.a.get(&format!("/keys/{ex}"))["key"]["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let v1 = kid.rsplit('/').next().unwrap().to_string();
    let enable = |on: bool| {
        r.a.call(
            "PATCH",
            &format!("/keys/{ex}/{v1}"),
            Some(json!({"attributes": {"enabled": on}})),
        )
    };
    enable(false);
    fails_after_custody(
        &import("roll.json", "roll", &digest),
        &[
            &format!("version {v1} of key {ex}"),
            "is not enabled",
            "nothing was sent",
        ],
    );
    assert_eq!(r.a.versions(ex), 1, "nothing was uploaded");
    enable(true);
    // Killed after the first new version reached the vault, before the import recorded
    // it: the rerun finds it by its package tag and adds no second one.
    let o = r
        .cmd(&[
            "ceremony",
            "import",
            "roll.json",
            "--packages",
            "roll",
            "--digest",
            &digest,
        ])
        .env("BYOK_TEST_CRASH_AFTER", "done:upload:1")
        .output()
        .unwrap();
    assert!(
        o.status.code().is_none(),
        "the crash hook did not fire: {}",
        stderr(&o)
    );
    assert_eq!(
        r.a.versions(ex),
        2,
        "the first roll's version is in the vault"
    );
    let o = import("roll.json", "roll", &digest);
    let j: Value = serde_json::from_str(&ok(&o)).unwrap();
    let keys = j["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let sdk = sdk_versions(&r.a, &[ex, sp]);
    for k in keys {
        let name = k["name"].as_str().unwrap();
        assert_eq!(
            (k["roll"].clone(), k["versions"].clone()),
            (json!(true), json!(2)),
            "{k}"
        );
        let v = &sdk[name];
        assert_eq!(v["versions"].as_array().unwrap().len(), 2, "{v}");
        assert_eq!(
            v["current"], k["version"],
            "the new version is current: {v}"
        );
        assert!(
            v["versions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["enabled"] == true),
            "{v}"
        );
    }
    // The keys not rolled have their one version still.
    assert_eq!(
        sdk_versions(&r.b, &[KEYS[1].0])[KEYS[1].0]["versions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let cmds = serde_json::to_string(&j["commands"]).unwrap();
    let kid = |name: &str| {
        keys.iter().find(|k| k["name"] == name).unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        cmds.contains("Set-DataEncryptionPolicy -Identity 'USA_mailboxes' -Refresh"),
        "{cmds}"
    );
    assert!(
        cmds.contains(&format!(
            "Update-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -KeyVaultUri '{}' -KeyType Primary",
            kid(sp)
        )),
        "{cmds}"
    );
    assert!(
        !cmds.contains("New-DataEncryptionPolicy"),
        "a roll creates no DEP: {cmds}"
    );
    // Each rolled key was backed up again (the backup holds every version).
    let backups = fs::read_dir(dir.join("roll/backups")).unwrap().count();
    assert!(backups >= 2, "{backups}");

    // A rerun finds the new versions by their package tags and adds none.
    let again: Value = serde_json::from_str(&ok(&import("roll.json", "roll", &digest))).unwrap();
    assert!(again["keys"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["uploaded_now"] == false));
    assert_eq!(r.a.versions(ex), 2);
    assert_eq!(r.a.versions(sp), 2);

    // An older version disabled in the vault is caught (Customer Key needs it).
    let first = sdk[ex]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["version"] != sdk[ex]["current"])
        .unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string();
    r.a.call(
        "PATCH",
        &format!("/keys/{ex}/{first}"),
        Some(json!({"attributes": {"enabled": false}})),
    );
    fails_after_custody(
        &r.byok(&[
            "ceremony",
            "import",
            "roll.json",
            "--packages",
            "roll",
            "--digest",
            &digest,
        ]),
        &[&format!("version {first} of key {ex}"), "is not enabled"],
    );
    r.a.call(
        "PATCH",
        &format!("/keys/{ex}/{first}"),
        Some(json!({"attributes": {"enabled": true}})),
    );

    // A roll of a key the vault does not have is refused before anything is sent.
    let missing = "Contoso-O365EX-NA-VaultA1-Key999";
    let mut plan2 = plan.clone();
    plan2["ceremony"] = json!("contoso-roll-missing");
    plan2["policies"].as_array_mut().unwrap().truncate(1);
    plan2["policies"][0]["keys"][0]["name"] = json!(missing);
    fs::write(
        dir.join("roll2.json"),
        serde_json::to_vec_pretty(&plan2).unwrap(),
    )
    .unwrap();
    run("roll2.json", "roll2");
    fails_after_custody(
        &r.byok(&[
            "ceremony",
            "import",
            "roll2.json",
            "--packages",
            "roll2",
            "--digest",
            &r.digest("roll2"),
        ]),
        &[
            &format!("key {missing} does not exist in {}", r.a.url),
            "nothing was sent",
        ],
    );
    assert_eq!(r.a.versions(missing), 0);
}
