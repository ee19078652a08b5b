//! The commands that finish a policy's setup after the import, and those for a future key
//! roll: the vault permissions the policy's Microsoft 365 service needs (a Key Vault
//! access policy, or a Managed HSM role assignment scoped to the key), then the policy
//! itself: Exchange Online data encryption policies (`New-DataEncryptionPolicy`),
//! SharePoint/OneDrive geo policies (`Register-SPODataEncryptionPolicy`, in the key-URI
//! form that serves Key Vault and Managed HSM alike) and the tenant's multi-workload
//! policy (`New-M365DataAtRestEncryptionPolicy`).

use super::ImportedKey;
use byok_core::ceremony::plan::{CheckedPlan, Policy, SpoKeyType};
use byok_core::keyid::Service;
use serde::Serialize;
use std::collections::BTreeSet;

/// One policy's commands.
#[derive(Debug, Serialize)]
pub struct PolicyCommands {
    pub policy: String,
    pub service: String,
    /// The vault permissions the service needs, before the policy is created (each
    /// printed once, for the first policy that needs it).
    pub permissions: Vec<String>,
    pub setup: Vec<String>,
    pub after_key_roll: Vec<String>,
}

/// The Entra ID application of a policy's Microsoft 365 service: the service principal
/// that wraps and unwraps with the keys.
pub fn service_app_id(service: &str) -> Option<&'static str> {
    match service {
        "exchange" => Some("00000002-0000-0ff1-ce00-000000000000"),
        "sharepoint" => Some("00000003-0000-0ff1-ce00-000000000000"),
        // M365DataAtRestEncryption, the multi-workload service.
        "m365" => Some("c066d759-24ae-40e7-a56f-027002b5d3e4"),
        _ => None,
    }
}

/// The Managed HSM local RBAC role that lets a service wrap and unwrap with a key.
const MHSM_ROLE: &str = "Managed HSM Crypto Service Encryption User";

/// The vault name Office 365 cmdlets want: the first label of the vault's host.
fn vault_name(url: &str) -> String {
    crate::backup::vault_file_label(url)
}

/// The characters PowerShell takes as a single quote: `'` and the typographic U+2018,
/// U+2019, U+201A and U+201B. Any of them ends a single-quoted string.
const SINGLE_QUOTES: [char; 5] = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];

