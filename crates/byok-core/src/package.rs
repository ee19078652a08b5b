//! The Azure BYOK transfer package (`.byok`), byte for byte.
//!
//! The file is JSON with exactly four fields (Microsoft's "Bring your own key
//! specification"):
//!
//! ```json
//! {"schema_version": "1.0.0",
//!  "header": {"kid": "<versioned KEK id>", "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP"},
//!  "ciphertext": "<base64url, no padding>",
//!  "generator": "<tool and version; source HSM and firmware>"}
//! ```
//!
//! `ciphertext` = RSA-OAEP(KEK, SHA-1, MGF1-SHA-1, empty label)(AES-256 key)
//! followed by AES-KWP(AES key, PKCS#8 PrivateKeyInfo DER) (RFC 5649). The first part
//! is exactly as long as the KEK modulus.

use crate::hsm::OaepHash;
use crate::kek::{decode_b64url, encode_b64url, Kek};
use crate::keyid::{KeyId, Mode};
use crate::{bail, err, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub const SCHEMA_VERSION: &str = "1.0.0";
pub const ALG: &str = "dir";
pub const ENC: &str = "CKM_RSA_AES_KEY_WRAP";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub schema_version: String,
    pub header: Header,
    pub ciphertext: String,
    pub generator: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub kid: String,
    pub alg: String,
    pub enc: String,
}

impl Package {
    /// A package for `ciphertext` wrapped under the KEK `kid`.
    pub fn new(kid: &KeyId, ciphertext: &[u8], generator: String) -> Package {
        Package {
            schema_version: SCHEMA_VERSION.into(),
            header: Header {
                kid: kid.url(),
                alg: ALG.into(),
                enc: ENC.into(),
            },
            ciphertext: encode_b64url(ciphertext),
            generator,
        }
    }

    /// The file's bytes: pretty JSON, fields in the specification's order, a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain strings into JSON cannot fail.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// What `byok package inspect` reports.
#[derive(Debug, Serialize)]
pub struct PackageReport {
    pub sha256: String,
    pub size: usize,
    pub kid: String,
    pub vault: String,
    pub kek_name: String,
    pub kek_version: String,
    pub generator: String,
    pub ciphertext_bytes: usize,
    /// Length of the RSA-OAEP part (the KEK's modulus size), when known.
    pub rsa_part_bytes: Option<usize>,
    pub kwp_part_bytes: Option<usize>,
    /// KEK sizes the ciphertext length fits (one, when the KEK was given).
    pub fits_kek_bits: Vec<usize>,
    /// The RSA size of the wrapped key, as its KWP block's length tells.
    pub target_key_bits: Option<usize>,
    pub kek_checked: bool,
}

/// Parse and check a package's bytes; with `kek`, also that it was made for that KEK. A
/// package for a loopback KEK (the simulator's) is accepted only in a rehearsal.
pub fn inspect(bytes: &[u8], kek: Option<&Kek>, mode: Mode) -> Result<(Package, PackageReport)> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| err!("the package is not UTF-8 JSON: is it a .byok file?"))?;
    if text.trim().is_empty() {
        bail!("the package is empty: the file was not written completely; make it again");
    }
    crate::json::check_unique_keys(text.as_bytes())?;
    let pkg: Package = serde_json::from_str(text).map_err(|e| {
        err!("the package is not a BYOK package ({e}); a .byok file has exactly schema_version, header{{kid, alg, enc}}, ciphertext and generator")
    })?;
    if pkg.schema_version != SCHEMA_VERSION {
        bail!(
            "schema_version is {:?}; only \"{SCHEMA_VERSION}\" exists",
            pkg.schema_version
        );
    }
    if pkg.header.alg != ALG {
        bail!(
            "header.alg is {:?}; a BYOK package has \"{ALG}\"",
            pkg.header.alg
        );
    }
    if pkg.header.enc != ENC {
        bail!(
            "header.enc is {:?}; a BYOK package has \"{ENC}\"",
            pkg.header.enc
        );
    }
    let kid = KeyId::parse(&pkg.header.kid, mode).map_err(|e| e.context("header.kid"))?;
    if pkg.ciphertext.contains('=') {
        bail!(Integrity, "ciphertext has base64 padding; BYOK packages use base64url without padding: the file was altered");
    }
    let ct = decode_b64url(&pkg.ciphertext).map_err(|_| {
        err!(
            Integrity,
            "ciphertext is not base64url: the file is damaged or was altered"
        )
    })?;
    let mut report = PackageReport {
        sha256: hex::encode(Sha256::digest(bytes)),
        size: bytes.len(),
        kid: kid.url(),
        vault: kid.vault.clone(),
        kek_name: kid.name.clone(),
        kek_version: kid.version.clone(),
        generator: pkg.generator.clone(),
        ciphertext_bytes: ct.len(),
        rsa_part_bytes: None,
        kwp_part_bytes: None,
        fits_kek_bits: Vec::new(),
        target_key_bits: None,
        kek_checked: false,
    };
    match kek {
        Some(kek) => {
            if let Some(own) = &kek.kid {
                if own != &kid {
                    bail!(
                        "the package was made for KEK {} but the KEK given is {}: use the KEK the package names",
                        kid.url(),
                        own.url()
                    );
                }
            }
            let m = kek.modulus_bytes();
            if !kwp_len_ok(ct.len(), m) {
                bail!(
                    "ciphertext is {} bytes, which cannot be RSA-OAEP under this {}-bit KEK ({m} bytes) followed by an AES-KWP block (a multiple of 8, at least 16): the package is truncated or not for this KEK",
                    ct.len(),
                    kek.bits()
                );
            }
            report.rsa_part_bytes = Some(m);
            report.kwp_part_bytes = Some(ct.len() - m);
            report.fits_kek_bits = vec![kek.bits()];
            report.target_key_bits = rsa_target_bits(ct.len() - m);
            report.kek_checked = true;
        }
        None => {
            let fits: Vec<usize> = crate::kek::KEK_BITS
                .iter()
                .copied()
                .filter(|b| kwp_len_ok(ct.len(), b / 8))
                .collect();
            // Where the rest is as long as a wrapped RSA key, that KEK size is the one.
            let plausible: Vec<(usize, usize)> = fits
                .iter()
                .filter_map(|b| rsa_target_bits(ct.len() - b / 8).map(|t| (*b, t)))
                .collect();
            report.fits_kek_bits = match plausible.as_slice() {
                [(kek_bits, target)] => {
                    report.rsa_part_bytes = Some(kek_bits / 8);
                    report.kwp_part_bytes = Some(ct.len() - kek_bits / 8);
                    report.target_key_bits = Some(*target);
                    vec![*kek_bits]
                }
                _ => fits,
            };
            if report.fits_kek_bits.is_empty() {
                bail!(
                    "ciphertext is {} bytes, which fits no KEK size (RSA-OAEP part of 256, 384 or 512 bytes, then an AES-KWP block): the package is truncated or damaged",
                    ct.len()
                );
            }
        }
    }
    Ok((pkg, report))
}

