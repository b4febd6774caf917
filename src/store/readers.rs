//! The read connections: a small pool of connections, opened as reads need them and kept for
//! the next. Separate from the writer's single connection because reads go on while the writer
//! commits (on SQLite, thanks to WAL mode).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::{Conn, StoreResult};

pub(super) struct ReaderPool {
    /// Opens one more read connection.
    pub(super) open: Box<dyn Fn() -> StoreResult<Conn> + Send + Sync>,
    pub(super) idle: Mutex<Vec<Conn>>,
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