/// A PowerShell single-quoted (verbatim) string: nothing inside is expanded (no `$`
/// variables, no `$(…)` subexpressions, no backtick escapes), and a quote character is
/// written twice, which PowerShell reads as that one character. Every value byok prints
/// in a command goes through here, so no value (a plan's policy name or description, an
/// admin URL, a vault or key name, a version, a key id) can end the string and run as
/// code, whatever it holds; a line break stays inside the string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if SINGLE_QUOTES.contains(&c) {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The commands for every policy of `plan` whose two keys were imported (`keys`);
/// `kind` says whether a vault URL is a Key Vault or a Managed HSM.
pub(super) fn commands(
    plan: &CheckedPlan,
    keys: &[ImportedKey],
    kind: &dyn Fn(&str) -> Service,
) -> Vec<PolicyCommands> {
    let mut out = Vec::new();
    let mut granted = BTreeSet::new();
    for p in &plan.plan.policies {
        let ks: Vec<&ImportedKey> = keys.iter().filter(|k| k.policy == p.name).collect();
        if p.keys.iter().any(|k| k.roll) {
            if !ks.is_empty() && ks.len() == p.keys.len() {
                out.push(roll_commands(p, &ks));
            }
            continue;
        }
        let [a, b] = ks.as_slice() else {
            continue;
        };
        let mut permissions = Vec::new();
        if let Some(app) = service_app_id(&p.service) {
            for k in [a, b] {
                let line = if kind(&k.vault) == Service::ManagedHsm {
                    format!(
                        "az keyvault role assignment create --hsm-name {} --role {} --assignee {} --scope {}",
                        quote(&vault_name(&k.vault)),
                        quote(MHSM_ROLE),
                        quote(app),
                        quote(&format!("/keys/{}", k.name))
                    )
                } else {
                    format!(
                        "Set-AzKeyVaultAccessPolicy -VaultName {} -PermissionsToKeys wrapKey,unwrapKey,get -ServicePrincipalName {}",
                        quote(&vault_name(&k.vault)),
                        quote(app)
                    )
                };
                if granted.insert(line.clone()) {
                    permissions.push(line);
                }
            }
        }
        let description = quote(p.description.as_deref().unwrap_or(&p.name));
        let (setup, mut roll) = match p.service.as_str() {
            "exchange" => {
                let setup = vec![
                    format!(
                        "New-DataEncryptionPolicy -Name {} -Description {description} -AzureKeyIDs {}, {}",
                        quote(&p.name),
                        quote(&a.kid),
                        quote(&b.kid)
                    ),
                    format!(
                        "Set-Mailbox -Identity <mailbox> -DataEncryptionPolicy {}",
                        quote(&p.name)
                    ),
                ];
                let roll = vec![format!(
                    "Set-DataEncryptionPolicy -Identity {} -Refresh",
                    quote(&p.name)
                )];
                (setup, roll)
            }
            "m365" => {
                let setup = vec![
                    format!(
                        "New-M365DataAtRestEncryptionPolicy -Name {} -AzureKeyIDs {},{} -Description {description}",
                        quote(&p.name),
                        quote(&a.kid),
                        quote(&b.kid)
                    ),
                    format!(
                        "Set-M365DataAtRestEncryptionPolicyAssignment -DataEncryptionPolicy {}",
                        quote(&p.name)
                    ),
                ];
                let roll = vec![format!(
                    "Set-M365DataAtRestEncryptionPolicy -Identity {} -Refresh",
                    quote(&p.name)
                )];
                (setup, roll)
            }
            _ => {
                let admin = quote(p.admin_url.as_deref().unwrap_or_default());
                let setup = vec![format!(
                    "Register-SPODataEncryptionPolicy -Identity {admin} -PrimaryKeyVaultUri {} -SecondaryKeyVaultUri {}",
                    quote(&a.kid),
                    quote(&b.kid)
                )];
                let roll = vec![
                    format!(
                        "Update-SPODataEncryptionPolicy -Identity {admin} -KeyVaultUri <new key URI> -KeyType Primary"
                    ),
                    "(wait until Get-SPODataEncryptionPolicy no longer shows Rolling, then the secondary:)".to_string(),
                    format!(
                        "Update-SPODataEncryptionPolicy -Identity {admin} -KeyVaultUri <new key URI> -KeyType Secondary"
                    ),
                ];
                (setup, roll)
            }
        };
        roll.insert(0, ROLL_PREFACE.to_string());
        out.push(PolicyCommands {
            policy: p.name.clone(),
            service: p.service.clone(),
            permissions,
            setup,
            after_key_roll: roll,
        });
    }
    out
}

/// What comes before the commands for a future key roll.
const ROLL_PREFACE: &str =
    "after a roll ceremony (a plan listing the rolled keys with \"roll\": true, run and imported):";

