//! `byok completions SHELL`: the shell completion script (bash, zsh or fish) on stdout,
//! generated from the command line itself (`clap_complete`). The offline kit installs
//! the same scripts.

use byok_core::{err, Result};
use clap::{Args, ValueEnum};
use clap_complete::Shell as Gen;
use std::io::Write;

#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    shell: Shell,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let generator = match shell {
        Shell::Bash => Gen::Bash,
        Shell::Zsh => Gen::Zsh,
        Shell::Fish => Gen::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(generator, &mut super::command(), "byok", &mut out);
    out
}

pub fn run(a: CompletionsArgs) -> Result<()> {
    // The script is made from byok's own command definitions, not from input: written as
    // it is (tabs and all), not through the report escaping.
    let mut out = std::io::stdout().lock();
    out.write_all(&script(a.shell))
        .and_then(|()| out.flush())
        .map_err(|e| err!(Io, "cannot write to standard output: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_names_the_commands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let s = String::from_utf8(script(shell)).unwrap();
            for word in [
                "keygen",
                "ceremony",
                "transcript",
                "completions",
                "rehearsal",
            ] {
                assert!(s.contains(word), "{word} missing");
            }
        }
    }
}