/// What `byok package inspect` reports of a raw or base64 blob (AWS KMS, Google Cloud
/// KMS, OpenBao).
#[derive(Debug, Serialize)]
pub struct BlobReport {
    /// `raw` or `base64`.
    pub form: &'static str,
    pub sha256: String,
    pub size: usize,
    pub ciphertext_bytes: usize,
    pub rsa_part_bytes: Option<usize>,
    pub kwp_part_bytes: Option<usize>,
    pub fits_kek_bits: Vec<usize>,
    pub target_key_bits: Option<usize>,
    pub kek_checked: bool,
}

/// Check a blob in `form` (raw, or standard base64 without line breaks) against its
/// wrapping key's size: an RSA-OAEP part as long as the modulus, then an AES-KWP block as
/// long as a wrapped RSA-2048, 3072 or 4096 key. Without `kek`, the wrapping-key sizes
/// the length fits are reported (an OpenBao blob's is always RSA-4096). The OAEP hash
/// cannot be told from the bytes.
pub fn inspect_blob(
    bytes: &[u8],
    form: crate::wrap::WrapForm,
    kek: Option<&Kek>,
) -> Result<BlobReport> {
    use base64::Engine;
    let (name, ct) = match form {
        crate::wrap::WrapForm::AzurePackage => {
            bail!(
                Internal,
                "internal: a package is inspected by package::inspect"
            )
        }
        crate::wrap::WrapForm::Raw(_) => ("raw", bytes.to_vec()),
        crate::wrap::WrapForm::Base64(_) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| err!("the blob is not base64 text: is it a .openbao.b64 file?"))?;
            let ct = base64::engine::general_purpose::STANDARD
                .decode(text.trim_end_matches('\n'))
                .map_err(|_| {
                    err!(Integrity, "the blob is not standard base64 on one line: the file is damaged or was altered")
                })?;
            ("base64", ct)
        }
    };
    if ct.is_empty() {
        bail!("the blob is empty: the file was not written completely; make it again");
    }
    let mut r = BlobReport {
        form: name,
        sha256: hex::encode(Sha256::digest(bytes)),
        size: bytes.len(),
        ciphertext_bytes: ct.len(),
        rsa_part_bytes: None,
        kwp_part_bytes: None,
        fits_kek_bits: Vec::new(),
        target_key_bits: None,
        kek_checked: false,
    };
    let sizes: Vec<usize> = match kek {
        Some(k) => vec![k.bits()],
        None => crate::kek::KEK_BITS.to_vec(),
    };
    let plausible: Vec<(usize, usize)> = sizes
        .iter()
        .filter(|b| kwp_len_ok(ct.len(), *b / 8))
        .filter_map(|b| rsa_target_bits(ct.len() - b / 8).map(|t| (*b, t)))
        .collect();
    match plausible.as_slice() {
        [(kek_bits, target)] => {
            r.rsa_part_bytes = Some(kek_bits / 8);
            r.kwp_part_bytes = Some(ct.len() - kek_bits / 8);
            r.fits_kek_bits = vec![*kek_bits];
            r.target_key_bits = Some(*target);
            r.kek_checked = kek.is_some();
        }
        [] => match kek {
            Some(k) => bail!(
                "the blob is {} bytes, which is not RSA-OAEP under this {}-bit wrapping key ({} bytes) followed by the AES-KWP block of an RSA-2048, 3072 or 4096 key: it is truncated, damaged or not for this key",
                ct.len(),
                k.bits(),
                k.modulus_bytes()
            ),
            None => bail!(
                "the blob is {} bytes, which fits no wrapping-key size (an RSA-OAEP part of 256, 384 or 512 bytes, then the AES-KWP block of an RSA key): it is truncated or damaged",
                ct.len()
            ),
        },
        many => r.fits_kek_bits = many.iter().map(|(b, _)| *b).collect(),
    }
    Ok(r)
}

