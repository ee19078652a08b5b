//! Google Cloud KMS: resource names, import methods and key-version algorithms, the
//! commands printed for the connected side (`gcloud kms keys versions import`,
//! `… get-public-key`), and the import job's attestation.
//!
//! The import job (`gcloud kms import-jobs create`) holds the wrapping key; it expires
//! 3 days after creation. Its `describe` output carries the key's PEM and, for HSM
//! jobs, a Marvell attestation of it that byok verifies offline.

use super::{charset, refuse_hostile, shell_quote, string_type};
use crate::attestation::{
    check_kek_properties, verify_marvell_blob, AttestationReport, ExpectedKey, TrustRoots,
};
use crate::hsm::OaepHash;
use crate::kek::Kek;
use crate::{bail, err, Result};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

const KEY_FORMS: &str = "projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY";
const JOB_FORMS: &str = "projects/PROJECT/locations/LOCATION/keyRings/RING/importJobs/JOB";

/// The key ring both names share.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Ring {
    project: String,
    location: String,
    key_ring: String,
}

impl Ring {
    /// Read `projects/P/locations/L/keyRings/R/<kind>/ID`.
    fn parse(s: &str, what: &str, kind: &str, forms: &str) -> Result<(Ring, String)> {
        refuse_hostile(s, what, forms)?;
        let p: Vec<&str> = s.split('/').collect();
        let ["projects", project, "locations", location, "keyRings", key_ring, k, id] = p[..]
        else {
            bail!("{what} {s:?} is not of the form {forms}");
        };
        if k != kind {
            bail!("{what} {s:?} names {k}, not {kind}; expected {forms}");
        }
        // Project ids: lowercase letters, digits, '-' (a project number is digits; old
        // domain-scoped ids have '.' and ':').
        if !charset(project, 100, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.' | b':')
        }) {
            bail!("{what} {s:?} has the project {project:?}: a project id is lowercase letters, digits and '-'; expected {forms}");
        }
        if !charset(location, 64, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'
        }) {
            bail!("{what} {s:?} has the location {location:?}: a location is like us-east1, europe or global; expected {forms}");
        }
        for (field, v) in [("key ring", key_ring), (kind, id)] {
            if !charset(v, 63, |c| {
                c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
            }) {
                bail!("{what} {s:?} has the {field} id {v:?}: Cloud KMS ids are 1-63 letters, digits, '_' or '-'; expected {forms}");
            }
        }
        Ok((
            Ring {
                project: project.into(),
                location: location.into(),
                key_ring: key_ring.into(),
            },
            id.into(),
        ))
    }
}

/// `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CryptoKeyName {
    ring: Ring,
    key: String,
}

impl CryptoKeyName {
    pub fn parse(s: &str) -> Result<CryptoKeyName> {
        let (ring, key) = Ring::parse(s, "the Cloud KMS key name", "cryptoKeys", KEY_FORMS)?;
        Ok(CryptoKeyName { ring, key })
    }
    pub fn project(&self) -> &str {
        &self.ring.project
    }
    pub fn location(&self) -> &str {
        &self.ring.location
    }
    pub fn key_ring(&self) -> &str {
        &self.ring.key_ring
    }
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for CryptoKeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.ring;
        write!(
            f,
            "projects/{}/locations/{}/keyRings/{}/cryptoKeys/{}",
            r.project, r.location, r.key_ring, self.key
        )
    }
}
string_type!(CryptoKeyName);

/// `projects/P/locations/L/keyRings/R/importJobs/J`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImportJobName {
    ring: Ring,
    job: String,
}

impl ImportJobName {
    pub fn parse(s: &str) -> Result<ImportJobName> {
        let (ring, job) = Ring::parse(s, "the Cloud KMS import job name", "importJobs", JOB_FORMS)?;
        Ok(ImportJobName { ring, job })
    }
    pub fn project(&self) -> &str {
        &self.ring.project
    }
    pub fn location(&self) -> &str {
        &self.ring.location
    }
    pub fn key_ring(&self) -> &str {
        &self.ring.key_ring
    }
    pub fn job(&self) -> &str {
        &self.job
    }
}

impl fmt::Display for ImportJobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.ring;
        write!(
            f,
            "projects/{}/locations/{}/keyRings/{}/importJobs/{}",
            r.project, r.location, r.key_ring, self.job
        )
    }
}
string_type!(ImportJobName);

