//! The one vocabulary of things that happen to a device.
//!
//! Every variant's wire name is at once its Socket.IO event name, its webhook `type` and its
//! journal `name`, so a dashboard, an integration and a resyncing client all read the same words.
//! Producers build a typed [`EventData`]; once journaled it becomes a [`JournaledEvent`] (name +
//! JSON), which is all the sinks need.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::device::DeviceId;
use crate::messaging::{Chat, Contact, Message};

/// The account a linked device speaks as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", content = "data", rename_all_fields = "camelCase")]
pub enum EventData {
    #[serde(rename = "state")]
    State {
        state: &'static str,
        previous: &'static str,
        reason: Option<String>,
    },
    #[serde(rename = "qr")]
    Qr {
        qr: String,
        image: String,
        expires_at: String,
        attempt: u32,
        max_attempts: u32,
    },
    #[serde(rename = "authenticated")]
    Authenticated {},
    #[serde(rename = "ready")]
    Ready { me: Me },
    #[serde(rename = "disconnected")]
    Disconnected { reason: String },
    #[serde(rename = "connection:status")]
    ConnectionStatus {
        upstream: &'static str,
        latency_ms: Option<u64>,
    },
    #[serde(rename = "message")]
    Message(Message),
    #[serde(rename = "message:ack")]
    MessageAck {
        message_id: String,
        upstream_id: Option<String>,
        chat_id: String,
        ack: i64,
        ack_name: &'static str,
    },
    #[serde(rename = "message:status")]
    MessageStatus {
        message_id: String,
        status: &'static str,
        attempt: u32,
        error: Option<String>,
    },
    #[serde(rename = "message:read")]
    MessageRead {
        chat_id: String,
        message_ids: Vec<String>,
        read_by: String,
    },
    #[serde(rename = "message:revoked")]
    MessageRevoked { chat_id: String, message_id: String },
    #[serde(rename = "message:reaction")]
    MessageReaction {
        chat_id: String,
        message_id: String,
        from: String,
        emoji: String,
    },
    #[serde(rename = "typing:start")]
    TypingStart { chat_id: String, contact_id: String },
    #[serde(rename = "typing:stop")]
    TypingStop { chat_id: String, contact_id: String },
    #[serde(rename = "chat:update")]
    ChatUpdate(Chat),
    #[serde(rename = "contact:update")]
    ContactUpdate(Contact),
    #[serde(rename = "notification")]
    Notification {
        id: String,
        kind: &'static str,
        title: String,
        body: String,
        chat_id: Option<String>,
        message_id: Option<String>,
    },
    #[serde(rename = "notification:read")]
    NotificationRead { ids: Vec<String> },
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

    /// Splits the event into its wire name and payload object.
    pub fn into_parts(self) -> (String, Value) {
        let Value::Object(mut tagged) = serde_json::to_value(self).expect("events serialize")
        else {
            unreachable!("an adjacently tagged enum serializes to an object")
        };
        let name = match tagged.remove("event") {
            Some(Value::String(name)) => name,
            _ => unreachable!("every variant is renamed to a string"),
        };
        let data = tagged.remove("data").unwrap_or(Value::Object(Map::new()));
        (name, data)
    }
}

/// An event as stored in a device's journal and delivered to every sink.
#[derive(Debug, Clone, PartialEq)]
pub struct JournaledEvent {
    pub device_id: DeviceId,
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub name: String,
    pub data: Value,
}

impl JournaledEvent {
    /// The payload as clients see it: the event's fields plus `deviceId`, `seq` and `at`.
    pub fn payload(&self) -> Value {
        let mut object = match &self.data {
            Value::Object(map) => map.clone(),
            other => {
                let mut map = Map::new();
                map.insert("value".into(), other.clone());
                map
            }
        };
        object.insert("deviceId".into(), Value::String(self.device_id.to_string()));
        object.insert("seq".into(), Value::from(self.seq));
        object.insert("at".into(), Value::String(rfc3339(self.at)));
        Value::Object(object)
    }
}

impl JournaledEvent {
    /// The event as pull consumers and webhooks receive it: `{ type, deviceId, seq, at, data }`,
    /// `data` being the payload.
    pub fn envelope(&self) -> Value {
        let payload = self.payload();
        serde_json::json!({
            "type": self.name,
            "deviceId": payload["deviceId"],
            "seq": self.seq,
            "at": payload["at"],
            "data": payload,
        })
    }
}

/// RFC 3339 UTC with millisecond precision, the one timestamp format on the wire.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_and_camel_case_fields() {
        let (name, data) = EventData::ConnectionStatus {
            upstream: "connected",
            latency_ms: Some(3),
        }
        .into_parts();
        assert_eq!(name, "connection:status");
        assert_eq!(
            data,
            serde_json::json!({"upstream": "connected", "latencyMs": 3})
        );
        let (name, data) = EventData::Authenticated {}.into_parts();
        assert_eq!(
            (name.as_str(), data),
            ("authenticated", serde_json::json!({}))
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
            let (name, _) = sample.into_parts();
            assert!(EVENT_NAMES.contains(&name.as_str()), "{name} is not listed");
        }
        let unique: std::collections::HashSet<_> = EVENT_NAMES.iter().collect();
        assert_eq!(unique.len(), EVENT_NAMES.len());
    }

    #[test]
    fn payload_carries_device_seq_and_time() {
        let event = JournaledEvent {
            device_id: DeviceId::parse("demo").unwrap(),
            seq: 7,
            at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
                .unwrap()
                .into(),
            name: "disconnected".into(),
            data: serde_json::json!({"reason": "connection_lost"}),
        };
        assert_eq!(
            event.payload(),
            serde_json::json!({"reason": "connection_lost", "deviceId": "demo", "seq": 7, "at": "2026-01-02T03:04:05.678Z"})
        );
    }
}
