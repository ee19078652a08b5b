//! The PKCS#11 module and the token: loading and initializing the module, selecting one
//! token, what the token can do (its mechanisms and BYOK verdict), and the one login.

use super::mechanisms::{self as mechs, Decision, RawMechanism};
pub use super::mechanisms::{Kwp, Verdict};
use super::raw::RawModule;
use super::session::HsmSession;
use super::target::TokenSelector;
use crate::console::Console;
use crate::pin::{self, PinKind};
use crate::{bail, err, Error, Result};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::MechanismType;
use cryptoki::session::UserType;
use cryptoki::slot::{Slot, TokenInfo};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where the PKCS#11 module comes from when `--module` is not given.
pub const MODULE_ENV: &str = "BYOK_PKCS11_MODULE";
pub const TOKEN_ENV: &str = "BYOK_TOKEN";

/// An opened PKCS#11 module with one token selected. Finalizes the module when dropped.
pub struct Hsm {
    ctx: Option<Pkcs11>,
    /// The same module through `cryptoki-sys`, for what cryptoki cannot do.
    pub(super) raw: RawModule,
    pub(super) module: PathBuf,
    slot: Slot,
    pub(super) token: TokenInfo,
}

/// The token's identity, as reports, packages and transcripts name it.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenIdentity {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub firmware: String,
    pub hardware: String,
}

/// Short name of a PKCS#11 return value, e.g. `PinIncorrect`.
pub fn rv_name(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, f) => format!("{rv:?} in {f:?}"),
        other => other.to_string(),
    }
}

/// Map a PKCS#11 failure to one line: what failed, the return value, and what to do.
pub fn ck(what: &str) -> impl FnOnce(CkError) -> Error + '_ {
    move |e| err!(Hsm, "{what} failed ({}); see the HSM's log", rv_name(&e)).with_source(e)
}

impl Hsm {
    /// Load `module` (or `$BYOK_PKCS11_MODULE`), initialize it, and select one token.
    pub fn open(module: Option<&Path>, selector: &TokenSelector) -> Result<Hsm> {
        let module = match module {
            Some(m) => m.to_path_buf(),
            None => match std::env::var_os(MODULE_ENV) {
                Some(m) if !m.is_empty() => PathBuf::from(m),
                _ => bail!(
                     "no PKCS#11 module given: use --module PATH or set {MODULE_ENV} to your HSM's PKCS#11 library (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)"
                ),
            },
        };
        if !module.is_file() {
            bail!(
                NotFound, "PKCS#11 module {} does not exist: give the path of your HSM's PKCS#11 library with --module or {MODULE_ENV}",
                module.display()
            );
        }
        let ctx = Pkcs11::new(&module).map_err(|e| {
            err!(
                "cannot load PKCS#11 module {} ({e}): is it a PKCS#11 library for this machine?",
                module.display()
            )
        })?;
        ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(|e| {
                err!(
                    "PKCS#11 module {} failed to initialize ({}); check its configuration (SoftHSM2: SOFTHSM2_CONF)",
                    module.display(),
                    rv_name(&e)
                )
            })?;
        let raw = RawModule::open(&module)?;
        let mut hsm = Hsm {
            ctx: Some(ctx),
            raw,
            module,
            slot: Slot::try_from(0u64).map_err(|_| err!(Internal, "internal: slot 0"))?,
            token: placeholder_token_info()?,
        };
        hsm.select(selector)?;
        Ok(hsm)
    }

    fn select(&mut self, selector: &TokenSelector) -> Result<()> {
        if selector.label.is_none() && selector.serial.is_none() {
            bail!(
                 "no token named: use --token LABEL (or a pkcs11: URI) or set {TOKEN_ENV}; `byok hsm info --module …` lists the tokens"
            );
        }
        let ctx = self.ctx()?;
        let slots = ctx
            .get_slots_with_token()
            .map_err(ck("listing the HSM's slots"))?;
        let mut found = Vec::new();
        let mut labels = Vec::new();
        for slot in slots {
            let Ok(info) = ctx.get_token_info(slot) else {
                continue;
            };
            if !info.token_initialized() {
                continue;
            }
            labels.push(format!("\"{}\"", info.label().trim()));
            if selector.matches(&info) {
                found.push((slot, info));
            }
        }
        match found.len() {
            0 => bail!(
                NotFound, "no token with {} in module {} (tokens there: {}); check --token",
                selector.describe(),
                self.module.display(),
                if labels.is_empty() { "none".to_string() } else { labels.join(", ") }
            ),
            1 => {
                let (slot, info) = found.remove(0);
                self.slot = slot;
                self.token = info;
                Ok(())
            }
            n => bail!(
                "{n} tokens match {}: name one exactly with a URI, e.g. pkcs11:token=LABEL;serial=SERIAL",
                selector.describe()
            ),
        }
    }

