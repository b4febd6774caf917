//! The one way the store speaks SQL, to SQLite and to PostgreSQL alike.
//!
//! The tables' modules write each statement once, in what both databases share: numbered
//! parameters (`?1`), `ON CONFLICT … DO …`, `RETURNING`, `COALESCE`, times and JSON as text,
//! 64-bit integers. A [`Conn`] runs it on either: on SQLite through rusqlite's statement cache,
//! on PostgreSQL through statements it prepares once per connection, with each `?N` written
//! `$N`, and writes whose answer nobody reads sent ahead of it ([`Conn::write`]). Parameters
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

use super::{StoreError, StoreResult};

mod session;
use session::Session;

/// A connection to the store's database.
pub struct Conn(Backend);

enum Backend {
    Sqlite(rusqlite::Connection),
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

/// A value a statement takes: one of the types both databases store the same way.
pub trait Param: Sync {
    fn sqlite(&self) -> &dyn rusqlite::ToSql;
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync);
}

/// A column's value as read back: one of the types both databases give back the same way.
pub trait Column: Sized {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self>;
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, postgres::Error>;
}

macro_rules! shared_types {
    ($($param:ty),* ; $($column:ty),*) => {
        $(impl Param for $param {
            fn sqlite(&self) -> &dyn rusqlite::ToSql {
                self
            }
            fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
                self
            }
        })*
        $(impl Column for $column {
            fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
                row.get(index)
            }
            fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, postgres::Error> {
                row.try_get(index)
            }
        })*
    };
}

impl Param for Vec<u8> {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
        self
    }
}

/// Bytes written as they are held, not copied first (a picture kept is up to megabytes).
impl Param for &[u8] {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
        self
    }
}

/// Bytes as read back. A SQLite column holds whatever each row was given, so one that once
/// held text and now holds bytes (the journal's rows, packed since) gives a text as its UTF-8
/// bytes.
impl Column for Vec<u8> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        use rusqlite::types::{FromSqlError, ValueRef};
        match row.get_ref(index)? {
            ValueRef::Blob(bytes) | ValueRef::Text(bytes) => Ok(bytes.to_vec()),
            other => Err(rusqlite::Error::FromSqlConversionFailure(
                index,
                other.data_type(),
                Box::new(FromSqlError::InvalidType),
            )),
        }
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, postgres::Error> {
        row.try_get(index)
    }
}

// Flags are integers (0 or 1) in both databases, so that a statement may compare them with a
// number: PostgreSQL's `BOOLEAN` would refuse `read = 0`.
shared_types!(
    String, &str, &String, Option<String>, Option<&str>;
    String, Option<String>, Option<f64>
);

/// An integer parameter as PostgreSQL takes it: as whichever of its integer types the
/// statement has there (a literal such as `0` beside a parameter makes it an `INTEGER`),
/// refused if out of that type's range.
#[derive(Debug)]
#[repr(transparent)]
struct Integer(i64);

/// [`Integer`], or `NULL`.
#[derive(Debug)]
#[repr(transparent)]
struct MaybeInteger(Option<i64>);

type PgResult = Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>;

fn integer_to_sql(value: i64, ty: &postgres::types::Type, out: &mut bytes::BytesMut) -> PgResult {
    use postgres::types::{ToSql, Type};
    match *ty {
        Type::INT2 => i16::try_from(value)?.to_sql(ty, out),
        Type::INT4 => i32::try_from(value)?.to_sql(ty, out),
        _ => value.to_sql(ty, out),
    }
}

fn accepts_integer(ty: &postgres::types::Type) -> bool {
    use postgres::types::Type;
    matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8)
}

impl postgres::types::ToSql for Integer {
    fn to_sql(&self, ty: &postgres::types::Type, out: &mut bytes::BytesMut) -> PgResult {
        integer_to_sql(self.0, ty, out)
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        accepts_integer(ty)
    }

    postgres::types::to_sql_checked!();
}

