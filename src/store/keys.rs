//! API keys, stored as SHA-256 digests only.

use super::sql::{params, Conn, Row};
use super::{StoreResult, Tx};
use crate::model::rfc3339;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    pub key_sha256: String,
    pub devices: Vec<String>,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
}

fn from_row(row: &Row<'_>) -> StoreResult<KeyRecord> {
    let list = |index: usize| -> StoreResult<Vec<String>> {
        let text: String = row.get(index)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    let created: String = row.get(5)?;
    Ok(KeyRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        key_sha256: row.get(2)?,
        devices: list(3)?,
        scopes: list(4)?,
        created_at: super::parse_time(&created),
    })
}

const COLUMNS: &str = "id, name, key_sha256, devices, scopes, created_at";

/// The ids of the keys revoked. A key's row stays once it is revoked, so this is every key
/// whose credentials no longer work.
pub fn revoked_ids(conn: &Conn) -> StoreResult<std::collections::HashSet<String>> {
    let ids = conn.query_all(
        "SELECT id FROM api_keys WHERE revoked_at IS NOT NULL",
        params![],
        |row| row.get(0),
    )?;
    Ok(ids.into_iter().collect())
}

/// Keys that are not revoked.
pub fn list(conn: &Conn) -> StoreResult<Vec<KeyRecord>> {
    conn.query_all(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id"),
        params![],
        from_row,
    )
}

/// An active key by its id.
pub fn get(conn: &Conn, id: &str) -> StoreResult<Option<KeyRecord>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE id = ?1 AND revoked_at IS NULL"),
        params![id],
        from_row,
    )
}

pub fn find_by_digest(conn: &Conn, key_sha256: &str) -> StoreResult<Option<KeyRecord>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE key_sha256 = ?1 AND revoked_at IS NULL"),
        params![key_sha256],
        from_row,
    )
}

/// Every key ever created, revoked ones included (a revoked admin key is no first run).
pub fn count(conn: &Conn) -> StoreResult<u64> {
    let count: i64 =
        conn.query_one("SELECT COUNT(*) FROM api_keys", params![], |row| row.get(0))?;
    Ok(count as u64)
}

impl Tx<'_> {
    pub fn insert_key(&mut self, key: &KeyRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO api_keys (id, name, key_sha256, devices, scopes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                key.id,
                key.name,
                key.key_sha256,
                serde_json::to_string(&key.devices)?,
                serde_json::to_string(&key.scopes)?,
                rfc3339(key.created_at)
            ],
        )?;
        Ok(())
    }

    /// Revokes a key; false if there was no such active key.
    pub fn revoke_key(&mut self, id: &str) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, rfc3339(Utc::now())],
        )?;
        if changed > 0 {
            self.revoked_keys.push(id.to_owned());
        }
        Ok(changed > 0)
    }
}
