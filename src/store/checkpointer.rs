//! The checkpointer thread: it copies the write-ahead log back into the database file on its
//! own schedule, so that no commit pays for it, and keeps the log from growing without end
//! under a steady load. Separate from the writer because it runs beside it, on its own
//! connection, and only hands it the little work that must happen between two commits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::Connection;

use super::outage::{self, Outage};
use crate::bus::Changes;

/// How often the write-ahead log is copied back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// How long cutting the log back waits for readers to finish before it gives up.
pub(super) const TRUNCATE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(100);

/// Set by the checkpointer when it has copied the log into the database file, for the writer
/// to copy the rest (see [`run_checkpointer`]).
#[derive(Clone, Default)]
pub(super) struct LogCopied(Arc<AtomicBool>);

impl LogCopied {
    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub(super) fn take(&self) -> bool {
        self.0.swap(false, Ordering::Acquire)
    }
}

/// Runs a checkpoint of the write-ahead log and returns how many frames the log holds
/// afterwards; `None` if it failed or could not finish (a mode that waits for readers gave
/// up), which the next one retries. One that fails because the database file cannot be
/// written is part of an outage, logged once with it.
pub(super) fn checkpoint(conn: &Connection, mode: &str, outage: &Outage) -> Option<i64> {
    let pragma = format!("PRAGMA wal_checkpoint({mode})");
    match conn.query_row(&pragma, [], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
    }) {
        Ok((0, frames)) => Some(frames),
        Ok(_busy) => None,
        Err(error) if outage::is_unwritable(&error) => {
            outage.failed(&error);
            None
        }
        Err(error) => {
            tracing::warn!(%error, mode, "a WAL checkpoint failed; the next one retries");
            None
        }
    }
}

/// Copies the write-ahead log into the database file every [`CHECKPOINT_EVERY`] until the
/// writer stops. SQLite would otherwise do it inside whichever commit crosses its threshold,
/// and that commit (and every write waiting behind it) would pay for copying and syncing
/// thousands of pages. A passive checkpoint never blocks the writer or the readers.
///
/// SQLite writes the log from its beginning again only when a write starts with all of it
/// copied, which a steady stream of writes never allows: frames are appended while a
/// checkpoint copies. At the load tool's send rate the log grew by 70–100 MB a second for as
/// long as the load lasted, and a crash left all of it to replay at the next start. So once
/// the log is past `log_limit` bytes (`storage.wal_limit_mb`), a round copies a second time
/// (only what was appended during the first) and the writer, between two of its commits,
/// copies the little that is left ([`run_writer`](super::writer::run_writer)). That stalls the
/// writer for a few milliseconds, which is why it waits for the limit instead of happening
/// every round.
///
/// When the log starts over, its file keeps its size and new frames overwrite the old ones:
/// having SQLite cut the file back there (`journal_size_limit`) made the first commit after
/// each restart take 15–40 ms, the largest stalls a steady load saw. The file is cut back to
/// nothing instead once writes stop: a round that finds the log as the previous round left
/// it, all copied, truncates it. That blocks writes while it runs, so it runs only then, and
/// gives up after [`TRUNCATE_PATIENCE`] if a reader is still on the log.
pub(super) fn run_checkpointer(
    conn: Connection,
    writer_gone: std::sync::mpsc::Receiver<()>,
    copied: LogCopied,
    log_limit: i64,
    changes: Changes,
    outage: Outage,
) {
    let page_size: i64 = conn
        .pragma_query_value(None, "page_size", |row| row.get(0))
        .unwrap_or(4096);
    let mut previous = 0;
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
        writer_gone.recv_timeout(CHECKPOINT_EVERY)
    {
        let frames = checkpoint(&conn, "PASSIVE", &outage).unwrap_or(0);
        if frames * page_size > log_limit {
            checkpoint(&conn, "PASSIVE", &outage);
            copied.set();
        } else if frames > 0
            && frames == previous
            && checkpoint(&conn, "TRUNCATE", &outage) == Some(0)
        {
            changes.bump();
        }
        previous = frames;
    }
    checkpoint(&conn, "TRUNCATE", &outage);
}
