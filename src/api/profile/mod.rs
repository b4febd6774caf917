//! Protocol profiles: a translation at the Socket.IO edge (and of REST bodies, for a token
//! that carries one) so that a chat frontend written for another server's conventions works
//! unchanged. The domain speaks only the native protocol (SPEC §5); a profile renames events
//! and fields both ways, says how each reply travels, and what a connection is greeted with.
//!
//! A profile is data — a TOML file — compiled into [`Rebuild`]s, the one mechanism every
//! translation goes through. The shipped profiles are embedded; users' own are read from
//! `profiles.dir`, and one of theirs with a shipped name replaces it.

mod definition;
mod path;
mod rebuild;
mod registry;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::api::error::ApiError;
use crate::model::event::EventKind;
use definition::{ChooseFile, EmitFile, EventFile, ProfileFile, ReplyMode, ShapeFile};
use path::Path;
use rebuild::{value_key, Direction, Each, Move, Rebuild, Source};

pub use registry::{Profiles, Summary};

/// The name that means "no profile": the native protocol.
pub const NATIVE: &str = "native";

/// Events a client may send on a device namespace, as `client_events` dispatches them.
pub const NATIVE_CLIENT_EVENTS: &[&str] = &[
    "message:send",
    "message:read",
    "message:react",
    "message:revoke",
    "message:edit",
    "message:forward",
    "poll:vote",
    "typing:start",
    "typing:stop",
    "chat:open",
    "chat:archive",
    "chat:mute",
    "chat:update",
    "chat:join",
    "chat:leave",
    "group:create",
    "group:get",
    "group:update",
    "group:participants",
    "group:invite",
    "group:leave",
    "chats:list",
    "messages:list",
    "notification:read",
    "presence:get",
    "pairing:code",
];

/// Events the server emits on a device namespace: the journaled ones, and the two the socket
/// edge says itself.
fn is_native_emit(name: &str) -> bool {
    name.parse::<EventKind>().is_ok() || name == "session" || name == "sync"
}

/// Where a profile came from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Shipped,
    User,
}

/// One compiled profile.
#[derive(Debug)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub origin: Origin,
    pub mark_read_on_list: bool,
    events: BTreeMap<String, ClientEvent>,
    emits: BTreeMap<String, Emit>,
}

#[derive(Debug)]
enum Target {
    Named(String),
    /// Chosen by the value of a field (of the client's payload inbound, the native one out).
    Chosen {
        field: Path,
        names: BTreeMap<String, String>,
    },
}

impl Target {
    fn pick(&self, payload: &Value) -> Option<&str> {
        match self {
            Target::Named(name) => Some(name),
            Target::Chosen { field, names } => field
                .get(payload)
                .and_then(|value| names.get(&value_key(value)))
                .map(String::as_str),
        }
    }

    fn names(&self) -> Vec<&str> {
        match self {
            Target::Named(name) => vec![name.as_str()],
            Target::Chosen { names, .. } => names.values().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug)]
struct ClientEvent {
    native: Target,
    shape: Rebuild,
    reply: Reply,
    error: Option<(String, Rebuild)>,
}

#[derive(Debug)]
enum Reply {
    Ack(Rebuild),
    Bare(Rebuild),
    Event(String, Rebuild),
}

#[derive(Debug)]
struct Emit {
    name: Target,
    shape: Arc<Rebuild>,
    skip: bool,
    when: Vec<(Path, Value)>,
    /// A second event the client receives for the same native event.
    also: Option<Box<Emit>>,
    outside: Option<Box<Emit>>,
}

impl Emit {
    /// The events this emit makes of a native payload: none when it is skipped or its `when`
    /// does not hold, one per element for a bare payload that ends in `[]`.
    fn events(&self, payload: &Value, context: &Value) -> Vec<(String, Value)> {
        let sent = !self.skip
            && self
                .when
                .iter()
                .all(|(path, value)| path.get(payload) == Some(value));
        let Some(name) = self.name.pick(payload).filter(|_| sent) else {
            return Vec::new();
        };
        match (&self.shape.bare, self.shape.apply(payload, context)) {
            (Some(bare), Value::Array(items)) if bare.is_each() => items
                .into_iter()
                .map(|item| (name.to_owned(), item))
                .collect(),
            (_, built) => vec![(name.to_owned(), built)],
        }
    }
}

/// Where a socket stands towards the chat an event is about: in its room (or in no room at
/// all, which hears every chat), or in rooms of other chats only, where a profile may still
/// send something (its `outside`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Room,
    Outside,
}

