//! Event sinks (SPEC §13) and their cursors in the journal.
//!
//! A sink keeps no outbox: the journal is its queue. What it stores is, per device, the last
//! seq its server confirmed (`sink_cursors`); its worker reads the journal on from there, so a
//! sink that was down, or a daemon that was killed, catches up from the store. A sink made
//! while devices already have events starts at their heads (it is sent what happens from then
//! on, as a webhook is); a device journaling its first event afterwards starts at 0.

use super::sql::{params, Conn, Row};
use super::webhooks::{list_column, time_column};
use super::{StoreResult, Tx};
use crate::model::event::{EventPattern, JournaledEvent};
use crate::model::sink::SinkKind;
use crate::model::{rfc3339, DeviceId};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The prefix of the id of a sink declared in the configuration, `cfg_<name>`.
pub const CONFIGURED: &str = "cfg_";

/// A sink's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    pub id: String,
    pub kind: SinkKind,
    /// The server's URL; it may carry credentials, and is shown redacted.
    pub url: String,
    /// The JetStream stream, Redis key or RabbitMQ exchange it publishes to.
    pub target: String,
    /// Event names, or `*` for all.
    pub events: Vec<EventPattern>,
    /// Device ids, or `*` for all.
    pub devices: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SinkRecord {
    /// Whether the sink publishes `event` (enabled or not).
    pub fn selects(&self, event: &JournaledEvent) -> bool {
        event.selected_by(&self.events, &self.devices)
    }

    /// Whether the sink follows `device`'s journal.
    pub fn follows(&self, device: &str) -> bool {
        self.devices
            .iter()
            .any(|item| item == "*" || item == device)
    }

    /// Declared in the configuration, which owns its definition.
    pub fn configured(&self) -> bool {
        self.id.starts_with(CONFIGURED)
    }
}

const COLUMNS: &str = "id, kind, url, target, events, devices, enabled, created_at, updated_at";

fn sink_row(row: &Row<'_>) -> StoreResult<SinkRecord> {
    let kind: String = row.get(1)?;
    Ok(SinkRecord {
        id: row.get(0)?,
        kind: SinkKind::parse(&kind)
            .ok_or_else(|| super::StoreError::Unreadable(format!("a sink of kind {kind:?}")))?,
        url: row.get(2)?,
        target: row.get(3)?,
        events: list_column(row, 4)?
            .into_iter()
            .map(EventPattern::stored)
            .collect(),
        devices: list_column(row, 5)?,
        enabled: row.get::<i64>(6)? != 0,
        created_at: time_column(row, 7)?,
        updated_at: time_column(row, 8)?,
    })
}

pub fn list(conn: &Conn) -> StoreResult<Vec<SinkRecord>> {
    conn.query_all(
        &format!("SELECT {COLUMNS} FROM sinks ORDER BY id"),
        params![],
        sink_row,
    )
}

pub fn get(conn: &Conn, id: &str) -> StoreResult<Option<SinkRecord>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM sinks WHERE id = ?1"),
        params![id],
        sink_row,
    )
}

/// A device whose journal a sink has not all confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Behind {
    pub device: DeviceId,
    /// The last seq the sink's server confirmed (or that the sink passed over).
    pub cursor: u64,
    /// The device's newest seq.
    pub head: u64,
}

/// The devices `sink` follows whose journal goes past its cursor. Devices that were deleted
/// are left out: their events went with them.
pub fn behind(conn: &Conn, sink: &SinkRecord) -> StoreResult<Vec<Behind>> {
    let rows = conn.query_all(
        "SELECT d.device_id, d.last_seq, COALESCE(c.seq, 0) FROM device_seq d
         JOIN devices v ON v.id = d.device_id
         LEFT JOIN sink_cursors c ON c.sink_id = ?1 AND c.device_id = d.device_id
         WHERE d.last_seq > COALESCE(c.seq, 0)
         ORDER BY d.device_id",
        params![sink.id],
        |row| {
            let device: String = row.get(0)?;
            Ok((device, row.get::<i64>(1)?, row.get::<i64>(2)?))
        },
    )?;
    Ok(rows
        .into_iter()
        .filter(|(device, _, _)| sink.follows(device))
        .filter_map(|(device, head, cursor)| {
            Some(Behind {
                device: DeviceId::parse(&device).ok()?,
                cursor: cursor as u64,
                head: head as u64,
            })
        })
        .collect())
}

