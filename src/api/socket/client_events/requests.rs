//! The payloads of the client events a device namespace takes, each its own shape so that
//! an unknown field is refused and the TypeScript types name each one.

use serde::Deserialize;

use crate::api::error::ApiError;
use crate::messaging::NotificationsRead;
use crate::model::TempId;

/// The payload of an event that takes none: `{}`, `null` or nothing.
#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct ReadRequest {
    pub(super) chat_id: String,
    #[serde(default)]
    pub(super) message_id: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct ReactRequest {
    pub(super) message_id: String,
    pub(super) emoji: String,
}

/// `chat:update`: a chat's flags, as `PATCH …/chats/{chatId}` takes them.
#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct ChatUpdateRequest {
    pub(super) chat_id: String,
    pub(super) archived: Option<bool>,
    pub(super) muted: Option<bool>,
    pub(super) pinned: Option<bool>,
    pub(super) unread: Option<bool>,
}

/// `message:edit`: a new text for one of our messages.
#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct EditRequest {
    pub(super) message_id: String,
    pub(super) text: String,
}

/// `poll:vote`: this account's options on a poll (none: the vote taken back).
#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct VoteRequest {
    pub(super) message_id: String,
    pub(super) options: Vec<String>,
}

/// `message:forward`: a copy of a message to another chat; the same `tempId` is the same
/// forward.
#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct ForwardRequest {
    pub(super) message_id: String,
    pub(super) chat_id: String,
    pub(super) temp_id: Option<TempId>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct MessageRef {
    pub(super) message_id: String,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct ChatRef {
    pub(super) chat_id: String,
}

/// `group:update`: a group's new name or description, as `PATCH …/groups/{chatId}` takes
/// them.
#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct GroupUpdateRequest {
    pub(super) chat_id: String,
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
}

/// `group:participants`: who to add, remove, promote and demote, as `POST
/// …/groups/{chatId}/participants` takes them.
#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct GroupParticipantsRequest {
    pub(super) chat_id: String,
    #[serde(default)]
    pub(super) add: Vec<String>,
    #[serde(default)]
    pub(super) remove: Vec<String>,
    #[serde(default)]
    pub(super) promote: Vec<String>,
    #[serde(default)]
    pub(super) demote: Vec<String>,
}

/// `group:invite`: a group's invite link; `revoke: true` makes a new one.
#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct GroupInviteRequest {
    pub(super) chat_id: String,
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub(super) revoke: bool,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct ArchiveRequest {
    pub(super) chat_id: String,
    pub(super) archived: bool,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct MuteRequest {
    pub(super) chat_id: String,
    pub(super) muted: bool,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(in crate::api::socket) struct MessagesRequest {
    pub(super) chat_id: String,
    #[serde(default)]
    pub(super) before: Option<String>,
    #[serde(default)]
    pub(super) limit: Option<u32>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
pub(in crate::api::socket) struct NotificationsRequest {
    #[serde(default)]
    pub(super) ids: Option<Vec<String>>,
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    pub(super) all: bool,
}

impl NotificationsRequest {
    /// Which notifications: `ids`, one `id` (a client that reads the one it shows), or
    /// `all: true`; exactly one of them.
    pub(super) fn which(self) -> Result<NotificationsRead, ApiError> {
        match (self.all, self.ids, self.id) {
            (true, None, None) => Ok(NotificationsRead::All),
            (false, Some(ids), None) => Ok(NotificationsRead::Ids(ids)),
            (false, None, Some(id)) => Ok(NotificationsRead::Ids(vec![id])),
            _ => Err(ApiError::bad_request(
                "send one of `ids`, `id` or `all: true`",
            )),
        }
    }
}
