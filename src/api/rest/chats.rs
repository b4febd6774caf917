//! `/api/v1/devices/{id}/chats`, `…/messages/{messageId}` and `…/contacts`: the same operations
//! as the Socket.IO events (see [`crate::api::messaging`]).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{endpoint, query_param, request_header, Endpoint, IDEMPOTENT_REPLAYED};
use crate::api::auth::{Caller, Scope};
use crate::api::error::ApiError;
use crate::api::extract::{optional_body, ApiJson, DevicePath};
use crate::api::messaging::{ChatsQuery, MessagesQuery, OpenChat};
use crate::api::AppState;
use crate::messaging::{ChatFlags, Dedup, SendRequest};
use crate::model::{Chat, Contact, DeviceId, Media, Message, Page, Template};

pub fn endpoints() -> Vec<Endpoint> {
    let chats = "/api/v1/devices/{id}/chats";
    let chat = "/api/v1/devices/{id}/chats/{chatId}";
    let messages = "/api/v1/devices/{id}/chats/{chatId}/messages";
    vec![
        endpoint(
            Method::GET,
            chats,
            "Chats by last activity, newest first (`?limit&cursor`)",
            Some(Scope::Read),
            None,
            (200, Some("ChatPage")),
            get(list_chats),
        )
        .reading([
            query_param("limit", "integer", "page size, 1-200 (default 50)"),
            query_param("cursor", "string", "`nextCursor` of the previous page"),
        ]),
        endpoint(
            Method::POST,
            chats,
            "Open a chat with a phone number the upstream finds on WhatsApp (200 if it exists)",
            Some(Scope::Send),
            Some("OpenChat"),
            (201, Some("Chat")),
            post(open_chat),
        )
        .also_answering(200, Some("Chat"), "the chat existed already"),
        endpoint(
            Method::GET,
            chat,
            "One chat",
            Some(Scope::Read),
            None,
            (200, Some("Chat")),
            get(show_chat),
        ),
        endpoint(
            Method::PATCH,
            chat,
            "Archive or unarchive, mute or unmute a chat",
            Some(Scope::Send),
            Some("ChatFlags"),
            (200, Some("Chat")),
            patch(set_chat_flags),
        ),
        endpoint(
            Method::GET,
            messages,
            "A chat's messages, newest first (`?before&limit`)",
            Some(Scope::Read),
            None,
            (200, Some("MessagePage")),
            get(list_messages),
        )
        .reading([
            query_param("before", "string", "a message id: the page ends before it"),
            query_param("limit", "integer", "page size, 1-200 (default 50)"),
        ]),
        endpoint(
            Method::POST,
            messages,
            "Send a message; `Idempotency-Key` makes retries safe for 24 h",
            Some(Scope::Send),
            Some("NewMessage"),
            (202, Some("Message")),
            post(send),
        )
        .reading([request_header(
            "Idempotency-Key",
            "visible ASCII; the same key within 24 h answers the message it made, sent once",
        )])
        .answering_headers([(
            "Idempotent-Replayed",
            "`true` when the answer is the message an earlier request with the same \
             `Idempotency-Key` made",
        )]),
        endpoint(
            Method::POST,
            "/api/v1/devices/{id}/chats/{chatId}/read",
            "Mark a chat read up to a message (all if none)",
            Some(Scope::Send),
            Some("ReadUpTo"),
            (200, Some("ReadResult")),
            post(read),
        )
        .body_optional(),
        endpoint(
            Method::GET,
            "/api/v1/devices/{id}/messages/{messageId}",
            "One message with its current ack",
            Some(Scope::Read),
            None,
            (200, Some("Message")),
            get(show_message),
        ),
        endpoint(
            Method::GET,
            "/api/v1/devices/{id}/contacts",
            "Contacts with their presence",
            Some(Scope::Read),
            None,
            (200, Some("ContactList")),
            get(contacts),
        ),
        endpoint(
            Method::GET,
            "/api/v1/devices/{id}/simulator/inbox",
            "What a simulated phone received, in arrival order",
            Some(Scope::Read),
            None,
            (200, Some("SimulatorInbox")),
            get(simulator_inbox),
        ),
    ]
}

