//! Device rows: definition, last state and linked session.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::messages::{DEVICE_NUMBER, NUMBERED_TABLES};
use super::sql::{params, Conn, Row};
use super::{StoreError, StoreResult, Tx};
use crate::bus::DeviceChange;
use crate::model::{event::Me, rfc3339, spec::DeviceSpec, DeviceId, StateName};

/// Where a device was declared: a file under `devices/` wins over the API for its definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSource {
    File,
    Api,
}

impl DeviceSource {
    fn as_str(self) -> &'static str {
        match self {
            DeviceSource::File => "file",
            DeviceSource::Api => "api",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRecord {
    pub id: DeviceId,
    pub name: String,
    pub connector: String,
    /// The device's definition (connector table, hooks) as JSON.
    pub settings: Value,
    pub source: DeviceSource,
    pub autostart: bool,
    /// Whether the device should be running: set by start, cleared when it stops or logs out.
    /// With `autostart`, it decides whether the device starts with the daemon.
    pub wants_running: bool,
    pub state: StateName,
    pub state_reason: Option<String>,
    /// The connector's linked credentials; `None` when not linked.
    pub session: Option<Value>,
    pub me: Option<Me>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DeviceRecord {
    /// A new device from its definition: stopped, not linked, wanting to run if it autostarts.
    pub fn new(id: DeviceId, spec: &DeviceSpec, source: DeviceSource) -> DeviceRecord {
        let now = Utc::now();
        DeviceRecord {
            id,
            name: spec.name.clone(),
            connector: spec.connector.as_str().into(),
            settings: serde_json::to_value(spec).expect("device specs serialize"),
            source,
            autostart: spec.autostart,
            wants_running: spec.autostart,
            state: StateName::Stopped,
            state_reason: None,
            session: None,
            me: None,
            created_at: now,
            updated_at: now,
        }
    }
}

const COLUMNS: &str = "id, name, connector, settings, source, autostart, wants_running, state, state_reason, session, me, created_at, updated_at";

fn from_row(row: &Row<'_>) -> StoreResult<DeviceRecord> {
    let json = |index: usize| -> StoreResult<Option<Value>> {
        let text: Option<String> = row.get(index)?;
        Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
    };
    let time = |index: usize| -> StoreResult<DateTime<Utc>> {
        let text: String = row.get(index)?;
        Ok(super::parse_time(&text))
    };
    let id: String = row.get(0)?;
    let state: String = row.get(7)?;
    Ok(DeviceRecord {
        id: DeviceId::parse(&id).map_err(|e| StoreError::Unreadable(e.to_string()))?,
        name: row.get(1)?,
        connector: row.get(2)?,
        settings: json(3)?.unwrap_or(Value::Null),
        source: if row.get::<String>(4)? == "file" {
            DeviceSource::File
        } else {
            DeviceSource::Api
        },
        autostart: row.get::<i64>(5)? != 0,
        wants_running: row.get::<i64>(6)? != 0,
        state: StateName::parse(&state).unwrap_or(StateName::Stopped),
        state_reason: row.get(8)?,
        session: json(9)?,
        me: json(10)?.and_then(|me| serde_json::from_value(me).ok()),
        created_at: time(11)?,
        updated_at: time(12)?,
    })
}

/// The ids of every device stored.
pub fn ids(conn: &Conn) -> StoreResult<Vec<DeviceId>> {
    conn.query_all("SELECT id FROM devices ORDER BY id", params![], |row| {
        DeviceId::parse(&row.get::<String>(0)?)
            .map_err(|error| StoreError::Unreadable(error.to_string()))
    })
}

pub fn list(conn: &Conn) -> StoreResult<Vec<DeviceRecord>> {
    conn.query_all(
        &format!("SELECT {COLUMNS} FROM devices ORDER BY id"),
        params![],
        from_row,
    )
}

/// How many devices are in each state (only the states that have some), for the metrics.
pub fn count_by_state(conn: &Conn) -> StoreResult<Vec<(String, u64)>> {
    conn.query_all(
        "SELECT state, COUNT(*) FROM devices GROUP BY state",
        params![],
        |row| Ok((row.get(0)?, row.get::<i64>(1)? as u64)),
    )
}

pub fn get(conn: &Conn, id: &DeviceId) -> StoreResult<Option<DeviceRecord>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM devices WHERE id = ?1"),
        params![id.as_str()],
        from_row,
    )
}

/// A device as a client's write reads it before it acts as the device.
#[derive(Debug, Clone, PartialEq)]
pub struct Speaker {
    /// The account it speaks as; `None` until it is linked.
    pub me: Option<Me>,
    /// Its connector's name.
    pub connector: String,
    /// Whether the chat [`speaker`] was asked about is one of the device's.
    pub has_chat: bool,
}

/// Device `id` as a client's write reads it before it acts as the device, `None` for no such
/// device; with `chat`, whether that chat is one of the device's too. Both are read in one
/// statement: a send asks both, for every message.
pub fn speaker(conn: &Conn, id: &DeviceId, chat: Option<&str>) -> StoreResult<Option<Speaker>> {
    let row: Option<(Option<String>, String, i64)> = conn.query_opt(
        "SELECT me, connector,
            CASE WHEN EXISTS (SELECT 1 FROM chats WHERE device_id = ?1 AND id = ?2) THEN 1 ELSE 0 END
         FROM devices WHERE id = ?1",
        params![id.as_str(), chat],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    Ok(row.map(|(me, connector, has_chat)| Speaker {
        me: me.and_then(|text| serde_json::from_str(&text).ok()),
        connector,
        has_chat: has_chat == 1,
    }))
}

impl Tx<'_> {
    pub fn device(&self, id: &DeviceId) -> StoreResult<Option<DeviceRecord>> {
        get(self.conn(), id)
    }

    /// Inserts a device, or replaces its definition (keeping state and session) if it exists.
    pub fn upsert_device(&mut self, record: &DeviceRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO devices (id, name, connector, settings, source, autostart, wants_running, state, state_reason, session, me, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, NULL, NULL, ?9, ?9)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, connector = excluded.connector,
                settings = excluded.settings, source = excluded.source, autostart = excluded.autostart,
                updated_at = excluded.updated_at",
            params![
                record.id.as_str(),
                record.name,
                record.connector,
                record.settings.to_string(),
                record.source.as_str(),
                i64::from(record.autostart),
                record.state.as_str(),
                record.state_reason,
                rfc3339(record.updated_at),
            ],
        )?;
        self.hold_simulator_numbers(record)?;
        self.device_changes
            .push(DeviceChange::Defined(record.id.clone()));
        Ok(())
    }

