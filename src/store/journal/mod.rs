//! The per-device event journal: gap-free `seq` allocation, reads for resume, pruning.

pub(super) mod changes;
pub(super) mod kinds;
pub(super) mod naming;
pub(super) mod packer;
pub(super) mod packing;
mod pruning;
mod reading;

use chrono::{DateTime, Utc};
use std::sync::LazyLock;

use serde_json::{json, Value};

use super::sql::{params, Conn, Param};
use super::{StoreResult, Tx};
use crate::model::{
    event::{EventData, EventKind, JournaledEvent},
    rfc3339, Chat, DeviceId, StateName,
};
use packer::Given;
use reading::fields_of;
pub use reading::read_after;

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
        let now = Utc::now();
        let (event, fields) = JournaledEvent::journaled_at(device.clone(), seq, &data, now)?;
        let kept = kept_form(event.kind, fields)?;
        let kept = match &data {
            EventData::ChatUpdate(Chat {
                last_message: Some(message),
                ..
            }) => self.journaled.chat(device, &message.id, seq, kept),
            _ => kept,
        };
        let marked = packing::marked(&kept, device.as_str(), &event.at);
        let ours = matches!(&data, EventData::Message(message) if message.from_me);
        let strand = changes::Strand::new(head.num, event.kind, ours);
        let row = self.kept_row(head, strand, seq, marked)?;
        self.packer.give(row);
        if let EventData::Message(message) = &data {
            self.journaled.message(device, &message.id, seq, kept);
        }
        self.journal_rows.push(Row {
            key: head.key(seq),
            kind: event.kind,
            // The payload's time is this one to the millisecond.
            at: now.timestamp_millis(),
            latest: LATEST_KEPT.contains(&event.kind).then(|| Latest {
                device: device.clone(),
                seq,
                at: event.at.clone(),
            }),
        });
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

    /// The row to keep of an event of `strand` ([`changes::Strand`]: its device's, of its kind)
    /// at `seq` whose fields are `marked`: how it differs from the strand's last whole row, if
    /// that is short ([`changes`]), else the fields to pack, which rows after it may then be
    /// kept against. A `chat:update` may name another row ([`naming`]), and the newest row of
    /// a kind in [`LATEST_KEPT`] is kept again apart from the journal: those are kept whole.
    fn kept_row(
        &mut self,
        head: Head,
        strand: changes::Strand,
        seq: u64,
        marked: String,
    ) -> StoreResult<Given> {
        let kind = strand.kind();
        if kind == EventKind::ChatUpdate || LATEST_KEPT.contains(&kind) {
            return Ok(Given::Fields(marked));
        }
        let changes = match self.earlier.row_for(strand, seq) {
            Some((back, earlier)) => changes::kept_against(&marked, earlier, back),
            None if self.earlier.knows(strand) => None,
            None => self
                .journaled_row_for(head, strand, seq)?
                .and_then(|(back, earlier)| changes::kept_against(&marked, &earlier, back)),
        };
        Ok(match changes {
            Some(row) => Given::Made(row),
            None => {
                self.earlier.whole(strand, seq, &marked);
                Given::Fields(marked)
            }
        })
    }

    /// The newest whole row of `strand` that the device's journal holds within
    /// [`changes::REACH`] seqs before `seq`: how many seqs back it is, and its fields, still
    /// marked. For a strand the writer no longer remembers ([`changes::Earlier`]): in a fleet
    /// whose thousands of devices exchange at once, more strands are written to between two
    /// rows of one than the writer keeps, and their rows were all kept whole. Not on
    /// PostgreSQL, where the read would be a round trip in the middle of the writer's batch:
    /// such a row is kept whole there.
    fn journaled_row_for(
        &self,
        head: Head,
        strand: changes::Strand,
        seq: u64,
    ) -> StoreResult<Option<(u64, String)>> {
        if self.conn.is_postgres() {
            return Ok(None);
        }
        let from = head.key(seq.saturating_sub(changes::REACH));
        let rows = self.conn().query_all(
            "SELECT key, data FROM events WHERE key >= ?1 AND key < ?2 AND kind = ?3
             ORDER BY key DESC",
            params![from, head.key(seq), i64::from(strand.kind().number())],
            |row| Ok((row.get::<i64>(0)?, row.get::<Vec<u8>>(1)?)),
        )?;
        for (key, data) in rows {
            if changes::kept_back(&data).is_some() {
                continue;
            }
            let fields = packing::unpack(data)?;
            if strand.holds(&fields) {
                return Ok(Some((seq - head.seq(key), fields)));
            }
        }
        Ok(None)
    }

    /// The device's number, which its journal's keys and its message rows carry: numbering
    /// the device first if it has none yet. The batch keeps it with the journal's head.
    pub(super) fn device_number(&mut self, device: &DeviceId) -> StoreResult<i64> {
        if let Some(head) = self.heads.get(device) {
            return Ok(head.num);
        }
        let head = self.open_journal(device)?;
        self.heads.insert(device.clone(), head);
        Ok(head.num)
    }

    /// Where the device's journal stands, numbering the device first if it has none yet.
    fn open_journal(&mut self, device: &DeviceId) -> StoreResult<Head> {
        if self.conn.is_postgres() {
            return self.open_shared_journal(device);
        }
        if let Some(head) = position(self.conn(), device)? {
            return Ok(head);
        }
        let num = self.query_row(
            "INSERT INTO device_seq (device_id, last_seq, num)
             VALUES (?1, 0, (SELECT COALESCE(MAX(num), 0) + 1 FROM device_seq))
             RETURNING num",
            params![device.as_str()],
            |row| row.get(0),
        )?;
        Ok(Head { num, last: 0 })
    }

    /// [`Tx::open_journal`] on PostgreSQL, which several nodes may write: the head row stays
    /// locked until the commit, so a node that journals for the same device waits for it and
    /// goes on from the seq it reached (seqs stay gap-free and are committed in order), and a
    /// device's number comes from a sequence, so two nodes numbering two new devices at once
    /// do not both take the next one. Two nodes numbering the same device: the second waits
    /// for the first's row and takes it.
    fn open_shared_journal(&mut self, device: &DeviceId) -> StoreResult<Head> {
        const LOCKED_HEAD: &str =
            "SELECT num, last_seq FROM device_seq WHERE device_id = ?1 FOR UPDATE";
        let head = self
            .conn
            .query_opt(LOCKED_HEAD, params![device.as_str()], Head::of_row)?;
        if let Some(head) = head {
            return Ok(head);
        }
        // A device's first event: its row is made, by this node or the one it waits for.
        self.execute(
            "INSERT INTO device_seq (device_id, last_seq) VALUES (?1, 0)
             ON CONFLICT (device_id) DO NOTHING",
            params![device.as_str()],
        )?;
        self.query_row(LOCKED_HEAD, params![device.as_str()], Head::of_row)
    }

    /// Writes the rows this batch journaled, packed meanwhile beside the writer
    /// ([`packer`]): once, at the batch's end, and before anything in it deletes rows.
    pub(super) fn store_journal_rows(&mut self) -> StoreResult<()> {
        let rows = std::mem::take(&mut self.journal_rows);
        let packed = self.packer.take();
        let kinds: Vec<i64> = rows
            .iter()
            .map(|row| i64::from(row.kind.number()))
            .collect();
        let mut stored = 0;
        for (size, statement) in ROWS_A_STATEMENT.iter().zip(INSERT_ROWS.iter()) {
            while rows.len() - stored >= *size {
                let next = stored..stored + size;
                let values: Vec<&dyn Param> = rows[next.clone()]
                    .iter()
                    .zip(&kinds[next.clone()])
                    .zip(&packed[next])
                    .flat_map(|((row, kind), data)| [&row.key as &dyn Param, kind, data, &row.at])
                    .collect();
                self.write(statement, &values)?;
                stored += size;
            }
        }
        for (row, data) in rows.iter().zip(&packed) {
            let Some(latest) = &row.latest else {
                continue;
            };
            self.write(
                "INSERT INTO latest_events (device_id, name, seq, data, at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (device_id, name) DO UPDATE
                 SET seq = excluded.seq, data = excluded.data, at = excluded.at",
                params![
                    latest.device.as_str(),
                    row.kind.as_str(),
                    latest.seq as i64,
                    *data,
                    latest.at
                ],
            )?;
        }
        Ok(())
    }

    /// Deletes the device's events. Its head stays, moved on by [`changes::REACH`] seqs, so a
    /// device created again under the same id goes on past the seq it had reached, and no node
    /// keeps a new row against a deleted one it remembers.
    pub fn delete_journal(&mut self, device: &DeviceId) -> StoreResult<()> {
        self.store_journal_rows()?;
        self.journaled.forget(device);
        self.execute(
            "DELETE FROM latest_events WHERE device_id = ?1",
            params![device.as_str()],
        )?;
        if position(self.conn(), device)?.is_some() {
            let head = match self.heads.get(device) {
                Some(head) => *head,
                None => self.open_journal(device)?,
            };
            self.earlier.forget(head.num);
            self.execute(
                "DELETE FROM events WHERE key > ?1 AND key < ?2",
                params![head.key(0), head.end()],
            )?;
            let last = head.last + changes::REACH;
            self.heads.insert(device.clone(), Head { last, ..head });
        }
        Ok(())
    }

    /// Stores the head seq of every device this batch journaled to; returns them.
    pub(super) fn store_heads(&mut self) -> StoreResult<Vec<(DeviceId, u64)>> {
        let mut stored = Vec::with_capacity(self.heads.len());
        for (device, head) in std::mem::take(&mut self.heads) {
            self.write(
                "UPDATE device_seq SET last_seq = ?2 WHERE device_id = ?1",
                params![device.as_str(), head.last as i64],
            )?;
            stored.push((device, head.last));
        }
        Ok(stored)
    }
}

