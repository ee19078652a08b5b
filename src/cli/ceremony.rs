//! `byok ceremony check` and `byok ceremony run` (offline); with feature `network`,
//! `byok ceremony import` (the connected run).

use super::args::{LoginArgs, TrustArgs};
use super::output::{emit, print_stdout, warn_all, warn_plan, Words};
use byok_core::ceremony::plan::{self, CheckReport};
use byok_core::ceremony::run::{self, RunOptions, RunReport};
use byok_core::ceremony::script;
use byok_core::text::Printable as P;
use byok_core::{Mode, Result};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum CeremonyCmd {
    /// Check a ceremony plan against every rule before anything runs.
    Check {
        /// The plan (JSON).
        plan: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the offline ceremony: preflight, KEK checks, keygen, wrap, manifest, transcript.
    Run(CeremonyRunArgs),
    /// The connected run: upload, verify and back up every key; print the Office 365 commands.
    #[cfg(feature = "network")]
    Import(import::CeremonyImportArgs),
}

#[derive(Args)]
pub struct CeremonyRunArgs {
    /// The plan (JSON).
    plan: PathBuf,
    /// The ceremony directory: new or empty, or the interrupted ceremony's with --resume.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Finish an interrupted ceremony in DIR.
    #[arg(long)]
    resume: bool,
    /// Print every step (the officers' script) and touch nothing: no HSM, no files.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask the officers to confirm KEK fingerprints; rely on the plan's pins
    /// (recorded as such in the transcript).
    #[arg(long)]
    non_interactive: bool,
    /// A deviation from the script, and how it was resolved, recorded in the signed close
    /// record (repeatable; an interactive run also asks for them at the close).
    #[arg(long, value_name = "TEXT")]
    deviation: Vec<String>,
    /// PKCS#11 library of the HSM.
    #[arg(long, env = "BYOK_PKCS11_MODULE", value_name = "PATH")]
    module: Option<PathBuf>,
    /// Narrow the plan's token, e.g. pkcs11:token=LABEL;serial=SERIAL (the label must be
    /// the plan's). BYOK_TOKEN is ignored: the plan names the token.
    #[arg(long, value_name = "LABEL|URI")]
    token: Option<String>,
    #[command(flatten)]
    login: LoginArgs,
    #[command(flatten)]
    trust: TrustArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: CeremonyCmd, mode: Mode) -> Result<()> {
    match cmd {
        CeremonyCmd::Check { plan, trust, json } => check(plan, trust, json, mode),
        CeremonyCmd::Run(a) => ceremony_run(a, mode),
        #[cfg(feature = "network")]
        CeremonyCmd::Import(a) => import::run(a, mode),
    }
}

/// A plan that breaks a rule prints its report (nothing, as text) and then fails with
/// the violations.
fn check(plan: PathBuf, trust: TrustArgs, json: bool, mode: Mode) -> Result<()> {
    let roots = trust.roots()?;
    let (r, _) = plan::check(&plan, &roots, mode)?;
    warn_plan(&r.warnings, mode);
    let out = Checked(r);
    emit(json, &out)?;
    if !out.0.ok {
        return Err(plan::violations_error(&out.0.violations));
    }
    Ok(())
}

fn ceremony_run(a: CeremonyRunArgs, mode: Mode) -> Result<()> {
    let roots = a.trust.roots()?;
    let p = plan::load(&a.plan, &roots, mode)?;
    warn_plan(&p.warnings, mode);
    if a.dry_run {
        return print_stdout(&script::script(&p, &a.plan, &a.out, a.non_interactive));
    }
    let opts = RunOptions {
        out: a.out,
        resume: a.resume,
        non_interactive: a.non_interactive,
        module: a.module,
        token: a.token,
        pin_file: a.login.pin_file,
        binary: super::version::identity()?,
        deviations: a.deviation,
    };
    let r = run::run(&p, &opts, &crate::cli::console::Terminal::default())?;
    warn_all(&r.warnings);
    emit(a.json, &Ran(r))
}

/// What `byok ceremony check` prints: one line for a sound plan, nothing for a broken
/// one (its violations are the error).
#[derive(Serialize)]
#[serde(transparent)]
pub struct Checked(pub CheckReport);

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        if r.ok {
            writeln!(
                f,
                "plan {} is sound: {} policies, {} keys (SHA-256 {})",
                P(&r.plan),
                r.policies,
                r.keys,
                r.plan_sha256
            )?;
            if let Some(sn) = &r.token_serial {
                writeln!(f, "only the token with serial {sn} is accepted")?;
            }
        }
        Ok(())
    }
}

/// What `byok ceremony run` prints.
#[derive(Serialize)]
#[serde(transparent)]
pub struct Ran(pub RunReport);

