//! `/api/v1/devices`: the fleet, each device's lifecycle and its QR code.

use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{endpoint, Endpoint};
use crate::api::accept;
use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{optional_body, ApiJson, DevicePath};
use crate::api::AppState;
use crate::device::{DeviceError, DeviceHandle, DevicePatch, DeviceView, Lifecycle};
use crate::model::{rfc3339, spec::DeviceSpec, upstream::Fault, DeviceId, StateName};
use crate::{qr, store};

/// What creating or changing a device answers a credential without `admin` that gives a
/// connector table, for the OpenAPI document.
const CONNECTOR_SETTINGS_REFUSED: (u16, &str) = (
    403,
    "a connector table (`waha`, `cloud_api`) was given without the `admin` scope (`forbidden`)",
);

/// Longest a QR request waits for a device that has just entered state `qr` to show its code.
const QR_ISSUE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub fn endpoints() -> Vec<Endpoint> {
    let d = "/api/v1/devices/{id}";
    vec![
        endpoint(
            Method::GET,
            "/api/v1/devices",
            "List the devices this credential sees",
            Some(Scope::Read),
            None,
            (200, Some("DeviceList")),
            get(list),
        ),
        endpoint(
            Method::POST,
            "/api/v1/devices",
            "Create a device; a connector table (`waha`, `cloud_api`) needs the `admin` scope",
            Some(Scope::Control),
            Some("NewDevice"),
            (201, Some("Device")),
            post(create),
        )
        .failing_with(CONNECTOR_SETTINGS_REFUSED),
        endpoint(
            Method::GET,
            d,
            "One device",
            Some(Scope::Read),
            None,
            (200, Some("Device")),
            get(show),
        ),
        endpoint(
            Method::PATCH,
            d,
            "Change a device's name, autostart or connector settings; connector settings need \
             the `admin` scope",
            Some(Scope::Control),
            Some("DevicePatch"),
            (200, Some("Device")),
            patch(update),
        )
        .failing_with(CONNECTOR_SETTINGS_REFUSED),
        endpoint(
            Method::DELETE,
            d,
            "Delete a device and its journal",
            Some(Scope::Control),
            None,
            (204, None),
            delete(remove),
        ),
        endpoint(
            Method::POST,
            "/api/v1/devices/{id}/start",
            "Start the device",
            Some(Scope::Control),
            None,
            (200, Some("Device")),
            lifecycle(Lifecycle::Start),
        ),
        endpoint(
            Method::POST,
            "/api/v1/devices/{id}/stop",
            "Stop the device, keeping its link",
            Some(Scope::Control),
            None,
            (200, Some("Device")),
            lifecycle(Lifecycle::Stop),
        ),
        endpoint(
            Method::POST,
            "/api/v1/devices/{id}/restart",
            "Stop (if running) and start the device",
            Some(Scope::Control),
            None,
            (200, Some("Device")),
            lifecycle(Lifecycle::Restart),
        ),
        endpoint(
            Method::POST,
            "/api/v1/devices/{id}/logout",
            "Log the device out and forget its link",
            Some(Scope::Control),
            None,
            (200, Some("Device")),
            lifecycle(Lifecycle::Logout),
        ),
        endpoint(
            Method::GET,
            "/api/v1/devices/{id}/qr",
            "The QR code on show: JSON, or the picture with `Accept: image/png` or `image/svg+xml`",
            Some(Scope::Control),
            None,
            (200, Some("Qr")),
            get(qr_code),
        )
        .also_as([PNG, SVG]),
        endpoint(
            Method::POST,
            "/api/v1/devices/{id}/simulator/drop",
            "Simulator: drop the connection (optionally failing the next reconnects)",
            Some(Scope::Control),
            Some("SimulatorDrop"),
            (200, Some("Device")),
            post(simulator_drop),
        )
        .body_optional(),
        endpoint(
            Method::POST,
            "/api/v1/devices/{id}/simulator/logout",
            "Simulator: the phone logs the device out",
            Some(Scope::Control),
            None,
            (200, Some("Device")),
            post(simulator_logout),
        ),
    ]
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.authorize(Scope::Read, None)?;
    let records = state.store.read(store::devices::list).await?;
    let items: Vec<DeviceView> = records
        .iter()
        .filter(|record| caller.sees(&record.id))
        .map(DeviceView::from)
        .collect();
    Ok(Json(json!({ "items": items })))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let id = take_id(&mut body)?;
    caller.authorize(Scope::Control, Some(&id))?;
    let spec = device_spec(body)?;
    authorize_connector_settings(&caller, &id, &spec.connector_tables())?;
    let device = state.devices.create(id.clone(), spec).await?;
    // The namespace opens before the answer, so a client may connect as soon as it has it;
    // dashboards hear of the new device from the device layer.
    state.sockets.add_device(&id);
    Ok((StatusCode::CREATED, Json(device)).into_response())
}

