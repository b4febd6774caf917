//! The devices as the API shows them — the fleet a credential sees, one device in full, the
//! QR code it shows — for REST and MCP alike, so that an agent and a script see the same
//! device. Each function expects its caller to have checked the credential already.

use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{Caller, Scope};
use super::error::{ApiError, ErrorCode};
use super::AppState;
use crate::device::{CurrentQr, DeviceError, DeviceHandle, DeviceView};
use crate::model::{event::HealthStatus, rfc3339, DeviceId, StateName};
use crate::store;

/// Longest a QR request waits for a device that is starting, or has just entered state `qr`,
/// to show its code.
const QR_ISSUE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Device `id`'s handle, once `caller` may act on it with `scope`.
pub fn handle(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    id: &DeviceId,
) -> Result<DeviceHandle, ApiError> {
    caller.authorize(scope, Some(id))?;
    Ok(state.devices.handle(id).ok_or(DeviceError::NotFound)?)
}

/// The devices `caller` sees, as lists show them (without governor and restrictions).
pub async fn visible(state: &AppState, caller: &Caller) -> Result<Vec<DeviceView>, ApiError> {
    let records = state.store.read(store::devices::list).await?;
    Ok(records
        .iter()
        .filter(|record| caller.sees(&record.id))
        .map(|record| DeviceView {
            health: health(state, &record.id),
            ..DeviceView::from(record)
        })
        .collect())
}

/// How a device's upstream session is doing, as its handle knows; a device this node has no
/// handle for (being removed) is shown `healthy`, as it was stored.
fn health(state: &AppState, id: &DeviceId) -> HealthStatus {
    state
        .devices
        .handle(id)
        .map_or(HealthStatus::Healthy, |handle| handle.health())
}

/// One device in full: its owner in a cluster, its health, its send governor and the
/// restrictions on its account.
pub async fn view(state: &AppState, id: DeviceId) -> Result<DeviceView, ApiError> {
    let in_cluster = state.devices.ownership().is_some();
    let (record, owner, ledger) = state
        .store
        .read(move |conn| {
            let owner = match in_cluster {
                true => Some(store::cluster::owner(conn, &id)?.map(|owner| owner.node)),
                false => None,
            };
            let ledger = store::governors::governor(conn, &id)?;
            Ok((store::devices::get(conn, &id)?, owner, ledger))
        })
        .await?;
    let record = record.ok_or(DeviceError::NotFound)?;
    let (governor, restrictions) = state.devices.governor_of(&record, ledger);
    Ok(DeviceView {
        owner,
        health: health(state, &record.id),
        governor: Some(governor),
        restrictions: Some(restrictions),
        ..DeviceView::from(&record)
    })
}

/// The code `device` shows. A device that is starting (just created, started, or taken over
/// by another node of a cluster) or has just entered state `qr` is given a moment to show its
/// first: a client that asks for the code right after creating a device gets it rather than a
/// refusal. One in another state shows none (`invalid_state`), nor does one that starts into
/// a session still linked, once the moment is over.
pub async fn qr(state: &AppState, device: &DeviceHandle) -> Result<CurrentQr, ApiError> {
    let may_show = [StateName::Starting.as_str(), StateName::Qr.as_str()];
    let current = match device.current_qr() {
        Some(current) => Some(current),
        None if may_show.contains(&view(state, device.id.clone()).await?.state) => {
            device.qr_within(QR_ISSUE_WAIT).await
        }
        None => None,
    };
    current.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidState,
            "the device is not showing a QR code (it is not in state `qr`)",
        )
    })
}

/// The QR code on show, as `GET …/qr` answers in JSON.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "Qr"))]
#[serde(rename_all = "camelCase")]
pub struct QrView {
    /// The text the code encodes.
    qr: String,
    /// The code as a picture: a `data:image/png;base64,` URL.
    image: String,
    /// When the code is replaced by the next one.
    #[schema(format = DateTime)]
    expires_at: String,
    /// Which code this is since the device entered state `qr`, from 1.
    attempt: u32,
    /// How many codes are shown before the device gives up.
    max_attempts: u32,
}

impl From<CurrentQr> for QrView {
    fn from(current: CurrentQr) -> Self {
        QrView {
            qr: current.qr,
            image: current.image,
            expires_at: rfc3339(current.expires_at),
            attempt: current.attempt,
            max_attempts: current.max_attempts,
        }
    }
}
