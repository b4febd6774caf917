//! The one vocabulary of things that happen to a device.
//!
//! Every variant's kind ([`EventKind`]) has one wire name, at once its Socket.IO event name,
//! its webhook `type` and its journal `name`, so a dashboard, an integration and a resyncing
//! client all read the same words. Producers build a typed [`EventData`]; once journaled it
//! becomes a [`JournaledEvent`] (kind + JSON), which is all the sinks need.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::group::GroupUpdate;
use super::ids::{phone_of, DeviceId};
use super::message::{Chat, Contact, Message};
use super::time::rfc3339;

mod field;
mod kind;
mod payloads;
pub mod selection;
pub use kind::{EventKind, EventPattern, UnknownEvent};
pub use payloads::*;

/// The account a linked device speaks as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Me {
    pub id: String,
    pub name: String,
}

/// What happened, with the payload fields clients rely on (`deviceId`, `seq` and `at` are added
/// when the event is journaled).
///
/// Its serialized form is the payload's own fields; its kind is [`EventData::kind`].
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EventData {
    State(StateChange),
    Qr(QrCode),
    Authenticated(Authenticated),
    Ready(Ready),
    Disconnected(Disconnected),
    ConnectionStatus(ConnectionStatus),
    Message(Message),
    MessageAck(MessageAck),
    MessageStatus(MessageStatus),
    MessageRead(MessageRead),
    MessageRevoked(MessageRevoked),
    MessageReaction(MessageReaction),
    TypingStart(Typing),
    TypingStop(Typing),
    ChatUpdate(Chat),
    ContactUpdate(Contact),
    Notification(Notification),
    NotificationRead(NotificationRead),
    StatusNew(StatusNew),
    PollVote(PollVote),
    MessageEdited(MessageEdited),
    ChatMerged(ChatMerged),
    PairingCode(PairingCode),
    GroupUpdate(GroupUpdate),
    DeviceHealth(DeviceHealth),
    LimitWarning(LimitWarning),
}

impl EventData {
    /// `typing:start` or `typing:stop`.
    pub fn typing(chat_id: String, contact_id: String, typing: bool) -> Self {
        let typing_event = Typing {
            from_phone: phone_of(&contact_id).map(str::to_owned),
            chat_id,
            contact_id,
        };
        if typing {
            EventData::TypingStart(typing_event)
        } else {
            EventData::TypingStop(typing_event)
        }
    }

    /// What kind of event it is, which gives its wire name and journal number.
    pub fn kind(&self) -> EventKind {
        match self {
            EventData::State(_) => EventKind::State,
            EventData::Qr(_) => EventKind::Qr,
            EventData::Authenticated(_) => EventKind::Authenticated,
            EventData::Ready(_) => EventKind::Ready,
            EventData::Disconnected(_) => EventKind::Disconnected,
            EventData::ConnectionStatus(_) => EventKind::ConnectionStatus,
            EventData::Message(_) => EventKind::Message,
            EventData::MessageAck(_) => EventKind::MessageAck,
            EventData::MessageStatus(_) => EventKind::MessageStatus,
            EventData::MessageRead(_) => EventKind::MessageRead,
            EventData::MessageRevoked(_) => EventKind::MessageRevoked,
            EventData::MessageReaction(_) => EventKind::MessageReaction,
            EventData::TypingStart(_) => EventKind::TypingStart,
            EventData::TypingStop(_) => EventKind::TypingStop,
            EventData::ChatUpdate(_) => EventKind::ChatUpdate,
            EventData::ContactUpdate(_) => EventKind::ContactUpdate,
            EventData::Notification(_) => EventKind::Notification,
            EventData::NotificationRead(_) => EventKind::NotificationRead,
            EventData::StatusNew(_) => EventKind::StatusNew,
            EventData::PollVote(_) => EventKind::PollVote,
            EventData::MessageEdited(_) => EventKind::MessageEdited,
            EventData::ChatMerged(_) => EventKind::ChatMerged,
            EventData::PairingCode(_) => EventKind::PairingCode,
            EventData::GroupUpdate(_) => EventKind::GroupUpdate,
            EventData::DeviceHealth(_) => EventKind::DeviceHealth,
            EventData::LimitWarning(_) => EventKind::LimitWarning,
        }
    }
}

