//! The `webhook` commands: their flags, and running them (add/list/remove here; deliveries,
//! replay, enable/disable, secret rotation and test deliveries in `run`).

use std::process::ExitCode;

use clap::Subcommand;

use super::AccountScope;
use super::commands::{change, listed_account, open};
use super::output;
use crate::clock;
use crate::config::Settings;
use crate::manage;
use crate::manage::views::{DeliveryView, EndpointView};
use crate::manage::webhooks;
use crate::model::{AccountId, EndpointId};
use crate::store::{self, fanout};

/// `webhook` subcommands.
#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Add an endpoint; its signing secret is printed this once
    Add {
        /// Where to send deliveries
        #[arg(long)]
        url: String,
        /// Event types (repeatable; `*` for all)
        #[arg(long = "event", value_name = "TYPE", required = true)]
        events: Vec<String>,
        /// Account name
        #[arg(long, default_value = crate::manage::accounts::DEFAULT)]
        account: String,
        /// What it is for
        #[arg(long)]
        description: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List endpoints (of the account named `default` unless told otherwise)
    List {
        /// Which account's endpoints
        #[command(flatten)]
        accounts: AccountScope,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove an endpoint and its deliveries
    Remove {
        /// Endpoint id
        id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List deliveries, newest first, with their last attempt (of the account named `default`
    /// unless told otherwise)
    Deliveries {
        /// Only this endpoint's deliveries (in whichever account the endpoint is)
        #[arg(long, value_name = "ID")]
        endpoint: Option<i64>,
        /// Only deliveries in this state
        #[arg(long, value_parser = ["pending", "delivered", "failed", "dead", "paused"])]
        status: Option<String>,
        /// Which account's deliveries (with --endpoint: that endpoint's)
        #[command(flatten)]
        accounts: AccountScope,
        /// How many to show
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show every attempt at one delivery
    Attempts {
        /// Delivery id
        delivery_id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Send a delivery again (dead ones too) with the same webhook-id
    Replay {
        /// Delivery id
        delivery_id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Enable an endpoint; its paused deliveries go out
    Enable {
        /// Endpoint id
        id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Disable an endpoint; its new deliveries wait, paused
    Disable {
        /// Endpoint id
        id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Give an endpoint a new signing secret (printed once); the old one signs too for 24 h
    RotateSecret {
        /// Endpoint id
        id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Queue a `webhook.test` delivery to one endpoint
    Test {
        /// Endpoint id
        id: i64,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn webhook(settings: &Settings, cmd: WebhookCmd) -> anyhow::Result<ExitCode> {
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
            let list: Vec<EndpointView> = store::webhooks::list_endpoints(&conn, account_id)?
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
        other => return run(settings, other),
    }
    Ok(ExitCode::SUCCESS)
}

/// Makes the deliveries of events the server has not made them for yet (it does so at its
/// next claim, or was stopped first), so that the list has them: a transaction per `BATCH`
/// events, which a running server's writes go between, up to `BEFORE_A_LIST` of them. Best
/// effort: when it cannot (a server's writer holds the database past the busy timeout, or
/// the backlog is longer), the list shows what is made, and says what is not.
fn make_deliveries(
    conn: &mut rusqlite::Connection,
    account: Option<AccountId>,
    endpoint: Option<EndpointId>,
) {
    let now = clock::now_ms();
    for _ in 0..fanout::BEFORE_A_LIST {
        match store::with_write_tx(conn, |c| fanout::fan_out(c, fanout::BATCH, now)) {
            Ok(step) if step.more => {}
            Ok(_) => return,
            Err(e) => {
                eprintln!("note: could not make the newest deliveries before listing ({e})");
                break;
            }
        }
    }
    if let Ok((pending, paused)) = fanout::still_to_make(conn, account, endpoint)
        && pending + paused > 0
    {
        eprintln!(
            "note: {} deliveries of newer events are not made yet, and not listed: the server \
             makes them as it catches up",
            pending + paused
        );
    }
}

/// Runs one of these commands beyond add/list/remove (those are handled in `webhook`).
pub(super) fn run(settings: &Settings, cmd: WebhookCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        WebhookCmd::Deliveries {
            endpoint,
            status,
            accounts,
            limit,
            json,
        } => {
            let mut conn = open(settings)?;
            let account_id = listed_account(&conn, &accounts, endpoint.is_some())?;
            make_deliveries(&mut conn, account_id, endpoint.map(EndpointId));
            let list = webhooks::list_deliveries(
                &conn,
                account_id,
                endpoint.map(EndpointId),
                status.as_deref(),
                limit,
            )?;
            if json {
                output::json(&list)?
            } else {
                output::deliveries(&list)
            }
        }
        WebhookCmd::Attempts { delivery_id, json } => {
            let list = webhooks::delivery_attempts(&open(settings)?, delivery_id)?;
            if json {
                output::json(&list)?
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|a| {
                        vec![
                            a.attempted_at.clone(),
                            a.status.map_or_else(|| "-".into(), |s| s.to_string()),
                            format!("{} ms", a.latency_ms),
                            a.error.as_deref().unwrap_or("-").to_owned(),
                        ]
                    })
                    .collect();
                output::table(&["ATTEMPTED AT", "HTTP", "LATENCY", "ERROR"], &rows);
            }
        }
        WebhookCmd::Replay { delivery_id, json } => {
            let d = change(settings, |c| webhooks::replay(c, delivery_id))?;
            print_delivery(&d, json, "queued again")?;
        }
        WebhookCmd::Enable { id, json } | WebhookCmd::Disable { id, json } => {
            let enable = matches!(cmd, WebhookCmd::Enable { .. });
            let e = change(settings, |c| {
                webhooks::set_enabled(c, EndpointId(id), enable)
            })?;
            if json {
                output::json(&EndpointView::from(&e))?
            } else {
                let word = if enable { "enabled" } else { "disabled" };
                println!("endpoint {id} {word}");
            }
        }
        WebhookCmd::RotateSecret { id, json } => {
            let e = change(settings, |c| webhooks::rotate_secret(c, EndpointId(id)))?;
            if json {
                output::json(&serde_json::json!({
                    "id": e.id, "url": e.url, "secret": e.secret,
                    "previous_secret_until": e.previous_until.map(crate::clock::format_ms),
                }))?
            } else {
                println!(
                    "endpoint {id}: new signing secret (shown once): {}\n\
                     the old secret also signs for the next 24 hours",
                    e.secret
                );
            }
        }
        WebhookCmd::Test { id, json } => {
            let d = change(settings, |c| webhooks::send_test(c, EndpointId(id)))?;
            print_delivery(&d, json, "test delivery queued")?;
        }
        WebhookCmd::Add { .. } | WebhookCmd::List { .. } | WebhookCmd::Remove { .. } => {
            unreachable!("handled in commands")
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_delivery(d: &DeliveryView, json: bool, what: &str) -> anyhow::Result<()> {
    if json {
        output::json(d)
    } else {
        println!(
            "delivery {} ({}, webhook-id {}): {what}, {}",
            d.id, d.event_type, d.webhook_id, d.status
        );
        Ok(())
    }
}
