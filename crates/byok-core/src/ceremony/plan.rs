//! The ceremony plan: one strict JSON file, the only input of `byok ceremony run` (and,
//! later, `byok ceremony import`).
//!
//! ```json
//! {"ceremony": "contoso-na-2026-12", "token": "Contoso-Ceremony", "token_serial": "8a3f1c0d5e6b7a29",
//!  "officers": [{"name": "…", "role": "ceremony administrator"}, {"name": "…", "role": "crypto officer"}],
//!  "location": "Contoso HQ, secure room 4.12, Redmond",
//!  "witnesses": [{"name": "…", "role": "internal auditor"}],
//!  "hsm_bags": {"in": ["TEB-100231"], "out": ["TEB-100298"]},
//!  "policies": [
//!   {"name": "USA_mailboxes", "service": "exchange", "description": "…",
//!    "keys": [{"vault": "https://contoso-o365ex-na-vaulta1.vault.azure.net",
//!              "name": "Contoso-O365EX-NA-VaultA1-Key001", "size": 4096,
//!              "kek": "keks/vaulta1-kek.json", "kek_sha256": "<hex SHA-256 of the KEK's SPKI DER>",
//!              "kek_attestation": "optional"}, …]}]}
//! ```
//!
//! `location`, `witnesses` and `hsm_bags` are optional; they go into the transcript and
//! onto the printed record (what CA/B Forum BR §6.1.1.1 and the IANA root KSK ceremony
//! scripts ask of a key ceremony's report). `hsm_bags.in` lists the tamper-evident bags
//! the HSM and its smartcards are in when the ceremony starts (the officers confirm
//! them); `hsm_bags.out` the new bags they go into at the end (the officers enter the
//! numbers they used; `--non-interactive` records the plan's).
//!
//! Besides `policies` (Office 365 DEPs, Azure only), a plan may list stand-alone keys in
//! a top-level `keys`, each for one target (a plan with only `keys` is valid):
//!
//! ```json
//! "keys": [
//!  {"name": "Payments-Root", "size": 3072, "target": "aws-kms", "kek": "keks/aws-wrapping-key.b64",
//!   "kek_sha256": "…", "aws": {"key_arn": "arn:aws:kms:eu-west-1:111122223333:key/…",
//!   "import_token": "keks/aws-import-token.bin", "wrapping_algorithm": "RSA_AES_KEY_WRAP_SHA_256"}},
//!  {"name": "Signing", "size": 3072, "target": "gcp-kms", "kek": "keks/gcp-job.pem", "kek_sha256": "…",
//!   "gcp": {"crypto_key": "projects/P/locations/L/keyRings/R/cryptoKeys/K",
//!           "import_job": "projects/P/locations/L/keyRings/R/importJobs/J",
//!           "import_method": "RSA_OAEP_3072_SHA256_AES_256", "algorithm": "RSA_SIGN_PKCS1_3072_SHA256",
//!           "attestation": "keks/gcp-job.json"}},
//!  {"name": "app-key", "size": 2048, "target": "openbao", "kek": "keks/bao-wrapping.pem", "kek_sha256": "…",
//!   "openbao": {"address": "https://bao.example.com:8200", "mount": "transit",
//!               "hash_function": "SHA256", "type": "rsa-2048"}},
//!  {"name": "Archive-Key", "size": 4096, "vault": "https://contoso-archive.vault.azure.net",
//!   "kek": "keks/archive-kek.json", "kek_sha256": "…"}]
//! ```
//!
//! `target` defaults to `azure` (with `vault`, as in a policy). Each target's block is
//! its own and strict; the OAEP hash follows the target (SHA-1 for Azure).
//!
//! `kek_attestation` may be left out: a Managed HSM key then requires it, any other key
//! makes it optional.
//!
//! Unknown fields are errors. Paths are relative to the plan file. The plan holds no
//! PIN and no module path, so a rehearsal and the real ceremony use the same file.
//!
//! [`check`] applies every rule and reports *all* violations at once, each naming the
//! rule and the place, in one `error:` line (violations separated by ` | `); `--json`
//! lists them one by one.

