//! `byok hsm info`: the library, the token, the mechanisms BYOK needs and the verdict.

use super::mechanisms::{RawMechanism, BYOK_MECHANISMS};
use super::module::{Hsm, TokenIdentity, Verdict};
use crate::Result;
use cryptoki_sys::{CK_MECHANISM_TYPE, CK_ULONG};
use serde::Serialize;
use std::path::PathBuf;

/// One mechanism BYOK may use, as `hsm info` shows it: by number and name, and (when
/// the token lists it) its flags and key-size range as `C_GetMechanismInfo` gives them.
#[derive(Debug, Serialize)]
pub struct MechanismReport {
    /// `0x1054`.
    pub number: String,
    pub name: String,
    pub present: bool,
    pub min_key_size: Option<CK_ULONG>,
    pub max_key_size: Option<CK_ULONG>,
    pub wrap: Option<bool>,
    pub unwrap: Option<bool>,
    pub generate: Option<bool>,
    pub generate_key_pair: Option<bool>,
    pub sign: Option<bool>,
    pub digest: Option<bool>,
    /// The raw `CKF_*` flags, in hex.
    pub flags: Option<String>,
}

impl MechanismReport {
    /// The report on `number` from the token's raw list.
    pub fn of(number: CK_MECHANISM_TYPE, name: &str, list: &[RawMechanism]) -> MechanismReport {
        let m = list.iter().find(|m| m.number == number);
        let can = |f| m.map(|m| m.can(f));
        MechanismReport {
            number: format!("0x{number:x}"),
            name: name.to_string(),
            present: m.is_some(),
            min_key_size: m.map(|m| m.min_key_size),
            max_key_size: m.map(|m| m.max_key_size),
            wrap: can(cryptoki_sys::CKF_WRAP),
            unwrap: can(cryptoki_sys::CKF_UNWRAP),
            generate: can(cryptoki_sys::CKF_GENERATE),
            generate_key_pair: can(cryptoki_sys::CKF_GENERATE_KEY_PAIR),
            sign: can(cryptoki_sys::CKF_SIGN),
            digest: can(cryptoki_sys::CKF_DIGEST),
            flags: m.map(|m| format!("0x{:x}", m.flags)),
        }
    }
}

/// What `byok hsm info` reports.
#[derive(Debug, Serialize)]
pub struct InfoReport {
    pub module: PathBuf,
    pub library_manufacturer: String,
    pub library_description: String,
    pub library_version: String,
    pub token: TokenIdentity,
    pub login_required: bool,
    pub user_pin_locked: bool,
    pub mechanisms: Vec<MechanismReport>,
    pub verdict: Verdict,
    /// The mechanisms the wrap uses (`CKM_RSA_AES_KEY_WRAP`, or which RFC 5649 wrap with
    /// OAEP): what packages and transcripts name.
    pub verdict_mechanism: &'static str,
    /// Why: which listed mechanisms give the verdict, or what is missing.
    pub verdict_reason: String,
    /// What the list suggests may still fail (e.g. no SHA-1 at all).
    pub warnings: Vec<String>,
    /// Whether the token can give dual control over wrapping (`wrap_with_trusted` keys):
    /// such a key can be exported only with `CKM_RSA_AES_KEY_WRAP` under a KEK the SO
    /// stored as trusted, so without the native mechanism it could never be exported.
    pub dual_control: String,
}

/// What [`InfoReport::dual_control`] says for a verdict.
pub fn dual_control_text(verdict: Verdict) -> String {
    if verdict == Verdict::Native {
        "possible: CKM_RSA_AES_KEY_WRAP is listed; keys made with wrap_with_trusted wrap only under a KEK the SO stored with `byok kek trust` (a token may still refuse CKA_TRUSTED: `kek trust` says so)".into()
    } else {
        "not possible: without CKM_RSA_AES_KEY_WRAP a key made with wrap_with_trusted could never be exported, so `ceremony run` refuses such a plan on this token".into()
    }
}

pub fn info(hsm: &Hsm) -> Result<InfoReport> {
    let (lm, ld, lv) = hsm.library()?;
    let list = hsm.mechanisms()?;
    let mechanisms = BYOK_MECHANISMS
        .iter()
        .map(|(n, name)| MechanismReport::of(*n, name, &list))
        .collect();
    let decision = hsm.decision()?;
    Ok(InfoReport {
        module: hsm.module.clone(),
        library_manufacturer: lm,
        library_description: ld,
        library_version: lv,
        token: hsm.identity(),
        login_required: hsm.token.login_required(),
        user_pin_locked: hsm.token.user_pin_locked(),
        mechanisms,
        verdict: decision.verdict,
        verdict_mechanism: decision.verdict.mechanism_text(),
        verdict_reason: decision.reason,
        warnings: decision.warnings,
        dual_control: dual_control_text(decision.verdict),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_mechanism_reports_nothing_about_its_sizes() {
        let m = MechanismReport::of(0x1054, "CKM_RSA_AES_KEY_WRAP", &[]);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["name"], "CKM_RSA_AES_KEY_WRAP");
        assert_eq!(v["number"], "0x1054");
        assert_eq!(v["present"], false);
        assert!(v["min_key_size"].is_null());
        assert!(v["wrap"].is_null());
    }

    #[test]
    fn a_listed_mechanism_reports_its_flags_and_sizes() {
        let list = [RawMechanism {
            number: 0x210B,
            min_key_size: 16,
            max_key_size: 32,
            flags: cryptoki_sys::CKF_WRAP | cryptoki_sys::CKF_UNWRAP | cryptoki_sys::CKF_ENCRYPT,
        }];
        let v = serde_json::to_value(MechanismReport::of(0x210B, "CKM_AES_KEY_WRAP_KWP", &list))
            .unwrap();
        assert_eq!(v["number"], "0x210b");
        assert_eq!(v["present"], true);
        assert_eq!(v["min_key_size"], 16);
        assert_eq!(v["max_key_size"], 32);
        assert_eq!(v["wrap"], true);
        assert_eq!(v["unwrap"], true);
        assert_eq!(v["generate"], false);
        assert_eq!(v["flags"], "0x60100");
    }
}
