//! The REST routes. Each route is declared once, with its documentation, in [`endpoints`]; the
//! router and the OpenAPI document are both built from that list, so they cannot disagree.

mod chats;
mod devices;
mod keys;
mod media;
mod pairing;
mod system;
mod upstream;
mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::MethodRouter;
use axum::Router;

use super::auth::Scope;
use super::error::{ApiError, ErrorCode};
use super::AppState;

/// What the OpenAPI document says about a route.
pub struct Doc {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    /// The scope required, or `None` for routes without authentication.
    pub scope: Option<Scope>,
    /// Name of the request body schema in the document's components, if any.
    pub body: Option<&'static str>,
    /// Success status and the response schema name (`None` for no body).
    pub ok: (u16, Option<&'static str>),
}

pub struct Endpoint {
    pub doc: Doc,
    pub route: MethodRouter<AppState>,
}

/// The request body of an endpoint that takes a file's bytes as they are, of any type,
/// instead of a JSON schema.
pub const FILE_BODY: &str = "(file)";

fn endpoint(
    method: Method,
    path: &'static str,
    summary: &'static str,
    scope: Option<Scope>,
    body: Option<&'static str>,
    ok: (u16, Option<&'static str>),
    route: MethodRouter<AppState>,
) -> Endpoint {
    Endpoint {
        doc: Doc {
            method,
            path,
            summary,
            scope,
            body,
            ok,
        },
        route,
    }
}

/// Every route of the daemon except Socket.IO.
pub fn endpoints() -> Vec<Endpoint> {
    let mut all = system::endpoints();
    all.extend(devices::endpoints());
    all.extend(chats::endpoints());
    all.extend(media::endpoints());
    all.extend(pairing::endpoints());
    all.extend(keys::endpoints());
    all.extend(upstream::endpoints());
    all.extend(webhooks::endpoints());
    all
}

pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for endpoint in endpoints() {
        router = router.route(endpoint.doc.path, endpoint.route);
    }
    router
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .layer(DefaultBodyLimit::max(
            state.settings.limits.max_message_bytes,
        ))
        .with_state(state)
}