/// Can `total` bytes be an RSA part of `m` bytes and a KWP block of a private key?
fn kwp_len_ok(total: usize, m: usize) -> bool {
    // The smallest PKCS#8 RSA key we accept is far over 16 bytes; KWP output is 8 + 8k.
    total > m + 16 && (total - m).is_multiple_of(8)
}

/// The RSA size whose PKCS#8 private key wraps (AES-KWP) to `kwp_len` bytes.
///
/// PKCS#8 RSA keys are about 1217, 1793 and 2374 bytes for 2048, 3072 and 4096 bits
/// (a few bytes either way with the size of the integers); KWP adds 8 bytes and pads to
/// 8. The windows are far narrower than the 128-byte steps between KEK sizes, so at
/// most one reading of a ciphertext length fits.
fn rsa_target_bits(kwp_len: usize) -> Option<usize> {
    match kwp_len {
        1200..=1250 => Some(2048),
        1770..=1830 => Some(3072),
        2350..=2410 => Some(4096),
        _ => None,
    }
}

/// The result of unwrapping a package in software (tests and self-tests only).
pub struct Unwrapped {
    /// The PKCS#8 `PrivateKeyInfo` DER, exactly.
    pub pkcs8: Zeroizing<Vec<u8>>,
    /// Zero bytes that followed the DER inside the KWP block (SoftHSM 2.6's defect).
    pub trailing_zeros: usize,
}

