//! Generating BYOK source keys on the HSM, and the Security Officer's trusted-KEK step.

use crate::fsutil;
use crate::hsm::{ck, Hsm, HsmSession, KeyFacts, Verdict};
use crate::kek::Kek;
use crate::keyid::valid_key_name;
use crate::pin::PinKind;
use crate::{bail, err, words, Result};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

pub const KEY_BITS: [usize; 3] = [2048, 3072, 4096];

pub struct KeygenRequest<'a> {
    pub label: &'a str,
    pub bits: usize,
    pub out_dir: &'a Path,
    pub wrap_with_trusted: bool,
}

/// What `byok keygen` reports: the key, where its public half went, and the token's
/// evidence of the key's origin.
#[derive(Debug, Serialize)]
pub struct KeygenReport {
    pub label: String,
    pub id: String,
    pub bits: usize,
    pub public_key_file: PathBuf,
    pub spki_sha256: String,
    pub spki_sha256_words: String,
    pub token: crate::hsm::TokenIdentity,
    pub attributes: crate::hsm::PrivateKeyFacts,
}

/// Check a key label before anything touches the token.
pub fn check_label(label: &str) -> Result<()> {
    if !valid_key_name(label) {
        bail!(
            "key label {label:?} is not allowed: use 1-127 letters, digits and dashes, as Key Vault key names do (e.g. Contoso-O365EX-NA-VaultA1-Key001)"
        );
    }
    Ok(())
}

pub fn check_bits(bits: usize) -> Result<()> {
    if !KEY_BITS.contains(&bits) {
        bail!("RSA-{bits} is not allowed: Azure BYOK and Customer Key take RSA 2048, 3072 or 4096 bits (use --size 4096 for root keys)");
    }
    Ok(())
}

/// The public-key PEM file `byok keygen` writes for a label.
pub fn pub_pem_path(out_dir: &Path, label: &str) -> PathBuf {
    out_dir.join(format!("{label}.pub.pem"))
}

/// Generate an RSA key pair for BYOK on the token.
///
/// The private key is a token object, private, sensitive and extractable (BYOK exports it
/// wrapped) with no local use at all (no sign, decrypt, unwrap or derive); the public key
/// cannot encrypt, verify or wrap. Both share a random `CKA_ID`. A label already on the
/// token is refused, as is an existing output file; if writing the public key fails the
/// new pair is destroyed, so a failed run leaves nothing behind.
pub fn keygen(
    hsm: &Hsm,
    session: &HsmSession<'_>,
    req: &KeygenRequest<'_>,
) -> Result<KeygenReport> {
    check_label(req.label)?;
    check_bits(req.bits)?;
    let pem_path = pub_pem_path(req.out_dir, req.label);
    fsutil::refuse_existing(&pem_path)?;
    if !req.out_dir.is_dir() {
        bail!(
            "output directory {} does not exist: create it first",
            req.out_dir.display()
        );
    }
    if !session.find_label(req.label)?.is_empty() {
        bail!(
            "the token already has an object labelled \"{}\": byok never reuses a label; choose another (Key001 → Key002)",
            req.label
        );
    }
    if req.wrap_with_trusted && hsm.verdict()? != Verdict::Native {
        bail!(
            "--wrap-with-trusted needs CKM_RSA_AES_KEY_WRAP on the token: with the two-step wrap the key would be wrapped by an ephemeral AES key that cannot be trusted, so it could never be exported"
        );
    }
    let id = session
        .s
        .generate_random_vec(16)
        .map_err(ck("drawing a random key id"))?;
    let label = req.label.as_bytes().to_vec();
    let public = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.clone()),
        Attribute::Id(id.clone()),
        Attribute::ModulusBits((req.bits as u64).into()),
        Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
        Attribute::Encrypt(false),
        Attribute::Verify(false),
        Attribute::VerifyRecover(false),
        Attribute::Wrap(false),
        Attribute::Modifiable(false),
    ];
    let mut private = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Label(label),
        Attribute::Id(id),
        Attribute::Sensitive(true),
        Attribute::Extractable(true),
        Attribute::Sign(false),
        Attribute::SignRecover(false),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Modifiable(false),
    ];
    if req.wrap_with_trusted {
        private.push(Attribute::WrapWithTrusted(true));
    }
    let (pub_h, priv_h) = session
        .s
        .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
        .map_err(ck("generating the RSA key pair"))?;
    crate::crashpoint::hit("keygen-generated");
    let finish = || -> Result<KeygenReport> {
        let facts = session.key_facts(priv_h)?;
        let spki = spki_der(&facts)?;
        let pem = pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &spki)
            .map_err(|e| err!("cannot encode the public key: {e}"))?;
        fsutil::write_new(&pem_path, pem.as_bytes(), 0o644)?;
        let fp: [u8; 32] = Sha256::digest(&spki).into();
        Ok(KeygenReport {
            label: facts.label.clone(),
            id: facts.id.clone(),
            bits: facts.bits,
            public_key_file: pem_path.clone(),
            spki_sha256: hex::encode(fp),
            spki_sha256_words: words::to_words(&fp),
            token: hsm.identity(),
            attributes: facts.private,
        })
    };
    match finish() {
        Ok(r) => Ok(r),
        Err(e) => {
            session.destroy(priv_h, "new private key");
            session.destroy(pub_h, "new public key");
            Err(e.context("the new key pair was destroyed"))
        }
    }
}

