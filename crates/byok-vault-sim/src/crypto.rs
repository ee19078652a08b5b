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
            .map_err(|e| err!("cannot encode the RSA key as PKCS#8: {e}"))?;
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
        .map_err(|e| err!("RSA key generation failed: {e}"))?;
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

/// Build an RSA private key from a plain JWK (`n`, `e`, `d`, `p`, `q`; CRT parts optional).
pub fn material_from_jwk(jwk: &serde_json::Map<String, serde_json::Value>) -> Result<KeyMaterial> {
    let field = |name: &str| -> Result<Zeroizing<Vec<u8>>> {
        match jwk.get(name) {
            Some(serde_json::Value::String(s)) => decode_b64url(s)
                .map(Zeroizing::new)
                .map_err(|_| err!("JWK field '{name}' is not base64url")),
            Some(_) => Err(err!("JWK field '{name}' is not a string")),
            None => Err(err!(
                "the JWK has no '{name}': importing an RSA key needs n, e, d, p and q"
            )),
        }
    };
    let uint = |b: &[u8]| -> Result<BoxedUint> {
        let b = strip_zeros(b);
        if b.is_empty() || b.len() > 1024 {
            bail!("a JWK RSA component is empty or too large");
        }
        let bits = u32::try_from(b.len() * 8).map_err(|_| err!("JWK component too large"))?;
        BoxedUint::from_be_slice(b, bits).map_err(|_| err!("a JWK RSA component is malformed"))
    };
    let n = uint(&field("n")?)?;
    let e = uint(&field("e")?)?;
    if e.bit_width_vartime() > 64 {
        bail!("the JWK's public exponent is too large");
    }
    let d = uint(&field("d")?)?;
    let p = uint(&field("p")?)?;
    let q = uint(&field("q")?)?;
    let key = PrivateKey::from_components(n, e, d, vec![p, q])
        .map_err(|e| err!("the JWK is not a valid RSA private key: {e}"))?;
    check_imported(&key)?;
    KeyMaterial::from_private(&key)
}

/// The private key of a stored version.
pub fn private_key(pkcs8_b64: &str) -> Result<PrivateKey> {
    let der = Zeroizing::new(
        decode_b64url(pkcs8_b64).map_err(|_| err!("stored key material is not base64url"))?,
    );
    PrivateKey::from_pkcs8_der(&der).map_err(|e| err!("stored key material is damaged: {e}"))
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
            .map_err(|_| err!("backup encryption failed"))?;
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
                err!("the backup blob is corrupt or was not made by this vault (authentication failed)")
            })
    }
}
