//! Parsing of Marvell LiquidSecurity attestation blobs.
//!
//! No published crate parses these, so this is hand-written from the layouts
//! in the project notes (BYOK-NOTES.md, "HSM key attestation"). Everything is
//! big-endian and every length is checked before it is used.
//!
//! Two layouts exist; both end with a 256-byte RSA signature over all the
//! bytes before it:
//!
//! * Azure `MRVL-1` (firmware 2.x): 16 zero bytes; `u32` = 12 + size of the
//!   attribute area; then one object.
//! * Generic (Google Cloud HSM, firmware 3.x): a response header of four
//!   `u32` (response code, flags, total size, buffer size); the attestation
//!   data starts at `total − (buffer + 256)` with an info header of four `u16`
//!   (version, flags, offset of the first object, offset of the second object
//!   or 0, both relative to the start of the data); then the objects.
//!
//! An object is `u32` handle, `u32` attribute count, `u32` size of the
//! attribute area, then `count` TLVs (`u32` type, `u32` length, value),
//! packed without alignment. Unknown (vendor) attribute types are kept raw
//! and otherwise ignored.

use crate::error::Result;
use crate::{bail, err};

/// Size of the trailing signature (the partition key is RSA-2048).
pub const SIGNATURE_LEN: usize = 256;

/// Which of the two layouts a blob uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 16 zero bytes, then one object (Azure Managed HSM, firmware 2.x).
    ShortHeader,
    /// Response header + info header, one or two objects (firmware 3.x).
    ResponseHeader,
}

/// One attested object with its raw attributes, in blob order.
#[derive(Debug, Clone)]
pub struct RawObject {
    pub handle: u32,
    pub attributes: Vec<(u32, Vec<u8>)>,
}

impl RawObject {
    /// The first value of an attribute type.
    pub fn get(&self, ty: u32) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|(t, _)| *t == ty)
            .map(|(_, v)| v.as_slice())
    }
}

/// A parsed (not yet verified) blob.
#[derive(Debug, Clone)]
pub struct ParsedBlob<'a> {
    pub layout: Layout,
    /// The bytes covered by the signature (everything before it).
    pub signed: &'a [u8],
    pub signature: &'a [u8],
    pub objects: Vec<RawObject>,
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn short(what: &str) -> crate::Error {
    err!("attestation blob is truncated or malformed: {what} does not fit; get a fresh attestation from the vault")
}

/// Parse a blob (already gunzipped). Does not check the signature.
pub fn parse(blob: &[u8]) -> Result<ParsedBlob<'_>> {
    if blob.len() < SIGNATURE_LEN + 16 {
        bail!(
            "attestation blob is too short ({} bytes, a signed attestation has at least {}); get a fresh attestation from the vault",
            blob.len(),
            SIGNATURE_LEN + 16
        );
    }
    let sig_at = blob.len() - SIGNATURE_LEN;
    let signed = blob.get(..sig_at).ok_or_else(|| short("signature"))?;
    let signature = blob.get(sig_at..).ok_or_else(|| short("signature"))?;

    let head = blob.get(..16).ok_or_else(|| short("header"))?;
    if head.iter().all(|b| *b == 0) {
        // Azure MRVL-1 short header.
        let size = be_u32(signed, 16).ok_or_else(|| short("object size"))? as usize;
        if size < 12 {
            bail!("attestation blob is malformed: object size {size} is smaller than its 12-byte header; get a fresh attestation from the vault");
        }
        let end = 20usize.checked_add(size).ok_or_else(|| short("object"))?;
        let area = signed.get(20..end).ok_or_else(|| short("object"))?;
        let obj = parse_object(area)?;
        return Ok(ParsedBlob {
            layout: Layout::ShortHeader,
            signed,
            signature,
            objects: vec![obj],
        });
    }

    let total = be_u32(blob, 8).ok_or_else(|| short("response header"))? as usize;
    let buffer = be_u32(blob, 12).ok_or_else(|| short("response header"))? as usize;
    if total != blob.len() {
        bail!(
            "attestation blob is truncated or padded: its header says {total} bytes but it has {}; get a fresh attestation from the vault",
            blob.len()
        );
    }
    let data_at = buffer
        .checked_add(SIGNATURE_LEN)
        .and_then(|n| total.checked_sub(n))
        .filter(|at| *at >= 16)
        .ok_or_else(|| short("attestation data"))?;
    let data = signed
        .get(data_at..)
        .ok_or_else(|| short("attestation data"))?;
    let off1 = be_u16(data, 4).ok_or_else(|| short("info header"))? as usize;
    let off2 = be_u16(data, 6).ok_or_else(|| short("info header"))? as usize;
    if off1 < 8 {
        bail!("attestation blob is malformed: first object offset {off1} points into its info header; get a fresh attestation from the vault");
    }
    let mut objects = Vec::new();
    let first = data.get(off1..).ok_or_else(|| short("first object"))?;
    objects.push(parse_object_prefix(first)?);
    if off2 != 0 {
        if off2 < 8 {
            bail!("attestation blob is malformed: second object offset {off2} points into its info header; get a fresh attestation from the vault");
        }
        let second = data.get(off2..).ok_or_else(|| short("second object"))?;
        objects.push(parse_object_prefix(second)?);
    }
    Ok(ParsedBlob {
        layout: Layout::ResponseHeader,
        signed,
        signature,
        objects,
    })
}

