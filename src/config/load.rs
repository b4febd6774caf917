//! Where the settings come from: the built-in defaults, the files, the environment and the
//! command line, merged into one [`Settings`] whose every problem is reported at once.

use super::typecheck::{schema, Checker};
use super::*;
use ::config::{Value, ValueKind};
use serde_json::{Map as JsonMap, Value as Json};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Overrides from CLI flags (highest precedence).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--config FILE`: a file layer that must exist.
    pub config_file: Option<PathBuf>,
    /// `--bind`
    pub bind: Option<SocketAddr>,
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--devices-dir`
    pub devices_dir: Option<PathBuf>,
}

/// Where the layers come from — injectable so tests don't depend on the
/// process's cwd/env.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `Some("config/local.toml")` normally; used only if it exists, so a
    /// missing local file is not an error.
    pub local_file: Option<PathBuf>,
    /// Environment variables, normally those of the process.
    pub env: Vec<(String, String)>,
}

impl Sources {
    /// The real sources: `config/local.toml` in the current directory and the
    /// process environment.
    ///
    /// Only `DEVICEBRIDGE*` variables are copied, since no others are read;
    /// this also avoids `std::env::vars`' panic on non-UTF-8 variables.
    pub fn from_process() -> Sources {
        let env = std::env::vars_os()
            .filter_map(|(name, value)| {
                let name = name.into_string().ok()?;
                if !name.starts_with("DEVICEBRIDGE") {
                    return None;
                }
                let value = value
                    .into_string()
                    .unwrap_or_else(|raw| raw.to_string_lossy().into_owned());
                Some((name, value))
            })
            .collect();
        Sources {
            local_file: Some(PathBuf::from("config/local.toml")),
            env,
        }
    }
}

/// Every configuration problem found, one human-readable line each.
///
/// Each line names the key (full dotted path, e.g. `server.bind` or
/// `auth.api_keys[0].scopes[1]`) or, for file-level problems, the file.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ConfigErrors(pub Vec<String>);

/// Builds the settings from all layers, checks them and returns them, or
/// returns every problem found.
pub fn load(
    sources: &Sources,
    overrides: &Overrides,
    checks: &[&dyn SectionCheck],
) -> Result<Settings, ConfigErrors> {
    let schema = schema();
    let mut problems = Vec::new();

    let mut layers = Vec::new();
    layers.extend(toml_layer(
        DEFAULT_TOML,
        "built-in defaults",
        "in the built-in defaults",
        &mut problems,
    ));
    if let Some(path) = sources.local_file.as_deref().filter(|p| p.exists()) {
        layers.extend(file_layer(path, false, &mut problems));
    }
    if let Some(path) = &overrides.config_file {
        layers.extend(file_layer(path, true, &mut problems));
    }
    layers.push(env_layer(&sources.env, &schema, &mut problems));
    layers.push(cli_layer(overrides));
    let env_api_key = env_api_key(&sources.env, &mut problems);

    let mut builder = ::config::Config::builder();
    for layer in layers {
        builder = builder.add_source(layer);
    }
    let merged = match builder.build() {
        Ok(merged) => merged.cache,
        Err(err) => {
            problems.push(format!("cannot merge configuration layers: {err}"));
            return Err(ConfigErrors(problems));
        }
    };

    let mut checker = Checker::default();
    let checked = match (&merged.kind, &schema) {
        (ValueKind::Table(table), Json::Object(schema)) => checker.table("", table, schema),
        _ => JsonMap::new(),
    };
    problems.append(&mut checker.problems);

    // Keys with problems were left out of `checked`, so this normally
    // succeeds and yields defaults in their place; that lets validation run
    // on the rest and report its problems in the same pass.
    let mut settings: Settings = match serde_json::from_value(Json::Object(checked)) {
        Ok(settings) => settings,
        Err(err) => {
            problems.push(format!("invalid configuration: {err}"));
            return Err(ConfigErrors(problems));
        }
    };

    // The flags went through the layers as text (so they take part in the
    // checks above); set them again exactly, since a path need not be UTF-8.
    if let Some(bind) = overrides.bind {
        settings.server.bind = bind;
    }
    if let Some(dir) = &overrides.data_dir {
        settings.storage.data_dir = dir.clone();
    }
    if let Some(dir) = &overrides.devices_dir {
        settings.devices.dir = dir.clone();
    }
    if let Some(key) = env_api_key {
        settings.auth.api_keys.push(ApiKeySetting {
            name: "env".to_owned(),
            key: Some(key),
            ..ApiKeySetting::default()
        });
    }

    // A key that already failed its type check was replaced by its default;
    // judging that default would only add confusing noise.
    let mut found = Vec::new();
    settings.carry_former_names(&mut found);
    found.append(&mut settings.problems());
    for check in checks {
        check.problems(&settings, &mut found);
    }
    problems.extend(
        found
            .into_iter()
            .filter(|p| {
                !p.keys
                    .iter()
                    .any(|key| checker.failed.iter().any(|bad| paths_overlap(key, bad)))
            })
            .map(|p| p.message),
    );

    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigErrors(problems))
    }
}

