//! Which BYOK wrap a token can make, decided from its raw mechanism list.
//!
//! The list is read through `cryptoki-sys` (`C_GetMechanismList`, `C_GetMechanismInfo`),
//! not through `cryptoki`, which drops every number it has no variant for — among them
//! `CKM_RSA_AES_KEY_WRAP` (0x1054) and `CKM_AES_KEY_WRAP_KWP` (0x210B), the two that
//! matter most here. The decision is a pure function of those numbers and their flags
//! ([`decide`]), so it is tested without a token.

use cryptoki_sys::{CK_FLAGS, CK_MECHANISM_TYPE, CK_ULONG};
use serde::{Serialize, Serializer};

pub const CKM_RSA_AES_KEY_WRAP: CK_MECHANISM_TYPE = cryptoki_sys::CKM_RSA_AES_KEY_WRAP;
pub const CKM_AES_KEY_WRAP_KWP: CK_MECHANISM_TYPE = cryptoki_sys::CKM_AES_KEY_WRAP_KWP;
pub const CKM_AES_KEY_WRAP_PAD: CK_MECHANISM_TYPE = cryptoki_sys::CKM_AES_KEY_WRAP_PAD;
pub const CKM_RSA_PKCS_OAEP: CK_MECHANISM_TYPE = cryptoki_sys::CKM_RSA_PKCS_OAEP;
pub const CKM_AES_KEY_GEN: CK_MECHANISM_TYPE = cryptoki_sys::CKM_AES_KEY_GEN;
pub const CKM_RSA_PKCS_KEY_PAIR_GEN: CK_MECHANISM_TYPE = cryptoki_sys::CKM_RSA_PKCS_KEY_PAIR_GEN;
pub const CKM_SHA_1: CK_MECHANISM_TYPE = cryptoki_sys::CKM_SHA_1;
pub const CKM_SHA256_RSA_PKCS: CK_MECHANISM_TYPE = cryptoki_sys::CKM_SHA256_RSA_PKCS;

/// Every mechanism byok may use, in the order `hsm info` lists them, with its name.
pub const BYOK_MECHANISMS: [(CK_MECHANISM_TYPE, &str); 8] = [
    (CKM_RSA_AES_KEY_WRAP, "CKM_RSA_AES_KEY_WRAP"),
    (CKM_AES_KEY_WRAP_KWP, "CKM_AES_KEY_WRAP_KWP"),
    (CKM_AES_KEY_WRAP_PAD, "CKM_AES_KEY_WRAP_PAD"),
    (CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP"),
    (CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN"),
    (CKM_RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN"),
    (CKM_SHA_1, "CKM_SHA_1"),
    (CKM_SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS"),
];

/// The name byok knows a mechanism number by, if it is one of [`BYOK_MECHANISMS`].
pub fn byok_mechanism_name(m: CK_MECHANISM_TYPE) -> Option<&'static str> {
    BYOK_MECHANISMS
        .iter()
        .find(|(n, _)| *n == m)
        .map(|(_, name)| *name)
}

/// `Name (0x1054)`: how reasons name a mechanism.
fn named(m: CK_MECHANISM_TYPE) -> String {
    match byok_mechanism_name(m) {
        Some(name) => format!("{name} (0x{m:x})"),
        None => format!("0x{m:x}"),
    }
}

/// One entry of a token's mechanism list, as `C_GetMechanismInfo` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawMechanism {
    pub number: CK_MECHANISM_TYPE,
    pub min_key_size: CK_ULONG,
    pub max_key_size: CK_ULONG,
    pub flags: CK_FLAGS,
}

impl RawMechanism {
    pub fn can(&self, flag: CK_FLAGS) -> bool {
        self.flags & flag == flag
    }
}

/// The RFC 5649 AES key wrap (with padding) the composite path uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kwp {
    /// `CKM_AES_KEY_WRAP_KWP` (0x210B, PKCS#11 3.x): preferred where a token has both.
    Kwp,
    /// `CKM_AES_KEY_WRAP_PAD` (0x210A, PKCS#11 2.40, deprecated in 3.x).
    Pad,
}

impl Kwp {
    pub fn number(self) -> CK_MECHANISM_TYPE {
        match self {
            Kwp::Kwp => CKM_AES_KEY_WRAP_KWP,
            Kwp::Pad => CKM_AES_KEY_WRAP_PAD,
        }
    }
}

/// How byok can make an Azure BYOK blob on this token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `CKM_RSA_AES_KEY_WRAP` in one call.
    Native,
    /// An RFC 5649 wrap with a session AES key, then `CKM_RSA_PKCS_OAEP` (SHA-1).
    Composite(Kwp),
    Unsupported,
}

