//! The simulator's cryptography: RSA keys, wrapKey/unwrapKey, the BYOK import and the
//! sealed (AES-256-GCM) backup blobs.
//!
//! Every function returns a message fit for a 400 answer on bad input; none panics.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::Aes256Gcm;
use byok_core::kek::{decode_b64url, encode_b64url};
use byok_core::util::strip_zeros;
use byok_core::{bail, err, fsutil, Result};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Oaep, Pkcs1v15Encrypt, PrivateKey};
use std::path::Path;
use zeroize::Zeroizing;

/// RSA key sizes the simulator creates and imports, as Key Vault does.
pub const RSA_BITS: [usize; 3] = [2048, 3072, 4096];

/// A new key version id: 32 lowercase hex digits.
pub fn new_version_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// An RSA key in the form the state keeps: PKCS#8 DER and base64url n and e.
pub struct KeyMaterial {
    pub pkcs8: Zeroizing<Vec<u8>>,
    pub n: String,
    pub e: String,
}

impl KeyMaterial {
    fn from_private(key: &PrivateKey) -> Result<KeyMaterial> {
        let der = key
            .to_pkcs8_der()
            .map_err(|e| err!(Internal, "cannot encode the RSA key as PKCS#8: {e}"))?;
        Ok(KeyMaterial {
            pkcs8: Zeroizing::new(der.as_bytes().to_vec()),
            n: encode_b64url(&key.n().to_be_bytes_trimmed_vartime()),
            e: encode_b64url(&key.e().to_be_bytes_trimmed_vartime()),
        })
    }
}

/// Make a fresh RSA key of `bits` bits (exponent 65537).
pub fn generate_rsa(bits: usize) -> Result<KeyMaterial> {
    let key = PrivateKey::new(&mut rand::rng(), bits)
        .map_err(|e| err!(Internal, "RSA key generation failed: {e}"))?;
    KeyMaterial::from_private(&key)
}

/// Parse a PKCS#8 RSA private key (from a BYOK package), checking its size.
pub fn material_from_pkcs8(pkcs8: &[u8]) -> Result<KeyMaterial> {
    let key = PrivateKey::from_pkcs8_der(pkcs8)
        .map_err(|e| err!("the unwrapped key is not a PKCS#8 RSA private key: {e}"))?;
    check_imported(&key)?;
    KeyMaterial::from_private(&key)
}

fn check_imported(key: &PrivateKey) -> Result<()> {
    key.validate()
        .map_err(|e| err!("the RSA key is inconsistent: {e}"))?;
    let bits = key.n().bit_width_vartime() as usize;
    if !RSA_BITS.contains(&bits) {
        bail!("the RSA key has {bits} bits; Key Vault imports RSA keys of 2048, 3072 or 4096 bits");
    }
    Ok(())
}

/// The RSA components of a plain JWK import (RFC 7518 §6.3), base64url; the CRT
/// parts (`dp`, `dq`, `qi`) are not needed: they follow from these.
#[derive(Debug, Default, Clone, Copy)]
pub struct RsaJwk<'a> {
    pub n: Option<&'a str>,
    pub e: Option<&'a str>,
    pub d: Option<&'a str>,
    pub p: Option<&'a str>,
    pub q: Option<&'a str>,
}

/// Build an RSA private key from a plain JWK's components, checking it as an import.
pub fn material_from_jwk(jwk: &RsaJwk) -> Result<KeyMaterial> {
    let field = |name: &str, value: Option<&str>| -> Result<Zeroizing<Vec<u8>>> {
        let s = value.ok_or_else(|| {
            err!("the JWK has no '{name}': importing an RSA key needs n, e, d, p and q")
        })?;
        decode_b64url(s)
            .map(Zeroizing::new)
            .map_err(|_| err!("JWK field '{name}' is not base64url"))
    };
    let uint = |b: &[u8]| -> Result<BoxedUint> {
        let b = strip_zeros(b);
        if b.is_empty() || b.len() > 1024 {
            bail!("a JWK RSA component is empty or too large");
        }
        let bits = u32::try_from(b.len() * 8).map_err(|_| err!("JWK component too large"))?;
        BoxedUint::from_be_slice(b, bits).map_err(|_| err!("a JWK RSA component is malformed"))
    };
    let n = uint(&field("n", jwk.n)?)?;
    let e = uint(&field("e", jwk.e)?)?;
    if e.bit_width_vartime() > 64 {
        bail!("the JWK's public exponent is too large");
    }
    let d = uint(&field("d", jwk.d)?)?;
    let p = uint(&field("p", jwk.p)?)?;
    let q = uint(&field("q", jwk.q)?)?;
    let key = PrivateKey::from_components(n, e, d, vec![p, q])
        .map_err(|e| err!("the JWK is not a valid RSA private key: {e}"))?;
    check_imported(&key)?;
    KeyMaterial::from_private(&key)
}

