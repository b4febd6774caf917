//! What the store knows of uploaded files (see [`crate::device::uploads`]): a row is written
//! only once its bytes are kept, so a row always has them. A single node keeps the bytes as a
//! file; on PostgreSQL, which a cluster's nodes share, the store keeps them too
//! (`upload_chunks`, in pieces of at most [`CHUNK_BYTES`]), written in the row's own commit.

use std::collections::HashSet;

use super::sql::{params, Conn};
use super::{StoreResult, Tx};
use crate::model::{rfc3339, DeviceId};
use chrono::{DateTime, Utc};

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub mime: String,
    pub name: Option<String>,
    pub size: u64,
}

/// Upload `id` of `device`, if it exists.
pub fn find(conn: &Conn, device: &DeviceId, id: &str) -> StoreResult<Option<Upload>> {
    conn.query_opt(
        "SELECT mime, name, size FROM uploads WHERE device_id = ?1 AND id = ?2",
        params![device.as_str(), id],
        |row| {
            Ok(Upload {
                id: id.to_owned(),
                mime: row.get(0)?,
                name: row.get(1)?,
                size: row.get::<i64>(2)? as u64,
            })
        },
    )
}

/// Every upload, as (device, id): what the files on disk are checked against.
pub fn all(conn: &Conn) -> StoreResult<HashSet<(String, String)>> {
    let all = conn.query_all("SELECT device_id, id FROM uploads", params![], |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?;
    Ok(all.into_iter().collect())
}

/// The largest piece of an upload's bytes the store keeps in one row: small enough that
/// reading an upload holds one piece at a time, large enough that a 16 MiB file is 64 rows.
pub const CHUNK_BYTES: usize = 256 << 10;

/// Piece `n` of upload `id`'s bytes, if the store keeps it (PostgreSQL only).
pub fn chunk(conn: &Conn, device: &DeviceId, id: &str, n: u64) -> StoreResult<Option<Vec<u8>>> {
    conn.query_opt(
        "SELECT data FROM upload_chunks WHERE device_id = ?1 AND upload_id = ?2 AND n = ?3",
        params![device.as_str(), id, n as i64],
        |row| row.get(0),
    )
}

impl Tx<'_> {
    /// Keeps piece `n` of upload `id`'s bytes (PostgreSQL only).
    pub fn keep_upload_chunk(
        &mut self,
        device: &DeviceId,
        id: &str,
        n: u64,
        data: &[u8],
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO upload_chunks (device_id, upload_id, n, data) VALUES (?1, ?2, ?3, ?4)",
            params![device.as_str(), id, n as i64, data],
        )?;
        Ok(())
    }

    /// Records an upload whose bytes are kept.
    pub fn record_upload(&mut self, device: &DeviceId, upload: &Upload) -> StoreResult<()> {
        self.execute(
            "INSERT INTO uploads (device_id, id, mime, name, size, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                device.as_str(),
                upload.id,
                upload.mime,
                upload.name,
                i64::try_from(upload.size).unwrap_or(i64::MAX),
                rfc3339(Utc::now())
            ],
        )?;
        Ok(())
    }

    /// Forgets the uploads made before `cutoff`, with the bytes the store keeps of them;
    /// returns them as (device, id), for their files to be removed.
    pub fn forget_uploads_before(
        &mut self,
        cutoff: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, String)>> {
        let cutoff = rfc3339(cutoff);
        if self.conn().is_postgres() {
            self.execute(
                "DELETE FROM upload_chunks c USING uploads u
                 WHERE c.device_id = u.device_id AND c.upload_id = u.id AND u.created_at < ?1",
                params![cutoff],
            )?;
        }
        self.conn().query_all(
            "DELETE FROM uploads WHERE created_at < ?1 RETURNING device_id, id",
            params![cutoff],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
    }
}
