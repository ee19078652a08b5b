//! Verification of Marvell LiquidSecurity HSM key attestations.
//!
//! Azure Managed HSM and Google Cloud HSM run on Marvell LiquidSecurity
//! adapters. The adapter can sign a statement of a key object's PKCS#11
//! attributes (modulus, exponent, extractable, sensitive, ...) with the key of
//! its *partition*. Checking such a statement before wrapping a key under a
//! KEK proves that the KEK's private half lives in a real HSM, cannot leave it,
//! and is the key we are about to use.
//!
//! Two inputs are supported:
//!
//! 1. Azure `MRVL-1` ([`verify_azure`]): the KeyBundle returned by
//!    `GET /keys/{name}/{version}/attestation`, or the attestation object that
//!    `az keyvault key get-attestation --file` writes (then the key is given
//!    separately, see [`ExpectedKey::parse`]).
//! 2. A generic Marvell blob, gzip-wrapped or not, with its PEM chain
//!    ([`verify_marvell_blob`]): this is what Google Cloud HSM hands out.
//!
//! What is checked, link by link (the card certificate is X.509 v1 without
//! extensions, so a generic path builder would refuse it):
//!
//! * the card certificate is signed by a pinned Marvell root **key** (the
//!   key, not the certificate: the root was reissued in 2024 with the same key
//!   and serial number 0), or by an extra root passed for rehearsals;
//! * the partition certificate is signed by the card certificate;
//! * the blob's trailing signature verifies under the partition key as
//!   PKCS#1 v1.5 (the `rsa` crate compares the whole encoded block), in either
//!   form in use (with DigestInfo, as Google's firmware 3.x signs, or the bare
//!   SHA-256 digest, as Azure's firmware 2.x signs);
//! * the owner's partition certificate carries the same key as Marvell's
//!   (Azure: and is signed by a self-signed per-HSM root in the bundle);
//! * the attested modulus and exponent equal the expected key's, and the
//!   attested id names the key and version of the kid when a kid is known.
//!
//! Certificate validity dates are deliberately not checked: the HSM's
//! statement is about the moment it was made, and the 2015 Marvell root
//! certificate has expired while its key remains the trust anchor.
//!
//! Crates do the generic work: `rsa` the signatures, `der` and `const-oid` the
//! certificate fields, `pem-rfc7468` the PEM, `cryptoki-sys` the PKCS#11
//! numbers. Hand-written, because no crate does it: the blob layout ([`blob`]:
//! no crate parses Marvell attestations), the chain rules (`chain`: pinned root
//! keys, a v1 card certificate, no validity dates), the lenient choice of
//! certificate fields (`der`: strict X.509 parsers refuse parts of this chain)
//! and finding the blocks of a PEM bundle (`pem`). Every length is checked:
//! bad input gives an error, never a panic.
//!
//! Error kinds: a chain that reaches no trusted root is
//! [`ErrorKind::UntrustedRoot`](crate::ErrorKind::UntrustedRoot); a signature
//! or key that does not match is `Integrity`; malformed input is `BadInput`.

mod attributes;
pub mod blob;
mod chain;
mod der;
mod expected;
mod pem;
pub mod policy;
mod report;
mod roots;
mod signature;
mod verify;

pub use attributes::*;
pub use expected::ExpectedKey;
pub use report::{AttestationReport, AttestedObject};
pub use roots::TrustRoots;
pub use verify::{check_kek_properties, parse_blob_unverified, verify_azure, verify_marvell_blob};
