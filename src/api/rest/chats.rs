//! `/api/v1/devices/{id}/chats`, `…/messages/{messageId}` and `…/contacts`: the same operations
//! as the Socket.IO events (see [`crate::api::conversations`]).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type,
};
use utoipa::openapi::{Object, Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{List, IDEMPOTENT_REPLAYED};
use crate::api::auth::{Caller, Scope};
use crate::api::conversations::{ChatsQuery, MessagesQuery, OpenChat, ReadReceipt};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{optional_body, ApiJson, DevicePath};
use crate::api::openapi::{code, codes, Codes, Refused, CREDENTIALS, DEVICE, JSON_BODY, STORES};
use crate::api::AppState;
use crate::messaging::{Dedup, NewPoll, SendRequest};
use crate::model::content::{ContactCard, Location, MAX_CONTACT_CARDS};
use crate::model::ChatFlags;
use crate::model::{
    constraints, Chat, Contact, DeviceId, Media, MediaKind, Message, Page, Template,
};
use crate::store::messages::InboxEntry;

/// What a route about one chat (or a message in it) can meet besides its device: a chat id
/// that is no id (`bad_request`), a chat the device does not have.
pub(super) const CHAT: Codes =
    CREDENTIALS | DEVICE | codes(&[ErrorCode::BadRequest, ErrorCode::ChatNotFound]);

/// What a message sent, or a chat marked read, can meet besides its chat: a device that is
/// not linked yet, a message named that the chat does not have, a store that cannot keep it.
pub(super) const WRITE: Codes =
    CHAT | JSON_BODY | STORES | codes(&[ErrorCode::DeviceNotReady, ErrorCode::MessageNotFound]);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_chats, open_chat))
        .routes(routes!(show_chat, set_chat_flags))
        .routes(routes!(list_messages, send_message))
        .routes(routes!(mark_read))
        .routes(routes!(list_contacts))
        .routes(routes!(simulator_inbox))
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

pub(super) fn query<T>(
    query: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    query
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))
}

/// Chats by last activity, newest first
#[utoipa::path(get, path = "/api/v1/devices/{id}/chats", tag = "chats",
    params(DevicePath, ChatsQuery),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "a page of chats", body = Page<Chat>),
        Refused<{ CREDENTIALS | DEVICE | code(ErrorCode::BadRequest) }>))]
async fn list_chats(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    q: Result<Query<ChatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Chat>>, ApiError> {
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(state.conversations.chats(&id, query(q)?).await?))
}

/// One chat
#[utoipa::path(get, path = "/api/v1/devices/{id}/chats/{chatId}", tag = "chats",
    params(DevicePath, ("chatId" = String, Path, description = "the chat's id, as the upstream names it: 1 to 256 characters", min_length = 1, max_length = 256, example = "15551234567@c.us")),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the chat", body = Chat), Refused<CHAT>))]
async fn show_chat(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
) -> Result<Json<Chat>, ApiError> {
    let Ids(id, chat) = ids(path)?;
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(state.conversations.chat(&id, chat).await?))
}

/// Open a chat with a phone number the upstream finds on WhatsApp
///
/// A number without a WhatsApp account is `chat_not_found`. Finding the number is a number
/// check, which the device's send governor paces (`rate_limited`).
#[utoipa::path(post, path = "/api/v1/devices/{id}/chats", tag = "chats",
    params(DevicePath),
    request_body = OpenChat,
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses(
        (status = CREATED, description = "the chat, new", body = Chat),
        (status = OK, description = "the chat existed already", body = Chat),
        Refused<{ CREDENTIALS | DEVICE | JSON_BODY | STORES | codes(&[ErrorCode::ChatNotFound, ErrorCode::InvalidState, ErrorCode::UnsupportedByConnector, ErrorCode::UpstreamError, ErrorCode::DeviceNotReady, ErrorCode::RateLimited]) }>))]
async fn open_chat(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    ApiJson(body): ApiJson<OpenChat>,
) -> Result<(StatusCode, Json<Chat>), ApiError> {
    caller.authorize(Scope::Send, Some(&id))?;
    let (chat, created) = state.conversations.open_chat(&id, &body.phone).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(chat)))
}

/// Archive or unarchive, mute or unmute a chat
#[utoipa::path(patch, path = "/api/v1/devices/{id}/chats/{chatId}", tag = "chats",
    params(DevicePath, ("chatId" = String, Path, description = "the chat's id, as the upstream names it: 1 to 256 characters", min_length = 1, max_length = 256, example = "15551234567@c.us")),
    request_body = ChatFlags,
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = OK, description = "the chat as it now is", body = Chat), Refused<{ CHAT | JSON_BODY | STORES }>))]
async fn set_chat_flags(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
    ApiJson(flags): ApiJson<ChatFlags>,
) -> Result<Json<Chat>, ApiError> {
    let Ids(id, chat) = ids(path)?;
    caller.authorize(Scope::Send, Some(&id))?;
    Ok(Json(
        state.conversations.set_chat_flags(&id, chat, flags).await?,
    ))
}

