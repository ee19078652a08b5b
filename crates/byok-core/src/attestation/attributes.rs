//! The PKCS#11 attributes of an attested object: their numbers (from `cryptoki-sys`)
//! and their decoding into an [`AttestedObject`].
//!
//! The blobs carry attribute types as `u32` and classes and key types as big-endian
//! integers; `cryptoki-sys` gives them as `CK_ULONG`, which is 32 or 64 bits depending on
//! the platform. Every standard value fits in 32 bits, so the aliases below convert once.

use cryptoki_sys as ck;

use super::blob::RawObject;
use super::AttestedObject;
use crate::error::Result;
use crate::util::{bit_len, strip_zeros};
use crate::{bail, err};

/// A `CKA_*` value as the blobs carry it (every standard one fits in 32 bits).
const fn cka(t: ck::CK_ATTRIBUTE_TYPE) -> u32 {
    t as u32
}

/// A `CKO_*` or `CKK_*` value as the report carries it.
#[allow(
    clippy::unnecessary_cast,
    reason = "CK_ULONG is u64 here but u32 on Windows"
)]
const fn ckv(v: ck::CK_ULONG) -> u64 {
    v as u64
}

// PKCS#11 attribute types (CKA_*) as they appear in the blobs.
pub const ATTR_CLASS: u32 = cka(ck::CKA_CLASS);
pub const ATTR_TOKEN: u32 = cka(ck::CKA_TOKEN);
pub const ATTR_PRIVATE: u32 = cka(ck::CKA_PRIVATE);
pub const ATTR_LABEL: u32 = cka(ck::CKA_LABEL);
pub const ATTR_TRUSTED: u32 = cka(ck::CKA_TRUSTED);
pub const ATTR_KEY_TYPE: u32 = cka(ck::CKA_KEY_TYPE);
pub const ATTR_ID: u32 = cka(ck::CKA_ID);
pub const ATTR_SENSITIVE: u32 = cka(ck::CKA_SENSITIVE);
pub const ATTR_ENCRYPT: u32 = cka(ck::CKA_ENCRYPT);
pub const ATTR_DECRYPT: u32 = cka(ck::CKA_DECRYPT);
pub const ATTR_WRAP: u32 = cka(ck::CKA_WRAP);
pub const ATTR_UNWRAP: u32 = cka(ck::CKA_UNWRAP);
pub const ATTR_SIGN: u32 = cka(ck::CKA_SIGN);
pub const ATTR_VERIFY: u32 = cka(ck::CKA_VERIFY);
pub const ATTR_DERIVE: u32 = cka(ck::CKA_DERIVE);
pub const ATTR_MODULUS: u32 = cka(ck::CKA_MODULUS);
pub const ATTR_MODULUS_BITS: u32 = cka(ck::CKA_MODULUS_BITS);
pub const ATTR_PUBLIC_EXPONENT: u32 = cka(ck::CKA_PUBLIC_EXPONENT);
pub const ATTR_VALUE_LEN: u32 = cka(ck::CKA_VALUE_LEN);
pub const ATTR_EXTRACTABLE: u32 = cka(ck::CKA_EXTRACTABLE);
pub const ATTR_LOCAL: u32 = cka(ck::CKA_LOCAL);
pub const ATTR_NEVER_EXTRACTABLE: u32 = cka(ck::CKA_NEVER_EXTRACTABLE);
pub const ATTR_ALWAYS_SENSITIVE: u32 = cka(ck::CKA_ALWAYS_SENSITIVE);
/// Marvell's key check value (first 3 bytes of SHA-1 of the SPKI): not a PKCS#11
/// attribute, so `cryptoki-sys` does not name it.
pub const ATTR_KCV: u32 = 0x0173;
pub const ATTR_WRAP_WITH_TRUSTED: u32 = cka(ck::CKA_WRAP_WITH_TRUSTED);

