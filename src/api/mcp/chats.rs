//! The tools about chats and messages — `GET …/chats`, `GET` and `POST
//! …/chats/{chatId}/messages`, `GET …/messages?q=` and `POST …/chats/{chatId}/read` — through
//! the same [`crate::api::conversations`] as REST and Socket.IO.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{schemars, tool, tool_router};
use serde::Deserialize;

use super::answer::answer;
use super::{device, Agent};
use crate::api::auth::{Caller, Scope};
use crate::api::conversations::{ChatsQuery, MessagesQuery, SearchQuery};
use crate::messaging::{Dedup, SendRequest};

/// Which page of a device's chats.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ChatPage {
    /// The device's id, as `list_devices` gives it.
    device_id: String,
    /// Chats in the page, 1 to 200 (default 50).
    limit: Option<u32>,
    /// The previous page's `nextCursor`, to read on; none for the first page.
    cursor: Option<String>,
}

/// Which page of a chat's messages.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct MessagePage {
    /// The device's id, as `list_devices` gives it.
    device_id: String,
    /// The chat's id, as `list_chats` gives it (e.g. `15551234567@c.us`).
    chat_id: String,
    /// The previous page's `nextCursor` (a message id): the page holds the messages before
    /// it. None for the newest messages.
    before: Option<String>,
    /// Messages in the page, 1 to 200 (default 50).
    limit: Option<u32>,
}

/// What to search a device's messages for.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Search {
    /// The device's id, as `list_devices` gives it.
    device_id: String,
    /// The words to find (1 to 256 characters): each the start of a word of the message's
    /// text, all of them in the message.
    q: String,
    /// Only this chat's messages.
    chat_id: Option<String>,
    /// The previous page's `nextCursor`, to read on.
    before: Option<String>,
    /// Messages in the page, 1 to 200 (default 50).
    limit: Option<u32>,
}

/// A text to send.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct NewText {
    /// The device's id, as `list_devices` gives it.
    device_id: String,
    /// The chat to write in, as `list_chats` gives it (e.g. `15551234567@c.us`).
    chat_id: String,
    /// The message's text.
    text: String,
    /// The id of a message of the same chat that this one answers.
    reply_to: Option<String>,
    /// Makes a retry safe: a send with the same key within 24 hours answers the message the
    /// first one made instead of sending it again. 1 to 128 characters of visible ASCII.
    idempotency_key: Option<String>,
}

/// How far to mark a chat read.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct ReadUpTo {
    /// The device's id, as `list_devices` gives it.
    device_id: String,
    /// The chat's id, as `list_chats` gives it.
    chat_id: String,
    /// Read up to and including this message; the whole chat if none.
    message_id: Option<String>,
}

#[tool_router(router = chat_tools, vis = "pub(super)")]
impl Agent {
    #[tool(
        description = "A page of a device's chats, most recent activity first, each with its \
                       name, unread count and last message. Read on with the answer's \
                       `nextCursor` as `cursor`. Needs the `read` scope on the device.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_chats(
        &self,
        caller: Caller,
        Parameters(input): Parameters<ChatPage>,
    ) -> CallToolResult {
        answer(async {
            let id = device(&caller, Scope::Read, &input.device_id)?;
            let query = ChatsQuery {
                limit: input.limit,
                cursor: input.cursor,
            };
            self.state.conversations.chats(&id, query).await
        })
        .await
    }

    #[tool(
        description = "A page of one chat's messages, newest first: who wrote each (`fromMe` \
                       for this account), its text (`body`), time and delivery ack. Read older \
                       messages with the answer's `nextCursor` as `before`. Needs the `read` \
                       scope on the device.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn read_messages(
        &self,
        caller: Caller,
        Parameters(input): Parameters<MessagePage>,
    ) -> CallToolResult {
        answer(async {
            let id = device(&caller, Scope::Read, &input.device_id)?;
            let query = MessagesQuery {
                before: input.before,
                limit: input.limit,
            };
            self.state
                .conversations
                .messages(&id, input.chat_id, query)
                .await
        })
        .await
    }

    #[tool(
        description = "Search a device's messages by the words of their text, newest first, \
                       in every chat or in one. Read on with the answer's `nextCursor` as \
                       `before`. Needs the `read` scope on the device.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search_messages(
        &self,
        caller: Caller,
        Parameters(input): Parameters<Search>,
    ) -> CallToolResult {
        answer(async {
            let id = device(&caller, Scope::Read, &input.device_id)?;
            let query = SearchQuery {
                q: input.q,
                chat_id: input.chat_id,
                before: input.before,
                limit: input.limit,
            };
            self.state.conversations.search(&id, query).await
        })
        .await
    }

    #[tool(
        description = "Send a text message in a chat of a device. Answered once the message is \
                       stored (ack `pending`), before it reaches the phone: follow its ack with \
                       `read_messages` or `list_events`. Needs the `send` scope on the device, \
                       which must be `ready`.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_message(
        &self,
        caller: Caller,
        Parameters(input): Parameters<NewText>,
    ) -> CallToolResult {
        answer(async {
            let id = device(&caller, Scope::Send, &input.device_id)?;
            let request = SendRequest::text(input.chat_id, input.text, input.reply_to);
            let dedup = input
                .idempotency_key
                .map_or(Dedup::TempId, Dedup::IdempotencyKey);
            let (message, _) = self
                .state
                .conversations
                .send(&caller, &id, request, dedup, None)
                .await?;
            Ok(message)
        })
        .await
    }

    #[tool(
        description = "Mark a chat of a device read, up to a message or all of it; the \
                       contacts see their messages read. Answers the ids newly read. Needs the \
                       `send` scope on the device.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn mark_read(
        &self,
        caller: Caller,
        Parameters(input): Parameters<ReadUpTo>,
    ) -> CallToolResult {
        answer(async {
            let id = device(&caller, Scope::Send, &input.device_id)?;
            self.state
                .conversations
                .read(&id, input.chat_id, input.message_id)
                .await
        })
        .await
    }
}