/// Whether an event of `kind` holds `deviceId` among its own fields: its model does.
fn carries_device_id(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Message | EventKind::ChatUpdate | EventKind::ContactUpdate
    )
}

/// What journaling adds to an event's own fields to make its payload: `deviceId` (unless the
/// fields hold it), `seq` and `at`, as its last members, held as their JSON text. The journal
/// keeps the fields without it, since the row's key and columns hold the same, and stamps
/// them again when they are read back.
struct Stamp(String);

impl Stamp {
    /// The members as clients receive them. Device ids and RFC 3339 times are made of
    /// characters JSON strings hold unescaped. Written piece by piece rather than formatted:
    /// every event the writer journals is stamped.
    fn new(kind: EventKind, device_id: &DeviceId, seq: u64, at: &str) -> Self {
        let mut stamp = String::with_capacity(48 + device_id.as_str().len() + at.len());
        if !carries_device_id(kind) {
            stamp.push_str("\"deviceId\":\"");
            stamp.push_str(device_id.as_str());
            stamp.push_str("\",");
        }
        stamp.push_str("\"seq\":");
        stamp.push_str(itoa::Buffer::new().format(seq));
        stamp.push_str(",\"at\":\"");
        stamp.push_str(at);
        stamp.push('"');
        Stamp(stamp)
    }

    /// Whether `payload` ends with the stamp.
    fn is_on(&self, payload: &str) -> bool {
        payload
            .strip_suffix('}')
            .is_some_and(|members| members.ends_with(&self.0))
    }

    /// `payload` (a JSON object ending with the stamp) without it: the event's own fields.
    fn off(&self, payload: &str) -> serde_json::Result<String> {
        let open = payload
            .strip_suffix('}')
            .and_then(|members| members.strip_suffix(self.0.as_str()))
            .ok_or_else(|| serde::ser::Error::custom("the payload does not end with its stamp"))?;
        let mut fields = String::with_capacity(open.len());
        fields.push_str(open.strip_suffix(',').unwrap_or(open));
        fields.push('}');
        Ok(fields)
    }

    /// `fields` (a JSON object) with the stamp as its last members.
    fn onto(&self, fields: &str) -> String {
        let open = fields.trim_end().strip_suffix('}').unwrap_or(fields);
        let separator = match open.trim_end().ends_with('{') {
            true => "",
            false => ",",
        };
        let mut payload = String::with_capacity(open.len() + self.0.len() + 2);
        payload.push_str(open);
        payload.push_str(separator);
        payload.push_str(&self.0);
        payload.push('}');
        payload
    }
}

/// An event's payload as journaling serializes it: its own fields, then the [`Stamp`]'s
/// members, in the stamp's order.
#[derive(Serialize)]
struct Stamped<'a> {
    #[serde(flatten)]
    data: &'a EventData,
    #[serde(rename = "deviceId", skip_serializing_if = "Option::is_none")]
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
    pub kind: EventKind,
    /// The payload as clients see it: the event's fields plus `deviceId`, `seq` and `at`.
    pub payload: Box<RawValue>,
    /// Journaled by another node of a cluster, and read here from the journal: the host's
    /// hooks (sounds, desktop notifications) leave it to the node that journaled it.
    pub remote: bool,
}

impl JournaledEvent {
    /// Journals `data` as event `seq` of `device`, now.
    pub fn new(device_id: DeviceId, seq: u64, data: &EventData) -> serde_json::Result<Self> {
        Self::journaled_at(device_id, seq, data, Utc::now()).map(|(event, _)| event)
    }

