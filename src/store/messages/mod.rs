//! Message rows, the relay queue they carry, notifications, and the simulated phones' inboxes
//! and what they still owe.
//!
//! This module holds the row's columns and how a message is read from them, which every
//! submodule and the chats' queries share; each submodule is one use of the rows.

mod acks;
mod idempotency;
mod lookup;
mod notifications;
mod relay;
mod simulator_duties;
mod simulator_inbox;
mod writes;

use rusqlite::Row;

use crate::model::{Ack, Media, Message, TempId};

pub use acks::{ack_subject, AckSubject};
pub use idempotency::by_idempotency_key;
pub use lookup::{
    by_short_id_in_chat, by_temp_id, by_upstream_id, chat_has_messages, counts, get_message,
    in_chat, latest_incoming, list_messages, senders,
};
pub use notifications::NotificationSet;
pub use relay::{
    oldest_unacked, overdue_acks, relay_attempts, relay_depth, relay_queue, Queued, RelayUpdate,
};
pub use simulator_duties::{simulator_duties, PhoneDuties};
pub use simulator_inbox::{simulator_inbox, InboxEntry};
pub use writes::NewMessage;

pub(super) const MESSAGE_COLUMNS: &str = "id, upstream_id, device_id, chat_id, from_id, from_me, type, body, media, reply_to, timestamp, ack, temp_id, revoked, template";
/// How many columns `MESSAGE_COLUMNS` names: what a query selects after them starts here.
const MESSAGE_COLUMN_COUNT: usize = 15;

/// Reads a message whose columns (in `MESSAGE_COLUMNS` order) start at `at`.
pub(super) fn message_at(row: &Row<'_>, at: usize) -> rusqlite::Result<Message> {
    let media: Option<String> = row.get(at + 8)?;
    let ack = Ack::from_level(row.get(at + 11)?).unwrap_or(Ack::Pending);
    Ok(Message {
        id: row.get(at)?,
        upstream_id: row.get(at + 1)?,
        device_id: row.get(at + 2)?,
        chat_id: row.get(at + 3)?,
        from: row.get(at + 4)?,
        from_me: row.get(at + 5)?,
        kind: row.get(at + 6)?,
        body: row.get(at + 7)?,
        media: media.and_then(|m| serde_json::from_str::<Media>(&m).ok()),
        reply_to: row.get(at + 9)?,
        timestamp: row.get(at + 10)?,
        ack: ack.level(),
        ack_name: ack.name(),
        temp_id: row
            .get::<_, Option<String>>(at + 12)?
            .and_then(|key| TempId::from_key(&key)),
        revoked: row.get(at + 13)?,
        template: row
            .get::<_, Option<String>>(at + 14)?
            .and_then(|t| serde_json::from_str(&t).ok()),
    })
}

fn message_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    message_at(row, 0)
}
