//! Storage, on SQLite (a file in the data directory) or PostgreSQL (shared by the nodes of a
//! cluster), with the same statements on both (`sql`).
//!
//! One dedicated writer thread owns the only writing connection. Callers hand it closures
//! ([`Store::write`]); it runs everything queued in one transaction (group commit: one fsync for
//! many writes) and answers the callers only after the commit. Events journaled inside a write
//! are published on the [`EventBus`](crate::bus::EventBus) after that same commit — so an event is never seen
//! anywhere before it is durable, and a write and its events are atomic.
//!
//! A write that fails rolls back the transaction it ran in, so the writes that ran before it in
//! the same batch are rolled back too and answered [`StoreError::RolledBack`]; the writes
//! queued after it go on in the next transaction. Writes fail only on errors of the database
//! itself (the messaging operations check everything before they change anything), and giving
//! each write a savepoint of its own so that it could fail alone made SQLite copy every page a
//! write touched, a large share of the writer's work (`docs/performance.md`, send), for a case
//! that does not happen in practice.
//!
//! Reads go through a small pool of read-only connections on blocking threads; on SQLite, WAL
//! mode lets them run while the writer commits.
//!
//! Here: the [`Store`] handle, its errors and the [`Tx`] a write sees. Opening a SQLite
//! database is in `open` and its schema in `migrations`, PostgreSQL's connection and schema in
//! `postgresql`; the writer thread and group commit are in `writer`, SQLite's WAL checkpoints
//! in `checkpointer`, the read connections in `readers`, what makes the database unwritable in
//! `outage`. A cluster's nodes and leases are in `cluster`, the notices by which nodes hear of
//! each other's commits in `notices`, the copy of a SQLite database into PostgreSQL in `copy`;
//! the other modules are the tables.

pub mod actions;
pub mod chats;
mod checkpointer;
pub mod cluster;
pub mod contacts;
pub mod copy;
pub mod devices;
pub mod governors;
pub mod journal;
pub mod keys;
pub mod linked_ids;
mod log_writes;
pub mod messages;
mod migrations;
mod open;
mod outage;
mod page;
pub mod pictures;
mod postgresql;
mod readers;
pub mod secrets;
pub mod simulator_numbers;
pub mod sinks;
pub mod sql;
mod statistics;
mod synced_heads;
mod syncer;
pub mod turn;
pub mod uploads;
pub mod webhooks;
mod writer;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

pub use devices::{DeviceRecord, DeviceSource};
pub use journal::JournalRead;
pub use keys::KeyRecord;
pub use outage::is_unwritable_file;

