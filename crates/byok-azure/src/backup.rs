//! Key backups on disk: the files `az keyvault key backup` writes, a manifest beside
//! them, and the checks that prove a backup directory is whole.
//!
//! A Key Vault key backup is opaque: the raw bytes (the decoded `value` of
//! `POST /keys/{name}/backup`) are `&AzureKeyVaultKeyBackupV1.microsoft.com` followed by a
//! JWE in compact form, encrypted to the vault's service. Only Key Vault can restore it,
//! and only within the same subscription and geography.
//!
//! Files are named as the Customer Key document does, vault and key name with a date:
//! `<vault>-<key>-Backup-<YYYYMMDD>.backup`; a second backup of the same key on the same
//! day gets `-2`, `-3`, … before `.backup`, so no backup is ever overwritten. Every backup
//! appends one JSON line to `manifest.jsonl` (flushed to disk): file, SHA-256, size, vault,
//! key, version, time, and the SHA-256 of the key's public key for restore drills.

use byok_core::fsutil;
use byok_core::{bail, err, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What every Key Vault key backup starts with.
pub const BACKUP_MAGIC: &[u8] = b"&AzureKeyVaultKeyBackupV1.microsoft.com";

pub const MANIFEST: &str = "manifest.jsonl";

/// One line of `manifest.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    pub file: String,
    pub sha256: String,
    pub size: u64,
    pub vault: String,
    pub key: String,
    pub version: String,
    /// RFC 3339, UTC.
    pub time: String,
    /// SHA-256 of the key's SubjectPublicKeyInfo DER when it was backed up.
    pub key_spki_sha256: String,
}

/// The short vault name for file names: the first DNS label of the host
/// (`contoso-vault1` for `https://contoso-vault1.vault.azure.net`), or `host-port` for a
/// loopback simulator.
pub fn vault_file_label(vault_url: &str) -> String {
    let host = vault_url
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let first =
        if host.starts_with("127.") || host.starts_with("localhost") || host.starts_with('[') {
            host.to_string()
        } else {
            host.split('.').next().unwrap_or(host).to_string()
        };
    first
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

/// The first free backup file name in `dir` for this vault, key and date.
pub fn next_backup_path(dir: &Path, vault_url: &str, key: &str, yyyymmdd: &str) -> PathBuf {
    let base = format!(
        "{}-{}-Backup-{}",
        vault_file_label(vault_url),
        key,
        yyyymmdd
    );
    let mut n = 1;
    loop {
        let name = if n == 1 {
            format!("{base}.backup")
        } else {
            format!("{base}-{n}.backup")
        };
        let p = dir.join(name);
        if std::fs::symlink_metadata(&p).is_err() {
            return p;
        }
        n += 1;
    }
}

/// Check that `bytes` have the form of a Key Vault key backup.
pub fn check_backup_form(bytes: &[u8]) -> Result<()> {
    let Some(rest) = bytes.strip_prefix(BACKUP_MAGIC) else {
        if bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=\r\n".contains(b))
            && !bytes.is_empty()
        {
            bail!("it looks like base64 text: a backup file holds the decoded bytes, as `az keyvault key backup` writes them");
        }
        bail!("it does not start with the Key Vault backup marker; it is not a key backup, or it is damaged");
    };
    let text = std::str::from_utf8(rest)
        .map_err(|_| err!("the backup's JWE is not text; the file is damaged"))?;
    let parts: Vec<&str> = text.trim_end().split('.').collect();
    if parts.len() != 5
        || parts
            .iter()
            .enumerate()
            .any(|(i, p)| (p.is_empty() && i != 1) || !p.bytes().all(is_b64url))
    {
        bail!("the backup's JWE is not five base64url parts; the file is damaged or truncated");
    }
    let header = byok_core::kek::decode_b64url(parts[0])
        .map_err(|_| err!("the backup's JWE header is not base64url"))?;
    let header: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|_| err!("the backup's JWE header is not JSON; the file is damaged"))?;
    if header.get("enc").and_then(|v| v.as_str()).is_none()
        || header.get("alg").and_then(|v| v.as_str()).is_none()
    {
        bail!("the backup's JWE header lacks alg or enc; the file is damaged");
    }
    Ok(())
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Write a backup file (exclusive create) and append its manifest entry, both flushed
/// to disk. Returns the entry.
pub fn store(
    dir: &Path,
    vault_url: &str,
    key: &str,
    version: &str,
    key_spki_sha256: &str,
    bytes: &[u8],
    now: time_fmt::Utc,
) -> Result<ManifestEntry> {
    if !dir.is_dir() {
        bail!(
            "backup directory {} does not exist: create it first",
            dir.display()
        );
    }
    check_backup_form(bytes)
        .map_err(|e| e.context("the vault's backup is not of the expected form"))?;
    let path = next_backup_path(dir, vault_url, key, &now.yyyymmdd());
    fsutil::write_new(&path, bytes, 0o600)?;
    let entry = ManifestEntry {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256: hex::encode(Sha256::digest(bytes)),
        size: bytes.len() as u64,
        vault: vault_url.to_string(),
        key: key.to_string(),
        version: version.to_string(),
        time: now.rfc3339(),
        key_spki_sha256: key_spki_sha256.to_string(),
    };
    if let Err(e) = append_manifest(dir, &entry) {
        // An unlisted backup would fail `backup verify`: take it back.
        let _ = std::fs::remove_file(&path);
        fsutil::sync_dir(dir);
        return Err(e.context("the backup was not kept"));
    }
    Ok(entry)
}

fn append_manifest(dir: &Path, entry: &ManifestEntry) -> Result<()> {
    let path = dir.join(MANIFEST);
    let created = !path.exists();
    let mut line =
        serde_json::to_vec(entry).map_err(|e| err!("cannot encode the manifest entry: {e}"))?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| err!("cannot open {}: {e}", path.display()))?;
    f.write_all(&line)
        .and_then(|_| f.sync_all())
        .map_err(|e| err!("cannot append to {}: {e}", path.display()))?;
    if created {
        fsutil::sync_dir(dir);
    }
    Ok(())
}

