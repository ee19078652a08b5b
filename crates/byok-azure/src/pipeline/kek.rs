//! KEKs in the vault: `byok kek create` (RSA-HSM, operation import only, never over an
//! existing name) and `byok kek fetch` (the KeyBundle into a new file, checked as the
//! offline side will check it, optionally with the Managed HSM's key attestation).

use crate::causes::rekind;
use crate::vault::{check_key_name, outcome_unknown, AttestationAnswer, KeyBundle, Vault};
use azure_security_keyvault_keys::models::KeyOperation;
use byok_core::attestation::policy::PREMIUM_NO_ATTESTATION;
use byok_core::kek::Kek;
use byok_core::keyid::KeyId;
use byok_core::keyid::Service;
use byok_core::{bail, err, words, Mode, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `kek create` and `kek fetch` report.
#[derive(Debug, Serialize)]
pub struct KekVaultReport {
    pub kid: String,
    pub bits: usize,
    pub sha256: String,
    pub sha256_words: String,
    pub file: Option<PathBuf>,
    pub created: bool,
    /// The vault's key attestation was stored in the file (`kek fetch --attestation`).
    pub attestation_stored: bool,
}

/// The KeyBundle as the KEK file holds it: pretty JSON.
fn kek_json(bundle: &KeyBundle) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(&bundle.json)
        .map_err(|e| err!(Internal, "cannot encode the key: {e}"))
}

fn kek_report(
    bundle: &KeyBundle,
    file: Option<PathBuf>,
    created: bool,
    mode: Mode,
) -> Result<KekVaultReport> {
    let kek = Kek::from_bytes(&kek_json(bundle)?, None, mode).map_err(|e| {
        rekind(
            e,
            byok_core::ErrorKind::Service,
            "the vault's key is not a usable KEK",
        )
    })?;
    let fp = kek.sha256();
    Ok(KekVaultReport {
        kid: kek.kid.as_ref().map(KeyId::url).unwrap_or_default(),
        bits: kek.bits(),
        sha256: hex::encode(fp),
        sha256_words: words::to_words(&fp),
        file,
        created,
        attestation_stored: false,
    })
}

/// Create a KEK: RSA-HSM, operations import only. An existing name is refused (`Exists`).
pub fn kek_create(v: &Vault, name: &str, bits: u32) -> Result<KekVaultReport> {
    check_key_name(name)?;
    check_kek_bits(bits)?;
    if let Some(k) = v.get_key(name, None)? {
        bail!(
            Exists,
            "key {name} already exists in {} ({}); fetch it with `byok kek fetch`, or choose another name",
            v.url,
            k.kid().unwrap_or("")
        );
    }
    let bundle = match v.create_rsa_hsm(name, bits, vec![KeyOperation::Import]) {
        Ok(b) => b,
        // The vault may have made it before the connection broke: it did not exist before.
        Err(e) if outcome_unknown(&e) => v
            .get_key(name, None)?
            .ok_or_else(|| e.context("the KEK was not created"))?,
        Err(e) => return Err(e),
    };
    kek_report(&bundle, None, true, v.mode)
}

fn check_kek_bits(bits: u32) -> Result<()> {
    if !byok_core::kek::KEK_BITS.contains(&(bits as usize)) {
        bail!("a KEK is RSA 2048, 3072 or 4096 bits, not {bits}");
    }
    Ok(())
}

/// Fetch a KEK's KeyBundle into `out` (never over an existing file), checked as the
/// offline side will check it. With `attestation` (Managed HSM), the key's attestation
/// (`GET /keys/NAME/VERSION/attestation`) is fetched too, checked to be about the same
/// key, and its `attestation` object merged into the file's `attributes`: one file,
/// which every reader of KEK files takes as before, and which `kek inspect`, `wrap` and
/// the ceremony verify.
pub fn kek_fetch(
    v: &Vault,
    name: &str,
    version: Option<&str>,
    out: &Path,
    attestation: bool,
) -> Result<KekVaultReport> {
    check_key_name(name)?;
    byok_core::fsutil::refuse_existing(out)?;
    if attestation && v.service() == Service::KeyVault {
        bail!(
            "{PREMIUM_NO_ATTESTATION}: {} is a Key Vault, so its KEKs come without attestation; fetch the KEK without --attestation",
            v.url
        );
    }
    let mut bundle = v.get_key(name, version)?.ok_or_else(|| match version {
        Some(ver) => err!(
            NotFound,
            "no version {ver} of key {name} in {}: check the version (`az keyvault key list-versions`), or leave --version out for the latest",
            v.url
        ),
        None => err!(
            NotFound,
            "no key {name} in {}: create the KEK first (`byok kek create`)",
            v.url
        ),
    })?;
    let mut report = kek_report(&bundle, Some(out.to_path_buf()), false, v.mode)?;
    if attestation {
        let ver = bundle
            .version()
            .ok_or_else(|| err!(Service, "the vault's key has no version in its kid"))?
            .to_string();
        match v.get_attestation(name, &ver)? {
            AttestationAnswer::Bundle(att) => merge_attestation(&mut bundle, &att)?,
            AttestationAnswer::NoAttestation(detail) => bail!(
                Service,
                "{} offers no key attestation ({detail}). {PREMIUM_NO_ATTESTATION}; fetch the KEK without --attestation",
                v.url
            ),
        }
        report.attestation_stored = true;
    }
    let mut json = kek_json(&bundle)?;
    json.push(b'\n');
    byok_core::fsutil::write_new(out, &json, 0o644)?;
    Ok(report)
}

