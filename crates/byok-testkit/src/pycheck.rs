//! The independent checker of a wrapped key in Python (`tests/python/check_blob.py`,
//! pyca `cryptography` in `.venv-test`): RSA-OAEP with the target's hash, AES-KWP, and a
//! strict PKCS#8 parse (no trailing bytes), compared with the HSM's public key.
//!
//! The venv's Python is `$BYOK_PYTHON`, else `.venv-test/bin/python` in the checkout
//! (`softhsm/setup.sh --tests` makes it). Without it the test fails, saying so: a
//! missing checker is never a pass.

use byok_core::hsm::OaepHash;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How the blob file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobForm {
    /// Raw bytes: `NAME.aws.bin`, `NAME.gcp.bin`.
    Raw,
    /// One line of base64: `NAME.openbao.b64`.
    Base64,
}

impl BlobForm {
    fn arg(self) -> &'static str {
        match self {
            BlobForm::Raw => "raw",
            BlobForm::Base64 => "base64",
        }
    }
}

/// The checkout's root (this crate is `crates/byok-testkit`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test venv's Python: `$BYOK_PYTHON`, else `.venv-test/bin/python` in the checkout.
/// Panics (failing the test) when it is not there.
pub fn python() -> PathBuf {
    let p = match std::env::var_os("BYOK_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => workspace_root().join(".venv-test/bin/python"),
    };
    assert!(
        p.exists(),
        "{} not found: run softhsm/setup.sh --tests (or set BYOK_PYTHON)",
        p.display()
    );
    p
}

/// Check `blob` with `tests/python/check_blob.py`: it unwraps it with the wrapping key's
/// private key (`kek_private_pem`, PKCS#8 or PKCS#1 PEM) using RSA-OAEP with `hash`, then
/// AES-KWP, and requires exactly one PKCS#8 DER RSA key whose public numbers are those
/// of `public_pem` (SPKI PEM). `Ok` carries the checker's JSON report; `Err` its reason
/// (its stderr). Panics if the checker cannot be run at all.
pub fn python_check_blob(
    kek_private_pem: &Path,
    blob: &Path,
    form: BlobForm,
    hash: OaepHash,
    public_pem: &Path,
) -> Result<serde_json::Value, String> {
    let script = workspace_root().join("tests/python/check_blob.py");
    let o = Command::new(python())
        .arg(&script)
        .arg("--kek-private")
        .arg(kek_private_pem)
        .arg("--blob")
        .arg(blob)
        .args(["--form", form.arg()])
        .args([
            "--hash",
            match hash {
                OaepHash::Sha1 => "sha1",
                OaepHash::Sha256 => "sha256",
            },
        ])
        .arg("--public")
        .arg(public_pem)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stderr = String::from_utf8_lossy(&o.stderr).trim().to_string();
    match o.status.code() {
        Some(0) => {
            let line = String::from_utf8_lossy(&o.stdout);
            assert_eq!(line.lines().count(), 1, "check_blob.py printed {line:?}");
            Ok(serde_json::from_str::<serde_json::Value>(&line)
                .unwrap_or_else(|e| panic!("check_blob.py printed no JSON ({e}): {line:?}")))
        }
        Some(1) => {
            assert!(
                stderr.starts_with("error: ") && stderr.lines().count() == 1,
                "check_blob.py refused without one error line: {stderr:?}"
            );
            Err(stderr)
        }
        _ => panic!("check_blob.py failed ({}): {stderr}", o.status),
    }
}
