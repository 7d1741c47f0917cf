//! The scheduled backups of `serve --backup-dir`: a copy whenever the newest is due, and the
//! oldest removed beyond `keep`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::macros::format_description;

use super::{BackupReport, OpsError, backup_with, io};
use crate::background::Stop;
use crate::ops::metrics::Metrics;
use crate::store::{Store, StoreError};

/// Settings of the scheduled backups.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Where the copies go.
    pub dir: PathBuf,
    /// How often.
    pub every: Duration,
    /// How many copies to keep (the oldest go first).
    pub keep: usize,
}

const FILE_PREFIX: &str = "switchboard-";
const FILE_SUFFIX: &str = ".db";

/// The longest the scheduler sleeps before it reads the wall clock again: a backup falls due
/// by the wall clock, which may be set meanwhile (a Raspberry Pi without a clock battery
/// boots at its last shutdown's time, and NTP moves it on).
const WALL_CLOCK_RECHECK: Duration = Duration::from_secs(60);

/// The `backup-scheduler` thread's body: a copy whenever the newest one in the directory is
/// `every` old (so a restart never postpones a due backup), then pruning to `keep`.
pub fn run_schedule(store: &Store, schedule: &Schedule, metrics: &Metrics, stop: &Stop) {
    // A newest copy stamped in the future (the clock was set back) waits no longer than
    // `every` from now.
    let latest = SystemTime::now() + schedule.every;
    let mut next = newest_backup(&schedule.dir)
        .map_or(SystemTime::now(), |t| t + schedule.every)
        .min(latest);
    stop.repeat(|| {
        if SystemTime::now() >= next {
            let outcome = scheduled_backup(store, schedule);
            let now = OffsetDateTime::now_utc().unix_timestamp();
            match outcome {
                Ok(r) => {
                    tracing::info!(path = %r.path.display(), bytes = r.bytes, took_ms = r.took_ms, "scheduled backup written");
                    metrics.backup_done(true, u64::try_from(now).unwrap_or(0));
                }
                Err(e) => {
                    tracing::error!(error = %e, dir = %schedule.dir.display(), "scheduled backup failed");
                    metrics.backup_done(false, 0);
                }
            }
            next = SystemTime::now() + schedule.every;
        }
        let due_in = next.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
        due_in.min(WALL_CLOCK_RECHECK)
    });
}

fn scheduled_backup(store: &Store, schedule: &Schedule) -> Result<BackupReport, OpsError> {
    fs::create_dir_all(&schedule.dir).map_err(io(format!(
        "cannot create the backup directory {}",
        schedule.dir.display()
    )))?;
    let stamp = OffsetDateTime::now_utc()
        .format(format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "unknown".into());
    let mut to = schedule
        .dir
        .join(format!("{FILE_PREFIX}{stamp}{FILE_SUFFIX}"));
    let mut n = 1;
    while to.exists() {
        to = schedule
            .dir
            .join(format!("{FILE_PREFIX}{stamp}-{n}{FILE_SUFFIX}"));
        n += 1;
    }
    let report = store.read(|c| {
        backup_with(c, &to).map_err(|e| match e {
            OpsError::Store(s) => s,
            other => StoreError::Corrupt(other.to_string()),
        })
    })?;
    prune(&schedule.dir, schedule.keep);
    Ok(report)
}

/// Our backup files in `dir`, oldest first (their names sort by time).
pub fn list_backups(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(FILE_PREFIX) && n.ends_with(FILE_SUFFIX))
        })
        .collect();
    files.sort();
    files
}

fn newest_backup(dir: &Path) -> Option<SystemTime> {
    list_backups(dir)
        .last()
        .and_then(|p| fs::metadata(p).and_then(|m| m.modified()).ok())
}

fn prune(dir: &Path, keep: usize) {
    let files = list_backups(dir);
    let excess = files.len().saturating_sub(keep.max(1));
    for old in &files[..excess] {
        match fs::remove_file(old) {
            Ok(()) => tracing::info!(path = %old.display(), "old backup removed"),
            Err(e) => {
                tracing::warn!(path = %old.display(), error = %e, "cannot remove an old backup")
            }
        }
    }
}
