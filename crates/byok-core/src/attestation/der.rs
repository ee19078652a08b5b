//! A small, lenient DER reader and writer for the few X.509 fields the
//! attestation check needs.
//!
//! Why hand-written: the Marvell chain mixes an X.509 **v1** card certificate
//! (no extensions) with roots whose 2024 reissue has serial number 0, which
//! strict RFC 5280 parsers refuse. We never trust what we parse here: every
//! certificate is only used after its signature has been checked by its
//! issuer's key (or its key has been compared with a pinned key), so all this
//! reader must do is cut the DER into the right slices without panicking.
//! The exact `tbsCertificate` bytes are kept as they appear in the input, so
//! signatures are verified over the original encoding.

use crate::error::Result;
use crate::{bail, err};

/// One DER element: its tag, the whole encoding and the content octets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub full: &'a [u8],
    pub content: &'a [u8],
}

/// Read one element at the start of `input`; returns it and the rest.
/// Only single-byte tags and definite lengths (up to 4 length octets) are
/// accepted, which covers every certificate we meet.
pub(crate) fn read_tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags never occur in certificates
    }
    let first = *input.get(1)? as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2usize)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None; // indefinite or absurd length
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    let full = input.get(..end)?;
    let content = full.get(hdr..)?;
    let rest = input.get(end..)?;
    Some((Tlv { tag, full, content }, rest))
}

/// Read an element with the expected tag.
fn expect<'a>(input: &'a [u8], tag: u8, what: &str) -> Result<(Tlv<'a>, &'a [u8])> {
    match read_tlv(input) {
        Some((t, rest)) if t.tag == tag => Ok((t, rest)),
        _ => Err(err!("malformed certificate: cannot read its {what}")),
    }
}

/// DER of the OID 2.5.4.3 (commonName).
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
/// DER of sha256WithRSAEncryption, sha384WithRSAEncryption, sha512WithRSAEncryption.
pub(crate) const OID_SHA256_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
pub(crate) const OID_SHA384_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
pub(crate) const OID_SHA512_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];

/// The parts of a certificate the attestation check uses.
#[derive(Debug, Clone)]
pub(crate) struct Cert {
    /// The whole certificate DER.
    pub der: Vec<u8>,
    /// The exact `tbsCertificate` encoding (what the issuer signed).
    pub tbs: Vec<u8>,
    /// OID (content octets) of the outer signature algorithm.
    pub sig_alg: Vec<u8>,
    /// The signature value (bit string without its unused-bits octet).
    pub signature: Vec<u8>,
    /// 1 for v1, 3 for v3 (the version field plus one).
    pub version: u8,
    pub issuer_der: Vec<u8>,
    pub subject_der: Vec<u8>,
    pub issuer_cn: String,
    pub subject_cn: String,
    /// The SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
}

impl Cert {
    /// Parse a certificate leniently (any serial number, v1 to v3).
    pub fn parse(der: &[u8]) -> Result<Cert> {
        let (outer, rest) = expect(der, 0x30, "outer SEQUENCE")?;
        if !rest.is_empty() {
            bail!("malformed certificate: trailing bytes after it");
        }
        let (tbs, r) = expect(outer.content, 0x30, "tbsCertificate")?;
        let (alg, r) = expect(r, 0x30, "signature algorithm")?;
        let (sig, r) = expect(r, 0x03, "signature")?;
        if !r.is_empty() {
            bail!("malformed certificate: unexpected fields after the signature");
        }
        let (oid, oid_rest) = expect(alg.content, 0x06, "signature algorithm OID")?;
        let signature = match sig.content.split_first() {
            Some((0, s)) => s.to_vec(),
            _ => bail!("malformed certificate: signature bit string has unused bits"),
        };

        // tbsCertificate fields.
        let mut t = tbs.content;
        let mut version = 1u8;
        if let Some((v, r)) = read_tlv(t) {
            if v.tag == 0xa0 {
                let (int, _) = expect(v.content, 0x02, "version")?;
                version = match int.content {
                    [0] => 1,
                    [1] => 2,
                    [2] => 3,
                    _ => bail!("malformed certificate: unknown version"),
                };
                t = r;
            }
        }
        let (_serial, r) = expect(t, 0x02, "serial number")?;
        let (inner_alg, r) = expect(r, 0x30, "inner signature algorithm")?;
        // The outer algorithm is not signed: it must repeat the signed inner
        // one byte for byte (RFC 5280 4.1.1.2), and carry NULL or no
        // parameters, so that no byte of the certificate is unauthenticated.
        if inner_alg.full != alg.full {
            bail!("malformed certificate: its outer and signed signature algorithms differ");
        }
        match oid_rest {
            [] | [0x05, 0x00] => {}
            _ => bail!("malformed certificate: unexpected signature algorithm parameters"),
        }
        let (issuer, r) = expect(r, 0x30, "issuer")?;
        let (_validity, r) = expect(r, 0x30, "validity")?;
        let (subject, r) = expect(r, 0x30, "subject")?;
        let (spki, _) = expect(r, 0x30, "subject public key")?;
        Ok(Cert {
            der: der.to_vec(),
            tbs: tbs.full.to_vec(),
            sig_alg: oid.content.to_vec(),
            signature,
            version,
            issuer_der: issuer.full.to_vec(),
            subject_der: subject.full.to_vec(),
            issuer_cn: common_name(issuer.content),
            subject_cn: common_name(subject.content),
            spki: spki.full.to_vec(),
        })
    }

