//! What the connectors' webhook receivers share: a delivery checked, read and handed to its
//! device. Each connector that takes webhooks from its upstream contributes its own routes
//! (`waha::receiver`, `cloud_api::receiver`), outside `/api/v1`, and `app` mounts them beside
//! the API ([`super::webhook_routes`]). They take no API key: each
//! delivery is authenticated by its upstream's signature over the raw body, checked against
//! the device's own secret, and a bad or missing signature gets 401 and changes nothing. A
//! delivery is answered 200 once the device has stored what it reports, so an upstream that
//! retries until it gets a 2xx loses nothing, and a repeat changes nothing.
//!
//! Anyone can post here, so a receiver looks up the device before it reads a byte of the
//! body, and then reads at most `limits.max_upstream_body_bytes`: a delivery for no device,
//! or one larger than any upstream sends, costs the daemon no memory and no wait.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use futures_util::StreamExt;

use crate::device::DeviceManager;
use crate::envelope::documented::{codes, Codes};
use crate::envelope::{ApiError, ErrorCode};
use crate::model::{spec::ConnectorKind, DeviceId};

/// A device named by the path: an id outside the alphabet, or no such device; or one that uses
/// another connector (`invalid_state`).
pub const NOT_THIS_DEVICE: Codes = codes(&[
    ErrorCode::InvalidDeviceId,
    ErrorCode::DeviceNotFound,
    ErrorCode::InvalidState,
]);

/// What a delivery can meet besides [`NOT_THIS_DEVICE`]: a signature that does not match
/// (`unauthorized`), a body that is not the upstream's JSON (`bad_request`) or that is larger
/// than `limits.max_upstream_body_bytes`, a device whose node of the cluster cannot be reached
/// (`device_not_ready`), a store that cannot keep what it reports (`storage_unavailable`).
pub const DELIVERY_REFUSED: Codes = NOT_THIS_DEVICE
    | codes(&[
        ErrorCode::Unauthorized,
        ErrorCode::BadRequest,
        ErrorCode::PayloadTooLarge,
        ErrorCode::DeviceNotReady,
        ErrorCode::StorageUnavailable,
    ]);

/// Hands a delivery from upstream `from` to device `id`, once its signature is verified.
pub async fn deliver(
    from: ConnectorKind,
    devices: &DeviceManager,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let id = DeviceId::parse(id)?;
    let receiver = devices.webhook_receiver(&id, from).await?;
    let body = read_at_most(headers, body, devices.webhook_body_limit()).await?;
    devices.receive_webhook(receiver, headers, &body).await?;
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
