//! `/api/v1/sinks`: event sinks (SPEC §13) and how far each lags behind the journal (scope
//! `admin`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::List;
use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::ApiJson;
use crate::api::openapi::{code, Codes, Refused, CREDENTIALS, JSON_BODY, STORES};
use crate::api::AppState;
use crate::hooks::webhook::parse_events;
use crate::model::event::{selection, EventPattern};
use crate::model::sink::{redacted_url, target_problem, SinkKind};
use crate::model::{check_selection, constraints, rfc3339};
use crate::store::sinks::{self, SinkRecord};
use crate::store::webhooks::WebhookSource;

/// A sink named by the path, that the caller administers.
const SINK: Codes = CREDENTIALS | code(ErrorCode::SinkNotFound);

/// What a sink's definition can meet: a bad field (`bad_request`), a device id that is none.
const DEFINITION: Codes = JSON_BODY | code(ErrorCode::InvalidDeviceId);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sinks, create_sink))
        .routes(routes!(show_sink, update_sink, delete_sink))
}

/// A sink as the API shows it: its URL without its password.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "Sink"))]
#[serde(rename_all = "camelCase")]
pub(super) struct SinkView {
    #[schema(example = "snk_01JD8W4S5XK0M7Y9B3C2E1F0GH")]
    id: String,
    kind: SinkKind,
    /// The server, its password (if any) shown as `***`.
    url: String,
    /// The JetStream stream, Redis key or RabbitMQ exchange it publishes to.
    target: String,
    /// Event names, as on Socket.IO, or `*` for all.
    events: Vec<String>,
    /// Device ids, or `*` for all.
    devices: Vec<String>,
    enabled: bool,
    /// Where it was declared: over the API, or in the configuration (`[[sinks]]`), which owns it.
    #[schema(value_type = WebhookSource)]
    #[cfg_attr(test, ts(as = "crate::store::webhooks::WebhookSource"))]
    source: &'static str,
    /// Events journaled on the devices it follows and not yet confirmed by its server.
    lag: u64,
    /// Whether it is connected and its last page was confirmed.
    connected: bool,
    /// Why it last failed to connect or publish, until it succeeds again.
    last_error: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

impl SinkView {
    fn of(state: &AppState, sink: &SinkRecord, lag: u64) -> Self {
        let status = state.sinks.status(&sink.id);
        let source = match sink.configured() {
            true => WebhookSource::Config,
            false => WebhookSource::Api,
        };
        SinkView {
            id: sink.id.clone(),
            kind: sink.kind,
            url: redacted_url(&sink.url),
            target: sink.target.clone(),
            events: sink.events.iter().map(|p| p.as_str().to_owned()).collect(),
            devices: sink.devices.clone(),
            enabled: sink.enabled,
            source: source.as_str(),
            lag,
            connected: sink.enabled && status.connected,
            last_error: status.last_error,
            created_at: rfc3339(sink.created_at),
            updated_at: rfc3339(sink.updated_at),
        }
    }
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::SinkNotFound, "no sink with this id")
}

/// List event sinks, with how far each lags behind the journal
#[utoipa::path(get, path = "/api/v1/sinks", tag = "sinks",
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = OK, description = "the sinks", body = List<SinkView>), Refused<CREDENTIALS>))]
async fn list_sinks(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<List<SinkView>>, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    let seen: Vec<(SinkRecord, u64)> = state
        .store
        .read(move |conn| {
            let mut seen = Vec::new();
            for sink in sinks::list(conn)? {
                if caller.administers(&sink.devices) {
                    let lag = sinks::lag(conn, &sink)?;
                    seen.push((sink, lag));
                }
            }
            Ok(seen)
        })
        .await?;
    let items = seen
        .iter()
        .map(|(sink, lag)| SinkView::of(&state, sink, *lag))
        .collect();
    Ok(Json(List { items }))
}

