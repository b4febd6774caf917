//! What the store knows of uploaded files (see [`crate::device::uploads`]): a row is written
//! only once its file is on disk, so a row always has its file.

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

impl Tx<'_> {
    /// Records an upload whose file is on disk.
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

    /// Forgets the uploads made before `cutoff`; returns them as (device, id), for their
    /// files to be removed.
    pub fn forget_uploads_before(
        &mut self,
        cutoff: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, String)>> {
        self.conn().query_all(
            "DELETE FROM uploads WHERE created_at < ?1 RETURNING device_id, id",
            params![rfc3339(cutoff)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
    }
}
