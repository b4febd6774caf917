//! `/api/v1/webhooks`: subscriptions, their delivery log and replays (scope `admin`).

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::Json;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{endpoint, query_param, Endpoint};
use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{page_limit, ApiJson};
use crate::api::AppState;
use crate::hooks::webhook::signing::Secret;
use crate::hooks::webhook::{address, check_events};
use crate::model::{check_selection, fitting, rfc3339};
use crate::store::webhooks::{self as outbox, DeliveryRecord, WebhookRecord, WebhookSource};

/// Deliveries listed per page by default, and at most.
const PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

pub fn endpoints() -> Vec<Endpoint> {
    let one = "/api/v1/webhooks/{id}";
    let admin = Some(Scope::Admin);
    vec![
        endpoint(
            Method::GET,
            "/api/v1/webhooks",
            "List webhook subscriptions (never their secrets)",
            admin,
            None,
            (200, Some("WebhookList")),
            get(list),
        ),
        endpoint(
            Method::POST,
            "/api/v1/webhooks",
            "Subscribe a URL to events; the signing secret is in this response only",
            admin,
            Some("NewWebhook"),
            (201, Some("CreatedWebhook")),
            post(create),
        ),
        endpoint(
            Method::GET,
            one,
            "One webhook subscription",
            admin,
            None,
            (200, Some("Webhook")),
            get(show),
        ),
        endpoint(
            Method::PATCH,
            one,
            "Change a subscription; `enabled: true` resumes one that was disabled",
            admin,
            Some("WebhookPatch"),
            (200, Some("Webhook")),
            patch(update),
        ),
        endpoint(
            Method::DELETE,
            one,
            "Delete a subscription and its delivery log",
            admin,
            None,
            (204, None),
            delete(remove),
        ),
        endpoint(
            Method::GET,
            "/api/v1/webhooks/{id}/deliveries",
            "The subscription's deliveries, newest first (`?before=<delivery id>&limit`)",
            admin,
            None,
            (200, Some("DeliveryPage")),
            get(deliveries),
        )
        .reading([
            query_param("before", "string", "a delivery id: the page ends before it"),
            query_param("limit", "integer", "page size, 1-200 (default 50)"),
        ]),
        endpoint(
            Method::POST,
            "/api/v1/webhooks/deliveries/{id}/replay",
            "Send a delivery again, with the same `webhook-id`",
            admin,
            None,
            (202, Some("Delivery")),
            post(replay),
        ),
    ]
}

fn webhook_json(webhook: &WebhookRecord) -> Value {
    json!({
        "id": webhook.id,
        "url": webhook.url,
        "events": webhook.events,
        "devices": webhook.devices,
        "enabled": webhook.enabled,
        "source": webhook.source.as_str(),
        "disabledReason": webhook.disabled_reason,
        "createdAt": rfc3339(webhook.created_at),
        "updatedAt": rfc3339(webhook.updated_at),
    })
}

fn delivery_json(delivery: &DeliveryRecord) -> Value {
    json!({
        "id": delivery.id,
        "webhookId": delivery.webhook_id,
        "deviceId": delivery.device_id,
        "seq": delivery.seq,
        "type": delivery.event,
        "status": delivery.status.as_str(),
        "attempts": delivery.attempts,
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "nextAttemptAt": rfc3339(delivery.next_attempt_at),
        "deliveredAt": delivery.delivered_at.map(rfc3339),
        "createdAt": rfc3339(delivery.created_at),
    })
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::WebhookNotFound, "no webhook with this id")
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    let webhooks = state.store.read(outbox::list).await?;
    let shown: Vec<Value> = webhooks
        .iter()
        .filter(|webhook| caller.administers(&webhook.devices))
        .map(webhook_json)
        .collect();
    Ok(Json(json!({ "items": shown })))
}

