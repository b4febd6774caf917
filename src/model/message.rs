//! The shapes of chats, contacts and messages on the wire (SPEC §3), and the ack ladder.

use serde::{Deserialize, Serialize};

use super::content::Content;
use super::ids::PATH_SEGMENT;

/// How far a message has got, whatsapp-web.js / WAHA compatible.
///
/// Levels only go up; `Error` is reachable only from `Pending` or `Server`, because once the
/// recipient's phone has the message, a later failure report is stale news.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ack {
    Error = -1,
    Pending = 0,
    Server = 1,
    Device = 2,
    Read = 3,
    Played = 4,
}

impl Ack {
    pub fn level(self) -> i64 {
        self as i64
    }

    pub fn name(self) -> &'static str {
        match self {
            Ack::Error => "error",
            Ack::Pending => "pending",
            Ack::Server => "server",
            Ack::Device => "device",
            Ack::Read => "read",
            Ack::Played => "played",
        }
    }

    pub fn from_level(level: i64) -> Option<Ack> {
        Some(match level {
            -1 => Ack::Error,
            0 => Ack::Pending,
            1 => Ack::Server,
            2 => Ack::Device,
            3 => Ack::Read,
            4 => Ack::Played,
            _ => return None,
        })
    }

    /// The ack after `incoming` is merged into `self`, or `None` if it changes nothing: acks
    /// arriving out of order are merged by maximum.
    pub fn merge(self, incoming: Ack) -> Option<Ack> {
        let next = match incoming {
            Ack::Error if matches!(self, Ack::Pending | Ack::Server) => Ack::Error,
            Ack::Error => return None,
            // "Not yet acknowledged" is no news about a message that got further, or failed.
            Ack::Pending => return None,
            other => self.max(other),
        };
        (next != self).then_some(next)
    }
}

/// Where an outgoing message is in the relay queue (`message:status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayStatus {
    Queued,
    Retrying,
    Sent,
    Failed,
}

impl RelayStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RelayStatus::Queued => "queued",
            RelayStatus::Retrying => "retrying",
            RelayStatus::Sent => "sent",
            RelayStatus::Failed => "failed",
        }
    }
}

/// A media reference (SPEC `media`). Only links are accepted: attachments are never carried
/// inside Socket.IO packets or REST bodies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Media {
    #[schema(schema_with = super::constraints::media_url)]
    pub url: String,
    /// When a send leaves it out, the type of `name` (or of the link's file name) is taken.
    #[schema(schema_with = super::constraints::media_type)]
    #[serde(default)]
    pub mime: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "super::whole::optional_number")]
    #[schema(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)]
    pub size: Option<u64>,
    /// On a send, what to send the file as; by default what its type says (an `audio/*`
    /// file is a plain audio file: `voice` makes it a voice note). Not kept: the message's
    /// `type` says it.
    #[serde(default, rename = "type", skip_serializing)]
    #[cfg_attr(test, ts(optional))]
    pub kind: Option<MediaKind>,
}

/// What a file is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Document,
    /// A voice note (push-to-talk): played in the chat, not opened as a file.
    Voice,
    Video,
    Audio,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Document => "document",
            MediaKind::Voice => "voice",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
        }
    }

    /// The kind a message `type` names, for a message that carries a file.
    pub fn of_type(kind: &str) -> Option<MediaKind> {
        Some(match kind {
            "image" | "sticker" => MediaKind::Image,
            "document" => MediaKind::Document,
            "voice" => MediaKind::Voice,
            "video" => MediaKind::Video,
            "audio" => MediaKind::Audio,
            _ => return None,
        })
    }

    /// Whether a file of MIME type `mime` can be sent as this kind: a voice note or audio
    /// must be audio, a video a video, a picture a picture; anything is a document.
    pub fn takes(self, mime: &str) -> bool {
        let family = mime.split('/').next().unwrap_or_default();
        match self {
            MediaKind::Document => true,
            MediaKind::Image => family == "image",
            MediaKind::Voice | MediaKind::Audio => family == "audio",
            MediaKind::Video => family == "video",
        }
    }
}

