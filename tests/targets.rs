//! One ceremony, every cloud (issue 13): a plan with an Exchange DEP (two simulated Key
//! Vaults) and stand-alone keys for AWS KMS, Google Cloud KMS (an HSM import job, its
//! attestation made by the testkit's TEST chain) and OpenBao (a real `bao server -dev`),
//! through `ceremony check`, a run killed part way and resumed, `transcript verify`, and
//! `ceremony import`: the Azure keys uploaded and verified, the OpenBao key imported and
//! read back, the AWS and gcloud commands printed, and each blob unwrapped in software
//! with its target's hash to exactly the HSM's key (and by the strict Python checker).
//!
//! Every target runs on every token, with the hash the token can do: SHA-256 where it
//! really does it (Kryoptic), SHA-1 elsewhere (SoftHSM 2.6.1 refuses SHA-256 and SoftHSM
//! 2.7.0 silently uses SHA-1, so byok refuses SHA-256 targets there before any key is
//! generated: the second test).

mod common;

use byok_core::hsm::OaepHash;
use byok_testkit::softhsm::TokenKind;
use byok_testkit::testchain::TestChain;
use common::sim::SimProc;
use common::*;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

const TOKEN: &str = "Multi-Cloud";
const AWS_ARN: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const GCP_KEY: &str =
    "projects/contoso-kms/locations/europe-west1/keyRings/ceremony/cryptoKeys/signing";
const GCP_JOB: &str =
    "projects/contoso-kms/locations/europe-west1/keyRings/ceremony/importJobs/job-1";

/// The software halves of the AWS and GCP wrapping keys (the clouds keep theirs in
/// their HSMs; here the test plays the cloud and unwraps).
struct Clouds {
    aws: rsa::PrivateKey,
    gcp: rsa::PrivateKey,
    chain: TestChain,
}

fn sha256_of(path: &Path) -> String {
    let o = byok_in(
        path.parent().unwrap(),
        &["kek", "inspect", path.to_str().unwrap(), "--json"],
    );
    let v: Value = serde_json::from_str(&ok(&o)).unwrap();
    v["sha256"].as_str().unwrap().to_string()
}

/// The hash this token's targets use: SHA-256 only where the token really does it.
fn hash_for(kind: TokenKind) -> OaepHash {
    if kind.oaep_sha256() {
        OaepHash::Sha256
    } else {
        OaepHash::Sha1
    }
}

