//! OpenBao (or Vault) transit: the imported key's `type` and the `hash_function` of the
//! wrap. The transit mount's wrapping key (`GET /v1/MOUNT/wrapping_key`) is always
//! RSA-4096: OpenBao reads exactly 512 bytes of RSA ciphertext.

use super::{refuse_hostile, string_type};
use crate::hsm::OaepHash;
use crate::kek::Kek;
use crate::{bail, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The size of every transit wrapping key.
pub const WRAPPING_KEY_BITS: usize = 4096;

/// Refuse a wrapping key that is not RSA-4096.
pub fn check_wrapping_key(kek: &Kek) -> Result<()> {
    if kek.bits() != WRAPPING_KEY_BITS {
        bail!(
            "the OpenBao wrapping key is RSA-{}; a transit mount's wrapping key is always RSA-{WRAPPING_KEY_BITS}: fetch it again from /v1/MOUNT/wrapping_key",
            kek.bits()
        );
    }
    Ok(())
}

/// Check an OpenBao address offline (the plan's rule; the connected side checks it again
/// before it connects): `https://HOST[:PORT]` (a trailing `/` allowed), or plain
/// `http://` on a loopback host (a dev server) in a rehearsal only. No user, path, query
/// or fragment. Returns the origin, lowercase, the port only when it is not the
/// scheme's default. The plan's rule and the OpenBao client both use this one check.
pub fn check_address(address: &str, mode: crate::keyid::Mode) -> Result<String> {
    let shown = crate::text::printable(address);
    let (scheme, rest) = match address.split_once("://") {
        Some((s, r)) if s.eq_ignore_ascii_case("https") => ("https", r),
        Some((s, r)) if s.eq_ignore_ascii_case("http") => ("http", r),
        _ => bail!("OpenBao address {shown:?} is not https://HOST[:PORT]"),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('@') {
        bail!("OpenBao address {shown:?} holds a user name or password: give https://HOST[:PORT] and the token apart (--bao-token-file, BAO_TOKEN)");
    }
    if authority.contains(['?', '#']) {
        bail!("OpenBao address {shown:?} has a query or fragment: give https://HOST[:PORT] only");
    }
    if authority.contains('/') {
        bail!("OpenBao address {shown:?} has a path: give https://HOST[:PORT] only; the mount is given apart");
    }
    if authority.is_empty() {
        bail!("OpenBao address {shown:?} names no host: give https://HOST[:PORT]");
    }
    let (host, port, v6) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6
            .split_once(']')
            .ok_or_else(|| crate::err!("OpenBao address {shown:?} has an unclosed [IPv6] host"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| {
                crate::err!("OpenBao address {shown:?} is not https://HOST[:PORT]")
            })?),
        };
        (h, port, true)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p), false),
            None => (authority, None, false),
        }
    };
    // A host is an IP address (IPv6 in brackets) or a DNS name whose last label is not a
    // number: other spellings of an address (`2130706433`, `0x7f.1`, `localhost.`) could
    // reach loopback past the rehearsal rule.
    let host_ok = if v6 {
        host.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        host.parse::<std::net::Ipv4Addr>().is_ok() || dns_name(host)
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|n| n > 0)
    });
    if !host_ok || !port_ok {
        bail!("OpenBao address {shown:?} is not https://HOST[:PORT]: a host name or address and a port number");
    }
    let host = host.to_ascii_lowercase();
    let loopback = is_loopback_host(&host);
    if scheme == "http" && !loopback {
        bail!("OpenBao address {shown:?} is plain http: the token and the key would cross the network unprotected; use https");
    }
    if loopback && !mode.is_rehearsal() {
        bail!(
            "OpenBao address {shown:?} {}",
            crate::keyid::LOOPBACK_REFUSED
        );
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let default = if scheme == "https" { "443" } else { "80" };
    Ok(match port {
        Some(p) if p != default => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// Is `host` (lowercase; an IPv6 address without brackets) this machine: `localhost`
/// or a name under it, a loopback address (IPv4-mapped IPv6 included), or the
/// unspecified address (`0.0.0.0`, `::`, which connects here)? The plan's rule and the
/// OpenBao client use this one test.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|a| {
            let a = a.to_canonical();
            a.is_loopback() || a.is_unspecified()
        })
}

