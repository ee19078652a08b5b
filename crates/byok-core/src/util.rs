//! Small helpers every part of byok uses, once: hashing, big-endian integers, times and
//! yes/no text.

use sha2::{Digest, Sha256};

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Hex SHA-256 of `bytes` (lowercase), as byok prints and records fingerprints.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha256(bytes))
}

/// A big-endian unsigned integer without its leading zero bytes (`[0]` and `[]` become `[]`).
pub fn strip_zeros(be: &[u8]) -> &[u8] {
    let i = be.iter().position(|b| *b != 0).unwrap_or(be.len());
    &be[i..]
}

/// The number of significant bits of a big-endian unsigned integer (leading zero bytes
/// allowed): 2048 for a 2048-bit modulus, 0 for zero.
pub fn bit_len(be: &[u8]) -> usize {
    let t = strip_zeros(be);
    match t.first() {
        Some(b) => t.len() * 8 - b.leading_zeros() as usize,
        None => 0,
    }
}

/// `yes`, `no`, or `unknown` when the source did not say.
pub fn yes_no(v: Option<bool>) -> &'static str {
    yes_no_or(v, "unknown")
}

/// `yes`, `no`, or `unknown` (the caller's word for it) when the source did not say.
pub fn yes_no_or(v: Option<bool>, unknown: &'static str) -> &'static str {
    match v {
        Some(true) => "yes",
        Some(false) => "no",
        None => unknown,
    }
}

/// Unix seconds as RFC 3339 UTC to the second (`2026-12-01T09:14:03Z`). Times outside
/// what RFC 3339 can write (before year 0 or after 9999) are clamped to its bounds.
pub fn rfc3339(unix_secs: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::from_unix_timestamp(unix_secs).unwrap_or(if unix_secs < 0 {
        time::OffsetDateTime::UNIX_EPOCH
    } else {
        time::macros::datetime!(9999-12-31 23:59:59 UTC)
    });
    t.format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// Now, in Unix seconds (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Now, as RFC 3339 UTC to the second.
/// Seconds since the epoch of an RFC 3339 time (`2026-12-04T09:00:01.123456Z`), or
/// `None` if it is not one.
pub fn parse_rfc3339(t: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(t, &Rfc3339)
        .ok()
        .map(|d| d.unix_timestamp())
}

pub fn now_rfc3339() -> String {
    rfc3339(unix_now())
}

/// A date as `YYYYMMDD` (UTC), as backup file names carry it.
pub fn yyyymmdd(unix_secs: i64) -> String {
    rfc3339(unix_secs)
        .get(..10)
        .map(|d| d.replace('-', ""))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256(b"")[0], 0xe3);
    }

    #[test]
    fn integers() {
        assert_eq!(strip_zeros(&[0, 0, 1, 0]), &[1, 0]);
        assert_eq!(strip_zeros(&[0, 0]), &[] as &[u8]);
        assert_eq!(bit_len(&[0, 0x01, 0x00]), 9);
        assert_eq!(bit_len(&[0x80; 256]), 2048);
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[0]), 0);
    }

    #[test]
    fn yes_no_text() {
        assert_eq!(yes_no(Some(true)), "yes");
        assert_eq!(yes_no(Some(false)), "no");
        assert_eq!(yes_no(None), "unknown");
        assert_eq!(yes_no_or(None, "(not attested)"), "(not attested)");
        assert_eq!(yes_no_or(Some(true), "(not attested)"), "yes");
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_116_443), "2026-12-01T09:14:03Z");
        assert_eq!(rfc3339(253_402_214_400), "9999-12-31T00:00:00Z");
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(yyyymmdd(1_501_632_000), "20170802");
        assert!(now_rfc3339().ends_with('Z'));
    }
}
