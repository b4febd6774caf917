use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::check::log_level_problem;
use super::load::{env_layer, paths_overlap};
use super::typecheck::{probe_for, schema, to_json};
use super::*;
use std::fs;
use tempfile::TempDir;

fn env(vars: &[(&str, &str)]) -> Sources {
    Sources {
        local_file: None,
        env: vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

fn write(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    path
}

/// Loads with config's own checks only; the hooks' are theirs to test.
fn load(sources: &Sources, overrides: &Overrides) -> Result<Settings, ConfigErrors> {
    super::load(sources, overrides, &[])
}

fn with_file(path: PathBuf) -> Overrides {
    Overrides {
        config_file: Some(path),
        ..Overrides::default()
    }
}

fn errors(result: Result<Settings, ConfigErrors>) -> Vec<String> {
    match result {
        Ok(settings) => panic!("expected errors, got {settings:?}"),
        Err(ConfigErrors(problems)) => problems,
    }
}

#[test]
fn default_toml_parses_to_exactly_the_defaults() {
    let parsed: Settings = toml::from_str(DEFAULT_TOML).unwrap();
    assert_eq!(parsed, Settings::default());
    assert_eq!(
        load(&Sources::default(), &Overrides::default()).unwrap(),
        Settings::default()
    );
    Settings::default().validate().unwrap();
}

#[test]
fn default_toml_documents_every_key() {
    let lines: Vec<&str> = DEFAULT_TOML.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        let is_setting = !line.is_empty() && !line.starts_with('#') && !line.starts_with('[');
        if is_setting {
            assert!(
                i > 0 && lines[i - 1].starts_with('#'),
                "no comment above `{line}`"
            );
        }
    }
    assert!(lines.contains(&"api_keys = []"));
    assert!(lines.iter().any(|l| l.starts_with("# jwt_secret =")));
    assert!(!lines.iter().any(|l| l.starts_with("jwt_secret")));
}

#[test]
fn local_file_overrides_defaults_and_is_optional() {
    let dir = TempDir::new().unwrap();
    let mut sources = Sources {
        local_file: Some(dir.path().join("local.toml")),
        env: Vec::new(),
    };
    // Missing: silently skipped.
    assert_eq!(
        load(&sources, &Overrides::default()).unwrap(),
        Settings::default()
    );

    let path = write(&dir, "local.toml", "[qr]\nttl_secs = 30\n");
    sources.local_file = Some(path);
    let settings = load(&sources, &Overrides::default()).unwrap();
    assert_eq!(settings.qr.ttl_secs, 30);
    assert_eq!(settings.qr.first_ttl_secs, 60, "other keys keep defaults");
}

#[test]
fn config_file_overrides_local_file() {
    let dir = TempDir::new().unwrap();
    let local = write(
        &dir,
        "local.toml",
        "[qr]\nttl_secs = 30\nmax_attempts = 9\n[server]\ncors_origins = [\"http://a.test\", \"http://b.test\"]\n",
    );
    let file = write(
        &dir,
        "x.toml",
        "[qr]\nttl_secs = 40\n[server]\ncors_origins = [\"https://c.test\"]\n",
    );
    let sources = Sources {
        local_file: Some(local),
        env: Vec::new(),
    };
    let settings = load(&sources, &with_file(file)).unwrap();
    assert_eq!(settings.qr.ttl_secs, 40);
    assert_eq!(
        settings.qr.max_attempts, 9,
        "local value kept when not overridden"
    );
    assert_eq!(
        settings.server.cors_origins,
        ["https://c.test"],
        "lists are replaced, not merged"
    );
}

#[test]
fn missing_config_file_is_an_error_naming_it() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("nope.toml");
    let problems = errors(load(&Sources::default(), &with_file(path.clone())));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains(&path.display().to_string()));
    assert!(problems[0].contains("does not exist"));
}

