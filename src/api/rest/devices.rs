//! `/api/v1/devices`: the fleet, each device's lifecycle and its QR code.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{Object, Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::List;
use crate::api::accept;
use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{optional_body, ApiJson, DevicePath};
use crate::api::fleet::{self, handle, QrView};
use crate::api::openapi::{
    code, codes, Codes, File, Refused, CREDENTIALS, DEVICE, JSON_BODY, STORES,
};
use crate::api::AppState;
use crate::device::{DevicePatch, DeviceView, Lifecycle};
use crate::model::spec::{CloudApiSpec, ConnectorKind, DeviceSpec, WahaSpec};
use crate::model::{upstream::Cue, DeviceId};
use crate::qr;

/// What a command to a device can meet: a state that does not allow it (`invalid_state`), a
/// connector that cannot do it (`unsupported_by_connector`), an upstream that fails (`upstream_error`), a device
/// whose node of the cluster cannot be reached (`device_not_ready`), and a store that cannot
/// keep the step.
pub(super) const COMMAND_REFUSED: Codes = CREDENTIALS
    | DEVICE
    | STORES
    | codes(&[
        ErrorCode::InvalidState,
        ErrorCode::UnsupportedByConnector,
        ErrorCode::UpstreamError,
        ErrorCode::DeviceNotReady,
    ]);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_devices, create_device))
        .routes(routes!(show_device, update_device, delete_device))
        .routes(routes!(start_device))
        .routes(routes!(stop_device))
        .routes(routes!(restart_device))
        .routes(routes!(logout_device))
        .routes(routes!(show_qr))
        .routes(routes!(simulator_drop))
        .routes(routes!(simulator_logout))
        .routes(routes!(simulator_stall))
}

/// List the devices this credential sees
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the devices", body = List<DeviceView>), Refused<CREDENTIALS>))]
async fn list_devices(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<List<DeviceView>>, ApiError> {
    caller.authorize(Scope::Read, None)?;
    let items = fleet::visible(&state, &caller).await?;
    Ok(Json(List { items }))
}

/// A new device: its id, and its definition as a device file gives it.
struct NewDevice {
    id: DeviceId,
    spec: DeviceSpec,
}

/// Described as one definition's object per connector, with `id` added: composed with `allOf`
/// instead, the definition's refusal of fields it does not know would refuse `id` too. The
/// connector decides which table the definition needs, and checks only that one (see
/// `DeviceSpec::validate`).
impl PartialSchema for NewDevice {
    fn schema() -> RefOr<Schema> {
        let variants = [
            definition(ConnectorKind::Simulator, None),
            definition(
                ConnectorKind::Waha,
                Some(("waha", WahaSpec::required_schema())),
            ),
            definition(
                ConnectorKind::CloudApi,
                Some(("cloud_api", CloudApiSpec::required_schema())),
            ),
        ];
        variants
            .into_iter()
            .fold(OneOfBuilder::new(), OneOfBuilder::item)
            .description(Some(
                "A new device: its id, and its definition as a device file gives it. A `waha` \
                 or `cloud_api` device needs its connector's table, complete; a table of \
                 another connector is kept unread.",
            ))
            .examples([json!({ "id": "shop-1", "name": "Shop", "connector": "simulator" })])
            .into()
    }
}

/// The creation body of a device of `connector`, which needs `table` (its name and schema) if
/// it has one.
fn definition(connector: ConnectorKind, table: Option<(&str, Object)>) -> Object {
    let RefOr::T(Schema::Object(mut object)) = DeviceSpec::schema() else {
        return Object::new();
    };
    let id = Ref::from_schema_name(DeviceId::name()).into();
    object.properties = std::iter::once(("id".to_owned(), id))
        .chain(std::mem::take(&mut object.properties))
        .collect();
    object.required.insert(0, "id".to_owned());
    let kind = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([connector.as_str()]));
    object
        .properties
        .insert("connector".to_owned(), kind.into());
    if let Some((name, schema)) = table {
        object.properties.insert(name.to_owned(), schema.into());
        object
            .required
            .extend(["connector".to_owned(), name.to_owned()]);
    }
    object.description = None;
    object
}

impl ToSchema for NewDevice {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((DeviceId::name().into(), DeviceId::schema()));
        <DeviceSpec as ToSchema>::schemas(schemas);
    }
}

