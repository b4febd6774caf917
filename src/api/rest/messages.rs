//! `/api/v1/devices/{id}/messages`: a search of a device's messages; and
//! `…/messages/{messageId}`: one message, and what a client does to it once it is sent: edit
//! it, vote on its poll, forward it to another chat.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::chats::{accepted, dedup_of, ids, query, Ids, IdsPath, WRITE};
use crate::api::auth::{Caller, Scope};
use crate::api::conversations::SearchQuery;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{ApiJson, DevicePath};
use crate::api::openapi::{code, codes, Refused, CREDENTIALS, DEVICE};
use crate::api::AppState;
use crate::model::{Message, Page};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_messages))
        .routes(routes!(show_message, edit_message))
        .routes(routes!(vote))
        .routes(routes!(forward))
}

/// `PATCH …/messages/{messageId}`: the new text (or caption).
#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "text": "see you at 6" }))]
pub(super) struct EditBody {
    /// As long as a send's: the body is held to `limits.max_message_bytes`.
    text: String,
}

/// `POST …/messages/{messageId}/votes`: the options this account now picks (none: its vote
/// taken back).
#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "options": ["Yes"] }))]
pub(super) struct VoteBody {
    options: Vec<String>,
}

/// `POST …/messages/{messageId}/forward`: the chat the copy goes to.
#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({ "chatId": "15550000003@c.us" }))]
pub(super) struct ForwardBody {
    #[schema(min_length = 1, max_length = 256)]
    chat_id: String,
}

/// Search a device's messages
///
/// By the words of their text (SQLite's FTS5, PostgreSQL's full-text search), newest first,
/// paged like a chat's messages; in one chat with `chatId`. Revoked messages are not found.
#[utoipa::path(get, path = "/api/v1/devices/{id}/messages", tag = "chats",
    params(crate::api::extract::DevicePath, SearchQuery),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "a page of the messages found", body = Page<Message>),
        Refused<{ CREDENTIALS | DEVICE | codes(&[ErrorCode::BadRequest, ErrorCode::ChatNotFound]) }>))]
async fn search_messages(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Json<Page<Message>>, ApiError> {
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(state.conversations.search(&id, query(q)?).await?))
}

/// One message with its current ack
#[utoipa::path(get, path = "/api/v1/devices/{id}/messages/{messageId}", tag = "chats",
    params(crate::api::extract::DevicePath, ("messageId" = String, Path, description = "the message's id (`msg_…`)")),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the message", body = Message),
        Refused<{ CREDENTIALS | DEVICE | codes(&[ErrorCode::BadRequest, ErrorCode::MessageNotFound]) }>))]
async fn show_message(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
) -> Result<Json<Message>, ApiError> {
    let Ids(id, message_id) = ids(path)?;
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(state.conversations.message(&id, message_id).await?))
}

/// Edit one of this account's messages
///
/// Its text, or a file's caption, within 15 minutes of sending (later: 409
/// `edit_window_closed`); `message:edited` tells every client, and the upstream is told.
#[utoipa::path(patch, path = "/api/v1/devices/{id}/messages/{messageId}", tag = "chats",
    params(crate::api::extract::DevicePath, ("messageId" = String, Path, description = "the message's id (`msg_…`)")),
    request_body = EditBody,
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = OK, description = "the message as edited", body = Message),
        Refused<{ WRITE | codes(&[ErrorCode::EditWindowClosed, ErrorCode::UnsupportedByConnector]) }>))]
async fn edit_message(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
    ApiJson(body): ApiJson<EditBody>,
) -> Result<Json<Message>, ApiError> {
    let Ids(id, message_id) = ids(path)?;
    caller.authorize(Scope::Send, Some(&id))?;
    Ok(Json(
        state.conversations.edit(&id, message_id, body.text).await?,
    ))
}

/// Vote on a poll
///
/// Replaces this account's vote: options of the poll, one unless it takes several, none to
/// take the vote back. Answers the poll's message with its tally.
#[utoipa::path(post, path = "/api/v1/devices/{id}/messages/{messageId}/votes", tag = "chats",
    params(crate::api::extract::DevicePath, ("messageId" = String, Path, description = "the poll's message id (`msg_…`)")),
    request_body = VoteBody,
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = OK, description = "the poll's message with its tally", body = Message),
        Refused<{ WRITE | code(ErrorCode::UnsupportedByConnector) }>))]
async fn vote(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
    ApiJson(body): ApiJson<VoteBody>,
) -> Result<Json<Message>, ApiError> {
    let Ids(id, message_id) = ids(path)?;
    caller.authorize(Scope::Send, Some(&id))?;
    state
        .conversations
        .vote(&id, message_id.clone(), body.options)
        .await?;
    Ok(Json(state.conversations.message(&id, message_id).await?))
}

/// Forward a message to another chat
///
/// A copy (text, file, place, cards or poll), marked `forwarded`, as a new message with its
/// own id and acks; `Idempotency-Key` makes retries safe for 24 h.
#[utoipa::path(post, path = "/api/v1/devices/{id}/messages/{messageId}/forward", tag = "chats",
    params(crate::api::extract::DevicePath, ("messageId" = String, Path, description = "the message's id (`msg_…`)"),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 128 characters of visible ASCII; the same key within 24 h answers the message it made, sent once", max_length = 128, pattern = "^[!-~](?:[\\t -~]*[!-~])?$")),
    request_body = ForwardBody,
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = ACCEPTED, description = "the copy, stored at ack `pending`", body = Message),
        Refused<{ WRITE | code(ErrorCode::UnsupportedByConnector) }>))]
async fn forward(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    path: IdsPath,
    ApiJson(body): ApiJson<ForwardBody>,
) -> Result<Response, ApiError> {
    let Ids(id, message_id) = ids(path)?;
    caller.authorize(Scope::Send, Some(&id))?;
    let dedup = dedup_of(&headers)?;
    let sent = state
        .conversations
        .forward(&caller, &id, message_id, body.chat_id, None, dedup)
        .await?;
    Ok(accepted(sent))
}
