//! Reading a transcript: the hash chain from the plan's hash, the order of records, the
//! close record and the HSM's signature on it. The first wrong record is named.

use super::{HsmId, Record, Signature, StepName, LIMIT, SIG_ALG};
use crate::identity::BinaryIdentity;
use crate::util::sha256_hex;
use crate::{bail, err, Result};
use base64::Engine;
use serde::Serialize;
use sha2::Sha256;
use std::path::Path;

/// Split off a last line that has no newline (a write cut short).
pub(super) fn split_torn(bytes: &[u8]) -> (&[u8], Option<&[u8]>) {
    match bytes.iter().rposition(|b| *b == b'\n') {
        Some(i) if i + 1 == bytes.len() => (bytes, None),
        Some(i) => (&bytes[..=i], Some(&bytes[i + 1..])),
        None if bytes.is_empty() => (bytes, None),
        None => (&bytes[..0], Some(bytes)),
    }
}

/// The parts of a transcript after its chain is checked.
#[derive(Debug)]
pub(super) struct Parsed {
    pub(super) records: Vec<Record>,
    pub(super) lines: Vec<Vec<u8>>,
    pub(super) closed: bool,
    pub(super) last_line_hash: Option<[u8; 32]>,
}

/// Parse and check the chain of complete lines. `open_ok`: an unclosed chain is fine
/// (resume); otherwise it is an error.
pub(super) fn parse_chain(bytes: &[u8], open_ok: bool) -> Result<Parsed> {
    if bytes.is_empty() {
        if open_ok {
            return Ok(Parsed {
                records: vec![],
                lines: vec![],
                closed: false,
                last_line_hash: None,
            });
        }
        bail!(
            Integrity,
            "the transcript is empty: the ceremony never started"
        );
    }
    if bytes.last() != Some(&b'\n') {
        let n = bytes.iter().filter(|b| **b == b'\n').count();
        bail!(
            Integrity, "line {} is broken (no newline at its end): the transcript was cut short or a record was truncated",
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
            bail!(Integrity, "{at} follows the close record (record {c}): nothing may be appended to a closed ceremony");
        }
        crate::json::check_unique_keys(line).map_err(|e| e.context(&at))?;
        let rec: Record = serde_json::from_slice(line)
            .map_err(|e| err!(Integrity, "{at} is broken: not a transcript record ({e})"))?;
        if rec.seq != i as u64 {
            bail!(
                Integrity,
                "{at} has seq {}, expected {i}: records were deleted, inserted or reordered",
                rec.seq
            );
        }
        match prev_hash {
            None => {
                if rec.step != StepName::Open {
                    bail!(
                        Integrity,
                        "{at} is step {:?}; a transcript starts with \"open\"",
                        rec.step
                    );
                }
                match rec.inputs.get("plan") {
                    Some(p) if *p == rec.prev => {}
                    _ => bail!(
                        Integrity, "{at}: prev is not the plan's SHA-256 listed in inputs.plan: the open record was edited"
                    ),
                }
            }
            Some(h) => {
                if rec.prev != hex::encode(h) {
                    bail!(
                        Integrity, "{at}: prev is not the SHA-256 of record {}'s line: record {} was edited, or records were removed or reordered",
                        i - 1,
                        i - 1
                    );
                }
                if rec.step == StepName::Open {
                    bail!(Integrity, "{at}: a second open record");
                }
            }
        }
        if rec.step == StepName::Signer {
            signer_fp = rec.detail_str("spki_sha256").map(str::to_string);
        }
        if rec.step == StepName::Close {
            closed_at = Some(rec.seq);
            if let Some(sig) = &rec.signature {
                check_signature(line, sig, signer_fp.as_deref()).map_err(|e| e.context(&at))?;
            } else if signer_fp.is_some() {
                bail!(Integrity, "{at}: the close record is unsigned, but the ceremony recorded a transcript signer: the signature was removed");
            } else if rec.detail_str("unsigned").is_none() {
                bail!(
                    Integrity,
                    "{at}: the close record has neither a signature nor the reason it is unsigned"
                );
            }
        } else if rec.signature.is_some() {
            bail!(
                Integrity,
                "{at}: only the close record may carry a signature"
            );
        }
        prev_hash = Some(crate::util::sha256(line));
        records.push(rec);
        lines.push(line.to_vec());
    }
    if closed_at.is_none() && !open_ok {
        let last = records.last().map(|r| (r.seq, r.step.as_str()));
        let (seq, step) = last.unwrap_or((0, ""));
        bail!(
            Integrity, "the transcript was never closed: its last record is {seq} (step {step:?}); the ceremony did not finish (finish it with `byok ceremony run --resume`)"
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
        bail!(
            Integrity,
            "signature algorithm {:?} is not {SIG_ALG}",
            sig.alg
        );
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let spki = b64
        .decode(&sig.spki)
        .map_err(|_| err!(Integrity, "the signer's SPKI is not base64"))?;
    let fp = sha256_hex(&spki);
    if fp != sig.spki_sha256 {
        bail!(
            Integrity,
            "the signer's SPKI does not match its stated SHA-256"
        );
    }
    match recorded_fp {
        Some(r) if r == fp => {}
        Some(r) => bail!(
            Integrity, "the close record is signed by key {fp}, but the signer record names {r}: the signature is not the ceremony's"
        ),
        None => bail!(Integrity, "the close record is signed, but no signer record precedes it"),
    }
    let key = rsa::PublicKey::from_public_key_der(&spki).map_err(|e| {
        err!(
            Integrity,
            "the signer's SPKI is not an RSA public key ({e})"
        )
    })?;
    let value = b64
        .decode(&sig.value)
        .map_err(|_| err!(Integrity, "the signature is not base64"))?;
    let body = signed_body(line)
        .ok_or_else(|| err!(Integrity, "the close line has no signature field"))?;
    // The line must be exactly the signed body with the signature as its last field.
    let sig_json = serde_json::to_vec(sig)
        .map_err(|e| err!(Internal, "internal: cannot encode the signature: {e}"))?;
    let mut expected = body[..body.len() - 1].to_vec();
    expected.extend_from_slice(b",\"signature\":");
    expected.extend_from_slice(&sig_json);
    expected.push(b'}');
    if expected != line {
        bail!(Integrity, "the close record's signature is not its last field as byok writes it: the line was rearranged");
    }
    key.pkcs1v15_verify::<Sha256>(&body, &value).map_err(|_| {
        err!(
            Integrity,
            "the HSM signature on the close record does not verify: the close record was edited"
        )
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
    /// The binary that opened the transcript (its `open` record's detail `binary`); none
    /// in transcripts written before byok recorded it.
    pub binary: Option<BinaryIdentity>,
    /// Other binaries that resumed the run (their `resume` records), each once.
    pub resumed_by: Vec<BinaryIdentity>,
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
    verify_bytes(&bytes, path)
}

/// [`verify`] on a transcript's bytes already read (`path` names it in messages), so a
/// caller that also hashes the file checks exactly the bytes it hashed.
pub fn verify_bytes(bytes: &[u8], path: &Path) -> Result<Verified> {
    let parsed = parse_chain(bytes, false).map_err(|e| e.context(path.display()))?;
    let first = parsed
        .records
        .first()
        .ok_or_else(|| err!(Integrity, "{}: empty transcript", path.display()))?;
    let close = parsed
        .records
        .last()
        .ok_or_else(|| err!(Integrity, "{}: empty transcript", path.display()))?;
    let digest: [u8; 32] = parsed.last_line_hash.unwrap_or_default();
    let binary =
        BinaryIdentity::from_detail(&first.detail).map_err(|e| e.context(path.display()))?;
    let mut resumed_by: Vec<BinaryIdentity> = Vec::new();
    for r in parsed.records.iter().filter(|r| r.step == StepName::Resume) {
        if let Some(b) =
            BinaryIdentity::from_detail(&r.detail).map_err(|e| e.context(path.display()))?
        {
            if binary.as_ref() != Some(&b) && !resumed_by.contains(&b) {
                resumed_by.push(b);
            }
        }
    }
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
        binary,
        resumed_by,
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
