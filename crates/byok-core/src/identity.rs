//! Which binary is running: what the build recorded about itself ([`Build`], captured by
//! the `byok` crate's `build.rs`) and the SHA-256 of the executable file the kernel runs
//! (`/proc/self/exe`, read at run time). `byok version` prints it; the offline and the
//! import transcripts' `open` records carry it as the detail `binary`, so an auditor can
//! rebuild the reviewed commit (`scripts/reproduce.sh`) and compare `exe_sha256`.
//!
//! Nothing here depends on the time of the build: two builds of the same commit with the
//! same toolchain, target and features give the same identity (and, built as
//! `scripts/reproduce.sh` builds, the same executable).

use crate::{bail, err, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Where the running executable is read from: the file the kernel mapped, even if its
/// path was replaced or removed since.
pub const SELF_EXE: &str = "/proc/self/exe";

/// The largest executable byok hashes (a debug build is about 160 MB).
const EXE_LIMIT: u64 = 1 << 30;

/// What the binary crate's build recorded about itself (all fixed at compile time).
#[derive(Debug, Clone, Copy)]
pub struct Build {
    /// `CARGO_PKG_VERSION` of the `byok` crate.
    pub version: &'static str,
    /// `git rev-parse HEAD` of the source tree, or `unknown` outside a git checkout.
    pub commit: &'static str,
    /// The target triple.
    pub target: &'static str,
    /// The first line of `rustc -vV` (`rustc 1.95.0 (59807616e 2026-04-14)`).
    pub rustc: &'static str,
    /// The enabled cargo features of the `byok` crate, comma-separated (`default` left out).
    pub features: &'static str,
    /// Hex SHA-256 of the workspace's `Cargo.lock`.
    pub cargo_lock_sha256: &'static str,
}

/// The identity of a byok binary, as `byok version --json` prints it and the transcripts'
/// `open` records carry it (detail `binary`). Its keys are fixed: renderers rely on them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryIdentity {
    pub version: String,
    pub commit: String,
    /// Hex SHA-256 of the executable file (`/proc/self/exe`).
    pub exe_sha256: String,
    pub target: String,
    pub rustc: String,
    /// Sorted.
    pub features: Vec<String>,
    pub cargo_lock_sha256: String,
}

impl BinaryIdentity {
    /// The JSON keys, in the order a record shows them.
    pub const FIELDS: [&'static str; 7] = [
        "version",
        "commit",
        "exe_sha256",
        "target",
        "rustc",
        "features",
        "cargo_lock_sha256",
    ];

    /// The running binary: `build` and the SHA-256 of [`SELF_EXE`].
    pub fn running(build: &Build) -> Result<BinaryIdentity> {
        let exe_sha256 = sha256_file(Path::new(SELF_EXE), EXE_LIMIT).map_err(|e| {
            e.hint("byok reads its own executable through /proc: run it where /proc is mounted")
        })?;
        Ok(BinaryIdentity::of(build, exe_sha256))
    }

    /// `build` with the executable's hash given.
    pub fn of(build: &Build, exe_sha256: String) -> BinaryIdentity {
        let mut features: Vec<String> = build
            .features
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty() && *f != "default")
            .map(str::to_string)
            .collect();
        features.sort();
        features.dedup();
        BinaryIdentity {
            version: build.version.into(),
            commit: build.commit.into(),
            exe_sha256,
            target: build.target.into(),
            rustc: build.rustc.into(),
            features,
            cargo_lock_sha256: build.cargo_lock_sha256.into(),
        }
    }

    /// The identity an `open` record carries in its detail `binary`, if any (transcripts
    /// older than this field carry none; a malformed one is an error).
    pub fn from_detail(
        detail: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<BinaryIdentity>> {
        match detail.get("binary") {
            None => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
                err!(
                    Integrity,
                    "the open record's binary identity is malformed ({e}): the transcript was not written by byok"
                )
            }),
        }
    }

    /// A fixed identity for tests (never a real binary's).
    #[cfg(test)]
    pub fn for_tests() -> BinaryIdentity {
        BinaryIdentity::of(
            &Build {
                version: "0.0.0-test",
                commit: "unknown",
                target: "x86_64-unknown-linux-gnu",
                rustc: "rustc 0.0.0",
                features: "",
                cargo_lock_sha256: "00",
            },
            "11".repeat(32),
        )
    }
}

/// Hex SHA-256 of the regular file at `path`, refused when larger than `limit` bytes;
/// read in pieces, never whole into memory.
fn sha256_file(path: &Path, limit: u64) -> Result<String> {
    let what = |e: std::io::Error| err!(Io, "cannot read {}: {e}", path.display());
    let file = File::open(path).map_err(what)?;
    let meta = file.metadata().map_err(what)?;
    if !meta.is_file() {
        bail!(Io, "{} is not a regular file", path.display());
    }
    if meta.len() > limit {
        bail!(Io, "{} is larger than {limit} bytes", path.display());
    }
    let mut h = Sha256::new();
    let mut r = file.take(limit + 1);
    let mut buf = vec![0u8; 1 << 16];
    let mut n_total: u64 = 0;
    loop {
        let n = r.read(&mut buf).map_err(what)?;
        if n == 0 {
            break;
        }
        n_total += n as u64;
        h.update(&buf[..n]);
    }
    if n_total > limit {
        bail!(Io, "{} is larger than {limit} bytes", path.display());
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_sorted_without_default() {
        let b = Build {
            version: "1.2.3",
            commit: "abc",
            target: "t",
            rustc: "r",
            features: "test-hooks,default,network",
            cargo_lock_sha256: "cc",
        };
        let id = BinaryIdentity::of(&b, "ee".into());
        assert_eq!(id.features, ["network", "test-hooks"]);
        let none = BinaryIdentity::of(&Build { features: "", ..b }, "ee".into());
        assert!(none.features.is_empty());
    }

    #[test]
    fn the_json_has_exactly_the_shared_keys() {
        let v = serde_json::to_value(BinaryIdentity::for_tests()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = BinaryIdentity::FIELDS;
        want.sort();
        assert_eq!(keys, want);
        assert!(v["features"].is_array());
    }

    #[test]
    fn the_running_executable_is_hashed_as_the_file_it_is() {
        let id = BinaryIdentity::running(&Build {
            version: "v",
            commit: "c",
            target: "t",
            rustc: "r",
            features: "",
            cargo_lock_sha256: "l",
        })
        .unwrap();
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(id.exe_sha256, crate::util::sha256_hex(&me));
    }

    #[test]
    fn files_that_are_not_regular_or_too_large_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = sha256_file(dir.path(), 10).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let f = dir.path().join("f");
        std::fs::write(&f, b"0123456789a").unwrap();
        let e = sha256_file(&f, 10).unwrap_err();
        assert!(e.to_string().contains("larger than 10 bytes"), "{e}");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(
            sha256_file(&f, 10).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_detail_is_read_back_or_absent() {
        let id = BinaryIdentity::for_tests();
        let mut d = serde_json::Map::new();
        assert_eq!(BinaryIdentity::from_detail(&d).unwrap(), None);
        d.insert("binary".into(), serde_json::to_value(&id).unwrap());
        assert_eq!(BinaryIdentity::from_detail(&d).unwrap(), Some(id));
        d.insert("binary".into(), serde_json::json!({"version": 1}));
        assert!(BinaryIdentity::from_detail(&d).is_err());
    }
}