/// The attribute types decoded here; any other is listed as "other".
const KNOWN_ATTRIBUTES: [u32; 25] = [
    ATTR_CLASS,
    ATTR_TOKEN,
    ATTR_PRIVATE,
    ATTR_LABEL,
    ATTR_TRUSTED,
    ATTR_KEY_TYPE,
    ATTR_ID,
    ATTR_SENSITIVE,
    ATTR_ENCRYPT,
    ATTR_DECRYPT,
    ATTR_WRAP,
    ATTR_UNWRAP,
    ATTR_SIGN,
    ATTR_VERIFY,
    ATTR_DERIVE,
    ATTR_MODULUS,
    ATTR_MODULUS_BITS,
    ATTR_PUBLIC_EXPONENT,
    ATTR_VALUE_LEN,
    ATTR_EXTRACTABLE,
    ATTR_LOCAL,
    ATTR_NEVER_EXTRACTABLE,
    ATTR_ALWAYS_SENSITIVE,
    ATTR_KCV,
    ATTR_WRAP_WITH_TRUSTED,
];

pub(crate) fn is_known_attribute(ty: u32) -> bool {
    KNOWN_ATTRIBUTES.contains(&ty)
}

// Object classes (CKO_*) and key types (CKK_*).
pub const CLASS_DATA: u64 = ckv(ck::CKO_DATA);
pub const CLASS_CERTIFICATE: u64 = ckv(ck::CKO_CERTIFICATE);
pub const CLASS_PUBLIC_KEY: u64 = ckv(ck::CKO_PUBLIC_KEY);
pub const CLASS_PRIVATE_KEY: u64 = ckv(ck::CKO_PRIVATE_KEY);
pub const CLASS_SECRET_KEY: u64 = ckv(ck::CKO_SECRET_KEY);
pub const KEY_TYPE_RSA: u64 = ckv(ck::CKK_RSA);
pub const KEY_TYPE_EC: u64 = ckv(ck::CKK_EC);
pub const KEY_TYPE_GENERIC_SECRET: u64 = ckv(ck::CKK_GENERIC_SECRET);
pub const KEY_TYPE_DES3: u64 = ckv(ck::CKK_DES3);
pub const KEY_TYPE_AES: u64 = ckv(ck::CKK_AES);