    pub fn delete_device(&mut self, id: &DeviceId) -> StoreResult<bool> {
        // The messages' words leave the index with them: those of this batch are put in first.
        self.index_new_words()?;
        self.delete_journal(id)?;
        self.delete_lease(id)?;
        self.release_simulator_numbers(id)?;
        for table in NUMBERED_TABLES {
            self.execute(
                &format!("DELETE FROM {table} WHERE device = {DEVICE_NUMBER}"),
                params![id.as_str()],
            )?;
        }
        for table in [
            "chats",
            "contacts",
            "contact_pictures",
            "simulator_plans",
            "simulator_groups",
            "linked_ids",
            "uploads",
            "outbound_actions",
            "governors",
        ] {
            self.execute(
                &format!("DELETE FROM {table} WHERE device_id = ?1"),
                params![id.as_str()],
            )?;
        }
        if self.conn().is_postgres() {
            self.execute(
                "DELETE FROM upload_chunks WHERE device_id = ?1",
                params![id.as_str()],
            )?;
        }
        let removed = self.execute("DELETE FROM devices WHERE id = ?1", params![id.as_str()])? > 0;
        if removed {
            self.device_changes.push(DeviceChange::Removed(id.clone()));
        }
        Ok(removed)
    }

    /// Records a state. Landing in `stopped` or `logged_out` also records that the device no
    /// longer wants to run, unless `keep_wanting` (a daemon shutdown) says it does.
    pub fn set_device_state(
        &mut self,
        id: &DeviceId,
        state: StateName,
        reason: Option<&str>,
        keep_wanting: bool,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE devices SET state = ?2, state_reason = ?3, wants_running = ?4, updated_at = ?5 WHERE id = ?1",
            params![
                id.as_str(),
                state.as_str(),
                reason,
                i64::from(
                    keep_wanting || !matches!(state, StateName::Stopped | StateName::LoggedOut)
                ),
                rfc3339(Utc::now())
            ],
        )?;
        Ok(())
    }

    /// Stores (or with `None`, wipes) the linked session and the account it speaks as.
    pub fn set_device_session(
        &mut self,
        id: &DeviceId,
        session: Option<&Value>,
        me: Option<&Me>,
    ) -> StoreResult<()> {
        self.execute(
            "UPDATE devices SET session = ?2, me = ?3, updated_at = ?4 WHERE id = ?1",
            params![
                id.as_str(),
                session.map(Value::to_string),
                me.map(|me| serde_json::to_string(me).expect("Me serializes")),
                rfc3339(Utc::now())
            ],
        )?;
        Ok(())
    }
}
