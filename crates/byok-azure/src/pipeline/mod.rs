//! The connected pipeline: KEKs in the vault, upload, verify, backup and restore drills,
//! one operation per file so that each reads on its own:
//!
//! - [`kek`]: `byok kek create` and `byok kek fetch`;
//! - [`upload`]: `byok upload`;
//! - [`verify`]: `byok verify`;
//! - [`backup`]: `byok backup` (with the online copy) and the restore drill.
//!
//! Each operation checks what it can before it sends anything, never replaces a key
//! silently, and is safe to run again after a failure: what is done stays done.

pub mod backup;
pub mod kek;
pub mod upload;
pub mod verify;

pub use backup::{backup, copy_to_blob, restore_drill, BackupReport, BlobTarget, DrillResult};
pub use kek::{kek_create, kek_fetch, KekVaultReport};
pub use upload::{upload, UploadReport};
pub use verify::{verify, verify_with_roots, Rule, VerifyReport};

/// The tag `byok upload` puts on imported keys: the package's SHA-256.
pub const PACKAGE_TAG: &str = "byok-package-sha256";

/// Customer Key's "no expiry": none, or 9999-12-31 (Unix seconds).
pub(crate) const EXPIRY_9999: i64 = 253_402_214_400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_mean_what_they_say() {
        assert_eq!(
            byok_core::util::rfc3339(EXPIRY_9999),
            "9999-12-31T00:00:00Z"
        );
        // Key Vault tag names: letters, digits and dashes, at most 512 characters.
        assert!(PACKAGE_TAG
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }
}
