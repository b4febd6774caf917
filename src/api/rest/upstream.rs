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
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use futures_util::StreamExt;

use super::{endpoint, query_param, request_header, Endpoint};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::DevicePath;
use crate::api::AppState;
use crate::model::spec::ConnectorKind;

/// What the receivers answer besides success, for the OpenAPI document.
const NO_DEVICE: (u16, &str) = (404, "no device with this id (`device_not_found`)");
const OTHER_CONNECTOR: (u16, &str) = (409, "the device uses another connector (`invalid_state`)");
const TOO_LARGE: (u16, &str) = (
    413,
    "the body is larger than `limits.max_upstream_body_bytes` (`payload_too_large`)",
);

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint(
            Method::POST,
            "/upstream/waha/{id}",
            "WAHA webhook receiver, signed with `X-Webhook-Hmac` (HMAC-SHA512 of the body)",
            None,
            None,
            (200, None),
            post(|state, id, headers, body| deliver(ConnectorKind::Waha, state, id, headers, body)),
        )
        .failing_with(NO_DEVICE)
        .failing_with(OTHER_CONNECTOR)
        .failing_with(TOO_LARGE)
        .reading([request_header(
            "X-Webhook-Hmac",
            "hex HMAC-SHA512 of the body with the device's `webhook_secret`",
        )]),
        endpoint(
            Method::GET,
            "/upstream/cloud/{id}",
            "Cloud API callback check: answers `hub.challenge` when `hub.verify_token` matches",
            None,
            None,
            (200, None),
            get(cloud_subscription),
        )
        .failing_with(NO_DEVICE)
        .failing_with(OTHER_CONNECTOR)
        .reading([
            query_param("hub.mode", "string", "`subscribe`"),
            query_param("hub.verify_token", "string", "the device's `verify_token`"),
            query_param("hub.challenge", "string", "answered back as the body"),
        ]),
        endpoint(
            Method::POST,
            "/upstream/cloud/{id}",
            "Cloud API webhook receiver, signed with `X-Hub-Signature-256` (HMAC-SHA256 of the body)",
            None,
            None,
            (200, None),
            post(|state, id, headers, body| {
                deliver(ConnectorKind::CloudApi, state, id, headers, body)
            }),
        )
        .failing_with(NO_DEVICE)
        .failing_with(OTHER_CONNECTOR)
        .failing_with(TOO_LARGE)
        .reading([request_header(
            "X-Hub-Signature-256",
            "`sha256=` and the hex HMAC-SHA256 of the body with the device's `app_secret`",
        )]),
    ]
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
