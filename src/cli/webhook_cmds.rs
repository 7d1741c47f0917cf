//! The webhook commands beyond add/list/remove: deliveries, replay, enable/disable, secret
//! rotation and test deliveries.

use std::process::ExitCode;

use super::WebhookCmd;
use super::commands::{change, listed_account, open};
use super::output;
use crate::clock;
use crate::config::Settings;
use crate::manage::views::{DeliveryView, EndpointView};
use crate::manage::webhooks;
use crate::model::{AccountId, EndpointId};
use crate::store::{self, fanout};

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

/// Runs one of these commands (the others are handled in `commands`).
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
