//! The offline core on real SoftHSM2 tokens: keygen, wrap, selftest, info, and every
//! bad input refused cleanly. Packages are checked by an independent software unwrap
//! (the `rsa` and `aes-kw` crates).

mod bad_input;
#[path = "../common/mod.rs"]
mod common;
mod hostile;
mod hsm;
mod keygen;
mod package;
mod rig;
mod trust;
