//! Chat rows, listed by last activity, newest first (contacts are in [`super::contacts`]).

use std::sync::LazyLock;

use super::messages;
use super::page::page;
use super::sql::{params, Conn, Row};
use super::{StoreResult, Tx};
use crate::model::{event::EventData, Chat, ChatFlags, DeviceId, Message, Page, ReplyBudget};

const CHAT_COLUMNS: &str = "c.id, c.device_id, c.name, c.kind, c.unread_count, c.updated_at, \
    c.archived, c.muted, c.pinned, c.marked_unread";
/// How many columns `CHAT_COLUMNS` names: the last message's start after them.
const CHAT_COLUMN_COUNT: usize = 10;

/// Chats joined with their last message, whose columns follow the chat's.
fn chat_query(filter: &str) -> String {
    let message_columns = messages::message_columns_of("m");
    format!(
        "SELECT {CHAT_COLUMNS}, {message_columns} FROM chats c
         LEFT JOIN messages m ON m.id = c.last_message_id WHERE {filter}"
    )
}

/// Reads a chat's own columns (in `CHAT_COLUMNS` order), without its last message.
fn chat_at(row: &Row<'_>) -> StoreResult<Chat> {
    Ok(Chat {
        id: row.get(0)?,
        device_id: row.get(1)?,
        name: row.get(2)?,
        kind: row.get(3)?,
        unread_count: row.get::<i64>(4)?.try_into().unwrap_or_default(),
        updated_at: row.get(5)?,
        archived: row.get::<i64>(6)? != 0,
        muted: row.get::<i64>(7)? != 0,
        pinned: row.get::<i64>(8)? != 0,
        marked_unread: row.get::<i64>(9)? != 0,
        last_message: None,
    })
}

fn chat_from_row(row: &Row<'_>) -> StoreResult<Chat> {
    let has_last: Option<String> = row.get(CHAT_COLUMN_COUNT)?;
    Ok(Chat {
        last_message: match has_last {
            Some(_) => Some(messages::message_at(row, CHAT_COLUMN_COUNT)?),
            None => None,
        },
        ..chat_at(row)?
    })
}

pub fn get_chat(conn: &Conn, device: &DeviceId, chat: &str) -> StoreResult<Option<Chat>> {
    static ONE_CHAT: LazyLock<String> =
        LazyLock::new(|| chat_query("c.device_id = ?1 AND c.id = ?2"));
    conn.query_opt(&ONE_CHAT, params![device.as_str(), chat], chat_from_row)
}

/// Whether the chat is muted: its messages raise no notification and no host hook.
pub fn is_muted(conn: &Conn, device: &DeviceId, chat: &str) -> StoreResult<bool> {
    let muted: Option<i64> = conn.query_opt(
        "SELECT muted FROM chats WHERE device_id = ?1 AND id = ?2",
        params![device.as_str(), chat],
        |row| row.get(0),
    )?;
    Ok(muted.is_some_and(|muted| muted != 0))
}

/// The chat's name unless it is muted: what a new message's notification is titled with, and
/// a muted chat's messages raise none.
pub fn name_unless_muted(
    conn: &Conn,
    device: &DeviceId,
    chat: &str,
) -> StoreResult<Option<String>> {
    conn.query_opt(
        "SELECT name FROM chats WHERE device_id = ?1 AND id = ?2 AND muted = 0",
        params![device.as_str(), chat],
        |row| row.get(0),
    )
}

/// Whether the device has the chat.
pub fn exists(conn: &Conn, device: &DeviceId, chat: &str) -> StoreResult<bool> {
    conn.exists(
        "SELECT id FROM chats WHERE device_id = ?1 AND id = ?2",
        params![device.as_str(), chat],
    )
}

/// Where a page of chats starts: after the chat a previous page ended with, named by its
/// `updatedAt|id` (the `nextCursor` that page gave).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatCursor {
    updated_at: String,
    id: String,
}

