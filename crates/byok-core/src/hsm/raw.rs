//! The few PKCS#11 calls byok makes through `cryptoki-sys` rather than `cryptoki`:
//! the raw mechanism list (cryptoki drops the numbers it has no variant for) and
//! `C_WrapKey` with mechanisms cryptoki cannot name (`CKM_RSA_AES_KEY_WRAP`,
//! `CKM_AES_KEY_WRAP_KWP`; its vendor-defined escape refuses standard numbers).
//!
//! The module is opened a second time with `dlopen`, which returns the instance
//! cryptoki already loaded and initialized, and called through its own function list
//! (`C_GetFunctionList`), so cryptoki's slot, session and object handles are valid here.

use super::mechanisms::RawMechanism;
use crate::{err, Result};
use cryptoki::context::Function;
use cryptoki::error::{Error as CkError, Rv};
use cryptoki_sys as sys;
use std::path::Path;

/// The module as `cryptoki-sys` sees it. Keeps the library loaded while it lives.
pub(crate) struct RawModule {
    _lib: sys::Pkcs11,
    list: sys::CK_FUNCTION_LIST,
}

/// Most mechanisms a module may list (real HSMs list a few hundred).
const MAX_MECHANISMS: sys::CK_ULONG = 4096;
/// Largest wrapped key byok accepts from `C_WrapKey`.
const MAX_WRAPPED_LEN: sys::CK_ULONG = 64 * 1024;

fn rv(rv: sys::CK_RV, f: Function) -> std::result::Result<(), CkError> {
    Rv::from(rv).into_result(f)
}

impl RawModule {
    /// Reopen `module` (already loaded and initialized by cryptoki) and take its
    /// function list.
    pub(crate) fn open(module: &Path) -> Result<RawModule> {
        // SAFETY: loading the module the context already loaded; no initializer runs twice.
        let lib = unsafe { sys::Pkcs11::new(module.as_os_str()) }
            .map_err(|e| err!(Hsm, "cannot reopen the PKCS#11 module: {e}"))?;
        let Ok(get) = lib.C_GetFunctionList.as_ref() else {
            return Err(err!(Hsm, "the PKCS#11 module has no C_GetFunctionList"));
        };
        let mut list: *mut sys::CK_FUNCTION_LIST = std::ptr::null_mut();
        // SAFETY: `list` is a valid out pointer.
        rv(unsafe { get(&mut list) }, Function::GetFunctionList)
            .map_err(|e| err!(Hsm, "C_GetFunctionList failed ({e})"))?;
        if list.is_null() {
            return Err(err!(Hsm, "the PKCS#11 module returned no function list"));
        }
        // SAFETY: non-null, and the module keeps its function list for as long as it
        // is loaded; the struct is plain function pointers, copied out here.
        let list = unsafe { *list };
        Ok(RawModule { _lib: lib, list })
    }

    /// Every mechanism the token in `slot` lists, with its key sizes and flags, by number.
    pub(crate) fn mechanisms(
        &self,
        slot: sys::CK_SLOT_ID,
    ) -> std::result::Result<Vec<RawMechanism>, CkError> {
        let (Some(list_fn), Some(info_fn)) =
            (self.list.C_GetMechanismList, self.list.C_GetMechanismInfo)
        else {
            return Err(CkError::NullFunctionPointer);
        };
        let mut count: sys::CK_ULONG = 0;
        // SAFETY: a null output asks for the count.
        rv(
            unsafe { list_fn(slot, std::ptr::null_mut(), &mut count) },
            Function::GetMechanismList,
        )?;
        // A module that claims an absurd count gets no allocation of that size.
        if count > MAX_MECHANISMS {
            return Err(CkError::InvalidValue);
        }
        let mut numbers = vec![0 as sys::CK_MECHANISM_TYPE; count as usize];
        // SAFETY: `numbers` holds `count` entries.
        rv(
            unsafe { list_fn(slot, numbers.as_mut_ptr(), &mut count) },
            Function::GetMechanismList,
        )?;
        numbers.truncate(count as usize);
        let mut out = Vec::with_capacity(numbers.len());
        for number in numbers {
            let mut info = sys::CK_MECHANISM_INFO::default();
            // SAFETY: `info` is a valid out pointer.
            rv(
                unsafe { info_fn(slot, number, &mut info) },
                Function::GetMechanismInfo,
            )?;
            out.push(RawMechanism {
                number,
                min_key_size: info.ulMinKeySize,
                max_key_size: info.ulMaxKeySize,
                flags: info.flags,
            });
        }
        Ok(out)
    }

    /// `C_WrapKey` with `mech`: the length first, then the blob.
    pub(crate) fn wrap(
        &self,
        session: sys::CK_SESSION_HANDLE,
        mech: &mut sys::CK_MECHANISM,
        wrapping_key: sys::CK_OBJECT_HANDLE,
        target: sys::CK_OBJECT_HANDLE,
    ) -> std::result::Result<Vec<u8>, CkError> {
        let Some(wrap_fn) = self.list.C_WrapKey else {
            return Err(CkError::NullFunctionPointer);
        };
        let mut len: sys::CK_ULONG = 0;
        // SAFETY: valid session and object handles; a null output asks for the length.
        rv(
            unsafe {
                wrap_fn(
                    session,
                    mech,
                    wrapping_key,
                    target,
                    std::ptr::null_mut(),
                    &mut len,
                )
            },
            Function::WrapKey,
        )?;
        // A wrapped RSA-4096 key is about 3 KB; a module claiming more is refused.
        if len > MAX_WRAPPED_LEN {
            return Err(CkError::InvalidValue);
        }
        let mut out = vec![0u8; len as usize];
        // SAFETY: `out` has the length the module asked for.
        rv(
            unsafe {
                wrap_fn(
                    session,
                    mech,
                    wrapping_key,
                    target,
                    out.as_mut_ptr(),
                    &mut len,
                )
            },
            Function::WrapKey,
        )?;
        out.truncate(len as usize);
        Ok(out)
    }
}
