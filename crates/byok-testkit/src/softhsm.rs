//! Throwaway software tokens for tests, demos and rehearsals. Never for real keys.
//!
//! Three kinds, because real HSMs differ exactly where these do ([`TokenKind`]):
//! Debian's SoftHSM 2.6.1 (the default), SoftHSM 2.7.0 and Kryoptic, the last two built
//! by `softhsm/setup.sh --tokens` into `.tokens/`.
//!
//! A token lives in a directory of its own (`DIR/softhsm2.conf` points SoftHSM at
//! `DIR/tokens`; `DIR/kryoptic.toml` points Kryoptic at a sqlite file there), so a user's
//! real token directory is never touched. Its PINs are drawn at random and written to
//! `DIR/user.pin` and `DIR/so.pin` (mode 600); they never appear on a command line. The
//! token is initialized through PKCS#11 (`C_InitToken`, `C_InitPIN`), since
//! `softhsm2-util` takes PINs only in argv or from a terminal.

use byok_core::hsm::ck;
use byok_core::{bail, err, Result};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};

/// Debian's SoftHSM2 module.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Which software token: they differ where real HSMs differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Debian's `softhsm2`: the two-step wrap through `CKM_AES_KEY_WRAP_PAD`, and a
    /// PKCS#8 zero-padded to a multiple of 8 bytes.
    SoftHsm261,
    /// SoftHSM 2.7.0: native `CKM_RSA_AES_KEY_WRAP`, exact RFC 5649,
    /// `CKA_WRAP_WITH_TRUSTED` enforced.
    SoftHsm270,
    /// Kryoptic (PKCS#11 3.x): `CKM_AES_KEY_WRAP_KWP` only, never `CKA_TRUSTED`.
    Kryoptic,
}

impl TokenKind {
    pub const ALL: [TokenKind; 3] = [
        TokenKind::SoftHsm261,
        TokenKind::SoftHsm270,
        TokenKind::Kryoptic,
    ];

    /// The name `BYOK_TEST_TOKEN` takes and test output shows.
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::SoftHsm261 => "softhsm-2.6.1",
            TokenKind::SoftHsm270 => "softhsm-2.7.0",
            TokenKind::Kryoptic => "kryoptic",
        }
    }

    /// The kind the tests run on: `$BYOK_TEST_TOKEN`, else SoftHSM 2.6.1.
    pub fn from_env() -> TokenKind {
        match std::env::var("BYOK_TEST_TOKEN").as_deref() {
            Ok("softhsm-2.7.0") => TokenKind::SoftHsm270,
            Ok("kryoptic") => TokenKind::Kryoptic,
            Ok("softhsm-2.6.1") | Ok("") | Err(_) => TokenKind::SoftHsm261,
            Ok(other) => {
                panic!("BYOK_TEST_TOKEN={other}: use softhsm-2.6.1, softhsm-2.7.0 or kryoptic")
            }
        }
    }

    /// Whether the token really wraps with RSA-OAEP SHA-256 (AWS, GCP and OpenBao's
    /// SHA-256 methods). SoftHSM 2.6.1 refuses it; SoftHSM 2.7.0 accepts it and uses
    /// SHA-1 (its `WrapKeyAsym` hard-codes SHA-1); only Kryoptic honours it.
    pub fn oaep_sha256(self) -> bool {
        self == TokenKind::Kryoptic
    }

    /// The variable that names the token's configuration file.
    pub fn conf_var(self) -> &'static str {
        match self {
            TokenKind::Kryoptic => "KRYOPTIC_CONF",
            _ => "SOFTHSM2_CONF",
        }
    }

    /// The module: `$BYOK_SOFTHSM_MODULE` (2.6.1), `$BYOK_SOFTHSM27_MODULE`,
    /// `$BYOK_KRYOPTIC_MODULE`, else where Debian or `softhsm/setup.sh --tokens` puts it.
    pub fn module(self) -> PathBuf {
        let (var, default) = match self {
            TokenKind::SoftHsm261 => ("BYOK_SOFTHSM_MODULE", PathBuf::from(DEFAULT_MODULE)),
            TokenKind::SoftHsm270 => (
                "BYOK_SOFTHSM27_MODULE",
                tokens_dir().join("softhsm-2.7.0/lib/softhsm/libsofthsm2.so"),
            ),
            TokenKind::Kryoptic => (
                "BYOK_KRYOPTIC_MODULE",
                tokens_dir().join("kryoptic/libkryoptic_pkcs11.so"),
            ),
        };
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or(default)
    }

    /// Whether this kind's module is there; if not, why (for the tests to say they skip).
    pub fn missing(self) -> Option<String> {
        let m = self.module();
        if m.is_file() {
            return None;
        }
        let why = match self {
            TokenKind::SoftHsm261 => "apt-get install softhsm2".to_string(),
            TokenKind::SoftHsm270 => {
                std::fs::read_to_string(tokens_dir().join("softhsm-2.7.0.skipped"))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| "run softhsm/setup.sh --tokens".into())
            }
            TokenKind::Kryoptic => "run softhsm/setup.sh --tokens".into(),
        };
        Some(format!("{} missing ({}): {why}", self.name(), m.display()))
    }

    /// What the token's manufacturer field says.
    pub fn manufacturer(self) -> &'static str {
        match self {
            TokenKind::Kryoptic => "Kryoptic",
            _ => "SoftHSM",
        }
    }

    /// The verdict `byok hsm info` must give (`BYOK_FORCE_COMPOSITE` aside).
    pub fn verdict(self) -> &'static str {
        match self {
            TokenKind::SoftHsm270 => "native",
            _ => "composite",
        }
    }

    /// The mechanism reports, packages and transcripts must name.
    pub fn mechanism(self) -> &'static str {
        match self {
            TokenKind::SoftHsm261 => "CKM_AES_KEY_WRAP_PAD + CKM_RSA_PKCS_OAEP(SHA-1)",
            TokenKind::SoftHsm270 => "CKM_RSA_AES_KEY_WRAP",
            TokenKind::Kryoptic => "CKM_AES_KEY_WRAP_KWP + CKM_RSA_PKCS_OAEP(SHA-1)",
        }
    }

    /// SoftHSM 2.6's defect: the PKCS#8 zero-padded before AES-KWP.
    pub fn pads_pkcs8(self) -> bool {
        self == TokenKind::SoftHsm261
    }
}