    /// Journals `data` as event `seq` of `device`, at `at` (the journal keeps the same time
    /// as a number, without reading it back from the text); returns the event and its own
    /// fields, which its journal row keeps. The payload is serialized once, the fields and the
    /// stamp's members together ([`Stamped`]), and taken as JSON as it is: serde_json made it,
    /// so it is not parsed again to be checked. The fields are the payload with the stamp
    /// taken off.
    pub fn journaled_at(
        device_id: DeviceId,
        seq: u64,
        data: &EventData,
        at: DateTime<Utc>,
    ) -> serde_json::Result<(Self, String)> {
        let (at, kind) = (rfc3339(at), data.kind());
        let payload = serde_json::value::to_raw_value(&Stamped {
            data,
            device_id: (!carries_device_id(kind)).then_some(device_id.as_str()),
            seq,
            at: &at,
        })?;
        let fields = Stamp::new(kind, &device_id, seq, &at).off(payload.get())?;
        let event = JournaledEvent {
            payload,
            device_id,
            seq,
            at,
            kind,
            remote: false,
        };
        Ok((event, fields))
    }

    /// The event of `kind` as its journal row keeps it: `fields`, its own fields (a JSON
    /// object), stamped again as event `seq` of `device_id`, journaled `at`. A row written
    /// before the journal left the stamp out holds the whole payload, and is taken as it is.
    pub fn from_fields(
        device_id: DeviceId,
        seq: u64,
        kind: EventKind,
        fields: String,
        at: String,
    ) -> serde_json::Result<Self> {
        let stamp = Stamp::new(kind, &device_id, seq, &at);
        let payload = match stamp.is_on(&fields) {
            true => fields,
            false => stamp.onto(&fields),
        };
        Ok(JournaledEvent {
            payload: RawValue::from_string(payload)?,
            device_id,
            seq,
            at,
            kind,
            remote: false,
        })
    }

    /// The payload's field `key`, read without parsing the rest (see [`field::field`]); `None`
    /// if it has no such field or holds something else than a `T` there.
    pub fn field<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        field::field(self.payload.get(), key)
    }

    /// The payload parsed, for sinks that look into an event's fields.
    pub fn fields(&self) -> Value {
        serde_json::from_str(self.payload.get()).unwrap_or_default()
    }

    /// Whether a subscriber to `events` (patterns) of `devices` (ids, or `*`) wants it: how
    /// webhooks and event sinks select what they are sent.
    pub fn selected_by(&self, events: &[EventPattern], devices: &[String]) -> bool {
        let device = self.device_id.as_str();
        events.iter().any(|pattern| pattern.matches(self.kind))
            && devices.iter().any(|item| item == "*" || item == device)
    }

    /// The event as pull consumers and webhooks receive it: `{ type, deviceId, seq, at, data }`,
    /// `data` being the payload.
    pub fn envelope(&self) -> Envelope<'_> {
        Envelope {
            r#type: self.kind.as_str(),
            device_id: self.device_id.as_str(),
            seq: self.seq,
            at: &self.at,
            data: &self.payload,
        }
    }
}

