//! Health, the OpenAPI document and its browser, stats and the event journal.

use axum::extract::{Query, State};
use axum::http::Method;
use axum::routing::get;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{endpoint, Endpoint};
use crate::api::auth::{Caller, Scope};
use crate::api::error::ApiError;
use crate::api::extract::DevicePath;
use crate::api::{openapi, AppState};
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
        ),
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
    #[serde(default = "default_limit")]
    limit: u64,
}

fn default_limit() -> u64 {
    100
}

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
    let limit = query.limit.clamp(1, MAX_EVENTS_PAGE);
    let read = state
        .store
        .read(move |conn| store::journal::read_after(conn, &id, query.after, limit))
        .await?;
    let items: Vec<Value> = read
        .events
        .iter()
        .map(|event| {
            let payload = event.payload();
            json!({ "type": event.name, "deviceId": payload["deviceId"], "seq": event.seq, "at": payload["at"], "data": payload })
        })
        .collect();
    Ok(Json(
        json!({ "items": items, "head": read.head, "recovered": read.complete }),
    ))
}
