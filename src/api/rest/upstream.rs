//! Webhook receivers for the connectors' upstreams, outside `/api/v1`. They take no API key:
//! each delivery is authenticated by its upstream's signature over the raw body, checked
//! against the device's own secret, and a bad or missing signature gets 401 and changes
//! nothing. A delivery is answered 200 once the device has stored what it reports, so an
//! upstream that retries until it gets a 2xx loses nothing, and a repeat changes nothing.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};

use super::{endpoint, query_param, request_header, Endpoint};
use crate::api::error::ApiError;
use crate::api::extract::DevicePath;
use crate::api::AppState;
use crate::device::spec::ConnectorKind;

/// Largest webhook delivery read: WAHA's message payloads carry the engine's raw data, which
/// can be far larger than a client's request.
const MAX_DELIVERY_BYTES: usize = 4 * 1024 * 1024;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint(
            Method::POST,
            "/upstream/waha/{id}",
            "WAHA webhook receiver, signed with `X-Webhook-Hmac` (HMAC-SHA512 of the body)",
            None,
            None,
            (200, None),
            post(|state, id, headers, body| deliver(ConnectorKind::Waha, state, id, headers, body))
                .layer(DefaultBodyLimit::max(MAX_DELIVERY_BYTES)),
        )
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
            })
            .layer(DefaultBodyLimit::max(MAX_DELIVERY_BYTES)),
        )
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
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    state
        .devices
        .receive_webhook(&id, from, &headers, &body)
        .await?;
    Ok(StatusCode::OK)
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