impl NewDevice {
    /// Reads a creation body. The id is read first, so that a bad id is named as such, not as
    /// a body error, and then passed to `admit` (the caller's access to it) before the rest of
    /// the body is read.
    fn read(
        mut body: Value,
        admit: impl FnOnce(&DeviceId) -> Result<(), ApiError>,
    ) -> Result<NewDevice, ApiError> {
        let raw_id = body
            .as_object_mut()
            .and_then(|fields| fields.remove("id"))
            .ok_or_else(|| ApiError::bad_request("`id` is required"))?;
        let raw_id = raw_id
            .as_str()
            .ok_or_else(|| ApiError::bad_request("`id` must be a string"))?;
        let id = DeviceId::parse(raw_id)?;
        admit(&id)?;
        let spec = serde_json::from_value(body)
            .map_err(|e| ApiError::bad_request(format!("invalid device: {e}")))?;
        Ok(NewDevice { id, spec })
    }
}

/// Create a device
///
/// A connector table (`waha`, `cloud_api`) needs the `admin` scope: without it the answer is
/// `forbidden`.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices",
    request_body = NewDevice,
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = CREATED, description = "the device, created", body = DeviceView),
        Refused<{ CREDENTIALS | JSON_BODY | STORES | codes(&[ErrorCode::InvalidDeviceId, ErrorCode::DeviceExists]) }>))]
async fn create_device(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let NewDevice { id, spec } =
        NewDevice::read(body, |id| Ok(caller.authorize(Scope::Control, Some(id))?))?;
    authorize_connector_settings(&caller, &id, &spec.connector_tables())?;
    let device = state.devices.create(id.clone(), spec).await?;
    // The hub opens the namespace as the bus tells of the device; the answer waits for it,
    // so a client may connect as soon as it has it.
    if !state.sockets.namespace_settled(&id, true).await {
        tracing::warn!(device_id = %id, "the device's namespace did not open in time");
    }
    Ok((StatusCode::CREATED, Json(device)).into_response())
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

/// One device in full, as `GET /devices/{id}` and the lifecycle routes answer.
async fn view(state: &AppState, id: DeviceId) -> Result<Json<DeviceView>, ApiError> {
    Ok(Json(fleet::view(state, id).await?))
}

/// One device
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices",
    params(DevicePath),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the device", body = DeviceView), Refused<{ CREDENTIALS | DEVICE }>))]
async fn show_device(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<DeviceView>, ApiError> {
    handle(&state, &caller, Scope::Read, &id)?;
    view(&state, id).await
}

/// Change a device's name, autostart, connector settings or send governor
///
/// Connector settings and the governor need the `admin` scope: without it the answer is
/// `forbidden`. A device declared by a file is changed in its file (`invalid_state`), but for
/// its governor, which an admin may change at run time whatever declared the device.
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "devices",
    params(DevicePath),
    request_body = DevicePatch,
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the device as changed", body = DeviceView),
        Refused<{ CREDENTIALS | DEVICE | JSON_BODY | STORES | code(ErrorCode::InvalidState) }>))]
async fn update_device(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    ApiJson(mut patch): ApiJson<DevicePatch>,
) -> Result<Json<DeviceView>, ApiError> {
    let device = handle(&state, &caller, Scope::Control, &id)?;
    authorize_connector_settings(&caller, &id, &patch.connector_tables())?;
    let governor = patch.governor.take();
    if let Some(changes) = &governor {
        caller.authorize(Scope::Admin, Some(&id)).map_err(|_| {
            ApiError::new(
                ErrorCode::Forbidden,
                "the send governor (`governor`) can be changed only with the `admin` scope",
            )
        })?;
        changes.validate().map_err(ApiError::bad_request)?;
    }
    if patch.changes_definition() {
        state.devices.update(&id, patch).await?;
    }
    if let Some(changes) = governor {
        device.govern(changes).await?;
    }
    view(&state, id).await
}

/// Delete a device and its journal
///
/// A device declared by a file is removed with its file (`invalid_state`).
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices",
    params(DevicePath),
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = NO_CONTENT, description = "deleted"),
        Refused<{ CREDENTIALS | DEVICE | STORES | code(ErrorCode::InvalidState) }>))]
