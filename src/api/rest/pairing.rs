//! Linking by code: a code for a phone number (`POST /api/v1/devices/{id}/pairing-code`), and
//! the phone side of simulator linking: `POST /api/v1/pairings` for programs, and
//! `/pair/{code}` for a phone that scanned the QR code and opened its URL.
//!
//! The `/pair/{code}` page needs no credential: like a real linking QR code, the single-use,
//! short-lived code is the credential.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::devices::COMMAND_REFUSED;
use crate::api::auth::{Caller, Scope};
use crate::api::conversations::PairingCodeRequest;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{ApiJson, DevicePath};
use crate::api::fleet::handle;
use crate::api::openapi::{codes, Refused, ANY_REQUEST, CREDENTIALS, JSON_BODY, STORES};
use crate::api::AppState;
use crate::device::pairings::{PairingError, Scan};
use crate::model::pairing::{IssuedCode, LinkingPhone};
use crate::model::DeviceId;
use page::{page, Outcome};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pairing_code))
        .routes(routes!(pair))
        .routes(routes!(confirm_page, confirm))
}

/// Give a code that links the device from a phone number
///
/// The phone's owner types the code into WhatsApp (Linked devices → Link with phone number),
/// and the device goes `authenticated`, then `ready`, as when its QR code is scanned; for a
/// simulator device, `POST /api/v1/pairings { code, phone }` plays that phone. Only while the
/// device shows its QR codes, state `qr` (`invalid_state` otherwise, and nothing changes), on a
/// connector that lists `pairing.code` (`unsupported_by_connector` otherwise). A new code
/// replaces the one given before. The code is journaled as `pairing:code { code, phone,
/// expiresAt }`, which only credentials with the `control` scope on the device receive; one
/// that cannot be journaled is not given (`storage_unavailable`).
#[utoipa::path(post, path = "/api/v1/devices/{id}/pairing-code", tag = "pairing",
    params(DevicePath),
    request_body = PairingCodeRequest,
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the code, and until when it links the device", body = IssuedCode),
        Refused<{ COMMAND_REFUSED | JSON_BODY }>))]
async fn pairing_code(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    ApiJson(body): ApiJson<PairingCodeRequest>,
) -> Result<Json<IssuedCode>, ApiError> {
    handle(&state, &caller, Scope::Control, &id)?;
    Ok(Json(state.conversations.pairing_code(&id, body).await?))
}

/// What the phone side presents: a scanned simulator QR code, or a simulator's code typed on
/// the phone it was given for.
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(
    untagged,
    expecting = "a pairing is `{ qr }` (a scanned QR code) or `{ code, phone }` (a code typed on that phone), with string values and no other field"
)]
#[schema(examples(
    json!({ "qr": "http://localhost:3000/pair/3f9c2a7d" }),
    json!({ "code": "K7QM-WX42", "phone": "+15550000009" })
))]
pub(super) enum Pairing {
    Scanned(ScannedQr),
    Typed(TypedCode),
}

/// A scanned simulator QR code.
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "qr": "http://localhost:3000/pair/3f9c2a7d" }))]
pub(super) struct ScannedQr {
    /// The QR code's text, or its bare code.
    qr: String,
}

/// A simulator's code for a phone number, typed on that phone.
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "code": "K7QM-WX42", "phone": "+15550000009" }))]
pub(super) struct TypedCode {
    /// The code as `POST …/pairing-code` gave it; case, spaces and the dash do not matter.
    code: String,
    /// The number the code was given for.
    #[schema(schema_with = crate::model::constraints::linking_phone)]
    phone: String,
}

impl Pairing {
    /// What the body presents to the pairing book; a typed code's `phone` that is no number
    /// to link is `bad_request`.
    pub(super) fn scan(&self) -> Result<Scan<'_>, ApiError> {
        Ok(match self {
            Pairing::Scanned(scanned) => Scan::Qr(&scanned.qr),
            Pairing::Typed(typed) => Scan::Code {
                code: &typed.code,
                phone: LinkingPhone::parse(&typed.phone)
                    .map_err(|invalid| ApiError::bad_request(invalid.to_string()))?,
            },
        })
    }
}

/// What scanning a QR code linked.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub(super) struct Paired {
    #[cfg_attr(test, ts(type = "string"))]
    device_id: DeviceId,
    linked: bool,
}

/// A scan carried here from another node of the cluster, for a code a device of this node
/// shows (see `Remote::scan_on_owner`).
pub(super) async fn scan_carried(state: &AppState, scan: &Scan<'_>) -> Result<Paired, ApiError> {
    let device = state.pairings.claim(scan).await.map_err(refused)?;
    Ok(Paired {
        device_id: device,
        linked: true,
    })
}

