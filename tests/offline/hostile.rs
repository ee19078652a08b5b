//! Hostile inputs to the offline commands, on real SoftHSM2 tokens: values that would act
//! on the terminal, FIFOs and oversized files, duplicate JSON keys, a KEK with a small
//! factor, a key that is not a BYOK key, PowerShell in a plan.

use crate::common::*;
use crate::rig::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Characters that act on a terminal or reorder text: ESC (clear screen), BEL, CR, the
/// bidi override U+202E, the 8-bit CSI U+009B.
const HOSTILE: &str = "\u{1b}[2J\u{7}\r\u{202e}\u{9b}";

fn has_raw_hostile(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '\u{1b}' | '\u{7}' | '\r' | '\u{202e}' | '\u{9b}'))
}

/// Run `c`, killing it (and failing the test) if it has not ended after 30 s: a FIFO
/// opened for reading would otherwise wait for a writer forever.
fn bounded(mut c: Command) -> Output {
    use std::process::Stdio;
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run byok");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("byok hung (blocked on a FIFO?)");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(st.success());
}

/// A sparse file of `len` bytes: bigger than any cap, written in no time.
fn oversized(p: &Path, len: u64) {
    fs::File::create(p).unwrap().set_len(len).unwrap();
}

/// The token's label and a package's generator carry escape sequences, a bell, a carriage
/// return and a bidi override: every command shows them escaped, in text and in JSON.
#[test]
fn values_from_the_token_and_a_package_cannot_act_on_the_terminal() {
    let label = format!("Tok{HOSTILE}x");
    assert!(label.len() <= 32);
    let tok = Token::new(&label);
    let info = ok(&tok.byok(&["hsm", "info"]));
    assert!(!has_raw_hostile(&info), "{info:?}");
    assert!(
        info.contains("Tok\\u{1b}[2J\\u{7}\\r\\u{202e}\\u{9b}x"),
        "{info}"
    );
    let json = ok(&tok.byok(&["hsm", "info", "--json"]));
    assert!(!has_raw_hostile(&json), "{json:?}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["token"]["label"],
        label.as_str(),
        "the JSON means the same"
    );

    keygen(&tok, "Key-1", 2048);
    let kek = write_kek(&tok.dir(), 2048);
    let kek = kek.to_str().unwrap();
    let o = tok.byok(&["wrap", "--key", "Key-1", "--kek", kek, "--out", "k.byok"]);
    let out = ok(&o);
    assert!(
        !has_raw_hostile(&out) && !has_raw_hostile(&stderr(&o)),
        "{out:?}"
    );

    // The package's generator, rewritten by a hostile courier.
    let p = tok.dir().join("k.byok");
    let mut pkg: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    pkg["generator"] = serde_json::json!(format!("byok{HOSTILE}\nSHA-256:   0000 (forged)"));
    fs::write(&p, serde_json::to_vec(&pkg).unwrap()).unwrap();
    for args in [
        &["package", "inspect", "k.byok"][..],
        &["package", "inspect", "k.byok", "--json"][..],
    ] {
        let out = ok(&tok.byok(args));
        assert!(!has_raw_hostile(&out), "{args:?}: {out:?}");
        assert!(
            !out.lines().any(|l| l.starts_with("SHA-256:   0000")),
            "a value cannot forge a line: {out}"
        );
    }
    let text = ok(&tok.byok(&["package", "inspect", "k.byok"]));
    assert!(
        text.contains(
            "generator: byok\\u{1b}[2J\\u{7}\\r\\u{202e}\\u{9b}\\nSHA-256:   0000 (forged)"
        ),
        "{text}"
    );
}

