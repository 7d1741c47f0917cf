//! The `account` commands' flags.

use clap::Subcommand;

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