    fn ctx(&self) -> Result<&Pkcs11> {
        self.ctx
            .as_ref()
            .ok_or_else(|| err!(Internal, "internal: PKCS#11 module already finalized"))
    }

    pub fn identity(&self) -> TokenIdentity {
        let t = &self.token;
        TokenIdentity {
            label: t.label().trim().to_string(),
            manufacturer: t.manufacturer_id().trim().to_string(),
            model: t.model().trim().to_string(),
            serial: t.serial_number().trim().to_string(),
            firmware: version_text(t.firmware_version()),
            hardware: version_text(t.hardware_version()),
        }
    }

    /// Library manufacturer, description and version.
    pub fn library(&self) -> Result<(String, String, String)> {
        let info = self.ctx()?.get_library_info().map_err(ck("C_GetInfo"))?;
        Ok((
            info.manufacturer_id().trim().to_string(),
            info.library_description().trim().to_string(),
            version_text(info.library_version()),
        ))
    }

    /// Every mechanism the token lists, by number (read raw: cryptoki drops the numbers
    /// it has no name for, among them `CKM_RSA_AES_KEY_WRAP` and `CKM_AES_KEY_WRAP_KWP`).
    pub(super) fn mechanisms(&self) -> Result<Vec<RawMechanism>> {
        self.raw
            .mechanisms(self.slot.id() as cryptoki_sys::CK_SLOT_ID)
            .map_err(ck("listing the token's mechanisms"))
    }

    /// How this token can make BYOK blobs, and why.
    pub fn decision(&self) -> Result<Decision> {
        Ok(mechs::decide(
            &self.mechanisms()?,
            !self.native_wrap_allowed(),
        ))
    }

    /// How this token can make BYOK blobs.
    pub fn verdict(&self) -> Result<Verdict> {
        Ok(self.decision()?.verdict)
    }

    /// `BYOK_FORCE_COMPOSITE=1` makes byok use the two-step wrap even where the
    /// native mechanism exists (to compare both on one HSM).
    fn native_wrap_allowed(&self) -> bool {
        std::env::var_os("BYOK_FORCE_COMPOSITE").is_none_or(|v| v != "1")
    }

    /// Is this a software token (SoftHSM or Kryoptic), for tests and rehearsals only?
    pub fn is_softhsm(&self) -> bool {
        let m = self.token.manufacturer_id();
        m.contains("SoftHSM") || m.contains("Kryoptic")
    }

    /// Open a read-write session and log in as the user, once. Never retried.
    pub fn login(&self, pin_file: Option<&Path>, console: &dyn Console) -> Result<HsmSession<'_>> {
        self.login_as(PinKind::User, pin_file, console)
    }

    /// Open a read-write session and log in as `kind`, once. Never retried: a wrong PIN
    /// ends the command, because tokens lock after a few.
    pub fn login_as(
        &self,
        kind: PinKind,
        pin_file: Option<&Path>,
        console: &dyn Console,
    ) -> Result<HsmSession<'_>> {
        let label = self.token.label().trim().to_string();
        let (locked, final_try) = match kind {
            PinKind::User => (
                self.token.user_pin_locked(),
                self.token.user_pin_final_try(),
            ),
            PinKind::SecurityOfficer => (self.token.so_pin_locked(), self.token.so_pin_final_try()),
        };
        let who = match kind {
            PinKind::User => "user PIN",
            PinKind::SecurityOfficer => "Security Officer PIN",
        };
        if locked {
            bail!(Hsm, "the {who} of token \"{label}\" is locked: it must be reset before anyone can log in (byok does not try)");
        }
        if final_try {
            console.warn(&format!(
                "token \"{label}\" says one more wrong {who} locks it"
            ));
        }
        let pin = pin::obtain(kind, pin_file, &label, console)?;
        let session = self
            .ctx()?
            .open_rw_session(self.slot)
            .map_err(ck("opening a session"))?;
        let user = match kind {
            PinKind::User => UserType::User,
            PinKind::SecurityOfficer => UserType::So,
        };
        match session.login(user, Some(&pin)) {
            Ok(()) => {}
            Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => bail!(Hsm,
                "login to token \"{label}\" failed: the {who} is incorrect. byok does not retry, since wrong PINs lock the token; check the PIN and run the command again"
            ),
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => bail!(Hsm,
                "login to token \"{label}\" failed: the {who} is locked; it must be reset (byok does not retry)"
            ),
            Err(CkError::Pkcs11(RvError::PinLenRange, _)) => bail!(Hsm,
                "login to token \"{label}\" failed: the {who} has the wrong length for this token; check the PIN"
            ),
            Err(CkError::Pkcs11(RvError::UserPinNotInitialized, _)) => bail!(Hsm,
                "login to token \"{label}\" failed: the token has no user PIN yet; initialize it first"
            ),
            Err(e) => bail!(Hsm, "login to token \"{label}\" failed ({}); byok does not retry", rv_name(&e)),
        }
        drop(pin);
        Ok(HsmSession::new(session, self))
    }
}

