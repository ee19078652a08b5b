//! Software stand-ins for a vault's KEK, and the independent software check of a
//! package, for tests, demos and rehearsals without a vault.
//!
//! A real KEK's private half never leaves the vault's HSM; these exist only so that a
//! package can be unwrapped outside the HSM that made it and compared with its key.

use byok_core::hsm::OaepHash;
use byok_core::kek::{encode_b64url, Kek};
use byok_core::package::{pkcs8_rsa_public, software_unwrap};
use byok_core::{bail, err, Mode, Result};
use rsa::traits::PublicKeyParts;

/// A software KEK with its private half.
pub struct TestKek {
    pub private: rsa::PrivateKey,
    pub kid: String,
}

impl TestKek {
    /// A fresh RSA KEK of `bits`, named as a key in the loopback vault `vault`.
    pub fn generate(bits: usize, vault: &str, name: &str) -> Result<TestKek> {
        let private = rsa::PrivateKey::new(&mut rand::rng(), bits)
            .map_err(|e| err!("cannot generate a test KEK: {e}"))?;
        let version = hex::encode(rand::random::<[u8; 16]>());
        Ok(TestKek {
            private,
            kid: format!("{vault}/keys/{name}/{version}"),
        })
    }

    /// The KeyBundle JSON that `az keyvault key show` prints for such a KEK.
    pub fn key_bundle_json(&self) -> String {
        let n = self.private.n().to_be_bytes_trimmed_vartime();
        let e = self.private.e().to_be_bytes_trimmed_vartime();
        let bundle = serde_json::json!({
            "key": {
                "kid": self.kid,
                "kty": "RSA-HSM",
                "key_ops": ["import"],
                "n": encode_b64url(&n),
                "e": encode_b64url(&e),
            },
            "attributes": {"enabled": true, "recoveryLevel": "Recoverable+ProtectedSubscription"},
        });
        serde_json::to_string_pretty(&bundle).unwrap_or_default()
    }

    pub fn kek(&self) -> Result<Kek> {
        Kek::from_bytes(self.key_bundle_json().as_bytes(), None, Mode::Rehearsal)
    }
}

/// The result of checking a package in software against the HSM's public key.
#[derive(Debug, serde::Serialize)]
pub struct SoftwareCheck {
    pub modulus_matches: bool,
    pub pkcs8_bytes: usize,
    pub trailing_zero_bytes: usize,
}

/// Unwrap a package with the KEK's private key and compare with the expected public key.
pub fn check_package(
    kek_private: &rsa::PrivateKey,
    package_bytes: &[u8],
    expected_n: &[u8],
    expected_e: &[u8],
) -> Result<SoftwareCheck> {
    let (pkg, _) = byok_core::package::inspect(package_bytes, None, Mode::Rehearsal)?;
    let ct = byok_core::kek::decode_b64url(&pkg.ciphertext).map_err(|_| err!("bad ciphertext"))?;
    check_blob(kek_private, &ct, OaepHash::Sha1, expected_n, expected_e)
}

/// Unwrap a raw BYOK-style blob (`NAME.aws.bin`, `NAME.gcp.bin`, the decoded
/// `NAME.openbao.b64`) with the target's OAEP `hash` and compare with the expected key.
pub fn check_blob(
    kek_private: &rsa::PrivateKey,
    blob: &[u8],
    hash: OaepHash,
    expected_n: &[u8],
    expected_e: &[u8],
) -> Result<SoftwareCheck> {
    let un = software_unwrap(kek_private, blob, hash)?;
    let (n, e) = pkcs8_rsa_public(&un.pkcs8)?;
    if n != expected_n || e != expected_e {
        bail!("the blob holds a different key than expected");
    }
    Ok(SoftwareCheck {
        modulus_matches: true,
        pkcs8_bytes: un.pkcs8.len(),
        trailing_zero_bytes: un.trailing_zeros,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_kek_reads_as_a_kek_of_its_loopback_vault() {
        let k = TestKek::generate(2048, "https://127.0.0.1:8443", "kek-t").unwrap();
        let kek = k.kek().unwrap();
        assert_eq!(kek.bits(), 2048);
        assert_eq!(kek.kty.as_deref(), Some("RSA-HSM"));
        assert_eq!(kek.kid.as_ref().map(|x| x.url()), Some(k.kid.clone()));
        // A loopback kid: only a rehearsal takes it.
        assert!(Kek::from_bytes(k.key_bundle_json().as_bytes(), None, Mode::Ceremony).is_err());
    }

    #[test]
    fn check_package_refuses_what_is_not_a_package() {
        let k = TestKek::generate(2048, "https://127.0.0.1:8443", "kek-t").unwrap();
        assert!(check_package(&k.private, b"{}", &[1], &[1]).is_err());
    }
}
