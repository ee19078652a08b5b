//! Reading the PKCS#11 calls byok makes, through OpenSC's pkcs11-spy: one login, a
//! clean finalize, no secret attribute read, only BYOK wrapping mechanisms, and no
//! ephemeral key ever stored on the token.

mod common;

use common::*;
use std::path::{Path, PathBuf};

const SPY: &str = "/usr/lib/x86_64-linux-gnu/pkcs11-spy.so";

/// One logged call: its name and its text.
struct Call {
    name: String,
    text: String,
}

fn spy_module() -> PathBuf {
    let p = std::env::var("BYOK_PKCS11_SPY").unwrap_or_else(|_| SPY.into());
    assert!(
        Path::new(&p).is_file(),
        "pkcs11-spy not found at {p}: apt-get install opensc, or set BYOK_PKCS11_SPY"
    );
    PathBuf::from(p)
}

fn spied(tok: &Token, log: &str, args: &[&str]) -> Vec<Call> {
    let log = tok.dir().join(log);
    let o = tok
        .cmd(args)
        .env("BYOK_PKCS11_MODULE", spy_module())
        .env("PKCS11SPY", &tok.t.module)
        .env("PKCS11SPY_OUTPUT", &log)
        .output()
        .unwrap();
    ok(&o);
    let text = std::fs::read_to_string(&log).unwrap();
    let mut calls: Vec<Call> = Vec::new();
    for line in text.lines() {
        // A call starts with "N: C_Name".
        if let Some((num, name)) = line.split_once(": C_") {
            if num.chars().all(|c| c.is_ascii_digit()) && !num.is_empty() {
                calls.push(Call {
                    name: format!("C_{}", name.trim()),
                    text: String::new(),
                });
                continue;
            }
        }
        if let Some(c) = calls.last_mut() {
            c.text.push_str(line);
            c.text.push('\n');
        }
    }
    assert!(!calls.is_empty(), "empty spy log");
    calls
}

fn count(calls: &[Call], name: &str) -> usize {
    calls.iter().filter(|c| c.name == name).count()
}

const SECRET_ATTRIBUTES: &[&str] = &[
    "CKA_VALUE ",
    "CKA_PRIVATE_EXPONENT",
    "CKA_PRIME_1",
    "CKA_PRIME_2",
    "CKA_EXPONENT_1",
    "CKA_EXPONENT_2",
    "CKA_COEFFICIENT",
];

fn common_rules(calls: &[Call], logins: usize) {
    assert_eq!(count(calls, "C_Login"), logins, "logins");
    assert_eq!(count(calls, "C_Initialize"), 1);
    let last = calls.last().unwrap();
    assert_eq!(last.name, "C_Finalize", "the last call finalizes");
    assert!(
        last.text.contains("CKR_OK"),
        "finalize failed: {}",
        last.text
    );
    for c in calls.iter().filter(|c| c.name == "C_GetAttributeValue") {
        for secret in SECRET_ATTRIBUTES {
            assert!(
                !c.text.contains(secret),
                "read a secret attribute {secret}: {}",
                c.text
            );
        }
    }
    for c in calls.iter().filter(|c| c.name == "C_WrapKey") {
        let allowed = c.text.contains("pMechanism->type = 0x0000210A") // CKM_AES_KEY_WRAP_PAD
            || c.text.contains("pMechanism->type = CKM_AES_KEY_WRAP_PAD")
            // RSA-OAEP with SHA-1 (Azure) or SHA-256 (the self-test's probe for the other
            // targets), MGF1 with the same hash, and no label.
            || (c.text.contains("CKM_RSA_PKCS_OAEP")
                && ((c.text.contains("hashAlg = CKM_SHA_1") && c.text.contains("mgf = CKG_MGF1_SHA1"))
                    || (c.text.contains("hashAlg = CKM_SHA256") && c.text.contains("mgf = CKG_MGF1_SHA256")))
                && c.text.contains("pSourceData[ulSourceDalaLen] NULL"))
            || c.text.contains("0x00001054"); // CKM_RSA_AES_KEY_WRAP
        assert!(allowed, "unexpected wrapping mechanism: {}", c.text);
    }
    // Every key or object created during wrapping is a session object.
    for c in calls
        .iter()
        .filter(|c| c.name == "C_GenerateKey" || c.name == "C_CreateObject")
    {
        assert!(
            c.text.contains("CKA_TOKEN             False"),
            "{} without CKA_TOKEN=false: {}",
            c.name,
            c.text
        );
    }
    for c in calls {
        assert!(
            ![
                "C_InitToken",
                "C_InitPIN",
                "C_SetPIN",
                "C_SetAttributeValue",
                "C_CopyObject",
                "C_UnwrapKey"
            ]
            .contains(&c.name.as_str()),
            "unexpected call {}",
            c.name
        );
    }
}

#[test]
fn pkcs11_calls_of_keygen_wrap_and_selftest() {
    // Always SoftHSM 2.6.1: OpenSC 0.23's spy crashes on SoftHSM 2.7.0 itself, and the
    // native path is proved there by the reports and the dual-control tests instead.
    let tok = Token::of(byok_testkit::softhsm::TokenKind::SoftHsm261, "spy");
    let kek_file = write_kek(&tok.dir(), 2048);

    let calls = spied(
        &tok,
        "keygen.log",
        &["keygen", "--label", "Spy-Key", "--size", "2048"],
    );
    common_rules(&calls, 1);
    assert_eq!(count(&calls, "C_GenerateKeyPair"), 1);
    assert_eq!(count(&calls, "C_WrapKey"), 0);
    assert_eq!(count(&calls, "C_DestroyObject"), 0);

    let calls = spied(
        &tok,
        "wrap.log",
        &[
            "wrap",
            "--key",
            "Spy-Key",
            "--kek",
            kek_file.to_str().unwrap(),
            "--out",
            "s.byok",
        ],
    );
    common_rules(&calls, 1);
    // Two-step wrap: length query and call, for each of AES-KWP and RSA-OAEP.
    assert_eq!(count(&calls, "C_WrapKey"), 4);
    assert_eq!(count(&calls, "C_GenerateKey"), 1, "one ephemeral AES key");
    assert_eq!(
        count(&calls, "C_CreateObject"),
        1,
        "one session copy of the KEK"
    );
    assert_eq!(count(&calls, "C_DestroyObject"), 2, "both destroyed");
    assert!(calls
        .iter()
        .all(|c| c.name != "C_DestroyObject" || c.text.contains("CKR_OK")));

    let calls = spied(&tok, "selftest.log", &["hsm", "selftest"]);
    common_rules(&calls, 1);
    let rounds = count(&calls, "C_GenerateKeyPair");
    assert!((1..=4).contains(&rounds), "{rounds} throwaway key pairs");
    for c in calls.iter().filter(|c| c.name == "C_GenerateKeyPair") {
        assert!(
            !c.text.contains("CKA_TOKEN             True"),
            "selftest made a token key: {}",
            c.text
        );
    }
    // Each round's throwaway KEK, AES key and key pair are all destroyed.
    assert_eq!(count(&calls, "C_DestroyObject"), 4 * rounds);

    let calls = spied(&tok, "info.log", &["hsm", "info"]);
    common_rules(&calls, 0);
    assert_eq!(tok.labels(), ["Spy-Key", "Spy-Key"]);
}
