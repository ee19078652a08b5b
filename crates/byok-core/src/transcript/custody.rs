//! The chain of custody from the offline ceremony to the connected import.
//!
//! The packages are wrapped under the vaults' *public* KEKs, so anyone can make packages
//! that look right, and anyone can write a transcript whose hash chain holds. What no one
//! else can make is the transcript whose digest the officers wrote on the paper record and
//! signed at the close of the ceremony they witnessed. The connected side therefore takes
//! that digest from the officers (`ceremony import --digest`, or typed at the prompt) and
//! imports only the ceremony directory whose offline transcript has exactly that digest.
//! Because the digest is the SHA-256 of the close record's line, and every line carries
//! the SHA-256 of the one before it down to the plan's hash, the digest binds every
//! record: the HSM's identity, the signer key, each KEK confirmed, each public key and
//! package hash, and the manifest's hash.
//!
//! On top of the digest, [`check_offline`] refuses what a genuine ceremony never
//! produces: an unsigned close, no signer record, a transcript that is not an offline
//! ceremony's, and a token other than the one the plan pins.

use super::{HsmId, StepName, Verified, FORMAT};
use crate::{bail, err, Mode, Result};
use serde::Serialize;

/// Bytes in a transcript digest (SHA-256).
pub const DIGEST_LEN: usize = 32;

/// The digest the officers signed, as they give it: 64 hex digits (any case; spaces,
/// colons and line breaks between them ignored), or the 32 PGP words as byok printed
/// them (case and spacing forgiving; a wrong word is named).
pub fn parse_digest(text: &str) -> Result<[u8; DIGEST_LEN]> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if compact.is_empty() {
        bail!("the digest is empty: give the 64 hex digits or the 32 words the officers signed");
    }
    let bytes = if compact.chars().all(|c| c.is_ascii_hexdigit()) {
        if compact.len() != 2 * DIGEST_LEN {
            bail!(
                "the digest has {} hex digits, not {}: copy it again from the signed record",
                compact.len(),
                2 * DIGEST_LEN
            );
        }
        hex::decode(&compact).map_err(|e| err!("the digest is not hex ({e})"))?
    } else {
        crate::words::from_words(text, DIGEST_LEN).map_err(|e| e.context("the digest's words"))?
    };
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&bytes);
    Ok(out)
}