    pub fn is_self_issued(&self) -> bool {
        self.issuer_der == self.subject_der
    }

    /// A short name for messages.
    pub fn describe(&self) -> String {
        if self.subject_cn.is_empty() {
            "(no CN)".to_string()
        } else {
            format!("CN={}", self.subject_cn)
        }
    }
}

/// The common name(s) of an X.501 Name (content octets of the SEQUENCE),
/// joined with ", " if there are several. Empty if none is readable.
fn common_name(mut name: &[u8]) -> String {
    let mut out: Vec<String> = Vec::new();
    while let Some((rdn, rest)) = read_tlv(name) {
        name = rest;
        let mut set = rdn.content;
        while let Some((atv, rest)) = read_tlv(set) {
            set = rest;
            let Some((oid, r)) = read_tlv(atv.content) else {
                continue;
            };
            if oid.tag != 0x06 || oid.content != OID_CN {
                continue;
            }
            if let Some((val, _)) = read_tlv(r) {
                out.push(String::from_utf8_lossy(val.content).into_owned());
            }
        }
    }
    out.join(", ")
}

/// Split a PEM bundle into DER certificates (`CERTIFICATE` blocks only).
pub(crate) fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>> {
    pem_blocks(pem)?
        .into_iter()
        .filter(|(label, _)| label == "CERTIFICATE")
        .map(|(_, der)| Ok(der))
        .collect()
}

/// All PEM blocks of a text, as (label, DER).
pub(crate) fn pem_blocks(pem: &str) -> Result<Vec<(String, Vec<u8>)>> {
    use base64::Engine;
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in pem.lines() {
        let line = line.trim();
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            if current.is_some() {
                bail!("malformed PEM: BEGIN {label} inside another block");
            }
            current = Some((label.to_string(), String::new()));
        } else if let Some(label) = line
            .strip_prefix("-----END ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            let Some((open, body)) = current.take() else {
                bail!("malformed PEM: END {label} without BEGIN");
            };
            if open != label {
                bail!("malformed PEM: BEGIN {open} closed by END {label}");
            }
            let der = base64::engine::general_purpose::STANDARD
                .decode(body.as_bytes())
                .map_err(|e| err!("malformed PEM: {label} block is not base64 ({e})"))?;
            out.push((label.to_string(), der));
        } else if let Some((_, body)) = current.as_mut() {
            // Skip RFC 1421 headers such as "Proc-Type:" inside a block.
            if !line.contains(':') {
                body.push_str(line);
            }
        }
    }
    if let Some((label, _)) = current {
        bail!("malformed PEM: {label} block is not closed");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    // ---------------------------------------------------------------------------
    // Writer (used by the test-chain generator).

    /// Encode one DER element.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let sig = bytes.get(skip..).unwrap_or_default();
            out.push(0x80 | sig.len() as u8);
            out.extend_from_slice(sig);
        }
        out.extend_from_slice(content);
        out
    }

    /// A DER INTEGER from a small unsigned value.
    fn int_u64(v: u64) -> Vec<u8> {
        let bytes = v.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
        let mut c: Vec<u8> = bytes.get(skip..).unwrap_or_default().to_vec();
        if c.first().is_some_and(|b| b & 0x80 != 0) {
            c.insert(0, 0);
        }
        tlv(0x02, &c)
    }

    #[test]
    fn tlv_round_trip_and_truncation() {
        let long = vec![7u8; 300];
        let enc = tlv(0x04, &long);
        let (t, rest) = read_tlv(&enc).expect("parse");
        assert_eq!(t.content, &long[..]);
        assert!(rest.is_empty());
        for n in 0..enc.len() {
            assert!(read_tlv(&enc[..n]).is_none());
        }
        assert_eq!(int_u64(0), vec![2, 1, 0]);
        assert_eq!(int_u64(128), vec![2, 2, 0, 128]);
    }

    #[test]
    fn garbage_is_refused_without_panic() {
        for input in [
            &b""[..],
            b"\x30",
            b"\x30\x85\x01",
            b"\x30\x80\x00\x00",
            b"\x1f\x01\x00",
        ] {
            assert!(Cert::parse(input).is_err());
        }
    }
}
