use super::*;

#[test]
fn sizes_parse_with_binary_units_and_refuse_tiny_caps() {
    assert_eq!(parse_size("500MB"), Some(500 << 20));
    assert_eq!(parse_size("2gb"), Some(2 << 30));
    assert_eq!(parse_size("1048576"), Some(1 << 20));
    assert_eq!(parse_size("10KB"), None);
    assert_eq!(parse_size("lots"), None);
}

#[test]
fn unknown_keys_in_the_file_are_refused_by_name() {
    let err = toml::from_str::<FileConfig>("listen = \"0.0.0.0:80\"\nlisten_port = 5").unwrap_err();
    assert!(err.message().contains("listen_port"), "{}", err.message());
}

#[test]
fn file_values_apply_under_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "db = \"/from/file.db\"\nlisten = \"0.0.0.0:9000\"\ntrusted_proxy = [\"10.0.0.0/8\"]",
    )
    .unwrap();
    let global = GlobalArgs {
        db: None,
        config: Some(path),
        log_format: None,
    };
    let serve = ServeArgs {
        listen: Some("127.0.0.1:7000".into()),
        ..ServeArgs::default()
    };
    let s = Settings::resolve(&global, Some(&serve)).unwrap();
    assert_eq!(s.db, PathBuf::from("/from/file.db"));
    assert_eq!(s.listen, "127.0.0.1:7000", "the flag wins over the file");
    assert_eq!(s.trusted_proxy[0].to_string(), "10.0.0.0/8");
}