/// A DNS host name: labels of letters, digits and inner dashes, 1-63 bytes each, at most
/// 253 bytes, the last label not all digits.
fn dns_name(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    host.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()) && !l.starts_with("0x"))
}

/// Check a transit mount path: segments of letters, digits, `-` and `_` separated by
/// single `/` (`transit`, `team-a/transit`), at most 256 bytes.
pub fn check_mount(mount: &str) -> Result<()> {
    let ok = !mount.is_empty()
        && mount.len() <= 256
        && mount.split('/').all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !ok {
        bail!(
            "OpenBao mount {:?} is not a mount path: letters, digits, '-' and '_', segments separated by '/' (e.g. transit)",
            crate::text::printable(mount)
        );
    }
    Ok(())
}

/// The transit key type of an imported RSA key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum BaoKeyType {
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl BaoKeyType {
    pub fn parse(s: &str) -> Result<BaoKeyType> {
        const FORMS: &str = "rsa-2048, rsa-3072 or rsa-4096";
        refuse_hostile(s, "the OpenBao key type", FORMS)?;
        match s {
            "rsa-2048" => Ok(BaoKeyType::Rsa2048),
            "rsa-3072" => Ok(BaoKeyType::Rsa3072),
            "rsa-4096" => Ok(BaoKeyType::Rsa4096),
            s => bail!(
                "the OpenBao key type {s:?} is not an RSA type byok imports; expected {FORMS}"
            ),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BaoKeyType::Rsa2048 => "rsa-2048",
            BaoKeyType::Rsa3072 => "rsa-3072",
            BaoKeyType::Rsa4096 => "rsa-4096",
        }
    }

    pub fn bits(self) -> usize {
        match self {
            BaoKeyType::Rsa2048 => 2048,
            BaoKeyType::Rsa3072 => 3072,
            BaoKeyType::Rsa4096 => 4096,
        }
    }
}

impl fmt::Display for BaoKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_type!(BaoKeyType);

/// The import's `hash_function` (OAEP and MGF1 hash). OpenBao's default is SHA256, so
/// byok always sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum BaoHash {
    Sha1,
    Sha256,
}

impl BaoHash {
    pub fn parse(s: &str) -> Result<BaoHash> {
        const FORMS: &str = "SHA1 or SHA256";
        refuse_hostile(s, "the OpenBao hash_function", FORMS)?;
        match s {
            "SHA1" => Ok(BaoHash::Sha1),
            "SHA256" => Ok(BaoHash::Sha256),
            "SHA224" | "SHA384" | "SHA512" => bail!(
                "the OpenBao hash_function {s} is one byok's wraps cannot make; expected {FORMS}"
            ),
            s => bail!("the OpenBao hash_function {s:?} is unknown; expected {FORMS}"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BaoHash::Sha1 => "SHA1",
            BaoHash::Sha256 => "SHA256",
        }
    }

    /// The OAEP (and MGF1) hash of the wrap.
    pub fn oaep(self) -> OaepHash {
        match self {
            BaoHash::Sha1 => OaepHash::Sha1,
            BaoHash::Sha256 => OaepHash::Sha256,
        }
    }
}

impl fmt::Display for BaoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_type!(BaoHash);

#[cfg(test)]
mod tests {