impl Media {
    /// The MIME type a file name's extension says, for the files messages commonly carry; any
    /// other is bytes (`application/octet-stream`), sent as a document. A client that sends a
    /// link with only a name (`attachmentUrl`, `attachmentName`) gets its type from here.
    pub fn mime_for(name: &str) -> &'static str {
        let extension = name
            .rsplit_once('.')
            .map(|(_, extension)| extension.to_ascii_lowercase());
        match extension.as_deref() {
            Some("png") => "image/png",
            Some("jpg" | "jpeg") => "image/jpeg",
            Some("gif") => "image/gif",
            Some("webp") => "image/webp",
            Some("mp4") => "video/mp4",
            Some("3gp") => "video/3gpp",
            Some("mov") => "video/quicktime",
            Some("mp3") => "audio/mpeg",
            Some("ogg" | "opus") => "audio/ogg",
            Some("m4a") => "audio/mp4",
            Some("aac") => "audio/aac",
            Some("wav") => "audio/wav",
            Some("pdf") => "application/pdf",
            Some("txt") => "text/plain",
            Some("csv") => "text/csv",
            Some("zip") => "application/zip",
            Some("docx") => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            _ => "application/octet-stream",
        }
    }

    /// Whether `text` is a MIME type: `type/subtype`, parameters allowed (`audio/ogg;
    /// codecs=opus`).
    pub fn is_mime_type(text: &str) -> bool {
        let essence = text.split(';').next().unwrap_or_default().trim();
        let token = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"/()<>@,;:\\\"[]?=".contains(&b))
        };
        !text.chars().any(char::is_control)
            && essence
                .split_once('/')
                .is_some_and(|(kind, subtype)| token(kind) && token(subtype))
    }

    /// The message type it is sent as: the kind a send asked for, or else what its MIME
    /// type implies.
    pub fn message_type(&self) -> &'static str {
        if let Some(kind) = self.kind {
            return kind.as_str();
        }
        match self.mime.split('/').next() {
            Some("image") => "image",
            Some("audio") => "audio",
            Some("video") => "video",
            _ => "document",
        }
    }
}

/// A message template approved by Meta, sent by name on a Cloud API device: the way a
/// business writes first, or again after the 24 hours Meta allows after a customer's message.
/// `components` (header, body and button parameters) goes to Meta as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[schema(pattern = "^[a-z0-9_]{1,512}$", example = "order_update")]
    pub name: String,
    #[schema(pattern = "^[A-Za-z_]{2,15}$", example = "en_US")]
    pub language: String,
    /// Header, body and button parameters, as Meta takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<serde_json::Value>>)]
    #[cfg_attr(test, ts(type = "Array<Record<string, unknown>>", optional))]
    pub components: Option<serde_json::Value>,
}

/// A client's own id for a message it sends (`tempId`), given back exactly as it came: a
/// string, or a number (a client that numbers its sends, say with `Date.now()`, matches its
/// pending messages with `===` and needs the number back, not its digits).
///
/// It is also the send's deduplication key, and the string `"5"` and the number `5` are two
/// keys: each is answered with the type it was sent as, which one shared key could not do for
/// the second. A number is kept by its value: a float with no fraction that an `f64` holds
/// exactly (`5.0`, `1e3`) is that integer, as JavaScript, which has one number type, sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(untagged)]
pub enum TempId {
    Text(String),
    #[schema(value_type = f64)]
    Number(serde_json::Number),
}

impl TempId {
    /// The largest integer below which every integer is exactly an `f64` (2^53).
    const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

    /// A number as a key: an integral float within `f64`'s exact integers is that integer.
    fn number(value: f64) -> Option<TempId> {
        let integral = value.fract() == 0.0 && value.abs() < Self::EXACT_INTEGERS;
        let number = match integral {
            true => serde_json::Number::from(value as i64),
            false => serde_json::Number::from_f64(value)?,
        };
        Some(TempId::Number(number))
    }

    /// The stored form, and what deduplication compares: the id's JSON text (`"t-1"`, `5`),
    /// so the type is kept with the value.
    pub fn key(&self) -> String {
        match self {
            TempId::Text(text) => serde_json::to_string(text).expect("a string serializes"),
            TempId::Number(number) => number.to_string(),
        }
    }

    /// Reads a stored [`TempId::key`] back.
    pub fn from_key(key: &str) -> Option<TempId> {
        serde_json::from_str(key).ok()
    }
}

