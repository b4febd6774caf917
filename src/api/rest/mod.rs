//! The REST routes. Each route is declared once, with its documentation, in [`endpoints`]; the
//! router and the OpenAPI document are both built from that list, so they cannot disagree.

mod chats;
mod devices;
mod keys;
mod media;
mod pairing;
pub mod readiness;
mod system;
mod upstream;
mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;

use super::auth::Scope;
use super::error::{ApiError, ErrorCode};
use super::AppState;

/// The response header that says a send was a repeat of an earlier one (same
/// `Idempotency-Key`) and answers with that message.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// What the OpenAPI document says about a route.
pub struct Doc {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    /// The scope required, or `None` for routes without authentication (or, with
    /// `any_credential`, for routes any valid credential may call).
    pub scope: Option<Scope>,
    /// Whether any valid credential may call the route, whatever its scopes.
    pub any_credential: bool,
    /// Name of the request body schema in the document's components, if any.
    pub body: Option<&'static str>,
    /// Whether the route also takes no body at all.
    pub body_optional: bool,
    /// Success status and the response schema name (`None` for no body).
    pub ok: (u16, Option<&'static str>),
    /// Other success statuses: status, response schema name, and when it answers so.
    pub also: Vec<(u16, Option<&'static str>, &'static str)>,
    /// Error statuses particular to the route, and when it answers so (the others are the
    /// document's `default` error).
    pub errors: Vec<(u16, &'static str)>,
    /// Other media types the success comes in when `Accept` asks for them (binary bodies).
    pub media: Vec<&'static str>,
    /// Headers of the success response: name and meaning.
    pub headers: Vec<(&'static str, &'static str)>,
    /// Query parameters and request headers the route reads (path parameters come from
    /// `path`).
    pub params: Vec<Param>,
}

/// Where a [`Param`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Query,
    Header,
}

/// One optional query parameter or request header of a route.
pub struct Param {
    pub name: &'static str,
    pub location: In,
    /// The JSON Schema type of its value: `string` or `integer`.
    pub kind: &'static str,
    pub description: &'static str,
}

/// A query parameter.
pub fn query_param(name: &'static str, kind: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: In::Query,
        kind,
        description,
    }
}

/// A request header, a string.
pub fn request_header(name: &'static str, description: &'static str) -> Param {
    Param {
        name,
        location: In::Header,
        kind: "string",
        description,
    }
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
            any_credential: false,
            body,
            body_optional: false,
            ok,
            also: Vec::new(),
            errors: Vec::new(),
            media: Vec::new(),
            headers: Vec::new(),
            params: Vec::new(),
        },
        route,
    }
}

impl Endpoint {
    /// Documents the query parameters and headers the route reads.
    fn reading<const N: usize>(mut self, params: [Param; N]) -> Endpoint {
        self.doc.params = params.into();
        self
    }

    /// Documents that any valid credential may call the route, whatever its scopes.
    fn for_any_credential(mut self) -> Endpoint {
        self.doc.any_credential = true;
        self
    }

    /// Documents that the route also takes no body.
    fn body_optional(mut self) -> Endpoint {
        self.doc.body_optional = true;
        self
    }

    /// Documents another success status, its schema, and when it is answered.
    fn also_answering(
        mut self,
        status: u16,
        schema: Option<&'static str>,
        when: &'static str,
    ) -> Endpoint {
        self.doc.also.push((status, schema, when));
        self
    }

    /// Documents an error status particular to the route, and when it is answered.
    fn failing_with(mut self, error: (u16, &'static str)) -> Endpoint {
        self.doc.errors.push(error);
        self
    }

    /// Documents the media types, besides JSON, the success comes in on request.
    fn also_as<const N: usize>(mut self, media: [&'static str; N]) -> Endpoint {
        self.doc.media = media.into();
        self
    }

    /// Documents headers of the success response.
    fn answering_headers<const N: usize>(
        mut self,
        headers: [(&'static str, &'static str); N],
    ) -> Endpoint {
        self.doc.headers = headers.into();
        self
    }
}

/// Every route of the daemon except Socket.IO.
pub fn endpoints() -> Vec<Endpoint> {
    let mut all = system::endpoints();
    all.extend(readiness::endpoints());
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
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this route does not take this method",
            )
        })
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
