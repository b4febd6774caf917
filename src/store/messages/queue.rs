//! The relay queue: the messages we send, waiting for their upstream, retried, and watched until
//! the server acks them. It lives in the message rows (`relay_status`, `attempts`,
//! `next_attempt_at`, `sent_at`, and `awaiting_ack_since` from when it is sent until its
//! first ack), so a message and its place in the queue change together.

use super::{
    message_columns_of, message_row, stored_order, DEVICE_NUMBER, MESSAGE_COLUMNS,
    MESSAGE_COLUMN_COUNT,
};
use crate::model::{DeviceId, Message, RelayStatus};
use crate::store::sql::{params, Conn, Row};
use crate::store::{StoreResult, Tx};
use chrono::{DateTime, Utc};
use std::sync::LazyLock;

/// How many messages wait in the relay queues of the devices of each connector (only the
/// connectors that have some), for the metrics. It reads the queue's own index.
pub fn relay_depth(conn: &Conn) -> StoreResult<Vec<(String, u64)>> {
    conn.query_all(
        "SELECT d.connector, COUNT(*) FROM messages m
            JOIN device_seq n ON n.num = m.device JOIN devices d ON d.id = n.device_id
         WHERE m.relay_status IN ('queued', 'retrying') GROUP BY d.connector",
        params![],
        |row| Ok((row.get(0)?, row.get::<i64>(1)? as u64)),
    )
}

/// The attempts stored at `index`.
fn attempts_at(row: &Row<'_>, index: usize) -> StoreResult<u32> {
    Ok(row.get::<i64>(index)?.try_into().unwrap_or(u32::MAX))
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
    /// The message's SQLite `rowid` (`None` on PostgreSQL): its outcome is stored without the
    /// index of message ids, and its acks find it without the index of upstream ids (see
    /// [`super::SentRows`]).
    pub rowid: Option<i64>,
}

/// What the relay queue's queries select after a message's columns, for [`queued_row`]: its
/// attempts, when it may be tried next, the upstream id of the message it replies to
/// (`reply_to_upstream`, a column of the query), and its `rowid` on SQLite.
fn queued_columns(conn: &Conn, alias: &str, reply_to_upstream: &str) -> String {
    let rowid = match conn.is_postgres() {
        true => "CAST(NULL AS BIGINT)".to_owned(),
        false => format!("{alias}rowid"),
    };
    format!("{alias}attempts, {alias}next_attempt_at, {reply_to_upstream}, {rowid}")
}

/// The relay queue of a device in acceptance order: messages never tried (or in flight when
/// the daemon stopped), and messages waiting to retry.
pub fn relay_queue(conn: &Conn, device: &DeviceId, limit: u32) -> StoreResult<Vec<Queued>> {
    let columns = message_columns_of("m");
    let queued = queued_columns(conn, "m.", "q.upstream_id");
    let order = stored_order(conn);
    conn.query_all(
        &format!(
            "SELECT {columns}, {queued}
             FROM messages m LEFT JOIN messages q ON q.id = m.reply_to AND q.device = m.device
             WHERE m.device = {DEVICE_NUMBER} AND m.relay_status IN ('queued', 'retrying')
             ORDER BY m.{order} LIMIT ?2"
        ),
        params![device.as_str(), i64::from(limit)],
        queued_row,
    )
}

/// A [`Queued`] from a row of the message's columns, then [`queued_columns`].
fn queued_row(row: &Row<'_>) -> StoreResult<Queued> {
    Ok(Queued {
        message: message_row(row)?,
        attempts: attempts_at(row, MESSAGE_COLUMN_COUNT)?,
        next_attempt_at: row
            .get::<Option<i64>>(MESSAGE_COLUMN_COUNT + 1)?
            .and_then(DateTime::from_timestamp_millis),
        reply_to_upstream: row.get(MESSAGE_COLUMN_COUNT + 2)?,
        rowid: row.get(MESSAGE_COLUMN_COUNT + 3)?,
    })
}

/// Our oldest message of `chat_id` with this text (and a file or none) whose sending is in
/// doubt: tried at least once, no upstream id yet, back in the queue. The upstream's own
/// report of a message from us that matches it is that message, whose answer was lost.
pub fn in_doubt(
    conn: &Conn,
    device: &DeviceId,
    chat_id: &str,
    body: &str,
    with_media: bool,
) -> StoreResult<Option<Queued>> {
    let media = if with_media { "IS NOT NULL" } else { "IS NULL" };
    let queued = queued_columns(conn, "", "CAST(NULL AS TEXT)");
    let columns = &*MESSAGE_COLUMNS;
    let order = stored_order(conn);
    conn.query_opt(
        &format!(
            "SELECT {columns}, {queued} FROM messages
             WHERE device = {DEVICE_NUMBER} AND chat_id = ?2 AND relay_status IN ('queued', 'retrying')
               AND attempts > 0 AND upstream_id IS NULL AND from_me = 1 AND body = ?3
               AND media {media}
             ORDER BY {order} LIMIT 1"
        ),
        params![device.as_str(), chat_id, body],
        queued_row,
    )
}

