//! One error envelope for REST bodies, Socket.IO acknowledgements and the connectors' webhook
//! receivers: `{"error": {"code": "<snake_case>", "message": "<human sentence>"}}`, and how a
//! route documents the codes it answers with ([`documented`]).
//!
//! Codes are stable wire names. `ErrorCode::status` is an exhaustive match, so a new code forces
//! a decision about its HTTP status; 500s never carry internals. A leaf: it imports nothing of
//! the crate, and each layer says how its own errors read on the wire (`From` its error for
//! [`ApiError`], beside the error).

pub mod documented;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    InvalidDeviceId,
    Unauthorized,
    Forbidden,
    NotFound,
    DeviceNotFound,
    ChatNotFound,
    ContactNotFound,
    MessageNotFound,
    MediaNotFound,
    KeyNotFound,
    WebhookNotFound,
    DeliveryNotFound,
    SinkNotFound,
    InvalidState,
    DeviceExists,
    QrExpired,
    PhoneMismatch,
    UnsupportedByConnector,
    EditWindowClosed,
    NotGroupAdmin,
    MethodNotAllowed,
    PayloadTooLarge,
    HeadersTooLarge,
    RateLimited,
    UpstreamError,
    DeviceNotReady,
    OverCapacity,
    StorageUnavailable,
    NotReady,
    Internal,
}

impl ErrorCode {
    /// Every code, for the OpenAPI document.
    pub const ALL: [ErrorCode; 31] = [
        ErrorCode::BadRequest,
        ErrorCode::InvalidDeviceId,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::DeviceNotFound,
        ErrorCode::ChatNotFound,
        ErrorCode::ContactNotFound,
        ErrorCode::MessageNotFound,
        ErrorCode::MediaNotFound,
        ErrorCode::KeyNotFound,
        ErrorCode::WebhookNotFound,
        ErrorCode::DeliveryNotFound,
        ErrorCode::SinkNotFound,
        ErrorCode::InvalidState,
        ErrorCode::DeviceExists,
        ErrorCode::QrExpired,
        ErrorCode::PhoneMismatch,
        ErrorCode::UnsupportedByConnector,
        ErrorCode::EditWindowClosed,
        ErrorCode::NotGroupAdmin,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::HeadersTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::UpstreamError,
        ErrorCode::DeviceNotReady,
        ErrorCode::OverCapacity,
        ErrorCode::StorageUnavailable,
        ErrorCode::NotReady,
        ErrorCode::Internal,
    ];

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidDeviceId => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden | ErrorCode::NotGroupAdmin => StatusCode::FORBIDDEN,
            ErrorCode::NotFound
            | ErrorCode::DeviceNotFound
            | ErrorCode::ChatNotFound
            | ErrorCode::ContactNotFound
            | ErrorCode::MessageNotFound
            | ErrorCode::MediaNotFound
            | ErrorCode::KeyNotFound
            | ErrorCode::WebhookNotFound
            | ErrorCode::DeliveryNotFound
            | ErrorCode::SinkNotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidState
            | ErrorCode::DeviceExists
            | ErrorCode::EditWindowClosed
            | ErrorCode::PhoneMismatch => StatusCode::CONFLICT,
            ErrorCode::QrExpired => StatusCode::GONE,
            ErrorCode::UnsupportedByConnector => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::UpstreamError => StatusCode::BAD_GATEWAY,
            ErrorCode::DeviceNotReady
            | ErrorCode::OverCapacity
            | ErrorCode::StorageUnavailable
            | ErrorCode::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidDeviceId => "invalid_device_id",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::DeviceNotFound => "device_not_found",
            ErrorCode::ChatNotFound => "chat_not_found",
            ErrorCode::ContactNotFound => "contact_not_found",
            ErrorCode::MessageNotFound => "message_not_found",
            ErrorCode::MediaNotFound => "media_not_found",
            ErrorCode::KeyNotFound => "key_not_found",
            ErrorCode::WebhookNotFound => "webhook_not_found",
            ErrorCode::DeliveryNotFound => "delivery_not_found",
            ErrorCode::SinkNotFound => "sink_not_found",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::DeviceExists => "device_exists",
            ErrorCode::QrExpired => "qr_expired",
            ErrorCode::PhoneMismatch => "phone_mismatch",
            ErrorCode::UnsupportedByConnector => "unsupported_by_connector",
            ErrorCode::EditWindowClosed => "edit_window_closed",
            ErrorCode::NotGroupAdmin => "not_group_admin",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::HeadersTooLarge => "headers_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::DeviceNotReady => "device_not_ready",
            ErrorCode::OverCapacity => "over_capacity",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::Internal => "internal",
        }
    }
}

/// The `error` object of the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ApiError {
    pub code: ErrorCode,
    /// A sentence for a person; it may change between versions, the code does not.
    #[schema(example = "no device with this id")]
    pub message: String,
}

/// Every error answer's body: `{"error": {"code", "message"}}`.
#[derive(Serialize, serde::Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ErrorEnvelope {
    pub error: ApiError,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// Logs the real cause and returns a 500 that reveals nothing of it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            ErrorCode::Internal,
            "something went wrong on our side; it has been logged",
        )
    }

    /// A write refused because the daemon's storage cannot be written: the caller may try
    /// again later, as nothing of it was kept. The cause is logged by the store, once per
    /// outage, and never returned.
    pub fn storage_unavailable() -> Self {
        Self::new(
            ErrorCode::StorageUnavailable,
            "the daemon cannot write to its storage (the disk may be full); nothing was stored, try again later",
        )
    }

    /// The `error` object, as REST bodies and Socket.IO acks carry it.
    pub fn body(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.code.status(),
            axum::Json(ErrorEnvelope { error: self }),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::QrExpired,
            ErrorCode::InvalidDeviceId,
            ErrorCode::Internal,
        ] {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                Value::String(code.as_str().into())
            );
        }
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let error = ApiError::internal("disk I/O error at /secret/path");
        assert_eq!(error.code.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.message.contains("secret"));
    }
}