/// Fetch the Azure KEKs, make the AWS and GCP wrapping keys, fetch OpenBao's, and write
/// the plan (every target with `hash`).
fn write_plan(
    tok: &Token,
    a: &SimProc,
    b: &SimProc,
    bao: &byok_testkit::bao::Bao,
    hash: OaepHash,
    ca: &str,
) -> Clouds {
    let dir = tok.dir();
    let keks = dir.join("keks");
    fs::create_dir_all(&keks).unwrap();
    let mut azure = Vec::new();
    for (sim, n) in [(a, "a"), (b, "b")] {
        let run = |args: &[&str]| {
            let o = tok
                .cmd(args)
                .env("BYOK_CA_FILE", ca)
                .env("BYOK_ACCESS_TOKEN", "rehearsal-token")
                .output()
                .unwrap();
            ok(&o)
        };
        run(&[
            "kek",
            "create",
            "--vault",
            &sim.url,
            "--name",
            &format!("KEK-{n}"),
            "--size",
            "2048",
        ]);
        let v: Value = serde_json::from_str(&run(&[
            "kek",
            "fetch",
            "--vault",
            &sim.url,
            "--name",
            &format!("KEK-{n}"),
            "--out",
            &format!("keks/{n}.json"),
            "--json",
        ]))
        .unwrap();
        azure.push(v["sha256"].as_str().unwrap().to_string());
    }
    // AWS: GetParametersForImport's PublicKey as the CLI prints it (base64 DER), and an
    // import token (opaque bytes).
    let aws = rsa::PrivateKey::new(&mut rand::rng(), 3072).unwrap();
    let der = aws.to_public_key().to_public_key_der().unwrap();
    use base64::Engine;
    fs::write(
        keks.join("aws-wrapping-key.b64"),
        base64::engine::general_purpose::STANDARD.encode(der.as_bytes()) + "\n",
    )
    .unwrap();
    fs::write(
        keks.join("aws-import-token.bin"),
        rand::random::<[u8; 32]>().repeat(40),
    )
    .unwrap();
    // GCP: an HSM import job's publicKey.pem and its description with the attestation.
    let gcp = rsa::PrivateKey::new(&mut rand::rng(), 3072).unwrap();
    let pem = gcp
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    fs::write(keks.join("gcp-job.pem"), &pem).unwrap();
    let method = match hash {
        OaepHash::Sha1 => "RSA_OAEP_3072_SHA1_AES_256",
        OaepHash::Sha256 => "RSA_OAEP_3072_SHA256_AES_256",
    };
    let chain = TestChain::generate("GCP-TEST-1", true).unwrap();
    fs::write(
        keks.join("gcp-job.json"),
        chain
            .gcp_import_job_json_named(&gcp.to_public_key(), method, GCP_JOB)
            .unwrap(),
    )
    .unwrap();
    fs::write(dir.join("test-root.pem"), chain.root_pem()).unwrap();
    // OpenBao: the transit mount's wrapping key.
    let w = bao.get("transit/wrapping_key");
    fs::write(
        keks.join("bao-wrapping.pem"),
        w["data"]["public_key"].as_str().unwrap(),
    )
    .unwrap();
    let fp = |f: &str| sha256_of(&keks.join(f));
    let (aws_alg, bao_hash) = match hash {
        OaepHash::Sha1 => ("RSA_AES_KEY_WRAP_SHA_1", "SHA1"),
        OaepHash::Sha256 => ("RSA_AES_KEY_WRAP_SHA_256", "SHA256"),
    };
    let key = |name: &str, i: usize, v: &SimProc| {
        json!({"vault": v.url, "name": name, "size": 2048,
               "kek": format!("keks/{}.json", ["a", "b"][i]), "kek_sha256": azure[i]})
    };
    let plan = json!({
        "ceremony": "multi-cloud-rehearsal",
        "token": TOKEN,
        "rehearsal": true,
        "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
                     {"name": "Bob Example", "role": "crypto officer"}],
        "policies": [{"name": "USA_mailboxes", "service": "exchange",
                      "keys": [key("Contoso-EX-A-Key001", 0, a), key("Contoso-EX-B-Key001", 1, b)]}],
        "keys": [
            {"name": "Payments-Root", "size": 2048, "target": "aws-kms",
             "kek": "keks/aws-wrapping-key.b64", "kek_sha256": fp("aws-wrapping-key.b64"),
             "aws": {"key_arn": AWS_ARN, "import_token": "keks/aws-import-token.bin",
                     "wrapping_algorithm": aws_alg}},
            {"name": "Signing-Key", "size": 3072, "target": "gcp-kms",
             "kek": "keks/gcp-job.pem", "kek_sha256": fp("gcp-job.pem"),
             "gcp": {"crypto_key": GCP_KEY, "import_job": GCP_JOB, "import_method": method,
                     "algorithm": "RSA_SIGN_PKCS1_3072_SHA256", "attestation": "keks/gcp-job.json"}},
            {"name": "app-key", "size": 2048, "target": "openbao",
             "kek": "keks/bao-wrapping.pem", "kek_sha256": fp("bao-wrapping.pem"),
             "openbao": {"address": bao.addr, "mount": "transit", "hash_function": bao_hash,
                         "type": "rsa-2048"}}
        ]
    });
    fs::write(
        dir.join("plan.json"),
        serde_json::to_vec_pretty(&plan).unwrap(),
    )
    .unwrap();
    Clouds { aws, gcp, chain }
}

fn sims(tok: &Token) -> (SimProc, SimProc, String) {
    let dir = tok.dir();
    let mut flags = vec![];
    if tok.t.kind.pads_pkcs8() {
        flags.push("--accept-padded-pkcs8");
    }
    let a = SimProc::start(&dir.join("vault-a"), &flags);
    let b = SimProc::start(&dir.join("vault-b"), &flags);
    let ca = dir.join("cas.pem");
    fs::write(
        &ca,
        [fs::read(&a.ca).unwrap(), fs::read(&b.ca).unwrap()].concat(),
    )
    .unwrap();
    (a, b, ca.to_str().unwrap().to_string())
}

