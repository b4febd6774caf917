//! Opening the database: its file made private, the connection settings, the migrations, and
//! the writer and checkpointer threads started. Separate from the handle's everyday methods
//! because it runs once, and is where every setting of `storage.*` takes effect.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, Semaphore};

use super::checkpointer::{
    log_keeping, run_checkpointer, Checkpoints, LogCopied, TRUNCATE_PATIENCE,
};
use super::journal::packer::Packer;
use super::outage::Outage;
use super::readers::{ReaderPool, SQLITE_READERS};
use super::sql::params;
use super::synced_heads::SyncedHeads;
use super::syncer::Syncer;
use super::writer::{run_writer, Duties, QUEUE_DEPTH};
use super::{log_writes, migrations, spawn_thread, Conn, Store, StoreError, StoreResult};
use crate::bus::EventBus;
use crate::config::{StorageSettings, Synchronous};

/// Creates the database file with mode 0600 before SQLite opens it, and brings an existing
/// one (and its `-wal` and `-shm` files) to that mode: it holds webhook secrets and
/// connector tokens, as private as `jwt-secret`. SQLite creates `-wal` and `-shm` with the
/// database file's mode, so they follow.
fn make_private(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The journal's heads as the database at `path` holds them once opened by `conn`, with its
/// log synced first: whatever a daemon that stopped left in it, in the system's cache, is then
/// on the disk, as the heads say (see [`SyncedHeads`]).
fn synced_heads_of(conn: &Conn, path: &std::path::Path) -> StoreResult<SyncedHeads> {
    let mut log = path.as_os_str().to_owned();
    log.push("-wal");
    let synced = match std::fs::File::open(&log) {
        Ok(log) => log.sync_data(),
        // No log: everything is in the database file, which SQLite synced.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    };
    synced.map_err(|source| StoreError::SyncLog {
        path: path.to_owned(),
        source,
    })?;
    let heads = conn.query_all(
        "SELECT device_id, last_seq FROM device_seq",
        params![],
        |row| Ok((row.get::<String>(0)?, row.get::<i64>(1)? as u64)),
    )?;
    Ok(SyncedHeads::new(heads))
}

impl Store {
    /// Opens the database `storage.url` names: SQLite's file, or a PostgreSQL server.
    pub fn open(settings: &StorageSettings, bus: EventBus) -> StoreResult<Store> {
        match settings.postgres_url() {
            Some(url) => Store::open_postgres(url, bus),
            None => Store::open_sqlite(settings, bus),
        }
    }

    /// Opens (creating if needed) `devicebridge.db` in the data directory, migrates it and
    /// starts the writer.
    pub fn open_sqlite(settings: &StorageSettings, bus: EventBus) -> StoreResult<Store> {
        let path = settings.database_path();
        make_private(&path).map_err(|source| StoreError::Private {
            path: path.clone(),
            source,
        })?;
        // With `synchronous = FULL`, the writer's writes to the log are gathered into one a
        // commit (see `log_writes`): the sync that ends each commit fails it if they fail.
        let opened = match settings.synchronous {
            Synchronous::Full => match log_writes::register() {
                Ok(()) => Connection::open_with_flags_and_vfs(
                    &path,
                    OpenFlags::default(),
                    log_writes::VFS,
                ),
                Err(code) => Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(code),
                    Some("cannot register the VFS of the writer's log".into()),
                )),
            },
            Synchronous::Normal => Connection::open(&path),
        };
        let mut conn = opened.map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            match settings.synchronous {
                Synchronous::Full => "FULL",
                Synchronous::Normal => "NORMAL",
            },
        )?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Sorts and temporary indexes of the write path stay off the disk.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(&mut conn)?;
        // Checkpoints run on their own thread (see `run_checkpointer`), not inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let log_limit =
            i64::try_from(settings.wal_limit_mb.saturating_mul(1 << 20)).unwrap_or(i64::MAX);
        let checkpointer = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        // Cutting the log back or starting it over waits for readers and holds up writes
        // meanwhile (see `run_checkpointer`): it gives up soon and tries again later.
        checkpointer.busy_timeout(TRUNCATE_PATIENCE)?;
        let checkpoints = Checkpoints::new(checkpointer);
        let changes = bus.changes();

        let (writer, queue) = mpsc::channel(QUEUE_DEPTH);
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |row| row.get(0))?;
        let copied = LogCopied::default();
        let (keeping, woken) =
            log_keeping(checkpoints.clone(), copied.clone(), log_limit, page_size);
        let outage = Outage::on_disk(settings.data_dir.clone());
        let (writer_outage, checkpoint_outage) = (outage.clone(), outage.clone());
        let packer = Packer::start()?;
        let syncer = Syncer::start(bus.metrics().clone())?;
        let conn = Conn::sqlite_writer(conn);
        // Reads of the journal end at what is synced when the writer leaves syncs to the
        // syncer, which it does with `synchronous = FULL` (see `synced_heads`).
        let synced = match settings.synchronous {
            Synchronous::Full => Some(Arc::new(synced_heads_of(&conn, &path)?)),
            Synchronous::Normal => None,
        };
        let writer_synced = synced.clone();
        spawn_thread("writer", move || {
            run_writer(
                conn,
                queue,
                bus,
                Duties::Sqlite {
                    keeping,
                    syncer,
                    synced: writer_synced,
                },
                writer_outage,
                packer,
            );
        })?;
        // Should this fail, `writer` is dropped on the way out and the writer thread ends.
        spawn_thread("checkpoint", move || {
            run_checkpointer(
                checkpoints,
                woken,
                copied,
                log_limit,
                changes,
                checkpoint_outage,
            )
        })?;
        let readers = Arc::new(ReaderPool {
            open: Box::new(move || super::readers::open_sqlite(&path, synced.clone())),
            idle: Mutex::new(Vec::new()),
            turns: Arc::new(Semaphore::new(SQLITE_READERS)),
        });
        Ok(Store {
            writer,
            coordination: readers.clone(),
            readers,
            outage,
            fence: None,
        })
    }
}

#[cfg(test)]
mod tests {
    /// SQLite is built as `.cargo/config.toml` asks: without its memory statistics and without
    /// the page-cache group all connections share, whose mutexes the store writer took for
    /// every allocation and every page it fetched.
    #[test]
    fn sqlite_is_built_without_its_process_wide_mutexes() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let options: Vec<String> = conn
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
    }
}