impl<'de> Deserialize<'de> for TempId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = TempId;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a number")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<TempId, E> {
                Ok(TempId::Text(text.to_owned()))
            }

            fn visit_string<E: serde::de::Error>(self, text: String) -> Result<TempId, E> {
                Ok(TempId::Text(text))
            }

            fn visit_u64<E: serde::de::Error>(self, number: u64) -> Result<TempId, E> {
                Ok(TempId::Number(number.into()))
            }

            fn visit_i64<E: serde::de::Error>(self, number: i64) -> Result<TempId, E> {
                Ok(TempId::Number(number.into()))
            }

            fn visit_f64<E: serde::de::Error>(self, number: f64) -> Result<TempId, E> {
                TempId::number(number).ok_or_else(|| E::custom("a `tempId` number must be finite"))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// SPEC's `Message`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[schema(example = "msg_01JD8W4S5XK0M7Y9B3C2E1F0GH")]
    pub id: String,
    pub upstream_id: Option<String>,
    pub device_id: String,
    #[schema(example = "15551234567@c.us")]
    pub chat_id: String,
    pub from: String,
    /// The sender's phone number (digits, country code first), when known: `from` may be a
    /// linked id (`…@lid`) whose number WhatsApp has not told yet.
    #[schema(example = "15550001111")]
    pub from_phone: Option<String>,
    pub from_me: bool,
    #[serde(rename = "type")]
    #[schema(example = "text")]
    pub kind: String,
    pub body: String,
    pub media: Option<Media>,
    pub reply_to: Option<String>,
    #[schema(format = DateTime)]
    pub timestamp: String,
    #[schema(minimum = -1, maximum = 4)]
    pub ack: i64,
    #[schema(example = "pending")]
    #[cfg_attr(test, ts(type = "AckName"))]
    pub ack_name: &'static str,
    pub temp_id: Option<TempId>,
    /// Deleted for everyone: the body is gone, the message keeps its place in the chat.
    pub revoked: bool,
    /// The template it was sent as, if any (then `body` is what the sender gave to show).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub template: Option<Template>,
    /// What a location, a contact card or a poll carries, a voice note's length, and whether
    /// it was forwarded.
    #[serde(flatten)]
    #[cfg_attr(test, ts(flatten))]
    pub content: Content,
    /// When its text was last edited, by either side; `null` if never.
    #[schema(format = DateTime)]
    pub edited_at: Option<String>,
}

/// How a chat is to be shown: archived, muted, pinned, marked unread by hand, or not
/// (`chat:update`, `chat:archive`, `chat:mute`, `PATCH …/chats/{chatId}`). A flag left out
/// stays as it is.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
pub struct ChatFlags {
    #[serde(default)]
    pub archived: Option<bool>,
    #[serde(default)]
    pub muted: Option<bool>,
    #[serde(default)]
    pub pinned: Option<bool>,
    #[serde(default)]
    pub unread: Option<bool>,
}

impl ChatFlags {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        [self.archived, self.muted, self.pinned, self.unread]
            .iter()
            .all(Option::is_none)
    }
}

/// SPEC's `Chat`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    #[schema(example = "15551234567@c.us")]
    pub id: String,
    pub device_id: String,
    pub name: String,
    #[schema(example = "direct")]
    pub kind: String,
    pub unread_count: u64,
    pub last_message: Option<Message>,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub archived: bool,
    pub muted: bool,
    /// Kept at the top of the chat list.
    pub pinned: bool,
    /// Marked unread by hand ("mark as unread"), whatever `unreadCount` says, until read.
    pub marked_unread: bool,
}

/// SPEC's `Contact`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    #[schema(example = "15551234567@c.us")]
    pub id: String,
    pub device_id: String,
    pub name: String,
    pub push_name: Option<String>,
    #[schema(example = "online")]
    pub presence: String,
    #[schema(format = DateTime)]
    pub last_seen_at: Option<String>,
    /// Their phone number, as digits with the country code first (E.164 without the `+`),
    /// when known: from a phone id, or from the number the upstream told behind a linked id.
    #[schema(pattern = r"^[0-9]{5,15}$", example = "15551234567")]
    pub phone: Option<String>,
    /// Their linked id (`…@lid`), when known: WhatsApp names some people by one instead of
    /// their number.
    #[schema(pattern = r"^[0-9]+@lid$", example = "123456789012345@lid")]
    pub lid: Option<String>,
    /// What their profile says about them, as last looked up; null until then, or when they
    /// show it to nobody.
    pub about: Option<String>,
    /// Blocked by this account: WhatsApp delivers nothing of theirs.
    pub blocked: bool,
    /// Where the daemon serves their profile picture (never the upstream's own address, which
    /// expires and carries credentials); null when their connector has no pictures or the
    /// upstream said they have none.
    #[schema(example = "/api/v1/devices/demo/contacts/15551234567@c.us/picture")]
    pub picture_url: Option<String>,
}

impl Contact {
    /// Where the daemon serves the profile picture of contact `id` of `device`: its
    /// `pictureUrl`, a path on the daemon's own origin.
    pub fn picture_path(device: &str, id: &str) -> String {
        let id = percent_encoding::utf8_percent_encode(id, PATH_SEGMENT);
        format!("/api/v1/devices/{device}/contacts/{id}/picture")
    }
}