/// `{id}` and a second segment (a chat or message id, opaque upstream strings).
pub(super) struct Ids(pub DeviceId, pub String);

impl Ids {
    fn parse((device, other): (String, String)) -> Result<Self, ApiError> {
        Ok(Ids(DeviceId::parse(&device)?, other))
    }
}

pub(super) type IdsPath = Result<Path<(String, String)>, axum::extract::rejection::PathRejection>;

pub(super) fn ids(path: IdsPath) -> Result<Ids, ApiError> {
    let Path(raw) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ids::parse(raw)
}

fn query<T>(
    query: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))
}

async fn list_chats(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    q: Result<Query<ChatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Chat>>, ApiError> {
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(state.messaging.chats(&id, query(q)?).await?))
}

async fn show_chat(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
) -> Result<Json<Chat>, ApiError> {
    let Ids(id, chat) = ids(path)?;
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(state.messaging.chat(&id, chat).await?))
}

async fn open_chat(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    ApiJson(body): ApiJson<OpenChat>,
) -> Result<(StatusCode, Json<Chat>), ApiError> {
    caller.authorize(Scope::Send, Some(&id))?;
    let (chat, created) = state.messaging.open_chat(&id, &body.phone).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(chat)))
}

async fn set_chat_flags(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
    ApiJson(flags): ApiJson<ChatFlags>,
) -> Result<Json<Chat>, ApiError> {
    let Ids(id, chat) = ids(path)?;
    caller.authorize(Scope::Send, Some(&id))?;
    Ok(Json(
        state.messaging.set_chat_flags(&id, chat, flags).await?,
    ))
}

async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
    q: Result<Query<MessagesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Message>>, ApiError> {
    let Ids(id, chat) = ids(path)?;
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(state.messaging.messages(&id, chat, query(q)?).await?))
}

/// The REST body of a send: the chat is in the path.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewMessage {
    #[serde(default)]
    text: String,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    media: Option<Media>,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    template: Option<Template>,
}

async fn send(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    path: IdsPath,
    ApiJson(body): ApiJson<NewMessage>,
) -> Result<Response, ApiError> {
    let Ids(id, chat_id) = ids(path)?;
    caller.authorize(Scope::Send, Some(&id))?;
    let dedup = match headers.get("idempotency-key") {
        Some(key) => Dedup::IdempotencyKey(
            key.to_str()
                .map_err(|_| ApiError::bad_request("`Idempotency-Key` must be visible ASCII"))?
                .to_owned(),
        ),
        None => Dedup::TempId,
    };
    let request = SendRequest {
        chat_id,
        text: body.text,
        media: body.media,
        reply_to: body.reply_to,
        temp_id: None,
        template: body.template,
    };
    let (message, created) = state
        .messaging
        .send(&caller, &id, request, dedup, None)
        .await?;
    let mut response = (StatusCode::ACCEPTED, Json(message)).into_response();
    if !created {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReadUpTo {
    #[serde(default)]
    message_id: Option<String>,
}

async fn read(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let Ids(id, chat_id) = ids(path)?;
    caller.authorize(Scope::Send, Some(&id))?;
    // The body is optional: no body reads the whole chat.
    let up_to = optional_body::<ReadUpTo>(&body)?.message_id;
    Ok(Json(state.messaging.read(&id, chat_id, up_to).await?))
}

async fn show_message(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
) -> Result<Json<Message>, ApiError> {
    let Ids(id, message_id) = ids(path)?;
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(state.messaging.message(&id, message_id).await?))
}

async fn contacts(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<Value>, ApiError> {
    caller.authorize(Scope::Read, Some(&id))?;
    let items: Vec<Contact> = state.messaging.contacts(&id).await?;
    Ok(Json(json!({ "items": items })))
}

async fn simulator_inbox(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<Value>, ApiError> {
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(state.messaging.simulator_inbox(&id).await?))
}

#[cfg(test)]
mod fuzz;
