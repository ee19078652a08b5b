//! The BYOK wrap inside the HSM: the ciphertext Azure's BYOK import takes,
//! `RSA-OAEP(KEK, aes) || AES-KWP(aes, PKCS#8)`, made either with the native
//! `CKM_RSA_AES_KEY_WRAP` in one call or with the composite of an ephemeral AES-256 key,
//! `CKM_AES_KEY_WRAP_PAD` and `CKM_RSA_PKCS_OAEP` (SHA-1, MGF1-SHA-1, empty label).

use super::module::{ck, rv_name, Verdict};
use super::templates;
use crate::{bail, err, Error, Result};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use std::path::Path;

/// Wrap `target` for Azure under the RSA `wrapping_key` object, returning the
/// BYOK ciphertext `RSA-OAEP(KEK, aes) || AES-KWP(aes, PKCS#8)`.
///
/// `Verdict::Native` makes one `CKM_RSA_AES_KEY_WRAP` call. `Verdict::Composite`
/// generates a session AES-256 key, wraps the target with `CKM_AES_KEY_WRAP_PAD`, wraps
/// the AES key with `CKM_RSA_PKCS_OAEP` (SHA-1, MGF1-SHA-1, empty label), and destroys
/// the AES key whatever happens.
pub(crate) fn byok_wrap(
    module: &Path,
    session: &Session,
    verdict: Verdict,
    wrapping_key: ObjectHandle,
    target: ObjectHandle,
) -> Result<Vec<u8>> {
    match verdict {
        Verdict::Native => native_wrap(module, session, wrapping_key, target),
        Verdict::Composite => composite_wrap(session, wrapping_key, target),
        Verdict::Unsupported => bail!(
            "this token has neither CKM_RSA_AES_KEY_WRAP nor CKM_AES_KEY_WRAP_PAD with CKM_RSA_PKCS_OAEP: it cannot make Azure BYOK packages"
        ),
    }
}

fn oaep_sha1() -> PkcsOaepParams<'static> {
    PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    )
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

fn composite_wrap(session: &Session, kek: ObjectHandle, target: ObjectHandle) -> Result<Vec<u8>> {
    let aes = session
        .generate_key(&Mechanism::AesKeyGen, &templates::ephemeral_aes())
        .map_err(ck("generating the ephemeral AES-256 key"))?;
    let result = (|| {
        let kwp = session
            .wrap_key(&Mechanism::AesKeyWrapPad, aes, target)
            .map_err(wrap_error)?;
        let rsa = session
            .wrap_key(&Mechanism::RsaPkcsOaep(oaep_sha1()), kek, aes)
            .map_err(wrap_error)?;
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

/// `CKM_RSA_AES_KEY_WRAP` through a raw `cryptoki-sys` call: cryptoki has no variant
/// for it and its vendor-defined escape refuses standard mechanism numbers. The module
/// is opened a second time with `dlopen`, which returns the same loaded instance, so
/// the session and object handles from cryptoki are valid here.
fn native_wrap(
    module: &Path,
    session: &Session,
    kek: ObjectHandle,
    target: ObjectHandle,
) -> Result<Vec<u8>> {
    use cryptoki_sys as sys;
    // SAFETY: loading the module the context already loaded; no initializer runs twice.
    let lib = unsafe { sys::Pkcs11::new(module.as_os_str()) }
        .map_err(|e| err!(Hsm, "cannot reopen the PKCS#11 module: {e}"))?;
    let Ok(wrap_fn) = lib.C_WrapKey.as_ref() else {
        bail!(Hsm, "the PKCS#11 module has no C_WrapKey");
    };
    let mut oaep = sys::CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: sys::CKM_SHA_1,
        mgf: sys::CKG_MGF1_SHA1,
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
    let mut len: sys::CK_ULONG = 0;
    // SAFETY: valid session and object handles; a null output asks for the length.
    let rv = unsafe {
        wrap_fn(
            session.handle(),
            &mut mech,
            kek.handle(),
            target.handle(),
            std::ptr::null_mut(),
            &mut len,
        )
    };
    check_rv(rv)?;
    let mut out = vec![0u8; len as usize];
    // SAFETY: `out` has the length the module asked for.
    let rv = unsafe {
        wrap_fn(
            session.handle(),
            &mut mech,
            kek.handle(),
            target.handle(),
            out.as_mut_ptr(),
            &mut len,
        )
    };
    check_rv(rv)?;
    out.truncate(len as usize);
    Ok(out)
}

fn check_rv(rv: cryptoki_sys::CK_RV) -> Result<()> {
    cryptoki::error::Rv::from(rv)
        .into_result(cryptoki::context::Function::WrapKey)
        .map_err(wrap_error)
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
    fn oaep_is_sha1() {
        // Azure's BYOK takes RSA-OAEP with SHA-1 (and MGF1-SHA-1, empty label).
        assert_eq!(oaep_sha1().hash_alg(), MechanismType::SHA1);
    }
}
