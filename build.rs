use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    // Without this, a new migration file is not embedded until something else changes.
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=static");
    embed_migrations();
}

/// Writes `$OUT_DIR/migrations.rs`: every `migrations/V<version>__<name>.sql`, oldest first, as
/// an `Embedded` (version, name, file stem, SQL). `store::migrate` hands them to refinery's
/// runner, and checks an up-to-date file's history against them without it (see there).
fn embed_migrations() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("migrations");
    let mut found: Vec<(i32, String, String)> = Vec::new();
    for entry in fs::read_dir(&dir).expect("the migrations directory is readable") {
        let path = entry.expect("a directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("sql") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a migration's file name is UTF-8")
            .to_owned();
        let (version, name) = parse_stem(&stem).unwrap_or_else(|| {
            panic!(
                "migrations/{stem}.sql is not named V<version>__<name>.sql (name: A-Z, a-z, 0-9, _)"
            )
        });
        if let Some((_, _, other)) = found.iter().find(|(v, _, _)| *v == version) {
            panic!("migrations/{stem}.sql and migrations/{other}.sql have the same version");
        }
        found.push((version, name.to_owned(), stem));
    }
    found.sort();
    let mut out = String::from("&[\n");
    for (version, name, stem) in &found {
        let path = dir.join(format!("{stem}.sql"));
        writeln!(
            out,
            "    Embedded {{ version: {version}, name: {name:?}, file: {stem:?}, sql: include_str!({path:?}) }},"
        )
        .expect("writing to a String");
    }
    out.push(']');
    let target = Path::new(&env::var("OUT_DIR").expect("set by cargo")).join("migrations.rs");
    fs::write(target, out).expect("OUT_DIR is writable");
}

/// `V12__outbox_aged_by_id` -> (12, "outbox_aged_by_id"), the names refinery accepts (it parses
/// the same stems at run time, and refuses others).
fn parse_stem(stem: &str) -> Option<(i32, &str)> {
    let (version, name) = stem.strip_prefix('V')?.split_once("__")?;
    let valid_version = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit());
    let valid_name =
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !(valid_version && valid_name) {
        return None;
    }
    Some((version.parse().ok()?, name))
}
