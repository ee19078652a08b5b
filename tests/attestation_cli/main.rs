//! HSM key attestation through the CLI: the real Google sample, and the simulator's
//! Managed HSM attestations end to end (kek fetch --attestation, kek inspect, wrap
//! --require-attestation, upload, verify), Key Vault's lack of them, and bad inputs.

mod ceremony;
#[path = "../common/mod.rs"]
mod common;
mod google;
mod key_vault;
mod managed_hsm;
mod rig;