/// Read `manifest.jsonl`.
pub fn read_manifest(dir: &Path) -> Result<Vec<ManifestEntry>> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        err!(
            "cannot read {} ({e}): is {} a byok backup directory?",
            path.display(),
            dir.display()
        )
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                err!(
                    "{} line {}: not a manifest entry ({e}); the manifest was altered",
                    path.display(),
                    i + 1
                )
            })
        })
        .collect()
}

/// What `byok backup verify` found.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub dir: PathBuf,
    pub entries: usize,
    pub problems: Vec<String>,
}

/// Every manifest entry present with its hash and size, nothing unlisted, each file of
/// the backup form.
pub fn verify_dir(dir: &Path) -> Result<(Vec<ManifestEntry>, VerifyReport)> {
    let entries = read_manifest(dir)?;
    let mut problems = Vec::new();
    let mut listed = BTreeSet::new();
    for e in &entries {
        if e.file.contains('/') || e.file.starts_with('.') {
            problems.push(format!(
                "manifest names {:?}, which is not a file in this directory",
                e.file
            ));
            continue;
        }
        if !listed.insert(e.file.clone()) {
            problems.push(format!("{} is listed twice in the manifest", e.file));
        }
        let p = dir.join(&e.file);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(_) => {
                problems.push(format!(
                    "{} is missing (restore it from the online or offline copy)",
                    e.file
                ));
                continue;
            }
        };
        if bytes.len() as u64 != e.size || hex::encode(Sha256::digest(&bytes)) != e.sha256 {
            problems.push(format!(
                "{} does not match its manifest hash: it was altered or damaged",
                e.file
            ));
            continue;
        }
        if let Err(err) = check_backup_form(&bytes) {
            problems.push(format!("{}: {}", e.file, err.message()));
        }
    }
    let read = std::fs::read_dir(dir).map_err(|e| err!("cannot list {}: {e}", dir.display()))?;
    for ent in read.flatten() {
        let name = ent.file_name().to_string_lossy().into_owned();
        if name == MANIFEST {
            continue;
        }
        if !listed.contains(&name) {
            problems.push(format!(
                "{name} is in the directory but not in the manifest"
            ));
        }
    }
    let report = VerifyReport {
        dir: dir.to_path_buf(),
        entries: entries.len(),
        problems,
    };
    Ok((entries, report))
}

/// Minimal UTC time formatting (no time-zone database needed: UTC only).
pub mod time_fmt {
    /// Seconds since the Unix epoch, UTC.
    #[derive(Debug, Clone, Copy)]
    pub struct Utc(pub i64);

    impl Utc {
        pub fn now() -> Utc {
            let s = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            Utc(s)
        }

        /// (year, month, day, hour, minute, second).
        pub fn parts(self) -> (i64, u32, u32, u32, u32, u32) {
            let days = self.0.div_euclid(86_400);
            let secs = self.0.rem_euclid(86_400);
            // Howard Hinnant's days-to-civil algorithm.
            let z = days + 719_468;
            let era = z.div_euclid(146_097);
            let doe = z.rem_euclid(146_097);
            let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
            let y = yoe + era * 400;
            let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
            let mp = (5 * doy + 2) / 153;
            let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
            let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
            let y = if m <= 2 { y + 1 } else { y };
            (
                y,
                m,
                d,
                (secs / 3600) as u32,
                ((secs % 3600) / 60) as u32,
                (secs % 60) as u32,
            )
        }

        pub fn yyyymmdd(self) -> String {
            let (y, m, d, ..) = self.parts();
            format!("{y:04}{m:02}{d:02}")
        }

        pub fn rfc3339(self) -> String {
            let (y, m, d, hh, mm, ss) = self.parts();
            format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
        }
    }

    #[cfg(test)]
    mod tests {
        use super::Utc;
        #[test]
        fn known_dates() {
            assert_eq!(Utc(0).rfc3339(), "1970-01-01T00:00:00Z");
            assert_eq!(Utc(1_501_632_000).yyyymmdd(), "20170802");
            assert_eq!(Utc(253_402_214_400).rfc3339(), "9999-12-31T00:00:00Z");
            assert_eq!(Utc(951_782_400).rfc3339(), "2000-02-29T00:00:00Z");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_labels() {
        assert_eq!(
            vault_file_label("https://Contoso-O365EX-NA-VaultA1.vault.azure.net"),
            "Contoso-O365EX-NA-VaultA1"
        );
        assert_eq!(vault_file_label("https://127.0.0.1:8443"), "127-0-0-1-8443");
    }

    #[test]
    fn backup_form() {
        let hdr = byok_core::kek::encode_b64url(br#"{"alg":"dir","enc":"A256GCM"}"#);
        let good = [BACKUP_MAGIC, format!("{hdr}..aXY.Y3Q.dGFn").as_bytes()].concat();
        check_backup_form(&good).unwrap();
        assert!(check_backup_form(b"").is_err());
        assert!(check_backup_form(b"JkF6dXJlS2V5VmF1bHQ")
            .unwrap_err()
            .message()
            .contains("base64 text"));
        assert!(check_backup_form(&good[..good.len() - 9]).is_err());
        assert!(check_backup_form(&[BACKUP_MAGIC, b"x.y"].concat()).is_err());
    }
}