/// The commands after a roll of `keys` (the policy's rolled keys, imported as new
/// versions): the service's permissions already cover every version of the key, so none
/// are printed; the DEP is refreshed to pick up the new version (Exchange, multi-workload)
/// or pointed at it (SharePoint, one key at a time).
fn roll_commands(p: &Policy, keys: &[&ImportedKey]) -> PolicyCommands {
    let setup = match p.service.as_str() {
        "exchange" => vec![format!(
            "Set-DataEncryptionPolicy -Identity {} -Refresh",
            quote(&p.name)
        )],
        "m365" => vec![format!(
            "Set-M365DataAtRestEncryptionPolicy -Identity {} -Refresh",
            quote(&p.name)
        )],
        _ => {
            let admin = quote(p.admin_url.as_deref().unwrap_or_default());
            let mut lines = Vec::new();
            for k in keys {
                let key_type = p
                    .keys
                    .iter()
                    .find(|pk| pk.name == k.name)
                    .and_then(|pk| pk.key_type)
                    .unwrap_or(SpoKeyType::Primary);
                lines.push(format!(
                    "Update-SPODataEncryptionPolicy -Identity {admin} -KeyVaultUri {} -KeyType {}",
                    quote(&k.kid),
                    key_type.as_powershell()
                ));
                lines.push(format!(
                    "(wait until Get-SPODataEncryptionPolicy -Identity {admin} shows the roll done, no longer Rolling, before any other key roll)"
                ));
                if key_type == SpoKeyType::Primary {
                    lines.push(format!(
                        "(then, when a later ceremony has rolled the secondary key: Update-SPODataEncryptionPolicy -Identity {admin} -KeyVaultUri <new secondary key URI> -KeyType Secondary)"
                    ));
                }
            }
            lines
        }
    };
    PolicyCommands {
        policy: p.name.clone(),
        service: p.service.clone(),
        permissions: Vec::new(),
        setup,
        after_key_roll: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "0123456789abcdef0123456789abcdef";
    const V2: &str = "fedcba9876543210fedcba9876543210";

    fn key(policy: &str, vault: &str, name: &str, version: &str) -> ImportedKey {
        ImportedKey {
            policy: policy.into(),
            vault: vault.into(),
            name: name.into(),
            kid: format!("{vault}/keys/{name}/{version}"),
            version: version.into(),
            uploaded_now: true,
            verified: true,
            backup_file: String::new(),
            roll: false,
            versions: None,
        }
    }

    /// Managed HSM for `*.managedhsm.azure.net`, else Key Vault.
    fn kind(url: &str) -> Service {
        if url.contains(".managedhsm.") {
            Service::ManagedHsm
        } else {
            Service::KeyVault
        }
    }

    fn plan_with(policies: Vec<Policy>) -> CheckedPlan {
        let tmp = std::env::temp_dir();
        let mut plan = super::super::inputs::tests::plan(&tmp);
        plan.plan.policies = policies;
        plan
    }

    fn policy(name: &str, service: &str, description: Option<&str>, admin: Option<&str>) -> Policy {
        Policy {
            name: name.into(),
            service: service.into(),
            description: description.map(str::to_string),
            admin_url: admin.map(str::to_string),
            keys: vec![],
        }
    }

    #[test]
    fn exchange_commands() {
        let plan = plan_with(vec![policy(
            "USA_mailboxes",
            "exchange",
            Some("US \"mail\" $boxes, Bob's"),
            None,
        )]);
        let keys = [
            key(
                "USA_mailboxes",
                "https://contoso-a1.vault.azure.net",
                "Key-A",
                V1,
            ),
            key(
                "USA_mailboxes",
                "https://contoso-b1.vault.azure.net",
                "Key-B",
                V2,
            ),
        ];
        let c = commands(&plan, &keys, &kind);
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].policy.as_str(), c[0].service.as_str()),
            ("USA_mailboxes", "exchange")
        );
        assert_eq!(
            c[0].setup,
            [
                format!("New-DataEncryptionPolicy -Name 'USA_mailboxes' -Description 'US \"mail\" $boxes, Bob''s' -AzureKeyIDs 'https://contoso-a1.vault.azure.net/keys/Key-A/{V1}', 'https://contoso-b1.vault.azure.net/keys/Key-B/{V2}'"),
                "Set-Mailbox -Identity <mailbox> -DataEncryptionPolicy 'USA_mailboxes'".to_string(),
            ]
        );
        assert_eq!(
            c[0].after_key_roll,
            [
                ROLL_PREFACE,
                "Set-DataEncryptionPolicy -Identity 'USA_mailboxes' -Refresh",
            ]
        );
    }

    #[test]
    fn sharepoint_commands() {
        let plan = plan_with(vec![policy(
            "Geo_NAM",
            "sharepoint",
            None,
            Some("https://contoso-admin.sharepoint.com"),
        )]);
        let keys = [
            key(
                "Geo_NAM",
                "https://contoso-sp-a.vault.azure.net",
                "SP-A",
                V1,
            ),
            key(
                "Geo_NAM",
                "https://contoso-sp-b.vault.azure.net",
                "SP-B",
                V2,
            ),
        ];
        let c = commands(&plan, &keys, &kind);
        assert_eq!(
            c[0].permissions,
            [
                "Set-AzKeyVaultAccessPolicy -VaultName 'contoso-sp-a' -PermissionsToKeys wrapKey,unwrapKey,get -ServicePrincipalName '00000003-0000-0ff1-ce00-000000000000'",
                "Set-AzKeyVaultAccessPolicy -VaultName 'contoso-sp-b' -PermissionsToKeys wrapKey,unwrapKey,get -ServicePrincipalName '00000003-0000-0ff1-ce00-000000000000'",
            ]
        );
        assert_eq!(
            c[0].setup,
            [format!("Register-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -PrimaryKeyVaultUri 'https://contoso-sp-a.vault.azure.net/keys/SP-A/{V1}' -SecondaryKeyVaultUri 'https://contoso-sp-b.vault.azure.net/keys/SP-B/{V2}'")]
        );
        assert_eq!(
            c[0].after_key_roll,
            [
                ROLL_PREFACE,
                "Update-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -KeyVaultUri <new key URI> -KeyType Primary",
                "(wait until Get-SPODataEncryptionPolicy no longer shows Rolling, then the secondary:)",
                "Update-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -KeyVaultUri <new key URI> -KeyType Secondary",
            ]
        );
    }

    #[test]
    fn multi_workload_commands_on_managed_hsms() {
        let plan = plan_with(vec![policy(
            "M365_DEP",
            "m365",
            Some("All workloads"),
            None,
        )]);
        let keys = [
            key(
                "M365_DEP",
                "https://contoso-m1.managedhsm.azure.net",
                "M-A",
                V1,
            ),
            key(
                "M365_DEP",
                "https://contoso-m2.managedhsm.azure.net",
                "M-B",
                V2,
            ),
        ];
        let c = commands(&plan, &keys, &kind);
        assert_eq!(
            c[0].permissions,
            [
                "az keyvault role assignment create --hsm-name 'contoso-m1' --role 'Managed HSM Crypto Service Encryption User' --assignee 'c066d759-24ae-40e7-a56f-027002b5d3e4' --scope '/keys/M-A'",
                "az keyvault role assignment create --hsm-name 'contoso-m2' --role 'Managed HSM Crypto Service Encryption User' --assignee 'c066d759-24ae-40e7-a56f-027002b5d3e4' --scope '/keys/M-B'",
            ]
        );
        assert_eq!(
            c[0].setup,
            [
                format!("New-M365DataAtRestEncryptionPolicy -Name 'M365_DEP' -AzureKeyIDs 'https://contoso-m1.managedhsm.azure.net/keys/M-A/{V1}','https://contoso-m2.managedhsm.azure.net/keys/M-B/{V2}' -Description 'All workloads'"),
                "Set-M365DataAtRestEncryptionPolicyAssignment -DataEncryptionPolicy 'M365_DEP'".to_string(),
            ]
        );
        assert_eq!(
            c[0].after_key_roll,
            [
                ROLL_PREFACE,
                "Set-M365DataAtRestEncryptionPolicy -Identity 'M365_DEP' -Refresh",
            ]
        );
    }

    /// A rehearsal's simulator playing a Managed HSM: the role assignment names it by
    /// the label its backups carry (`127-0-0-1-PORT`), as the Key Vault form does.
    #[test]
    fn a_loopback_managed_hsm_is_named_by_its_label() {
        let plan = plan_with(vec![policy("M", "m365", None, None)]);
        let keys = [
            key("M", "https://127.0.0.1:8443", "M-A", V1),
            key("M", "https://127.0.0.1:8444", "M-B", V2),
        ];
        let mhsm = |url: &str| {
            if url.ends_with(":8443") {
                Service::ManagedHsm
            } else {
                Service::KeyVault
            }
        };
        assert_eq!(
            commands(&plan, &keys, &mhsm)[0].permissions,
            [
                "az keyvault role assignment create --hsm-name '127-0-0-1-8443' --role 'Managed HSM Crypto Service Encryption User' --assignee 'c066d759-24ae-40e7-a56f-027002b5d3e4' --scope '/keys/M-A'",
                "Set-AzKeyVaultAccessPolicy -VaultName '127-0-0-1-8444' -PermissionsToKeys wrapKey,unwrapKey,get -ServicePrincipalName 'c066d759-24ae-40e7-a56f-027002b5d3e4'",
            ]
        );
    }

    #[test]
    fn a_vault_shared_by_two_policies_of_one_service_is_granted_once() {
        let plan = plan_with(vec![
            policy("P1", "exchange", None, None),
            policy("P2", "exchange", None, None),
            policy(
                "G",
                "sharepoint",
                None,
                Some("https://contoso-admin.sharepoint.com"),
            ),
        ]);
        let (a, b) = (
            "https://contoso-a1.vault.azure.net",
            "https://contoso-b1.vault.azure.net",
        );
        let keys = [
            key("P1", a, "K1", V1),
            key("P1", b, "K2", V1),
            key("P2", a, "K3", V1),
            key("P2", b, "K4", V2),
            key("G", a, "K5", V1),
            key("G", b, "K6", V2),
        ];
        let c = commands(&plan, &keys, &kind);
        assert_eq!(c[0].permissions.len(), 2);
        assert!(c[1].permissions.is_empty(), "{:?}", c[1].permissions);
        // SharePoint's service principal is another: it gets its own access policy.
        assert_eq!(c[2].permissions.len(), 2);
        assert!(c[2].permissions[0].ends_with("'00000003-0000-0ff1-ce00-000000000000'"));
    }

    #[test]
    fn only_policies_with_both_keys_get_commands() {
        let plan = plan_with(vec![
            policy("P1", "exchange", None, None),
            policy("P2", "exchange", None, None),
        ]);
        let keys = [
            key("P1", "https://contoso-a1.vault.azure.net", "A", V1),
            key("P2", "https://contoso-a1.vault.azure.net", "B", V1),
            key("P2", "https://contoso-b1.vault.azure.net", "C", V2),
        ];
        let c = commands(&plan, &keys, &kind);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].policy, "P2");
        // Without a description the name stands in.
        assert!(c[0].setup[0].starts_with("New-DataEncryptionPolicy -Name 'P2' -Description 'P2'"));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a"), "'a'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a`b\"c$d"), "'a`b\"c$d'");
        assert_eq!(quote("it's"), "'it''s'");
        for q in SINGLE_QUOTES {
            assert_eq!(quote(&format!("a{q}b")), format!("'a{q}{q}b'"));
        }
    }

    /// A token of a PowerShell command line in argument mode, as PowerShell's tokenizer
    /// reads it: a single-quoted string (any of the five quote characters opens and
    /// closes it; one followed by another is that second character), or bare text.
    #[derive(Debug, PartialEq)]
    enum Tok {
        Quoted(String),
        Bare(String),
    }

    fn tokens(line: &str) -> Vec<Tok> {
        let mut out = Vec::new();
        let mut it = line.chars().peekable();
        while let Some(&c) = it.peek() {
            if c.is_whitespace() {
                it.next();
            } else if SINGLE_QUOTES.contains(&c) {
                it.next();
                let mut s = String::new();
                loop {
                    match it.next() {
                        None => panic!("unterminated string in {line:?}"),
                        Some(q) if SINGLE_QUOTES.contains(&q) => match it.peek() {
                            Some(n) if SINGLE_QUOTES.contains(n) => {
                                s.push(*n);
                                it.next();
                            }
                            _ => break,
                        },
                        Some(ch) => s.push(ch),
                    }
                }
                out.push(Tok::Quoted(s));
            } else if c == ',' {
                it.next();
                out.push(Tok::Bare(",".into()));
            } else {
                let mut s = String::new();
                while let Some(&ch) = it.peek() {
                    if ch.is_whitespace() || ch == ',' || SINGLE_QUOTES.contains(&ch) {
                        break;
                    }
                    s.push(ch);
                    it.next();
                }
                out.push(Tok::Bare(s));
            }
        }
        out
    }

    /// Bare text byok itself writes: cmdlet and parameter names, the comma between
    /// key ids, and the placeholders the operator fills in.
    fn benign(bare: &str) -> bool {
        [",", "<mailbox>", "<new", "URI>", "wrapKey,unwrapKey,get"].contains(&bare)
            || (!bare.is_empty() && bare.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
    }

    #[test]
    fn hostile_values_stay_inside_their_quotes() {
        let name = "Pol$(Stop-Computer -Force)'; Stop-Computer; '\u{2019}x\u{2018}\u{201A}\u{201B}";
        let description =
            "mail $(Remove-Item -Recurse C:\\) `$x \"q\"\n; Stop-Computer # it's ’quoted’";
        let admin = "https://contoso-admin.sharepoint.com/';Stop-Computer;#\u{2019}";
        let plan = plan_with(vec![
            policy(name, "exchange", Some(description), None),
            policy("Geo'\u{2019}", "sharepoint", None, Some(admin)),
        ]);
        let hostile_key = |policy: &str, vault: &str, key: &str| ImportedKey {
            policy: policy.into(),
            vault: vault.into(),
            name: key.into(),
            kid: format!("{vault}/keys/{key}/$(Stop-Computer)'x"),
            version: "v'\u{2018}$(Stop-Computer)".into(),
            uploaded_now: true,
            verified: true,
            backup_file: String::new(),
            roll: false,
            versions: None,
        };
        let keys = [
            hostile_key(name, "https://a.vault.azure.net", "A'$(x)"),
            hostile_key(name, "https://b.vault.azure.net", "B\u{201B}"),
            hostile_key("Geo'\u{2019}", "https://c'.vault.azure.net", "C'\u{2019}"),
            hostile_key("Geo'\u{2019}", "https://d.vault.azure.net", "D"),
        ];
        let c = commands(&plan, &keys, &kind);
        assert_eq!(c.len(), 2);
        let mut quoted = Vec::new();
        for line in c.iter().flat_map(|p| {
            p.permissions
                .iter()
                .chain(&p.setup)
                .chain(&p.after_key_roll)
        }) {
            if line.starts_with('(') || line.starts_with("after ") {
                continue; // prose, not a command
            }
            for t in tokens(line) {
                match t {
                    Tok::Bare(b) => assert!(benign(&b), "{b:?} outside quotes in {line:?}"),
                    Tok::Quoted(q) => quoted.push(q),
                }
            }
        }
        // Every value comes back whole, exactly as given.
        for want in [
            name,
            description,
            admin,
            keys[0].kid.as_str(),
            keys[1].kid.as_str(),
            keys[2].kid.as_str(),
            keys[3].kid.as_str(),
        ] {
            assert!(
                quoted.iter().any(|q| q == want),
                "{want:?} not in {quoted:?}"
            );
        }
        // The description's line break is inside its quotes.
        let setup = &c[0].setup[0];
        let open = setup.find("-Description '").unwrap();
        let close = setup.find(" -AzureKeyIDs").unwrap();
        assert!(
            (open..close).contains(&setup.find('\n').unwrap()),
            "{setup}"
        );
    }

    #[test]
    fn roll_commands_refresh_or_point_at_the_new_version() {
        let mut ex = policy("USA_mailboxes", "exchange", None, None);
        let mut sp = policy(
            "Geo_NAM",
            "sharepoint",
            None,
            Some("https://contoso-admin.sharepoint.com"),
        );
        let mut m = policy("M365_DEP", "m365", None, None);
        let pk = |name: &str, key_type: Option<SpoKeyType>| {
            let mut k = super::super::inputs::tests::plan(&std::env::temp_dir()).keys[0]
                .key
                .clone();
            k.name = name.into();
            k.roll = true;
            k.key_type = key_type;
            k
        };
        ex.keys = vec![pk("EX-A", None)];
        sp.keys = vec![pk("SP-A", Some(SpoKeyType::Primary))];
        m.keys = vec![pk("M-A", None), pk("M-B", None)];
        let plan = plan_with(vec![ex, sp, m]);
        let a = "https://contoso-a1.vault.azure.net";
        let keys = [
            key("USA_mailboxes", a, "EX-A", V2),
            key("Geo_NAM", a, "SP-A", V2),
            key("M365_DEP", a, "M-A", V2),
            key("M365_DEP", a, "M-B", V1),
        ];
        let c = commands(&plan, &keys, &kind);
        assert_eq!(c.len(), 3);
        assert!(c
            .iter()
            .all(|c| c.permissions.is_empty() && c.after_key_roll.is_empty()));
        assert_eq!(
            c[0].setup,
            ["Set-DataEncryptionPolicy -Identity 'USA_mailboxes' -Refresh"]
        );
        assert_eq!(
            c[1].setup,
            [
                format!("Update-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -KeyVaultUri '{a}/keys/SP-A/{V2}' -KeyType Primary"),
                "(wait until Get-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' shows the roll done, no longer Rolling, before any other key roll)".to_string(),
                "(then, when a later ceremony has rolled the secondary key: Update-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -KeyVaultUri <new secondary key URI> -KeyType Secondary)".to_string(),
            ]
        );
        assert_eq!(
            c[2].setup,
            ["Set-M365DataAtRestEncryptionPolicy -Identity 'M365_DEP' -Refresh"]
        );
        // A policy whose rolled keys did not all import gets no command.
        let c = commands(&plan, &keys[..3], &kind);
        assert_eq!(c.len(), 2);
    }
}
