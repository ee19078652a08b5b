//! The targets besides Azure (issue 13): AWS KMS, Google Cloud KMS and OpenBao (or
//! Vault) transit. The offline building blocks only: the names and algorithms a plan
//! states, checked; the commands printed for the connected side; Google's import-job
//! attestation.
//!
//! Every name here ends up in a printed shell command, and a plan's author is not
//! trusted: each type accepts only its documented character set (no whitespace, quotes,
//! control or shell characters), and file paths are single-quoted by [`shell_quote`].

pub mod aws;
pub mod gcp;
pub mod openbao;

use crate::{bail, Result};
use std::path::Path;

/// Implements `FromStr`, `TryFrom<String>` and `From<T> for String` for a type with
/// `parse` and `Display`, so that serde reads it through `parse`
/// (`#[serde(try_from = "String", into = "String")]`).
macro_rules! string_type {
    ($t:ty) => {
        impl std::str::FromStr for $t {
            type Err = crate::Error;
            fn from_str(s: &str) -> crate::Result<Self> {
                <$t>::parse(s)
            }
        }
        impl TryFrom<String> for $t {
            type Error = crate::Error;
            fn try_from(s: String) -> crate::Result<Self> {
                <$t>::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.to_string()
            }
        }
    };
}
pub(crate) use string_type;

/// Refuse a value with a character that has no place in any cloud name: control
/// characters, whitespace, quotes, shell metacharacters, non-ASCII. `what` names the
/// value, `forms` the valid forms. Shown escaped, so the message stays one printable line.
pub(crate) fn refuse_hostile(value: &str, what: &str, forms: &str) -> Result<()> {
    if value.is_empty() {
        bail!("{what} is empty; expected {forms}");
    }
    if value.len() > 2048 {
        bail!("{what} is {} bytes long; expected {forms}", value.len());
    }
    if let Some(c) = value
        .chars()
        .find(|c| !c.is_ascii_graphic() || "\"'`$\\;&|<>(){}[]*?!~#%^,=".contains(*c))
    {
        bail!(
            "{what} {:?} holds the character {:?}, which no such name has; expected {forms}",
            crate::text::printable(value),
            c
        );
    }
    Ok(())
}

/// Is `s` non-empty, at most `max` bytes, and every byte allowed by `ok`?
pub(crate) fn charset(s: &str, max: usize, ok: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(ok)
}

/// A path as one POSIX shell word: single-quoted, a `'` inside written `'\''`. A path
/// that is not UTF-8 or holds a control character (a newline would end the command) is
/// refused: rename the file.
pub fn shell_quote(path: &Path) -> Result<String> {
    let Some(s) = path.to_str() else {
        bail!(
            "the path {} is not UTF-8 text, so it cannot be printed in a shell command; rename the file",
            path.display()
        );
    };
    shell_quote_str(s)
}

/// [`shell_quote`] of a string.
pub fn shell_quote_str(s: &str) -> Result<String> {
    if s.is_empty() {
        bail!("an empty path cannot be printed in a shell command");
    }
    if s.chars().any(char::is_control) || crate::text::has_hidden(s) {
        bail!(
            "the path {:?} holds a control character (a newline, a tab, an escape), so it cannot be printed in a shell command; rename the file",
            crate::text::printable(s)
        );
    }
    Ok(format!("'{}'", s.replace('\'', r"'\''")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn paths_are_quoted_and_control_characters_refused() {
        assert_eq!(
            shell_quote(Path::new("k1.aws.bin")).unwrap(),
            "'k1.aws.bin'"
        );
        assert_eq!(
            shell_quote(Path::new("a b/$(rm -rf ~)`x`;\"y\"")).unwrap(),
            "'a b/$(rm -rf ~)`x`;\"y\"'"
        );
        assert_eq!(
            shell_quote(Path::new("it's")).unwrap(),
            r"'it'\''s'",
            "a quote closes, is escaped, reopens"
        );
        for bad in ["a\nb", "a\rb", "a\u{1b}[2Jb", "a\tb", "a\0b", ""] {
            let e = shell_quote(&PathBuf::from(bad)).unwrap_err();
            assert!(e.message().contains("cannot be printed"), "{bad:?}: {e}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let p = Path::new(std::ffi::OsStr::from_bytes(b"k\xff.bin"));
            assert!(shell_quote(p).unwrap_err().message().contains("not UTF-8"));
        }
    }

    #[test]
    fn hostile_characters_are_named() {
        for bad in [
            "a b", "a;b", "a$b", "a`b", "a'b", "a\"b", "a\nb", "a|b", "é",
        ] {
            let e = refuse_hostile(bad, "the thing", "FORM").unwrap_err();
            assert!(e.message().contains("no such name has"), "{bad:?}: {e}");
            assert!(e.message().contains("FORM"), "{e}");
            assert!(!e.to_string().contains('\n'));
        }
        assert!(refuse_hostile("", "the thing", "FORM").is_err());
        assert!(refuse_hostile("arn:aws:kms:us-east-1:1/x-y_z.", "t", "F").is_ok());
    }
}