/// Sink `id` with its lag, if the caller administers its devices: one beyond them is one it
/// does not see.
async fn find(
    state: &AppState,
    caller: &Caller,
    id: String,
) -> Result<(SinkRecord, u64), ApiError> {
    caller.authorize(Scope::Admin, None)?;
    state
        .store
        .read(move |conn| match sinks::get(conn, &id)? {
            Some(sink) => Ok(Some((sinks::lag(conn, &sink)?, sink))),
            None => Ok(None),
        })
        .await?
        .filter(|(_, sink)| caller.administers(&sink.devices))
        .map(|(lag, sink)| (sink, lag))
        .ok_or_else(not_found)
}

/// One event sink, with its lag
#[utoipa::path(get, path = "/api/v1/sinks/{id}", tag = "sinks",
    params(("id" = String, Path, description = "the sink's id (`snk_…`, or `cfg_<name>`)")),
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = OK, description = "the sink", body = SinkView), Refused<SINK>))]
async fn show_sink(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SinkView>, ApiError> {
    let (sink, lag) = find(&state, &caller, id).await?;
    Ok(Json(SinkView::of(&state, &sink, lag)))
}

/// A new sink.
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "kind": "nats", "url": "nats://127.0.0.1:4222", "events": ["message", "message:ack"] }))]
pub(super) struct NewSink {
    kind: SinkKind,
    #[schema(schema_with = constraints::sink_url)]
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
    /// `nats` only: the JetStream stream (default `DEVICEBRIDGE`).
    #[schema(schema_with = constraints::sink_target)]
    stream: Option<String>,
    /// `redis` only: the stream's key (default `devicebridge:events`).
    #[schema(schema_with = constraints::sink_target)]
    key: Option<String>,
    /// `amqp` only: the topic exchange (default `devicebridge`).
    #[schema(schema_with = constraints::sink_target)]
    exchange: Option<String>,
    #[serde(default = "super::yes")]
    #[schema(default = true)]
    #[cfg_attr(test, ts(optional = nullable))]
    enabled: bool,
}

/// The stream, key or exchange a sink of `kind` is renamed to, if any: another kind's setting
/// is refused, naming it.
fn renamed(
    kind: SinkKind,
    stream: Option<String>,
    key: Option<String>,
    exchange: Option<String>,
) -> Result<Option<String>, ApiError> {
    let mut chosen = None;
    for (setting, value) in [("stream", stream), ("key", key), ("exchange", exchange)] {
        let Some(value) = value else { continue };
        if setting != kind.target_setting() {
            return Err(ApiError::bad_request(format!(
                "`{setting}` is not a setting of a {} sink (it renames with `{}`)",
                kind.as_str(),
                kind.target_setting()
            )));
        }
        if let Some(why) = target_problem(&value) {
            return Err(ApiError::bad_request(format!("`{setting}` {why}")));
        }
        chosen = Some(value);
    }
    Ok(chosen)
}

/// Checks a sink's definition, naming the field at fault; its events, read.
fn check(
    sink_kind: SinkKind,
    url: &str,
    events: &[String],
    devices: &[String],
) -> Result<Vec<EventPattern>, ApiError> {
    let events =
        parse_events(events).map_err(|why| ApiError::bad_request(format!("`events` {why}")))?;
    check_selection(devices)?;
    if let Some(why) = sink_kind.url_problem(url) {
        return Err(ApiError::bad_request(format!("`url` {why}")));
    }
    Ok(events)
}

