//! Contacts' profile pictures as the daemon keeps them to serve them (see
//! `device::pictures`): the bytes and type of each, or the news that a contact has none (no
//! type, no bytes), with when the upstream said so. They live in the database rather than on a node's disk so that
//! every node of a cluster serves them, and their bytes are held to a budget, the oldest
//! going first.

use chrono::{DateTime, Utc};

use super::sql::{params, Conn};
use super::{parse_time, StoreResult, Tx};
use crate::model::{rfc3339, upstream::Picture, DeviceId};

/// A contact's picture as kept: `None` when the upstream said they have none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptPicture {
    pub picture: Option<Picture>,
    pub fetched_at: DateTime<Utc>,
}

/// The picture kept for contact `contact` of `device`, if one is.
pub fn kept(conn: &Conn, device: &DeviceId, contact: &str) -> StoreResult<Option<KeptPicture>> {
    conn.query_opt(
        "SELECT mime, data, fetched_at FROM contact_pictures
         WHERE device_id = ?1 AND contact_id = ?2",
        params![device.as_str(), contact],
        |row| {
            let mime: Option<String> = row.get(0)?;
            let bytes: Vec<u8> = row.get(1)?;
            let fetched_at: String = row.get(2)?;
            Ok(KeptPicture {
                picture: mime.map(|mime| Picture { mime, bytes }),
                fetched_at: parse_time(&fetched_at),
            })
        },
    )
}

/// How many bytes of pictures are kept, over every device.
#[cfg(test)]
pub fn kept_bytes(conn: &Conn) -> StoreResult<u64> {
    let bytes: i64 = conn.query_one(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM contact_pictures",
        params![],
        |row| row.get(0),
    )?;
    Ok(bytes.try_into().unwrap_or_default())
}

impl Tx<'_> {
    /// Keeps what the upstream said of a contact's picture at `fetched_at`, in place of what
    /// was kept before, then lets go of the oldest pictures until those kept take at most
    /// `budget` bytes. A picture larger than the whole budget is not kept at all.
    pub fn keep_picture(
        &mut self,
        device: &DeviceId,
        contact: &str,
        picture: Option<&Picture>,
        fetched_at: DateTime<Utc>,
        budget: u64,
    ) -> StoreResult<()> {
        let size = picture.map_or(0, |picture| picture.bytes.len() as u64);
        if size > budget {
            self.execute(
                "DELETE FROM contact_pictures WHERE device_id = ?1 AND contact_id = ?2",
                params![device.as_str(), contact],
            )?;
            return Ok(());
        }
        self.execute(
            "INSERT INTO contact_pictures (device_id, contact_id, mime, data, size, fetched_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (device_id, contact_id) DO UPDATE SET mime = excluded.mime,
                data = excluded.data, size = excluded.size, fetched_at = excluded.fetched_at",
            params![
                device.as_str(),
                contact,
                picture.map(|picture| picture.mime.as_str()),
                picture.map_or(&[][..], |picture| picture.bytes.as_slice()),
                i64::try_from(size).unwrap_or(i64::MAX),
                rfc3339(fetched_at)
            ],
        )?;
        // Newest first, each row with the bytes of those newer than it and its own: the rows
        // past the budget go.
        self.execute(
            "DELETE FROM contact_pictures WHERE (device_id, contact_id) IN (
                SELECT device_id, contact_id FROM (
                    SELECT device_id, contact_id, CAST(SUM(size) OVER (
                        ORDER BY fetched_at DESC, device_id, contact_id
                        ROWS UNBOUNDED PRECEDING) AS BIGINT) AS kept
                    FROM contact_pictures WHERE size > 0) AS newest_first
                WHERE kept > ?1)",
            params![i64::try_from(budget).unwrap_or(i64::MAX)],
        )?;
        Ok(())
    }
}
