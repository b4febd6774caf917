//! The syncer thread: the sync of SQLite's log, off the writer's path.
//!
//! The writer used to wait for each commit's sync before it began the next batch: a quarter of
//! its time under a steady send (docs/performance.md, send). Now a commit's sync is owed (see
//! [`super::log_writes`]), and the writer hands it here with what the commit must then tell:
//! its writes' answers and its events. This thread syncs the log once for all the commits
//! handed since its last sync, then tells them in the order they were committed, while the
//! writer runs the next batch. Nothing is answered or published before the log that holds it
//! is on the disk.
//!
//! On PostgreSQL a commit is durable when it returns, and what it tells is told at once.

use std::fs::File;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use super::{spawn_thread, StoreResult};
use crate::metrics::Metrics;

/// What a commit tells once it is durable; given why not if its log could not be synced.
pub(super) type Tell = Box<dyn FnOnce(Result<(), Arc<str>>) + Send>;

/// Commits handed and not yet told, past which the writer waits for the syncer: a disk that
/// stalls holds up the writes, rather than their answers piling up in memory.
const MOST_WAITING: usize = 64;

type Handed = (Option<Arc<File>>, Tell);

/// The writer's end of the syncer thread.
pub(super) struct Syncer(Option<mpsc::SyncSender<Handed>>);

impl Syncer {
    /// Starts the syncer thread, which ends when the writer drops its end. Each sync's time
    /// goes to `metrics`: what the disk adds to every acknowledgement.
    pub(super) fn start(metrics: Arc<Metrics>) -> StoreResult<Syncer> {
        let (hand, handed) = mpsc::sync_channel::<Handed>(MOST_WAITING);
        spawn_thread("syncer", move || {
            while let Ok(first) = handed.recv() {
                let round: Vec<Handed> = std::iter::once(first).chain(handed.try_iter()).collect();
                let mut logs = round.iter().filter_map(|(log, _)| log.as_ref()).peekable();
                let owed = logs.peek().is_some();
                let started = Instant::now();
                let synced = sync(logs);
                if owed {
                    metrics.log_synced(started.elapsed());
                }
                for (_, tell) in round {
                    tell(synced.clone());
                }
            }
        })?;
        Ok(Syncer(Some(hand)))
    }

    /// No syncer: what a commit tells is told at once.
    pub(super) fn none() -> Syncer {
        Syncer(None)
    }

    /// Tells `tell` once `log`, if a commit left its sync owed, is synced, after what the
    /// commits before told.
    pub(super) fn after_sync(&self, log: Option<Arc<File>>, tell: Tell) {
        let Some(hand) = &self.0 else {
            return tell(Ok(()));
        };
        // The thread is gone only if a write's answer panicked on it: the writer syncs.
        if let Err(mpsc::SendError((log, tell))) = hand.send((log, tell)) {
            tell(sync(log.iter()));
        }
    }
}

/// Syncs each log once (the log is one file, unless SQLite made it anew meanwhile).
fn sync<'l>(logs: impl Iterator<Item = &'l Arc<File>>) -> Result<(), Arc<str>> {
    let mut synced: Vec<&Arc<File>> = Vec::new();
    for log in logs {
        if synced.iter().any(|done| Arc::ptr_eq(done, log)) {
            continue;
        }
        log.sync_data()
            .map_err(|error| Arc::from(format!("cannot sync the database's log: {error}")))?;
        synced.push(log);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Hands `log` with a tell that reports its place and outcome on `told`.
    fn hand(
        syncer: &Syncer,
        log: Option<&Arc<File>>,
        place: usize,
        told: &mpsc::Sender<(usize, Result<(), Arc<str>>)>,
    ) {
        let told = told.clone();
        syncer.after_sync(
            log.cloned(),
            Box::new(move |synced| told.send((place, synced)).unwrap()),
        );
    }

    /// Commits are told in the order they were handed, each once its log is synced; a log
    /// that cannot be synced (a file of `/proc`, whose sync the kernel refuses) fails the
    /// commits synced with it, and the syncer goes on with the next ones.
    #[test]
    fn commits_are_told_in_order_and_a_failed_sync_fails_them() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(File::create(dir.path().join("log")).unwrap());
        let unsyncable = Arc::new(File::open("/proc/self/stat").unwrap());
        assert!(unsyncable.sync_data().is_err(), "the kernel syncs /proc");
        let metrics = Arc::new(Metrics::new(Default::default()));
        let syncer = Syncer::start(metrics).unwrap();
        let (told, telling) = mpsc::channel();
        for place in 0..100 {
            hand(&syncer, (place % 3 != 0).then_some(&log), place, &told);
        }
        let wait = || telling.recv_timeout(Duration::from_secs(10)).unwrap();
        for place in 0..100 {
            assert_eq!(wait(), (place, Ok(())));
        }
        hand(&syncer, Some(&unsyncable), 100, &told);
        let (place, synced) = wait();
        assert_eq!(place, 100);
        let cause = synced.unwrap_err();
        assert!(cause.contains("cannot sync the database's log"), "{cause}");
        hand(&syncer, Some(&log), 101, &told);
        assert_eq!(wait(), (101, Ok(())));
    }

    /// Without a syncer (PostgreSQL), a commit is told at once.
    #[test]
    fn without_a_syncer_a_commit_is_told_at_once() {
        let (told, telling) = mpsc::channel();
        hand(&Syncer::none(), None, 7, &told);
        assert_eq!(telling.try_recv().unwrap(), (7, Ok(())));
    }
}
