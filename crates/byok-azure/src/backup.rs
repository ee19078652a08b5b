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

use byok_core::util::{rfc3339, sha256_hex, yyyymmdd};
use byok_core::{bail, err, fsutil, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What every Key Vault key backup starts with.
pub const BACKUP_MAGIC: &[u8] = b"&AzureKeyVaultKeyBackupV1.microsoft.com";

pub const MANIFEST: &str = "manifest.jsonl";

/// Largest backup file byok reads or sends. A Key Vault key backup is a few KB per key
/// version; a key with hundreds of versions stays far below this. Anything larger is not
/// a backup byok made, and reading it whole would only cost memory.
pub const BACKUP_LIMIT: u64 = 4 << 20;

/// Largest `manifest.jsonl` byok reads: a line is about 400 bytes, so this is some
/// twenty thousand backups.
pub const MANIFEST_LIMIT: u64 = 8 << 20;

/// Read the backup file `name` of directory `dir`: a regular file (never a FIFO or a
/// device, which could block or never end) of at most [`BACKUP_LIMIT`] bytes.
pub fn read_backup_file(dir: &Path, name: &str) -> Result<Vec<u8>> {
    fsutil::read_limited(&dir.join(name), BACKUP_LIMIT, "backup file")
}

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

/// Most backups of one key on one day (`-2` … `-9999`).
const MAX_PER_DAY: u32 = 9999;

/// The first free backup file name in `dir` for this vault, key and date.
pub fn next_backup_path(dir: &Path, vault_url: &str, key: &str, yyyymmdd: &str) -> Result<PathBuf> {
    let base = format!(
        "{}-{}-Backup-{}",
        vault_file_label(vault_url),
        key,
        yyyymmdd
    );
    for n in 1..=MAX_PER_DAY {
        let name = if n == 1 {
            format!("{base}.backup")
        } else {
            format!("{base}-{n}.backup")
        };
        let p = dir.join(name);
        if std::fs::symlink_metadata(&p).is_err() {
            return Ok(p);
        }
    }
    bail!(
        Exists,
        "{} already holds {MAX_PER_DAY} backups named {base}: use another backup directory",
        dir.display()
    )
}

/// Is `name`, as a manifest lists it, a plain file name of the backup directory (no
/// path, not hidden)? Anything else is refused before it is joined to a path.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['/', '\\', '\0']) && !name.starts_with('.')
}

