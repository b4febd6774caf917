//! Finding stored messages: one by any of its ids, a chat's messages page by page, and what
//! is known of a chat from them. Reads only; the writer's changes live beside them.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::{message_row, stored_order, DEVICE_NUMBER, MESSAGE_COLUMNS, STORED_ORDER};
use crate::model::{DeviceId, Message, Page, ReplyBudget};
use crate::store::page::page;
use crate::store::sql::{params, Asked, Conn, Row};
use crate::store::StoreResult;

/// A column a single message is looked up by.
#[derive(Clone, Copy)]
enum Key {
    Id,
    UpstreamId,
    TempId,
}

fn find_one(conn: &Conn, device: &DeviceId, key: Key, value: &str) -> StoreResult<Option<Message>> {
    conn.answer(ask_one(conn, device, key, value)?)
}

/// [`find_one`], asked ahead of its answer ([`Conn::ask`]).
fn ask_one(
    conn: &Conn,
    device: &DeviceId,
    key: Key,
    value: &str,
) -> StoreResult<Asked<Message, impl FnOnce(&Row<'_>) -> StoreResult<Message>>> {
    static QUERIES: LazyLock<[String; 3]> = LazyLock::new(|| {
        let columns = &*MESSAGE_COLUMNS;
        ["id", "upstream_id", "temp_id"].map(|column| {
            format!(
                "SELECT {columns} FROM messages WHERE device = {DEVICE_NUMBER} AND {column} = ?2"
            )
        })
    });
    conn.ask(
        &QUERIES[key as usize],
        params![device.as_str(), value],
        message_row,
    )
}

pub fn get_message(conn: &Conn, device: &DeviceId, id: &str) -> StoreResult<Option<Message>> {
    find_one(conn, device, Key::Id, id)
}

pub fn by_upstream_id(
    conn: &Conn,
    device: &DeviceId,
    upstream_id: &str,
) -> StoreResult<Option<Message>> {
    find_one(conn, device, Key::UpstreamId, upstream_id)
}

/// The message of a chat whose upstream id has `message_id` as one of its `_`-separated
/// parts, as WhatsApp's ids do (`{fromMe}_{chatId}_{messageId}[_{participant}]`): for
/// upstreams that report a message by that part alone. The newest if several have it. Only the
/// chat's messages are looked at (`messages_by_chat`).
pub fn by_short_id_in_chat(
    conn: &Conn,
    device: &DeviceId,
    chat_id: &str,
    message_id: &str,
) -> StoreResult<Option<Message>> {
    static QUERIES: LazyLock<[String; 2]> = LazyLock::new(|| {
        // SQLite and PostgreSQL name the function that finds a text in another differently.
        let positions = [
            "instr(upstream_id || '_', '_' || ?3 || '_')",
            "strpos(upstream_id || '_', '_' || ?3 || '_')",
        ];
        let columns = &*MESSAGE_COLUMNS;
        [0, 1].map(|database| {
            let (position, order) = (positions[database], STORED_ORDER[database]);
            format!(
                "SELECT {columns} FROM messages
                     WHERE device = {DEVICE_NUMBER} AND chat_id = ?2 AND {position} > 0
                     ORDER BY {order} DESC LIMIT 1"
            )
        })
    });
    conn.query_opt(
        &QUERIES[usize::from(conn.is_postgres())],
        params![device.as_str(), chat_id, message_id],
        message_row,
    )
}

/// The message sent with the `tempId` whose [`crate::model::TempId::key`] is `temp_id`, asked
/// ahead of its answer ([`Conn::ask`]): a send asks it with the device it reads.
pub fn by_temp_id(
    conn: &Conn,
    device: &DeviceId,
    temp_id: &str,
) -> StoreResult<Asked<Message, impl FnOnce(&Row<'_>) -> StoreResult<Message>>> {
    ask_one(conn, device, Key::TempId, temp_id)
}

