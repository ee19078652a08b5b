//! Careful files: outputs are created whole or not at all, never over an
//! existing file; inputs are read only from regular files (never a FIFO or a device,
//! which could block or never end) and only up to a limit; secrets are read only from
//! files nobody else can read.

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
        crate::crashpoint::hit(crate::crashpoint::CrashPoint::TempWritten);
        let linked = fs::hard_link(tmp, path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                err!(
                    Exists,
                    "{} already exists; byok never overwrites an output: move it away or choose another name",
                    path.display()
                )
            } else {
                err!(Io, "cannot create {}: {e}", path.display())
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
        .map_err(|e| err!(Io, "cannot write {}: {e}", tmp.display()))
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
            Exists,
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
                    NotFound,
                    "directory {} does not exist: create it first",
                    dir.display()
                )
            }
            Err(e) => bail!(Io, "cannot write in {}: {e}", dir.display()),
        }
    }
    bail!(Io, "cannot create a temporary file in {}", dir.display())
}

/// Flush a directory's entries to disk (best effort: some filesystems refuse).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Open `path` for reading if it is a regular file. Opened without blocking (a FIFO
/// would otherwise wait for a writer) and checked on the open file itself, so what is
/// checked is what is read.
fn open_regular(path: &Path, what: &str) -> Result<(File, fs::Metadata)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                crate::ErrorKind::NotFound
            } else {
                crate::ErrorKind::Io
            };
            crate::Error::new(kind, format!("cannot read {what} {}: {e}", path.display()))
        })?;
    let meta = file
        .metadata()
        .map_err(|e| err!(Io, "cannot read {what} {}: {e}", path.display()))?;
    if !meta.is_file() {
        bail!(
            "{what} {} is not a regular file (a directory, a FIFO or a device): give the file itself",
            path.display()
        );
    }
    Ok((file, meta))
}

/// Read a regular file of at most `limit` bytes, with a message that names it.
pub fn read_limited(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let (file, meta) = open_regular(path, what)?;
    if meta.len() > limit {
        bail!(
            "{what} {} is larger than {limit} bytes: is it the right file?",
            path.display()
        );
    }
    let mut buf = Vec::with_capacity(meta.len() as usize + 1);
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| err!(Io, "cannot read {what} {}: {e}", path.display()))?;
    if buf.len() as u64 > limit {
        bail!(
            "{what} {} is larger than {limit} bytes: is it the right file?",
            path.display()
        );
    }
    Ok(buf)
}

/// Largest secret file byok reads.
const SECRET_LIMIT: u64 = 4096;

/// Read a secret (a PIN, an access token) from a file that only its owner can read.
///
/// Refuses a file that the group or others may read or write, as ssh does for keys:
/// a secret that others can read is no longer a secret. The bytes go straight into a
/// zeroizing buffer that is never reallocated.
pub fn read_secret_file(path: &Path, what: &str) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let (file, meta) = open_regular(path, what)?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "{what} {} is readable or writable by group or others (mode {:o}); run `chmod 600 {}` first",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(SECRET_LIMIT as usize + 1));
    file.take(SECRET_LIMIT + 1)
        .read_to_end(&mut buf)
        .map_err(|e| err!(Io, "cannot read {what} {}: {e}", path.display()))?;
    if buf.len() as u64 > SECRET_LIMIT {
        bail!(
            "{what} {} is larger than {SECRET_LIMIT} bytes: is it the right file?",
            path.display()
        );
    }
    Ok(buf)
}

/// Replace `path` with `bytes` atomically: readers see the old file or the new one, never a mix.
///
/// The bytes go to a temporary file in the same directory (created with `mode`), are flushed
/// to disk, and the file is renamed over `path`; the directory is flushed so the rename
/// survives a crash. Unlike [`write_new`] this overwrites on purpose: it is for state files.
pub fn write_replace(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_via_temp(path, bytes, mode, |tmp| {
        fs::rename(tmp, path).map_err(|e| err!(Io, "cannot replace {}: {e}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn write_new_never_overwrites_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.byok");
        write_new(&p, b"one", 0o644).unwrap();
        let e = write_new(&p, b"two", 0o644).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Exists);
        assert_eq!(fs::read(&p).unwrap(), b"one");
        assert_eq!(names(d.path()), ["out.byok"]);
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        // A dangling symlink is an existing name too: never written through.
        let link = d.path().join("link.byok");
        std::os::unix::fs::symlink(d.path().join("elsewhere"), &link).unwrap();
        assert!(write_new(&link, b"x", 0o644).is_err());
        assert!(!d.path().join("elsewhere").exists());
        let e = write_new(&d.path().join("no/such/dir/f"), b"x", 0o644).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
    }

    #[test]
    fn write_replace_replaces_whole() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        write_replace(&p, b"old", 0o600).unwrap();
        write_replace(&p, b"new", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"new");
        assert_eq!(names(d.path()), ["state.json"]);
    }

    #[test]
    fn temp_names() {
        assert!(is_temp_name(".K.pub.pem.tmp-0123456789abcdef"));
        assert!(!is_temp_name("K.pub.pem.tmp-0123456789abcdef"));
        assert!(!is_temp_name(".K.tmp-0123"));
        assert!(!is_temp_name(".K.tmp-0123456789abcdeg"));
    }

    #[test]
    fn reads_refuse_big_files_directories_and_fifos_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("big");
        fs::write(&big, vec![b'x'; 101]).unwrap();
        assert_eq!(read_limited(&big, 101, "f").unwrap().len(), 101);
        let e = read_limited(&big, 100, "plan").unwrap_err();
        assert!(e.message().contains("larger than 100 bytes"), "{e}");
        let e = read_limited(d.path(), 100, "plan").unwrap_err();
        assert!(e.message().contains("not a regular file"), "{e}");
        let fifo = d.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_limited(&fifo, 100, "KEK file").unwrap_err();
        assert!(e.message().contains("not a regular file"), "{e}");
        let e = read_secret_file(&fifo, "PIN file").unwrap_err();
        assert!(e.message().contains("not a regular file"), "{e}");
        let e = read_limited(&d.path().join("none"), 100, "plan").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::NotFound);
    }

    #[test]
    fn secrets_only_from_private_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pin");
        fs::write(&p, b"1234").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(&read_secret_file(&p, "PIN file").unwrap()[..], b"1234");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o660)).unwrap();
        let e = read_secret_file(&p, "PIN file").unwrap_err();
        assert!(
            e.message().contains("mode 660") && !e.message().contains("1234"),
            "{e}"
        );
        fs::write(&p, vec![b'1'; 5000]).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read_secret_file(&p, "PIN file").is_err());
    }
}
