//! Message rows, the relay queue they carry, notifications, and the simulated phones' inboxes
//! and what they still owe.
//!
//! This module holds the row's columns and how a message is read from them, which every
//! submodule and the chats' queries share; each submodule is one use of the rows.

mod acks;
mod idempotency;
mod lookup;
#[cfg(test)]
pub(super) use lookup::CHAT_PAGE;
mod notifications;
mod queue;
mod search;
mod sent_rows;
mod simulator_duties;
mod simulator_groups;
mod simulator_inbox;
mod writes;

use super::sql::Row;
use super::StoreResult;
use crate::model::{ids::phone_of, time::rfc3339_of_millis, Ack, Media, Message, TempId};
use std::sync::LazyLock;

pub use acks::{ack_subject, AckSubject, AckSubjects};
pub use idempotency::by_idempotency_key;
pub use lookup::{
    by_short_id_in_chat, by_temp_id, by_upstream_id, chat_has_messages, counts, get_message,
    in_chat, latest_incoming, list_messages, senders,
};
pub use notifications::NotificationSet;
pub use queue::{
    in_doubt, overdue_acks, relay_attempts, relay_depth, relay_queue, unacked, Queued, RelayUpdate,
    Unacked,
};
pub use search::search;
pub(super) use sent_rows::SentRows;
pub use simulator_duties::{simulator_duties, PhoneDuties};
pub use simulator_groups::simulator_group;
pub use simulator_inbox::{simulator_inbox, InboxEntry, Receipt, Received};
pub use writes::NewMessage;

/// A message's columns, `{m}` standing for its table's name in a query that joins others. A
/// row keeps its device's number (`device_seq.num`); its id is read from there.
const COLUMNS: &str = "{m}id, {m}upstream_id, (SELECT device_id FROM device_seq WHERE num = {m}device), {m}chat_id, {m}from_id, {m}from_me, {m}type, {m}body, {m}media, {m}reply_to, {m}timestamp, {m}ack, {m}temp_id, {m}revoked, {m}template, {m}content, {m}edited_at";

/// The columns [`message_at`] reads, of the only table a query reads.
pub(super) static MESSAGE_COLUMNS: LazyLock<String> = LazyLock::new(|| COLUMNS.replace("{m}", ""));

/// The columns [`message_at`] reads, of the table named `alias` in a query that joins others.
pub(super) fn message_columns_of(alias: &str) -> String {
    COLUMNS.replace("{m}", &format!("{alias}."))
}

/// The number of the device named `?1`, as a statement on messages asks for it: their rows
/// keep the number, and the readers know the device by its id. The writer knows the number
/// ([`Tx::device_number`](super::Tx::device_number)) and gives it instead.
pub(super) const DEVICE_NUMBER: &str = "(SELECT num FROM device_seq WHERE device_id = ?1)";

/// What orders messages as they were stored, on SQLite and on PostgreSQL: a chat's, and those
/// of the relay queue. SQLite's indexes of both end with each row's number, which grows as
/// messages are stored (a new row's is greater than any stored), as their ids do; naming the
/// id too, their entries were ~30 bytes longer (docs/performance.md, send). PostgreSQL's rows
/// have no such number, and its indexes name the id.
pub(super) const STORED_ORDER: [&str; 2] = ["rowid", "id"];

/// [`STORED_ORDER`] on `conn`'s database.
fn stored_order(conn: &super::Conn) -> &'static str {
    STORED_ORDER[usize::from(conn.is_postgres())]
}

/// The tables whose rows name their device by its number ([`DEVICE_NUMBER`]) rather than its
/// id: those that grow with every message.
pub(super) const NUMBERED_TABLES: [&str; 3] = ["messages", "notifications", "simulator_inbox"];

/// A time a message row keeps, in milliseconds since the epoch, as the API gives it.
fn time_of(millis: i64) -> String {
    rfc3339_of_millis(millis).unwrap_or_default()
}

/// A time as a message row keeps it: milliseconds since the epoch.
pub(super) fn millis_of(time: &str) -> i64 {
    super::parse_time(time).timestamp_millis()
}

/// How many columns `MESSAGE_COLUMNS` names: what a query selects after them starts here.
const MESSAGE_COLUMN_COUNT: usize = 17;

/// Reads a message whose columns (in `MESSAGE_COLUMNS` order) start at `at`.
pub(super) fn message_at(row: &Row<'_>, at: usize) -> StoreResult<Message> {
    let media: Option<String> = row.get(at + 8)?;
    let ack = ack_at(row, at + 11)?;
    let from: String = row.get(at + 4)?;
    Ok(Message {
        id: row.get(at)?,
        upstream_id: row.get(at + 1)?,
        device_id: row.get(at + 2)?,
        chat_id: row.get(at + 3)?,
        from_phone: phone_of(&from).map(str::to_owned),
        from,
        from_me: row.get::<i64>(at + 5)? != 0,
        kind: row.get(at + 6)?,
        body: row.get(at + 7)?,
        media: media.and_then(|m| serde_json::from_str::<Media>(&m).ok()),
        reply_to: row.get(at + 9)?,
        timestamp: time_of(row.get(at + 10)?),
        ack: ack.level(),
        ack_name: ack.name(),
        temp_id: row
            .get::<Option<String>>(at + 12)?
            .and_then(|key| TempId::from_key(&key)),
        revoked: row.get::<i64>(at + 13)? != 0,
        template: row
            .get::<Option<String>>(at + 14)?
            .and_then(|t| serde_json::from_str(&t).ok()),
        content: row
            .get::<Option<String>>(at + 15)?
            .and_then(|c| serde_json::from_str(&c).ok())
            .unwrap_or_default(),
        edited_at: row.get::<Option<i64>>(at + 16)?.map(time_of),
    })
}

fn message_row(row: &Row<'_>) -> StoreResult<Message> {
    message_at(row, 0)
}

/// The ack level stored at `index`; an unknown level reads as pending.
fn ack_at(row: &Row<'_>, index: usize) -> StoreResult<Ack> {
    Ok(Ack::from_level(row.get(index)?).unwrap_or(Ack::Pending))
}