use crate::bus::DeviceChange;
use crate::envelope::ApiError;
use crate::model::{event::JournaledEvent, DeviceId};
use outage::Outage;
use readers::ReaderPool;
pub use sql::Conn;
use sql::Param;
use writer::Command;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {}", said_by_server(.0))]
    Postgres(#[from] postgres::Error),
    #[error("a query that always answers one row answered none: {0}")]
    NoRow(String),
    #[error("cannot connect to the database at {0}: {1}")]
    Connect(String, postgres::Error),
    #[error("a stored value cannot be read: {0}")]
    Unreadable(String),
    #[error("stored data is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the database schema is version {found}, newer than this build knows ({known}); refusing to downgrade")]
    NewerSchema { found: i64, known: i64 },
    #[error("the store is shut down")]
    Closed,
    #[error("cannot start the store's {name} thread: {source}")]
    Thread {
        name: &'static str,
        source: std::io::Error,
    },
    #[error("cannot start the runtime of a database connection: {0}")]
    Runtime(std::io::Error),
    /// The rows of a query asked ahead were read after the write that asked ended.
    #[error("a query's answer was read after the write that asked it ended")]
    AnswerLost,
    #[error("the group commit failed: {0}")]
    Commit(String),
    /// A write made for a device under a lease this node no longer holds (SPEC §10).
    #[error("device {0} runs on another node now; this node's lease on it lapsed")]
    Fenced(String),
    #[error("rolled back with another write of the same group commit that failed; nothing of it was stored")]
    RolledBack,
    /// The database cannot be written (see [`outage`]); nothing of the write was stored.
    #[error("the database cannot be written: {0}")]
    Unwritable(String),
    #[error("cannot open the database at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot sync the log of the database at {path}: {source}")]
    SyncLog {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make the database at {path} readable by its owner only: {source}")]
    Private {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the server said of a failed statement (`ERROR: duplicate key value violates …`); the
/// client's own error only says `db error` for it.
fn said_by_server(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(said) => said.to_string(),
        None => error.to_string(),
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How a store error reads on the wire: a write the storage could not take is
/// `storage_unavailable` (the caller may try again); anything else is a fault of ours.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error.is_unwritable() {
            // The store logs an outage once, not once per write that meets it.
            true => ApiError::storage_unavailable(),
            false => ApiError::internal(error),
        }
    }
}

/// Reads a timestamp the store wrote (RFC 3339); an unreadable one becomes the epoch rather
/// than failing the whole read.
fn parse_time(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(Into::into)
        .unwrap_or_default()
}

/// What a write closure sees: the open transaction and the journal of this write.
pub struct Tx<'c> {
    conn: &'c Conn,
    events: Vec<JournaledEvent>,
    /// Devices defined or removed in this batch, announced after it commits.
    device_changes: Vec<DeviceChange>,
    /// API keys revoked in this batch, announced after it commits.
    revoked_keys: Vec<String>,
    /// Where each device's journal stands in this batch, stored once before it commits.
    heads: HashMap<DeviceId, journal::Head>,
    /// Chats that changed in this batch, in the order they first did (see
    /// [`Tx::chat_changed`]).
    changed_chats: Vec<(DeviceId, String)>,
    /// Device leases this batch has checked, and holds locked until it commits.
    fences_checked: std::collections::HashSet<cluster::Fence>,
    /// On SQLite, the row of the first message this batch stored whose words are not in the
    /// search index yet (see [`Tx::index_new_words`]).
    unindexed_from: Option<i64>,
    /// The rows this batch journaled, written at its end (see [`Tx::store_journal_rows`]).
    journal_rows: Vec<journal::Row>,
    /// The messages this batch journaled, for its chats' updates to name
    /// ([`journal::naming`]).
    journaled: journal::naming::Journaled,
    /// Each device's last whole row of each kind, for rows to be kept against
    /// ([`journal::changes`]).
    earlier: &'c mut journal::changes::Earlier,
    packer: &'c mut journal::packer::Packer,
    ids: &'c mut ulid::Generator,
    routes: &'c mut webhooks::Routes,
    sent_rows: &'c mut messages::SentRows,
}

impl<'c> Tx<'c> {
    pub fn conn(&self) -> &'c Conn {
        self.conn
    }

    /// Runs one statement of a write. The writer runs the same few statements thousands of times
    /// a second; the connection prepares each once and keeps it, instead of parsing it each time.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<usize> {
        self.conn.execute(sql, params)
    }

    /// Like [`Tx::execute`], for a statement whose changed rows nobody reads: on PostgreSQL its
    /// answer is read with the next statement's, in the same round trip ([`Conn::write`]).
    pub fn write(&self, sql: &str, params: &[&dyn Param]) -> StoreResult<()> {
        self.conn.write(sql, params)
    }

    /// Like [`Tx::execute`], for a statement that returns one row.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        map: impl FnOnce(&sql::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.conn.query_one(sql, params, map)
    }

    /// A new id, `prefix` + ULID. Ids are generated by the one writer in commit order and are
    /// strictly increasing, so ordering by id is ordering by arrival (messages use it as their
    /// pagination cursor).
    pub fn new_id(&mut self, prefix: &str) -> String {
        let ulid = self.ids.generate().unwrap_or_else(|_| ulid::Ulid::new());
        format!("{prefix}{ulid}")
    }
}

/// Starts one of the store's threads, `store-{name}`. The process may be out of threads or
/// memory: the caller, opening the store, reports that rather than panicking.
fn spawn_thread(name: &'static str, run: impl FnOnce() + Send + 'static) -> StoreResult<()> {
    std::thread::Builder::new()
        .name(format!("store-{name}"))
        .spawn(run)
        .map(drop)
        .map_err(|source| StoreError::Thread { name, source })
}

/// A cheap-to-clone handle on the database.
#[derive(Clone)]
pub struct Store {
    writer: mpsc::Sender<Command>,
    readers: Arc<ReaderPool>,
    /// The connections the cluster's coordination runs on (see [`Store::coordinate`]): on
    /// PostgreSQL a pool of their own, so that a node busy reading still renews its leases in
    /// time; on SQLite, which has no cluster, the readers'.
    coordination: Arc<ReaderPool>,
    outage: Outage,
    /// Set on the store a device's actor writes through in a cluster: each of its writes is
    /// refused once the lease it names has lapsed.
    fence: Option<Arc<cluster::Fence>>,
}

