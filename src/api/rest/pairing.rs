//! The phone side of simulator linking: `POST /api/v1/pairings` for programs, and `/pair/{code}`
//! for a phone that scanned the QR code and opened its URL.
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

use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::ApiJson;
use crate::api::openapi::{code, Refused, ANY_REQUEST, CREDENTIALS, JSON_BODY, STORES};
use crate::api::AppState;
use crate::device::pairings::PairingError;
use crate::model::DeviceId;
use page::{page, Outcome};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pair))
        .routes(routes!(confirm_page, confirm))
}

/// A scanned simulator QR code.
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "qr": "http://localhost:3000/pair/3f9c2a7d" }))]
pub(super) struct Pairing {
    /// The QR code's text, or its bare code.
    qr: String,
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
pub(super) async fn scan_carried(state: &AppState, qr: &str) -> Result<Paired, ApiError> {
    let device = state.pairings.claim(qr).await.map_err(refused)?;
    Ok(Paired {
        device_id: device,
        linked: true,
    })
}

/// A scan refused: the code is no longer good (`qr_expired`), or its device did not answer
/// (`device_not_ready`), which a later scan of its current code may fix.
fn refused(error: PairingError) -> ApiError {
    let code = match error {
        PairingError::Expired => ErrorCode::QrExpired,
        PairingError::Unanswered => ErrorCode::DeviceNotReady,
    };
    ApiError::new(code, error.to_string())
}

/// Scan a simulator QR code and link its device
///
/// A code that expired, or was used, is `qr_expired`; a device that did not answer the scan
/// in time (or, in a cluster, whose node could not be reached) is `device_not_ready`. In a
/// cluster any node takes the scan of any device's code.
#[utoipa::path(post, path = "/api/v1/pairings", tag = "pairing",
    request_body = Pairing,
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the device, linked", body = Paired),
        Refused<{ CREDENTIALS | JSON_BODY | STORES | code(ErrorCode::QrExpired) | code(ErrorCode::DeviceNotReady) }>))]
async fn pair(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Pairing>,
) -> Result<Json<Paired>, ApiError> {
    caller.authorize(Scope::Control, None)?;
    let device = match state.pairings.peek(&body.qr) {
        Ok(device) => {
            caller.authorize(Scope::Control, Some(&device))?;
            state.pairings.claim(&body.qr).await.map_err(refused)?
        }
        Err(unknown) => {
            let remote = state.devices.remote();
            let device = remote
                .and_then(|remote| remote.showing(&body.qr))
                .ok_or_else(|| refused(unknown))?;
            caller.authorize(Scope::Control, Some(&device))?;
            if let Some(remote) = remote {
                remote.scan_on_owner(&device, &body.qr).await?;
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
    match state.pairings.peek(&code) {
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
    match state.pairings.claim(&code).await {
        Ok(device) => page(
            StatusCode::OK,
            Outcome::Done,
            "Linked",
            &format!("<p>Device <b>{device}</b> is linked. You can close this page.</p>"),
        ),
        Err(error @ PairingError::Expired) => expired(error),
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