/// Merge the attestation answer `att` into the KEK's `bundle`: only when it is about the
/// same key (`Integrity` otherwise) and holds `attributes.attestation`.
fn merge_attestation(bundle: &mut KeyBundle, att: &KeyBundle) -> Result<()> {
    if !att.same_key_as(bundle) {
        bail!(
            Integrity,
            "the vault's attestation answer is about another key ({}) than {}: nothing written; check the vault",
            att.kid().unwrap_or("no kid"),
            bundle.kid().unwrap_or("")
        );
    }
    let a = att.attributes()["attestation"].clone();
    if !a.is_object() {
        bail!(
            Service,
            "the vault's attestation answer holds no attributes.attestation: nothing written; is this a Managed HSM?"
        );
    }
    bundle.set_attestation(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;
    use serde_json::json;

    fn test_kek() -> &'static byok_testkit::testkek::TestKek {
        byok_testkit::harness::kek(2048)
    }

    fn bundle() -> KeyBundle {
        let json: serde_json::Value = serde_json::from_str(&test_kek().key_bundle_json()).unwrap();
        KeyBundle::from_json(json).unwrap()
    }

    #[test]
    fn reports_the_kek_fingerprint() {
        let k = test_kek();
        let r = kek_report(&bundle(), None, true, Mode::Rehearsal).unwrap();
        let kek = k.kek().unwrap();
        assert_eq!(r.kid, k.kid);
        assert_eq!(r.bits, 2048);
        assert_eq!(r.sha256, hex::encode(kek.sha256()));
        assert_eq!(r.sha256_words, words::to_words(&kek.sha256()));
        assert!(r.created && !r.attestation_stored);
        // The test KEK lives on the simulator's loopback address: not outside a rehearsal.
        let e = kek_report(&bundle(), None, false, Mode::Ceremony).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Service);
        assert!(
            e.message()
                .starts_with("the vault's key is not a usable KEK"),
            "{e}"
        );
    }

    #[test]
    fn kek_sizes() {
        for ok in [2048, 3072, 4096] {
            check_kek_bits(ok).unwrap();
        }
        for bad in [0, 1024, 2047, 8192] {
            assert_eq!(check_kek_bits(bad).unwrap_err().kind(), ErrorKind::BadInput);
        }
    }

    #[test]
    fn attestation_of_the_same_key_is_merged() {
        let mut b = bundle();
        let mut att = bundle();
        att.json["attributes"] = json!({"attestation": {"certificatePemFile": "x"}});
        merge_attestation(&mut b, &att).unwrap();
        assert_eq!(b.attributes()["attestation"]["certificatePemFile"], "x");
        // The KEK is still a KEK with the attestation in it.
        kek_report(&b, None, false, Mode::Rehearsal).unwrap();
    }

    #[test]
    fn attestation_of_another_key_is_refused() {
        let mut b = bundle();
        let mut other = bundle();
        let mut kid = test_kek().kid.clone();
        let last = kid.pop().unwrap();
        kid.push(if last == '0' { '1' } else { '0' });
        other.json["key"]["kid"] = json!(kid);
        other.json["attributes"] = json!({"attestation": {}});
        let e = merge_attestation(&mut b, &other).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Integrity);
        assert!(
            b.attributes().get("attestation").is_none(),
            "nothing merged"
        );
        let mut other = bundle();
        other.json["key"]["n"] = json!("AQAB");
        other.json["attributes"] = json!({"attestation": {}});
        assert_eq!(
            merge_attestation(&mut b, &other).unwrap_err().kind(),
            ErrorKind::Integrity
        );
        // The same key without an attestation object.
        let e = merge_attestation(&mut b, &bundle()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Service);
    }
}