/// Add an event sink
///
/// It is sent what is journaled from now on: it starts at every device's newest event.
#[utoipa::path(post, path = "/api/v1/sinks", tag = "sinks",
    request_body = NewSink,
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = CREATED, description = "the sink", body = SinkView), Refused<{ CREDENTIALS | DEFINITION | STORES }>))]
async fn create_sink(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewSink>,
) -> Result<Response, ApiError> {
    caller.authorize(Scope::Admin, None)?;
    caller.authorize_selection(&body.devices)?;
    let events = check(body.kind, &body.url, &body.events, &body.devices)?;
    let target = renamed(body.kind, body.stream, body.key, body.exchange)?;
    let now = Utc::now();
    let mut sink = SinkRecord {
        id: String::new(),
        kind: body.kind,
        url: body.url,
        target: target.unwrap_or_else(|| body.kind.default_target().to_owned()),
        events,
        devices: body.devices,
        enabled: body.enabled,
        created_at: now,
        updated_at: now,
    };
    let created = state
        .store
        .write(move |tx| {
            sink.id = tx.new_id("snk_");
            tx.upsert_sink(&sink)?;
            Ok(sink)
        })
        .await?;
    state.sinks.wake();
    let shown = SinkView::of(&state, &created, 0);
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

/// Changes to a sink; a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "enabled": false }))]
pub(super) struct SinkPatch {
    #[schema(schema_with = constraints::optional_sink_url)]
    url: Option<String>,
    #[schema(schema_with = selection::optional_events)]
    events: Option<Vec<String>>,
    #[schema(schema_with = constraints::optional_devices)]
    devices: Option<Vec<String>>,
    #[schema(schema_with = constraints::sink_target)]
    stream: Option<String>,
    #[schema(schema_with = constraints::sink_target)]
    key: Option<String>,
    #[schema(schema_with = constraints::sink_target)]
    exchange: Option<String>,
    enabled: Option<bool>,
}

/// Change a sink
///
/// `enabled: false` stops it and keeps its place in the journal; `true` resumes it from
/// there. One declared in the configuration can only be enabled or disabled here
/// (`invalid_state`).
#[utoipa::path(patch, path = "/api/v1/sinks/{id}", tag = "sinks",
    params(("id" = String, Path, description = "the sink's id (`snk_…`, or `cfg_<name>`)")),
    request_body = SinkPatch,
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = OK, description = "the sink as changed", body = SinkView),
        Refused<{ SINK | DEFINITION | STORES | code(ErrorCode::InvalidState) }>))]
async fn update_sink(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<SinkPatch>,
) -> Result<Json<SinkView>, ApiError> {
    let (mut sink, _) = find(&state, &caller, id).await?;
    let renames = patch.stream.is_some() || patch.key.is_some() || patch.exchange.is_some();
    let redefines =
        renames || patch.url.is_some() || patch.events.is_some() || patch.devices.is_some();
    if redefines && sink.configured() {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            "this sink is declared in the configuration ([[sinks]]); change it there, or only \
             set `enabled` here",
        ));
    }
    sink.url = patch.url.unwrap_or(sink.url);
    sink.devices = patch.devices.unwrap_or(sink.devices);
    caller.authorize_selection(&sink.devices)?;
    let events: Vec<String> = match patch.events {
        Some(events) => events,
        None => sink.events.iter().map(|p| p.as_str().to_owned()).collect(),
    };
    if redefines {
        sink.events = check(sink.kind, &sink.url, &events, &sink.devices)?;
    }
    if let Some(target) = renamed(sink.kind, patch.stream, patch.key, patch.exchange)? {
        sink.target = target;
    }
    sink.updated_at = Utc::now();
    let enabled = patch.enabled;
    let updated = state
        .store
        .write(move |tx| {
            tx.upsert_sink(&sink)?;
            if let Some(enabled) = enabled {
                tx.set_sink_enabled(&sink.id, enabled)?;
            }
            Ok(match sinks::get(tx.conn(), &sink.id)? {
                Some(sink) => Some((sinks::lag(tx.conn(), &sink)?, sink)),
                None => None,
            })
        })
        .await?
        .ok_or_else(not_found)?;
    state.sinks.wake();
    let (lag, sink) = updated;
    Ok(Json(SinkView::of(&state, &sink, lag)))
}

/// Delete a sink, and its place in the journal
///
/// One declared in the configuration is removed there (`invalid_state`).
#[utoipa::path(delete, path = "/api/v1/sinks/{id}", tag = "sinks",
    params(("id" = String, Path, description = "the sink's id (`snk_…`, or `cfg_<name>`)")),
    security(("apiKey" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = NO_CONTENT, description = "deleted"),
        Refused<{ SINK | STORES | code(ErrorCode::InvalidState) }>))]
async fn delete_sink(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (sink, _) = find(&state, &caller, id).await?;
    if sink.configured() {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            "this sink is declared in the configuration ([[sinks]]); remove it there",
        ));
    }
    state
        .store
        .write(move |tx| tx.delete_sink(&sink.id))
        .await?;
    state.sinks.wake();
    Ok(StatusCode::NO_CONTENT)
}