/// Unwrap a BYOK ciphertext with the KEK's private key, as the vault (or another
/// target, with its `hash`) does.
///
/// Used by `byok hsm selftest` and the hash probe (with a throwaway KEK made in
/// software) and by the tests, as the independent check that a package carries exactly
/// the HSM's key.
pub fn software_unwrap(
    kek_private: &rsa::PrivateKey,
    ciphertext: &[u8],
    hash: OaepHash,
) -> Result<Unwrapped> {
    use aes_kw::KeyInit;
    use rsa::traits::PublicKeyParts;
    let m = kek_private.size();
    if ciphertext.len() <= m {
        bail!("ciphertext is shorter than the KEK modulus");
    }
    let (rsa_part, kwp_part) = ciphertext.split_at(m);
    let aes_key = match hash {
        OaepHash::Sha1 => kek_private.decrypt(rsa::Oaep::<sha1::Sha1>::new(), rsa_part),
        OaepHash::Sha256 => kek_private.decrypt(rsa::Oaep::<sha2::Sha256>::new(), rsa_part),
    }
    .map_err(|e| err!("RSA-OAEP ({hash}) unwrap of the AES key failed: {e}"))?;
    let aes_key = Zeroizing::new(aes_key);
    if aes_key.len() != 32 {
        bail!(
            "the wrapped AES key is {} bytes, not 32 (AES-256)",
            aes_key.len()
        );
    }
    let kwp =
        aes_kw::KwpAes256::new_from_slice(&aes_key).map_err(|_| err!("bad AES-256 key length"))?;
    let mut buf = Zeroizing::new(vec![0u8; kwp_part.len()]);
    let plain_len = kwp
        .unwrap_key(kwp_part, &mut buf)
        .map_err(|e| err!("AES-KWP unwrap failed: {e}"))?
        .len();
    let plain = &buf[..plain_len];
    let der_len = der_total_len(plain)?;
    let trailing = &plain[der_len..];
    if trailing.iter().any(|b| *b != 0) {
        bail!(
            "the unwrapped key has {} non-zero bytes after its DER",
            trailing.len()
        );
    }
    Ok(Unwrapped {
        pkcs8: Zeroizing::new(plain[..der_len].to_vec()),
        trailing_zeros: trailing.len(),
    })
}

/// Total length of the DER SEQUENCE at the start of `b` (tag, length and contents):
/// what follows it inside the KWP block is padding.
fn der_total_len(b: &[u8]) -> Result<usize> {
    use der::{Decode, Encode, Header, SliceReader, Tag};
    let mut reader = SliceReader::new(b)
        .map_err(|_| err!(Integrity, "the unwrapped key is too long to be a DER value"))?;
    let header = Header::decode(&mut reader)
        .map_err(|e| err!(Integrity, "the unwrapped key is not DER ({e}): not PKCS#8"))?;
    if header.tag() != Tag::Sequence {
        bail!(
            Integrity,
            "the unwrapped key is not a DER SEQUENCE (not PKCS#8)"
        );
    }
    let total = header
        .encoded_len()
        .and_then(|h| h + header.length())
        .map_err(|e| {
            err!(
                Integrity,
                "the unwrapped key's DER length is out of range ({e})"
            )
        })?;
    let total = usize::try_from(total)
        .map_err(|_| err!(Integrity, "the unwrapped key's DER length is out of range"))?;
    if total > b.len() {
        bail!(
            Integrity,
            "the unwrapped key's DER is longer than the plaintext"
        );
    }
    Ok(total)
}

