//! The rules `byok ceremony check` applies to a plan, each named (`[rule] place: what`):
//! the ceremony id, the token label, two distinct officers, each policy's service, its
//! two keys in two vaults, key names and sizes, each KEK's file, pin, vault and
//! attestation. All violations are reported at once.

use super::plan::{
    roll_label, signer_label, KekAttestation, KeyPlan, Plan, Violation, EXCHANGE_MAX_DEPS,
};
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
        || crate::text::has_hidden(&plan.token)
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
    people(plan, &mut add);
    record_fields(plan, &mut add);
    if plan.policies.is_empty() && plan.keys.is_empty() {
        add(
            "policies",
            "policies".into(),
            "the plan has neither a policy nor a key: nothing to do".into(),
        );
    }
    let signer = signer_label(&plan.ceremony);
    let mut policy_names = BTreeSet::new();
    let mut key_names: BTreeMap<String, String> = BTreeMap::new();
    let mut keks: BTreeMap<PathBuf, Option<Kek>> = BTreeMap::new();
    let mut out = Vec::new();
    let mut exchange = 0;
    // The multi-workload policies (service m365): a tenant has one.
    let mut m365: Vec<String> = Vec::new();
    let mut load_errors: Vec<(String, Error)> = Vec::new();
    for p in &plan.policies {
        let pplace = format!("policy {:?}", p.name);
        if !valid_policy_name(&p.name) {
            add(
                "policy-name",
                pplace.clone(),
                "a policy name is 1-64 ASCII letters, digits, spaces, '-', '_' and '.', starting with a letter or digit and not ending with a space"
                    .into(),
            );
        }
        if p.description
            .as_deref()
            .is_some_and(|d| !valid_description(d))
        {
            add(
                "policy-description",
                pplace.clone(),
                "a description is at most 256 printable characters, without control characters, invisible formatting characters, backticks or typographic quotes (‘ ’ ‚ ‛ “ ” „)"
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
        // A policy either creates a DEP (no key has "roll") or rolls keys of an existing
        // one (every key listed has it).
        let rolls = p.keys.iter().filter(|k| k.roll).count();
        let rolling = rolls > 0;
        if rolling && rolls != p.keys.len() {
            add(
                "roll-whole-policy",
                pplace.clone(),
                format!(
                    "{rolls} of its {} keys have \"roll\": true; a policy either creates a DEP (no key rolls) or rolls keys of an existing one (list only the keys rolled, each with \"roll\": true)",
                    p.keys.len()
                ),
            );
        }
        match p.service.as_str() {
            "exchange" | "m365" => {
                if rolling {
                    // Rolls create no DEP: they count against no limit.
                } else if p.service == "exchange" {
                    exchange += 1;
                } else {
                    m365.push(p.name.clone());
                }
                if p.admin_url.is_some() {
                    add(
                        "admin-url",
                        pplace.clone(),
                        format!(
                            "admin_url is for sharepoint policies; {} has none",
                            if p.service == "exchange" {
                                "an Exchange DEP"
                            } else {
                                "a multi-workload DEP"
                            }
                        ),
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
                Some(u) if !valid_admin_url(u) => add(
                    "admin-url",
                    pplace.clone(),
                    format!(
                        "admin_url {:?} is not an https URL of a SharePoint admin host alone: https://TENANT-admin.sharepoint.com (or .sharepoint.us, .sharepoint-mil.us, .sharepoint.cn), without path, port, query or user",
                        crate::text::printable(u)
                    ),
                ),
                Some(_) => {}
            },
            other => add(
                "service",
                pplace.clone(),
                format!("service {other:?} is not one of exchange, sharepoint, m365 (the multi-workload DEP)"),
            ),
        }
        if rolling {
            if p.keys.len() > 2 {
                add(
                    "two-keys",
                    pplace.clone(),
                    format!("the policy rolls {} keys; a DEP has two", p.keys.len()),
                );
            } else if p.service == "sharepoint" && p.keys.len() == 2 {
                add(
                    "roll-sharepoint-stagger",
                    pplace.clone(),
                    "the plan rolls both keys of a SharePoint DEP at once; stagger them: roll one key, wait until Get-SPODataEncryptionPolicy shows that roll done, then roll the other in a later ceremony"
                        .into(),
                );
            } else if p.service == "sharepoint" {
                warnings.push(format!(
                    "policy {:?}: after this roll's Update-SPODataEncryptionPolicy, wait until Get-SPODataEncryptionPolicy shows the roll done before rolling the other key",
                    p.name
                ));
            }
        } else if p.keys.len() != 2 {
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
            let label = if k.roll {
                roll_label(&k.name, &plan.ceremony)
            } else {
                k.name.clone()
            };
            if k.roll {
                if valid_key_name(&k.name) && !valid_key_name(&label) {
                    add(
                        "roll-label",
                        kplace.clone(),
                        format!(
                            "the rolled key's token label {label:?} (the key name, a dash and the ceremony id) is longer than 127 characters; shorten the ceremony id"
                        ),
                    );
                }
                if label == signer {
                    add(
                        "key-name",
                        kplace.clone(),
                        format!("the rolled key's label {label:?} is the label of the transcript signer key"),
                    );
                } else if let Some(other) = key_names.insert(label.to_lowercase(), p.name.clone()) {
                    add(
                        "unique-key-names",
                        kplace.clone(),
                        format!(
                            "the rolled key's token label {label:?} is also a key name in policy {other:?}; rename one"
                        ),
                    );
                }
                warnings.push(format!(
                    "policy {:?} key {:?}: a roll; the new key is labelled {label:?} on the token, and `ceremony import` adds it as a new version of the existing key {:?}, keeping every older version enabled (Customer Key needs them for older content)",
                    p.name, k.name, k.name
                ));
            }
            match (k.key_type, k.roll && p.service == "sharepoint") {
                (None, true) => add(
                    "roll-key-type",
                    kplace.clone(),
                    "a rolled SharePoint key needs \"key_type\": \"primary\" or \"secondary\" (the -KeyType of Update-SPODataEncryptionPolicy)"
                        .into(),
                ),
                (Some(_), false) => add(
                    "roll-key-type",
                    kplace.clone(),
                    "key_type is only for a rolled SharePoint key (\"roll\": true in a sharepoint policy)"
                        .into(),
                ),
                _ => {}
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
            let Some((kek_path, kek)) = load_pinned_kek(
                &k.kek,
                &k.kek_sha256,
                "the vault",
                &kplace,
                base,
                mode,
                &mut add,
                &mut keks,
                &mut load_errors,
            ) else {
                continue;
            };
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
            let required = k.kek_attestation_or_default() == KekAttestation::Required;
            if k.kek_attestation == Some(KekAttestation::Optional) && k.is_managed_hsm() {
                warnings.push(format!(
                    "{kplace}: kek_attestation is \"optional\" for a Managed HSM key; Managed HSM attests its KEKs, so require it (\"kek_attestation\": \"required\", the default for Managed HSM keys)"
                ));
            }
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
                    target: super::plan::KeyTarget::Azure,
                    key: k.clone(),
                    label,
                    vault: u,
                    kek_path,
                    kek,
                    attestation,
                    wrap_with_trusted: k.wrap_with_trusted.unwrap_or(plan.wrap_with_trusted),
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
    standalone::check(
        plan,
        base,
        mode,
        roots,
        &mut add,
        warnings,
        standalone::Shared {
            key_names: &mut key_names,
            keks: &mut keks,
            load_errors: &mut load_errors,
        },
        &mut out,
    );
    for (place, e) in load_errors {
        add("kek-file", place, e.message().to_string());
    }
    if m365.len() > 1 {
        add(
            "one-multi-workload-dep",
            format!("policies {}", m365.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")),
            format!(
                "the plan has {} multi-workload (m365) policies; a tenant has exactly one multi-workload DEP: keep one",
                m365.len()
            ),
        );
    } else if let Some(name) = m365.first() {
        warnings.push(format!(
            "policy {name:?}: a tenant has one multi-workload DEP; check none exists yet (Get-M365DataAtRestEncryptionPolicy), or roll its keys instead"
        ));
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

/// A key's KEK file (`kek`, relative to the plan) loaded, once per file, and checked
/// against its pin (`pin`, the plan's `kek_sha256`): the rules `kek-pin` and `kek-path`
/// for every key, a policy's or a stand-alone one. A file that does not load is left in
/// `load_errors` (reported once per file, `kek-file`); `source` names where the key was
/// taken from, for the mismatch's message.
#[allow(clippy::too_many_arguments)]
pub(super) fn load_pinned_kek(
    kek: &str,
    pin: &str,
    source: &str,
    kplace: &str,
    base: &Path,
    mode: Mode,
    add: &mut dyn FnMut(&'static str, String, String),
    keks: &mut BTreeMap<PathBuf, Option<Kek>>,
    load_errors: &mut Vec<(String, Error)>,
) -> Option<(PathBuf, Kek)> {
    let pin_ok = pin.len() == 64 && pin.bytes().all(|b| b.is_ascii_hexdigit());
    if !pin_ok {
        add(
            "kek-pin",
            kplace.to_string(),
            format!(
                "kek_sha256 {:?} is not 64 hex digits (the SHA-256 `byok kek inspect` prints)",
                crate::text::printable(pin)
            ),
        );
    }
    let rel = Path::new(kek);
    if kek.is_empty() || rel.is_absolute() || crate::text::has_hidden(kek) {
        add(
            "kek-path",
            kplace.to_string(),
            format!(
                "kek {:?} must be a path relative to the plan file (e.g. keks/vaulta1-kek.json)",
                crate::text::printable(kek)
            ),
        );
        return None;
    }
    let kek_path = base.join(rel);
    let loaded = match keks.get(&kek_path) {
        Some(k) => k.clone(),
        None => {
            let loaded = match Kek::load(&kek_path, None, mode) {
                Ok(k) => Some(k),
                Err(e) => {
                    load_errors.push((kplace.to_string(), e));
                    None
                }
            };
            keks.insert(kek_path.clone(), loaded.clone());
            loaded
        }
    };
    // The load error is recorded once per file, by the caller.
    let loaded = loaded?;
    let fp = hex::encode(loaded.sha256());
    if pin_ok && !fp.eq_ignore_ascii_case(pin) {
        add(
            "kek-pin",
            kplace.to_string(),
            format!(
                "the KEK in {} has SHA-256 {fp}, not the pinned {pin}: this is not the KEK taken from {source}; fetch it again",
                crate::text::printable(kek)
            ),
        );
    }
    Some((kek_path, loaded))
}

/// The rules on the people a plan names: officers and witnesses, each with a printable
/// name and role in one script, every name distinct from every other (officer or witness).
fn people(plan: &Plan, add: &mut dyn FnMut(&'static str, String, String)) {
    let mut names = BTreeSet::new();
    let officers = plan.officers.iter().enumerate().map(|(i, o)| (true, i, o));
    let witnesses = plan
        .witnesses
        .iter()
        .enumerate()
        .map(|(i, o)| (false, i, o));
    for (officer, i, o) in officers.chain(witnesses) {
        let (named, who) = if officer {
            ("officer-named", "officer")
        } else {
            ("witness-named", "witness")
        };
        let place = format!("{who} {}", i + 1);
        if o.name.trim().is_empty() || o.role.trim().is_empty() {
            add(
                named,
                place.clone(),
                format!("every {who} needs a name and a role"),
            );
        }
        // Names and roles are printed on the terminal, the script and the record: a
        // control character (an escape sequence, a carriage return) or a bidi override
        // could hide or reorder text there.
        if [&o.name, &o.role]
            .iter()
            .any(|t| crate::text::has_hidden(t) || t.len() > 128)
        {
            add(
                named,
                place.clone(),
                "a name and a role are at most 128 printable characters, without control characters or invisible formatting characters"
                    .into(),
            );
        }
        // A name mixing scripts (a Cyrillic "А" in "Аlice") is how one person is made to
        // look like another: refused. A name in one script, any script, is fine.
        if !crate::text::is_single_script(&o.name) {
            add(
                named,
                place.clone(),
                format!(
                    "{:?} mixes letters of several scripts (e.g. a Cyrillic letter among Latin ones); write each name in one script",
                    crate::text::printable(&o.name)
                ),
            );
        }
        // Distinct people have names that look distinct: compared after NFKC, case
        // folding and the confusable skeleton, so width, case and homoglyphs do not count.
        if !names.insert(crate::text::identity_key(&o.name)) {
            if officer {
                add(
                    "distinct-officers",
                    place,
                    format!(
                        "{:?} is named twice; dual control needs distinct people",
                        o.name
                    ),
                );
            } else {
                add(
                    "distinct-witnesses",
                    place,
                    format!(
                        "{:?} is already named as an officer or a witness; a witness is another person, who signs the record as such",
                        o.name
                    ),
                );
            }
        }
    }
}

/// Longest `location` text.
const LOCATION_MAX: usize = 256;
/// Longest tamper-evident bag number.
const BAG_MAX: usize = 64;

/// Is `b` a tamper-evident bag number byok accepts? 1-64 ASCII letters, digits, `-`, `_`,
/// `.` and `/`, starting with a letter or digit: what is printed on bags, and no space, so
/// that officers can type several separated by spaces or commas.
pub fn valid_bag_number(b: &str) -> bool {
    let bytes = b.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= BAG_MAX
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/'))
}

/// The rules on what the printed record carries: `location` and `hsm_bags`.
fn record_fields(plan: &Plan, add: &mut dyn FnMut(&'static str, String, String)) {
    if let Some(l) = &plan.location {
        if l.trim().is_empty() || l.len() > LOCATION_MAX || crate::text::has_hidden(l) {
            add(
                "location",
                "location".into(),
                format!("a location is 1-{LOCATION_MAX} printable characters, without control characters or invisible formatting characters"),
            );
        }
    }
    let Some(bags) = &plan.hsm_bags else {
        return;
    };
    let mut seen = BTreeSet::new();
    for (list, which) in [(&bags.bags_in, "in"), (&bags.bags_out, "out")] {
        let place = format!("hsm_bags.{which}");
        if list.is_empty() {
            add(
                "hsm-bags",
                place.clone(),
                format!(
                    "no bag number: list the bags the HSM and its smartcards {}",
                    if which == "in" {
                        "are sealed in before the ceremony"
                    } else {
                        "are sealed in after it"
                    }
                ),
            );
        }
        for b in list.iter() {
            if !valid_bag_number(b) {
                add(
                    "hsm-bags",
                    place.clone(),
                    format!(
                        "{:?} is not a bag number: 1-{BAG_MAX} ASCII letters, digits, '-', '_', '.' and '/', starting with a letter or digit",
                        crate::text::printable(b)
                    ),
                );
            } else if !seen.insert(b.to_ascii_uppercase()) {
                add(
                    "hsm-bags",
                    place.clone(),
                    format!("bag {b:?} is listed twice; a tamper-evident bag is sealed once and opened once"),
                );
            }
        }
    }
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

/// Is `name` a policy name byok accepts? 1-64 ASCII letters, digits, spaces, `-`, `_`
/// and `.`, starting with a letter or digit and not ending with a space.
///
/// The name is the Exchange DEP's `-Name` (and `-Identity` in `Set-Mailbox`), and names a
/// SharePoint geo policy in byok's records. Exchange stores it as the name of a directory
/// object, at most 64 characters; it is printed inside PowerShell commands the tenant
/// administrator pastes. Quoting makes any text inert there, but a name is an identifier,
/// not prose: this set needs no quoting at all, and leaves out what PowerShell or a
/// terminal could read as code or hide (`$`, backticks, quotes, the Unicode quotes
/// PowerShell also honours, `;`, `|`, brackets, control and invisible characters, letters
/// of other scripts that look like ASCII).
pub fn valid_policy_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b.last() != Some(&b' ')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b' ' | b'-' | b'_' | b'.'))
}

/// Is `d` a description byok accepts? At most 256 bytes of text without control or
/// invisible formatting characters ([`crate::text::has_hidden`]: a line break would start
/// a new command where it is pasted), backticks (PowerShell's escape character) and the
/// typographic quotes PowerShell treats as quote marks (U+2018-U+201E): the printed
/// commands single-quote the description, doubling `'`, and these are the characters
/// that could still end or bend that quoting. Prose is otherwise free (`$`, `(`, `'`…).
pub fn valid_description(d: &str) -> bool {
    d.len() <= 256
        && !crate::text::has_hidden(d)
        && !d
            .chars()
            .any(|c| matches!(c, '`' | '\u{2018}'..='\u{201E}'))
}

/// The SharePoint Online admin hosts: commercial and GCC (`sharepoint.com`), GCC High
/// (`sharepoint.us`), DoD (`sharepoint-mil.us`) and the cloud operated by 21Vianet in
/// China (`sharepoint.cn`). (Microsoft Cloud Deutschland's `sharepoint.de` is retired.)
const SHAREPOINT_DOMAINS: [&str; 4] = [
    "sharepoint.com",
    "sharepoint.us",
    "sharepoint-mil.us",
    "sharepoint.cn",
];

/// Is `u` a tenant's SharePoint admin URL, `https://TENANT-admin.sharepoint.com` (or a
/// sovereign cloud's domain, [`SHAREPOINT_DOMAINS`]), and nothing else: no path (a
/// trailing `/` aside), port, query, fragment or user? TENANT is the tenant's initial
/// domain name (`TENANT.onmicrosoft.com`; a multi-geo satellite's is `TENANTGEO`):
/// letters, digits and inner dashes. The URL is printed in the SharePoint commands, so
/// anything more than this host could carry PowerShell.
pub fn valid_admin_url(u: &str) -> bool {
    let Some(rest) = u.strip_prefix("https://") else {
        return false;
    };
    let host = rest.strip_suffix('/').unwrap_or(rest).to_ascii_lowercase();
    let Some((first, domain)) = host.split_once('.') else {
        return false;
    };
    let Some(tenant) = first.strip_suffix("-admin") else {
        return false;
    };
    SHAREPOINT_DOMAINS.contains(&domain)
        && !tenant.is_empty()
        && tenant.len() <= 63
        && !tenant.starts_with('-')
        && !tenant.ends_with('-')
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

mod standalone;
#[cfg(test)]
mod tests;
