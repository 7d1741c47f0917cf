//! Running a parsed command line.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use rusqlite::Connection;

use super::output;
use super::{AccountCmd, AccountScope, Cli, Command, TokenCmd, UserCmd, WebhookCmd};
use crate::auth::token;
use crate::clock;
use crate::config::Settings;
use crate::manage::tokens::{Everyone, Expiry, TokenChanges, TokenInput};
use crate::manage::users::{UserChanges, UserInput};
use crate::manage::views::{AccountView, CreatedTokenView, EndpointView, TokenView, UserView};
use crate::manage::{self, ManageError};
use crate::model::{AccountId, EndpointId};
use crate::startup::Application;
use crate::store::{self, accounts, tokens, users, webhooks};

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

fn read_password() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .context("cannot read the password from standard input")?;
    let pw = s.trim_end_matches(['\r', '\n']).to_owned();
    if pw.is_empty() {
        bail!("no password on standard input");
    }
    Ok(pw)
}

fn parse_expiry(
    expires_in: Option<&str>,
    expires_at: Option<&str>,
) -> anyhow::Result<Option<Expiry>> {
    Ok(match (expires_in, expires_at) {
        (Some(d), _) => Some(Expiry::In(clock::parse_duration(d).ok_or_else(|| {
            anyhow!("`{d}` is not a duration like 30s, 15m, 24h or 90d")
        })?)),
        (None, Some(t)) => Some(Expiry::At(
            clock::parse_rfc3339(t).ok_or_else(|| anyhow!("`{t}` is not an RFC 3339 time"))?,
        )),
        (None, None) => None,
    })
}

fn account(settings: &Settings, cmd: AccountCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AccountCmd::Create {
            name,
            plan,
            status,
            json,
        } => {
            let (plan, status) = (
                plan.parse().map_err(|e: String| anyhow!(e))?,
                status.parse().map_err(|e: String| anyhow!(e))?,
            );
            let a = change(settings, |c| {
                manage::accounts::create(c, &name, plan, status)
            })?;
            print_accounts(&[AccountView::from(&a)], json, true)
        }
        AccountCmd::Update {
            name,
            plan,
            status,
            allow_ip,
            clear_allow_ip,
            revoke_unused_after,
            json,
        } => {
            let changes = manage::accounts::AccountChanges {
                plan: plan
                    .map(|p| p.parse())
                    .transpose()
                    .map_err(|e: String| anyhow!(e))?,
                status: status
                    .map(|s| s.parse())
                    .transpose()
                    .map_err(|e: String| anyhow!(e))?,
                allow_ips: if clear_allow_ip {
                    Some(Vec::new())
                } else {
                    Some(allow_ip).filter(|l| !l.is_empty())
                },
                revoke_unused_after: match revoke_unused_after.as_deref() {
                    None => None,
                    Some("off") => Some(None),
                    Some(d) => Some(Some(
                        clock::parse_duration(d)
                            .ok_or_else(|| anyhow!("`{d}` is not a duration"))?,
                    )),
                },
            };
            let a = change(settings, |c| manage::accounts::update(c, &name, changes))?;
            print_accounts(&[AccountView::from(&a)], json, true)
        }
        AccountCmd::List { json } => {
            let list = accounts::list(&open(settings)?)?;
            print_accounts(
                &list.iter().map(AccountView::from).collect::<Vec<_>>(),
                json,
                false,
            )
        }
    }
}

fn print_accounts(list: &[AccountView], json: bool, single: bool) -> anyhow::Result<ExitCode> {
    match (json, single) {
        (true, true) => output::json(&list[0])?,
        (true, false) => output::json(&list)?,
        (false, _) => output::accounts(list),
    }
    Ok(ExitCode::SUCCESS)
}