/// Cloud KMS imports a key version only through an import job of its own key ring.
pub fn same_key_ring(key: &CryptoKeyName, job: &ImportJobName) -> bool {
    key.ring == job.ring
}

/// The import methods that can carry an RSA private key (RSA-OAEP + AES-KWP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ImportMethod {
    RsaOaep3072Sha1Aes256,
    RsaOaep4096Sha1Aes256,
    RsaOaep3072Sha256Aes256,
    RsaOaep4096Sha256Aes256,
}

const METHODS: [ImportMethod; 4] = [
    ImportMethod::RsaOaep3072Sha1Aes256,
    ImportMethod::RsaOaep4096Sha1Aes256,
    ImportMethod::RsaOaep3072Sha256Aes256,
    ImportMethod::RsaOaep4096Sha256Aes256,
];
const METHOD_FORMS: &str = "RSA_OAEP_3072_SHA1_AES_256, RSA_OAEP_4096_SHA1_AES_256, RSA_OAEP_3072_SHA256_AES_256 or RSA_OAEP_4096_SHA256_AES_256";

impl ImportMethod {
    pub fn parse(s: &str) -> Result<ImportMethod> {
        refuse_hostile(s, "the Cloud KMS import method", METHOD_FORMS)?;
        if let Some(m) = METHODS.iter().find(|m| m.name() == s) {
            return Ok(*m);
        }
        if s.starts_with("RSA_OAEP_") && !s.ends_with("_AES_256") {
            bail!("the Cloud KMS import method {s} wraps with RSA alone, which cannot carry an RSA private key: RSA keys need {METHOD_FORMS}");
        }
        bail!("the Cloud KMS import method {s:?} is unknown; expected {METHOD_FORMS}")
    }

    pub fn name(self) -> &'static str {
        match self {
            ImportMethod::RsaOaep3072Sha1Aes256 => "RSA_OAEP_3072_SHA1_AES_256",
            ImportMethod::RsaOaep4096Sha1Aes256 => "RSA_OAEP_4096_SHA1_AES_256",
            ImportMethod::RsaOaep3072Sha256Aes256 => "RSA_OAEP_3072_SHA256_AES_256",
            ImportMethod::RsaOaep4096Sha256Aes256 => "RSA_OAEP_4096_SHA256_AES_256",
        }
    }

    /// The import job's wrapping key size.
    pub fn bits(self) -> usize {
        match self {
            ImportMethod::RsaOaep3072Sha1Aes256 | ImportMethod::RsaOaep3072Sha256Aes256 => 3072,
            ImportMethod::RsaOaep4096Sha1Aes256 | ImportMethod::RsaOaep4096Sha256Aes256 => 4096,
        }
    }

    /// The OAEP (and MGF1) hash.
    pub fn hash(self) -> OaepHash {
        match self {
            ImportMethod::RsaOaep3072Sha1Aes256 | ImportMethod::RsaOaep4096Sha1Aes256 => {
                OaepHash::Sha1
            }
            ImportMethod::RsaOaep3072Sha256Aes256 | ImportMethod::RsaOaep4096Sha256Aes256 => {
                OaepHash::Sha256
            }
        }
    }
}

impl fmt::Display for ImportMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_type!(ImportMethod);

/// The RSA key-version algorithms (`CryptoKeyVersionAlgorithm` in googleapis'
/// `google/cloud/kms/v1/resources.proto`): the name, the key size.
const ALGORITHMS: [(&str, usize); 18] = [
    ("RSA_SIGN_PSS_2048_SHA256", 2048),
    ("RSA_SIGN_PSS_3072_SHA256", 3072),
    ("RSA_SIGN_PSS_4096_SHA256", 4096),
    ("RSA_SIGN_PSS_4096_SHA512", 4096),
    ("RSA_SIGN_PKCS1_2048_SHA256", 2048),
    ("RSA_SIGN_PKCS1_3072_SHA256", 3072),
    ("RSA_SIGN_PKCS1_4096_SHA256", 4096),
    ("RSA_SIGN_PKCS1_4096_SHA512", 4096),
    ("RSA_SIGN_RAW_PKCS1_2048", 2048),
    ("RSA_SIGN_RAW_PKCS1_3072", 3072),
    ("RSA_SIGN_RAW_PKCS1_4096", 4096),
    ("RSA_DECRYPT_OAEP_2048_SHA256", 2048),
    ("RSA_DECRYPT_OAEP_3072_SHA256", 3072),
    ("RSA_DECRYPT_OAEP_4096_SHA256", 4096),
    ("RSA_DECRYPT_OAEP_4096_SHA512", 4096),
    ("RSA_DECRYPT_OAEP_2048_SHA1", 2048),
    ("RSA_DECRYPT_OAEP_3072_SHA1", 3072),
    ("RSA_DECRYPT_OAEP_4096_SHA1", 4096),
];