/// Parse an object that starts at the beginning of `b` (more bytes may follow).
fn parse_object_prefix(b: &[u8]) -> Result<RawObject> {
    let size = be_u32(b, 8).ok_or_else(|| short("object header"))? as usize;
    let end = size.checked_add(12).ok_or_else(|| short("object"))?;
    parse_object(b.get(..end).ok_or_else(|| short("object"))?)
}

/// Parse an object: 12-byte header then TLVs; trailing padding is allowed.
fn parse_object(b: &[u8]) -> Result<RawObject> {
    let handle = be_u32(b, 0).ok_or_else(|| short("object header"))?;
    let count = be_u32(b, 4).ok_or_else(|| short("object header"))? as usize;
    let size = be_u32(b, 8).ok_or_else(|| short("object header"))? as usize;
    let area_end = size.checked_add(12).ok_or_else(|| short("attributes"))?;
    let area = b.get(12..area_end).ok_or_else(|| short("attributes"))?;
    if count > area.len() / 8 {
        bail!("attestation blob is malformed: {count} attributes cannot fit in {} bytes; get a fresh attestation from the vault", area.len());
    }
    let mut attributes = Vec::with_capacity(count);
    let mut at = 0usize;
    for i in 0..count {
        let ty = be_u32(area, at).ok_or_else(|| short(&format!("attribute #{i}")))?;
        let len = be_u32(area, at + 4).ok_or_else(|| short(&format!("attribute #{i}")))? as usize;
        let start = at + 8;
        let end = start
            .checked_add(len)
            .ok_or_else(|| short(&format!("attribute 0x{ty:04x}")))?;
        let value = area
            .get(start..end)
            .ok_or_else(|| short(&format!("attribute 0x{ty:04x}")))?;
        if super::is_known_attribute(ty) && attributes.iter().any(|(t, _)| *t == ty) {
            bail!("attestation blob is malformed: attribute 0x{ty:04x} appears twice; get a fresh attestation from the vault");
        }
        attributes.push((ty, value.to_vec()));
        at = end;
    }
    Ok(RawObject { handle, attributes })
}

