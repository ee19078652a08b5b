//! The offline core on real software tokens (SoftHSM 2.6.1 by default; BYOK_TEST_TOKEN
//! picks SoftHSM 2.7.0 or Kryoptic): keygen, wrap, selftest, info, and every
//! bad input refused cleanly. Packages are checked by an independent software unwrap
//! (the `rsa` and `aes-kw` crates).

mod bad_input;
#[path = "../common/mod.rs"]
mod common;
mod hostile;
mod hsm;
mod keygen;
mod mechanisms;
mod package;
mod rig;
mod trust;
