//! The BYOK wrap inside the HSM: the ciphertext Azure's BYOK import takes,
//! `RSA-OAEP(KEK, aes) || AES-KWP(aes, PKCS#8)`, made either with the native
//! `CKM_RSA_AES_KEY_WRAP` in one call or with the composite of an ephemeral AES-256 key,
//! an RFC 5649 wrap (`CKM_AES_KEY_WRAP_KWP` or `CKM_AES_KEY_WRAP_PAD`) and
//! `CKM_RSA_PKCS_OAEP` (with the target's hash: SHA-1 and MGF1-SHA-1 for Azure, SHA-1
//! or SHA-256 for the others; always an empty label). Whether the token used the hash it
//! was asked for is proved by `wrap::probe_hash`, not trusted.

use super::mechanisms::Kwp;
use super::module::{ck, rv_name, Verdict};
use super::raw::RawModule;
use super::templates;
use super::OaepHash;
use crate::{bail, err, Error, Result};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;

/// Wrap `target` under the RSA `wrapping_key` object, returning the BYOK ciphertext
/// `RSA-OAEP(KEK, aes) || AES-KWP(aes, PKCS#8)`, OAEP with `hash` (and MGF1 with it).
///
/// `Verdict::Native` makes one `CKM_RSA_AES_KEY_WRAP` call. `Verdict::Composite`
/// generates a session AES-256 key, wraps the target with the RFC 5649 wrap it names,
/// wraps the AES key with `CKM_RSA_PKCS_OAEP` (`hash`, MGF1-`hash`, empty label), and
/// destroys the AES key whatever happens.
pub(crate) fn byok_wrap(
    raw: &RawModule,
    session: &Session,
    verdict: Verdict,
    hash: OaepHash,
    wrapping_key: ObjectHandle,
    target: ObjectHandle,
) -> Result<Vec<u8>> {
    match verdict {
        Verdict::Native => native_wrap(raw, session, hash, wrapping_key, target),
        Verdict::Composite(kwp) => composite_wrap(raw, session, kwp, hash, wrapping_key, target),
        Verdict::Unsupported => bail!(
            "this token has neither CKM_RSA_AES_KEY_WRAP nor an RFC 5649 wrap (CKM_AES_KEY_WRAP_KWP or CKM_AES_KEY_WRAP_PAD) with CKM_RSA_PKCS_OAEP: it cannot make Azure BYOK packages (`byok hsm info` says why)"
        ),
    }
}

/// The message for a token that refuses the OAEP parameters Azure needs.
const SHA1_OAEP_REFUSED: &str =
    "SHA1_OAEP_REFUSED: the HSM refused RSA-OAEP with SHA-1 and MGF1-SHA-1";
/// The message for a token that refuses SHA-256 OAEP (SoftHSM 2.6).
pub const SHA256_OAEP_REFUSED: &str =
    "SHA256_OAEP_REFUSED: the HSM refused RSA-OAEP with SHA-256 and MGF1-SHA-256";

/// Where the RSA-OAEP part fails: an HSM (or its policy, e.g. a FIPS mode) that refuses
/// the hash is named as such: Azure's BYOK takes no other hash than SHA-1, and a target
/// that wants SHA-256 cannot be served by this token.
fn oaep_error(step: &'static str, hash: OaepHash) -> impl FnOnce(CkError) -> Error {
    move |e| {
        match e {
        CkError::Pkcs11(RvError::MechanismParamInvalid | RvError::ArgumentsBad, _) => match hash {
            OaepHash::Sha1 => err!(
                Hsm,
                "{SHA1_OAEP_REFUSED} ({}) in {step}, which Azure BYOK requires for the AES key: {}",
                rv_name(&e),
                "this token, as configured, cannot make Azure BYOK packages"
            ),
            OaepHash::Sha256 => err!(
                Hsm,
                "{SHA256_OAEP_REFUSED} ({}) in {step}: this token cannot wrap for a target that takes SHA-256; use a SHA-1 method or another HSM",
                rv_name(&e)
            ),
        },
        e => wrap_error(e),
    }
    }
}

fn oaep_params(hash: OaepHash) -> PkcsOaepParams<'static> {
    let (h, mgf) = match hash {
        OaepHash::Sha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        OaepHash::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
    };
    PkcsOaepParams::new(h, mgf, PkcsOaepSource::empty())
}

fn wrap_error(e: CkError) -> Error {
    match e {
        CkError::Pkcs11(RvError::KeyNotWrappable, _) | CkError::Pkcs11(RvError::WrappingKeyHandleInvalid, _) => err!(
            Hsm,
            "the HSM refused to wrap the key (CKR_KEY_NOT_WRAPPABLE): the key may require a trusted wrapping key (CKA_WRAP_WITH_TRUSTED); see `byok kek trust`"
        ),
        CkError::Pkcs11(RvError::KeyUnextractable, _) => err!(
            Hsm,
            "the HSM refused to wrap the key: it is not extractable, so it can never be exported to Azure; generate a BYOK key with `byok keygen`"
        ),
        e => err!(Hsm, "the HSM failed to wrap the key ({})", rv_name(&e)),
    }
}

