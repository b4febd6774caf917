//! Message rows, the relay queue they carry, notifications, and the simulated phones' inboxes.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::chats::page;
use super::{StoreResult, Tx};
use crate::model::{Ack, DeviceId, Media, Message, Page, RelayStatus, ReplyBudget, Template};

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
        temp_id: row.get(at + 12)?,
        revoked: row.get(at + 13)?,
        template: row
            .get::<_, Option<String>>(at + 14)?
            .and_then(|t| serde_json::from_str(&t).ok()),
    })
}

fn message_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    message_at(row, 0)
}

/// A column a single message is looked up by.
#[derive(Clone, Copy)]
enum Key {
    Id,
    UpstreamId,
    TempId,
}

fn find_one(
    conn: &Connection,
    device: &DeviceId,
    key: Key,
    value: &str,
) -> StoreResult<Option<Message>> {
    static QUERIES: LazyLock<[String; 3]> = LazyLock::new(|| {
        ["id", "upstream_id", "temp_id"].map(|column| {
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE device_id = ?1 AND {column} = ?2")
        })
    });
    Ok(conn
        .prepare_cached(&QUERIES[key as usize])?
        .query_row(params![device.as_str(), value], message_row)
        .optional()?)
}

pub fn get_message(conn: &Connection, device: &DeviceId, id: &str) -> StoreResult<Option<Message>> {
    find_one(conn, device, Key::Id, id)
}

pub fn by_upstream_id(
    conn: &Connection,
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
    conn: &Connection,
    device: &DeviceId,
    chat_id: &str,
    message_id: &str,
) -> StoreResult<Option<Message>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE device_id = ?1 AND chat_id = ?2
                AND instr(upstream_id || '_', '_' || ?3 || '_') > 0
             ORDER BY id DESC LIMIT 1"
        ))?
        .query_row(params![device.as_str(), chat_id, message_id], message_row)
        .optional()?)
}

pub fn by_temp_id(
    conn: &Connection,
    device: &DeviceId,
    temp_id: &str,
) -> StoreResult<Option<Message>> {
    find_one(conn, device, Key::TempId, temp_id)
}

/// What an ack needs of a message: which one it is, its chat, and how far it got. Acks are the
/// most frequent upstream report, and reading whole messages for them was a visible part of
/// the writer's work.
#[derive(Debug, Clone, PartialEq)]
pub struct AckSubject {
    pub id: String,
    pub upstream_id: Option<String>,
    pub chat_id: String,
    pub ack: Ack,
    /// When the daemon accepted the message for sending, to time its acks; `None` for a
    /// message it did not send (or one it does not need to time).
    pub accepted_at: Option<DateTime<Utc>>,
}

impl AckSubject {
    pub fn of(message: &Message) -> Self {
        AckSubject {
            id: message.id.clone(),
            upstream_id: message.upstream_id.clone(),
            chat_id: message.chat_id.clone(),
            ack: Ack::from_level(message.ack).unwrap_or(Ack::Pending),
            accepted_at: None,
        }
    }
}

/// The message an upstream acknowledges by its id.
pub fn ack_subject(
    conn: &Connection,
    device: &DeviceId,
    upstream_id: &str,
) -> StoreResult<Option<AckSubject>> {
    // The time a message we sent was accepted, read as a number: parsing it here costs no
    // allocation on the writer's most frequent path.
    Ok(conn
        .prepare_cached(
            "SELECT id, chat_id, ack,
                CASE WHEN relay_status IS NOT NULL THEN unixepoch(created_at, 'subsec') END
             FROM messages WHERE device_id = ?1 AND upstream_id = ?2",
        )?
        .query_row(params![device.as_str(), upstream_id], |row| {
            Ok(AckSubject {
                id: row.get(0)?,
                upstream_id: Some(upstream_id.to_owned()),
                chat_id: row.get(1)?,
                ack: Ack::from_level(row.get(2)?).unwrap_or(Ack::Pending),
                accepted_at: row
                    .get::<_, Option<f64>>(3)?
                    .and_then(|seconds| DateTime::from_timestamp_micros((seconds * 1e6) as i64)),
            })
        })
        .optional()?)
}

/// The message sent with this `Idempotency-Key`, if it was sent after `since`.
pub fn by_idempotency_key(
    conn: &Connection,
    device: &DeviceId,
    key: &str,
    since: &str,
) -> StoreResult<Option<Message>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE device_id = ?1 AND idempotency_key = ?2 AND created_at >= ?3"
        ))?
        .query_row(params![device.as_str(), key, since], message_row)
        .optional()?)
}

/// Whether `message` is one of the chat's messages.
pub fn in_chat(
    conn: &Connection,
    device: &DeviceId,
    chat: &str,
    message: &str,
) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM messages WHERE device_id = ?1 AND chat_id = ?2 AND id = ?3")?
        .exists(params![device.as_str(), chat, message])?)
}

