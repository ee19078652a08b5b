//! HSM access through PKCS#11 (`cryptoki`): the only module that talks to an HSM.
//!
//! Everything byok asks of an HSM goes through here: opening the module and the token,
//! one login per command (never retried: PINs lock), generating BYOK source keys and
//! the transcript signer, signing, and wrapping keys for Azure. Private key material
//! never leaves the HSM except wrapped; byok never reads a secret attribute.
//!
//! - [`module`]: the PKCS#11 module and the token ([`Hsm`]), its mechanisms, login;
//! - [`mechanisms`]: the verdict (native, composite or unsupported), decided from the
//!   raw mechanism list;
//! - [`session`]: a logged-in session ([`HsmSession`]), which implements [`Token`];
//! - [`templates`]: every attribute template byok creates objects with, in one place;
//! - [`wrapping`]: the BYOK wrap, native or composite;
//! - [`facts`]: the public facts byok reads back about a key;
//! - [`info`]: what `byok hsm info` reports;
//! - [`target`]: which module, token and key a command means (flags, URIs).
//!
//! The rest of byok sees a token only through the [`Token`] trait, so the ceremony's
//! logic (adoption after a crash, the signer, the token checks) is tested against a fake.

pub mod facts;
#[cfg(test)]
pub(crate) mod fake;
pub mod info;
pub mod mechanisms;
pub mod module;
mod raw;
pub mod session;
pub mod target;
pub mod templates;
pub mod wrapping;

pub use facts::{KeyFacts, PrivateKeyFacts};
pub use info::{dual_control_text, info, InfoReport, MechanismReport};
pub use mechanisms::{Decision, Kwp, RawMechanism};
pub use module::{ck, mechanism_name, rv_name, Hsm, TokenIdentity, Verdict, MODULE_ENV, TOKEN_ENV};
pub use session::HsmSession;
pub use target::{Target, TokenSelector};

use crate::Result;

/// A key (or another object) on a token, as the [`Token`] that found or made it names it.
/// Meaningless to any other token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyRef(pub u64);

/// A key pair just generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPair {
    pub public: KeyRef,
    pub private: KeyRef,
}

/// The hash of the RSA-OAEP step of a BYOK-style wrap (the MGF1 hash is the same, the
/// label empty). Azure takes SHA-1; AWS KMS, Google Cloud KMS and OpenBao take either,
/// as the import's method says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OaepHash {
    #[serde(rename = "SHA-1")]
    Sha1,
    #[serde(rename = "SHA-256")]
    Sha256,
}

impl OaepHash {
    /// `SHA-1` or `SHA-256`.
    pub fn name(self) -> &'static str {
        match self {
            OaepHash::Sha1 => "SHA-1",
            OaepHash::Sha256 => "SHA-256",
        }
    }
}

impl std::fmt::Display for OaepHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The public key a package is wrapped under, as the token gets it.
#[derive(Debug, Clone, Copy)]
pub enum WrappingKey<'a> {
    /// Loaded for this wrap only, as a session object destroyed afterwards.
    Session {
        modulus: &'a [u8],
        exponent: &'a [u8],
    },
    /// The KEK the Security Officer stored as trusted (`byok kek trust`).
    Trusted(KeyRef),
}

/// What byok does with a logged-in token. [`HsmSession`] is the real one; the
/// ceremony's unit tests use a fake.
pub trait Token {
    /// Which token this is.
    fn identity(&self) -> TokenIdentity;
    /// The PKCS#11 library: its path, and its manufacturer, description and version.
    fn library(&self) -> (String, String);
    /// A software token (SoftHSM or Kryoptic: for tests and rehearsals only).
    fn is_softhsm(&self) -> bool;
    /// How this token can make BYOK packages, and why.
    fn decision(&self) -> Result<Decision>;
    /// How this token can make BYOK packages.
    fn verdict(&self) -> Result<Verdict> {
        Ok(self.decision()?.verdict)
    }
    /// Whether the token signs with `CKM_SHA256_RSA_PKCS` (the transcript signer).
    fn can_sign(&self) -> Result<bool>;

    /// The private keys labelled `label`.
    fn private_keys(&self, label: &str) -> Result<Vec<KeyRef>>;
    /// The private keys with `CKA_ID` `id` (and label `label`, when given).
    fn private_keys_with_id(&self, id: &[u8], label: Option<&str>) -> Result<Vec<KeyRef>>;
    /// How many objects of any class carry `label`.
    fn objects_labelled(&self, label: &str) -> Result<usize>;
    /// How many token (persistent) objects there are.
    fn token_objects(&self) -> Result<usize>;
    /// The trusted public key (`CKA_TRUSTED`) with this modulus, if the SO stored one.
    fn trusted_kek(&self, modulus: &[u8]) -> Result<Option<KeyRef>>;
    /// The public facts of a private key.
    fn key_facts(&self, key: KeyRef) -> Result<KeyFacts>;

    /// Generate a BYOK key pair as token objects ([`templates::byok_key`]).
    fn generate_byok_key(
        &self,
        label: &str,
        bits: usize,
        wrap_with_trusted: bool,
    ) -> Result<KeyPair>;
    /// Generate the transcript signer as token objects ([`templates::signer`]).
    fn generate_signer(&self, label: &str, bits: usize) -> Result<KeyPair>;
    /// Generate a throwaway RSA-2048 pair as session objects, for the self-test.
    fn generate_session_pair(&self) -> Result<KeyPair>;
    /// Sign `data` with `CKM_SHA256_RSA_PKCS`.
    fn sign_sha256(&self, key: KeyRef, data: &[u8]) -> Result<Vec<u8>>;
    /// Wrap `key` under `kek` with the mechanism `verdict` names: the BYOK ciphertext
    /// `RSA-OAEP(KEK, aes; hash, MGF1-hash, empty label) || AES-KWP(aes, PKCS#8)`, which
    /// Azure (SHA-1), AWS KMS, Google Cloud KMS and OpenBao all take. The token is asked
    /// for `hash`; whether it honoured it is for the caller to prove (SoftHSM 2.7.0 uses
    /// SHA-1 whatever it is asked). A session copy of the KEK and the ephemeral AES key
    /// are destroyed whatever happens.
    fn wrap_key(
        &self,
        key: KeyRef,
        kek: WrappingKey<'_>,
        verdict: Verdict,
        hash: OaepHash,
    ) -> Result<Vec<u8>>;
    /// Destroy an object.
    fn destroy(&self, key: KeyRef) -> Result<()>;
}
