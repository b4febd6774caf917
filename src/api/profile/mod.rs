//! Protocol profiles: a translation at the Socket.IO edge (and of REST bodies, for a token
//! that carries one) so that a chat frontend written for another server's conventions works
//! unchanged. The domain speaks only the native protocol (SPEC §5); a profile renames events
//! and fields both ways, says how each reply travels, and what a connection is greeted with.
//!
//! A profile is data — a TOML file — compiled into [`Rebuild`]s, the one mechanism every
//! translation goes through. The shipped profiles are embedded; users' own are read from
//! `profiles.dir`, and one of theirs with a shipped name replaces it.

mod compile;
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
use path::Path;
use rebuild::{value_key, Rebuild};

pub use compile::compile;
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
