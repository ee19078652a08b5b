//! The Key Exchange Key (KEK): the vault's RSA public key that packages are wrapped under.
//!
//! Reads every form a security officer is handed: PEM SubjectPublicKeyInfo (what
//! `az keyvault key download` and Google Cloud KMS write), PEM PKCS#1, DER of either,
//! base64 of a DER SubjectPublicKeyInfo (AWS KMS's `PublicKey`, as the AWS CLI prints
//! it), and the KeyBundle or JWK JSON of `az keyvault key show`. Checks what Azure requires of a KEK before a
//! single key is wrapped under it.

use crate::keyid::{KeyId, Mode};
use crate::util::strip_zeros;
use crate::{bail, err, words, Result};
use base64::Engine;
use rsa::pkcs8::EncodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PublicKey as RsaPublicKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;

/// KEK sizes Azure accepts.
pub const KEK_BITS: [usize; 3] = [2048, 3072, 4096];

/// A checked KEK.
#[derive(Debug, Clone)]
pub struct Kek {
    pub public: RsaPublicKey,
    /// The canonical SubjectPublicKeyInfo DER (what the fingerprint is taken over).
    pub spki_der: Vec<u8>,
    pub kid: Option<KeyId>,
    /// The form the file was in, for reports.
    pub format: &'static str,
    /// `kty` and `key_ops` when the file carried them.
    pub kty: Option<String>,
    pub key_ops: Option<Vec<String>>,
}

/// What `byok kek inspect` reports.
#[derive(Debug, Serialize)]
pub struct KekReport {
    pub format: &'static str,
    pub bits: usize,
    pub exponent: u64,
    pub kid: Option<String>,
    pub vault: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub kty: Option<String>,
    pub key_ops: Option<Vec<String>>,
    pub sha256: String,
    pub sha256_words: String,
}

impl Kek {
    /// Read and check a KEK file. `kid` (from `--kid`) must agree with the file's own kid;
    /// a loopback kid is accepted only in a rehearsal.
    pub fn load(path: &Path, kid: Option<&str>, mode: Mode) -> Result<Kek> {
        let bytes = crate::fsutil::read_limited(path, 1 << 20, "KEK file")?;
        Kek::from_bytes(&bytes, kid, mode).map_err(|e| e.context(format!("KEK {}", path.display())))
    }

    pub fn from_bytes(bytes: &[u8], kid: Option<&str>, mode: Mode) -> Result<Kek> {
        let mut kek = parse_any(bytes, mode)?;
        if let Some(given) = kid {
            let given = KeyId::parse(given, mode)?;
            if let Some(own) = &kek.kid {
                if own != &given {
                    bail!(
                        "--kid {} differs from the kid in the file ({}); use the file's kid or leave --kid out",
                        given.url(),
                        own.url()
                    );
                }
            }
            kek.kid = Some(given);
        }
        kek.check()?;
        Ok(kek)
    }

    fn check(&self) -> Result<()> {
        let bits = self.bits();
        if !KEK_BITS.contains(&bits) {
            bail!("the KEK is RSA-{bits}; Azure KEKs are RSA 2048, 3072 or 4096 bits: fetch the KEK again from the vault");
        }
        if self.exponent() != Some(65537) {
            bail!("the KEK's public exponent is not 65537; Key Vault makes KEKs with 65537: is this the vault's KEK?");
        }
        // The rsa crate has already refused an even modulus, an exponent not below it and
        // sizes out of range (`RsaPublicKey::new_with_size_limits`). A modulus with a
        // small factor is no RSA modulus at all (anyone can factor it and unwrap every
        // package made under it): refused too.
        if let Some(p) = small_factor(&self.public_modulus()) {
            bail!(
                Integrity,
                "the KEK's modulus is divisible by {p}: it is not an RSA key anyone could have made honestly, and keys wrapped under it could be unwrapped by anyone; do not use it, fetch the KEK again from the vault"
            );
        }
        if let Some(kty) = &self.kty {
            if kty != "RSA-HSM" {
                bail!("the KEK's kty is {kty:?}, not \"RSA-HSM\": create the KEK with `--kty RSA-HSM --ops import`");
            }
        }
        if let Some(ops) = &self.key_ops {
            if ops.len() != 1 || ops[0] != "import" {
                bail!(
                    "the KEK's key_ops are {ops:?}, not exactly [\"import\"]: Azure accepts only a KEK whose sole operation is import; create it with `--ops import`"
                );
            }
        }
        Ok(())
    }

