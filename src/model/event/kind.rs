//! The kinds of events: what each one is called on the wire and numbered in the journal.

use std::fmt;
use std::str::FromStr;

/// What kind of thing happened to a device: one kind for each variant of
/// [`EventData`](super::EventData).
///
/// Its wire name ([`EventKind::as_str`]) is at once its Socket.IO event name, its webhook
/// `type` and what webhook subscriptions and hooks name. Its number
/// ([`EventKind::number`], the discriminant, counted from 1) is what a journal row keeps
/// instead of the name: rows keep it forever, so a kind's number never changes and a new kind
/// goes at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventKind {
    State = 1,
    Qr,
    Authenticated,
    Ready,
    Disconnected,
    ConnectionStatus,
    Message,
    MessageAck,
    MessageStatus,
    MessageRead,
    MessageRevoked,
    MessageReaction,
    TypingStart,
    TypingStop,
    ChatUpdate,
    ContactUpdate,
    Notification,
    NotificationRead,
    StatusNew,
    PollVote,
    MessageEdited,
    ChatMerged,
    PairingCode,
    GroupUpdate,
    DeviceHealth,
    LimitWarning,
}

impl EventKind {
    /// Every kind, in the order of their numbers.
    pub const ALL: [EventKind; 26] = [
        EventKind::State,
        EventKind::Qr,
        EventKind::Authenticated,
        EventKind::Ready,
        EventKind::Disconnected,
        EventKind::ConnectionStatus,
        EventKind::Message,
        EventKind::MessageAck,
        EventKind::MessageStatus,
        EventKind::MessageRead,
        EventKind::MessageRevoked,
        EventKind::MessageReaction,
        EventKind::TypingStart,
        EventKind::TypingStop,
        EventKind::ChatUpdate,
        EventKind::ContactUpdate,
        EventKind::Notification,
        EventKind::NotificationRead,
        EventKind::StatusNew,
        EventKind::PollVote,
        EventKind::MessageEdited,
        EventKind::ChatMerged,
        EventKind::PairingCode,
        EventKind::GroupUpdate,
        EventKind::DeviceHealth,
        EventKind::LimitWarning,
    ];

    /// The wire name: Socket.IO event, webhook `type`, journal `name`.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::State => "state",
            EventKind::Qr => "qr",
            EventKind::Authenticated => "authenticated",
            EventKind::Ready => "ready",
            EventKind::Disconnected => "disconnected",
            EventKind::ConnectionStatus => "connection:status",
            EventKind::Message => "message",
            EventKind::MessageAck => "message:ack",
            EventKind::MessageStatus => "message:status",
            EventKind::MessageRead => "message:read",
            EventKind::MessageRevoked => "message:revoked",
            EventKind::MessageReaction => "message:reaction",
            EventKind::TypingStart => "typing:start",
            EventKind::TypingStop => "typing:stop",
            EventKind::ChatUpdate => "chat:update",
            EventKind::ContactUpdate => "contact:update",
            EventKind::Notification => "notification",
            EventKind::NotificationRead => "notification:read",
            EventKind::StatusNew => "status:new",
            EventKind::PollVote => "poll:vote",
            EventKind::MessageEdited => "message:edited",
            EventKind::ChatMerged => "chat:merged",
            EventKind::PairingCode => "pairing:code",
            EventKind::GroupUpdate => "group:update",
            EventKind::DeviceHealth => "device:health",
            EventKind::LimitWarning => "limit:warning",
        }
    }

    /// Whether events of this kind carry a live code that links a phone to the device (a QR
    /// code, a code to type on a phone): whoever sees one can take the device over, so only
    /// a credential that may control the device is shown them.
    pub const fn carries_linking_code(self) -> bool {
        matches!(self, EventKind::Qr | EventKind::PairingCode)
    }

    /// The number a journal row keeps for this kind: one byte where the name was ~10.
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// The kind numbered `number`; `None` for a number this build does not know (a kind a
    /// newer build added).
    pub fn from_number(number: i64) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|kind| i64::from(kind.number()) == number)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = UnknownEvent;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| UnknownEvent(name.to_owned()))
    }
}

/// A name that is no event's, as a user wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event {0:?}; known events: {names}", names = known_names())]
pub struct UnknownEvent(pub String);

/// Every kind's wire name, for a message that lists them.
fn known_names() -> String {
    EventKind::ALL.map(EventKind::as_str).join(", ")
}

/// What a subscriber names among events (webhook subscriptions' `events`): a kind, or `*`
/// for every one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventPattern {
    /// `*`.
    Every,
    Kind(EventKind),
    /// A name this build does not know, as stored: a kind a newer build added. It selects
    /// nothing here, and is kept so that saving the subscription again does not lose it.
    Unknown(String),
}

