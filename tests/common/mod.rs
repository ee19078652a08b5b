//! The test harness lives in byok-testkit; this module re-exports it for the tests of
//! this package and adds the Azurite (Blob Storage emulator) harness, which only the
//! connected-side tests need.
#![allow(dead_code, unused_imports)]

pub mod azurite;
pub use byok_testkit::harness::*;
pub use byok_testkit::simproc as sim;
