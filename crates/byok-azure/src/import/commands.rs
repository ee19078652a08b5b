//! The Office 365 PowerShell commands that finish a policy's setup after the import, and
//! those for a future key roll: Exchange Online data encryption policies
//! (`New-DataEncryptionPolicy`) and SharePoint/OneDrive geo policies
//! (`Register-SPODataEncryptionPolicy`).

use super::ImportedKey;
use byok_core::ceremony::plan::CheckedPlan;
use serde::Serialize;

/// One policy's Office 365 commands.
#[derive(Debug, Serialize)]
pub struct PolicyCommands {
    pub policy: String,
    pub service: String,
    pub setup: Vec<String>,
    pub after_key_roll: Vec<String>,
}

/// The vault name Office 365 cmdlets want: the first label of the vault's host.
fn vault_name(url: &str) -> String {
    crate::backup::vault_file_label(url)
}

/// A PowerShell double-quoted string: the backtick escapes `` ` ``, `"` and `$` (which
/// would otherwise start a variable).
fn quote(s: &str) -> String {
    let escaped = s.replace('`', "``").replace('"', "`\"").replace('$', "`$");
    format!("\"{escaped}\"")
}

/// The commands for every policy of `plan` whose two keys were imported (`keys`).
pub(super) fn commands(plan: &CheckedPlan, keys: &[ImportedKey]) -> Vec<PolicyCommands> {
    let mut out = Vec::new();
    for p in &plan.plan.policies {
        let ks: Vec<&ImportedKey> = keys.iter().filter(|k| k.policy == p.name).collect();
        let [a, b] = ks.as_slice() else {
            continue;
        };
        let (setup, mut roll) = if p.service == "exchange" {
            let setup = vec![
                format!(
                    "New-DataEncryptionPolicy -Name {} -Description {} -AzureKeyIDs {}, {}",
                    quote(&p.name),
                    quote(p.description.as_deref().unwrap_or(&p.name)),
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
        } else {
            let admin = p.admin_url.as_deref().unwrap_or_default();
            let setup = vec![format!(
                "Register-SPODataEncryptionPolicy -Identity {admin} -PrimaryKeyVaultName {} -PrimaryKeyName {} -PrimaryKeyVersion {} -SecondaryKeyVaultName {} -SecondaryKeyName {} -SecondaryKeyVersion {}",
                vault_name(&a.vault), a.name, a.version, vault_name(&b.vault), b.name, b.version
            )];
            let roll = vec![
                format!(
                    "Update-SPODataEncryptionPolicy -Identity {admin} -KeyVaultName {} -KeyName {} -KeyVersion <new version> -KeyType Primary",
                    vault_name(&a.vault),
                    a.name
                ),
                "(wait until Get-SPODataEncryptionPolicy shows the roll done, then the secondary:)".to_string(),
                format!(
                    "Update-SPODataEncryptionPolicy -Identity {admin} -KeyVaultName {} -KeyName {} -KeyVersion <new version> -KeyType Secondary",
                    vault_name(&b.vault),
                    b.name
                ),
            ];
            (setup, roll)
        };
        roll.insert(
            0,
            "after `byok upload … --new-version` and `byok backup` of the rolled key:".to_string(),
        );
        out.push(PolicyCommands {
            policy: p.name.clone(),
            service: p.service.clone(),
            setup,
            after_key_roll: roll,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use byok_core::ceremony::plan::Policy;

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
            Some("US \"mail\" $boxes"),
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
        let c = commands(&plan, &keys);
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].policy.as_str(), c[0].service.as_str()),
            ("USA_mailboxes", "exchange")
        );
        assert_eq!(
            c[0].setup,
            [
                format!("New-DataEncryptionPolicy -Name \"USA_mailboxes\" -Description \"US `\"mail`\" `$boxes\" -AzureKeyIDs \"https://contoso-a1.vault.azure.net/keys/Key-A/{V1}\", \"https://contoso-b1.vault.azure.net/keys/Key-B/{V2}\""),
                "Set-Mailbox -Identity <mailbox> -DataEncryptionPolicy \"USA_mailboxes\"".to_string(),
            ]
        );
        assert_eq!(
            c[0].after_key_roll,
            [
                "after `byok upload … --new-version` and `byok backup` of the rolled key:",
                "Set-DataEncryptionPolicy -Identity \"USA_mailboxes\" -Refresh",
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
        let c = commands(&plan, &keys);
        assert_eq!(
            c[0].setup,
            [format!("Register-SPODataEncryptionPolicy -Identity https://contoso-admin.sharepoint.com -PrimaryKeyVaultName contoso-sp-a -PrimaryKeyName SP-A -PrimaryKeyVersion {V1} -SecondaryKeyVaultName contoso-sp-b -SecondaryKeyName SP-B -SecondaryKeyVersion {V2}")]
        );
        assert_eq!(
            c[0].after_key_roll,
            [
                "after `byok upload … --new-version` and `byok backup` of the rolled key:",
                "Update-SPODataEncryptionPolicy -Identity https://contoso-admin.sharepoint.com -KeyVaultName contoso-sp-a -KeyName SP-A -KeyVersion <new version> -KeyType Primary",
                "(wait until Get-SPODataEncryptionPolicy shows the roll done, then the secondary:)",
                "Update-SPODataEncryptionPolicy -Identity https://contoso-admin.sharepoint.com -KeyVaultName contoso-sp-b -KeyName SP-B -KeyVersion <new version> -KeyType Secondary",
            ]
        );
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
        let c = commands(&plan, &keys);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].policy, "P2");
        // Without a description the name stands in.
        assert!(
            c[0].setup[0].starts_with("New-DataEncryptionPolicy -Name \"P2\" -Description \"P2\"")
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a"), "\"a\"");
        assert_eq!(quote("a`b\"c$d"), "\"a``b`\"c`$d\"");
    }
}
