//! Extractors whose rejections speak our error envelope.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::auth::{header_credentials, Caller};
use super::error::{ApiError, ErrorCode};
use super::AppState;
use crate::device::DeviceId;

/// JSON bodies: malformed JSON, wrong types and oversized bodies get `bad_request` or
/// `payload_too_large` in the usual envelope instead of axum's plain-text rejections.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(error) => {
            ApiError::bad_request(format!("invalid request body: {}", error.body_text()))
        }
        JsonRejection::JsonSyntaxError(error) => {
            ApiError::bad_request(format!("malformed JSON: {}", error.body_text()))
        }
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::bad_request("the body must be JSON with `Content-Type: application/json`")
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the request body is larger than `limits.max_message_bytes`",
        ),
        other => ApiError::bad_request(other.body_text()),
    }
}

/// The authenticated caller, from `X-Api-Key` and/or `Authorization: Bearer`.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (api_key, token) = header_credentials(&parts.headers);
        Ok(state
            .auth
            .identify(api_key.as_deref(), token.as_deref())
            .await?)
    }
}

/// A `{id}` path segment that must be a valid device id.
pub struct DevicePath(pub DeviceId);

impl<S: Send + Sync> FromRequestParts<S> for DevicePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::bad_request(e.body_text()))?;
        Ok(DevicePath(DeviceId::parse(&raw)?))
    }
}
