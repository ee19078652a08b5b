//! byok: hardware-backed key ceremonies for Azure Key Vault BYOK.
//!
//! One module per concern; `main.rs` is a thin command-line layer over these.

pub mod attestation;
pub mod error;

pub use error::{Error, Result};
pub mod fsutil;
pub mod hsm;
pub mod kek;
pub mod keygen;
pub mod keyid;
pub mod p11uri;
pub mod package;
pub mod pin;
pub mod softhsm;
pub mod testkek;
pub mod words;
pub mod wrap;