/// Takes the id out of a creation body. It is checked first, so that a bad id is named as
/// such, not as a body error, and before the caller's access to it.
fn take_id(body: &mut Value) -> Result<DeviceId, ApiError> {
    let raw_id = body
        .as_object_mut()
        .and_then(|fields| fields.remove("id"))
        .ok_or_else(|| ApiError::bad_request("`id` is required"))?;
    let raw_id = raw_id
        .as_str()
        .ok_or_else(|| ApiError::bad_request("`id` must be a string"))?;
    Ok(DeviceId::parse(raw_id)?)
}

/// The rest of a creation body: the device's definition.
fn device_spec(body: Value) -> Result<DeviceSpec, ApiError> {
    serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("invalid device: {e}")))
}

/// Connector settings say which URLs the daemon calls and with which credentials: whoever
/// sets them makes the daemon send requests into its own host and network, and can point a
/// device's traffic elsewhere. Only an admin may, not every credential that may control a
/// device.
fn authorize_connector_settings(
    caller: &Caller,
    id: &DeviceId,
    tables: &[&str],
) -> Result<(), ApiError> {
    if tables.is_empty() {
        return Ok(());
    }
    caller.authorize(Scope::Admin, Some(id)).map_err(|_| {
        ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "connector settings (`{}`) can be set or changed only with the `admin` scope",
                tables.join("`, `")
            ),
        )
    })
}

/// Loads the device view after checking access.
async fn view(state: &AppState, id: DeviceId) -> Result<Json<DeviceView>, ApiError> {
    let record = state
        .store
        .read(move |conn| store::devices::get(conn, &id))
        .await?
        .ok_or(DeviceError::NotFound)?;
    Ok(Json(DeviceView::from(&record)))
}

fn handle(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    id: &DeviceId,
) -> Result<DeviceHandle, ApiError> {
    caller.authorize(scope, Some(id))?;
    Ok(state.devices.handle(id).ok_or(DeviceError::NotFound)?)
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<DeviceView>, ApiError> {
    handle(&state, &caller, Scope::Read, &id)?;
    view(&state, id).await
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    ApiJson(patch): ApiJson<DevicePatch>,
) -> Result<Json<DeviceView>, ApiError> {
    handle(&state, &caller, Scope::Control, &id)?;
    authorize_connector_settings(&caller, &id, &patch.connector_tables())?;
    Ok(Json(state.devices.update(&id, patch).await?))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<StatusCode, ApiError> {
    handle(&state, &caller, Scope::Control, &id)?;
    state.devices.delete(&id).await?;
    state.sockets.remove_device(&id);
    Ok(StatusCode::NO_CONTENT)
}

/// A route that takes the device through `step` and answers with the device as it is then.
fn lifecycle(step: Lifecycle) -> MethodRouter<AppState> {
    post(
        move |State(state): State<AppState>, caller: Caller, DevicePath(id): DevicePath| async move {
            handle(&state, &caller, Scope::Control, &id)?
                .lifecycle(step)
                .await?;
            view(&state, id).await
        },
    )
}

async fn simulator_logout(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<DeviceView>, ApiError> {
    handle(&state, &caller, Scope::Control, &id)?
        .inject_fault(Fault::RemoteLogout)
        .await?;
    view(&state, id).await
}

const PNG: &str = "image/png";
const SVG: &str = "image/svg+xml";
/// What `GET .../qr` answers with, JSON by default.
const QR_TYPES: [&str; 3] = ["application/json", PNG, SVG];

async fn qr_code(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let device = handle(&state, &caller, Scope::Control, &id)?;
    let current = match device.current_qr() {
        Some(current) => Some(current),
        None if view(&state, id.clone()).await?.state == StateName::Qr.as_str() => {
            device.qr_within(QR_ISSUE_WAIT).await
        }
        None => None,
    };
    let current = current.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidState,
            "the device is not showing a QR code (it is not in state `qr`)",
        )
    })?;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // A client that accepts none of them still gets the JSON, whose errors it reads anyway.
    match accept::preferred(accept, &QR_TYPES).unwrap_or(QR_TYPES[0]) {
        PNG => {
            let png = qr::png(&current.qr).map_err(ApiError::internal)?;
            return Ok(([(header::CONTENT_TYPE, PNG)], png).into_response());
        }
        SVG => {
            let svg = qr::svg(&current.qr).map_err(ApiError::internal)?;
            return Ok(([(header::CONTENT_TYPE, SVG)], svg).into_response());
        }
        _ => {}
    }
    Ok(Json(json!({
        "qr": current.qr,
        "image": current.image,
        "expiresAt": rfc3339(current.expires_at),
        "attempt": current.attempt,
        "maxAttempts": current.max_attempts,
    }))
    .into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DropBody {
    #[serde(default)]
    fail_reconnects: u32,
}

async fn simulator_drop(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    body: axum::body::Bytes,
) -> Result<Json<DeviceView>, ApiError> {
    // The body is optional: an empty one means a plain drop.
    let DropBody { fail_reconnects } = optional_body(&body)?;
    handle(&state, &caller, Scope::Control, &id)?
        .inject_fault(Fault::Drop { fail_reconnects })
        .await?;
    view(&state, id).await
}

#[cfg(test)]
mod fuzz;