#[test]
fn a_multi_cloud_ceremony_killed_resumed_verified_and_imported() {
    let tok = Token::new(TOKEN);
    let kind = tok.t.kind;
    let hash = hash_for(kind);
    let (a, b, ca) = sims(&tok);
    let bao = byok_testkit::bao::start();
    let clouds = write_plan(&tok, &a, &b, &bao, hash, &ca);
    let cmd = |args: &[&str]| {
        let mut c = tok.cmd(args);
        c.env("BYOK_CA_FILE", &ca)
            .env("BYOK_ACCESS_TOKEN", "rehearsal-token")
            .env("BAO_TOKEN", &bao.token);
        c
    };
    let byok = |args: &[&str]| cmd(args).output().unwrap();

    let o = byok(&[
        "ceremony",
        "check",
        "plan.json",
        "--trust-root",
        "test-root.pem",
        "--json",
    ]);
    let r: Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(r["keys"], 5, "{r}");
    let err = stderr(&o);
    assert!(
        err.contains("valid 24 hours") && err.contains("keks/aws-import-token.bin"),
        "the AWS pair's 24 hours and the token's SHA-256 are said: {err}"
    );
    // The dry run names each target, method and output.
    let dry = ok(&byok(&[
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "ceremony",
        "--dry-run",
        "--trust-root",
        "test-root.pem",
    ]));
    for w in [
        "Payments-Root (aws-kms): AWS KMS key arn:aws:kms:eu-west-1:",
        "Signing-Key.gcp.bin",
        "app-key.openbao.b64",
        "import job keks/gcp-job.json: verified",
    ] {
        assert!(dry.contains(w), "{w:?} not in the dry run:\n{dry}");
    }

    // Offline: killed after the fourth key's generation, then resumed.
    let o = cmd(&[
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "ceremony",
        "--non-interactive",
        "--trust-root",
        "test-root.pem",
    ])
    .env("BYOK_TEST_CRASH_AFTER", "done:keygen:4")
    .output()
    .unwrap();
    assert!(
        o.status.code().is_none(),
        "the crash hook did not fire: {}",
        stderr(&o)
    );
    // The AWS import token the run began with is pinned: a swapped one stops the resume.
    let token_file = tok.dir().join("keks/aws-import-token.bin");
    let token_bytes = fs::read(&token_file).unwrap();
    fs::write(&token_file, [&token_bytes[..], b"x"].concat()).unwrap();
    fails(
        &byok(&[
            "ceremony",
            "run",
            "plan.json",
            "--out",
            "ceremony",
            "--non-interactive",
            "--resume",
            "--trust-root",
            "test-root.pem",
        ]),
        &["keks/aws-import-token.bin changed since the transcript recorded it"],
    );
    fs::write(&token_file, &token_bytes).unwrap();
    // Killed again after an output of another target was written and before its record:
    // the resume wraps that key again and records the unrecorded file's hash.
    let o = cmd(&[
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "ceremony",
        "--non-interactive",
        "--resume",
        "--trust-root",
        "test-root.pem",
    ])
    .env("BYOK_TEST_CRASH_AFTER", "done:wrap:4")
    .output()
    .unwrap();
    assert!(
        o.status.code().is_none(),
        "the crash hook did not fire: {}",
        stderr(&o)
    );
    ok(&byok(&[
        "ceremony",
        "run",
        "plan.json",
        "--out",
        "ceremony",
        "--non-interactive",
        "--resume",
        "--trust-root",
        "test-root.pem",
    ]));
    let t = fs::read_to_string(tok.dir().join("ceremony/transcript.jsonl")).unwrap();
    let replaced: Vec<Value> = t
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| {
            v["step"] == "wrap" && v["detail"]["replaced_unrecorded_package_sha256"].is_string()
        })
        .collect();
    assert_eq!(replaced.len(), 1, "{t}");
    assert!(
        replaced[0]["detail"]["target"].is_string(),
        "the re-wrapped output is another target's: {}",
        replaced[0]
    );
    ok(&byok(&[
        "transcript",
        "verify",
        "ceremony/transcript.jsonl",
        "--plan",
        "plan.json",
    ]));
    let dir = tok.dir().join("ceremony");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for f in [
        "Payments-Root.aws.bin",
        "Signing-Key.gcp.bin",
        "app-key.openbao.b64",
        "Contoso-EX-A-Key001.byok",
    ] {
        assert!(names.contains(&f.to_string()), "{f} not in {names:?}");
    }
    // The transcript and the manifest record each target, method, hash and output.
    let t = fs::read_to_string(dir.join("transcript.jsonl")).unwrap();
    let wraps: Vec<Value> = t
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["step"] == "wrap")
        .collect();
    assert_eq!(wraps.len(), 5);
    let open: Value = serde_json::from_str(t.lines().next().unwrap()).unwrap();
    assert!(
        open["inputs"].get("keks/aws-import-token.bin").is_some()
            && open["inputs"].get("keks/gcp-job.json").is_some(),
        "the open record pins the import token and the job description: {open}"
    );
    let m: Value = serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let mk = |n: &str| {
        m["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(mk("Payments-Root")["target"], "aws-kms");
    assert_eq!(mk("Payments-Root")["oaep_hash"], hash.name());
    assert_eq!(mk("Signing-Key")["package"], "Signing-Key.gcp.bin");
    assert_eq!(
        mk("app-key")["method"],
        format!(
            "OpenBao transit import ({})",
            if hash == OaepHash::Sha1 {
                "SHA1"
            } else {
                "SHA256"
            }
        )
    );
    assert!(
        mk("Contoso-EX-A-Key001").get("target").is_none(),
        "azure stays as it was"
    );

    // The independent check: each blob unwraps in software, with its target's hash, to
    // exactly the HSM's key; a wrong hash does not unwrap.
    for (file, private) in [("Payments-Root", &clouds.aws), ("Signing-Key", &clouds.gcp)] {
        let ext = if file == "Payments-Root" {
            "aws"
        } else {
            "gcp"
        };
        let blob = fs::read(dir.join(format!("{file}.{ext}.bin"))).unwrap();
        let (n, e) = pem_public(&dir.join(format!("{file}.pub.pem")));
        let c = byok_testkit::testkek::check_blob(private, &blob, hash, &n, &e)
            .unwrap_or_else(|err| panic!("{file}: {err}"));
        assert!(c.modulus_matches);
        // The strict checker (Python's cryptography): the same, and no byte after the
        // PKCS#8, so SoftHSM 2.6's padding (when this key's PKCS#8 needed it) is refused.
        let kek_pem = tok.dir().join(format!("{ext}-wrapping-private.pem"));
        fs::write(
            &kek_pem,
            rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(private, LineEnding::LF)
                .unwrap()
                .as_bytes(),
        )
        .unwrap();
        let strict = byok_testkit::pycheck::python_check_blob(
            &kek_pem,
            &dir.join(format!("{file}.{ext}.bin")),
            byok_testkit::pycheck::BlobForm::Raw,
            hash,
            &dir.join(format!("{file}.pub.pem")),
        );
        match (c.trailing_zero_bytes, strict) {
            (0, Ok(_)) => {}
            (0, Err(e)) => panic!("{file}: the strict checker refused: {e}"),
            (z, Ok(r)) => panic!(
                "{file}: {z} zero bytes after the PKCS#8, and the strict checker took it: {r}"
            ),
            (_, Err(_)) => assert!(kind.pads_pkcs8(), "{file}: padded on {}", kind.name()),
        }
        let other = if hash == OaepHash::Sha1 {
            OaepHash::Sha256
        } else {
            OaepHash::Sha1
        };
        assert!(
            byok_testkit::testkek::check_blob(private, &blob, other, &n, &e).is_err(),
            "{file} also unwraps with {other}: the hash is not what the target asked"
        );
    }

    // Connected: OpenBao imported and read back, Azure uploaded and verified, AWS and
    // GCP as commands.
    let digest = {
        let v: Value = serde_json::from_str(&ok(&byok(&[
            "transcript",
            "verify",
            "ceremony/transcript.jsonl",
            "--json",
        ])))
        .unwrap();
        v["digest"].as_str().unwrap().to_string()
    };
    // A new AWS pair fetched after the ceremony: the blob goes with the recorded token.
    fs::write(&token_file, b"another import token").unwrap();
    fails(
        &byok(&[
            "ceremony",
            "import",
            "plan.json",
            "--packages",
            "ceremony",
            "--digest",
            &digest,
            "--trust-root",
            "test-root.pem",
        ]),
        &[
            "keks/aws-import-token.bin",
            "is not the file the offline ceremony recorded",
        ],
    );
    assert!(
        bao.get_opt("transit/keys/app-key").is_none(),
        "nothing was sent"
    );
    fs::write(&token_file, &token_bytes).unwrap();
    let o = byok(&[
        "ceremony",
        "import",
        "plan.json",
        "--packages",
        "ceremony",
        "--digest",
        &digest,
        "--trust-root",
        "test-root.pem",
    ]);
    let out = ok(&o);
    assert!(out.contains("keys/Contoso-EX-A-Key001/"), "{out}");
    assert!(
        out.contains("New-DataEncryptionPolicy -Name 'USA_mailboxes'"),
        "{out}"
    );
    // Absolute paths: pasted wherever the operator's shell is.
    let root = fs::canonicalize(tok.dir()).unwrap();
    let root = root.display();
    let aws_cmd = format!(
        "aws kms import-key-material --key-id {AWS_ARN} --encrypted-key-material 'fileb://{root}/ceremony/Payments-Root.aws.bin' --import-token 'fileb://{root}/keks/aws-import-token.bin' --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE"
    );
    assert!(out.contains(&aws_cmd), "{aws_cmd}\nnot in\n{out}");
    let gcloud = format!("gcloud kms keys versions import --import-job job-1 --location europe-west1 --keyring ceremony --key signing --project contoso-kms --algorithm rsa-sign-pkcs1-3072-sha256 --wrapped-key-file '{root}/ceremony/Signing-Key.gcp.bin'");
    assert!(out.contains(&gcloud), "{gcloud}\nnot in\n{out}");
    let verify = format!("byok verify --pub-from 'Payments-Root.aws-public.der' --key '{root}/ceremony/Payments-Root.pub.pem'");
    assert!(out.contains(&verify), "{verify}\nnot in\n{out}");
    assert!(out.contains("/v1/transit/keys/app-key version 1"), "{out}");
    assert!(!out.contains(&bao.token), "the token is never printed");
    assert!(
        !stderr(&o).contains(&bao.token),
        "the token is never printed"
    );
    // OpenBao holds exactly the HSM's key, imported, not exportable.
    let k = bao.get("transit/keys/app-key");
    assert_eq!(k["data"]["imported_key"], true, "{k}");
    assert_eq!(k["data"]["exportable"], false, "{k}");
    let held = k["data"]["keys"]["1"]["public_key"].as_str().unwrap();
    let held = byok_core::kek::rsa_public_from_bytes(held.as_bytes()).unwrap();
    let (n, _) = pem_public(&dir.join("app-key.pub.pem"));
    assert_eq!(held.public_modulus(), n);

    // What AWS would report after the import: `byok verify --pub-from` checks it is the
    // HSM's key, and refuses another.
    let hsm_pub = byok_core::kek::load_rsa_public(&dir.join("Payments-Root.pub.pem")).unwrap();
    fs::write(
        tok.dir().join("Payments-Root.aws-public.der"),
        &hsm_pub.spki_der,
    )
    .unwrap();
    ok(&byok(&[
        "verify",
        "--pub-from",
        "Payments-Root.aws-public.der",
        "--key",
        "ceremony/Payments-Root.pub.pem",
    ]));
    fails(
        &byok(&[
            "verify",
            "--pub-from",
            "Payments-Root.aws-public.der",
            "--key",
            "ceremony/Signing-Key.pub.pem",
        ]),
        &["SPKI SHA-256"],
    );

    // A rerun finds the OpenBao key imported (no second version) and prints the same.
    let j: Value = serde_json::from_str(&ok(&byok(&[
        "ceremony",
        "import",
        "plan.json",
        "--packages",
        "ceremony",
        "--digest",
        &digest,
        "--trust-root",
        "test-root.pem",
        "--json",
    ])))
    .unwrap();
    assert_eq!(j["openbao"][0]["uploaded_now"], false, "{j}");
    assert_eq!(j["other_clouds"].as_array().unwrap().len(), 2, "{j}");
    let k = bao.get("transit/keys/app-key");
    assert_eq!(k["data"]["latest_version"], 1, "{k}");
    drop(clouds.chain);
}

/// A SHA-256 target on a token that cannot really do SHA-256 OAEP is refused at the
/// run's preflight, the token named, before any key is generated and before anything is
/// written.
#[test]
fn sha256_targets_are_refused_before_any_key_where_the_token_cannot_do_them() {
    let tok = Token::new(TOKEN);
    let kind = tok.t.kind;
    let (a, b, ca) = sims(&tok);
    let bao = byok_testkit::bao::start();
    write_plan(&tok, &a, &b, &bao, OaepHash::Sha256, &ca);
    let o = tok
        .cmd(&[
            "ceremony",
            "run",
            "plan.json",
            "--out",
            "ceremony",
            "--non-interactive",
            "--trust-root",
            "test-root.pem",
        ])
        .output()
        .unwrap();
    if kind.oaep_sha256() {
        ok(&o);
        return;
    }
    let why = if kind == TokenKind::SoftHsm261 {
        "SHA256_OAEP_REFUSED"
    } else {
        "does not honour the hash"
    };
    fails(
        &o,
        &[
            "Payments-Root",
            "RSA-OAEP SHA-256",
            kind.manufacturer(),
            why,
        ],
    );
    assert_eq!(tok.labels(), Vec::<String>::new(), "no key was generated");
    let left: Vec<_> = fs::read_dir(tok.dir().join("ceremony"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing was written: {left:?}");
}

/// A plan of OpenBao keys only (a plan needs no policy), one per hash the token can do.
fn bao_plan(tok: &Token, bao: &byok_testkit::bao::Bao, id: &str, keys: &[(&str, &str, bool)]) {
    let keks = tok.dir().join("keks");
    fs::create_dir_all(&keks).unwrap();
    let w = bao.get("transit/wrapping_key");
    fs::write(
        keks.join("bao-wrapping.pem"),
        w["data"]["public_key"].as_str().unwrap(),
    )
    .unwrap();
    let fp = sha256_of(&keks.join("bao-wrapping.pem"));
    let keys: Vec<Value> = keys
        .iter()
        .map(|(name, hash, roll)| {
            json!({"name": name, "size": 2048, "target": "openbao", "roll": roll,
                   "kek": "keks/bao-wrapping.pem", "kek_sha256": fp,
                   "openbao": {"address": bao.addr, "hash_function": hash, "type": "rsa-2048"}})
        })
        .collect();
    let plan = json!({
        "ceremony": id, "token": TOKEN, "rehearsal": true,
        "officers": [{"name": "Alice Example", "role": "ceremony administrator"},
                     {"name": "Bob Example", "role": "crypto officer"}],
        "keys": keys
    });
    fs::write(
        tok.dir().join(format!("{id}.json")),
        serde_json::to_vec_pretty(&plan).unwrap(),
    )
    .unwrap();
}

/// Run plan `id` into directory `id`, and import it with the token in a file.
fn run_and_import(tok: &Token, id: &str) -> std::process::Output {
    let plan = format!("{id}.json");
    ok(&tok.byok(&["ceremony", "run", &plan, "--out", id, "--non-interactive"]));
    let v: Value = serde_json::from_str(&ok(&tok.byok(&[
        "transcript",
        "verify",
        &format!("{id}/transcript.jsonl"),
        "--json",
    ])))
    .unwrap();
    let digest = v["digest"].as_str().unwrap().to_string();
    tok.cmd(&[
        "ceremony",
        "import",
        &plan,
        "--packages",
        id,
        "--digest",
        &digest,
        "--bao-token-file",
        "bao-token",
        "--json",
    ])
    .env_remove("BAO_TOKEN")
    .env_remove("VAULT_TOKEN")
    .output()
    .unwrap()
}

/// OpenBao end to end through `ceremony import`, with each hash the token can do: the
/// key imported and read back; a key of the same name refused unless the plan rolls it;
/// a roll adds a version (import_version), the first kept; a blob altered in transit
/// never reaches the server.
#[test]
fn openbao_imports_each_hash_refuses_an_existing_key_and_rolls() {
    use std::os::unix::fs::PermissionsExt;
    let tok = Token::new(TOKEN);
    let bao = byok_testkit::bao::start();
    let token = tok.dir().join("bao-token");
    fs::write(&token, format!("{}\n", bao.token)).unwrap();
    fs::set_permissions(&token, fs::Permissions::from_mode(0o600)).unwrap();
    let mut keys = vec![("bao-sha1", "SHA1", false)];
    if tok.t.kind.oaep_sha256() {
        keys.push(("bao-sha256", "SHA256", false));
    }
    bao_plan(&tok, &bao, "first", &keys);

    // Altered in transit: refused before anything is sent.
    ok(&tok.byok(&[
        "ceremony",
        "run",
        "first.json",
        "--out",
        "first",
        "--non-interactive",
    ]));
    let b64 = tok.dir().join("first/bao-sha1.openbao.b64");
    let good = fs::read(&b64).unwrap();
    let mut bad = good.clone();
    bad[10] = if bad[10] == b'A' { b'B' } else { b'A' };
    fs::write(&b64, &bad).unwrap();
    let v: Value = serde_json::from_str(&ok(&tok.byok(&[
        "transcript",
        "verify",
        "first/transcript.jsonl",
        "--json",
    ])))
    .unwrap();
    let digest = v["digest"].as_str().unwrap().to_string();
    let import = |dir: &str, plan: &str, digest: &str| {
        tok.cmd(&[
            "ceremony",
            "import",
            plan,
            "--packages",
            dir,
            "--digest",
            digest,
            "--bao-token-file",
            "bao-token",
            "--json",
        ])
        .output()
        .unwrap()
    };
    fails(
        &import("first", "first.json", &digest),
        &["altered in transit"],
    );
    assert!(
        bao.get_opt("transit/keys/bao-sha1").is_none(),
        "nothing reached OpenBao"
    );
    fs::write(&b64, &good).unwrap();
    let j: Value = serde_json::from_str(&ok(&import("first", "first.json", &digest))).unwrap();
    for (name, _, _) in &keys {
        let k = bao.get(&format!("transit/keys/{name}"));
        let held = k["data"]["keys"]["1"]["public_key"].as_str().unwrap();
        let held = byok_core::kek::rsa_public_from_bytes(held.as_bytes()).unwrap();
        let (n, _) = pem_public(&tok.dir().join(format!("first/{name}.pub.pem")));
        assert_eq!(
            held.public_modulus(),
            n,
            "{name}: OpenBao holds the HSM's key"
        );
        assert_eq!(k["data"]["exportable"], false);
    }
    assert_eq!(j["openbao"].as_array().unwrap().len(), keys.len(), "{j}");

    // Another ceremony's key (on another token) under a taken name: refused, nothing
    // sent.
    let other = Token::new(TOKEN);
    fs::copy(&token, other.dir().join("bao-token")).unwrap();
    bao_plan(&other, &bao, "second", &[("bao-sha1", "SHA1", false)]);
    fails_after_custody(
        &run_and_import(&other, "second"),
        &["already exists", "nothing was sent"],
    );
    assert_eq!(
        bao.get("transit/keys/bao-sha1")["data"]["latest_version"],
        1
    );

    // A roll: a new version, the first kept.
    bao_plan(&tok, &bao, "third", &[("bao-sha1", "SHA1", true)]);
    let j: Value = serde_json::from_str(&ok(&run_and_import(&tok, "third"))).unwrap();
    assert_eq!(j["openbao"][0]["version"], 2, "{j}");
    assert_eq!(j["openbao"][0]["roll"], true, "{j}");
    let k = bao.get("transit/keys/bao-sha1");
    assert_eq!(k["data"]["latest_version"], 2, "{k}");
    let v2 = k["data"]["keys"]["2"]["public_key"].as_str().unwrap();
    let v2 = byok_core::kek::rsa_public_from_bytes(v2.as_bytes()).unwrap();
    let label = "bao-sha1-third";
    let (n, _) = pem_public(&tok.dir().join(format!("third/{label}.pub.pem")));
    assert_eq!(v2.public_modulus(), n, "version 2 is the rolled HSM key");
    assert!(k["data"]["keys"]["1"].is_object(), "version 1 kept");

    // A token file others can read is refused, before anything is sent.
    fs::set_permissions(&token, fs::Permissions::from_mode(0o644)).unwrap();
    bao_plan(&tok, &bao, "fourth", &[("bao-other", "SHA1", false)]);
    let o = run_and_import(&tok, "fourth");
    let e = fails_after_custody(&o, &["bao-token"]);
    assert!(!e.contains(&bao.token), "{e}");
    assert!(bao.get_opt("transit/keys/bao-other").is_none());
}