/// See [`JournaledEvent::envelope`].
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "JournalEnvelope"))]
#[serde(rename_all = "camelCase")]
#[schema(
    description = "An event as pull consumers and webhooks receive it: `data` is its payload, as on Socket.IO."
)]
pub struct Envelope<'a> {
    #[schema(example = "message")]
    r#type: &'a str,
    #[schema(value_type = DeviceId)]
    #[cfg_attr(test, ts(type = "string"))]
    device_id: &'a str,
    seq: u64,
    #[schema(format = DateTime)]
    at: &'a str,
    #[schema(value_type = Object)]
    #[cfg_attr(test, ts(type = "unknown"))]
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
        let status = EventData::ConnectionStatus(ConnectionStatus {
            upstream: "connected",
            latency_ms: Some(3),
        });
        assert_eq!(status.kind().as_str(), "connection:status");
        assert_eq!(
            journaled(&status),
            serde_json::json!({"upstream": "connected", "latencyMs": 3, "deviceId": "demo", "seq": 7})
        );
        assert_eq!(
            journaled(&EventData::Authenticated(Authenticated {})),
            serde_json::json!({"deviceId": "demo", "seq": 7})
        );
    }

    #[test]
    fn every_wire_name_is_listed() {
        let samples = [
            EventData::State(StateChange {
                state: "ready",
                previous: "authenticated",
                reason: None,
            }),
            EventData::Authenticated(Authenticated {}),
            EventData::Disconnected(Disconnected { reason: "x".into() }),
            EventData::MessageRevoked(MessageRevoked {
                chat_id: "c".into(),
                message_id: "m".into(),
            }),
            EventData::typing("c".into(), "k".into(), true),
            EventData::typing("c".into(), "k".into(), false),
            EventData::NotificationRead(NotificationRead {
                ids: vec![],
                all: false,
            }),
        ];
        for sample in samples {
            let kind = sample.kind();
            assert!(EventKind::ALL.contains(&kind), "{kind} is not listed");
        }
        let unique: std::collections::HashSet<_> =
            EventKind::ALL.iter().map(|kind| kind.as_str()).collect();
        assert_eq!(unique.len(), EventKind::ALL.len());
    }

    #[test]
    fn a_model_keeps_its_own_device_id_once() {
        let message = Message::sample("c", "hi");
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
    fn own_fields_stamped_are_the_payload_and_read_back_as_sent() {
        let demo = DeviceId::parse("demo").unwrap();
        let samples = [
            EventData::Authenticated(Authenticated {}),
            EventData::Disconnected(Disconnected {
                reason: "connection_lost".into(),
            }),
            EventData::typing("c".into(), "k".into(), true),
            EventData::Message(Message::sample("c", "hi")),
            EventData::Message(Message {
                content: serde_json::from_value(serde_json::json!({
                    "location": { "latitude": 52.37, "longitude": 4.89, "name": "Dam \"Square\"" }
                }))
                .unwrap(),
                ..Message::sample("c", "")
            }),
        ];
        for sample in &samples {
            let (event, own) =
                JournaledEvent::journaled_at(demo.clone(), 12, sample, Utc::now()).unwrap();
            assert_eq!(own, serde_json::to_string(sample).unwrap());
            let payload: Value = serde_json::from_str(event.payload.get()).unwrap();
            let mut expected = serde_json::to_value(sample).unwrap();
            if !carries_device_id(event.kind) {
                expected["deviceId"] = Value::from("demo");
            }
            expected["seq"] = Value::from(12);
            expected["at"] = Value::from(event.at.clone());
            assert_eq!(payload, expected);
            let again =
                JournaledEvent::from_fields(demo.clone(), 12, event.kind, own, event.at.clone())
                    .unwrap();
            assert_eq!(again.payload.get(), event.payload.get());
        }
    }

    #[test]
    fn a_row_that_holds_the_whole_payload_is_read_as_it_is() {
        let demo = DeviceId::parse("demo").unwrap();
        let event = JournaledEvent::new(
            demo.clone(),
            4,
            &EventData::Disconnected(Disconnected { reason: "x".into() }),
        )
        .unwrap();
        let whole = event.payload.get().to_owned();
        let read = JournaledEvent::from_fields(demo, 4, event.kind, whole.clone(), event.at);
        assert_eq!(read.unwrap().payload.get(), whole);
    }

    #[test]
    fn envelope_wraps_the_payload() {
        let event = JournaledEvent::new(
            DeviceId::parse("demo").unwrap(),
            7,
            &EventData::Disconnected(Disconnected {
                reason: "connection_lost".into(),
            }),
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
