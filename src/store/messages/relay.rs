//! The relay queue: the messages we send, waiting for their upstream, retried, and watched until
//! the server acks them. It lives in the message rows (`relay_status`, `attempts`,
//! `next_attempt_at`, `sent_at`), so a message and its place in the queue change together.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::{message_row, MESSAGE_COLUMNS, MESSAGE_COLUMN_COUNT};
use crate::model::{DeviceId, Message, RelayStatus};
use crate::store::{parse_time, StoreResult, Tx};

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
                    .map(|at| parse_time(&at)),
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

/// When the oldest message still waiting for its server ack was sent.
pub fn oldest_unacked(conn: &Connection, device: &DeviceId) -> StoreResult<Option<DateTime<Utc>>> {
    let oldest: Option<String> = conn.query_row(
        "SELECT MIN(sent_at) FROM messages
         WHERE device_id = ?1 AND relay_status = 'sent' AND ack = 0",
        [device.as_str()],
        |row| row.get(0),
    )?;
    Ok(oldest.map(|at| parse_time(&at)))
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
}
