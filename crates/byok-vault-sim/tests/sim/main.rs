//! End-to-end tests of `byok-vault-sim`: the built binary, over HTTPS, trusting its `ca.pem`.

mod crypto;
mod faults;
mod hostile;
mod import;
mod keys;
mod lifecycle;
mod protocol;
mod rig;
