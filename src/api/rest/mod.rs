//! The REST routes, and the OpenAPI document that describes them.
//!
//! Each handler is annotated with `#[utoipa::path]` and each module lists its handlers with
//! utoipa-axum's `routes!`, which registers a handler on the router at the method and path of
//! its annotation and adds the annotation to the document. utoipa-axum's router is used, rather
//! than a route table of our own beside the annotations, because the routes were already
//! declared once each, with their documentation: with it the method and path are still
//! written once, in the annotation, and a route cannot be served at a path or method other
//! than the one documented. Handlers are plain functions for that reason (`routes!` takes
//! their names), and handlers that share a path are listed in one `routes!`.

mod chats;
mod cluster;
mod contacts;
mod devices;
#[cfg(test)]
mod document;
mod groups;
mod keys;
mod media;
mod messages;
mod pairing;
mod profiles;
pub mod readiness;
mod simulator;
mod sinks;
mod system;
#[cfg(test)]
pub(crate) mod typescript;
mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use super::error::{ApiError, ErrorCode};
use super::openapi::{without_null_bodies, ApiDoc, Served};
use super::AppState;

/// The response header that says a send was a repeat of an earlier one (same
/// `Idempotency-Key`) and answers with that message.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub use crate::model::List;

/// A selection left out of a request body: `*`, everything (`#[serde(default = …)]`).
fn everything() -> Vec<String> {
    vec!["*".into()]
}

/// A switch left out of a request body that is on unless said otherwise.
fn yes() -> bool {
    true
}

/// Every route of the API (the connectors' webhook receivers are theirs, and `app` adds them),
/// with its documentation: the route table, and the document's paths.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(system::routes())
        .merge(cluster::routes())
        .merge(readiness::routes())
        .merge(devices::routes())
        .merge(simulator::routes())
        .merge(chats::routes())
        .merge(contacts::routes())
        .merge(messages::routes())
        .merge(groups::routes())
        .merge(media::routes())
        .merge(pairing::routes())
        .merge(profiles::routes())
        .merge(keys::routes())
        .merge(webhooks::routes())
        .merge(sinks::routes())
        .merge(super::mcp::routes())
}

/// The daemon's HTTP router: `routes` (the API's, with whatever `app` adds: the connectors'
/// webhook receivers), the document they make at `/docs-json`, and the dashboard.
pub fn router(state: AppState, mut routes: OpenApiRouter<AppState>) -> Router {
    without_null_bodies(routes.get_openapi_mut());
    let profiles = state
        .profiles
        .list()
        .into_iter()
        .map(|profile| profile.name);
    keys::document_profiles(routes.get_openapi_mut(), profiles);
    let (router, document) = routes.split_for_parts();
    router
        .merge(super::dashboard::router())
        .merge(cluster::internal())
        .layer(Extension(Served::new(&document)))
        .layer(Extension(super::mcp::Server::new(&state)))
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this route does not take this method",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            profiles::translate_bodies,
        ))
        .layer(axum::middleware::map_response(envelope_rejections))
        .layer(DefaultBodyLimit::max(
            state.settings.limits.max_message_bytes,
        ))
        .with_state(state)
}

/// Rejections axum makes itself before a handler runs (a path segment that is not UTF-8, a
/// body over the limit) answer in plain text; the contract wants every error in the JSON
/// envelope, so they are wrapped in it, with their status and sentence. JSON answers are ours
/// already, and HTML pages (the `/pair/{code}` page a phone opens) are meant for a person, so
/// both pass as they are.
async fn envelope_rejections(response: Response) -> Response {
    let status = response.status();
    let keeps_its_body = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|kind| {
            let kind = kind.as_bytes();
            kind.starts_with(b"application/json") || kind.starts_with(b"text/html")
        });
    if keeps_its_body || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let code = match status {
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        status if status.is_server_error() => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    };
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, REJECTION_TEXT_BYTES)
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .filter(|text| !text.trim().is_empty() && code != ErrorCode::Internal);
    let message = text.unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let mut wrapped = ApiError::new(code, message.trim()).into_response();
    *wrapped.status_mut() = status;
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        wrapped.headers_mut().insert(header::ALLOW, allow.clone());
    }
    wrapped
}

/// The most of a rejection's text kept as the error's message.
const REJECTION_TEXT_BYTES: usize = 4096;