use crate::kek::Kek;
use crate::keyid::Mode;
use crate::{err, Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Largest plan file byok reads.
const PLAN_LIMIT: u64 = 1 << 20;
/// Exchange Online allows this many data encryption policies per organization.
pub const EXCHANGE_MAX_DEPS: usize = 50;

/// The plan file, as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The ceremony's id: letters, digits, `.`, `_` and `-`, 1-64, starting with a letter or digit.
    pub ceremony: String,
    /// The label of the token the keys are generated on.
    pub token: String,
    /// The serial number of the one token the ceremony may run on (optional). `ceremony
    /// run` opens only a token with this serial, and `ceremony import` refuses a ceremony
    /// directory whose transcript names another: a second token labelled like the real
    /// one cannot stand in for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_serial: Option<String>,
    pub officers: Vec<Officer>,
    /// Where the ceremony takes place (printed on the record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// People who watch the ceremony and sign the record, without running it: auditors,
    /// witnesses. Same rules as officers, and distinct from them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<Officer>,
    /// The tamper-evident bag numbers of the HSM and its smartcards: before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsm_bags: Option<HsmBags>,
    /// Office 365 data encryption policies (Azure Key Vault keys, two per policy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Policy>,
    /// Stand-alone keys, each for one target (Azure, AWS KMS, Google Cloud KMS, OpenBao).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<StandaloneKey>,
    /// A rehearsal against the local simulator: loopback vault addresses are allowed
    /// (and the run says so, in its warnings and its transcript). Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rehearsal: bool,
    /// Dual control for every key (unless a key says otherwise): each is generated with
    /// `CKA_WRAP_WITH_TRUSTED` and can be wrapped only under a KEK the Security Officer
    /// stored as trusted (`byok kek trust`), with `CKM_RSA_AES_KEY_WRAP`. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wrap_with_trusted: bool,
}

/// A person taking part, with their role (e.g. "ceremony administrator", "crypto officer").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Officer {
    pub name: String,
    pub role: String,
}

/// `hsm_bags` of a plan: the tamper-evident bag numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HsmBags {
    /// The bags the HSM and its smartcards are sealed in when the ceremony starts (the
    /// officers confirm each before opening it).
    #[serde(rename = "in")]
    pub bags_in: Vec<String>,
    /// The new bags they are sealed in at the end.
    #[serde(rename = "out")]
    pub bags_out: Vec<String>,
}

/// One data encryption policy (DEP): an Exchange Online DEP or a SharePoint/OneDrive geo DEP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    /// `exchange`, `sharepoint` or `m365` (the multi-workload DEP: Teams, Purview and
    /// other Microsoft 365 workloads; one per tenant).
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// SharePoint only: the tenant's admin URL (`https://TENANT-admin.sharepoint.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_url: Option<String>,
    pub keys: Vec<PlanKey>,
}

/// One key of a policy: generated on the token, wrapped under its vault's KEK.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanKey {
    /// The vault's URL, e.g. `https://contoso-o365ex-na-vaulta1.vault.azure.net`.
    pub vault: String,
    /// The Key Vault key name, also the key's label on the token.
    pub name: String,
    /// RSA size: 2048, 3072 or 4096.
    pub size: usize,
    /// The vault's KEK file (KeyBundle JSON), relative to the plan.
    pub kek: String,
    /// Hex SHA-256 of the KEK's SubjectPublicKeyInfo DER, taken on the connected side.
    pub kek_sha256: String,
    /// Whether the KEK must come with a valid HSM attestation (`required`), or may come
    /// without one (`optional`). A present attestation is always checked. When absent:
    /// `required` for a Managed HSM key (its KEKs can be attested), `optional` otherwise
    /// ([`PlanKey::kek_attestation_or_default`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kek_attestation: Option<KekAttestation>,
    /// Dual control for this key (see [`Plan::wrap_with_trusted`]); the plan's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrap_with_trusted: Option<bool>,
    /// A key roll: a new version of key `name`, which already exists in the vault
    /// (`ceremony import` refuses otherwise). The new HSM key's label on the token is
    /// [`roll_label`] (the earlier key keeps `name`); its name in the vault stays `name`.
    /// Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub roll: bool,
    /// A rolled SharePoint key only: which key of the geo DEP it is (`primary` or
    /// `secondary`), the `-KeyType` of `Update-SPODataEncryptionPolicy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_type: Option<SpoKeyType>,
}

/// Where a key goes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum TargetKind {
    #[default]
    #[serde(rename = "azure")]
    Azure,
    #[serde(rename = "aws-kms")]
    AwsKms,
    #[serde(rename = "gcp-kms")]
    GcpKms,
    #[serde(rename = "openbao")]
    OpenBao,
}

impl TargetKind {
    /// As the plan names it.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Azure => "azure",
            TargetKind::AwsKms => "aws-kms",
            TargetKind::GcpKms => "gcp-kms",
            TargetKind::OpenBao => "openbao",
        }
    }
}

