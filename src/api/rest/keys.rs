//! `/api/v1/keys` and `/api/v1/tokens`: credentials.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{endpoint, Endpoint};
use crate::api::auth::{Caller, Grant, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::ApiJson;
use crate::api::AppState;
use crate::model::{check_selection, rfc3339};
use crate::store::{self, KeyRecord};

/// Longest access token lifetime: tokens are meant to be short-lived.
const MAX_TOKEN_TTL_SECS: u64 = 30 * 24 * 3600;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint(
            Method::GET,
            "/api/v1/keys",
            "List API keys (never their secrets)",
            Some(Scope::Admin),
            None,
            (200, Some("KeyList")),
            get(list),
        ),
        endpoint(
            Method::POST,
            "/api/v1/keys",
            "Create an API key; the key is in this response only",
            Some(Scope::Admin),
            Some("NewKey"),
            (201, Some("CreatedKey")),
            post(create),
        ),
        endpoint(
            Method::DELETE,
            "/api/v1/keys/{id}",
            "Revoke an API key",
            Some(Scope::Admin),
            None,
            (204, None),
            delete(revoke),
        ),
        endpoint(
            Method::POST,
            "/api/v1/tokens",
            "Issue an access token with at most the caller's own rights",
            None,
            Some("NewToken"),
            (201, Some("Token")),
            post(token),
        )
        .for_any_credential(),
    ]
}

fn key_json(record: &KeyRecord) -> Value {
    json!({
        "id": record.id,
        "name": record.name,
        "devices": record.devices,
        "scopes": record.scopes,
        "createdAt": rfc3339(record.created_at),
    })
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    let keys = state.store.read(store::keys::list).await?;
    let shown: Vec<Value> = keys
        .iter()
        .filter(|key| caller.administers(&key.devices))
        .map(key_json)
        .collect();
    Ok(Json(json!({ "items": shown })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    #[serde(default = "everything")]
    devices: Vec<String>,
    scopes: Vec<Scope>,
}

fn everything() -> Vec<String> {
    vec!["*".into()]
}

/// Device lists hold ids or `*`; anything else is a typo worth reporting.
fn check_devices(devices: &[String]) -> Result<(), ApiError> {
    check_selection(devices).map_err(ApiError::from)
}

async fn create(
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
    let mut shown = key_json(&created.record);
    shown["key"] = Value::String(created.secret);
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

async fn revoke(
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
    if state.store.write(move |tx| tx.revoke_key(&key.id)).await? {
        state.sockets.disconnect_key(&id);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewToken {
    sub: String,
    devices: Vec<String>,
    scopes: Vec<Scope>,
    #[serde(default = "hour")]
    ttl_secs: u64,
}

fn hour() -> u64 {
    3600
}

async fn token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewToken>,
) -> Result<Response, ApiError> {
    check_devices(&body.devices)?;
    if !(1..=MAX_TOKEN_TTL_SECS).contains(&body.ttl_secs) {
        return Err(ApiError::bad_request(format!(
            "`ttlSecs` must be between 1 and {MAX_TOKEN_TTL_SECS}"
        )));
    }
    let mut wanted = Grant {
        subject: body.sub,
        key: String::new(),
        devices: body.devices.into_iter().collect(),
        scopes: distinct_scopes(body.scopes)?.into_iter().collect(),
        expires: None,
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
    Ok((
        StatusCode::CREATED,
        Json(json!({ "token": token, "expiresAt": rfc3339(expires_at) })),
    )
        .into_response())
}

#[cfg(test)]
mod fuzz;
