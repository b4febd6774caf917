//! `/api/v1/webhooks`: subscriptions, their delivery log and replays (scope `admin`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::List;
use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{page_limit, ApiJson};
use crate::api::openapi::{code, Codes, Refused, CREDENTIALS, JSON_BODY, STORES};
use crate::api::AppState;
use crate::hooks::webhook::signing::Secret;
use crate::hooks::webhook::{address, parse_events};
use crate::model::event::{selection, EventPattern};
use crate::model::{check_selection, constraints, fitting, rfc3339, Page};
use crate::store::webhooks::{
    self as outbox, DeliveryRecord, DeliveryStatus, WebhookRecord, WebhookSource,
};

/// Deliveries listed per page by default, and at most.
const PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// A subscription named by the path, that the caller administers.
const WEBHOOK: Codes = CREDENTIALS | code(ErrorCode::WebhookNotFound);

/// What a subscription's definition can meet: a bad field (`bad_request`), a device id that is
/// none.
const DEFINITION: Codes = JSON_BODY | code(ErrorCode::InvalidDeviceId);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(show_webhook, update_webhook, delete_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(replay_delivery))
}

/// A subscription as the API shows it: never its secret.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "Webhook"))]
#[serde(rename_all = "camelCase")]
pub(super) struct WebhookView {
    #[schema(example = "wh_01JD8W4S5XK0M7Y9B3C2E1F0GH")]
    id: String,
    #[schema(format = "uri")]
    url: String,
    /// Event names, as on Socket.IO, or `*` for all.
    events: Vec<String>,
    /// Device ids, or `*` for all.
    devices: Vec<String>,
    enabled: bool,
    /// Where it was declared: over the API, or in the configuration, which owns it.
    #[schema(value_type = WebhookSource)]
    #[cfg_attr(test, ts(as = "crate::store::webhooks::WebhookSource"))]
    source: &'static str,
    /// Why the daemon disabled it (a `410 Gone`), if it did.
    disabled_reason: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

impl From<&WebhookRecord> for WebhookView {
    fn from(webhook: &WebhookRecord) -> Self {
        WebhookView {
            id: webhook.id.clone(),
            url: webhook.url.clone(),
            events: webhook
                .events
                .iter()
                .map(|pattern| pattern.as_str().to_owned())
                .collect(),
            devices: webhook.devices.clone(),
            enabled: webhook.enabled,
            source: webhook.source.as_str(),
            disabled_reason: webhook.disabled_reason.clone(),
            created_at: rfc3339(webhook.created_at),
            updated_at: rfc3339(webhook.updated_at),
        }
    }
}

/// A subscription just made: the only answer that carries its secret.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub(super) struct CreatedWebhook {
    #[serde(flatten)]
    shown: WebhookView,
    /// The signing secret (`whsec_…`); shown only in this answer.
    secret: String,
}

/// One event for one subscription, as the delivery log shows it.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "Delivery"))]
#[serde(rename_all = "camelCase")]
pub(super) struct DeliveryView {
    /// The `webhook-id` header of every attempt.
    id: String,
    webhook_id: String,
    device_id: String,
    seq: u64,
    /// The event's name.
    #[serde(rename = "type")]
    #[schema(example = "message")]
    event: String,
    #[schema(value_type = DeliveryStatus)]
    #[cfg_attr(test, ts(as = "crate::store::webhooks::DeliveryStatus"))]
    status: &'static str,
    attempts: u32,
    last_status_code: Option<u16>,
    last_error: Option<String>,
    #[schema(format = DateTime)]
    next_attempt_at: String,
    #[schema(format = DateTime)]
    delivered_at: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<&DeliveryRecord> for DeliveryView {
    fn from(delivery: &DeliveryRecord) -> Self {
        DeliveryView {
            id: delivery.id.clone(),
            webhook_id: delivery.webhook_id.clone(),
            device_id: delivery.device_id.clone(),
            seq: delivery.seq,
            event: delivery.event.clone(),
            status: delivery.status.as_str(),
            attempts: delivery.attempts,
            last_status_code: delivery.last_status_code,
            last_error: delivery.last_error.clone(),
            next_attempt_at: rfc3339(delivery.next_attempt_at),
            delivered_at: delivery.delivered_at.map(rfc3339),
            created_at: rfc3339(delivery.created_at),
        }
    }
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::WebhookNotFound, "no webhook with this id")
}

