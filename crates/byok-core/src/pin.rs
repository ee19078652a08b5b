//! PINs: from a private file, the environment, or a prompt without echo (through the
//! [`Console`]); never argv.
//!
//! A PIN is held in zeroizing buffers and never formatted into a message or log line.

use crate::console::Console;
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
/// asking through the console without echo.
pub fn obtain(
    kind: PinKind,
    file: Option<&Path>,
    token_label: &str,
    console: &dyn Console,
) -> Result<AuthPin> {
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
        match console.secret(&prompt) {
            Some(p) => Zeroizing::new(p.as_bytes().to_vec()),
            None => bail!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::{Scripted, Unattended};
    use std::os::unix::fs::PermissionsExt;

    fn pin_file(dir: &Path, mode: u32, text: &[u8]) -> std::path::PathBuf {
        let p = dir.join(format!("pin-{mode:o}"));
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn text(pin: &AuthPin) -> String {
        use secrecy::ExposeSecret;
        pin.expose_secret().to_string()
    }

    #[test]
    fn a_private_file_gives_the_pin_without_its_newline() {
        let d = tempfile::tempdir().unwrap();
        let p = pin_file(d.path(), 0o600, b"1234\r\n");
        let pin = obtain(PinKind::User, Some(&p), "t", &Unattended).unwrap();
        assert_eq!(text(&pin), "1234");
    }

    #[test]
    fn a_file_others_can_read_is_refused_and_its_pin_never_shown() {
        let d = tempfile::tempdir().unwrap();
        for mode in [0o640, 0o604, 0o620] {
            let p = pin_file(d.path(), mode, b"s3cret-pin");
            let e = obtain(PinKind::User, Some(&p), "t", &Unattended).unwrap_err();
            assert!(e.message().contains("chmod 600"), "{e}");
            assert!(!e.message().contains("s3cret"), "{e}");
        }
        let p = pin_file(d.path(), 0o600, b"");
        let e = obtain(PinKind::SecurityOfficer, Some(&p), "t", &Unattended).unwrap_err();
        assert!(e.message().contains("Security Officer PIN is empty"), "{e}");
    }

    #[test]
    fn the_console_is_asked_last_and_no_console_names_the_ways_to_give_a_pin() {
        if std::env::var_os("BYOK_SO_PIN").is_some() {
            return; // the environment would answer first
        }
        let c = Scripted::default();
        c.secrets.borrow_mut().push("9876".into());
        let pin = obtain(PinKind::SecurityOfficer, None, "Tok", &c).unwrap();
        assert_eq!(text(&pin), "9876");
        assert!(c
            .transcript()
            .contains("Security Officer PIN for token \"Tok\""));
        let e = obtain(PinKind::SecurityOfficer, None, "Tok", &Unattended).unwrap_err();
        assert!(
            e.message().contains("--so-pin-file") && e.message().contains("BYOK_SO_PIN"),
            "{e}"
        );
    }
}
