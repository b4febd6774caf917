//! The one way the store speaks SQL, to SQLite and to PostgreSQL alike.
//!
//! The tables' modules write each statement once, in what both databases share: numbered
//! parameters (`?1`), `ON CONFLICT … DO …`, `RETURNING`, `COALESCE`, times and JSON as text,
//! 64-bit integers. A [`Conn`] runs it on either: on SQLite through statements it keeps by
//! their text ([`statements`]), on PostgreSQL through statements it prepares once per
//! connection, with each `?N` written `$N`, and writes whose answer nobody reads sent ahead of it ([`Conn::write`]). Parameters
//! and columns are limited to the types both drivers read and write the same way ([`Param`],
//! [`Column`]): 64-bit integers and text. An unsigned or 32-bit integer, or a `bool`, which
//! PostgreSQL would refuse at run time against a `BIGINT` column, does not compile. Bytes (a
//! journal row's packed fields) are a `BLOB` on SQLite and a `BYTEA` on PostgreSQL.
//!
//! What only SQLite has (pragmas, checkpoints, its write-ahead log hook) stays in the modules
//! that open and run it, through [`Conn::as_sqlite`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use super::synced_heads::SyncedHeads;
use super::{StoreError, StoreResult};
use std::sync::Arc;

mod session;
mod statements;
mod values;
use session::{Said, Session, Ticket};
use statements::Sqlite;
pub(crate) use values::params;
use values::Owned;
pub use values::{Column, Param, Row};

/// A connection to the store's database.
pub struct Conn {
    backend: Backend,
    /// On a read connection to SQLite whose log is synced off the writer's path, how far each
    /// device's journal is on the disk: what it reads of the journal ends there (see
    /// [`SyncedHeads`]).
    synced: Option<Arc<SyncedHeads>>,
}

/// A query asked ahead of its answer ([`Conn::ask`]), with how its first row is read.
pub struct Asked<T, F>(Answer<T, F>);

impl<T, F> Asked<T, F> {
    /// An answer known already: what a write learned on SQLite another way.
    pub fn known(first: Option<T>) -> Self {
        Asked(Answer::Read(first))
    }
}