/// Sent messages still without a server ack, sent before `sent_before`, with their attempts.
pub fn overdue_acks(
    conn: &Conn,
    device: &DeviceId,
    sent_before: DateTime<Utc>,
) -> StoreResult<Vec<(Message, u32)>> {
    let columns = &*MESSAGE_COLUMNS;
    conn.query_all(
        &format!(
            "SELECT {columns}, attempts FROM messages
             WHERE device = {DEVICE_NUMBER} AND awaiting_ack_since < ?2
             ORDER BY id"
        ),
        params![device.as_str(), sent_before.timestamp_millis()],
        |row| Ok((message_row(row)?, attempts_at(row, MESSAGE_COLUMN_COUNT)?)),
    )
}

/// Attempts made to send a message so far.
pub fn relay_attempts(conn: &Conn, device: &DeviceId, id: &str) -> StoreResult<u32> {
    Ok(conn
        .query_opt(
            &format!("SELECT attempts FROM messages WHERE device = {DEVICE_NUMBER} AND id = ?2"),
            params![device.as_str(), id],
            |row| attempts_at(row, 0),
        )?
        .unwrap_or(0))
}

/// The messages sent and still waiting for their server ack: when the oldest was sent, and
/// how many there are. The relay times out the oldest; the watchdog weighs both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unacked {
    pub oldest: Option<DateTime<Utc>>,
    pub count: u64,
}

pub fn unacked(conn: &Conn, device: &DeviceId) -> StoreResult<Unacked> {
    let (oldest, count): (Option<i64>, i64) = conn.query_one(
        &format!(
            "SELECT MIN(awaiting_ack_since), COUNT(*) FROM messages
             WHERE device = {DEVICE_NUMBER} AND awaiting_ack_since IS NOT NULL"
        ),
        params![device.as_str()],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(Unacked {
        oldest: oldest.and_then(DateTime::from_timestamp_millis),
        count: u64::try_from(count).unwrap_or(0),
    })
}

/// How a relay attempt changes a queued message.
#[derive(Debug, Clone, Default)]
pub struct RelayUpdate<'a> {
    pub attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub upstream_id: Option<&'a str>,
    /// The ack level the message reaches with this update, if it changes.
    pub ack: Option<i64>,
}

impl Tx<'_> {
    /// Stores `update` of message `message_id`, found by its `rowid` when that is known (on
    /// SQLite, read with the queue). A message sent under an upstream id at a known row is
    /// remembered there (see [`super::SentRows`]).
    pub fn set_relay_status(
        &mut self,
        device: &DeviceId,
        (message_id, rowid): (&str, Option<i64>),
        status: RelayStatus,
        update: &RelayUpdate<'_>,
    ) -> StoreResult<()> {
        // By whether the row is known.
        static STATEMENTS: LazyLock<[String; 2]> = LazyLock::new(|| {
            [
                "device = ?1 AND id = ?2",
                "rowid = ?9 AND device = ?1 AND id = ?2",
            ]
            .map(|found| {
                format!(
                    "UPDATE messages SET relay_status = ?3, attempts = ?4, next_attempt_at = ?5,
                        sent_at = COALESCE(?6, sent_at), upstream_id = COALESCE(?7, upstream_id),
                        ack = COALESCE(?8, ack),
                        awaiting_ack_since = CASE WHEN ?3 = 'sent' AND COALESCE(?8, ack) = 0
                            THEN COALESCE(?6, sent_at) END
                     WHERE {found}"
                )
            })
        });
        let device_number = self.device_number(device)?;
        let values = params![
            device_number,
            message_id,
            status.as_str(),
            i64::from(update.attempts),
            update.next_attempt_at.map(|at| at.timestamp_millis()),
            update.sent_at.map(|at| at.timestamp_millis()),
            update.upstream_id,
            update.ack,
            rowid,
        ];
        // A row read with the queue is the message's unless the file was rebuilt since (a
        // `VACUUM` renumbers rows): then the message is found by its id after all.
        if let Some(rowid) = rowid {
            if self.execute(&STATEMENTS[1], values)? == 1 {
                if let (Some(upstream_id), RelayStatus::Sent) = (update.upstream_id, status) {
                    self.sent_rows.remember(device, upstream_id, rowid);
                }
                return Ok(());
            }
        }
        // The statement by message id names no `?9`, and takes one value fewer.
        self.write(&STATEMENTS[0], &values[..8])
    }
}
