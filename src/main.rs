//! `byok`: the command-line layer. Parses arguments, runs the command, and on failure
//! prints one line `error: …` and exits with status 1. Everything else is in [`cli`].

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run(cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            cli::output::error(&e);
            ExitCode::FAILURE
        }
    }
}
