//! Writing a transcript: create it, append records (each written in one `write` with
//! `O_APPEND` and `fsync`ed before the step is reported done), and reopen an unfinished
//! one to resume, cutting a torn last line.

use super::verify::{parse_chain, split_torn};
use super::{Record, Signature, StepName, LIMIT};
use crate::util::sha256_hex;
use crate::{bail, err, Result};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// An open transcript that records are appended to.
pub struct Writer {
    file: File,
    pub path: PathBuf,
    next_seq: u64,
    last_hash: [u8; 32],
    closed: bool,
    /// The records written so far (read back on resume, then appended).
    pub records: Vec<Record>,
}

impl Writer {
    /// Create a new transcript (the file must not exist); `anchor` is the plan's SHA-256.
    pub fn create(path: &Path, anchor: [u8; 32]) -> Result<Writer> {
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o644)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    err!(
                        Exists, "{} already exists: this directory already holds a ceremony; use --resume to finish it",
                        path.display()
                    )
                } else {
                    err!(Io, "cannot create the transcript {}: {e}", path.display())
                }
            })?;
        file.sync_all()
            .map_err(|e| err!(Io, "cannot sync {}: {e}", path.display()))?;
        if let Some(dir) = path.parent() {
            crate::fsutil::sync_dir(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            });
        }
        Ok(Writer {
            file,
            path: path.to_path_buf(),
            next_seq: 0,
            last_hash: anchor,
            closed: false,
            records: Vec::new(),
        })
    }

    /// Reopen an unfinished transcript to append to it.
    ///
    /// The chain must verify up to its last complete line. A final line without its
    /// newline was being written when the process died: it was never reported done,
    /// so it is cut off, and its bytes' SHA-256 is returned for the resume record.
    pub fn reopen(path: &Path) -> Result<(Writer, Option<String>)> {
        let bytes = crate::fsutil::read_limited(path, LIMIT, "transcript")?;
        let (complete, torn) = split_torn(&bytes);
        let parsed = parse_chain(complete, true).map_err(|e| e.context(path.display()))?;
        if parsed.closed {
            bail!(
                "{}: the ceremony is already closed; nothing to resume (check it with `byok transcript verify`)",
                path.display()
            );
        }
        let torn_hash = torn.map(sha256_hex);
        if torn.is_some() {
            let f = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
                .map_err(|e| err!(Io, "cannot open {}: {e}", path.display()))?;
            f.set_len(complete.len() as u64)
                .and_then(|_| f.sync_all())
                .map_err(|e| {
                    err!(
                        Io,
                        "cannot cut the torn last line of {}: {e}",
                        path.display()
                    )
                })?;
        }
        // Never through a link, never blocking: the file was read as a regular file above,
        // and must still be one (a swap for a link or a FIFO fails here).
        let file = OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| err!(Io, "cannot open {}: {e}", path.display()))?;
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            bail!("{} is not a regular file: refused", path.display());
        }
        let last_hash = match parsed.last_line_hash {
            Some(h) => h,
            None => bail!(
                "{}: the transcript is empty; the ceremony never started: remove the directory and run again without --resume",
                path.display()
            ),
        };
        Ok((
            Writer {
                file,
                path: path.to_path_buf(),
                next_seq: parsed.records.len() as u64,
                last_hash,
                closed: false,
                records: parsed.records,
            },
            torn_hash,
        ))
    }

    /// Append a record: fill `seq`, `prev`, `time`; write it in one `write` with
    /// `O_APPEND`; `fsync`. Returns the record as written.
    pub fn append(&mut self, rec: Record) -> Result<Record> {
        self.append_inner(rec, None::<fn(&[u8]) -> Result<Signature>>)
    }

    /// Append the closing record, signed by `sign` over its line without the
    /// signature (see the module docs); `sign` may return `Ok(None)`-like results by
    /// the caller choosing [`Writer::append`] instead.
    pub fn append_signed(
        &mut self,
        rec: Record,
        sign: impl FnOnce(&[u8]) -> Result<Signature>,
    ) -> Result<Record> {
        self.append_inner(rec, Some(sign))
    }

    fn append_inner(
        &mut self,
        mut rec: Record,
        sign: Option<impl FnOnce(&[u8]) -> Result<Signature>>,
    ) -> Result<Record> {
        if self.closed {
            bail!(Internal, "internal: the transcript is closed");
        }
        rec.seq = self.next_seq;
        rec.prev = hex::encode(self.last_hash);
        rec.time = crate::util::now_rfc3339();
        rec.signature = None;
        if let Some(sign) = sign {
            let body = rec.line()?;
            rec.signature = Some(sign(&body)?);
        }
        let mut line = rec.line()?;
        let hash = crate::util::sha256(&line);
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.sync_all())
            .map_err(|e| {
                err!(
                    Io,
                    "cannot append to the transcript {}: {e}",
                    self.path.display()
                )
            })?;
        self.next_seq += 1;
        self.last_hash = hash;
        if rec.step == StepName::Close {
            self.closed = true;
        }
        self.records.push(rec.clone());
        Ok(rec)
    }

    /// The SHA-256 of the last line written.
    pub fn last_hash(&self) -> [u8; 32] {
        self.last_hash
    }
}