/// A scan refused: the code is no longer good (`qr_expired`), was given for another phone
/// (`phone_mismatch`), or its device did not answer (`device_not_ready`), which a later scan
/// of its current code may fix.
fn refused(error: PairingError) -> ApiError {
    let code = match error {
        PairingError::Expired => ErrorCode::QrExpired,
        PairingError::WrongPhone => ErrorCode::PhoneMismatch,
        PairingError::Unanswered => ErrorCode::DeviceNotReady,
    };
    ApiError::new(code, error.to_string())
}

/// Link a simulator device, as its phone: a scanned QR code or a typed code
///
/// `{ qr }` scans a QR code (its text or bare code); `{ code, phone }` types a code from `POST
/// …/pairing-code` on the phone it was given for, which links the device as that number's
/// account. A code that expired, was used, or belongs to a device that stopped showing codes is
/// `qr_expired`; a typed code given for another number is `phone_mismatch`, and stays good for
/// its own; a device that did not answer in time (or, in a cluster, whose node could not be
/// reached) is `device_not_ready`. In a cluster any node takes any device's code.
#[utoipa::path(post, path = "/api/v1/pairings", tag = "pairing",
    request_body = Pairing,
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the device, linked", body = Paired),
        Refused<{ CREDENTIALS | JSON_BODY | STORES | codes(&[ErrorCode::QrExpired, ErrorCode::PhoneMismatch, ErrorCode::DeviceNotReady]) }>))]
async fn pair(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Pairing>,
) -> Result<Json<Paired>, ApiError> {
    caller.authorize(Scope::Control, None)?;
    let scan = body.scan()?;
    let device = match state.pairings.peek(&scan) {
        Ok(device) => {
            caller.authorize(Scope::Control, Some(&device))?;
            state.pairings.claim(&scan).await.map_err(refused)?
        }
        Err(unknown) => {
            let remote = state.devices.remote();
            let device = remote
                .and_then(|remote| remote.showing(&scan))
                .ok_or_else(|| refused(unknown))?;
            caller.authorize(Scope::Control, Some(&device))?;
            if let Some(remote) = remote {
                remote.scan_on_owner(&device, &scan).await?;
            }
            device
        }
    };
    Ok(Json(Paired {
        device_id: device,
        linked: true,
    }))
}

/// Confirmation page a phone opens from the QR code
#[utoipa::path(get, path = "/pair/{code}", tag = "pairing",
    params(("code" = String, Path, description = "the code in the QR code's URL")),
    responses(
        (status = OK, description = "a page that asks to link the device", content_type = "text/html", body = String),
        (status = GONE, description = "a page that says the code expired or was used", content_type = "text/html", body = String),
        Refused<ANY_REQUEST>))]
async fn confirm_page(State(state): State<AppState>, Path(code): Path<String>) -> Response {
    match state.pairings.peek(&Scan::Qr(&code)) {
        Ok(device) => page(
            StatusCode::OK,
            Outcome::Ask,
            "Link this device?",
            &format!(
                "<p>Device <b>{device}</b> asks to be linked to this phone. It will send and \
                 receive this phone's messages.</p><form method=\"post\"><button>Link device</button></form>\
                 <p class=\"fine\">Only link a device you set up yourself.</p>"
            ),
        ),
        Err(error) => expired(error),
    }
}

/// The page for a code that expired or was used.
fn expired(error: PairingError) -> Response {
    page(
        StatusCode::GONE,
        Outcome::Refused,
        "QR code expired",
        &format!("<p>{error}. Scan the current code.</p>"),
    )
}

/// Confirm the link from the page
///
/// A device that does not answer the scan in time gets a page saying so, with status 503.
#[utoipa::path(post, path = "/pair/{code}", tag = "pairing",
    params(("code" = String, Path, description = "the code in the QR code's URL")),
    responses(
        (status = OK, description = "a page that says the device is linked", content_type = "text/html", body = String),
        (status = GONE, description = "a page that says the code expired or was used", content_type = "text/html", body = String),
        Refused<ANY_REQUEST>))]
async fn confirm(State(state): State<AppState>, Path(code): Path<String>) -> Response {
    match state.pairings.claim(&Scan::Qr(&code)).await {
        Ok(device) => page(
            StatusCode::OK,
            Outcome::Done,
            "Linked",
            &format!("<p>Device <b>{device}</b> is linked. You can close this page.</p>"),
        ),
        // A QR code's page never meets a code given for a phone.
        Err(error @ (PairingError::Expired | PairingError::WrongPhone)) => expired(error),
        Err(error @ PairingError::Unanswered) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            Outcome::Refused,
            "The device did not answer",
            &format!("<p>{error}. Scan its current code to try again.</p>"),
        ),
    }
}

#[cfg(test)]
mod fuzz;
mod page;
