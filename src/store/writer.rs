//! The writer thread: it takes the writes queued on the [`Store`], runs as many as are waiting
//! in one transaction (group commit), and answers and publishes only once that commit is
//! durable (on SQLite, through the [`syncer`](super::syncer)). Kept
//! apart from the handle because it is the one place where a write's fate is decided: which
//! writes share a transaction, what a failure rolls back, and when events reach the bus.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::checkpointer::{LogKeeping, LogLength};
use super::cluster::notices::{announce, Announced, Origin};
use super::journal::changes::Earlier;
use super::journal::packer::Packer;
use super::messages::SentRows;
use super::outage::Outage;
use super::statistics::Statistics;
use super::synced_heads::SyncedHeads;
use super::syncer::{Syncer, Tell};
use super::{log_writes, webhooks, Conn, Store, StoreError, StoreResult, Tx};
use crate::bus::EventBus;
use crate::model::DeviceId;

/// Most writes committed together in one transaction.
const MAX_BATCH: usize = 512;
/// Writes waiting for the writer before callers are slowed down.
pub(super) const QUEUE_DEPTH: usize = 8192;

type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;
/// Where a batch left the journal of each device it journaled to.
type Heads = Vec<(DeviceId, u64)>;
type Job = Box<dyn FnOnce(&mut Tx<'_>) -> (Ran, Completion) + Send>;

/// How a write ran, as the writer needs to know it.
pub(super) enum Ran {
    Done,
    /// The write failed; the transaction ends with it.
    Failed,
    /// The write failed because the database cannot be written (see
    /// [`outage`](super::outage)), with why.
    Unwritable(String),
}

pub(super) enum Command {
    /// A write, with when it was queued: the writer measures how long writes wait for it.
    Write(Job, Instant),
    /// Commit everything queued before this, then stop.
    Close(oneshot::Sender<()>),
}

impl Store {
    /// Hands `op` to the writer; the answer comes once its group commit is durable.
    pub(super) async fn queue<R, F>(&self, op: F) -> StoreResult<oneshot::Receiver<StoreResult<R>>>
    where
        R: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> StoreResult<R> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let fence = self.fence.clone();
        let job: Job = Box::new(move |tx| {
            let result = match fence.as_deref().map(|fence| tx.check_fence(fence)) {
                Some(Err(refused)) => Err(refused),
                // The answers of the statements it sent ahead are its own (see `Conn::write`).
                _ => op(tx).and_then(|answer| tx.conn().settle().map(|()| answer)),
            };
            let ran = match &result {
                // Refused before it wrote anything: the transaction goes on without it.
                Ok(_) | Err(StoreError::Fenced(_)) => Ran::Done,
                Err(error) if error.is_unwritable() => Ran::Unwritable(error.to_string()),
                Err(_) => Ran::Failed,
            };
            let completion: Completion = Box::new(move |committed| {
                let _ = reply.send(committed.and(result));
            });
            (ran, completion)
        });
        self.writer
            .send(Command::Write(job, Instant::now()))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(answer)
    }
}

/// What the writer does beyond its writes, by database.
pub(super) enum Duties {
    /// Keep SQLite's log under its limit (see [`super::checkpointer`]), and sync it off the
    /// writer's path, telling `synced` how far each journal is on the disk.
    Sqlite {
        keeping: LogKeeping,
        syncer: Syncer,
        synced: Option<Arc<SyncedHeads>>,
    },
    /// Tell the cluster's other nodes what each commit changed.
    Postgresql { origin: Origin },
}

pub(super) fn run_writer(
    conn: Conn,
    mut queue: mpsc::Receiver<Command>,
    bus: EventBus,
    duties: Duties,
    outage: Outage,
    mut packer: Packer,
) {
    let (mut keeping, syncer, synced, origin) = match duties {
        Duties::Sqlite {
            keeping,
            syncer,
            synced,
        } => {
            log_writes::defer_syncs();
            (Some(keeping), syncer, synced, None)
        }
        Duties::Postgresql { origin } => (None, Syncer::none(), None, Some(origin)),
    };
    let log = LogLength::default();
    let sqlite = keeping.as_ref().and(conn.as_sqlite());
    let hook = sqlite.map(|sqlite| log.follow(sqlite));
    let mut batch = VecDeque::with_capacity(MAX_BATCH);
    let mut ids = ulid::Generator::new();
    let mut routes = webhooks::Routes::unloaded();
    let mut sent_rows = SentRows::default();
    let mut earlier = Earlier::default();
    let mut closing = None;
    let mut statistics = Statistics::wanted(&conn).unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot tell whether the database has statistics");
        None
    });
    loop {
        if batch.is_empty() {
            if closing.is_some() {
                break;
            }
            match queue.blocking_recv() {
                Some(Command::Write(job, queued)) => {
                    bus.write_waited(queued.elapsed());
                    batch.push_back(job);
                }
                Some(Command::Close(done)) => closing = Some(done),
                None => break,
            }
        }
        while closing.is_none() && batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(Command::Write(job, queued)) => {
                    bus.write_waited(queued.elapsed());
                    batch.push_back(job);
                }
                Ok(Command::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        let commit = Commit {
            conn: &conn,
            bus: &bus,
            outage: &outage,
            origin: origin.as_ref(),
            synced: synced.as_ref(),
        };
        let (committed, tell) = commit.batch(
            &mut batch,
            &mut ids,
            &mut routes,
            &mut sent_rows,
            &mut earlier,
            &mut packer,
        );
        syncer.after_sync(log_writes::owed_sync(), tell);
        if let Some(counting) = statistics.as_mut() {
            if counting.committed(&conn, committed) {
                statistics = None;
            }
        }
        if let (Some(keeping), Some(frames)) = (keeping.as_mut(), log.since_last_look()) {
            keeping.after_commit(frames, &outage);
        }
    }
    drop(hook);
    // The connection's own last writes, as it closes, are synced as they are made.
    if let Err(error) = log_writes::stop_deferring() {
        tracing::error!(%error, "cannot sync the database's log");
    }
    if let Some(done) = closing {
        syncer.after_sync(
            None,
            Box::new(move |_| {
                let _ = done.send(());
            }),
        );
    }
}

