//! `/api/v1/devices/{id}/groups`: make a group, read it, rename it, change who is in it and
//! who runs it, its invite link, leaving it — the same operations as the Socket.IO `group:*`
//! events (see [`crate::api::groups`]). Reading needs `read`; every change, `send`, as a
//! message does: it is this account speaking in a chat.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::chats::{ids, Ids, CHAT};
use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{ApiJson, DevicePath};
use crate::api::groups;
use crate::api::openapi::{codes, Codes, Refused, JSON_BODY, STORES};
use crate::api::AppState;
use crate::model::group::{
    GroupInfo, GroupPatch, Invite, NewGroup, ParticipantOutcome, ParticipantsChange,
};
use crate::model::{Chat, DeviceId};

/// What a group request can meet besides its chat: a device that is not linked, one whose
/// connector runs no groups, an upstream that failed or refused (this account is no admin).
const GROUP: Codes = CHAT
    | STORES
    | codes(&[
        ErrorCode::DeviceNotReady,
        ErrorCode::UnsupportedByConnector,
        ErrorCode::UpstreamError,
        ErrorCode::NotGroupAdmin,
    ]);

/// The `{id}` and `{chatId}` of a group's routes: a device id, and the group's chat id.
#[derive(utoipa::IntoParams)]
#[into_params(names("id", "chatId"), parameter_in = Path)]
struct GroupPath(
    /// The device's id.
    DeviceId,
    /// The group's chat id (`…@g.us`).
    #[param(min_length = 1, max_length = 256, example = "120363025246125888@g.us")]
    String,
);

impl<S: Send + Sync> FromRequestParts<S> for GroupPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let path = Path::<(String, String)>::from_request_parts(parts, state).await;
        let Ids(device, chat_id) = ids(path)?;
        Ok(GroupPath(device, chat_id))
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_group))
        .routes(routes!(show_group, update_group))
        .routes(routes!(change_participants))
        .routes(routes!(show_invite, revoke_invite))
        .routes(routes!(leave_group))
}

/// Make a group
///
/// With this account as its creator (`superadmin`) and `participants` as members; answered
/// with the group's new chat once `group:update` (`created`) and its `system` line are
/// journaled.
#[utoipa::path(post, path = "/api/v1/devices/{id}/groups", tag = "groups",
    params(DevicePath),
    request_body = NewGroup,
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = CREATED, description = "the group's chat", body = Chat), Refused<{ GROUP | JSON_BODY }>))]
async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    ApiJson(body): ApiJson<NewGroup>,
) -> Result<Response, ApiError> {
    caller.authorize(Scope::Send, Some(&id))?;
    let chat = groups::create(&state.conversations, &id, body).await?;
    Ok((StatusCode::CREATED, Json(chat)).into_response())
}

/// One group, as the upstream has it now
///
/// Its name, description, creator and members with their roles.
#[utoipa::path(get, path = "/api/v1/devices/{id}/groups/{chatId}", tag = "groups",
    params(GroupPath),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the group", body = GroupInfo), Refused<GROUP>))]
async fn show_group(
    State(state): State<AppState>,
    caller: Caller,
    GroupPath(id, chat_id): GroupPath,
) -> Result<Json<GroupInfo>, ApiError> {
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(groups::get(&state.conversations, &id, chat_id).await?))
}

/// Rename a group, or change its description
///
/// Each change is journaled as `group:update` (`name`, `description`) with its `system`
/// line; answered with the group's chat.
#[utoipa::path(patch, path = "/api/v1/devices/{id}/groups/{chatId}", tag = "groups",
    params(GroupPath),
    request_body = GroupPatch,
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = OK, description = "the group's chat", body = Chat), Refused<{ GROUP | JSON_BODY }>))]
async fn update_group(
    State(state): State<AppState>,
    caller: Caller,
    GroupPath(id, chat_id): GroupPath,
    ApiJson(body): ApiJson<GroupPatch>,
) -> Result<Json<Chat>, ApiError> {
    caller.authorize(Scope::Send, Some(&id))?;
    Ok(Json(
        groups::update(&state.conversations, &id, chat_id, body).await?,
    ))
}

/// Add, remove, promote and demote participants
///
/// Only an admin may (`not_group_admin`). Answers one result per id, in the order `add`,
/// `remove`, `promote`, `demote`: the upstream may do some and refuse others
/// (`not_a_participant`, `already_a_participant`, `not_group_admin` for the group's creator).
/// What was done is journaled as one `group:update` (`participants`) with its `system` line.
#[utoipa::path(post, path = "/api/v1/devices/{id}/groups/{chatId}/participants", tag = "groups",
    params(GroupPath),
    request_body = ParticipantsChange,
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = OK, description = "what became of each id", body = Vec<ParticipantOutcome>), Refused<{ GROUP | JSON_BODY }>))]
async fn change_participants(
    State(state): State<AppState>,
    caller: Caller,
    GroupPath(id, chat_id): GroupPath,
    ApiJson(body): ApiJson<ParticipantsChange>,
) -> Result<Json<Vec<ParticipantOutcome>>, ApiError> {
    caller.authorize(Scope::Send, Some(&id))?;
    Ok(Json(
        groups::participants(&state.conversations, &id, chat_id, body).await?,
    ))
}

/// A group's invite link
///
/// Only an admin sees it (`not_group_admin`).
#[utoipa::path(get, path = "/api/v1/devices/{id}/groups/{chatId}/invite", tag = "groups",
    params(GroupPath),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the invite code and link", body = Invite), Refused<GROUP>))]
async fn show_invite(
    State(state): State<AppState>,
    caller: Caller,
    GroupPath(id, chat_id): GroupPath,
) -> Result<Json<Invite>, ApiError> {
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(
        groups::invite(&state.conversations, &id, chat_id, false).await?,
    ))
}

/// Revoke a group's invite link
///
/// The old link stops working; answers the new one.
#[utoipa::path(delete, path = "/api/v1/devices/{id}/groups/{chatId}/invite", tag = "groups",
    params(GroupPath),
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = OK, description = "the new invite code and link", body = Invite), Refused<GROUP>))]
async fn revoke_invite(
    State(state): State<AppState>,
    caller: Caller,
    GroupPath(id, chat_id): GroupPath,
) -> Result<Json<Invite>, ApiError> {
    caller.authorize(Scope::Send, Some(&id))?;
    Ok(Json(
        groups::invite(&state.conversations, &id, chat_id, true).await?,
    ))
}

/// Leave a group
///
/// Journaled as `group:update` (`left`) with its `system` line; the chat stays, with its
/// messages.
#[utoipa::path(post, path = "/api/v1/devices/{id}/groups/{chatId}/leave", tag = "groups",
    params(GroupPath),
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = NO_CONTENT, description = "left"), Refused<GROUP>))]
async fn leave_group(
    State(state): State<AppState>,
    caller: Caller,
    GroupPath(id, chat_id): GroupPath,
) -> Result<StatusCode, ApiError> {
    caller.authorize(Scope::Send, Some(&id))?;
    groups::leave(&state.conversations, &id, chat_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