/// What the officers compare with their paper record before the import sends anything.
#[derive(Debug, Clone, Serialize)]
pub struct Custody {
    /// The offline transcript's digest, hex.
    pub digest: String,
    /// The same digest in PGP words.
    pub digest_words: String,
    /// The ceremony id the transcript opened with.
    pub ceremony: Option<String>,
    /// The HSM the ceremony ran on.
    pub hsm: HsmId,
    /// Hex SHA-256 of the transcript signer's SubjectPublicKeyInfo.
    pub signer_spki_sha256: String,
    /// What a rehearsal lets through that a ceremony would refuse.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Check that a verified transcript is the offline ceremony the officers signed:
/// its digest is `expected`, it is an offline ceremony's transcript, it recorded its
/// signer and closed with that signer's signature (which [`super::verify`] checked), and
/// it ran on the token `token_serial` when the plan pins one. Every refusal is an
/// integrity error: the directory is not to be imported.
pub fn check_offline(
    v: &Verified,
    expected: &[u8; DIGEST_LEN],
    token_serial: Option<&str>,
    mode: Mode,
) -> Result<Custody> {
    let r = &v.report;
    let found = &r.digest;
    let want = hex::encode(expected);
    if *found != want {
        // The found digest is named by its first and last words only: printed in full, it
        // could be pasted back as the "officers'" digest.
        let fbytes = hex::decode(found).unwrap_or_default();
        let (ff, fl) = crate::words::first_last(&fbytes);
        bail!(
            Integrity,
            "the offline transcript's digest ({ff} … {fl}) is not the one the officers signed ({want}): this is not the ceremony they signed (forged, swapped or another run); stop, nothing was sent"
        );
    }
    let open = v
        .records
        .first()
        .ok_or_else(|| err!(Integrity, "the offline transcript is empty"))?;
    if open.detail_str("format") != Some(FORMAT) || open.detail_str("run").is_some() {
        bail!(
            Integrity,
            "the transcript is not an offline ceremony's (its open record lacks format {FORMAT:?}, or is an import's): give the ceremony directory's transcript.jsonl"
        );
    }
    if !r.signed {
        let why = v
            .records
            .iter()
            .find(|rec| rec.step == StepName::Signer)
            .and_then(|rec| rec.detail_str("unavailable"))
            .or(r.unsigned_reason.as_deref())
            .unwrap_or("no reason given");
        bail!(
            Integrity,
            "the offline transcript is UNSIGNED ({why}): the import takes only a ceremony whose close the HSM signed; stop and investigate"
        );
    }
    if open.detail.get("rehearsal") == Some(&serde_json::Value::Bool(true)) && !mode.is_rehearsal()
    {
        bail!(
            Integrity,
            "the offline transcript is a rehearsal's (its open record says \"rehearsal\": true): a rehearsal is never imported as a ceremony"
        );
    }
    let signer = v
        .records
        .iter()
        .find(|rec| rec.step == StepName::Signer)
        .ok_or_else(|| {
            err!(
                Integrity,
                "the offline transcript has no signer record: a ceremony byok ran always records its transcript signer; stop and investigate"
            )
        })?;
    let Some(signer_fp) = signer.detail_str("spki_sha256") else {
        bail!(
            Integrity,
            "the offline transcript's signer record names no key: stop and investigate"
        );
    };
    if r.signer_spki_sha256.as_deref() != Some(signer_fp) {
        bail!(
            Integrity,
            "the offline transcript's close record is not signed by the signer it recorded ({signer_fp}): stop and investigate"
        );
    }
    let Some(hsm) = r.hsm.clone() else {
        bail!(
            Integrity,
            "the offline transcript does not name the HSM it ran on"
        );
    };
    if let Some(rec) = v
        .records
        .iter()
        .find(|rec| rec.hsm.as_ref().is_some_and(|h| h.serial != hsm.serial))
    {
        bail!(
            Integrity,
            "the offline transcript names two HSMs: record {} is serial {:?}, the close serial {:?}; stop and investigate",
            rec.seq,
            rec.hsm.as_ref().map(|h| h.serial.as_str()).unwrap_or_default(),
            hsm.serial
        );
    }
    let mut warnings = Vec::new();
    if let Some(pin) = token_serial.filter(|pin| hsm.serial != *pin) {
        if mode.is_rehearsal() {
            warnings.push(format!(
                "REHEARSAL: the offline ceremony ran on HSM serial {:?}, not the plan's token_serial {pin:?}; a ceremony's import would refuse it",
                hsm.serial
            ));
        } else {
            bail!(
                Integrity,
                "the offline ceremony ran on HSM serial {:?}, but the plan pins token_serial {pin:?}: this is not the ceremony's token; stop and investigate",
                hsm.serial
            );
        }
    }
    Ok(Custody {
        digest: found.clone(),
        digest_words: r.digest_words.clone(),
        ceremony: r.ceremony.clone(),
        hsm,
        signer_spki_sha256: signer_fp.to_string(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e58294f2e9a227486e8b061b31cc528fd7fa3f19e58294f2e9a227486e8b061b";

    #[test]
    fn hex_digests_are_read_forgivingly() {
        let want: [u8; 32] = hex::decode(HEX).unwrap().try_into().unwrap();
        assert_eq!(parse_digest(HEX).unwrap(), want);
        assert_eq!(parse_digest(&HEX.to_uppercase()).unwrap(), want);
        let spaced: Vec<String> = HEX
            .as_bytes()
            .chunks(8)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        assert_eq!(
            parse_digest(&format!(" {}\n", spaced.join(" "))).unwrap(),
            want
        );
        let colons: Vec<String> = HEX
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        assert_eq!(parse_digest(&colons.join(":")).unwrap(), want);
        assert_eq!(
            parse_digest(&HEX[..62]).unwrap_err().message(),
            "the digest has 62 hex digits, not 64: copy it again from the signed record"
        );
        assert!(parse_digest("  ")
            .unwrap_err()
            .message()
            .starts_with("the digest is empty"));
    }

    #[test]
    fn word_digests_are_read_and_typos_named() {
        let want: [u8; 32] = hex::decode(HEX).unwrap().try_into().unwrap();
        let words = crate::words::to_words(&want);
        assert_eq!(parse_digest(&words).unwrap(), want);
        assert_eq!(parse_digest(&words.to_lowercase()).unwrap(), want);
        let lines = crate::words::to_word_lines(&want).join("\n    ");
        assert_eq!(parse_digest(&lines).unwrap(), want);
        let typo = words.replacen("treadmill", "treadmil", 1);
        assert_eq!(
            parse_digest(&typo).unwrap_err().message(),
            "the digest's words: word 5 (\"treadmil\") is not in the PGP word list: did you mean \"treadmill\"?"
        );
    }
}
