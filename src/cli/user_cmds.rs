//! The `user` commands' flags.

use clap::Subcommand;

use super::AccountScope;

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