impl EventPattern {
    /// Reads a name as a user wrote it: `*` or a kind's, nothing else.
    pub fn parse(name: &str) -> Result<Self, UnknownEvent> {
        match name {
            "*" => Ok(EventPattern::Every),
            name => name.parse().map(EventPattern::Kind),
        }
    }

    /// Reads a name as it was stored, by this build or a newer one.
    pub fn stored(name: String) -> Self {
        EventPattern::parse(&name).unwrap_or(EventPattern::Unknown(name))
    }

    /// Whether it selects events of `kind`.
    pub fn matches(&self, kind: EventKind) -> bool {
        match self {
            EventPattern::Every => true,
            EventPattern::Kind(named) => *named == kind,
            EventPattern::Unknown(_) => false,
        }
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        match self {
            EventPattern::Every => "*",
            EventPattern::Kind(kind) => kind.as_str(),
            EventPattern::Unknown(name) => name,
        }
    }
}

/// Stored and shown as the name it was written as.
impl serde::Serialize for EventPattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind's number and name, forever: journal rows keep the number, clients and
    /// subscriptions the name. A kind's number never changes; a new kind goes at the end.
    const KINDS: [(EventKind, u8, &str); 26] = [
        (EventKind::State, 1, "state"),
        (EventKind::Qr, 2, "qr"),
        (EventKind::Authenticated, 3, "authenticated"),
        (EventKind::Ready, 4, "ready"),
        (EventKind::Disconnected, 5, "disconnected"),
        (EventKind::ConnectionStatus, 6, "connection:status"),
        (EventKind::Message, 7, "message"),
        (EventKind::MessageAck, 8, "message:ack"),
        (EventKind::MessageStatus, 9, "message:status"),
        (EventKind::MessageRead, 10, "message:read"),
        (EventKind::MessageRevoked, 11, "message:revoked"),
        (EventKind::MessageReaction, 12, "message:reaction"),
        (EventKind::TypingStart, 13, "typing:start"),
        (EventKind::TypingStop, 14, "typing:stop"),
        (EventKind::ChatUpdate, 15, "chat:update"),
        (EventKind::ContactUpdate, 16, "contact:update"),
        (EventKind::Notification, 17, "notification"),
        (EventKind::NotificationRead, 18, "notification:read"),
        (EventKind::StatusNew, 19, "status:new"),
        (EventKind::PollVote, 20, "poll:vote"),
        (EventKind::MessageEdited, 21, "message:edited"),
        (EventKind::ChatMerged, 22, "chat:merged"),
        (EventKind::PairingCode, 23, "pairing:code"),
        (EventKind::GroupUpdate, 24, "group:update"),
        (EventKind::DeviceHealth, 25, "device:health"),
        (EventKind::LimitWarning, 26, "limit:warning"),
    ];

    #[test]
    fn each_kind_keeps_its_number_and_name() {
        assert_eq!(KINDS.map(|(kind, _, _)| kind), EventKind::ALL);
        for (kind, number, name) in KINDS {
            assert_eq!(kind.number(), number, "{kind:?}");
            assert_eq!(kind.as_str(), name, "{kind:?}");
            assert_eq!(kind.to_string(), name);
            assert_eq!(EventKind::from_number(number.into()), Some(kind));
            assert_eq!(name.parse(), Ok(kind));
        }
    }

    #[test]
    fn only_qr_codes_and_codes_for_phones_carry_a_linking_code() {
        let carrying: Vec<&str> = EventKind::ALL
            .into_iter()
            .filter(|kind| kind.carries_linking_code())
            .map(EventKind::as_str)
            .collect();
        assert_eq!(carrying, ["qr", "pairing:code"]);
    }

    #[test]
    fn numbers_and_names_of_no_kind_are_refused() {
        assert_eq!(EventKind::from_number(0), None);
        assert_eq!(
            EventKind::from_number(EventKind::ALL.len() as i64 + 1),
            None
        );
        let unknown = "mesage".parse::<EventKind>().unwrap_err();
        assert_eq!(unknown, UnknownEvent("mesage".into()));
        assert!(unknown
            .to_string()
            .starts_with("unknown event \"mesage\"; known events: state, qr, authenticated, "));
    }

    #[test]
    fn patterns_select_their_kind_every_kind_or_none() {
        let ack = EventPattern::parse("message:ack").unwrap();
        assert!(ack.matches(EventKind::MessageAck) && !ack.matches(EventKind::Message));
        let every = EventPattern::parse("*").unwrap();
        assert!(EventKind::ALL.into_iter().all(|kind| every.matches(kind)));
        assert!(EventPattern::parse("call:missed").is_err());
        let newer = EventPattern::stored("call:missed".into());
        assert!(!EventKind::ALL.into_iter().any(|kind| newer.matches(kind)));
        for name in ["*", "message:ack", "call:missed"] {
            assert_eq!(EventPattern::stored(name.into()).as_str(), name);
        }
    }
}
