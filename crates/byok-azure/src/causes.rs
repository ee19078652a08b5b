//! Walking an error's causes: is a given error type among them (a TLS refusal, a write
//! whose connection broke), and one line of their texts for a message.
//!
//! Decisions are made on types found in the chain, never on the texts: the texts only
//! go into the message shown to the user.

use std::error::Error as StdError;

/// Give an error of a lower layer the kind it has here, with `ctx` before its message:
/// e.g. a KEK the offline rules refuse (`BadInput` there) is the vault's odd answer here.
/// The original stays as the source.
pub(crate) fn rekind(
    e: byok_core::Error,
    kind: byok_core::ErrorKind,
    ctx: &str,
) -> byok_core::Error {
    byok_core::Error::new(kind, format!("{ctx}: {}", e.message())).with_source(e)
}

/// Is an error of type `T` among `e` and its causes? Also looks inside `std::io::Error`,
/// whose `source()` skips the error it wraps (TLS libraries put theirs there).
pub(crate) fn has_cause<T: StdError + 'static>(e: &(dyn StdError + 'static)) -> bool {
    find_cause::<T>(e).is_some()
}

/// The first error of type `T` among `e` and its causes (looking inside `std::io::Error`
/// as [`has_cause`] does).
pub(crate) fn find_cause<'a, T: StdError + 'static>(
    e: &'a (dyn StdError + 'static),
) -> Option<&'a T> {
    let mut cur: Option<&'a (dyn StdError + 'static)> = Some(e);
    while let Some(x) = cur {
        if let Some(t) = x.downcast_ref::<T>() {
            return Some(t);
        }
        if let Some(inner) = x
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(t) = find_cause::<T>(inner) {
                return Some(t);
            }
        }
        cur = x.source();
    }
    None
}

/// The texts of `e` and its causes, each on one line and at most `max` characters, joined
/// with ": ". A text already shown inside an earlier one is left out: libraries often
/// repeat their cause's words in their own message. (This only shapes the message.)
pub(crate) fn chain_text(e: &(dyn StdError + 'static), max: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(x) = cur {
        let t = one_line(&x.to_string(), max);
        if !t.is_empty() && !parts.iter().any(|p| p.contains(t.as_str())) {
            parts.push(t);
        }
        cur = x.source();
    }
    parts.join(": ")
}

/// One line from text a service or a library wrote: whitespace runs made one space, no
/// control characters, at most `max` characters (then "…").
pub(crate) fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Marker;
    impl std::fmt::Display for Marker {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("marker")
        }
    }
    impl StdError for Marker {}

    #[derive(Debug)]
    struct Wrap(&'static str, Box<dyn StdError + Send + Sync>);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(self.1.as_ref())
        }
    }

    #[test]
    fn finds_a_cause_also_inside_io_errors() {
        let direct = Wrap("outer", Box::new(Marker));
        assert!(has_cause::<Marker>(&direct));
        // io::Error::source() does not return the wrapped error: get_ref must be used.
        let io = std::io::Error::other(Marker);
        let nested = Wrap("outer", Box::new(Wrap("middle", Box::new(io))));
        assert!(has_cause::<Marker>(&nested));
        let none = Wrap("outer", Box::new(std::io::Error::other("plain")));
        assert!(!has_cause::<Marker>(&none));
    }

    #[test]
    fn chain_text_is_one_line_without_repeats() {
        let e = Wrap(
            "request failed: connection refused",
            Box::new(Wrap("connection refused", Box::new(Marker))),
        );
        assert_eq!(
            chain_text(&e, 200),
            "request failed: connection refused: marker"
        );
        let e = Wrap("a\nb\t\u{7}c", Box::new(Marker));
        assert_eq!(chain_text(&e, 200), "a b c: marker");
    }

    #[test]
    fn rekind_keeps_message_and_source() {
        let e = byok_core::err!("bad {}", 1);
        let r = rekind(e, byok_core::ErrorKind::Integrity, "ctx");
        assert_eq!(r.kind(), byok_core::ErrorKind::Integrity);
        assert_eq!(r.message(), "ctx: bad 1");
        assert_eq!(r.source().map(|s| s.to_string()).as_deref(), Some("bad 1"));
    }

    #[test]
    fn one_line_bounds_the_text() {
        assert_eq!(one_line("  x \r\n y  ", 10), "x y");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("äöü", 3), "äöü");
    }
}