    #[test]
    fn addresses_are_one_spelling_of_one_host() {
        use crate::keyid::Mode;
        let ok = |a: &str, m: Mode| check_address(a, m).map_err(|e| e.to_string());
        assert_eq!(
            ok("https://Bao.Example.com:8200/", Mode::Ceremony).unwrap(),
            "https://bao.example.com:8200"
        );
        assert_eq!(
            ok("https://[2001:db8::1]:8200", Mode::Ceremony).unwrap(),
            "https://[2001:db8::1]:8200"
        );
        assert_eq!(
            ok("http://127.0.0.1:8200", Mode::Rehearsal).unwrap(),
            "http://127.0.0.1:8200"
        );
        assert!(ok("http://[::1]:8200", Mode::Rehearsal).is_ok());
        // Other spellings of loopback, or of a host, are refused outright.
        for bad in [
            "https://bao.example.com:8200:99",
            "https://[bao.example.com]:8200",
            "https://2130706433:8200",
            "https://0x7f.1:8200",
            "https://localhost.:8200",
            "https://a..b:8200",
            "https://-a.example.com",
            "https://[::1]x:8200",
            "https://bao.example.com:0",
            "https://bao.example.com:65536",
        ] {
            assert!(ok(bad, Mode::Ceremony).is_err(), "{bad} accepted");
            assert!(
                ok(bad, Mode::Rehearsal).is_err(),
                "{bad} accepted in a rehearsal"
            );
        }
        // Loopback only in a rehearsal, however it is named.
        for lo in [
            "https://localhost:8200",
            "https://bao.localhost",
            "https://127.1.2.3",
            "https://[::1]",
            "https://0.0.0.0:8200",
            "https://[::]:8200",
            "https://[::ffff:127.0.0.1]:8200",
        ] {
            assert!(ok(lo, Mode::Ceremony).is_err(), "{lo}");
            assert!(ok(lo, Mode::Rehearsal).is_ok(), "{lo}");
        }
        assert!(ok("http://bao.example.com", Mode::Rehearsal).is_err());
    }
    use super::*;

    #[test]
    fn types_and_hashes() {
        for (s, bits) in [("rsa-2048", 2048), ("rsa-3072", 3072), ("rsa-4096", 4096)] {
            let t = BaoKeyType::parse(s).unwrap();
            assert_eq!((t.bits(), t.to_string().as_str()), (bits, s));
            let j: BaoKeyType = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert_eq!(serde_json::to_string(&j).unwrap(), format!("\"{s}\""));
        }
        for (s, words) in [
            ("RSA-2048", "not an RSA type"),
            ("ecdsa-p256", "not an RSA type"),
            ("rsa-2048;x", "character ';'"),
        ] {
            let e = BaoKeyType::parse(s).unwrap_err();
            assert!(e.message().contains(words), "{s}: {e}");
        }
        assert_eq!(BaoHash::parse("SHA1").unwrap().oaep(), OaepHash::Sha1);
        assert_eq!(BaoHash::parse("SHA256").unwrap().oaep(), OaepHash::Sha256);
        let h: BaoHash = serde_json::from_str("\"SHA256\"").unwrap();
        assert_eq!(serde_json::to_string(&h).unwrap(), "\"SHA256\"");
        for (s, words) in [
            ("SHA-256", "unknown"),
            ("sha256", "unknown"),
            ("SHA512", "cannot make"),
            ("SHA1 ", "character ' '"),
        ] {
            let e = BaoHash::parse(s).unwrap_err();
            assert!(e.message().contains(words), "{s}: {e}");
        }
    }

    #[test]
    fn the_wrapping_key_is_rsa_4096() {
        let k = |bits| {
            let pk = rsa::PrivateKey::new(&mut rand::rng(), bits)
                .unwrap()
                .to_public_key();
            let der = rsa::pkcs8::EncodePublicKey::to_public_key_der(&pk).unwrap();
            crate::kek::rsa_public_from_bytes(der.as_bytes()).unwrap()
        };
        let e = check_wrapping_key(&k(2048)).unwrap_err();
        assert!(
            e.message().contains("RSA-2048") && e.message().contains("RSA-4096"),
            "{e}"
        );
        check_wrapping_key(&k(4096)).unwrap();
    }
}
