//! A logged-in session on the token: the real [`Token`]. The raw PKCS#11 session is
//! private to this file; objects are handed out as [`KeyRef`]s, which only this session
//! can turn back into handles.

use super::facts::{KeyFacts, PrivateKeyFacts};
use super::mechanisms::Decision;
use super::module::{ck, mechanism_name, rv_name, Hsm, TokenIdentity, Verdict};
use super::{templates, wrapping, KeyPair, KeyRef, OaepHash, Token, WrappingKey};
use crate::util::{bit_len, strip_zeros};
use crate::{bail, err, Result};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use std::cell::RefCell;

/// A logged-in session. Borrowing the [`Hsm`] makes the session close (and log out)
/// before the module is finalized.
pub struct HsmSession<'a> {
    s: Session,
    hsm: &'a Hsm,
    handles: Handles<ObjectHandle>,
}

/// The handles behind the [`KeyRef`]s a session handed out: `KeyRef(i)` is entry `i`, and
/// one handle always gets the same `KeyRef`.
struct Handles<H>(RefCell<Vec<H>>);

impl<H: Copy + PartialEq> Handles<H> {
    fn new() -> Self {
        Handles(RefCell::new(Vec::new()))
    }

    fn key_ref(&self, h: H) -> KeyRef {
        let mut handles = self.0.borrow_mut();
        match handles.iter().position(|x| *x == h) {
            Some(i) => KeyRef(i as u64),
            None => {
                handles.push(h);
                KeyRef(handles.len() as u64 - 1)
            }
        }
    }

    fn get(&self, k: KeyRef) -> Result<H> {
        usize::try_from(k.0)
            .ok()
            .and_then(|i| self.0.borrow().get(i).copied())
            .ok_or_else(|| err!(Internal, "internal: a key reference of another session"))
    }
}

impl Drop for HsmSession<'_> {
    fn drop(&mut self) {
        let _ = self.s.logout();
    }
}

impl<'a> HsmSession<'a> {
    pub(crate) fn new(s: Session, hsm: &'a Hsm) -> HsmSession<'a> {
        HsmSession {
            s,
            hsm,
            handles: Handles::new(),
        }
    }

    /// The token this session is on.
    pub fn hsm(&self) -> &Hsm {
        self.hsm
    }

    fn key_ref(&self, h: ObjectHandle) -> KeyRef {
        self.handles.key_ref(h)
    }

    fn handle(&self, k: KeyRef) -> Result<ObjectHandle> {
        self.handles.get(k)
    }

    fn find(&self, template: &[Attribute]) -> Result<Vec<KeyRef>> {
        Ok(self
            .s
            .find_objects(template)
            .map_err(ck("searching the token"))?
            .into_iter()
            .map(|h| self.key_ref(h))
            .collect())
    }

    /// Read non-secret attributes; absent or sensitive ones are simply missing.
    fn attrs(&self, obj: ObjectHandle, types: &[AttributeType]) -> Result<Vec<Attribute>> {
        self.s
            .get_attributes(obj, types)
            .map_err(ck("reading key attributes"))
    }

    fn bool_attr(&self, obj: ObjectHandle, t: AttributeType) -> Result<bool> {
        for a in self.attrs(obj, &[t])? {
            let v = match a {
                Attribute::Token(b)
                | Attribute::Private(b)
                | Attribute::Sensitive(b)
                | Attribute::AlwaysSensitive(b)
                | Attribute::Extractable(b)
                | Attribute::NeverExtractable(b)
                | Attribute::Local(b)
                | Attribute::WrapWithTrusted(b)
                | Attribute::Sign(b)
                | Attribute::Decrypt(b)
                | Attribute::Unwrap(b)
                | Attribute::Derive(b)
                | Attribute::Modifiable(b) => b,
                _ => continue,
            };
            return Ok(v);
        }
        Ok(false)
    }

    fn bytes_attr(&self, obj: ObjectHandle, t: AttributeType) -> Result<Option<Vec<u8>>> {
        for a in self.attrs(obj, &[t])? {
            match a {
                Attribute::Modulus(v)
                | Attribute::PublicExponent(v)
                | Attribute::Id(v)
                | Attribute::Label(v) => return Ok(Some(v)),
                _ => {}
            }
        }
        Ok(None)
    }

    fn generate_pair(
        &self,
        (public, private): (Vec<Attribute>, Vec<Attribute>),
        what: &str,
    ) -> Result<KeyPair> {
        let (p, s) = self
            .s
            .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
            .map_err(ck(what))?;
        Ok(KeyPair {
            public: self.key_ref(p),
            private: self.key_ref(s),
        })
    }

    fn random_id(&self) -> Result<Vec<u8>> {
        self.s
            .generate_random_vec(16)
            .map_err(ck("drawing a random key id"))
    }

    /// Store `modulus`/`exponent` as a trusted wrapping key (Security Officer session).
    pub fn store_trusted_kek(
        &self,
        modulus: &[u8],
        exponent: &[u8],
        label: &str,
        id: &[u8],
    ) -> Result<KeyRef> {
        let h = self
            .s
            .create_object(&templates::trusted_kek(modulus, exponent, label, id))
            .map_err(trusted_refused)?;
        Ok(self.key_ref(h))
    }
}

impl Token for HsmSession<'_> {
    fn identity(&self) -> TokenIdentity {
        self.hsm.identity()
    }