/// A stand-alone key of a plan's top-level `keys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandaloneKey {
    /// The key's name (and its label on the token).
    pub name: String,
    /// RSA size: 2048, 3072 or 4096.
    pub size: usize,
    /// The target's wrapping public key, relative to the plan: the Key Vault KEK's JSON
    /// (Azure), `GetParametersForImport`'s `PublicKey` (AWS: DER, or base64 as the CLI
    /// prints it), the import job's `publicKey.pem` (GCP), `MOUNT/wrapping_key`'s PEM (OpenBao).
    pub kek: String,
    /// Hex SHA-256 of that key's SubjectPublicKeyInfo DER.
    pub kek_sha256: String,
    /// `azure` (default), `aws-kms`, `gcp-kms` or `openbao`.
    #[serde(default)]
    pub target: TargetKind,
    /// Azure: the vault's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vault: Option<String>,
    /// Azure: as a policy key's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kek_attestation: Option<KekAttestation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcp: Option<GcpPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openbao: Option<BaoPlan>,
    /// Dual control for this key (see [`Plan::wrap_with_trusted`]); the plan's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrap_with_trusted: Option<bool>,
    /// A new version of an existing key (Azure: a new key version; OpenBao:
    /// `import_version`; AWS and Google Cloud: not for stand-alone imports here).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub roll: bool,
}

/// The `aws` block of an `aws-kms` key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsPlan {
    /// `arn:aws:kms:REGION:ACCOUNT:key/ID`: a key made with `--origin EXTERNAL`.
    pub key_arn: String,
    /// `GetParametersForImport`'s `ImportToken` (binary), relative to the plan.
    pub import_token: String,
    /// `RSA_AES_KEY_WRAP_SHA_1` or `RSA_AES_KEY_WRAP_SHA_256`.
    pub wrapping_algorithm: String,
}

/// The `gcp` block of a `gcp-kms` key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcpPlan {
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K`.
    pub crypto_key: String,
    /// `projects/P/locations/L/keyRings/R/importJobs/J`.
    pub import_job: String,
    /// `RSA_OAEP_{3072,4096}_{SHA1,SHA256}_AES_256`.
    pub import_method: String,
    /// The key version's algorithm, e.g. `RSA_SIGN_PKCS1_3072_SHA256`.
    pub algorithm: String,
    /// `gcloud kms import-jobs describe --format=json` of an HSM job, relative to the
    /// plan: its attestation of the wrapping key is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
}

/// The `openbao` block of an `openbao` key (OpenBao or HashiCorp Vault transit).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaoPlan {
    /// `https://HOST[:PORT]` (plain http only on loopback, in a rehearsal).
    pub address: String,
    /// The transit mount (default `transit`).
    #[serde(default = "default_mount")]
    pub mount: String,
    /// `SHA1` or `SHA256` (always sent: OpenBao's default is SHA256).
    pub hash_function: String,
    /// `rsa-2048`, `rsa-3072` or `rsa-4096`.
    #[serde(rename = "type")]
    pub key_type: String,
}

fn default_mount() -> String {
    "transit".into()
}

/// `key_type` of a rolled SharePoint key.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SpoKeyType {
    Primary,
    Secondary,
}

impl SpoKeyType {
    /// As `Update-SPODataEncryptionPolicy -KeyType` takes it.
    pub fn as_powershell(self) -> &'static str {
        match self {
            SpoKeyType::Primary => "Primary",
            SpoKeyType::Secondary => "Secondary",
        }
    }
}

/// The token label of a rolled key: the key name and the ceremony id (its `.` and `_` as
/// `-`, since a key's label is a key name: letters, digits and dashes), so it clashes
/// neither with the key an earlier ceremony made under the bare name nor with a later
/// roll's. `ceremony check` refuses a plan where it would pass 127 characters.
pub fn roll_label(name: &str, ceremony: &str) -> String {
    let id: String = ceremony
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{name}-{id}")
}

impl PlanKey {
    /// Is the key's vault a Managed HSM (`https://NAME.managedhsm.azure.net` or a
    /// sovereign cloud's equivalent)? A loopback vault (a rehearsal's simulator) is not
    /// known to be one offline.
    pub fn is_managed_hsm(&self) -> bool {
        crate::keyid::vault_url(&self.vault, Mode::Rehearsal)
            .is_ok_and(|v| v.service == crate::keyid::Service::ManagedHsm)
    }

