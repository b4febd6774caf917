//! Rooms: the chats a socket of `/device/<id>` joined, with `chat:join` / `chat:leave` or
//! by naming them in its handshake (`auth.chats`). A socket that joined chats is sent the
//! chat-scoped events (a message, its acks, statuses, receipts, revocation and reactions,
//! typing, the chat's updates) of those chats only; one that joined none is sent them all.
//! Every other event (`state`, `qr`, `contact:update`, `notification`, …) is about the device
//! and reaches every socket.
//!
//! A socket's chats are kept here, shared between the socket's event handlers, which change
//! them, and the device's fanout and replay, which read them for every event. They are not
//! socketioxide rooms: the fanout delivers to each socket itself (in `seq` order, with its
//! own backpressure), so an adapter's rooms would be a second copy of the same set. The ack's
//! `room` (`chat:<chatId>`) names the room for clients that think in rooms.
//!
//! A chat that does not exist (yet) may be joined: a client may join before the chat's first
//! message (a chat about to be opened, a group the upstream reports with its first message),
//! and a socket that joined chats does not hear of other chats being created, so it could not
//! learn when to try again; checking would also cost a store read in every handshake that
//! names chats. A chat id is checked for its form only.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use serde::{Deserialize, Serialize};
use socketioxide::extract::SocketRef;

use crate::api::error::ApiError;
use crate::messaging::check_id;
use crate::model::event::{EventKind, JournaledEvent};

/// The chats one socket joined. Cloning shares them.
#[derive(Clone, Default)]
pub(super) struct Rooms(Arc<Joined>);

#[derive(Default)]
struct Joined {
    /// Whether any chat is joined: read for every event and socket, so that a socket that
    /// joined nothing (the common case) costs the fanout one load and no parsing.
    any: AtomicBool,
    chats: RwLock<Chats>,
}

#[derive(Default)]
struct Chats {
    ids: HashSet<String>,
    /// The bytes of `ids`, held to a budget: a client cannot make the daemon keep a set of
    /// any size.
    bytes: usize,
    budget: usize,
}

/// What joining or leaving a chat answers.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub(super) struct Room {
    chat_id: String,
    room: String,
}

impl Rooms {
    /// A socket's rooms, starting with `chats` (its handshake's `auth.chats`), whose ids may
    /// take `budget` bytes in all: `limits.max_message_bytes`, so that a client can always
    /// join, one event at a time, as many chats as one packet could name. The error says why
    /// they were refused.
    pub(super) fn new(chats: Vec<String>, budget: usize) -> Result<Self, String> {
        let rooms = Rooms::default();
        rooms.0.chats.write().expect("rooms lock").budget = budget;
        for chat in chats {
            rooms.join(chat).map_err(|error| error.message)?;
        }
        Ok(rooms)
    }

    /// The rooms of `socket` (none for a socket of the root namespace).
    pub(super) fn of(socket: &SocketRef) -> Self {
        socket.extensions.get::<Rooms>().unwrap_or_default()
    }

    pub(super) fn join(&self, chat_id: String) -> Result<Room, ApiError> {
        check_id("chatId", &chat_id)?;
        let mut chats = self.0.chats.write().expect("rooms lock");
        if !chats.ids.contains(&chat_id) {
            if chats.bytes + chat_id.len() > chats.budget {
                return Err(ApiError::bad_request(format!(
                    "the ids of the chats joined may take {} bytes in all; leave some first",
                    chats.budget
                )));
            }
            chats.bytes += chat_id.len();
            chats.ids.insert(chat_id.clone());
            self.0.any.store(true, Ordering::Release);
        }
        Ok(Room::of(chat_id))
    }

    /// Leaves `chat_id`; leaving a chat not joined changes nothing and is answered the same.
    pub(super) fn leave(&self, chat_id: String) -> Result<Room, ApiError> {
        check_id("chatId", &chat_id)?;
        let mut chats = self.0.chats.write().expect("rooms lock");
        if chats.ids.remove(&chat_id) {
            chats.bytes -= chat_id.len();
            self.0.any.store(!chats.ids.is_empty(), Ordering::Release);
        }
        Ok(Room::of(chat_id))
    }

