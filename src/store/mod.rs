//! Embedded SQLite storage.
//!
//! One dedicated writer thread owns the only writing connection. Callers hand it closures
//! ([`Store::write`]); it runs everything queued in one transaction (group commit: one fsync for
//! many writes) and answers the callers only after the commit. Events journaled inside a write
//! are published on the [`EventBus`] after that same commit — so an event is never seen
//! anywhere before it is durable, and a write and its events are atomic.
//!
//! A write that fails rolls back the transaction it ran in, so the writes that ran before it in
//! the same batch are rolled back too and answered [`StoreError::RolledBack`]; the writes
//! queued after it go on in the next transaction. Writes fail only on errors of the database
//! itself (the messaging operations check everything before they change anything), and giving
//! each write a savepoint of its own so that it could fail alone made SQLite copy every page a
//! write touched: a fifth of the writer's work, for a case that does not happen in practice.
//!
//! Reads go through a small pool of read-only connections on blocking threads; WAL mode lets them
//! run while the writer commits.

pub mod actions;
pub mod chats;
pub mod devices;
pub mod journal;
pub mod keys;
pub mod linked_ids;
pub mod messages;
mod migrations;
mod outage;
pub mod turn;
pub mod uploads;
pub mod webhooks;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

pub use devices::{DeviceRecord, DeviceSource};
pub use journal::JournalRead;
pub use keys::KeyRecord;
pub use outage::is_unwritable_file;

use crate::bus::{Changes, DeviceChange, EventBus};
use crate::config::{StorageSettings, Synchronous};
use crate::model::{event::JournaledEvent, Chat, DeviceId};
use outage::Outage;

/// Most writes committed together in one transaction.
const MAX_BATCH: usize = 512;
/// Writes waiting for the writer before callers are slowed down.
const QUEUE_DEPTH: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    #[error("the group commit failed: {0}")]
    Commit(String),
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
    #[error("cannot make the database at {path} readable by its owner only: {source}")]
    Private {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Creates the database file with mode 0600 before SQLite opens it, and brings an existing
/// one (and its `-wal` and `-shm` files) to that mode: it holds webhook secrets and
/// connector tokens, as private as `jwt-secret`. SQLite creates `-wal` and `-shm` with the
/// database file's mode, so they follow.
fn make_private(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
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
    conn: &'c Connection,
    events: Vec<JournaledEvent>,
    /// Devices defined or removed in this batch, announced after it commits.
    device_changes: Vec<DeviceChange>,
    /// Where each device's journal stands in this batch, stored once before it commits.
    heads: HashMap<DeviceId, journal::Head>,
    /// Chats that changed in this batch, as they are now (see [`Tx::chat_changed`]).
    changed_chats: Vec<(DeviceId, Chat)>,
    ids: &'c mut ulid::Generator,
    routes: &'c mut webhooks::Routes,
}

impl<'c> Tx<'c> {
    pub fn conn(&self) -> &'c Connection {
        self.conn
    }

    /// Runs one statement of a write. The writer runs the same few statements thousands of times
    /// a second; they are prepared once and cached on its connection instead of parsed each time.
    pub fn execute(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<usize> {
        Ok(self.conn.prepare_cached(sql)?.execute(params)?)
    }

    /// Like [`Tx::execute`], for a statement that returns one row.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        Ok(self.conn.prepare_cached(sql)?.query_row(params, map)?)
    }

    /// A new id, `prefix` + ULID. Ids are generated by the one writer in commit order and are
    /// strictly increasing, so ordering by id is ordering by arrival (messages use it as their
    /// pagination cursor).
    pub fn new_id(&mut self, prefix: &str) -> String {
        let ulid = self.ids.generate().unwrap_or_else(|_| ulid::Ulid::new());
        format!("{prefix}{ulid}")
    }
}

