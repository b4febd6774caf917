//! The `Idempotency-Key` a message was sent with: finding the message it names, and releasing
//! it so that the key names the next one.

use super::{message_row, DEVICE_NUMBER, MESSAGE_COLUMNS};
use crate::model::{DeviceId, Message};
use crate::store::sql::{params, Conn};
use crate::store::{StoreResult, Tx};
use chrono::{DateTime, Utc};

/// The message sent with this `Idempotency-Key`, if it was sent after `since`.
pub fn by_idempotency_key(
    conn: &Conn,
    device: &DeviceId,
    key: &str,
    since: DateTime<Utc>,
) -> StoreResult<Option<Message>> {
    let columns = &*MESSAGE_COLUMNS;
    conn.query_opt(
        &format!(
            "SELECT {columns} FROM messages
             WHERE device = {DEVICE_NUMBER} AND idempotency_key = ?2 AND created_at >= ?3"
        ),
        params![device.as_str(), key, since.timestamp_millis()],
        message_row,
    )
}

impl Tx<'_> {
    /// Forgets which message an `Idempotency-Key` named, so that the key names the next one.
    pub fn release_idempotency_key(&mut self, device: &DeviceId, key: &str) -> StoreResult<()> {
        let device_number = self.device_number(device)?;
        self.execute(
            "UPDATE messages SET idempotency_key = NULL WHERE device = ?1 AND idempotency_key = ?2",
            params![device_number, key],
        )?;
        Ok(())
    }
}
