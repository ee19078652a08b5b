//! byok: hardware-backed key ceremonies for Azure Key Vault BYOK.
//!
//! One module per concern; `main.rs` is a thin command-line layer over these.
//!
//! - [`hsm`]: PKCS#11 access (module, token, login, wrapping mechanisms)
//! - [`keygen`], [`wrap`]: the offline operations on the HSM
//! - [`kek`], [`keyid`]: the Key Exchange Key and Key Vault key ids
//! - [`package`]: the Azure BYOK transfer package
//! - [`attestation`]: Marvell HSM key attestations
//! - [`ceremony`], [`transcript`]: ceremony plans, the resumable offline run, its hash-chained transcript
//! - [`crashpoint`]: the kill-at-a-step test hook behind `BYOK_TEST_CRASH_AFTER`
//! - [`pin`], [`p11uri`], [`fsutil`], [`words`]: PINs, PKCS#11 URIs, careful files, PGP words
//! - [`softhsm`], [`testkek`]: throwaway tokens and software KEKs for tests and rehearsals
//! - `sim` (feature `network`): byok-vault-sim, a local Key Vault for rehearsals and tests
//! - `blob` (feature `network`): the online backup copy to Azure Blob Storage

pub mod attestation;
pub mod backup;
#[cfg(feature = "network")]
pub mod blob;
pub mod ceremony;
pub mod crashpoint;
pub mod error;
pub mod fsutil;
pub mod hsm;
pub mod kek;
pub mod keygen;
pub mod keyid;
pub mod p11uri;
pub mod package;
pub mod pin;
#[cfg(feature = "network")]
pub mod pipeline;
#[cfg(feature = "network")]
pub mod sim;
pub mod softhsm;
pub mod testkek;
pub mod transcript;
#[cfg(feature = "network")]
pub mod vault;
pub mod words;
pub mod wrap;

pub use error::{Error, Result};