fn composite_wrap(
    raw: &RawModule,
    session: &Session,
    kwp: Kwp,
    hash: OaepHash,
    kek: ObjectHandle,
    target: ObjectHandle,
) -> Result<Vec<u8>> {
    let aes = session
        .generate_key(&Mechanism::AesKeyGen, &templates::ephemeral_aes())
        .map_err(ck("generating the ephemeral AES-256 key"))?;
    let result = (|| {
        // RFC 5649 with its default IV: no parameter.
        let mut mech = cryptoki_sys::CK_MECHANISM {
            mechanism: kwp.number(),
            pParameter: std::ptr::null_mut(),
            ulParameterLen: 0,
        };
        let kwp = raw
            .wrap(session.handle(), &mut mech, aes.handle(), target.handle())
            .map_err(wrap_error)?;
        let rsa = session
            .wrap_key(&Mechanism::RsaPkcsOaep(oaep_params(hash)), kek, aes)
            .map_err(oaep_error("CKM_RSA_PKCS_OAEP", hash))?;
        let mut out = rsa;
        out.extend_from_slice(&kwp);
        Ok(out)
    })();
    let destroyed = session
        .destroy_object(aes)
        .map_err(ck("destroying the ephemeral AES key"));
    let out = result?;
    destroyed?;
    Ok(out)
}

/// `CKM_RSA_AES_KEY_WRAP` (AES-256, OAEP `hash` / MGF1-`hash`, empty label) in one call.
fn native_wrap(
    raw: &RawModule,
    session: &Session,
    hash: OaepHash,
    kek: ObjectHandle,
    target: ObjectHandle,
) -> Result<Vec<u8>> {
    use cryptoki_sys as sys;
    let (hash_alg, mgf) = match hash {
        OaepHash::Sha1 => (sys::CKM_SHA_1, sys::CKG_MGF1_SHA1),
        OaepHash::Sha256 => (sys::CKM_SHA256, sys::CKG_MGF1_SHA256),
    };
    let mut oaep = sys::CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: hash_alg,
        mgf,
        source: sys::CKZ_DATA_SPECIFIED,
        pSourceData: std::ptr::null_mut(),
        ulSourceDataLen: 0,
    };
    let mut params = sys::CK_RSA_AES_KEY_WRAP_PARAMS {
        ulAESKeyBits: 256,
        pOAEPParams: &mut oaep,
    };
    let mut mech = sys::CK_MECHANISM {
        mechanism: sys::CKM_RSA_AES_KEY_WRAP,
        pParameter: &mut params as *mut _ as *mut std::ffi::c_void,
        ulParameterLen: std::mem::size_of::<sys::CK_RSA_AES_KEY_WRAP_PARAMS>() as sys::CK_ULONG,
    };
    raw.wrap(session.handle(), &mut mech, kek.handle(), target.handle())
        .map_err(oaep_error("CKM_RSA_AES_KEY_WRAP (AES-256)", hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_refusals_name_their_cause() {
        let e = wrap_error(CkError::Pkcs11(
            RvError::KeyNotWrappable,
            cryptoki::context::Function::WrapKey,
        ));
        assert!(e.message().contains("byok kek trust"), "{e}");
        assert!(e.is(crate::ErrorKind::Hsm));
        let e = wrap_error(CkError::Pkcs11(
            RvError::KeyUnextractable,
            cryptoki::context::Function::WrapKey,
        ));
        assert!(e.message().contains("not extractable"), "{e}");
        let e = wrap_error(CkError::Pkcs11(
            RvError::DeviceError,
            cryptoki::context::Function::WrapKey,
        ));
        assert!(e.message().contains("DeviceError"), "{e}");
    }

    #[test]
    fn a_refusal_of_sha1_oaep_is_named() {
        for rv in [RvError::MechanismParamInvalid, RvError::ArgumentsBad] {
            let e = oaep_error("CKM_RSA_PKCS_OAEP", OaepHash::Sha1)(CkError::Pkcs11(
                rv,
                cryptoki::context::Function::WrapKey,
            ));
            assert!(e.message().starts_with(SHA1_OAEP_REFUSED), "{e}");
            assert!(e.message().contains("Azure BYOK requires"), "{e}");
            assert!(e.is(crate::ErrorKind::Hsm));
            let e = oaep_error("CKM_RSA_PKCS_OAEP", OaepHash::Sha256)(CkError::Pkcs11(
                rv,
                cryptoki::context::Function::WrapKey,
            ));
            assert!(e.message().starts_with(SHA256_OAEP_REFUSED), "{e}");
        }
        // Other refusals keep their own explanation.
        let e = oaep_error("CKM_RSA_AES_KEY_WRAP", OaepHash::Sha1)(CkError::Pkcs11(
            RvError::KeyNotWrappable,
            cryptoki::context::Function::WrapKey,
        ));
        assert!(e.message().contains("byok kek trust"), "{e}");
    }

    #[test]
    fn oaep_parameters_follow_the_hash() {
        // Azure's BYOK takes RSA-OAEP with SHA-1 (and MGF1-SHA-1, empty label).
        assert_eq!(oaep_params(OaepHash::Sha1).hash_alg(), MechanismType::SHA1);
        assert_eq!(
            oaep_params(OaepHash::Sha256).hash_alg(),
            MechanismType::SHA256
        );
    }
}
