//! A fake [`Token`] for unit tests: objects are kept in memory and keys are software
//! RSA keys, so it generates, signs and wraps (in software, as the composite mechanism
//! would) — enough to run a whole ceremony and to test what byok decides from what a
//! token holds (adoption, the signer, the token checks), without an HSM.
//! Compiled for unit tests only (`#[cfg(test)]` in `hsm/mod.rs`).

use super::facts::{KeyFacts, PrivateKeyFacts};
use super::module::{TokenIdentity, Verdict};
use super::{KeyPair, KeyRef, OaepHash, Token, WrappingKey};
use crate::{bail, Result};
use std::cell::{Cell, RefCell};

#[derive(Debug, Clone)]
struct Obj {
    label: String,
    /// The facts of a private key; `None` for a public key or another object.
    facts: Option<KeyFacts>,
    /// The private key itself (it never leaves the fake, except wrapped).
    key: Option<rsa::PrivateKey>,
    token: bool,
    destroyed: bool,
}

/// An in-memory token.
#[derive(Debug)]
pub struct FakeToken {
    objects: RefCell<Vec<Obj>>,
    pub can_sign: bool,
    pub verdict: Verdict,
    /// How many keys were generated (BYOK keys and signers).
    pub generated: Cell<usize>,
    /// Wrap with SHA-1 whatever hash is asked, as SoftHSM 2.7.0 does.
    pub oaep_always_sha1: bool,
}

impl Default for FakeToken {
    fn default() -> Self {
        FakeToken {
            objects: RefCell::new(Vec::new()),
            can_sign: true,
            verdict: Verdict::Composite(super::mechanisms::Kwp::Pad),
            generated: Cell::new(0),
            oaep_always_sha1: false,
        }
    }
}

/// A BYOK key's facts as a token reports them after generation.
pub fn byok_facts() -> PrivateKeyFacts {
    PrivateKeyFacts {
        token: true,
        private: true,
        sensitive: true,
        always_sensitive: true,
        extractable: true,
        never_extractable: false,
        local: true,
        key_gen_mechanism: "CKM_RSA_PKCS_KEY_PAIR_GEN".into(),
        wrap_with_trusted: false,
        sign: false,
        decrypt: false,
        unwrap: false,
        derive: false,
        modifiable: false,
    }
}

/// A signer's facts.
pub fn signer_facts() -> PrivateKeyFacts {
    PrivateKeyFacts {
        extractable: false,
        never_extractable: true,
        sign: true,
        ..byok_facts()
    }
}

/// A software RSA key of `bits` bits.
fn rsa_key(bits: usize) -> rsa::PrivateKey {
    rsa::PrivateKey::new(&mut rand::rng(), bits).expect("a software RSA key")
}

impl FakeToken {
    fn push(&self, o: Obj) -> KeyRef {
        let mut v = self.objects.borrow_mut();
        v.push(o);
        KeyRef(v.len() as u64 - 1)
    }

    /// Put a private key (and its public key) labelled `label` on the token.
    pub fn add_key(&self, label: &str, bits: usize, private: PrivateKeyFacts) -> KeyPair {
        use rsa::traits::PublicKeyParts;
        let key = rsa_key(bits);
        let token = private.token;
        let facts = KeyFacts {
            label: label.into(),
            id: hex::encode(rand::random::<[u8; 16]>()),
            bits,
            modulus: key.n().to_be_bytes_trimmed_vartime().to_vec(),
            exponent: key.e().to_be_bytes_trimmed_vartime().to_vec(),
            private,
        };
        let private = self.push(Obj {
            label: label.into(),
            facts: Some(facts),
            key: Some(key),
            token,
            destroyed: false,
        });
        let public = self.push(Obj {
            label: label.into(),
            facts: None,
            key: None,
            token,
            destroyed: false,
        });
        KeyPair { public, private }
    }

    fn private_key(&self, key: KeyRef) -> Result<rsa::PrivateKey> {
        let objects = self.objects.borrow();
        match usize::try_from(key.0).ok().and_then(|i| objects.get(i)) {
            Some(Obj {
                key: Some(k),
                destroyed: false,
                ..
            }) => Ok(k.clone()),
            _ => bail!(Hsm, "fake token: no such private key"),
        }
    }

    /// Put an object that is not a private key (a certificate, data) labelled `label`.
    pub fn add_other(&self, label: &str) {
        self.push(Obj {
            label: label.into(),
            facts: None,
            key: None,
            token: true,
            destroyed: false,
        });
    }

    /// Labels of the private keys on the token.
    pub fn private_labels(&self) -> Vec<String> {
        self.objects
            .borrow()
            .iter()
            .filter(|o| !o.destroyed && o.facts.is_some())
            .map(|o| o.label.clone())
            .collect()
    }

    fn live(&self) -> Vec<(usize, Obj)> {
        self.objects
            .borrow()
            .iter()
            .cloned()
            .enumerate()
            .filter(|(_, o)| !o.destroyed)
            .collect()
    }
}

impl Token for FakeToken {
    fn identity(&self) -> TokenIdentity {
        TokenIdentity {
            label: "Contoso-Ceremony".into(),
            manufacturer: "Fake".into(),
            model: "Fake HSM".into(),
            serial: "0001".into(),
            firmware: "1.0".into(),
            hardware: "1.0".into(),
        }
    }

    fn library(&self) -> (String, String) {
        ("fake.so".into(), "Fake 1.0".into())
    }

