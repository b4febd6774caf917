//! A SQLite connection with the statements it has prepared, each kept by its text for the
//! connection's life.
//!
//! rusqlite's own cache costs more than the statements the writer runs by it: it hashes a
//! statement's whole text with SipHash twice a use (taking it out of its LRU list and putting
//! it back), and copies the text into a new allocation each time for the key it puts back. That
//! was about 5 % of the store writer under `send` (docs/performance.md). Here a statement is
//! looked up once a use, with a faster hash, and lent out without leaving the map.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use rusqlite::{Connection, PrepFlags, Statement};
use self_cell::self_cell;

use crate::store::StoreResult;

/// How many statements the writer's connection keeps: the write path's statements are fixed
/// texts, fewer than this. A statement takes 5–8 KiB of SQLite's memory.
pub(in crate::store) const WRITER_KEEPS: usize = 256;

/// How many statements a read connection keeps: there are eight of them, each serving any of
/// the API's reads, so each keeps fewer (at most ~250 KiB), as rusqlite's cache did (16).
pub(in crate::store) const READER_KEEPS: usize = 32;

/// Each statement by its text. A statement is lent to one use at a time: a use that finds it
/// lent (a query run inside the rows of the same query) prepares one of its own.
/// A connection full with as many as it keeps starts over rather than grows, so that texts
/// built anew for each use cannot take memory without bound.
struct Statements<'c> {
    kept: RefCell<HashMap<Box<str>, Rc<RefCell<Statement<'c>>>, ahash::RandomState>>,
    keeps: usize,
}

self_cell!(
    /// A SQLite connection and the statements prepared on it, which borrow it: they are
    /// finalized before it is closed.
    pub(super) struct Sqlite {
        owner: Connection,
        #[not_covariant]
        dependent: Statements,
    }
);

// SAFETY: a connection may move to another thread (rusqlite's `Connection` is `Send`), and its
// statements move with it: they are reached only through this value, which is not `Sync`, and
// the only other handles to one (the `Rc` a use holds) live within that use, on the thread
// that has the value. rusqlite says the same of its own cache.
unsafe impl Send for Sqlite {}

impl Sqlite {
    /// `conn`, keeping up to `keeps` statements.
    pub(super) fn open(conn: Connection, keeps: usize) -> Sqlite {
        Sqlite::new(conn, |_| Statements {
            kept: RefCell::default(),
            keeps,
        })
    }

    pub(super) fn connection(&self) -> &Connection {
        self.borrow_owner()
    }

    /// Runs `run` on the statement of `sql`, prepared on its first use.
    pub(super) fn with_statement<T>(
        &self,
        sql: &str,
        run: impl FnOnce(&mut Statement<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.with_dependent(|conn, statements| {
            let kept = statements.kept.borrow().get(sql).cloned();
            let statement = match kept {
                Some(statement) => statement,
                None => {
                    let prepared =
                        conn.prepare_with_flags(sql, PrepFlags::SQLITE_PREPARE_PERSISTENT)?;
                    let statement = Rc::new(RefCell::new(prepared));
                    let mut kept = statements.kept.borrow_mut();
                    if kept.len() >= statements.keeps {
                        kept.clear();
                    }
                    kept.insert(sql.into(), Rc::clone(&statement));
                    statement
                }
            };
            let result = match statement.try_borrow_mut() {
                // What it was given is let go of until its next use.
                Ok(mut lent) => run(&mut lent).inspect(|_| lent.clear_bindings()),
                Err(_) => run(&mut conn.prepare(sql)?),
            };
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(sqlite: &Sqlite) -> usize {
        sqlite.with_dependent(|_, statements| statements.kept.borrow().len())
    }

    fn count(sqlite: &Sqlite, sql: &str) -> i64 {
        sqlite
            .with_statement(sql, |statement| {
                Ok(statement.query_row([], |row| row.get(0))?)
            })
            .unwrap()
    }

    #[test]
    fn a_statement_is_prepared_once_and_used_again() {
        let sqlite = Sqlite::open(Connection::open_in_memory().unwrap(), READER_KEEPS);
        assert_eq!(count(&sqlite, "SELECT 1"), 1);
        assert_eq!(count(&sqlite, "SELECT 1"), 1);
        assert_eq!(count(&sqlite, "SELECT 2"), 2);
        assert_eq!(kept(&sqlite), 2);
    }

    #[test]
    fn a_statement_used_inside_its_own_rows_runs_as_one_of_its_own() {
        let sqlite = Sqlite::open(Connection::open_in_memory().unwrap(), READER_KEEPS);
        let sql = "SELECT value FROM (SELECT 1 AS value UNION ALL SELECT 2) ORDER BY value";
        let nested = sqlite
            .with_statement(sql, |outer| {
                let mut rows = outer.query([])?;
                let mut seen = Vec::new();
                while let Some(row) = rows.next()? {
                    let inner = sqlite.with_statement(sql, |inner| {
                        Ok(inner.query_map([], |row| row.get::<_, i64>(0))?.count())
                    })?;
                    seen.push((row.get::<_, i64>(0)?, inner));
                }
                Ok(seen)
            })
            .unwrap();
        assert_eq!(nested, [(1, 2), (2, 2)]);
        assert_eq!(kept(&sqlite), 1);
    }

    #[test]
    fn texts_built_for_each_use_start_the_cache_over_instead_of_growing_it() {
        let sqlite = Sqlite::open(Connection::open_in_memory().unwrap(), READER_KEEPS);
        for n in 0..READER_KEEPS as i64 + 10 {
            assert_eq!(count(&sqlite, &format!("SELECT {n}")), n);
        }
        assert_eq!(kept(&sqlite), 10);
    }
}
