//! `/api/v1/keys` and `/api/v1/tokens`: credentials.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::List;
use crate::api::auth::{Caller, Grant, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::ApiJson;
use crate::api::openapi::{code, Refused, CREDENTIALS, JSON_BODY, STORES};
use crate::api::profile::NATIVE;
use crate::api::AppState;
use crate::model::{check_selection, constraints, rfc3339};
use crate::store::{self, KeyRecord};

/// Longest access token lifetime: tokens are meant to be short-lived.
const MAX_TOKEN_TTL_SECS: u64 = 30 * 24 * 3600;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
        .routes(routes!(issue_token))
}

/// An API key as the API shows it: never its secret.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "ApiKey"))]
#[serde(rename_all = "camelCase")]
pub(super) struct KeyView {
    #[schema(example = "key_01JD8W4S5XK0M7Y9B3C2E1F0GH")]
    id: String,
    name: String,
    /// Device ids, or `*` for all.
    devices: Vec<String>,
    #[schema(value_type = Vec<Scope>)]
    #[cfg_attr(test, ts(as = "Vec<Scope>"))]
    scopes: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<&KeyRecord> for KeyView {
    fn from(record: &KeyRecord) -> Self {
        KeyView {
            id: record.id.clone(),
            name: record.name.clone(),
            devices: record.devices.clone(),
            scopes: record.scopes.clone(),
            created_at: rfc3339(record.created_at),
        }
    }
}

/// A key just made: the only answer that carries its secret.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "CreatedApiKey"))]
pub(super) struct CreatedKey {
    #[serde(flatten)]
    shown: KeyView,
    /// The key to present as `X-Api-Key`; shown only in this answer.
    #[schema(example = "dbk_…")]
    key: String,
}

/// List API keys (never their secrets)
#[utoipa::path(get, path = "/api/v1/keys", tag = "credentials",
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = OK, description = "the keys", body = List<KeyView>), Refused<CREDENTIALS>))]
async fn list_keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<List<KeyView>>, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    let keys = state.store.read(store::keys::list).await?;
    let items = keys
        .iter()
        .filter(|key| caller.administers(&key.devices))
        .map(KeyView::from)
        .collect();
    Ok(Json(List { items }))
}

/// What a new API key may do.
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "NewApiKey"))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "name": "shop dashboard", "devices": ["shop-1"], "scopes": ["read", "send"] }))]
pub(super) struct NewKey {
    /// Tells the keys apart.
    #[schema(schema_with = constraints::name)]
    name: String,
    /// Device ids, or `*` for all.
    #[serde(default = "super::everything")]
    #[schema(schema_with = constraints::all_devices)]
    #[cfg_attr(test, ts(optional = nullable))]
    devices: Vec<String>,
    /// At least one.
    #[schema(min_items = 1)]
    scopes: Vec<Scope>,
}

/// Device lists hold ids or `*`; anything else is a typo worth reporting.
fn check_devices(devices: &[String]) -> Result<(), ApiError> {
    check_selection(devices).map_err(ApiError::from)
}

/// Create an API key; the key is in this answer only
///
/// Only an API key makes keys: a token ends, a key it made would not (`forbidden`).
#[utoipa::path(post, path = "/api/v1/keys", tag = "credentials",
    request_body = NewKey,
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = CREATED, description = "the key, with its secret", body = CreatedKey),
        Refused<{ CREDENTIALS | JSON_BODY | STORES | code(ErrorCode::InvalidDeviceId) }>))]
async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<Response, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    check_devices(&body.devices)?;
    caller.authorize_key_creation(&body.devices)?;
    if body.name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "`name` must not be empty; it tells the keys apart",
        ));
    }
    let scopes = distinct_scopes(body.scopes)?;
    let created = state
        .auth
        .create_key(body.name, body.devices, scopes)
        .await?;
    let shown = CreatedKey {
        shown: KeyView::from(&created.record),
        key: created.secret,
    };
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

/// The scopes a key or token is asked for, each once; none at all grants nothing, so it is
/// refused as the mistake it is.
fn distinct_scopes(mut scopes: Vec<Scope>) -> Result<Vec<Scope>, ApiError> {
    if scopes.is_empty() {
        return Err(ApiError::bad_request(
            "`scopes` must name at least one of read, send, control, admin",
        ));
    }
    scopes.sort();
    scopes.dedup();
    Ok(scopes)
}

/// Revoke an API key
///
/// Connections made with it, or with tokens it issued, are closed.
#[utoipa::path(delete, path = "/api/v1/keys/{id}", tag = "credentials",
    params(("id" = String, Path, description = "the key's id (`key_…`)")),
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = NO_CONTENT, description = "revoked"),
        Refused<{ CREDENTIALS | STORES | code(ErrorCode::KeyNotFound) }>))]
