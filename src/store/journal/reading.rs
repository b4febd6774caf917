//! Reading a device's journal back: each row's fields unpacked, made whole where a row is
//! kept as changes ([`changes`]) or names another ([`naming`]), and stamped again.

use super::{changes, naming, packing, position, stored, Head, JournalRead};
use crate::model::event::{EventKind, JournaledEvent};
use crate::model::{time, DeviceId};
use crate::store::sql::{params, Conn};
use crate::store::{StoreError, StoreResult};

/// Events with `seq > after`, oldest first, at most `limit`. The read is complete if nothing
/// after `after` is missing; an `after` beyond the newest seq is a seq of another journal (the
/// reader saw one before the data was reset), so its reader cannot be caught up: incomplete.
pub fn read_after(
    conn: &Conn,
    device: &DeviceId,
    after: u64,
    limit: u64,
) -> StoreResult<JournalRead> {
    let Some(position) = position(conn, device)? else {
        return Ok(JournalRead {
            events: Vec::new(),
            head: 0,
            complete: after == 0,
        });
    };
    let oldest: Option<i64> = conn.query_one(
        "SELECT MIN(key) FROM events WHERE key > ?1 AND key < ?2",
        params![position.key(0), position.end()],
        |row| row.get(0),
    )?;
    // Complete if nothing after `after` is missing: either there is nothing newer at all, or
    // the next seq is still stored.
    let complete = after == position.last
        || (after < position.last
            && oldest.is_some_and(|oldest| oldest <= position.key(after + 1)));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn.query_all(
        "SELECT key, kind, data, at FROM events WHERE key > ?1 AND key <= ?2 ORDER BY key LIMIT ?3",
        params![position.key(after), position.key(position.last), limit],
        |row| {
            let key: i64 = row.get(0)?;
            let number: i64 = row.get(1)?;
            let kind = EventKind::from_number(number)
                .ok_or_else(|| StoreError::Unreadable(format!("an event of kind {number}")))?;
            Ok(KeptRow {
                seq: position.seq(key),
                kind,
                kept: Kept::of(row.get(2)?)?,
                at: time_of(row.get(3)?)?,
            })
        },
    )?;
    let rows = whole_rows(conn, device, position, rows)?;
    let events = events_of(conn, device, position, rows)?;
    Ok(JournalRead {
        events,
        head: position.last,
        complete,
    })
}

/// What a journal row keeps of its event's fields: the fields, unpacked and still marked
/// ([`packing::marked`]), or how they differ from an earlier row's ([`changes`]).
enum Kept {
    Fields(String),
    /// The row's changes, against the row `back` seqs before it.
    Changes {
        back: u64,
        row: Vec<u8>,
    },
}

impl Kept {
    fn of(data: Vec<u8>) -> StoreResult<Kept> {
        match changes::kept_back(&data) {
            Some(back) => Ok(Kept::Changes { back, row: data }),
            None => Ok(Kept::Fields(packing::unpack(data)?)),
        }
    }
}

/// A journal row as read.
struct KeptRow {
    seq: u64,
    kind: EventKind,
    kept: Kept,
    at: String,
}

/// A journal row as read, its fields whole and unmarked.
struct ReadRow {
    seq: u64,
    kind: EventKind,
    fields: String,
    at: String,
}

/// A row's time, kept as milliseconds, as the payload writes it.
fn time_of(millis: i64) -> StoreResult<String> {
    time::rfc3339_of_millis(millis)
        .ok_or_else(|| StoreError::Unreadable(format!("an event at {millis} ms")))
}

/// A row's fields as they were given: unpacked, its device's id and time put back where they
/// were marked ([`packing::marked`]). The row is one kept whole.
pub(super) fn fields_of(device: &str, data: Vec<u8>, at: &str) -> StoreResult<String> {
    Ok(packing::unmarked(packing::unpack(data)?, device, at))
}

