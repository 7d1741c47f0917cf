//! Settings: defaults < TOML file < environment < flags. Clap merges flags and environment;
//! this module lays them over the file and the defaults, and validates the result.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::auth::allow_list;
use crate::auth::rate_limit::{Limit, default_limits};
use crate::cli::{GlobalArgs, LogFormat, ServeArgs};
use crate::clock;
use crate::ops::backup::Schedule;
use crate::webhooks::WebhookSettings;

/// The optional TOML file: the same settings as the flags, in snake case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    db: Option<PathBuf>,
    log_format: Option<LogFormat>,
    listen: Option<String>,
    trusted_proxy: Option<Vec<String>>,
    rate_limit_exempt: Option<Vec<String>>,
    default_limit: Option<Vec<String>>,
    failed_auth_limit: Option<String>,
    workers: Option<usize>,
    backup_dir: Option<PathBuf>,
    backup_every: Option<String>,
    backup_keep: Option<usize>,
    webhook_deny_private: Option<bool>,
    webhook_timeout: Option<String>,
    webhook_retry_schedule: Option<Vec<String>>,
    webhook_retention: Option<String>,
    webhook_senders: Option<usize>,
    secure_cookies: Option<bool>,
    audit_retention: Option<String>,
    max_db_size: Option<String>,
}

/// Only the log format of the file, read leniently (other keys, right or wrong, ignored).
#[derive(Deserialize)]
struct FileLogFormat {
    log_format: Option<LogFormat>,
}

/// The log format to report a failure in, told even when the settings cannot be resolved
/// (a mistake in the config file must reach a json log as JSON too): the flag or the
/// environment, else the file's `log_format` if that much of it reads, else pretty.
pub fn log_format(global: &GlobalArgs) -> LogFormat {
    global
        .log_format
        .or_else(|| {
            let text = std::fs::read_to_string(global.config.as_ref()?).ok()?;
            toml::from_str::<FileLogFormat>(&text).ok()?.log_format
        })
        .unwrap_or(LogFormat::Pretty)
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Database file.
    pub db: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// Listen address (`host:port`; port 0 picks a free one).
    pub listen: String,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxy: Vec<IpNet>,
    /// Callers never rate limited.
    pub rate_limit_exempt: Vec<IpNet>,
    /// Limits for tokens without their own.
    pub default_limit: Vec<Limit>,
    /// Failed authentications allowed per address.
    pub failed_auth_limit: Limit,
    /// HTTP workers.
    pub workers: usize,
    /// Scheduled backups, when a directory is configured.
    pub backup: Option<Schedule>,
    /// Webhook delivery.
    pub webhooks: WebhookSettings,
    /// Always mark the admin session cookie `Secure`.
    pub secure_cookies: bool,
    /// How long audit rows are kept.
    pub audit_retention: std::time::Duration,
    /// The most the database may grow to (bytes); writes beyond are refused with 503.
    pub max_db_size: Option<u64>,
    /// How often the upkeep (pruning, inactivity, expiry warnings) runs. Not a flag: tests
    /// shorten it.
    pub maintenance_every: std::time::Duration,
}

impl Settings {
    /// Defaults for everything, with the database at `db`: what tests start from.
    pub fn for_db(db: &Path) -> Settings {
        Settings {
            db: db.to_owned(),
            log_format: LogFormat::Pretty,
            listen: "127.0.0.1:8080".into(),
            trusted_proxy: Vec::new(),
            rate_limit_exempt: Vec::new(),
            default_limit: default_limits(),
            failed_auth_limit: Limit::parse("20/1m").expect("valid"),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            backup: None,
            webhooks: WebhookSettings::default(),
            secure_cookies: false,
            audit_retention: std::time::Duration::from_secs(90 * 86_400),
            maintenance_every: crate::activity::maintenance::EVERY,
            max_db_size: None,
        }
    }

