//! A forger's ceremony directory, for the tests that prove `ceremony import` refuses it.
//!
//! Everything a ceremony directory holds can be made without the ceremony's HSM: the
//! plan and its KEKs are public, so software RSA keys can be wrapped under the KEKs into
//! packages the vaults accept, and a transcript can be written whose hash chain holds
//! from the plan's hash, closed unsigned or signed by a software key posing as the
//! transcript signer. Only the digest the officers signed on paper, and the token serial
//! the plan pins, tell it from the real ceremony; these helpers make such a directory so
//! the tests can show that they do.

use aes_kw::KeyInit;
use base64::Engine;
use byok_core::ceremony::manifest::{self, MANIFEST, TRANSCRIPT};
use byok_core::ceremony::plan;
use byok_core::hsm::TokenIdentity;
use byok_core::keyid::KeyId;
use byok_core::package::Package;
use byok_core::transcript::{Record, Signature, StepName, Writer, FORMAT, SIG_ALG};
use byok_core::util::sha256_hex;
use byok_core::{err, Mode, Result};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// How the forged transcript closes.
pub enum Close<'a> {
    /// Unsigned, with a reason, and no signer record (the first reproduction).
    Unsigned,
    /// A signer record and a close signed by this software key.
    SignedBy(&'a rsa::PrivateKey),
}

/// Make in `dir` (created if missing) a ceremony directory for the plan `plan_path`
/// without any HSM, claiming to come from token `hsm`. Returns its transcript's digest
/// (hex).
pub fn forge_ceremony(
    plan_path: &Path,
    dir: &Path,
    hsm: &TokenIdentity,
    close: Close<'_>,
) -> Result<String> {
    let roots = byok_core::attestation::TrustRoots::marvell()?;
    let plan = plan::load(plan_path, &roots, Mode::Rehearsal)?;
    std::fs::create_dir_all(dir).map_err(|e| err!(Io, "{e}"))?;
    let mut spki_of = BTreeMap::new();
    for k in &plan.keys {
        let key = rsa::PrivateKey::new(&mut rand::rng(), k.key.size)
            .map_err(|e| err!("cannot generate a key: {e}"))?;
        let public = key.to_public_key();
        let spki = public
            .to_public_key_der()
            .map_err(|e| err!("{e}"))?
            .as_bytes()
            .to_vec();
        spki_of.insert(k.key.name.clone(), sha256_hex(&spki));
        let pem = public
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| err!("{e}"))?;
        write(&dir.join(manifest::pub_file(&k.key.name)), pem.as_bytes())?;
        // The BYOK construction: RSA-OAEP-SHA1 of an AES-256 key, then AES-KWP of the
        // key's PKCS#8, all of it under the vault's public KEK.
        let pkcs8 = key.to_pkcs8_der().map_err(|e| err!("{e}"))?;
        let aes: [u8; 32] = rand::random();
        let mut buf = vec![0u8; pkcs8.as_bytes().len() + 16];
        let kwp = aes_kw::KwpAes256::new_from_slice(&aes)
            .map_err(|_| err!("AES key"))?
            .wrap_key(pkcs8.as_bytes(), &mut buf)
            .map_err(|e| err!("{e:?}"))?
            .to_vec();
        let kek_public =
            byok_core::kek::rsa_from_parts(&k.kek.public_modulus(), &k.kek.public_exponent())?;
        let mut ct = kek_public
            .encrypt(&mut rand::rng(), rsa::Oaep::<sha1::Sha1>::new(), &aes)
            .map_err(|e| err!("{e}"))?;
        ct.extend(kwp);
        let kid: &KeyId = k
            .kek
            .kid
            .as_ref()
            .ok_or_else(|| err!("the KEK has no kid"))?;
        let pkg = Package::new(kid, &ct, "byok 0.1.0".into()).to_bytes();
        write(&dir.join(manifest::package_file(&k.key.name)), &pkg)?;
    }
    let signer = match &close {
        Close::Unsigned => None,
        Close::SignedBy(key) => Some((*key, spki_der(key)?)),
    };
    let signer_fp = signer.as_ref().map(|(_, spki)| sha256_hex(spki));
    let (_, mbytes) = manifest::build(&plan, dir, hsm, signer_fp.clone(), &spki_of)?;
    write(&dir.join(MANIFEST), &mbytes)?;
    let mut w = Writer::create(&dir.join(TRANSCRIPT), plan.sha256)?;
    w.append(
        Record::new(StepName::Open, "byok")
            .input("plan", &plan.sha256_hex())
            .hsm(hsm)
            .detail("format", FORMAT)
            .detail("ceremony", &plan.plan.ceremony)
            .detail("rehearsal", true),
    )?;
    if let Some(fp) = &signer_fp {
        w.append(
            Record::new(StepName::Signer, "byok")
                .hsm(hsm)
                .detail("label", "byok-transcript-signer")
                .detail("spki_sha256", fp),
        )?;
    }
    w.append(
        Record::new(StepName::Manifest, "byok")
            .hsm(hsm)
            .output(MANIFEST, &sha256_hex(&mbytes)),
    )?;
    let rec = Record::new(StepName::Close, "Alice Example, Bob Example").hsm(hsm);
    match signer {
        None => {
            w.append(rec.detail("unsigned", "no HSM"))?;
        }
        Some((key, spki)) => {
            let _ = spki;
            w.append_signed(rec, |body| sign_close(key, body))?;
        }
    }
    Ok(hex::encode(w.last_hash()))
}

/// The hex SHA-256 of `key`'s SubjectPublicKeyInfo, as a `signer` record carries it.
pub fn spki_sha256(key: &rsa::PrivateKey) -> Result<String> {
    Ok(sha256_hex(&spki_der(key)?))
}

fn spki_der(key: &rsa::PrivateKey) -> Result<Vec<u8>> {
    Ok(key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| err!("{e}"))?
        .as_bytes()
        .to_vec())
}

/// A close record's signature by a software `key`, made as byok's HSM signer makes it
/// (RSASSA-PKCS1-v1_5 SHA-256 over the line without its signature).
pub fn sign_close(key: &rsa::PrivateKey, body: &[u8]) -> Result<Signature> {
    let spki = spki_der(key)?;
    let value = key
        .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(body))
        .map_err(|e| err!("{e}"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok(Signature {
        alg: SIG_ALG.into(),
        signer: "byok-transcript-signer".into(),
        spki: b64.encode(&spki),
        spki_sha256: sha256_hex(&spki),
        value: b64.encode(value),
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| err!(Io, "cannot write {}: {e}", path.display()))
}