    pub fn bits(&self) -> usize {
        self.public.n().bit_width() as usize
    }

    /// Big-endian modulus without leading zeros.
    pub fn public_modulus(&self) -> Vec<u8> {
        self.public.n().to_be_bytes_trimmed_vartime().to_vec()
    }

    /// Big-endian public exponent without leading zeros.
    pub fn public_exponent(&self) -> Vec<u8> {
        self.public.e().to_be_bytes_trimmed_vartime().to_vec()
    }

    pub fn modulus_bytes(&self) -> usize {
        self.bits().div_ceil(8)
    }

    pub fn exponent(&self) -> Option<u64> {
        let e = self.public.e().to_be_bytes_trimmed_vartime();
        (e.len() <= 8).then(|| e.iter().fold(0u64, |a, b| (a << 8) | *b as u64))
    }

    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.spki_der).into()
    }

    pub fn report(&self) -> KekReport {
        let fp = self.sha256();
        KekReport {
            format: self.format,
            bits: self.bits(),
            exponent: self.exponent().unwrap_or(0),
            kid: self.kid.as_ref().map(KeyId::url),
            vault: self.kid.as_ref().map(|k| k.vault.clone()),
            name: self.kid.as_ref().map(|k| k.name.clone()),
            version: self.kid.as_ref().map(|k| k.version.clone()),
            kty: self.kty.clone(),
            key_ops: self.key_ops.clone(),
            sha256: hex::encode(fp),
            sha256_words: words::to_words(&fp),
        }
    }
}

fn from_public(public: RsaPublicKey, format: &'static str) -> Result<Kek> {
    let spki_der = public
        .to_public_key_der()
        .map_err(|e| err!("cannot encode the KEK: {e}"))?
        .as_bytes()
        .to_vec();
    Ok(Kek {
        public,
        spki_der,
        kid: None,
        format,
        kty: None,
        key_ops: None,
    })
}

const NOT_A_KEK: &str = "not a KEK: expected a PEM or DER RSA public key (`az keyvault key download`, `gcloud kms import-jobs describe`), the base64 DER of AWS's `PublicKey`, or the JSON of `az keyvault key show`";

fn parse_any(bytes: &[u8], mode: Mode) -> Result<Kek> {
    let text = std::str::from_utf8(bytes).ok().map(str::trim_start);
    match text {
        _ if bytes.iter().all(|b| b.is_ascii_whitespace()) => {
            bail!("the file is empty; {NOT_A_KEK}")
        }
        Some(t) if t.starts_with("-----BEGIN") => parse_pem(t),
        Some(t) if t.starts_with('{') => parse_json(t, mode),
        Some(t) if looks_like_base64(t) => parse_base64_der(t),
        _ => parse_der(bytes),
    }
}

/// Text of base64 characters only, on one or more lines: what `aws kms
/// get-parameters-for-import --query PublicKey --output text` prints (one line).
fn looks_like_base64(text: &str) -> bool {
    let t = text.trim_end();
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\n' | b'\r'))
}

fn parse_base64_der(text: &str) -> Result<Kek> {
    use der::Decode;
    let joined: String = text.split_ascii_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(joined.as_bytes())
        .map_err(|_| {
            err!(
                "the file is base64 text that does not decode (damaged or cut short?); {NOT_A_KEK}"
            )
        })?;
    if spki::SubjectPublicKeyInfoRef::from_der(&der).is_ok() {
        return parse_spki(&der, "base64 DER SubjectPublicKeyInfo");
    }
    if pkcs8::PrivateKeyInfoRef::from_der(&der).is_ok()
        || pkcs1::RsaPrivateKey::<der::asn1::UintRef>::from_der(&der).is_ok()
    {
        bail!("{}", private_key_refusal());
    }
    bail!(
        "the file is base64 but not of a DER SubjectPublicKeyInfo (AWS's `PublicKey`); {NOT_A_KEK}"
    )
}

