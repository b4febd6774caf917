//! The phone side of simulator linking: `POST /api/v1/pairings` for programs, and `/pair/{code}`
//! for a phone that scanned the QR code and opened its URL.
//!
//! The `/pair/{code}` page needs no credential: like a real linking QR code, the single-use,
//! short-lived code is the credential.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{endpoint, Endpoint};
use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::ApiJson;
use crate::api::AppState;
use crate::device::pairings::PairingError;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint(
            Method::POST,
            "/api/v1/pairings",
            "Scan a simulator QR code (its text or bare code) and link its device",
            Some(Scope::Control),
            Some("Pairing"),
            (200, Some("Paired")),
            post(pair),
        ),
        endpoint(
            Method::GET,
            "/pair/{code}",
            "Confirmation page a phone opens from the QR code",
            None,
            None,
            (200, None),
            get(confirm_page),
        ),
        endpoint(
            Method::POST,
            "/pair/{code}",
            "Confirm the link from the page",
            None,
            None,
            (200, None),
            post(confirm),
        ),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pairing {
    qr: String,
}

fn expired(error: PairingError) -> ApiError {
    ApiError::new(ErrorCode::QrExpired, error.to_string())
}

async fn pair(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Pairing>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.authorize(Scope::Control, None)?;
    let device = state.pairings.peek(&body.qr).map_err(expired)?;
    caller.authorize(Scope::Control, Some(&device))?;
    let device = state.pairings.claim(&body.qr).await.map_err(expired)?;
    Ok(Json(json!({ "deviceId": device, "linked": true })))
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>body{{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}\
         button{{font-size:1.2rem;padding:.6rem 1.4rem}}</style></head><body><h1>{title}</h1>{body}</body></html>"
    )
}

async fn confirm_page(State(state): State<AppState>, Path(code): Path<String>) -> Response {
    match state.pairings.peek(&code) {
        Ok(device) => Html(page(
            "Link this device?",
            &format!("<p>Device <b>{device}</b> asks to be linked to this phone.</p><form method=\"post\"><button>Link device</button></form>"),
        ))
        .into_response(),
        Err(error) => (StatusCode::GONE, Html(page("QR code expired", &format!("<p>{error}. Scan the current code.</p>")))).into_response(),
    }
}

async fn confirm(State(state): State<AppState>, Path(code): Path<String>) -> Response {
    match state.pairings.claim(&code).await {
        Ok(device) => Html(page(
            "Linked",
            &format!("<p>Device <b>{device}</b> is linked. You can close this page.</p>"),
        ))
        .into_response(),
        Err(error) => (
            StatusCode::GONE,
            Html(page(
                "QR code expired",
                &format!("<p>{error}. Scan the current code.</p>"),
            )),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod fuzz;
