//! Extractors whose rejections speak our error envelope.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use super::auth::{header_credentials, Caller};
use super::error::{ApiError, ErrorCode};
use super::AppState;
use crate::model::DeviceId;

/// JSON bodies: malformed JSON, wrong types and oversized bodies get `bad_request` or
/// `payload_too_large` in the usual envelope instead of axum's plain-text rejections, and a
/// body that is not a JSON object is refused (see [`is_object`]).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        // Checks the content type and the size, and that the body is JSON at all.
        let axum::Json(raw) = axum::Json::<Box<RawValue>>::from_request(request, state)
            .await
            .map_err(json_rejection)?;
        decode_object(&raw).map(ApiJson)
    }
}

/// An optional JSON body read by hand, for routes that also take none: the same checks as
/// [`ApiJson`] on a body that is not empty, `T::default()` for an empty one.
pub fn optional_body<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Ok(T::default());
    }
    let axum::Json(raw) = axum::Json::<Box<RawValue>>::from_bytes(body).map_err(json_rejection)?;
    decode_object(&raw)
}

/// A body already read as JSON, as the object `T`.
fn decode_object<T: DeserializeOwned>(raw: &RawValue) -> Result<T, ApiError> {
    if !is_object(raw.get()) {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    let axum::Json(value) =
        axum::Json::<T>::from_bytes(raw.get().as_bytes()).map_err(json_rejection)?;
    Ok(value)
}

/// Every request body and event payload is a JSON object. Serde's derived decoding of a
/// struct also takes a JSON array of its fields in order (`["text"]` for `{"text": …}`),
/// which no client means and which escapes `deny_unknown_fields`; callers refuse it with
/// this. `json` must be valid JSON, so its first non-blank character tells its kind.
pub fn is_object(json: &str) -> bool {
    json.trim_start().starts_with('{')
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

/// The authenticated caller, from `X-Api-Key` and/or `Authorization: Bearer`; or as a
/// middleware already found it from the same headers (the profiles' body translation).
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let (api_key, token) = header_credentials(&parts.headers);
        Ok(state
            .auth
            .identify(api_key.as_deref(), token.as_deref())
            .await?)
    }
}

/// The caller of a route a browser opens by link, as `<img src>` does, which can send no
/// header: the headers' credentials, or else an access token in the `access_token` query
/// parameter (RFC 6750 §2.3). A token only, never an API key: what may sit in a URL, a proxy's
/// log or a browser's history is a credential that expires within the hour, not one that
/// lasts until it is revoked.
pub struct LinkCaller(pub Caller);

impl FromRequestParts<AppState> for LinkCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (api_key, mut token) = header_credentials(&parts.headers);
        if api_key.is_none() && token.is_none() {
            token = query_token(parts.uri.query().unwrap_or_default());
        }
        Ok(LinkCaller(
            state
                .auth
                .identify(api_key.as_deref(), token.as_deref())
                .await?,
        ))
    }
}

/// The `access_token` of a query string, decoded.
fn query_token(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "access_token")
        .map(|(_, token)| token.into_owned())
}

/// A `{id}` path segment that must be a valid device id.
#[derive(utoipa::IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
pub struct DevicePath(
    /// The device's id.
    pub DeviceId,
);

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

/// A `limit` query parameter: `default` if absent, refused outside `1..=max` rather than
/// quietly clamped, so a client learns the range instead of getting a page it did not ask for.
pub fn page_limit<N>(limit: Option<N>, default: N, max: N) -> Result<N, ApiError>
where
    N: Copy + PartialOrd + From<u8> + std::fmt::Display,
{
    let limit = limit.unwrap_or(default);
    if limit >= N::from(1) && limit <= max {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(format!(
            "`limit` must be between 1 and {max}, got {limit}"
        )))
    }
}

#[cfg(test)]
pub(crate) mod fuzz;