fn parse_pem(text: &str) -> Result<Kek> {
    let (label, der) = pem_rfc7468::decode_vec(text.trim().as_bytes()).map_err(|e| {
        err!("the PEM does not decode ({e}): the file is damaged or truncated; fetch it again")
    })?;
    match label {
        "PUBLIC KEY" => parse_spki(&der, "PEM SubjectPublicKeyInfo"),
        "RSA PUBLIC KEY" => parse_pkcs1(&der, "PEM PKCS#1"),
        l if l.contains("PRIVATE KEY") => bail!("{}", private_key_refusal()),
        "CERTIFICATE" => bail!("the file is a certificate, not a KEK; {NOT_A_KEK}"),
        other => bail!("PEM block {other:?} is {NOT_A_KEK}"),
    }
}

fn parse_spki(der_bytes: &[u8], format: &'static str) -> Result<Kek> {
    use der::Decode;
    let info = spki::SubjectPublicKeyInfoRef::from_der(der_bytes).map_err(|e| {
        err!(
            "the public key does not parse ({e}): the file is damaged or truncated; fetch it again"
        )
    })?;
    if info.algorithm.oid != rsa::pkcs1::ALGORITHM_OID {
        bail!(
            "the key is not RSA (algorithm {}); a KEK (Azure, AWS, Google Cloud, OpenBao) is an RSA key of 2048-4096 bits: fetch the wrapping key again",
            algorithm_name(&info.algorithm.oid)
        );
    }
    let raw = info.subject_public_key.as_bytes().ok_or_else(|| {
        err!("the public key's bit string is malformed: the file is damaged; fetch it again")
    })?;
    parse_pkcs1(raw, format)
}

fn parse_pkcs1(der_bytes: &[u8], format: &'static str) -> Result<Kek> {
    use der::Decode;
    let key = pkcs1::RsaPublicKey::<der::asn1::UintRef>::from_der(der_bytes).map_err(|e| {
        err!("the RSA public key does not parse ({e}): the file is damaged or truncated; fetch it again")
    })?;
    let public = rsa_from_parts(key.modulus.as_bytes(), key.public_exponent.as_bytes())?;
    from_public(public, format)
}

fn algorithm_name(oid: &spki::ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.2.840.10045.2.1" => "EC".into(),
        "1.3.101.112" => "Ed25519".into(),
        other => other.into(),
    }
}

fn private_key_refusal() -> String {
    "the file holds a PRIVATE key: a KEK is the vault's public key. Do not copy private keys around; destroy this copy if it was not meant to exist, and use `az keyvault key download` or `byok kek fetch`".into()
}

fn parse_der(bytes: &[u8]) -> Result<Kek> {
    use der::Decode;
    if spki::SubjectPublicKeyInfoRef::from_der(bytes).is_ok() {
        return parse_spki(bytes, "DER SubjectPublicKeyInfo");
    }
    if pkcs1::RsaPublicKey::<der::asn1::UintRef>::from_der(bytes).is_ok() {
        return parse_pkcs1(bytes, "DER PKCS#1");
    }
    if pkcs8::PrivateKeyInfoRef::from_der(bytes).is_ok()
        || pkcs1::RsaPrivateKey::<der::asn1::UintRef>::from_der(bytes).is_ok()
    {
        bail!("{}", private_key_refusal());
    }
    bail!("the file is {NOT_A_KEK} (it is neither PEM, JSON nor a DER public key; truncated?)")
}

