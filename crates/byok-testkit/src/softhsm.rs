//! Throwaway SoftHSM2 tokens for tests, demos and rehearsals. Never for real keys.
//!
//! A token lives in a directory of its own (`DIR/softhsm2.conf` points SoftHSM at
//! `DIR/tokens`), so a user's real token directory is never touched. Its PINs are drawn
//! at random and written to `DIR/user.pin` and `DIR/so.pin` (mode 600); they never
//! appear on a command line. The token is initialized through PKCS#11 (`C_InitToken`,
//! `C_InitPIN`), since `softhsm2-util` takes PINs only in argv or from a terminal.

use byok_core::hsm::ck;
use byok_core::{bail, err, Result};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};

/// Debian's SoftHSM2 module.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

#[derive(Debug, Clone)]
pub struct TestToken {
    pub dir: PathBuf,
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
            "export SOFTHSM2_CONF={}\nexport BYOK_PKCS11_MODULE={}\nexport BYOK_TOKEN={}\n",
            self.conf.display(),
            self.module.display(),
            self.label
        )
    }
}

/// The SoftHSM2 module: `$BYOK_SOFTHSM_MODULE`, else Debian's path.
pub fn module_path() -> PathBuf {
    std::env::var_os("BYOK_SOFTHSM_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODULE))
}

/// Make a token labelled `label` in `dir` (created if missing; must hold no token yet).
///
/// Sets `SOFTHSM2_CONF` in this process while it works: call it from one thread at a
/// time, before other threads use SoftHSM (tests hold a lock around it).
pub fn make_token(dir: &Path, label: &str) -> Result<TestToken> {
    let module = module_path();
    if !module.is_file() {
        bail!(
            "SoftHSM2 is not installed ({} missing): apt-get install softhsm2",
            module.display()
        );
    }
    std::fs::create_dir_all(dir.join("tokens"))
        .map_err(|e| err!("cannot create {}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| err!("cannot resolve {}: {e}", dir.display()))?;
    let conf = dir.join("softhsm2.conf");
    let text = format!(
        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
        dir.join("tokens").display()
    );
    byok_core::fsutil::write_new(&conf, text.as_bytes(), 0o644)?;
    let user_pin = random_pin();
    let so_pin = random_pin();
    let user_pin_file = dir.join("user.pin");
    let so_pin_file = dir.join("so.pin");
    byok_core::fsutil::write_new(&user_pin_file, user_pin.as_bytes(), 0o600)?;
    byok_core::fsutil::write_new(&so_pin_file, so_pin.as_bytes(), 0o600)?;

    let previous = std::env::var_os("SOFTHSM2_CONF");
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let result = init(&module, label, &so_pin, &user_pin);
    match previous {
        Some(p) => std::env::set_var("SOFTHSM2_CONF", p),
        None => std::env::remove_var("SOFTHSM2_CONF"),
    }
    result?;
    Ok(TestToken {
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
        .map_err(ck("initializing SoftHSM2"))?;
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
            .ok_or_else(|| err!("SoftHSM2 offers no free slot"))?;
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
