//! Who is calling `/mcp`: the credentials REST takes, read by REST's own extractor.
//!
//! An MCP client is configured with one bearer credential (a header in its server entry), so
//! `Authorization: Bearer` carries an API key here as well as an access token: a bearer
//! value that is not a token is read as the `X-Api-Key` it would be on REST.

use axum::extract::{FromRequestParts, Request};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::api::auth::{header_credentials, is_access_token, Caller, CREDENTIAL_HEADERS};
use crate::api::AppState;

/// Refuses a request without a valid credential (401 `unauthorized` in the error envelope)
/// before the protocol reads it, and hands the caller on to the tools with the request.
pub(super) async fn authenticate(state: &AppState, request: Request) -> Result<Request, Response> {
    let (mut parts, body) = request.into_parts();
    let bearer_key = match header_credentials(&parts.headers) {
        (None, Some(bearer)) if !is_access_token(&bearer) => HeaderValue::try_from(bearer).ok(),
        _ => None,
    };
    if let Some(key) = bearer_key {
        let [api_key, _] = &CREDENTIAL_HEADERS;
        parts.headers.remove(header::AUTHORIZATION);
        parts.headers.insert(api_key, key);
    }
    match Caller::from_request_parts(&mut parts, state).await {
        Ok(caller) => {
            parts.extensions.insert(caller);
            Ok(Request::from_parts(parts, body))
        }
        Err(refused) => Err(refused.into_response()),
    }
}