/// The one row [`Store::check_writable`] rewrites.
const WRITABLE_CHECK: &str = "INSERT INTO writable_check (id, checked_at) VALUES (1, ?1)
    ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at";

impl Store {
    /// Runs `op` in the next group commit and returns its result once it is durable.
    ///
    /// If `op` fails, its changes and events are rolled back with those of the writes that ran
    /// before it in the same transaction (see the module's documentation).
    pub async fn write<R, F>(&self, op: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> StoreResult<R> + Send + 'static,
    {
        let answer = self.queue(op).await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// [`Store::write`], queued to the writer only once the turn before `turn` is over, and
    /// ending `turn` as soon as it is queued (see [`turn`]).
    pub async fn write_in_turn<R, F>(&self, mut turn: turn::Turn, op: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> StoreResult<R> + Send + 'static,
    {
        turn.wait().await;
        let answer = self.queue(op).await?;
        drop(turn);
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Rewrites one row and commits it, as any write does: whether the database can be written
    /// now. Readiness asks this rather than remembering how the last write went, so that it
    /// sees an outage before a client's write fails and its end without waiting for one.
    pub async fn check_writable(&self) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(
                WRITABLE_CHECK,
                sql::params![chrono::Utc::now().to_rfc3339()],
            )?;
            Ok(())
        })
        .await
    }

    /// Has the disk holding the database count as full while it has less than `bytes` free:
    /// `/ready` fails then, and an outage is not over before it has them (see
    /// [`outage`]). A database that is not a file (PostgreSQL) has no such disk.
    pub fn keep_free(&self, bytes: u64) {
        self.outage.keep_free(bytes);
    }

    /// Whether the disk holding the database has less free than [`Store::keep_free`] asked.
    pub fn lacks_room(&self) -> bool {
        self.outage.lacks_room()
    }

    /// Reports a file of the data directory that could not be written for want of room (see
    /// [`is_unwritable_file`]): the same disk as the database's, so the same outage, logged
    /// once with it and over at the next commit.
    pub fn file_unwritable(&self, cause: &std::io::Error) {
        self.outage.failed(cause);
    }

    /// Runs a query on a read connection, off the async runtime.
    pub async fn read<R, F>(&self, op: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: Fn(&Conn) -> StoreResult<R> + Send + 'static,
    {
        run_on(self.readers.clone(), op).await
    }

    /// This store, for a device's actor holding the device's lease under `fence`: each of its
    /// writes is refused ([`StoreError::Fenced`]) once the lease has lapsed, and nothing of it
    /// is stored.
    pub fn fenced(&self, fence: cluster::Fence) -> Store {
        Store {
            fence: Some(Arc::new(fence)),
            ..self.clone()
        }
    }

    /// Commits everything queued so far and stops the writer.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.writer.send(Command::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }

    /// A guard that closes the store when it is dropped, for an owner that may be dropped
    /// before its orderly [`Store::close`]: a daemon embedded in a runtime that ends first.
    /// Handles that outlive it (a Socket.IO namespace and its sockets refer to each other and
    /// are never freed if their connections are not closed) would otherwise keep the writer,
    /// the checkpointer and their open files alive for as long as the process runs.
    pub fn close_on_drop(&self) -> CloseOnDrop {
        CloseOnDrop(self.clone())
    }
}

/// Runs `op` on a connection of `readers`, off the async runtime, waiting for a turn when
/// their connections are bounded.
async fn run_on<R, F>(readers: Arc<ReaderPool>, op: F) -> StoreResult<R>
where
    R: Send + 'static,
    F: Fn(&Conn) -> StoreResult<R> + Send + 'static,
{
    let turn = readers
        .turns
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| StoreError::Closed)?;
    let read = move || {
        let result = readers.with(op);
        drop(turn);
        result
    };
    match tokio::task::spawn_blocking(read).await {
        Ok(result) => result,
        Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
        // The runtime is shutting down and dropped the read before it ran: the caller is
        // being stopped too, and takes it as a store that is closing.
        Err(_) => Err(StoreError::Closed),
    }
}

/// See [`Store::close_on_drop`].
pub struct CloseOnDrop(Store);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        // The writer commits what is queued before the close and then stops; nobody waits for
        // it, as a drop cannot. After an orderly shutdown the writer is gone already and this
        // does nothing.
        let (done, _) = oneshot::channel();
        let _ = self.0.writer.try_send(Command::Close(done));
        for pool in [&self.0.readers, &self.0.coordination] {
            pool.idle.lock().expect("reader pool lock").clear();
        }
    }
}

#[cfg(test)]
mod tests;
