//! What devices and their upstreams say to each other, in devicebridge's words: where a
//! session stands, messages handed over and taken, what else a device asks the upstream to
//! show, what a webhook reported, and why a call failed. Each connector maps its upstream's
//! vocabulary onto these and nothing else.

use bytes::Bytes;
use futures_util::stream::BoxStream;
use serde_json::Value;

use super::content::Content;
use super::event::Me;
use super::group::ParticipantAction;
use super::inbound::Inbound;
use super::{Ack, DeviceId, Media, Message};

/// Where the upstream session stands, as the upstream reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Session {
    /// Still coming up; its status follows (a webhook, or the next check).
    Starting,
    /// Not linked: a QR code must be scanned. Reported again when the upstream shows a new code.
    NeedsLinking,
    /// Linked and working as `me`; `session` is what to save as the device's link.
    Linked { session: Value, me: Me },
    /// The upstream stopped the session by itself.
    Stopped,
    /// The upstream gave up on the session.
    Failed { reason: String },
}

/// Why a call to the upstream did not work. The kind decides what happens next: transient
/// failures are retried, a rejection fails one message, a refusal fails the device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// Transient: no answer (connection refused, timeout). Retried with backoff, and the
    /// device goes `disconnected` and reconnects by itself.
    #[error("upstream unreachable: {0}")]
    Unreachable(String),
    /// Transient: the upstream answered with an error that may pass — a server error (5xx),
    /// throttling (408, 425, 429, Graph API rate limits), a WAHA session that is restarting.
    /// Retried with backoff; for the device, a lost connection.
    #[error("upstream error: {0}")]
    Failing(String),
    /// Transient, and the upstream said for how long: no requests for `retry_after` (HTTP 429
    /// with `Retry-After`), or, with `one_chat`, no more messages to that chat for a while
    /// (the Cloud API's pair rate limit). The device's governor holds what would be sent
    /// until then instead of retrying into the same answer.
    #[error("upstream rate limit: again in {} s", .retry_after.as_secs())]
    Throttled {
        retry_after: std::time::Duration,
        one_chat: bool,
    },
    /// WhatsApp refused a message under one of its restrictions on reaching new contacts:
    /// its server error 463 (the reach-out timelock) or 475 (message capping), which WAHA's
    /// engines pass on as errors of their own, sometimes before the session reports the
    /// restriction. Not the message's fault: the device's governor holds messages to new
    /// contacts for a while, and this one waits with them.
    #[error("WhatsApp restricts messages to new contacts (its error {code})")]
    Restricted { code: u16 },
    /// Permanent for this request (any other 4xx): a message fails with the reason.
    #[error("upstream rejected the request: {0}")]
    Rejected(String),
    /// Permanent: the upstream refused our credentials or their permissions (401/403, Graph
    /// API auth and permission codes); the device fails.
    #[error("upstream refused: {0}")]
    Refused(String),
    #[error("this connector does not support {0}")]
    Unsupported(&'static str),
}

impl ConnectorError {
    /// Whether the failure concerns the whole device rather than one request: the upstream
    /// is unreachable, or refuses our credentials. The device moves on (`disconnected`,
    /// `failed`), and the requests after it would fail the same way.
    pub fn concerns_device(&self) -> bool {
        matches!(
            self,
            ConnectorError::Unreachable(_) | ConnectorError::Refused(_)
        )
    }
}

/// Why the upstream did not do what was asked of a group.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GroupRefusal {
    #[error("no group {0} on this account")]
    NoSuchGroup(String),
    #[error("only the group's admins can do that")]
    NotAdmin,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Upstream(#[from] ConnectorError),
}

/// A message to hand to the upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub message: Message,
    /// The upstream id of the message it replies to, once that one is known upstream.
    pub reply_to: Option<String>,
    /// How many times it was handed to the upstream before. A try that got no answer may
    /// still have been sent, so a connector that can look for it does so before trying again.
    pub attempts: u32,
}

