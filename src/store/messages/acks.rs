//! Acks: what an ack needs of the message it names, read without the whole message, and how an
//! incoming ack is merged into it. Separate because acks are the most frequent upstream report
//! and their path is kept lean.

use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use super::{ack_at, DEVICE_NUMBER};
use crate::model::{Ack, DeviceId, Message};
use crate::store::sql::{params, Asked, Conn, Row};
use crate::store::{StoreResult, Tx};

/// What an ack needs of a message: which one it is, its chat, and how far it got. Acks are the
/// most frequent upstream report, and reading whole messages for them was a visible part of
/// the writer's work.
#[derive(Debug, Clone, PartialEq)]
pub struct AckSubject {
    pub id: String,
    pub upstream_id: Option<String>,
    pub chat_id: String,
    pub ack: Ack,
    /// When the daemon accepted the message for sending, to time its acks; `None` for a
    /// message it did not send (or one it does not need to time).
    pub accepted_at: Option<DateTime<Utc>>,
    /// The message's SQLite `rowid`, when it was read from SQLite: the ack's update goes
    /// straight to the row instead of through the index of message ids first.
    pub rowid: Option<i64>,
}

impl AckSubject {
    pub fn of(message: &Message) -> Self {
        AckSubject {
            id: message.id.clone(),
            upstream_id: message.upstream_id.clone(),
            chat_id: message.chat_id.clone(),
            ack: Ack::from_level(message.ack).unwrap_or(Ack::Pending),
            accepted_at: None,
            rowid: None,
        }
    }
}

/// The message an upstream acknowledges by its id.
pub fn ack_subject(
    conn: &Conn,
    device: &DeviceId,
    upstream_id: &str,
) -> StoreResult<Option<AckSubject>> {
    conn.answer(ask_ack_subject(conn, device, upstream_id, None)?)
}

/// What was `found` of the message `upstream_id` names at `row` (see [`super::SentRows`]), or,
/// when nothing was found there, what the index of upstream ids finds.
fn or_by_index(
    conn: &Conn,
    device: &DeviceId,
    upstream_id: &str,
    row: Option<i64>,
    found: Option<AckSubject>,
) -> StoreResult<Option<AckSubject>> {
    match found {
        None if row.is_some() => ack_subject(conn, device, upstream_id),
        found => Ok(found),
    }
}

/// [`ack_subject`], asked ahead of its answer ([`Conn::ask`]); only at SQLite's `row`, if given,
/// which must still be that message's to be found.
fn ask_ack_subject<'a>(
    conn: &Conn,
    device: &DeviceId,
    upstream_id: &'a str,
    row: Option<i64>,
) -> StoreResult<Asked<AckSubject, impl FnOnce(&Row<'_>) -> StoreResult<AckSubject> + 'a>> {
    // By index, on SQLite or PostgreSQL (which has no `rowid`), or at a row.
    static QUERIES: LazyLock<[String; 3]> = LazyLock::new(|| {
        let by_index = format!("device = {DEVICE_NUMBER} AND upstream_id = ?2");
        let at_row = format!("rowid = ?3 AND device = {DEVICE_NUMBER} AND upstream_id = ?2");
        [
            ("rowid", &by_index),
            ("CAST(NULL AS BIGINT)", &by_index),
            ("rowid", &at_row),
        ]
        .map(|(rowid, found)| {
            format!(
                "SELECT id, chat_id, ack, CASE WHEN relay_status IS NOT NULL THEN created_at END,
                        {rowid}
                     FROM messages WHERE {found}"
            )
        })
    });
    let values = params![device.as_str(), upstream_id, row];
    let (sql, values) = match row {
        Some(_) => (&QUERIES[2], values),
        // The queries by index name no `?3`, and take one value fewer.
        None => (&QUERIES[usize::from(conn.is_postgres())], &values[..2]),
    };
    conn.ask(sql, values, move |row| {
        Ok(AckSubject {
            id: row.get(0)?,
            upstream_id: Some(upstream_id.to_owned()),
            chat_id: row.get(1)?,
            ack: ack_at(row, 2)?,
            accepted_at: row
                .get::<Option<i64>>(3)?
                .and_then(DateTime::from_timestamp_millis),
            rowid: row.get(4)?,
        })
    })
}

/// The messages a batch of upstream reports acknowledges, read together before the batch is
/// applied: on PostgreSQL, one round trip for the batch instead of one for each ack. What the
/// batch does to them is kept here as it goes, so a later ack of the same message sees it.
pub struct AckSubjects {
    read: HashMap<String, Option<AckSubject>>,
}

impl AckSubjects {
    /// Reads the messages named by `upstream_ids`.
    pub fn read<'a>(
        tx: &Tx<'_>,
        device: &DeviceId,
        upstream_ids: impl IntoIterator<Item = &'a str>,
    ) -> StoreResult<AckSubjects> {
        let conn = tx.conn();
        let mut asked = Vec::new();
        let mut seen = HashSet::new();
        for upstream_id in upstream_ids.into_iter().filter(|id| seen.insert(*id)) {
            let row = tx.sent_rows.row_of(device, upstream_id);
            asked.push((
                upstream_id,
                row,
                ask_ack_subject(conn, device, upstream_id, row)?,
            ));
        }
        let mut read = HashMap::with_capacity(asked.len());
        for (upstream_id, row, asked) in asked {
            let found = conn.answer(asked)?;
            let subject = or_by_index(conn, device, upstream_id, row, found)?;
            read.insert(upstream_id.to_owned(), subject);
        }
        Ok(AckSubjects { read })
    }

    /// The message `upstream_id` names, as the batch left it so far; read now if it was not
    /// read before.
    pub fn get(
        &self,
        tx: &Tx<'_>,
        device: &DeviceId,
        upstream_id: &str,
    ) -> StoreResult<Option<AckSubject>> {
        if let Some(subject) = self.read.get(upstream_id) {
            return Ok(subject.clone());
        }
        Ok(AckSubjects::read(tx, device, [upstream_id])?
            .read
            .remove(upstream_id)
            .flatten())
    }

    /// Keeps what the batch changed of a message (its ack, [`Tx::merge_ack`]).
    pub fn changed(&mut self, subject: &AckSubject) {
        if let Some(upstream_id) = &subject.upstream_id {
            self.read.insert(upstream_id.clone(), Some(subject.clone()));
        }
    }

    /// Forgets every message read: the batch is about to change messages in another way
    /// (store one, move a chat's), and what comes after reads them again.
    pub fn forget(&mut self) {
        self.read.clear();
    }
}

impl Tx<'_> {
    /// Merges an ack into a message: updates `subject` and returns whether its ack changed.
    pub fn merge_ack(
        &mut self,
        device: &DeviceId,
        subject: &mut AckSubject,
        incoming: Ack,
    ) -> StoreResult<bool> {
        let Some(next) = subject.ack.merge(incoming) else {
            return Ok(false);
        };
        // Any ack ends the wait for the server's (see `queue::overdue_acks`); a message that
        // no longer waits keeps its `NULL`, which PostgreSQL counts as no change.
        match subject.rowid {
            Some(rowid) => self.write(
                "UPDATE messages SET ack = ?2, awaiting_ack_since = NULL WHERE rowid = ?1",
                params![rowid, next.level()],
            )?,
            None => {
                let device_number = self.device_number(device)?;
                self.write(
                    "UPDATE messages SET ack = ?3, awaiting_ack_since = NULL
                     WHERE device = ?1 AND id = ?2",
                    params![device_number, subject.id, next.level()],
                )?
            }
        }
        subject.ack = next;
        Ok(true)
    }
}
