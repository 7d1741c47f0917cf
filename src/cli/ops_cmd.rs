//! The operations commands: `migrate`'s report, `backup`, `restore`, `config show` and `audit`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::anyhow;

use super::AuditArgs;
use super::commands::{listed_account, open};
use super::output;
use crate::clock;
use crate::config::Settings;
use crate::manage;
use crate::ops::backup;
use crate::store::{self, Applied};

/// What `switchboard migrate` did: the schema version and the migrations it applied.
pub fn print_migrated(
    settings: &Settings,
    applied: &[Applied],
    json: bool,
) -> anyhow::Result<ExitCode> {
    let version = *store::SCHEMA_VERSION;
    if json {
        let applied: Vec<_> = applied
            .iter()
            .map(|m| serde_json::json!({ "version": m.version, "name": m.name }))
            .collect();
        output::json(&serde_json::json!({
            "db": settings.db.display().to_string(),
            "schema_version": version,
            "applied": applied,
        }))?;
    } else if applied.is_empty() {
        println!(
            "database {} is at schema version {version}; nothing to apply",
            settings.db.display()
        );
    } else {
        let names: Vec<String> = applied
            .iter()
            .map(|m| format!("V{}__{}", m.version, m.name))
            .collect();
        println!(
            "database {} is at schema version {version}; applied {}",
            settings.db.display(),
            names.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `switchboard backup --to FILE`
pub fn backup(settings: &Settings, to: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let report = backup::backup_file(&settings.db, to)?;
    if json {
        output::json(&report)?;
    } else {
        println!(
            "backed up {} to {} ({} bytes, schema version {}, {} ms)",
            settings.db.display(),
            report.path.display(),
            report.bytes,
            report.schema_version,
            report.took_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `switchboard restore --from FILE`
pub fn restore(settings: &Settings, from: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let report = backup::restore(&settings.db, from)?;
    if json {
        output::json(&report)?;
    } else {
        println!(
            "restored {} from {} (backup at schema version {})",
            report.db.display(),
            report.restored_from.display(),
            report.backup_schema_version
        );
        if let Some(p) = &report.previous_saved_as {
            println!("the replaced database was kept as {}", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `switchboard config show`: as TOML that `--config` would read back, or one JSON object.
pub fn show_config(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let shown = settings.shown();
    if json {
        let map: serde_json::Map<String, serde_json::Value> =
            shown.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        output::json(&map)?;
    } else {
        for (key, value) in shown {
            println!("{key} = {value}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `switchboard audit`: the audit log, newest first.
pub fn audit_log(settings: &Settings, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let conn = open(settings)?;
    let time = |s: Option<&str>| {
        s.map(|t| clock::parse_rfc3339(t).ok_or_else(|| anyhow!("`{t}` is not an RFC 3339 time")))
            .transpose()
    };
    let filter = store::audit::AuditFilter {
        account: listed_account(&conn, &args.accounts, args.token.is_some())?,
        token: args
            .token
            .map(|t| manage::tokens::require(&conn, &t).map(|t| t.id))
            .transpose()?,
        user: None,
        status: args.status,
        since: time(args.since.as_deref())?,
        until: time(args.until.as_deref())?,
        before_id: None,
        limit: args.limit,
    };
    let rows = store::audit::list(&conn, &filter)?;
    // Rows of several accounts are told apart by name, in the table and in JSON alike; a call
    // no token was identified for has no account.
    let names: std::collections::HashMap<_, _> = store::accounts::list(&conn)?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    let account = |e: &store::audit::AuditEntry| {
        e.account_id
            .and_then(|id| names.get(&id))
            .map(String::as_str)
    };
    if args.json {
        let view: Vec<_> = rows
            .iter()
            .map(|e| {
                serde_json::json!({
                    "id": e.id, "at": clock::format_ms(e.at), "token_prefix": e.token_prefix, "user_id": e.user_id,
                    "account_id": e.account_id, "account": account(e), "method": e.method, "path": e.path, "status": e.status,
                    "code": e.code, "ip": e.ip, "latency_us": e.latency_us,
                })
            })
            .collect();
        output::json(&view)?;
    } else {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|e| {
                vec![
                    clock::format_ms(e.at),
                    account(e).unwrap_or("-").to_owned(),
                    e.token_prefix.as_deref().unwrap_or("-").to_owned(),
                    e.method.to_string(),
                    e.path.clone(),
                    e.status.to_string(),
                    e.code.as_deref().unwrap_or("-").to_owned(),
                    e.ip.clone(),
                ]
            })
            .collect();
        output::table(
            &[
                "AT", "ACCOUNT", "TOKEN", "METHOD", "PATH", "STATUS", "CODE", "IP",
            ],
            &rows,
        );
    }
    Ok(ExitCode::SUCCESS)
}
