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

/// How many statements a connection keeps. The store's statements are fixed texts, fewer than
/// this; a text built anew for each use would fill it, and the cache is then started over
/// rather than grown.
const KEPT: usize = 256;

/// Each statement by its text. A statement is lent to one use at a time: a use that finds it
/// lent (a query run inside the rows of the same query) prepares one of its own.
type Statements<'c> = RefCell<HashMap<Box<str>, Rc<RefCell<Statement<'c>>>, ahash::RandomState>>;

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
    pub(super) fn open(conn: Connection) -> Sqlite {
        Sqlite::new(conn, |_| RefCell::default())
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
            let kept = statements.borrow().get(sql).cloned();
            let statement = match kept {
                Some(statement) => statement,
                None => {
                    let prepared =
                        conn.prepare_with_flags(sql, PrepFlags::SQLITE_PREPARE_PERSISTENT)?;
                    let statement = Rc::new(RefCell::new(prepared));
                    let mut statements = statements.borrow_mut();
                    if statements.len() >= KEPT {
                        statements.clear();
                    }
                    statements.insert(sql.into(), Rc::clone(&statement));
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
        sqlite.with_dependent(|_, statements| statements.borrow().len())
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
        let sqlite = Sqlite::open(Connection::open_in_memory().unwrap());
        assert_eq!(count(&sqlite, "SELECT 1"), 1);
        assert_eq!(count(&sqlite, "SELECT 1"), 1);
        assert_eq!(count(&sqlite, "SELECT 2"), 2);
        assert_eq!(kept(&sqlite), 2);
    }

    #[test]
    fn a_statement_used_inside_its_own_rows_runs_as_one_of_its_own() {
        let sqlite = Sqlite::open(Connection::open_in_memory().unwrap());
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
        let sqlite = Sqlite::open(Connection::open_in_memory().unwrap());
        for n in 0..KEPT as i64 + 10 {
            assert_eq!(count(&sqlite, &format!("SELECT {n}")), n);
        }
        assert_eq!(kept(&sqlite), 10);
    }
}
