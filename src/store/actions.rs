//! What our side did that the upstream must be told (read receipts, reactions, revocations,
//! archiving, blocking), kept until it has been told.
//!
//! An action is stored in the same write as the change it reports, before the client's
//! answer, so an answered action reaches the upstream even if the device was not ready then,
//! the upstream was down, or the daemon stopped in between. The device's relay tells them,
//! in order, after its messages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::messages::DEVICE_NUMBER;
use super::sql::{params, Conn};
use super::{parse_time, StoreResult, Tx};
use crate::model::{rfc3339, DeviceId};

/// One action, as stored. Reactions and revocations name our message rather than its
/// upstream id: a message still in the relay queue has none yet, and the action waits for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    MarkRead {
        upstream_ids: Vec<String>,
    },
    React {
        message_id: String,
        emoji: String,
    },
    Revoke {
        message_id: String,
    },
    Archive {
        archived: bool,
    },
    MarkUnread {
        unread: bool,
    },
    Edit {
        message_id: String,
        text: String,
    },
    Vote {
        message_id: String,
        options: Vec<String>,
    },
    /// The chat's contact was blocked (or unblocked).
    Block {
        blocked: bool,
    },
}

impl Action {
    fn message_id(&self) -> Option<&str> {
        match self {
            Action::React { message_id, .. }
            | Action::Revoke { message_id }
            | Action::Edit { message_id, .. }
            | Action::Vote { message_id, .. } => Some(message_id),
            Action::MarkRead { .. }
            | Action::Archive { .. }
            | Action::MarkUnread { .. }
            | Action::Block { .. } => None,
        }
    }
}

/// What became of the message an action is about, when the action was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The action is about the chat alone.
    Chat,
    /// The upstream knows the message under this id.
    Known(String),
    /// The message is still in the relay queue.
    Queued,
    /// The message never reached the upstream and never will (it failed or was withdrawn).
    Lost,
}

/// An action waiting to be told, with the chat it belongs to.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub chat_id: String,
    pub action: Action,
    pub subject: Subject,
    /// Attempts made so far.
    pub attempts: u32,
    /// Not before this time, after a failed attempt.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl Tx<'_> {
    /// Keeps `action` in `chat_id` for the upstream.
    pub fn queue_action(
        &mut self,
        device: &DeviceId,
        chat_id: &str,
        action: &Action,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO outbound_actions (device_id, chat_id, message_id, action, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                device.as_str(),
                chat_id,
                action.message_id(),
                serde_json::to_string(action)?,
                rfc3339(Utc::now()),
            ],
        )?;
        Ok(())
    }

    /// The upstream was told, or never will be: the action is done.
    pub fn finish_action(&mut self, id: i64) -> StoreResult<()> {
        self.execute("DELETE FROM outbound_actions WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// A transient failure: try again at `at`.
    pub fn retry_action(&mut self, id: i64, attempts: u32, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(
            "UPDATE outbound_actions SET attempts = ?2, next_attempt_at = ?3 WHERE id = ?1",
            params![id, i64::from(attempts), rfc3339(at)],
        )?;
        Ok(())
    }
}

/// The oldest `limit` actions of a device, in the order they were taken.
pub fn pending(conn: &Conn, device: &DeviceId, limit: u32) -> StoreResult<Vec<Pending>> {
    let sql = format!(
        "SELECT a.id, a.chat_id, a.action, a.attempts, a.next_attempt_at,
                CASE WHEN a.message_id IS NULL THEN 1 ELSE 0 END, m.upstream_id, m.relay_status
         FROM outbound_actions a
         LEFT JOIN messages m ON m.id = a.message_id AND m.device = {DEVICE_NUMBER}
         WHERE a.device_id = ?1 ORDER BY a.id LIMIT ?2"
    );
    conn.query_all(&sql, params![device.as_str(), i64::from(limit)], |row| {
        let about_chat = row.get::<i64>(5)? != 0;
        let upstream_id: Option<String> = row.get(6)?;
        let relay_status: Option<String> = row.get(7)?;
        let subject = match (about_chat, upstream_id, relay_status.as_deref()) {
            (true, _, _) => Subject::Chat,
            (false, Some(upstream_id), _) => Subject::Known(upstream_id),
            (false, None, Some("queued" | "retrying")) => Subject::Queued,
            (false, None, _) => Subject::Lost,
        };
        let action: String = row.get(2)?;
        let next_attempt_at: Option<String> = row.get(4)?;
        Ok(Pending {
            id: row.get(0)?,
            chat_id: row.get(1)?,
            action: serde_json::from_str(&action)?,
            subject,
            attempts: row.get::<i64>(3)?.try_into().unwrap_or(u32::MAX),
            next_attempt_at: next_attempt_at.as_deref().map(parse_time),
        })
    })
}