/// Read an unfinished transcript without changing it: the records of its complete
/// lines (the chain checked) and the SHA-256 of a torn last line, if any. A closed
/// transcript is an error: there is nothing to resume.
pub fn read_unfinished(path: &Path) -> Result<(Vec<Record>, Option<String>)> {
    let bytes = crate::fsutil::read_limited(path, LIMIT, "transcript")?;
    unfinished_bytes(&bytes, path)
}

/// [`read_unfinished`] on a transcript's bytes already read (`path` names it in messages).
pub fn unfinished_bytes(bytes: &[u8], path: &Path) -> Result<(Vec<Record>, Option<String>)> {
    let (complete, torn) = split_torn(bytes);
    let parsed = parse_chain(complete, true).map_err(|e| e.context(path.display()))?;
    if parsed.closed {
        bail!(
            "{}: the ceremony is already closed; nothing to resume (check it with `byok transcript verify`)",
            path.display()
        );
    }
    Ok((parsed.records, torn.map(sha256_hex)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_hash() -> [u8; 32] {
        crate::util::sha256(b"plan")
    }

    fn open() -> Record {
        Record::new(StepName::Open, "byok").input("plan", &hex::encode(plan_hash()))
    }

    #[test]
    fn records_chain_and_a_torn_last_line_is_cut_on_reopen() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.jsonl");
        let mut w = Writer::create(&p, plan_hash()).unwrap();
        let r0 = w.append(open()).unwrap();
        assert_eq!(
            (r0.seq, r0.prev.as_str()),
            (0, hex::encode(plan_hash()).as_str())
        );
        let r1 = w.append(Record::new(StepName::Preflight, "byok")).unwrap();
        assert_eq!(r1.seq, 1);
        assert!(
            Writer::create(&p, plan_hash()).is_err(),
            "never over an existing transcript"
        );
        drop(w);
        // A kill mid-write leaves a line without its newline.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(br#"{"seq":2,"prev":"#).unwrap();
        let (records, torn) = read_unfinished(&p).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(torn, Some(sha256_hex(br#"{"seq":2,"prev":"#)));
        let (mut w, torn) = Writer::reopen(&p).unwrap();
        assert!(torn.is_some());
        let r2 = w.append(Record::new(StepName::Selftest, "byok")).unwrap();
        assert_eq!(r2.seq, 2);
        w.append(Record::new(StepName::Close, "byok").detail("unsigned", "test"))
            .unwrap();
        assert!(
            w.append(Record::new(StepName::Wrap, "byok")).is_err(),
            "closed"
        );
        let v = super::super::verify(&p).unwrap();
        assert_eq!(v.records.len(), 4);
        let e = Writer::reopen(&p).err().expect("closed");
        assert!(e.message().contains("already closed"), "{e}");
    }

    #[test]
    fn a_changed_record_breaks_the_chain_on_reopen() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.jsonl");
        let mut w = Writer::create(&p, plan_hash()).unwrap();
        w.append(open()).unwrap();
        w.append(Record::new(StepName::Preflight, "byok").detail("verdict", "composite"))
            .unwrap();
        w.append(Record::new(StepName::Selftest, "byok")).unwrap();
        drop(w);
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replace("composite", "native");
        std::fs::write(&p, text).unwrap();
        let e = Writer::reopen(&p).err().expect("refused");
        assert!(e.message().contains("record 1 was edited"), "{e}");
    }
}
