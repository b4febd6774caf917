//! The one vocabulary of things that happen to a device.
//!
//! Every variant's wire name is at once its Socket.IO event name, its webhook `type` and its
//! journal `name`, so a dashboard, an integration and a resyncing client all read the same words.
//! Producers build a typed [`EventData`]; once journaled it becomes a [`JournaledEvent`] (name +
//! JSON), which is all the sinks need.

use chrono::Utc;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::ids::DeviceId;
use super::message::{Chat, Contact, Message};
use super::time::rfc3339;

/// The account a linked device speaks as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Me {
    pub id: String,
    pub name: String,
}

/// Every event's wire name, in the order of [`EventData`]'s variants: what webhook
/// subscriptions and hook triggers may name.
pub const EVENT_NAMES: [&str; 18] = [
    "state",
    "qr",
    "authenticated",
    "ready",
    "disconnected",
    "connection:status",
    "message",
    "message:ack",
    "message:status",
    "message:read",
    "message:revoked",
    "message:reaction",
    "typing:start",
    "typing:stop",
    "chat:update",
    "contact:update",
    "notification",
    "notification:read",
];

/// What happened, with the payload fields clients rely on (`deviceId`, `seq` and `at` are added
/// when the event is journaled).
///
/// Its serialized form is the payload's own fields; its wire name is [`EventData::name`].
#[derive(Debug, Clone, Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum EventData {
    State {
        state: &'static str,
        previous: &'static str,
        reason: Option<String>,
    },
    Qr {
        qr: String,
        image: String,
        expires_at: String,
        attempt: u32,
        max_attempts: u32,
    },
    Authenticated {},
    Ready {
        me: Me,
    },
    Disconnected {
        reason: String,
    },
    ConnectionStatus {
        upstream: &'static str,
        latency_ms: Option<u64>,
    },
    Message(Message),
    MessageAck {
        message_id: String,
        upstream_id: Option<String>,
        chat_id: String,
        ack: i64,
        ack_name: &'static str,
    },
    /// `chatId` is more than the contract's fields: a socket that joined chats is sent the
    /// statuses of their messages only, and finds the chat here.
    MessageStatus {
        message_id: String,
        chat_id: String,
        status: &'static str,
        attempt: u32,
        error: Option<String>,
    },
    MessageRead {
        chat_id: String,
        message_ids: Vec<String>,
        read_by: String,
    },
    MessageRevoked {
        chat_id: String,
        message_id: String,
    },
    MessageReaction {
        chat_id: String,
        message_id: String,
        from: String,
        emoji: String,
    },
    TypingStart {
        chat_id: String,
        contact_id: String,
    },
    TypingStop {
        chat_id: String,
        contact_id: String,
    },
    ChatUpdate(Chat),
    ContactUpdate(Contact),
    Notification {
        id: String,
        kind: &'static str,
        title: String,
        body: String,
        chat_id: Option<String>,
        message_id: Option<String>,
    },
    NotificationRead {
        ids: Vec<String>,
    },
}

impl EventData {
    /// `typing:start` or `typing:stop`.
    pub fn typing(chat_id: String, contact_id: String, typing: bool) -> Self {
        if typing {
            EventData::TypingStart {
                chat_id,
                contact_id,
            }
        } else {
            EventData::TypingStop {
                chat_id,
                contact_id,
            }
        }
    }

    /// The wire name: Socket.IO event, webhook `type` and journal `name`.
    pub fn name(&self) -> &'static str {
        match self {
            EventData::State { .. } => "state",
            EventData::Qr { .. } => "qr",
            EventData::Authenticated {} => "authenticated",
            EventData::Ready { .. } => "ready",
            EventData::Disconnected { .. } => "disconnected",
            EventData::ConnectionStatus { .. } => "connection:status",
            EventData::Message(_) => "message",
            EventData::MessageAck { .. } => "message:ack",
            EventData::MessageStatus { .. } => "message:status",
            EventData::MessageRead { .. } => "message:read",
            EventData::MessageRevoked { .. } => "message:revoked",
            EventData::MessageReaction { .. } => "message:reaction",
            EventData::TypingStart { .. } => "typing:start",
            EventData::TypingStop { .. } => "typing:stop",
            EventData::ChatUpdate(_) => "chat:update",
            EventData::ContactUpdate(_) => "contact:update",
            EventData::Notification { .. } => "notification",
            EventData::NotificationRead { .. } => "notification:read",
        }
    }

    /// Whether the payload's own fields already hold `deviceId` (the models do).
    fn carries_device_id(&self) -> bool {
        matches!(
            self,
            EventData::Message(_) | EventData::ChatUpdate(_) | EventData::ContactUpdate(_)
        )
    }
}

/// What clients receive for an event: its fields, then `deviceId`, `seq` and `at`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(flatten)]
    fields: &'a EventData,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<&'a str>,
    seq: u64,
    at: &'a str,
}

