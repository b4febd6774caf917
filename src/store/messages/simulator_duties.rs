//! What each simulated phone still owes for the messages it received: its acks, read receipts
//! and replies, planned when the message arrived (`connector::simulator`), kept here so that a
//! daemon that stops (SIGTERM or `kill -9`) does them after it starts again instead of never.
//!
//! A plan is a list of steps, done in order; `done` counts those already stored, from the
//! first. A step is marked done by [`Tx::simulator_step_done`] in the transaction that stores
//! what it reported, so a step is either stored and marked, or neither, and one made twice
//! (before and after a restart) is stored once. The phone does not mark its acks, whose
//! second copy changes nothing: the next step it marks (the last one always is) counts them
//! with itself. The plan itself is the simulator's JSON: the store does not read it.
//!
//! A plan is written with the row of the phone's inbox that receives its message
//! ([`Tx::simulator_receive`]) and keyed by that row's number, which its steps find it by. It
//! is a row of its own, deleted once done, rather than a column of the inbox row: a row that
//! shrinks long after it was written leaves its page's room unused (SQLite does not merge the
//! pages its rows shrank), and the inbox's pages ended up a sixth full.

use super::DEVICE_NUMBER;
use crate::model::DeviceId;
use crate::store::sql::{params, Changed, Conn, Row};
use crate::store::{StoreResult, Tx};
use chrono::{DateTime, Utc};
use std::sync::LazyLock;

/// What the phone still owes for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneDuties {
    /// The row of the phone's inbox that received the message, which keys the plan.
    pub row: i64,
    /// The message's upstream id, as the phone gave it.
    pub upstream_id: String,
    /// When the phone received it: the plan's steps are timed from here.
    pub received_at: DateTime<Utc>,
    /// The simulator's plan, as it wrote it.
    pub plan: String,
    /// How many of the plan's steps are done.
    pub done: u32,
}

fn duties_row(row: &Row<'_>) -> StoreResult<PhoneDuties> {
    Ok(PhoneDuties {
        row: row.get(0)?,
        upstream_id: row.get(1)?,
        received_at: DateTime::from_timestamp_millis(row.get(2)?).unwrap_or_default(),
        plan: row.get(3)?,
        done: row.get::<i64>(4)?.try_into().unwrap_or(u32::MAX),
    })
}

/// The columns [`duties_row`] reads: the plan's, and its message's in the phone's inbox.
const DUTIES: &str = "SELECT p.inbox_row, i.upstream_id, i.received_at, p.plan, p.done
    FROM simulator_plans p JOIN simulator_inbox i ON i.rowid = p.inbox_row";

/// Everything a simulated phone still owes, oldest message first.
pub fn simulator_duties(conn: &Conn, device: &DeviceId) -> StoreResult<Vec<PhoneDuties>> {
    conn.query_all(
        &format!("{DUTIES} WHERE p.device_id = ?1 ORDER BY p.inbox_row"),
        params![device.as_str()],
        duties_row,
    )
}

impl Tx<'_> {
    /// What the phone of `device` still owes for the message it received in inbox row `row`,
    /// if anything.
    pub fn simulator_duties_in(
        &self,
        device: &DeviceId,
        row: i64,
    ) -> StoreResult<Option<PhoneDuties>> {
        self.conn.query_opt(
            &format!("{DUTIES} WHERE p.device_id = ?1 AND p.inbox_row = ?2"),
            params![device.as_str(), row],
            duties_row,
        )
    }

    /// Marks step `step` (counted from 0) of the phone's plan in inbox row `row`, for the
    /// message `upstream_id` of `device`, done, and with the `last` step deletes the plan.
    /// `from` is where the plan stood after its last marked step before this one (or where it
    /// was taken up): the steps between are acks, which the phone does not mark (see
    /// [`crate::connector::simulator::phone`]). Whether the step was owed (a row changed) is
    /// read later ([`Conn::answer_changed`]), so that the marks of a batch's steps share a
    /// round trip: not if it is done already, or a marked step before it is not, or the device
    /// does not know the message by that upstream id yet (the daemon stopped between the phone
    /// receiving it and the relay recording so; the relay sends it again after the restart,
    /// and the step then counts).
    ///
    /// Only a step marked from the plan's start asks whether the device knows the message:
    /// steps are done in order, so a later one follows a marked step that found it known, and
    /// the lookup, an index of random keys, was a third of a step's work. The row the writer
    /// remembers for it, if any, is looked at first (see [`super::SentRows`]).
    pub fn simulator_step_done(
        &mut self,
        device: &DeviceId,
        upstream_id: &str,
        row: i64,
        from: u32,
        step: u32,
        last: bool,
    ) -> StoreResult<Changed> {
        // By `[last][known]`: a later step, the first asking the index, the first asking the
        // remembered row before the index.
        static STATEMENTS: LazyLock<[[String; 3]; 2]> = LazyLock::new(|| {
            let by_index = format!(
                "EXISTS (SELECT 1 FROM messages WHERE device = {DEVICE_NUMBER} AND upstream_id = ?2)"
            );
            let at_row = format!(
                "EXISTS (SELECT 1 FROM messages
                    WHERE rowid = ?6 AND device = {DEVICE_NUMBER} AND upstream_id = ?2)"
            );
            let known = [
                String::new(),
                format!("AND {by_index}"),
                format!("AND ({at_row} OR {by_index})"),
            ];
            let owed = "device_id = ?1 AND inbox_row = ?4 AND done BETWEEN ?5 AND ?3 AND EXISTS
                (SELECT 1 FROM simulator_inbox WHERE rowid = ?4 AND upstream_id = ?2)";
            [
                "UPDATE simulator_plans SET done = ?3 + 1",
                "DELETE FROM simulator_plans",
            ]
            .map(|change| {
                known
                    .clone()
                    .map(|known| format!("{change} WHERE {owed} {known}"))
            })
        });
        let sent = (from == 0)
            .then(|| self.sent_rows.row_of(device, upstream_id))
            .flatten();
        let known = match (from, sent) {
            (0, Some(_)) => 2,
            (0, None) => 1,
            _ => 0,
        };
        let values = params![
            device.as_str(),
            upstream_id,
            i64::from(step),
            row,
            i64::from(from),
            sent
        ];
        // Only the remembered row's statement names `?6`.
        let values = &values[..5 + usize::from(sent.is_some())];
        self.conn()
            .ask_changed(&STATEMENTS[usize::from(last)][known], values)
    }
}