/// An RSA key-version algorithm, e.g. `RSA_SIGN_PKCS1_3072_SHA256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Algorithm(usize);

impl Algorithm {
    pub fn parse(s: &str) -> Result<Algorithm> {
        const FORMS: &str = "an RSA algorithm of Cloud KMS, e.g. RSA_SIGN_PKCS1_3072_SHA256, RSA_SIGN_PSS_4096_SHA512, RSA_SIGN_RAW_PKCS1_2048, RSA_DECRYPT_OAEP_3072_SHA256";
        refuse_hostile(s, "the Cloud KMS algorithm", FORMS)?;
        if let Some(i) = ALGORITHMS.iter().position(|(n, _)| *n == s) {
            return Ok(Algorithm(i));
        }
        if let Some(i) = ALGORITHMS
            .iter()
            .position(|(n, _)| n.replace('_', "-").eq_ignore_ascii_case(s))
        {
            bail!(
                "the Cloud KMS algorithm {s:?} is gcloud's spelling; write the API's name {}",
                ALGORITHMS[i].0
            );
        }
        if !s.starts_with("RSA_") {
            bail!("the Cloud KMS algorithm {s} is not an RSA algorithm; byok imports RSA keys: expected {FORMS}");
        }
        bail!("the Cloud KMS algorithm {s:?} is unknown; expected {FORMS}")
    }

