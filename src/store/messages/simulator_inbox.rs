//! The simulated phones' inboxes: what the built-in simulator's other side received, once per
//! message, so that tests and the dashboard can see what a device really delivered.

use super::{time_of, DEVICE_NUMBER};
use crate::model::{content::Content, DeviceId, Message};
use crate::store::sql::{params, Asked, Conn, Row};
use crate::store::{StoreResult, Tx};
use chrono::{DateTime, Utc};
use std::sync::LazyLock;

/// One message as the simulated phone received it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct InboxEntry {
    pub message_id: String,
    pub upstream_id: String,
    pub chat_id: String,
    /// The message's type: `text`, `voice`, `location`, `poll`, ….
    #[serde(rename = "type")]
    pub kind: String,
    pub body: String,
    /// A place, cards or a poll, as the phone received them.
    #[serde(flatten)]
    #[cfg_attr(test, ts(flatten))]
    pub content: Content,
    #[schema(format = DateTime)]
    pub received_at: String,
}

/// Everything a simulated phone received, in the order it arrived.
pub fn simulator_inbox(conn: &Conn, device: &DeviceId) -> StoreResult<Vec<InboxEntry>> {
    // `rowid` is SQLite's own row number; PostgreSQL's table has a column of that name.
    conn.query_all(
        &format!(
            "SELECT message_id, upstream_id, chat_id, body, received_at, kind, content
             FROM simulator_inbox WHERE device = {DEVICE_NUMBER} ORDER BY rowid"
        ),
        params![device.as_str()],
        |row| {
            Ok(InboxEntry {
                message_id: row.get(0)?,
                upstream_id: row.get(1)?,
                chat_id: row.get(2)?,
                body: row.get(3)?,
                received_at: time_of(row.get(4)?),
                kind: row
                    .get::<Option<String>>(5)?
                    .unwrap_or_else(|| "text".into()),
                content: row
                    .get::<Option<String>>(6)?
                    .and_then(|content| serde_json::from_str(&content).ok())
                    .unwrap_or_default(),
            })
        },
    )
}

impl Tx<'_> {
    /// The simulated phone receives a message, and owes its `plan` for it (see
    /// [`super::simulator_duties`]): once per message id, so a resend after a crash or an ack
    /// timeout is recognised, and keeps the upstream id and plan it got the first time. Its
    /// upstream id, and whether it is new, are read later ([`Receipt::read`]), so that the
    /// receipts of a relay's batch share a round trip.
    pub fn simulator_receive(
        &mut self,
        device: &DeviceId,
        message: &Message,
        upstream_id: &str,
        now: DateTime<Utc>,
        plan: &str,
    ) -> StoreResult<Receipt> {
        let content = match message.content.is_plain() {
            true => None,
            false => Some(serde_json::to_string(&message.content)?),
        };
        const RECEIVED: &str = "INSERT INTO simulator_inbox (device, message_id, upstream_id,
                chat_id, body, received_at, kind, content)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (device, message_id) DO NOTHING";
        let number = self.device_number(device)?;
        let values = params![
            number,
            message.id,
            upstream_id,
            message.chat_id,
            message.body,
            now.timestamp_millis(),
            message.kind,
            content,
            device.as_str(),
            plan
        ];
        let conn = self.conn();
        // PostgreSQL stores the plan with the row, in the same statement, so that a relay's
        // batch of receipts still shares one round trip; SQLite, whose statements are no
        // round trip, once the row's number is read.
        let (new, plan) = match conn.is_postgres() {
            true => {
                static RECEIVED_WITH_PLAN: LazyLock<String> = LazyLock::new(|| {
                    format!(
                        "WITH new AS ({RECEIVED} RETURNING rowid), planned AS (
                            INSERT INTO simulator_plans (device_id, inbox_row, plan)
                            SELECT ?9, rowid, ?10 FROM new)
                         SELECT rowid FROM new"
                    )
                });
                let new = conn.ask(&RECEIVED_WITH_PLAN, values, inbox_row as InboxRow)?;
                (new, None)
            }
            false => {
                let new = Asked::known(conn.insert_rowid(RECEIVED, &values[..8])?);
                (new, Some(plan.to_owned()))
            }
        };
        Ok(Receipt {
            new,
            upstream_id: upstream_id.to_owned(),
            plan,
        })
    }
}

/// Reads an inbox row's number.
type InboxRow = fn(&Row<'_>) -> StoreResult<i64>;

fn inbox_row(row: &Row<'_>) -> StoreResult<i64> {
    row.get(0)
}

/// A message the simulated phone received ([`Tx::simulator_receive`]), whether it is new not
/// read yet.
pub struct Receipt {
    /// The inbox's new row, if the message is new.
    new: Asked<i64, InboxRow>,
    /// The upstream id the message gets if it is new.
    upstream_id: String,
    /// The plan, if it is still to be stored with the new row.
    plan: Option<String>,
}

/// Where the simulated phone keeps a message it received ([`Receipt::read`]).
pub struct Received {
    /// The message's upstream id: one received before keeps the upstream id it got then.
    pub upstream_id: String,
    /// The row of the phone's inbox that holds it, and the plan made for it.
    pub row: i64,
    /// Whether this is the first time the phone receives it.
    pub first: bool,
}

impl Receipt {
    /// Where the message is kept, and whether it is new.
    pub fn read(self, conn: &Conn, device: &DeviceId, message: &Message) -> StoreResult<Received> {
        if let Some(row) = conn.answer(self.new)? {
            if let Some(plan) = self.plan {
                conn.write(
                    "INSERT INTO simulator_plans (device_id, inbox_row, plan) VALUES (?1, ?2, ?3)",
                    params![device.as_str(), row, plan],
                )?;
            }
            return Ok(Received {
                upstream_id: self.upstream_id,
                row,
                first: true,
            });
        }
        conn.query_one(
            &format!(
                "SELECT upstream_id, rowid FROM simulator_inbox
                 WHERE device = {DEVICE_NUMBER} AND message_id = ?2"
            ),
            params![device.as_str(), message.id],
            |row| {
                Ok(Received {
                    upstream_id: row.get(0)?,
                    row: row.get(1)?,
                    first: false,
                })
            },
        )
    }
}
