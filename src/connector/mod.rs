//! Connectors: the upstream side of a device.
//!
//! A connector maps one upstream's vocabulary (the simulated phone, a WAHA server, the
//! WhatsApp Business Cloud API) onto devicebridge's and nothing else. The device actor calls
//! it and turns its answers into state machine inputs; things the upstream does on its own (a
//! scan, a dropped connection, a webhook saying its session changed) arrive on the
//! [`UpstreamEvent`] channel the connector was built with, or, for webhooks, through
//! [`read_webhook`] and the device's command queue.

pub mod cloud_api;
mod http;
pub mod simulator;
pub mod waha;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::device::spec::{ConnectorKind, DeviceSpec};
use crate::device::DeviceId;
use crate::event::Me;
use crate::messaging::inbound::{Directory, Inbound};
use crate::messaging::{Ack, Message};

pub use http::{Download, Http, Timeouts};

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

/// A message to hand to the upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub message: Message,
    /// The upstream id of the message it replies to, once that one is known upstream.
    pub reply_to: Option<String>,
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

/// What the upstream did by itself.
#[derive(Debug)]
pub enum UpstreamEvent {
    /// The pairing code was scanned; `linked` answers whether the device accepted it.
    Scanned {
        session: Value,
        me: Me,
        linked: oneshot::Sender<bool>,
    },
    ConnectionLost {
        reason: String,
    },
    RemoteLogout,
    /// The upstream says its session changed (WAHA's `session.status`): the device asks the
    /// connector where it stands now ([`Upstream::check`]), so a stale or repeated report
    /// changes nothing.
    SessionChanged,
    /// Chats and messages: new messages, acks, typing, presence, reactions, revocations.
    Inbound(Inbound),
}

/// What a webhook delivery reported.
#[derive(Debug, Clone, PartialEq)]
pub enum Reported {
    /// Chats and messages, stored before the delivery is answered.
    Inbound(Inbound),
    /// The session changed (see [`UpstreamEvent::SessionChanged`]).
    SessionChanged,
}

/// Something our side asks the upstream to show, beyond sending messages.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The chat was archived (or brought back) here; the phone's chat list follows where the
    /// upstream has one.
    Archive { chat_id: String, archived: bool },
    /// A client opened the chat (listed its newest messages): the upstream should report who
    /// in it is typing or online, which WhatsApp tells only for chats one watches.
    WatchPresence { chat_id: String },
}

/// Faults a test or a demo can inject into a simulated upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The connection drops; the next `fail_reconnects` reconnection attempts fail too.
    Drop { fail_reconnects: u32 },
    /// The phone logs the device out.
    RemoteLogout,
}

#[async_trait]
pub trait Upstream: Send + Sync {
    /// Connects, with the saved session if there is one.
    async fn open(&mut self, session: Option<&Value>) -> Result<Session, ConnectorError>;
    /// A pairing code valid for `ttl`; returns the QR text. Earlier codes stop working.
    async fn issue_qr(&mut self, ttl: std::time::Duration) -> Result<String, ConnectorError>;
    /// Whether the upstream rotates its pairing codes itself (and says so with
    /// [`Session::NeedsLinking`]) rather than on the device's QR timer.
    fn rotates_qr(&self) -> bool {
        false
    }
    /// Where the session stands, when that changed since it was last reported. Called when
    /// the upstream says so and every `upstream.check_interval_secs`, which also notices an
    /// upstream that stopped answering.
    async fn check(&mut self) -> Result<Option<Session>, ConnectorError> {
        Ok(None)
    }
    /// Brings the upstream's view up to date after linking or restoring: its contacts, chats
    /// and recent messages.
    async fn sync(&mut self) -> Result<Directory, ConnectorError>;
    /// Hands messages to the upstream in order. Returns one result per message; after a
    /// failure that later messages must wait behind, it stops, and the messages without a
    /// result were not attempted.
    async fn send(&mut self, batch: &[Outgoing]) -> Vec<Result<Accepted, ConnectorError>>;
    /// Whether the upstream recognises a message handed to it again with the same id, as
    /// happens when the daemon stops between the upstream taking it and the outcome being
    /// stored. One that does not (WhatsApp's APIs take no id of ours) is handed one message
    /// at a time, its outcome stored before the next, so such a crash repeats at most the
    /// message that was in hand.
    fn recognises_resends(&self) -> bool {
        false
    }
    /// Read receipts, typing, reactions and revocations.
    async fn tell(&mut self, action: &Outbound) -> Result<(), ConnectorError>;
    /// The chat id of a phone number (digits only, country code first) if it has a WhatsApp
    /// account, as the upstream writes it; `None` if it has none.
    async fn find_number(&mut self, number: &str) -> Result<Option<String>, ConnectorError>;
    /// The chat id of the phone number behind a linked id (`…@lid`: WhatsApp names some
    /// contacts by one instead of their number), if the upstream can look it up; `None` if it
    /// cannot tell, or has no lookup (see `device::linked_ids`).
    async fn number_behind(&mut self, lid: &str) -> Result<Option<String>, ConnectorError> {
        let _ = lid;
        Ok(None)
    }
    /// A group's name (its subject), if the upstream can tell; `None` if it cannot, or has no
    /// groups.
    async fn group_name(&mut self, group_id: &str) -> Result<Option<String>, ConnectorError> {
        let _ = group_id;
        Ok(None)
    }
    /// Ends the session, keeping the credentials.
    async fn close(&mut self);
    /// Tells the upstream to forget this device.
    async fn logout(&mut self);
    async fn inject_fault(&mut self, fault: Fault) -> Result<(), ConnectorError> {
        let _ = fault;
        Err(ConnectorError::Unsupported("fault injection"))
    }
}

/// Sends one message; connectors that talk to an upstream one request per message implement
/// this and get [`send_in_order`].
#[async_trait]
trait SendOne: Sync {
    async fn send_one(&self, outgoing: &Outgoing) -> Result<Accepted, ConnectorError>;
}

/// Sends a batch one message at a time. A rejection fails only its own message, so sending
/// goes on; any other failure stops the batch, because later messages of the same chat must
/// not overtake one that will be retried.
async fn send_in_order(
    sender: &impl SendOne,
    batch: &[Outgoing],
) -> Vec<Result<Accepted, ConnectorError>> {
    let mut results = Vec::with_capacity(batch.len());
    for outgoing in batch {
        let result = sender.send_one(outgoing).await;
        let stop = matches!(&result, Err(error) if !matches!(error, ConnectorError::Rejected(_)));
        results.push(result);
        if stop {
            break;
        }
    }
    results
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

/// Verifies a webhook delivery for a device and reads it into what the device must apply.
/// The signature is checked over the raw body before anything in it is believed. `media_base`
/// is where the daemon serves the device's media, for upstreams that keep it behind their
/// credentials.
pub fn read_webhook(
    spec: &DeviceSpec,
    from: ConnectorKind,
    media_base: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<Reported>, WebhookError> {
    match (from, spec.connector, &spec.waha, &spec.cloud_api) {
        (ConnectorKind::Waha, ConnectorKind::Waha, Some(waha), _) => {
            waha::read_webhook(waha, media_base, headers, body)
        }
        (ConnectorKind::CloudApi, ConnectorKind::CloudApi, _, Some(cloud)) => {
            cloud_api::read_webhook(cloud, media_base, headers, body)
        }
        (from, ..) => Err(WebhookError::NotThisConnector(from.as_str())),
    }
}