/// A client event in native terms.
#[derive(Debug, PartialEq)]
pub struct Inbound {
    pub event: String,
    pub payload: Value,
}

/// How a reply reaches the client: the acknowledgement (if the client asked for one) and, for
/// a profile that answers with events, an event.
#[derive(Debug, PartialEq)]
pub struct Routed {
    pub ack: Value,
    pub event: Option<(String, Value)>,
}

impl Profile {
    /// The native event and payload for a client event. Events the profile does not map pass
    /// as they are when they are native (a profile's client may use any native feature);
    /// anything else is refused with the profile's name in the error.
    pub fn inbound(&self, event: &str, payload: Option<Value>) -> Result<Inbound, ApiError> {
        let payload = payload.unwrap_or(Value::Null);
        let Some(mapped) = self.events.get(event) else {
            if NATIVE_CLIENT_EVENTS.contains(&event) {
                return Ok(Inbound {
                    event: event.to_owned(),
                    payload,
                });
            }
            return Err(ApiError::bad_request(format!(
                "unknown event `{event}`: the profile `{}` does not map it",
                self.name
            )));
        };
        let native = mapped.native.pick(&payload).ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid `{event}` payload: its value does not choose one of {}",
                mapped.native.names().join(", ")
            ))
        })?;
        let payload = if payload.is_null() && mapped.shape.bare.is_none() {
            Value::Object(Map::new())
        } else {
            payload
        };
        Ok(Inbound {
            event: native.to_owned(),
            payload: mapped.shape.apply(&payload, &Value::Null),
        })
    }

    /// The reply to client event `event` (sent with `request`), from its native answer; `me`
    /// is the device's linked account, which `$me` reads.
    pub fn reply(
        &self,
        event: &str,
        request: &Value,
        answer: Result<Value, ApiError>,
        me: Option<&str>,
    ) -> Routed {
        let Some(mapped) = self.events.get(event) else {
            return Routed {
                ack: envelope(answer),
                event: None,
            };
        };
        match answer {
            Ok(data) => {
                let context = json!({ "request": request, "data": data, "me": me });
                match &mapped.reply {
                    Reply::Ack(shape) => Routed {
                        ack: envelope(Ok(shape.apply(&data, &context))),
                        event: None,
                    },
                    Reply::Bare(shape) => Routed {
                        ack: shape.apply(&data, &context),
                        event: None,
                    },
                    Reply::Event(name, shape) => {
                        let built = shape.apply(&data, &context);
                        Routed {
                            ack: envelope(Ok(built.clone())),
                            event: Some((name.clone(), built)),
                        }
                    }
                }
            }
            Err(error) => {
                let event = mapped.error.as_ref().map(|(name, shape)| {
                    let context = json!({ "request": request, "error": error.body(), "me": me });
                    (name.clone(), shape.apply(&context["error"], &context))
                });
                Routed {
                    ack: envelope(Err(error)),
                    event,
                }
            }
        }
    }

    /// A native event as this profile's clients receive it: renamed and reshaped, several
    /// events when the client takes one id at a time, none when the profile skips it. `me`
    /// is the device's linked account, which `$me` reads.
    pub fn outbound(
        &self,
        native: &str,
        payload: &Value,
        me: Option<&str>,
        place: Place,
    ) -> Vec<(String, Value)> {
        let Some(emit) = self.emits.get(native) else {
            return match place {
                Place::Room => vec![(native.to_owned(), payload.clone())],
                Place::Outside => Vec::new(),
            };
        };
        let context = json!({ "me": me });
        match place {
            Place::Room => [Some(emit), emit.also.as_deref()]
                .into_iter()
                .flatten()
                .flat_map(|emit| emit.events(payload, &context))
                .collect(),
            Place::Outside => emit
                .outside
                .as_deref()
                .map_or_else(Vec::new, |outside| outside.events(payload, &context)),
        }
    }

    /// Whether a socket outside the room of an event's chat is sent anything of `native`.
    pub fn speaks_outside(&self, native: &str) -> bool {
        self.emits
            .get(native)
            .is_some_and(|emit| emit.outside.is_some())
    }

    /// A value shaped as this profile shapes the native event `native` (a REST answer's
    /// message looks like the messages its sockets receive).
    pub fn shape_like(&self, native: &str, value: &Value, me: Option<&str>) -> Value {
        match self.emits.get(native) {
            Some(emit) => emit.shape.apply(value, &json!({ "me": me })),
            None => value.clone(),
        }
    }

    /// A REST request body in native terms, read with the fields of the client event that
    /// becomes `native` (the same names a client sends over Socket.IO).
    pub fn request_like(&self, native: &str, body: Value) -> Value {
        let mapped = self
            .events
            .values()
            .find(|event| event.native.names().contains(&native));
        match mapped {
            Some(event) if event.shape.bare.is_none() => event.shape.apply(&body, &Value::Null),
            _ => body,
        }
    }

    /// Client event → native event(s), for the listing: the profile's own, and the native
    /// ones that pass as they are.
    fn event_names(&self) -> BTreeMap<String, String> {
        let passed = NATIVE_CLIENT_EVENTS
            .iter()
            .map(|native| ((*native).to_owned(), (*native).to_owned()));
        let mapped = self
            .events
            .iter()
            .map(|(client, event)| (client.clone(), event.native.names().join("|")));
        passed.chain(mapped).collect()
    }

    /// Native event → the client's name(s), for the listing: every native event a client of
    /// this profile receives, under the name it receives it by.
    fn emit_names(&self) -> BTreeMap<String, String> {
        let natives = EventKind::ALL
            .map(EventKind::as_str)
            .into_iter()
            .chain(["session", "sync"]);
        natives
            .filter_map(|native| {
                let Some(emit) = self.emits.get(native) else {
                    return Some((native.to_owned(), native.to_owned()));
                };
                let names = [
                    Some(emit).filter(|emit| !emit.skip),
                    emit.also.as_deref(),
                    emit.outside.as_deref(),
                ]
                .into_iter()
                .flatten()
                .flat_map(|emit| emit.name.names())
                .collect::<Vec<_>>();
                (!names.is_empty()).then(|| (native.to_owned(), names.join("|")))
            })
            .collect()
    }
}

