//! The cluster as the API shows it (`GET /api/v1/cluster`), and the internal route by which a
//! node carries a device's request to the node that runs it.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{TimeZone, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::DevicePath;
use crate::api::openapi::{Refused, CREDENTIALS};
use crate::api::AppState;
use crate::device::cluster::{ForwardedWebhook, CARRIED_ROUTE, SCAN_PATH, WEBHOOK_ROUTE};
use crate::device::route::{Answer, Carried};
use crate::model::rfc3339;
use crate::store::cluster;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show_cluster))
}

/// The routes the nodes of a cluster call on each other: not part of the API, and answered
/// only with the cluster's key.
pub fn internal() -> Router<AppState> {
    Router::new()
        .route(CARRIED_ROUTE, post(answer_carried))
        .route(SCAN_PATH, post(answer_scan))
        .route(WEBHOOK_ROUTE, post(answer_webhook))
}

/// An upstream's webhook delivery that reached another node, for a device this node runs.
async fn answer_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    DevicePath(id): DevicePath,
    Json(forwarded): Json<ForwardedWebhook>,
) -> Result<Json<Answer>, ApiError> {
    from_a_node(&state, &headers)?;
    if state.devices.local_handle(&id).is_none() {
        return Err(not_here());
    }
    let (headers, body) = forwarded
        .request()
        .ok_or_else(|| ApiError::bad_request("the forwarded delivery cannot be read"))?;
    let receiver = state.devices.webhook_receiver(&id, forwarded.from).await?;
    state
        .devices
        .receive_webhook(receiver, &headers, &body)
        .await?;
    Ok(Json(Answer::Done))
}

/// The answer to a request for a device this node does not run (any more).
fn not_here() -> ApiError {
    ApiError::new(
        ErrorCode::DeviceNotReady,
        "the device does not run on this node (any more)",
    )
}

/// Whether a call comes from a node of the cluster: it presents the cluster's key.
fn from_a_node(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let key = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    let remote = state.devices.remote();
    match remote.is_some_and(|remote| remote.is_cluster_key(key)) {
        true => Ok(()),
        false => Err(ApiError::new(
            ErrorCode::Unauthorized,
            "only the nodes of the cluster call this",
        )),
    }
}

/// A pairing code scanned or typed through another node, for a device this node runs: the
/// phone side's body, as that node took it.
async fn answer_scan(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(pairing): Json<super::pairing::Pairing>,
) -> Result<Json<super::pairing::Paired>, ApiError> {
    from_a_node(&state, &headers)?;
    let scan = pairing.scan()?;
    Ok(Json(super::pairing::scan_carried(&state, &scan).await?))
}

/// The cluster: its nodes, and which runs each device.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "Cluster"))]
#[serde(rename_all = "camelCase")]
pub(super) struct ClusterView {
    /// The node that answered.
    #[schema(example = "node-a")]
    node_id: String,
    nodes: Vec<NodeView>,
    devices: Vec<LeaseView>,
}

/// A node of the cluster. A node that stopped stays listed, not alive.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "ClusterNode"))]
#[serde(rename_all = "camelCase")]
pub(super) struct NodeView {
    #[schema(example = "node-a")]
    id: String,
    /// Where the other nodes reach it.
    #[schema(example = "http://10.0.0.5:3000")]
    url: String,
    /// It renewed its place within a lease's length, and is not shutting down.
    alive: bool,
    #[schema(format = DateTime)]
    last_seen: String,
    /// How many devices it runs.
    devices: i64,
}

/// Which node runs a device, under which lease epoch (it rises at every change of owner).
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "DeviceOwner"))]
#[serde(rename_all = "camelCase")]
pub(super) struct LeaseView {
    #[schema(example = "shop")]
    id: String,
    /// None while no node runs it (its owner died, and its lease has not run out yet).
    #[schema(example = "node-a")]
    owner: Option<String>,
    epoch: i64,
}

/// The cluster's nodes and which runs each device
///
/// On SQLite the one daemon is the whole cluster: one node that runs every device.
#[utoipa::path(get, path = "/api/v1/cluster", tag = "system",
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the cluster", body = ClusterView), Refused<CREDENTIALS>))]
async fn show_cluster(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ClusterView>, ApiError> {
    caller.authorize(Scope::Read, None)?;
    let Some(ownership) = state.devices.ownership() else {
        let node_id = state.settings.cluster.node_id.clone();
        let node_id = match node_id.is_empty() {
            true => "local".to_owned(),
            false => node_id,
        };
        let ids = state.devices.ids();
        return Ok(Json(ClusterView {
            nodes: vec![NodeView {
                id: node_id.clone(),
                url: state.settings.server.public_url.clone(),
                alive: true,
                last_seen: rfc3339(Utc::now()),
                devices: ids.len() as i64,
            }],
            devices: ids
                .into_iter()
                .filter(|id| caller.sees(id))
                .map(|id| LeaseView {
                    id: id.to_string(),
                    owner: Some(node_id.clone()),
                    epoch: 0,
                })
                .collect(),
            node_id,
        }));
    };
    let lease_ms = ownership.lease().as_millis() as i64;
    let (nodes, leases) = state
        .store
        .read(move |conn| Ok((cluster::nodes(conn, lease_ms)?, cluster::leases(conn)?)))
        .await?;
    Ok(Json(ClusterView {
        node_id: ownership.node().to_owned(),
        nodes: nodes
            .into_iter()
            .map(|node| NodeView {
                id: node.id,
                url: node.url,
                alive: node.alive,
                last_seen: Utc
                    .timestamp_millis_opt(node.last_seen_ms)
                    .single()
                    .map(rfc3339)
                    .unwrap_or_default(),
                devices: node.devices,
            })
            .collect(),
        devices: leases
            .into_iter()
            .filter(|lease| caller.sees(&lease.device))
            .map(|lease| LeaseView {
                id: lease.device.to_string(),
                owner: lease.owner,
                epoch: lease.epoch,
            })
            .collect(),
    }))
}

/// A request another node carried to this one, for a device this node runs.
async fn answer_carried(
    State(state): State<AppState>,
    headers: HeaderMap,
    DevicePath(id): DevicePath,
    Json(carried): Json<Carried>,
) -> Result<Json<Answer>, ApiError> {
    from_a_node(&state, &headers)?;
    let handle = state.devices.local_handle(&id).ok_or_else(not_here)?;
    Ok(Json(handle.answer(carried).await?))
}
