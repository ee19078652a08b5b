//! The OpenBao token: from a private file (`--bao-token-file`), else `BAO_TOKEN`, else
//! `VAULT_TOKEN`, as the `bao` and `vault` CLIs read it. Held in a zeroizing buffer, never
//! formatted into a message, sent only in the `X-Vault-Token` header.

use byok_core::{bail, err, Result};
use std::ffi::OsString;
use std::path::Path;
use zeroize::Zeroizing;

/// An OpenBao / Vault token. Its `Debug` shows no part of it.
pub struct BaoToken(Zeroizing<String>);

impl std::fmt::Debug for BaoToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BaoToken(..)")
    }
}

impl BaoToken {
    /// A token from its text, checked: not empty, at most 4096 bytes, visible ASCII only
    /// (no control character, space or other character an HTTP header would mangle).
    pub fn new(text: Zeroizing<String>) -> Result<BaoToken> {
        check(text.as_bytes(), "the OpenBao token")?;
        Ok(BaoToken(text))
    }

    /// The token's text, for the `X-Vault-Token` header and for scrubbing messages.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// Refuse an empty token, or one holding anything but visible ASCII. The message names
/// `what` (where the token came from), never the token.
fn check(bytes: &[u8], what: &str) -> Result<()> {
    if bytes.is_empty() {
        bail!("{what} is empty: give the token OpenBao issued");
    }
    if bytes.len() > 4096 {
        bail!("{what} is longer than 4096 bytes: is it a token?");
    }
    if !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        bail!("{what} holds a control character, a space or a non-ASCII character: a token is one word of visible ASCII");
    }
    Ok(())
}

/// The token: from `file` when given (a file only its owner can read, as for PIN files;
/// one trailing newline is the file's), else from `BAO_TOKEN`, else `VAULT_TOKEN` (an
/// empty variable counts as unset, as for the `bao` CLI).
pub fn token_from_env_or_file(file: Option<&Path>) -> Result<BaoToken> {
    token_from(
        file,
        std::env::var_os("BAO_TOKEN"),
        std::env::var_os("VAULT_TOKEN"),
    )
}

/// [`token_from_env_or_file`] with the environment given.
pub(crate) fn token_from(
    file: Option<&Path>,
    bao: Option<OsString>,
    vault: Option<OsString>,
) -> Result<BaoToken> {
    let (bytes, what): (Zeroizing<Vec<u8>>, String) = if let Some(path) = file {
        let mut bytes = byok_core::fsutil::read_secret_file(path, "OpenBao token file")?;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        (bytes, format!("the token in {}", path.display()))
    } else {
        let set = |v: Option<OsString>| v.filter(|v| !v.is_empty());
        match (set(bao), set(vault)) {
            (Some(v), _) => (Zeroizing::new(v.into_encoded_bytes()), "BAO_TOKEN".into()),
            (None, Some(v)) => (Zeroizing::new(v.into_encoded_bytes()), "VAULT_TOKEN".into()),
            (None, None) => bail!(
                "no OpenBao token given: use --bao-token-file PATH (a file only you can read) or set BAO_TOKEN or VAULT_TOKEN"
            ),
        }
    };
    check(&bytes, &what)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| err!("{what} is not ASCII text"))?;
    Ok(BaoToken(Zeroizing::new(text.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const SECRET: &str = "hvs.S3cretT0ken";

    fn file(dir: &Path, name: &str, mode: u32, text: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn os(s: &str) -> Option<OsString> {
        Some(s.into())
    }

    #[test]
    fn a_private_file_gives_the_token_without_one_newline() {
        let d = tempfile::tempdir().unwrap();
        for text in ["hvs.abc\n", "hvs.abc\r\n", "hvs.abc"] {
            let p = file(d.path(), "t", 0o600, text.as_bytes());
            let t = token_from(Some(&p), os("env-bao"), os("env-vault")).unwrap();
            assert_eq!(t.expose(), "hvs.abc", "{text:?}");
        }
        // Only one newline is the file's.
        let p = file(d.path(), "t2", 0o600, b"hvs.abc\n\n");
        assert!(token_from(Some(&p), None, None).is_err());
    }

    #[test]
    fn a_token_file_others_can_read_is_refused_and_the_token_never_shown() {
        let d = tempfile::tempdir().unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620] {
            let p = file(d.path(), &format!("t{mode:o}"), mode, SECRET.as_bytes());
            let e = token_from(Some(&p), None, None).unwrap_err();
            assert!(e.message().contains("chmod 600"), "{e}");
            assert!(!e.to_string().contains(SECRET), "{e}");
        }
    }

    #[test]
    fn the_file_comes_first_then_bao_token_then_vault_token() {
        let d = tempfile::tempdir().unwrap();
        let p = file(d.path(), "t", 0o600, b"from-file\n");
        let t = |f: Option<&Path>, b, v| token_from(f, b, v).unwrap().expose().to_string();
        assert_eq!(t(Some(&p), os("b"), os("v")), "from-file");
        assert_eq!(t(None, os("b"), os("v")), "b");
        assert_eq!(t(None, None, os("v")), "v");
        // An empty variable is unset.
        assert_eq!(t(None, os(""), os("v")), "v");
        let e = token_from(None, os(""), None).unwrap_err();
        assert!(
            e.message().contains("--bao-token-file") && e.message().contains("VAULT_TOKEN"),
            "{e}"
        );
    }

    #[test]
    fn empty_and_control_characters_are_refused_without_showing_the_token() {
        let d = tempfile::tempdir().unwrap();
        let p = file(d.path(), "empty", 0o600, b"\n");
        let e = token_from(Some(&p), None, None).unwrap_err();
        assert!(e.message().contains("is empty"), "{e}");
        for bad in [
            format!("{SECRET}\u{1b}[2J"),
            format!("{SECRET} x"),
            format!("{SECRET}\r"),
            format!("{SECRET}\té"),
            format!("\n{SECRET}"),
        ] {
            let e = token_from(None, os(&bad), None).unwrap_err();
            assert!(e.message().contains("BAO_TOKEN holds"), "{bad:?}: {e}");
            assert!(!e.to_string().contains(SECRET), "{e}");
            let p = file(d.path(), "bad", 0o600, bad.as_bytes());
            let e = token_from(Some(&p), None, None).unwrap_err();
            assert!(!e.to_string().contains(SECRET), "{e}");
            assert!(BaoToken::new(Zeroizing::new(bad.clone())).is_err());
        }
        let t = BaoToken::new(Zeroizing::new(SECRET.into())).unwrap();
        assert_eq!(format!("{t:?}"), "BaoToken(..)");
    }
}
