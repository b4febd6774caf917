//! Health, metrics, the OpenAPI document and its browser, stats and the event journal.

use axum::extract::{Query, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{endpoint, query_param, Endpoint};
use crate::api::auth::{Caller, Scope};
use crate::api::error::ApiError;
use crate::api::extract::{page_limit, DevicePath};
use crate::api::{openapi, AppState};
use crate::event::JournaledEvent;
use crate::messaging::fitting;
use crate::metrics::{self, Snapshot};
use crate::store;

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        endpoint(
            Method::GET,
            "/health",
            "Liveness: answers while the daemon runs",
            None,
            None,
            (200, Some("Health")),
            get(health),
        ),
        endpoint(
            Method::GET,
            "/metrics",
            "Prometheus metrics (OpenMetrics text format; see docs/metrics.md)",
            None,
            None,
            (200, None),
            get(metrics),
        ),
        endpoint(
            Method::GET,
            "/docs-json",
            "This OpenAPI document",
            None,
            None,
            (200, None),
            get(docs_json),
        ),
        endpoint(
            Method::GET,
            "/docs",
            "An API browser for this document (HTML, works offline)",
            None,
            None,
            (200, None),
            get(docs),
        ),
        endpoint(
            Method::GET,
            "/api/v1/stats",
            "Fleet counters",
            Some(Scope::Read),
            None,
            (200, Some("Stats")),
            get(stats),
        ),
        endpoint(
            Method::GET,
            "/api/v1/devices/{id}/events",
            "The device's event journal after `after`, oldest first, for pull consumers and resync",
            Some(Scope::Read),
            None,
            (200, Some("EventPage")),
            get(events),
        )
        .reading([
            query_param("after", "integer", "the last seq already seen (default 0)"),
            query_param(
                "limit",
                "integer",
                "most events in the page, 1-1000 (default 100)",
            ),
        ]),
    ]
}

/// The API browser: one self-contained page that reads `/docs-json`, so it needs no network
/// beyond the daemon.
async fn docs() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("../../../assets/docs.html"))
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// The OpenMetrics text exposition. Like `/health` it needs no credential: it carries counts,
/// never ids, names or payloads, and scrapers rarely hold API keys.
async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut now = state
        .store
        .read(|conn| {
            let (webhook_queue, oldest) = store::webhooks::backlog(conn)?;
            let webhook_oldest_age_secs = oldest
                .map(|oldest| {
                    (chrono::Utc::now() - oldest).num_milliseconds().max(0) as f64 / 1000.0
                })
                .unwrap_or(0.0);
            Ok(Snapshot {
                devices: store::devices::count_by_state(conn)?,
                relay_queue: store::messages::relay_depth(conn)?,
                webhook_queue,
                webhook_oldest_age_secs,
                ..Snapshot::default()
            })
        })
        .await?;
    now.socket_connections = state.sockets.connections() as u64;
    let text = state.metrics.render(&now);
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

async fn docs_json() -> Json<Value> {
    Json(openapi::document())
}

async fn stats(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.authorize(Scope::Read, None)?;
    Ok(Json(state.sockets.stats(&caller).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    #[serde(default)]
    after: u64,
    limit: Option<u64>,
}

const DEFAULT_EVENTS_PAGE: u64 = 100;

const MAX_EVENTS_PAGE: u64 = 1000;

async fn events(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    caller.authorize(Scope::Read, Some(&id))?;
    state
        .devices
        .handle(&id)
        .ok_or(crate::device::DeviceError::NotFound)?;
    let limit = page_limit(query.limit, DEFAULT_EVENTS_PAGE, MAX_EVENTS_PAGE)?;
    let device = id.clone();
    let read = state
        .store
        .read(move |conn| store::journal::read_after(conn, &device, query.after, limit))
        .await?;
    let visible: Vec<&JournaledEvent> = read
        .events
        .iter()
        .filter(|event| caller.may_see(&event.name, &id))
        .collect();
    let envelopes: Vec<_> = visible.iter().map(|event| event.envelope()).collect();
    // Cut to the reply budget; `nextAfter` is where the next page starts: the last event
    // given, or the last one read when the rest of the page was not for this caller.
    let fit = fitting(&envelopes, state.settings.limits.max_reply_bytes);
    let next_after = match fit < visible.len() {
        true => visible.get(fit.saturating_sub(1)).map(|event| event.seq),
        false => read.events.last().map(|event| event.seq),
    };
    let items = &envelopes[..fit];
    Ok(Json(json!({
        "items": items,
        "head": read.head,
        "recovered": read.complete,
        "nextAfter": next_after,
    })))
}