/// The rows of `rows` (a run of the device's journal, oldest first) with their fields whole
/// and unmarked: a row kept as changes ([`changes`]) with the fields of the row it is kept
/// against, from the run when it holds that row, else read on its own.
fn whole_rows(
    conn: &Conn,
    device: &DeviceId,
    position: Head,
    rows: Vec<KeptRow>,
) -> StoreResult<Vec<ReadRow>> {
    let mut whole: Vec<Option<String>> = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let Kept::Changes { back, row: changes } = &row.kept else {
            whole.push(None);
            continue;
        };
        let seq = row.seq.saturating_sub(*back);
        let in_run = rows[..index]
            .binary_search_by_key(&seq, |row| row.seq)
            .ok()
            .and_then(|at| match &rows[at].kept {
                Kept::Fields(fields) => Some(fields),
                Kept::Changes { .. } => None,
            });
        whole.push(Some(match in_run {
            Some(earlier) => changes::with_earlier(changes, earlier)?,
            None => changes::with_earlier(changes, &earlier_row(conn, device, position, seq)?)?,
        }));
    }
    Ok(rows
        .into_iter()
        .zip(whole)
        .map(|(row, whole)| {
            let marked = match (whole, row.kept) {
                (Some(fields), _) | (None, Kept::Fields(fields)) => fields,
                (None, Kept::Changes { .. }) => unreachable!("every row of changes was made whole"),
            };
            ReadRow {
                seq: row.seq,
                kind: row.kind,
                fields: packing::unmarked(marked, device.as_str(), &row.at),
                at: row.at,
            }
        })
        .collect())
}

/// The device's row `seq`, read on its own for a row read after it, which `refers` to it: what
/// it keeps, and its time.
fn row_on_its_own(
    conn: &Conn,
    device: &DeviceId,
    position: Head,
    seq: u64,
    refers: &str,
) -> StoreResult<(Kept, String)> {
    let row = conn.query_opt(
        "SELECT data, at FROM events WHERE key = ?1",
        params![position.key(seq)],
        |row| Ok((Kept::of(row.get(0)?)?, time_of(row.get(1)?)?)),
    )?;
    row.ok_or_else(|| {
        StoreError::Unreadable(format!(
            "the journal row {seq} of {device}, which a later row {refers}, is gone"
        ))
    })
}

/// The fields, still marked, of the device's row `seq`, which a row read after it is kept
/// against: one kept whole.
fn earlier_row(conn: &Conn, device: &DeviceId, position: Head, seq: u64) -> StoreResult<String> {
    match row_on_its_own(conn, device, position, seq, "is kept against")? {
        (Kept::Fields(fields), _) => Ok(fields),
        (Kept::Changes { .. }, _) => Err(StoreError::Unreadable(format!(
            "the journal row {seq} of {device}, which a later row is kept against, is not whole"
        ))),
    }
}

/// The events of `rows` (a run of the device's journal, oldest first), each `chat:update` that
/// names the row of its last message ([`naming`]) with that message's fields put back: from
/// the run when it holds the row, else read on its own.
fn events_of(
    conn: &Conn,
    device: &DeviceId,
    position: Head,
    rows: Vec<ReadRow>,
) -> StoreResult<Vec<JournaledEvent>> {
    let mut whole: Vec<Option<String>> = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let back = (row.kind == EventKind::ChatUpdate)
            .then(|| naming::named(&row.fields))
            .flatten();
        let Some(back) = back else {
            whole.push(None);
            continue;
        };
        let seq = row.seq.saturating_sub(back);
        let named = match rows[..index].binary_search_by_key(&seq, |row| row.seq) {
            Ok(at) => naming::with_named(&row.fields, &rows[at].fields),
            Err(_) => naming::with_named(&row.fields, &named_row(conn, device, position, seq)?),
        };
        whole.push(Some(named));
    }
    rows.into_iter()
        .zip(whole)
        .map(|(row, whole)| {
            stored(
                device,
                row.seq,
                row.kind,
                whole.unwrap_or(row.fields),
                row.at,
            )
        })
        .collect()
}

/// The fields of the device's row `seq`, which a row read after it names: whole and unmarked.
fn named_row(conn: &Conn, device: &DeviceId, position: Head, seq: u64) -> StoreResult<String> {
    let (kept, at) = row_on_its_own(conn, device, position, seq, "names")?;
    let marked = match kept {
        Kept::Fields(fields) => fields,
        Kept::Changes { back, row } => {
            let earlier = earlier_row(conn, device, position, seq.saturating_sub(back))?;
            changes::with_earlier(&row, &earlier)?
        }
    };
    Ok(packing::unmarked(marked, device.as_str(), &at))
}
