//! The HTTP side of `/mcp`: the route, documented with the REST routes, and what it hands the
//! SDK's server, which speaks the protocol over streamable HTTP.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{auth, Agent};
use crate::api::accept;
use crate::api::error::ErrorEnvelope;
use crate::api::openapi::{Refused, CREDENTIALS, JSON_BODY};
use crate::api::AppState;

/// The protocol's server: made once, with the tools and their schemas, and shared by every
/// request, each served by an [`Agent`] of its own.
#[derive(Clone)]
pub struct Server(StreamableHttpService<Agent, NeverSessionManager>);

impl Server {
    pub fn new(state: &AppState) -> Self {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_max_request_body_bytes(state.settings.limits.max_message_bytes)
            // The SDK refuses `Host`s other than loopback by default, against a web page that
            // rebinds its name to a daemon on the visitor's machine. Here every request needs
            // a credential such a page does not have, and a daemon is reached by whatever name
            // its deployment gives it.
            .disable_allowed_hosts();
        let agent = Agent::new(state.clone());
        Server(StreamableHttpService::new(
            move || Ok(agent.clone()),
            Arc::new(NeverSessionManager::default()),
            config,
        ))
    }
}

/// `/mcp`, in the route table and the document with the REST routes. Its server comes as an
/// extension (see `rest::router`), since the table is made without the daemon's state.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(exchange))
}

/// One exchange of the Model Context Protocol: a JSON-RPC 2.0 request (or a batch, or a
/// notification) and its answer, over streamable HTTP without a session. A request without a
/// valid credential is refused before the protocol reads it (see [`auth`]); the tools check
/// their scope on the device they name, and answer a refusal as a tool error carrying the
/// error envelope.
///
/// The answer is JSON, always. So a request that accepts JSON is served whether or not it
/// also names `text/event-stream`, as the protocol asks of a client and the SDK insists on:
/// `curl` or a plain HTTP client is answered rather than refused. And JSON that is no message
/// of the protocol is a bad request (`400`), where the SDK says `415`: the body's type was
/// right.
#[utoipa::path(post, path = "/mcp", tag = "mcp",
    request_body(content = Object, description = "a JSON-RPC 2.0 message of the Model Context \
        Protocol: `initialize`, `tools/list`, `tools/call` …",
        example = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})),
    security(("apiKey" = []), ("bearer" = [])),
    responses(
        (status = OK, description = "the JSON-RPC answer; a tool's failure is a result with \
            `isError: true` whose structured content is the error envelope", body = Object),
        (status = ACCEPTED, description = "a notification or an answer, taken; nothing to answer"),
        (status = NOT_ACCEPTABLE, description = "the request accepts no JSON",
            body = ErrorEnvelope),
        (status = UNSUPPORTED_MEDIA_TYPE, description = "the body is not `application/json`",
            body = ErrorEnvelope),
        Refused<{ CREDENTIALS | JSON_BODY }>))]
async fn exchange(
    State(state): State<AppState>,
    Extension(server): Extension<Server>,
    request: Request,
) -> Response {
    let mut request = match auth::authenticate(&state, request).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    let headers = request.headers_mut();
    if accepts_json(headers) {
        headers.insert(header::ACCEPT, HeaderValue::from_static(PROTOCOLS_ANSWERS));
    }
    let json_body = sends_json(headers);
    let mut answer = server.0.handle(request).await.map(Body::new);
    if json_body && answer.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        *answer.status_mut() = StatusCode::BAD_REQUEST;
    }
    answer
}

/// The media types a client of the protocol accepts, as the SDK wants them named.
const PROTOCOLS_ANSWERS: &str = "application/json, text/event-stream";

/// Whether a request with `headers` takes a JSON answer, by the content negotiation the REST
/// routes use (no `Accept` takes anything).
fn accepts_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .unwrap_or_default();
    accept::preferred(accept, &["application/json"]).is_some()
}

/// Whether a request with `headers` says its body is JSON.
fn sends_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|kind| kind.to_str().ok())
        .and_then(|kind| kind.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}