#[test]
fn env_overrides_config_file_and_parses_values() {
    let dir = TempDir::new().unwrap();
    let file = write(
        &dir,
        "x.toml",
        "[server]\nbind = \"127.0.0.1:4000\"\n[qr]\nttl_secs = 40\n",
    );
    let sources = env(&[
        ("DEVICEBRIDGE__SERVER__BIND", "0.0.0.0:8080"),
        ("DEVICEBRIDGE__QR__TTL_SECS", "45"),
        ("DEVICEBRIDGE__LIMITS__MAX_MESSAGE_BYTES", " 2048 "),
        ("DEVICEBRIDGE__STORAGE__SYNCHRONOUS", "normal"),
        ("DEVICEBRIDGE__LOG__FORMAT", "json"),
        (
            "DEVICEBRIDGE__SERVER__CORS_ORIGINS",
            "https://a.test, https://b.test:8443",
        ),
        // Numeric-looking text stays a string for string keys.
        (
            "DEVICEBRIDGE__AUTH__JWT_SECRET",
            "12345678901234567890123456789012345678901234567890",
        ),
        ("UNRELATED", "ignored"),
    ]);
    let settings = load(&sources, &with_file(file)).unwrap();
    assert_eq!(settings.server.bind, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(settings.qr.ttl_secs, 45);
    assert_eq!(settings.limits.max_message_bytes, 2048);
    assert_eq!(settings.storage.synchronous, Synchronous::Normal);
    assert_eq!(settings.log.format, LogFormat::Json);
    assert_eq!(
        settings.server.cors_origins,
        ["https://a.test", "https://b.test:8443"]
    );
    assert_eq!(
        settings.auth.jwt_secret.as_deref(),
        Some("12345678901234567890123456789012345678901234567890")
    );
}

#[test]
fn env_lists_are_comma_separated() {
    let mut problems = Vec::new();
    let layer = env_layer(
        &[("DEVICEBRIDGE__SERVER__CORS_ORIGINS".into(), "a,b".into())],
        &schema(),
        &mut problems,
    );
    assert!(problems.is_empty(), "{problems:?}");
    let [(key, value)] = layer.values.as_slice() else {
        panic!("expected one value: {:?}", layer.values)
    };
    assert_eq!(key, "server.cors_origins");
    assert_eq!(to_json(value), serde_json::json!(["a", "b"]));
    assert_eq!(
        value.origin(),
        Some("from environment variable DEVICEBRIDGE__SERVER__CORS_ORIGINS")
    );
}

#[test]
fn env_problems_name_key_and_variable() {
    let problems = errors(load(
        &env(&[
            ("DEVICEBRIDGE__QR__TTL_SECS", "soon"),
            ("DEVICEBRIDGE__SERVER__BND", "0.0.0.0:1"),
            ("DEVICEBRIDGE__AUTH__API_KEYS", "x"),
            ("DEVICEBRIDGE__LOG", "debug"),
        ]),
        &Overrides::default(),
    ));
    assert_eq!(problems.len(), 4, "{problems:#?}");
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(has(
        "unknown key `server.bnd` (from environment variable DEVICEBRIDGE__SERVER__BND)"
    ));
    assert!(has(
        "`qr.ttl_secs`: expected an integer, got a string \"soon\" (from environment variable DEVICEBRIDGE__QR__TTL_SECS)"
    ));
    assert!(has("`auth.api_keys` cannot be set from the environment"));
    assert!(has("`log` is a section"));
}

#[test]
fn cli_flags_override_env() {
    let dir = TempDir::new().unwrap();
    let file = write(&dir, "x.toml", "[storage]\ndata_dir = \"/from/file\"\n");
    let sources = env(&[
        ("DEVICEBRIDGE__SERVER__BIND", "0.0.0.0:8080"),
        ("DEVICEBRIDGE__STORAGE__DATA_DIR", "/from/env"),
        ("DEVICEBRIDGE__DEVICES__DIR", "/devices/env"),
    ]);
    let overrides = Overrides {
        config_file: Some(file),
        bind: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: Some(PathBuf::from("/from/cli")),
        devices_dir: Some(PathBuf::from("/devices/cli")),
    };
    let settings = load(&sources, &overrides).unwrap();
    assert_eq!(settings.server.bind, "127.0.0.1:0".parse().unwrap());
    assert_eq!(settings.storage.data_dir, Path::new("/from/cli"));
    assert_eq!(settings.devices.dir, Path::new("/devices/cli"));
    assert_eq!(
        settings.storage.database_path(),
        Path::new("/from/cli/devicebridge.db")
    );
}

#[test]
fn env_api_key_adds_an_admin_key() {
    let dir = TempDir::new().unwrap();
    let file = write(
        &dir,
        "x.toml",
        "[auth]\napi_keys = [{ name = \"ops\", key = \"k1\", scopes = [\"read\"] }]\n",
    );
    let sources = env(&[("DEVICEBRIDGE_API_KEY", "s3cret\n")]);
    let settings = load(&sources, &with_file(file)).unwrap();
    assert_eq!(settings.auth.api_keys.len(), 2);
    assert_eq!(settings.auth.api_keys[0].name, "ops");
    assert_eq!(
        settings.auth.api_keys[1],
        ApiKeySetting {
            name: "env".into(),
            key: Some("s3cret".into()),
            key_sha256: None,
            devices: vec!["*".into()],
            scopes: vec!["admin".into()],
        }
    );

    let problems = errors(load(
        &env(&[("DEVICEBRIDGE_API_KEY", " ")]),
        &Overrides::default(),
    ));
    assert_eq!(problems, ["DEVICEBRIDGE_API_KEY is set but empty"]);
}

#[test]
fn all_problems_in_a_file_are_reported_together() {
    let dir = TempDir::new().unwrap();
    let file = write(
        &dir,
        "x.toml",
        "[server]\nbnd = \"0.0.0.0:80\"\n[qr]\nttl_secs = \"20\"\n[metrics]\nenabled = true\n",
    );
    let shown = file.display().to_string();
    let err = load(&Sources::default(), &with_file(file)).unwrap_err();
    assert_eq!(err.0.len(), 3, "{err}");
    for expected in [
        format!("unknown key `server.bnd` (in {shown})"),
        format!("unknown key `metrics` (in {shown})"),
        format!("`qr.ttl_secs`: expected an integer, got a string \"20\" (in {shown})"),
    ] {
        assert!(err.0.contains(&expected), "no {expected:?} in {err:#?}");
    }
    assert_eq!(err.to_string().lines().count(), 3, "one problem per line");
}

#[test]
fn problems_from_several_layers_are_reported_together() {
    let dir = TempDir::new().unwrap();
    let local = write(&dir, "local.toml", "[qr\nttl_secs = 1\n");
    let sources = Sources {
        local_file: Some(local.clone()),
        env: vec![("DEVICEBRIDGE__QR__TTLSECS".into(), "1".into())],
    };
    let problems = errors(load(&sources, &with_file(dir.path().join("missing.toml"))));
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].starts_with(&format!("{}: invalid TOML at line 1", local.display())));
    assert!(problems[1].contains("missing.toml (given with --config) does not exist"));
    assert!(problems[2].contains("unknown key `qr.ttlsecs`"));
}

