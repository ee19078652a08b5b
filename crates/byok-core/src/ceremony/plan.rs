//! The ceremony plan: one strict JSON file, the only input of `byok ceremony run` (and,
//! later, `byok ceremony import`).
//!
//! ```json
//! {"ceremony": "contoso-na-2026-12", "token": "Contoso-Ceremony",
//!  "officers": [{"name": "…", "role": "ceremony administrator"}, {"name": "…", "role": "crypto officer"}],
//!  "policies": [
//!   {"name": "USA_mailboxes", "service": "exchange", "description": "…",
//!    "keys": [{"vault": "https://contoso-o365ex-na-vaulta1.vault.azure.net",
//!              "name": "Contoso-O365EX-NA-VaultA1-Key001", "size": 4096,
//!              "kek": "keks/vaulta1-kek.json", "kek_sha256": "<hex SHA-256 of the KEK's SPKI DER>",
//!              "kek_attestation": "optional"}, …]}]}
//! ```
//!
//! Unknown fields are errors. Paths are relative to the plan file. The plan holds no
//! PIN and no module path, so a rehearsal and the real ceremony use the same file.
//!
//! [`check`] applies every rule and reports *all* violations at once, each naming the
//! rule and the place, in one `error:` line (violations separated by ` | `); `--json`
//! lists them one by one.

use crate::kek::Kek;
use crate::keyid::{valid_key_name, KeyId, Mode};
use crate::{err, Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
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
    pub officers: Vec<Officer>,
    pub policies: Vec<Policy>,
    /// A rehearsal against the local simulator: loopback vault addresses are allowed
    /// (and the run says so, in its warnings and its transcript). Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rehearsal: bool,
}

/// A person taking part, with their role (e.g. "ceremony administrator", "crypto officer").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Officer {
    pub name: String,
    pub role: String,
}

/// One data encryption policy (DEP): an Exchange Online DEP or a SharePoint/OneDrive geo DEP.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    /// `exchange` or `sharepoint`.
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
    /// without one (`optional`, the default). A present attestation is always checked.
    #[serde(default)]
    pub kek_attestation: KekAttestation,
}

/// `kek_attestation` of a plan key.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KekAttestation {
    Required,
    #[default]
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
    fn text(&self) -> String {
        format!("[{}] {}: {}", self.rule, self.place, self.message)
    }
}

/// A key of a checked plan, with its loaded KEK.
#[derive(Debug, Clone)]
pub struct KeyPlan {
    pub policy: String,
    pub service: String,
    pub key: PlanKey,
    /// The vault URL, normalized (`https://host`, lowercase, no trailing slash).
    pub vault: String,
    pub kek_path: PathBuf,
    pub kek: Kek,
    /// The KEK's attestation as checked (verified, or absent and not required).
    pub attestation: Option<crate::attestation::policy::KekAttestation>,
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
    let sha256: [u8; 32] = Sha256::digest(&bytes).into();
    let plan: Plan = serde_json::from_slice(&bytes)
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
    let keys = apply_rules(&plan, &base, &mut v, &mut warnings, roots, mode);
    let report = CheckReport {
        plan: path.display().to_string(),
        plan_sha256: hex::encode(sha256),
        ok: v.is_empty(),
        ceremony: Some(plan.ceremony.clone()),
        rehearsal: mode.is_rehearsal(),
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

/// Is `id` a safe ceremony id (it names files and a token label)?
pub fn valid_ceremony_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Normalize a vault URL to `https://host[:port]` (lowercase, no trailing slash) and
/// check that it is a Key Vault or Managed HSM host (or, in a rehearsal, an https
/// loopback address).
pub fn normalize_vault(url: &str, mode: Mode) -> std::result::Result<String, String> {
    let trimmed = url.trim_end_matches('/');
    let Some(rest) = trimmed.strip_prefix("https://") else {
        return Err(format!(
            "vault {url:?} is not an https URL (https://VAULT.vault.azure.net)"
        ));
    };
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "vault {url:?} is not a vault URL: give only https://VAULT.vault.azure.net"
        ));
    }
    // A key id in that vault must parse: this checks the host as KeyId does.
    let probe = format!("{trimmed}/keys/probe/{}", "0".repeat(32));
    if mode == Mode::Ceremony
        && KeyId::parse(&probe, Mode::Rehearsal).is_ok_and(|k| k.service == "loopback")
    {
        return Err(format!("vault {url:?} {}", crate::keyid::LOOPBACK_REFUSED));
    }
    match KeyId::parse(&probe, mode) {
        Ok(k) => Ok(k.vault),
        Err(_) => Err(format!(
            "vault {url:?} is not a Key Vault or Managed HSM address: https://VAULT.vault.azure.net, where VAULT is 3-24 letters, digits and dashes starting with a letter"
        )),
    }
}

