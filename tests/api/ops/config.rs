//! `config show` and the checks of the new settings.

use super::*;

#[test]
fn config_show_prints_the_effective_settings_from_every_layer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:9000\"\nworkers = 3\nbackup_dir = \"/var/backups/sb\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "--config",
            file.to_str().unwrap(),
            "config",
            "show",
            "--json",
        ])
        .args(["--backup-keep", "3"])
        .env("SWITCHBOARD_WORKERS", "5")
        .env("SWITCHBOARD_DB", "/tmp/from-env.db")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["listen"], "0.0.0.0:9000", "file");
    assert_eq!(shown["workers"], 5, "env over file");
    assert_eq!(shown["db"], "/tmp/from-env.db");
    assert_eq!(shown["backup_keep"], 3, "flag");
    assert_eq!(shown["backup_every"], "1d", "default");
    for (args, message) in [
        (&["--backup-every", "12h"][..], "set backup_dir too"),
        (
            &["--backup-dir", "/x", "--backup-every", "soon"],
            "backup_every",
        ),
        (&["--backup-dir", "/x", "--backup-keep", "0"], "backup_keep"),
    ] {
        let out = Command::new(BIN)
            .args(["config", "show"])
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
}
