//! A profile file as it is written: the TOML a user reads and edits. Everything here is
//! checked and turned into a [`super::Profile`] by [`super::compile`]; unknown keys are
//! refused ([`unknown_keys`]), so a typo cannot silently change a translation.
//!
//! Every field table is written `client_field = "native.field"`, in both directions: for a
//! client event the client's field is read and written to the native one, for an emitted
//! event the other way round. Value maps are keyed by the client field and map the source
//! side's value to the other's.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct ProfileFile {
    pub description: String,
    /// Listing a chat's messages (`messages:list`, or the REST listing with a token that
    /// carries the profile) marks the chat read, as some chat servers do.
    #[serde(default)]
    pub mark_read_on_list: bool,
    /// Client events, by the client's name.
    #[serde(default)]
    pub events: BTreeMap<String, EventFile>,
    /// Native events the server emits, by their native name.
    #[serde(default)]
    pub emits: BTreeMap<String, EmitFile>,
}

/// One client event.
#[derive(Debug, Deserialize)]
pub struct EventFile {
    /// The native event it becomes…
    #[serde(default)]
    pub native: Option<String>,
    /// …or, instead, the native event chosen by a client field's value.
    #[serde(default)]
    pub by: Option<ChooseFile>,
    #[serde(flatten)]
    pub shape: ShapeFile,
    /// How the answer travels back; the acknowledgement callback, unchanged, by default.
    #[serde(default)]
    pub reply: Option<ReplyFile>,
    /// Where a failure goes instead of the acknowledgement, for clients that listen for it.
    #[serde(default)]
    pub error: Option<ErrorFile>,
}

/// One native event, as the client receives it.
#[derive(Debug, Deserialize)]
pub struct EmitFile {
    /// The client's name for it; the native name when absent.
    #[serde(default)]
    pub event: Option<String>,
    /// Or the client's name chosen by a native field's value.
    #[serde(default)]
    pub by: Option<ChooseFile>,
    /// Not sent to this profile's clients at all.
    #[serde(default)]
    pub skip: bool,
    /// Sent only when the native payload's fields have these values (`{ fromMe = false }`:
    /// news of the messages others wrote).
    #[serde(default)]
    pub when: BTreeMap<String, Value>,
    /// A second event the client receives for the same native event (the acks also as the
    /// statuses a client shows under a message). Its shapes may be shaped like the profile's
    /// other emits.
    #[serde(default)]
    pub also: Option<Box<EmitFile>>,
    /// What a socket that joined chats, but not this event's, is sent instead of nothing: the
    /// push notification some servers send a user outside a conversation's room. Its shapes
    /// may be shaped like the profile's other emits (`as = "message"`).
    #[serde(default)]
    pub outside: Option<Box<EmitFile>>,
    #[serde(flatten)]
    pub shape: ShapeFile,
}

/// An event name chosen by a field's value (`true`, `online`, …, written as text).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChooseFile {
    pub field: String,
    pub events: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum ReplyMode {
    /// The acknowledgement callback, with the native `{ ok, data | error }` envelope.
    Ack,
    /// The acknowledgement callback with the data alone, as many servers answer.
    Bare,
    /// A named event.
    Event,
}

#[derive(Debug, Deserialize)]
pub struct ReplyFile {
    pub mode: ReplyMode,
    /// The event's name, for `mode = "event"`.
    #[serde(default)]
    pub event: Option<String>,
    /// How the answer is built. Paths read the native answer; `$request.…` reads what the
    /// client sent, `$data…` the native answer from its root.
    #[serde(flatten)]
    pub shape: ShapeFile,
}

#[derive(Debug, Deserialize)]
pub struct ErrorFile {
    pub event: String,
    /// Paths read `$error.code`, `$error.message` and `$request.…`.
    #[serde(flatten)]
    pub shape: ShapeFile,
}