/// A journal row of the batch, written at its end with its packed fields
/// ([`Tx::store_journal_rows`]).
pub(super) struct Row {
    key: i64,
    kind: EventKind,
    at: i64,
    /// Where the row is also kept as its device's newest of its kind ([`LATEST_KEPT`]).
    latest: Option<Latest>,
}

pub(super) struct Latest {
    device: DeviceId,
    seq: u64,
    at: String,
}

/// How many journal rows one statement inserts, largest first: a batch's rows go in as few
/// statements as these sizes make (a batch of 140 rows in 9), each size's statement prepared
/// once. On PostgreSQL each statement is a round trip to the server, which bounds its writer.
const ROWS_A_STATEMENT: [usize; 3] = [32, 8, 1];

/// The insert of each of [`ROWS_A_STATEMENT`]'s sizes.
static INSERT_ROWS: LazyLock<[String; 3]> = LazyLock::new(|| {
    ROWS_A_STATEMENT.map(|size| {
        let values: Vec<String> = (0..size)
            .map(|row| {
                let first = row * 4 + 1;
                format!("(?{first}, ?{}, ?{}, ?{})", first + 1, first + 2, first + 3)
            })
            .collect();
        format!(
            "INSERT INTO events (key, kind, data, at) VALUES {}",
            values.join(", ")
        )
    })
});

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
    fn of_row(row: &super::sql::Row<'_>) -> StoreResult<Head> {
        Ok(Head {
            num: row.get(0)?,
            last: row.get::<i64>(1)? as u64,
        })
    }

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

