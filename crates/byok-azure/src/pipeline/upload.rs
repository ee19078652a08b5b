//! `byok upload`: import a BYOK package into its KEK's vault, never replacing a key
//! silently, safe to run again.

use super::PACKAGE_TAG;
use crate::vault::{check_key_name, outcome_unknown, KeyBundle, Vault};
use byok_core::keyid::KeyId;
use byok_core::util::sha256_hex;
use byok_core::{bail, err, Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Imports tried when the connection keeps breaking and the vault shows no result.
const ATTEMPTS: usize = 3;

/// What `byok upload` reports.
#[derive(Debug, Serialize)]
pub struct UploadReport {
    pub vault: String,
    pub name: String,
    pub kid: String,
    pub version: String,
    pub package_sha256: String,
    pub key_spki_sha256: String,
    /// The vault already held this package's key: nothing was sent.
    pub already_done: bool,
}

/// Is the vault's `existing` key this upload's key: it carries the package's hash tag
/// `package_sha256`, or (given the HSM's public key) it is that public key?
fn is_this_key(
    existing: &KeyBundle,
    package_sha256: &str,
    hsm_key: Option<&(Vec<u8>, Vec<u8>)>,
) -> bool {
    if existing.tag(PACKAGE_TAG) == Some(package_sha256) {
        return true;
    }
    match hsm_key {
        Some((n, e)) => existing.n().as_ref() == Some(n) && existing.e().as_ref() == Some(e),
        None => false,
    }
}

/// Refuse a package wrapped under a KEK of another vault than `vault_url`: Key Vault can
/// only import it into the KEK's own vault.
fn check_package_vault(package: &Path, kek_vault: &str, vault_url: &str) -> Result<()> {
    if kek_vault != vault_url {
        bail!(
            "{} was wrapped under a KEK of {}, not of {}: Key Vault can only import it into the KEK's own vault; upload it there",
            package.display(),
            kek_vault,
            vault_url
        );
    }
    Ok(())
}

/// Upload a BYOK package as key `name`.
///
/// Refuses, before sending anything, a package whose KEK is in another vault. Refuses an
/// existing name unless `new_version` (a key roll). The key is RSA-HSM with operations
/// wrapKey and unwrapKey, no expiry, and a tag with the package's SHA-256, which makes a
/// rerun safe: if the vault's latest version carries this package's tag (or, given the
/// HSM's `public_key`, is that public key), the upload is done; another key is an error
/// (`Exists`). A write whose connection broke is resolved by looking at the vault, not by
/// sending it again blind.
///
/// With `expect_sha256`, the package's bytes as read for sending must have that SHA-256
/// (the hash the manifest and transcript recorded): a file changed after it was checked
/// is refused before anything is sent.
pub fn upload(
    v: &Vault,
    package_path: &Path,
    name: &str,
    new_version: bool,
    public_key: Option<&Path>,
    expect_sha256: Option<&str>,
) -> Result<UploadReport> {
    check_key_name(name)?;
    // With the HSM's public key, a key already in the vault can be recognized even
    // without byok's tag (uploaded by another tool, or the tag removed).
    let hsm_key = public_key
        .map(byok_core::kek::read_rsa_public)
        .transpose()?;
    let bytes = byok_core::fsutil::read_limited(package_path, 1 << 20, "package")?;
    if let Some(want) = expect_sha256 {
        let got = sha256_hex(&bytes);
        if !got.eq_ignore_ascii_case(want.trim()) {
            bail!(
                Integrity,
                "{} has SHA-256 {got}, not the expected {want}: it is not the package that was checked (changed or swapped); stop, nothing was sent",
                package_path.display()
            );
        }
    }
    let (pkg, _) = byok_core::package::inspect(&bytes, None, v.mode)
        .map_err(|e| e.context(package_path.display()))?;
    let kid = KeyId::parse(&pkg.header.kid, v.mode)?;
    check_package_vault(package_path, &kid.vault, &v.url)?;
    let sha = sha256_hex(&bytes);
    let done = |b: &KeyBundle, already: bool| -> Result<UploadReport> {
        Ok(UploadReport {
            vault: v.url.clone(),
            name: name.to_string(),
            kid: b.kid().unwrap_or("").to_string(),
            version: b.version().unwrap_or("").to_string(),
            package_sha256: sha.clone(),
            key_spki_sha256: b.spki_sha256()?,
            already_done: already,
        })
    };
    if let Some(existing) = v.get_key(name, None)? {
        if is_this_key(&existing, &sha, hsm_key.as_ref()) {
            return done(&existing, true);
        }
        if !new_version {
            bail!(
                Exists,
                "key {name} already exists in {} with another key (version {}): byok never replaces a key silently; to roll the key, add --new-version (`byok upload`) or \"roll\": true to the plan's key (`byok ceremony import`)",
                v.url,
                existing.version().unwrap_or("?")
            );
        }
    }
    let tags = BTreeMap::from([(PACKAGE_TAG.to_string(), sha.clone())]);
    let mut last_error: Option<Error> = None;
    for _ in 0..ATTEMPTS {
        match v.import_byok(name, &bytes, &["wrapKey", "unwrapKey"], tags.clone()) {
            Ok(b) => return done(&b, false),
            Err(e) if outcome_unknown(&e) => {
                // Did the vault apply it? Its latest version then carries our tag.
                if let Some(b) = v.get_key(name, None)? {
                    if b.tag(PACKAGE_TAG) == Some(sha.as_str()) {
                        return done(&b, false);
                    }
                }
                last_error = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| err!(OutcomeUnknown, "the upload did not complete")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ErrorKind;
    use serde_json::json;

    fn key(tag: Option<&str>, n: &str) -> KeyBundle {
        let mut j =
            json!({"key": {"kid": "https://v.vault.azure.net/keys/k/1", "n": n, "e": "AQAB"}});
        if let Some(t) = tag {
            j["tags"] = json!({ PACKAGE_TAG: t });
        }
        KeyBundle::from_json(j).unwrap()
    }

    #[test]
    fn the_package_tag_or_the_hsm_key_recognizes_a_done_upload() {
        let sha = "ab".repeat(32);
        assert!(is_this_key(&key(Some(&sha), "AQID"), &sha, None));
        assert!(!is_this_key(&key(Some("other"), "AQID"), &sha, None));
        assert!(!is_this_key(&key(None, "AQID"), &sha, None));
        let hsm = (vec![1, 2, 3], vec![1, 0, 1]);
        assert!(is_this_key(&key(None, "AQID"), &sha, Some(&hsm)));
        assert!(
            is_this_key(&key(Some("other"), "AAECAw"), &sha, Some(&hsm)),
            "leading zeros"
        );
        assert!(!is_this_key(&key(None, "AQIE"), &sha, Some(&hsm)));
        let other_e = (vec![1, 2, 3], vec![3]);
        assert!(!is_this_key(&key(None, "AQID"), &sha, Some(&other_e)));
    }

    #[test]
    fn a_package_goes_to_its_kek_vault_only() {
        let p = Path::new("k.byok");
        check_package_vault(p, "https://a.vault.azure.net", "https://a.vault.azure.net").unwrap();
        let e = check_package_vault(p, "https://a.vault.azure.net", "https://b.vault.azure.net")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BadInput);
        assert_eq!(
            e.message(),
            "k.byok was wrapped under a KEK of https://a.vault.azure.net, not of https://b.vault.azure.net: Key Vault can only import it into the KEK's own vault; upload it there"
        );
    }
}
