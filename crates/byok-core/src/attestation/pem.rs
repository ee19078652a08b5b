//! PEM bundles (certificate chains, root keys) split into DER blocks.
//!
//! Each block is checked and decoded by `pem-rfc7468`. That crate decodes one document
//! (its input must end at the END line) and has no iterator over a bundle, so the only
//! hand-written part is finding where each block starts and ends; text between blocks
//! (comments, `subject=` lines from openssl) is ignored.

use crate::error::Result;
use crate::{bail, err};

/// The label of a boundary line (`-----BEGIN X-----` gives `X` for `prefix` BEGIN).
fn boundary<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    line.strip_prefix(prefix)?.strip_suffix("-----")
}

/// Decode one block: `text` runs from its BEGIN line to the end of its END line.
fn decode_block(label: &str, text: &str) -> Result<Vec<u8>> {
    let bad = |e: pem_rfc7468::Error| {
        err!("malformed PEM: the {label} block is not valid base64 PEM ({e})").with_source(e)
    };
    // Detect the line width: bundles are wrapped at 64 (openssl) or 76 columns, or not
    // at all.
    let mut decoder = pem_rfc7468::Decoder::new_detect_wrap(text.as_bytes()).map_err(bad)?;
    let mut der = Vec::new();
    decoder.decode_to_end(&mut der).map_err(bad)?;
    Ok(der)
}

/// All PEM blocks of a text, as (label, DER), in order.
pub(crate) fn blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    // The open block: its label and where its BEGIN line starts.
    let mut open: Option<(&str, usize)> = None;
    let mut at = 0usize;
    for line in text.split_inclusive('\n') {
        let start = at + (line.len() - line.trim_start().len());
        at += line.len();
        let trimmed = line.trim();
        if let Some(label) = boundary(trimmed, "-----BEGIN ") {
            if let Some((outer, _)) = open {
                bail!("malformed PEM: BEGIN {label} inside the {outer} block");
            }
            open = Some((label, start));
        } else if let Some(label) = boundary(trimmed, "-----END ") {
            let Some((begin_label, begin)) = open.take() else {
                bail!("malformed PEM: END {label} without BEGIN");
            };
            if begin_label != label {
                bail!("malformed PEM: BEGIN {begin_label} closed by END {label}");
            }
            let block = text.get(begin..at).unwrap_or_default();
            out.push((label.to_string(), decode_block(label, block)?));
        }
    }
    if let Some((label, _)) = open {
        bail!("malformed PEM: the {label} block is not closed");
    }
    Ok(out)
}

/// The DER of each `CERTIFICATE` block (other blocks are skipped).
pub(crate) fn certificates(text: &str) -> Result<Vec<Vec<u8>>> {
    Ok(blocks(text)?
        .into_iter()
        .filter(|(label, _)| label == "CERTIFICATE")
        .map(|(_, der)| der)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const CHAIN: &str =
        include_str!("../../../../tests/fixtures/attestation/gcp-ec-p256-chain.pem");

    fn pem(label: &str, der: &[u8], width: usize) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(width)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn bundle_with_junk_between_blocks() {
        let a: Vec<u8> = (0u8..100).collect();
        let b = vec![0x30, 0x00];
        let text = format!(
            "subject=CN = something\nissuer=...\n\n{}   # a comment\n{}\r\ntrailing text",
            pem("CERTIFICATE", &a, 64),
            pem("PUBLIC KEY", &b, 76).replace('\n', "\r\n"),
        );
        let got = blocks(&text).expect("splits");
        assert_eq!(
            got,
            vec![
                ("CERTIFICATE".to_string(), a.clone()),
                ("PUBLIC KEY".to_string(), b)
            ]
        );
        assert_eq!(certificates(&text).expect("certs"), vec![a.clone()]);
        // Unwrapped base64 (one long line) is read too.
        assert_eq!(
            certificates(&pem("CERTIFICATE", &a, 1000)).expect("one line"),
            vec![a]
        );
        assert!(blocks("no PEM here").expect("nothing").is_empty());
    }

    #[test]
    fn the_real_chain_has_four_certificates() {
        let certs = certificates(CHAIN).expect("chain");
        assert_eq!(certs.len(), 4);
        assert!(certs.iter().all(|c| c.first() == Some(&0x30)));
    }

    #[test]
    fn broken_bundles_are_refused() {
        let one = pem("CERTIFICATE", &[1, 2, 3, 4, 5, 6], 64);
        for (text, needle) in [
            (one.replace("-----END CERTIFICATE-----\n", ""), "not closed"),
            ("-----END CERTIFICATE-----\n".to_string(), "without BEGIN"),
            (
                one.replace("END CERTIFICATE", "END PUBLIC KEY"),
                "closed by END PUBLIC KEY",
            ),
            (format!("-----BEGIN X-----\n{one}"), "inside the X block"),
            (
                "-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----\n".to_string(),
                "base64",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAQID*A==\n-----END CERTIFICATE-----\n".to_string(),
                "base64",
            ),
        ] {
            let e = blocks(&text).unwrap_err();
            assert!(e.message().contains(needle), "{needle}: {e}");
            assert!(e.is(ErrorKind::BadInput));
        }
    }
}
