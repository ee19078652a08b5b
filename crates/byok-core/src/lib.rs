//! byok-core: the offline core of byok, everything that runs on the air-gapped
//! workstation. No network crate is in its dependency tree (CI checks it).
//!
//! - [`hsm`]: PKCS#11 access (module, token, login, wrapping mechanisms)
//! - [`keygen`], [`wrap`]: the offline operations on the HSM
//! - [`kek`], [`keyid`]: the Key Exchange Key and Key Vault key ids
//! - [`package`]: the Azure BYOK transfer package
//! - [`attestation`]: Marvell HSM key attestations
//! - [`targets`]: AWS KMS, Google Cloud KMS and OpenBao names, printed commands, GCP import-job checks
//! - [`ceremony`], [`transcript`]: ceremony plans, the resumable offline run, its hash-chained transcript
//! - [`crashpoint`]: the kill-at-a-step test hook (feature `test-hooks` only)
//! - [`console`]: the people at the keyboard (PIN prompts, officers' answers, progress)
//! - [`pin`], [`p11uri`], [`fsutil`], [`words`]: PINs, PKCS#11 URIs, careful files, PGP words
//! - [`identity`]: which binary is running (`byok version`, the transcripts' `open` record)
//! - [`util`]: hashing, big-endian integers, RFC 3339 times, yes/no text

pub mod attestation;
pub mod ceremony;
pub mod console;
pub mod crashpoint;
pub mod error;
pub mod fsutil;
pub mod hsm;
pub mod identity;
pub mod json;
pub mod kek;
pub mod keygen;
pub mod keyid;
pub mod p11uri;
pub mod package;
pub mod pin;
pub mod targets;
pub mod text;
pub mod transcript;
pub mod util;
pub mod words;
pub mod wrap;

pub use error::{Error, ErrorKind, Result};
pub use keyid::Mode;
