//! `server.cors_origins`, the browser origins allowed to use the daemon, for REST and
//! Socket.IO alike. CORS headers let pages on those origins read REST answers and Socket.IO's
//! long-polling; a WebSocket is not subject to CORS, so a Socket.IO request from a page on any
//! other origin is refused outright: a page a user happens to open must not drive the daemon
//! with credentials it got hold of. Requests without an `Origin` (programs, not browsers) and
//! pages on the daemon's own origin pass.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowHeaders, CorsLayer};

use super::error::{ApiError, ErrorCode};
use super::rest::IDEMPOTENT_REPLAYED;
use crate::config::Settings;

/// CORS headers for the allowed origins, on every route. A browser shows a script only the
/// simple response headers unless told otherwise, so the ones the API answers with are
/// exposed: `Location` of a created resource, `Idempotent-Replayed` of a repeated send.
pub fn cors(settings: &Settings) -> CorsLayer {
    let origins: Vec<HeaderValue> = settings
        .server
        .cors_origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([header::LOCATION, IDEMPOTENT_REPLAYED])
}

/// What [`guard_sockets`] needs: the Socket.IO path and the allowed origins.
#[derive(Clone)]
pub struct SocketOrigins {
    path: String,
    allowed: Vec<String>,
}

impl SocketOrigins {
    pub fn new(settings: &Settings) -> Self {
        Self {
            path: settings.server.socket_path.trim_end_matches('/').to_owned(),
            allowed: settings.server.cors_origins.clone(),
        }
    }

    fn refuses(&self, request: &Request) -> bool {
        let on_sockets = request
            .uri()
            .path()
            .strip_prefix(self.path.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        let Some(origin) = request.headers().get(header::ORIGIN) else {
            return false;
        };
        let origin = origin.to_str().unwrap_or_default();
        // A page the daemon itself serves is on its own origin, which needs no allowing.
        let same_origin = request
            .headers()
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .is_some_and(|host| origin.split_once("://").is_some_and(|(_, at)| at == host));
        on_sockets && !same_origin && !self.allowed.iter().any(|allowed| allowed == origin)
    }
}

/// Refuses Socket.IO requests from a browser page on an origin not in `server.cors_origins`
/// (403 `forbidden`).
pub async fn guard_sockets(
    State(origins): State<SocketOrigins>,
    request: Request,
    next: Next,
) -> Response {
    if origins.refuses(&request) {
        tracing::debug!(origin = ?request.headers().get(header::ORIGIN), "socket origin refused");
        return ApiError::new(
            ErrorCode::Forbidden,
            "this origin is not in server.cors_origins",
        )
        .into_response();
    }
    next.run(request).await
}