/// Where the device's journal stands as `conn` reads it (see [`Conn::readable_head`]), if it
/// was ever journaled to.
fn position(conn: &Conn, device: &DeviceId) -> StoreResult<Option<Head>> {
    let head = conn.query_opt(
        "SELECT num, last_seq FROM device_seq WHERE device_id = ?1",
        params![device.as_str()],
        Head::of_row,
    )?;
    Ok(head.map(|head| Head {
        last: conn.readable_head(device.as_str(), head.last),
        ..head
    }))
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
pub fn head(conn: &Conn, device: &DeviceId) -> StoreResult<u64> {
    Ok(position(conn, device)?.map_or(0, |head| head.last))
}

/// The events of which each device's newest is kept whatever the journal's retention: a
/// dashboard connecting without `lastSeq` draws the device from them however long ago it last
/// changed, and finds them without scanning the journal for them.
const LATEST_KEPT: [EventKind; 3] = [EventKind::State, EventKind::Qr, EventKind::PairingCode];

/// The newest event of `kind`, one of [`LATEST_KEPT`], even if the journal was pruned past it.
pub fn latest(
    conn: &Conn,
    device: &DeviceId,
    kind: EventKind,
) -> StoreResult<Option<JournaledEvent>> {
    debug_assert!(LATEST_KEPT.contains(&kind), "`{kind}` is not kept");
    conn.query_opt(
        "SELECT seq, data, at FROM latest_events WHERE device_id = ?1 AND name = ?2",
        params![device.as_str(), kind.as_str()],
        |row| {
            let seq: i64 = row.get(0)?;
            let at: String = row.get(2)?;
            let fields = fields_of(device.as_str(), row.get(1)?, &at)?;
            stored(device, seq as u64, kind, fields, at)
        },
    )
}

/// What of a `qr` event's payload is stored without its picture: the `image` is the code's
/// text drawn as a PNG data URL, most of what a linking fleet journals (kept twice, with the
/// newest-event table; `docs/performance.md`, fleet), and is drawn again from the text when
/// the event is read back.
const DERIVED_QR_FIELD: &str = "image";

/// The form its rows keep of an event of `kind` whose own fields are `fields`, before they
/// pack it ([`packing`]): the fields, without `deviceId`, `seq` and `at` (the row's key and columns hold them, and
/// writing them again weighed on every row: `docs/performance.md`, fleet), and a `qr` event
/// without its image.
fn kept_form(kind: EventKind, fields: String) -> StoreResult<String> {
    if kind != EventKind::Qr {
        return Ok(fields);
    }
    let mut fields: serde_json::Map<String, Value> = serde_json::from_str(&fields)?;
    fields.remove(DERIVED_QR_FIELD);
    Ok(serde_json::to_string(&fields)?)
}

/// An event as read back from its row's `fields` ([`fields_of`]): stamped again, a `qr` event
/// with its image drawn again.
fn stored(
    device: &DeviceId,
    seq: u64,
    kind: EventKind,
    fields: String,
    at: String,
) -> StoreResult<JournaledEvent> {
    let event = JournaledEvent::from_fields(device.clone(), seq, kind, fields, at)?;
    match kind {
        EventKind::Qr => with_qr_image(event),
        _ => Ok(event),
    }
}

/// A stored `qr` event with its picture drawn from its text, as it was sent. Rows written
/// before pictures were left out have one already.
fn with_qr_image(mut event: JournaledEvent) -> StoreResult<JournaledEvent> {
    let mut fields: serde_json::Map<String, Value> = serde_json::from_str(event.payload.get())?;
    if fields.contains_key(DERIVED_QR_FIELD) {
        return Ok(event);
    }
    let text = fields.get("qr").and_then(Value::as_str).unwrap_or_default();
    // A text that cannot be drawn was never journaled: the device renders each code first.
    let image = crate::qr::png_data_url(text).unwrap_or_default();
    fields.insert(DERIVED_QR_FIELD.to_owned(), Value::String(image));
    event.payload = serde_json::value::to_raw_value(&fields)?;
    Ok(event)
}

/// The latest `state` event; while the device shows QR codes, the latest `qr` event too, and
/// the latest `pairing:code` given since it began showing them, until that code expires:
/// someone may be typing it on their phone, and a dashboard opened meanwhile shows it as one
/// open before did. In `seq` order.
pub fn current_view(conn: &Conn, device: &DeviceId) -> StoreResult<Vec<JournaledEvent>> {
    let Some(state) = latest(conn, device, EventKind::State)? else {
        return Ok(never_changed(conn, device)?.into_iter().collect());
    };
    if state.fields()["state"] != StateName::Qr.as_str() {
        return Ok(vec![state]);
    }
    let qr = latest(conn, device, EventKind::Qr)?;
    let code = latest(conn, device, EventKind::PairingCode)?
        .filter(|code| code.seq > state.seq && still_typable(code, Utc::now()));
    let mut view: Vec<JournaledEvent> = std::iter::once(state).chain(qr).chain(code).collect();
    view.sort_by_key(|event| event.seq);
    Ok(view)
}

/// Whether the code of a `pairing:code` event still links the device at `now`.
fn still_typable(code: &JournaledEvent, now: DateTime<Utc>) -> bool {
    code.fields()["expiresAt"]
        .as_str()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .is_some_and(|expires| expires > now)
}

/// The `state` of a device that has never changed state (created and not started yet), which
/// the journal has no event for: `seq` 0, before any event, and no `previous`. A dashboard
/// that keeps it as its `lastSeq` resumes from the journal's start.
fn never_changed(conn: &Conn, device: &DeviceId) -> StoreResult<Option<JournaledEvent>> {
    let Some(record) = super::devices::get(conn, device)? else {
        return Ok(None);
    };
    let at = rfc3339(record.updated_at);
    let payload = serde_json::value::to_raw_value(&json!({
        "state": record.state.as_str(),
        "previous": null,
        "reason": record.state_reason,
        "deviceId": device,
        "seq": 0,
        "at": at,
    }))?;
    Ok(Some(JournaledEvent {
        device_id: device.clone(),
        seq: 0,
        at,
        kind: EventKind::State,
        payload,
        remote: false,
    }))
}