/// Check that `bytes` have the form of a Key Vault key backup: the marker, then a compact
/// JWE (five base64url parts, the encrypted key part may be empty) whose header names
/// `alg` and `enc`. Base64 text is `BadInput` (the wrong file); anything else `Integrity`.
pub fn check_backup_form(bytes: &[u8]) -> Result<()> {
    let Some(rest) = bytes.strip_prefix(BACKUP_MAGIC) else {
        if !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=+/\r\n".contains(b))
        {
            bail!("it looks like base64 text: a backup file holds the decoded bytes, as `az keyvault key backup` writes them");
        }
        bail!(Integrity, "it does not start with the Key Vault backup marker; it is not a key backup, or it is damaged");
    };
    let text = std::str::from_utf8(rest).map_err(|_| {
        err!(
            Integrity,
            "the backup's JWE is not text; the file is damaged"
        )
    })?;
    let parts: Vec<&str> = text.trim_end().split('.').collect();
    let [header, _key, iv, ciphertext, tag] = parts.as_slice() else {
        bail!(
            Integrity,
            "the backup's JWE is not five base64url parts; the file is damaged or truncated"
        );
    };
    let b64url = |p: &str| p.bytes().all(is_b64url);
    // The encrypted key is empty for direct encryption (`alg` "dir"); the rest never is.
    if [header, iv, ciphertext, tag].iter().any(|p| p.is_empty())
        || !parts.iter().all(|p| b64url(p))
    {
        bail!(
            Integrity,
            "the backup's JWE is not five base64url parts; the file is damaged or truncated"
        );
    }
    let header = byok_core::kek::decode_b64url(header).map_err(|_| {
        err!(
            Integrity,
            "the backup's JWE header is not base64url; the file is damaged"
        )
    })?;
    byok_core::json::check_unique_keys(&header).map_err(|e| {
        err!(
            Integrity,
            "the backup's JWE header: {}; the file is damaged or altered",
            e.message()
        )
    })?;
    let header: serde_json::Value = serde_json::from_slice(&header).map_err(|_| {
        err!(
            Integrity,
            "the backup's JWE header is not JSON; the file is damaged"
        )
    })?;
    if header.get("enc").and_then(|v| v.as_str()).is_none()
        || header.get("alg").and_then(|v| v.as_str()).is_none()
    {
        bail!(
            Integrity,
            "the backup's JWE header lacks alg or enc; the file is damaged"
        );
    }
    Ok(())
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Write a backup file (exclusive create) and append its manifest entry, both flushed
/// to disk. `now` (Unix seconds) dates the file name and the entry. Returns the entry.
pub fn store(
    dir: &Path,
    vault_url: &str,
    key: &str,
    version: &str,
    key_spki_sha256: &str,
    bytes: &[u8],
    now: i64,
) -> Result<ManifestEntry> {
    if !dir.is_dir() {
        bail!(
            NotFound,
            "backup directory {} does not exist: create it first",
            dir.display()
        );
    }
    check_backup_form(bytes).map_err(|e| {
        crate::causes::rekind(
            e,
            byok_core::ErrorKind::Service,
            "the vault's backup is not of the expected form",
        )
    })?;
    // A manifest that cannot take the entry is refused before the backup file is written.
    check_manifest_target(dir)?;
    let path = next_backup_path(dir, vault_url, key, &yyyymmdd(now))?;
    fsutil::write_new(&path, bytes, 0o600)?;
    let entry = ManifestEntry {
        file: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256: sha256_hex(bytes),
        size: bytes.len() as u64,
        vault: vault_url.to_string(),
        key: key.to_string(),
        version: version.to_string(),
        time: rfc3339(now),
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

/// The error for a `manifest.jsonl` that is a symbolic link (dangling or not), a FIFO or
/// anything else but a regular file.
fn manifest_not_regular(path: &Path) -> byok_core::Error {
    err!(
        "{} is a symbolic link or not a regular file: byok appends backups only to a regular manifest in the backup directory, never through a link; remove it, or use another backup directory",
        path.display()
    )
}

/// Refuse, before anything is fetched, a backup directory whose `manifest.jsonl` is a
/// symbolic link or not a regular file ([`store`] checks again on the open file).
pub fn check_manifest_target(dir: &Path) -> Result<()> {
    let path = dir.join(MANIFEST);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_file() => Ok(()),
        Ok(_) => Err(manifest_not_regular(&path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => bail!(Io, "cannot read {}: {e}", path.display()),
    }
}

/// Append `entry` to the directory's manifest, flushed to disk. The manifest is opened
/// with `O_NOFOLLOW`: a `manifest.jsonl` that is a symbolic link, even a dangling one,
/// is refused rather than followed, so a backup run never appends to (or creates) a file
/// outside the directory. `O_NONBLOCK` keeps a FIFO from blocking the open; what was
/// opened must be a regular file.
fn append_manifest(dir: &Path, entry: &ManifestEntry) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(MANIFEST);
    let created = std::fs::symlink_metadata(&path).is_err();
    let mut line = serde_json::to_vec(entry)
        .map_err(|e| err!(Internal, "cannot encode the manifest entry: {e}"))?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) | Some(libc::ENXIO) => manifest_not_regular(&path),
            _ => err!(Io, "cannot open {}: {e}", path.display()),
        })?;
    match f.metadata() {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(manifest_not_regular(&path)),
        Err(e) => bail!(Io, "cannot read {}: {e}", path.display()),
    }
    f.write_all(&line)
        .and_then(|_| f.sync_all())
        .map_err(|e| err!(Io, "cannot append to {}: {e}", path.display()))?;
    if created {
        fsutil::sync_dir(dir);
    }
    Ok(())
}

/// Read `manifest.jsonl`: `NotFound` when there is none, `Integrity` when a line is not
/// a manifest entry.
pub fn read_manifest(dir: &Path) -> Result<Vec<ManifestEntry>> {
    let path = dir.join(MANIFEST);
    let bytes = fsutil::read_limited(&path, MANIFEST_LIMIT, "backup manifest").map_err(|e| {
        if e.is(byok_core::ErrorKind::NotFound) {
            let msg = format!(
                "{}: is {} a byok backup directory?",
                e.message(),
                dir.display()
            );
            byok_core::Error::new(byok_core::ErrorKind::NotFound, msg)
        } else {
            e
        }
    })?;
    parse_manifest(&bytes, &path)
}

