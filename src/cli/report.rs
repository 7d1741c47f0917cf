//! How a failed command says why: one line on stderr, each cause stated once; a JSON object
//! with `--log-format json` (see `notice`). Usage errors too: clap's own take three to seven
//! lines (the usage, a tip, a pointer to --help).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use super::{Cli, GlobalArgs, LogFormat};
use crate::auth::token::TOKEN_LEN;

/// Parses the command line. `--help` and `--version` print as clap prints them (stdout, exit
/// 0); a usage error prints one line on stderr and gives clap's exit status (2).
pub fn parse_args() -> Result<Cli, ExitCode> {
    parse_from(std::env::args_os().collect())
}

fn parse_from(args: Vec<OsString>) -> Result<Cli, ExitCode> {
    let e = match Cli::try_parse_from(&args) {
        Ok(cli) => return Ok(cli),
        Err(e) => e,
    };
    let code = ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return Err(code);
    }
    let (format, command) = what_was_meant(&args);
    let reason = match e.kind() {
        // A command without its subcommand (`switchboard`, `switchboard token`): clap would
        // print the whole help on stderr.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => missing_subcommand(&command),
        _ => usage_line(&e, &command),
    };
    crate::notice::fatal(format, &reason);
    Err(code)
}

/// `'switchboard token' needs a subcommand: create, list, ...`
fn missing_subcommand(command: &str) -> String {
    let mut at = Cli::command();
    for name in command.split(' ').skip(1) {
        if let Some(sub) = at.find_subcommand(name) {
            at = sub.clone();
        }
    }
    let names: Vec<&str> = at
        .get_subcommands()
        .map(|c| c.get_name())
        .filter(|n| *n != "help")
        .collect();
    format!(
        "'{command}' needs a subcommand: {} (see {command} --help)",
        names.join(", ")
    )
}

/// The log format and the command (`switchboard token create`) as far as a lenient parse
/// of the line that failed can tell.
fn what_was_meant(args: &[OsString]) -> (LogFormat, String) {
    let Ok(matches) = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(args)
    else {
        return (LogFormat::Pretty, Cli::command().get_name().to_owned());
    };
    let mut command = vec![Cli::command().get_name().to_owned()];
    let mut at = &matches;
    while let Some((name, sub)) = at.subcommand() {
        command.push(name.to_owned());
        at = sub;
    }
    let global = GlobalArgs {
        db: None,
        config: at.try_get_one::<PathBuf>("config").ok().flatten().cloned(),
        log_format: at
            .try_get_one::<LogFormat>("log_format")
            .ok()
            .flatten()
            .copied(),
    };
    (crate::config::log_format(&global), command.join(" "))
}

/// clap's message on one line: its paragraphs but the usage and the pointer to --help,
/// joined; then where to read more.
fn usage_line(e: &clap::Error, command: &str) -> String {
    let text = e.render().to_string();
    let said: Vec<String> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| {
            !(p.is_empty() || p.starts_with("Usage:") || p.starts_with("For more information"))
        })
        .map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(" "))
        .collect();
    let reason = said.join("; ");
    let reason = reason.strip_prefix("error: ").unwrap_or(&reason);
    printable(&format!("{reason} (see {command} --help)"))
}

/// `text` fit for one log line: control characters (a terminal's escape sequences, in a
/// path, a foreign file's table name or a typed value) shown escaped, and the secret of
/// anything shaped like an API token left out: usage errors echo what was typed, and this
/// line may go to a log that is shipped elsewhere.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("sb_") {
        out.push_str(&rest[..at]);
        let candidate = &rest[at..];
        // By its shape, checksum or not: a mistyped token is still mostly a secret.
        let shaped = candidate.get(..TOKEN_LEN).filter(|t| {
            t.bytes().enumerate().all(|(i, b)| match i {
                0..3 => true,
                11 => b == b'_',
                _ => b.is_ascii_alphanumeric(),
            })
        });
        match shaped {
            Some(t) => {
                out.push_str(&t[..12]);
                out.push_str("...");
                rest = &candidate[TOKEN_LEN..];
            }
            None => {
                out.push_str("sb_");
                rest = &candidate[3..];
            }
        }
    }
    out.push_str(rest);
    out.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// The error and its causes on one line. A cause already said by the message before it is
