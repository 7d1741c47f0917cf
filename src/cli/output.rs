//! Printing results: exactly one JSON document with `--json`, short lines for people otherwise.

use serde::Serialize;

use crate::manage::views::{AccountView, DeliveryView, EndpointView, TokenView, UserView};

/// Prints `value` as one JSON document.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn or_dash(v: Option<&str>) -> &str {
    v.unwrap_or("-")
}

/// One line per token.
pub fn tokens(list: &[TokenView]) {
    println!(
        "{:<6} {:<9} {:<14} {:<24} {:<13} {:<24} SCOPES",
        "ID", "PREFIX", "STATUS", "USER", "NAME", "LAST USED"
    );
    for t in list {
        println!(
            "{:<6} {:<9} {:<14} {:<24} {:<13} {:<24} {}",
            t.id,
            t.prefix,
            t.status,
            t.user,
            t.name,
            or_dash(t.last_used_at.as_deref()),
            t.scopes.names().join(" ")
        );
    }
}

/// A token in full.
pub fn token(t: &TokenView) {
    println!("id:          {}", t.id);
    println!("prefix:      {}", t.prefix);
    println!("name:        {}", t.name);
    println!("user:        {} (account {})", t.user, t.account);
    println!("status:      {}", t.status);
    println!("scopes:      {}", t.scopes.names().join(" "));
    println!("created:     {}", t.created_at);
    println!(
        "expires:     {}",
        t.expires_at.as_deref().unwrap_or("never")
    );
    println!(
        "last used:   {} from {}",
        or_dash(t.last_used_at.as_deref()),
        or_dash(t.last_used_ip.as_deref())
    );
    println!(
        "allow-list:  {}",
        if t.allow_ips.is_empty() {
            "any address".into()
        } else {
            t.allow_ips.join(", ")
        }
    );
    println!(
        "limits:      {}{}",
        t.limits.join(", "),
        if t.default_limits { " (defaults)" } else { "" }
    );
    if let Some(r) = &t.revoked_at {
        println!(
            "revoked:     {r} ({})",
            or_dash(t.revoked_reason.as_deref())
        );
    }
    if let Some(id) = t.replaced_by {
        println!(
            "replaced by: token {id}, old one valid until {}",
            or_dash(t.grace_until.as_deref())
        );
    }
    if let Some(id) = t.replaces {
        println!("replaces:    token {id}");
    }
}

/// One line per account.
pub fn accounts(list: &[AccountView]) {
    println!(
        "{:<6} {:<24} {:<8} {:<10} {:<10} ALLOW-LIST",
        "ID", "NAME", "PLAN", "STATUS", "API"
    );
    for a in list {
        println!(
            "{:<6} {:<24} {:<8} {:<10} {:<10} {}",
            a.id,
            a.name,
            a.plan,
            a.status,
            if a.api_access { "yes" } else { "no" },
            if a.allow_ips.is_empty() {
                "-".into()
            } else {
                a.allow_ips.join(",")
            }
        );
    }
}

/// One line per user.
pub fn users(list: &[UserView]) {
    println!(
        "{:<6} {:<30} {:<6} {:<16} {:<9} PERMISSIONS",
        "ID", "EMAIL", "ROLE", "ACCOUNT", "STATE"
    );
    for u in list {
        println!(
            "{:<6} {:<30} {:<6} {:<16} {:<9} {}",
            u.id,
            u.email,
            u.role,
            u.account,
            if u.disabled { "disabled" } else { "enabled" },
            u.permissions.names().join(" ")
        );
    }
}

/// One line per endpoint.
pub fn endpoints(list: &[EndpointView]) {
    println!("{:<6} {:<8} {:<40} EVENTS", "ID", "ENABLED", "URL");
    for e in list {
        println!(
            "{:<6} {:<8} {:<40} {}",
            e.id,
            if e.enabled { "yes" } else { "no" },
            e.url,
            e.events.join(" ")
        );
        if let Some(why) = &e.disabled_reason {
            println!("{:<6} disabled: {why}", "");
        }
    }
}

/// One line per delivery.
pub fn deliveries(list: &[DeliveryView]) {
    println!(
        "{:<7} {:<8} {:<20} {:<10} {:<8} {:<6} {:<24} LAST ERROR",
        "ID", "ENDPOINT", "EVENT", "STATUS", "ATTEMPTS", "HTTP", "NEXT ATTEMPT"
    );
    for d in list {
        println!(
            "{:<7} {:<8} {:<20} {:<10} {:<8} {:<6} {:<24} {}",
            d.id,
            d.endpoint_id,
            d.event_type,
            d.status,
            d.attempts,
            d.last_status.map_or_else(|| "-".into(), |s| s.to_string()),
            or_dash(d.next_attempt_at.as_deref()),
            or_dash(d.last_error.as_deref())
        );
    }
}
