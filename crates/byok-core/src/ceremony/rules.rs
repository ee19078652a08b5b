//! The rules `byok ceremony check` applies to a plan, each named (`[rule] place: what`):
//! the ceremony id, the token label, two distinct officers, each policy's service, its
//! two keys in two vaults, key names and sizes, each KEK's file, pin, vault and
//! attestation. All violations are reported at once.

use super::plan::{signer_label, KekAttestation, KeyPlan, Plan, Violation, EXCHANGE_MAX_DEPS};
use crate::kek::Kek;
use crate::keyid::{valid_key_name, Mode};
use crate::Error;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

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
/// loopback address): [`crate::keyid::vault_url`], as a violation's text.
pub fn normalize_vault(url: &str, mode: Mode) -> std::result::Result<String, String> {
    crate::keyid::vault_url(url, mode)
        .map(|v| v.url)
        .map_err(|e| e.message().to_string())
}

pub(crate) fn apply(
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
    if plan.token.trim().is_empty()
        || plan.token.len() > 32
        || plan.token.trim() != plan.token
        || plan.token.chars().any(char::is_control)
    {
        add(
            "token-label",
            "token".into(),
            format!(
                "{:?} is not a token label: PKCS#11 labels are 1-32 printable bytes without leading or trailing spaces",
                plan.token
            ),
        );
    }
    if let Some(serial) = &plan.token_serial {
        // PKCS#11 `serialNumber` is 16 bytes, blank-padded; byok compares it trimmed.
        if serial.is_empty() || serial.len() > 16 || !serial.bytes().all(|b| b.is_ascii_graphic()) {
            add(
                "token-serial",
                "token_serial".into(),
                format!(
                    "{:?} is not a token serial: PKCS#11 serials are 1-16 printable ASCII characters without spaces (`byok hsm list` shows it)",
                    serial
                ),
            );
        }
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
        // Names and roles are printed on the terminal, the script and the record: a
        // control character (an escape sequence, a carriage return) could hide text there.
        if [&o.name, &o.role]
            .iter()
            .any(|t| t.chars().any(char::is_control) || t.len() > 128)
        {
            add(
                "officer-named",
                place.clone(),
                "a name and a role are at most 128 printable characters, without control characters"
                    .into(),
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
        if p.description
            .as_deref()
            .is_some_and(|d| d.chars().any(char::is_control) || d.len() > 256)
        {
            add(
                "policy-description",
                pplace.clone(),
                "a description is at most 256 printable characters, without control characters"
                    .into(),
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
                        "admin_url {u:?} is not an https URL of a host alone (https://TENANT-admin.sharepoint.com)"
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
    // Count whole characters, so a name that is not ASCII (refused by the key-name rule,
    // but still looked at here) never splits a character.
    let n: usize = a
        .chars()
        .zip(b.chars())
        .take_while(|(x, y)| x.eq_ignore_ascii_case(y))
        .map(|(x, _)| x.len_utf8())
        .sum();
    let shared = a.get(..n).unwrap_or("");
    match shared.rfind('-') {
        Some(i) => a.get(..=i).unwrap_or(""),
        None => "",
    }
}

/// Is `u` just `https://HOST` (a trailing `/` allowed)? The admin URL is printed unquoted
/// in the SharePoint commands, so it may hold nothing but a host's letters, digits, `-`,
/// `.` and a port's `:`.
fn valid_https_url(u: &str) -> bool {
    match u.strip_prefix("https://") {
        Some(rest) => {
            let host = rest.strip_suffix('/').unwrap_or(rest);
            !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests;
