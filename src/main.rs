//! The `switchboard` binary: parse the command line and run the command.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use switchboard::cli;

fn main() -> ExitCode {
    match cli::parse_args() {
        Ok(cli) => cli::main(cli),
        Err(code) => code,
    }
}