    /// Resolves the settings from flags/environment (`global`, `serve`) and the config file.
    pub fn resolve(global: &GlobalArgs, serve: Option<&ServeArgs>) -> Result<Settings, String> {
        let file = match &global.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| format!("config file {}: {}", path.display(), e.message()))?
            }
            None => FileConfig::default(),
        };
        let empty = ServeArgs::default();
        let serve = serve.unwrap_or(&empty);
        let mut s = Settings::for_db(Path::new("./switchboard.db"));
        resolve_webhooks(&mut s.webhooks, serve, &file)?;
        if let Some(db) = global.db.clone().or(file.db) {
            s.db = db;
        }
        s.log_format = global
            .log_format
            .or(file.log_format)
            .unwrap_or(LogFormat::Pretty);
        if let Some(l) = serve.listen.clone().or(file.listen) {
            s.listen = l;
        }
        if let Some(list) = listed(&serve.trusted_proxy).or(file.trusted_proxy) {
            s.trusted_proxy =
                allow_list::parse_list(&list).map_err(|e| format!("trusted_proxy: {e}"))?;
        }
        if let Some(list) = listed(&serve.rate_limit_exempt).or(file.rate_limit_exempt) {
            s.rate_limit_exempt =
                allow_list::parse_list(&list).map_err(|e| format!("rate_limit_exempt: {e}"))?;
        }
        // An empty list means the built-in limits: what lets the environment undo a file's.
        if let Some(list) = listed(&serve.default_limit).or(file.default_limit)
            && !list.is_empty()
        {
            s.default_limit =
                Limit::parse_list(&list).map_err(|e| format!("default_limit: {e}"))?;
        }
        if let Some(l) = serve.failed_auth_limit.clone().or(file.failed_auth_limit) {
            s.failed_auth_limit =
                Limit::parse(&l).map_err(|e| format!("failed_auth_limit: {e}"))?;
        }
        if let Some(w) = serve.workers.or(file.workers) {
            if !(1..=256).contains(&w) {
                return Err("workers: must be from 1 to 256".into());
            }
            s.workers = w;
        }
        s.backup = backup_schedule(serve, file.backup_dir, file.backup_every, file.backup_keep)?;
        if let Some(secure) = serve.secure_cookies.or(file.secure_cookies) {
            s.secure_cookies = secure;
        }
        if let Some(size) = serve.max_db_size.clone().or(file.max_db_size) {
            s.max_db_size = Some(parse_size(&size).ok_or_else(|| {
                format!("max_db_size: `{size}` is not a size like 500MB or 2GB (at least 1MB)")
            })?);
        }
        if let Some(r) = serve.audit_retention.clone().or(file.audit_retention) {
            s.audit_retention = crate::clock::parse_duration(&r)
                .ok_or_else(|| format!("audit_retention: `{r}` is not a duration like 90d"))?;
        }
        Ok(s)
    }
}

