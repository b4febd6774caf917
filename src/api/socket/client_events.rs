//! What clients may ask on `/device/<id>`: each event answers through its acknowledgement
//! callback with `{ ok: true, data }` or `{ ok: false, error: { code, message } }`. The root
//! namespace's events pass the same gate (see [`super::SocketHub`]).
//!
//! Every inbound packet passes the same gate before its handler runs: the connection's rate
//! (`limits.events_per_minute`), the packet's size (`limits.max_message_bytes`), no binary
//! attachments, a JSON payload, and the credential's scope for the event. A refused packet
//! changes nothing.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, SocketRef};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;

use super::rooms::Rooms;
use super::session::{self, session_of};
use crate::api::auth::{unix_now, AuthError, Caller, Scope};
use crate::api::conversations::{
    ChatsQuery, Conversations, MessagesQuery, OpenChat, PairingCodeRequest, PresenceQuery,
};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::is_object;
use crate::api::groups;
use crate::api::profile::{Profile, Profiles};
use crate::api::reply::envelope;
use crate::messaging::{Dedup, SendRequest};
use crate::metrics::Histogram;
use crate::model::group::{GroupPatch, NewGroup, ParticipantsChange};
use crate::model::ChatFlags;
use crate::model::{Chat, DeviceId, Message, Page};
use crate::store::turn::Turn;

mod requests;
pub(super) use requests::*;

/// The limits every connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct PacketLimits {
    pub max_bytes: usize,
    pub events_per_minute: u32,
}

/// An inbound packet's payload (its first argument, `None` when absent), or why it cannot be
/// used. It stays JSON text until the event's handler reads it into its own shape.
pub struct Packet {
    payload: Result<Option<Box<RawValue>>, PacketProblem>,
    bytes: usize,
}

enum PacketProblem {
    Binary,
    Malformed(String),
}

impl<A: Adapter> FromMessageParts<A> for Packet {
    type Error = Infallible;

    fn from_message_parts(
        _: &Arc<Socket<A>>,
        value: &mut socketioxide::handler::Value,
        _: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let packet = match value {
            socketioxide::handler::Value::Str(text, binaries) => {
                let bytes = text.len() + binaries.iter().flatten().map(|b| b.len()).sum::<usize>();
                let payload = if binaries.as_ref().is_some_and(|b| !b.is_empty()) {
                    Err(PacketProblem::Binary)
                } else {
                    first_argument(text)
                };
                Packet { payload, bytes }
            }
            socketioxide::handler::Value::Bytes(bytes) => Packet {
                payload: Err(PacketProblem::Binary),
                bytes: bytes.len(),
            },
        };
        Ok(packet)
    }
}

impl Packet {
    /// The payload as JSON, for a profile to translate (`None` when absent or unusable).
    fn json(&self) -> Option<Value> {
        let payload = self.payload.as_ref().ok()?.as_deref()?;
        serde_json::from_str(payload.get()).ok()
    }

    /// The packet in native terms, by `profile`: its native event and payload. A packet the
    /// gate will refuse (binary, malformed) stays as it is, for the gate to say why.
    fn translate(self, profile: &Profile, event: &str) -> Result<(String, Packet), ApiError> {
        if self.payload.is_err() {
            return Ok((event.to_owned(), self));
        }
        let native = profile.inbound(event, self.json())?;
        let payload = serde_json::value::to_raw_value(&native.payload).map_err(|error| {
            ApiError::bad_request(format!("invalid `{event}` payload: {error}"))
        })?;
        Ok((
            native.event,
            Packet {
                payload: Ok(Some(payload)),
                bytes: self.bytes,
            },
        ))
    }
}

/// The packet text is `["event", arg, …]`; handlers take one argument.
fn first_argument(text: &str) -> Result<Option<Box<RawValue>>, PacketProblem> {
    match serde_json::from_str::<Vec<Box<RawValue>>>(text) {
        Ok(items) if !items.is_empty() => Ok(items.into_iter().nth(1)),
        Ok(_) => Err(PacketProblem::Malformed(
            "the packet is not an event".into(),
        )),
        Err(error) => Err(PacketProblem::Malformed(error.to_string())),
    }
}

/// What a device namespace's sockets share to handle their events: one per namespace, so
/// that each socket's handler holds a pointer to it rather than a copy of its own.
pub struct DeviceEvents {
    pub context: Context,
    pub device: DeviceId,
}

/// What every handler gets.
#[derive(Clone)]
pub struct Context {
    pub conversations: Conversations,
    pub limits: PacketLimits,
    pub profiles: Profiles,
    /// Where each native `message:send` records how long the daemon took to answer it.
    pub send_taken: Histogram,
}