/// The public modulus and exponent (big-endian, no leading zeros) of a PKCS#8 RSA private key.
pub fn pkcs8_rsa_public(pkcs8: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::PrivateKey::from_pkcs8_der(pkcs8)
        .map_err(|e| err!("the unwrapped key is not a PKCS#8 RSA private key: {e}"))?;
    key.validate()
        .map_err(|e| err!("the unwrapped RSA key is inconsistent: {e}"))?;
    Ok((
        key.n().to_be_bytes_trimmed_vartime().to_vec(),
        key.e().to_be_bytes_trimmed_vartime().to_vec(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_kw::KeyInit;
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;
    use std::sync::OnceLock;

    /// A KEK and a target key, made once.
    fn keys() -> &'static (rsa::PrivateKey, rsa::PrivateKey) {
        static K: OnceLock<(rsa::PrivateKey, rsa::PrivateKey)> = OnceLock::new();
        K.get_or_init(|| {
            let mut r = rand::rng();
            (
                rsa::PrivateKey::new(&mut r, 2048).expect("kek"),
                rsa::PrivateKey::new(&mut r, 2048).expect("target"),
            )
        })
    }

    const KID: &str =
        "https://contoso-vault1.vault.azure.net/keys/KEK/0123456789abcdef0123456789abcdef";

    fn kek() -> Kek {
        let pk = keys().0.to_public_key();
        let pem = rsa::pkcs8::EncodePublicKey::to_public_key_pem(&pk, rsa::pkcs8::LineEnding::LF)
            .unwrap();
        Kek::from_bytes(pem.as_bytes(), Some(KID), Mode::Ceremony).unwrap()
    }

    /// The BYOK ciphertext of the target key under the KEK, made in software; `pad`
    /// zero bytes after the PKCS#8 as SoftHSM 2.6 adds.
    fn ciphertext(pad: usize) -> Vec<u8> {
        let (k, t) = keys();
        let mut pkcs8 = t.to_pkcs8_der().unwrap().as_bytes().to_vec();
        pkcs8.extend(std::iter::repeat_n(0u8, pad));
        let aes: [u8; 32] = rand::random();
        let mut buf = vec![0u8; pkcs8.len() + 16];
        let kwp = aes_kw::KwpAes256::new_from_slice(&aes)
            .unwrap()
            .wrap_key(&pkcs8, &mut buf)
            .unwrap()
            .to_vec();
        let mut ct = k
            .to_public_key()
            .encrypt(&mut rand::rng(), rsa::Oaep::<sha1::Sha1>::new(), &aes)
            .unwrap();
        ct.extend(kwp);
        ct
    }

    fn package(ct: &[u8]) -> Vec<u8> {
        Package::new(
            &KeyId::parse(KID, Mode::Ceremony).unwrap(),
            ct,
            "test".into(),
        )
        .to_bytes()
    }

    #[test]
    fn a_package_reads_back_and_unwraps_to_its_key() {
        let bytes = package(&ciphertext(0));
        let (pkg, r) = inspect(&bytes, Some(&kek()), Mode::Ceremony).unwrap();
        assert_eq!(pkg.header.kid, KID);
        assert!(r.kek_checked);
        assert_eq!(
            (r.rsa_part_bytes, r.target_key_bits),
            (Some(256), Some(2048))
        );
        let (_, r) = inspect(&bytes, None, Mode::Ceremony).unwrap();
        assert_eq!(r.fits_kek_bits, [2048]);
        let ct = decode_b64url(&pkg.ciphertext).unwrap();
        let un = software_unwrap(&keys().0, &ct, OaepHash::Sha1).unwrap();
        assert_eq!(un.trailing_zeros, 0);
        let (n, _) = pkcs8_rsa_public(&un.pkcs8).unwrap();
        assert_eq!(n, keys().1.n().to_be_bytes_trimmed_vartime().to_vec());
        // SoftHSM 2.6's zero padding is seen and counted, not hidden.
        let un = software_unwrap(&keys().0, &ciphertext(5), OaepHash::Sha1).unwrap();
        assert_eq!(un.trailing_zeros, 5);
    }

    #[test]
    fn damaged_and_foreign_packages_are_refused() {
        let good = String::from_utf8(package(&ciphertext(0))).unwrap();
        let v: serde_json::Value = serde_json::from_str(&good).unwrap();
        let mut cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            (good.replace("\"1.0.0\"", "\"2.0.0\""), "schema_version"),
            (good.replace("\"dir\"", "\"RSA-OAEP\""), "header.alg"),
            (
                good.replacen("CKM_RSA_AES_KEY_WRAP", "A256KW", 1),
                "header.enc",
            ),
            (
                good.replacen("\"generator\"", "\"extra\": 1, \"generator\"", 1),
                "unknown field",
            ),
            (
                good.replacen("\"generator\"", "\"generator\": \"x\", \"generator\"", 1),
                "twice",
            ),
            (
                good.replace(
                    KID,
                    "https://127.0.0.1:8443/keys/KEK/0123456789abcdef0123456789abcdef",
                ),
                "rehearsal",
            ),
        ];
        let ct = v["ciphertext"].as_str().unwrap();
        cases.push((good.replace(ct, &format!("{ct}==")), "padding"));
        let short = String::from_utf8(package(&ciphertext(0)[..300])).unwrap();
        cases.push((short, "cannot be RSA-OAEP"));
        cases.push((good.replace(ct, "!!!!"), "not base64url"));
        for (text, words) in cases {
            let e = inspect(text.as_bytes(), Some(&kek()), Mode::Ceremony).unwrap_err();
            assert!(e.message().contains(words), "{words}: {e}");
        }
        assert!(inspect(&[0xff, 0xfe], None, Mode::Ceremony).is_err());
    }

    #[test]
    fn unwrap_refuses_what_is_not_a_wrapped_key() {
        let ct = ciphertext(0);
        let mut flipped = ct.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert!(software_unwrap(&keys().0, &flipped, OaepHash::Sha1).is_err());
        assert!(software_unwrap(&keys().0, &ct[..200], OaepHash::Sha1).is_err());
        assert!(der_total_len(&[0x30, 0x82, 0x01]).is_err());
        assert!(der_total_len(&[0x04, 0x00]).is_err());
        assert_eq!(der_total_len(&[0x30, 0x03, 1, 2, 3, 0, 0]).unwrap(), 5);
        assert!(der_total_len(&[0x30, 0x05, 1]).is_err());
    }
}