/// An event as stored in a device's journal and delivered to every sink.
///
/// The payload is serialized once, when the event is journaled, and that same JSON text is
/// stored, emitted to every socket and wrapped into webhook bodies.
#[derive(Debug, Clone)]
pub struct JournaledEvent {
    pub device_id: DeviceId,
    pub seq: u64,
    /// When it was journaled, in RFC 3339 as on the wire: every sink only ever prints it.
    pub at: String,
    pub name: String,
    /// The payload as clients see it: the event's fields plus `deviceId`, `seq` and `at`.
    pub payload: Box<RawValue>,
}

impl JournaledEvent {
    /// Journals `data` as event `seq` of `device`, now.
    pub fn new(device_id: DeviceId, seq: u64, data: &EventData) -> serde_json::Result<Self> {
        let at = rfc3339(Utc::now());
        let payload = serde_json::value::to_raw_value(&Payload {
            fields: data,
            device_id: (!data.carries_device_id()).then_some(device_id.as_str()),
            seq,
            at: &at,
        })?;
        Ok(JournaledEvent {
            device_id,
            seq,
            at,
            name: data.name().to_owned(),
            payload,
        })
    }

    /// The payload parsed, for sinks that look into an event's fields.
    pub fn fields(&self) -> Value {
        serde_json::from_str(self.payload.get()).unwrap_or_default()
    }

    /// The event as pull consumers and webhooks receive it: `{ type, deviceId, seq, at, data }`,
    /// `data` being the payload.
    pub fn envelope(&self) -> Envelope<'_> {
        Envelope {
            r#type: &self.name,
            device_id: self.device_id.as_str(),
            seq: self.seq,
            at: &self.at,
            data: &self.payload,
        }
    }
}

/// See [`JournaledEvent::envelope`].
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(
    description = "An event as pull consumers and webhooks receive it: `data` is its payload, as on Socket.IO."
)]
pub struct Envelope<'a> {
    #[schema(example = "message")]
    r#type: &'a str,
    #[schema(value_type = DeviceId)]
    device_id: &'a str,
    seq: u64,
    #[schema(format = DateTime)]
    at: &'a str,
    #[schema(value_type = Object)]
    data: &'a RawValue,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journaled(data: &EventData) -> Value {
        let event = JournaledEvent::new(DeviceId::parse("demo").unwrap(), 7, data).unwrap();
        let mut fields = event.fields();
        assert_eq!(fields["at"], event.at);
        fields.as_object_mut().unwrap().remove("at");
        fields
    }

    #[test]
    fn wire_names_and_camel_case_fields() {
        let status = EventData::ConnectionStatus {
            upstream: "connected",
            latency_ms: Some(3),
        };
        assert_eq!(status.name(), "connection:status");
        assert_eq!(
            journaled(&status),
            serde_json::json!({"upstream": "connected", "latencyMs": 3, "deviceId": "demo", "seq": 7})
        );
        assert_eq!(
            journaled(&EventData::Authenticated {}),
            serde_json::json!({"deviceId": "demo", "seq": 7})
        );
    }

    #[test]
    fn every_wire_name_is_listed() {
        let samples = [
            EventData::State {
                state: "ready",
                previous: "authenticated",
                reason: None,
            },
            EventData::Authenticated {},
            EventData::Disconnected { reason: "x".into() },
            EventData::MessageRevoked {
                chat_id: "c".into(),
                message_id: "m".into(),
            },
            EventData::typing("c".into(), "k".into(), true),
            EventData::typing("c".into(), "k".into(), false),
            EventData::NotificationRead { ids: vec![] },
        ];
        for sample in samples {
            let name = sample.name();
            assert!(EVENT_NAMES.contains(&name), "{name} is not listed");
        }
        let unique: std::collections::HashSet<_> = EVENT_NAMES.iter().collect();
        assert_eq!(unique.len(), EVENT_NAMES.len());
    }

    #[test]
    fn a_model_keeps_its_own_device_id_once() {
        let message = Message {
            id: "msg_1".into(),
            upstream_id: None,
            device_id: "demo".into(),
            chat_id: "c".into(),
            from: "me".into(),
            from_me: true,
            kind: "text".into(),
            body: "hi".into(),
            media: None,
            reply_to: None,
            timestamp: "2026-01-02T03:04:05.678Z".into(),
            ack: 0,
            ack_name: "pending",
            temp_id: None,
            revoked: false,
            template: None,
        };
        let event = JournaledEvent::new(
            DeviceId::parse("demo").unwrap(),
            3,
            &EventData::Message(message),
        )
        .unwrap();
        assert_eq!(event.payload.get().matches("\"deviceId\"").count(), 1);
        assert_eq!(
            (&event.fields()["deviceId"], &event.fields()["seq"]),
            (&Value::from("demo"), &Value::from(3))
        );
    }

    #[test]
    fn envelope_wraps_the_payload() {
        let event = JournaledEvent::new(
            DeviceId::parse("demo").unwrap(),
            7,
            &EventData::Disconnected {
                reason: "connection_lost".into(),
            },
        )
        .unwrap();
        let envelope = serde_json::to_value(event.envelope()).unwrap();
        assert_eq!(
            envelope,
            serde_json::json!({
                "type": "disconnected",
                "deviceId": "demo",
                "seq": 7,
                "at": event.at,
                "data": {"reason": "connection_lost", "deviceId": "demo", "seq": 7, "at": event.at},
            })
        );
    }
}
