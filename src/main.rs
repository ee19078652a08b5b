//! `byok`: the command-line layer. Parses arguments, runs the command, and on failure
//! prints one line `error: …` and exits with status 1. Everything else is in [`cli`].

mod cli;

use clap::FromArgMatches;
use std::process::ExitCode;

fn main() -> ExitCode {
    let matches = cli::command().get_matches();
    let cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            cli::output::error(&e);
            ExitCode::FAILURE
        }
    }
}