type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;
type Job = Box<dyn FnOnce(&mut Tx<'_>) -> (Ran, Completion) + Send>;

/// How a write ran, as the writer needs to know it.
enum Ran {
    Done,
    /// The write failed; the transaction ends with it.
    Failed,
    /// The write failed because the database cannot be written (see [`outage`]), with why.
    Unwritable(String),
}

enum Command {
    Write(Job),
    /// Commit everything queued before this, then stop.
    Close(oneshot::Sender<()>),
}

/// A cheap-to-clone handle on the database.
#[derive(Clone)]
pub struct Store {
    writer: mpsc::Sender<Command>,
    readers: Arc<ReaderPool>,
    outage: Outage,
}

/// The one row [`Store::check_writable`] rewrites.
const WRITABLE_CHECK: &str = "INSERT INTO writable_check (id, checked_at) VALUES (1, ?1)
    ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at";

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Store {
    /// Opens (creating if needed) `devicebridge.db` in the data directory, migrates it and
    /// starts the writer.
    pub fn open(settings: &StorageSettings, bus: EventBus) -> StoreResult<Store> {
        let path = settings.database_path();
        make_private(&path).map_err(|source| StoreError::Private {
            path: path.clone(),
            source,
        })?;
        let mut conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            match settings.synchronous {
                Synchronous::Full => "FULL",
                Synchronous::Normal => "NORMAL",
            },
        )?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Sorts and temporary indexes of the write path stay off the disk.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Room for every statement of the write path (see `Tx::execute`).
        conn.set_prepared_statement_cache_capacity(128);
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(&mut conn)?;
        // Checkpoints run on their own thread (see `run_checkpointer`), not inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let log_limit =
            i64::try_from(settings.wal_limit_mb.saturating_mul(1 << 20)).unwrap_or(i64::MAX);
        let checkpointer = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        // Cutting the log back waits for readers and holds up writes meanwhile (see
        // `run_checkpointer`): it gives up soon and tries again in the next idle round.
        checkpointer.busy_timeout(TRUNCATE_PATIENCE)?;
        let changes = bus.changes();

        let (writer, queue) = mpsc::channel(QUEUE_DEPTH);
        let (writer_alive, writer_gone) = std::sync::mpsc::channel::<()>();
        let copied = LogCopied::default();
        let writer_copied = copied.clone();
        let outage = Outage::default();
        let (writer_outage, checkpoint_outage) = (outage.clone(), outage.clone());
        spawn_thread("writer", move || {
            run_writer(conn, queue, bus, writer_copied, writer_outage);
            drop(writer_alive);
        })?;
        // Should this fail, `writer` is dropped on the way out and the writer thread ends.
        spawn_thread("checkpoint", move || {
            run_checkpointer(
                checkpointer,
                writer_gone,
                copied,
                log_limit,
                changes,
                checkpoint_outage,
            )
        })?;
        Ok(Store {
            writer,
            readers: Arc::new(ReaderPool {
                path,
                idle: Mutex::new(Vec::new()),
            }),
            outage,
        })
    }

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

    /// Hands `op` to the writer; the answer comes once its group commit is durable.
    async fn queue<R, F>(&self, op: F) -> StoreResult<oneshot::Receiver<StoreResult<R>>>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> StoreResult<R> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |tx| {
            let result = op(tx);
            let ran = match &result {
                Ok(_) => Ran::Done,
                Err(error) if error.is_unwritable() => Ran::Unwritable(error.to_string()),
                Err(_) => Ran::Failed,
            };
            let completion: Completion = Box::new(move |committed| {
                let _ = reply.send(committed.and(result));
            });
            (ran, completion)
        });
        self.writer
            .send(Command::Write(job))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(answer)
    }

    /// Rewrites one row and commits it, as any write does: whether the database can be written
    /// now. Readiness asks this rather than remembering how the last write went, so that it
    /// sees an outage before a client's write fails and its end without waiting for one.
    pub async fn check_writable(&self) -> StoreResult<()> {
        self.write(|tx| {
            tx.execute(WRITABLE_CHECK, [chrono::Utc::now().to_rfc3339()])?;
            Ok(())
        })
        .await
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
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let readers = self.readers.clone();
        match tokio::task::spawn_blocking(move || readers.with(op)).await {
            Ok(result) => result,
            Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
            // The runtime is shutting down and dropped the read before it ran: the caller is
            // being stopped too, and takes it as a store that is closing.
            Err(_) => Err(StoreError::Closed),
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

/// Starts one of the store's threads, `store-{name}`. The process may be out of threads or
/// memory: the caller, opening the store, reports that rather than panicking.
fn spawn_thread(name: &'static str, run: impl FnOnce() + Send + 'static) -> StoreResult<()> {
    thread::Builder::new()
        .name(format!("store-{name}"))
        .spawn(run)
        .map(drop)
        .map_err(|source| StoreError::Thread { name, source })
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
        self.0
            .readers
            .idle
            .lock()
            .expect("reader pool lock")
            .clear();
    }
}

impl ReaderPool {
    fn with<R>(&self, op: impl FnOnce(&Connection) -> StoreResult<R>) -> StoreResult<R> {
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

fn run_writer(
    mut conn: Connection,
    mut queue: mpsc::Receiver<Command>,
    bus: EventBus,
    copied: LogCopied,
    outage: Outage,
) {
    let mut batch = VecDeque::with_capacity(MAX_BATCH);
    let mut ids = ulid::Generator::new();
    let mut routes = webhooks::Routes::unloaded();
    let mut closing = None;
    loop {
        if batch.is_empty() {
            if closing.is_some() {
                break;
            }
            match queue.blocking_recv() {
                Some(Command::Write(job)) => batch.push_back(job),
                Some(Command::Close(done)) => closing = Some(done),
                None => break,
            }
        }
        while closing.is_none() && batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(Command::Write(job)) => batch.push_back(job),
                Ok(Command::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, &mut batch, &mut ids, &mut routes, &bus, &outage);
        if copied.take() {
            // What was committed since the checkpointer's last copy is copied with no write in
            // between, so the next write starts the log over (see `run_checkpointer`).
            checkpoint(&conn, "PASSIVE", &outage);
        }
    }
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// How often the write-ahead log is copied back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// How long cutting the log back waits for readers to finish before it gives up.
const TRUNCATE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(100);

/// Set by the checkpointer when it has copied the log into the database file, for the writer
/// to copy the rest (see [`run_checkpointer`]).
#[derive(Clone, Default)]
struct LogCopied(Arc<AtomicBool>);

impl LogCopied {
    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn take(&self) -> bool {
        self.0.swap(false, Ordering::Acquire)
    }
}

/// Runs a checkpoint of the write-ahead log and returns how many frames the log holds
/// afterwards; `None` if it failed or could not finish (a mode that waits for readers gave
/// up), which the next one retries. One that fails because the database file cannot be
/// written is part of an outage, logged once with it.
fn checkpoint(conn: &Connection, mode: &str, outage: &Outage) -> Option<i64> {
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
/// copies the little that is left ([`run_writer`]). That stalls the writer for a few
/// milliseconds, which is why it waits for the limit instead of happening every round.
///
/// When the log starts over, its file keeps its size and new frames overwrite the old ones:
/// having SQLite cut the file back there (`journal_size_limit`) made the first commit after
/// each restart take 15–40 ms, the largest stalls a steady load saw. The file is cut back to
/// nothing instead once writes stop: a round that finds the log as the previous round left
/// it, all copied, truncates it. That blocks writes while it runs, so it runs only then, and
/// gives up after [`TRUNCATE_PATIENCE`] if a reader is still on the log.
fn run_checkpointer(
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

/// What a batch publishes once it has committed: the events it journaled and the devices it
/// defined or removed.
type Announced = (Vec<JournaledEvent>, Vec<DeviceChange>);

/// Runs the queued writes in one transaction, then answers and publishes. A write that fails
/// ends the transaction there: it is rolled back with the writes before it, and the writes
/// after it stay queued for the next one. When the database cannot be written, the writes
/// rolled back with the failure are answered [`StoreError::Unwritable`] too: they failed for
/// the same reason, and succeed once the outage is over.
fn commit_batch(
    conn: &mut Connection,
    jobs: &mut VecDeque<Job>,
    ids: &mut ulid::Generator,
    routes: &mut webhooks::Routes,
    bus: &EventBus,
    outage: &Outage,
) {
    let mut completions = Vec::new();
    let started = std::time::Instant::now();
    let changes_before = conn.total_changes();
    let outcome = (|| -> StoreResult<Result<Announced, Ran>> {
        let txn = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut tx = Tx {
            conn: &txn,
            events: Vec::new(),
            device_changes: Vec::new(),
            heads: HashMap::new(),
            changed_chats: Vec::new(),
            ids,
            routes: &mut *routes,
        };
        while let Some(job) = jobs.pop_front() {
            let (ran, completion) = job(&mut tx);
            completions.push(completion);
            if !matches!(ran, Ran::Done) {
                // Dropping the transaction rolls it back.
                return Ok(Err(ran));
            }
        }
        tx.journal_changed_chats()?;
        tx.store_heads()?;
        let events = std::mem::take(&mut tx.events);
        let device_changes = std::mem::take(&mut tx.device_changes);
        txn.commit()?;
        Ok(Ok((events, device_changes)))
    })();
    match outcome {
        Ok(Ok((events, device_changes))) => {
            // A commit that changed no row wrote nothing, and proves nothing about the disk.
            if conn.total_changes() > changes_before {
                outage.committed();
            }
            let (taken, journaled) = (started.elapsed(), events.len());
            for event in events {
                bus.publish(event);
            }
            for change in device_changes {
                bus.publish_device_change(change);
            }
            bus.committed(completions.len(), journaled, taken);
            for completion in completions {
                completion(Ok(()));
            }
        }
        Ok(Err(ran)) => {
            // The failing write is the last one run: it answers its own error.
            routes.invalidate();
            let unwritable = match ran {
                Ran::Unwritable(cause) => {
                    outage.failed(&cause);
                    Some(cause)
                }
                Ran::Done | Ran::Failed => None,
            };
            let failed = completions.pop();
            for completion in completions {
                completion(Err(match &unwritable {
                    Some(cause) => StoreError::Unwritable(cause.clone()),
                    None => StoreError::RolledBack,
                }));
            }
            if let Some(failed) = failed {
                failed(Ok(()));
            }
        }
        Err(error) => {
            routes.invalidate();
            let reason = error.to_string();
            let unwritable = error.is_unwritable();
            if unwritable {
                outage.failed(&error);
            } else {
                tracing::error!(%error, "a group commit failed; its writes are rolled back");
            }
            for completion in completions {
                completion(Err(match unwritable {
                    true => StoreError::Unwritable(reason.clone()),
                    false => StoreError::Commit(reason.clone()),
                }));
            }
            // Left only when the transaction could not even begin: dropped unrun, their
            // callers get an error instead of the writer retrying them forever.
            jobs.clear();
        }
    }
}

#[cfg(test)]
mod tests;
