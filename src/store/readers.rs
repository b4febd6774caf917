//! The read connections: a small pool of read-only connections, opened as reads need them and
//! kept for the next. Separate from the writer's single connection because WAL mode lets these
//! read while the writer commits.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::StoreResult;

pub(super) struct ReaderPool {
    pub(super) path: PathBuf,
    pub(super) idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    pub(super) fn with<R>(&self, op: impl FnOnce(&Connection) -> StoreResult<R>) -> StoreResult<R> {
        let pooled = self.idle.lock().expect("reader pool lock").pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn
            }
        };
        let result = op(&conn);
        self.idle.lock().expect("reader pool lock").push(conn);
        result
    }
}