/// How one value is rebuilt for the other side.
#[derive(Debug, Default, Deserialize)]
pub struct ShapeFile {
    /// Start from this path of the source instead of its root.
    #[serde(default)]
    pub from: Option<String>,
    /// The client's side is a bare value (an id, a list of ids) that sits at this path on the
    /// native side. On the way out a path ending in `[]` sends one event per element.
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldFile>,
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, Value>>,
    /// Values of a field that mean "none" (`omit.type = ["TEXT"]`: a text is a message without
    /// a file's type): the field is left out of what is built, as if the source had no value.
    #[serde(default)]
    pub omit: BTreeMap<String, Vec<Value>>,
    /// Constant fields written on the target side.
    #[serde(default)]
    pub set: BTreeMap<String, Value>,
    /// Source fields left out (a client's extra fields the native side has no use for).
    #[serde(default)]
    pub drop: Vec<String>,
    /// Build only the fields named, instead of the source's fields with those renamed.
    #[serde(default)]
    pub only: bool,
    /// Keep the native fields as they are too, beside their client names.
    #[serde(default)]
    pub keep: bool,
    /// The source is a list: rebuild each element.
    #[serde(default)]
    pub each: bool,
    /// With `each`: keep only the elements whose fields have these values.
    #[serde(default, rename = "where")]
    pub filter: BTreeMap<String, Value>,
    /// With `each`: each element becomes the value of this field.
    #[serde(default)]
    pub pick: Option<String>,
    /// Rebuild the value as this profile rebuilds the native event of that name (a reply's
    /// data that is a message looks like the profile's messages).
    #[serde(default, rename = "as")]
    pub like: Option<String>,
}

/// A field's source: a path, a nested value rebuilt like a native event or by a shape of its
/// own, or a path chosen by another field's value (`recipientId = { by = "fromMe", paths = { true = "chatId", false =
/// "$me" } }`: who a message went to depends on who sent it).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum FieldFile {
    Path(String),
    Nested {
        from: String,
        #[serde(rename = "as")]
        like: String,
    },
    Chosen {
        by: String,
        paths: BTreeMap<String, String>,
    },
    /// A nested value rebuilt by a shape of its own (`attachments = { from = "media", shape = {
    /// each = true, … } }`: a message's one file, as the list of attachments a client reads).
    Shaped {
        from: String,
        shape: Box<ShapeFile>,
    },
}

const EMIT_KEYS: &[&str] = &["event", "by", "skip", "when", "also", "outside"];

const SHAPE_KEYS: &[&str] = &[
    "from", "payload", "fields", "values", "omit", "set", "drop", "only", "keep", "each", "where",
    "pick", "as",
];

/// The keys of a profile file that nothing reads, as dotted paths. serde cannot refuse
/// unknown keys of a table that shares its keys with a flattened one, so they are looked
/// for here, against the lists of what each table takes.
pub fn unknown_keys(file: &toml::Table) -> Vec<String> {
    let mut unknown = Vec::new();
    let mut check = |table: &toml::Table, at: &str, own: &[&str], shape: bool| {
        for key in table.keys() {
            let key_is_known =
                own.contains(&key.as_str()) || shape && SHAPE_KEYS.contains(&key.as_str());
            if !key_is_known {
                unknown.push(format!("{at}{key}"));
            }
        }
    };
    check(
        file,
        "",
        &["description", "mark_read_on_list", "events", "emits"],
        false,
    );
    let tables = |key: &str| {
        file.get(key)
            .and_then(toml::Value::as_table)
            .into_iter()
            .flat_map(|table| table.iter())
            .filter_map(|(name, value)| Some((name.clone(), value.as_table()?.clone())))
            .collect::<Vec<_>>()
    };
    for (name, event) in tables("events") {
        let at = format!("events.\"{name}\".");
        check(&event, &at, &["native", "by", "reply", "error"], true);
        if let Some(reply) = event.get("reply").and_then(toml::Value::as_table) {
            check(reply, &format!("{at}reply."), &["mode", "event"], true);
        }
        if let Some(error) = event.get("error").and_then(toml::Value::as_table) {
            check(error, &format!("{at}error."), &["event"], true);
        }
    }
    for (name, emit) in tables("emits") {
        let at = format!("emits.\"{name}\".");
        check(&emit, &at, EMIT_KEYS, true);
        for key in ["also", "outside"] {
            if let Some(extra) = emit.get(key).and_then(toml::Value::as_table) {
                check(extra, &format!("{at}{key}."), EMIT_KEYS, true);
            }
        }
    }
    unknown
}
