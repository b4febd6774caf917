//! The upstream as a device sees it: the [`Upstream`] trait each connector implements, what an
//! upstream does on its own ([`UpstreamEvent`]), and [`Connectors`], through which the device
//! layer gets an upstream for a device without knowing any connector.

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::media::{Downloads, Library};
use super::DeviceError;
use crate::model::{
    event::Me,
    group::{GroupOp, GroupOutcome},
    inbound::{Directory, Inbound},
    pairing::LinkingPhone,
    spec::{ConnectorKind, DeviceSpec},
    upstream::{
        Accepted, ConnectorError, Cue, GroupRefusal, Outbound, Outgoing, Picture, Profile,
        Reported, Session, WebhookError,
    },
    DeviceId,
};
use crate::store::{StoreResult, Tx};

/// What the upstream did by itself. Its larger parts are boxed: every device's channel of
/// these allocates room for 32 of them when it is made, which for 10,000 idle devices was
/// 36 MB while a report was held inline (`docs/performance.md`, fleet).
#[derive(Debug)]
pub enum UpstreamEvent {
    /// The pairing code was scanned; `linked` answers whether the device accepted it.
    Scanned {
        session: Box<Value>,
        me: Box<Me>,
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
    Inbound(Box<Inbound>),
    /// A report the connector owes and keeps in the store until it is stored, so that it can
    /// make it again after the daemon stopped (the simulated phone's acks and replies):
    /// `settle`, run in the transaction that stores the report, marks it made and says whether
    /// it was still owed. One that was not (a copy of it was stored already) is dropped, so a
    /// report made again is stored once.
    Owed {
        report: Box<Inbound>,
        settle: Settle,
    },
}

/// Marks an owed report made, in the store transaction that stores it (see
/// [`UpstreamEvent::Owed`]), and answers whether it was still owed. In two parts: a write marks
/// every owed report it stores first, then reads the answers ([`Marked`]), so that on
/// PostgreSQL the marks of a batch share one round trip.
pub struct Settle(Box<MarkFn>);

/// What [`Settle`] runs.
type MarkFn = dyn FnOnce(&mut Tx<'_>) -> StoreResult<Marked> + Send;

impl Settle {
    pub fn new(mark: impl FnOnce(&mut Tx<'_>) -> StoreResult<Marked> + Send + 'static) -> Self {
        Self(Box::new(mark))
    }

    /// Marks the report made, in the write that stores it.
    pub fn mark(self, tx: &mut Tx<'_>) -> StoreResult<Marked> {
        (self.0)(tx)
    }
}

/// A report marked made ([`Settle::mark`]), whether it was still owed not read yet.
pub struct Marked(Box<StillOwedFn>);

/// What [`Marked`] runs.
type StillOwedFn = dyn FnOnce(&mut Tx<'_>) -> StoreResult<bool>;

impl Marked {
    pub fn new(still_owed: impl FnOnce(&mut Tx<'_>) -> StoreResult<bool> + 'static) -> Self {
        Self(Box::new(still_owed))
    }

    /// True if the report is to be stored.
    pub fn still_owed(self, tx: &mut Tx<'_>) -> StoreResult<bool> {
        (self.0)(tx)
    }
}

impl std::fmt::Debug for Settle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Settle")
    }
}

#[async_trait]
pub trait Upstream: Send + Sync {
    /// Connects, with the saved session if there is one.
    async fn open(&mut self, session: Option<&Value>) -> Result<Session, ConnectorError>;
    /// A pairing code valid for `ttl`; returns the QR text. Earlier codes stop working.
    async fn issue_qr(&mut self, ttl: std::time::Duration) -> Result<String, ConnectorError>;
    /// A code that links the device when typed on the phone whose number is `phone`, valid
    /// for `ttl` beside the QR codes; returns it as shown (`ABCD-EFGH`). Asked only while the
    /// device shows its QR codes, and only of a connector that lists `pairing.code`.
    async fn request_pairing_code(
        &mut self,
        phone: &LinkingPhone,
        ttl: std::time::Duration,
    ) -> Result<String, ConnectorError> {
        let _ = (phone, ttl);
        Err(ConnectorError::Unsupported("pairing by phone number"))
    }
    /// Whether the upstream rotates its pairing codes itself (and says so with
    /// [`Session::NeedsLinking`]) rather than on the device's QR timer.
    fn rotates_qr(&self) -> bool {
        false
    }
    /// Where the session stands, when that changed since it was last reported. Called when
    /// the upstream says so and every `watchdog.probe_secs`, which also notices an
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
    /// Makes, reads or changes a group (`groups.manage`), as this account.
    async fn group(&mut self, op: &GroupOp) -> Result<GroupOutcome, GroupRefusal> {
        let _ = op;
        Err(ConnectorError::Unsupported("groups").into())
    }
    /// What the upstream's profile of contact `contact_id` says (their names, their
    /// "about"); `None` if the upstream knows no such contact. Blocking them is an action
    /// told like the others ([`Outbound::Block`]).
    async fn profile(&mut self, contact_id: &str) -> Result<Option<Profile>, ConnectorError> {
        let _ = contact_id;
        Err(ConnectorError::Unsupported("contact lookups"))
    }
    /// The profile picture of contact `contact_id`, whole; `None` if they have none, or show
    /// it to nobody. At most
    /// [`MAX_PICTURE_BYTES`](crate::model::upstream::MAX_PICTURE_BYTES): a larger one is
    /// rejected.
    async fn picture(&mut self, contact_id: &str) -> Result<Option<Picture>, ConnectorError> {
        let _ = contact_id;
        Err(ConnectorError::Unsupported("profile pictures"))
    }
    /// Ends the session, keeping the credentials.
    async fn close(&mut self);
    /// Tells the upstream to forget this device.
    async fn logout(&mut self);
    async fn cue(&mut self, cue: Cue) -> Result<(), ConnectorError> {
        let _ = cue;
        Err(ConnectorError::Unsupported("the simulated world's cues"))
    }
}

/// What the device layer asks of the connectors as a whole: an upstream for a device, and what
/// only a device's connector can read (its webhooks, and through [`Downloads`] the files its
/// upstream keeps). `app`
/// hands the daemon's connectors to the device manager behind this trait, so this layer names
/// no connector and the connectors can build on it.
#[async_trait]
pub trait Connectors: Downloads + Send + Sync {
    /// The upstream of device `id` as `spec` (already checked) defines it; what it does on its
    /// own arrives on `events`.
    fn upstream(
        &self,
        id: &DeviceId,
        spec: DeviceSpec,
        events: mpsc::Sender<UpstreamEvent>,
        library: Library,
    ) -> Result<Box<dyn Upstream>, DeviceError>;
    /// Verifies a webhook delivery from the upstream `from` over its raw body, then reads it
    /// into what the device must apply. `media_base` is where the daemon serves the device's
    /// media (see [`crate::model::upstream::media_base`]).
    fn read_webhook(
        &self,
        spec: &DeviceSpec,
        from: ConnectorKind,
        media_base: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Vec<Reported>, WebhookError>;
    /// An upstream's check of the callback URL it was given (Meta's `hub.verify_token`).
    fn verify_subscription(
        &self,
        spec: &DeviceSpec,
        mode: Option<&str>,
        token: Option<&str>,
    ) -> Result<(), WebhookError>;
}
