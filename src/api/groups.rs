//! Groups as both REST and Socket.IO offer them (`POST …/groups`, `group:create`, …): one
//! implementation per operation, so the two faces cannot drift apart. Each is asked of the
//! device, which asks its upstream at once and stores what changed before it answers (see
//! `device::actor::groups`); a group made or renamed is answered with its chat as the store
//! now has it, so the answer and the `chat:update` that went out agree.

use super::conversations::Conversations;
use super::error::ApiError;
use crate::model::group::{
    GroupInfo, GroupOp, GroupOutcome, GroupPatch, Invite, NewGroup, ParticipantOutcome,
    ParticipantsChange,
};
use crate::model::{Chat, DeviceId};

/// An answer of the upstream that is not the one its request has: a connector's mistake.
fn unexpected(outcome: GroupOutcome) -> ApiError {
    ApiError::internal(format!("a group request was answered with {outcome:?}"))
}

/// Makes a group; answers its chat.
pub async fn create(
    c: &Conversations,
    device: &DeviceId,
    group: NewGroup,
) -> Result<Chat, ApiError> {
    match c.group(device, GroupOp::Create(group)).await? {
        GroupOutcome::Group(made) => c.chat(device, made.id).await,
        other => Err(unexpected(other)),
    }
}

/// The group as the upstream has it now.
pub async fn get(
    c: &Conversations,
    device: &DeviceId,
    chat_id: String,
) -> Result<GroupInfo, ApiError> {
    match c.group(device, GroupOp::Get { chat_id }).await? {
        GroupOutcome::Group(group) => Ok(group),
        other => Err(unexpected(other)),
    }
}

/// Renames the group or changes its description; answers its chat.
pub async fn update(
    c: &Conversations,
    device: &DeviceId,
    chat_id: String,
    patch: GroupPatch,
) -> Result<Chat, ApiError> {
    let op = GroupOp::Update {
        chat_id: chat_id.clone(),
        patch,
    };
    c.group(device, op).await?;
    c.chat(device, chat_id).await
}

/// Adds, removes, promotes and demotes; answers what became of each id.
pub async fn participants(
    c: &Conversations,
    device: &DeviceId,
    chat_id: String,
    change: ParticipantsChange,
) -> Result<Vec<ParticipantOutcome>, ApiError> {
    match c
        .group(device, GroupOp::Participants { chat_id, change })
        .await?
    {
        GroupOutcome::Participants { outcomes } => Ok(outcomes),
        other => Err(unexpected(other)),
    }
}

/// The group's invite link; `revoke` makes a new one, and the old one stops working.
pub async fn invite(
    c: &Conversations,
    device: &DeviceId,
    chat_id: String,
    revoke: bool,
) -> Result<Invite, ApiError> {
    match c.group(device, GroupOp::Invite { chat_id, revoke }).await? {
        GroupOutcome::Invite { code } => Ok(Invite::of(code)),
        other => Err(unexpected(other)),
    }
}

/// This account leaves the group.
pub async fn leave(c: &Conversations, device: &DeviceId, chat_id: String) -> Result<(), ApiError> {
    c.group(device, GroupOp::Leave { chat_id }).await.map(drop)
}
