//! Statistics for PostgreSQL's planner on a new database.
//!
//! A session keeps the plan of each statement it prepared, made from the statistics of the
//! moment: on a new database there are none, and every index that starts with the device's
//! id looks as good as the one made for a lookup. The session can then keep a plan that scans
//! the device's part of another index for each message it looks up, and keeps it until the
//! server's autovacuum first analyzes the table, up to a minute or more later (measured in
//! docs/performance.md, PostgreSQL). So the writer analyzes a database that was never
//! analyzed once it has written enough for the statistics to say something; every session
//! plans its statements again after that.

use super::{Conn, StoreResult};

/// Writes committed before the writer analyzes a database that was never analyzed.
pub(super) const ANALYZE_AFTER_WRITES: usize = 1_000;

/// Counts the writes committed until the database is worth analyzing.
pub(super) struct Statistics {
    committed: usize,
}

impl Statistics {
    /// For a PostgreSQL database whose messages were never analyzed; `None` otherwise (and on
    /// SQLite, whose planner prefers a unique index by its rules, whatever it knows).
    pub(super) fn wanted(conn: &Conn) -> StoreResult<Option<Statistics>> {
        if !conn.is_postgres() {
            return Ok(None);
        }
        let never = conn.exists(
            "SELECT 1 FROM pg_stat_user_tables WHERE relname = 'messages'
                AND last_analyze IS NULL AND last_autoanalyze IS NULL",
            super::sql::params![],
        )?;
        Ok(never.then_some(Statistics { committed: 0 }))
    }

    /// Counts `writes` more committed; once there are enough, analyzes the database, between
    /// two group commits. Returns whether that is done.
    pub(super) fn committed(&mut self, conn: &Conn, writes: usize) -> bool {
        self.committed += writes;
        if self.committed < ANALYZE_AFTER_WRITES {
            return false;
        }
        match conn.execute_batch("ANALYZE") {
            Ok(()) => tracing::info!("analyzed the new database for PostgreSQL's planner"),
            Err(error) => {
                tracing::warn!(%error, "could not analyze the new database; PostgreSQL's autovacuum will")
            }
        }
        true
    }
}