/// Who wrote in a chat, apart from us, in order of id: the members of a group as far as its
/// messages tell (the store keeps no membership).
pub fn senders(conn: &Conn, device: &DeviceId, chat: &str) -> StoreResult<Vec<String>> {
    conn.query_all(
        &format!(
            "SELECT DISTINCT from_id FROM messages
             WHERE device = {DEVICE_NUMBER} AND chat_id = ?2 AND from_me = 0 ORDER BY from_id"
        ),
        params![device.as_str(), chat],
        |row| row.get(0),
    )
}

/// Whether `message` is one of the chat's messages.
pub fn in_chat(conn: &Conn, device: &DeviceId, chat: &str, message: &str) -> StoreResult<bool> {
    conn.exists(
        &format!(
            "SELECT id FROM messages WHERE device = {DEVICE_NUMBER} AND chat_id = ?2 AND id = ?3"
        ),
        params![device.as_str(), chat, message],
    )
}

/// [`list_messages`]' query on SQLite and on PostgreSQL. SQLite seeks the page's first row in
/// the chat's index, `before` always bounding it, rather than stepping over every message after
/// it: a page deep into a long chat costs what the first does.
pub(in crate::store) static CHAT_PAGE: LazyLock<[String; 2]> = LazyLock::new(|| {
    let columns = &*MESSAGE_COLUMNS;
    let before = [
        "rowid < COALESCE((SELECT rowid FROM messages WHERE id = ?3), 9223372036854775807)",
        "(CAST(?3 AS TEXT) IS NULL OR id < ?3)",
    ];
    [0, 1].map(|database| {
        let (before, order) = (before[database], STORED_ORDER[database]);
        format!(
            "SELECT {columns} FROM messages
             WHERE device = {DEVICE_NUMBER} AND chat_id = ?2 AND {before}
             ORDER BY {order} DESC LIMIT ?4"
        )
    })
});

/// A chat's messages, newest first; `before` is the id of the last message already seen.
pub fn list_messages(
    conn: &Conn,
    device: &DeviceId,
    chat: &str,
    before: Option<&str>,
    limit: u32,
    max_bytes: usize,
) -> StoreResult<Page<Message>> {
    let mut budget = ReplyBudget::new(max_bytes);
    page(
        conn,
        (
            &CHAT_PAGE[usize::from(conn.is_postgres())],
            params![device.as_str(), chat, before, i64::from(limit) + 1],
        ),
        message_row,
        limit,
        |message| budget.take(message),
        |message| message.id.clone(),
    )
}

/// How many messages each device has stored.
pub fn counts(conn: &Conn) -> StoreResult<HashMap<String, u64>> {
    let counts = conn.query_all(
        "SELECT d.device_id, COUNT(*) FROM messages m JOIN device_seq d ON d.num = m.device
         GROUP BY d.device_id",
        params![],
        |row| Ok((row.get(0)?, row.get::<i64>(1)? as u64)),
    )?;
    Ok(counts.into_iter().collect())
}

/// Whether a chat has any message stored.
pub fn chat_has_messages(conn: &Conn, device: &DeviceId, chat: &str) -> StoreResult<bool> {
    conn.exists(
        &format!("SELECT id FROM messages WHERE device = {DEVICE_NUMBER} AND chat_id = ?2 LIMIT 1"),
        params![device.as_str(), chat],
    )
}

/// The upstream id of the newest message the other side sent in a chat.
pub fn latest_incoming(conn: &Conn, device: &DeviceId, chat: &str) -> StoreResult<Option<String>> {
    let order = stored_order(conn);
    conn.query_opt(
        &format!(
            "SELECT upstream_id FROM messages
             WHERE device = {DEVICE_NUMBER} AND chat_id = ?2 AND from_me = 0
                AND upstream_id IS NOT NULL
             ORDER BY {order} DESC LIMIT 1"
        ),
        params![device.as_str(), chat],
        |row| row.get(0),
    )
}
