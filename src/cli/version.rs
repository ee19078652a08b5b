//! `byok version`: which binary this is. The build facts come from build.rs (BYOK_BUILD_*),
//! the executable's SHA-256 from `/proc/self/exe` at run time.

use super::output::emit;
use byok_core::identity::{BinaryIdentity, Build};
use byok_core::text::Printable as P;
use byok_core::Result;
use clap::Args;
use serde::Serialize;
use std::fmt;

#[derive(Args)]
pub struct VersionArgs {
    /// Print the identity as JSON (the keys of the transcripts' `binary` record).
    #[arg(long)]
    json: bool,
}

/// What this binary's build recorded about itself.
pub const BUILD: Build = Build {
    version: env!("CARGO_PKG_VERSION"),
    commit: env!("BYOK_BUILD_COMMIT"),
    target: env!("BYOK_BUILD_TARGET"),
    rustc: env!("BYOK_BUILD_RUSTC"),
    features: env!("BYOK_BUILD_FEATURES"),
    cargo_lock_sha256: env!("BYOK_BUILD_CARGO_LOCK_SHA256"),
};

/// The running binary's identity.
pub fn identity() -> Result<BinaryIdentity> {
    BinaryIdentity::running(&BUILD)
}

pub fn run(a: VersionArgs) -> Result<()> {
    emit(a.json, &Version(identity()?))
}

#[derive(Serialize)]
#[serde(transparent)]
struct Version(BinaryIdentity);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "byok {}", P(&self.0.version))?;
        Lines(&self.0, "").fmt(f)
    }
}

/// The identity's lines after its version, each prefixed with `indent` (`byok version`,
/// and the `binary:` of `byok transcript verify`).
pub struct Lines<'a>(pub &'a BinaryIdentity, pub &'a str);

impl fmt::Display for Lines<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (id, i) = (self.0, self.1);
        let features = if id.features.is_empty() {
            "none (the air-gapped build)".to_string()
        } else {
            id.features.join(", ")
        };
        for (label, value) in [
            ("commit:", id.commit.as_str()),
            ("exe SHA-256:", &id.exe_sha256),
            ("target:", &id.target),
            ("rustc:", &id.rustc),
            ("features:", &features),
            ("Cargo.lock:", &id.cargo_lock_sha256),
        ] {
            writeln!(f, "{i}{label:<12} {}", P(value))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(features: &[&str]) -> BinaryIdentity {
        BinaryIdentity {
            version: "0.1.0".into(),
            commit: "c0ffee".into(),
            exe_sha256: "ab".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            rustc: "rustc 1.95.0".into(),
            features: features.iter().map(|f| f.to_string()).collect(),
            cargo_lock_sha256: "cd".into(),
        }
    }

    #[test]
    fn text() {
        assert_eq!(
            Version(id(&[])).to_string(),
            "byok 0.1.0\n\
             commit:      c0ffee\n\
             exe SHA-256: ab\n\
             target:      x86_64-unknown-linux-gnu\n\
             rustc:       rustc 1.95.0\n\
             features:    none (the air-gapped build)\n\
             Cargo.lock:  cd\n"
        );
        let t = Lines(&id(&["network", "test-hooks"]), "  ").to_string();
        assert!(t.contains("\n  features:    network, test-hooks\n"), "{t}");
    }

    #[test]
    fn the_build_facts_are_filled_in() {
        assert_eq!(BUILD.version, env!("CARGO_PKG_VERSION"));
        assert!(BUILD.rustc.starts_with("rustc "), "{}", BUILD.rustc);
        assert_eq!(BUILD.cargo_lock_sha256.len(), 64);
        assert!(!BUILD.target.is_empty());
    }
}