/// A chat's messages, newest first
#[utoipa::path(get, path = "/api/v1/devices/{id}/chats/{chatId}/messages", tag = "chats",
    params(DevicePath, ("chatId" = String, Path, description = "the chat's id, as the upstream names it: 1 to 256 characters", min_length = 1, max_length = 256, example = "15551234567@c.us"), MessagesQuery),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "a page of messages", body = Page<Message>),
        Refused<{ CHAT | code(ErrorCode::MessageNotFound) }>))]
async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
    q: Result<Query<MessagesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Message>>, ApiError> {
    let Ids(id, chat) = ids(path)?;
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(
        state.conversations.messages(&id, chat, query(q)?).await?,
    ))
}

/// The REST body of a send: the chat is in the path.
#[derive(Debug, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct NewMessage {
    /// The text, or the caption of `media`.
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    text: String,
    /// A file to send, by link: the `media` an upload answered, or any URL the upstream can
    /// fetch.
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    media: Option<Media>,
    /// A place.
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    location: Option<Location>,
    /// Contact cards.
    #[serde(default)]
    contacts: Option<Vec<ContactCard>>,
    /// A poll.
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    poll: Option<NewPoll>,
    /// The id of the message this one answers, in the same chat.
    #[serde(default)]
    reply_to: Option<String>,
    /// A template approved by Meta (Cloud API devices only); it may open a chat with a new
    /// number.
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    template: Option<Template>,
}

/// Described as one object per kind of message, so that the document refuses what a send
/// refuses (`SendRequest::validate`): a message of nothing (no `media`, no `template`, a
/// `text` of whitespace only), and a `template` beside a `media`, which carries its own. A
/// `media` or `template` of `null` is one left out.
impl PartialSchema for NewMessage {
    fn schema() -> RefOr<Schema> {
        let media = || Ref::from_schema_name(Media::name()).into();
        let template = || Ref::from_schema_name(Template::name()).into();
        let location = Ref::from_schema_name(Location::name()).into();
        let poll = Ref::from_schema_name(NewPoll::name()).into();
        let contacts = ArrayBuilder::new()
            .items(Ref::from_schema_name(ContactCard::name()))
            .min_items(Some(1))
            .max_items(Some(MAX_CONTACT_CARDS))
            .into();
        let caption = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("The caption."))
                .into()
        };
        let text = constraints::not_blank("The text.").build().into();
        OneOfBuilder::new()
            .item(message_kind("A text.", ("text", text), None))
            .item(message_kind("A file, with a caption if `text` is given.", ("media", media()), Some(("text", caption()))))
            .item(message_kind("A template (Cloud API devices only).", ("template", template()), Some(("text", caption()))))
            .item(message_kind("A place.", ("location", location), None))
            .item(message_kind("Contact cards.", ("contacts", contacts), None))
            .item(message_kind("A poll: 2 to 12 distinct options.", ("poll", poll), None))
            .description(Some("A message to send, of one content: a `text`, a `media` (with `text` as its caption), a `template`, a `location`, `contacts` or a `poll`."))
            .examples([json!({ "text": "Hello!" })])
            .into()
    }
}

impl ToSchema for NewMessage {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Media::name().into(), Media::schema()));
        schemas.push((Template::name().into(), Template::schema()));
        schemas.push((MediaKind::name().into(), MediaKind::schema()));
        schemas.push((Location::name().into(), Location::schema()));
        schemas.push((ContactCard::name().into(), ContactCard::schema()));
        schemas.push((NewPoll::name().into(), NewPoll::schema()));
    }
}

/// One kind of send body: its `content` field, required, beside what every kind may carry
/// (`replyTo`, and `text` if `optional` says how). The content fields of the other kinds may
/// only be `null`.
fn message_kind(
    description: &str,
    (field, content): (&str, RefOr<Schema>),
    optional: Option<(&str, RefOr<Schema>)>,
) -> Object {
    let null = || ObjectBuilder::new().schema_type(Type::Null);
    let reply_to = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some(
            "The id of the message this one answers, in the same chat.",
        ));
    let mut kind = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .property(field, content)
        .required(field);
    if let Some((name, schema)) = optional {
        kind = kind.property(name, schema);
    }
    for other in ["media", "template", "location", "contacts", "poll"]
        .into_iter()
        .filter(|other| *other != field)
    {
        kind = kind.property(other, null());
    }
    kind.property("replyTo", reply_to)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .build()
}