fn apply_rules(
    plan: &Plan,
    base: &Path,
    v: &mut Vec<Violation>,
    warnings: &mut Vec<String>,
    roots: &crate::attestation::TrustRoots,
    mode: Mode,
) -> Vec<KeyPlan> {
    let mut add = |rule: &'static str, place: String, message: String| {
        v.push(Violation {
            rule,
            place,
            message,
        })
    };
    if !valid_ceremony_id(&plan.ceremony) {
        add(
            "ceremony-id",
            "ceremony".into(),
            format!(
                "{:?} is not a safe ceremony id: use 1-64 letters, digits, '.', '_' and '-', starting with a letter or digit",
                plan.ceremony
            ),
        );
    }
    if plan.token.trim().is_empty() || plan.token.len() > 32 || plan.token.trim() != plan.token {
        add(
            "token-label",
            "token".into(),
            format!(
                "{:?} is not a token label: PKCS#11 labels are 1-32 bytes without leading or trailing spaces",
                plan.token
            ),
        );
    }
    if plan.officers.len() < 2 {
        add(
            "two-officers",
            "officers".into(),
            format!(
                "the plan names {} officer{}; a ceremony needs at least two people (dual control)",
                plan.officers.len(),
                if plan.officers.len() == 1 { "" } else { "s" }
            ),
        );
    }
    let mut names = BTreeSet::new();
    for (i, o) in plan.officers.iter().enumerate() {
        let place = format!("officer {}", i + 1);
        if o.name.trim().is_empty() || o.role.trim().is_empty() {
            add(
                "officer-named",
                place.clone(),
                "every officer needs a name and a role".into(),
            );
        }
        if !names.insert(o.name.trim().to_lowercase()) {
            add(
                "distinct-officers",
                place,
                format!(
                    "{:?} is named twice; dual control needs distinct people",
                    o.name
                ),
            );
        }
    }
    if plan.policies.is_empty() {
        add(
            "policies",
            "policies".into(),
            "the plan has no policy: nothing to do".into(),
        );
    }
    let signer = signer_label(&plan.ceremony);
    let mut policy_names = BTreeSet::new();
    let mut key_names: BTreeMap<String, String> = BTreeMap::new();
    let mut keks: BTreeMap<PathBuf, Option<Kek>> = BTreeMap::new();
    let mut out = Vec::new();
    let mut exchange = 0;
    let mut load_errors: Vec<(String, Error)> = Vec::new();
    for p in &plan.policies {
        let pplace = format!("policy {:?}", p.name);
        if p.name.trim().is_empty() || p.name.len() > 64 || p.name.chars().any(char::is_control) {
            add(
                "policy-name",
                pplace.clone(),
                "a policy name is 1-64 printable characters".into(),
            );
        }
        if !policy_names.insert(p.name.clone()) {
            add(
                "unique-policy-names",
                pplace.clone(),
                "the name is used by two policies".into(),
            );
        }
        match p.service.as_str() {
            "exchange" => {
                exchange += 1;
                if p.admin_url.is_some() {
                    add(
                        "admin-url",
                        pplace.clone(),
                        "admin_url is for sharepoint policies; an Exchange DEP has none".into(),
                    );
                }
            }
            "sharepoint" => match &p.admin_url {
                None => add(
                    "admin-url",
                    pplace.clone(),
                    "a sharepoint policy needs admin_url (https://TENANT-admin.sharepoint.com)"
                        .into(),
                ),
                Some(u) if !valid_https_url(u) => add(
                    "admin-url",
                    pplace.clone(),
                    format!(
                        "admin_url {u:?} is not an https URL (https://TENANT-admin.sharepoint.com)"
                    ),
                ),
                Some(_) => {}
            },
            other => add(
                "service",
                pplace.clone(),
                format!("service {other:?} is not one of exchange, sharepoint"),
            ),
        }
        if p.keys.len() != 2 {
            add(
                "two-keys",
                pplace.clone(),
                format!(
                    "the policy has {} key{}; Customer Key needs exactly two, one in each of two vaults",
                    p.keys.len(),
                    if p.keys.len() == 1 { "" } else { "s" }
                ),
            );
        }
        let mut vaults = Vec::new();
        for k in &p.keys {
            let kplace = format!("policy {:?} key {:?}", p.name, k.name);
            if !valid_key_name(&k.name) {
                add(
                    "key-name",
                    kplace.clone(),
                    "not a Key Vault key name (1-127 letters, digits and dashes)".into(),
                );
            } else if k.name == signer {
                add(
                    "key-name",
                    kplace.clone(),
                    format!("{signer:?} is the label of the transcript signer key"),
                );
            }
            if let Some(other) = key_names.insert(k.name.to_lowercase(), p.name.clone()) {
                add(
                    "unique-key-names",
                    kplace.clone(),
                    format!(
                        "the name is also used in policy {other:?}; each key needs its own name (Key Vault names are case-insensitive)"
                    ),
                );
            }
            if !crate::keygen::KEY_BITS.contains(&k.size) {
                add(
                    "key-size",
                    kplace.clone(),
                    format!("size {} is not 2048, 3072 or 4096", k.size),
                );
            }
            let vault = match normalize_vault(&k.vault, mode) {
                Ok(u) => Some(u),
                Err(m) => {
                    add("vault-url", kplace.clone(), m);
                    None
                }
            };
            if let Some(u) = &vault {
                vaults.push(u.clone());
            }
            let pin_ok =
                k.kek_sha256.len() == 64 && k.kek_sha256.bytes().all(|b| b.is_ascii_hexdigit());
            if !pin_ok {
                add(
                    "kek-pin",
                    kplace.clone(),
                    format!(
                        "kek_sha256 {:?} is not 64 hex digits (the SHA-256 `byok kek inspect` prints)",
                        k.kek_sha256
                    ),
                );
            }
            let rel = Path::new(&k.kek);
            if k.kek.is_empty() || rel.is_absolute() {
                add(
                    "kek-path",
                    kplace.clone(),
                    format!(
                        "kek {:?} must be a path relative to the plan file (e.g. keks/vaulta1-kek.json)",
                        k.kek
                    ),
                );
                continue;
            }
            let kek_path = base.join(rel);
            let kek = match keks.get(&kek_path) {
                Some(k) => k.clone(),
                None => {
                    let loaded = match Kek::load(&kek_path, None, mode) {
                        Ok(k) => Some(k),
                        Err(e) => {
                            load_errors.push((kplace.clone(), e));
                            None
                        }
                    };
                    keks.insert(kek_path.clone(), loaded.clone());
                    loaded
                }
            };
            let Some(kek) = kek else {
                // The load error is recorded once per file, below.
                continue;
            };
            let fp = hex::encode(kek.sha256());
            if pin_ok && !fp.eq_ignore_ascii_case(&k.kek_sha256) {
                add(
                    "kek-pin",
                    kplace.clone(),
                    format!(
                        "the KEK in {} has SHA-256 {fp}, not the pinned {}: this is not the KEK taken from the vault; fetch it again",
                        k.kek,
                        k.kek_sha256
                    ),
                );
            }
            match (&kek.kid, &vault) {
                (None, _) => add(
                    "kek-vault",
                    kplace.clone(),
                    format!(
                        "{} has no kid: use the KeyBundle JSON of `az keyvault key show` (or `byok kek fetch`)",
                        k.kek
                    ),
                ),
                (Some(kid), Some(u)) if &kid.vault != u => add(
                    "kek-vault",
                    kplace.clone(),
                    format!(
                        "the KEK {} is in vault {}, not in the key's vault {u}: a KEK only imports into its own vault",
                        kid.url(),
                        kid.vault
                    ),
                ),
                _ => {}
            }
            let required = k.kek_attestation == KekAttestation::Required;
            let attestation = match crate::attestation::policy::check_kek_files(
                &kek_path, None, &kek, required, roots,
            ) {
                Ok(a) => Some(a),
                Err(e) => {
                    add("kek-attestation", kplace.clone(), e.message().to_string());
                    None
                }
            };
            if let Some(u) = vault {
                out.push(KeyPlan {
                    policy: p.name.clone(),
                    service: p.service.clone(),
                    key: k.clone(),
                    vault: u,
                    kek_path,
                    kek,
                    attestation,
                });
            }
        }
        if vaults.len() == 2 && vaults[0] == vaults[1] {
            add(
                "two-vaults",
                pplace.clone(),
                format!(
                    "both keys are in vault {}; Customer Key needs two vaults (in two regions, two subscriptions)",
                    vaults[0]
                ),
            );
        }
        if vaults.len() == 2 && vaults[0] != vaults[1] {
            warnings.push(format!(
                "policy {:?}: byok cannot check offline that vaults {} and {} are in two different Azure regions, ideally not a paired pair; check with `az keyvault show`",
                p.name, vaults[0], vaults[1]
            ));
        }
        if p.keys.len() == 2 && common_prefix(&p.keys[0].name, &p.keys[1].name).is_empty() {
            warnings.push(format!(
                "policy {:?}: key names {:?} and {:?} share no common prefix; the Customer Key document recommends a common prefix with use and scope (e.g. Contoso-O365EX-NA-VaultA1-Key001)",
                p.name, p.keys[0].name, p.keys[1].name
            ));
        }
    }
    for (place, e) in load_errors {
        add("kek-file", place, e.message().to_string());
    }
    if exchange > EXCHANGE_MAX_DEPS {
        warnings.push(format!(
            "the plan has {exchange} Exchange policies; Exchange Online allows at most {EXCHANGE_MAX_DEPS} DEPs per organization, counting those that exist"
        ));
    } else if exchange > 0 {
        warnings.push(format!(
            "Exchange Online allows at most {EXCHANGE_MAX_DEPS} DEPs per organization: this plan adds {exchange}; check how many exist (Get-DataEncryptionPolicy)"
        ));
    }
    out
}