#[test]
fn value_errors_name_the_key() {
    let dir = TempDir::new().unwrap();
    let file = write(
        &dir,
        "x.toml",
        r#"
[server]
bind = "localhost:3000"
cors_origins = ["http://a.test", 5]
[qr]
max_attempts = -1
first_ttl_secs = 1.5
[limits]
events_per_minute = 99999999999
[log]
format = "xml"
[auth]
jwt_secret = "0123456789abcdef0123456789abcdef"
"#,
    );
    let problems = errors(load(&Sources::default(), &with_file(file)));
    assert_eq!(problems.len(), 6, "{problems:#?}");
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(has("`server.bind`: invalid socket address syntax"));
    assert!(has(
        "`server.cors_origins[1]`: expected a string, got an integer 5"
    ));
    assert!(has(
        "`qr.max_attempts`: expected a non-negative integer, got -1"
    ));
    assert!(has(
        "`qr.first_ttl_secs`: expected an integer, got a float 1.5"
    ));
    assert!(has(
        "`limits.events_per_minute`: integer 99999999999 is too large"
    ));
    assert!(has(
        "`log.format`: unknown variant `xml`, expected `human` or `json`"
    ));
}

/// Every table of settings has its probe, so a value that fails only when read into its
/// field's type (a number too large, an unknown variant) is named by its key.
#[test]
fn every_table_is_probed_field_by_field() {
    fn tables(path: &str, value: &Json, found: &mut Vec<String>) {
        let Json::Object(fields) = value else { return };
        if !path.is_empty() {
            found.push(path.to_owned());
        }
        for (key, child) in fields {
            let child_path = match path {
                "" => key.clone(),
                _ => format!("{path}.{key}"),
            };
            tables(&child_path, child, found);
        }
    }
    let mut found = Vec::new();
    tables(
        "",
        &serde_json::to_value(Settings::default()).unwrap(),
        &mut found,
    );
    // Tables whose keys the user chooses are checked value by value instead.
    let unprobed: Vec<&String> = found
        .iter()
        .filter(|path| !MAP_KEYS.contains(&path.as_str()) && probe_for(path).is_none())
        .collect();
    assert!(unprobed.is_empty(), "{unprobed:?}");
}