/// Subscription `id`, if the caller administers its devices: one beyond them is one it does
/// not see.
async fn find(state: &AppState, caller: &Caller, id: String) -> Result<WebhookRecord, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    state
        .store
        .read(move |conn| outbox::get(conn, &id))
        .await?
        .filter(|webhook| caller.administers(&webhook.devices))
        .ok_or_else(not_found)
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(webhook_json(&find(&state, &caller, id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWebhook {
    url: String,
    #[serde(default = "everything")]
    events: Vec<String>,
    #[serde(default = "everything")]
    devices: Vec<String>,
    /// A `whsec_…` secret of the caller's choosing; generated when absent.
    secret: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
}

fn everything() -> Vec<String> {
    vec!["*".into()]
}

fn yes() -> bool {
    true
}

/// Checks what a subscription would send where, naming the field at fault.
async fn check(
    state: &AppState,
    url: &str,
    events: &[String],
    devices: &[String],
    secret: Option<&str>,
) -> Result<(), ApiError> {
    check_events(events).map_err(|why| ApiError::bad_request(format!("`events` {why}")))?;
    check_selection(devices)?;
    if let Some(secret) = secret {
        Secret::parse(secret).map_err(|why| ApiError::bad_request(format!("`secret` {why}")))?;
    }
    address::check(url, state.settings.webhooks.allow_private)
        .await
        .map_err(|why| ApiError::bad_request(format!("`url` is refused: {why}")))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewWebhook>,
) -> Result<Response, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    caller.authorize_selection(&body.devices)?;
    check(
        &state,
        &body.url,
        &body.events,
        &body.devices,
        body.secret.as_deref(),
    )
    .await?;
    let secret = body.secret.unwrap_or_else(Secret::generate);
    let now = Utc::now();
    let mut webhook = WebhookRecord {
        id: String::new(),
        url: body.url,
        events: body.events,
        devices: body.devices,
        secret: secret.clone(),
        enabled: body.enabled,
        source: WebhookSource::Api,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    let created = state
        .store
        .write(move |tx| {
            webhook.id = tx.new_id("wh_");
            tx.upsert_webhook(&webhook)?;
            Ok(webhook)
        })
        .await?;
    state.webhooks.wake();
    let mut shown = webhook_json(&created);
    shown["secret"] = Value::String(secret);
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookPatch {
    url: Option<String>,
    events: Option<Vec<String>>,
    devices: Option<Vec<String>>,
    secret: Option<String>,
    enabled: Option<bool>,
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<WebhookPatch>,
) -> Result<Json<Value>, ApiError> {
    let mut webhook = find(&state, &caller, id).await?;
    let redefines = patch.url.is_some()
        || patch.events.is_some()
        || patch.devices.is_some()
        || patch.secret.is_some();
    if redefines && webhook.source == WebhookSource::Config {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            "this subscription is declared in the configuration (webhooks.subscriptions); \
             change it there, or only set `enabled` here",
        ));
    }
    webhook.url = patch.url.unwrap_or(webhook.url);
    webhook.events = patch.events.unwrap_or(webhook.events);
    webhook.devices = patch.devices.unwrap_or(webhook.devices);
    webhook.secret = patch.secret.unwrap_or(webhook.secret);
    caller.authorize_selection(&webhook.devices)?;
    if redefines {
        check(
            &state,
            &webhook.url,
            &webhook.events,
            &webhook.devices,
            Some(&webhook.secret),
        )
        .await?;
    }
    webhook.updated_at = Utc::now();
    let enabled = patch.enabled;
    let updated = state
        .store
        .write(move |tx| {
            tx.upsert_webhook(&webhook)?;
            if let Some(enabled) = enabled {
                tx.set_webhook_enabled(&webhook.id, enabled, None)?;
            }
            outbox::get(tx.conn(), &webhook.id)
        })
        .await?
        .ok_or_else(not_found)?;
    state.webhooks.wake();
    Ok(Json(webhook_json(&updated)))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let webhook = find(&state, &caller, id).await?;
    if webhook.source == WebhookSource::Config {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            "this subscription is declared in the configuration (webhooks.subscriptions); \
             remove it there",
        ));
    }
    state
        .store
        .write(move |tx| tx.delete_webhook(&webhook.id))
        .await?;
    state.webhooks.wake();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliveriesQuery {
    before: Option<String>,
    limit: Option<u32>,
}

async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let webhook = find(&state, &caller, id).await?;
    let limit = page_limit(query.limit, PAGE, MAX_PAGE)?;
    let page = state
        .store
        .read(move |conn| {
            outbox::list_deliveries(conn, &webhook.id, query.before.as_deref(), limit)
        })
        .await?;
    let items: Vec<Value> = page.items.iter().map(delivery_json).collect();
    // Each delivery carries its event's payload: the page is cut to the reply budget too.
    let fit = fitting(&items, state.settings.limits.max_reply_bytes);
    let next_cursor = match fit < items.len() {
        true => page.items.get(fit.saturating_sub(1)).map(|d| d.id.clone()),
        false => page.next_cursor,
    };
    Ok(Json(
        json!({ "items": &items[..fit], "nextCursor": next_cursor }),
    ))
}

async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    let not_found = || ApiError::new(ErrorCode::DeliveryNotFound, "no delivery with this id");
    let wanted = id.clone();
    let delivery = state
        .store
        .read(move |conn| outbox::get_delivery(conn, &wanted))
        .await?
        .ok_or_else(not_found)?;
    // A delivery of a subscription beyond the caller's devices is one it does not see.
    find(&state, &caller, delivery.webhook_id)
        .await
        .map_err(|error| match error.code {
            ErrorCode::WebhookNotFound => not_found(),
            _ => error,
        })?;
    let replayed = state
        .store
        .write(move |tx| tx.replay_delivery(&id))
        .await?
        .ok_or_else(not_found)?;
    state.webhooks.wake();
    Ok((StatusCode::ACCEPTED, Json(delivery_json(&replayed))).into_response())
}

#[cfg(test)]
mod fuzz;