/// List webhook subscriptions (never their secrets)
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = OK, description = "the subscriptions", body = List<WebhookView>), Refused<CREDENTIALS>))]
async fn list_webhooks(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<List<WebhookView>>, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    let webhooks = state.store.read(outbox::list).await?;
    let items = webhooks
        .iter()
        .filter(|webhook| caller.administers(&webhook.devices))
        .map(WebhookView::from)
        .collect();
    Ok(Json(List { items }))
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

/// One webhook subscription
#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "the subscription's id (`wh_…`)")),
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = OK, description = "the subscription", body = WebhookView), Refused<WEBHOOK>))]
async fn show_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(WebhookView::from(&find(&state, &caller, id).await?)))
}

/// A new subscription.
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "url": "https://crm.example/hooks/devicebridge", "events": ["message", "message:ack"] }))]
pub(super) struct NewWebhook {
    /// http(s); private and loopback addresses are refused unless `webhooks.allow_private`.
    #[schema(schema_with = constraints::webhook_url)]
    url: String,
    /// Event names, as on Socket.IO, or `*` for all.
    #[serde(default = "super::everything")]
    #[schema(schema_with = selection::all_events)]
    #[cfg_attr(test, ts(optional = nullable))]
    events: Vec<String>,
    /// Device ids, or `*` for all.
    #[serde(default = "super::everything")]
    #[schema(schema_with = constraints::all_devices)]
    #[cfg_attr(test, ts(optional = nullable))]
    devices: Vec<String>,
    /// A `whsec_…` secret of the caller's choosing (base64 of 24 to 64 bytes); generated when
    /// absent.
    #[schema(
        pattern = "^whsec_(?:(?:[A-Za-z0-9+/]{4}){8,20}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?|(?:[A-Za-z0-9+/]{4}){21}(?:[A-Za-z0-9+/][AQgw]==)?)$"
    )]
    secret: Option<String>,
    #[serde(default = "super::yes")]
    #[schema(default = true)]
    #[cfg_attr(test, ts(optional = nullable))]
    enabled: bool,
}

/// Reads a subscription's `events`.
fn events_of(names: &[String]) -> Result<Vec<EventPattern>, ApiError> {
    parse_events(names).map_err(|why| ApiError::bad_request(format!("`events` {why}")))
}

/// Checks where a subscription would send what, naming the field at fault (its `events` are
/// read first, by [`events_of`]).
async fn check(
    state: &AppState,
    url: &str,
    devices: &[String],
    secret: Option<&str>,
) -> Result<(), ApiError> {
    check_selection(devices)?;
    if let Some(secret) = secret {
        Secret::parse(secret).map_err(|why| ApiError::bad_request(format!("`secret` {why}")))?;
    }
    address::check(url, state.settings.webhooks.allow_private)
        .await
        .map_err(|why| ApiError::bad_request(format!("`url` is refused: {why}")))
}

