//! The type check of every layer's values against the settings' schema, before they are
//! merged: each wrong type is reported with its key and where it was written.

use super::*;
use ::config::{Value, ValueKind};
use serde::de::DeserializeOwned;
use serde_json::{Map as JsonMap, Value as Json};

/// The key structure and value kinds of [`Settings`], as JSON.
///
/// Serialized from a fully populated value so that optional fields (which
/// are left out when `None`) and the fields of an API key entry appear too.
/// Arrays hold one sample element describing their elements.
pub(super) fn schema() -> Json {
    let mut sample = Settings::default();
    sample.auth.jwt_secret = Some(String::new());
    sample.auth.api_keys = vec![ApiKeySetting {
        key: Some(String::new()),
        key_sha256: Some(String::new()),
        ..ApiKeySetting::default()
    }];
    sample.webhooks.subscriptions = vec![WebhookSubscriptionSetting::default()];
    sample.sinks = vec![SinkSetting {
        kind: Some(crate::model::sink::SinkKind::Nats),
        stream: Some(String::new()),
        key: Some(String::new()),
        exchange: Some(String::new()),
        ..SinkSetting::default()
    }];
    sample.upstream.check_interval_secs = Some(0);
    sample.governor = GovernorChanges {
        enabled: Some(false),
        per_minute: Some(0),
        burst: Some(0),
        jitter: Some(0.0),
        new_chats_per_day: Some(0),
        warmup_days: Some(0),
        number_checks_per_minute: Some(0),
        typing: Some(false),
    };
    serde_json::to_value(sample).expect("plain data structs always serialize to JSON")
}

/// Deserializes one field on its own into its struct, so that a type error
/// is attributed to that field; the struct's other fields take defaults.
pub(super) type Probe = fn(&str, &Json) -> Result<(), serde_json::Error>;

pub(super) fn probe_field<T: DeserializeOwned>(
    field: &str,
    value: &Json,
) -> Result<(), serde_json::Error> {
    let mut object = JsonMap::new();
    object.insert(field.to_owned(), value.clone());
    serde_json::from_value::<T>(Json::Object(object)).map(drop)
}

/// The struct whose fields live in the table at `path`.
pub(super) fn probe_for(path: &str) -> Option<Probe> {
    let probe: Probe = match path {
        "server" => probe_field::<ServerSettings>,
        "storage" => probe_field::<StorageSettings>,
        "cluster" => probe_field::<ClusterSettings>,
        "devices" => probe_field::<DevicesSettings>,
        "profiles" => probe_field::<ProfilesSettings>,
        "auth" => probe_field::<AuthSettings>,
        "qr" => probe_field::<QrSettings>,
        "reconnect" => probe_field::<ReconnectSettings>,
        "messages" => probe_field::<MessageSettings>,
        "upstream" => probe_field::<UpstreamSettings>,
        "watchdog" => probe_field::<WatchdogSettings>,
        "governor" => probe_field::<GovernorChanges>,
        "limits" => probe_field::<LimitSettings>,
        "journal" => probe_field::<JournalSettings>,
        "webhooks" => probe_field::<WebhookSettings>,
        "hooks" => probe_field::<HookSettings>,
        "hooks.sound" => probe_field::<SoundSettings>,
        "hooks.desktop" => probe_field::<DesktopSettings>,
        _ if path.starts_with("webhooks.subscriptions[") && path.ends_with(']') => {
            probe_field::<WebhookSubscriptionSetting>
        }
        "log" => probe_field::<LogSettings>,
        _ if path.starts_with("sinks[") && path.ends_with(']') => probe_field::<SinkSetting>,
        _ if path.starts_with("auth.api_keys[") && path.ends_with(']') => {
            probe_field::<ApiKeySetting>
        }
        _ => return None,
    };
    Some(probe)
}

/// Walks the merged tree against the schema, collecting problems and
/// building a JSON copy that leaves out unknown and ill-typed keys.
#[derive(Default)]
pub(super) struct Checker {
    pub(super) problems: Vec<String>,
    /// Paths of keys that failed, to silence validation of their defaults.
    pub(super) failed: Vec<String>,
}

impl Checker {
    pub(super) fn table(
        &mut self,
        path: &str,
        table: &::config::Map<String, Value>,
        schema: &JsonMap<String, Json>,
    ) -> JsonMap<String, Json> {
        let probe = probe_for(path);
        let mut keys: Vec<&String> = table.keys().collect();
        keys.sort();

        let mut out = JsonMap::new();
        for key in keys {
            let value = &table[key];
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            let Some(field_schema) = schema.get(key) else {
                self.problems
                    .push(format!("unknown key `{child}`{}", origin(value)));
                continue;
            };
            let Some(json) = self.value(&child, value, field_schema) else {
                continue;
            };
            // Tables and lists of tables were checked field by field inside.
            let nested = field_schema.is_object()
                || field_schema
                    .as_array()
                    .and_then(|items| items.first())
                    .is_some_and(Json::is_object);
            if let Some(probe) = probe.filter(|_| !nested) {
                if let Err(err) = probe(key, &json) {
                    self.invalid(&child, value, &err.to_string());
                    continue;
                }
            }
            out.insert(key.clone(), json);
        }
        out
    }

