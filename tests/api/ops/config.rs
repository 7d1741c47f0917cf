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

/// Each boolean setting follows flags > env > file > defaults in both directions: the
/// environment can turn off what the file turned on, and a bare flag means true.
#[test]
fn boolean_settings_can_be_turned_off_by_a_higher_layer_as_well_as_on() {
    let dir = tempfile::tempdir().unwrap();
    for key in ["webhook_deny_private", "secure_cookies"] {
        let flag = format!("--{}", key.replace('_', "-"));
        let env = format!("SWITCHBOARD_{}", key.to_ascii_uppercase());
        // (file, environment, flags, expected, why)
        type Case<'a> = (&'a str, Option<&'a str>, &'a [&'a str], bool, &'a str);
        let cases: &[Case] = &[
            ("", None, &[], false, "the default"),
            ("true", None, &[], true, "the file"),
            (
                "true",
                Some("false"),
                &[],
                false,
                "env false over file true",
            ),
            ("false", Some("true"), &[], true, "env true over file false"),
            (
                "true",
                Some("true"),
                &[&flag, "false"],
                false,
                "flag false over env",
            ),
            (
                "",
                Some("false"),
                &[&flag],
                true,
                "the bare flag means true",
            ),
        ];
        for (file_value, env_value, args, expected, why) in cases {
            let file = dir.path().join("c.toml");
            let text = if file_value.is_empty() {
                String::new()
            } else {
                format!("{key} = {file_value}\n")
            };
            std::fs::write(&file, text).unwrap();
            let mut cmd = Command::new(BIN);
            cmd.args([
                "--config",
                file.to_str().unwrap(),
                "config",
                "show",
                "--json",
            ])
            .args(*args)
            .env_remove(&env);
            if let Some(v) = env_value {
                cmd.env(&env, v);
            }
            let out = cmd.output().unwrap();
            assert!(out.status.success(), "{key}, {why}: {}", stderr(&out));
            let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(shown[key], *expected, "{key}: {why}");
        }
    }
}

/// An empty list in the environment is the empty list, not an error: it clears the file's
/// list; for the limits and the retry schedule, empty means the built-in ones.
#[test]
fn an_empty_list_in_the_environment_clears_the_list_the_file_sets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(
        &file,
        "trusted_proxy = [\"10.0.0.0/8\"]\nrate_limit_exempt = [\"192.168.0.0/16\"]\n\
         default_limit = [\"5/1s\"]\nwebhook_retry_schedule = [\"1m\"]\n",
    )
    .unwrap();
    let show = |env: &[(&str, &str)]| {
        let out = Command::new(BIN)
            .args(["config", "show", "--json"])
            .env("SWITCHBOARD_CONFIG", &file)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(out.status.success(), "{env:?}: {}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let from_file = show(&[]);
    assert_eq!(from_file["trusted_proxy"], json!(["10.0.0.0/8"]));
    assert_eq!(from_file["default_limit"], json!(["5/1s"]));
    let builtin = show(&[("SWITCHBOARD_CONFIG", "/dev/null")]);
    assert_eq!(builtin["trusted_proxy"], json!([]), "no file, no proxies");
    let cleared = show(&[
        ("SWITCHBOARD_TRUSTED_PROXY", ""),
        ("SWITCHBOARD_RATE_LIMIT_EXEMPT", ""),
        ("SWITCHBOARD_DEFAULT_LIMIT", ""),
        ("SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE", ""),
    ]);
    assert_eq!(cleared["trusted_proxy"], json!([]));
    assert_eq!(cleared["rate_limit_exempt"], json!([]));
    assert_eq!(cleared["default_limit"], builtin["default_limit"]);
    assert_eq!(
        cleared["webhook_retry_schedule"],
        builtin["webhook_retry_schedule"]
    );
    assert_eq!(
        builtin["default_limit"],
        json!(["20/1s", "200/10s", "1000/1m"])
    );
}
