//! The read connections: a small pool of connections, opened as reads need them and kept for
//! the next. Separate from the writer's single connection because reads go on while the writer
//! commits (on SQLite, thanks to WAL mode).
//!
//! A PostgreSQL server takes a bounded number of connections (100 by default), each a process
//! of its own, shared by every daemon of a database: reads there go through at most
//! [`POSTGRES_READERS`] connections, and wait for one beyond that. SQLite's connections are
//! files opened in the daemon and need no bound but the runtime's blocking threads.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use rusqlite::{Connection, OpenFlags};

use super::{Conn, StoreResult};

/// The most read connections a daemon opens to PostgreSQL.
pub const POSTGRES_READERS: usize = 16;

pub(super) struct ReaderPool {
    /// Opens one more read connection.
    pub(super) open: Box<dyn Fn() -> StoreResult<Conn> + Send + Sync>,
    pub(super) idle: Mutex<Vec<Conn>>,
    /// Turns to read, when the connections are bounded.
    pub(super) turns: Option<Arc<Semaphore>>,
}

/// A read-only connection to the SQLite database at `path`.
pub(super) fn open_sqlite(path: &Path) -> StoreResult<Conn> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(Conn::sqlite(conn))
}

impl ReaderPool {
    pub(super) fn with<R>(&self, op: impl FnOnce(&Conn) -> StoreResult<R>) -> StoreResult<R> {
        let pooled = self.idle.lock().expect("reader pool lock").pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => (self.open)()?,
        };
        let result = op(&conn);
        if !conn.is_lost() {
            self.idle.lock().expect("reader pool lock").push(conn);
        }
        result
    }
}
