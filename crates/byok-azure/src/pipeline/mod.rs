//! The connected pipeline: KEKs in the vault, upload, verify, backup and restore drills.
//!
//! Each operation checks what it can before it sends anything, never replaces a key
//! silently, and is safe to run again after a failure: what is done stays done.

use crate::backup::{self, time_fmt::Utc, ManifestEntry};
use crate::vault::{check_key_name, outcome_unknown, AttestationAnswer, KeyBundle, Vault};
use azure_security_keyvault_keys::models::{EncryptionAlgorithm, KeyOperation};
use byok_core::attestation::policy::PREMIUM_NO_ATTESTATION;
use byok_core::attestation::{ExpectedKey, TrustRoots};
use byok_core::kek::Kek;
use byok_core::keyid::KeyId;
use byok_core::{bail, err, words, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The tag `byok upload` puts on imported keys: the package's SHA-256.
pub const PACKAGE_TAG: &str = "byok-package-sha256";

/// Customer Key's "no expiry": none, or 9999-12-31.
const EXPIRY_9999: i64 = 253_402_214_400;

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

fn kek_report(
    bundle: &KeyBundle,
    file: Option<PathBuf>,
    created: bool,
    mode: byok_core::Mode,
) -> Result<KekVaultReport> {
    let json =
        serde_json::to_vec_pretty(&bundle.json).map_err(|e| err!("cannot encode the key: {e}"))?;
    let kek = Kek::from_bytes(&json, None, mode)
        .map_err(|e| e.context("the vault's key is not a usable KEK"))?;
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

/// Create a KEK: RSA-HSM, operations import only. An existing name is refused.
pub fn kek_create(v: &Vault, name: &str, bits: u32) -> Result<KekVaultReport> {
    check_key_name(name)?;
    if !byok_core::kek::KEK_BITS.contains(&(bits as usize)) {
        bail!("a KEK is RSA 2048, 3072 or 4096 bits, not {bits}");
    }
    if let Some(k) = v.get_key(name, None)? {
        bail!(
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

/// The service of a vault URL: `keyvault`, `managedhsm` or `loopback`.
fn service(url: &str) -> &'static str {
    KeyId::parse(
        &format!("{url}/keys/probe/{}", "0".repeat(32)),
        byok_core::Mode::Rehearsal,
    )
    .map(|k| k.service)
    .unwrap_or("loopback")
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
    if attestation && service(&v.url) == "keyvault" {
        bail!(
            "{PREMIUM_NO_ATTESTATION}: {} is a Key Vault, so its KEKs come without attestation; fetch the KEK without --attestation",
            v.url
        );
    }
    let mut bundle = v.get_key(name, version)?.ok_or_else(|| match version {
        Some(ver) => err!(
            "no version {ver} of key {name} in {}: check the version (`az keyvault key list-versions`), or leave --version out for the latest",
            v.url
        ),
        None => err!(
            "no key {name} in {}: create the KEK first (`byok kek create`)",
            v.url
        ),
    })?;
    let mut report = kek_report(&bundle, Some(out.to_path_buf()), false, v.mode)?;
    if attestation {
        let ver = bundle
            .version()
            .ok_or_else(|| err!("the vault's key has no version in its kid"))?
            .to_string();
        match v.get_attestation(name, &ver)? {
            AttestationAnswer::Bundle(att) => {
                if att.kid() != bundle.kid() || att.n() != bundle.n() || att.e() != bundle.e() {
                    bail!(
                        "the vault's attestation answer is about another key ({}) than {}: nothing written; check the vault",
                        att.kid().unwrap_or("no kid"),
                        bundle.kid().unwrap_or("")
                    );
                }
                let a = att.attributes()["attestation"].clone();
                if !a.is_object() {
                    bail!("the vault's attestation answer holds no attributes.attestation: nothing written; is this a Managed HSM?");
                }
                bundle.json["attributes"]["attestation"] = a;
                report.attestation_stored = true;
            }
            AttestationAnswer::NoAttestation(detail) => bail!(
                "{} offers no key attestation ({detail}). {PREMIUM_NO_ATTESTATION}; fetch the KEK without --attestation",
                v.url
            ),
        }
    }
    let mut json =
        serde_json::to_vec_pretty(&bundle.json).map_err(|e| err!("cannot encode the key: {e}"))?;
    json.push(b'\n');
    byok_core::fsutil::write_new(out, &json, 0o644)?;
    Ok(report)
}

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

/// Upload a BYOK package as key `name`.
///
/// Refuses, before sending anything, a package whose KEK is in another vault. Refuses an
/// existing name unless `new_version` (a key roll). The key is RSA-HSM with operations
/// wrapKey and unwrapKey, no expiry, and a tag with the package's SHA-256, which makes a
/// rerun safe: if the vault's latest version carries this package's tag (or, given the
/// HSM's `public_key`, is that public key), the upload is done; another key is an error. A write whose connection broke is
/// resolved by looking at the vault, not by sending it again blind.
pub fn upload(
    v: &Vault,
    package_path: &Path,
    name: &str,
    new_version: bool,
    public_key: Option<&Path>,
) -> Result<UploadReport> {
    check_key_name(name)?;
    // With the HSM's public key, a key already in the vault can be recognized even
    // without byok's tag (uploaded by another tool, or the tag removed).
    let hsm_key = public_key
        .map(byok_core::kek::read_rsa_public)
        .transpose()?;
    let bytes = byok_core::fsutil::read_limited(package_path, 1 << 20, "package")?;
    let (pkg, _) = byok_core::package::inspect(&bytes, None, v.mode)
        .map_err(|e| e.context(package_path.display()))?;
    let kid = KeyId::parse(&pkg.header.kid, v.mode)?;
    if kid.vault != v.url {
        bail!(
            "{} was wrapped under a KEK of {}, not of {}: Key Vault can only import it into the KEK's own vault; upload it there",
            package_path.display(),
            kid.vault,
            v.url
        );
    }
    let sha = hex::encode(Sha256::digest(&bytes));
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
        if existing.tag(PACKAGE_TAG) == Some(sha.as_str()) {
            return done(&existing, true);
        }
        if let Some((n, e)) = &hsm_key {
            if existing.n().as_ref() == Some(n) && existing.e().as_ref() == Some(e) {
                return done(&existing, true);
            }
        }
        if !new_version {
            bail!(
                "key {name} already exists in {} with another key (version {}): byok never replaces a key silently; to roll the key, add --new-version",
                v.url,
                existing.version().unwrap_or("?")
            );
        }
    }
    let tags = BTreeMap::from([(PACKAGE_TAG.to_string(), sha.clone())]);
    let mut last_error = None;
    for _ in 0..3 {
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
    Err(last_error.unwrap_or_else(|| err!("the upload did not complete")))
}

/// One rule `byok verify` checks.
#[derive(Debug, Serialize)]
pub struct Rule {
    pub rule: &'static str,
    pub ok: bool,
    pub found: String,
    pub fix: &'static str,
}

/// What `byok verify` reports.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub vault: String,
    pub name: String,
    pub kid: String,
    pub rules: Vec<Rule>,
    pub ok: bool,
}

/// Check that the vault holds exactly the HSM's key with what Customer Key requires
/// (attestations checked against the pinned Marvell roots only).
pub fn verify(v: &Vault, name: &str, pub_path: &Path) -> Result<VerifyReport> {
    verify_with_roots(v, name, pub_path, &TrustRoots::marvell()?)
}

/// The attestation rule of `verify`: `None` when the vault offers no attestation
/// (Key Vault); else whether the attestation proves the vault's key is the HSM's key
/// (same modulus and exponent, the same key name and version) and not extractable.
fn attestation_rule(
    v: &Vault,
    name: &str,
    k: &KeyBundle,
    n: &[u8],
    e: &[u8],
    roots: &TrustRoots,
) -> Option<(bool, String)> {
    let svc = service(&v.url);
    if svc == "keyvault" {
        return None;
    }
    let kid = k.kid().unwrap_or("").to_string();
    let version = k.version().unwrap_or("");
    let att = match v.get_attestation(name, version) {
        Ok(AttestationAnswer::Bundle(b)) => b,
        // The simulator without --managed-hsm is a Key Vault: no rule.
        Ok(AttestationAnswer::NoAttestation(_)) if svc == "loopback" => return None,
        Ok(AttestationAnswer::NoAttestation(d)) => return Some((false, d)),
        Err(e) => return Some((false, e.message().to_string())),
    };
    let expected = ExpectedKey {
        n: n.to_vec(),
        e: e.to_vec(),
        kid: Some(kid),
    };
    let report =
        match byok_core::attestation::verify_azure(&att.json.to_string(), Some(&expected), roots) {
            Ok(r) => r,
            Err(e) => return Some((false, e.message().to_string())),
        };
    let Some(p) = report.private_object() else {
        return Some((false, "no private key object is attested".into()));
    };
    let ok = p.extractable == Some(false) && p.sensitive == Some(true);
    let found = format!(
        "{}: same modulus and exponent, extractable {}, sensitive {}, HSM {} ({}){}",
        if ok { "verified" } else { "verified, but" },
        yes_no(p.extractable),
        yes_no(p.sensitive),
        report.hsm_serial.as_deref().unwrap_or("(unknown)"),
        report.mode,
        if report.extra_root_used {
            "; chain ends at an EXTRA trust root (rehearsal only)"
        } else {
            ""
        }
    );
    Some((ok, found))
}

fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not attested",
    }
}

/// [`verify`] with the trust roots for the Managed HSM attestation rule (extra roots
/// are for rehearsals against the simulator).
pub fn verify_with_roots(
    v: &Vault,
    name: &str,
    pub_path: &Path,
    roots: &TrustRoots,
) -> Result<VerifyReport> {
    check_key_name(name)?;
    let (n, e) = byok_core::kek::read_rsa_public(pub_path)?;
    let k = v.get_key(name, None)?.ok_or_else(|| {
        err!(
            "no key {name} in {}: upload it first (`byok upload`)",
            v.url
        )
    })?;
    let mut rules = Vec::new();
    let mut rule = |rule, ok, found: String, fix| {
        rules.push(Rule {
            rule,
            ok,
            found,
            fix,
        })
    };
    let same = k.n().as_deref() == Some(&n[..]) && k.e().as_deref() == Some(&e[..]);
    rule(
        "the vault's key is the HSM's key",
        same,
        if same {
            "same modulus and exponent".into()
        } else {
            "a different public key".into()
        },
        "this is not the key the ceremony made: do not use it; upload the ceremony's package",
    );
    let kty = k.kty().unwrap_or("").to_string();
    rule(
        "kty is RSA-HSM",
        kty == "RSA-HSM",
        kty,
        "import the package as RSA-HSM (`byok upload` does)",
    );
    let enabled = k.enabled();
    rule(
        "enabled",
        enabled == Some(true),
        format!("{enabled:?}"),
        "az keyvault key set-attributes --enabled true",
    );
    let exp = k.exp();
    rule(
        "no expiry (or 9999-12-31)",
        exp.is_none_or(|x| x >= EXPIRY_9999),
        exp.map(|x| Utc(x).rfc3339()).unwrap_or_else(|| "none".into()),
        "Customer Key keys must not expire: az keyvault key set-attributes --expires 9999-12-31T00:00:00Z",
    );
    let ops = k.key_ops();
    rule(
        "key_ops include wrapKey and unwrapKey",
        ops.iter().any(|o| o == "wrapKey") && ops.iter().any(|o| o == "unwrapKey"),
        ops.join(","),
        "az keyvault key set-attributes --ops wrapKey unwrapKey",
    );
    let level = k.recovery_level().unwrap_or("").to_string();
    rule(
        "recovery level Recoverable+ProtectedSubscription",
        level == "Recoverable+ProtectedSubscription",
        level,
        "turn on soft delete and purge protection: az keyvault update --enable-purge-protection true",
    );
    // A live round trip: wrap locally with the HSM's public key, unwrap in the vault.
    let round_trip = if same {
        let secret: [u8; 32] = rand::random();
        let public = byok_core::kek::rsa_from_parts(&n, &e)?;
        let wrapped = public
            .encrypt(&mut rand::rng(), rsa::Oaep::<sha2::Sha256>::new(), &secret)
            .map_err(|e| err!("cannot wrap locally: {e}"))?;
        match v.unwrap_key(
            name,
            k.version().unwrap_or(""),
            EncryptionAlgorithm::RsaOaep256,
            &wrapped,
        ) {
            Ok(got) if got == secret => (true, "unwrapKey returned the value".to_string()),
            Ok(_) => (false, "unwrapKey returned another value".to_string()),
            Err(e) => (false, e.message().to_string()),
        }
    } else {
        (false, "skipped: not the HSM's key".to_string())
    };
    rule(
        "round trip: RSA-OAEP-256 wrapped here, unwrapped in the vault",
        round_trip.0,
        round_trip.1,
        "the vault cannot use the key: check key_ops, enabled, and this identity's unwrapKey permission",
    );
    if let Some((ok, found)) = attestation_rule(v, name, &k, &n, &e, roots) {
        rules.push(Rule {
            rule: "Managed HSM attestation: the HSM's key, not extractable",
            ok,
            found,
            fix: "the Managed HSM's own statement about this key does not hold: do not use the key; check it with `az keyvault key get-attestation` and `byok attestation verify`, and import the ceremony's package again (with the simulator, give --trust-root DIR/attestation-root.pem)",
        });
    }
    let ok = rules.iter().all(|r| r.ok);
    Ok(VerifyReport {
        vault: v.url.clone(),
        name: name.to_string(),
        kid: k.kid().unwrap_or("").to_string(),
        rules,
        ok,
    })
}

/// What `byok backup` reports.
#[derive(Debug, Serialize)]
pub struct BackupReport {
    pub entry: ManifestEntry,
    pub path: PathBuf,
    pub copied_to: Option<String>,
}

/// Back up key `name` into `out_dir` (and, with `copy_to`, a Blob Storage container).
pub fn backup(v: &Vault, name: &str, out_dir: &Path) -> Result<BackupReport> {
    check_key_name(name)?;
    if !out_dir.is_dir() {
        bail!(
            "backup directory {} does not exist: create it first",
            out_dir.display()
        );
    }
    let k = v
        .get_key(name, None)?
        .ok_or_else(|| err!("no key {name} in {}: nothing to back up", v.url))?;
    let blob = v.backup(name)?;
    let entry = backup::store(
        out_dir,
        &v.url,
        name,
        k.version().unwrap_or(""),
        &k.spki_sha256()?,
        &blob,
        Utc::now(),
    )?;
    Ok(BackupReport {
        path: out_dir.join(&entry.file),
        entry,
        copied_to: None,
    })
}

/// Store a backup file also as a blob in `container_url` (the online copy), under the
/// same name, never over an existing blob, and read it back to check it.
pub fn copy_to_blob(v: &Vault, container_url: &str, file: &Path) -> Result<String> {
    crate::blob::ContainerUrl::parse(container_url)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| err!("{} has no file name", file.display()))?;
    let bytes = std::fs::read(file).map_err(|e| err!("cannot read {}: {e}", file.display()))?;
    let token = v.token_for("https://storage.azure.com/.default")?;
    let (http, rt) = v.http();
    let put = rt.block_on(crate::blob::put_new_blob(
        http,
        &token,
        container_url,
        &name,
        &bytes,
    ));
    let receipt = match put {
        Ok(r) => r,
        Err(e) => {
            // A retry after a lost answer finds its own blob: the same bytes count as done.
            let same = rt
                .block_on(crate::blob::get_blob(http, &token, container_url, &name))
                .map(|b| b == bytes)
                .unwrap_or(false);
            if !same {
                return Err(e.context("the online copy was not stored (the local backup was)"));
            }
            return Ok(format!("{}/{name}", container_url.trim_end_matches('/')));
        }
    };
    let back = rt.block_on(crate::blob::get_blob(http, &token, container_url, &name))?;
    if back != bytes {
        bail!("the online copy of {name} reads back different bytes: check the storage account");
    }
    Ok(receipt.url)
}