    fn library(&self) -> (String, String) {
        let lib = self
            .hsm
            .library()
            .map(|(m, d, v)| format!("{m} {d} {v}"))
            .unwrap_or_default();
        (self.hsm.module.display().to_string(), lib)
    }

    fn is_softhsm(&self) -> bool {
        self.hsm.is_softhsm()
    }

    fn decision(&self) -> Result<Decision> {
        self.hsm.decision()
    }

    fn can_sign(&self) -> Result<bool> {
        Ok(self.hsm.mechanisms()?.iter().any(|m| {
            m.number == cryptoki_sys::CKM_SHA256_RSA_PKCS && m.can(cryptoki_sys::CKF_SIGN)
        }))
    }

    fn private_keys(&self, label: &str) -> Result<Vec<KeyRef>> {
        self.find(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
    }

    fn private_keys_with_id(&self, id: &[u8], label: Option<&str>) -> Result<Vec<KeyRef>> {
        let mut t = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ];
        if let Some(l) = label {
            t.push(Attribute::Label(l.as_bytes().to_vec()));
        }
        self.find(&t)
    }

    fn objects_labelled(&self, label: &str) -> Result<usize> {
        Ok(self
            .find(&[Attribute::Label(label.as_bytes().to_vec())])?
            .len())
    }

    fn token_objects(&self) -> Result<usize> {
        Ok(self.find(&[Attribute::Token(true)])?.len())
    }