    /// Whether the socket is sent `event`: it joined no chat, the event is not about one,
    /// or it is about a joined chat. An event about a chat that does not say which (a
    /// `message:status` journaled before statuses named their chat) is sent: a filter that
    /// cannot decide does not drop.
    pub(super) fn admit(&self, event: &Subject<'_>) -> bool {
        if !self.0.any.load(Ordering::Acquire) {
            return true;
        }
        match event.chat() {
            Some(chat) => self.0.chats.read().expect("rooms lock").ids.contains(chat),
            None => true,
        }
    }
}

impl Room {
    fn of(chat_id: String) -> Self {
        let room = format!("chat:{chat_id}");
        Room { chat_id, room }
    }
}

/// Where a chat-scoped event's payload names its chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChatField {
    /// `chatId`: messages and everything about them, typing.
    ChatId,
    /// `id`: `chat:update`, whose payload is the `Chat`.
    Id,
}

/// Which field names the chat of events of `kind`, or `None` for events about the device as a
/// whole. A notification names a chat too, but it is the device's alert, and a dashboard
/// that shows one chat still shows that another one has news.
fn chat_field(kind: EventKind) -> Option<ChatField> {
    match kind {
        EventKind::Message
        | EventKind::MessageAck
        | EventKind::MessageStatus
        | EventKind::MessageRead
        | EventKind::MessageRevoked
        | EventKind::MessageReaction
        | EventKind::TypingStart
        | EventKind::TypingStop
        | EventKind::PollVote
        | EventKind::MessageEdited
        | EventKind::GroupUpdate => Some(ChatField::ChatId),
        EventKind::ChatUpdate => Some(ChatField::Id),
        EventKind::State
        | EventKind::Qr
        | EventKind::Authenticated
        | EventKind::Ready
        | EventKind::Disconnected
        | EventKind::ConnectionStatus
        | EventKind::ContactUpdate
        | EventKind::Notification
        | EventKind::NotificationRead
        | EventKind::StatusNew
        | EventKind::ChatMerged
        | EventKind::PairingCode
        | EventKind::DeviceHealth
        | EventKind::LimitWarning => None,
    }
}

/// The two places a chat's id may be in a payload; serde skips everything else, nested
/// objects (a `chat:update`'s last message) included.
#[derive(Deserialize)]
struct ChatNamed {
    #[serde(default, rename = "chatId")]
    chat_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

/// One event as the sockets' rooms see it: its chat is read from the payload the first time
/// a socket that joined chats asks, and only then, once for all the sockets it goes to.
pub(super) struct Subject<'e> {
    event: &'e JournaledEvent,
    field: Option<ChatField>,
    chat: OnceLock<Option<String>>,
}

impl<'e> Subject<'e> {
    pub(super) fn new(event: &'e JournaledEvent) -> Self {
        Subject {
            event,
            field: chat_field(event.kind),
            chat: OnceLock::new(),
        }
    }