fn parse_json(text: &str, mode: Mode) -> Result<Kek> {
    crate::json::check_unique_keys(text.as_bytes())?;
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| err!("the JSON does not parse ({e}); {NOT_A_KEK}"))?;
    // A KeyBundle has the JWK under "key"; a bare JWK is accepted too.
    let jwk = match value.get("key") {
        Some(k) => k,
        None => &value,
    };
    let obj = jwk
        .as_object()
        .ok_or_else(|| err!("the JSON has no JWK object; {NOT_A_KEK}"))?;
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        if obj.contains_key(private) {
            bail!("{}", private_key_refusal());
        }
    }
    let kty = str_field(obj, "kty")?.ok_or_else(|| err!("the JWK has no \"kty\"; {NOT_A_KEK}"))?;
    if !kty.starts_with("RSA") {
        bail!("the key's kty is {kty:?}; Azure KEKs are RSA-HSM 2048-4096: fetch the vault's KEK");
    }
    let n = b64_field(obj, "n")?;
    let e = b64_field(obj, "e")?;
    let key_ops = match obj.get("key_ops") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Array(ops)) => Some(
            ops.iter()
                .map(|o| {
                    o.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| err!("\"key_ops\" holds a non-string; {NOT_A_KEK}"))
                })
                .collect::<Result<Vec<_>>>()?,
        ),
        Some(_) => bail!("\"key_ops\" is not a list; {NOT_A_KEK}"),
    };
    let public = rsa_from_parts(&n, &e)?;
    let mut kek = from_public(public, "KeyBundle JSON")?;
    if value.get("key").is_none() {
        kek.format = "JWK JSON";
    }
    kek.kty = Some(kty);
    kek.key_ops = key_ops;
    if let Some(kid) = str_field(obj, "kid")? {
        kek.kid = Some(KeyId::parse(&kid, mode)?);
    }
    Ok(kek)
}

/// Read any RSA public key file byok reads KEKs from (PEM, DER or JSON) without the
/// KEK's rules: for the HSM's own public keys (`N.pub.pem`). Returns (n, e).
pub fn read_rsa_public(path: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let k = load_rsa_public(path)?;
    Ok((k.public_modulus(), k.public_exponent()))
}

/// Read an RSA public key in any form a KEK may come in (PEM, DER, base64 DER, JSON)
/// without the KEK's rules (size, exponent, kty, key_ops) and without a kid: for keys
/// compared with others (`N.pub.pem`, what a cloud says it holds). Its `spki_der` is
/// canonical, so two files of one key give one [`Kek::sha256`].
pub fn rsa_public_from_bytes(bytes: &[u8]) -> Result<Kek> {
    let mut k = parse_any(bytes, Mode::Rehearsal)?;
    k.kid = None;
    Ok(k)
}

/// [`rsa_public_from_bytes`] of a file (bounded read, no symlinks or FIFOs).
pub fn load_rsa_public(path: &Path) -> Result<Kek> {
    let bytes = crate::fsutil::read_limited(path, 1 << 20, "public key file")?;
    rsa_public_from_bytes(&bytes).map_err(|e| e.context(format!("public key {}", path.display())))
}

/// The primes below 2^16 (6542 of them), made once by a sieve.
fn small_primes() -> &'static [u32] {
    static P: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        const N: usize = 1 << 16;
        let mut composite = vec![false; N];
        let mut primes = Vec::with_capacity(6542);
        for i in 2..N {
            if !composite[i] {
                primes.push(i as u32);
                let mut j = i * i;
                while j < N {
                    composite[j] = true;
                    j += i;
                }
            }
        }
        primes
    })
}

/// The smallest prime below 2^16 that divides the big-endian number `n`, if any (`n`
/// itself excepted). An honest RSA modulus is the product of two primes of half its size:
/// it has no such factor.
pub fn small_factor(n: &[u8]) -> Option<u32> {
    let n = strip_zeros(n);
    small_primes().iter().copied().find(|&p| {
        let p64 = u64::from(p);
        let rem = n.iter().fold(0u64, |r, &b| ((r << 8) | u64::from(b)) % p64);
        // A modulus of a few bytes equal to p is prime, not divisible in this sense;
        // KEKs are 2048 bits and more, so this only keeps the function honest.
        rem == 0 && !(n.len() <= 2 && n.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b)) == p64)
    })
}

