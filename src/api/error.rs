//! One error envelope for REST bodies and Socket.IO acknowledgements:
//! `{"error": {"code": "<snake_case>", "message": "<human sentence>"}}`.
//!
//! Codes are stable wire names. `ErrorCode::status` is an exhaustive match, so a new code forces
//! a decision about its HTTP status; 500s never carry internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::api::auth::AuthError;
use crate::device::uploads::UploadError;
use crate::device::DeviceError;
use crate::messaging::MessagingError;
use crate::model::{upstream::WebhookError, InvalidDeviceId, InvalidSelection};
use crate::store::{self, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    InvalidDeviceId,
    Unauthorized,
    Forbidden,
    NotFound,
    DeviceNotFound,
    ChatNotFound,
    MessageNotFound,
    MediaNotFound,
    KeyNotFound,
    WebhookNotFound,
    DeliveryNotFound,
    InvalidState,
    DeviceExists,
    QrExpired,
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
    pub const ALL: [ErrorCode; 25] = [
        ErrorCode::BadRequest,
        ErrorCode::InvalidDeviceId,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::DeviceNotFound,
        ErrorCode::ChatNotFound,
        ErrorCode::MessageNotFound,
        ErrorCode::MediaNotFound,
        ErrorCode::KeyNotFound,
        ErrorCode::WebhookNotFound,
        ErrorCode::DeliveryNotFound,
        ErrorCode::InvalidState,
        ErrorCode::DeviceExists,
        ErrorCode::QrExpired,
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
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound
            | ErrorCode::DeviceNotFound
            | ErrorCode::ChatNotFound
            | ErrorCode::MessageNotFound
            | ErrorCode::MediaNotFound
            | ErrorCode::KeyNotFound
            | ErrorCode::WebhookNotFound
            | ErrorCode::DeliveryNotFound => StatusCode::NOT_FOUND,
            ErrorCode::InvalidState | ErrorCode::DeviceExists => StatusCode::CONFLICT,
            ErrorCode::QrExpired => StatusCode::GONE,
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
            ErrorCode::MessageNotFound => "message_not_found",
            ErrorCode::MediaNotFound => "media_not_found",
            ErrorCode::KeyNotFound => "key_not_found",
            ErrorCode::WebhookNotFound => "webhook_not_found",
            ErrorCode::DeliveryNotFound => "delivery_not_found",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::DeviceExists => "device_exists",
            ErrorCode::QrExpired => "qr_expired",
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
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ApiError {
    pub code: ErrorCode,
    /// A sentence for a person; it may change between versions, the code does not.
    #[schema(example = "no device with this id")]
    pub message: String,
}

/// Every error answer's body: `{"error": {"code", "message"}}`.
#[derive(Serialize, ToSchema)]
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

impl From<DeviceError> for ApiError {
    fn from(error: DeviceError) -> Self {
        match error {
            DeviceError::InvalidState(refused) => {
                ApiError::new(ErrorCode::InvalidState, refused.to_string())
            }
            DeviceError::NotFound => {
                ApiError::new(ErrorCode::DeviceNotFound, "no device with this id")
            }
            DeviceError::Exists => ApiError::new(
                ErrorCode::DeviceExists,
                "a device with this id already exists",
            ),
            DeviceError::DeclaredInFile(_) => {
                ApiError::new(ErrorCode::InvalidState, error.to_string())
            }
            DeviceError::Definition(_) => ApiError::bad_request(error.to_string()),
            DeviceError::Connector(crate::model::upstream::ConnectorError::Unsupported(what)) => {
                ApiError::new(
                    ErrorCode::InvalidState,
                    format!("this device's connector does not support {what}"),
                )
            }
            DeviceError::Connector(upstream) => {
                ApiError::new(ErrorCode::UpstreamError, upstream.to_string())
            }
            DeviceError::Webhook(refused) => {
                let code = match refused {
                    WebhookError::BadSignature => ErrorCode::Unauthorized,
                    WebhookError::WrongVerifyToken => ErrorCode::Forbidden,
                    WebhookError::Malformed(_) => ErrorCode::BadRequest,
                    // The device is there, relayed to another upstream.
                    WebhookError::NotThisConnector(_) => ErrorCode::InvalidState,
                };
                ApiError::new(code, refused.to_string())
            }
            DeviceError::Store(store) => store.into(),
            DeviceError::NotReady => ApiError::new(ErrorCode::DeviceNotReady, error.to_string()),
            DeviceError::Gone => ApiError::new(
                ErrorCode::DeviceNotFound,
                "the device was removed or the daemon is stopping",
            ),
            DeviceError::MediaNotFound(_) => {
                ApiError::new(ErrorCode::MediaNotFound, error.to_string())
            }
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Empty | UploadError::CutOff(_) => ApiError::bad_request(error.to_string()),
            UploadError::TooLarge => ApiError::new(ErrorCode::PayloadTooLarge, error.to_string()),
            // Logged once per outage by the store (see `Uploads::save`).
            UploadError::Disk(cause) if store::is_unwritable_file(&cause) => {
                ApiError::storage_unavailable()
            }
            UploadError::Disk(cause) => ApiError::internal(cause),
            UploadError::Device(device) => device.into(),
        }
    }
}

impl From<MessagingError> for ApiError {
    fn from(error: MessagingError) -> Self {
        let code = match error {
            MessagingError::DeviceNotFound => ErrorCode::DeviceNotFound,
            MessagingError::DeviceNotReady => ErrorCode::DeviceNotReady,
            MessagingError::ChatNotFound(_) => ErrorCode::ChatNotFound,
            MessagingError::MessageNotFound(_) => ErrorCode::MessageNotFound,
            MessagingError::Invalid(_) => ErrorCode::BadRequest,
            MessagingError::Store(store) => return store.into(),
        };
        ApiError::new(code, error.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error.is_unwritable() {
            // The store logs an outage once, not once per write that meets it.
            true => ApiError::storage_unavailable(),
            false => ApiError::internal(error),
        }
    }
}

impl From<InvalidDeviceId> for ApiError {
    fn from(error: InvalidDeviceId) -> Self {
        ApiError::new(ErrorCode::InvalidDeviceId, error.to_string())
    }
}

impl From<InvalidSelection> for ApiError {
    fn from(error: InvalidSelection) -> Self {
        match error {
            InvalidSelection::Empty => ApiError::bad_request(format!("`devices` {error}")),
            InvalidSelection::Id(id) => id.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthorized => ApiError::new(
                ErrorCode::Unauthorized,
                "a valid API key or access token is required",
            ),
            AuthError::Forbidden(why) => ApiError::new(ErrorCode::Forbidden, why),
            AuthError::Store(store) => store.into(),
        }
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