impl fmt::Display for Ran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        writeln!(
            f,
            "ceremony {} closed: {} keys generated and wrapped into {}",
            P(&r.ceremony),
            r.keys.len(),
            P(r.out.display())
        )?;
        for k in &r.keys {
            match (&k.method, k.policy.is_empty()) {
                // Another target: its method and hash.
                (Some(m), _) => {
                    writeln!(f, "  {}  {} ({})", P(&k.package), P(k.target.name()), P(m))?
                }
                (None, true) => writeln!(f, "  {}  {}", P(&k.package), P(&k.vault))?,
                (None, false) => {
                    writeln!(f, "  {}  {} ({})", P(&k.package), P(&k.vault), P(&k.policy))?
                }
            }
        }
        writeln!(
            f,
            "manifest:   {} ({})",
            byok_core::ceremony::manifest::MANIFEST,
            r.manifest_sha256
        )?;
        let signed = if r.signed {
            "signed by the HSM"
        } else {
            "unsigned"
        };
        writeln!(f, "transcript: {} ({signed})", P(r.transcript.display()))?;
        write!(
            f,
            "digest:     {}\nwords:\n{}",
            r.transcript_digest,
            Words(&r.transcript_digest)
        )
    }
}

#[cfg(feature = "network")]
mod import {
    use super::super::args::{trust_roots, ConnArgs};
    use super::super::output::{emit, warn_all, warn_plan};
    use crate::cli::console::Terminal;
    use byok_azure::import::{self, ImportOptions, ImportReport};
    use byok_core::ceremony::plan;
    use byok_core::console::Console;
    use byok_core::text::Printable as P;
    use byok_core::transcript;
    use byok_core::{bail, Mode, Result};
    use clap::Args;
    use serde::Serialize;
    use std::fmt;
    use std::io::IsTerminal;
    use std::path::PathBuf;

    #[derive(Args)]
    pub struct CeremonyImportArgs {
        /// The plan (the same file as the offline run's).
        plan: PathBuf,
        /// The ceremony directory carried from the offline run.
        #[arg(long, value_name = "DIR")]
        packages: PathBuf,
        /// The transcript digest the officers signed at the close of the offline
        /// ceremony: the 64 hex digits or the 32 PGP words, as printed. Asked for on the
        /// terminal when not given.
        #[arg(long, value_name = "HEX_OR_WORDS")]
        digest: Option<String>,
        /// Where backups go (default DIR/backups).
        #[arg(long, value_name = "DIR")]
        backup_dir: Option<PathBuf>,
        #[command(flatten)]
        conn: ConnArgs,
        /// An extra attestation trust root, for rehearsals against the simulator only
        /// (warned every time).
        #[arg(long, value_name = "PEM")]
        trust_root: Vec<PathBuf>,
        /// OpenBao (or Vault) keys: a file holding the token (not group- or
        /// world-readable); else BAO_TOKEN, else VAULT_TOKEN.
        #[arg(long, value_name = "FILE")]
        bao_token_file: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    }

    pub fn run(a: CeremonyImportArgs, mode: Mode) -> Result<()> {
        let roots = trust_roots(&a.trust_root)?;
        let conn = a.conn.connection(mode);
        let plan = plan::load(&a.plan, &roots, mode)?;
        warn_plan(&plan.warnings, mode);
        let digest = match &a.digest {
            Some(d) => transcript::parse_digest(d).map_err(|e| e.context("--digest"))?,
            None => ask_digest(&Terminal::default())?,
        };
        let binary = crate::cli::version::identity()?;
        let opts = ImportOptions {
            plan: &plan,
            packages: &a.packages,
            backup_dir: a.backup_dir.as_deref(),
            conn: &conn,
            roots: &roots,
            digest,
            binary: &binary,
            bao_token_file: a.bao_token_file.as_deref(),
        };
        let checked = import::check(&opts)?;
        warn_all(&checked.custody.warnings);
        // Before anything is sent: what the officers compare with their paper record, and
        // at a terminal their word that it matches.
        eprint!("{}", Custody(&checked.custody, checked.keys));
        // Where the OpenBao token goes: the operator sees it before saying yes.
        let mut bao: Vec<String> = plan
            .keys
            .iter()
            .filter(|k| k.target.kind() == plan::TargetKind::OpenBao)
            .map(|k| k.destination())
            .collect();
        bao.sort();
        bao.dedup();
        for d in &bao {
            eprintln!("  token:   to {}", P(d));
        }
        if std::io::stdin().is_terminal() {
            confirm_custody(&Terminal::default())?;
        }
        let r = import::import(&opts, checked, &Terminal::default())?;
        warn_all(&r.warnings);
        emit(a.json, &Imported(r))
    }

