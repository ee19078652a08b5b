//! The one error type of byok.
//!
//! Every failure reaches the user as a single line `error: <message>`, where the
//! message says what is wrong and what to do about it. Messages never contain
//! secrets (PINs, access tokens): code that handles secrets must not format them.

use std::fmt;

/// A user-facing error: one line, saying what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    msg: String,
}

impl Error {
    pub fn new(msg: impl Into<String>) -> Self {
        Error { msg: msg.into() }
    }

    /// The message without the `error: ` prefix.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// Prefix the message with context, e.g. the file being read.
    pub fn context(self, ctx: impl fmt::Display) -> Self {
        Error {
            msg: format!("{ctx}: {}", self.msg),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep it on one line whatever the source said.
        f.write_str(&self.msg.replace('\n', " "))
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Build an [`Error`] from a format string.
#[macro_export]
macro_rules! err {
    ($($t:tt)*) => { $crate::error::Error::new(format!($($t)*)) };
}

/// Return early with an [`Error`] built from a format string.
#[macro_export]
macro_rules! bail {
    ($($t:tt)*) => { return Err($crate::err!($($t)*)) };
}