/// The native acknowledgement envelope, as a value.
fn envelope(answer: Result<Value, ApiError>) -> Value {
    serde_json::to_value(crate::api::reply::envelope(answer)).unwrap_or(Value::Null)
}

/// Compiles a profile file; every problem is reported, each with where it is.
pub fn compile(name: &str, origin: Origin, text: &str) -> Result<Profile, Vec<String>> {
    let table: toml::Table = toml::from_str(text).map_err(|error| vec![error.to_string()])?;
    let unknown = definition::unknown_keys(&table);
    if !unknown.is_empty() {
        return Err(unknown
            .into_iter()
            .map(|key| format!("unknown key `{key}`"))
            .collect());
    }
    let file: ProfileFile = table
        .try_into()
        .map_err(|error: toml::de::Error| vec![error.to_string()])?;
    let mut problems = Vec::new();
    let mut emits = BTreeMap::new();
    // Emits first: replies and nested fields may be shaped like them.
    for (native, emit) in &file.emits {
        if !is_native_emit(native) {
            problems.push(format!("emits.\"{native}\": no native event has this name"));
        }
        match compile_emit(native, emit, &BTreeMap::new()) {
            Ok(emit) => {
                emits.insert(native.clone(), emit);
            }
            Err(why) => problems.push(format!("emits.\"{native}\": {why}")),
        }
    }
    let likes: BTreeMap<String, Arc<Rebuild>> = emits
        .iter()
        .map(|(native, emit)| (native.clone(), emit.shape.clone()))
        .collect();
    // Then the second events and what is sent outside a chat's room, which may be shaped like
    // the emits above.
    for (native, file) in &file.emits {
        let Some(emit) = emits.get_mut(native) else {
            continue;
        };
        for (key, extra, slot) in [
            ("also", &file.also, &mut emit.also),
            ("outside", &file.outside, &mut emit.outside),
        ] {
            let Some(extra) = extra else {
                continue;
            };
            let at = format!("emits.\"{native}\".{key}");
            if extra.also.is_some() || extra.outside.is_some() {
                problems.push(format!(
                    "{at}: an `{key}` has no `also` or `outside` of its own"
                ));
                continue;
            }
            match compile_emit(native, extra, &likes) {
                Ok(compiled) => *slot = Some(Box::new(compiled)),
                Err(why) => problems.push(format!("{at}: {why}")),
            }
        }
    }
    let mut events = BTreeMap::new();
    for (client, event) in &file.events {
        match compile_event(event, &likes) {
            Ok(event) => {
                events.insert(client.clone(), event);
            }
            Err(why) => problems.push(format!("events.\"{client}\": {why}")),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Profile {
        name: name.to_owned(),
        description: file.description,
        origin,
        mark_read_on_list: file.mark_read_on_list,
        events,
        emits,
    })
}

/// An emitted event's shape, which may be shaped like the emits in `likes`: none for the
/// emits themselves (nested `as` in them reads the native value as it is), the emits for their
/// `also` and `outside`, which keeps the shapes free of cycles.
fn compile_emit(
    native: &str,
    emit: &EmitFile,
    likes: &BTreeMap<String, Arc<Rebuild>>,
) -> Result<Emit, String> {
    let name = match (&emit.event, &emit.by) {
        (Some(_), Some(_)) => return Err("give at most one of `event` and `by`".into()),
        (None, Some(by)) => chosen(by, is_any)?,
        (Some(name), None) => Target::Named(name.clone()),
        (None, None) => Target::Named(native.to_owned()),
    };
    Ok(Emit {
        name,
        shape: Arc::new(compile_shape(&emit.shape, Direction::Out, likes)?),
        skip: emit.skip,
        when: conditions(&emit.when)?,
        also: None,
        outside: None,
    })
}

fn is_any(_: &str) -> bool {
    true
}

fn is_native_client_event(name: &str) -> bool {
    NATIVE_CLIENT_EVENTS.contains(&name)
}

fn chosen(by: &ChooseFile, allowed: fn(&str) -> bool) -> Result<Target, String> {
    if let Some(bad) = by.events.values().find(|name| !allowed(name)) {
        return Err(format!("`by` names `{bad}`, which is not a native event"));
    }
    Ok(Target::Chosen {
        field: Path::parse(&by.field)?,
        names: by.events.clone(),
    })
}

fn compile_event(
    event: &EventFile,
    likes: &BTreeMap<String, Arc<Rebuild>>,
) -> Result<ClientEvent, String> {
    let native = match (&event.native, &event.by) {
        (Some(native), None) if is_native_client_event(native) => Target::Named(native.clone()),
        (Some(native), None) => return Err(format!("`{native}` is not a native client event")),
        (None, Some(by)) => chosen(by, is_native_client_event)?,
        _ => return Err("give exactly one of `native` and `by`".into()),
    };
    let reply = match &event.reply {
        None => Reply::Ack(Rebuild::identity(Direction::Out)),
        Some(reply) => {
            let shape = compile_shape(&reply.shape, Direction::Out, likes)?;
            match (&reply.mode, &reply.event) {
                (ReplyMode::Ack, None) => Reply::Ack(shape),
                (ReplyMode::Bare, None) => Reply::Bare(shape),
                (ReplyMode::Event, Some(name)) => Reply::Event(name.clone(), shape),
                (ReplyMode::Event, None) => return Err("a reply by event needs `event`".into()),
                (_, Some(_)) => return Err("`reply.event` goes with `mode = \"event\"`".into()),
            }
        }
    };
    let error = match &event.error {
        Some(error) => Some((
            error.event.clone(),
            compile_shape(&error.shape, Direction::Out, likes)?,
        )),
        None => None,
    };
    Ok(ClientEvent {
        native,
        shape: compile_shape(&event.shape, Direction::In, likes)?,
        reply,
        error,
    })
}

/// A source chosen by the value at `by`: `paths` maps each value (as text) to a path.
fn chosen_source(by: &str, paths: &BTreeMap<String, String>) -> Result<Source, String> {
    Ok(Source::Chosen {
        by: Path::parse(by)?,
        sources: paths
            .iter()
            .map(|(value, path)| Ok((value.clone(), Source::parse(path)?)))
            .collect::<Result<_, String>>()?,
    })
}

fn compile_shape(
    shape: &ShapeFile,
    direction: Direction,
    likes: &BTreeMap<String, Arc<Rebuild>>,
) -> Result<Rebuild, String> {
    let like = |name: &str| -> Result<Arc<Rebuild>, String> {
        if !is_native_emit(name) {
            return Err(format!("`as = \"{name}\"`: no native event has this name"));
        }
        Ok(likes
            .get(name)
            .cloned()
            .unwrap_or_else(|| Arc::new(Rebuild::identity(Direction::Out))))
    };
    let mut moves = Vec::new();
    for (client, field) in &shape.fields {
        let client_path = Path::parse(client)?;
        let values = shape.values.get(client).cloned().unwrap_or_default();
        let (native, nested) = match field {
            definition::FieldFile::Path(native) => (Source::parse(native)?, None),
            definition::FieldFile::Nested { from, like: name } => {
                (Source::parse(from)?, Some(like(name)?))
            }
            definition::FieldFile::Chosen { .. } if direction == Direction::In => {
                return Err(format!(
                    "`{client}`: a field chosen `by` another is built only for the client"
                ));
            }
            definition::FieldFile::Chosen { by, paths } => (chosen_source(by, paths)?, None),
            definition::FieldFile::Shaped { from, shape } => (
                Source::parse(from)?,
                Some(Arc::new(compile_shape(shape, direction, likes)?)),
            ),
        };
        let values = values.into_iter().collect();
        moves.push(match (direction, native) {
            (Direction::Out, native) => Move {
                from: native,
                to: client_path,
                values,
                like: nested,
            },
            (Direction::In, Source::Here(native)) => Move {
                from: Source::Here(client_path),
                to: native,
                values,
                like: nested,
            },
            (Direction::In, _) => {
                return Err(format!(
                    "`{client}`: a client's field is written to a native path, not `$…`"
                ));
            }
        });
    }
    if let Some(field) = shape
        .values
        .keys()
        .find(|field| !shape.fields.contains_key(*field))
    {
        return Err(format!(
            "`values.{field}` maps a field that `fields` does not name"
        ));
    }
    let paths = |texts: &[String]| {
        texts
            .iter()
            .map(|t| Path::parse(t))
            .collect::<Result<Vec<_>, _>>()
    };
    let set = shape
        .set
        .iter()
        .map(|(path, value)| Ok((Path::parse(path)?, value.clone())))
        .collect::<Result<_, String>>()?;
    let each = if shape.each {
        Some(Each {
            filter: conditions(&shape.filter)?,
            pick: shape.pick.as_deref().map(Path::parse).transpose()?,
        })
    } else if shape.pick.is_some() || !shape.filter.is_empty() {
        return Err("`where` and `pick` go with `each = true`".into());
    } else {
        None
    };
    Ok(Rebuild {
        direction,
        from: shape.from.as_deref().map(Source::parse).transpose()?,
        bare: shape.payload.as_deref().map(Path::parse).transpose()?,
        moves,
        set,
        drop: paths(&shape.drop)?,
        only: shape.only,
        keep: shape.keep,
        each,
        like: shape.like.as_deref().map(like).transpose()?,
    })
}

/// Field values a payload must have (`where`, `when`), their paths parsed.
fn conditions(fields: &BTreeMap<String, Value>) -> Result<Vec<(Path, Value)>, String> {
    fields
        .iter()
        .map(|(path, value)| Ok((Path::parse(path)?, value.clone())))
        .collect()
}
