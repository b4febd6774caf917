//! What connectors report about chats and messages, in devicebridge's words.
//!
//! Connectors translate their upstream's vocabulary into [`Inbound`] items; the device actor
//! applies a whole batch of them in one store write (`messaging::inbound`), so a burst of acks
//! costs one commit.

use chrono::{DateTime, Utc};

use super::content::Content;
use super::group::GroupUpdate;
use super::{Ack, Media};

/// A message that arrived from the upstream (sent to us, or sent from the phone itself).
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub upstream_id: String,
    pub chat_id: String,
    /// The chat's name if the upstream knows it (a group's subject).
    pub chat_name: Option<String>,
    pub group: bool,
    pub from: String,
    pub from_name: Option<String>,
    pub from_me: bool,
    pub kind: String,
    pub body: String,
    pub media: Option<Media>,
    /// A place, contact cards, a poll, a length, a forward (see [`Content`]).
    pub content: Content,
    /// The upstream id of the quoted message.
    pub reply_to: Option<String>,
    pub timestamp: DateTime<Utc>,
}

/// One thing the upstream reported about chats and messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Message(Box<Incoming>),
    Ack {
        upstream_id: String,
        ack: Ack,
        /// Who read it, for read receipts in groups.
        by: Option<String>,
    },
    /// One member of a group read one of our messages: a `message:read` naming them. The
    /// message's own ack does not move, since a group message is read when all its members
    /// have read it: the upstream reports that as an [`Inbound::Ack`].
    ReadBy {
        upstream_id: String,
        reader: String,
    },
    /// The upstream could not deliver one of our messages: ack `error`, and the relay status
    /// `failed` with the upstream's reason.
    Failed {
        upstream_id: String,
        error: String,
    },
    Typing {
        chat_id: String,
        contact_id: String,
        typing: bool,
    },
    Presence {
        contact_id: String,
        online: bool,
    },
    Reaction {
        upstream_id: String,
        from: String,
        emoji: String,
    },
    Revoked {
        upstream_id: String,
    },
    /// A message's text (or caption) was edited, by either side, to `body`.
    Edited {
        upstream_id: String,
        body: String,
        at: DateTime<Utc>,
    },
    /// `voter` now picks `options` on the poll `upstream_id` (none: took their vote back).
    Voted {
        upstream_id: String,
        voter: String,
        options: Vec<String>,
    },
    /// A message was revoked, named only by the upstream's own short id within a chat (not
    /// the whole upstream id): the chat's message whose upstream id has it as its id part.
    RevokedInChat {
        chat_id: String,
        message_id: String,
    },
    /// The phone archived a chat, or brought it back.
    Archived {
        chat_id: String,
        archived: bool,
    },
    /// Someone is calling: a `notification` of kind `call` (calls themselves are not bridged).
    Call {
        chat_id: String,
        from: String,
        video: bool,
    },
    /// A group's name, as it is now: we joined it, or its subject changed. A group without a
    /// chat yet gets one.
    GroupNamed {
        chat_id: String,
        name: String,
    },
    /// A group changed: someone joined, left, was made an admin, or the group was renamed,
    /// made or left (see [`GroupUpdate`]). Stored once per `upstream_id` when the upstream
    /// names the change, with the `system` line that says it in the group's chat.
    Group {
        update: Box<GroupUpdate>,
        upstream_id: Option<String>,
        at: DateTime<Utc>,
    },
    /// The upstream named a contact by a linked id and their number's chat id together. The
    /// device remembers it before the batch is applied (`LinkedIds`), so a report that names
    /// the contact by the linked id alone lands in the number's chat; applying it does
    /// nothing more.
    Linked {
        id: String,
        number: String,
    },
}

/// The contacts and chats an upstream has, as reported after linking, with their recent
/// messages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Directory {
    pub contacts: Vec<DirectoryContact>,
    pub chats: Vec<DirectoryChat>,
    /// Recent messages, oldest first. Those of a chat with no messages yet are its history,
    /// imported as read and without events of their own; in a chat that had messages they are
    /// what was missed, and arrive like any new message.
    pub history: Vec<Incoming>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryContact {
    pub id: String,
    pub name: String,
    pub push_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryChat {
    pub id: String,
    pub name: String,
    pub group: bool,
}

/// A typing indicator that started or stopped, for the actor's 25-second expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypingChange {
    pub chat_id: String,
    pub contact_id: String,
    pub typing: bool,
}