/// One restore in a drill.
#[derive(Debug, Serialize)]
pub struct DrillResult {
    pub file: String,
    pub key: String,
    pub restored_kid: String,
    pub same_key: bool,
    pub cleaned_up: bool,
}

/// Restore every backup in the manifest into a scratch vault, compare each restored key
/// with the key that was backed up, and remove it again.
pub fn restore_drill(
    scratch: &Vault,
    dir: &Path,
    entries: &[ManifestEntry],
) -> Result<Vec<DrillResult>> {
    let mut out = Vec::new();
    for e in entries {
        if crate::vault::check_vault_url(&e.vault, scratch.mode)
            .ok()
            .as_deref()
            == Some(scratch.url.as_str())
        {
            bail!(
                "{} is the vault {} was backed up from: a restore drill goes into a scratch vault, never the source",
                scratch.url,
                e.file
            );
        }
        let blob =
            std::fs::read(dir.join(&e.file)).map_err(|er| err!("cannot read {}: {er}", e.file))?;
        let restored = scratch
            .restore(&blob)
            .map_err(|er| er.context(format!("restore drill of {}", e.file)))?;
        let same = restored.spki_sha256()? == e.key_spki_sha256;
        let cleaned = scratch.delete_and_purge(&e.key)?;
        out.push(DrillResult {
            file: e.file.clone(),
            key: e.key.clone(),
            restored_kid: restored.kid().unwrap_or("").to_string(),
            same_key: same,
            cleaned_up: cleaned,
        });
        if !same {
            bail!(
                "restore drill: {} restored a different key than was backed up; do not rely on it",
                e.file
            );
        }
        if !cleaned {
            bail!(
                "restore drill: {} restored, but the scratch vault {} refuses to purge it; use a scratch vault without purge protection",
                e.file,
                scratch.url
            );
        }
    }
    Ok(out)
}