/// left out: several error types print their source inside their own message (`"{what}:
/// {source}"`) and return it as `source()` too. SQLite's code under a rusqlite error ("Error
/// code 14: unable to open database file") is left out as well: rusqlite's message is
/// SQLite's own, or that code when there is none.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        if cause.is::<rusqlite::ffi::Error>() {
            continue;
        }
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    printable(&line.replace(['\r', '\n'], " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_holds_no_token_secret_and_no_control_character() {
        let token = "sb_AbCd1234_0123456789abcdefghijABCDEFGHIJklmnopqrstUV4WN20M";
        let typo = "sb_AbCd1234_0123456789abcdefghijABCDEFGHIJklmnopqrstUV4WN20X";
        assert_eq!(
            printable(&format!("unexpected argument '{token}' and '{typo}'")),
            "unexpected argument 'sb_AbCd1234_...' and 'sb_AbCd1234_...'"
        );
        assert_eq!(printable("sb_short and sb_"), "sb_short and sb_");
        assert_eq!(
            printable("table \u{1b}[31mred\u{7} here"),
            "table \\u{1b}[31mred\\u{7} here"
        );
    }

    fn usage_error(args: &[&str]) -> String {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let e = Cli::try_parse_from(&args).unwrap_err();
        usage_line(&e, &what_was_meant(&args).1)
    }

    #[test]
    fn a_usage_error_is_one_line_that_says_where_to_read_more() {
        assert_eq!(
            usage_error(&[
                "switchboard",
                "token",
                "create",
                "--user",
                "a",
                "--name",
                "b"
            ]),
            "the following required arguments were not provided: --scope <SCOPE> \
             (see switchboard token create --help)"
        );
        assert_eq!(
            usage_error(&["switchboard", "serve", "--webhook-deny-private=1"]),
            "invalid value '1' for '--webhook-deny-private [<BOOL>]' \
             [possible values: true, false] (see switchboard serve --help)"
        );
        let tipped = usage_error(&["switchboard", "user", "add", "--emial", "x"]);
        assert!(
            tipped.starts_with(
                "unexpected argument '--emial' found; tip: a similar argument exists: '--email'"
            ),
            "{tipped}"
        );
    }

    #[test]
    fn a_missing_subcommand_is_named_with_the_choices_not_the_whole_help() {
        assert_eq!(
            missing_subcommand("switchboard account"),
            "'switchboard account' needs a subcommand: create, update, list \
             (see switchboard account --help)"
        );
        let e = Cli::try_parse_from(["switchboard"]).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        assert!(missing_subcommand("switchboard").contains("serve, migrate, account"));
    }

    #[test]
    fn the_log_format_of_a_line_that_failed_to_parse_is_still_read() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        let (format, command) = what_was_meant(&args(&[
            "switchboard",
            "--log-format",
            "json",
            "account",
            "nope",
        ]));
        assert_eq!(
            (format, command.as_str()),
            (LogFormat::Json, "switchboard account")
        );
        let (format, _) = what_was_meant(&args(&[
            "switchboard",
            "migrate",
            "--log-format",
            "json",
            "--what",
        ]));
        assert_eq!(format, LogFormat::Json, "a global flag after the command");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on {addr}: {source}")]
    struct Bind {
        addr: String,
        source: std::io::Error,
    }

    #[test]
    fn a_cause_the_message_already_states_is_not_repeated() {
        let bind = Bind {
            addr: "127.0.0.1:80".into(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        let e = anyhow::Error::new(bind).context("serve");
        assert_eq!(
            one_line(&e),
            format!(
                "serve: cannot listen on 127.0.0.1:80: {}",
                std::io::Error::from(std::io::ErrorKind::AddrInUse)
            )
        );
        let sqlite = rusqlite::Connection::open_in_memory()
            .unwrap()
            .execute("SELECT * FROM nowhere", [])
            .unwrap_err();
        let e = anyhow::Error::new(sqlite).context("database x.db");
        assert_eq!(one_line(&e), "database x.db: no such table: nowhere");
        let e = anyhow::anyhow!("first\nsecond").context("outer");
        assert_eq!(one_line(&e), "outer: first second");
    }
}