/// Undo gzip if the data starts with the gzip magic; otherwise return it as is.
pub fn maybe_gunzip(data: &[u8]) -> Result<Vec<u8>> {
    if !data.starts_with(&[0x1f, 0x8b]) {
        return Ok(data.to_vec());
    }
    use std::io::Read;
    let mut out = Vec::new();
    // Attestations are a few kilobytes: cap the output to refuse gzip bombs.
    let limit = 1 << 20;
    flate2::read::GzDecoder::new(data)
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| err!("attestation blob is gzip-wrapped but does not decompress ({e}); the file is damaged, get a fresh attestation"))?;
    if out.len() as u64 > limit {
        bail!("attestation blob decompresses to more than 1 MiB: this is not an attestation");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attestation::{ATTR_CLASS, ATTR_LABEL};
    use std::io::Write;

    const SAMPLE: &[u8] =
        include_bytes!("../../../../tests/fixtures/attestation/gcp-ec-p256-attestation.bin");

    fn object(handle: u32, attrs: &[(u32, &[u8])]) -> Vec<u8> {
        let mut area = Vec::new();
        for (t, v) in attrs {
            area.extend_from_slice(&t.to_be_bytes());
            area.extend_from_slice(&(v.len() as u32).to_be_bytes());
            area.extend_from_slice(v);
        }
        [
            &handle.to_be_bytes()[..],
            &(attrs.len() as u32).to_be_bytes(),
            &(area.len() as u32).to_be_bytes(),
            &area,
        ]
        .concat()
    }

    /// An `MRVL-1` (short header) blob with a dummy signature.
    fn short_blob(object: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 16];
        b.extend_from_slice(&(object.len() as u32).to_be_bytes());
        b.extend_from_slice(object);
        b.extend_from_slice(&[0x5a; SIGNATURE_LEN]);
        b
    }

    #[test]
    fn short_header_layout() {
        let o = object(
            0x2001,
            &[(ATTR_CLASS, &[3]), (ATTR_LABEL, b"k"), (0x8000_0001, &[])],
        );
        let blob = short_blob(&o);
        let p = parse(&blob).expect("parses");
        assert_eq!(p.layout, Layout::ShortHeader);
        assert_eq!(p.signed.len(), blob.len() - SIGNATURE_LEN);
        assert_eq!(p.signature, &[0x5a; SIGNATURE_LEN][..]);
        assert_eq!(p.objects.len(), 1);
        assert_eq!(p.objects[0].handle, 0x2001);
        assert_eq!(p.objects[0].get(ATTR_CLASS), Some(&[3u8][..]));
        assert_eq!(p.objects[0].get(0x8000_0001), Some(&[][..]));
        assert_eq!(p.objects[0].get(0x0999), None);
    }

    #[test]
    fn response_header_layout_of_the_google_sample() {
        let p = parse(SAMPLE).expect("parses");
        assert_eq!(p.layout, Layout::ResponseHeader);
        assert_eq!(p.objects.len(), 2);
        assert_eq!(p.signature.len(), SIGNATURE_LEN);
    }

    #[test]
    fn truncations_and_bad_counts_are_refused_without_panic() {
        let o = object(1, &[(ATTR_CLASS, &[3]), (ATTR_LABEL, b"label")]);
        let blob = short_blob(&o);
        for n in 0..blob.len() {
            assert!(parse(&blob[..n]).is_err(), "truncated to {n}");
        }
        for n in 0..SAMPLE.len() {
            assert!(parse(&SAMPLE[..n]).is_err(), "sample truncated to {n}");
        }
        // Attribute count larger than the area can hold.
        let mut bad = o.clone();
        bad[4..8].copy_from_slice(&1000u32.to_be_bytes());
        let e = parse(&short_blob(&bad)).unwrap_err();
        assert!(e.message().contains("cannot fit"), "{e}");
        // Object size below its header.
        let mut b = short_blob(&o);
        b[16..20].copy_from_slice(&4u32.to_be_bytes());
        assert!(parse(&b).unwrap_err().message().contains("smaller than"));
        // Every extreme value in every header word.
        for at in (0..32).step_by(4) {
            for v in [0u32, 1, 8, 12, 0x7fff_ffff, 0xffff_fff4, u32::MAX] {
                let mut d = SAMPLE.to_vec();
                d[at..at + 4].copy_from_slice(&v.to_be_bytes());
                let _ = parse(&d);
                let mut d = short_blob(&o);
                d[at..at + 4].copy_from_slice(&v.to_be_bytes());
                let _ = parse(&d);
            }
        }
    }

    #[test]
    fn a_known_attribute_twice_is_refused_an_unknown_one_is_kept() {
        let twice = object(1, &[(ATTR_CLASS, &[3]), (ATTR_CLASS, &[2])]);
        let e = parse(&short_blob(&twice)).unwrap_err();
        assert!(e.message().contains("appears twice"), "{e}");
        let vendor = object(1, &[(0x8000_0001, &[1]), (0x8000_0001, &[2])]);
        let blob = short_blob(&vendor);
        let p = parse(&blob).expect("vendor attributes");
        assert_eq!(p.objects[0].attributes.len(), 2);
        assert_eq!(p.objects[0].get(0x8000_0001), Some(&[1u8][..]));
    }

    #[test]
    fn gunzip_passes_plain_data_and_refuses_bombs_and_damage() {
        assert_eq!(maybe_gunzip(b"plain").expect("plain"), b"plain");
        let gz = |data: &[u8]| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(data).expect("gzip");
            enc.finish().expect("gzip")
        };
        assert_eq!(maybe_gunzip(&gz(SAMPLE)).expect("gz"), SAMPLE);
        let bomb = gz(&vec![0u8; (1 << 20) + 1]);
        let e = maybe_gunzip(&bomb).unwrap_err();
        assert!(e.message().contains("1 MiB"), "{e}");
        let e = maybe_gunzip(&[0x1f, 0x8b, 8, 0, 1, 2]).unwrap_err();
        assert!(e.message().contains("gzip"), "{e}");
    }
}
