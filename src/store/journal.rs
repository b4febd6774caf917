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
        let head = match self.heads.get(device) {
            Some(head) => *head,
            None => self.open_journal(device)?,
        };
        let seq = head.last + 1;
        let event = JournaledEvent::new(device.clone(), seq, &data)?;
        self.execute(
            "INSERT INTO events (key, name, data, at) VALUES (?1, ?2, ?3, ?4)",
            params![head.key(seq), event.name, event.payload.get(), event.at],
        )?;
        self.enqueue_deliveries(&event)?;
        match self.heads.get_mut(device) {
            Some(head) => head.last = seq,
            None => {
                self.heads
                    .insert(device.clone(), Head { last: seq, ..head });
            }
        }
        self.events.push(event);
        Ok(seq)
    }

    /// Where the device's journal stands, numbering the device first if it has none yet.
    fn open_journal(&mut self, device: &DeviceId) -> StoreResult<Head> {
        if let Some(head) = position(self.conn(), device)? {
            return Ok(head);
        }
        let num = self.query_row(
            "INSERT INTO device_seq (device_id, last_seq, num)
             VALUES (?1, 0, (SELECT IFNULL(MAX(num), 0) + 1 FROM device_seq))
             RETURNING num",
            [device.as_str()],
            |row| row.get(0),
        )?;
        Ok(Head { num, last: 0 })
    }

    /// Deletes the device's events. Its head stays, so a device created again under the same
    /// id goes on from the seq it had reached.
    pub fn delete_journal(&mut self, device: &DeviceId) -> StoreResult<()> {
        if let Some(head) = position(self.conn(), device)? {
            self.execute(
                "DELETE FROM events WHERE key > ?1 AND key < ?2",
                params![head.key(0), head.end()],
            )?;
        }
        Ok(())
    }

    /// Stores the head seq of every device this batch journaled to.
    pub(super) fn store_heads(&mut self) -> StoreResult<()> {
        for (device, head) in std::mem::take(&mut self.heads) {
            self.execute(
                "UPDATE device_seq SET last_seq = ?2 WHERE device_id = ?1",
                params![device.as_str(), head.last],
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
        // 40 is `SEQ_BITS`: the subquery finds each event's device by its key's upper bits.
        let removed = self.execute(
            "DELETE FROM events WHERE at < ?1 OR key <= (
                SELECT (num << 40) + last_seq - ?2 FROM device_seq WHERE num = events.key >> 40)",
            params![rfc3339(older_than), keep_events],
        )?;
        Ok(removed)
    }
}

/// Bits of a journal key that hold the seq; the device's number is above them.
const SEQ_BITS: u32 = 40;

/// Where a device's journal stands: its number, which places its events in the table
/// (`key = (num << 40) + seq`), and its last seq.
#[derive(Debug, Clone, Copy)]
pub(super) struct Head {
    num: i64,
    last: u64,
}

impl Head {
    /// The key of the device's event `seq`; seqs past the key's 40 bits are clamped to the
    /// device's range.
    fn key(self, seq: u64) -> i64 {
        (self.num << SEQ_BITS) + seq.min(MAX_SEQ) as i64
    }

    /// Keys below this one belong to the device or to those numbered before it.
    fn end(self) -> i64 {
        (self.num + 1) << SEQ_BITS
    }

    /// The seq a key of the device's holds.
    fn seq(self, key: i64) -> u64 {
        (key - (self.num << SEQ_BITS)) as u64
    }
}

/// The highest seq a journal key holds: a trillion events per device.
const MAX_SEQ: u64 = (1 << SEQ_BITS) - 1;

/// Where the device's journal stands, if it was ever journaled to.
fn position(conn: &Connection, device: &DeviceId) -> StoreResult<Option<Head>> {
    Ok(conn
        .prepare_cached("SELECT num, last_seq FROM device_seq WHERE device_id = ?1")?
        .query_row([device.as_str()], |row| {
            Ok(Head {
                num: row.get(0)?,
                last: row.get(1)?,
            })
        })
        .optional()?)
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
    Ok(position(conn, device)?.map_or(0, |head| head.last))
}

/// Events with `seq > after`, oldest first, at most `limit`.
pub fn read_after(
    conn: &Connection,
    device: &DeviceId,
    after: u64,
    limit: u64,
) -> StoreResult<JournalRead> {
    let Some(position) = position(conn, device)? else {
        return Ok(JournalRead {
            events: Vec::new(),
            head: 0,
            complete: true,
        });
    };
    let oldest: Option<i64> = conn
        .prepare_cached("SELECT MIN(key) FROM events WHERE key > ?1 AND key < ?2")?
        .query_row(params![position.key(0), position.end()], |row| row.get(0))?;
    // Complete if nothing after `after` is missing: either the next seq is still stored, or
    // there is nothing newer at all.
    let complete =
        after >= position.last || oldest.is_some_and(|oldest| oldest <= position.key(after + 1));
    let mut stmt = conn.prepare_cached(
        "SELECT key, name, data, at FROM events WHERE key > ?1 AND key < ?2 ORDER BY key LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![position.key(after), position.end(), limit], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (key, name, data, at) = row?;
        events.push(stored(device, position.seq(key), name, data, at)?);
    }
    Ok(JournalRead {
        events,
        head: position.last,
        complete,
    })
}

/// The newest journaled event of the given name, if still retained.
pub fn latest_named(
    conn: &Connection,
    device: &DeviceId,
    name: &str,
) -> StoreResult<Option<JournaledEvent>> {
    let Some(position) = position(conn, device)? else {
        return Ok(None);
    };
    let found = conn
        .prepare_cached(
            "SELECT key, data, at FROM events WHERE key > ?1 AND key < ?2 AND name = ?3
             ORDER BY key DESC LIMIT 1",
        )?
        .query_row(params![position.key(0), position.end(), name], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .optional()?;
    found
        .map(|(key, data, at)| stored(device, position.seq(key), name.to_owned(), data, at))
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
