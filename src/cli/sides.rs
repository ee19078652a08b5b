//! `byok --help` lists the commands by the side they run on: the air-gapped workstation
//! (offline), the connected workstation, the auditor's, and the kit's own. The list is
//! made from the commands themselves (their one-line help), so the air-gapped build,
//! which lacks the connected commands, lists only what it has.

use clap::builder::StyledStr;
use clap::Command;
use std::fmt::Write;

/// The sides and their commands, in the order `--help` lists them. A command is its
/// path below `byok`: one word for a command whose subcommands all run on one side,
/// two where they differ (`kek inspect` offline, `kek create` connected).
pub const SIDES: &[(&str, &[&str])] = &[
    (
        "Offline commands (the air-gapped workstation with the HSM)",
        &[
            "hsm",
            "kek inspect",
            "kek trust",
            "keygen",
            "wrap",
            "package",
            "ceremony check",
            "ceremony run",
        ],
    ),
    (
        "Connected commands (the workstation that reaches the vault)",
        &[
            "kek create",
            "kek fetch",
            "upload",
            "verify",
            "backup",
            "ceremony import",
        ],
    ),
    (
        "Audit commands (anywhere: check what a ceremony left)",
        &["transcript", "attestation", "version"],
    ),
    ("Kit commands", &["completions", "man", "help"]),
];

/// `cmd` (byok's top command) with `--help` listing its commands by side.
pub fn grouped(cmd: Command) -> Command {
    let header = *cmd.get_styles().get_header();
    let literal = *cmd.get_styles().get_literal();
    // Each side with the commands this build has: (path, one-line help).
    let rows: Vec<(&str, Vec<(&str, String)>)> = SIDES
        .iter()
        .map(|(heading, paths)| {
            let found = paths
                .iter()
                .filter_map(|p| about(&cmd, p).map(|a| (*p, a)))
                .collect();
            (*heading, found)
        })
        .collect();
    let width = rows
        .iter()
        .flat_map(|(_, r)| r.iter().map(|(p, _)| p.len()))
        .max()
        .unwrap_or(0);
    let mut list = StyledStr::new();
    for (heading, found) in rows.iter().filter(|(_, r)| !r.is_empty()) {
        let _ = writeln!(list, "{header}{heading}:{header:#}");
        for (path, about) in found {
            let pad = width - path.len();
            let _ = writeln!(list, "  {literal}{path}{literal:#}{:pad$}  {about}", "");
        }
        let _ = writeln!(list);
    }
    let mut template = StyledStr::new();
    let _ = write!(
        template,
        "{{before-help}}{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{list}{header}Options:{header:#}\n{{options}}{{after-help}}"
    );
    cmd.help_template(template)
}

/// The one-line help of the command at `path` (words below `byok`), if this build has
/// it. `help` is clap's own.
fn about(cmd: &Command, path: &str) -> Option<String> {
    if path == "help" {
        return Some("Print this message or the help of the given command(s)".into());
    }
    let mut c = cmd;
    for word in path.split(' ') {
        c = c.find_subcommand(word)?;
    }
    Some(
        c.get_about()
            .map(|a| a.to_string())
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command path below `byok`, down to the level `SIDES` names it at.
    fn grouped_paths() -> Vec<&'static str> {
        SIDES.iter().flat_map(|(_, p)| p.iter().copied()).collect()
    }

    #[test]
    fn every_command_is_on_one_side() {
        let cmd = crate::cli::command();
        let listed = grouped_paths();
        for sub in cmd.get_subcommands() {
            let name = sub.get_name();
            let whole = listed.iter().filter(|p| **p == name).count();
            let parts: Vec<_> = listed
                .iter()
                .filter(|p| p.starts_with(&format!("{name} ")))
                .collect();
            if whole == 1 {
                assert!(parts.is_empty(), "{name} is listed whole and in parts");
                continue;
            }
            assert_eq!(whole, 0, "{name} listed twice");
            // Listed by its subcommands: every one of them, once.
            for s in sub.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{name} {}", s.get_name());
                assert_eq!(
                    parts.iter().filter(|p| ***p == path).count(),
                    1,
                    "{path} is on no side (or on two): add it to SIDES"
                );
            }
        }
    }

    #[test]
    fn help_lists_the_commands_by_side() {
        let help = crate::cli::command().render_long_help().to_string();
        let offline = help.find("Offline commands").unwrap();
        let audit = help.find("Audit commands").unwrap();
        let options = help.find("Options:").unwrap();
        assert!(offline < audit && audit < options, "{help}");
        let line = |p: &str| {
            help.lines()
                .position(|l| l.trim_start().starts_with(&format!("{p} ")))
                .unwrap_or_else(|| panic!("{p} not in\n{help}"))
        };
        let at = |h: &str| help.lines().position(|l| l.starts_with(h)).unwrap();
        let (off, aud) = (at("Offline"), at("Audit"));
        for p in ["hsm", "kek inspect", "kek trust", "ceremony run", "wrap"] {
            assert!(off < line(p) && line(p) < aud, "{p} not offline:\n{help}");
        }
        assert!(line("transcript") > aud, "{help}");
        #[cfg(feature = "network")]
        {
            let conn = at("Connected");
            assert!(off < conn && conn < aud, "{help}");
            for p in ["kek create", "kek fetch", "upload", "ceremony import"] {
                assert!(
                    conn < line(p) && line(p) < aud,
                    "{p} not connected:\n{help}"
                );
            }
        }
        #[cfg(not(feature = "network"))]
        assert!(!help.contains("Connected commands"), "{help}");
        // The options stay, and clap's own list of commands is gone.
        assert!(help.contains("--rehearsal"), "{help}");
        assert!(!help.contains("\nCommands:"), "{help}");
        // A subcommand's help is clap's usual one.
        let mut cmd = crate::cli::command();
        let kek = cmd.find_subcommand_mut("kek").unwrap();
        let kh = kek.render_long_help().to_string();
        assert!(kh.contains("Commands:") && !kh.contains("Offline"), "{kh}");
    }
}
