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
    pub policies: Vec<Policy>,
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

/// A key of a checked plan, with its loaded KEK.
#[derive(Debug, Clone)]
pub struct KeyPlan {
    pub policy: String,
    pub service: String,
    pub key: PlanKey,
    /// The key's label on the token, which also names its files in the ceremony
    /// directory: the key name, or for a roll [`roll_label`].
    pub label: String,
    /// The vault URL, normalized (`https://host`, lowercase, no trailing slash).
    pub vault: String,
    pub kek_path: PathBuf,
    pub kek: Kek,
    /// The KEK's attestation as checked (verified, or absent and not required).
    pub attestation: Option<crate::attestation::policy::KekAttestation>,
    /// Whether the key is generated with `CKA_WRAP_WITH_TRUSTED` (the key's or the plan's
    /// `wrap_with_trusted`).
    pub wrap_with_trusted: bool,
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
        keys: plan.policies.iter().map(|p| p.keys.len()).sum(),
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