/// Build an RSA public key from big-endian modulus and exponent bytes.
pub fn rsa_from_parts(n: &[u8], e: &[u8]) -> Result<RsaPublicKey> {
    let n = strip_zeros(n);
    let e = strip_zeros(e);
    if n.is_empty() || e.is_empty() || e.len() > 8 {
        bail!("the RSA key has an empty modulus or a bad exponent; {NOT_A_KEK}");
    }
    if n.len() > 1024 {
        bail!("the RSA modulus is larger than 8192 bits; {NOT_A_KEK}");
    }
    let bits = (n.len() * 8) as u32;
    let n = BoxedUint::from_be_slice(n, bits).map_err(|_| err!("bad RSA modulus"))?;
    let e = BoxedUint::from_be_slice(e, 64).map_err(|_| err!("bad RSA exponent"))?;
    RsaPublicKey::new_with_size_limits(n, e, 512..=8192)
        .map_err(|e| err!("the RSA public key is not valid ({e}); {NOT_A_KEK}"))
}

fn str_field(
    obj: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<Option<String>> {
    match obj.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => bail!("JWK field {name:?} is not a string; {NOT_A_KEK}"),
    }
}

fn b64_field(obj: &serde_json::Map<String, serde_json::Value>, name: &str) -> Result<Vec<u8>> {
    let s = str_field(obj, name)?.ok_or_else(|| err!("the JWK has no {name:?}; {NOT_A_KEK}"))?;
    decode_b64url(&s).map_err(|_| err!("JWK field {name:?} is not base64url; the file is damaged"))
}

/// Decode base64url with or without `=` padding (Azure omits it; some tools keep it).
pub fn decode_b64url(s: &str) -> std::result::Result<Vec<u8>, base64::DecodeError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('='))
}