/// A list setting as flags or the environment gave it, without blank items: an empty
/// `SWITCHBOARD_TRUSTED_PROXY=` is the empty list (clap hands it over as one blank item), so
/// the environment can clear a list the file sets.
fn listed(list: &Option<Vec<String>>) -> Option<Vec<String>> {
    list.as_ref().map(|items| {
        items
            .iter()
            .map(|i| i.trim())
            .filter(|i| !i.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

fn duration(what: &str, s: &str) -> Result<std::time::Duration, String> {
    crate::clock::parse_duration(s)
        .ok_or_else(|| format!("{what}: `{s}` is not a duration like 30s, 15m, 24h or 90d"))
}

fn resolve_webhooks(
    w: &mut WebhookSettings,
    serve: &ServeArgs,
    file: &FileConfig,
) -> Result<(), String> {
    // Either way round: the environment or a flag may turn off what the file turned on.
    if let Some(deny) = serve.webhook_deny_private.or(file.webhook_deny_private) {
        w.deny_private = deny;
    }
    if let Some(t) = serve
        .webhook_timeout
        .as_ref()
        .or(file.webhook_timeout.as_ref())
    {
        w.timeout = duration("webhook_timeout", t)?;
        if w.timeout > std::time::Duration::from_secs(300) {
            return Err("webhook_timeout: at most 5m".into());
        }
    }
    // Empty means the built-in schedule, as for `default_limit`.
    let schedule = listed(&serve.webhook_retry_schedule);
    if let Some(list) = schedule.or_else(|| file.webhook_retry_schedule.clone())
        && !list.is_empty()
    {
        w.retry_schedule = list
            .iter()
            .map(|d| duration("webhook_retry_schedule", d.trim()))
            .collect::<Result<_, _>>()?;
        if !(1..=20).contains(&w.retry_schedule.len()) {
            return Err("webhook_retry_schedule: give 1 to 20 delays".into());
        }
    }
    let retention = serve.webhook_retention.as_ref();
    if let Some(r) = retention.or(file.webhook_retention.as_ref()) {
        w.retention = duration("webhook_retention", r)?;
    }
    if let Some(n) = serve.webhook_senders.or(file.webhook_senders) {
        if !(1..=64).contains(&n) {
            return Err("webhook_senders: must be from 1 to 64".into());
        }
        w.senders = n;
    }
    Ok(())
}

impl Settings {
    /// The effective settings as (file key, value) pairs, in file order: what
    /// `config show` prints. A key naming a secret would show `(hidden)`.
    pub fn shown(&self) -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::json;
        let strings = |v: &[IpNet]| json!(v.iter().map(ToString::to_string).collect::<Vec<_>>());
        let mut out = vec![
            ("db", json!(self.db.display().to_string())),
            ("log_format", json!(self.log_format)),
            ("listen", json!(self.listen)),
            ("trusted_proxy", strings(&self.trusted_proxy)),
            ("rate_limit_exempt", strings(&self.rate_limit_exempt)),
            (
                "default_limit",
                json!(
                    self.default_limit
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                ),
            ),
            (
                "failed_auth_limit",
                json!(self.failed_auth_limit.to_string()),
            ),
            ("workers", json!(self.workers)),
        ];
        out.push((
            "audit_retention",
            json!(clock::format_duration(self.audit_retention)),
        ));
        out.push(("secure_cookies", json!(self.secure_cookies)));
        if let Some(bytes) = self.max_db_size {
            out.push(("max_db_size", json!(format!("{}MB", bytes >> 20))));
        }
        let w = &self.webhooks;
        out.push(("webhook_deny_private", json!(w.deny_private)));
        out.push(("webhook_timeout", json!(clock::format_duration(w.timeout))));
        out.push((
            "webhook_retry_schedule",
            json!(
                w.retry_schedule
                    .iter()
                    .map(|d| clock::format_duration(*d))
                    .collect::<Vec<_>>()
            ),
        ));
        out.push((
            "webhook_retention",
            json!(clock::format_duration(w.retention)),
        ));
        out.push(("webhook_senders", json!(w.senders)));
        if let Some(b) = &self.backup {
            out.push(("backup_dir", json!(b.dir.display().to_string())));
            out.push(("backup_every", json!(clock::format_duration(b.every))));
            out.push(("backup_keep", json!(b.keep)));
        }
        for (key, value) in &mut out {
            if ["secret", "password", "token"]
                .iter()
                .any(|s| key.contains(s))
            {
                *value = json!("(hidden)");
            }
        }
        out
    }
}

/// `--backup-dir` turns scheduled backups on; `--backup-every`/`--backup-keep` tune them and
/// are refused without it, so a typo cannot silently leave the database unprotected.
fn backup_schedule(
    serve: &ServeArgs,
    file_dir: Option<PathBuf>,
    file_every: Option<String>,
    file_keep: Option<usize>,
) -> Result<Option<Schedule>, String> {
    let dir = serve.backup_dir.clone().or(file_dir);
    let every = serve.backup_every.clone().or(file_every);
    let keep = serve.backup_keep.or(file_keep);
    let Some(dir) = dir else {
        if every.is_some() || keep.is_some() {
            return Err("backup_every/backup_keep: set backup_dir too".into());
        }
        return Ok(None);
    };
    let every = match every {
        None => Duration::from_secs(24 * 3600),
        Some(e) => clock::parse_duration(&e)
            .filter(|d| *d >= Duration::from_secs(60))
            .ok_or_else(|| {
                format!("backup_every: `{e}` is not a duration of at least 1m (like 6h or 1d)")
            })?,
    };
    let keep = keep.unwrap_or(7);
    if !(1..=1000).contains(&keep) {
        return Err("backup_keep: must be from 1 to 1000".into());
    }
    Ok(Some(Schedule { dir, every, keep }))
}

impl Settings {
    /// The size cap in SQLite pages (4 KiB), if any.
    pub fn max_db_pages(&self) -> Option<u64> {
        self.max_db_size.map(|b| b / 4096)
    }
}

/// Parses `500MB`, `2GB`, `1048576` (bytes; units are powers of 1024).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let factor = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(factor).filter(|b| *b >= 1 << 20)
}

#[cfg(test)]
mod tests;