/// SubjectPublicKeyInfo DER of a key on the token.
pub fn spki_der(facts: &KeyFacts) -> Result<Vec<u8>> {
    use rsa::pkcs8::EncodePublicKey;
    let key = crate::kek::rsa_from_parts(&facts.modulus, &facts.exponent)?;
    Ok(key
        .to_public_key_der()
        .map_err(|e| err!("cannot encode the public key: {e}"))?
        .as_bytes()
        .to_vec())
}

/// What `byok kek trust` reports.
#[derive(Debug, Serialize)]
pub struct TrustReport {
    pub label: String,
    pub kid: Option<String>,
    pub sha256: String,
    pub sha256_words: String,
}

/// The Security Officer stores a checked KEK on the token as a trusted wrapping key.
///
/// Keys made with `--wrap-with-trusted` can then be wrapped only under a KEK the SO
/// stored: the crypto officer (user PIN) cannot export them under any other key, and
/// the SO (who cannot use private keys) cannot export them at all. `expected_sha256` is
/// the fingerprint the officers confirmed out of band; a different KEK is refused.
pub fn trust_kek(
    hsm: &Hsm,
    kek: &Kek,
    expected_sha256: &str,
    so_pin_file: Option<&Path>,
) -> Result<TrustReport> {
    let fp = kek.sha256();
    if !expected_sha256.eq_ignore_ascii_case(&hex::encode(fp)) {
        bail!(
            "the KEK's SHA-256 is {}, not the {} given with --sha256: this is not the KEK the officers confirmed; stop and fetch the KEK again",
            hex::encode(fp),
            expected_sha256
        );
    }
    let label = format!("byok-kek-{}", &hex::encode(fp)[..16]);
    let session = hsm.login_as(PinKind::SecurityOfficer, so_pin_file)?;
    if !session.find_label(&label)?.is_empty() {
        bail!("the token already holds this KEK as \"{label}\": nothing to do");
    }
    let n = kek.public_modulus();
    let e = kek.public_exponent();
    session
        .s
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Trusted(true),
            Attribute::Wrap(true),
            Attribute::Encrypt(false),
            Attribute::Verify(false),
            Attribute::Modifiable(false),
            Attribute::Modulus(n),
            Attribute::PublicExponent(e),
            Attribute::Label(label.clone().into_bytes()),
            Attribute::Id(fp[..16].to_vec()),
        ])
        .map_err(ck("storing the trusted KEK (as Security Officer)"))?;
    Ok(TrustReport {
        label,
        kid: kek.kid.as_ref().map(|k| k.url()),
        sha256: hex::encode(fp),
        sha256_words: words::to_words(&fp),
    })
}