/// A query asked only for whether it answers a row ([`Conn::ask_exists`]).
pub type Exists = Asked<(), fn(&Row<'_>) -> StoreResult<()>>;

/// A write asked how many rows it changed ([`Conn::ask_changed`]).
pub struct Changed(Answer<usize, ()>);

enum Answer<T, F> {
    /// On SQLite: run already.
    Read(Option<T>),
    /// On PostgreSQL: sent, its answer read later.
    Owed(Ticket, F),
}

enum Backend {
    Sqlite(Sqlite),
    Postgres(Box<RefCell<Postgres>>),
}

/// A PostgreSQL session with the statements it prepared, by their text as written here.
struct Postgres {
    client: Client,
    prepared: HashMap<String, tokio_postgres::Statement>,
    /// Where it connected, to connect again when the server went away.
    url: String,
}

/// The session, which runs a runtime of its own and blocks on it, even as it is dropped: a
/// store handle may be dropped on the daemon's runtime, where dropping another panics, so a
/// session is dropped on a thread of its own.
struct Client(ManuallyDrop<Session>);

impl Drop for Client {
    fn drop(&mut self) {
        // SAFETY: taken once, here, and never used again.
        let client = unsafe { ManuallyDrop::take(&mut self.0) };
        let dropped = std::thread::Builder::new()
            .name("store-disconnect".into())
            .spawn(move || drop(client));
        if let Err(error) = dropped {
            tracing::warn!(%error, "no thread to close a database connection on; it is left open");
        }
    }
}

impl Deref for Client {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

impl DerefMut for Client {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.0
    }
}

/// How long PostgreSQL lets a transaction of ours sit idle, waiting on us, before it ends the
/// session. Our transactions never wait on anything but their own statements, a few
/// milliseconds apart; one idle for seconds belongs to a process that froze mid-write (a
/// `SIGSTOP`, a stalled VM). Its row locks would hold off the takeover of its devices for as
/// long as it stayed frozen (a claim skips the lease rows a write holds), so the server ends it
/// well inside a lease (`cluster.lease_secs`, 10 s by default); the frozen node's write then
/// fails when it wakes, and its later writes are refused by their epoch.
const IDLE_TRANSACTION_MS: u32 = 3_000;

/// How a connection to PostgreSQL finds out that the server, or the way to it, is gone, unless
/// the URL says otherwise (libpq's names). A connection can sit idle for long: the cluster's
/// listener when no node commits, a reader between requests. A NAT or load balancer on the
/// way forgets an idle connection after a few minutes (AWS's NAT gateway after 350 s, Azure's
/// after 4 minutes) without telling either end, and the system's keepalive, after two hours
/// idle, comes too late: the listener would hear no other node's commit again, silently.
/// Probes after 30 s idle keep such a path open, and three unanswered 10 s apart end the
/// connection, which is then made again. The connection is given up after 10 s unanswered
/// when made, and when what it sent goes unacknowledged for 60 s, instead of the system's two
/// and fifteen minutes.
const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVES_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVES_RETRIES: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection to `url` whose idle transactions the server ends (see [`IDLE_TRANSACTION_MS`])
/// and that notices a lost server (see [`KEEPALIVES_IDLE`]).
fn connect_postgres(url: &str) -> StoreResult<Client> {
    let mut config: tokio_postgres::Config = url.parse()?;
    // What the URL sets is kept: the driver has no way to tell it from its own defaults.
    let given = |name: &str| url.contains(&format!("{name}="));
    if !given("keepalives_idle") {
        config.keepalives_idle(KEEPALIVES_IDLE);
    }
    if !given("keepalives_interval") {
        config.keepalives_interval(KEEPALIVES_INTERVAL);
    }
    if !given("keepalives_retries") {
        config.keepalives_retries(KEEPALIVES_RETRIES);
    }
    if !given("connect_timeout") {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if !given("tcp_user_timeout") {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
    let ours = format!("-c idle_in_transaction_session_timeout={IDLE_TRANSACTION_MS}");
    // Options the URL gives (`?options=…`) are kept, ours after them.
    let options = match config.get_options() {
        Some(given) => format!("{given} {ours}"),
        None => ours,
    };
    config.options(&options);
    Ok(Client(ManuallyDrop::new(Session::connect(&config)?)))
}

impl Conn {
    /// A read connection to SQLite.
    pub fn sqlite(conn: rusqlite::Connection) -> Conn {
        Conn {
            backend: Backend::Sqlite(Sqlite::open(conn, statements::READER_KEEPS)),
            synced: None,
        }
    }

    /// A read connection to SQLite that reads each device's journal only as far as
    /// `synced` says the disk holds it.
    pub(super) fn sqlite_synced(conn: rusqlite::Connection, synced: Arc<SyncedHeads>) -> Conn {
        Conn {
            synced: Some(synced),
            ..Conn::sqlite(conn)
        }
    }

    /// The store writer's connection to SQLite, which keeps every statement of the write path.
    pub fn sqlite_writer(conn: rusqlite::Connection) -> Conn {
        Conn {
            backend: Backend::Sqlite(Sqlite::open(conn, statements::WRITER_KEEPS)),
            synced: None,
        }
    }

    /// Connects to the PostgreSQL database at `url`.
    pub fn postgres(url: &str) -> StoreResult<Conn> {
        Ok(Conn {
            backend: Backend::Postgres(Box::new(RefCell::new(Postgres {
                client: connect_postgres(url)?,
                prepared: HashMap::new(),
                url: url.to_owned(),
            }))),
            synced: None,
        })
    }

    /// The newest seq of `device`'s journal this connection reads, its head being `last`:
    /// `last` itself, unless the connection reads only what is synced (see [`SyncedHeads`]).
    pub(super) fn readable_head(&self, device: &str, last: u64) -> u64 {
        match &self.synced {
            Some(synced) => synced.cap(device, last),
            None => last,
        }
    }

    /// The SQLite connection, for what only SQLite has; `None` on PostgreSQL.
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.backend {
            Backend::Sqlite(conn) => Some(conn.connection()),
            Backend::Postgres(_) => None,
        }
    }

    /// Whether the connection is lost for good (PostgreSQL's, when the server went away): it
    /// is replaced rather than used again.
    pub fn is_lost(&self) -> bool {
        match &self.backend {
            Backend::Sqlite(_) => false,
            Backend::Postgres(pg) => pg.borrow().client.is_closed(),
        }
    }

    /// Whether this is a PostgreSQL connection.
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Starts the transaction of a group commit. SQLite takes its write lock at once, so that
    /// no reader's lock can stand in the way of the commit. A PostgreSQL connection the server
    /// closed is opened again first.
    pub fn begin(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite(conn) => Ok(conn.connection().execute_batch("BEGIN IMMEDIATE")?),
            Backend::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                if pg.client.is_closed() {
                    // The server went away since the last transaction, which ended: a new
                    // connection loses nothing.
                    pg.client = connect_postgres(&pg.url)?;
                    pg.prepared.clear();
                }
                Ok(pg.client.batch_execute("BEGIN")?)
            }
        }
    }

    /// The payloads of the notifications this PostgreSQL connection listens to (`LISTEN`):
    /// waits up to `wait` for the first, then takes every one already there. None on SQLite.
    pub fn notifications(&self, wait: std::time::Duration) -> StoreResult<Vec<String>> {
        let Backend::Postgres(pg) = &self.backend else {
            return Ok(Vec::new());
        };
        Ok(pg.borrow_mut().client.notifications(wait)?)
    }

    pub fn commit(&self) -> StoreResult<()> {
        self.execute_batch("COMMIT")
    }

    /// Rolls back the transaction under way, if there is one: after a failed write, whose
    /// error is what the callers hear of.
    pub fn rollback(&self) {
        let rolled_back = match &self.backend {
            Backend::Sqlite(conn) => match conn.connection().is_autocommit() {
                true => return,
                false => conn
                    .connection()
                    .execute_batch("ROLLBACK")
                    .map_err(StoreError::from),
            },
            Backend::Postgres(pg) => {
                let client = &mut pg.borrow_mut().client;
                client.forget();
                client.batch_execute("ROLLBACK").map_err(StoreError::from)
            }
        };
        if let Err(error) = rolled_back {
            tracing::warn!(%error, "a failed group commit could not be rolled back");
        }
    }

    /// Runs an `INSERT` on SQLite; the number of the row it inserted, if it inserted one (a
    /// conflict it was told to do nothing about inserts none). Cheaper than `RETURNING rowid`,
    /// which SQLite runs through a temporary table of its own each time.
    pub fn insert_rowid(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<Option<i64>> {
        let inserted = self.execute(sql, params)? == 1;
        Ok(match (&self.backend, inserted) {
            (Backend::Sqlite(conn), true) => Some(conn.connection().last_insert_rowid()),
            _ => None,
        })
    }

    /// Runs one statement; the rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<usize> {
        match &self.backend {
            Backend::Sqlite(conn) => conn.with_statement(sql, |statement| {
                Ok(statement.execute(rusqlite::params_from_iter(
                    params.iter().map(|p| p.sqlite()),
                ))?)
            }),
            Backend::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let statement = pg.prepare(sql)?;
                let changed = pg.client.execute(&statement, &pg_params(params))?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// Runs one statement whose changed rows nobody reads. On PostgreSQL it is sent without
    /// waiting for its answer, which is read with the next statement's, in the same round trip
    /// (see [`session`]); [`Conn::settle`] reads it at the latest. On SQLite, where a
    /// statement is no round trip, it runs at once.
    pub fn write(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite(_) => self.execute(sql, params).map(drop),
            Backend::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let (statement, params) = pg.sent_ahead(sql, params)?;
                Ok(pg.client.send(statement, params)?)
            }
        }
    }

    /// Asks a query whose first row the caller takes later, with [`Conn::answer`], having sent
    /// more meanwhile. On PostgreSQL the query is sent at once and its rows read with the next
    /// statement's answer, so several lookups a write needs before it decides anything cost one
    /// round trip together. On SQLite it runs at once.
    pub fn ask<T, F>(&self, sql: &str, params: &[&dyn Param], map: F) -> StoreResult<Asked<T, F>>
    where
        F: FnOnce(&Row<'_>) -> StoreResult<T>,
    {
        match &self.backend {
            Backend::Sqlite(_) => Ok(Asked(Answer::Read(self.query_opt(sql, params, map)?))),
            Backend::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let (statement, params) = pg.sent_ahead(sql, params)?;
                Ok(Asked(Answer::Owed(pg.client.ask(statement, params), map)))
            }
        }
    }

    /// The first row of a query [`Conn::ask`] asked, mapped, if there is one. Reading it reads
    /// every answer owed before it; the write that asked must not have ended.
    pub fn answer<T, F>(&self, asked: Asked<T, F>) -> StoreResult<Option<T>>
    where
        F: FnOnce(&Row<'_>) -> StoreResult<T>,
    {
        let (rows, map) = match (asked.0, &self.backend) {
            (Answer::Read(first), _) => return Ok(first),
            (Answer::Owed(ticket, map), Backend::Postgres(pg)) => {
                match pg.borrow_mut().client.said(ticket)? {
                    Some(Said::Rows(rows)) => (rows, map),
                    _ => return Err(StoreError::AnswerLost),
                }
            }
            (Answer::Owed(..), Backend::Sqlite(_)) => return Err(StoreError::AnswerLost),
        };
        rows.first().map(|row| map(&Row::Postgres(row))).transpose()
    }

    /// [`Conn::ask`] for whether a query answers a row: whether a contact is blocked, say.
    pub fn ask_exists(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<Exists> {
        let found: fn(&Row<'_>) -> StoreResult<()> = |_| Ok(());
        self.ask(sql, params, found)
    }

    /// Whether the query [`Conn::ask_exists`] asked answered a row.
    pub fn answer_exists(&self, asked: Exists) -> StoreResult<bool> {
        Ok(self.answer(asked)?.is_some())
    }

    /// Runs a write whose count of changed rows the caller reads later, with
    /// [`Conn::answer_changed`], having sent more meanwhile: [`Conn::ask`] for a write. On
    /// SQLite it runs at once.
    pub fn ask_changed(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<Changed> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(Changed(Answer::Read(Some(self.execute(sql, params)?)))),
            Backend::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let (statement, params) = pg.sent_ahead(sql, params)?;
                Ok(Changed(Answer::Owed(
                    pg.client.ask_changed(statement, params),
                    (),
                )))
            }
        }
    }

    /// How many rows the write [`Conn::ask_changed`] asked changed. Reading it reads every
    /// answer owed before it; the write that asked must not have ended.
    pub fn answer_changed(&self, asked: Changed) -> StoreResult<usize> {
        match (asked.0, &self.backend) {
            (Answer::Read(changed), _) => Ok(changed.unwrap_or_default()),
            (Answer::Owed(ticket, ()), Backend::Postgres(pg)) => {
                match pg.borrow_mut().client.said(ticket)? {
                    Some(Said::Changed(changed)) => {
                        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
                    }
                    _ => Err(StoreError::AnswerLost),
                }
            }
            (Answer::Owed(..), Backend::Sqlite(_)) => Err(StoreError::AnswerLost),
        }
    }

    /// Reads the answers of the writes [`Conn::write`] sent: the first failure, if one failed.
    pub fn settle(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(pg) => Ok(pg.borrow_mut().client.settle()?),
        }
    }

    /// Runs statements separated by `;`, without parameters (schema changes, transaction
    /// control).
    pub fn execute_batch(&self, sql: &str) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite(conn) => Ok(conn.connection().execute_batch(sql)?),
            Backend::Postgres(pg) => Ok(pg.borrow_mut().client.batch_execute(sql)?),
        }
    }

    /// Every row of a query, each mapped by `map`.
    pub fn query_all<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut map: impl FnMut(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let mut all = Vec::new();
        self.query_each(sql, params, |row| {
            all.push(map(row)?);
            Ok(true)
        })?;
        Ok(all)
    }

    /// Hands the rows of a query to `each` one at a time, until it answers `false`: the rows
    /// after that are not read. The other queries are made of this one.
    pub fn query_each(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut each: impl FnMut(&Row<'_>) -> StoreResult<bool>,
    ) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite(conn) => conn.with_statement(sql, |statement| {
                let mut rows = statement.query(rusqlite::params_from_iter(
                    params.iter().map(|p| p.sqlite()),
                ))?;
                while let Some(row) = rows.next()? {
                    if !each(&Row::Sqlite(row))? {
                        break;
                    }
                }
                Ok(())
            }),
            Backend::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let statement = pg.prepare(sql)?;
                let mut rows = pg.client.query(&statement, &pg_params(params))?;
                while let Some(row) = pg.client.next_row(&mut rows)? {
                    if !each(&Row::Postgres(&row))? {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    /// The first row of a query, mapped by `map`, if there is one.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        map: impl FnOnce(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let (mut map, mut first) = (Some(map), None);
        self.query_each(sql, params, |row| {
            if let Some(map) = map.take() {
                first = Some(map(row)?);
            }
            Ok(false)
        })?;
        Ok(first)
    }

    /// Whether a query answers any row.
    pub fn exists(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<bool> {
        Ok(self.query_opt(sql, params, |_| Ok(()))?.is_some())
    }

    /// The first row of a query that always answers one (an aggregate, `RETURNING`).
    pub fn query_one<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        map: impl FnOnce(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.query_opt(sql, params, map)?
            .ok_or_else(|| StoreError::NoRow(first_line(sql).to_owned()))
    }
}

impl Postgres {
    /// The statement for `sql`, prepared on its first use.
    fn prepare(&mut self, sql: &str) -> StoreResult<tokio_postgres::Statement> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&numbered_for_postgres(sql))?;
        self.prepared.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// The statement for `sql` and a copy of its `params`, to send ahead of its answer: the
    /// values outlive the call.
    fn sent_ahead(
        &mut self,
        sql: &str,
        params: &[&dyn Param],
    ) -> StoreResult<(tokio_postgres::Statement, Vec<Owned>)> {
        let statement = self.prepare(sql)?;
        Ok((
            statement,
            params.iter().map(|param| Owned::of(*param)).collect(),
        ))
    }
}

fn pg_params<'p>(params: &'p [&'p dyn Param]) -> Vec<&'p (dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|param| param.postgres()).collect()
}

/// `sql` with each parameter `?N` written `$N`, as PostgreSQL numbers them; a `?` inside a
/// quoted string or name is left as it is.
fn numbered_for_postgres(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, '?') if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// The first line of a statement, to name it in an error.
fn first_line(sql: &str) -> &str {
    sql.trim_start().lines().next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::numbered_for_postgres;

    #[test]
    fn parameters_are_numbered_the_postgres_way_outside_quotes() {
        assert_eq!(
            numbered_for_postgres("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d IN (?2, ?10)"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d IN ($2, $10)"
        );
    }
}
