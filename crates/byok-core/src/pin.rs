//! PINs: from a prompt without echo, a private file, or the environment; never argv.
//!
//! A PIN is held in a `SecretString` (zeroized on drop) and never formatted into a
//! message or log line.

use crate::{bail, err, Result};
use cryptoki::types::AuthPin;
use std::path::Path;
use zeroize::Zeroizing;

/// Where a PIN comes from, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinKind {
    /// The token's normal user (crypto officer).
    User,
    /// The Security Officer.
    SecurityOfficer,
}

impl PinKind {
    fn env(self) -> &'static str {
        match self {
            PinKind::User => "BYOK_PIN",
            PinKind::SecurityOfficer => "BYOK_SO_PIN",
        }
    }
    fn flag(self) -> &'static str {
        match self {
            PinKind::User => "--pin-file",
            PinKind::SecurityOfficer => "--so-pin-file",
        }
    }
    fn name(self) -> &'static str {
        match self {
            PinKind::User => "user PIN",
            PinKind::SecurityOfficer => "Security Officer PIN",
        }
    }
}

/// Get a PIN: from `file` when given, else from the environment variable, else by
/// asking on the terminal without echo.
pub fn obtain(kind: PinKind, file: Option<&Path>, token_label: &str) -> Result<AuthPin> {
    let raw: Zeroizing<Vec<u8>> = if let Some(path) = file {
        let mut bytes = crate::fsutil::read_secret_file(path, &format!("{} file", kind.name()))?;
        // One trailing newline is the file's, not the PIN's.
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        bytes
    } else if let Some(v) = std::env::var_os(kind.env()) {
        Zeroizing::new(v.into_encoded_bytes())
    } else {
        let prompt = format!("{} for token \"{token_label}\": ", kind.name());
        match rpassword::prompt_password(prompt) {
            Ok(p) => Zeroizing::new(p.into_bytes()),
            Err(_) => bail!(
                "no {} given and no terminal to ask on: use {} PATH (a file only you can read) or set {}",
                kind.name(),
                kind.flag(),
                kind.env()
            ),
        }
    };
    if raw.is_empty() {
        bail!("the {} is empty: give the token's PIN", kind.name());
    }
    let s = std::str::from_utf8(&raw).map_err(|_| err!("the {} is not UTF-8 text", kind.name()))?;
    Ok(AuthPin::new(s.into()))
}
