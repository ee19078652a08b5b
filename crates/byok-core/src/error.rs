//! The one error type of byok.
//!
//! Every failure reaches the user as a single line `error: <message>`, where the
//! message says what is wrong and what to do about it. Messages never contain
//! secrets (PINs, access tokens): code that handles secrets must not format them.
//!
//! Each error also has a [`ErrorKind`], which is what code decides on (never the
//! message text), and may keep the lower-level error it came from as its
//! [`std::error::Error::source`].

use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// What kind of failure an [`Error`] is. Code that must react to a failure (look at the
/// vault after a lost answer, hint at `--trust-root`) matches on this, never on text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The input is wrong (a file, an argument, a plan, a package): fix it and run again.
    BadInput,
    /// What the command needs is not there (a key, a file, a token, a vault object).
    NotFound,
    /// Something already exists that byok will not replace (an output file, a key, a label).
    Exists,
    /// What byok found is not what was recorded or promised: a file altered, a key
    /// doubled or swapped, a signature that does not verify. Stop and investigate.
    Integrity,
    /// A file or directory could not be read or written.
    Io,
    /// The HSM (its PKCS#11 module) refused or failed.
    Hsm,
    /// An attestation chains to no trusted root.
    UntrustedRoot,
    /// A request was sent and its answer lost: the service may or may not have applied it.
    OutcomeUnknown,
    /// A remote service refused or failed (an HTTP error, TLS, credentials).
    Service,
    /// A bug in byok: it should not happen.
    Internal,
}

/// A user-facing error: one line, saying what is wrong and what to do; a kind; and the
/// error it came from, when there is one.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    msg: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error of `kind` with the one-line message `msg`.
    pub fn new(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error {
            kind,
            msg: msg.into(),
            source: None,
        }
    }

    /// Keep `source` as the cause (shown by `source()`, never in the message).
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Is this error of `kind`?
    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }

    /// The message without the `error: ` prefix.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// Prefix the message with context, e.g. the file being read. Kind and source stay.
    pub fn context(self, ctx: impl fmt::Display) -> Self {
        Error {
            msg: format!("{ctx}: {}", self.msg),
            ..self
        }
    }

    /// Append advice to the message. Kind and source stay.
    pub fn hint(self, hint: impl fmt::Display) -> Self {
        Error {
            msg: format!("{} ({hint})", self.msg),
            ..self
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep it on one line whatever the source said, and let no value in it (a file
        // name, a label) act on the terminal: other control characters are escaped.
        let one_line = self.msg.replace(['\n', '\r'], " ");
        f.write_str(&crate::text::printable(&one_line))
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Build an [`Error`] from a format string: `err!("…", args)` is [`ErrorKind::BadInput`];
/// `err!(Kind, "…", args)` names the kind.
#[macro_export]
macro_rules! err {
    ($kind:ident, $fmt:literal $($t:tt)*) => {
        $crate::error::Error::new($crate::error::ErrorKind::$kind, format!($fmt $($t)*))
    };
    ($($t:tt)*) => {
        $crate::error::Error::new($crate::error::ErrorKind::BadInput, format!($($t)*))
    };
}

/// Return early with an [`Error`] built from a format string (kinds as in [`err!`]).
#[macro_export]
macro_rules! bail {
    ($($t:tt)*) => { return Err($crate::err!($($t)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_macro() {
        let e = err!("plan {} is wrong", "p.json");
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert_eq!(e.message(), "plan p.json is wrong");
        let e = err!(OutcomeUnknown, "lost after {}", 3);
        assert!(e.is(ErrorKind::OutcomeUnknown));
        assert_eq!(e.to_string(), "lost after 3");
    }

    #[test]
    fn context_and_hint_keep_kind_and_source() {
        let io = std::io::Error::other("disk on fire");
        let e = err!(Io, "cannot read x")
            .with_source(io)
            .context("KEK k.json")
            .hint("check the file");
        assert_eq!(e.kind(), ErrorKind::Io);
        assert_eq!(e.message(), "KEK k.json: cannot read x (check the file)");
        let src = std::error::Error::source(&e).expect("source kept");
        assert_eq!(src.to_string(), "disk on fire");
        assert!(
            !e.to_string().contains("disk on fire"),
            "the source is not in the line"
        );
    }

    #[test]
    fn display_is_one_line() {
        let e = err!("a\nb\r\nc");
        assert_eq!(e.to_string(), "a b  c");
    }

    #[test]
    fn bail_returns_the_error() {
        fn f(x: u8) -> Result<u8> {
            if x > 1 {
                bail!(NotFound, "no {x}");
            }
            Ok(x)
        }
        assert_eq!(f(1).ok(), Some(1));
        assert_eq!(f(2).unwrap_err().kind(), ErrorKind::NotFound);
    }
}