/// The upstream took a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The id the upstream gave the message; `None` when its answer said it took the message
    /// but named no id. Such a message counts as sent (never sent again), and the upstream's
    /// later reports about it cannot be matched to it.
    pub upstream_id: Option<String>,
    /// What the answer itself says: `Server` when it means the upstream has the message,
    /// `Pending` when the server ack comes later on its own.
    pub ack: Ack,
}

/// What a webhook delivery reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Reported {
    /// Chats and messages, stored before the delivery is answered.
    Inbound(Inbound),
    /// The session changed (see [`UpstreamEvent::SessionChanged`]).
    SessionChanged,
    /// WhatsApp's restrictions on the account, as they stand now (SPEC §12), while the
    /// session itself goes on working.
    Restrictions(super::governor::Restrictions),
}

/// Something our side asks the upstream to show, beyond sending messages.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Outbound {
    /// Read receipts for these messages of a chat.
    MarkRead {
        chat_id: String,
        upstream_ids: Vec<String>,
    },
    Typing {
        chat_id: String,
        typing: bool,
        /// The newest message the other side sent in the chat: the Cloud API shows our typing
        /// indicator against one.
        latest_incoming: Option<String>,
    },
    React {
        chat_id: String,
        upstream_id: String,
        emoji: String,
    },
    Revoke {
        chat_id: String,
        upstream_id: String,
    },
    /// One of our messages has a new text (or caption).
    Edit {
        chat_id: String,
        upstream_id: String,
        text: String,
    },
    /// Our vote on a poll: these options now (none: the vote taken back).
    Vote {
        chat_id: String,
        upstream_id: String,
        options: Vec<String>,
    },
    /// The chat was archived (or brought back) here; the phone's chat list follows where the
    /// upstream has one.
    Archive { chat_id: String, archived: bool },
    /// The chat was marked unread here (or the mark taken off), as the phone's list shows.
    MarkUnread { chat_id: String, unread: bool },
    /// A client opened the chat (listed its newest messages): the upstream should report who
    /// in it is typing or online, which WhatsApp tells only for chats one watches.
    WatchPresence { chat_id: String },
    /// The contact was blocked here (or unblocked): WhatsApp is to deliver nothing of theirs.
    Block { contact_id: String, blocked: bool },
}

/// What a caller may ask a device to look up at its upstream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "what", rename_all = "camelCase")]
pub enum LookUp {
    Profile {
        #[serde(rename = "contactId")]
        contact_id: String,
    },
    Picture {
        #[serde(rename = "contactId")]
        contact_id: String,
    },
}

/// What the upstream answered a [`LookUp`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Found {
    Profile(Option<Profile>),
    Picture(Option<Picture>),
}

/// What the upstream tells of a contact when asked (see `Upstream::profile`). A field it does
/// not tell is `None`: `about` for someone who shows it to nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The name this account saved them under.
    pub name: Option<String>,
    /// The name they gave themselves.
    pub push_name: Option<String>,
    pub about: Option<String>,
}

/// A contact's profile picture as the upstream gave it, whole: pictures are small (WhatsApp
/// keeps them at 640 pixels a side), and the daemon keeps them to serve them itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Picture {
    pub mime: String,
    /// Base64 between the nodes of a cluster, which carry it as JSON.
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

/// The largest profile picture taken from an upstream. WhatsApp's are JPEGs of 640 pixels a
/// side, tens of kilobytes; anything much larger is not a profile picture.
pub const MAX_PICTURE_BYTES: usize = 2 << 20;

mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// What a test, a demo or a dashboard makes the simulated world do: fail, or someone in it
/// act as the upstream would then report. An act that results in a message names it with
/// `upstream_id`, chosen by whoever gave the cue, so that the answer can name it at once.
///
/// In a cluster a cue travels to the device's owner as JSON, tagged `cue`: an act's own
/// fields include a `kind`, which a tag of that name would collide with.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "cue", rename_all = "camelCase")]
pub enum Cue {
    /// The connection drops; the next `fail_reconnects` reconnection attempts fail too.
    Drop { fail_reconnects: u32 },
    /// The session says it works and does nothing: the connection stays up and its checks
    /// answer, while every send is taken and never acknowledged and every event is swallowed,
    /// until the session is opened again.
    Stall,
    /// The phone logs the device out.
    RemoteLogout,
    /// Someone in the simulated world acts.
    Act(Box<Act>),
    /// A member of one of the simulated world's groups changes it.
    Group(Box<GroupCue>),
}

