//! The operations commands: `backup`, `restore` and `config show`.

use std::path::Path;
use std::process::ExitCode;

use super::output;
use crate::config::Settings;
use crate::ops::backup;

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
