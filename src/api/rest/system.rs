//! Health, metrics, the OpenAPI document and its browser, stats and the event journal.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::DevicePath;
use crate::api::journal::{self, EventPage};
use crate::api::openapi::{code, Refused, Served, ANY_REQUEST, CREDENTIALS, DEVICE};
use crate::api::socket::Stats;
use crate::api::AppState;
use crate::metrics::{self, Snapshot};
use crate::store;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(metrics))
        .routes(routes!(docs_json))
        .routes(routes!(stats))
        .routes(routes!(events))
}

/// What `/health` answers.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub(super) struct Health {
    #[schema(example = "ok")]
    status: &'static str,
    /// The daemon's version.
    #[schema(example = "0.1.0")]
    version: &'static str,
}

/// Liveness: answers while the daemon runs
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = OK, description = "the daemon runs", body = Health), Refused<ANY_REQUEST>))]
async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// The daemon's metrics (OpenMetrics text format; see docs/metrics.md)
///
/// Like `/health` it needs no credential: it carries counts, never the ids of devices, chats
/// or messages, names or payloads (an event sink's lag is labelled with the sink's id, which an
/// admin gave it), and scrapers rarely hold API keys.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = OK, description = "the OpenMetrics text exposition",
        content_type = "application/openmetrics-text", body = String), Refused<ANY_REQUEST>))]
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
            let mut sink_lag = Vec::new();
            for sink in store::sinks::list(conn)? {
                let lag = store::sinks::lag(conn, &sink)?;
                sink_lag.push((sink.id, sink.kind.as_str(), lag));
            }
            Ok(Snapshot {
                sink_lag,
                devices: store::devices::count_by_state(conn)?,
                relay_queue: store::messages::relay_depth(conn)?,
                webhook_queue,
                webhook_oldest_age_secs,
                ..Snapshot::default()
            })
        })
        .await?;
    now.socket_connections = state.sockets.connections() as u64;
    now.socket_watched_devices = state.sockets.watched_devices() as u64;
    let text = state.metrics.render(&now);
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}

/// This OpenAPI document
#[utoipa::path(get, path = "/docs-json", tag = "system",
    responses((status = OK, description = "OpenAPI 3.1", content_type = "application/json",
        body = Object), Refused<ANY_REQUEST>))]
async fn docs_json(Extension(document): Extension<Served>) -> Served {
    document
}

/// Fleet counters
///
/// The devices this credential sees, as the root namespace's `stats` event answers.
#[utoipa::path(get, path = "/api/v1/stats", tag = "system",
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the counters", body = Stats), Refused<CREDENTIALS>))]
async fn stats(State(state): State<AppState>, caller: Caller) -> Result<Json<Stats>, ApiError> {
    caller.authorize(Scope::Read, None)?;
    Ok(Json(state.sockets.stats(&caller).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct EventsQuery {
    /// The last `seq` already seen.
    #[serde(default)]
    #[param(format = "uint64", maximum = 18_446_744_073_709_551_615_u64)]
    after: u64,
    /// The most events in the page (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

/// The device's event journal after `after`, oldest first, for pull consumers and resync
#[utoipa::path(get, path = "/api/v1/devices/{id}/events", tag = "system",
    params(DevicePath, EventsQuery),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "a page of the journal", body = EventPage),
        Refused<{ CREDENTIALS | DEVICE | code(ErrorCode::BadRequest) }>))]
async fn events(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let page = journal::page(&state, &caller, &id, query.after, query.limit).await?;
    Ok(Json(page).into_response())
}
