//! The per-device event journal: gap-free `seq` allocation, reads for resume, pruning.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::value::RawValue;

use super::{StoreResult, Tx};
use crate::device::DeviceId;
use crate::event::{rfc3339, EventData, JournaledEvent};

impl Tx<'_> {
    /// Appends an event to the device's journal within this write, with its webhook
    /// deliveries, and returns its `seq`. It is published on the bus only if the write commits;
    /// a rolled-back write takes its `seq` back (the batch's heads are counted in memory and
    /// stored only with its commit), so seqs stay gap-free, and takes its deliveries with it.
    ///
    /// Seqs are counted in memory for the length of a batch and each device's head is stored
    /// once before it commits ([`Tx::store_heads`]): a batch journals many events of a device,
    /// and reading and updating the head row for each was a large part of the writer's work.
    pub fn journal(&mut self, device: &DeviceId, data: EventData) -> StoreResult<u64> {
        let last = self.heads.get(device).copied();
        let seq = match last {
            Some(last) => last + 1,
            None => head(self.conn(), device)? + 1,
        };
        let event = JournaledEvent::new(device.clone(), seq, &data)?;
        self.execute(
            "INSERT INTO events (device_id, seq, name, data, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                device.as_str(),
                seq,
                event.name,
                event.payload.get(),
                event.at
            ],
        )?;
        self.enqueue_deliveries(&event)?;
        match self.heads.get_mut(device) {
            Some(head) => *head = seq,
            None => {
                self.heads.insert(device.clone(), seq);
            }
        }
        self.events.push(event);
        Ok(seq)
    }

    /// Stores the head seq of every device this batch journaled to.
    pub(super) fn store_heads(&mut self) -> StoreResult<()> {
        for (device, last) in std::mem::take(&mut self.heads) {
            self.execute(
                "INSERT INTO device_seq (device_id, last_seq) VALUES (?1, ?2)
                 ON CONFLICT (device_id) DO UPDATE SET last_seq = excluded.last_seq",
                params![device.as_str(), last],
            )?;
        }
        Ok(())
    }

    /// Drops journal entries beyond the retention limits; returns how many were removed.
    pub fn prune_journal(
        &mut self,
        keep_events: u64,
        older_than: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let removed = self.execute(
            "DELETE FROM events WHERE at < ?1 OR seq <= (
                SELECT last_seq - ?2 FROM device_seq WHERE device_seq.device_id = events.device_id)",
            params![rfc3339(older_than), keep_events],
        )?;
        Ok(removed)
    }
}

/// What the journal holds for one device after a given seq.
#[derive(Debug, Clone)]
pub struct JournalRead {
    pub events: Vec<JournaledEvent>,
    /// The newest seq allocated for the device (0 if none).
    pub head: u64,
    /// False if entries after `after` were already pruned, so the read is not complete.
    pub complete: bool,
}

/// The newest seq allocated for the device (0 if none).
pub fn head(conn: &Connection, device: &DeviceId) -> StoreResult<u64> {
    Ok(conn
        .query_row(
            "SELECT last_seq FROM device_seq WHERE device_id = ?1",
            [device.as_str()],
            |row| row.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

/// Events with `seq > after`, oldest first, at most `limit`.
pub fn read_after(
    conn: &Connection,
    device: &DeviceId,
    after: u64,
    limit: u64,
) -> StoreResult<JournalRead> {
    let head = head(conn, device)?;
    let oldest: Option<u64> = conn.query_row(
        "SELECT MIN(seq) FROM events WHERE device_id = ?1",
        [device.as_str()],
        |row| row.get(0),
    )?;
    // Complete if nothing after `after` is missing: either the next seq is still stored, or
    // there is nothing newer at all.
    let complete = after >= head || oldest.is_some_and(|oldest| oldest <= after + 1);
    let mut stmt = conn.prepare_cached(
        "SELECT seq, name, data, at FROM events WHERE device_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![device.as_str(), after, limit], |row| {
        Ok((
            row.get::<_, u64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (seq, name, data, at) = row?;
        events.push(stored(device, seq, name, data, at)?);
    }
    Ok(JournalRead {
        events,
        head,
        complete,
    })
}

/// The newest journaled event of the given name, if still retained.
pub fn latest_named(
    conn: &Connection,
    device: &DeviceId,
    name: &str,
) -> StoreResult<Option<JournaledEvent>> {
    let found = conn
        .query_row(
            "SELECT seq, data, at FROM events WHERE device_id = ?1 AND name = ?2 ORDER BY seq DESC LIMIT 1",
            params![device.as_str(), name],
            |row| {
                Ok((
                    row.get::<_, u64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            },
        )
        .optional()?;
    found
        .map(|(seq, data, at)| stored(device, seq, name.to_owned(), data, at))
        .transpose()
}

/// An event as read back from its row.
fn stored(
    device: &DeviceId,
    seq: u64,
    name: String,
    data: String,
    at: String,
) -> StoreResult<JournaledEvent> {
    Ok(JournaledEvent {
        device_id: device.clone(),
        seq,
        at,
        name,
        payload: RawValue::from_string(data)?,
    })
}
