//! The few X.509 fields the attestation check needs, read with the `der` crate.
//!
//! Why not a certificate crate: the Marvell chain mixes an X.509 **v1** card
//! certificate (no version field, no extensions) with roots whose 2024 reissue has
//! serial number 0, which strict RFC 5280 parsers refuse. So this reads just the fields
//! byok uses, with `der`'s readers (strict DER for every element it reads) and `const-oid`
//! names, and skips the rest (serial number, validity, unique ids, extensions). Nothing
//! parsed here is trusted: a certificate is only used after its signature has been
//! checked with its issuer's key (or its key compared with a pinned key). The exact
//! `tbsCertificate` bytes are kept as they appear in the input, so signatures are checked
//! over the original encoding.

use const_oid::db::rfc4519::COMMON_NAME;
use der::asn1::{AnyRef, BitStringRef, ContextSpecific, Null, ObjectIdentifier};
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};

use crate::error::Result;
use crate::{bail, err};

/// The parts of a certificate the attestation check uses.
#[derive(Debug, Clone)]
pub(crate) struct Cert {
    /// The whole certificate DER.
    pub der: Vec<u8>,
    /// The exact `tbsCertificate` encoding (what the issuer signed).
    pub tbs: Vec<u8>,
    /// The outer signature algorithm (equal to the signed inner one).
    pub sig_alg: ObjectIdentifier,
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

fn malformed(what: &str) -> crate::Error {
    err!("malformed certificate: cannot read its {what}")
}

fn reader<'a>(bytes: &'a [u8], what: &str) -> Result<SliceReader<'a>> {
    SliceReader::new(bytes).map_err(|e| malformed(what).with_source(e))
}

/// Read the next element, which must have `tag`: its whole encoding and its content.
fn element<'a>(r: &mut SliceReader<'a>, tag: Tag, what: &str) -> Result<(&'a [u8], &'a [u8])> {
    let full = r.tlv_bytes().map_err(|e| malformed(what).with_source(e))?;
    let any = AnyRef::from_der(full).map_err(|e| malformed(what).with_source(e))?;
    if any.tag() != tag {
        return Err(malformed(what));
    }
    Ok((full, any.value()))
}