/// Subscribe a URL to events; the signing secret is in this answer only
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks",
    request_body = NewWebhook,
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = CREATED, description = "the subscription, with its secret", body = CreatedWebhook), Refused<{ CREDENTIALS | DEFINITION | STORES }>))]
async fn create_webhook(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewWebhook>,
) -> Result<Response, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    caller.authorize_selection(&body.devices)?;
    let events = events_of(&body.events)?;
    check(&state, &body.url, &body.devices, body.secret.as_deref()).await?;
    let secret = body.secret.unwrap_or_else(Secret::generate);
    let now = Utc::now();
    let mut webhook = WebhookRecord {
        id: String::new(),
        url: body.url,
        events,
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
    let shown = CreatedWebhook {
        shown: WebhookView::from(&created),
        secret,
    };
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

/// Changes to a subscription; a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "enabled": true }))]
pub(super) struct WebhookPatch {
    #[schema(schema_with = constraints::optional_webhook_url)]
    url: Option<String>,
    #[schema(schema_with = selection::optional_events)]
    events: Option<Vec<String>>,
    #[schema(schema_with = constraints::optional_devices)]
    devices: Option<Vec<String>>,
    /// A new `whsec_…` secret (base64 of 24 to 64 bytes).
    #[schema(
        pattern = "^whsec_(?:(?:[A-Za-z0-9+/]{4}){8,20}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?|(?:[A-Za-z0-9+/]{4}){21}(?:[A-Za-z0-9+/][AQgw]==)?)$"
    )]
    secret: Option<String>,
    enabled: Option<bool>,
}

/// Change a subscription
///
/// `enabled: true` resumes one that was disabled. One declared in the configuration can only
/// be enabled or disabled here (`invalid_state`).
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "the subscription's id (`wh_…`)")),
    request_body = WebhookPatch,
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = OK, description = "the subscription as changed", body = WebhookView),
        Refused<{ WEBHOOK | DEFINITION | STORES | code(ErrorCode::InvalidState) }>))]
async fn update_webhook(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<WebhookPatch>,
) -> Result<Json<WebhookView>, ApiError> {
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
    webhook.devices = patch.devices.unwrap_or(webhook.devices);
    webhook.secret = patch.secret.unwrap_or(webhook.secret);
    caller.authorize_selection(&webhook.devices)?;
    if let Some(events) = patch.events {
        webhook.events = events_of(&events)?;
    }
    if redefines {
        check(
            &state,
            &webhook.url,
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
    Ok(Json(WebhookView::from(&updated)))
}

/// Delete a subscription and its delivery log
///
/// One declared in the configuration is removed there (`invalid_state`).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "the subscription's id (`wh_…`)")),
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = NO_CONTENT, description = "deleted"),
        Refused<{ WEBHOOK | STORES | code(ErrorCode::InvalidState) }>))]
async fn delete_webhook(
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

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DeliveriesQuery {
    /// A delivery id: the page ends before it (the `nextCursor` of the previous page).
    before: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// The subscription's deliveries, newest first
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "the subscription's id (`wh_…`)"), DeliveriesQuery),
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = OK, description = "a page of deliveries", body = Page<DeliveryView>),
        Refused<{ WEBHOOK | code(ErrorCode::BadRequest) }>))]
async fn list_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<DeliveryView>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let webhook = find(&state, &caller, id).await?;
    let limit = page_limit(query.limit, PAGE, MAX_PAGE)?;
    let page = state
        .store
        .read(move |conn| {
            outbox::list_deliveries(conn, &webhook.id, query.before.as_deref(), limit)
        })
        .await?;
    let mut items: Vec<DeliveryView> = page.items.iter().map(DeliveryView::from).collect();
    // Each delivery carries its event's payload: the page is cut to the reply budget too.
    let fit = fitting(&items, state.settings.limits.max_reply_bytes);
    let next_cursor = match fit < items.len() {
        true => page.items.get(fit.saturating_sub(1)).map(|d| d.id.clone()),
        false => page.next_cursor,
    };
    items.truncate(fit);
    Ok(Json(Page { items, next_cursor }))
}

/// Send a delivery again, with the same `webhook-id`
#[utoipa::path(post, path = "/api/v1/webhooks/deliveries/{id}/replay", tag = "webhooks",
    params(("id" = String, Path, description = "the delivery's id, its `webhook-id`")),
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = ACCEPTED, description = "the delivery, pending again", body = DeliveryView),
        Refused<{ CREDENTIALS | STORES | code(ErrorCode::DeliveryNotFound) }>))]
async fn replay_delivery(
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
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(&replayed))).into_response())
}

#[cfg(test)]
mod fuzz;