async fn delete_device(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<StatusCode, ApiError> {
    handle(&state, &caller, Scope::Control, &id)?;
    state.devices.delete(&id).await?;
    if !state.sockets.namespace_settled(&id, false).await {
        tracing::warn!(device_id = %id, "the device's namespace did not close in time");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What a route asks of a device before answering with it.
enum Ask {
    Step(Lifecycle),
    Cue(Cue),
}

/// Asks the device to take a lifecycle step or to misbehave, and answers with the device as it
/// is then.
async fn drive(
    state: &AppState,
    caller: &Caller,
    id: DeviceId,
    ask: Ask,
) -> Result<Json<DeviceView>, ApiError> {
    let device = handle(state, caller, Scope::Control, &id)?;
    match ask {
        Ask::Step(step) => device.lifecycle(step).await?,
        Ask::Cue(cue) => device.cue(cue).await?,
    }
    view(state, id).await
}

/// Start the device
#[utoipa::path(post, path = "/api/v1/devices/{id}/start", tag = "devices",
    params(DevicePath),
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the device as it is then", body = DeviceView), Refused<COMMAND_REFUSED>))]
async fn start_device(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<DeviceView>, ApiError> {
    drive(&state, &caller, id, Ask::Step(Lifecycle::Start)).await
}

/// Stop the device, keeping its link
#[utoipa::path(post, path = "/api/v1/devices/{id}/stop", tag = "devices",
    params(DevicePath),
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the device as it is then", body = DeviceView), Refused<COMMAND_REFUSED>))]
async fn stop_device(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<DeviceView>, ApiError> {
    drive(&state, &caller, id, Ask::Step(Lifecycle::Stop)).await
}

/// Stop (if running) and start the device
#[utoipa::path(post, path = "/api/v1/devices/{id}/restart", tag = "devices",
    params(DevicePath),
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the device as it is then", body = DeviceView), Refused<COMMAND_REFUSED>))]
async fn restart_device(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<DeviceView>, ApiError> {
    drive(&state, &caller, id, Ask::Step(Lifecycle::Restart)).await
}

/// Log the device out and forget its link
#[utoipa::path(post, path = "/api/v1/devices/{id}/logout", tag = "devices",
    params(DevicePath),
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the device as it is then", body = DeviceView), Refused<COMMAND_REFUSED>))]
async fn logout_device(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<DeviceView>, ApiError> {
    drive(&state, &caller, id, Ask::Step(Lifecycle::Logout)).await
}

const PNG: &str = "image/png";
const SVG: &str = "image/svg+xml";
/// What `GET .../qr` answers with, JSON by default.
const QR_TYPES: [&str; 3] = ["application/json", PNG, SVG];

/// The QR code on show
///
/// JSON, or the picture with `Accept: image/png` or `image/svg+xml`. A device that is not in
/// state `qr` shows none (`invalid_state`).
#[utoipa::path(get, path = "/api/v1/devices/{id}/qr", tag = "devices",
    params(DevicePath),
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    description = "The code on show. A device that is `starting` is given 5 s to show its first code; one that is not in state `qr` by then is refused (409 `invalid_state`).",
    responses((status = OK, description = "the code on show", content(
            (QrView = "application/json"),
            (File = "image/png"),
            (String = "image/svg+xml"))),
        Refused<{ CREDENTIALS | DEVICE | code(ErrorCode::InvalidState) }>))]
async fn show_qr(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let device = handle(&state, &caller, Scope::Control, &id)?;
    let current = fleet::qr(&state, &device).await?;
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
    Ok(Json(QrView::from(current)).into_response())
}

/// What `…/simulator/drop` may ask; no body is a plain drop.
#[derive(Deserialize, Default, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({ "failReconnects": 2 }))]
pub(super) struct DropBody {
    /// How many of the reconnects that follow fail.
    #[serde(default, deserialize_with = "crate::model::whole::number")]
    #[schema(format = "uint32", maximum = 4_294_967_295_u32)]
    #[cfg_attr(test, ts(optional = nullable))]
    fail_reconnects: u32,
}

/// Simulator: drop the connection (optionally failing the next reconnects)
///
/// A device of another connector has no such fault (`unsupported_by_connector`).
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/drop", tag = "devices",
    params(DevicePath),
    request_body = Option<DropBody>,
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the device as it is then", body = DeviceView), Refused<{ COMMAND_REFUSED | JSON_BODY }>))]
async fn simulator_drop(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    body: axum::body::Bytes,
) -> Result<Json<DeviceView>, ApiError> {
    // The body is optional: an empty one means a plain drop.
    let DropBody { fail_reconnects } = optional_body(&body)?;
    let cue = Cue::Drop { fail_reconnects };
    drive(&state, &caller, id, Ask::Cue(cue)).await
}

/// Simulator: the phone logs the device out
///
/// A device of another connector has no such fault (`unsupported_by_connector`).
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/logout", tag = "devices",
    params(DevicePath),
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the device as it is then", body = DeviceView), Refused<COMMAND_REFUSED>))]
async fn simulator_logout(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<DeviceView>, ApiError> {
    drive(&state, &caller, id, Ask::Cue(Cue::RemoteLogout)).await
}

/// Simulator: the session stalls
///
/// The connection stays up and its checks answer, while every send is taken and never
/// acknowledged and every event is swallowed, until the upstream session is opened again (the
/// watchdog restarts a stalled session, see `device:health`). A device of another connector
/// has no such fault (`unsupported_by_connector`).
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/stall", tag = "devices",
    params(DevicePath),
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the device as it is then", body = DeviceView), Refused<COMMAND_REFUSED>))]
async fn simulator_stall(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<DeviceView>, ApiError> {
    drive(&state, &caller, id, Ask::Cue(Cue::Stall)).await
}

#[cfg(test)]
mod fuzz;
