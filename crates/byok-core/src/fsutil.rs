//! Careful files: outputs are created whole or not at all, never over an
//! existing file, and secrets are read only from files nobody else can read.

use crate::{bail, err, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Write `bytes` to `path`, which must not exist.
///
/// The bytes go to a temporary file in the same directory, are flushed to disk,
/// and the file is then hard-linked to `path`; `link(2)` fails when `path`
/// exists, so an existing file is never replaced, even by a racing writer.
/// The directory is flushed too, so the new name survives a crash.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    refuse_existing(path)?;
    write_via_temp(path, bytes, mode, |tmp| {
        crate::crashpoint::hit("write-temp");
        let linked = fs::hard_link(tmp, path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                err!(
                    "{} already exists; byok never overwrites an output: move it away or choose another name",
                    path.display()
                )
            } else {
                err!("cannot create {}: {e}", path.display())
            }
        });
        let _ = fs::remove_file(tmp);
        linked
    })
}

/// Write `bytes` to a new temp file beside `path`, flush it, hand it to `publish` (which
/// gives it its name), and flush the directory. The temp file never outlives a failure.
fn write_via_temp(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    publish: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let dir = parent_dir(path);
    let (tmp, mut file) = create_temp(&dir, path, mode)?;
    let result = file
        .write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| err!("cannot write {}: {e}", tmp.display()))
        .and_then(|_| {
            drop(file);
            publish(&tmp)
        });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(&dir);
    Ok(())
}

/// Fail with a clear message when `path` exists (as a file, a directory or a link).
pub fn refuse_existing(path: &Path) -> Result<()> {
    if fs::symlink_metadata(path).is_ok() {
        bail!(
            "{} already exists; byok never overwrites an output: move it away or choose another name",
            path.display()
        );
    }
    Ok(())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Is `name` a temp file name that [`write_new`] makes (`.NAME.tmp-` and 16 hex digits)?
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
        && name
            .rsplit_once(".tmp-")
            .is_some_and(|(_, h)| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn create_temp(dir: &Path, target: &Path, mode: u32) -> Result<(PathBuf, File)> {
    let base = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    for _ in 0..16 {
        let tmp = dir.join(format!(".{base}.tmp-{:016x}", rand::random::<u64>()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!(
                    "directory {} does not exist: create it first",
                    dir.display()
                )
            }
            Err(e) => bail!("cannot write in {}: {e}", dir.display()),
        }
    }
    bail!("cannot create a temporary file in {}", dir.display())
}

/// Flush a directory's entries to disk (best effort: some filesystems refuse).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Read a file of at most `limit` bytes, with a message that names it.
pub fn read_limited(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| err!("cannot read {what} {}: {e}", path.display()))?;
    let mut buf = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| err!("cannot read {what} {}: {e}", path.display()))?;
    if buf.len() as u64 > limit {
        bail!(
            "{what} {} is larger than {limit} bytes: is it the right file?",
            path.display()
        );
    }
    Ok(buf)
}

/// Read a secret (a PIN, an access token) from a file that only its owner can read.
///
/// Refuses a file that the group or others may read or write, as ssh does for keys:
/// a secret that others can read is no longer a secret.
pub fn read_secret_file(path: &Path, what: &str) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let meta =
        fs::metadata(path).map_err(|e| err!("cannot read {what} {}: {e}", path.display()))?;
    if !meta.is_file() {
        bail!("{what} {} is not a regular file", path.display());
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "{what} {} is readable or writable by group or others (mode {:o}); run `chmod 600 {}` first",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(zeroize::Zeroizing::new(read_limited(path, 4096, what)?))
}

/// Replace `path` with `bytes` atomically: readers see the old file or the new one, never a mix.
///
/// The bytes go to a temporary file in the same directory (created with `mode`), are flushed
/// to disk, and the file is renamed over `path`; the directory is flushed so the rename
/// survives a crash. Unlike [`write_new`] this overwrites on purpose: it is for state files.
pub fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_via_temp(path, bytes, mode, |tmp| {
        fs::rename(tmp, path).map_err(|e| err!("cannot replace {}: {e}", path.display()))
    })
}
