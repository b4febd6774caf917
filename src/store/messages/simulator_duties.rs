//! What each simulated phone still owes for the messages it received: its acks, read receipts
//! and replies, planned when the message arrived (`connector::simulator`), kept here so that a
//! daemon that stops (SIGTERM or `kill -9`) does them after it starts again instead of never.
//!
//! A plan is a list of steps, done in order; `done` counts those already stored. A step is
//! marked done by [`Tx::simulator_step_done`] in the transaction that stores what it reported,
//! so a step is either stored and marked, or neither, and one made twice (before and after a
//! restart) is stored once. The plan itself is the simulator's JSON: the store does not read it.
//!
//! A plan is keyed by when the phone received its message, then the message's upstream id:
//! plans are added and finished roughly in the order messages arrive, so each write lands on
//! the table's last pages. Keyed by the upstream id alone, which is random, each plan took a
//! leaf page of its own in every commit it was written, deleted or stepped in.

use crate::model::DeviceId;
use crate::store::sql::{params, Changed, Conn, Row};
use crate::store::{parse_time, StoreResult, Tx};
use chrono::{DateTime, Utc};
use std::sync::LazyLock;

/// What the phone still owes for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct PhoneDuties {
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
        upstream_id: row.get(0)?,
        received_at: parse_time(&row.get::<String>(1)?),
        plan: row.get(2)?,
        done: row.get::<i64>(3)?.try_into().unwrap_or(u32::MAX),
    })
}

/// Everything a simulated phone still owes, oldest message first.
pub fn simulator_duties(conn: &Conn, device: &DeviceId) -> StoreResult<Vec<PhoneDuties>> {
    conn.query_all(
        "SELECT upstream_id, received_at, plan, done FROM simulator_duties
         WHERE device_id = ?1 ORDER BY received_at, upstream_id",
        params![device.as_str()],
        duties_row,
    )
}

impl Tx<'_> {
    /// Records what the phone owes for a message it has just received.
    pub fn simulator_owe(&mut self, device: &DeviceId, duties: &PhoneDuties) -> StoreResult<()> {
        self.write(
            "INSERT INTO simulator_duties (device_id, upstream_id, received_at, plan, done)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                device.as_str(),
                duties.upstream_id,
                crate::model::rfc3339(duties.received_at),
                duties.plan,
                i64::from(duties.done)
            ],
        )
    }

    /// What the phone still owes for the message it received as `message_id`, if anything.
    pub fn simulator_duties_of(
        &self,
        device: &DeviceId,
        message_id: &str,
    ) -> StoreResult<Option<PhoneDuties>> {
        self.conn.query_opt(
            "SELECT d.upstream_id, d.received_at, d.plan, d.done
             FROM simulator_inbox i JOIN simulator_duties d ON d.device_id = i.device_id
                AND d.received_at = i.received_at AND d.upstream_id = i.upstream_id
             WHERE i.device_id = ?1 AND i.message_id = ?2",
            params![device.as_str(), message_id],
            duties_row,
        )
    }

    /// Marks step `step` (counted from 0) of the phone's plan for `upstream_id`, received at
    /// `received_at`, done, and with the `last` step forgets the plan. Whether the step was
    /// owed (a row changed) is read later ([`Conn::answer_changed`]), so that the marks of a
    /// batch's steps share a round trip: not if it is done already, or an earlier one is not, or the device does not
    /// know the message by that upstream id yet (the daemon stopped between the phone receiving
    /// it and the relay recording so; the relay sends it again after the restart, and the step
    /// then counts).
    ///
    /// Only the first step asks whether the device knows the message: steps are done in order,
    /// so a later one follows a first that found it known, and the lookup, an index of random
    /// keys, was a third of a step's work. The row the writer remembers for it, if any, is
    /// looked at first (see [`super::SentRows`]).
    pub fn simulator_step_done(
        &mut self,
        device: &DeviceId,
        upstream_id: &str,
        received_at: DateTime<Utc>,
        step: u32,
        last: bool,
    ) -> StoreResult<Changed> {
        // By `[last][known]`: a later step, the first asking the index, the first asking the
        // remembered row before the index.
        static STATEMENTS: LazyLock<[[String; 3]; 2]> = LazyLock::new(|| {
            let by_index =
                "EXISTS (SELECT 1 FROM messages WHERE device_id = ?1 AND upstream_id = ?2)";
            let at_row = "EXISTS (SELECT 1 FROM messages
                WHERE rowid = ?5 AND device_id = ?1 AND upstream_id = ?2)";
            let known = [
                String::new(),
                format!("AND {by_index}"),
                format!("AND ({at_row} OR {by_index})"),
            ];
            [
                "UPDATE simulator_duties SET done = done + 1",
                "DELETE FROM simulator_duties",
            ]
            .map(|change| {
                known.clone().map(|known| {
                    format!(
                        "{change} WHERE device_id = ?1 AND received_at = ?4 AND upstream_id = ?2
                           AND done = ?3 {known}"
                    )
                })
            })
        });
        let row = (step == 0)
            .then(|| self.sent_rows.row_of(device, upstream_id))
            .flatten();
        let known = match (step, row) {
            (0, Some(_)) => 2,
            (0, None) => 1,
            _ => 0,
        };
        let received_at = crate::model::rfc3339(received_at);
        let values = params![
            device.as_str(),
            upstream_id,
            i64::from(step),
            received_at,
            row
        ];
        // Only the remembered row's statement names `?5`.
        let values = &values[..4 + usize::from(row.is_some())];
        self.conn()
            .ask_changed(&STATEMENTS[usize::from(last)][known], values)
    }
}