/// What someone in the simulated world does on cue (see [`Cue::Act`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "act", rename_all = "camelCase")]
pub enum Act {
    /// A contact writes: in their own chat, or in the group `chat_id`.
    Message {
        upstream_id: String,
        from: String,
        chat_id: Option<String>,
        /// From the contact's linked id rather than their number.
        #[serde(default)]
        as_lid: bool,
        /// The message's type: `text`, `voice`, `location`, `contact`, `poll`, ….
        kind: String,
        text: String,
        media: Option<Media>,
        content: Box<Content>,
    },
    /// A contact edits one of their messages, known upstream as `upstream_id`.
    Edit { upstream_id: String, text: String },
    /// A contact votes on the poll known upstream as `upstream_id`.
    Vote {
        upstream_id: String,
        from: String,
        options: Vec<String>,
    },
    /// The upstream tells which linked id is the contact `contact`'s.
    RevealLid { contact: String },
    /// A contact posts a story (`status@broadcast`).
    Status {
        upstream_id: String,
        from: String,
        text: String,
    },
    /// A channel the account follows posts (`<channel>@newsletter`).
    ChannelPost {
        upstream_id: String,
        channel: String,
        text: String,
    },
}

/// A member of a group of the simulated world changes it on cue: adds, removes, promotes or
/// demotes `participants`, leaves it, or renames it. `upstream_id` names the `system` line.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupCue {
    pub upstream_id: String,
    pub from: String,
    pub chat_id: String,
    pub change: GroupAct,
}

/// What a member does to a group on cue (see [`GroupCue`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "change", rename_all = "camelCase")]
pub enum GroupAct {
    Participants {
        action: ParticipantAction,
        participants: Vec<String>,
    },
    Leave,
    Rename {
        name: String,
    },
}

/// Why a webhook delivery was not taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WebhookError {
    /// The signature is missing or does not match: nobody but the upstream may post here.
    #[error("missing or invalid webhook signature")]
    BadSignature,
    /// A subscription check with the wrong verify token.
    #[error("the verify token does not match")]
    WrongVerifyToken,
    /// Signed, but not something we can read.
    #[error("unreadable webhook payload: {0}")]
    Malformed(String),
    /// The device is not relayed to the upstream this webhook belongs to.
    #[error("this device does not take {0} webhooks")]
    NotThisConnector(&'static str),
}

/// Where the daemon serves a device's media, for upstreams that keep it behind their
/// credentials (`GET /api/v1/devices/{id}/media/{mediaId}`); a media id follows.
pub fn media_base(public_url: &str, device: &DeviceId) -> String {
    format!(
        "{}/api/v1/devices/{device}/media/",
        public_url.trim_end_matches('/')
    )
}

/// A file's bytes as they arrive.
pub type FileStream = BoxStream<'static, std::io::Result<Bytes>>;

/// A file on its way to whoever asked for it (from an upstream, or from the daemon's disk),
/// its body not read yet.
pub struct Download {
    pub mime: String,
    /// The file's size, when known before it is read.
    pub length: Option<u64>,
    pub body: FileStream,
}

#[cfg(test)]
mod tests {
    use super::{Act, Cue};

    #[test]
    fn a_cue_travels_to_another_node_and_back_unchanged() {
        let cues = [
            Cue::Stall,
            Cue::Act(Box::new(Act::Message {
                upstream_id: "sim_1".into(),
                from: "15550000002@c.us".into(),
                chat_id: None,
                as_lid: false,
                kind: "text".into(),
                text: "hi".into(),
                media: None,
                content: Box::default(),
            })),
            Cue::Act(Box::new(Act::RevealLid {
                contact: "15550000002@c.us".into(),
            })),
        ];
        for cue in cues {
            let json = serde_json::to_string(&cue).unwrap();
            assert_eq!(serde_json::from_str::<Cue>(&json).unwrap(), cue, "{json}");
        }
    }
}