/// [`read_manifest`] on the manifest's bytes already read (`path` names it in messages).
pub fn parse_manifest(bytes: &[u8], path: &Path) -> Result<Vec<ManifestEntry>> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        err!(
            Integrity,
            "{} is not UTF-8 text; the manifest was altered",
            path.display()
        )
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            // A field named twice would be read one way here and another way elsewhere.
            byok_core::json::check_unique_keys(l.as_bytes()).map_err(|e| {
                err!(
                    Integrity,
                    "{} line {}: {}; the manifest was altered",
                    path.display(),
                    i + 1,
                    e.message()
                )
            })?;
            serde_json::from_str(l).map_err(|e| {
                err!(
                    Integrity,
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
        if !is_plain_file_name(&e.file) {
            problems.push(format!(
                "manifest names {:?}, which is not a file in this directory",
                e.file
            ));
            continue;
        }
        if !listed.insert(e.file.clone()) {
            problems.push(format!("{} is listed twice in the manifest", e.file));
        }
        let bytes = match read_backup_file(dir, &e.file) {
            Ok(b) => b,
            Err(err) if err.is(byok_core::ErrorKind::NotFound) => {
                problems.push(format!(
                    "{} is missing (restore it from the online or offline copy)",
                    e.file
                ));
                continue;
            }
            Err(err) => {
                problems.push(err.message().to_string());
                continue;
            }
        };
        if bytes.len() as u64 != e.size || sha256_hex(&bytes) != e.sha256 {
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
    let read =
        std::fs::read_dir(dir).map_err(|e| err!(Io, "cannot list {}: {e}", dir.display()))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;

    const V: &str = "https://contoso-vault1.vault.azure.net";
    /// 2017-08-02T12:00:00Z.
    const NOON: i64 = 1_501_675_200;

    fn good_backup(tail: &str) -> Vec<u8> {
        let hdr = byok_core::kek::encode_b64url(br#"{"alg":"dir","enc":"A256GCM"}"#);
        [BACKUP_MAGIC, format!("{hdr}..aXY.{tail}.dGFn").as_bytes()].concat()
    }

    #[test]
    fn file_labels() {
        assert_eq!(
            vault_file_label("https://Contoso-O365EX-NA-VaultA1.vault.azure.net"),
            "Contoso-O365EX-NA-VaultA1"
        );
        assert_eq!(vault_file_label("https://127.0.0.1:8443"), "127-0-0-1-8443");
        assert_eq!(vault_file_label("https://[::1]:9/"), "1--9");
    }

    #[test]
    fn backup_form() {
        let good = good_backup("Y3Q");
        check_backup_form(&good).unwrap();
        check_backup_form(&[good.as_slice(), b"\n"].concat()).unwrap();
        assert_eq!(
            check_backup_form(b"").unwrap_err().kind(),
            ErrorKind::Integrity
        );
        let e = check_backup_form(b"JkF6dXJlS2V5VmF1bHQ").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert!(e.message().contains("base64 text"), "{e}");
        for bad in [
            good[..good.len() - 9].to_vec(),
            [BACKUP_MAGIC, b"x.y"].concat(),
            [BACKUP_MAGIC, b"a.b.c.d.e.f"].concat(),
            [BACKUP_MAGIC, b"e30..aXY.Y3Q.dGFn"].concat(),
            [BACKUP_MAGIC, b"!!..aXY.Y3Q.dGFn"].concat(),
            [BACKUP_MAGIC, &[0xff, 0xfe][..]].concat(),
            good_backup(""),
            good_backup("Y3$"),
            {
                let hdr =
                    byok_core::kek::encode_b64url(br#"{"alg":"dir","enc":"A256GCM","enc":"none"}"#);
                [BACKUP_MAGIC, format!("{hdr}..aXY.Y3Q.dGFn").as_bytes()].concat()
            },
        ] {
            let e = check_backup_form(&bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Integrity, "{e}");
        }
    }

    #[test]
    fn backup_file_names_never_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let p = next_backup_path(dir.path(), V, "k1", "20170802").unwrap();
        assert_eq!(
            p.file_name().unwrap(),
            "contoso-vault1-k1-Backup-20170802.backup"
        );
        std::fs::write(&p, b"x").unwrap();
        let p2 = next_backup_path(dir.path(), V, "k1", "20170802").unwrap();
        assert_eq!(
            p2.file_name().unwrap(),
            "contoso-vault1-k1-Backup-20170802-2.backup"
        );
        for name in ["a.backup", "x-1", "k"] {
            assert!(is_plain_file_name(name), "{name}");
        }
        for name in ["", "../a", "a/b", ".hidden", "a\\b", "a\0b"] {
            assert!(!is_plain_file_name(name), "{name:?}");
        }
    }

    #[test]
    fn store_then_verify_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let one = good_backup("b25l");
        let two = good_backup("dHdv");
        let e1 = store(d, V, "k1", "v1", "spki1", &one, NOON).unwrap();
        let e2 = store(d, V, "k1", "v2", "spki2", &two, NOON).unwrap();
        assert_eq!(e1.file, "contoso-vault1-k1-Backup-20170802.backup");
        assert_eq!(e2.file, "contoso-vault1-k1-Backup-20170802-2.backup");
        assert_eq!(e1.time, "2017-08-02T12:00:00Z");
        assert_eq!(e1.sha256, sha256_hex(&one));
        assert_eq!(e1.size, one.len() as u64);
        assert_eq!(std::fs::read(d.join(&e1.file)).unwrap(), one);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(d.join(&e1.file)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(read_manifest(d).unwrap(), vec![e1.clone(), e2.clone()]);
        let (entries, report) = verify_dir(d).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(report.problems.is_empty(), "{:?}", report.problems);

        // An altered file, an unlisted one and a missing one are each reported.
        std::fs::write(d.join(&e2.file), good_backup("ZXZpbA")).unwrap();
        std::fs::write(d.join("stray.backup"), b"x").unwrap();
        std::fs::remove_file(d.join(&e1.file)).unwrap();
        let (_, report) = verify_dir(d).unwrap();
        let all = report.problems.join("\n");
        assert_eq!(report.problems.len(), 3, "{all}");
        assert!(all.contains(&format!("{} is missing", e1.file)), "{all}");
        assert!(all.contains("does not match its manifest hash"), "{all}");
        assert!(
            all.contains("stray.backup is in the directory but not in the manifest"),
            "{all}"
        );
    }

    #[test]
    fn store_refuses_what_it_cannot_keep() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let e = store(&missing, V, "k", "v", "s", &good_backup("Y3Q"), NOON).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = store(dir.path(), V, "k", "v", "s", b"not a backup", NOON).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Service);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing left behind"
        );
    }

    #[test]
    fn manifests_that_are_missing_or_altered() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            read_manifest(dir.path()).unwrap_err().kind(),
            ErrorKind::NotFound
        );
        std::fs::write(dir.path().join(MANIFEST), "{\"file\": 1}\n").unwrap();
        let e = read_manifest(dir.path()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity);
        assert!(e.message().contains("line 1"), "{e}");
        // Unknown fields are an alteration too.
        let entry = ManifestEntry {
            file: "a.backup".into(),
            sha256: "00".into(),
            size: 1,
            vault: V.into(),
            key: "k".into(),
            version: "v".into(),
            time: rfc3339(NOON),
            key_spki_sha256: "s".into(),
        };
        let mut v = serde_json::to_value(&entry).unwrap();
        v["extra"] = serde_json::json!(1);
        std::fs::write(dir.path().join(MANIFEST), format!("\n{v}\n")).unwrap();
        assert_eq!(
            read_manifest(dir.path()).unwrap_err().kind(),
            ErrorKind::Integrity
        );
        // A listed path outside the directory is a problem, never read.
        let mut bad = entry.clone();
        bad.file = "../a.backup".into();
        std::fs::write(
            dir.path().join(MANIFEST),
            format!("{}\n", serde_json::to_string(&bad).unwrap()),
        )
        .unwrap();
        let (_, report) = verify_dir(dir.path()).unwrap();
        assert!(
            report.problems[0].contains("not a file in this directory"),
            "{:?}",
            report.problems
        );
    }

    fn fifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn the_manifest_is_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("bk");
        std::fs::create_dir(&d).unwrap();
        let elsewhere = dir.path().join("elsewhere.jsonl");
        std::fs::write(&elsewhere, b"").unwrap();
        // A link to a file outside the directory: refused, the file untouched, the
        // backup taken back.
        std::os::unix::fs::symlink(&elsewhere, d.join(MANIFEST)).unwrap();
        let e = check_manifest_target(&d).unwrap_err();
        assert!(e.message().contains("symbolic link"), "{e}");
        let e = store(&d, V, "k1", "v1", "s", &good_backup("b25l"), NOON).unwrap_err();
        assert!(e.message().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read(&elsewhere).unwrap(), b"");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "only the link");
        // A dangling link: refused, and nothing is created where it points.
        let target = dir.path().join("made-by-byok.jsonl");
        std::fs::remove_file(d.join(MANIFEST)).unwrap();
        std::os::unix::fs::symlink(&target, d.join(MANIFEST)).unwrap();
        let e = store(&d, V, "k1", "v1", "s", &good_backup("b25l"), NOON).unwrap_err();
        assert!(e.message().contains("symbolic link"), "{e}");
        assert!(
            std::fs::symlink_metadata(&target).is_err(),
            "created through the link"
        );
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "only the link");
        // The open itself (O_NOFOLLOW) refuses a link that appears after the check.
        let e = append_manifest(&d, &read_manifest_entry_for_tests()).unwrap_err();
        assert!(e.message().contains("symbolic link"), "{e}");
        assert!(std::fs::symlink_metadata(&target).is_err());
        // A FIFO is refused too, without blocking.
        std::fs::remove_file(d.join(MANIFEST)).unwrap();
        fifo(&d.join(MANIFEST));
        let e = store(&d, V, "k1", "v1", "s", &good_backup("b25l"), NOON).unwrap_err();
        assert!(e.message().contains("not a regular file"), "{e}");
    }

    fn read_manifest_entry_for_tests() -> ManifestEntry {
        ManifestEntry {
            file: "a.backup".into(),
            sha256: "00".into(),
            size: 1,
            vault: V.into(),
            key: "k".into(),
            version: "v".into(),
            time: rfc3339(NOON),
            key_spki_sha256: "s".into(),
        }
    }

    #[test]
    fn huge_or_special_manifests_and_backups_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A 200 MB manifest (sparse: nothing is written) is refused by its size.
        let f = std::fs::File::create(d.join(MANIFEST)).unwrap();
        f.set_len(200 << 20).unwrap();
        let e = read_manifest(d).unwrap_err();
        assert!(e.message().contains("larger than"), "{e}");
        // A FIFO manifest is refused without waiting for a writer.
        std::fs::remove_file(d.join(MANIFEST)).unwrap();
        fifo(&d.join(MANIFEST));
        let e = read_manifest(d).unwrap_err();
        assert!(e.message().contains("not a regular file"), "{e}");
        std::fs::remove_file(d.join(MANIFEST)).unwrap();
        // A listed 200 MB backup and a listed FIFO are problems, never read.
        let mut big = read_manifest_entry_for_tests();
        big.file = "big.backup".into();
        let mut pipe = big.clone();
        pipe.file = "pipe.backup".into();
        std::fs::File::create(d.join("big.backup"))
            .unwrap()
            .set_len(200 << 20)
            .unwrap();
        fifo(&d.join("pipe.backup"));
        let lines = [&big, &pipe]
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect::<String>();
        std::fs::write(d.join(MANIFEST), lines).unwrap();
        let (_, report) = verify_dir(d).unwrap();
        let all = report.problems.join("\n");
        assert!(all.contains("big.backup is larger than"), "{all}");
        assert!(all.contains("pipe.backup is not a regular file"), "{all}");
        assert!(read_backup_file(d, "big.backup").is_err());
    }

    #[test]
    fn a_manifest_line_naming_a_field_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let line = serde_json::to_string(&read_manifest_entry_for_tests()).unwrap();
        // The same entry with "file" named again (first wins for some readers, last for others).
        let twice = line.replacen('{', "{\"file\":\"other.backup\",", 1);
        std::fs::write(dir.path().join(MANIFEST), format!("{line}\n{twice}\n")).unwrap();
        let e = read_manifest(dir.path()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity);
        assert!(e.message().contains("line 2"), "{e}");
        assert!(e.message().contains("\"file\" twice"), "{e}");
    }
}
