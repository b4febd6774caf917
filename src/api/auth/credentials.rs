//! Where credentials come from: the `X-Api-Key` and `Authorization: Bearer` headers, the
//! claims an access token carries, and new API keys.

use serde::{Deserialize, Serialize};

use super::*;
use crate::store::{self};

/// The headers credentials come from: an API key and an `Authorization: Bearer` token.
pub const CREDENTIAL_HEADERS: [axum::http::HeaderName; 2] = [
    axum::http::HeaderName::from_static("x-api-key"),
    axum::http::header::AUTHORIZATION,
];

/// Credentials found in HTTP headers: `X-Api-Key` and `Authorization: Bearer`.
pub fn header_credentials(headers: &axum::http::HeaderMap) -> (Option<String>, Option<String>) {
    let [key, authorization] = &CREDENTIAL_HEADERS;
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let token = header(authorization).and_then(|v| bearer_token(&v).map(str::to_owned));
    (header(key), token)
}

/// A token given with or without its `Bearer ` scheme: a bare token has no space, so a value
/// that reads as `Bearer <token>` is one with its scheme.
pub fn bare_token(value: &str) -> &str {
    bearer_token(value).unwrap_or(value)
}

/// Whether `value` has the shape of an access token (a JWT: a header, claims and a signature),
/// whatever its signature and expiry: for a face whose clients present API keys as bearer
/// tokens too, which an API key never looks like.
pub fn is_access_token(value: &str) -> bool {
    jsonwebtoken::decode_header(value).is_ok()
}

/// The token of an `Authorization: Bearer <token>` value. The scheme is case-insensitive
/// (RFC 7235), so `bearer` and `BEARER` are read too.
pub(super) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Claims {
    pub(super) sub: String,
    /// The issuing key (see [`Grant::key`]). A token without one (signed by an earlier
    /// version) cannot be checked against revocations and is refused.
    pub(super) key: String,
    pub(super) devices: Vec<String>,
    pub(super) scopes: Vec<Scope>,
    pub(super) exp: u64,
    pub(super) iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) profile: Option<String>,
}

/// A newly created API key: the secret is only ever available here.
pub struct NewKey {
    pub record: store::KeyRecord,
    pub secret: String,
}

impl NewKey {
    /// A new key with its secret, not stored yet.
    pub fn generate(name: String, devices: Vec<String>, scopes: Vec<Scope>) -> Self {
        let secret = format!("dbk_{}", random_secret(40));
        let record = store::KeyRecord {
            id: format!("key_{}", ulid::Ulid::new()),
            name,
            key_sha256: hex::encode(digest(&secret)),
            devices,
            scopes: scopes
                .iter()
                .map(|s| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .collect(),
            created_at: chrono::Utc::now(),
        };
        Self { record, secret }
    }
}