/// Send a message
///
/// Answered once the message is stored, before it reaches the upstream: its acks follow as
/// events. `Idempotency-Key` makes retries safe for 24 h.
#[utoipa::path(post, path = "/api/v1/devices/{id}/chats/{chatId}/messages", tag = "chats",
    params(DevicePath, ("chatId" = String, Path, description = "the chat's id, as the upstream names it: 1 to 256 characters", min_length = 1, max_length = 256, example = "15551234567@c.us"),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 128 characters of visible ASCII; the same key within 24 h answers the message it made, sent once", max_length = 128, pattern = "^[!-~](?:[\\t -~]*[!-~])?$")),
    request_body = NewMessage,
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = ACCEPTED, description = "the message, stored at ack `pending`", body = Message, headers(
            ("Idempotent-Replayed" = String, description = "`true` when the answer is the message an earlier request with the same `Idempotency-Key` made"))),
        Refused<{ WRITE | code(ErrorCode::UnsupportedByConnector) }>))]
async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    path: IdsPath,
    ApiJson(body): ApiJson<NewMessage>,
) -> Result<Response, ApiError> {
    let Ids(id, chat_id) = ids(path)?;
    caller.authorize(Scope::Send, Some(&id))?;
    let dedup = dedup_of(&headers)?;
    let request = SendRequest {
        chat_id,
        text: body.text,
        media: body.media,
        location: body.location,
        contacts: body.contacts,
        poll: body.poll,
        reply_to: body.reply_to,
        temp_id: None,
        template: body.template,
        forwarded: false,
        forward_of: None,
    };
    let sent = state
        .conversations
        .send(&caller, &id, request, dedup, None)
        .await?;
    Ok(accepted(sent))
}

/// What makes a REST send the same as an earlier one: its `Idempotency-Key`, if it has one.
pub(super) fn dedup_of(headers: &HeaderMap) -> Result<Dedup, ApiError> {
    Ok(match headers.get("idempotency-key") {
        Some(key) => Dedup::IdempotencyKey(
            key.to_str()
                .map_err(|_| ApiError::bad_request("`Idempotency-Key` must be visible ASCII"))?
                .to_owned(),
        ),
        None => Dedup::TempId,
    })
}

/// `202` with the message accepted for sending, marked `Idempotent-Replayed` when it is the
/// one an earlier request with the same key made.
pub(super) fn accepted((message, created): (Message, bool)) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(message)).into_response();
    if !created {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// How far a chat is read; no body reads all of it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ReadUpTo {
    /// Read up to and including this message; all if absent.
    #[serde(default)]
    message_id: Option<String>,
}

/// Mark a chat read up to a message (all if none)
#[utoipa::path(post, path = "/api/v1/devices/{id}/chats/{chatId}/read", tag = "chats",
    params(DevicePath, ("chatId" = String, Path, description = "the chat's id, as the upstream names it: 1 to 256 characters", min_length = 1, max_length = 256, example = "15551234567@c.us")),
    request_body = Option<ReadUpTo>,
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = OK, description = "the messages newly read", body = ReadReceipt), Refused<WRITE>))]
async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
    body: axum::body::Bytes,
) -> Result<Json<ReadReceipt>, ApiError> {
    let Ids(id, chat_id) = ids(path)?;
    caller.authorize(Scope::Send, Some(&id))?;
    // The body is optional: no body reads the whole chat.
    let up_to = optional_body::<ReadUpTo>(&body)?.message_id;
    Ok(Json(state.conversations.read(&id, chat_id, up_to).await?))
}

/// Contacts with their presence
#[utoipa::path(get, path = "/api/v1/devices/{id}/contacts", tag = "chats",
    params(DevicePath),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the contacts", body = List<Contact>), Refused<{ CREDENTIALS | DEVICE }>))]
async fn list_contacts(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<List<Contact>>, ApiError> {
    caller.authorize(Scope::Read, Some(&id))?;
    let items = state.conversations.contacts(&id).await?;
    Ok(Json(List { items }))
}

/// What a simulated phone received, in arrival order
#[utoipa::path(get, path = "/api/v1/devices/{id}/simulator/inbox", tag = "chats",
    params(DevicePath),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "what the phone received", body = List<InboxEntry>), Refused<{ CREDENTIALS | DEVICE }>))]
async fn simulator_inbox(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
) -> Result<Json<List<InboxEntry>>, ApiError> {
    caller.authorize(Scope::Read, Some(&id))?;
    let items = state.conversations.simulator_inbox(&id).await?;
    Ok(Json(List { items }))
}

#[cfg(test)]
mod fuzz;
