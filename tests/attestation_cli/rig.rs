//! Helpers shared by the attestation CLI tests: a simulator (Key Vault or Managed HSM) with
//! a token beside it.

use crate::common::sim::SimProc;
use crate::common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

pub(crate) const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/attestation");

/// `byok ARGS` with no token and no network settings (the offline commands).
pub(crate) fn byok_plain(dir: &Path, args: &[&str]) -> Output {
    byok_in(dir, args)
}

pub(crate) fn json(o: &Output) -> Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// A token and a simulator (Managed HSM or Key Vault).
pub(crate) struct Rig {
    tok: Token,
    pub(crate) sim: SimProc,
    pub(crate) root: String,
}

pub(crate) fn rig(managed: bool) -> Rig {
    let tok = Token::new("attest");
    let mut flags = vec!["--accept-padded-pkcs8"];
    if managed {
        flags.push("--managed-hsm");
    }
    let dir = tok.dir().join("vault");
    let sim = SimProc::start(&dir, &flags);
    let root = dir.join("attestation-root.pem");
    assert_eq!(root.exists(), managed);
    Rig {
        tok,
        sim,
        root: root.to_str().unwrap().to_string(),
    }
}

impl Rig {
    pub(crate) fn byok(&self, args: &[&str]) -> Output {
        self.tok
            .cmd(args)
            .env("BYOK_CA_FILE", &self.sim.ca)
            .env("BYOK_ACCESS_TOKEN", "test-token")
            .output()
            .unwrap()
    }
    pub(crate) fn path(&self, p: &str) -> PathBuf {
        self.tok.dir().join(p)
    }
    pub(crate) fn write(&self, name: &str, v: &Value) -> String {
        fs::write(self.path(name), v.to_string()).unwrap();
        name.to_string()
    }
}

pub(crate) fn warned(o: &Output) {
    let err = stderr(o);
    assert!(
        err.lines()
            .any(|l| l.starts_with("warning: --trust-root") && l.contains("rehearsals only")),
        "no --trust-root warning: {err}"
    );
}
