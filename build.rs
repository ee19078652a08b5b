//! What `byok version` and the transcripts' `open` records say about the build
//! (`byok_core::identity::Build`): the git commit, the rustc version, the target, the
//! enabled features and the SHA-256 of Cargo.lock, passed to the compiler as BYOK_BUILD_*
//! environment variables.
//!
//! Only the source and the toolchain go in: no time, no host name, no user, no path, so
//! that two builds of the same commit are byte-identical (`scripts/reproduce.sh`). The
//! commit is `git rev-parse HEAD` of the checkout, `unknown` outside git; it does not
//! say whether the tree had uncommitted changes (only a rebuild that gives the same
//! executable hash proves which source a binary came from).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");

    let commit = git(&root, &["rev-parse", "--verify", "HEAD"])
        .filter(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| {
            println!("cargo:warning=not a git checkout: the binary's commit will be \"unknown\"");
            "unknown".into()
        });
    // Rerun when HEAD moves: HEAD itself, the branch it names (loose or packed) and the
    // reflog. Only files that exist: a missing one would rerun this script every build.
    let mut watched = vec!["HEAD".to_string(), "logs/HEAD".into(), "packed-refs".into()];
    if let Some(r) = git(&root, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(r);
    }
    for name in watched {
        if let Some(p) = git(&root, &["rev-parse", "--git-path", &name]) {
            let p = root.join(p);
            if p.is_file() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }

    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let rustc = output(Command::new(rustc).arg("-vV"))
        .and_then(|v| v.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());

    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());

    // CARGO_CFG_FEATURE (cargo 1.85+) names the features as written; older cargo only
    // sets CARGO_FEATURE_<NAME> (upper case, `-` as `_`).
    let mut features: Vec<String> = match std::env::var("CARGO_CFG_FEATURE") {
        Ok(f) => f.split(',').map(str::to_string).collect(),
        Err(_) => std::env::vars()
            .filter_map(|(k, _)| {
                k.strip_prefix("CARGO_FEATURE_")
                    .map(|f| f.to_ascii_lowercase().replace('_', "-"))
            })
            .collect(),
    };
    features.retain(|f| !f.is_empty() && f != "default");
    features.sort();

    let lock = std::fs::read(root.join("Cargo.lock"))
        .map(|b| hex(&Sha256::digest(&b)))
        .unwrap_or_else(|_| "unknown".into());

    println!("cargo:rustc-env=BYOK_BUILD_COMMIT={commit}");
    println!("cargo:rustc-env=BYOK_BUILD_RUSTC={rustc}");
    println!("cargo:rustc-env=BYOK_BUILD_TARGET={target}");
    println!("cargo:rustc-env=BYOK_BUILD_FEATURES={}", features.join(","));
    println!("cargo:rustc-env=BYOK_BUILD_CARGO_LOCK_SHA256={lock}");
}

/// `git ARGS` in `dir`: its first output line, or None when git fails or is absent.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    output(Command::new("git").arg("-C").arg(dir).args(args))
        .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
        .filter(|s| !s.is_empty())
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