fn user(settings: &Settings, cmd: UserCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCmd::Add {
            email,
            name,
            role,
            account,
            password_stdin,
            permissions,
            json,
        } => {
            let input = UserInput {
                email,
                name,
                role: role.parse().map_err(|e: String| anyhow!(e))?,
                account,
                permissions: Some(permissions).filter(|p| !p.is_empty()),
                password: if password_stdin {
                    Some(read_password()?)
                } else {
                    None
                },
            };
            let u = change(settings, |c| manage::users::add(c, input))?;
            print_user(&u, json)
        }
        UserCmd::Update {
            email,
            role,
            permissions,
            disable,
            enable,
            password_stdin,
            json,
        } => {
            let changes = UserChanges {
                role: role
                    .map(|r| r.parse())
                    .transpose()
                    .map_err(|e: String| anyhow!(e))?,
                permissions: Some(permissions).filter(|p| !p.is_empty()),
                disabled: if disable {
                    Some(true)
                } else if enable {
                    Some(false)
                } else {
                    None
                },
                password: if password_stdin {
                    Some(read_password()?)
                } else {
                    None
                },
                name: None,
            };
            let u = change(settings, |c| manage::users::update(c, &email, changes))?;
            print_user(&u, json)
        }
        UserCmd::List { accounts, json } => {
            let conn = open(settings)?;
            let account_id = listed_account(&conn, &accounts, false)?;
            let list: Vec<UserView> = users::list(&conn, account_id)?
                .iter()
                .map(UserView::from)
                .collect();
            if json {
                output::json(&list)?
            } else {
                output::users(&list)
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_user(u: &users::User, json: bool) -> anyhow::Result<ExitCode> {
    let view = UserView::from(u);
    if json {
        output::json(&view)?
    } else {
        output::users(&[view])
    }
    Ok(ExitCode::SUCCESS)
}

fn token_cmd(settings: &Settings, cmd: TokenCmd) -> anyhow::Result<ExitCode> {
    let defaults = Some(settings.default_limit.as_slice());
    match cmd {
        TokenCmd::Create {
            user,
            name,
            scopes,
            expires_in,
            expires_at,
            allow_ip,
            limits,
            json,
        } => {
            let input = TokenInput {
                user_email: user,
                name,
                scopes,
                expiry: parse_expiry(expires_in.as_deref(), expires_at.as_deref())?
                    .unwrap_or(Expiry::Never),
                allow_ips: allow_ip,
                limits: Some(limits).filter(|l| !l.is_empty()),
            };
            let created = change(settings, |c| manage::tokens::create(c, input))?;
            print_created(created, defaults, json)
        }
        TokenCmd::List {
            accounts,
            user,
            json,
        } => {
            let conn = open(settings)?;
            let account_id = listed_account(&conn, &accounts, user.is_some())?;
            let user_id = user
                .map(|u| manage::users::require(&conn, &u).map(|u| u.id))
                .transpose()?;
            let list: Vec<TokenView> = tokens::list(&conn, account_id, user_id)?
                .iter()
                .map(|t| TokenView::new(t, defaults))
                .collect();
            if json {
                output::json(&list)?
            } else {
                output::tokens(&list)
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCmd::Show { id_or_prefix, json } => {
            let t = manage::tokens::require(&open(settings)?, &id_or_prefix)?;
            print_token(&TokenView::new(&t, defaults), json)
        }
        TokenCmd::Update {
            id_or_prefix,
            name,
            expires_in,
            expires_at,
            no_expiry,
            allow_ip,
            clear_allow_ip,
            limits,
            default_limits,
            json,
        } => {
            let changes = TokenChanges {
                name,
                expiry: if no_expiry {
                    Some(Expiry::Never)
                } else {
                    parse_expiry(expires_in.as_deref(), expires_at.as_deref())?
                },
                allow_ips: if clear_allow_ip {
                    Some(Vec::new())
                } else {
                    Some(allow_ip).filter(|l| !l.is_empty())
                },
                limits: if default_limits {
                    Some(None)
                } else {
                    Some(limits).filter(|l| !l.is_empty()).map(Some)
                },
            };
            let t = change(settings, |c| {
                manage::tokens::update(c, &id_or_prefix, changes)
            })?;
            print_token(&TokenView::new(&t, defaults), json)
        }
        TokenCmd::Revoke {
            id_or_prefix,
            all,
            user,
            account,
            json,
        } => {
            let revoked = if all {
                let whose = match (user, account) {
                    (Some(u), _) => Everyone::User(u),
                    (None, Some(a)) => Everyone::Account(a),
                    (None, None) => bail!("--all needs --user EMAIL or --account NAME"),
                };
                change(settings, |c| {
                    manage::tokens::revoke_all(c, &whose, "manual")
                })?
            } else {
                let id = id_or_prefix.ok_or_else(|| anyhow!("name a token, or use --all"))?;
                vec![change(settings, |c| {
                    manage::tokens::revoke(c, &id, "manual")
                })?]
            };
            let views: Vec<TokenView> = revoked
                .iter()
                .map(|t| TokenView::new(t, defaults))
                .collect();
            match (json, all) {
                (true, false) => output::json(&views[0])?,
                (true, true) => output::json(&views)?,
                (false, _) => println!("revoked {} token(s)", views.len()),
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCmd::Rotate {
            id_or_prefix,
            grace,
            json,
        } => {
            let grace = grace
                .map(|g| {
                    clock::parse_duration(&g)
                        .ok_or_else(|| anyhow!("`{g}` is not a duration like 30s, 15m, 24h or 90d"))
                })
                .transpose()?;
            let created = change(settings, |c| {
                manage::tokens::rotate(c, &id_or_prefix, grace)
            })?;
            print_created(created, defaults, json)
        }
    }
}

fn print_created(
    created: manage::tokens::Created,
    defaults: Option<&[crate::auth::rate_limit::Limit]>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let view = CreatedTokenView {
        view: TokenView::new(&created.token, defaults),
        token: created.plaintext,
    };
    if json {
        output::json(&view)?;
    } else {
        println!("{}", view.token);
        eprintln!(
            "token {} created; store it now: it will not be shown again",
            view.view.prefix
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_token(view: &TokenView, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        output::json(view)?
    } else {
        output::token(view)
    }
    Ok(ExitCode::SUCCESS)
}

fn webhook(settings: &Settings, cmd: WebhookCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        WebhookCmd::Add {
            url,
            events,
            account,
            description,
            json,
        } => {
            let added = change(settings, |c| {
                manage::webhooks::add(c, &account, &url, &events, description.as_deref())
            })?;
            let e = &added.endpoint;
            if json {
                output::json(&serde_json::json!({
                    "id": e.id, "url": e.url, "events": e.events, "secret": e.secret,
                    "description": e.description, "enabled": e.enabled,
                }))?;
            } else {
                println!(
                    "endpoint {} added; signing secret (shown once): {}",
                    e.id, e.secret
                );
            }
        }
        WebhookCmd::List { accounts, json } => {
            let conn = open(settings)?;
            let account_id = listed_account(&conn, &accounts, false)?;
            let list: Vec<EndpointView> = webhooks::list_endpoints(&conn, account_id)?
                .iter()
                .map(EndpointView::from)
                .collect();
            if json {
                output::json(&list)?
            } else {
                output::endpoints(&list)
            }
        }
        WebhookCmd::Remove { id, json } => {
            change(settings, |c| manage::webhooks::remove(c, EndpointId(id)))?;
            if json {
                output::json(&serde_json::json!({ "id": id, "removed": true }))?
            } else {
                println!("endpoint {id} removed")
            }
        }
        other => return super::webhook_cmds::run(settings, other),
    }
    Ok(ExitCode::SUCCESS)
}