/// How many journaled events `sink` has not had confirmed yet, over the devices it follows
/// (events it does not select count until it passes over them).
pub fn lag(conn: &Conn, sink: &SinkRecord) -> StoreResult<u64> {
    Ok(behind(conn, sink)?
        .iter()
        .map(|device| device.head - device.cursor)
        .sum())
}

/// What the enabled sinks have not had confirmed, which the journal's pruning keeps: a sink
/// that is down keeps its backlog for as long as it is enabled, whatever the retention
/// settings (disabling or deleting it lets the journal go).
pub(super) struct Holds {
    sinks: Vec<SinkRecord>,
    /// (sink, device) → the last seq confirmed.
    cursors: HashMap<(String, String), u64>,
}

impl Holds {
    pub(super) fn read(conn: &Conn) -> StoreResult<Holds> {
        let sinks: Vec<SinkRecord> = list(conn)?.into_iter().filter(|s| s.enabled).collect();
        let rows = match sinks.is_empty() {
            true => Vec::new(),
            false => conn.query_all(
                "SELECT sink_id, device_id, seq FROM sink_cursors",
                params![],
                |row| Ok(((row.get(0)?, row.get(1)?), row.get::<i64>(2)? as u64)),
            )?,
        };
        Ok(Holds {
            sinks,
            cursors: rows.into_iter().collect(),
        })
    }

    /// The lowest cursor in `device`'s journal of the enabled sinks that follow it (0 for one
    /// that has none there yet): its events after this seq are kept.
    pub(super) fn kept_after(&self, device: &str) -> Option<u64> {
        self.sinks
            .iter()
            .filter(|sink| sink.follows(device))
            .map(|sink| {
                let key = (sink.id.clone(), device.to_owned());
                self.cursors.get(&key).copied().unwrap_or(0)
            })
            .min()
    }
}

impl Tx<'_> {
    /// Inserts a sink, or replaces its definition if it exists (keeping `enabled` and its
    /// cursors). A new sink starts at every device's head.
    pub fn upsert_sink(&mut self, sink: &SinkRecord) -> StoreResult<()> {
        let new = get(self.conn(), &sink.id)?.is_none();
        self.execute(
            "INSERT INTO sinks (id, kind, url, target, events, devices, enabled, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, url = excluded.url,
                target = excluded.target, events = excluded.events, devices = excluded.devices,
                updated_at = excluded.updated_at",
            params![
                sink.id,
                sink.kind.as_str(),
                sink.url,
                sink.target,
                serde_json::to_string(&sink.events)?,
                serde_json::to_string(&sink.devices)?,
                i64::from(sink.enabled),
                rfc3339(sink.created_at),
                rfc3339(sink.updated_at),
            ],
        )?;
        if new {
            self.execute(
                "INSERT INTO sink_cursors (sink_id, device_id, seq)
                 SELECT ?1, device_id, last_seq FROM device_seq",
                params![sink.id],
            )?;
        }
        Ok(())
    }

    /// Enables or disables a sink; false if there is none. A disabled sink keeps its cursors:
    /// enabled again, it goes on from where it stopped.
    pub fn set_sink_enabled(&mut self, id: &str, enabled: bool) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE sinks SET enabled = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, i64::from(enabled), rfc3339(Utc::now())],
        )?;
        Ok(changed > 0)
    }

    /// Deletes a sink and its cursors; false if there was none.
    pub fn delete_sink(&mut self, id: &str) -> StoreResult<bool> {
        self.execute("DELETE FROM sink_cursors WHERE sink_id = ?1", params![id])?;
        Ok(self.execute("DELETE FROM sinks WHERE id = ?1", params![id])? > 0)
    }

    /// Records that the sink's server confirmed `device`'s events up to `seq`. A cursor never
    /// goes back: in a cluster, two nodes' workers may confirm the same events.
    pub fn advance_sink(&mut self, id: &str, device: &DeviceId, seq: u64) -> StoreResult<()> {
        self.execute(
            "INSERT INTO sink_cursors (sink_id, device_id, seq) VALUES (?1, ?2, ?3)
             ON CONFLICT (sink_id, device_id) DO UPDATE
             SET seq = CASE WHEN excluded.seq > sink_cursors.seq
                 THEN excluded.seq ELSE sink_cursors.seq END",
            params![id, device.as_str(), seq as i64],
        )?;
        Ok(())
    }
}