/// A whole list (lists that can be long are paged instead, with a `nextCursor`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct List<T> {
    pub items: Vec<T>,
}

/// One page of a cursor-paginated list.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts (`cursor` or `before`), or null on the last page.
    pub next_cursor: Option<String>,
}

/// Room kept in a reply's byte budget for what surrounds a page's items: the acknowledgement
/// or response envelope and the `nextCursor`.
const PAGE_ENVELOPE_BYTES: usize = 512;

/// What is left of a reply's byte budget (`limits.max_reply_bytes`) as items are added to it,
/// so that one list request cannot make the daemon hold a reply of any size: a chat of large
/// messages would otherwise give megabytes per page. Room is kept for what surrounds the
/// items (the acknowledgement or response envelope, `nextCursor`).
pub struct ReplyBudget {
    left: usize,
    taken: usize,
}

impl ReplyBudget {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            left: max_bytes.saturating_sub(PAGE_ENVELOPE_BYTES),
            taken: 0,
        }
    }

    /// Takes `item` if its JSON fits in what is left; false when the reply is full. The first
    /// item always fits, however large, so that a list can be walked to its end whatever its
    /// items' sizes.
    pub fn take<T: Serialize>(&mut self, item: &T) -> bool {
        // Items that cannot be serialized do not occur (plain data); counted as empty.
        let bytes = serde_json::to_vec(item).map_or(0, |json| json.len()) + 1;
        if bytes > self.left && self.taken > 0 {
            return false;
        }
        self.left = self.left.saturating_sub(bytes);
        self.taken += 1;
        true
    }
}

/// How many of `items`, from the first, fit in a reply of `max_bytes` (see [`ReplyBudget`]).
pub fn fitting<T: Serialize>(items: &[T], max_bytes: usize) -> usize {
    let mut budget = ReplyBudget::new(max_bytes);
    items.iter().take_while(|item| budget.take(item)).count()
}

#[cfg(test)]
impl Message {
    /// A text we sent, `msg_1` of device `demo`, for tests to change what they look at.
    pub fn sample(chat_id: &str, body: &str) -> Message {
        Message {
            id: "msg_1".into(),
            upstream_id: None,
            device_id: "demo".into(),
            chat_id: chat_id.into(),
            from: "15550000001@c.us".into(),
            from_phone: Some("15550000001".into()),
            from_me: true,
            kind: "text".into(),
            body: body.into(),
            media: None,
            reply_to: None,
            timestamp: "2026-01-02T03:04:05.678Z".into(),
            ack: 0,
            ack_name: "pending",
            temp_id: None,
            revoked: false,
            template: None,
            content: Default::default(),
            edited_at: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ack::*;
    use super::TempId;

    #[test]
    fn a_temp_id_keeps_its_type_and_a_number_its_value() {
        let read = |json: &str| serde_json::from_str::<TempId>(json).unwrap();
        for (sent, key) in [
            (r#""t-1""#, r#""t-1""#),
            (r#""5""#, r#""5""#),
            ("5", "5"),
            ("5.0", "5"),
            ("1e3", "1000"),
            ("-7", "-7"),
            ("1732000000000", "1732000000000"),
            ("0.25", "0.25"),
            ("18446744073709551615", "18446744073709551615"),
        ] {
            let temp_id = read(sent);
            assert_eq!(temp_id.key(), key, "{sent}");
            assert_eq!(TempId::from_key(key), Some(temp_id.clone()), "{sent}");
            assert_eq!(serde_json::to_string(&temp_id).unwrap(), key, "{sent}");
        }
        assert_ne!(read(r#""5""#).key(), read("5").key());
        for refused in ["true", "null", "[1]", r#"{"a":1}"#] {
            let error = serde_json::from_str::<TempId>(refused).unwrap_err();
            assert!(
                error.to_string().contains("a string or a number"),
                "{refused}: {error}"
            );
        }
    }

    #[test]
    fn acks_merge_by_maximum_and_error_only_early() {
        assert_eq!(Pending.merge(Server), Some(Server));
        assert_eq!(Server.merge(Read), Some(Read));
        assert_eq!(Read.merge(Device), None, "never backwards");
        assert_eq!(Read.merge(Read), None);
        assert_eq!(Pending.merge(Error), Some(Error));
        assert_eq!(Server.merge(Error), Some(Error));
        assert_eq!(Device.merge(Error), None, "delivered messages cannot fail");
        assert_eq!(
            Error.merge(Device),
            Some(Device),
            "a late delivery report wins"
        );
        assert_eq!(Error.merge(Pending), None);
    }
}
