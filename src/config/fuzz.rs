//! Property tests of the configuration: any file text and any environment are read without a
//! panic, and a file or variable that names an unknown key, or gives a key a value of another
//! type, is refused.

use proptest::prelude::{prop, Just, Strategy};
use proptest::{prop_assert, prop_oneof};
use tempfile::TempDir;

use serde_json::{Map as JsonMap, Value as Json};

use super::typecheck::schema;
use super::*;
use crate::fuzz::{self, check};

/// The settings with `file` as the `--config` file (written under `dir`) and `env` as the
/// environment.
fn load_with(
    dir: &TempDir,
    file: &str,
    env: Vec<(String, String)>,
) -> Result<Settings, ConfigErrors> {
    let path = dir.path().join("fuzz.toml");
    std::fs::write(&path, file).expect("a temporary file");
    let overrides = Overrides {
        config_file: Some(path),
        ..Overrides::default()
    };
    load(
        &Sources {
            local_file: None,
            env,
        },
        &overrides,
        &[],
    )
}

/// The JSON type of a value, numbers of both kinds alike (a float key takes an integer).
fn kind(value: &Json) -> u8 {
    match value {
        Json::Null => 0,
        Json::Bool(_) => 1,
        Json::Number(_) => 2,
        Json::String(_) => 3,
        Json::Array(_) => 4,
        Json::Object(_) => 5,
    }
}

/// Whether `given`, a table at `path` of the configuration, has a key the schema does not
/// know, or a value of another type than the schema's. Inside lists and user-named maps
/// nothing is judged.
fn breaks_schema(
    path: &str,
    given: &JsonMap<String, Json>,
    schema: &JsonMap<String, Json>,
) -> bool {
    given.iter().any(|(key, value)| {
        let child = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match schema.get(key) {
            None => true,
            Some(_) if MAP_KEYS.contains(&child.as_str()) => false,
            Some(Json::Object(inner)) => match value {
                Json::Object(value) => breaks_schema(&child, value, inner),
                _ => true,
            },
            Some(expected) => kind(expected) != kind(value),
        }
    })
}

#[test]
fn any_file_text_is_read_without_a_panic() {
    let dir = TempDir::new().unwrap();
    check(fuzz::odd_text(), |text| {
        let _ = load_with(&dir, &text, Vec::new());
        Ok(())
    });
}

#[test]
fn a_file_broken_part_way_is_read_without_a_panic() {
    let dir = TempDir::new().unwrap();
    check(fuzz::broken(DEFAULT_TOML.to_owned()), |bytes| {
        let _ = load_with(&dir, &String::from_utf8_lossy(&bytes), Vec::new());
        Ok(())
    });
}

#[test]
fn a_file_with_an_unknown_key_or_a_value_of_another_type_is_refused() {
    let dir = TempDir::new().unwrap();
    let defaults =
        serde_json::to_value(toml::from_str::<toml::Table>(DEFAULT_TOML).unwrap()).unwrap();
    let schema = schema();
    let schema = schema.as_object().expect("a table");
    check(fuzz::mutated_anywhere(defaults), |value| {
        let Some((text, says)) = fuzz::toml_text(&value) else {
            return Ok(());
        };
        let loaded = load_with(&dir, &text, Vec::new());
        let broken = breaks_schema("", says.as_object().expect("a table"), schema);
        prop_assert!(!(loaded.is_ok() && broken), "accepted {}", text);
        Ok(())
    });
}

#[test]
fn an_environment_with_an_unknown_key_or_a_value_of_another_type_is_refused() {
    let dir = TempDir::new().unwrap();
    let schema = schema();
    let mut names: Vec<String> = Vec::new();
    let mut tables = vec![&schema];
    while let Some(table) = tables.pop() {
        for (key, value) in table.as_object().into_iter().flatten() {
            names.push(key.clone());
            tables.push(value);
        }
    }
    let segment = prop_oneof![3 => prop::sample::select(names), 1 => fuzz::odd_text()];
    let name = prop::collection::vec(segment, 1..4).prop_map(|segments| {
        format!(
            "{ENV_PREFIX}{}",
            segments.join(ENV_SEPARATOR).to_uppercase()
        )
    });
    let value = prop_oneof![
        Just("true".to_owned()),
        Just("42".to_owned()),
        fuzz::odd_text()
    ];
    check(prop::collection::vec((name, value), 1..4), |env| {
        let loaded = load_with(&dir, "", env.clone());
        let unknown = env.iter().any(|(name, value)| {
            let path: Vec<String> = name[ENV_PREFIX.len()..]
                .split(ENV_SEPARATOR)
                .map(str::to_ascii_lowercase)
                .collect();
            let under_map = MAP_KEYS.contains(&path[..path.len() - 1].join(".").as_str());
            let found = path
                .iter()
                .try_fold(&schema, |node, segment| node.as_object()?.get(segment));
            let flag_from_text = matches!(found, Some(Json::Bool(_)))
                && !matches!(value.trim().to_ascii_lowercase().as_str(), "true" | "false");
            !under_map && (found.is_none() || flag_from_text)
        });
        prop_assert!(!(loaded.is_ok() && unknown), "accepted {:?}", env);
        Ok(())
    });
}
