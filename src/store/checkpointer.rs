//! The checkpointer thread: it copies the write-ahead log back into the database file on its
//! own schedule, so that no commit pays for it, and keeps the log from growing without end
//! under a steady load. Separate from the writer because it runs beside it, on its own
//! connection, and only hands it the little work that must happen between two commits.

use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{ffi, Connection};

use super::outage::{self, Outage};
use crate::metrics::Changes;

/// How often the write-ahead log is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How long the checkpointer's rounds wait for the writer's batch and for the readers on the
/// log before they give up on starting it over or cutting it back, and try again later.
pub(super) const TRUNCATE_PATIENCE: Duration = Duration::from_millis(100);
/// How long the writer, about to take the log past its limit, waits for the readers on it.
const WRITER_PATIENCE: Duration = Duration::from_secs(1);

/// The checkpointer's connection, shared with the writer, which runs a checkpoint on it when
/// the checkpointer falls behind (see [`LogKeeping`]). Sharing it has the two take turns:
/// SQLite answers a checkpoint that meets another one under way "busy" at once, and in the
/// load tool's large fleets most of the writer's own checkpoints met the checkpointer's next
/// round that way and did nothing (`docs/performance.md`, fleet: the log).
#[derive(Clone)]
pub(super) struct Checkpoints(Arc<Mutex<Connection>>);