/// Where a batch commits, and whom it tells: the bus, the outage watch, on SQLite the
/// journal's synced heads (see [`SyncedHeads`]) and, on PostgreSQL, the other nodes (see
/// [`super::cluster::notices`]).
#[derive(Clone, Copy)]
struct Commit<'w> {
    conn: &'w Conn,
    bus: &'w EventBus,
    outage: &'w Outage,
    origin: Option<&'w Origin>,
    synced: Option<&'w Arc<SyncedHeads>>,
}

/// Runs the queued writes in one transaction; returns how many writes it committed, and what
/// to tell once the commit is durable: the answers and the events. A write that fails ends the
/// transaction there: it is rolled back with the writes before it, and the writes after it
/// stay queued for the next one. When the database cannot be written, the writes rolled back
/// with the failure are answered [`StoreError::Unwritable`] too: they failed for the same
/// reason, and succeed once the outage is over.
impl Commit<'_> {
    fn batch(
        &self,
        jobs: &mut VecDeque<Job>,
        ids: &mut ulid::Generator,
        routes: &mut webhooks::Routes,
        sent_rows: &mut SentRows,
        earlier: &mut Earlier,
        packer: &mut Packer,
    ) -> (usize, Tell) {
        let Commit {
            conn,
            bus,
            outage,
            origin,
            synced,
        } = *self;
        let mut completions = Vec::new();
        let started = std::time::Instant::now();
        let changes = || conn.as_sqlite().map(rusqlite::Connection::total_changes);
        let changes_before = changes();
        let outcome = (|| -> StoreResult<Result<(Announced, Heads), Ran>> {
            conn.begin()?;
            let mut tx = Tx {
                conn,
                events: Vec::new(),
                device_changes: Vec::new(),
                revoked_keys: Vec::new(),
                heads: HashMap::new(),
                changed_chats: Vec::new(),
                fences_checked: Default::default(),
                unindexed_from: None,
                journal_rows: Vec::new(),
                journaled: Default::default(),
                earlier: &mut *earlier,
                packer: &mut *packer,
                ids,
                routes: &mut *routes,
                sent_rows: &mut *sent_rows,
            };
            while let Some(job) = jobs.pop_front() {
                let (ran, completion) = job(&mut tx);
                completions.push(completion);
                if !matches!(ran, Ran::Done) {
                    return Ok(Err(ran));
                }
            }
            tx.journal_changed_chats()?;
            tx.store_journal_rows()?;
            tx.index_new_words()?;
            let heads = tx.store_heads()?;
            let announced = Announced {
                events: std::mem::take(&mut tx.events),
                device_changes: std::mem::take(&mut tx.device_changes),
                revoked_keys: std::mem::take(&mut tx.revoked_keys),
            };
            if let Some(origin) = origin {
                announce(conn, origin, &announced)?;
            }
            conn.commit()?;
            Ok(Ok((announced, heads)))
        })();
        if !matches!(outcome, Ok(Ok(_))) {
            // Whatever the batch wrote goes with the write that failed.
            conn.rollback();
            packer.discard();
            earlier.discard();
        }
        match outcome {
            Ok(Ok((
                Announced {
                    events,
                    device_changes,
                    revoked_keys,
                },
                heads,
            ))) => {
                // A commit that changed no row wrote nothing, and proves nothing about the disk.
                // (PostgreSQL does not count changed rows: each of its commits counts.)
                let wrote = changes() > changes_before || changes_before.is_none();
                earlier.committed();
                let committed = completions.len();
                let (bus, outage, synced_heads) = (bus.clone(), outage.clone(), synced.cloned());
                let tell: Tell = Box::new(move |synced| {
                    if let Err(cause) = synced {
                        outage.failed(&cause);
                        return refuse(completions, || StoreError::Unwritable(cause.to_string()));
                    }
                    if wrote {
                        outage.committed();
                    }
                    // Before the events: whoever hears of one can read it.
                    if let Some(synced_heads) = synced_heads {
                        synced_heads.synced(&heads);
                    }
                    let journaled = events.len();
                    for event in events {
                        bus.publish(event);
                    }
                    bus.publish_device_changes(device_changes);
                    bus.publish_keys_revoked(revoked_keys);
                    bus.committed(completions.len(), journaled, started.elapsed());
                    for completion in completions {
                        completion(Ok(()));
                    }
                });
                (committed, tell)
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
                let tell: Tell = Box::new(move |_| {
                    refuse(completions, || match &unwritable {
                        Some(cause) => StoreError::Unwritable(cause.clone()),
                        None => StoreError::RolledBack,
                    });
                    if let Some(failed) = failed {
                        failed(Ok(()));
                    }
                });
                (0, tell)
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
                // Left only when the transaction could not even begin: dropped unrun, their
                // callers get an error instead of the writer retrying them forever.
                jobs.clear();
                let tell: Tell = Box::new(move |_| {
                    refuse(completions, || match unwritable {
                        true => StoreError::Unwritable(reason.clone()),
                        false => StoreError::Commit(reason.clone()),
                    })
                });
                (0, tell)
            }
        }
    }
}

/// Answers each of `completions` with the error `error` makes.
fn refuse(completions: Vec<Completion>, error: impl Fn() -> StoreError) {
    for completion in completions {
        completion(Err(error()));
    }
}