/// A big-endian unsigned integer of 1 to 8 bytes.
fn be_uint(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    Some(v.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn attr_bool(o: &RawObject, ty: u32, name: &str) -> Result<Option<bool>> {
    match o.get(ty) {
        None => Ok(None),
        Some(v) => match be_uint(v) {
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            _ => bail!(
                "attestation: attribute {name} (0x{ty:04x}) is not a boolean ({} bytes: {}); the attestation is malformed",
                v.len(),
                hex::encode(v)
            ),
        },
    }
}

fn attr_uint(o: &RawObject, ty: u32, name: &str) -> Result<Option<u64>> {
    match o.get(ty) {
        None => Ok(None),
        Some(v) => be_uint(v).map(Some).ok_or_else(|| {
            err!(
                "attestation: attribute {name} (0x{ty:04x}) is not an integer ({} bytes); the attestation is malformed",
                v.len()
            )
        }),
    }
}

/// Text (trailing NULs dropped) if it is printable UTF-8, else `0x` and hex.
fn text_or_hex(v: &[u8]) -> String {
    let end = v.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let t = v.get(..end).unwrap_or_default();
    match std::str::from_utf8(t) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_string(),
        _ => format!("0x{}", hex::encode(v)),
    }
}

fn class_name(c: Option<u64>) -> String {
    match c {
        Some(CLASS_DATA) => "data".into(),
        Some(CLASS_CERTIFICATE) => "certificate".into(),
        Some(CLASS_PUBLIC_KEY) => "public key".into(),
        Some(CLASS_PRIVATE_KEY) => "private key".into(),
        Some(CLASS_SECRET_KEY) => "secret key".into(),
        Some(x) => format!("class 0x{x:x}"),
        None => "(no class)".into(),
    }
}

fn key_type_name(t: Option<u64>) -> String {
    match t {
        Some(KEY_TYPE_RSA) => "RSA".into(),
        Some(KEY_TYPE_EC) => "EC".into(),
        Some(KEY_TYPE_AES) => "AES".into(),
        Some(KEY_TYPE_GENERIC_SECRET) => "generic secret".into(),
        Some(KEY_TYPE_DES3) => "DES3".into(),
        Some(x) => format!("key type 0x{x:x}"),
        None => "(no key type)".into(),
    }
}

/// Decode the attributes of one object.
pub(crate) fn decode_object(o: &RawObject) -> Result<AttestedObject> {
    let class = attr_uint(o, ATTR_CLASS, "class")?;
    let key_type = attr_uint(o, ATTR_KEY_TYPE, "key type")?;
    let modulus_attr = o.get(ATTR_MODULUS);
    let (modulus, ec_point) = match (key_type, modulus_attr) {
        (Some(KEY_TYPE_EC), Some(p)) => (None, Some(hex::encode(p))),
        (_, Some(m)) => (Some(hex::encode(strip_zeros(m))), None),
        (_, None) => (None, None),
    };
    let value_len = attr_uint(o, ATTR_VALUE_LEN, "value length")?;
    let key_bits = match key_type {
        Some(KEY_TYPE_RSA) => match attr_uint(o, ATTR_MODULUS_BITS, "modulus bits")? {
            Some(b) => u32::try_from(b).ok(),
            None => modulus_attr.and_then(|m| u32::try_from(bit_len(m)).ok()),
        },
        // Uncompressed point 04 || X || Y: field size = len(X) * 8.
        Some(KEY_TYPE_EC) => modulus_attr
            .filter(|p| p.len() > 1 && p.first() == Some(&4))
            .and_then(|p| u32::try_from((p.len() - 1) / 2 * 8).ok()),
        Some(_) => value_len.and_then(|v| u32::try_from(v.saturating_mul(8)).ok()),
        None => None,
    };
    let other_attributes = o
        .attributes
        .iter()
        .filter(|(t, _)| !is_known_attribute(*t))
        .map(|(t, _)| format!("0x{t:04x}"))
        .collect();
    Ok(AttestedObject {
        handle: o.handle,
        class,
        class_name: class_name(class),
        key_type,
        key_type_name: key_type_name(key_type),
        key_bits,
        token: attr_uint(o, ATTR_TOKEN, "token")?,
        private: attr_bool(o, ATTR_PRIVATE, "private")?,
        sensitive: attr_bool(o, ATTR_SENSITIVE, "sensitive")?,
        always_sensitive: attr_bool(o, ATTR_ALWAYS_SENSITIVE, "always sensitive")?,
        extractable: attr_bool(o, ATTR_EXTRACTABLE, "extractable")?,
        never_extractable: attr_bool(o, ATTR_NEVER_EXTRACTABLE, "never extractable")?,
        local: attr_bool(o, ATTR_LOCAL, "local")?,
        encrypt: attr_bool(o, ATTR_ENCRYPT, "encrypt")?,
        decrypt: attr_bool(o, ATTR_DECRYPT, "decrypt")?,
        wrap: attr_bool(o, ATTR_WRAP, "wrap")?,
        unwrap: attr_bool(o, ATTR_UNWRAP, "unwrap")?,
        sign: attr_bool(o, ATTR_SIGN, "sign")?,
        verify: attr_bool(o, ATTR_VERIFY, "verify")?,
        derive: attr_bool(o, ATTR_DERIVE, "derive")?,
        trusted: attr_bool(o, ATTR_TRUSTED, "trusted")?,
        wrap_with_trusted: attr_bool(o, ATTR_WRAP_WITH_TRUSTED, "wrap with trusted")?,
        label: o.get(ATTR_LABEL).map(text_or_hex),
        id: o.get(ATTR_ID).map(text_or_hex),
        modulus,
        public_exponent: o
            .get(ATTR_PUBLIC_EXPONENT)
            .map(|e| hex::encode(strip_zeros(e))),
        ec_point,
        value_len,
        key_check_value: o.get(ATTR_KCV).map(hex::encode),
        other_attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn object(attrs: &[(u32, &[u8])]) -> RawObject {
        RawObject {
            handle: 7,
            attributes: attrs.iter().map(|(t, v)| (*t, v.to_vec())).collect(),
        }
    }

    #[test]
    fn numbers_are_the_pkcs11_ones() {
        // Spot checks against the PKCS#11 specification, so a wrong alias cannot hide.
        assert_eq!(ATTR_CLASS, 0x0000);
        assert_eq!(ATTR_KEY_TYPE, 0x0100);
        assert_eq!(ATTR_MODULUS, 0x0120);
        assert_eq!(ATTR_EXTRACTABLE, 0x0162);
        assert_eq!(ATTR_NEVER_EXTRACTABLE, 0x0164);
        assert_eq!(ATTR_WRAP_WITH_TRUSTED, 0x0210);
        assert_eq!((CLASS_PUBLIC_KEY, CLASS_PRIVATE_KEY), (2, 3));
        assert_eq!((KEY_TYPE_RSA, KEY_TYPE_EC, KEY_TYPE_AES), (0, 3, 0x1f));
        assert!(is_known_attribute(ATTR_KCV));
        assert!(!is_known_attribute(0x8000_0174));
    }

    #[test]
    fn decodes_an_rsa_private_key() {
        let n = [0u8, 0xc0, 0, 0, 1];
        let o = object(&[
            (ATTR_CLASS, &[3]),
            (ATTR_KEY_TYPE, &[0]),
            (ATTR_MODULUS, &n),
            (ATTR_PUBLIC_EXPONENT, &[0, 1, 0, 1]),
            (ATTR_EXTRACTABLE, &[0]),
            (ATTR_NEVER_EXTRACTABLE, &[0, 0, 0, 1]),
            (ATTR_LABEL, b"kek\0\0\0"),
            (ATTR_ID, &[0xff, 0x01]),
            (0x8000_0001, &[9]),
        ]);
        let d = decode_object(&o).expect("decodes");
        assert_eq!(d.class_name, "private key");
        assert_eq!(d.key_type_name, "RSA");
        assert_eq!(d.modulus.as_deref(), Some("c0000001"));
        assert_eq!(d.key_bits, Some(32), "bit length of the modulus");
        assert_eq!(d.public_exponent.as_deref(), Some("010001"));
        assert_eq!(d.extractable, Some(false));
        assert_eq!(d.never_extractable, Some(true));
        assert_eq!(d.sensitive, None);
        assert_eq!(d.label.as_deref(), Some("kek"));
        assert_eq!(d.id.as_deref(), Some("0xff01"));
        assert_eq!(d.other_attributes, vec!["0x80000001".to_string()]);
    }

    #[test]
    fn ec_point_and_secret_sizes() {
        let mut point = vec![4u8];
        point.extend_from_slice(&[1u8; 64]);
        let d =
            decode_object(&object(&[(ATTR_KEY_TYPE, &[3]), (ATTR_MODULUS, &point)])).expect("ec");
        assert_eq!(d.key_bits, Some(256));
        assert!(d.modulus.is_none() && d.ec_point.is_some());
        let d = decode_object(&object(&[
            (ATTR_KEY_TYPE, &[0x1f]),
            (ATTR_VALUE_LEN, &[32]),
        ]))
        .expect("aes");
        assert_eq!((d.key_bits, d.key_type_name.as_str()), (Some(256), "AES"));
        assert_eq!(class_name(Some(9)), "class 0x9");
        assert_eq!(key_type_name(None), "(no key type)");
    }

    #[test]
    fn wrong_lengths_and_values_are_refused() {
        for v in [&[][..], &[2], &[0, 0, 0, 0, 0, 0, 0, 0, 1]] {
            let e = decode_object(&object(&[(ATTR_EXTRACTABLE, v)])).unwrap_err();
            assert!(e.is(ErrorKind::BadInput));
            assert!(e.message().contains("not a boolean"), "{e}");
        }
        let e = decode_object(&object(&[(ATTR_CLASS, &[0u8; 9])])).unwrap_err();
        assert!(
            e.message().contains("class (0x0000) is not an integer"),
            "{e}"
        );
        let e = decode_object(&object(&[(ATTR_KEY_TYPE, &[])])).unwrap_err();
        assert!(e.message().contains("key type"), "{e}");
    }
}
