//! Webhook receivers for the connectors' upstreams, outside `/api/v1`. They take no API key:
//! each delivery is authenticated by its upstream's signature over the raw body, checked
//! against the device's own secret, and a bad or missing signature gets 401 and changes
//! nothing. A delivery is answered 200 once the device has stored what it reports, so an
//! upstream that retries until it gets a 2xx loses nothing, and a repeat changes nothing.
//!
//! Anyone can post here, so a receiver looks up the device before it reads a byte of the
//! body, and then reads at most `limits.max_upstream_body_bytes`: a delivery for no device,
//! or one larger than any upstream sends, costs the daemon no memory and no wait.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use futures_util::StreamExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::DevicePath;
use crate::api::openapi::{code, codes, Codes, Refused, DEVICE};
use crate::api::AppState;
use crate::model::spec::ConnectorKind;

/// What every receiver can answer besides success: no such device, or one that uses another
/// connector (`invalid_state`).
const NOT_THIS_DEVICE: Codes = DEVICE | code(ErrorCode::InvalidState);

/// What a delivery can meet besides [`NOT_THIS_DEVICE`]: a signature that does not match
/// (`unauthorized`), a body that is not the upstream's JSON (`bad_request`) or that is larger
/// than `limits.max_upstream_body_bytes`.
const DELIVERY_REFUSED: Codes = NOT_THIS_DEVICE
    | codes(&[
        ErrorCode::Unauthorized,
        ErrorCode::BadRequest,
        ErrorCode::PayloadTooLarge,
    ]);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(waha_webhook))
        .routes(routes!(cloud_subscription, cloud_webhook))
}

/// WAHA webhook receiver, signed with `X-Webhook-Hmac` (HMAC-SHA512 of the body)
#[utoipa::path(post, path = "/upstream/waha/{id}", tag = "upstream",
    params(DevicePath,
        ("X-Webhook-Hmac" = String, Header, description = "hex HMAC-SHA512 of the body with the device's `webhook_secret`")),
    request_body(content = Object, description = "the event, as WAHA sends it"),
    responses((status = OK, description = "stored; a repeat changes nothing"),
        Refused<DELIVERY_REFUSED>))]
async fn waha_webhook(
    state: State<AppState>,
    id: DevicePath,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    deliver(ConnectorKind::Waha, state, id, headers, body).await
}

/// Cloud API webhook receiver, signed with `X-Hub-Signature-256` (HMAC-SHA256 of the body)
#[utoipa::path(post, path = "/upstream/cloud/{id}", tag = "upstream",
    params(DevicePath,
        ("X-Hub-Signature-256" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of the body with the device's `app_secret`")),
    request_body(content = Object, description = "the notification, as Meta sends it"),
    responses((status = OK, description = "stored; a repeat changes nothing"),
        Refused<DELIVERY_REFUSED>))]
async fn cloud_webhook(
    state: State<AppState>,
    id: DevicePath,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    deliver(ConnectorKind::CloudApi, state, id, headers, body).await
}

async fn deliver(
    from: ConnectorKind,
    State(state): State<AppState>,
    DevicePath(id): DevicePath,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let receiver = state.devices.webhook_receiver(&id, from).await?;
    let limit = state.settings.limits.max_upstream_body_bytes;
    let body = read_at_most(&headers, body, limit).await?;
    state
        .devices
        .receive_webhook(receiver, &headers, &body)
        .await?;
    Ok(StatusCode::OK)
}

/// Reads a delivery's body, refusing one over `limit` bytes: at once when its
/// `Content-Length` says so, else as soon as more has come.
async fn read_at_most(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is larger than {limit} bytes (`limits.max_upstream_body_bytes`)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let mut chunks = body.into_data_stream();
    let mut read = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk
            .map_err(|error| ApiError::bad_request(format!("the body was cut off: {error}")))?;
        if read.len() + chunk.len() > limit {
            return Err(too_large());
        }
        read.extend_from_slice(&chunk);
    }
    Ok(read.into())
}

/// Cloud API callback check: answers `hub.challenge` when `hub.verify_token` matches
#[utoipa::path(get, path = "/upstream/cloud/{id}", tag = "upstream",
    params(DevicePath,
        ("hub.mode" = Option<String>, Query, description = "`subscribe`"),
        ("hub.verify_token" = Option<String>, Query, description = "the device's `verify_token`"),
        ("hub.challenge" = Option<String>, Query, description = "answered back as the body")),
    responses((status = OK, description = "`hub.challenge`", content_type = "text/plain", body = String),
        Refused<{ NOT_THIS_DEVICE | code(ErrorCode::Forbidden) }>))]
async fn cloud_subscription(
    State(state): State<AppState>,
    DevicePath(id): DevicePath,
    Query(query): Query<HashMap<String, String>>,
) -> Result<String, ApiError> {
    let field = |name: &str| query.get(name).map(String::as_str);
    state
        .devices
        .verify_cloud_subscription(&id, field("hub.mode"), field("hub.verify_token"))
        .await?;
    Ok(field("hub.challenge").unwrap_or_default().to_owned())
}