/// Whether one key path is, or lies inside, the other
/// (`auth.api_keys[0]` and `auth.api_keys[0].key_sha256`).
pub(super) fn paths_overlap(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long.strip_prefix(short)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

// ---------------------------------------------------------------------------
// Layers

/// One layer of settings, handed to the `config` crate for merging. Keys
/// are dotted paths; every value records where it came from.
#[derive(Debug, Clone, Default)]
pub(super) struct Layer {
    pub(super) values: Vec<(String, Value)>,
}

impl ::config::Source for Layer {
    fn clone_into_box(&self) -> Box<dyn ::config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<::config::Map<String, Value>, ::config::ConfigError> {
        Ok(self.values.iter().cloned().collect())
    }
}

/// Reads and parses a config file. `required` files (`--config`) must exist.
pub(super) fn file_layer(path: &Path, required: bool, problems: &mut Vec<String>) -> Option<Layer> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => toml_layer(&text, &shown, &format!("in {shown}"), problems),
        Err(err) if required && err.kind() == std::io::ErrorKind::NotFound => {
            problems.push(format!(
                "config file {shown} (given with --config) does not exist"
            ));
            None
        }
        Err(err) => {
            problems.push(format!("cannot read config file {shown}: {err}"));
            None
        }
    }
}

/// Parses TOML text into a layer; `name` names the text in a syntax error,
/// `origin` is attached to every value.
pub(super) fn toml_layer(
    text: &str,
    name: &str,
    origin: &str,
    problems: &mut Vec<String>,
) -> Option<Layer> {
    let table: toml::Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(err) => {
            let at = err
                .span()
                .map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before
                        .rsplit('\n')
                        .next()
                        .unwrap_or_default()
                        .chars()
                        .count()
                        + 1;
                    format!(" at line {line}, column {column}")
                })
                .unwrap_or_default();
            let message = err.message().trim().replace('\n', "; ");
            problems.push(format!("{name}: invalid TOML{at}: {message}"));
            return None;
        }
    };
    let origin = origin.to_owned();
    let mut values = Vec::new();
    for (key, value) in table {
        // The config crate reads these keys as paths ("a.b", "a[0]"); a
        // quoted TOML key containing such characters must not be taken
        // apart, and cannot be a section name anyway.
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            problems.push(format!("unknown key `{key}` ({origin})"));
            continue;
        }
        values.push((key, toml_to_value(value, &origin)));
    }
    Some(Layer { values })
}

pub(super) fn toml_to_value(value: toml::Value, origin: &String) -> Value {
    let at = Some(origin);
    match value {
        toml::Value::String(s) => Value::new(at, s),
        toml::Value::Integer(i) => Value::new(at, i),
        toml::Value::Float(f) => Value::new(at, f),
        toml::Value::Boolean(b) => Value::new(at, b),
        toml::Value::Datetime(d) => Value::new(at, d.to_string()),
        toml::Value::Array(items) => Value::new(
            at,
            items
                .into_iter()
                .map(|item| toml_to_value(item, origin))
                .collect::<Vec<_>>(),
        ),
        toml::Value::Table(table) => Value::new(
            at,
            table
                .into_iter()
                .map(|(k, v)| (k, toml_to_value(v, origin)))
                .collect::<::config::Map<_, _>>(),
        ),
    }
}