    /// The digest from the officers, typed at the terminal; refused without one, since
    /// the digest must come from the paper record, not from the directory being checked.
    fn ask_digest(console: &dyn Console) -> Result<[u8; 32]> {
        if !std::io::stdin().is_terminal() {
            bail!(
                "no --digest and no terminal to ask on: give the transcript digest the officers signed, e.g. --digest '<64 hex digits or the 32 words>'"
            );
        }
        let answer = console.ask(
            "Type the transcript digest from the officers' signed record of the offline ceremony\n\
             (the 64 hex digits, or the 32 PGP words; spaces and case do not matter).",
            "digest: ",
        )?;
        transcript::parse_digest(&answer)
    }

    /// At a terminal, the operator's word that the custody block matches the officers'
    /// signed record; anything but "yes" stops the import with nothing sent. (Without a
    /// terminal, --digest is the check: a script cannot compare with paper.)
    fn confirm_custody(console: &dyn Console) -> Result<()> {
        let answer = console.ask(
            "Compare the digest, HSM serial and signer above with the officers' signed record.",
            "Do they match? Type yes to import: ",
        )?;
        if !answer.eq_ignore_ascii_case("yes") {
            bail!(
                "the import stopped before anything was sent: the custody record was not confirmed (answer yes only when the digest, HSM serial and signer match the officers' signed record)"
            );
        }
        Ok(())
    }