#[test]
fn api_key_entries_are_checked_field_by_field() {
    let dir = TempDir::new().unwrap();
    let file = write(
        &dir,
        "x.toml",
        r#"
[[auth.api_keys]]
name = "a"
key = "k"
scope = ["read"]

[[auth.api_keys]]
name = "b"
key_sha256 = 42

[[auth.api_keys]]
name = "c"
key_sha256 = "abc"
scopes = ["read", "write"]
devices = []
"#,
    );
    let problems = errors(load(&Sources::default(), &with_file(file)));
    assert_eq!(problems.len(), 5, "{problems:#?}");
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(has("unknown key `auth.api_keys[0].scope`"));
    // Only the type error: the entry is not also reported as lacking a key.
    assert!(has(
        "`auth.api_keys[1].key_sha256`: expected a string, got an integer 42"
    ));
    assert!(has(
        "`auth.api_keys[2].key_sha256`: must be a SHA-256 digest"
    ));
    assert!(has("`auth.api_keys[2].scopes[1]`: unknown scope \"write\""));
    assert!(has("`auth.api_keys[2].devices`: must not be empty"));
}

#[test]
fn ill_typed_keys_are_not_validated_again() {
    let dir = TempDir::new().unwrap();
    let file = write(
        &dir,
        "x.toml",
        "[reconnect]\ninitial_ms = 120000\nmax_ms = \"a minute\"\n",
    );
    let problems = errors(load(&Sources::default(), &with_file(file)));
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].starts_with("`reconnect.max_ms`: expected an integer"));
}

#[test]
fn invalid_toml_names_the_file_and_position() {
    let dir = TempDir::new().unwrap();
    let file = write(&dir, "x.toml", "[server]\nbind = \n");
    let problems = errors(load(&Sources::default(), &with_file(file.clone())));
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with(&format!(
            "{}: invalid TOML at line 2, column 8",
            file.display()
        )),
        "{problems:#?}"
    );
    assert!(!problems[0].contains('\n'));

    // A quoted dotted key is one (unknown) key, not a path.
    let file = write(&dir, "y.toml", "\"server.bind\" = \"0.0.0.0:1\"\n");
    let problems = errors(load(&Sources::default(), &with_file(file)));
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].starts_with("unknown key `server.bind`"));
}

#[test]
fn validate_catches_bad_values() {
    let mut s = Settings::default();
    s.server.socket_path = "ws".into();
    s.server.public_url = "localhost:3000".into();
    s.server.cors_origins = vec![
        "http://localhost:4000".into(),
        "http://localhost:4000/".into(),
        "*".into(),
        "https://App.example".into(),
        "https://app.example:443".into(),
        "app.example".into(),
        "http://[::1]:4000".into(),
    ];
    s.storage.data_dir = PathBuf::new();
    s.qr.ttl_secs = 0;
    s.reconnect.initial_ms = 5000;
    s.reconnect.max_ms = 1000;
    s.messages.max_send_attempts = 0;
    s.upstream.timeout_ms = 0;
    s.limits.max_message_bytes = 512;
    s.auth.jwt_secret = Some("short".into());
    s.log.level = "warn,verbose".into();
    s.auth.api_keys = vec![
        ApiKeySetting {
            name: "both".into(),
            key: Some("k".into()),
            key_sha256: Some("a".repeat(64)),
            ..ApiKeySetting::default()
        },
        ApiKeySetting {
            name: String::new(),
            ..ApiKeySetting::default()
        },
        ApiKeySetting {
            name: "hashed".into(),
            key_sha256: Some("A".repeat(64)),
            devices: vec!["dev-1".into()],
            scopes: vec!["read".into(), "send".into(), "control".into()],
            ..ApiKeySetting::default()
        },
    ];
    let problems = s.validate().unwrap_err().0;
    let expected_keys = [
        "`server.socket_path`",
        "`server.public_url`",
        "`server.cors_origins[1]`",
        "`server.cors_origins[2]`",
        "`server.cors_origins[3]`",
        "`server.cors_origins[4]`",
        "`server.cors_origins[5]`",
        "`storage.data_dir`",
        "`qr.ttl_secs`",
        "`messages.max_send_attempts`",
        "`upstream.timeout_ms`",
        "`reconnect.initial_ms`",
        "`limits.max_message_bytes`",
        "`auth.api_keys[0]`",
        "`auth.api_keys[1].name`",
        "`auth.api_keys[1]`",
        "`auth.jwt_secret`",
        "`log.level`",
    ];
    assert_eq!(problems.len(), expected_keys.len(), "{problems:#?}");
    for key in expected_keys {
        assert!(
            problems.iter().any(|p| p.starts_with(&format!("{key}:"))),
            "no problem for {key}: {problems:#?}"
        );
    }
}