/// The private key of a stored version.
pub fn private_key(pkcs8_b64: &str) -> Result<PrivateKey> {
    let der = Zeroizing::new(
        decode_b64url(pkcs8_b64)
            .map_err(|_| err!(Integrity, "stored key material is not base64url"))?,
    );
    PrivateKey::from_pkcs8_der(&der)
        .map_err(|e| err!(Integrity, "stored key material is damaged: {e}"))
}

/// The PKCS#8 DER of a stored version, base64url, for the state file.
pub fn store_pkcs8(m: &KeyMaterial) -> String {
    encode_b64url(&m.pkcs8)
}

/// wrapKey: encrypt `data` under the key's public half with `alg`.
pub fn wrap(key: &PrivateKey, alg: &str, data: &[u8]) -> Result<Vec<u8>> {
    let public = key.to_public_key();
    let mut rng = rand::rng();
    let out = match alg {
        "RSA-OAEP" => public.encrypt(&mut rng, Oaep::<sha1::Sha1>::new(), data),
        "RSA-OAEP-256" => public.encrypt(&mut rng, Oaep::<sha2::Sha256>::new(), data),
        "RSA1_5" => public.encrypt(&mut rng, Pkcs1v15Encrypt, data),
        _ => bail!("{}", bad_alg(alg)),
    };
    out.map_err(|e| err!("the value cannot be wrapped with {alg}: {e}"))
}

/// unwrapKey: decrypt `data` with the key's private half and `alg`.
pub fn unwrap(key: &PrivateKey, alg: &str, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let out = match alg {
        "RSA-OAEP" => key.decrypt(Oaep::<sha1::Sha1>::new(), data),
        "RSA-OAEP-256" => key.decrypt(Oaep::<sha2::Sha256>::new(), data),
        "RSA1_5" => key.decrypt(Pkcs1v15Encrypt, data),
        _ => bail!("{}", bad_alg(alg)),
    };
    out.map(Zeroizing::new)
        .map_err(|_| err!("the value cannot be unwrapped with {alg} under this key"))
}

fn bad_alg(alg: &str) -> String {
    format!("algorithm '{alg}' is not supported for this key; use RSA-OAEP, RSA-OAEP-256 or RSA1_5")
}

/// The public modulus in bits, for messages.
pub fn modulus_bits(key: &PrivateKey) -> usize {
    key.n().bit_width_vartime() as usize
}

/// Seals and opens backup blobs with AES-256-GCM under a secret kept in `DIR/backup.key`.
pub struct Sealer {
    cipher: Aes256Gcm,
}

/// What every Key Vault key backup starts with. Real backups are this marker followed by
/// a JWE in compact form; the simulator makes blobs of the same shape (`alg` "dir",
/// `enc` "A256GCM"), so the form checks of `byok backup verify` apply to both.
const BLOB_MAGIC: &[u8] = b"&AzureKeyVaultKeyBackupV1.microsoft.com";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