    fn is_softhsm(&self) -> bool {
        false
    }

    fn decision(&self) -> Result<super::mechanisms::Decision> {
        Ok(super::mechanisms::Decision {
            verdict: self.verdict,
            reason: "the fake token's verdict".into(),
            warnings: vec![],
        })
    }

    fn can_sign(&self) -> Result<bool> {
        Ok(self.can_sign)
    }

    fn private_keys(&self, label: &str) -> Result<Vec<KeyRef>> {
        Ok(self
            .live()
            .into_iter()
            .filter(|(_, o)| o.label == label && o.facts.is_some())
            .map(|(i, _)| KeyRef(i as u64))
            .collect())
    }

    fn private_keys_with_id(&self, id: &[u8], label: Option<&str>) -> Result<Vec<KeyRef>> {
        let id = hex::encode(id);
        Ok(self
            .live()
            .into_iter()
            .filter(|(_, o)| {
                o.facts.as_ref().is_some_and(|f| f.id == id) && label.is_none_or(|l| o.label == l)
            })
            .map(|(i, _)| KeyRef(i as u64))
            .collect())
    }

    fn objects_labelled(&self, label: &str) -> Result<usize> {
        Ok(self.live().iter().filter(|(_, o)| o.label == label).count())
    }

    fn token_objects(&self) -> Result<usize> {
        Ok(self.live().iter().filter(|(_, o)| o.token).count())
    }

    fn trusted_kek(&self, _modulus: &[u8]) -> Result<Option<KeyRef>> {
        Ok(None)
    }

    fn key_facts(&self, key: KeyRef) -> Result<KeyFacts> {
        let objects = self.objects.borrow();
        match usize::try_from(key.0).ok().and_then(|i| objects.get(i)) {
            Some(Obj {
                facts: Some(f),
                destroyed: false,
                ..
            }) => Ok(f.clone()),
            _ => bail!(Hsm, "fake token: no such private key"),
        }
    }

    fn generate_byok_key(
        &self,
        label: &str,
        bits: usize,
        wrap_with_trusted: bool,
    ) -> Result<KeyPair> {
        self.generated.set(self.generated.get() + 1);
        Ok(self.add_key(
            label,
            bits,
            PrivateKeyFacts {
                wrap_with_trusted,
                ..byok_facts()
            },
        ))
    }

    fn generate_signer(&self, label: &str, bits: usize) -> Result<KeyPair> {
        self.generated.set(self.generated.get() + 1);
        Ok(self.add_key(label, bits, signer_facts()))
    }

    fn generate_session_pair(&self) -> Result<KeyPair> {
        Ok(self.add_key(
            "",
            2048,
            PrivateKeyFacts {
                token: false,
                ..byok_facts()
            },
        ))
    }

    fn sign_sha256(&self, key: KeyRef, data: &[u8]) -> Result<Vec<u8>> {
        use sha2::Sha256;
        self.private_key(key)?
            .sign(
                rsa::Pkcs1v15Sign::new::<Sha256>(),
                &crate::util::sha256(data),
            )
            .map_err(|e| crate::err!(Hsm, "fake token: signing failed ({e})"))
    }

    /// The composite wrap, in software: RSA-OAEP(`hash`) of a fresh AES-256 key, then
    /// AES-KWP of the key's PKCS#8.
    fn wrap_key(
        &self,
        key: KeyRef,
        kek: WrappingKey<'_>,
        _v: Verdict,
        hash: OaepHash,
    ) -> Result<Vec<u8>> {
        use aes_kw::KeyInit;
        use rsa::pkcs8::EncodePrivateKey;
        let WrappingKey::Session { modulus, exponent } = kek else {
            bail!(Hsm, "fake token: no trusted KEKs");
        };
        let pkcs8 = self
            .private_key(key)?
            .to_pkcs8_der()
            .map_err(|e| crate::err!(Hsm, "fake token: {e}"))?;
        let aes: [u8; 32] = rand::random();
        let kwp = aes_kw::KwpAes256::new_from_slice(&aes)
            .map_err(|_| crate::err!(Hsm, "fake token: AES key"))?;
        let mut buf = vec![0u8; pkcs8.as_bytes().len() + 16];
        let wrapped = kwp
            .wrap_key(pkcs8.as_bytes(), &mut buf)
            .map_err(|e| crate::err!(Hsm, "fake token: KWP ({e})"))?
            .to_vec();
        let kek = crate::kek::rsa_from_parts(modulus, exponent)?;
        let hash = if self.oaep_always_sha1 {
            OaepHash::Sha1
        } else {
            hash
        };
        let mut out = match hash {
            OaepHash::Sha1 => kek.encrypt(&mut rand::rng(), rsa::Oaep::<sha1::Sha1>::new(), &aes),
            OaepHash::Sha256 => {
                kek.encrypt(&mut rand::rng(), rsa::Oaep::<sha2::Sha256>::new(), &aes)
            }
        }
        .map_err(|e| crate::err!(Hsm, "fake token: OAEP ({e})"))?;
        out.extend_from_slice(&wrapped);
        Ok(out)
    }

    fn destroy(&self, key: KeyRef) -> Result<()> {
        match usize::try_from(key.0).ok().and_then(|i| {
            self.objects
                .borrow_mut()
                .get_mut(i)
                .map(|o| o.destroyed = true)
        }) {
            Some(()) => Ok(()),
            None => bail!(Hsm, "fake token: no such object"),
        }
    }
}