    fn value(&mut self, path: &str, value: &Value, schema: &Json) -> Option<Json> {
        if let (true, ValueKind::Table(table)) = (MAP_KEYS.contains(&path), &value.kind) {
            return Some(Json::Object(self.map_of_strings(path, table)));
        }
        match (schema, &value.kind) {
            (Json::Object(schema), ValueKind::Table(table)) => {
                Some(Json::Object(self.table(path, table, schema)))
            }
            (Json::Array(sample), ValueKind::Array(items)) => {
                let Some(element) = sample.first() else {
                    return Some(to_json(value));
                };
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.value(&format!("{path}[{i}]"), item, element) {
                        Some(json) => out.push(json),
                        // Keep the indices of later entries stable for
                        // validation messages; this entry's own problems are
                        // already reported.
                        None if element.is_object() => out.push(Json::Object(JsonMap::new())),
                        None => ok = false,
                    }
                }
                ok.then_some(Json::Array(out))
            }
            _ if same_kind(schema, value) => Some(to_json(value)),
            _ => {
                self.problems.push(format!(
                    "`{path}`: expected {}, got {}{}",
                    describe_schema(schema),
                    describe(value),
                    origin(value)
                ));
                self.failed.push(path.to_owned());
                None
            }
        }
    }

    /// A table whose keys are chosen by the user (`hooks.sound.events`): every value must be a
    /// string.
    fn map_of_strings(
        &mut self,
        path: &str,
        table: &::config::Map<String, Value>,
    ) -> JsonMap<String, Json> {
        let mut out = JsonMap::new();
        for (key, entry) in table {
            match &entry.kind {
                ValueKind::String(text) => {
                    out.insert(key.clone(), Json::String(text.clone()));
                }
                _ => {
                    let child = format!("{path}.{key}");
                    self.problems.push(format!(
                        "`{child}`: expected a string, got {}{}",
                        describe(entry),
                        origin(entry)
                    ));
                    self.failed.push(child);
                }
            }
        }
        out
    }

    /// Records a value of the right kind that still does not deserialize
    /// (out of range, not an address, not one of the allowed words).
    fn invalid(&mut self, path: &str, value: &Value, detail: &str) {
        let detail = match &value.kind {
            ValueKind::I64(n) if *n < 0 => format!("expected a non-negative integer, got {n}"),
            ValueKind::I64(_) | ValueKind::U64(_) | ValueKind::I128(_) | ValueKind::U128(_) => {
                format!("integer {} is too large", to_json(value))
            }
            ValueKind::String(s) => {
                let mut detail = detail.to_owned();
                if !detail.contains(s.as_str()) {
                    detail.push_str(&format!(", got {s:?}"));
                }
                if path == "server.bind" {
                    detail.push_str(" (expected IP:port, e.g. 127.0.0.1:3000)");
                }
                detail
            }
            _ => detail.to_owned(),
        };
        self.problems
            .push(format!("`{path}`: {detail}{}", origin(value)));
        self.failed.push(path.to_owned());
    }
}

/// Where a value came from, as a message suffix.
pub(super) fn origin(value: &Value) -> String {
    find_origin(value)
        .map(|o| format!(" ({o})"))
        .unwrap_or_default()
}

/// Merging rebuilds tables without an origin (a table may gather keys from
/// several layers), so for a table the origin of its first value is used.
pub(super) fn find_origin(value: &Value) -> Option<&str> {
    value.origin().or_else(|| match &value.kind {
        ValueKind::Table(table) => {
            let mut keys: Vec<&String> = table.keys().collect();
            keys.sort();
            keys.into_iter().find_map(|key| find_origin(&table[key]))
        }
        ValueKind::Array(items) => items.iter().find_map(find_origin),
        _ => None,
    })
}

pub(super) fn same_kind(schema: &Json, value: &Value) -> bool {
    matches!(
        (schema, &value.kind),
        (Json::Null, _)
            | (Json::Bool(_), ValueKind::Boolean(_))
            | (Json::String(_), ValueKind::String(_))
            | (
                Json::Number(_),
                ValueKind::I64(_) | ValueKind::U64(_) | ValueKind::I128(_) | ValueKind::U128(_),
            )
    ) || matches!((schema, &value.kind), (Json::Number(n), ValueKind::Float(_)) if n.is_f64())
}

pub(super) fn describe_schema(schema: &Json) -> &'static str {
    match schema {
        Json::Null => "a value",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_f64() => "a number",
        Json::Number(_) => "an integer",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a table",
    }
}

pub(super) fn describe(value: &Value) -> String {
    match &value.kind {
        ValueKind::Nil => "no value".to_owned(),
        ValueKind::Boolean(b) => format!("a boolean {b}"),
        ValueKind::I64(_) | ValueKind::U64(_) | ValueKind::I128(_) | ValueKind::U128(_) => {
            format!("an integer {}", to_json(value))
        }
        ValueKind::Float(f) => format!("a float {f}"),
        ValueKind::String(s) => format!("a string {s:?}"),
        ValueKind::Table(_) => "a table".to_owned(),
        ValueKind::Array(_) => "a list".to_owned(),
    }
}

pub(super) fn to_json(value: &Value) -> Json {
    match &value.kind {
        ValueKind::Nil => Json::Null,
        ValueKind::Boolean(b) => Json::Bool(*b),
        ValueKind::I64(n) => Json::from(*n),
        ValueKind::U64(n) => Json::from(*n),
        ValueKind::I128(n) => i64::try_from(*n)
            .map(Json::from)
            .or_else(|_| u64::try_from(*n).map(Json::from))
            .unwrap_or_else(|_| Json::String(n.to_string())),
        ValueKind::U128(n) => u64::try_from(*n)
            .map(Json::from)
            .unwrap_or_else(|_| Json::String(n.to_string())),
        ValueKind::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        ValueKind::String(s) => Json::String(s.clone()),
        ValueKind::Table(table) => {
            Json::Object(table.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        ValueKind::Array(items) => Json::Array(items.iter().map(to_json).collect()),
    }
}
