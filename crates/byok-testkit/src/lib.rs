//! byok-testkit: what byok's tests, demo and simulator need and the product never
//! contains: throwaway SoftHSM2 tokens, software KEKs, the attestation TEST chain, and
//! the harness that runs `byok` and `byok-vault-sim`. A dev-dependency only (and the
//! simulator's, which plays a Managed HSM with the TEST chain).
//!
//! The harness (`harness`, `simproc`, [`bin`]) is test code: where its setup cannot go on
//! (no SoftHSM2, no simulator binary, an unreadable file) it panics, which fails the test
//! with the reason; none of it is in a product binary.

pub mod bao;
pub mod forge;
pub mod harness;
pub mod pycheck;
pub mod simproc;
pub mod softhsm;
pub mod testchain;
pub mod testkek;

use std::path::PathBuf;

/// The path of a binary of this workspace, built in the same target directory as the
/// running test (`target/PROFILE/NAME`). Cargo builds a package's own binaries before
/// its tests; `softhsm/test.sh` builds every binary of the workspace first.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/PROFILE/deps/TEST-HASH, or target/PROFILE/examples/NAME
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("the test runs from a cargo target directory");
    let p = dir.join(name);
    assert!(
        p.is_file(),
        "{} is not built: run `cargo build --workspace --bins` first (softhsm/test.sh does)",
        p.display()
    );
    p
}

/// The simulator binary: `$BYOK_VAULT_SIM`, else the one beside the test.
pub fn sim_bin() -> PathBuf {
    match std::env::var_os("BYOK_VAULT_SIM") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => bin("byok-vault-sim"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn binaries_are_found_beside_the_test() {
        // This test's own binary is in target/PROFILE/deps: its directory's parent holds
        // the workspace's binaries once built; a name that is no binary is refused.
        assert!(std::panic::catch_unwind(|| super::bin("no-such-binary")).is_err());
    }
}
