//! The connected pipeline end to end: a SoftHSM2 token, the real simulator over HTTPS,
//! and the real `byok` binary: KEK, keygen, wrap, upload, verify, backup, restore drill,
//! under injected 429s, 503s and dropped connections; and the bad inputs.

mod backup;
#[path = "../common/mod.rs"]
mod common;
mod connection;
mod hostile;
mod pub_from;
mod rig;
mod upload;
mod verify;
mod whole;
