//! The `account` commands: their flags, and running them.

use std::process::ExitCode;

use anyhow::anyhow;
use clap::Subcommand;

use super::commands::{change, open};
use super::output;
use crate::clock;
use crate::config::Settings;
use crate::manage;
use crate::manage::views::AccountView;
use crate::store::accounts;

/// `account` subcommands.
#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Create an account
    Create {
        /// Unique name
        name: String,
        /// Plan
        #[arg(long, default_value = "pro", value_parser = ["free", "starter", "pro"])]
        plan: String,
        /// Subscription status
        #[arg(long, default_value = "active", value_parser = ["trialing", "active", "past_due", "canceled"])]
        status: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Change an account's plan, status, allow-list or inactivity policy
    Update {
        /// Account name
        name: String,
        /// New plan
        #[arg(long, value_parser = ["free", "starter", "pro"])]
        plan: Option<String>,
        /// New status
        #[arg(long, value_parser = ["trialing", "active", "past_due", "canceled"])]
        status: Option<String>,
        /// Account-wide allow-list, replacing the current one (repeatable)
        #[arg(long, value_name = "CIDR")]
        allow_ip: Vec<String>,
        /// Remove the account-wide allow-list
        #[arg(long, conflicts_with = "allow_ip")]
        clear_allow_ip: bool,
        /// Revoke tokens unused this long (e.g. 90d); `off` turns it off
        #[arg(long, value_name = "DURATION")]
        revoke_unused_after: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List accounts
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn account(settings: &Settings, cmd: AccountCmd) -> anyhow::Result<ExitCode> {
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
