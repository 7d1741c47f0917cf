//! Running a parsed command line: the dispatch to each command group's module, and what
//! they share (opening the database, a management change, the account a list shows).

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use rusqlite::Connection;

use super::account_cmds::account;
use super::output;
use super::token_cmds::token_cmd;
use super::user_cmds::user;
use super::webhook_cmds::webhook;
use super::{AccountScope, Cli, Command};
use crate::auth::token;
use crate::config::Settings;
use crate::manage::{self, ManageError};
use crate::model::AccountId;
use crate::startup::Application;
use crate::store::{self, accounts};

/// Runs the command and, when it fails, prints why on one line (a JSON object with
/// `--log-format json`, whatever `RUST_LOG` says): the process's exit code.
pub fn main(cli: Cli) -> ExitCode {
    let format = crate::config::log_format(&cli.global);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            crate::notice::fatal(format, &super::report::one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; the exit code on success, an error (one line for stderr) otherwise.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::CheckToken { token: t, json } = &cli.command {
        // Offline: no settings, no database.
        let p = token::parse(t.trim()).ok_or_else(|| {
            anyhow!("not a well-formed Switchboard token (shape or checksum is wrong)")
        })?;
        if *json {
            output::json(&serde_json::json!({ "valid": true, "prefix": p.prefix }))?;
        } else {
            println!("well-formed token, prefix {}", p.prefix);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let serve_args = match &cli.command {
        Command::Serve(a) => Some(a),
        Command::Config(super::ConfigCmd::Show { serve, .. }) => Some(serve),
        _ => None,
    };
    let settings = Settings::resolve(&cli.global, serve_args).map_err(|e| anyhow!(e))?;
    let quiet = !matches!(cli.command, Command::Serve(_));
    crate::telemetry::init(settings.log_format, quiet);
    match cli.command {
        Command::Serve(_) => serve(settings),
        Command::Migrate { json } => {
            let (_, applied) = open_migrated(&settings)?;
            super::ops_cmd::print_migrated(&settings, &applied, json)
        }
        Command::Account(cmd) => account(&settings, cmd),
        Command::User(cmd) => user(&settings, cmd),
        Command::Token(cmd) => token_cmd(&settings, cmd),
        Command::Webhook(cmd) => webhook(&settings, cmd),
        Command::Backup { to, json } => super::ops_cmd::backup(&settings, &to, json),
        Command::Restore { from, json } => super::ops_cmd::restore(&settings, &from, json),
        Command::Config(super::ConfigCmd::Show { json, .. }) => {
            super::ops_cmd::show_config(&settings, json)
        }
        Command::Audit(args) => super::ops_cmd::audit_log(&settings, args),
        Command::CheckToken { .. } => unreachable!("handled above"),
    }
}

fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        let stopped = app.run_until_stopped().await;
        crate::telemetry::flush();
        stopped?;
        Ok(ExitCode::SUCCESS)
    })
}

pub(super) fn open(settings: &Settings) -> anyhow::Result<Connection> {
    Ok(open_migrated(settings)?.0)
}

/// The database, brought up to date, and the migrations that took.
fn open_migrated(settings: &Settings) -> anyhow::Result<(Connection, Vec<store::Applied>)> {
    let db = || format!("database {}", settings.db.display());
    let mut conn = store::open_connection(&settings.db).with_context(db)?;
    let applied = store::migrate(&mut conn).with_context(db)?;
    Ok((conn, applied))
}

/// Runs a management change in one `BEGIN IMMEDIATE` transaction that also tells a running
/// server to drop its caches.
pub(super) fn change<R>(
    settings: &Settings,
    f: impl FnOnce(&Connection) -> Result<R, ManageError>,
) -> anyhow::Result<R> {
    let mut conn = open(settings)?;
    Ok(store::with_management_tx(&mut conn, f)?)
}

/// The account a list command is limited to: `--account`, else the one named `default`; none
/// with `--all-accounts`, or when the command names a user, an endpoint or a token
/// (`narrowed`) and so the account that one belongs to.
pub(super) fn listed_account(
    conn: &Connection,
    scope: &AccountScope,
    narrowed: bool,
) -> anyhow::Result<Option<AccountId>> {
    if scope.all_accounts || (narrowed && scope.account.is_none()) {
        return Ok(None);
    }
    let Some(name) = scope.account.as_deref() else {
        let default =
            accounts::find_by_name(conn, manage::accounts::DEFAULT)?.ok_or_else(|| {
                anyhow!(
                    "no account named `{}`; name one with --account, or use --all-accounts",
                    manage::accounts::DEFAULT
                )
            })?;
        return Ok(Some(default.id));
    };
    Ok(Some(manage::accounts::require(conn, name)?.id))
}