/// Every input byok reads is refused, without blocking, when it is a FIFO, and without
/// reading it, when it is larger than its cap: plan, KEK, package, attestation,
/// transcript, PIN file.
#[test]
fn fifos_and_oversized_inputs_are_refused_without_blocking() {
    let tok = Token::new("fifos");
    let dir = tok.dir();
    let cases: Vec<(&str, Vec<String>, u64)> = vec![
        ("plan", vec!["ceremony".into(), "check".into()], 1 << 20),
        ("KEK file", vec!["kek".into(), "inspect".into()], 1 << 20),
        ("package", vec!["package".into(), "inspect".into()], 1 << 20),
        (
            "attestation file",
            vec!["attestation".into(), "verify".into()],
            1 << 20,
        ),
        (
            "transcript",
            vec!["transcript".into(), "verify".into()],
            64 << 20,
        ),
        (
            "PIN file",
            vec!["hsm".into(), "selftest".into(), "--pin-file".into()],
            4096,
        ),
    ];
    for (i, (what, args, cap)) in cases.into_iter().enumerate() {
        let fifo = dir.join(format!("fifo-{i}"));
        mkfifo(&fifo);
        let big = dir.join(format!("big-{i}"));
        oversized(&big, cap + 1);
        // Private, as a PIN file must be: refused for its size, not its mode.
        fs::set_permissions(&big, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        for (file, words) in [
            (&fifo, vec![what, "not a regular file"]),
            (&big, vec![what, "larger than"]),
        ] {
            let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
            a.push(file.to_str().unwrap());
            let o = bounded(tok.cmd(&a));
            fails(&o, &words);
        }
    }
}

/// Duplicate keys are refused in a KEK's JSON and in an attestation's: the reader and a
/// person would otherwise see two different documents.
#[test]
fn duplicate_json_keys_are_refused() {
    let tok = Token::new("dups");
    let dir = tok.dir();
    let good = kek(2048).key_bundle_json();
    let dup = good.replacen("\"n\"", "\"n\": \"AQAB\", \"n\"", 1);
    fs::write(dir.join("dup-kek.json"), dup).unwrap();
    fails(
        &tok.byok(&["kek", "inspect", "dup-kek.json"]),
        &["\"n\" twice"],
    );
    let att = r#"{"attestation": {"certificatePemFile": "x"}, "attestation": {"certificatePemFile": "y"}}"#;
    fs::write(dir.join("dup-att.json"), att).unwrap();
    fails(
        &tok.byok(&["attestation", "verify", "dup-att.json"]),
        &["\"attestation\" twice"],
    );
}

/// A JWK whose modulus is divisible by 3 is no RSA key: `kek inspect` refuses it.
#[test]
fn a_kek_with_a_small_factor_is_refused() {
    use base64::Engine;
    let tok = Token::new("smallfactor");
    let v: serde_json::Value = serde_json::from_str(&kek(2048).key_bundle_json()).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut n = b64
        .decode(v["key"]["n"].as_str().unwrap().trim_end_matches('='))
        .unwrap();
    // Move the last byte by the smallest step that makes n odd and a multiple of 3.
    let mod3 = |n: &[u8]| n.iter().fold(0u32, |r, &b| ((r << 8) | u32::from(b)) % 3);
    let last = *n.last().unwrap();
    let fixed = (0..=255u8)
        .filter(|b| b % 2 == 1)
        .min_by_key(|b| {
            (i32::from(*b) - i32::from(last)).abs() + {
                let mut m = n.clone();
                *m.last_mut().unwrap() = *b;
                if mod3(&m) == 0 {
                    0
                } else {
                    1000
                }
            }
        })
        .unwrap();
    *n.last_mut().unwrap() = fixed;
    assert_eq!(mod3(&n), 0);
    assert_eq!(n.last().unwrap() % 2, 1);
    let mut bad = v.clone();
    bad["key"]["n"] = serde_json::json!(b64.encode(&n));
    fs::write(tok.dir().join("k3.json"), bad.to_string()).unwrap();
    fails(
        &tok.byok(&["kek", "inspect", "k3.json"]),
        &["divisible by 3"],
    );
}

/// A key made with pkcs11 directly for signing and decrypting (what `pkcs11-tool
/// --keypairgen` makes) is not a BYOK key: `byok wrap` refuses it, naming why; with
/// `--allow-non-byok-key` it wraps it, warns, and the package's generator records it.
#[test]
fn wrap_refuses_a_key_that_is_not_a_byok_key_unless_told_and_records_the_override() {
    use cryptoki::object::Attribute;
    let tok = Token::new("nonbyok");
    tok.with_session(|s| {
        s.generate_key_pair(
            &cryptoki::mechanism::Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::ModulusBits(2048u64.into()),
                Attribute::PublicExponent(vec![1, 0, 1]),
                Attribute::Label(b"Signer-Key".to_vec()),
                Attribute::Verify(true),
                Attribute::Encrypt(true),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
                Attribute::Sign(true),
                Attribute::Decrypt(true),
                Attribute::Label(b"Signer-Key".to_vec()),
            ],
        )
        .unwrap();
    });
    let kek = write_kek(&tok.dir(), 2048);
    let kek = kek.to_str().unwrap();
    let args = [
        "wrap",
        "--key",
        "Signer-Key",
        "--kek",
        kek,
        "--out",
        "s.byok",
    ];
    fails(
        &tok.byok(&args),
        &["not a BYOK key", "sign", "decrypt", "--allow-non-byok-key"],
    );
    assert!(!tok.dir().join("s.byok").exists(), "nothing written");
    let mut with: Vec<&str> = args.to_vec();
    with.push("--allow-non-byok-key");
    let o = tok.byok(&with);
    let out = ok(&o);
    assert!(
        stderr(&o).contains("warning: NON_BYOK_KEY"),
        "{}",
        stderr(&o)
    );
    assert!(out.contains("OVERRIDE:  not a BYOK key"), "{out}");
    let inspected = ok(&tok.byok(&["package", "inspect", "s.byok"]));
    assert!(
        inspected.contains("NON-BYOK KEY WRAPPED BY OVERRIDE (usable to sign (CKA_SIGN), usable to decrypt (CKA_DECRYPT)"),
        "{inspected}"
    );
    // A key from `byok keygen` needs no override.
    keygen(&tok, "Byok-Key", 2048);
    let o = tok.byok(&["wrap", "--key", "Byok-Key", "--kek", kek, "--out", "b.byok"]);
    ok(&o);
    assert!(!stderr(&o).contains("NON_BYOK_KEY"));
}

