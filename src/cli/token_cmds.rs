//! The `token` commands: their flags, and running them.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use clap::Subcommand;

use super::AccountScope;
use super::commands::{change, listed_account, open};
use super::output;
use crate::clock;
use crate::config::Settings;
use crate::manage;
use crate::manage::tokens::{Everyone, Expiry, TokenChanges, TokenInput};
use crate::manage::views::{CreatedTokenView, TokenView};
use crate::store::tokens;

/// `token` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token; the plaintext is printed this once
    Create {
        /// The owner's email
        #[arg(long)]
        user: String,
        /// A name for people
        #[arg(long)]
        name: String,
        /// Scopes (repeatable, at least one)
        #[arg(long = "scope", value_name = "SCOPE", required = true)]
        scopes: Vec<String>,
        /// Expire after this long (e.g. 90d)
        #[arg(long, value_name = "DURATION", conflicts_with = "expires_at")]
        expires_in: Option<String>,
        /// Expire at this RFC 3339 time
        #[arg(long, value_name = "RFC3339")]
        expires_at: Option<String>,
        /// Only accept calls from here (repeatable)
        #[arg(long, value_name = "CIDR")]
        allow_ip: Vec<String>,
        /// Own rate limits instead of the defaults (repeatable, e.g. 5/1s)
        #[arg(long = "limit", value_name = "N/WINDOW")]
        limits: Vec<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List tokens, never their secrets (of the account named `default` unless told otherwise)
    List {
        /// Which account's tokens (with --user: that user's)
        #[command(flatten)]
        accounts: AccountScope,
        /// Only this user's tokens (in whichever account the user is)
        #[arg(long)]
        user: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show one token
    Show {
        /// Numeric id or prefix
        id_or_prefix: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Change a token's name, expiry, allow-list or limits
    Update {
        /// Numeric id or prefix
        id_or_prefix: String,
        /// New name
        #[arg(long)]
        name: Option<String>,
        /// Expire after this long from now
        #[arg(long, value_name = "DURATION", conflicts_with_all = ["expires_at", "no_expiry"])]
        expires_in: Option<String>,
        /// Expire at this RFC 3339 time
        #[arg(long, value_name = "RFC3339", conflicts_with = "no_expiry")]
        expires_at: Option<String>,
        /// Never expire
        #[arg(long)]
        no_expiry: bool,
        /// Allow-list, replacing the current one (repeatable)
        #[arg(long, value_name = "CIDR")]
        allow_ip: Vec<String>,
        /// Remove the allow-list
        #[arg(long, conflicts_with = "allow_ip")]
        clear_allow_ip: bool,
        /// Limits, replacing the current ones (repeatable)
        #[arg(long = "limit", value_name = "N/WINDOW")]
        limits: Vec<String>,
        /// Go back to the server's default limits
        #[arg(long, conflicts_with = "limits")]
        default_limits: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token at once (or all of a user's or an account's with --all)
    Revoke {
        /// Numeric id or prefix
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id_or_prefix: Option<String>,
        /// Revoke every live token of --user or --account
        #[arg(long)]
        all: bool,
        /// With --all: this user's tokens
        #[arg(long, requires = "all", conflicts_with = "account")]
        user: Option<String>,
        /// With --all: this account's tokens
        #[arg(long, requires = "all")]
        account: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Replace a token with a new one; the old one works for --grace more
    Rotate {
        /// Numeric id or prefix
        id_or_prefix: String,
        /// How long the old token keeps working (default: it dies at once)
        #[arg(long, value_name = "DURATION")]
        grace: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn token_cmd(settings: &Settings, cmd: TokenCmd) -> anyhow::Result<ExitCode> {
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