impl Cert {
    /// Parse a certificate leniently (any serial number, v1 to v3).
    pub fn parse(der: &[u8]) -> Result<Cert> {
        let mut r = reader(der, "outer SEQUENCE")?;
        let (_, outer) = element(&mut r, Tag::Sequence, "outer SEQUENCE")?;
        if !r.is_finished() {
            bail!("malformed certificate: trailing bytes after it");
        }
        let mut r = reader(outer, "tbsCertificate")?;
        let (tbs_full, tbs) = element(&mut r, Tag::Sequence, "tbsCertificate")?;
        let (alg_full, alg) = element(&mut r, Tag::Sequence, "signature algorithm")?;
        let (sig_full, _) = element(&mut r, Tag::BitString, "signature")?;
        if !r.is_finished() {
            bail!("malformed certificate: unexpected fields after the signature");
        }
        let signature = BitStringRef::from_der(sig_full)
            .map_err(|e| malformed("signature").with_source(e))?
            .as_bytes()
            .ok_or_else(|| err!("malformed certificate: signature bit string has unused bits"))?
            .to_vec();

        // tbsCertificate fields.
        let mut t = reader(tbs, "tbsCertificate")?;
        // [0] EXPLICIT version, absent in a v1 certificate such as Marvell's card one.
        let version = match ContextSpecific::<u8>::decode_explicit(&mut t, TagNumber(0))
            .map_err(|e| malformed("version").with_source(e))?
        {
            None => 1,
            Some(v) => match v.value {
                0 => 1,
                1 => 2,
                2 => 3,
                _ => bail!("malformed certificate: unknown version"),
            },
        };
        // The serial number is not used; any INTEGER is accepted (Marvell's root has 0).
        element(&mut t, Tag::Integer, "serial number")?;
        let (inner_alg, _) = element(&mut t, Tag::Sequence, "inner signature algorithm")?;
        // The outer algorithm is not signed: it must repeat the signed inner one byte for
        // byte (RFC 5280 4.1.1.2), so that no byte of the certificate is unauthenticated.
        if inner_alg != alg_full {
            bail!("malformed certificate: its outer and signed signature algorithms differ");
        }
        let sig_alg = algorithm(alg)?;
        let (issuer, issuer_content) = element(&mut t, Tag::Sequence, "issuer")?;
        element(&mut t, Tag::Sequence, "validity")?;
        let (subject, subject_content) = element(&mut t, Tag::Sequence, "subject")?;
        let (spki, _) = element(&mut t, Tag::Sequence, "subject public key")?;
        // Unique ids and extensions follow in v2/v3: not used (but signed).
        Ok(Cert {
            der: der.to_vec(),
            tbs: tbs_full.to_vec(),
            sig_alg,
            signature,
            version,
            issuer_der: issuer.to_vec(),
            subject_der: subject.to_vec(),
            issuer_cn: common_name(issuer_content),
            subject_cn: common_name(subject_content),
            spki: spki.to_vec(),
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

/// The OID of an AlgorithmIdentifier (content octets), whose parameters must be NULL or
/// absent: the RSA signature algorithms have no others.
fn algorithm(alg: &[u8]) -> Result<ObjectIdentifier> {
    let mut a = reader(alg, "signature algorithm")?;
    let oid: ObjectIdentifier = a
        .decode()
        .map_err(|e| malformed("signature algorithm OID").with_source(e))?;
    if !a.is_finished() {
        let null = a.decode::<Null>();
        if null.is_err() || !a.is_finished() {
            bail!("malformed certificate: unexpected signature algorithm parameters");
        }
    }
    Ok(oid)
}

/// The common name(s) of an X.501 Name (content octets of the SEQUENCE), joined with
/// ", " if there are several. Empty if none is readable.
fn common_name(name: &[u8]) -> String {
    let mut out = Vec::new();
    // Reading stops at the first unreadable part: a CN only names a certificate in
    // messages and in the partition/serial text, it proves nothing.
    let _ = collect_common_names(name, &mut out);
    out.join(", ")
}

fn collect_common_names(name: &[u8], out: &mut Vec<String>) -> der::Result<()> {
    let mut rdns = SliceReader::new(name)?;
    while !rdns.is_finished() {
        let rdn: AnyRef<'_> = rdns.decode()?;
        let mut atvs = SliceReader::new(rdn.value())?;
        while !atvs.is_finished() {
            let atv: AnyRef<'_> = atvs.decode()?;
            let mut fields = SliceReader::new(atv.value())?;
            if fields.decode::<ObjectIdentifier>().ok() != Some(COMMON_NAME) {
                continue;
            }
            let value: AnyRef<'_> = fields.decode()?;
            out.push(String::from_utf8_lossy(value.value()).into_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use const_oid::db::rfc5912::SHA_256_WITH_RSA_ENCRYPTION;

    const CHAIN: &str =
        include_str!("../../../../tests/fixtures/attestation/gcp-ec-p256-chain.pem");
    const ROOTS: &str =
        include_str!("../../../../tests/fixtures/attestation/marvell-liquidsecurity-roots.pem");

    fn certs(pem: &str) -> Vec<Vec<u8>> {
        super::super::pem::certificates(pem).expect("pem")
    }

    #[test]
    fn reads_the_real_chain_v1_card_and_serial_zero_root() {
        let chain: Vec<Cert> = certs(CHAIN)
            .iter()
            .map(|d| Cert::parse(d).expect("parses"))
            .collect();
        assert_eq!(chain.len(), 4);
        // 0: Marvell partition (v3), 1: Marvell card (v1, no version field).
        assert_eq!(chain[0].version, 3);
        assert_eq!(chain[1].version, 1);
        assert!(
            chain[0].subject_cn.contains(":PARTN:"),
            "{}",
            chain[0].subject_cn
        );
        assert_eq!(chain[0].issuer_der, chain[1].subject_der);
        assert_eq!(chain[0].sig_alg, SHA_256_WITH_RSA_ENCRYPTION);
        assert_eq!(chain[0].signature.len(), 256);
        assert!(chain[0].tbs.len() < chain[0].der.len());
        assert_eq!(chain[0].der.first(), Some(&0x30));
        let roots: Vec<Cert> = certs(ROOTS)
            .iter()
            .map(|d| Cert::parse(d).expect("lenient parse of a serial-0 root"))
            .collect();
        assert!(roots.iter().all(Cert::is_self_issued));
        assert!(roots[0].subject_cn.contains("liquidsecurity"));
        assert!(roots[0].describe().starts_with("CN="));
    }

    #[test]
    fn every_truncation_and_garbage_is_refused_without_panic() {
        let der = &certs(CHAIN)[1];
        for n in 0..der.len() {
            assert!(Cert::parse(&der[..n]).is_err(), "truncated to {n}");
        }
        let mut longer = der.clone();
        longer.push(0);
        let e = Cert::parse(&longer).unwrap_err();
        assert!(e.message().contains("trailing bytes"), "{e}");
        for input in [
            &b""[..],
            b"\x30",
            b"\x30\x85\x01",
            b"\x30\x80\x00\x00",
            b"\x1f\x01\x00",
            b"\x30\x00",
            b"\x30\x03\x30\x01\x00",
            b"\x04\x02\x30\x00",
        ] {
            let e = Cert::parse(input).unwrap_err();
            assert!(e.message().starts_with("malformed certificate"), "{e}");
        }
    }

    /// Flipping any byte of a real certificate either makes it unreadable or changes
    /// the signed bytes or the signature (so no byte escapes the signature check); it
    /// never panics.
    #[test]
    fn byte_flips_never_panic() {
        let der = &certs(CHAIN)[0];
        let good = Cert::parse(der).expect("parses");
        for i in 0..der.len() {
            let mut bad = der.clone();
            bad[i] ^= 0x41;
            if let Ok(c) = Cert::parse(&bad) {
                assert!(
                    c.tbs != good.tbs || c.signature != good.signature,
                    "byte {i}"
                );
            }
        }
    }

    #[test]
    fn outer_algorithm_must_repeat_the_signed_one() {
        let der = &certs(CHAIN)[0];
        // The outer AlgorithmIdentifier follows the tbsCertificate; change its NULL
        // parameters into an empty OCTET STRING (05 00 -> 04 00).
        let mut bad = der.clone();
        let tail = bad.len() - 256 - 5 - 2;
        assert_eq!(&bad[tail..tail + 2], &[0x05, 0x00]);
        bad[tail] = 0x04;
        let e = Cert::parse(&bad).unwrap_err();
        assert!(e.message().contains("differ"), "{e}");
    }

    #[test]
    fn common_names_joined_and_junk_skipped() {
        // Name: SET{ATV(CN, "a")}, SET{ATV(O, "x"), ATV(CN, "b")}
        let cn = |v: &str| {
            [
                &[
                    0x30,
                    7 + v.len() as u8,
                    6,
                    3,
                    0x55,
                    4,
                    3,
                    0x0c,
                    v.len() as u8,
                ][..],
                v.as_bytes(),
            ]
            .concat()
        };
        let o = [0x30, 8, 6, 3, 0x55, 4, 10, 0x0c, 1, b'x'];
        let set = |parts: &[&[u8]]| {
            let c = parts.concat();
            [&[0x31, c.len() as u8][..], &c].concat()
        };
        let name = [set(&[&cn("a")]), set(&[&o, &cn("b")])].concat();
        assert_eq!(common_name(&name), "a, b");
        // An unreadable tail keeps what was read before it.
        let junk = [name.clone(), vec![0x31, 0x7f]].concat();
        assert_eq!(common_name(&junk), "a, b");
        assert_eq!(common_name(&[]), "");
    }
}
