//! The ceremony transcript: an append-only, hash-chained JSON Lines file.
//!
//! Every step of a ceremony appends one record, one JSON object on one line:
//!
//! ```json
//! {"seq":3,"prev":"<hex SHA-256 of line 2's bytes>","time":"2026-12-01T09:14:03Z",
//!  "step":"keygen","actor":"byok","inputs":{},"outputs":{"Contoso-…-Key001.pub.pem":"<hex>"},
//!  "hsm":{"label":"…","manufacturer":"…","model":"…","serial":"…","firmware":"…","hardware":"…"},
//!  "tool":{"name":"byok","version":"0.1.0"},"detail":{…}}
//! ```
//!
//! - `seq` counts from 0. `prev` is the SHA-256 of the previous record's exact line bytes
//!   (without its newline); for record 0 (step `open`) it is the SHA-256 of the plan
//!   file's bytes, which the `open` record also lists as `inputs.plan`. Editing,
//!   deleting or reordering any record breaks the chain at the next record.
//! - `inputs` and `outputs` map a name (a file in the ceremony directory, or a
//!   role such as `kek` or `public-key`) to the hex SHA-256 of its bytes.
//! - `hsm` is the token's identity (null for steps that do not touch it); `tool` is byok's.
//! - Each record is written with `O_APPEND` in one `write`, then `fsync`ed (and the
//!   directory too when the file is created) before the step is reported done.
//! - The last record, step `close`, ends the ceremony; nothing may follow it. Where the
//!   token can sign, it carries `signature`: an RSASSA-PKCS1-v1_5 SHA-256 signature
//!   (`CKM_SHA256_RSA_PKCS`) made in the HSM by the ceremony's transcript signer key
//!   over the close record's line **without** its `signature` field, i.e. the line's
//!   bytes up to `,"signature":` followed by `}`. The signer's SPKI is in the signature
//!   (base64) and its SHA-256 was recorded earlier, in the `signer` record, so the
//!   chain binds the key. See `docs/transcript.md` for checking it with openssl.
//!
//! The SHA-256 of the close record's line is the transcript's *digest*: the officers
//! write it (hex and PGP words) on the printed record and sign it, which protects the
//! whole chain even where the token could not sign.

use crate::{bail, err, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The format name the `open` record carries in `detail.format`.
pub const FORMAT: &str = "byok-transcript/1";
/// The signature algorithm of a signed close record.
pub const SIG_ALG: &str = "RSASSA-PKCS1-v1_5-SHA256";
/// Largest transcript byok reads.
const LIMIT: u64 = 64 << 20;

/// The token's identity as a record carries it: the HSM layer's own identity type.
pub use crate::hsm::TokenIdentity as HsmId;

/// The tool that wrote a record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    pub fn this() -> Tool {
        Tool {
            name: "byok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The HSM's signature on the close record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Always [`SIG_ALG`].
    pub alg: String,
    /// The signer key's label on the token.
    pub signer: String,
    /// The signer's SubjectPublicKeyInfo DER, standard base64.
    pub spki: String,
    /// Hex SHA-256 of the SPKI DER (as in the `signer` record).
    pub spki_sha256: String,
    /// The signature, standard base64.
    pub value: String,
}

/// One transcript record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub seq: u64,
    pub prev: String,
    pub time: String,
    pub step: String,
    pub actor: String,
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    pub hsm: Option<HsmId>,
    pub tool: Tool,
    #[serde(default)]
    pub detail: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

impl Record {
    /// A new record for `step` by `actor`; the writer fills `seq`, `prev` and `time`.
    pub fn new(step: &str, actor: &str) -> Record {
        Record {
            seq: 0,
            prev: String::new(),
            time: String::new(),
            step: step.into(),
            actor: actor.into(),
            inputs: BTreeMap::new(),
            outputs: BTreeMap::new(),
            hsm: None,
            tool: Tool::this(),
            detail: serde_json::Map::new(),
            signature: None,
        }
    }

    pub fn input(mut self, name: &str, sha256: &str) -> Record {
        self.inputs.insert(name.into(), sha256.into());
        self
    }

    pub fn output(mut self, name: &str, sha256: &str) -> Record {
        self.outputs.insert(name.into(), sha256.into());
        self
    }

    pub fn hsm(mut self, id: &HsmId) -> Record {
        self.hsm = Some(id.clone());
        self
    }

    pub fn detail(mut self, key: &str, value: impl Serialize) -> Record {
        self.detail.insert(
            key.into(),
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        );
        self
    }

    /// A string field of `detail`.
    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.detail.get(key).and_then(|v| v.as_str())
    }

    fn line(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| err!("internal: cannot encode a transcript record: {e}"))
    }
}

