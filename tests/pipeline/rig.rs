//! A token beside the simulator, and the steps every pipeline test takes.

use crate::common::sim::SimProc;
use crate::common::*;
use std::fs;

/// A token plus two simulated vaults of one "subscription" (they restore each other's
/// backups): `vault` (production rules) and `scratch` (purgeable, for restore drills).
pub(crate) struct Rig {
    pub(crate) tok: Token,
    pub(crate) vault: SimProc,
    pub(crate) scratch: SimProc,
    pub(crate) ca: String,
}

pub(crate) fn rig(vault_flags: &[&str]) -> Rig {
    let tok = Token::new("pipeline");
    let dir = tok.dir();
    let sub = dir.join("subscription.key");
    let sub = sub.to_str().unwrap();
    // Strict unless the token zero-pads its PKCS#8 (SoftHSM 2.6).
    let mut flags = vec!["--subscription-key", sub];
    if tok.t.kind.pads_pkcs8() {
        flags.push("--accept-padded-pkcs8");
    }
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
    pub(crate) fn byok(&self, args: &[&str]) -> std::process::Output {
        self.tok
            .cmd(args)
            .env("BYOK_CA_FILE", &self.ca)
            .env("BYOK_ACCESS_TOKEN", "test-token")
            .output()
            .unwrap()
    }
    pub(crate) fn path(&self, p: &str) -> String {
        self.tok.dir().join(p).to_str().unwrap().to_string()
    }
}

pub(crate) fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// KEK in the vault, fetched; a key made on the token and wrapped under it.
pub(crate) fn kek_and_package(r: &Rig, kek: &str, key: &str) {
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