/// The dash-terminated common prefix of two key names ("" when none).
fn common_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let n = a
        .bytes()
        .zip(b.bytes())
        .take_while(|(x, y)| x.eq_ignore_ascii_case(y))
        .count();
    match a[..n].rfind('-') {
        Some(i) => &a[..=i],
        None => "",
    }
}

fn valid_https_url(u: &str) -> bool {
    match u.strip_prefix("https://") {
        Some(rest) => {
            let host = rest.split('/').next().unwrap_or("");
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':'))
                && !u.contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_urls_normalize() {
        assert_eq!(
            normalize_vault("https://Contoso-VaultA1.vault.azure.net/", Mode::Ceremony).as_deref(),
            Ok("https://contoso-vaulta1.vault.azure.net")
        );
        assert_eq!(
            normalize_vault("https://127.0.0.1:8443", Mode::Rehearsal).as_deref(),
            Ok("https://127.0.0.1:8443")
        );
        assert!(normalize_vault("https://127.0.0.1:8443", Mode::Ceremony)
            .unwrap_err()
            .contains("rehearsal"));
        assert!(normalize_vault("http://x.vault.azure.net", Mode::Rehearsal).is_err());
        assert!(normalize_vault("https://example.com", Mode::Rehearsal).is_err());
        assert!(normalize_vault("https://x.vault.azure.net/keys", Mode::Rehearsal).is_err());
    }

    #[test]
    fn prefixes_and_ids() {
        assert_eq!(
            common_prefix("Contoso-A1-Key001", "Contoso-A2-Key001"),
            "Contoso-"
        );
        assert_eq!(common_prefix("KeyA", "KeyB"), "");
        assert!(valid_ceremony_id("contoso-na-2026-12"));
        assert!(!valid_ceremony_id("../x"));
        assert!(!valid_ceremony_id(""));
    }
}
