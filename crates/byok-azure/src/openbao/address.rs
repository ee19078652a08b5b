//! What byok accepts as an OpenBao address, mount and key name, checked before any URL
//! is built from them.

use byok_core::text::Printable;
use byok_core::{bail, Mode, Result};

/// Check an OpenBao address: byok-core's rule, the one the plan's check applies
/// ([`byok_core::targets::openbao::check_address`]). Returns its origin.
pub(crate) fn check_address(address: &str, rehearsal: bool) -> Result<String> {
    byok_core::targets::openbao::check_address(address, Mode::rehearsal_if(rehearsal))
}

/// Check a mount path: byok-core's rule ([`byok_core::targets::openbao::check_mount`]).
pub(crate) fn check_mount(mount: &str) -> Result<()> {
    byok_core::targets::openbao::check_mount(mount)
}

/// Check a key name: 1 to 128 letters, digits, `-` and `_`.
pub(crate) fn check_key_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 128 || !name.bytes().all(safe_byte) {
        bail!(
            "OpenBao key name {:?} is not one byok uses: 1 to 128 letters, digits, '-' and '_'",
            Printable(name).to_string()
        );
    }
    Ok(())
}

fn safe_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_addresses_give_their_origin() {
        for (a, want) in [
            ("https://bao.example.com", "https://bao.example.com"),
            (
                "https://Bao.Example.com:8200/",
                "https://bao.example.com:8200",
            ),
            ("https://bao.example.com:443", "https://bao.example.com"),
            ("https://10.0.0.5:8200", "https://10.0.0.5:8200"),
            ("https://[2001:db8::1]:8200", "https://[2001:db8::1]:8200"),
        ] {
            assert_eq!(check_address(a, false).unwrap(), want, "{a}");
            assert_eq!(check_address(a, true).unwrap(), want, "{a}");
        }
    }

    #[test]
    fn http_is_refused_off_loopback_even_in_a_rehearsal() {
        for a in [
            "http://bao.example.com:8200",
            "http://10.0.0.5:8200",
            "http://[2001:db8::1]:8200",
            "http://localhost.example.com",
            "http://128.0.0.1",
        ] {
            for rehearsal in [false, true] {
                let e = check_address(a, rehearsal).unwrap_err();
                assert!(e.message().contains("plain http"), "{a}: {e}");
            }
        }
    }

    #[test]
    fn loopback_only_in_a_rehearsal_http_included() {
        for a in [
            "http://127.0.0.1:8200",
            "http://127.8.9.10:8200",
            "http://localhost:8200",
            "http://LOCALHOST:8200",
            "http://[::1]:8200",
            "https://127.0.0.1:8200",
            "https://localhost",
        ] {
            let e = check_address(a, false).unwrap_err();
            assert!(e.message().contains("rehearsal"), "{a}: {e}");
            let origin = check_address(a, true).unwrap();
            assert!(a.to_ascii_lowercase().starts_with(&origin), "{a}: {origin}");
        }
    }

    #[test]
    fn userinfo_paths_queries_fragments_and_other_schemes_are_refused() {
        for (a, word) in [
            ("https://user:pw@bao.example.com", "user name or password"),
            ("https://tok@bao.example.com", "user name or password"),
            ("https://bao.example.com/?x=1", "query or fragment"),
            ("https://bao.example.com/#f", "query or fragment"),
            ("https://bao.example.com/v1", "has a path"),
            ("https://bao.example.com/../evil", "has a path"),
            ("ftp://bao.example.com", "not https"),
            ("unix:///run/bao.sock", "not https"),
            ("bao.example.com:8200", "not https"),
            ("https://", "names no host"),
            ("https://bao.example.com:99999", "a port number"),
            ("", "not https"),
        ] {
            let e = check_address(a, true).unwrap_err();
            assert!(e.message().contains(word), "{a}: {e}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn mounts_are_safe_segments() {
        for m in ["transit", "team-a/transit_2", "a/b/c"] {
            check_mount(m).unwrap();
        }
        let long = "a".repeat(257);
        for m in [
            "",
            "/transit",
            "transit/",
            "a//b",
            "..",
            "a/../b",
            "tran sit",
            "transit?x",
            "transit#",
            "tr%2fansit",
            "trânsit",
            "a\nb",
            &long,
        ] {
            let e = check_mount(m).unwrap_err();
            assert!(e.message().contains("not a mount path"), "{m:?}: {e}");
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn key_names_are_checked_before_any_url() {
        let max = "k".repeat(128);
        for n in ["k", "Bao-Key_4096", max.as_str()] {
            check_key_name(n).unwrap();
        }
        let long = "k".repeat(129);
        for n in [
            "", ".", "..", "a/b", "a.b", "a b", "a?b", "a%2fb", "ключ", "a\u{1b}b", &long,
        ] {
            let e = check_key_name(n).unwrap_err();
            assert!(e.message().contains("not one byok uses"), "{n:?}: {e}");
        }
    }
}
