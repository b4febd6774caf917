//! The `Idempotency-Key` a message was sent with: finding the message it names, and releasing
//! it so that the key names the next one.

use super::{message_row, MESSAGE_COLUMNS};
use crate::model::{DeviceId, Message};
use crate::store::sql::{params, Conn};
use crate::store::{StoreResult, Tx};

/// The message sent with this `Idempotency-Key`, if it was sent after `since`.
pub fn by_idempotency_key(
    conn: &Conn,
    device: &DeviceId,
    key: &str,
    since: &str,
) -> StoreResult<Option<Message>> {
    conn.query_opt(
        &format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE device_id = ?1 AND idempotency_key = ?2 AND created_at >= ?3"
        ),
        params![device.as_str(), key, since],
        message_row,
    )
}

impl Tx<'_> {
    /// Forgets which message an `Idempotency-Key` named, so that the key names the next one.
    pub fn release_idempotency_key(&self, device: &DeviceId, key: &str) -> StoreResult<()> {
        self.execute(
            "UPDATE messages SET idempotency_key = NULL WHERE device_id = ?1 AND idempotency_key = ?2",
            params![device.as_str(), key],
        )?;
        Ok(())
    }
}
