//! Devices: ids, definitions, the pure state machine, the per-device actor and its supervisor.

mod actions;
pub mod actor;
pub mod cluster;
mod fleet;
pub mod governor;
mod group_echoes;
mod group_names;
mod handle;
mod latency;
mod linked_ids;
mod manager;
pub mod media;
mod mirror;
pub mod pairings;
mod phone_numbers;
pub mod pictures;
mod refusal;
mod relay;
mod relay_bell;
mod retry;
pub mod route;
pub mod spec;
pub mod state;
mod supervisor;
pub mod uploads;
pub mod upstream;
mod watchdog;
mod webhooks;

use chrono::{DateTime, Utc};

use crate::model::{
    capability::Capability,
    event::{HealthStatus, Me},
    governor::{GovernorView, Restrictions},
    rfc3339,
    spec::{ConnectorKind, DeviceSpec},
    upstream::GroupRefusal,
    upstream::{ConnectorError, WebhookError},
    DeviceId,
};
use serde::Serialize;

pub use fleet::DevicePatch;
pub use handle::DeviceHandle;
pub use manager::DeviceManager;
pub use route::Lifecycle;
pub use state::InvalidTransition;
pub use webhooks::WebhookReceiver;

use crate::store::{DeviceRecord, Store, StoreError};

/// The QR code a device in state `qr` is showing.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentQr {
    pub qr: String,
    pub image: String,
    pub expires_at: DateTime<Utc>,
    pub attempt: u32,
    pub max_attempts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("{0}")]
    InvalidState(#[from] InvalidTransition),
    #[error("no such device")]
    NotFound,
    #[error("a device with this id already exists")]
    Exists,
    #[error("the device is declared in {0}; edit or remove that file instead")]
    DeclaredInFile(String),
    #[error("invalid device definition: {0}")]
    Definition(String),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the device is shutting down")]
    Gone,
    #[error("the device is not ready: its upstream cannot be asked")]
    NotReady,
    #[error("no such media: {0}")]
    MediaNotFound(String),
    /// The bucket of `storage.media_url` cannot be read now; the cause is logged.
    #[error("the bucket that keeps uploaded files cannot be read now; try again later")]
    MediaUnavailable,
    /// The upstream refused what was asked of a group, or the request was not one to ask.
    #[error(transparent)]
    Group(#[from] GroupRefusal),
    /// The device's connector cannot do the operation; nothing was asked or stored.
    #[error("a {connector} device cannot do {}", .operation.as_str())]
    Unsupported {
        connector: &'static str,
        operation: Capability,
    },
    /// The device's governor paces the request: one more may go after `retry_after`.
    #[error("too many number checks on this device for now; try again in {} s", crate::device::actor::seconds_until(*.retry_after))]
    Paced { retry_after: std::time::Duration },
    /// The device's owner, another node, refused the request with this error.
    #[error("{}", .0.message)]
    Owner(crate::envelope::ApiError),
}

/// A device as the API shows it (SPEC's `Device`).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "Device"))]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    #[cfg_attr(test, ts(type = "string"))]
    pub id: DeviceId,
    #[schema(example = "Shop")]
    pub name: String,
    #[schema(value_type = crate::model::spec::ConnectorKind)]
    #[cfg_attr(test, ts(as = "crate::model::spec::ConnectorKind"))]
    pub connector: String,
    #[schema(value_type = crate::model::StateName)]
    #[cfg_attr(test, ts(type = "StateName"))]
    pub state: &'static str,
    pub state_reason: Option<String>,
    pub me: Option<Me>,
    pub autostart: bool,
    /// In a cluster, the node that runs the device; `null` while no node does (its owner
    /// died and its lease has not run out yet). Absent on one node.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    #[cfg_attr(test, ts(optional, type = "string | null"))]
    pub owner: Option<Option<String>>,
    /// What its connector can do; anything else is refused with `unsupported_by_connector`.
    pub capabilities: &'static [Capability],
    /// How its upstream session is doing: `stalled` while the watchdog restarts a session
    /// that said it worked and did nothing, `flapping` while its reconnects are spaced out
    /// (see `device:health`).
    pub health: HealthStatus,
    /// Its send governor: the limits in force and where it stands against them (SPEC §12).
    /// `GET /devices/{id}` shows it; lists leave it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub governor: Option<GovernorView>,
    /// WhatsApp's restrictions on the account, as its upstream last reported them: while one
    /// is in force, messages to chats that never wrote wait (`reason: "restricted"`).
    /// `GET /devices/{id}` shows them; lists leave them out.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub restrictions: Option<Restrictions>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// A device's stored row.
async fn stored(store: &Store, id: &DeviceId) -> Result<DeviceRecord, DeviceError> {
    let lookup = id.clone();
    store
        .read(move |conn| crate::store::devices::get(conn, &lookup))
        .await?
        .ok_or(DeviceError::NotFound)
}

/// The definition a device was stored with.
fn definition(record: &DeviceRecord) -> Result<DeviceSpec, DeviceError> {
    serde_json::from_value(record.settings.clone())
        .map_err(|e| DeviceError::Definition(e.to_string()))
}

impl From<&DeviceRecord> for DeviceView {
    fn from(record: &DeviceRecord) -> Self {
        DeviceView {
            id: record.id.clone(),
            name: record.name.clone(),
            connector: record.connector.clone(),
            state: record.state.as_str(),
            state_reason: record.state_reason.clone(),
            me: record.me.clone(),
            autostart: record.autostart,
            owner: None,
            capabilities: ConnectorKind::named(&record.connector)
                .map_or(&[], ConnectorKind::capabilities),
            health: HealthStatus::Healthy,
            governor: None,
            restrictions: None,
            created_at: rfc3339(record.created_at),
            updated_at: rfc3339(record.updated_at),
        }
    }
}