impl Verdict {
    /// The mechanisms the wrap uses, as reports, packages and transcripts name them.
    pub fn mechanism_text(self) -> &'static str {
        match self {
            Verdict::Native => "CKM_RSA_AES_KEY_WRAP",
            Verdict::Composite(Kwp::Kwp) => "CKM_AES_KEY_WRAP_KWP + CKM_RSA_PKCS_OAEP(SHA-1)",
            Verdict::Composite(Kwp::Pad) => "CKM_AES_KEY_WRAP_PAD + CKM_RSA_PKCS_OAEP(SHA-1)",
            Verdict::Unsupported => "none",
        }
    }

    /// `native`, `composite` or `unsupported`: the verdict's JSON form.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Native => "native",
            Verdict::Composite(_) => "composite",
            Verdict::Unsupported => "unsupported",
        }
    }

    pub fn is_composite(self) -> bool {
        matches!(self, Verdict::Composite(_))
    }
}

impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The verdict and why: what `hsm info` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub verdict: Verdict,
    /// One sentence: which listed mechanisms (by name and number) give the verdict, or
    /// what is missing.
    pub reason: String,
    /// What the list suggests may still fail (e.g. no SHA-1 at all), for `hsm info` to warn.
    pub warnings: Vec<String>,
}

/// Decide the wrap from the token's raw mechanism list. `force_composite`
/// (`BYOK_FORCE_COMPOSITE=1`) takes the two-step wrap even where the native one exists,
/// to compare both on one HSM.
///
/// A mechanism counts only with the flag its use needs: `CKF_WRAP` for the wraps,
/// `CKF_GENERATE` for the AES key. Of the RFC 5649 wraps, `CKM_AES_KEY_WRAP_KWP` is
/// preferred to the deprecated `CKM_AES_KEY_WRAP_PAD`.
pub fn decide(list: &[RawMechanism], force_composite: bool) -> Decision {
    let find = |m| list.iter().find(|x| x.number == m);
    let usable = |m, flag| find(m).is_some_and(|x| x.can(flag));
    // What a missing or flagless mechanism is called in a reason.
    let lacking = |m, flag, what: &str| match find(m) {
        None => format!("no {}", named(m)),
        Some(_) if usable(m, flag) => String::new(),
        Some(_) => format!("{} listed without {what}", named(m)),
    };
    let wrap = cryptoki_sys::CKF_WRAP;
    let native = usable(CKM_RSA_AES_KEY_WRAP, wrap);
    let kwp = [Kwp::Kwp, Kwp::Pad]
        .into_iter()
        .find(|k| usable(k.number(), wrap));
    let oaep = usable(CKM_RSA_PKCS_OAEP, wrap);
    let aes = usable(CKM_AES_KEY_GEN, cryptoki_sys::CKF_GENERATE);

    let mut warnings = Vec::new();
    if find(CKM_SHA_1).is_none() {
        warnings.push(format!(
            "the token lists no {}: it may refuse RSA-OAEP with SHA-1, which Azure BYOK requires; `byok hsm selftest` tries it",
            named(CKM_SHA_1)
        ));
    }
    let composite_parts = || {
        format!(
            "{}, {} and {}",
            kwp.map(|k| named(k.number())).unwrap_or_default(),
            named(CKM_RSA_PKCS_OAEP),
            named(CKM_AES_KEY_GEN)
        )
    };
    let (verdict, reason) = if native && !force_composite {
        (
            Verdict::Native,
            format!("{} can wrap", named(CKM_RSA_AES_KEY_WRAP)),
        )
    } else if let (Some(k), true, true) = (kwp, oaep, aes) {
        let why = if native {
            format!(
                "BYOK_FORCE_COMPOSITE=1 asks for the two-step wrap though {} can wrap",
                named(CKM_RSA_AES_KEY_WRAP)
            )
        } else {
            lacking(CKM_RSA_AES_KEY_WRAP, wrap, "CKF_WRAP")
        };
        (
            Verdict::Composite(k),
            format!("{why}; two-step wrap: {}", composite_parts()),
        )
    } else {
        let mut missing = vec![];
        if !native {
            missing.push(lacking(CKM_RSA_AES_KEY_WRAP, wrap, "CKF_WRAP"));
        }
        if kwp.is_none() {
            missing.push(
                match (find(CKM_AES_KEY_WRAP_KWP), find(CKM_AES_KEY_WRAP_PAD)) {
                    (None, None) => format!(
                        "neither {} nor {}",
                        named(CKM_AES_KEY_WRAP_KWP),
                        named(CKM_AES_KEY_WRAP_PAD)
                    ),
                    _ => format!(
                        "no RFC 5649 wrap with CKF_WRAP ({} or {})",
                        named(CKM_AES_KEY_WRAP_KWP),
                        named(CKM_AES_KEY_WRAP_PAD)
                    ),
                },
            );
        }
        if !oaep {
            missing.push(lacking(CKM_RSA_PKCS_OAEP, wrap, "CKF_WRAP"));
        }
        if !aes {
            missing.push(lacking(
                CKM_AES_KEY_GEN,
                cryptoki_sys::CKF_GENERATE,
                "CKF_GENERATE",
            ));
        }
        let mut reason = missing.join(", ");
        if native && force_composite {
            reason = format!(
                "BYOK_FORCE_COMPOSITE=1 forbids {} and the two-step wrap is impossible: {reason}",
                named(CKM_RSA_AES_KEY_WRAP)
            );
        }
        (Verdict::Unsupported, reason)
    };
    Decision {
        verdict,
        reason,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::{CKF_DECRYPT, CKF_ENCRYPT, CKF_GENERATE, CKF_UNWRAP, CKF_WRAP};

    fn m(number: CK_MECHANISM_TYPE, flags: CK_FLAGS) -> RawMechanism {
        RawMechanism {
            number,
            min_key_size: 0,
            max_key_size: 0,
            flags,
        }
    }

    const WU: CK_FLAGS = CKF_WRAP | CKF_UNWRAP;

    /// SoftHSM 2.6.1: 0x210A, OAEP, AES key generation, SHA-1; no 0x1054, no 0x210B.
    fn softhsm_261() -> Vec<RawMechanism> {
        vec![
            m(
                CKM_RSA_PKCS_KEY_PAIR_GEN,
                cryptoki_sys::CKF_GENERATE_KEY_PAIR,
            ),
            m(CKM_RSA_PKCS_OAEP, CKF_ENCRYPT | CKF_DECRYPT | WU),
            m(CKM_AES_KEY_GEN, CKF_GENERATE),
            m(CKM_AES_KEY_WRAP_PAD, WU),
            m(CKM_SHA_1, cryptoki_sys::CKF_DIGEST),
            m(
                CKM_SHA256_RSA_PKCS,
                cryptoki_sys::CKF_SIGN | cryptoki_sys::CKF_VERIFY,
            ),
        ]
    }

    fn with(mut list: Vec<RawMechanism>, more: &[RawMechanism]) -> Vec<RawMechanism> {
        list.extend_from_slice(more);
        list
    }

    fn without(list: Vec<RawMechanism>, number: CK_MECHANISM_TYPE) -> Vec<RawMechanism> {
        list.into_iter().filter(|x| x.number != number).collect()
    }

    #[test]
    fn softhsm_261_is_composite_through_the_pad_mechanism() {
        let d = decide(&softhsm_261(), false);
        assert_eq!(d.verdict, Verdict::Composite(Kwp::Pad));
        assert_eq!(
            d.reason,
            "no CKM_RSA_AES_KEY_WRAP (0x1054); two-step wrap: CKM_AES_KEY_WRAP_PAD (0x210a), CKM_RSA_PKCS_OAEP (0x9) and CKM_AES_KEY_GEN (0x1080)"
        );
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn the_native_mechanism_is_seen_by_its_number() {
        // SoftHSM 2.7.0 lists 0x1054 for wrap and unwrap, beside 0x210A.
        let list = with(softhsm_261(), &[m(CKM_RSA_AES_KEY_WRAP, WU)]);
        let d = decide(&list, false);
        assert_eq!(d.verdict, Verdict::Native);
        assert_eq!(d.reason, "CKM_RSA_AES_KEY_WRAP (0x1054) can wrap");
        // Forced to the two-step wrap, for comparing both on one HSM.
        let d = decide(&list, true);
        assert_eq!(d.verdict, Verdict::Composite(Kwp::Pad));
        assert!(
            d.reason.starts_with("BYOK_FORCE_COMPOSITE=1"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn kwp_alone_is_enough_and_preferred_where_both_exist() {
        // Kryoptic: 0x210B only.
        let kryoptic = with(
            without(softhsm_261(), CKM_AES_KEY_WRAP_PAD),
            &[m(CKM_AES_KEY_WRAP_KWP, CKF_ENCRYPT | CKF_DECRYPT | WU)],
        );
        let d = decide(&kryoptic, false);
        assert_eq!(d.verdict, Verdict::Composite(Kwp::Kwp));
        assert!(
            d.reason.contains("CKM_AES_KEY_WRAP_KWP (0x210b)"),
            "{}",
            d.reason
        );
        assert_eq!(
            d.verdict.mechanism_text(),
            "CKM_AES_KEY_WRAP_KWP + CKM_RSA_PKCS_OAEP(SHA-1)"
        );
        let both = with(softhsm_261(), &[m(CKM_AES_KEY_WRAP_KWP, WU)]);
        assert_eq!(decide(&both, false).verdict, Verdict::Composite(Kwp::Kwp));
    }

    #[test]
    fn a_mechanism_without_the_flag_its_use_needs_does_not_count() {
        // 0x1054 for unwrap only (an HSM that imports but does not export this way).
        let list = with(softhsm_261(), &[m(CKM_RSA_AES_KEY_WRAP, CKF_UNWRAP)]);
        let d = decide(&list, false);
        assert_eq!(d.verdict, Verdict::Composite(Kwp::Pad));
        assert!(
            d.reason
                .starts_with("CKM_RSA_AES_KEY_WRAP (0x1054) listed without CKF_WRAP;"),
            "{}",
            d.reason
        );
        // A KWP that only encrypts; the PAD one is then taken.
        let list = with(softhsm_261(), &[m(CKM_AES_KEY_WRAP_KWP, CKF_ENCRYPT)]);
        assert_eq!(decide(&list, false).verdict, Verdict::Composite(Kwp::Pad));
        // AES key generation that cannot generate.
        let list = with(
            without(softhsm_261(), CKM_AES_KEY_GEN),
            &[m(CKM_AES_KEY_GEN, CKF_ENCRYPT)],
        );
        let d = decide(&list, false);
        assert_eq!(d.verdict, Verdict::Unsupported);
        assert_eq!(
            d.reason,
            "no CKM_RSA_AES_KEY_WRAP (0x1054), CKM_AES_KEY_GEN (0x1080) listed without CKF_GENERATE"
        );
    }

    #[test]
    fn unsupported_names_everything_missing() {
        let d = decide(&[], false);
        assert_eq!(d.verdict, Verdict::Unsupported);
        assert_eq!(
            d.reason,
            "no CKM_RSA_AES_KEY_WRAP (0x1054), neither CKM_AES_KEY_WRAP_KWP (0x210b) nor CKM_AES_KEY_WRAP_PAD (0x210a), no CKM_RSA_PKCS_OAEP (0x9), no CKM_AES_KEY_GEN (0x1080)"
        );
        assert_eq!(d.warnings.len(), 1, "no SHA-1 is warned about");
        let d = decide(&without(softhsm_261(), CKM_RSA_PKCS_OAEP), false);
        assert_eq!(d.verdict, Verdict::Unsupported);
        assert!(
            d.reason.ends_with("no CKM_RSA_PKCS_OAEP (0x9)"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn forcing_the_composite_where_only_the_native_wrap_exists_is_unsupported() {
        let list = vec![m(CKM_RSA_AES_KEY_WRAP, WU), m(CKM_SHA_1, 0)];
        assert_eq!(decide(&list, false).verdict, Verdict::Native);
        let d = decide(&list, true);
        assert_eq!(d.verdict, Verdict::Unsupported);
        assert!(
            d.reason.starts_with("BYOK_FORCE_COMPOSITE=1 forbids"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn a_token_without_sha1_is_warned_about() {
        let d = decide(&without(softhsm_261(), CKM_SHA_1), false);
        assert_eq!(d.verdict, Verdict::Composite(Kwp::Pad));
        assert_eq!(d.warnings.len(), 1);
        assert!(
            d.warnings[0].contains("RSA-OAEP with SHA-1"),
            "{:?}",
            d.warnings
        );
    }

    #[test]
    fn verdicts_serialize_as_their_names() {
        assert_eq!(
            serde_json::to_value(Verdict::Composite(Kwp::Kwp)).unwrap(),
            "composite"
        );
        assert_eq!(serde_json::to_value(Verdict::Native).unwrap(), "native");
        assert_eq!(Verdict::Unsupported.name(), "unsupported");
        assert_eq!(byok_mechanism_name(0x1054), Some("CKM_RSA_AES_KEY_WRAP"));
        assert_eq!(byok_mechanism_name(0x210B), Some("CKM_AES_KEY_WRAP_KWP"));
        assert_eq!(byok_mechanism_name(0x1234), None);
    }
}
