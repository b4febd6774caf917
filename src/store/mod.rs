//! Embedded SQLite storage.
//!
//! One dedicated writer thread owns the only writing connection. Callers hand it closures
//! ([`Store::write`]); it runs everything queued in one transaction (group commit: one fsync for
//! many writes), each closure inside its own savepoint so one failing write does not undo the
//! others, and answers the callers only after the commit. Events journaled inside a write are
//! published on the [`EventBus`] after that same commit — so an event is never seen anywhere
//! before it is durable, and a write and its events are atomic.
//!
//! Reads go through a small pool of read-only connections on blocking threads; WAL mode lets them
//! run while the writer commits.

pub mod devices;
pub mod journal;
pub mod keys;
mod migrations;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

pub use devices::{DeviceRecord, DeviceSource};
pub use journal::JournalRead;
pub use keys::KeyRecord;

use crate::bus::EventBus;
use crate::config::Synchronous;
use crate::event::JournaledEvent;

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
    #[error("the group commit failed: {0}")]
    Commit(String),
    #[error("cannot open the database at {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

pub type StoreResult<T> = Result<T, StoreError>;

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
}

impl<'c> Tx<'c> {
    pub fn conn(&self) -> &'c Connection {
        self.conn
    }
}

type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;
type Job = Box<dyn FnOnce(&mut Tx<'_>) -> (bool, Completion) + Send>;

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
}

struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Store {
    /// Opens (creating if needed) `devicebridge.db` in `data_dir`, migrates it and starts the writer.
    pub fn open(data_dir: &Path, synchronous: Synchronous, bus: EventBus) -> StoreResult<Store> {
        let path = data_dir.join("devicebridge.db");
        let mut conn = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(
            None,
            "synchronous",
            match synchronous {
                Synchronous::Full => "FULL",
                Synchronous::Normal => "NORMAL",
            },
        )?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations::migrate(&mut conn)?;

        let (writer, queue) = mpsc::channel(QUEUE_DEPTH);
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run_writer(conn, queue, bus))
            .expect("spawn the store writer thread");
        Ok(Store {
            writer,
            readers: Arc::new(ReaderPool {
                path,
                idle: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Runs `op` in the next group commit and returns its result once it is durable.
    ///
    /// If `op` fails, only its own changes (and events) are rolled back.
    pub async fn write<R, F>(&self, op: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> StoreResult<R> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |tx| {
            let result = op(tx);
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |committed| {
                let _ = reply.send(committed.and(result));
            });
            (ok, completion)
        });
        self.writer
            .send(Command::Write(job))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs a query on a read connection, off the async runtime.
    pub async fn read<R, F>(&self, op: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || readers.with(op))
            .await
            .expect("read tasks do not panic")
    }

    /// Commits everything queued so far and stops the writer.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.writer.send(Command::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
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

fn run_writer(mut conn: Connection, mut queue: mpsc::Receiver<Command>, bus: EventBus) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut closing = None;
    while closing.is_none() {
        let Some(first) = queue.blocking_recv() else {
            break;
        };
        match first {
            Command::Write(job) => batch.push(job),
            Command::Close(done) => closing = Some(done),
        }
        while closing.is_none() && batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(Command::Write(job)) => batch.push(job),
                Ok(Command::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, batch.drain(..), &bus);
        }
    }
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// Runs one batch of writes in a transaction, then answers and publishes.
fn commit_batch(conn: &mut Connection, jobs: impl Iterator<Item = Job>, bus: &EventBus) {
    let mut completions = Vec::new();
    let outcome = (|| -> StoreResult<Vec<JournaledEvent>> {
        let txn = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut tx = Tx {
            conn: &txn,
            events: Vec::new(),
        };
        for job in jobs {
            let mark = tx.events.len();
            tx.conn.execute_batch("SAVEPOINT job")?;
            let (ok, completion) = job(&mut tx);
            if ok {
                tx.conn.execute_batch("RELEASE job")?;
            } else {
                tx.conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
                tx.events.truncate(mark);
            }
            completions.push(completion);
        }
        let events = std::mem::take(&mut tx.events);
        txn.commit()?;
        Ok(events)
    })();
    match outcome {
        Ok(events) => {
            for event in events {
                bus.publish(event);
            }
            for completion in completions {
                completion(Ok(()));
            }
        }
        Err(error) => {
            tracing::error!(%error, "a group commit failed; its writes are rolled back");
            let reason = error.to_string();
            for completion in completions {
                completion(Err(StoreError::Commit(reason.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests;
