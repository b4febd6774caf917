//! The protocol profiles over REST: the listing, and the translation of the REST bodies of a
//! caller whose access token carries a profile. That caller's client sends and reads
//! messages in its own convention (`{ content, messageType }`) on devicebridge's paths; the
//! handlers themselves only ever see native bodies.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::auth::{header_credentials, Caller, Scope};
use crate::api::error::ApiError;
use crate::api::openapi::{Refused, CREDENTIALS};
use crate::api::profile::{Profile, Summary};
use crate::api::AppState;
use crate::model::event::EventKind;
use crate::model::DeviceId;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_profiles))
}

/// Socket.IO protocol profiles
///
/// The profiles this daemon knows, shipped and users' own, with the names each maps: client
/// events to the native events they become, native events to the client's names.
#[utoipa::path(get, path = "/api/v1/profiles", tag = "system",
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the profiles", body = Vec<Summary>), Refused<CREDENTIALS>))]
async fn list_profiles(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Summary>>, ApiError> {
    caller.authorize(Scope::Read, None)?;
    Ok(Json(state.profiles.list()))
}

/// What a REST route carries, as far as a profile is concerned.
enum Route {
    /// `POST …/chats/{chatId}/messages`: a send in, a message out.
    Send,
    /// `POST …/chats/{chatId}/read`.
    Read,
    /// `GET …/chats/{chatId}/messages`: a page of messages, and the chat, listed.
    Messages { chat: String },
    /// `GET …/messages/{messageId}`.
    Message,
    /// `GET …/chats` and `GET …/chats/{chatId}`.
    Chats,
}

impl Route {
    /// The route of `method path` under `/api/v1/devices/{id}/`, with its device.
    fn of(method: &Method, path: &str) -> Option<(DeviceId, Route)> {
        let rest = path.strip_prefix("/api/v1/devices/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        let device = DeviceId::parse(segments.first()?).ok()?;
        let route = match (method, &segments[1..]) {
            (&Method::POST, ["chats", _, "messages"]) => Route::Send,
            (&Method::POST, ["chats", _, "read"]) => Route::Read,
            (&Method::GET, ["chats", chat, "messages"]) => Route::Messages {
                chat: percent_decoded(chat)?,
            },
            (&Method::GET, ["messages", _]) => Route::Message,
            (&Method::GET, ["chats"] | ["chats", _]) => Route::Chats,
            _ => return None,
        };
        Some((device, route))
    }
}

fn percent_decoded(segment: &str) -> Option<String> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// Translates the bodies of a request made with an access token that carries a profile: the
/// request in (a send, a read receipt), the answer out (messages and chats as the profile's
/// clients receive them), and marks a listed chat read when the profile says so. Requests
/// without such a token pass untouched, at the cost of one header lookup. The caller found
/// here is left in the request's extensions, where the handler's [`Caller`] is taken from, so
/// a request is authenticated once.
pub async fn translate_bodies(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let (api_key, token) = header_credentials(request.headers());
    let Some(token) = token else {
        return next.run(request).await;
    };
    let Some((device, route)) = Route::of(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let Ok(caller) = state.auth.identify(api_key.as_deref(), Some(&token)).await else {
        return next.run(request).await;
    };
    request.extensions_mut().insert(caller.clone());
    let Some(profile) = caller.profile().and_then(|name| state.profiles.get(name)) else {
        return next.run(request).await;
    };
    let limit = state.settings.limits.max_message_bytes;
    let request = match route {
        Route::Send => match rewrite_body(request, limit, |body| {
            profile.request_like("message:send", body)
        })
        .await
        {
            Ok(request) => request,
            Err(refused) => return refused,
        },
        Route::Read => match rewrite_body(request, limit, |body| {
            profile.request_like("message:read", body)
        })
        .await
        {
            Ok(request) => request,
            Err(refused) => return refused,
        },
        _ => request,
    };
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    if let Route::Messages { chat } = &route {
        if profile.mark_read_on_list && caller.authorize(Scope::Send, Some(&device)).is_ok() {
            state
                .conversations
                .mark_read_on_list(&device, chat.clone())
                .await;
        }
    }
    let reply_limit = state.settings.limits.max_reply_bytes;
    let me = state.conversations.me(&device);
    reshape_answer(response, reply_limit, |body| {
        shape_answer(&profile, &route, body, me.as_deref())
    })
    .await
}

/// A message or chat answer, or a page or list of them, as the profile shapes them.
fn shape_answer(profile: &Profile, route: &Route, mut body: Value, me: Option<&str>) -> Value {
    let native = match route {
        Route::Send | Route::Message | Route::Messages { .. } => EventKind::Message.as_str(),
        Route::Chats => EventKind::ChatUpdate.as_str(),
        Route::Read => return body,
    };
    match body.get_mut("items").and_then(Value::as_array_mut) {
        Some(items) => {
            for item in items.iter_mut() {
                *item = profile.shape_like(native, item, me);
            }
            body
        }
        None => profile.shape_like(native, &body, me),
    }
}

async fn rewrite_body(
    request: Request,
    limit: usize,
    translate: impl FnOnce(Value) -> Value,
) -> Result<Request, Response> {
    let (mut parts, body) = request.into_parts();
    let bytes = to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            crate::api::error::ErrorCode::PayloadTooLarge,
            format!("the body is larger than {limit} bytes"),
        )
        .into_response()
    })?;
    // A body that is not JSON is left for the handler to refuse, in its own words.
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(json) => {
            let translated = serde_json::to_vec(&translate(json)).unwrap_or_default();
            parts.headers.remove(header::CONTENT_LENGTH);
            Body::from(translated)
        }
        Err(_) => Body::from(bytes),
    };
    Ok(Request::from_parts(parts, body))
}

async fn reshape_answer(
    response: Response,
    limit: usize,
    reshape: impl FnOnce(Value) -> Value,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, limit.saturating_mul(2)).await else {
        return ApiError::new(
            crate::api::error::ErrorCode::Internal,
            "the answer could not be read",
        )
        .into_response();
    };
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(json) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Body::from(serde_json::to_vec(&reshape(json)).unwrap_or_default())
        }
        Err(_) => Body::from(bytes),
    };
    Response::from_parts(parts, body)
}
