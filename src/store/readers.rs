//! The read connections: a small pool of connections, opened as reads need them and kept for
//! the next. Separate from the writer's single connection because reads go on while the writer
//! commits (on SQLite, thanks to WAL mode).
//!
//! Reads go through at most so many connections, and wait for one beyond that:
//!
//! - a PostgreSQL server takes a bounded number of connections (100 by default), each a process
//!   of its own, shared by every daemon of a database: [`POSTGRES_READERS`];
//! - a SQLite connection lives in the daemon, with a page cache of its own that fills up to
//!   2 MiB with what it read (SQLite's default `cache_size`), and the pool keeps every
//!   connection it opened: bounded only by the runtime's 512 blocking threads, a restart
//!   that loaded a large fleet at once left hundreds of connections and their caches behind
//!   (`docs/performance.md`, fleet: RSS). Reads on SQLite
//!   are CPU work on a file in the system's page cache, which more connections than cores do
//!   not speed up: [`SQLITE_READERS`], whose caches hold at most 16 MiB together.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use rusqlite::{Connection, OpenFlags};

use super::synced_heads::SyncedHeads;
use super::{Conn, StoreResult};

/// The most read connections a daemon opens to PostgreSQL.
pub const POSTGRES_READERS: usize = 16;
/// The most read connections a daemon opens to its SQLite database.
pub const SQLITE_READERS: usize = 8;

pub(super) struct ReaderPool {
    /// Opens one more read connection.
    pub(super) open: Box<dyn Fn() -> StoreResult<Conn> + Send + Sync>,
    pub(super) idle: Mutex<Vec<Conn>>,
    /// Turns to read: one for each connection the pool may open.
    pub(super) turns: Arc<Semaphore>,
}

/// A read-only connection to the SQLite database at `path`, which reads the journal only as
/// far as `synced` says it is on the disk, if given (see [`SyncedHeads`]).
pub(super) fn open_sqlite(path: &Path, synced: Option<Arc<SyncedHeads>>) -> StoreResult<Conn> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(match synced {
        Some(synced) => Conn::sqlite_synced(conn, synced),
        None => Conn::sqlite(conn),
    })
}

impl ReaderPool {
    /// Runs `op` on an idle connection, or a new one. A PostgreSQL connection learns that the
    /// server closed it (a restart, an idle timeout) only when it is next used: `op` failing on
    /// a kept connection that turns out lost runs again, once, on a new one.
    pub(super) fn with<R>(&self, op: impl Fn(&Conn) -> StoreResult<R>) -> StoreResult<R> {
        let pooled = self.idle.lock().expect("reader pool lock").pop();
        if let Some(conn) = pooled {
            let (result, lost) = self.run(conn, &op);
            if result.is_ok() || !lost {
                return result;
            }
        }
        self.run((self.open)()?, &op).0
    }

    /// Runs `op` on `conn`, then keeps `conn` for the next read unless it turned out lost;
    /// says which.
    fn run<R>(&self, conn: Conn, op: &impl Fn(&Conn) -> StoreResult<R>) -> (StoreResult<R>, bool) {
        let result = op(&conn);
        let lost = conn.is_lost();
        if !lost {
            self.idle.lock().expect("reader pool lock").push(conn);
        }
        (result, lost)
    }
}