/// `.tokens/` in the checkout, where `softhsm/setup.sh --tokens` builds.
fn tokens_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tokens")
}

#[derive(Debug, Clone)]
pub struct TestToken {
    pub kind: TokenKind,
    pub dir: PathBuf,
    /// The configuration file, named by [`TokenKind::conf_var`].
    pub conf: PathBuf,
    pub module: PathBuf,
    pub label: String,
    pub user_pin_file: PathBuf,
    pub so_pin_file: PathBuf,
}

impl TestToken {
    /// Shell lines that point byok at this token.
    pub fn exports(&self) -> String {
        format!(
            "export {}={}\nexport BYOK_PKCS11_MODULE={}\nexport BYOK_TOKEN={}\n",
            self.kind.conf_var(),
            self.conf.display(),
            self.module.display(),
            self.label
        )
    }
}

/// The SoftHSM2 module: `$BYOK_SOFTHSM_MODULE`, else Debian's path.
pub fn module_path() -> PathBuf {
    TokenKind::SoftHsm261.module()
}

/// Make a token of the kind `BYOK_TEST_TOKEN` names, labelled `label`, in `dir`
/// (created if missing; must hold no token yet).
///
/// Sets the token's configuration variable in this process while it works: call it from
/// one thread at a time, before other threads use the module (tests hold a lock around it).
pub fn make_token(dir: &Path, label: &str) -> Result<TestToken> {
    make_token_of(TokenKind::from_env(), dir, label)
}

/// [`make_token`] of a given kind.
pub fn make_token_of(kind: TokenKind, dir: &Path, label: &str) -> Result<TestToken> {
    let module = kind.module();
    if let Some(why) = kind.missing() {
        bail!("{why}");
    }
    std::fs::create_dir_all(dir.join("tokens"))
        .map_err(|e| err!("cannot create {}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| err!("cannot resolve {}: {e}", dir.display()))?;
    let (conf, text) = match kind {
        TokenKind::Kryoptic => (
            dir.join("kryoptic.toml"),
            format!(
                "[[slots]]\nslot = 42\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n",
                dir.join("tokens/token.sql").display()
            ),
        ),
        _ => (
            dir.join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                dir.join("tokens").display()
            ),
        ),
    };
    byok_core::fsutil::write_new(&conf, text.as_bytes(), 0o644)?;
    let user_pin = random_pin();
    let so_pin = random_pin();
    let user_pin_file = dir.join("user.pin");
    let so_pin_file = dir.join("so.pin");
    byok_core::fsutil::write_new(&user_pin_file, user_pin.as_bytes(), 0o600)?;
    byok_core::fsutil::write_new(&so_pin_file, so_pin.as_bytes(), 0o600)?;

    let var = kind.conf_var();
    let previous = std::env::var_os(var);
    std::env::set_var(var, &conf);
    let result = init(&module, label, &so_pin, &user_pin);
    match previous {
        Some(p) => std::env::set_var(var, p),
        None => std::env::remove_var(var),
    }
    result?;
    Ok(TestToken {
        kind,
        dir,
        conf,
        module,
        label: label.to_string(),
        user_pin_file,
        so_pin_file,
    })
}

fn init(module: &Path, label: &str, so_pin: &str, user_pin: &str) -> Result<()> {
    let ctx = Pkcs11::new(module).map_err(|e| err!("cannot load {}: {e}", module.display()))?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(ck("initializing the token's module"))?;
    let result = (|| {
        let slot = ctx
            .get_slots_with_token()
            .map_err(ck("listing slots"))?
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .map(|t| !t.token_initialized())
                    .unwrap_or(false)
            })
            .ok_or_else(|| err!("the module offers no free slot"))?;
        let so = AuthPin::new(so_pin.into());
        ctx.init_token(slot, &so, label)
            .map_err(ck("C_InitToken"))?;
        let session = ctx.open_rw_session(slot).map_err(ck("opening a session"))?;
        session
            .login(UserType::So, Some(&so))
            .map_err(ck("SO login"))?;
        session
            .init_pin(&AuthPin::new(user_pin.into()))
            .map_err(ck("C_InitPIN"))?;
        let _ = session.logout();
        Ok(())
    })();
    let _ = ctx.finalize();
    result
}

fn random_pin() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs SoftHSM2 (softhsm/setup.sh installs it).
    #[test]
    fn a_token_lives_in_its_own_directory_with_private_pin_files() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let t = make_token(&d.path().join("hsm"), "unit-test").unwrap();
        assert!(t.conf.starts_with(&t.dir));
        let conf = std::fs::read_to_string(&t.conf).unwrap();
        assert!(
            conf.contains(&t.dir.join("tokens").display().to_string()),
            "{conf}"
        );
        for pin in [&t.user_pin_file, &t.so_pin_file] {
            let mode = std::fs::metadata(pin).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(t.exports().contains("export BYOK_TOKEN=unit-test"));
        // A second token in the same directory is refused: its files exist.
        assert!(make_token(&d.path().join("hsm"), "again").is_err());
    }
}