/// The gate every packet passes, in order: rate, size, binary, JSON, scope (on `device`, or
/// on any device for the root namespace's events).
pub fn admit(
    socket: &SocketRef,
    context: &Context,
    packet: Packet,
    device: Option<&DeviceId>,
    scope: Scope,
) -> Result<Option<Box<RawValue>>, ApiError> {
    let allowed = session_of(socket).is_none_or(|session| session.rate.allow());
    if !allowed {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "more than {} events per minute on this connection; slow down",
                context.limits.events_per_minute
            ),
        ));
    }
    if packet.bytes > context.limits.max_bytes {
        return Err(ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!(
                "the packet is larger than {} bytes",
                context.limits.max_bytes
            ),
        ));
    }
    let payload = packet.payload.map_err(|problem| match problem {
        PacketProblem::Binary => ApiError::bad_request(
            "binary attachments are not accepted; send media as a link in `media.url`",
        ),
        PacketProblem::Malformed(why) => ApiError::bad_request(format!("malformed packet: {why}")),
    })?;
    caller_of(socket)?.authorize(scope, device)?;
    Ok(payload)
}

/// The credentials the socket connected with, while they last: an event that arrives as its
/// token ends, before the socket is disconnected for it, is refused too.
pub fn caller_of(socket: &SocketRef) -> Result<Arc<Caller>, AuthError> {
    socket
        .extensions
        .get::<Arc<Caller>>()
        .filter(|caller| !caller.expired_at(unix_now()))
        .ok_or(AuthError::Unauthorized)
}

/// Reads an event's payload into its typed shape (an absent or `null` one as `{}`); a payload
/// that is not an object, wrong types and missing fields are `bad_request`.
pub fn parse<T: DeserializeOwned>(
    event: &str,
    payload: Option<Box<RawValue>>,
) -> Result<T, ApiError> {
    let text = match payload.as_deref().map(RawValue::get) {
        None | Some("null") => "{}",
        Some(text) => text,
    };
    if !is_object(text) {
        return Err(ApiError::bad_request(format!(
            "invalid `{event}` payload: it must be a JSON object"
        )));
    }
    serde_json::from_str(text)
        .map_err(|error| ApiError::bad_request(format!("invalid `{event}` payload: {error}")))
}

/// The gate, then the payload read into the event's typed shape.
fn admit_as<T: DeserializeOwned>(
    socket: &SocketRef,
    context: &Context,
    packet: Packet,
    device: &DeviceId,
    event: &str,
    scope: Scope,
) -> Result<T, ApiError> {
    admit(socket, context, packet, Some(device), scope).and_then(|payload| parse(event, payload))
}

/// What a client event answers with.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Message(Box<Message>),
    Chat(Box<Chat>),
    Chats(Page<Chat>),
    Messages(Page<Message>),
    Json(Value),
}

impl Answer {
    fn done() -> Answer {
        Answer::Json(json!({}))
    }
}

/// Registers the client events of a device namespace on a new socket.
///
/// One handler takes every event and dispatches on its name: a socket then holds one boxed
/// handler instead of a table of ten, which every idle connection would carry (see
/// docs/performance.md, "idle").
pub fn register(socket: &SocketRef, handling: &Arc<DeviceEvents>) {
    let handling = handling.clone();
    socket.on_fallback(
        move |socket: SocketRef, Event(event): Event, packet: Packet, ack: AckSender| {
            let handling = handling.clone();
            // Taken here, as the packet is read, so turns follow the client's order; the
            // handler below runs as a task of its own.
            let turn = session_of(&socket).map(|session| session.arrivals.take_turn());
            let read_at = Instant::now();
            // Boxed: socketioxide spawns what this returns, and tokio moves a task's future
            // into its cell and writes its stage over it when it ends; the event's handling
            // takes several kilobytes, which would be copied each time.
            Box::pin(async move {
                let DeviceEvents { context, device } = &*handling;
                match socket.extensions.get::<Arc<Profile>>() {
                    None => {
                        let answer =
                            dispatch(&socket, context, device, &event, packet, turn, false).await;
                        if event == "message:send" {
                            context.send_taken.observe_duration(read_at.elapsed());
                        }
                        answer_with(&socket, ack, answer);
                    }
                    Some(profile) => {
                        speak(
                            &socket, &profile, context, device, &event, packet, turn, ack,
                        )
                        .await;
                    }
                }
            })
        },
    );
}