impl Drop for Hsm {
    fn drop(&mut self) {
        if let Some(ctx) = self.ctx.take() {
            let _ = ctx.finalize();
        }
    }
}

fn version_text(v: cryptoki::types::Version) -> String {
    format!("{}.{}", v.major(), v.minor())
}

/// cryptoki has no public constructor for `TokenInfo`; `Hsm::open` replaces this
/// placeholder before returning, so it is never seen.
fn placeholder_token_info() -> Result<TokenInfo> {
    let raw = cryptoki_sys::CK_TOKEN_INFO {
        label: [b' '; 32],
        manufacturerID: [b' '; 32],
        model: [b' '; 16],
        serialNumber: [b' '; 16],
        flags: 0,
        ulMaxSessionCount: 0,
        ulSessionCount: 0,
        ulMaxRwSessionCount: 0,
        ulRwSessionCount: 0,
        ulMaxPinLen: 0,
        ulMinPinLen: 0,
        ulTotalPublicMemory: 0,
        ulFreePublicMemory: 0,
        ulTotalPrivateMemory: 0,
        ulFreePrivateMemory: 0,
        hardwareVersion: cryptoki_sys::CK_VERSION { major: 0, minor: 0 },
        firmwareVersion: cryptoki_sys::CK_VERSION { major: 0, minor: 0 },
        utcTime: [b' '; 16],
    };
    TokenInfo::try_from(raw).map_err(|_| err!(Internal, "internal: token info"))
}

/// A mechanism's PKCS#11 name, e.g. `CKM_RSA_PKCS_KEY_PAIR_GEN`.
pub fn mechanism_name(m: cryptoki_sys::CK_MECHANISM_TYPE) -> String {
    match MechanismType::try_from(m) {
        Ok(t) => t.to_string(),
        Err(_) => match mechs::byok_mechanism_name(m) {
            Some(name) => name.into(),
            None => format!("0x{m:x}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names() {
        assert_eq!(
            mechanism_name(cryptoki_sys::CKM_RSA_PKCS_KEY_PAIR_GEN),
            "CKM_RSA_PKCS_KEY_PAIR_GEN"
        );
        assert_eq!(
            mechanism_name(cryptoki_sys::CKM_RSA_AES_KEY_WRAP),
            "CKM_RSA_AES_KEY_WRAP"
        );
        assert_eq!(
            mechanism_name(cryptoki_sys::CKM_AES_KEY_WRAP_KWP),
            "CKM_AES_KEY_WRAP_KWP"
        );
        assert_eq!(mechanism_name(0x8000_1234), "0x80001234");
    }

    #[test]
    fn verdict_texts() {
        assert_eq!(Verdict::Native.mechanism_text(), "CKM_RSA_AES_KEY_WRAP");
        assert!(Verdict::Composite(Kwp::Pad)
            .mechanism_text()
            .contains("CKM_AES_KEY_WRAP_PAD"));
        assert!(Verdict::Composite(Kwp::Kwp)
            .mechanism_text()
            .contains("CKM_AES_KEY_WRAP_KWP"));
        assert_eq!(
            serde_json::to_value(Verdict::Unsupported).unwrap(),
            "unsupported"
        );
    }

    #[test]
    fn a_missing_module_is_named_before_anything_loads() {
        let sel = TokenSelector {
            label: Some("T".into()),
            ..TokenSelector::default()
        };
        let e = Hsm::open(Some(Path::new("/nonexistent/libpkcs11.so")), &sel)
            .err()
            .expect("refused");
        assert!(e.message().contains("does not exist"), "{e}");
    }

    #[test]
    fn pkcs11_failures_are_hsm_errors_naming_the_return_value() {
        let e = ck("opening a session")(CkError::Pkcs11(
            RvError::DeviceError,
            cryptoki::context::Function::OpenSession,
        ));
        assert!(e.is(crate::ErrorKind::Hsm));
        assert!(
            e.message()
                .starts_with("opening a session failed (DeviceError"),
            "{e}"
        );
    }
}