async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    let not_found = || ApiError::new(ErrorCode::KeyNotFound, "no active key with this id");
    let wanted = id.clone();
    let key = state
        .store
        .read(move |conn| store::keys::get(conn, &wanted))
        .await?
        .ok_or_else(not_found)?;
    // A key beyond the caller's devices is one it does not see.
    if !caller.administers(&key.devices) {
        return Err(not_found());
    }
    // Its connections close once the revocation is committed, on every node (see
    // `SocketHub::new`).
    if state.store.write(move |tx| tx.revoke_key(&key.id)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

/// What an access token may do, and for how long.
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({ "sub": "dashboard-user-7", "devices": ["shop-1"], "scopes": ["read"], "ttlSecs": 600 }))]
pub(super) struct NewToken {
    /// Whom the token is for (its `sub` claim).
    sub: String,
    /// Device ids, or `*` for all; left out, the asking credential's own.
    #[serde(default, deserialize_with = "given")]
    #[schema(schema_with = constraints::devices)]
    devices: Option<Vec<String>>,
    /// Left out, the asking credential's own: a dashboard signed in with a key it knows
    /// nothing of gets a token with all of that key's rights, and reads them in the answer.
    #[serde(default, deserialize_with = "given")]
    #[schema(nullable = false, min_items = 1)]
    scopes: Option<Vec<Scope>>,
    /// Seconds until it ends.
    #[serde(default = "hour", deserialize_with = "crate::model::whole::number")]
    #[schema(default = 3600, minimum = 1, maximum = 2592000)]
    #[cfg_attr(test, ts(optional = nullable))]
    ttl_secs: u64,
    /// The protocol profile the token's connections speak (see `GET /api/v1/profiles`); its
    /// REST requests and answers are translated by it too.
    #[serde(default)]
    profile: Option<String>,
}

/// Names the profiles a token may speak in `document`'s `NewToken`: `native` and `names`,
/// this daemon's, which its configuration decides (`profiles.dir`), so the served document
/// lists them rather than any text.
pub(super) fn document_profiles(
    document: &mut utoipa::openapi::OpenApi,
    names: impl IntoIterator<Item = String>,
) {
    let schemas = document.components.as_mut().map(|c| &mut c.schemas);
    let Some(RefOr::T(Schema::Object(token))) = schemas.and_then(|s| s.get_mut("NewToken")) else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(profile))) = token.properties.get_mut("profile") {
        let names = names.into_iter().map(serde_json::Value::from);
        let given = std::iter::once(NATIVE.into()).chain(names);
        profile.enum_values = Some(given.chain([serde_json::Value::Null]).collect());
    }
}

/// An access token.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub(super) struct IssuedToken {
    /// To present as `Authorization: Bearer <token>`.
    token: String,
    /// Refused from this instant; no later than the end of a token that asked for it.
    #[schema(format = DateTime)]
    expires_at: String,
    /// What it grants: device ids (or `*`)…
    devices: Vec<String>,
    /// …and scopes.
    scopes: Vec<Scope>,
}

/// A field that may be left out, but is not `null` when given.
fn given<'de, D, T>(value: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(value).map(Some)
}

fn hour() -> u64 {
    3600
}

/// Issue an access token with at most the caller's own rights
///
/// Any credential may ask, whatever its scopes; a token that would grant more than the
/// credential that asks for it is `forbidden`.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "credentials",
    request_body = NewToken,
    security(("apiKey" = []), ("bearer" = [])),
    responses((status = CREATED, description = "the token", body = IssuedToken),
        Refused<{ CREDENTIALS | JSON_BODY | code(ErrorCode::InvalidDeviceId) }>))]
async fn issue_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<Response, ApiError> {
    // What is left out is the asking credential's own (its first grant: a request carries
    // one credential, or a key and a token that both must allow what is asked).
    let own = caller.grants.first();
    let devices = match body.devices {
        Some(devices) => devices,
        None => own
            .map(|g| g.devices.iter().cloned().collect())
            .unwrap_or_default(),
    };
    let scopes = match body.scopes {
        Some(scopes) => scopes,
        None => own
            .map(|g| g.scopes.iter().copied().collect())
            .unwrap_or_default(),
    };
    check_devices(&devices)?;
    if !(1..=MAX_TOKEN_TTL_SECS).contains(&body.ttl_secs) {
        return Err(ApiError::bad_request(format!(
            "`ttlSecs` must be between 1 and {MAX_TOKEN_TTL_SECS}"
        )));
    }
    let profile = body.profile.filter(|name| name != NATIVE);
    if let Some(name) = profile
        .as_deref()
        .filter(|name| !state.profiles.contains(name))
    {
        return Err(ApiError::bad_request(format!(
            "unknown profile `{name}`: GET /api/v1/profiles lists them"
        )));
    }
    let mut wanted = Grant {
        subject: body.sub,
        key: String::new(),
        devices: devices.into_iter().collect(),
        scopes: distinct_scopes(scopes)?.into_iter().collect(),
        expires: None,
        profile,
    };
    let Some(issuer) = caller.issuer_of(&wanted) else {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "a token cannot grant more than the credential that asks for it",
        ));
    };
    wanted.key = issuer.key.clone();
    wanted.expires = issuer.expires;
    let (token, expires) = state.auth.issue_token(&wanted, body.ttl_secs);
    let expires_at = chrono::DateTime::from_timestamp(expires as i64, 0).unwrap_or_default();
    let issued = IssuedToken {
        token,
        expires_at: rfc3339(expires_at),
        devices: wanted.devices.into_iter().collect(),
        scopes: wanted.scopes.into_iter().collect(),
    };
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

#[cfg(test)]
mod fuzz;
