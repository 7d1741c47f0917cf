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

/// Rows under their headers, one line each: every column but the last padded to its widest
/// cell (values such as a plan or a role do not pad themselves, and long emails or names
/// would push a fixed width out of line).
pub fn table_lines(headers: &[&str], rows: &[Vec<String>]) -> Vec<String> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, (cell, width)) in cells.into_iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$} "));
            }
        }
        out.trim_end().to_owned()
    };
    let mut lines = vec![line(headers.to_vec())];
    lines.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    lines
}

/// Prints a table (see `table_lines`).
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    for line in table_lines(headers, rows) {
        println!("{line}");
    }
}

/// One line per token.
pub fn tokens(list: &[TokenView]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.prefix.clone(),
                t.status.to_string(),
                t.user.clone(),
                t.account.clone(),
                t.name.clone(),
                or_dash(t.last_used_at.as_deref()).to_owned(),
                t.scopes.names().join(" "),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "PREFIX",
            "STATUS",
            "USER",
            "ACCOUNT",
            "NAME",
            "LAST USED",
            "SCOPES",
        ],
        &rows,
    );
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
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.name.clone(),
                a.plan.to_string(),
                a.status.to_string(),
                if a.api_access { "yes" } else { "no" }.to_owned(),
                if a.allow_ips.is_empty() {
                    "-".into()
                } else {
                    a.allow_ips.join(",")
                },
            ]
        })
        .collect();
    table(
        &["ID", "NAME", "PLAN", "STATUS", "API", "ALLOW-LIST"],
        &rows,
    );
}

/// One line per user.
pub fn users(list: &[UserView]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|u| {
            vec![
                u.id.to_string(),
                u.email.clone(),
                u.role.to_string(),
                u.account.clone(),
                if u.disabled { "disabled" } else { "enabled" }.to_owned(),
                u.permissions.names().join(" "),
            ]
        })
        .collect();
    table(
        &["ID", "EMAIL", "ROLE", "ACCOUNT", "STATE", "PERMISSIONS"],
        &rows,
    );
}

/// One line per endpoint, and one more under a disabled one saying why.
pub fn endpoints(list: &[EndpointView]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.account.clone(),
                if e.enabled { "yes" } else { "no" }.to_owned(),
                e.url.clone(),
                e.events.join(" "),
            ]
        })
        .collect();
    let mut lines = table_lines(&["ID", "ACCOUNT", "ENABLED", "URL", "EVENTS"], &rows).into_iter();
    if let Some(header) = lines.next() {
        println!("{header}");
    }
    let id_width = rows
        .iter()
        .map(|r| r[0].len())
        .chain([2])
        .max()
        .unwrap_or(2);
    for (line, e) in lines.zip(list) {
        println!("{line}");
        if let Some(why) = &e.disabled_reason {
            println!("{:<id_width$} disabled: {why}", "");
        }
    }
}

/// One line per delivery.
pub fn deliveries(list: &[DeliveryView]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|d| {
            vec![
                d.id.to_string(),
                d.endpoint_id.to_string(),
                d.account.clone(),
                d.event_type.clone(),
                d.status.to_string(),
                d.attempts.to_string(),
                d.last_status.map_or_else(|| "-".into(), |s| s.to_string()),
                or_dash(d.next_attempt_at.as_deref()).to_owned(),
                or_dash(d.last_error.as_deref()).to_owned(),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "ENDPOINT",
            "ACCOUNT",
            "EVENT",
            "STATUS",
            "ATTEMPTS",
            "HTTP",
            "NEXT ATTEMPT",
            "LAST ERROR",
        ],
        &rows,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_as_wide_as_its_widest_cell() {
        let rows = vec![
            vec![
                "1".into(),
                "a-long-email@example.com".into(),
                "admin".into(),
                "x y".into(),
            ],
            vec![
                "22".into(),
                "b@example.com".into(),
                "pro".into(),
                "-".into(),
            ],
        ];
        assert_eq!(
            table_lines(&["ID", "EMAIL", "ROLE", "LAST"], &rows),
            [
                "ID EMAIL                    ROLE  LAST",
                "1  a-long-email@example.com admin x y",
                "22 b@example.com            pro   -",
            ]
        );
        assert_eq!(table_lines(&["ID", "NAME"], &[]), ["ID NAME"]);
    }
}
