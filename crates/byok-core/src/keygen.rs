//! Generating BYOK source keys on the HSM, and the Security Officer's trusted-KEK step.

use crate::console::Console;
use crate::fsutil;
use crate::hsm::{Hsm, Token, Verdict};
use crate::kek::Kek;
use crate::keyid::valid_key_name;
use crate::pin::PinKind;
use crate::{bail, words, Result};
use serde::Serialize;
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

/// Generate an RSA key pair for BYOK on the token ([`templates::byok_key`]): a token
/// object, private, sensitive and extractable only wrapped, with no local use. A label
/// already on the token is refused, as is an existing output file; if writing the public
/// key fails the new pair is destroyed, so a failed run leaves nothing behind.
///
/// [`templates::byok_key`]: crate::hsm::templates::byok_key
pub fn keygen(token: &dyn Token, req: &KeygenRequest<'_>) -> Result<KeygenReport> {
    check_label(req.label)?;
    check_bits(req.bits)?;
    let pem_path = pub_pem_path(req.out_dir, req.label);
    fsutil::refuse_existing(&pem_path)?;
    if !req.out_dir.is_dir() {
        bail!(
            NotFound,
            "output directory {} does not exist: create it first",
            req.out_dir.display()
        );
    }
    if token.objects_labelled(req.label)? > 0 {
        bail!(
            Exists,
            "the token already has an object labelled \"{}\": byok never reuses a label; choose another (Key001 → Key002)",
            req.label
        );
    }
    if req.wrap_with_trusted && token.verdict()? != Verdict::Native {
        bail!(
            "--wrap-with-trusted needs CKM_RSA_AES_KEY_WRAP on the token: with the two-step wrap the key would be wrapped by an ephemeral AES key that cannot be trusted, so it could never be exported"
        );
    }
    let pair = token.generate_byok_key(req.label, req.bits, req.wrap_with_trusted)?;
    crate::crashpoint::hit(crate::crashpoint::CrashPoint::Generated(
        crate::transcript::StepName::Keygen,
    ));
    let finish = || -> Result<KeygenReport> {
        let facts = token.key_facts(pair.private)?;
        let pem = facts.public_pem()?;
        fsutil::write_new(&pem_path, pem.as_bytes(), 0o644)?;
        let fp = crate::util::sha256(&facts.spki_der()?);
        Ok(KeygenReport {
            label: facts.label.clone(),
            id: facts.id.clone(),
            bits: facts.bits,
            public_key_file: pem_path.clone(),
            spki_sha256: hex::encode(fp),
            spki_sha256_words: words::to_words(&fp),
            token: token.identity(),
            attributes: facts.private,
        })
    };
    match finish() {
        Ok(r) => Ok(r),
        Err(e) => {
            let a = token.destroy(pair.private);
            let b = token.destroy(pair.public);
            match (a, b) {
                (Ok(()), Ok(())) => Err(e.context("the new key pair was destroyed")),
                _ => Err(e.context(
                    "the new key pair could NOT be destroyed: remove it from the token by hand",
                )),
            }
        }
    }
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
    console: &dyn Console,
) -> Result<TrustReport> {
    let fp = kek.sha256();
    if !expected_sha256.eq_ignore_ascii_case(&hex::encode(fp)) {
        bail!(
            Integrity,
            "the KEK's SHA-256 is {}, not the {} given with --sha256: this is not the KEK the officers confirmed; stop and fetch the KEK again",
            hex::encode(fp),
            expected_sha256
        );
    }
    let label = format!("byok-kek-{}", &hex::encode(fp)[..16]);
    let session = hsm.login_as(PinKind::SecurityOfficer, so_pin_file, console)?;
    if session.objects_labelled(&label)? > 0 {
        bail!(
            Exists,
            "the token already holds this KEK as \"{label}\": nothing to do"
        );
    }
    session.store_trusted_kek(
        &kek.public_modulus(),
        &kek.public_exponent(),
        &label,
        &fp[..16],
    )?;
    Ok(TrustReport {
        label,
        kid: kek.kid.as_ref().map(|k| k.url()),
        sha256: hex::encode(fp),
        sha256_words: words::to_words(&fp),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_sizes() {
        assert!(check_label("Contoso-O365EX-NA-VaultA1-Key001").is_ok());
        for bad in ["", "a_b", "a b", "../x", &"k".repeat(128)] {
            assert!(check_label(bad).is_err(), "{bad:?}");
        }
        for ok in KEY_BITS {
            assert!(check_bits(ok).is_ok());
        }
        let e = check_bits(1024).unwrap_err();
        assert!(e.message().contains("2048, 3072 or 4096"), "{e}");
        assert_eq!(
            pub_pem_path(Path::new("out"), "K1"),
            PathBuf::from("out/K1.pub.pem")
        );
    }
}
