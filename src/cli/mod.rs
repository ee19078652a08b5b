//! The command line: the top-level [`Cli`], one module per command group (its
//! arguments, its `run` and its report), and the shared [`args`] and [`output`].

pub mod args;
pub mod console;
pub mod output;

mod attestation;
mod ceremony;
mod completions;
mod hsm;
mod kek;
mod keygen;
mod man;
mod package;
mod sides;
mod transcript;
mod version;
mod wrap;

#[cfg(feature = "network")]
mod backup;
#[cfg(feature = "network")]
mod upload;
#[cfg(feature = "network")]
mod verify;

use byok_core::{Mode, Result};
use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "byok",
    version,
    about = "Hardware-backed key ceremonies for Azure Key Vault BYOK (Office 365 Customer Key)",
    long_about = "Generate RSA keys in a PKCS#11 HSM, wrap them under a Key Vault Key Exchange Key (KEK) \
                  into Azure BYOK packages, and check every step.\n\n\
                  PINs are never taken from the command line: byok asks without echo, or reads \
                  --pin-file (a file only you can read) or BYOK_PIN."
)]
pub struct Cli {
    /// Rehearse against the local simulator: accept loopback vault addresses and key ids
    /// (warned every time, recorded in transcripts). Never for a real ceremony.
    #[arg(long, global = true)]
    rehearsal: bool,
    /// No progress lines or notes (warnings, questions and errors still show).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

/// byok's command line as parsed and as documented (help by side, man pages,
/// completions).
pub fn command() -> clap::Command {
    sides::grouped(Cli::command())
}

#[derive(Subcommand)]
enum Cmd {
    /// Look at the HSM: its token, mechanisms and BYOK ability.
    #[command(subcommand)]
    Hsm(hsm::HsmCmd),
    /// Read, check and trust Key Exchange Keys.
    #[command(subcommand)]
    Kek(kek::KekCmd),
    /// Generate an RSA key pair on the token for BYOK.
    Keygen(keygen::KeygenArgs),
    /// Wrap a key on the token under a KEK into an Azure BYOK package.
    Wrap(wrap::WrapArgs),
    /// Check BYOK packages.
    #[command(subcommand)]
    Package(package::PackageCmd),
    /// Plan, check and run a key ceremony.
    #[command(subcommand)]
    Ceremony(ceremony::CeremonyCmd),
    /// Verify and print a ceremony transcript.
    #[command(subcommand)]
    Transcript(transcript::TranscriptCmd),
    /// Verify HSM key attestations (Marvell LiquidSecurity: Managed HSM, Cloud HSM).
    #[command(subcommand)]
    Attestation(attestation::AttestationCmd),
    /// Which binary this is: version, commit, the executable's SHA-256, toolchain, features.
    Version(version::VersionArgs),
    /// Upload a BYOK package to Key Vault as a key (connected side).
    #[cfg(feature = "network")]
    Upload(upload::UploadArgs),
    /// Check that the vault holds exactly the HSM's key, as Customer Key requires.
    #[cfg(feature = "network")]
    Verify(verify::VerifyArgs),
    /// Back up a key from the vault (or check backups: `byok backup verify DIR`).
    #[cfg(feature = "network")]
    Backup(backup::BackupCmd),
    /// Print the shell completion script (bash, zsh or fish).
    Completions(completions::CompletionsArgs),
    /// Print the manual page, or write one per command with --out-dir.
    Man(man::ManArgs),
}

/// Run one command line: the rehearsal warning first, then the command.
pub fn run(cli: Cli) -> Result<()> {
    let mode = Mode::rehearsal_if(cli.rehearsal);
    console::set_quiet(cli.quiet);
    if let Some(w) = mode.warning() {
        output::warn(w);
    }
    match cli.cmd {
        Cmd::Hsm(c) => hsm::run(c),
        Cmd::Kek(c) => kek::run(c, mode),
        Cmd::Keygen(a) => keygen::run(a),
        Cmd::Wrap(a) => wrap::run(a, mode),
        Cmd::Package(c) => package::run(c, mode),
        Cmd::Ceremony(c) => ceremony::run(c, mode),
        Cmd::Transcript(c) => transcript::run(c),
        Cmd::Attestation(c) => attestation::run(c, mode),
        Cmd::Version(a) => version::run(a),
        #[cfg(feature = "network")]
        Cmd::Upload(a) => upload::run(a, mode),
        #[cfg(feature = "network")]
        Cmd::Verify(a) => verify::run(a, mode),
        #[cfg(feature = "network")]
        Cmd::Backup(c) => backup::run(c, mode),
        Cmd::Completions(a) => completions::run(a),
        Cmd::Man(a) => man::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind as ClapKind;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("byok").chain(args.iter().copied()))
    }

    #[test]
    fn clap_consistency() {
        Cli::command().debug_assert();
        command().debug_assert();
    }

    #[test]
    fn rehearsal_is_global() {
        let before = parse(&["--rehearsal", "package", "inspect", "p.byok"]).unwrap();
        assert!(before.rehearsal);
        let after = parse(&["package", "inspect", "p.byok", "--rehearsal"]).unwrap();
        assert!(after.rehearsal);
        let none = parse(&["package", "inspect", "p.byok"]).unwrap();
        assert!(!none.rehearsal);
    }

    #[test]
    fn a_subcommand_is_required() {
        let e = parse(&[]).err().unwrap();
        assert_eq!(e.kind(), ClapKind::DisplayHelpOnMissingArgumentOrSubcommand);
        assert_eq!(
            parse(&["nosuch"]).err().unwrap().kind(),
            ClapKind::InvalidSubcommand
        );
    }

    #[test]
    fn no_pin_on_the_command_line() {
        // PINs come from a file, a prompt or the environment, never argv.
        for args in [
            &["keygen", "--label", "k", "--pin", "1234"][..],
            &["hsm", "selftest", "--pin", "1234"][..],
        ] {
            assert_eq!(
                parse(args).err().unwrap().kind(),
                ClapKind::UnknownArgument,
                "{args:?}"
            );
        }
    }
}
