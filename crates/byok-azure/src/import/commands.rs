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
            let admin = quote(p.admin_url.as_deref().unwrap_or_default());
            let setup = vec![format!(
                "Register-SPODataEncryptionPolicy -Identity {admin} -PrimaryKeyVaultName {} -PrimaryKeyName {} -PrimaryKeyVersion {} -SecondaryKeyVaultName {} -SecondaryKeyName {} -SecondaryKeyVersion {}",
                quote(&vault_name(&a.vault)),
                quote(&a.name),
                quote(&a.version),
                quote(&vault_name(&b.vault)),
                quote(&b.name),
                quote(&b.version)
            )];
            let roll = vec![
                format!(
                    "Update-SPODataEncryptionPolicy -Identity {admin} -KeyVaultName {} -KeyName {} -KeyVersion <new version> -KeyType Primary",
                    quote(&vault_name(&a.vault)),
                    quote(&a.name)
                ),
                "(wait until Get-SPODataEncryptionPolicy shows the roll done, then the secondary:)".to_string(),
                format!(
                    "Update-SPODataEncryptionPolicy -Identity {admin} -KeyVaultName {} -KeyName {} -KeyVersion <new version> -KeyType Secondary",
                    quote(&vault_name(&b.vault)),
                    quote(&b.name)
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
        let c = commands(&plan, &keys);
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
                "after `byok upload … --new-version` and `byok backup` of the rolled key:",
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
        let c = commands(&plan, &keys);
        assert_eq!(
            c[0].setup,
            [format!("Register-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -PrimaryKeyVaultName 'contoso-sp-a' -PrimaryKeyName 'SP-A' -PrimaryKeyVersion '{V1}' -SecondaryKeyVaultName 'contoso-sp-b' -SecondaryKeyName 'SP-B' -SecondaryKeyVersion '{V2}'")]
        );
        assert_eq!(
            c[0].after_key_roll,
            [
                "after `byok upload … --new-version` and `byok backup` of the rolled key:",
                "Update-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -KeyVaultName 'contoso-sp-a' -KeyName 'SP-A' -KeyVersion <new version> -KeyType Primary",
                "(wait until Get-SPODataEncryptionPolicy shows the roll done, then the secondary:)",
                "Update-SPODataEncryptionPolicy -Identity 'https://contoso-admin.sharepoint.com' -KeyVaultName 'contoso-sp-b' -KeyName 'SP-B' -KeyVersion <new version> -KeyType Secondary",
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
        [",", "<mailbox>", "<new", "version>"].contains(&bare)
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
        };
        let keys = [
            hostile_key(name, "https://a.vault.azure.net", "A'$(x)"),
            hostile_key(name, "https://b.vault.azure.net", "B\u{201B}"),
            hostile_key("Geo'\u{2019}", "https://c'.vault.azure.net", "C'\u{2019}"),
            hostile_key("Geo'\u{2019}", "https://d.vault.azure.net", "D"),
        ];
        let c = commands(&plan, &keys);
        assert_eq!(c.len(), 2);
        let mut quoted = Vec::new();
        for line in c
            .iter()
            .flat_map(|p| p.setup.iter().chain(&p.after_key_roll))
        {
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
            keys[2].name.as_str(),
            keys[2].version.as_str(),
            keys[3].name.as_str(),
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
}