    /// The plan's `kek_attestation`, or when absent the default for the key's vault:
    /// `required` for a Managed HSM, where KEK attestation exists, `optional` otherwise.
    pub fn kek_attestation_or_default(&self) -> KekAttestation {
        self.kek_attestation.unwrap_or(if self.is_managed_hsm() {
            KekAttestation::Required
        } else {
            KekAttestation::Optional
        })
    }
}

/// `kek_attestation` of a plan key.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KekAttestation {
    Required,
    Optional,
}

/// One broken rule: which rule, where, and what is wrong.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    pub place: String,
    pub message: String,
}

impl Violation {
    pub(crate) fn text(&self) -> String {
        format!("[{}] {}: {}", self.rule, self.place, self.message)
    }
}

/// A checked key's target, with what its import needs.
#[derive(Debug, Clone)]
pub enum KeyTarget {
    /// Azure Key Vault or Managed HSM (a policy's key, or a stand-alone one): a `.byok`
    /// package, RSA-OAEP SHA-1.
    Azure,
    /// AWS KMS: `NAME.aws.bin`, the raw `EncryptedKeyMaterial`.
    Aws {
        key_arn: crate::targets::aws::KeyArn,
        algorithm: crate::targets::aws::WrappingAlgorithm,
        /// The import token as the plan names it (relative to the plan).
        import_token: String,
        import_token_path: PathBuf,
        import_token_sha256: String,
    },
    /// Google Cloud KMS: `NAME.gcp.bin`, the raw `wrappedKey`.
    Gcp {
        crypto_key: crate::targets::gcp::CryptoKeyName,
        import_job: crate::targets::gcp::ImportJobName,
        method: crate::targets::gcp::ImportMethod,
        algorithm: crate::targets::gcp::Algorithm,
        /// The import job's description the plan names, checked.
        attestation: Option<GcpAttestation>,
    },
    /// OpenBao or HashiCorp Vault transit: `NAME.openbao.b64`, the base64 `ciphertext`.
    OpenBao {
        /// `scheme://host[:port]`, lowercase.
        address: String,
        mount: String,
        hash: crate::targets::openbao::BaoHash,
        key_type: crate::targets::openbao::BaoKeyType,
    },
}

/// A Google Cloud import job's description (`gcloud kms import-jobs describe`), checked.
#[derive(Debug, Clone)]
pub struct GcpAttestation {
    /// As the plan names it (relative to the plan).
    pub file: String,
    pub path: PathBuf,
    /// What the check found, in one line.
    pub summary: String,
}

impl KeyTarget {
    pub fn kind(&self) -> TargetKind {
        match self {
            KeyTarget::Azure => TargetKind::Azure,
            KeyTarget::Aws { .. } => TargetKind::AwsKms,
            KeyTarget::Gcp { .. } => TargetKind::GcpKms,
            KeyTarget::OpenBao { .. } => TargetKind::OpenBao,
        }
    }

    /// The hash of the wrap's RSA-OAEP step (and of its MGF1).
    pub fn hash(&self) -> crate::hsm::OaepHash {
        match self {
            KeyTarget::Azure => crate::hsm::OaepHash::Sha1,
            KeyTarget::Aws { algorithm, .. } => algorithm.hash(),
            KeyTarget::Gcp { method, .. } => method.hash(),
            KeyTarget::OpenBao { hash, .. } => hash.oaep(),
        }
    }

    /// The import method as the target names it.
    pub fn method(&self) -> String {
        match self {
            KeyTarget::Azure => "Azure BYOK (RSA-OAEP SHA-1, AES-256 KWP)".into(),
            KeyTarget::Aws { algorithm, .. } => algorithm.name().into(),
            KeyTarget::Gcp { method, .. } => method.name().into(),
            KeyTarget::OpenBao { hash, .. } => format!("OpenBao transit import ({})", hash.name()),
        }
    }

    /// The form the wrap's output takes.
    pub fn form(&self) -> crate::wrap::WrapForm {
        match self {
            KeyTarget::Azure => crate::wrap::WrapForm::AzurePackage,
            KeyTarget::Aws { .. } | KeyTarget::Gcp { .. } => {
                crate::wrap::WrapForm::Raw(self.hash())
            }
            KeyTarget::OpenBao { .. } => crate::wrap::WrapForm::Base64(self.hash()),
        }
    }
}

