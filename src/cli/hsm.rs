//! `byok hsm info` and `byok hsm selftest`.

use super::args::{HsmArgs, LoginArgs};
use super::output::{emit, warn_all};
use byok_core::hsm::InfoReport;
use byok_core::text::Printable as P;
use byok_core::util::yes_no;
use byok_core::wrap::{self, SelftestReport};
use byok_core::Result;
use clap::Subcommand;
use serde::Serialize;
use std::fmt;

#[derive(Subcommand)]
pub enum HsmCmd {
    /// Library, token, firmware, the mechanisms BYOK needs, and a verdict.
    Info {
        #[command(flatten)]
        hsm: HsmArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Wrap a throwaway key under a throwaway KEK in the HSM and check it in software.
    Selftest {
        #[command(flatten)]
        hsm: HsmArgs,
        #[command(flatten)]
        login: LoginArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: HsmCmd) -> Result<()> {
    match cmd {
        HsmCmd::Info { hsm, json } => {
            let t = hsm.target(None, None)?;
            let h = t.open()?;
            emit(json, &Info(byok_core::hsm::info(&h)?))
        }
        HsmCmd::Selftest { hsm, login, json } => {
            let t = hsm.target(None, login.pin_file.as_deref())?;
            let h = t.open()?;
            let s = h.login(
                t.pin_file.as_deref(),
                &crate::cli::console::Terminal::default(),
            )?;
            let r = wrap::selftest(&s)?;
            drop(s);
            warn_all(&r.warnings);
            emit(json, &Selftest(r))
        }
    }
}

/// What `byok hsm info` prints.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Info(pub InfoReport);

impl fmt::Display for Info {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        writeln!(f, "module:    {}", P(r.module.display()))?;
        writeln!(
            f,
            "library:   {} {} {}",
            P(&r.library_manufacturer),
            P(&r.library_description),
            P(&r.library_version)
        )?;
        let t = &r.token;
        writeln!(
            f,
            "token:     \"{}\" {} {} serial {} firmware {} hardware {}",
            P(&t.label),
            P(&t.manufacturer),
            P(&t.model),
            P(&t.serial),
            P(&t.firmware),
            P(&t.hardware)
        )?;
        writeln!(f, "mechanisms:")?;
        for m in &r.mechanisms {
            let mut what: Vec<&str> = Vec::new();
            for (can, name) in [
                (m.wrap, "wrap"),
                (m.unwrap, "unwrap"),
                (m.generate, "generate"),
                (m.generate_key_pair, "generate key pair"),
                (m.sign, "sign"),
                (m.digest, "digest"),
            ] {
                if can == Some(true) {
                    what.push(name);
                }
            }
            let sizes = match (m.min_key_size, m.max_key_size) {
                (Some(0), Some(0)) => String::new(),
                (Some(a), Some(b)) => format!("key sizes {a}-{b}"),
                _ => String::new(),
            };
            let detail = [what.join(", "), sizes]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            writeln!(
                f,
                "  {:<26} {:<7} {}{}",
                m.name,
                m.number,
                yes_no(Some(m.present)),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                }
            )?;
        }
        writeln!(
            f,
            "verdict:   {} ({})",
            r.verdict.name(),
            r.verdict_mechanism
        )?;
        writeln!(f, "reason:    {}", r.verdict_reason)?;
        writeln!(f, "dual control: {}", r.dual_control)?;
        for w in &r.warnings {
            writeln!(f, "warning:   {w}")?;
        }
        Ok(())
    }
}

/// What `byok hsm selftest` prints.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Selftest(pub SelftestReport);

impl fmt::Display for Selftest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        writeln!(
            f,
            "self-test passed: a throwaway RSA-2048 key wrapped in the HSM with {} unwraps in software to the HSM's key",
            r.mechanism
        )?;
        match &r.oaep_sha256_problem {
            None => writeln!(
                f,
                "RSA-OAEP SHA-256 (AWS KMS, Google Cloud KMS and OpenBao's SHA-256 methods): proved the same way"
            )?,
            Some(why) => writeln!(
                f,
                "RSA-OAEP SHA-256: no, only SHA-1 methods for this token ({why})"
            )?,
        }
        writeln!(
            f,
            "token objects before and after: {} and {}",
            r.token_objects_before, r.token_objects_after
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::hsm::{Kwp, MechanismReport, RawMechanism, TokenIdentity, Verdict};

    fn token() -> TokenIdentity {
        TokenIdentity {
            label: "byok-test".into(),
            manufacturer: "SoftHSM project".into(),
            model: "SoftHSM v2".into(),
            serial: "0123".into(),
            firmware: "2.6".into(),
            hardware: "2.6".into(),
        }
    }

    #[test]
    fn info_text() {
        let r = InfoReport {
            module: "/usr/lib/softhsm/libsofthsm2.so".into(),
            library_manufacturer: "SoftHSM".into(),
            library_description: "Implementation of PKCS11".into(),
            library_version: "2.6".into(),
            token: token(),
            login_required: true,
            user_pin_locked: false,
            mechanisms: vec![
                MechanismReport::of(0x1054, "CKM_RSA_AES_KEY_WRAP", &[]),
                MechanismReport::of(
                    0x9,
                    "CKM_RSA_PKCS_OAEP",
                    &[RawMechanism {
                        number: 0x9,
                        min_key_size: 512,
                        max_key_size: 16384,
                        // CKF_WRAP | CKF_UNWRAP | CKF_ENCRYPT
                        flags: 0x60100,
                    }],
                ),
            ],
            verdict: Verdict::Composite(Kwp::Pad),
            verdict_mechanism: Verdict::Composite(Kwp::Pad).mechanism_text(),
            verdict_reason: "no CKM_RSA_AES_KEY_WRAP (0x1054); two-step wrap".into(),
            warnings: vec!["a warning".into()],
            dual_control: byok_core::hsm::dual_control_text(Verdict::Composite(Kwp::Pad)),
        };
        assert_eq!(
            Info(r).to_string(),
            "module:    /usr/lib/softhsm/libsofthsm2.so\n\
             library:   SoftHSM Implementation of PKCS11 2.6\n\
             token:     \"byok-test\" SoftHSM project SoftHSM v2 serial 0123 firmware 2.6 hardware 2.6\n\
             mechanisms:\n\
             \x20 CKM_RSA_AES_KEY_WRAP       0x1054  no\n\
             \x20 CKM_RSA_PKCS_OAEP          0x9     yes (wrap, unwrap; key sizes 512-16384)\n\
             verdict:   composite (CKM_AES_KEY_WRAP_PAD + CKM_RSA_PKCS_OAEP(SHA-1))\n\
             reason:    no CKM_RSA_AES_KEY_WRAP (0x1054); two-step wrap\n\
             dual control: not possible: without CKM_RSA_AES_KEY_WRAP a key made with wrap_with_trusted could never be exported, so `ceremony run` refuses such a plan on this token\n\
             warning:   a warning\n"
        );
    }

    #[test]
    fn verdict_names_are_the_json_names() {
        assert_eq!(Verdict::Native.name(), "native");
        assert_eq!(Verdict::Composite(Kwp::Kwp).name(), "composite");
        assert_eq!(Verdict::Unsupported.name(), "unsupported");
    }
}