    pub(super) fn event(&self) -> &'e JournaledEvent {
        self.event
    }

    /// The chat the event is about, if it is about one and says which.
    fn chat(&self) -> Option<&str> {
        let field = self.field?;
        self.chat
            .get_or_init(|| {
                let named: ChatNamed = serde_json::from_str(self.event.payload.get()).ok()?;
                match field {
                    ChatField::ChatId => named.chat_id,
                    ChatField::Id => named.id,
                }
            })
            .as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeviceId;

    /// Every event the device journals, and whether (and by which field) it is about a chat.
    const SCOPES: [(&str, Option<ChatField>); 26] = [
        ("state", None),
        ("qr", None),
        ("authenticated", None),
        ("ready", None),
        ("disconnected", None),
        ("connection:status", None),
        ("message", Some(ChatField::ChatId)),
        ("message:ack", Some(ChatField::ChatId)),
        ("message:status", Some(ChatField::ChatId)),
        ("message:read", Some(ChatField::ChatId)),
        ("message:revoked", Some(ChatField::ChatId)),
        ("message:reaction", Some(ChatField::ChatId)),
        ("typing:start", Some(ChatField::ChatId)),
        ("typing:stop", Some(ChatField::ChatId)),
        ("chat:update", Some(ChatField::Id)),
        ("contact:update", None),
        ("notification", None),
        ("notification:read", None),
        ("status:new", None),
        ("poll:vote", Some(ChatField::ChatId)),
        ("message:edited", Some(ChatField::ChatId)),
        ("chat:merged", None),
        ("pairing:code", None),
        ("group:update", Some(ChatField::ChatId)),
        ("device:health", None),
        ("limit:warning", None),
    ];

    #[test]
    fn each_event_is_about_a_chat_or_about_the_device() {
        for (name, field) in SCOPES {
            assert_eq!(chat_field(name.parse().unwrap()), field, "{name}");
        }
        let table: Vec<&str> = SCOPES.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            table,
            EventKind::ALL.map(EventKind::as_str),
            "a new event needs its scope decided here"
        );
    }

    fn event(name: &str, payload: &str) -> JournaledEvent {
        JournaledEvent {
            device_id: DeviceId::parse("demo").unwrap(),
            seq: 1,
            at: "2026-01-02T03:04:05.678Z".into(),
            kind: name.parse().unwrap(),
            payload: serde_json::value::RawValue::from_string(payload.into()).unwrap(),
            remote: false,
        }
    }

    fn rooms(chats: &[&str]) -> Rooms {
        Rooms::new(chats.iter().map(|c| c.to_string()).collect(), 1000).unwrap()
    }

    #[test]
    fn a_socket_in_rooms_gets_its_chats_events_and_the_devices() {
        let alice = rooms(&["alice@c.us"]);
        let admits = |name: &str, payload: &str| alice.admit(&Subject::new(&event(name, payload)));
        assert!(admits("message", r#"{"id":"msg_1","chatId":"alice@c.us"}"#));
        assert!(!admits("message", r#"{"id":"msg_2","chatId":"bob@c.us"}"#));
        assert!(admits(
            "message:status",
            r#"{"messageId":"m","chatId":"alice@c.us"}"#
        ));
        assert!(!admits(
            "typing:start",
            r#"{"chatId":"bob@c.us","contactId":"bob@c.us"}"#
        ));
        // A chat's update names it by `id`, and its last message's `id` is not the chat's.
        assert!(admits(
            "chat:update",
            r#"{"lastMessage":{"id":"bob@c.us","chatId":"bob@c.us"},"id":"alice@c.us"}"#
        ));
        assert!(!admits(
            "chat:update",
            r#"{"id":"bob@c.us","lastMessage":{"chatId":"alice@c.us"}}"#
        ));
        // About the device, or about a chat without saying which: sent.
        assert!(admits("notification", r#"{"chatId":"bob@c.us"}"#));
        assert!(admits("state", r#"{"state":"ready"}"#));
        assert!(admits("message:status", r#"{"messageId":"m"}"#));
    }

    #[test]
    fn a_socket_without_rooms_gets_everything_and_no_payload_is_read() {
        let none = Rooms::default();
        let message = event("message", r#"{"chatId":"bob@c.us"}"#);
        let subject = Subject::new(&message);
        assert!(none.admit(&subject));
        assert!(subject.chat.get().is_none(), "the payload was parsed");
    }

    #[test]
    fn leaving_every_chat_is_joining_none() {
        let rooms = rooms(&["alice@c.us"]);
        let bob = event("message", r#"{"chatId":"bob@c.us"}"#);
        assert!(!rooms.admit(&Subject::new(&bob)));
        rooms.leave("alice@c.us".into()).unwrap();
        rooms.leave("never-joined@c.us".into()).unwrap();
        assert!(rooms.admit(&Subject::new(&bob)));
    }

    #[test]
    fn joined_ids_are_held_to_their_budget_and_checked_for_form() {
        let rooms = Rooms::new(vec!["a".repeat(60)], 100).unwrap();
        // Joining again takes nothing more.
        rooms.join("a".repeat(60)).unwrap();
        let refused = rooms.join("b".repeat(41)).unwrap_err();
        assert!(refused.message.contains("100 bytes"), "{refused:?}");
        rooms.join("b".repeat(40)).unwrap();
        rooms.leave("a".repeat(60)).unwrap();
        rooms.join("c".repeat(60)).unwrap();
        assert!(rooms.join(String::new()).is_err());
        assert!(Rooms::new(vec!["x".repeat(101)], 100).is_err());
        let answer = Rooms::new(vec![], 100).unwrap().join("alice@c.us".into());
        let answer = serde_json::to_value(answer.unwrap()).unwrap();
        assert_eq!(
            answer,
            serde_json::json!({ "chatId": "alice@c.us", "room": "chat:alice@c.us" })
        );
    }
}
