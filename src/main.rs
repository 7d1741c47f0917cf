//! The `switchboard` binary: parse the command line and run the command.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use switchboard::cli::{self, Cli};

fn main() -> ExitCode {
    cli::main(Cli::parse())
}