/// Encode base64url without padding, as Azure and the BYOK specification do.
pub fn encode_b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use std::sync::OnceLock;

    fn key(bits: usize) -> &'static rsa::PrivateKey {
        static K: OnceLock<Vec<(usize, rsa::PrivateKey)>> = OnceLock::new();
        let all = K.get_or_init(|| {
            [1024, 2048]
                .into_iter()
                .map(|b| (b, rsa::PrivateKey::new(&mut rand::rng(), b).expect("key")))
                .collect()
        });
        &all.iter().find(|(b, _)| *b == bits).expect("a test size").1
    }

    const KID: &str =
        "https://contoso-vault1.vault.azure.net/keys/KEK/0123456789abcdef0123456789abcdef";

    fn bundle(k: &rsa::PrivateKey, kty: &str, ops: &[&str], kid: &str) -> String {
        let pk = k.to_public_key();
        serde_json::json!({"key": {"kid": kid, "kty": kty, "key_ops": ops,
            "n": encode_b64url(&pk.n().to_be_bytes_trimmed_vartime()),
            "e": encode_b64url(&pk.e().to_be_bytes_trimmed_vartime())}})
        .to_string()
    }

    #[test]
    fn every_form_gives_the_same_fingerprint() {
        let pk = key(2048).to_public_key();
        let spki_pem = pk.to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let pkcs1_pem = pk.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let spki_der = pk.to_public_key_der().unwrap();
        let json = bundle(key(2048), "RSA-HSM", &["import"], KID);
        let forms: Vec<(&[u8], &str)> = vec![
            (spki_pem.as_bytes(), "PEM SubjectPublicKeyInfo"),
            (pkcs1_pem.as_bytes(), "PEM PKCS#1"),
            (spki_der.as_bytes(), "DER SubjectPublicKeyInfo"),
            (json.as_bytes(), "KeyBundle JSON"),
        ];
        let fps: Vec<[u8; 32]> = forms
            .iter()
            .map(|(b, format)| {
                let k = Kek::from_bytes(b, None, Mode::Ceremony).unwrap();
                assert_eq!(k.format, *format);
                assert_eq!(k.bits(), 2048);
                k.sha256()
            })
            .collect();
        assert!(fps.windows(2).all(|w| w[0] == w[1]));
        let k = Kek::from_bytes(json.as_bytes(), None, Mode::Ceremony).unwrap();
        assert_eq!(k.kid.unwrap().url(), KID);
    }

    #[test]
    fn what_azure_would_refuse_is_refused() {
        let k2048 = key(2048);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            ("garbage".into(), "not a KEK"),
            (
                key(1024)
                    .to_public_key()
                    .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                    .unwrap(),
                "RSA-1024",
            ),
            (bundle(k2048, "RSA", &["import"], KID), "RSA-HSM"),
            (
                bundle(k2048, "RSA-HSM", &["import", "wrapKey"], KID),
                "exactly",
            ),
            (bundle(k2048, "RSA-HSM", &[], KID), "exactly"),
            (
                bundle(
                    k2048,
                    "RSA-HSM",
                    &["import"],
                    "https://evil.example.com/keys/k/0123456789abcdef0123456789abcdef",
                ),
                "not on a Key Vault",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n".into(),
                "PRIVATE key",
            ),
        ];
        for (text, words) in cases {
            let e = Kek::from_bytes(text.as_bytes(), None, Mode::Ceremony).unwrap_err();
            assert!(e.message().contains(words), "{words}: {e}");
        }
        // Duplicate fields in the JSON are refused, not resolved silently.
        let dup = bundle(k2048, "RSA-HSM", &["import"], KID).replacen(
            r#""kty":"#,
            r#""kty":"RSA","kty":"#,
            1,
        );
        assert!(Kek::from_bytes(dup.as_bytes(), None, Mode::Ceremony).is_err());
    }

    /// A modulus `n` of a real 2048-bit key, moved to an odd multiple of `p` just above
    /// it whose smallest prime factor is `p` (same size): what a forger would hand over.
    fn multiple_of(p: u32) -> Vec<u8> {
        // Big-endian add of a small signed number, in place.
        fn add(n: &mut [u8], v: i64) {
            let mut carry = v;
            for b in n.iter_mut().rev() {
                let x = i64::from(*b) + carry;
                *b = x.rem_euclid(256) as u8;
                carry = x.div_euclid(256);
                if carry == 0 {
                    break;
                }
            }
        }
        let mut n = key(2048)
            .to_public_key()
            .n()
            .to_be_bytes_trimmed_vartime()
            .to_vec();
        let p64 = u64::from(p);
        let r = n.iter().fold(0u64, |r, &b| ((r << 8) | u64::from(b)) % p64);
        add(&mut n, p64 as i64 - r as i64);
        if n.last().is_some_and(|b| b % 2 == 0) {
            add(&mut n, p64 as i64);
        }
        // Odd multiples of p, until p is its smallest prime factor.
        while small_factor(&n) != Some(p) {
            add(&mut n, 2 * p64 as i64);
        }
        n
    }

    fn jwk(n: &[u8]) -> String {
        serde_json::json!({"kid": KID, "kty": "RSA-HSM", "key_ops": ["import"],
            "n": encode_b64url(n), "e": "AQAB"})
        .to_string()
    }

    #[test]
    fn a_modulus_with_a_small_factor_or_even_is_refused() {
        assert_eq!(small_primes().len(), 6542);
        assert_eq!(small_primes().last(), Some(&65521));
        for p in [3, 5, 65521, 65519] {
            let n = multiple_of(p);
            assert_eq!(n.len(), 256, "still RSA-2048");
            assert_eq!(small_factor(&n), Some(p));
            let e = Kek::from_bytes(jwk(&n).as_bytes(), None, Mode::Ceremony).unwrap_err();
            assert!(e.message().contains(&format!("divisible by {p}")), "{e}");
            assert_eq!(e.kind(), crate::ErrorKind::Integrity);
        }
        // An even modulus: the rsa crate's own check refuses it.
        let mut even = key(2048)
            .to_public_key()
            .n()
            .to_be_bytes_trimmed_vartime()
            .to_vec();
        *even.last_mut().unwrap() &= 0xfe;
        let e = Kek::from_bytes(jwk(&even).as_bytes(), None, Mode::Ceremony).unwrap_err();
        assert!(e.message().contains("not valid"), "{e}");
        // A real key has no small factor.
        let good = key(2048)
            .to_public_key()
            .n()
            .to_be_bytes_trimmed_vartime()
            .to_vec();
        assert_eq!(small_factor(&good), None);
        assert!(Kek::from_bytes(jwk(&good).as_bytes(), None, Mode::Ceremony).is_ok());
        assert_eq!(small_factor(&[0xff, 0xf1]), None, "65521 itself is prime");
        assert_eq!(small_factor(&[9]), Some(3));
    }

    /// An EC P-256 SubjectPublicKeyInfo (made with openssl), base64 as AWS prints keys.
    const EC_SPKI_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERoyto1iC1yNskMHe2CeXQuQLmHKouQKvod736FjQUdgQePRskkXCRHaM2Zq0uAn5wHsFyQtu7k9ePF5/YKRWtg==";

    #[test]
    fn aws_base64_der_is_read_and_a_non_rsa_one_refused() {
        let pk = key(2048).to_public_key();
        let der = pk.to_public_key_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
        let want = Kek::from_bytes(der.as_bytes(), None, Mode::Ceremony)
            .unwrap()
            .sha256();
        // One line, with or without a trailing newline (CRLF too), and wrapped at 76.
        let wrapped: String = b64
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
            .collect();
        for text in [
            b64.clone(),
            format!("{b64}\n"),
            format!("{b64}\r\n"),
            wrapped,
        ] {
            let k = Kek::from_bytes(text.as_bytes(), None, Mode::Ceremony).unwrap();
            assert_eq!(k.format, "base64 DER SubjectPublicKeyInfo");
            assert_eq!(k.sha256(), want);
        }
        let e = Kek::from_bytes(EC_SPKI_B64.as_bytes(), None, Mode::Ceremony).unwrap_err();
        assert!(e.message().contains("not RSA (algorithm EC)"), "{e}");
        // Base64 of something else, base64 that does not decode, a private key.
        let cases: Vec<(String, &str)> = vec![
            (
                base64::engine::general_purpose::STANDARD.encode(b"hello world, no key"),
                "not of a DER SubjectPublicKeyInfo",
            ),
            (b64[..b64.len() - 3].to_string(), "does not decode"),
            (
                base64::engine::general_purpose::STANDARD.encode(
                    rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(key(1024))
                        .unwrap()
                        .as_bytes(),
                ),
                "PRIVATE key",
            ),
        ];
        for (text, words) in cases {
            let e = Kek::from_bytes(text.as_bytes(), None, Mode::Ceremony).unwrap_err();
            assert!(e.message().contains(words), "{words}: {e}");
        }
        // The comparison reader takes the same forms without the KEK rules (RSA-1024 here).
        let small = key(1024).to_public_key().to_public_key_der().unwrap();
        let b = base64::engine::general_purpose::STANDARD.encode(small.as_bytes());
        assert_eq!(rsa_public_from_bytes(b.as_bytes()).unwrap().bits(), 1024);
    }

    #[test]
    fn the_kid_must_agree_and_loopback_only_in_a_rehearsal() {
        let json = bundle(key(2048), "RSA-HSM", &["import"], KID);
        let other =
            "https://contoso-vault1.vault.azure.net/keys/KEK/ffffffffffffffffffffffffffffffff";
        let e = Kek::from_bytes(json.as_bytes(), Some(other), Mode::Ceremony).unwrap_err();
        assert!(
            e.message().contains("differs from the kid in the file"),
            "{e}"
        );
        let pem = key(2048)
            .to_public_key()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap();
        let k = Kek::from_bytes(pem.as_bytes(), Some(KID), Mode::Ceremony).unwrap();
        assert_eq!(k.kid.unwrap().url(), KID);
        let lo = "https://127.0.0.1:8443/keys/KEK/0123456789abcdef0123456789abcdef";
        let e = Kek::from_bytes(pem.as_bytes(), Some(lo), Mode::Ceremony).unwrap_err();
        assert!(e.message().contains("rehearsal"), "{e}");
        assert!(Kek::from_bytes(pem.as_bytes(), Some(lo), Mode::Rehearsal).is_ok());
    }
}