pub use crate::util::sha256_hex;

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
                        "{} already exists: this directory already holds a ceremony; use --resume to finish it",
                        path.display()
                    )
                } else {
                    err!("cannot create the transcript {}: {e}", path.display())
                }
            })?;
        file.sync_all()
            .map_err(|e| err!("cannot sync {}: {e}", path.display()))?;
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
                .open(path)
                .map_err(|e| err!("cannot open {}: {e}", path.display()))?;
            f.set_len(complete.len() as u64)
                .and_then(|_| f.sync_all())
                .map_err(|e| err!("cannot cut the torn last line of {}: {e}", path.display()))?;
        }
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| err!("cannot open {}: {e}", path.display()))?;
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
            bail!("internal: the transcript is closed");
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
        let hash: [u8; 32] = Sha256::digest(&line).into();
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.sync_all())
            .map_err(|e| {
                err!(
                    "cannot append to the transcript {}: {e}",
                    self.path.display()
                )
            })?;
        self.next_seq += 1;
        self.last_hash = hash;
        if rec.step == "close" {
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
    let (complete, torn) = split_torn(&bytes);
    let parsed = parse_chain(complete, true).map_err(|e| e.context(path.display()))?;
    if parsed.closed {
        bail!(
            "{}: the ceremony is already closed; nothing to resume (check it with `byok transcript verify`)",
            path.display()
        );
    }
    Ok((parsed.records, torn.map(sha256_hex)))
}

/// Split off a last line that has no newline (a write cut short).
fn split_torn(bytes: &[u8]) -> (&[u8], Option<&[u8]>) {
    match bytes.iter().rposition(|b| *b == b'\n') {
        Some(i) if i + 1 == bytes.len() => (bytes, None),
        Some(i) => (&bytes[..=i], Some(&bytes[i + 1..])),
        None if bytes.is_empty() => (bytes, None),
        None => (&bytes[..0], Some(bytes)),
    }
}

/// The parts of a transcript after its chain is checked.
#[derive(Debug)]
struct Parsed {
    records: Vec<Record>,
    lines: Vec<Vec<u8>>,
    closed: bool,
    last_line_hash: Option<[u8; 32]>,
}

/// Parse and check the chain of complete lines. `open_ok`: an unclosed chain is fine
/// (resume); otherwise it is an error.
fn parse_chain(bytes: &[u8], open_ok: bool) -> Result<Parsed> {
    if bytes.is_empty() {
        if open_ok {
            return Ok(Parsed {
                records: vec![],
                lines: vec![],
                closed: false,
                last_line_hash: None,
            });
        }
        bail!("the transcript is empty: the ceremony never started");
    }
    if bytes.last() != Some(&b'\n') {
        let n = bytes.iter().filter(|b| **b == b'\n').count();
        bail!(
            "line {} is broken (no newline at its end): the transcript was cut short or a record was truncated",
            n + 1
        );
    }
    let mut records: Vec<Record> = Vec::new();
    let mut lines = Vec::new();
    let mut prev_hash: Option<[u8; 32]> = None;
    let mut closed_at: Option<u64> = None;
    let mut signer_fp: Option<String> = None;
    for (i, line) in bytes[..bytes.len() - 1].split(|b| *b == b'\n').enumerate() {
        let at = format!("record {i} (line {})", i + 1);
        if let Some(c) = closed_at {
            bail!("{at} follows the close record (record {c}): nothing may be appended to a closed ceremony");
        }
        let rec: Record = serde_json::from_slice(line)
            .map_err(|e| err!("{at} is broken: not a transcript record ({e})"))?;
        if rec.seq != i as u64 {
            bail!(
                "{at} has seq {}, expected {i}: records were deleted, inserted or reordered",
                rec.seq
            );
        }
        match prev_hash {
            None => {
                if rec.step != "open" {
                    bail!(
                        "{at} is step {:?}; a transcript starts with \"open\"",
                        rec.step
                    );
                }
                match rec.inputs.get("plan") {
                    Some(p) if *p == rec.prev => {}
                    _ => bail!(
                        "{at}: prev is not the plan's SHA-256 listed in inputs.plan: the open record was edited"
                    ),
                }
            }
            Some(h) => {
                if rec.prev != hex::encode(h) {
                    bail!(
                        "{at}: prev is not the SHA-256 of record {}'s line: record {} was edited, or records were removed or reordered",
                        i - 1,
                        i - 1
                    );
                }
                if rec.step == "open" {
                    bail!("{at}: a second open record");
                }
            }
        }
        if rec.step == "signer" {
            signer_fp = rec.detail_str("spki_sha256").map(str::to_string);
        }
        if rec.step == "close" {
            closed_at = Some(rec.seq);
            if let Some(sig) = &rec.signature {
                check_signature(line, sig, signer_fp.as_deref()).map_err(|e| e.context(&at))?;
            } else if signer_fp.is_some() {
                bail!("{at}: the close record is unsigned, but the ceremony recorded a transcript signer: the signature was removed");
            } else if rec.detail_str("unsigned").is_none() {
                bail!(
                    "{at}: the close record has neither a signature nor the reason it is unsigned"
                );
            }
        } else if rec.signature.is_some() {
            bail!("{at}: only the close record may carry a signature");
        }
        prev_hash = Some(Sha256::digest(line).into());
        records.push(rec);
        lines.push(line.to_vec());
    }
    if closed_at.is_none() && !open_ok {
        let last = records.last().map(|r| (r.seq, r.step.clone()));
        let (seq, step) = last.unwrap_or((0, String::new()));
        bail!(
            "the transcript was never closed: its last record is {seq} (step {step:?}); the ceremony did not finish (finish it with `byok ceremony run --resume`)"
        );
    }
    Ok(Parsed {
        records,
        lines,
        closed: closed_at.is_some(),
        last_line_hash: prev_hash,
    })
}