impl ChatCursor {
    /// Reads a cursor this store gave; anything else is `None`, so a client's mistake is
    /// refused instead of starting over at the first page (which would loop a client that
    /// follows `nextCursor` forever).
    pub fn parse(text: &str) -> Option<ChatCursor> {
        let (time, id) = text.split_once('|')?;
        chrono::DateTime::parse_from_rfc3339(time).ok()?;
        (!id.is_empty()).then(|| ChatCursor {
            updated_at: time.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// Chats by last activity, newest first, after `cursor` if given.
pub fn list_chats(
    conn: &Conn,
    device: &DeviceId,
    cursor: Option<&ChatCursor>,
    limit: u32,
    max_bytes: usize,
) -> StoreResult<Page<Chat>> {
    let after_time = cursor.map(|c| c.updated_at.as_str());
    let after_id = cursor.map_or("", |c| c.id.as_str());
    let sql = chat_query(
        "c.device_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR c.updated_at < ?2 OR (c.updated_at = ?2 AND c.id < ?3))
         ORDER BY c.updated_at DESC, c.id DESC LIMIT ?4",
    );
    let mut budget = ReplyBudget::new(max_bytes);
    page(
        conn,
        (
            &sql,
            params![device.as_str(), after_time, after_id, i64::from(limit) + 1],
        ),
        chat_from_row,
        limit,
        |chat| budget.take(chat),
        |chat| format!("{}|{}", chat.updated_at, chat.id),
    )
}

/// Who is in a chat besides us, as far as the store knows (`None` when there is no such
/// chat): a direct chat's contact, whose id is the chat's; a group's members who wrote in it,
/// since the store keeps no group membership. In the simulator's group, which every contact
/// is in, those are the contacts who answer; one who never writes has no presence to show.
pub fn participants(
    conn: &Conn,
    device: &DeviceId,
    chat: &str,
) -> StoreResult<Option<Vec<String>>> {
    let kind: Option<String> = conn.query_opt(
        "SELECT kind FROM chats WHERE device_id = ?1 AND id = ?2",
        params![device.as_str(), chat],
        |row| row.get(0),
    )?;
    Ok(match kind.as_deref() {
        None => None,
        Some("group") => Some(messages::senders(conn, device, chat)?),
        Some(_) => Some(vec![chat.to_owned()]),
    })
}

impl Tx<'_> {
    /// Records that a chat changed. Its `chat:update` is journaled when the batch ends, once,
    /// with the chat as the batch left it, read then: a batch's events reach clients
    /// together, so the states in between were never theirs to see, and under load a batch
    /// carries dozens of messages to the same few chats, whose `chat:update`s (the largest
    /// event, with the last message in it) were a quarter of the journal's bytes. A chat gone
    /// by the batch's end (merged into another) gets none.
    pub fn chat_changed(&mut self, device: &DeviceId, chat_id: &str) {
        let known = self
            .changed_chats
            .iter()
            .any(|(of, changed)| of == device && changed == chat_id);
        if !known {
            self.changed_chats
                .push((device.clone(), chat_id.to_owned()));
        }
    }

    /// Records that the chat of `message_id` changed if that message is the chat's last (its
    /// `chat:update` shows the message as the chat list does).
    pub fn last_message_changed(
        &mut self,
        device: &DeviceId,
        chat_id: &str,
        message_id: &str,
    ) -> StoreResult<()> {
        let last: Option<Option<String>> = self.conn().query_opt(
            "SELECT last_message_id FROM chats WHERE device_id = ?1 AND id = ?2",
            params![device.as_str(), chat_id],
            |row| row.get(0),
        )?;
        if last.flatten().is_some_and(|last| last == message_id) {
            self.chat_changed(device, chat_id);
        }
        Ok(())
    }

    /// Journals a `chat:update` for each chat that changed in this batch, as it now is.
    pub(super) fn journal_changed_chats(&mut self) -> StoreResult<()> {
        for (device, chat_id) in std::mem::take(&mut self.changed_chats) {
            if let Some(chat) = get_chat(self.conn(), &device, &chat_id)? {
                self.journal(&device, EventData::ChatUpdate(chat))?;
            }
        }
        Ok(())
    }

    /// Adds a chat the upstream told us about, or renames it. Returns it if it changed.
    pub fn upsert_chat(
        &mut self,
        device: &DeviceId,
        id: &str,
        name: &str,
        kind: &str,
        now: &str,
    ) -> StoreResult<Option<Chat>> {
        let changed = self.execute(
            "INSERT INTO chats (device_id, id, name, kind, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (device_id, id) DO UPDATE SET name = excluded.name, kind = excluded.kind
             WHERE chats.name <> excluded.name OR chats.kind <> excluded.kind",
            params![device.as_str(), id, name, kind, now],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        get_chat(self.conn(), device, id)
    }

    /// Records a new last message of a chat: activity moves it to the top of the list, and an
    /// incoming message adds one unread and brings an archived chat back, as WhatsApp does.
    /// Its `chat:update` follows at the batch's end ([`Tx::chat_changed`]). A send touches its
    /// chat, so the chat is not read back here: once per batch is enough. Every message is
    /// stored in a chat that exists, so nothing here waits for the update's answer: it is sent
    /// ahead ([`Tx::write`]).
    pub fn touch_chat(
        &mut self,
        device: &DeviceId,
        message: &Message,
        at: &str,
        unread: bool,
    ) -> StoreResult<()> {
        self.write(
            "UPDATE chats SET last_message_id = ?3,
                updated_at = CASE WHEN updated_at > ?4 THEN updated_at ELSE ?4 END,
                unread_count = unread_count + ?5,
                archived = CASE WHEN ?5 = 0 THEN archived ELSE 0 END
             WHERE device_id = ?1 AND id = ?2",
            params![
                device.as_str(),
                message.chat_id,
                message.id,
                at,
                i64::from(unread)
            ],
        )?;
        self.chat_changed(device, &message.chat_id);
        Ok(())
    }

    /// Archives or unarchives, mutes or unmutes a chat (`None` leaves a flag as it is).
    /// Returns the chat if it changed.
    pub fn set_chat_flags(
        &mut self,
        device: &DeviceId,
        chat: &str,
        flags: &ChatFlags,
    ) -> StoreResult<Option<Chat>> {
        let flag = |value: Option<bool>| value.map(i64::from);
        let changed = self.execute(
            "UPDATE chats SET archived = COALESCE(?3, archived), muted = COALESCE(?4, muted),
                pinned = COALESCE(?5, pinned), marked_unread = COALESCE(?6, marked_unread)
             WHERE device_id = ?1 AND id = ?2
                AND (archived <> COALESCE(?3, archived) OR muted <> COALESCE(?4, muted)
                    OR pinned <> COALESCE(?5, pinned)
                    OR marked_unread <> COALESCE(?6, marked_unread))",
            params![
                device.as_str(),
                chat,
                flag(flags.archived),
                flag(flags.muted),
                flag(flags.pinned),
                flag(flags.unread)
            ],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        get_chat(self.conn(), device, chat)
    }

    /// Recounts a chat's unread messages after some were read; reading a chat marked unread
    /// by hand clears the mark.
    pub fn recount_unread(&mut self, device: &DeviceId, chat: &str) -> StoreResult<Option<Chat>> {
        let device_number = self.device_number(device)?;
        self.execute(
            "UPDATE chats SET unread_count = (
                SELECT COUNT(*) FROM messages m
                WHERE m.device = ?3 AND m.chat_id = ?2 AND m.from_me = 0 AND m.seen = 0),
                marked_unread = 0
             WHERE device_id = ?1 AND id = ?2",
            params![device.as_str(), chat, device_number],
        )?;
        get_chat(self.conn(), device, chat)
    }
}
