//! The `user` commands: their flags, and running them.

use std::io::Read;
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;

use super::AccountScope;
use super::commands::{change, listed_account, open};
use super::output;
use crate::config::Settings;
use crate::manage;
use crate::manage::users::{UserChanges, UserInput};
use crate::manage::views::UserView;
use crate::store::users;

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user
    Add {
        /// Email (unique)
        #[arg(long)]
        email: String,
        /// Display name
        #[arg(long)]
        name: Option<String>,
        /// Role
        #[arg(long, default_value = "agent", value_parser = ["agent", "admin"])]
        role: String,
        /// Account name
        #[arg(long, default_value = crate::manage::accounts::DEFAULT)]
        account: String,
        /// Read a password from standard input (for the admin page)
        #[arg(long)]
        password_stdin: bool,
        /// Permissions (repeatable) [default: all eight]
        #[arg(long = "permission", value_name = "SCOPE")]
        permissions: Vec<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Change a user's role, permissions, password or status
    Update {
        /// The user's email
        email: String,
        /// New role
        #[arg(long, value_parser = ["agent", "admin"])]
        role: Option<String>,
        /// Permissions, replacing the whole set (repeatable)
        #[arg(long = "permission", value_name = "SCOPE")]
        permissions: Vec<String>,
        /// Disable the user (their tokens stop working)
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        /// Enable the user again
        #[arg(long)]
        enable: bool,
        /// Read a new password from standard input
        #[arg(long)]
        password_stdin: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List users (of the account named `default` unless told otherwise)
    List {
        /// Which account's users
        #[command(flatten)]
        accounts: AccountScope,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn user(settings: &Settings, cmd: UserCmd) -> anyhow::Result<ExitCode> {
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