fn jwe_header() -> String {
    byok_core::kek::encode_b64url(br#"{"alg":"dir","enc":"A256GCM","kid":"byok-vault-sim-backup"}"#)
}

impl Sealer {
    /// Load the backup secret from `DIR/backup.key` (or `shared`, the secret of a
    /// "subscription" several simulated vaults share), making it on first start.
    /// Vaults with the same secret restore each other's backups, as vaults of one
    /// subscription and geography do; others refuse them.
    pub fn open(dir: &Path, shared: Option<&Path>) -> Result<Sealer> {
        let path = match shared {
            Some(p) => p.to_path_buf(),
            None => dir.join("backup.key"),
        };
        if std::fs::symlink_metadata(&path).is_err() {
            let secret = Zeroizing::new(rand::random::<[u8; 32]>());
            // Another vault of the same subscription may create it at the same moment:
            // then its secret is the one to use.
            if let Err(e) = fsutil::write_new(&path, secret.as_slice(), 0o600) {
                if std::fs::symlink_metadata(&path).is_err() {
                    return Err(e);
                }
            }
        }
        let secret = Zeroizing::new(fsutil::read_limited(&path, 64, "backup secret")?);
        let cipher = Aes256Gcm::new_from_slice(&secret).map_err(|_| {
            err!(
                Integrity,
                "{} is not a 32-byte backup secret; move it away to make a new one",
                path.display()
            )
        })?;
        Ok(Sealer { cipher })
    }

    /// Encrypt and authenticate `plain`; the result is what `backup` returns (before
    /// base64url): the backup marker, then `header..iv.ciphertext.tag` (JWE compact, `dir`).
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        use byok_core::kek::encode_b64url as b64;
        let header = jwe_header();
        let nonce_bytes = rand::random::<[u8; NONCE_LEN]>();
        let nonce = aes_gcm::Nonce::from(nonce_bytes);
        let mut ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: header.as_bytes(),
                },
            )
            .map_err(|_| err!(Internal, "backup encryption failed"))?;
        let tag = ct.split_off(ct.len().saturating_sub(TAG_LEN));
        let jwe = format!("{header}..{}.{}.{}", b64(&nonce_bytes), b64(&ct), b64(&tag));
        let mut out = Vec::with_capacity(BLOB_MAGIC.len() + jwe.len());
        out.extend_from_slice(BLOB_MAGIC);
        out.extend_from_slice(jwe.as_bytes());
        Ok(out)
    }

    /// Check and decrypt a blob made by [`Sealer::seal`] with the same secret.
    pub fn open_blob(&self, blob: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        use byok_core::kek::decode_b64url as unb64;
        let Some(rest) = blob.strip_prefix(BLOB_MAGIC) else {
            bail!("the backup blob is not a Key Vault key backup");
        };
        let text = std::str::from_utf8(rest).map_err(|_| err!("the backup blob is damaged"))?;
        let parts: Vec<&str> = text.split('.').collect();
        let [header, "", iv, ct, tag] = parts.as_slice() else {
            bail!("the backup blob is truncated or damaged");
        };
        if *header != jwe_header() {
            bail!("the backup blob was not made by this vault");
        }
        let bad = || err!("the backup blob is damaged (not base64url)");
        let iv = unb64(iv).map_err(|_| bad())?;
        let mut ct = unb64(ct).map_err(|_| bad())?;
        let tag = unb64(tag).map_err(|_| bad())?;
        if iv.len() != NONCE_LEN || tag.len() != TAG_LEN {
            bail!("the backup blob is truncated or damaged");
        }
        let mut n = [0u8; NONCE_LEN];
        n.copy_from_slice(&iv);
        let nonce = aes_gcm::Nonce::from(n);
        ct.extend_from_slice(&tag);
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &ct,
                    aad: header.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                err!(
                    Integrity,
                    "the backup blob is corrupt or was not made by this vault (authentication failed)"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;

    fn key(bits: usize) -> PrivateKey {
        PrivateKey::new(&mut rand::rng(), bits).expect("rsa keygen")
    }

    fn b64(x: &BoxedUint) -> String {
        encode_b64url(&x.to_be_bytes_trimmed_vartime())
    }

    #[test]
    fn version_ids_are_32_hex_digits_and_fresh() {
        let a = new_version_id();
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, new_version_id());
    }

    #[test]
    fn generated_and_stored_keys_round_trip() {
        let m = generate_rsa(2048).unwrap();
        assert_eq!(m.e, "AQAB");
        let k = private_key(&store_pkcs8(&m)).unwrap();
        assert_eq!(modulus_bits(&k), 2048);
        assert_eq!(b64(k.n()), m.n);
        // A damaged state entry is an integrity error, not the client's.
        for damaged in ["***", "AAAA"] {
            assert_eq!(
                private_key(damaged).unwrap_err().kind(),
                ErrorKind::Integrity
            );
        }
    }

    #[test]
    fn jwk_import_checks_every_component() {
        use rsa::traits::PrivateKeyParts;
        let k = key(2048);
        let (n, e, d) = (b64(k.n()), b64(k.e()), b64(k.d()));
        let (p, q) = (b64(&k.primes()[0]), b64(&k.primes()[1]));
        let good = RsaJwk {
            n: Some(&n),
            e: Some(&e),
            d: Some(&d),
            p: Some(&p),
            q: Some(&q),
        };
        assert_eq!(material_from_jwk(&good).unwrap().n, n);
        let bad_d = encode_b64url(&[1u8; 256]);
        let big = encode_b64url(&[0xffu8; 1025]);
        for (what, jwk) in [
            ("no q", RsaJwk { q: None, ..good }),
            (
                "bad base64",
                RsaJwk {
                    n: Some("!!"),
                    ..good
                },
            ),
            (
                "empty e",
                RsaJwk {
                    e: Some(""),
                    ..good
                },
            ),
            (
                "wrong d",
                RsaJwk {
                    d: Some(&bad_d),
                    ..good
                },
            ),
            (
                "p twice",
                RsaJwk {
                    q: Some(&p),
                    ..good
                },
            ),
            (
                "huge n",
                RsaJwk {
                    n: Some(&big),
                    ..good
                },
            ),
        ] {
            let err = material_from_jwk(&jwk)
                .err()
                .unwrap_or_else(|| panic!("{what}"));
            assert_eq!(err.kind(), ErrorKind::BadInput, "{what}");
        }
    }

    #[test]
    fn pkcs8_import_accepts_only_key_vault_sizes() {
        let ok = key(2048).to_pkcs8_der().unwrap();
        assert!(material_from_pkcs8(ok.as_bytes()).is_ok());
        let small = key(1024).to_pkcs8_der().unwrap();
        let e = material_from_pkcs8(small.as_bytes()).err().unwrap();
        assert!(e.message().contains("1024 bits"), "{e}");
        assert!(material_from_pkcs8(b"\x30\x03\x02\x01\x00").is_err());
    }

    #[test]
    fn wrap_and_unwrap() {
        let k = key(2048);
        for alg in ["RSA-OAEP", "RSA-OAEP-256", "RSA1_5"] {
            let ct = wrap(&k, alg, b"cek").unwrap();
            assert_eq!(ct.len(), 256);
            assert_eq!(unwrap(&k, alg, &ct).unwrap().as_slice(), b"cek");
            assert!(wrap(&k, alg, &[0u8; 250]).is_err(), "{alg}: too long");
            assert!(unwrap(&k, alg, &[0xffu8; 256]).is_err(), "{alg}: garbage");
        }
        let ct = wrap(&k, "RSA-OAEP-256", b"cek").unwrap();
        assert!(unwrap(&k, "RSA-OAEP", &ct).is_err());
        let e = wrap(&k, "A256KW", b"cek").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert!(e.message().contains("RSA-OAEP-256"), "{e}");
    }

    #[test]
    fn sealed_backups_open_only_intact_and_with_the_same_secret() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::open(dir.path(), None).unwrap();
        let blob = sealer.seal(b"all versions").unwrap();
        assert!(blob.starts_with(BLOB_MAGIC));
        assert_eq!(sealer.open_blob(&blob).unwrap().as_slice(), b"all versions");
        // Two seals of the same plaintext differ (fresh nonce).
        assert_ne!(sealer.seal(b"all versions").unwrap(), blob);
        // The secret is kept: a second start opens the first one's blobs.
        let again = Sealer::open(dir.path(), None).unwrap();
        assert_eq!(again.open_blob(&blob).unwrap().as_slice(), b"all versions");

        // Any flipped byte is refused: in the marker, the header, the IV, the
        // ciphertext or the tag.
        for i in [
            0,
            BLOB_MAGIC.len() + 3,
            blob.len() / 2,
            blob.len() - 30,
            blob.len() - 2,
        ] {
            let mut bad = blob.clone();
            bad[i] ^= 0x01;
            assert!(sealer.open_blob(&bad).is_err(), "byte {i}");
        }
        for cut in [0, BLOB_MAGIC.len(), blob.len() - 1] {
            assert!(sealer.open_blob(&blob[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = blob.clone();
        longer.extend_from_slice(b".x");
        assert!(sealer.open_blob(&longer).is_err());

        // Another vault's secret cannot open it; a shared one can.
        let other = tempfile::tempdir().unwrap();
        let e = Sealer::open(other.path(), None)
            .unwrap()
            .open_blob(&blob)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity);
        let shared = other.path().join("subscription.key");
        let a = Sealer::open(dir.path(), Some(&shared)).unwrap();
        let b = Sealer::open(other.path(), Some(&shared)).unwrap();
        assert_eq!(
            b.open_blob(&a.seal(b"x").unwrap()).unwrap().as_slice(),
            b"x"
        );
    }

    #[test]
    fn a_damaged_backup_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.key");
        fsutil::write_new(&path, &[7u8; 31], 0o600).unwrap();
        assert!(Sealer::open(dir.path(), None).is_err());
    }
}