/// Runs a client event of a socket that speaks `profile`: translated into a native event,
/// dispatched as any other, and answered as the profile says (the acknowledgement, an event,
/// or both).
#[allow(clippy::too_many_arguments)]
async fn speak(
    socket: &SocketRef,
    profile: &Profile,
    context: &Context,
    device: &DeviceId,
    event: &str,
    packet: Packet,
    turn: Option<Turn>,
    ack: AckSender,
) {
    let request = packet.json().unwrap_or(Value::Null);
    let answer = match packet.translate(profile, event) {
        Ok((native, packet)) => {
            let mark_read = profile.mark_read_on_list;
            dispatch(socket, context, device, &native, packet, turn, mark_read)
                .await
                .map(|answer| serde_json::to_value(answer).unwrap_or(Value::Null))
        }
        Err(refused) => Err(refused),
    };
    let me = super::protocol::me_of(socket);
    let routed = profile.reply(event, &request, answer, me.as_deref());
    if let Some((name, payload)) = &routed.event {
        super::tell_as_is(socket, name, payload);
    }
    acknowledge(socket, ack, &routed.ack);
}

/// Sends the acknowledgement of an event: a reply that does not fit in what the connection
/// may have queued closes it (a client that asks and does not read cannot pile up replies).
pub fn answer_with<T: Serialize>(socket: &SocketRef, ack: AckSender, answer: Result<T, ApiError>) {
    acknowledge(socket, ack, &envelope(answer));
}

fn acknowledge(socket: &SocketRef, ack: AckSender, reply: &impl Serialize) {
    let reply = match serde_json::value::to_raw_value(reply) {
        Ok(reply) => reply,
        Err(error) => {
            tracing::error!(%error, "cannot serialize an acknowledgement");
            return;
        }
    };
    if session::reply(socket, ack, &reply) == Err(session::Refused::Full) {
        session::cut_off(socket);
    }
}

pub fn unknown_event(event: &str) -> ApiError {
    ApiError::bad_request(format!("unknown event `{event}`"))
}

