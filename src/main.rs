//! The `switchboard` binary: parse the command line and run the command.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use switchboard::cli::{self, Cli};

fn main() -> ExitCode {
    match cli::run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            // One line on stderr: the reason, with its causes.
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
