//! Pruning: each device's oldest journal events beyond the retention limits are deleted, a
//! prefix of its journal at a time, so that what is left stays gap-free.

use chrono::{DateTime, Utc};

use super::{changes, naming, packing, Head};
use crate::model::event::EventKind;
use crate::store::sinks::Holds;
use crate::store::sql::{params, Conn};
use crate::store::{Store, StoreResult, Tx};

impl Tx<'_> {
    /// Deletes the journal events keyed `from..to` (one run of a device's oldest, see
    /// [`Store::prune_journal`]); returns how many.
    pub fn delete_events(&mut self, from: i64, to: i64) -> StoreResult<usize> {
        self.execute(
            "DELETE FROM events WHERE key >= ?1 AND key < ?2",
            params![from, to],
        )
    }
}

/// The most journal events one pruning write deletes. Under a sustained load the journal
/// grows fast, and deleting a minute of it in one statement held the writer, and every send
/// behind it, for as long as that took; a batch this size is short, and sends go on between
/// batches (`docs/performance.md`, send: pruning in batches).
const PRUNE_BATCH: i64 = 2_000;

/// A device's oldest events that the retention limits leave out: keys `from..to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stale {
    from: i64,
    to: i64,
}

/// What each device's journal holds beyond the retention limits: its events after the
/// newest `keep_events`, and those journaled before `older_than`, but for those an enabled
/// event sink has not had confirmed yet ([`Holds`]). All are a prefix of the device's journal
/// (seqs and times grow together), so the journal stays gap-free. A prefix's end keeps the
/// device's newest [`changes::REACH`] events, for the rows written after this to be kept
/// against, and moves back to keep every row that a row after it names ([`naming`]) or is
/// kept against ([`changes`]).
fn stale_events(
    conn: &Conn,
    keep_events: u64,
    older_than: DateTime<Utc>,
) -> StoreResult<Vec<Stale>> {
    let heads = conn.query_all(
        "SELECT num, last_seq, device_id FROM device_seq",
        params![],
        |row| Ok((Head::of_row(row)?, row.get::<String>(2)?)),
    )?;
    let holds = Holds::read(conn)?;
    let older_than = older_than.timestamp_millis();
    let mut stale = Vec::new();
    for (head, device) in heads {
        let oldest: Option<i64> = conn.query_one(
            "SELECT MIN(key) FROM events WHERE key > ?1 AND key < ?2",
            params![head.key(0), head.end()],
            |row| row.get(0),
        )?;
        let Some(oldest) = oldest else { continue };
        let kept_by_count = match head.last.checked_sub(keep_events) {
            Some(dropped) if dropped > 0 => head.key(dropped + 1).max(oldest),
            _ => oldest,
        };
        // The scan passes only over events the count keeps and the age drops.
        let kept: Option<i64> = conn.query_opt(
            "SELECT key FROM events WHERE key >= ?1 AND key < ?2 AND at >= ?3
             ORDER BY key LIMIT 1",
            params![kept_by_count, head.end(), older_than],
            |row| row.get(0),
        )?;
        // Nothing young enough: every event goes, up to the newest.
        let mut to = kept.unwrap_or(head.key(head.last) + 1);
        if let Some(confirmed) = holds.kept_after(&device) {
            to = to.min(head.key(confirmed + 1));
        }
        to = to.min(head.key((head.last + 1).saturating_sub(changes::REACH)));
        if to <= oldest {
            continue;
        }
        let to = cut_keeping_earlier(to, |from| references(conn, head, from))?;
        if to > oldest {
            stale.push(Stale { from: oldest, to });
        }
    }
    Ok(stale)
}

/// The rows of a device keyed from `from` up to [`naming::REACH`] seqs after it that refer to
/// an earlier row: a `chat:update` naming its message's ([`naming`]), a row kept as changes
/// ([`changes`]). Each with its key and how many seqs back the row it refers to is.
fn references(conn: &Conn, head: Head, from: i64) -> StoreResult<Vec<(i64, u64)>> {
    let to = (from + naming::REACH as i64).min(head.end());
    let rows = conn.query_all(
        "SELECT key, kind, data FROM events WHERE key >= ?1 AND key < ?2",
        params![from, to],
        |row| Ok((row.get(0)?, row.get::<i64>(1)?, row.get::<Vec<u8>>(2)?)),
    )?;
    let chat_update = i64::from(EventKind::ChatUpdate.number());
    let mut references = Vec::new();
    for (key, kind, data) in rows {
        let back = match changes::kept_back(&data) {
            Some(back) => Some(back),
            None if kind == chat_update => naming::named(&packing::unpack(data)?),
            None => None,
        };
        references.extend(back.map(|back| (key, back)));
    }
    Ok(references)
}

/// The cut of a pruning of one device's journal (its rows before `to` go) moved back, so that
/// no row it keeps refers to a row it drops. `references_from(key)` gives each row keyed from
/// `key` up to [`naming::REACH`] seqs after it that refers to an earlier row, with its key and
/// how many seqs back that row is; a row's key grows with its seq, and no row refers to one
/// further back than that.
fn cut_keeping_earlier(
    mut to: i64,
    mut references_from: impl FnMut(i64) -> StoreResult<Vec<(i64, u64)>>,
) -> StoreResult<i64> {
    loop {
        let earliest = references_from(to)?
            .into_iter()
            .filter_map(|(key, back)| Some(key - i64::try_from(back).ok()?))
            .min();
        match earliest {
            Some(earlier) if earlier < to => to = earlier,
            _ => return Ok(to),
        }
    }
}

impl Store {
    /// Drops journal events beyond the retention limits ([`stale_events`], found on a read
    /// connection), in writes of at most [`PRUNE_BATCH`] events; returns how many.
    pub async fn prune_journal(
        &self,
        keep_events: u64,
        older_than: DateTime<Utc>,
    ) -> StoreResult<usize> {
        let stale = self
            .read(move |conn| stale_events(conn, keep_events, older_than))
            .await?;
        let mut removed = 0;
        for run in stale {
            let mut from = run.from;
            while from < run.to {
                let to = run.to.min(from + PRUNE_BATCH);
                removed += self.write(move |tx| tx.delete_events(from, to)).await?;
                from = to;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_between_an_earlier_row_and_the_row_referring_to_it_moves_back_to_the_earlier_row() {
        // Keys 10..20; the row at 14 refers to 11, the row at 12 to 9.
        let rows = [(12, 3), (14, 3)];
        let from = |key: i64| Ok(rows.iter().filter(|(at, _)| *at >= key).copied().collect());
        assert_eq!(cut_keeping_earlier(13, from).unwrap(), 9);
        assert_eq!(cut_keeping_earlier(15, from).unwrap(), 15);
        assert_eq!(cut_keeping_earlier(11, from).unwrap(), 9);
    }
}