/// PowerShell in a plan's policy name, description or admin URL is refused at `ceremony
/// check`, before any ceremony could carry it to the printed Office 365 commands.
#[test]
fn powershell_in_a_plan_is_refused_at_check() {
    let dir = tempfile::tempdir().unwrap();
    let kek_path = write_kek(dir.path(), 2048);
    let k = byok_core::kek::Kek::load(&kek_path, None, byok_core::Mode::Rehearsal).unwrap();
    let fp = hex::encode(k.sha256());
    let key = |name: &str| {
        serde_json::json!({"vault": "https://127.0.0.1:8443", "name": name, "size": 2048,
            "kek": "kek-2048.json", "kek_sha256": fp})
    };
    let plan = |name: &str, description: &str, admin: &str| -> PathBuf {
        let p = dir.path().join("plan.json");
        let _ = fs::remove_file(&p);
        fs::write(
            &p,
            serde_json::json!({
                "ceremony": "c1", "token": "T", "rehearsal": true,
                "officers": [{"name": "Alice Example", "role": "a"}, {"name": "Bob Example", "role": "b"}],
                "policies": [
                    {"name": name, "service": "exchange", "description": description,
                     "keys": [key("K-1"), key("K-2")]},
                    {"name": "geo", "service": "sharepoint", "admin_url": admin,
                     "keys": [key("K-3"), key("K-4")]}]
            })
            .to_string(),
        )
        .unwrap();
        p
    };
    let check = |p: &Path| byok_in(dir.path(), &["ceremony", "check", p.to_str().unwrap()]);
    let good_admin = "https://contoso-admin.sharepoint.com";
    let cases: [(&str, &str, &str, &str); 3] = [
        (
            "Pol$(Stop-Computer -Force)",
            "d",
            good_admin,
            "[policy-name]",
        ),
        (
            "Pol",
            "x $(Remove-Item C:\\ -Recurse)\nStop-Computer",
            good_admin,
            "[policy-description]",
        ),
        (
            "Pol",
            "d",
            "https://contoso-admin.sharepoint.com/;Stop-Computer;#",
            "[admin-url]",
        ),
    ];
    for (name, description, admin, rule) in cases {
        let p = plan(name, description, admin);
        let line = fails(&check(&p), &[rule]);
        assert!(!line.contains('\n'));
    }
}