/// A key of a checked plan, with its loaded KEK.
#[derive(Debug, Clone)]
pub struct KeyPlan {
    /// The key's policy; empty for a stand-alone key (the plan's `keys`).
    pub policy: String,
    /// The policy's service; empty for a stand-alone key.
    pub service: String,
    /// Where the key goes.
    pub target: KeyTarget,
    pub key: PlanKey,
    /// The key's label on the token, which also names its files in the ceremony
    /// directory: the key name, or for a roll [`roll_label`].
    pub label: String,
    /// The vault URL, normalized (`https://host`, lowercase, no trailing slash); empty
    /// for a key of another target.
    pub vault: String,
    pub kek_path: PathBuf,
    pub kek: Kek,
    /// The KEK's attestation as checked (verified, or absent and not required).
    pub attestation: Option<crate::attestation::policy::KekAttestation>,
    /// Whether the key is generated with `CKA_WRAP_WITH_TRUSTED` (the key's or the plan's
    /// `wrap_with_trusted`).
    pub wrap_with_trusted: bool,
}

impl KeyPlan {
    /// Where the key goes, for people: `vault https://…`, `AWS KMS key arn:…`, …
    pub fn destination(&self) -> String {
        match &self.target {
            KeyTarget::Azure => format!("vault {}", self.vault),
            KeyTarget::Aws { key_arn, .. } => format!("AWS KMS key {key_arn}"),
            KeyTarget::Gcp { crypto_key, .. } => format!("Cloud KMS key {crypto_key}"),
            KeyTarget::OpenBao { address, mount, .. } => {
                format!("OpenBao {address} mount {mount}")
            }
        }
    }

    /// The files besides the KEK a key's target reads (relative name, path): AWS's
    /// import token, Google's import-job description. The transcript records their
    /// SHA-256 with the KEKs'.
    pub fn side_files(&self) -> Vec<(String, PathBuf)> {
        match &self.target {
            KeyTarget::Aws {
                import_token,
                import_token_path,
                ..
            } => vec![(import_token.clone(), import_token_path.clone())],
            KeyTarget::Gcp {
                attestation: Some(a),
                ..
            } => vec![(a.file.clone(), a.path.clone())],
            _ => Vec::new(),
        }
    }

    /// The wrapped key's file in the ceremony directory.
    pub fn output_file(&self) -> String {
        super::manifest::output_file(&self.label, self.target.kind())
    }
}

/// A plan that broke no rule.
#[derive(Debug, Clone)]
pub struct CheckedPlan {
    pub path: PathBuf,
    pub plan: Plan,
    /// SHA-256 of the plan file's bytes: the anchor of the transcript.
    pub sha256: [u8; 32],
    /// Every key in plan order (policy by policy).
    pub keys: Vec<KeyPlan>,
    pub warnings: Vec<String>,
    /// A rehearsal (the plan's `"rehearsal": true`, or the command's `--rehearsal`).
    pub mode: Mode,
}

impl CheckedPlan {
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// The token label of the transcript signer key.
    pub fn signer_label(&self) -> String {
        signer_label(&self.plan.ceremony)
    }
}

/// The label of the transcript signing key on the token for ceremony `id`.
pub fn signer_label(id: &str) -> String {
    format!("{id}-transcript-signer")
}

/// What `byok ceremony check --json` reports.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub plan: String,
    pub plan_sha256: String,
    pub ok: bool,
    pub ceremony: Option<String>,
    pub rehearsal: bool,
    /// The serial the plan pins, if it pins one.
    pub token_serial: Option<String>,
    pub policies: usize,
    pub keys: usize,
    pub violations: Vec<Violation>,
    pub warnings: Vec<String>,
}

/// Read a plan and apply every rule, with the trust roots KEK attestations are checked
/// against (extra roots are for rehearsals). `mode` is the command's: the plan is a
/// rehearsal when it says so or the command does. `Ok` carries the report and, when no
/// rule is broken, the checked plan; a file that is not a plan at all is an `Err`.
pub fn check(
    path: &Path,
    roots: &crate::attestation::TrustRoots,
    mode: Mode,
) -> Result<(CheckReport, Option<CheckedPlan>)> {
    let bytes = crate::fsutil::read_limited(path, PLAN_LIMIT, "plan")?;
    check_bytes(&bytes, path, roots, mode)
}

