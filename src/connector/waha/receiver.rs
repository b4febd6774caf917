//! WAHA's webhook receiver, `POST /upstream/waha/{id}`: WAHA signs each event with
//! `X-Webhook-Hmac`, the hex HMAC-SHA512 of the body with the device's `webhook_secret` (see
//! [`super::webhook`] for how it is read, and [`crate::connector::delivery`] for what every
//! receiver does).

use axum::body::Body;
use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::connector::delivery::{deliver, DELIVERY_REFUSED};
use crate::device::DeviceManager;
use crate::envelope::documented::Refused;
use crate::envelope::ApiError;
use crate::model::{spec::ConnectorKind, DeviceId};

pub fn routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    DeviceManager: FromRef<S>,
{
    OpenApiRouter::new().routes(routes!(waha_webhook))
}

/// WAHA webhook receiver, signed with `X-Webhook-Hmac` (HMAC-SHA512 of the body)
#[utoipa::path(post, path = "/upstream/waha/{id}", tag = "upstream",
    params(("id" = DeviceId, Path, description = "The device's id."),
        ("X-Webhook-Hmac" = String, Header, description = "hex HMAC-SHA512 of the body with the device's `webhook_secret`")),
    request_body(content = Object, description = "the event, as WAHA sends it"),
    responses((status = OK, description = "stored; a repeat changes nothing"),
        Refused<DELIVERY_REFUSED>))]
async fn waha_webhook(
    State(devices): State<DeviceManager>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    deliver(ConnectorKind::Waha, &devices, &id, &headers, body).await
}
