//! `byok hsm info`: the library, the token, the mechanisms BYOK needs and the verdict.

use super::module::{mechanism_name, Hsm, TokenIdentity, Verdict};
use crate::Result;
use cryptoki::mechanism::MechanismType;
use serde::Serialize;
use std::path::PathBuf;

/// One mechanism BYOK may use, as `hsm info` shows it.
#[derive(Debug, Serialize)]
pub struct MechanismReport {
    pub name: String,
    pub present: bool,
    pub min_key_size: Option<usize>,
    pub max_key_size: Option<usize>,
    pub wrap: Option<bool>,
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
    pub verdict_mechanism: &'static str,
}

pub fn info(hsm: &Hsm) -> Result<InfoReport> {
    let (lm, ld, lv) = hsm.library()?;
    let present = hsm.mechanisms()?;
    let wanted = [
        cryptoki_sys::CKM_RSA_AES_KEY_WRAP,
        cryptoki_sys::CKM_AES_KEY_WRAP_PAD,
        cryptoki_sys::CKM_RSA_PKCS_OAEP,
        cryptoki_sys::CKM_AES_KEY_GEN,
        cryptoki_sys::CKM_RSA_PKCS_KEY_PAIR_GEN,
    ];
    let mechanisms = wanted
        .iter()
        .map(|m| {
            let t = present.iter().find(|x| ***x == *m).copied();
            let info = t.and_then(|t: MechanismType| hsm.mechanism_info(t));
            MechanismReport {
                name: mechanism_name(*m),
                present: t.is_some(),
                min_key_size: info.as_ref().map(|i| i.min_key_size()),
                max_key_size: info.as_ref().map(|i| i.max_key_size()),
                wrap: info.as_ref().map(|i| i.wrap()),
            }
        })
        .collect();
    let verdict = hsm.verdict()?;
    Ok(InfoReport {
        module: hsm.module.clone(),
        library_manufacturer: lm,
        library_description: ld,
        library_version: lv,
        token: hsm.identity(),
        login_required: hsm.token.login_required(),
        user_pin_locked: hsm.token.user_pin_locked(),
        mechanisms,
        verdict,
        verdict_mechanism: verdict.mechanism_text(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_mechanism_reports_nothing_about_its_sizes() {
        let m = MechanismReport {
            name: mechanism_name(cryptoki_sys::CKM_RSA_AES_KEY_WRAP),
            present: false,
            min_key_size: None,
            max_key_size: None,
            wrap: None,
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["name"], "CKM_RSA_AES_KEY_WRAP");
        assert_eq!(v["present"], false);
        assert!(v["min_key_size"].is_null());
    }
}