impl Checkpoints {
    pub(super) fn new(conn: Connection) -> Self {
        Self(Arc::new(Mutex::new(conn)))
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A checkpoint that panicked left the connection as SQLite leaves it: usable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Copies all of the write-ahead log into the database file and has the next write start it
/// over, waiting up to `patience` for the writer to finish its batch and for the readers still
/// on the log. Returns the log's length if it will start over. A checkpoint that does not wait
/// can copy no further than the oldest snapshot a reader is still on, and SQLite starts the
/// log over only when no reader is on any of it: with reads one after another (a fleet's
/// clients polling the REST API) there nearly always is one, and the log grew to many times
/// its limit in the store's test of it (`docs/performance.md`, fleet: the log). Readers that start while this one waits read the
/// database file only and do not hold it up; writes wait for it.
fn restart(conn: &Connection, patience: Duration, outage: &Outage) -> Option<i64> {
    conn.busy_timeout(patience).ok()?;
    let frames = checkpoint(conn, "RESTART", outage);
    if let Err(error) = conn.busy_timeout(TRUNCATE_PATIENCE) {
        tracing::warn!(%error, "the checkpointer's patience for locks could not be set back");
    }
    frames
}

/// What the writer does for the log after each batch, between two commits, when no write
/// holds it up:
/// - past half its limit, it wakes the checkpointer (a wake already pending is enough);
/// - once the checkpointer has copied the log ([`LogCopied`]), it copies the little appended
///   since and starts the log over, unless the log is back under half its limit: then it
///   started over since that copy, which was of the old log (between a restart and the next
///   write the log still reports its old length, and a round of the checkpointer in that gap
///   had the writer start the new log over after its first batch);
/// - should another batch half as large again as the largest of late take it past its limit,
///   which happens only when writes outrun the checkpointer, it does so at once, stalling the
///   writes behind it.
///
/// A batch of many devices' writes touches as many pages, half a limit's worth in the load
/// tool's large fleets (`docs/performance.md`, fleet: the log), and looking at the limit
/// alone, at the last batch, at the largest since the log last started over, or at the
/// largest of late, each let the log pass its limit by a batch.
pub(super) struct LogKeeping {
    wake: SyncSender<()>,
    copied: LogCopied,
    checkpoints: Checkpoints,
    limit_frames: i64,
    /// The log's length after the previous batch; `None` before the first, when the log may
    /// hold what the migrations wrote at open (a step that rewrites a large table writes all
    /// of it), which is no batch of the writer's: taken for one, it had the writer start the
    /// log over at each batch for a long while.
    frames: Option<i64>,
    /// The most frames one batch appended of late: the largest since the log started over, or
    /// a part of the largest before that, which each start over lowers by an eighth.
    largest_batch: i64,
}

impl LogKeeping {
    /// Called by the writer after each batch, with the log's length in frames.
    pub(super) fn after_commit(&mut self, frames: i64, outage: &Outage) {
        let batch = match self.frames {
            None => 0,
            Some(before) if frames >= before => frames - before,
            Some(_) => {
                // The log started over during the batch, which wrote all of it.
                self.started_over();
                frames
            }
        };
        self.largest_batch = self.largest_batch.max(batch);
        self.frames = Some(frames);
        // Half as much again: a batch may be larger than any of late (in the fleet, by 10 %).
        let headroom = self.largest_batch + self.largest_batch / 2;
        let past_half = frames > self.limit_frames / 2;
        let patience = if frames + headroom > self.limit_frames {
            WRITER_PATIENCE
        } else if self.copied.take() && past_half {
            TRUNCATE_PATIENCE
        } else {
            if past_half {
                let _ = self.wake.try_send(());
            }
            return;
        };
        if restart(&self.checkpoints.connection(), patience, outage).is_some() {
            self.frames = Some(0);
            self.started_over();
        }
    }

    fn started_over(&mut self) {
        self.largest_batch -= self.largest_batch / 8;
    }
}

/// How many frames of `page_size` bytes a log of `bytes` holds. Each frame carries a 24-byte
/// header before its page, and the file a 32-byte one: counting pages alone let the log pass
/// its limit (`docs/performance.md`, fleet: the log).
fn frames_within(bytes: i64, page_size: i64) -> i64 {
    const LOG_HEADER: i64 = 32;
    const FRAME_HEADER: i64 = 24;
    (bytes - LOG_HEADER).max(0) / (page_size.max(1) + FRAME_HEADER)
}

/// The writer's part in keeping the log and the channel that wakes the checkpointer, with the
/// log's limit in bytes, its frames of `page_size` bytes each; the checkpointer ends when the
/// writer's part is dropped.
pub(super) fn log_keeping(
    checkpoints: Checkpoints,
    copied: LogCopied,
    log_limit: i64,
    page_size: i64,
) -> (LogKeeping, Receiver<()>) {
    let (wake, woken) = std::sync::mpsc::sync_channel(1);
    let keeping = LogKeeping {
        wake,
        copied,
        checkpoints,
        limit_frames: frames_within(log_limit, page_size),
        frames: None,
        largest_batch: 0,
    };
    (keeping, woken)
}

/// Set by the checkpointer when it has copied the log into the database file, for the writer
/// to copy the rest and start the log over (see [`run_checkpointer`]).
#[derive(Clone, Default)]
pub(super) struct LogCopied(Arc<AtomicBool>);

impl LogCopied {
    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn take(&self) -> bool {
        self.0.swap(false, Ordering::Acquire)
    }
}

/// How many frames the write-ahead log held after the writer's last commit, as SQLite tells
/// the writer connection's WAL hook: the writer reads it after each batch, for nothing, to
/// wake the checkpointer as soon as the log passes its limit instead of at its next round.
#[derive(Clone, Default)]
pub(super) struct LogLength(Arc<AtomicI64>);

/// What [`LogLength`] holds once looked at, until the next commit.
const NOT_COMMITTED: i64 = -1;

impl LogLength {
    /// The log's length after the commits since the last look, if any wrote to it: a batch
    /// that wrote nothing (its writes all failed, or changed nothing) leaves the length as an
    /// earlier batch left it, which [`LogKeeping`] would take for a batch of as many frames.
    pub(super) fn since_last_look(&self) -> Option<i64> {
        Some(self.0.swap(NOT_COMMITTED, Ordering::AcqRel)).filter(|&frames| frames >= 0)
    }

    /// Has SQLite report the log's length after each commit of `conn`, until the returned
    /// hook is dropped, which must happen before `conn` closes. (The connection's automatic
    /// checkpoints, which use the same hook, are off: see [`run_checkpointer`].)
    pub(super) fn follow(&self, conn: &Connection) -> LogHook {
        // SAFETY: the handle is the open connection's; the counter the hook is given stays
        // alive in the returned `LogHook`, which takes the hook off before it lets go of it.
        unsafe {
            let db = conn.handle();
            let counter = Arc::as_ptr(&self.0).cast_mut().cast::<c_void>();
            ffi::sqlite3_wal_hook(db, Some(committed), counter);
            LogHook {
                db,
                _counter: self.0.clone(),
            }
        }
    }
}

/// SQLite's call after each commit of the writer: `frames` is the log's length.
unsafe extern "C" fn committed(
    counter: *mut c_void,
    _db: *mut ffi::sqlite3,
    _database: *const c_char,
    frames: c_int,
) -> c_int {
    // SAFETY: `counter` is the `AtomicI64` that `LogLength::follow` registered, kept alive
    // by its `LogHook` for as long as the hook is set.
    unsafe { &*counter.cast::<AtomicI64>() }.store(i64::from(frames), Ordering::Release);
    ffi::SQLITE_OK
}

/// The WAL hook of the writer's connection, taken off when dropped.
pub(super) struct LogHook {
    db: *mut ffi::sqlite3,
    _counter: Arc<AtomicI64>,
}

impl Drop for LogHook {
    fn drop(&mut self) {
        // SAFETY: `db` is still open: the hook is dropped before its connection.
        unsafe {
            ffi::sqlite3_wal_hook(self.db, None, std::ptr::null_mut());
        }
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

/// Copies the write-ahead log into the database file every [`CHECKPOINT_EVERY`], or as soon as
/// the writer finds the log past half of `log_limit` (a message on `wake`), until the writer
/// stops (`wake` closes). SQLite would otherwise do it inside whichever commit crosses its
/// threshold, and that commit (and every write waiting behind it) would pay for copying and
/// syncing thousands of pages. A passive checkpoint never blocks the writer or the readers.
///
/// SQLite writes the log from its beginning again only when a write starts with all of it
/// copied and no reader on it, which a steady stream of writes and reads never allows: frames
/// are appended while a checkpoint copies, and a reader is nearly always on some of them. At
/// the load tool's send rate the log grew for as long as the load lasted (`docs/performance.md`,
/// send), and a crash left all of it to replay at the next start. So once the log is past
/// half of `log_limit` bytes (`storage.wal_limit_mb`), a round copies a second time (only what
/// was appended during the first) and the writer, between two of its commits, copies the
/// little that is left and waits for the readers on the log ([`LogKeeping`]). That stalls the
/// writer for a few milliseconds, which is why it waits for half the limit instead of
/// happening every round. A thousand devices linking at once appended several limits' worth
/// within one round's second (`docs/performance.md`, fleet: the log), so the writer, which learns the log's length from each commit, wakes this thread as
/// soon as the log passes half its limit, and starts the log over by itself should it be about
/// to pass the limit before this thread is done.
///
/// When the log starts over, its file keeps its size and new frames overwrite the old ones:
/// having SQLite cut the file back there (`journal_size_limit`) made the first commit after
/// each restart the longest stall a steady load saw (`docs/performance.md`, send). The file is cut back to
/// nothing instead once writes stop: a round that finds the log as the previous round left
/// it, all copied, truncates it. That blocks writes while it runs, so it runs only then, and
/// gives up after [`TRUNCATE_PATIENCE`] if a reader is still on the log.
pub(super) fn run_checkpointer(
    checkpoints: Checkpoints,
    wake: Receiver<()>,
    copied: LogCopied,
    log_limit: i64,
    changes: Changes,
    outage: Outage,
) {
    let page_size: i64 = checkpoints
        .connection()
        .pragma_query_value(None, "page_size", |row| row.get(0))
        .unwrap_or(4096);
    let limit_frames = frames_within(log_limit, page_size);
    let mut previous = 0;
    while let Ok(()) | Err(RecvTimeoutError::Timeout) = wake.recv_timeout(CHECKPOINT_EVERY) {
        let conn = checkpoints.connection();
        let frames = checkpoint(&conn, "PASSIVE", &outage).unwrap_or(0);
        if frames > limit_frames / 2 {
            checkpoint(&conn, "PASSIVE", &outage);
            copied.set();
            // The writer starts the log over next: a wake it sent meanwhile is for this
            // round, and answered now would copy the new log's first frames, after which
            // SQLite starts the log over again at the next write.
            while wake.try_recv().is_ok() {}
        } else if frames > 0
            && frames == previous
            && checkpoint(&conn, "TRUNCATE", &outage) == Some(0)
        {
            changes.bump();
        }
        previous = frames;
    }
    checkpoint(&checkpoints.connection(), "TRUNCATE", &outage);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Between the writer's restart of the log and its next write, the log still reports its
    /// old length, so a round of the checkpointer that runs then copies it again and sets
    /// [`LogCopied`] as if for a new round.
    #[test]
    fn a_copy_made_before_the_log_started_over_does_not_start_the_new_log_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("devicebridge.db");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.execute_batch("CREATE TABLE t (x)").unwrap();
        let length = LogLength::default();
        let _hook = length.follow(&writer);
        let write = || {
            writer
                .execute("INSERT INTO t VALUES (zeroblob(10000))", [])
                .unwrap();
            length.since_last_look().unwrap()
        };
        let copied = LogCopied::default();
        let checkpoints = Checkpoints::new(Connection::open(&path).unwrap());
        let (mut keeping, _woken) = log_keeping(checkpoints, copied.clone(), 1 << 20, 4096);
        let outage = Outage::on_disk(dir.path().to_owned());
        let half = frames_within(1 << 20, 4096) / 2;
        let mut frames = write();
        while frames <= half {
            keeping.after_commit(frames, &outage);
            frames = write();
        }
        copied.set();
        keeping.after_commit(frames, &outage);
        let restarted = write();
        assert!(restarted < frames, "{frames} frames, then {restarted}");
        copied.set();
        keeping.after_commit(restarted, &outage);
        let next = write();
        assert!(next > restarted, "the new log started over after one write");
    }

    #[test]
    fn a_log_of_the_frames_within_a_limit_fits_in_it_and_one_more_does_not() {
        // SQLite's log: a 32-byte header, then each frame's 24-byte header and its page.
        for (limit, page_size) in [(16 << 20, 4096), (1 << 20, 4096), (16 << 20, 65536)] {
            let file = |frames: i64| 32 + frames * (24 + page_size);
            let frames = frames_within(limit, page_size);
            assert!(file(frames) <= limit, "{frames} frames of {page_size}");
            assert!(file(frames + 1) > limit, "{frames} frames of {page_size}");
        }
        assert_eq!(frames_within(16, 4096), 0);
    }
}
