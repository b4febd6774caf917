//! The Cloud API's webhook receiver, `/upstream/cloud/{id}`: Meta checks the callback URL with
//! a GET carrying the device's `verify_token`, then signs each notification with
//! `X-Hub-Signature-256`, the HMAC-SHA256 of the body with the device's `app_secret` (see
//! [`super::webhook`] for how it is read, and [`crate::connector::delivery`] for what every
//! receiver does).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::connector::delivery::{deliver, DELIVERY_REFUSED, NOT_THIS_DEVICE};
use crate::device::DeviceManager;
use crate::envelope::documented::{code, Refused};
use crate::envelope::{ApiError, ErrorCode};
use crate::model::{spec::ConnectorKind, DeviceId};

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    DeviceManager: FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(cloud_subscription, cloud_webhook))
}

/// Cloud API webhook receiver, signed with `X-Hub-Signature-256` (HMAC-SHA256 of the body)
#[utoipa::path(post, path = "/upstream/cloud/{id}", tag = "upstream",
    params(("id" = DeviceId, Path, description = "The device's id."),
        ("X-Hub-Signature-256" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of the body with the device's `app_secret`")),
    request_body(content = Object, description = "the notification, as Meta sends it"),
    responses((status = OK, description = "stored; a repeat changes nothing"),
        Refused<DELIVERY_REFUSED>))]
async fn cloud_webhook(
    State(devices): State<DeviceManager>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    deliver(ConnectorKind::CloudApi, &devices, &id, &headers, body).await
}

/// Cloud API callback check: answers `hub.challenge` when `hub.verify_token` matches
#[utoipa::path(get, path = "/upstream/cloud/{id}", tag = "upstream",
    params(("id" = DeviceId, Path, description = "The device's id."),
        ("hub.mode" = Option<String>, Query, description = "`subscribe`"),
        ("hub.verify_token" = Option<String>, Query, description = "the device's `verify_token`"),
        ("hub.challenge" = Option<String>, Query, description = "answered back as the body")),
    responses((status = OK, description = "`hub.challenge`", content_type = "text/plain", body = String),
        Refused<{ NOT_THIS_DEVICE | code(ErrorCode::Forbidden) }>))]
async fn cloud_subscription(
    State(devices): State<DeviceManager>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<String, ApiError> {
    let id = DeviceId::parse(&id)?;
    let field = |name: &str| query.get(name).map(String::as_str);
    devices
        .verify_cloud_subscription(&id, field("hub.mode"), field("hub.verify_token"))
        .await?;
    Ok(field("hub.challenge").unwrap_or_default().to_owned())
}
