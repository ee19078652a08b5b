//! byok-azure: the connected side of byok. The Key Vault client (the official Azure SDK
//! for Rust), the pipeline (KEKs in the vault, upload, verify, backup, restore drills),
//! backup files, the Blob Storage copy, and `byok ceremony import`; and the OpenBao /
//! HashiCorp Vault transit client.
//!
//! - [`vault`]: the Key Vault client
//! - [`pipeline`]: KEKs, upload, verify, backup and restore drills (one file each)
//! - [`backup`]: backup files and their manifest
//! - [`blob`]: the online backup copy to Azure Blob Storage
//! - [`import`]: `byok ceremony import`, the connected run of a ceremony
//! - [`openbao`]: the OpenBao / HashiCorp Vault transit client (wrapping key, BYOK import)
//!
//! Every error carries a kind (`byok_core::ErrorKind`), which is what callers decide on:
//! `NotFound`, `Exists`, `Integrity`, `OutcomeUnknown`, `Service`, `Io`, `BadInput`.

pub mod backup;
pub mod blob;
mod causes;
pub mod import;
pub mod openbao;
pub mod pipeline;
pub mod vault;