/// The `DEVICEBRIDGE__SECTION__KEY` variables as a layer.
///
/// Text is converted according to the type of the key it sets: integers and
/// booleans are parsed when they parse (otherwise the text is kept and the
/// type check reports it), lists are split on commas, strings are taken
/// as they are. Unknown keys are reported here because the schema is needed
/// anyway to know the type.
pub(super) fn env_layer(
    env: &[(String, String)],
    schema: &Json,
    problems: &mut Vec<String>,
) -> Layer {
    let mut vars: Vec<&(String, String)> = env
        .iter()
        .filter(|(name, _)| name.starts_with(ENV_PREFIX))
        .collect();
    vars.sort();

    let mut layer = Layer::default();
    for (name, raw) in vars {
        let segments: Vec<String> = name[ENV_PREFIX.len()..]
            .split(ENV_SEPARATOR)
            .map(str::to_ascii_lowercase)
            .collect();
        let path = segments.join(".");
        let origin = format!("from environment variable {name}");
        let at = Some(&origin);
        let in_map = segments.len() > 1
            && MAP_KEYS.contains(&segments[..segments.len() - 1].join(".").as_str());
        if in_map {
            // A user-chosen key of a map: its value is text.
            layer.values.push((path, Value::new(at, raw.as_str())));
            continue;
        }
        let found = segments
            .iter()
            .try_fold(schema, |node, segment| node.as_object()?.get(segment));
        let value = match found {
            None => {
                problems.push(format!("unknown key `{path}` ({origin})"));
                continue;
            }
            Some(Json::Object(_)) => {
                problems.push(format!(
                    "`{path}` is a section, not a value; set its keys one by one, \
                     like {name}{ENV_SEPARATOR}<KEY> ({origin})"
                ));
                continue;
            }
            Some(Json::Array(items)) if items.first().is_some_and(Json::is_object) => {
                let shortcut = if path == "auth.api_keys" {
                    format!(", or {ENV_API_KEY} for a single admin key")
                } else {
                    String::new()
                };
                problems.push(format!(
                    "`{path}` cannot be set from the environment; use a config file{shortcut} ({origin})"
                ));
                continue;
            }
            Some(Json::Array(_)) => Value::new(
                at,
                raw.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Value::new(at, item))
                    .collect::<Vec<_>>(),
            ),
            Some(Json::Number(kind)) => {
                let text = raw.trim();
                if let Ok(n) = text.parse::<i64>() {
                    Value::new(at, n)
                } else if let Ok(n) = text.parse::<u64>() {
                    Value::new(at, n)
                } else if let Some(n) = text.parse::<f64>().ok().filter(|_| kind.is_f64()) {
                    Value::new(at, n)
                } else {
                    Value::new(at, raw.as_str())
                }
            }
            Some(Json::Bool(_)) => match raw.trim().to_ascii_lowercase().as_str() {
                "true" => Value::new(at, true),
                "false" => Value::new(at, false),
                _ => Value::new(at, raw.as_str()),
            },
            Some(_) => Value::new(at, raw.as_str()),
        };
        layer.values.push((path, value));
    }
    layer
}

/// The `DEVICEBRIDGE_API_KEY` shortcut, if set.
pub(super) fn env_api_key(env: &[(String, String)], problems: &mut Vec<String>) -> Option<String> {
    let (_, raw) = env.iter().rev().find(|(name, _)| name == ENV_API_KEY)?;
    // Surrounding whitespace is never part of a key but easily slips in,
    // e.g. a newline from `$(cat keyfile)`.
    let key = raw.trim();
    if key.is_empty() {
        problems.push(format!("{ENV_API_KEY} is set but empty"));
        return None;
    }
    Some(key.to_owned())
}

/// The command-line flags as the top layer, as text so they go through the
/// same checks as every other layer.
pub(super) fn cli_layer(overrides: &Overrides) -> Layer {
    let mut layer = Layer::default();
    let mut add = |key: &str, flag: &str, text: String| {
        let origin = format!("from command-line flag {flag}");
        layer
            .values
            .push((key.to_owned(), Value::new(Some(&origin), text)));
    };
    if let Some(bind) = overrides.bind {
        add("server.bind", "--bind", bind.to_string());
    }
    if let Some(dir) = &overrides.data_dir {
        add(
            "storage.data_dir",
            "--data-dir",
            dir.to_string_lossy().into_owned(),
        );
    }
    if let Some(dir) = &overrides.devices_dir {
        add(
            "devices.dir",
            "--devices-dir",
            dir.to_string_lossy().into_owned(),
        );
    }
    layer
}

// ---------------------------------------------------------------------------
// Checking the merged tree