/// The bytes a close record's signature covers: its line up to `,"signature":`, then `}`.
pub fn signed_body(line: &[u8]) -> Option<Vec<u8>> {
    let key = b",\"signature\":";
    let i = line.windows(key.len()).rposition(|w| w == key)?;
    let mut body = line[..i].to_vec();
    body.push(b'}');
    Some(body)
}

fn check_signature(line: &[u8], sig: &Signature, recorded_fp: Option<&str>) -> Result<()> {
    use rsa::pkcs8::DecodePublicKey;
    if sig.alg != SIG_ALG {
        bail!("signature algorithm {:?} is not {SIG_ALG}", sig.alg);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let spki = b64
        .decode(&sig.spki)
        .map_err(|_| err!("the signer's SPKI is not base64"))?;
    let fp = sha256_hex(&spki);
    if fp != sig.spki_sha256 {
        bail!("the signer's SPKI does not match its stated SHA-256");
    }
    match recorded_fp {
        Some(r) if r == fp => {}
        Some(r) => bail!(
            "the close record is signed by key {fp}, but the signer record names {r}: the signature is not the ceremony's"
        ),
        None => bail!("the close record is signed, but no signer record precedes it"),
    }
    let key = rsa::PublicKey::from_public_key_der(&spki)
        .map_err(|e| err!("the signer's SPKI is not an RSA public key ({e})"))?;
    let value = b64
        .decode(&sig.value)
        .map_err(|_| err!("the signature is not base64"))?;
    let body = signed_body(line).ok_or_else(|| err!("the close line has no signature field"))?;
    // The line must be exactly the signed body with the signature as its last field.
    let sig_json =
        serde_json::to_vec(sig).map_err(|e| err!("internal: cannot encode the signature: {e}"))?;
    let mut expected = body[..body.len() - 1].to_vec();
    expected.extend_from_slice(b",\"signature\":");
    expected.extend_from_slice(&sig_json);
    expected.push(b'}');
    if expected != line {
        bail!("the close record's signature is not its last field as byok writes it: the line was rearranged");
    }
    key.pkcs1v15_verify::<Sha256>(&body, &value).map_err(|_| {
        err!("the HSM signature on the close record does not verify: the close record was edited")
    })?;
    Ok(())
}

/// What `byok transcript verify` reports.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub file: String,
    pub ok: bool,
    pub records: usize,
    pub ceremony: Option<String>,
    pub plan_sha256: String,
    pub hsm: Option<HsmId>,
    pub signed: bool,
    pub signer_spki_sha256: Option<String>,
    pub unsigned_reason: Option<String>,
    /// SHA-256 of the close record's line: the digest the officers sign.
    pub digest: String,
    pub digest_words: String,
    pub first_time: String,
    pub last_time: String,
}

/// A verified, closed transcript.
#[derive(Debug)]
pub struct Verified {
    pub report: VerifyReport,
    pub records: Vec<Record>,
    pub lines: Vec<Vec<u8>>,
}

/// Verify a closed transcript: every line a record, the hash chain unbroken from the
/// plan's hash, `seq` in order, a close record last with a valid HSM signature (or the
/// stated reason it has none). The error names the first bad record and why.
pub fn verify(path: &Path) -> Result<Verified> {
    let bytes = crate::fsutil::read_limited(path, LIMIT, "transcript")?;
    let parsed = parse_chain(&bytes, false).map_err(|e| e.context(path.display()))?;
    let first = parsed
        .records
        .first()
        .ok_or_else(|| err!("{}: empty transcript", path.display()))?;
    let close = parsed
        .records
        .last()
        .ok_or_else(|| err!("{}: empty transcript", path.display()))?;
    let digest: [u8; 32] = parsed.last_line_hash.unwrap_or_default();
    let report = VerifyReport {
        file: path.display().to_string(),
        ok: true,
        records: parsed.records.len(),
        ceremony: first.detail_str("ceremony").map(str::to_string),
        plan_sha256: first.prev.clone(),
        hsm: close.hsm.clone().or_else(|| first.hsm.clone()),
        signed: close.signature.is_some(),
        signer_spki_sha256: close.signature.as_ref().map(|s| s.spki_sha256.clone()),
        unsigned_reason: close.detail_str("unsigned").map(str::to_string),
        digest: hex::encode(digest),
        digest_words: crate::words::to_words(&digest),
        first_time: first.time.clone(),
        last_time: close.time.clone(),
    };
    Ok(Verified {
        report,
        records: parsed.records,
        lines: parsed.lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_body_is_the_line_without_the_signature() {
        let line = br#"{"a":1,"detail":{},"signature":{"x":"y"}}"#;
        assert_eq!(
            signed_body(line).unwrap(),
            br#"{"a":1,"detail":{}}"#.to_vec()
        );
    }
}
