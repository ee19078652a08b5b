//! `byok backup` (a key's backup into a directory, and with `--copy-to` into a Blob
//! Storage container) and `byok backup verify --restore-to` (the restore drill into a
//! scratch vault).

use crate::backup::{self, ManifestEntry};
use crate::vault::{check_key_name, check_vault_url, Vault};
use byok_core::{bail, err, Mode, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `byok backup` reports.
#[derive(Debug, Serialize)]
pub struct BackupReport {
    pub entry: ManifestEntry,
    pub path: PathBuf,
    pub copied_to: Option<String>,
}

/// Back up key `name` into `out_dir` (the CLI then copies it with [`copy_to_blob`]).
pub fn backup(v: &Vault, name: &str, out_dir: &Path) -> Result<BackupReport> {
    check_key_name(name)?;
    if !out_dir.is_dir() {
        bail!(
            NotFound,
            "backup directory {} does not exist: create it first",
            out_dir.display()
        );
    }
    backup::check_manifest_target(out_dir)?;
    let k = v
        .get_key(name, None)?
        .ok_or_else(|| err!(NotFound, "no key {name} in {}: nothing to back up", v.url))?;
    let blob = v.backup(name)?;
    let entry = backup::store(
        out_dir,
        &v.url,
        name,
        k.version().unwrap_or(""),
        &k.spki_sha256()?,
        &blob,
        byok_core::util::unix_now(),
    )?;
    Ok(BackupReport {
        path: out_dir.join(&entry.file),
        entry,
        copied_to: None,
    })
}

/// Where the online copy goes: a checked container URL and the Blob Storage token for
/// it, both settled before anything is backed up, so a refused URL or a missing storage
/// token leaves nothing behind.
pub struct BlobTarget {
    container: crate::blob::ContainerUrl,
    token: String,
}

impl BlobTarget {
    /// Check `container_url` (a Blob Storage endpoint, or loopback for an emulator) and
    /// get the token for it: never the Key Vault token (see [`Vault::storage_token`]).
    pub fn prepare(v: &Vault, container_url: &str) -> Result<BlobTarget> {
        let c = crate::blob::ContainerUrl::parse(container_url, v.mode)?;
        let token = v.storage_token()?;
        Ok(BlobTarget {
            container: c,
            token,
        })
    }
}

/// Store a backup file also as a blob in the target container (the online copy), under
/// the same name, never over an existing blob, and read it back to check it.
pub fn copy_to_blob(v: &Vault, target: &BlobTarget, file: &Path) -> Result<String> {
    let (container, token) = (&target.container, target.token.as_str());
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| err!("{} has no file name", file.display()))?;
    let bytes = byok_core::fsutil::read_limited(file, backup::BACKUP_LIMIT, "backup file")?;
    let (http, rt) = v.http();
    let put = rt.block_on(crate::blob::put_new_blob(
        http, token, container, &name, &bytes,
    ));
    let receipt = match put {
        Ok(r) => r,
        Err(e) => {
            // A retry after a lost answer finds its own blob: the same bytes count as done.
            let same = rt
                .block_on(crate::blob::get_blob(http, token, container, &name))
                .map(|b| b == bytes)
                .unwrap_or(false);
            if !same {
                return Err(e.context("the online copy was not stored (the local backup was)"));
            }
            return Ok(format!("{}/{name}", container.as_str()));
        }
    };
    let back = rt.block_on(crate::blob::get_blob(http, token, container, &name))?;
    if back != bytes {
        bail!(
            Integrity,
            "the online copy of {name} reads back different bytes: check the storage account"
        );
    }
    Ok(receipt.url)
}

/// One restore in a drill.
#[derive(Debug, Serialize)]
pub struct DrillResult {
    pub file: String,
    pub key: String,
    pub restored_kid: String,
    pub same_key: bool,
    pub cleaned_up: bool,
}