    fn trusted_kek(&self, modulus: &[u8]) -> Result<Option<KeyRef>> {
        Ok(self
            .find(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::Trusted(true),
                Attribute::Modulus(modulus.to_vec()),
            ])?
            .first()
            .copied())
    }

    /// SoftHSM and most HSMs expose `CKA_MODULUS` and `CKA_PUBLIC_EXPONENT` on the
    /// private object too; when a token does not, the public object with the same
    /// `CKA_ID` answers.
    fn key_facts(&self, key: KeyRef) -> Result<KeyFacts> {
        let private = self.handle(key)?;
        let b = |t| self.bool_attr(private, t);
        let id = self
            .bytes_attr(private, AttributeType::Id)?
            .unwrap_or_default();
        let label = self
            .bytes_attr(private, AttributeType::Label)?
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .unwrap_or_default();
        let mut modulus = self.bytes_attr(private, AttributeType::Modulus)?;
        let mut exponent = self.bytes_attr(private, AttributeType::PublicExponent)?;
        if modulus.is_none() || exponent.is_none() {
            let pubs = self
                .s
                .find_objects(&[
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::Id(id.clone()),
                ])
                .map_err(ck("searching the token"))?;
            if let Some(p) = pubs.first() {
                modulus = self.bytes_attr(*p, AttributeType::Modulus)?;
                exponent = self.bytes_attr(*p, AttributeType::PublicExponent)?;
            }
        }
        let (Some(modulus), Some(exponent)) = (modulus, exponent) else {
            bail!(Hsm, "the token shows neither the modulus nor the public exponent of key \"{label}\"; byok cannot tell which key it is");
        };
        let modulus = strip_zeros(&modulus).to_vec();
        let exponent = strip_zeros(&exponent).to_vec();
        let mut gen = String::from("unknown");
        for a in self.attrs(private, &[AttributeType::KeyGenMechanism])? {
            if let Attribute::KeyGenMechanism(m) = a {
                gen = mechanism_name(*m);
            }
        }
        Ok(KeyFacts {
            label,
            id: hex::encode(&id),
            bits: bit_len(&modulus),
            modulus,
            exponent,
            private: PrivateKeyFacts {
                token: b(AttributeType::Token)?,
                private: b(AttributeType::Private)?,
                sensitive: b(AttributeType::Sensitive)?,
                always_sensitive: b(AttributeType::AlwaysSensitive)?,
                extractable: b(AttributeType::Extractable)?,
                never_extractable: b(AttributeType::NeverExtractable)?,
                local: b(AttributeType::Local)?,
                key_gen_mechanism: gen,
                wrap_with_trusted: b(AttributeType::WrapWithTrusted)?,
                sign: b(AttributeType::Sign)?,
                decrypt: b(AttributeType::Decrypt)?,
                unwrap: b(AttributeType::Unwrap)?,
                derive: b(AttributeType::Derive)?,
                modifiable: b(AttributeType::Modifiable)?,
            },
        })
    }

    fn generate_byok_key(
        &self,
        label: &str,
        bits: usize,
        wrap_with_trusted: bool,
    ) -> Result<KeyPair> {
        let id = self.random_id()?;
        self.generate_pair(
            templates::byok_key(label, &id, bits, wrap_with_trusted),
            "generating the RSA key pair",
        )
    }

    fn generate_signer(&self, label: &str, bits: usize) -> Result<KeyPair> {
        let id = self.random_id()?;
        self.generate_pair(
            templates::signer(label, &id, bits),
            "generating the transcript signer key",
        )
    }

    fn generate_session_pair(&self) -> Result<KeyPair> {
        self.generate_pair(
            templates::session_pair(),
            "generating the throwaway session key pair",
        )
    }

    fn sign_sha256(&self, key: KeyRef, data: &[u8]) -> Result<Vec<u8>> {
        self.s
            .sign(&Mechanism::Sha256RsaPkcs, self.handle(key)?, data)
            .map_err(ck("signing (CKM_SHA256_RSA_PKCS)"))
    }

    fn wrap_key(
        &self,
        key: KeyRef,
        kek: WrappingKey<'_>,
        verdict: Verdict,
        hash: OaepHash,
    ) -> Result<Vec<u8>> {
        let target = self.handle(key)?;
        match kek {
            WrappingKey::Trusted(k) => wrapping::byok_wrap(
                &self.hsm.raw,
                &self.s,
                verdict,
                hash,
                self.handle(k)?,
                target,
            ),
            WrappingKey::Session { modulus, exponent } => {
                let kek = self
                    .s
                    .create_object(&templates::session_kek(modulus, exponent))
                    .map_err(ck("loading the KEK into the HSM as a session key"))?;
                let wrapped =
                    wrapping::byok_wrap(&self.hsm.raw, &self.s, verdict, hash, kek, target);
                let destroyed = self.s.destroy_object(kek).map_err(|e| {
                    err!(
                        Hsm,
                        "could not destroy the session copy of the KEK ({})",
                        rv_name(&e)
                    )
                });
                let out = wrapped?;
                destroyed?;
                Ok(out)
            }
        }
    }

    fn destroy(&self, key: KeyRef) -> Result<()> {
        self.s
            .destroy_object(self.handle(key)?)
            .map_err(ck("destroying an object"))
    }
}

/// A token that will not hold `CKA_TRUSTED` (Kryoptic never lets it be set) is named
/// as unable to give dual control, rather than as a failed store.
fn trusted_refused(e: CkError) -> crate::Error {
    match e {
        CkError::Pkcs11(
            RvError::AttributeTypeInvalid
            | RvError::AttributeReadOnly
            | RvError::AttributeValueInvalid
            | RvError::TemplateInconsistent,
            _,
        ) => err!(
            Hsm,
            "NO_DUAL_CONTROL: this token refuses to store a trusted key (CKA_TRUSTED; {}), so it cannot give dual control over wrapping: --wrap-with-trusted keys cannot be made or exported on it, and its keys are wrapped only under a KEK loaded for the wrap",
            rv_name(&e)
        ),
        e => ck("storing the trusted KEK (as Security Officer)")(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_that_refuses_cka_trusted_is_named_unable_to_give_dual_control() {
        let e = trusted_refused(CkError::Pkcs11(
            RvError::AttributeTypeInvalid,
            cryptoki::context::Function::CreateObject,
        ));
        assert!(e.message().starts_with("NO_DUAL_CONTROL: "), "{e}");
        assert!(e.is(crate::ErrorKind::Hsm));
        let e = trusted_refused(CkError::Pkcs11(
            RvError::DeviceError,
            cryptoki::context::Function::CreateObject,
        ));
        assert!(e.message().starts_with("storing the trusted KEK"), "{e}");
    }

    #[test]
    fn a_handle_keeps_its_reference_and_foreign_references_are_refused() {
        let h = Handles::new();
        let a = h.key_ref(0x11u64);
        let b = h.key_ref(0x22u64);
        assert_ne!(a, b);
        assert_eq!(h.key_ref(0x11), a, "the same handle, the same reference");
        assert_eq!(h.get(a).unwrap(), 0x11);
        assert_eq!(h.get(b).unwrap(), 0x22);
        let e = h.get(KeyRef(7)).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Internal);
    }
}