/// [`check`] on a plan's bytes already read. `path` names the plan in messages, and the
/// KEK paths in it are relative to its directory.
pub fn check_bytes(
    bytes: &[u8],
    path: &Path,
    roots: &crate::attestation::TrustRoots,
    mode: Mode,
) -> Result<(CheckReport, Option<CheckedPlan>)> {
    let sha256: [u8; 32] = Sha256::digest(bytes).into();
    crate::json::check_unique_keys(bytes)
        .map_err(|e| e.context(format!("plan {}", path.display())))?;
    let plan: Plan = serde_json::from_slice(bytes)
        .map_err(|e| err!("plan {} is not a valid ceremony plan: {e}", path.display()))?;
    let mode = Mode::rehearsal_if(plan.rehearsal || mode.is_rehearsal());
    let base = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut v = Vec::new();
    let mut warnings = Vec::new();
    if let Some(w) = mode.warning() {
        warnings.push(w.to_string());
    }
    let keys = super::rules::apply(&plan, &base, &mut v, &mut warnings, roots, mode);
    let report = CheckReport {
        plan: path.display().to_string(),
        plan_sha256: hex::encode(sha256),
        ok: v.is_empty(),
        ceremony: Some(plan.ceremony.clone()),
        rehearsal: mode.is_rehearsal(),
        token_serial: plan.token_serial.clone(),
        policies: plan.policies.len(),
        keys: plan.policies.iter().map(|p| p.keys.len()).sum::<usize>() + plan.keys.len(),
        violations: v,
        warnings,
    };
    let checked = report.ok.then(|| CheckedPlan {
        path: path.to_path_buf(),
        warnings: report.warnings.clone(),
        plan,
        sha256,
        keys,
        mode,
    });
    Ok((report, checked))
}

/// [`check`], with any broken rule an error naming all of them.
pub fn load(
    path: &Path,
    roots: &crate::attestation::TrustRoots,
    mode: Mode,
) -> Result<CheckedPlan> {
    let (report, checked) = check(path, roots, mode)?;
    checked.ok_or_else(|| violations_error(&report.violations))
}

/// The one-line error for a list of violations.
pub fn violations_error(v: &[Violation]) -> Error {
    let n = v.len();
    err!(
        "the plan breaks {n} rule{}: {}",
        if n == 1 { "" } else { "s" },
        v.iter()
            .map(Violation::text)
            .collect::<Vec<_>>()
            .join(" | ")
    )
}

pub use super::rules::{normalize_vault, valid_ceremony_id};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ceremony::testplan;
    use serde_json::json;

    fn roots() -> crate::attestation::TrustRoots {
        crate::attestation::TrustRoots::marvell().unwrap()
    }

    #[test]
    fn what_is_not_a_plan_is_an_error_not_a_violation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.json");
        for (text, words) in [
            ("{\"ceremony\": ", "not a valid ceremony plan"),
            ("[]", "not a valid ceremony plan"),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = check(&p, &roots(), Mode::Ceremony).expect_err("refused");
            assert!(e.message().contains(words), "{e}");
        }
        let mut v = testplan::value(2);
        v["pin"] = json!("1234");
        testplan::write(dir.path(), &v);
        let e = check(&p, &roots(), Mode::Ceremony).expect_err("refused");
        assert!(
            e.message().contains("unknown field") && !e.message().contains("1234"),
            "{e}"
        );
        let text = serde_json::to_string(&testplan::value(2))
            .unwrap()
            .replacen("\"token\":", "\"token\":\"Other\",\"token\":", 1);
        std::fs::write(&p, text).unwrap();
        let e = check(&p, &roots(), Mode::Ceremony).expect_err("refused");
        assert!(e.message().contains("\"token\" twice"), "{e}");
    }

    #[test]
    fn load_names_every_violation_and_the_command_can_ask_for_a_rehearsal() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = testplan::value(2);
        v["policies"][0]["keys"][0]["size"] = json!(1000);
        testplan::write(dir.path(), &v);
        let p = dir.path().join("plan.json");
        let e = load(&p, &roots(), Mode::Ceremony).expect_err("refused");
        assert!(
            e.message()
                .starts_with("the plan breaks 1 rule: [key-size]"),
            "{e}"
        );
        testplan::write(dir.path(), &testplan::value(2));
        let plan = load(&p, &roots(), Mode::Rehearsal).unwrap();
        assert_eq!(
            plan.mode,
            Mode::Rehearsal,
            "--rehearsal makes any plan a rehearsal"
        );
        assert!(plan.warnings.iter().any(|w| w.starts_with("REHEARSAL")));
        assert_eq!(plan.signer_label(), "contoso-test-transcript-signer");
        assert_eq!(
            plan.sha256_hex(),
            crate::util::sha256_hex(&std::fs::read(&p).unwrap())
        );
    }
}