/// Runs one client event: the gate with the event's scope, then its handler, in its `turn`
/// of the connection's events.
///
/// A send gives up its turn as soon as its message is queued for storage, so a client's
/// pipelined sends share group commits; any other event keeps it until it is answered.
async fn dispatch(
    socket: &SocketRef,
    c: &Context,
    d: &DeviceId,
    event: &str,
    packet: Packet,
    mut turn: Option<Turn>,
    mark_read_on_list: bool,
) -> Result<Answer, ApiError> {
    if event == "message:send" {
        let request: SendRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
        let (message, _) = c
            .conversations
            .send(&*caller_of(socket)?, d, request, Dedup::TempId, turn)
            .await?;
        return Ok(Answer::Message(Box::new(message)));
    }
    if let Some(turn) = &mut turn {
        turn.wait().await;
    }
    match event {
        "message:read" => {
            let r: ReadRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
            let receipt = c.conversations.read(d, r.chat_id, r.message_id).await?;
            Ok(Answer::Json(json!(receipt)))
        }
        "message:react" => {
            let r: ReactRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
            c.conversations.react(d, r.message_id, r.emoji).await?;
            Ok(Answer::done())
        }
        "message:edit" => {
            let r: EditRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
            let message = c.conversations.edit(d, r.message_id, r.text).await?;
            Ok(Answer::Message(Box::new(message)))
        }
        "message:forward" => {
            let r: ForwardRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
            let caller = caller_of(socket)?;
            let (message, _) = c
                .conversations
                .forward(
                    &caller,
                    d,
                    r.message_id,
                    r.chat_id,
                    r.temp_id,
                    Dedup::TempId,
                )
                .await?;
            Ok(Answer::Message(Box::new(message)))
        }
        "poll:vote" => {
            let r: VoteRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
            c.conversations.vote(d, r.message_id, r.options).await?;
            Ok(Answer::done())
        }
        "message:revoke" => {
            let r: MessageRef = admit_as(socket, c, packet, d, event, Scope::Send)?;
            c.conversations.revoke(d, r.message_id).await?;
            Ok(Answer::done())
        }
        "typing:start" | "typing:stop" => {
            let r: ChatRef = admit_as(socket, c, packet, d, event, Scope::Send)?;
            let typing = event == "typing:start";
            c.conversations.typing(d, r.chat_id, typing).await?;
            Ok(Answer::done())
        }
        "chat:open" => {
            let r: OpenChat = admit_as(socket, c, packet, d, event, Scope::Send)?;
            let (chat, _) = c.conversations.open_chat(d, &r.phone).await?;
            Ok(Answer::Chat(Box::new(chat)))
        }
        "chat:archive" => {
            let r: ArchiveRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
            let flags = ChatFlags {
                archived: Some(r.archived),
                ..ChatFlags::default()
            };
            let chat = c.conversations.set_chat_flags(d, r.chat_id, flags).await?;
            Ok(Answer::Chat(Box::new(chat)))
        }
        "chat:update" => {
            let r: ChatUpdateRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
            let flags = ChatFlags {
                archived: r.archived,
                muted: r.muted,
                pinned: r.pinned,
                unread: r.unread,
            };
            let chat = c.conversations.set_chat_flags(d, r.chat_id, flags).await?;
            Ok(Answer::Chat(Box::new(chat)))
        }
        "chat:mute" => {
            let r: MuteRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
            let flags = ChatFlags {
                muted: Some(r.muted),
                ..ChatFlags::default()
            };
            let chat = c.conversations.set_chat_flags(d, r.chat_id, flags).await?;
            Ok(Answer::Chat(Box::new(chat)))
        }
        "group:create" => {
            let r: NewGroup = admit_as(socket, c, packet, d, event, Scope::Send)?;
            let chat = groups::create(&c.conversations, d, r).await?;
            Ok(Answer::Chat(Box::new(chat)))
        }
        "group:get" => {
            let r: ChatRef = admit_as(socket, c, packet, d, event, Scope::Read)?;
            Ok(Answer::Json(json!(
                groups::get(&c.conversations, d, r.chat_id).await?
            )))
        }
        "group:update" => {
            let r: GroupUpdateRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
            let patch = GroupPatch {
                name: r.name,
                description: r.description,
            };
            let chat = groups::update(&c.conversations, d, r.chat_id, patch).await?;
            Ok(Answer::Chat(Box::new(chat)))
        }
        "group:participants" => {
            let r: GroupParticipantsRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
            let change = ParticipantsChange {
                add: r.add,
                remove: r.remove,
                promote: r.promote,
                demote: r.demote,
            };
            let outcomes = groups::participants(&c.conversations, d, r.chat_id, change).await?;
            Ok(Answer::Json(json!(outcomes)))
        }
        "group:invite" => {
            let r: GroupInviteRequest = admit_as(socket, c, packet, d, event, Scope::Read)?;
            if r.revoke {
                caller_of(socket)?.authorize(Scope::Send, Some(d))?;
            }
            let invite = groups::invite(&c.conversations, d, r.chat_id, r.revoke).await?;
            Ok(Answer::Json(json!(invite)))
        }
        "group:leave" => {
            let r: ChatRef = admit_as(socket, c, packet, d, event, Scope::Send)?;
            groups::leave(&c.conversations, d, r.chat_id).await?;
            Ok(Answer::done())
        }
        "chats:list" => {
            let query: ChatsQuery = admit_as(socket, c, packet, d, event, Scope::Read)?;
            Ok(Answer::Chats(c.conversations.chats(d, query).await?))
        }
        "messages:list" => {
            let r: MessagesRequest = admit_as(socket, c, packet, d, event, Scope::Read)?;
            let query = MessagesQuery {
                before: r.before,
                limit: r.limit,
            };
            let page = c
                .conversations
                .messages(d, r.chat_id.clone(), query)
                .await?;
            if mark_read_on_list {
                c.conversations.mark_read_on_list(d, r.chat_id).await;
            }
            Ok(Answer::Messages(page))
        }
        "chat:join" | "chat:leave" => {
            let r: ChatRef = admit_as(socket, c, packet, d, event, Scope::Read)?;
            let rooms = Rooms::of(socket);
            let room = match event {
                "chat:join" => rooms.join(r.chat_id)?,
                _ => rooms.leave(r.chat_id)?,
            };
            Ok(Answer::Json(json!(room)))
        }
        "presence:get" => {
            let query: PresenceQuery = admit_as(socket, c, packet, d, event, Scope::Read)?;
            Ok(Answer::Json(json!(
                c.conversations.presence(d, query).await?
            )))
        }
        "notification:read" => {
            let r: NotificationsRequest = admit_as(socket, c, packet, d, event, Scope::Send)?;
            c.conversations.read_notifications(d, r.which()?).await?;
            Ok(Answer::done())
        }
        "pairing:code" => {
            let r: PairingCodeRequest = admit_as(socket, c, packet, d, event, Scope::Control)?;
            Ok(Answer::Json(json!(
                c.conversations.pairing_code(d, r).await?
            )))
        }
        unknown => {
            admit(socket, c, packet, Some(d), Scope::Read)?;
            Err(unknown_event(unknown))
        }
    }
}

#[cfg(test)]
mod fuzz;