/// Refuse a drill entry before anything is restored: a restore drill goes into a
/// scratch vault, never the vault the key was backed up from, and reads only plain file
/// names of the backup directory.
fn check_drill_entry(e: &ManifestEntry, scratch_url: &str, mode: Mode) -> Result<()> {
    if check_vault_url(&e.vault, mode).ok().as_deref() == Some(scratch_url) {
        bail!(
            "{scratch_url} is the vault {} was backed up from: a restore drill goes into a scratch vault, never the source",
            e.file
        );
    }
    if !backup::is_plain_file_name(&e.file) {
        bail!(
            Integrity,
            "the manifest names {:?}, which is not a file of the backup directory: the manifest was altered",
            e.file
        );
    }
    Ok(())
}

/// Restore every backup in the manifest into a scratch vault, compare each restored key
/// with the key that was backed up (`Integrity` when it differs), and remove it again.
pub fn restore_drill(
    scratch: &Vault,
    dir: &Path,
    entries: &[ManifestEntry],
    console: &dyn byok_core::console::Console,
) -> Result<Vec<DrillResult>> {
    for e in entries {
        check_drill_entry(e, &scratch.url, scratch.mode)?;
    }
    let mut out = Vec::new();
    let progress = byok_core::console::Steps::begin(console, entries.len());
    for e in entries {
        let blob = backup::read_backup_file(dir, &e.file)?;
        let restored = scratch
            .restore(&blob)
            .map_err(|er| er.context(format!("restore drill of {}", e.file)))?;
        let same = restored.spki_sha256()? == e.key_spki_sha256;
        let cleaned = scratch.delete_and_purge(&e.key)?;
        out.push(DrillResult {
            file: e.file.clone(),
            key: e.key.clone(),
            restored_kid: restored.kid().unwrap_or("").to_string(),
            same_key: same,
            cleaned_up: cleaned,
        });
        if !same {
            bail!(
                Integrity,
                "restore drill: {} restored a different key than was backed up; do not rely on it",
                e.file
            );
        }
        if !cleaned {
            bail!(
                Service,
                "restore drill: {} restored, but the scratch vault {} refuses to purge it; use a scratch vault without purge protection",
                e.file,
                scratch.url
            );
        }
        progress.step(&format!(
            "restore drill: {} restored into {}, the same key, purged",
            e.file, scratch.url
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;

    fn entry(vault: &str, file: &str) -> ManifestEntry {
        ManifestEntry {
            file: file.into(),
            sha256: String::new(),
            size: 0,
            vault: vault.into(),
            key: "k".into(),
            version: "v".into(),
            time: String::new(),
            key_spki_sha256: String::new(),
        }
    }

    #[test]
    fn a_drill_never_goes_into_the_source_vault() {
        let src = "https://contoso-vault1.vault.azure.net";
        let scratch = "https://contoso-scratch.vault.azure.net";
        check_drill_entry(&entry(src, "a.backup"), scratch, Mode::Ceremony).unwrap();
        for same in [src, "https://Contoso-Vault1.vault.azure.net/"] {
            let e = check_drill_entry(&entry(same, "a.backup"), src, Mode::Ceremony).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadInput);
            assert!(e.message().contains("never the source"), "{e}");
        }
        // The simulator: the same loopback vault is refused in a rehearsal too.
        let sim = "https://127.0.0.1:8443";
        assert!(check_drill_entry(&entry(sim, "a.backup"), sim, Mode::Rehearsal).is_err());
    }

    #[test]
    fn a_drill_reads_only_files_of_the_directory() {
        let scratch = "https://contoso-scratch.vault.azure.net";
        let src = "https://contoso-vault1.vault.azure.net";
        for bad in ["../a.backup", "/etc/passwd", ".hidden", ""] {
            let e = check_drill_entry(&entry(src, bad), scratch, Mode::Ceremony).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Integrity, "{bad:?}");
        }
    }
}
