//! Running it as an appliance: request ids, metrics, readiness, the OpenAPI document and the
//! docs page, backups (live, scheduled) and restores, migrations of old and new files,
//! `config show`. Shared helpers here, one module per topic below.

mod backup;
mod config;
mod migrations;
mod observability;
mod openapi;

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use rusqlite::Connection;
use serde_json::{Value, json};
use switchboard::ops::backup::Schedule;
use switchboard::store;

use crate::helpers::{eventually, spawn_app, spawn_app_with};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

fn run(db: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn count(db: &Path, table: &str) -> i64 {
    let c = Connection::open(db).unwrap();
    c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}
