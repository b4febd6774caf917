//! Each event's own fields, one type per event so that clients get a name for each payload
//! (see `clients/typescript`); [`EventData`](super::EventData) holds one of them.

use serde::Serialize;

use super::super::message::Message;
use super::Me;

/// `state`: the device's state machine moved.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct StateChange {
    #[cfg_attr(test, ts(type = "StateName"))]
    pub state: &'static str,
    #[cfg_attr(test, ts(type = "StateName"))]
    pub previous: &'static str,
    pub reason: Option<String>,
}

/// `qr`: a code to scan, until `expiresAt`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct QrCode {
    pub qr: String,
    /// A `data:image/png;base64,…` picture of the code.
    pub image: String,
    pub expires_at: String,
    pub attempt: u32,
    pub max_attempts: u32,
}

/// `authenticated`: the code was scanned.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Authenticated {}

/// `ready`: linked to the account `me`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Ready {
    pub me: Me,
}

/// `disconnected`: the upstream connection was lost.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Disconnected {
    pub reason: String,
}

/// `connection:status`: how the upstream answers.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    pub upstream: &'static str,
    pub latency_ms: Option<u64>,
}

/// `message:ack`: a message moved up the ack levels.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct MessageAck {
    pub message_id: String,
    pub upstream_id: Option<String>,
    pub chat_id: String,
    pub ack: i64,
    #[cfg_attr(test, ts(type = "AckName"))]
    pub ack_name: &'static str,
}

/// `message:status`: what the relay did with a message we send, when the acks do not say it:
/// it waits for the upstream (`queued`), will be tried again (`retrying`) or failed for good
/// (`failed`). `chatId` is more than the contract's fields: a socket that joined chats is sent
/// the statuses of their messages only, and finds the chat here.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct MessageStatus {
    pub message_id: String,
    pub chat_id: String,
    #[cfg_attr(test, ts(type = "\"queued\" | \"retrying\" | \"failed\""))]
    pub status: &'static str,
    pub attempt: u32,
    pub error: Option<String>,
    /// Why a `queued` message waits although the upstream is there: `paced` (the device's
    /// governor, or the upstream's own rate limit) or `restricted` (WhatsApp restricts
    /// messages to new contacts). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional, type = "\"paced\" | \"restricted\""))]
    pub reason: Option<&'static str>,
    /// When a held message is expected to go (RFC 3339); absent when nobody can say (a
    /// restriction without an end), or when it is not held.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub send_at: Option<String>,
}

/// `message:read`: messages of a chat were read, by `readBy`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct MessageRead {
    pub chat_id: String,
    pub message_ids: Vec<String>,
    pub read_by: String,
}

/// `message:revoked`: a message was deleted for everyone.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct MessageRevoked {
    pub chat_id: String,
    pub message_id: String,
}

/// `message:reaction`: someone reacted to a message (an empty `emoji` takes it back).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct MessageReaction {
    pub chat_id: String,
    pub message_id: String,
    pub from: String,
    /// Their phone number (digits, country code first) when known (see `Message::from_phone`).
    pub from_phone: Option<String>,
    pub emoji: String,
}

/// `typing:start` and `typing:stop`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Typing {
    pub chat_id: String,
    pub contact_id: String,
    /// Their phone number (digits, country code first) when known (see `Message::from_phone`).
    pub from_phone: Option<String>,
}

/// `notification`: something a person should see.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: String,
    pub kind: &'static str,
    pub title: String,
    pub body: String,
    pub chat_id: Option<String>,
    pub message_id: Option<String>,
}

/// `notification:read`: notifications were seen. `all` says they were cleared by "read all",
/// so that a client with its own "all read" event hears it as that, once, rather than as one
/// event per notification.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct NotificationRead {
    pub ids: Vec<String>,
    pub all: bool,
}

/// `status:new`: a story (`status@broadcast`) or a channel's post (`…@newsletter`), which is
/// not a chat's message: it is journaled only, when the device's `[filters]` ask for it, and
/// never stored among messages, counted unread or notified. `message` is the post as a
/// [`Message`] would show it: its `chatId` is `status@broadcast` or the channel's id, and its
/// `id` names this event's post only (no message has it).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct StatusNew {
    /// Who posted it: the contact for a story, the channel for a channel's post.
    pub from: String,
    pub message: Message,
}

/// `poll:vote`: `voter` now picks `options` on a poll (none: they took their vote back); the
/// poll's message carries the tally.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PollVote {
    pub chat_id: String,
    pub message_id: String,
    pub voter: String,
    /// Their phone number (digits, country code first) when known (see `Message::from_phone`).
    pub from_phone: Option<String>,
    pub options: Vec<String>,
}

/// `chat:merged`: two chats turned out to be one person's — one named by their linked id
/// (`…@lid`), one by their number — and are one chat now, `into`, with the history of both.
/// `from` still answers (REST, sends) as the merged chat.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ChatMerged {
    pub into: String,
    pub from: String,
}

/// `message:edited`: a message's text (or caption) was changed, by either side.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct MessageEdited {
    pub chat_id: String,
    pub message_id: String,
    pub body: String,
    pub edited_at: String,
}

/// `pairing:code`: a code to type on the phone whose number is `phone` (digits, country code
/// first), shown as `ABCD-EFGH`, which links the device until `expiresAt` as scanning its QR
/// code would. Like a `qr` event, it reaches only credentials that may control the device.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PairingCode {
    pub code: String,
    pub phone: String,
    pub expires_at: String,
}

/// `device:health`: the watchdog's verdict on the upstream session, journaled only when it
/// changes (a session that says it works and does nothing is `stalled`; a connection that keeps
/// dropping is `flapping`). `reason`, `lastUpstreamEventAt` and `waitingAcks` say why a device
/// stalled, so that whoever reads the journal need not guess; they are null otherwise.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct DeviceHealth {
    pub status: HealthStatus,
    #[cfg_attr(
        test,
        ts(type = "\"silent_with_waiting_acks\" | \"probe_failed\" | null")
    )]
    pub reason: Option<&'static str>,
    pub last_upstream_event_at: Option<String>,
    pub waiting_acks: Option<u64>,
}

/// How a device's upstream session is doing: `device:health`'s `status` and a device's
/// `health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    /// It says it works and does nothing; its session is being restarted.
    Stalled,
    /// Its connection keeps dropping; its reconnects are spaced out.
    Flapping,
}

/// `limit:warning`: a device nears or reaches a limit on what it may send: its own daily cap
/// on messages to new chats (`new_chats_per_day`, at 80 % and at 100 %), or one of WhatsApp's
/// restrictions as it changes (`reachout_timelock`, `message_capping`). `active` says whether
/// the limit now holds messages back; `resetsAt` when it ends, where that is known.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct LimitWarning {
    #[cfg_attr(
        test,
        ts(type = "\"new_chats_per_day\" | \"reachout_timelock\" | \"message_capping\"")
    )]
    pub kind: &'static str,
    pub active: bool,
    pub used: Option<u64>,
    pub limit: Option<u64>,
    pub resets_at: Option<String>,
}