impl postgres::types::ToSql for MaybeInteger {
    fn to_sql(&self, ty: &postgres::types::Type, out: &mut bytes::BytesMut) -> PgResult {
        match self.0 {
            Some(value) => integer_to_sql(value, ty, out),
            None => Ok(postgres::types::IsNull::Yes),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        accepts_integer(ty)
    }

    postgres::types::to_sql_checked!();
}

/// A parameter's value, owned: a write sent ahead of its answer ([`Conn::write`]) outlives the
/// values it was given. Taken from the value SQLite would be given, which every [`Param`] has.
#[derive(Debug)]
enum Owned {
    Null,
    Integer(Integer),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Owned {
    fn of(param: &dyn Param) -> Owned {
        use rusqlite::types::{ToSqlOutput, Value};
        let value = match param.sqlite().to_sql() {
            Ok(ToSqlOutput::Borrowed(value)) => Value::from(value),
            Ok(ToSqlOutput::Owned(value)) => value,
            // No parameter type of ours gives SQLite anything else.
            _ => Value::Null,
        };
        match value {
            Value::Integer(value) => Owned::Integer(Integer(value)),
            Value::Text(text) => Owned::Text(text),
            Value::Real(value) => Owned::Real(value),
            Value::Blob(bytes) => Owned::Bytes(bytes),
            Value::Null => Owned::Null,
        }
    }
}

impl postgres::types::ToSql for Owned {
    fn to_sql(&self, ty: &postgres::types::Type, out: &mut bytes::BytesMut) -> PgResult {
        match self {
            Owned::Null => Ok(postgres::types::IsNull::Yes),
            Owned::Integer(value) => value.to_sql_checked(ty, out),
            Owned::Real(value) => value.to_sql_checked(ty, out),
            Owned::Text(text) => text.to_sql_checked(ty, out),
            Owned::Bytes(bytes) => bytes.to_sql_checked(ty, out),
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        accepts_integer(ty) || f64::accepts(ty) || String::accepts(ty) || Vec::<u8>::accepts(ty)
    }

    postgres::types::to_sql_checked!();
}

impl Param for i64 {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
        // SAFETY: `Integer` is a transparent wrapper of an `i64`.
        unsafe { &*(self as *const i64 as *const Integer) }
    }
}

impl Param for Option<i64> {
    fn sqlite(&self) -> &dyn rusqlite::ToSql {
        self
    }
    fn postgres(&self) -> &(dyn postgres::types::ToSql + Sync) {
        // SAFETY: `MaybeInteger` is a transparent wrapper of an `Option<i64>`.
        unsafe { &*(self as *const Option<i64> as *const MaybeInteger) }
    }
}

impl Column for Option<i64> {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, postgres::Error> {
        use postgres::types::Type;
        match *row.columns()[index].type_() {
            Type::INT2 => Ok(row.try_get::<_, Option<i16>>(index)?.map(i64::from)),
            Type::INT4 => Ok(row.try_get::<_, Option<i32>>(index)?.map(i64::from)),
            _ => row.try_get(index),
        }
    }
}

impl Column for i64 {
    fn from_sqlite(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Self> {
        row.get(index)
    }
    fn from_postgres(row: &postgres::Row, index: usize) -> Result<Self, postgres::Error> {
        use postgres::types::Type;
        match *row.columns()[index].type_() {
            Type::INT2 => Ok(i64::from(row.try_get::<_, i16>(index)?)),
            Type::INT4 => Ok(i64::from(row.try_get::<_, i32>(index)?)),
            _ => row.try_get(index),
        }
    }
}

/// The parameters of a statement, in order: `params![a, b]`.
macro_rules! params {
    ($($param:expr),* $(,)?) => {
        &[$(&$param as &dyn $crate::store::sql::Param),*] as &[&dyn $crate::store::sql::Param]
    };
}
pub(crate) use params;

/// One row of a query's answer.
pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// The value of the column at `index` (0-based, in the order the query selects them).
    pub fn get<T: Column>(&self, index: usize) -> StoreResult<T> {
        match self {
            Row::Sqlite(row) => Ok(T::from_sqlite(row, index)?),
            Row::Postgres(row) => Ok(T::from_postgres(row, index)?),
        }
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

/// A connection to `url` whose idle transactions the server ends (see [`IDLE_TRANSACTION_MS`]).
fn connect_postgres(url: &str) -> StoreResult<Client> {
    let mut config: tokio_postgres::Config = url.parse()?;
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
    pub fn sqlite(conn: rusqlite::Connection) -> Conn {
        Conn(Backend::Sqlite(conn))
    }

    /// Connects to the PostgreSQL database at `url`.
    pub fn postgres(url: &str) -> StoreResult<Conn> {
        Ok(Conn(Backend::Postgres(Box::new(RefCell::new(Postgres {
            client: connect_postgres(url)?,
            prepared: HashMap::new(),
            url: url.to_owned(),
        })))))
    }

    /// The SQLite connection, for what only SQLite has; `None` on PostgreSQL.
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.0 {
            Backend::Sqlite(conn) => Some(conn),
            Backend::Postgres(_) => None,
        }
    }

    /// Whether the connection is lost for good (PostgreSQL's, when the server went away): it
    /// is replaced rather than used again.
    pub fn is_lost(&self) -> bool {
        match &self.0 {
            Backend::Sqlite(_) => false,
            Backend::Postgres(pg) => pg.borrow().client.is_closed(),
        }
    }

    /// Whether this is a PostgreSQL connection.
    pub fn is_postgres(&self) -> bool {
        matches!(self.0, Backend::Postgres(_))
    }

    /// Starts the transaction of a group commit. SQLite takes its write lock at once, so that
    /// no reader's lock can stand in the way of the commit. A PostgreSQL connection the server
    /// closed is opened again first.
    pub fn begin(&self) -> StoreResult<()> {
        match &self.0 {
            Backend::Sqlite(conn) => Ok(conn.execute_batch("BEGIN IMMEDIATE")?),
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
        let Backend::Postgres(pg) = &self.0 else {
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
        let rolled_back = match &self.0 {
            Backend::Sqlite(conn) => match conn.is_autocommit() {
                true => return,
                false => conn.execute_batch("ROLLBACK").map_err(StoreError::from),
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

    /// Runs one statement; the rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<usize> {
        match &self.0 {
            Backend::Sqlite(conn) => {
                Ok(conn
                    .prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(
                        params.iter().map(|p| p.sqlite()),
                    ))?)
            }
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
        match &self.0 {
            Backend::Sqlite(_) => self.execute(sql, params).map(drop),
            Backend::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let statement = pg.prepare(sql)?;
                let params = params.iter().map(|param| Owned::of(*param)).collect();
                Ok(pg.client.send(statement, params)?)
            }
        }
    }

    /// Reads the answers of the writes [`Conn::write`] sent: the first failure, if one failed.
    pub fn settle(&self) -> StoreResult<()> {
        match &self.0 {
            Backend::Sqlite(_) => Ok(()),
            Backend::Postgres(pg) => Ok(pg.borrow_mut().client.settle()?),
        }
    }

    /// Runs statements separated by `;`, without parameters (schema changes, transaction
    /// control).
    pub fn execute_batch(&self, sql: &str) -> StoreResult<()> {
        match &self.0 {
            Backend::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
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
        match &self.0 {
            Backend::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(
                    params.iter().map(|p| p.sqlite()),
                ))?;
                while let Some(row) = rows.next()? {
                    if !each(&Row::Sqlite(row))? {
                        break;
                    }
                }
                Ok(())
            }
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