/// A chat's messages, newest first; `before` is the id of the last message already seen.
pub fn list_messages(
    conn: &Connection,
    device: &DeviceId,
    chat: &str,
    before: Option<&str>,
    limit: u32,
    max_bytes: usize,
) -> StoreResult<Page<Message>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE device_id = ?1 AND chat_id = ?2 AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![device.as_str(), chat, before, limit + 1],
        message_row,
    )?;
    let mut budget = ReplyBudget::new(max_bytes);
    page(
        rows,
        limit,
        |message| budget.take(message),
        |message| message.id.clone(),
    )
}

/// How many messages wait in the relay queues of the devices of each connector (only the
/// connectors that have some), for the metrics. It reads the queue's own index.
pub fn relay_depth(conn: &Connection) -> StoreResult<Vec<(String, u64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.connector, COUNT(*) FROM messages m JOIN devices d ON d.id = m.device_id
         WHERE m.relay_status IN ('queued', 'retrying') GROUP BY d.connector",
    )?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A message waiting in the relay queue.
#[derive(Debug, Clone)]
pub struct Queued {
    pub message: Message,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this time, after a failed attempt.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The upstream id of the message it replies to, if that one is known upstream.
    pub reply_to_upstream: Option<String>,
}

/// How many messages each device has stored.
pub fn counts(conn: &Connection) -> StoreResult<HashMap<String, u64>> {
    let mut stmt =
        conn.prepare_cached("SELECT device_id, COUNT(*) FROM messages GROUP BY device_id")?;
    let counts = stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(counts)
}

