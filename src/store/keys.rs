//! API keys, stored as SHA-256 digests only.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{StoreResult, Tx};
use crate::model::rfc3339;

#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub id: String,
    pub name: String,
    pub key_sha256: String,
    pub devices: Vec<String>,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    let list = |index: usize| -> rusqlite::Result<Vec<String>> {
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

/// Keys that are not revoked.
pub fn list(conn: &Connection) -> StoreResult<Vec<KeyRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// An active key by its id.
pub fn get(conn: &Connection, id: &str) -> StoreResult<Option<KeyRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE id = ?1 AND revoked_at IS NULL"
    ))?;
    Ok(stmt.query_row([id], from_row).optional()?)
}

pub fn find_by_digest(conn: &Connection, key_sha256: &str) -> StoreResult<Option<KeyRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE key_sha256 = ?1 AND revoked_at IS NULL"
    ))?;
    Ok(stmt.query_row([key_sha256], from_row).optional()?)
}

/// Every key ever created, revoked ones included (a revoked admin key is no first run).
pub fn count(conn: &Connection) -> StoreResult<u64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM api_keys", [], |row| row.get(0))?)
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
        Ok(changed > 0)
    }
}