    pub fn name(self) -> &'static str {
        ALGORITHMS.get(self.0).map_or("", |a| a.0)
    }

    /// The key size.
    pub fn bits(self) -> usize {
        ALGORITHMS.get(self.0).map_or(0, |a| a.1)
    }

    /// gcloud's spelling: lowercase, `-` for `_` (`rsa-sign-pkcs1-3072-sha256`).
    pub fn gcloud_name(self) -> String {
        self.name().to_ascii_lowercase().replace('_', "-")
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
string_type!(Algorithm);

/// `gcloud kms keys versions import …`: import the wrapped key into a new version of
/// `key` through `job` (`--project` too, so that gcloud's default project plays no
/// part).
pub fn gcloud_import_command(
    job: &ImportJobName,
    key: &CryptoKeyName,
    alg: Algorithm,
    wrapped_file: &Path,
) -> Result<String> {
    if !same_key_ring(key, job) {
        bail!("the import job {job} is not in the key ring of {key}: Cloud KMS imports only through a job of the key's own ring");
    }
    Ok(format!(
        "gcloud kms keys versions import --import-job {} --location {} --keyring {} --key {} --project {} --algorithm {} --wrapped-key-file {}",
        job.job(),
        key.location(),
        key.key_ring(),
        key.key(),
        key.project(),
        alg.gcloud_name(),
        shell_quote(wrapped_file)?
    ))
}

/// `gcloud kms keys versions get-public-key VERSION …`: the version's public key as
/// PEM in `out`, for `byok verify --pub-from`. `version` is the version number, or a
/// placeholder (`VERSION`) for the person to replace.
pub fn gcloud_get_public_key_command(
    key: &CryptoKeyName,
    version: &str,
    out: &Path,
) -> Result<String> {
    if !charset(version, 32, |c| {
        c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
    }) {
        bail!(
            "the key version {:?} is neither a number nor a placeholder like VERSION",
            crate::text::printable(version)
        );
    }
    Ok(format!(
        "gcloud kms keys versions get-public-key {version} --key {} --keyring {} --location {} --project {} --output-file {}",
        key.key(),
        key.key_ring(),
        key.location(),
        key.project(),
        shell_quote(out)?
    ))
}

/// What [`verify_import_job`] found.
#[derive(Debug, Clone, Serialize)]
pub struct ImportJobReport {
    pub import_method: ImportMethod,
    pub protection_level: String,
    pub state: String,
    /// SHA-256 of the job's public key (SubjectPublicKeyInfo DER), hex.
    pub public_key_sha256: String,
    /// `CAVIUM_V1_COMPRESSED` or `CAVIUM_V2_COMPRESSED`; `None` for a software job.
    pub attestation_format: Option<String>,
    /// The verified attestation of the job's key (HSM jobs).
    pub attestation: Option<AttestationReport>,
}

/// The largest `describe` output read (a real one is a few tens of kilobytes).
pub const DESCRIBE_LIMIT: usize = 1 << 20;

/// Check `gcloud kms import-jobs describe --format=json` against the plan: the job uses
/// `method`, is ACTIVE, holds `kek` (the file the wrap uses), and, when it has an
/// attestation (HSM jobs), the attestation verifies to a root of `roots` and is of
/// `kek`, a key that never left the HSM. A job at protection level HSM without an
/// attestation is refused.
pub fn verify_import_job(
    describe_json: &[u8],
    kek: &Kek,
    method: ImportMethod,
    roots: &TrustRoots,
) -> Result<ImportJobReport> {
    let ctx = "the import job's description";
    if describe_json.len() > DESCRIBE_LIMIT {
        bail!("{ctx} is over {DESCRIBE_LIMIT} bytes; pass the output of gcloud kms import-jobs describe --format=json");
    }
    let text = std::str::from_utf8(describe_json).map_err(|_| {
        err!("{ctx} is not text; pass the output of gcloud kms import-jobs describe --format=json")
    })?;
    let v = crate::json::parse_unique(text).map_err(|e| e.context(ctx))?;
    let field = |name: &str| -> Result<&str> {
        v.get(name).and_then(|x| x.as_str()).ok_or_else(|| {
            err!("{ctx} has no {name:?} text field; pass the output of gcloud kms import-jobs describe --format=json")
        })
    };
    let got = field("importMethod")?;
    if got != method.name() {
        bail!(
            Integrity,
            "the import job's method is {}, the plan says {method}: wrap for the job's method or use a job made with --import-method {method}",
            crate::text::printable(got)
        );
    }
    let state = field("state")?;
    match state {
        "ACTIVE" => {}
        "PENDING_GENERATION" => bail!("the import job is PENDING_GENERATION: its key is not made yet; wait a minute and describe it again"),
        "EXPIRED" => bail!("the import job is EXPIRED (jobs last 3 days): create a new one and fetch its public key again"),
        other => bail!("the import job's state is {:?}, not ACTIVE: create a new one", crate::text::printable(other)),
    }
    let level = field("protectionLevel")?;
    let pem = v
        .get("publicKey")
        .and_then(|p| p.get("pem"))
        .and_then(|p| p.as_str())
        .ok_or_else(|| err!("{ctx} has no publicKey.pem: the job's key is not made yet or the output is cut short; describe it again"))?;
    if !pem.trim_start().starts_with("-----BEGIN") {
        bail!("{ctx}: publicKey.pem is not PEM; describe the job again");
    }
    let job_key = crate::kek::rsa_public_from_bytes(pem.as_bytes())
        .map_err(|e| e.context("the import job's publicKey.pem"))?;
    if job_key.spki_der != kek.spki_der {
        bail!(
            Integrity,
            "the import job's key (SPKI SHA-256 {}) is not the KEK the wrap uses (SPKI SHA-256 {}): fetch the job's key again, or check that this is the right job",
            hex::encode(job_key.sha256()),
            hex::encode(kek.sha256())
        );
    }
    if kek.bits() != method.bits() {
        bail!(
            Integrity,
            "the import job's key is RSA-{}, but {method} means RSA-{}: the description is inconsistent; describe the job again",
            kek.bits(),
            method.bits()
        );
    }
    let (format, attestation) = match v.get("attestation").filter(|a| !a.is_null()) {
        None => {
            if level == "HSM" {
                bail!(Integrity, "the import job is at protection level HSM but its description carries no attestation: pass the full output of gcloud kms import-jobs describe --format=json");
            }
            (None, None)
        }
        Some(att) => {
            if level != "HSM" {
                bail!(
                    Integrity,
                    "the import job carries an attestation but its protection level is {:?}, not HSM: the description is inconsistent; describe the job again",
                    crate::text::printable(level)
                );
            }
            let (format, report) = verify_attestation(att, kek, roots)?;
            (Some(format), Some(report))
        }
    };
    Ok(ImportJobReport {
        import_method: method,
        protection_level: level.to_string(),
        state: state.to_string(),
        public_key_sha256: hex::encode(kek.sha256()),
        attestation_format: format,
        attestation,
    })
}

fn verify_attestation(
    att: &serde_json::Value,
    kek: &Kek,
    roots: &TrustRoots,
) -> Result<(String, AttestationReport)> {
    let ctx = "the import job's attestation";
    let format = att
        .get("format")
        .and_then(|f| f.as_str())
        .ok_or_else(|| err!("{ctx} has no format; describe the job again"))?;
    if !["CAVIUM_V1_COMPRESSED", "CAVIUM_V2_COMPRESSED"].contains(&format) {
        bail!(
            "{ctx} is in the format {:?}; byok verifies CAVIUM_V1_COMPRESSED and CAVIUM_V2_COMPRESSED",
            crate::text::printable(format)
        );
    }
    let content = att
        .get("content")
        .and_then(|c| c.as_str())
        .ok_or_else(|| err!("{ctx} has no content; describe the job again"))?;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(content.trim())
        .map_err(|_| {
            err!(
                "{ctx}'s content is not base64; the description is damaged, describe the job again"
            )
        })?;
    let chains = att
        .get("certChains")
        .ok_or_else(|| err!("{ctx} has no certChains; describe the job again"))?;
    // Marvell's card and partition certificates, Google's partition certificate (same
    // key as Marvell's) and Google's card certificate (checked to carry the card key).
    let mut chain_pem = String::new();
    for list in ["caviumCerts", "googlePartitionCerts", "googleCardCerts"] {
        let Some(certs) = chains.get(list) else {
            if list == "googleCardCerts" {
                continue;
            }
            bail!("{ctx} has no certChains.{list}; describe the job again");
        };
        let certs = certs
            .as_array()
            .ok_or_else(|| err!("{ctx}: certChains.{list} is not a list; describe the job again (gcloud kms import-jobs describe --format=json)"))?;
        for c in certs {
            let c = c
                .as_str()
                .ok_or_else(|| err!("{ctx}: certChains.{list} holds a non-string; describe the job again (gcloud kms import-jobs describe --format=json)"))?;
            chain_pem.push_str(c.trim());
            chain_pem.push('\n');
        }
    }
    let expected = ExpectedKey::from_rsa(&kek.public, None);
    let report = verify_marvell_blob(&blob, &chain_pem, Some(&expected), roots)
        .map_err(|e| e.context("the import job"))?;
    check_kek_properties(&report).map_err(|e| e.context("the import job"))?;
    Ok((format.to_string(), report))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "projects/my-proj-1/locations/us-east1/keyRings/ring_1/cryptoKeys/k-1";
    const JOB: &str = "projects/my-proj-1/locations/us-east1/keyRings/ring_1/importJobs/job1";

    #[test]
    fn names_parse_and_print_back() {
        let k = CryptoKeyName::parse(KEY).unwrap();
        assert_eq!(k.to_string(), KEY);
        assert_eq!(
            (k.project(), k.location(), k.key_ring(), k.key()),
            ("my-proj-1", "us-east1", "ring_1", "k-1")
        );
        let j = ImportJobName::parse(JOB).unwrap();
        assert_eq!(j.to_string(), JOB);
        assert_eq!(j.job(), "job1");
        assert!(same_key_ring(&k, &j));
        let other = ImportJobName::parse(
            "projects/my-proj-1/locations/us-east1/keyRings/ring_2/importJobs/job1",
        )
        .unwrap();
        assert!(!same_key_ring(&k, &other));
        let other = ImportJobName::parse(
            "projects/my-proj-2/locations/us-east1/keyRings/ring_1/importJobs/job1",
        )
        .unwrap();
        assert!(!same_key_ring(&k, &other));
        let k2: CryptoKeyName = serde_json::from_str(&format!("\"{KEY}\"")).unwrap();
        assert_eq!(k2, k);
        assert_eq!(serde_json::to_string(&j).unwrap(), format!("\"{JOB}\""));
        assert!(CryptoKeyName::parse(
            "projects/example.com:p/locations/global/keyRings/r/cryptoKeys/k"
        )
        .is_ok());
    }

    #[test]
    fn bad_and_hostile_names_are_refused_by_name() {
        let cases = [
            (format!("{KEY} --project evil"), "character ' '"),
            (format!("{KEY};id"), "character ';'"),
            (format!("{KEY}$(id)"), "character '$'"),
            (format!("{KEY}\n"), "character '\\n'"),
            (format!("{KEY}'"), "character '\\''"),
            (KEY.replace("cryptoKeys", "importJobs"), "not cryptoKeys"),
            (KEY.replace("my-proj-1", "My_Proj"), "the project"),
            (KEY.replace("us-east1", "US_EAST1"), "the location"),
            (KEY.replace("ring_1", &"r".repeat(64)), "key ring id"),
            (KEY.replace("k-1", "k.1"), "cryptoKeys id"),
            (format!("{KEY}/cryptoKeyVersions/1"), "not of the form"),
            (
                "projects/p/locations/l/keyRings/r".into(),
                "not of the form",
            ),
            (
                "projects//locations/l/keyRings/r/cryptoKeys/k".into(),
                "the project",
            ),
        ];
        for (s, words) in cases {
            let e = CryptoKeyName::parse(&s).unwrap_err();
            assert!(e.message().contains(words), "{s:?}: {e}");
            assert!(!e.to_string().contains('\n'));
        }
        let e = ImportJobName::parse(KEY).unwrap_err();
        assert!(e.message().contains("not importJobs"), "{e}");
        assert!(ImportJobName::parse(&format!("{JOB}&")).is_err());
    }

    #[test]
    fn import_methods() {
        for (s, bits, hash) in [
            ("RSA_OAEP_3072_SHA1_AES_256", 3072, OaepHash::Sha1),
            ("RSA_OAEP_4096_SHA1_AES_256", 4096, OaepHash::Sha1),
            ("RSA_OAEP_3072_SHA256_AES_256", 3072, OaepHash::Sha256),
            ("RSA_OAEP_4096_SHA256_AES_256", 4096, OaepHash::Sha256),
        ] {
            let m = ImportMethod::parse(s).unwrap();
            assert_eq!(
                (m.bits(), m.hash(), m.to_string().as_str()),
                (bits, hash, s)
            );
            let j: ImportMethod = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert_eq!(j, m);
        }
        for (s, words) in [
            ("RSA_OAEP_3072_SHA256", "RSA keys need"),
            ("RSA_OAEP_4096_SHA1", "RSA keys need"),
            ("rsa-oaep-3072-sha1-aes-256", "unknown"),
            ("RSA_OAEP_2048_SHA1_AES_256", "unknown"),
            ("RSA_OAEP_3072_SHA1_AES_256\t", "character '\\t'"),
        ] {
            let e = ImportMethod::parse(s).unwrap_err();
            assert!(e.message().contains(words), "{s}: {e}");
        }
    }

    #[test]
    fn algorithms() {
        assert_eq!(ALGORITHMS.len(), 18);
        for (name, bits) in ALGORITHMS {
            let a = Algorithm::parse(name).unwrap();
            assert_eq!((a.name(), a.bits()), (name, bits));
            assert!(name.contains(&bits.to_string()));
            let j: Algorithm = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(serde_json::to_string(&j).unwrap(), format!("\"{name}\""));
        }
        let a = Algorithm::parse("RSA_SIGN_PKCS1_3072_SHA256").unwrap();
        assert_eq!(a.gcloud_name(), "rsa-sign-pkcs1-3072-sha256");
        for (s, words) in [
            ("rsa-sign-pkcs1-3072-sha256", "gcloud's spelling"),
            ("EC_SIGN_P256_SHA256", "not an RSA algorithm"),
            ("GOOGLE_SYMMETRIC_ENCRYPTION", "not an RSA algorithm"),
            ("RSA_SIGN_PKCS1_1024_SHA256", "unknown"),
            ("RSA_SIGN_PKCS1_3072_SHA256 x", "character ' '"),
        ] {
            let e = Algorithm::parse(s).unwrap_err();
            assert!(e.message().contains(words), "{s}: {e}");
        }
    }

    #[test]
    fn printed_commands() {
        let k = CryptoKeyName::parse(KEY).unwrap();
        let j = ImportJobName::parse(JOB).unwrap();
        let a = Algorithm::parse("RSA_SIGN_PKCS1_3072_SHA256").unwrap();
        assert_eq!(
            gcloud_import_command(&j, &k, a, Path::new("out/k1.gcp.bin")).unwrap(),
            "gcloud kms keys versions import --import-job job1 --location us-east1 --keyring ring_1 --key k-1 --project my-proj-1 --algorithm rsa-sign-pkcs1-3072-sha256 --wrapped-key-file 'out/k1.gcp.bin'"
        );
        assert!(gcloud_import_command(&j, &k, a, Path::new("a'b $(c)"))
            .unwrap()
            .ends_with(r"--wrapped-key-file 'a'\''b $(c)'"));
        assert_eq!(
            gcloud_get_public_key_command(&k, "VERSION", Path::new("k1.gcp.pub.pem")).unwrap(),
            "gcloud kms keys versions get-public-key VERSION --key k-1 --keyring ring_1 --location us-east1 --project my-proj-1 --output-file 'k1.gcp.pub.pem'"
        );
        let other = ImportJobName::parse(
            "projects/my-proj-1/locations/europe/keyRings/ring_1/importJobs/job1",
        )
        .unwrap();
        let e = gcloud_import_command(&other, &k, a, Path::new("f")).unwrap_err();
        assert!(e.message().contains("key ring"), "{e}");
        for bad in ["f\n; rm -rf ~", "f\u{1b}[2J"] {
            assert!(gcloud_import_command(&j, &k, a, Path::new(bad)).is_err());
            assert!(gcloud_get_public_key_command(&k, "1", Path::new(bad)).is_err());
        }
        for v in ["1; rm -rf ~", "1 2", "$(x)", "", "1\n"] {
            let e = gcloud_get_public_key_command(&k, v, Path::new("f")).unwrap_err();
            assert!(e.message().contains("placeholder"), "{v:?}: {e}");
        }
    }

    #[test]
    fn import_job_refusals_before_the_attestation() {
        let pk = rsa::PrivateKey::new(&mut rand::rng(), 3072)
            .unwrap()
            .to_public_key();
        let pem = rsa::pkcs8::EncodePublicKey::to_public_key_pem(&pk, rsa::pkcs8::LineEnding::LF)
            .unwrap();
        let kek = crate::kek::rsa_public_from_bytes(pem.as_bytes()).unwrap();
        let m = ImportMethod::RsaOaep3072Sha1Aes256;
        let roots = TrustRoots::marvell().unwrap();
        let job = |method: &str, state: &str, level: &str, pem: &str| {
            serde_json::json!({"name": JOB, "importMethod": method, "protectionLevel": level,
                "state": state, "publicKey": {"pem": pem}})
            .to_string()
        };
        // A software job (no attestation) passes and says so.
        let r = verify_import_job(
            job(m.name(), "ACTIVE", "SOFTWARE", &pem).as_bytes(),
            &kek,
            m,
            &roots,
        )
        .unwrap();
        assert!(r.attestation.is_none());
        assert_eq!(r.public_key_sha256, hex::encode(kek.sha256()));
        let other = rsa::PrivateKey::new(&mut rand::rng(), 3072)
            .unwrap()
            .to_public_key();
        let other_pem =
            rsa::pkcs8::EncodePublicKey::to_public_key_pem(&other, rsa::pkcs8::LineEnding::LF)
                .unwrap();
        let cases = [
            (
                job("RSA_OAEP_3072_SHA256_AES_256", "ACTIVE", "SOFTWARE", &pem),
                "the plan says RSA_OAEP_3072_SHA1_AES_256",
            ),
            (
                job(m.name(), "PENDING_GENERATION", "SOFTWARE", &pem),
                "PENDING_GENERATION",
            ),
            (job(m.name(), "EXPIRED", "SOFTWARE", &pem), "EXPIRED"),
            (job(m.name(), "ACTIVE", "HSM", &pem), "no attestation"),
            (
                job(m.name(), "ACTIVE", "SOFTWARE", &other_pem),
                "is not the KEK",
            ),
            (job(m.name(), "ACTIVE", "SOFTWARE", "garbage"), "not PEM"),
            (
                job(m.name(), "ACTIVE", "SOFTWARE", &pem).replacen(
                    "\"state\":",
                    "\"state\":\"ACTIVE\",\"state\":",
                    1,
                ),
                "twice",
            ),
            ("[]".into(), "no \"importMethod\""),
            ("not json".into(), "not valid JSON"),
        ];
        for (text, words) in cases {
            let e = verify_import_job(text.as_bytes(), &kek, m, &roots).unwrap_err();
            assert!(e.message().contains(words), "{words}: {e}");
        }
    }
}