#[test]
fn a_log_level_is_a_level_or_target_directives() {
    for good in [
        "info",
        "WARN",
        "warn,devicebridge=debug",
        "devicebridge::store=trace",
    ] {
        assert_eq!(log_level_problem(good), None, "{good}");
    }
    for bad in ["verbose", "info,loud", "devicebridge=loud"] {
        assert!(log_level_problem(bad).is_some(), "{bad}");
    }
}

#[test]
fn durations_past_ten_years_are_refused_naming_their_key() {
    let mut s = Settings::default();
    s.journal.retention_secs = i64::MAX as u64;
    s.storage.upload_retention_days = 3_651;
    s.webhooks.retry_max_ms = u64::MAX;
    let problems = s.validate().unwrap_err().0;
    assert_eq!(problems.len(), 3, "{problems:#?}");
    for key in [
        "journal.retention_secs",
        "storage.upload_retention_days",
        "webhooks.retry_max_ms",
    ] {
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with(&format!("`{key}`: must be at most ten years"))),
            "no problem for {key}: {problems:#?}"
        );
    }
    let mut s = Settings::default();
    s.storage.upload_retention_days = 3_650;
    s.validate().expect("ten years is allowed");
}

#[test]
fn sound_events_are_a_map_and_the_volume_a_number() {
    let dir = TempDir::new().unwrap();
    let file = write(
        &dir,
        "x.toml",
        "[hooks.sound]\nvolume = 1\n[hooks.sound.events]\n\"failed\" = \"alert.wav\"\n\"qr\" = \"\"\n",
    );
    let sources = env(&[
        (
            "DEVICEBRIDGE__HOOKS__SOUND__EVENTS__LOGGED_OUT",
            "alert.wav",
        ),
        ("DEVICEBRIDGE__HOOKS__SOUND__VOLUME", "0.25"),
    ]);
    let settings = load(&sources, &with_file(file)).unwrap();
    assert_eq!(settings.hooks.sound.volume, 0.25);
    let events: Vec<(&str, &str)> = settings
        .hooks
        .sound
        .events
        .iter()
        .map(|(event, file)| (event.as_str(), file.as_str()))
        .collect();
    assert_eq!(
        events,
        [
            ("disconnected", "alert.wav"),
            ("failed", "alert.wav"),
            ("logged_out", "alert.wav"),
            ("message", "message.wav"),
            ("qr", "")
        ]
    );

    let file = write(
        &dir,
        "y.toml",
        "[hooks.sound]\nvolume = \"loud\"\n[hooks.sound.events]\nqr = 3\n",
    );
    let problems = errors(load(&Sources::default(), &with_file(file)));
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("`hooks.sound.events.qr`: expected a string, got an integer 3"));
    assert!(problems[1].starts_with("`hooks.sound.volume`: expected a number, got a string"));
}

#[test]
fn settings_round_trip_through_toml() {
    let mut s = Settings::default();
    s.auth.api_keys.push(ApiKeySetting {
        name: "x".into(),
        key: Some("k".into()),
        ..ApiKeySetting::default()
    });
    let text = toml::to_string(&s).unwrap();
    assert_eq!(toml::from_str::<Settings>(&text).unwrap(), s);
}

#[test]
fn paths_overlap_respects_segment_boundaries() {
    assert!(paths_overlap("auth.api_keys[0]", "auth.api_keys[0].key"));
    assert!(paths_overlap(
        "server.cors_origins[1]",
        "server.cors_origins"
    ));
    assert!(paths_overlap("qr.ttl_secs", "qr.ttl_secs"));
    assert!(!paths_overlap("qr.ttl_secs", "qr.ttl_secs_extra"));
    assert!(!paths_overlap("auth.api_keys[1]", "auth.api_keys[10]"));
}
