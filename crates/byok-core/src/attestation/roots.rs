//! The trust roots: the pinned Marvell root KEYS, plus extra roots for rehearsals.

use rsa::PublicKey;

use super::der::Cert;
use super::pem;
use super::signature::rsa_key_from_spki;
use crate::error::Result;
use crate::{bail, err};

/// Public keys of Marvell's LiquidSecurity roots (SubjectPublicKeyInfo PEM):
/// the LiquidSecurity root (same key in the 2015 v1 and 2024 v3 certificates)
/// and the LiquidSecurity 2 root (RSA-4096). Taken from the certificates
/// Marvell publishes; a test checks them against those certificates.
const PINNED_ROOT_KEYS: &str = include_str!("marvell-root-keys.pem");
const PINNED_ROOT_NAMES: [&str; 2] = [
    "Marvell LiquidSecurity root (localca.liquidsecurity.cavium.com)",
    "Marvell LiquidSecurity 2 root (cavium-liquidsecurity-ls2)",
];

#[derive(Debug, Clone)]
pub(super) struct TrustRoot {
    pub name: String,
    pub spki: Vec<u8>,
    pub key: PublicKey,
    pub extra: bool,
}

/// The keys a card certificate may chain to: the pinned Marvell root keys,
/// plus extra roots passed in for rehearsals (the CLI must warn about those).
#[derive(Debug, Clone)]
pub struct TrustRoots {
    pub(super) roots: Vec<TrustRoot>,
}

impl TrustRoots {
    /// The pinned Marvell LiquidSecurity root keys.
    pub fn marvell() -> Result<TrustRoots> {
        let mut roots = Vec::new();
        let blocks = pem::blocks(PINNED_ROOT_KEYS)
            .map_err(|e| err!(Internal, "the pinned Marvell root keys do not parse: {e}"))?;
        for (i, (label, spki)) in blocks.into_iter().enumerate() {
            if label != "PUBLIC KEY" {
                continue;
            }
            let key = rsa_key_from_spki(&spki).ok_or_else(|| {
                err!(
                    Internal,
                    "pinned Marvell root key #{i} does not parse; this is a bug"
                )
            })?;
            let name = PINNED_ROOT_NAMES
                .get(i)
                .map(|s| s.to_string())
                .unwrap_or_else(|| format!("Marvell root #{i}"));
            roots.push(TrustRoot {
                name,
                spki,
                key,
                extra: false,
            });
        }
        Ok(TrustRoots { roots })
    }

    /// No roots at all (useful with [`TrustRoots::add_extra_pem`] in tests).
    pub fn empty() -> TrustRoots {
        TrustRoots { roots: Vec::new() }
    }

    /// Add extra roots from PEM: `CERTIFICATE` blocks (their key is used) or
    /// `PUBLIC KEY` blocks. Returns how many were added.
    pub fn add_extra_pem(&mut self, text: &str) -> Result<usize> {
        let mut added = 0;
        for (label, der) in pem::blocks(text)? {
            let (name, spki) = match label.as_str() {
                "CERTIFICATE" => {
                    let c = Cert::parse(&der).map_err(|e| e.context("extra trust root"))?;
                    (format!("extra root {}", c.describe()), c.spki)
                }
                "PUBLIC KEY" => ("extra root (public key)".to_string(), der),
                _ => continue,
            };
            let key = rsa_key_from_spki(&spki).ok_or_else(|| {
                err!("extra trust root {name}: not an RSA public key; pass the root certificate in PEM")
            })?;
            self.roots.push(TrustRoot {
                name,
                spki,
                key,
                extra: true,
            });
            added += 1;
        }
        if added == 0 {
            bail!("extra trust root: no CERTIFICATE or PUBLIC KEY block in the PEM given");
        }
        Ok(added)
    }

    pub fn has_extra(&self) -> bool {
        self.roots.iter().any(|r| r.extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attestation::signature::cert_signed_by;
    use rsa::traits::PublicKeyParts;

    const ROOTS: &str =
        include_str!("../../../../tests/fixtures/attestation/marvell-liquidsecurity-roots.pem");

    #[test]
    fn pinned_roots_parse() {
        let r = TrustRoots::marvell().expect("pinned roots");
        assert_eq!(r.roots.len(), 2);
        assert!(!r.has_extra());
        assert!(r.roots[0].name.contains("localca"));
        assert_eq!(r.roots[1].key.size(), 512, "the LS2 root is RSA-4096");
    }

    /// The pinned keys are exactly the keys of Marvell's published roots,
    /// and the lenient parser reads the serial-0 reissue.
    #[test]
    fn pins_match_published_root_certificates() {
        let pinned = TrustRoots::marvell().expect("pins");
        let certs = pem::certificates(ROOTS).expect("pem");
        assert_eq!(certs.len(), 2);
        for (der, root) in certs.iter().zip(&pinned.roots) {
            let c = Cert::parse(der).expect("lenient parse of a serial-0 root");
            assert_eq!(c.spki, root.spki, "{}", root.name);
            assert!(c.is_self_issued());
            assert!(
                cert_signed_by(&c, &root.key),
                "{} is self-signed",
                root.name
            );
        }
    }

    #[test]
    fn extra_roots_from_certificates_and_keys() {
        let mut r = TrustRoots::empty();
        assert!(!r.has_extra());
        assert_eq!(r.add_extra_pem(ROOTS).expect("certificates"), 2);
        assert!(r.has_extra());
        assert!(r.roots[0].name.starts_with("extra root CN="));
        let keys = TrustRoots::marvell().expect("pins");
        let key_pem = include_str!("marvell-root-keys.pem");
        assert_eq!(r.add_extra_pem(key_pem).expect("keys"), 2);
        assert_eq!(r.roots[2].spki, keys.roots[0].spki);
        assert!(r.roots.iter().all(|r| r.extra));
    }

    #[test]
    fn extra_root_errors() {
        let mut r = TrustRoots::empty();
        for (text, needle) in [
            ("nothing", "no CERTIFICATE or PUBLIC KEY"),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "no CERTIFICATE",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
                "extra trust root: malformed certificate",
            ),
            (
                "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n",
                "not an RSA public key",
            ),
        ] {
            let e = r.add_extra_pem(text).unwrap_err();
            assert!(e.message().contains(needle), "{needle}: {e}");
            assert!(e.is(crate::ErrorKind::BadInput));
        }
        assert!(!r.has_extra());
    }
}