    /// The offline ceremony as the import found it, printed before anything is sent.
    struct Custody<'a>(&'a transcript::Custody, usize);

    impl fmt::Display for Custody<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let (c, keys) = (self.0, self.1);
            let h = &c.hsm;
            writeln!(
                f,
                "offline ceremony {}: the officers' digest matches; compare with the signed record before anything is sent:",
                P(c.ceremony.as_deref().unwrap_or("?"))
            )?;
            writeln!(f, "  digest:  {}", c.digest)?;
            for l in c.digest_words.split(' ').collect::<Vec<_>>().chunks(4) {
                writeln!(f, "           {}", l.join(" "))?;
            }
            writeln!(
                f,
                "  HSM:     {} {} serial {} (token \"{}\")",
                P(&h.manufacturer),
                P(&h.model),
                P(&h.serial),
                P(&h.label)
            )?;
            writeln!(f, "  signer:  SPKI SHA-256 {}", c.signer_spki_sha256)?;
            writeln!(f, "  keys:    {keys}")
        }
    }

    /// What `byok ceremony import` prints: the keys, then each policy's Office 365
    /// commands.
    #[derive(Serialize)]
    #[serde(transparent)]
    pub struct Imported(pub ImportReport);

    impl fmt::Display for Imported {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let r = &self.0;
            let mut done = Vec::new();
            if !r.keys.is_empty() {
                done.push("every Key Vault key uploaded, verified and backed up".to_string());
            }
            if !r.openbao.is_empty() {
                // OpenBao keys are imported without plaintext backup: nothing to back up.
                done.push("every OpenBao key imported and read back".to_string());
            }
            if !r.other_clouds.is_empty() {
                done.push("the commands for AWS KMS and Google Cloud KMS below".to_string());
            }
            writeln!(f, "ceremony {}: {}", r.ceremony, done.join("; "))?;
            for k in &r.keys {
                let how = match (k.uploaded_now, k.versions) {
                    (true, Some(n)) => format!("uploaded as a new version, {n} in all, the older ones enabled"),
                    (false, Some(n)) => format!("already in the vault as its newest version, {n} in all, the older ones enabled"),
                    (true, None) => "uploaded".into(),
                    (false, None) => "already in the vault".into(),
                };
                writeln!(
                    f,
                    "  {:<12} {}  ({how}; backup {})",
                    k.policy, k.kid, k.backup_file
                )?;
            }
            for b in &r.openbao {
                writeln!(
                    f,
                    "  {:<12} {}/v1/{}/keys/{} version {}  ({})",
                    "openbao",
                    b.address,
                    b.mount,
                    b.name,
                    b.version,
                    if b.uploaded_now {
                        "imported, read back: the HSM's key"
                    } else {
                        "already imported, read back: the HSM's key"
                    }
                )?;
            }
            for c in &r.other_clouds {
                writeln!(
                    f,
                    "\n{} ({}): byok holds no credentials there; run",
                    c.name, c.destination
                )?;
                for line in &c.import {
                    writeln!(f, "  {line}")?;
                }
                writeln!(f, "  then check the cloud holds the HSM's key:")?;
                writeln!(f, "  {}", c.verify)?;
            }
            for c in &r.commands {
                writeln!(f, "\nOffice 365, policy {} ({}):", c.policy, c.service)?;
                if !c.permissions.is_empty() {
                    writeln!(f, "  vault permissions for the service, first:")?;
                    for line in &c.permissions {
                        writeln!(f, "    {line}")?;
                    }
                    writeln!(f, "  then the policy:")?;
                }
                if c.after_key_roll.is_empty() {
                    writeln!(f, "  the key roll, now:")?;
                }
                for line in &c.setup {
                    writeln!(f, "  {line}")?;
                }
                if !c.after_key_roll.is_empty() {
                    writeln!(f, "  after a future key roll:")?;
                    for line in &c.after_key_roll {
                        writeln!(f, "    {line}")?;
                    }
                }
            }
            writeln!(
                f,
                "\noffline:    digest {} (HSM serial {}, signer {})",
                P(&r.offline.digest),
                P(&r.offline.hsm.serial),
                P(&r.offline.signer_spki_sha256)
            )?;
            writeln!(
                f,
                "transcript: {} (digest {})",
                r.transcript.display(),
                r.transcript_digest
            )?;
            writeln!(f, "backups:    {}", r.backup_dir.display())
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use byok_azure::import::{ImportedKey, PolicyCommands};

        #[test]
        fn text() {
            let hsm = byok_core::hsm::TokenIdentity {
                label: "T".into(),
                manufacturer: "M".into(),
                model: "X".into(),
                serial: "42".into(),
                firmware: "1".into(),
                hardware: "1".into(),
            };
            let r = ImportReport {
                ceremony: "c1".into(),
                offline: byok_core::transcript::Custody {
                    digest: "ee".into(),
                    digest_words: "w".into(),
                    ceremony: Some("c1".into()),
                    hsm,
                    signer_spki_sha256: "ff".into(),
                    warnings: vec![],
                },
                keys: vec![ImportedKey {
                    policy: "exo".into(),
                    vault: "https://v.vault.azure.net".into(),
                    name: "k1".into(),
                    kid: "https://v.vault.azure.net/keys/k1/1".into(),
                    version: "1".into(),
                    uploaded_now: false,
                    verified: true,
                    backup_file: "v-k1-1.keybackup".into(),
                    roll: false,
                    versions: None,
                }],
                openbao: vec![],
                other_clouds: vec![],
                commands: vec![PolicyCommands {
                    policy: "exo".into(),
                    service: "Exchange".into(),
                    permissions: vec!["Set-AzKeyVaultAccessPolicy".into()],
                    setup: vec!["New-DataEncryptionPolicy".into()],
                    after_key_roll: vec!["Set-DataEncryptionPolicy -Refresh".into()],
                }],
                warnings: vec!["w".into()],
                transcript: "c/import.jsonl".into(),
                transcript_digest: "dd".into(),
                backup_dir: "c/backups".into(),
            };
            assert_eq!(
                Imported(r).to_string(),
                "ceremony c1: every Key Vault key uploaded, verified and backed up\n\
                 \x20 exo          https://v.vault.azure.net/keys/k1/1  (already in the vault; backup v-k1-1.keybackup)\n\
                 \n\
                 Office 365, policy exo (Exchange):\n\
                 \x20 vault permissions for the service, first:\n\
                 \x20   Set-AzKeyVaultAccessPolicy\n\
                 \x20 then the policy:\n\
                 \x20 New-DataEncryptionPolicy\n\
                 \x20 after a future key roll:\n\
                 \x20   Set-DataEncryptionPolicy -Refresh\n\
                 \n\
                 offline:    digest ee (HSM serial 42, signer ff)\n\
                 transcript: c/import.jsonl (digest dd)\n\
                 backups:    c/backups\n"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Cmd};
    use super::*;
    use clap::Parser;

    fn check_report(ok: bool) -> CheckReport {
        CheckReport {
            plan: "plan.json".into(),
            plan_sha256: "aa".into(),
            ok,
            ceremony: Some("c1".into()),
            rehearsal: false,
            token_serial: None,
            policies: 2,
            keys: 4,
            violations: vec![],
            warnings: vec![],
        }
    }

    #[test]
    fn check_text_only_for_a_sound_plan() {
        assert_eq!(
            Checked(check_report(true)).to_string(),
            "plan plan.json is sound: 2 policies, 4 keys (SHA-256 aa)\n"
        );
        assert_eq!(Checked(check_report(false)).to_string(), "");
    }

    #[test]
    fn run_needs_out_and_takes_the_flags() {
        assert!(Cli::try_parse_from(["byok", "ceremony", "run", "plan.json"]).is_err());
        let cli = Cli::try_parse_from([
            "byok",
            "ceremony",
            "run",
            "plan.json",
            "--out",
            "cer",
            "--resume",
            "--non-interactive",
            "--token",
            "pkcs11:token=T;serial=1",
        ])
        .unwrap();
        let Cmd::Ceremony(CeremonyCmd::Run(a)) = cli.cmd else {
            panic!("not ceremony run");
        };
        assert!(a.resume && a.non_interactive && !a.dry_run);
        assert_eq!(a.out, PathBuf::from("cer"));
        assert_eq!(a.token.as_deref(), Some("pkcs11:token=T;serial=1"));
    }
}
