//! byok: hardware-backed key ceremonies for Azure Key Vault BYOK.
//!
//! One module per concern; `main.rs` is a thin command-line layer over these.

pub mod attestation;
pub mod error;

pub use error::{Error, Result};