/// The relay queue of a device in acceptance order: messages never tried (or in flight when
/// the daemon stopped), and messages waiting to retry.
pub fn relay_queue(conn: &Connection, device: &DeviceId, limit: u32) -> StoreResult<Vec<Queued>> {
    let columns = MESSAGE_COLUMNS
        .split(", ")
        .map(|column| format!("m.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {columns}, m.attempts, m.next_attempt_at, q.upstream_id
         FROM messages m LEFT JOIN messages q ON q.id = m.reply_to AND q.device_id = m.device_id
         WHERE m.device_id = ?1 AND m.relay_status IN ('queued', 'retrying')
         ORDER BY m.id LIMIT ?2"
    ))?;
    let queued = stmt
        .query_map(params![device.as_str(), limit], |row| {
            Ok(Queued {
                message: message_row(row)?,
                attempts: row.get(MESSAGE_COLUMN_COUNT)?,
                next_attempt_at: row
                    .get::<_, Option<String>>(MESSAGE_COLUMN_COUNT + 1)?
                    .map(|at| super::parse_time(&at)),
                reply_to_upstream: row.get(MESSAGE_COLUMN_COUNT + 2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(queued)
}

/// Sent messages still without a server ack, sent before `sent_before`, with their attempts.
pub fn overdue_acks(
    conn: &Connection,
    device: &DeviceId,
    sent_before: &str,
) -> StoreResult<Vec<(Message, u32)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS}, attempts FROM messages
         WHERE device_id = ?1 AND relay_status = 'sent' AND ack = 0 AND sent_at < ?2
         ORDER BY id"
    ))?;
    let overdue = stmt
        .query_map(params![device.as_str(), sent_before], |row| {
            Ok((message_row(row)?, row.get(MESSAGE_COLUMN_COUNT)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(overdue)
}

/// Attempts made to send a message so far.
pub fn relay_attempts(conn: &Connection, device: &DeviceId, id: &str) -> StoreResult<u32> {
    Ok(conn
        .prepare_cached("SELECT attempts FROM messages WHERE device_id = ?1 AND id = ?2")?
        .query_row(params![device.as_str(), id], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Whether a chat has any message stored.
pub fn chat_has_messages(conn: &Connection, device: &DeviceId, chat: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM messages WHERE device_id = ?1 AND chat_id = ?2 LIMIT 1")?
        .query_row(params![device.as_str(), chat], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The upstream id of the newest message the other side sent in a chat.
pub fn latest_incoming(
    conn: &Connection,
    device: &DeviceId,
    chat: &str,
) -> StoreResult<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT upstream_id FROM messages
             WHERE device_id = ?1 AND chat_id = ?2 AND from_me = 0 AND upstream_id IS NOT NULL
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![device.as_str(), chat], |row| row.get(0))
        .optional()?)
}

/// When the oldest message still waiting for its server ack was sent.
pub fn oldest_unacked(conn: &Connection, device: &DeviceId) -> StoreResult<Option<DateTime<Utc>>> {
    let oldest: Option<String> = conn.query_row(
        "SELECT MIN(sent_at) FROM messages
         WHERE device_id = ?1 AND relay_status = 'sent' AND ack = 0",
        [device.as_str()],
        |row| row.get(0),
    )?;
    Ok(oldest.map(|at| super::parse_time(&at)))
}

/// One message as the simulated phone received it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxEntry {
    pub message_id: String,
    pub upstream_id: String,
    pub chat_id: String,
    pub body: String,
    #[schema(format = DateTime)]
    pub received_at: String,
}

/// Everything a simulated phone received, in the order it arrived.
pub fn simulator_inbox(conn: &Connection, device: &DeviceId) -> StoreResult<Vec<InboxEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT message_id, upstream_id, chat_id, body, received_at FROM simulator_inbox
         WHERE device_id = ?1 ORDER BY rowid",
    )?;
    let entries = stmt
        .query_map([device.as_str()], |row| {
            Ok(InboxEntry {
                message_id: row.get(0)?,
                upstream_id: row.get(1)?,
                chat_id: row.get(2)?,
                body: row.get(3)?,
                received_at: row.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(entries)
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub id: &'a str,
    pub chat_id: &'a str,
    pub upstream_id: Option<&'a str>,
    pub from: &'a str,
    pub from_me: bool,
    pub kind: &'a str,
    pub body: &'a str,
    pub media: Option<&'a Media>,
    pub template: Option<&'a Template>,
    pub reply_to: Option<&'a str>,
    pub timestamp: &'a str,
    pub temp_id: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    /// `Queued` for messages we send; `None` for messages we receive.
    pub relay: Option<RelayStatus>,
    /// Already read: our own messages, and history imported from the upstream.
    pub seen: bool,
    pub now: &'a str,
}

/// How a relay attempt changes a queued message.
#[derive(Debug, Clone, Default)]
pub struct RelayUpdate<'a> {
    pub attempts: u32,
    pub next_attempt_at: Option<&'a str>,
    pub sent_at: Option<&'a str>,
    pub upstream_id: Option<&'a str>,
    /// The ack level the message reaches with this update, if it changes.
    pub ack: Option<i64>,
}

impl Tx<'_> {
    /// Forgets which message an `Idempotency-Key` named, so that the key names the next one.
    pub fn release_idempotency_key(&self, device: &DeviceId, key: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE messages SET idempotency_key = NULL WHERE device_id = ?1 AND idempotency_key = ?2",
            params![device.as_str(), key],
        )?;
        Ok(())
    }

    pub fn insert_message(
        &mut self,
        device: &DeviceId,
        new: &NewMessage<'_>,
    ) -> StoreResult<Message> {
        let media = new.media.map(serde_json::to_string).transpose()?;
        let template = new.template.map(serde_json::to_string).transpose()?;
        self.execute(
            "INSERT INTO messages (id, device_id, chat_id, upstream_id, from_id, from_me, type, body,
                media, reply_to, timestamp, ack, temp_id, idempotency_key, seen, relay_status, created_at,
                template)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, ?13, ?14, ?15, ?16, ?17)",
            params![
                new.id,
                device.as_str(),
                new.chat_id,
                new.upstream_id,
                new.from,
                new.from_me,
                new.kind,
                new.body,
                media,
                new.reply_to,
                new.timestamp,
                new.temp_id,
                new.idempotency_key,
                new.seen,
                new.relay.map(RelayStatus::as_str),
                new.now,
                template,
            ],
        )?;
        // Built from what was inserted rather than read back: sending is the hottest write.
        Ok(Message {
            id: new.id.to_owned(),
            upstream_id: new.upstream_id.map(str::to_owned),
            device_id: device.to_string(),
            chat_id: new.chat_id.to_owned(),
            from: new.from.to_owned(),
            from_me: new.from_me,
            kind: new.kind.to_owned(),
            body: new.body.to_owned(),
            media: new.media.cloned(),
            reply_to: new.reply_to.map(str::to_owned),
            timestamp: new.timestamp.to_owned(),
            ack: Ack::Pending.level(),
            ack_name: Ack::Pending.name(),
            temp_id: new.temp_id.map(str::to_owned),
            revoked: false,
            template: new.template.cloned(),
        })
    }

    /// Merges an ack into a message: updates `subject` and returns whether its ack changed.
    pub fn merge_ack(
        &mut self,
        device: &DeviceId,
        subject: &mut AckSubject,
        incoming: Ack,
    ) -> StoreResult<bool> {
        let Some(next) = subject.ack.merge(incoming) else {
            return Ok(false);
        };
        self.execute(
            "UPDATE messages SET ack = ?3 WHERE device_id = ?1 AND id = ?2",
            params![device.as_str(), subject.id, next.level()],
        )?;
        subject.ack = next;
        Ok(true)
    }

    pub fn set_relay_status(
        &mut self,
        device: &DeviceId,
        message_id: &str,
        status: RelayStatus,
        update: &RelayUpdate<'_>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE messages SET relay_status = ?3, attempts = ?4, next_attempt_at = ?5,
                sent_at = COALESCE(?6, sent_at), upstream_id = COALESCE(?7, upstream_id),
                ack = COALESCE(?8, ack)
             WHERE device_id = ?1 AND id = ?2",
            params![
                device.as_str(),
                message_id,
                status.as_str(),
                update.attempts,
                update.next_attempt_at,
                update.sent_at,
                update.upstream_id,
                update.ack,
            ],
        )?;
        Ok(())
    }

    /// Marks a chat's incoming messages as read, up to and including `up_to` (all if `None`).
    /// Returns the ids and upstream ids of those that were unread.
    pub fn mark_seen(
        &mut self,
        device: &DeviceId,
        chat: &str,
        up_to: Option<&str>,
    ) -> StoreResult<Vec<(String, Option<String>)>> {
        let mut stmt = self.conn().prepare_cached(
            "UPDATE messages SET seen = 1
             WHERE device_id = ?1 AND chat_id = ?2 AND from_me = 0 AND seen = 0
                AND (?3 IS NULL OR id <= ?3)
             RETURNING id, upstream_id",
        )?;
        let mut seen = stmt
            .query_map(params![device.as_str(), chat, up_to], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        seen.sort();
        Ok(seen)
    }

    /// Deletes a message's content for everyone; returns whether it was not already revoked.
    /// A chat whose last message it was changes with it (its `chat:update` shows the message
    /// revoked, as the chat list does).
    pub fn revoke_message(&mut self, device: &DeviceId, message_id: &str) -> StoreResult<bool> {
        let chat_id: Option<String> = self
            .conn()
            .prepare_cached(
                "UPDATE messages SET revoked = 1, body = '', media = NULL
                 WHERE device_id = ?1 AND id = ?2 AND revoked = 0 RETURNING chat_id",
            )?
            .query_row(params![device.as_str(), message_id], |row| row.get(0))
            .optional()?;
        let Some(chat_id) = chat_id else {
            return Ok(false);
        };
        let chat = super::chats::get_chat(self.conn(), device, &chat_id)?;
        if let Some(chat) = chat.filter(|chat| {
            chat.last_message
                .as_ref()
                .is_some_and(|last| last.id == message_id)
        }) {
            self.chat_changed(device, chat);
        }
        Ok(true)
    }

    pub fn insert_notification(
        &mut self,
        device: &DeviceId,
        id: &str,
        chat: Option<&str>,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO notifications (device_id, id, chat_id) VALUES (?1, ?2, ?3)",
            params![device.as_str(), id, chat],
        )?;
        Ok(())
    }

    /// Marks unread notifications read: the given ids, or those of one chat, or all of them.
    /// Returns the ids that were unread.
    pub fn read_notifications(
        &mut self,
        device: &DeviceId,
        which: NotificationSet<'_>,
    ) -> StoreResult<Vec<String>> {
        let (filter, value) = match which {
            NotificationSet::All => ("?2 IS NULL", None),
            NotificationSet::Chat(chat) => ("chat_id = ?2", Some(chat.to_owned())),
            NotificationSet::Ids(ids) => (
                "id IN (SELECT value FROM json_each(?2))",
                Some(serde_json::to_string(ids)?),
            ),
        };
        let mut stmt = self.conn().prepare_cached(&format!(
            "UPDATE notifications SET read = 1 WHERE device_id = ?1 AND read = 0 AND ({filter})
             RETURNING id"
        ))?;
        let mut ids = stmt
            .query_map(params![device.as_str(), value], |row| row.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        ids.sort();
        Ok(ids)
    }

    /// The simulated phone receives a message: once per message id, so a resend after a crash
    /// or an ack timeout is recognised. Returns its upstream id and whether it is new.
    pub fn simulator_receive(
        &mut self,
        device: &DeviceId,
        message: &Message,
        upstream_id: &str,
        now: &str,
    ) -> StoreResult<(String, bool)> {
        let new = self.execute(
            "INSERT INTO simulator_inbox (device_id, message_id, upstream_id, chat_id, body, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (device_id, message_id) DO NOTHING",
            params![device.as_str(), message.id, upstream_id, message.chat_id, message.body, now],
        )? > 0;
        if new {
            return Ok((upstream_id.to_owned(), true));
        }
        let received = self.query_row(
            "SELECT upstream_id FROM simulator_inbox WHERE device_id = ?1 AND message_id = ?2",
            params![device.as_str(), message.id],
            |row| row.get(0),
        )?;
        Ok((received, false))
    }
}

/// Which notifications a read applies to.
#[derive(Debug, Clone, Copy)]
pub enum NotificationSet<'a> {
    All,
    Chat(&'a str),
    Ids(&'a [String]),
}
