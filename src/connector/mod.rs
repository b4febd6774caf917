//! Connectors: the upstream side of a device.
//!
//! A connector maps one upstream's vocabulary (a simulated phone, later real messaging APIs)
//! onto devicebridge's and nothing else. The device actor calls it and turns its answers into
//! state machine inputs; things the upstream does on its own (a scan, a dropped connection, a
//! remote logout) arrive on the [`UpstreamEvent`] channel the connector was built with.

pub mod simulator;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::event::Me;
use crate::messaging::inbound::{Directory, Inbound};
use crate::messaging::Message;

/// How an upstream session came up.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened {
    /// Not linked: a QR code must be scanned.
    NeedsLinking,
    /// Saved credentials were accepted.
    Restored { me: Me },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConnectorError {
    /// Transient: the upstream could not be reached; the device reconnects with backoff.
    #[error("upstream unreachable: {0}")]
    Unreachable(String),
    /// Permanent: the upstream refused us (bad credentials); the device fails.
    #[error("upstream refused: {0}")]
    Refused(String),
    #[error("this connector does not support {0}")]
    Unsupported(&'static str),
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
    /// Chats and messages: new messages, acks, typing, presence, reactions, revocations.
    Inbound(Inbound),
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
    async fn open(&mut self, session: Option<&Value>) -> Result<Opened, ConnectorError>;
    /// A new single-use pairing code valid for `ttl`; returns the QR text. Earlier codes stop
    /// working.
    async fn issue_qr(&mut self, ttl: std::time::Duration) -> Result<String, ConnectorError>;
    /// Brings the upstream's view up to date after linking or restoring: its contacts and chats.
    async fn sync(&mut self) -> Result<Directory, ConnectorError>;
    /// Hands messages to the upstream in order, with our message ids so that a resend of the
    /// same message is recognised. Returns one result per message, the upstream id on success;
    /// after a failure it may stop, and the messages without a result were not attempted.
    async fn send(&mut self, batch: &[Message]) -> Vec<Result<String, ConnectorError>>;
    /// Read receipts, typing, reactions and revocations.
    async fn tell(&mut self, action: &Outbound) -> Result<(), ConnectorError>;
    /// Ends the session, keeping the credentials.
    async fn close(&mut self);
    /// Tells the upstream to forget this device.
    async fn logout(&mut self);
    async fn inject_fault(&mut self, fault: Fault) -> Result<(), ConnectorError> {
        let _ = fault;
        Err(ConnectorError::Unsupported("fault injection"))
    }
}
