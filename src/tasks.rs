//! Tasks that stop together: the daemon's background work (journal pruning, the webhook
//! sender, the host's hooks) and the socket hub's (routing the bus, each watched device's
//! fanout).
//!
//! On shutdown each is told to stop and then awaited, so that none of it still runs when the
//! store closes: a hook drains the events it already took, the webhook sender lets its
//! attempts in flight end (an attempt cut short is sent again after the next start). Work that
//! has not stopped after [`STOP_PATIENCE`] is aborted, so a stuck upstream or sound card
//! cannot hold the daemon up.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long stopping a set of tasks may take before what is left is aborted.
pub const STOP_PATIENCE: Duration = Duration::from_secs(5);

/// The fewest tasks a set holds before it looks for those that ended.
const LOOKED_OVER_FROM: usize = 16;

/// A set of tasks told to stop at once, and awaited.
#[derive(Default)]
pub struct Tasks {
    stop: CancellationToken,
    tasks: Mutex<Held>,
}

/// The tasks a set holds, and how many it held after it last let go of those that ended.
#[derive(Default)]
struct Held {
    tasks: Vec<JoinHandle<()>>,
    kept: usize,
}

impl Tasks {
    /// What work that must finish something before it ends watches to know it must stop.
    pub fn stop_signal(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Runs `work` until it ends or the set stops, whichever comes first.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        self.adopt([tokio::spawn(async move {
            stop.run_until_cancelled(work).await;
        })]);
    }

    /// Takes on tasks that end by themselves once [`Tasks::stop_signal`] fires. Those that
    /// ended already are let go of, so a long-lived set does not keep every task it ran: each
    /// time the set has doubled since it last looked, so that the fanouts of a fleet's ten
    /// thousand watched devices, adopted one by one and ending as their sockets go, are not
    /// each looked over again at every adoption.
    pub fn adopt(&self, tasks: impl IntoIterator<Item = JoinHandle<()>>) {
        let mut held = self.tasks.lock().expect("tasks lock");
        held.tasks.extend(tasks);
        if held.tasks.len() >= 2 * held.kept.max(LOOKED_OVER_FROM) {
            held.tasks.retain(|task| !task.is_finished());
            held.kept = held.tasks.len();
        }
    }

    /// How many tasks the set holds, those that ended but are not let go of yet included.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.tasks.lock().expect("tasks lock").tasks.len()
    }

    /// Tells every task to stop and waits for them all, aborting those still running after
    /// [`STOP_PATIENCE`]. `what` names the set in the log.
    pub async fn stop(&self, what: &str) {
        self.stop_within(STOP_PATIENCE, what).await;
    }

    async fn stop_within(&self, patience: Duration, what: &str) {
        self.stop.cancel();
        let mut tasks = std::mem::take(&mut self.tasks.lock().expect("tasks lock").tasks);
        let all_ended = join_all(tasks.iter_mut());
        if tokio::time::timeout(patience, all_ended).await.is_err() {
            // A handle awaited to its end must not be awaited again: only those still
            // running are aborted and awaited.
            let left: Vec<_> = tasks
                .into_iter()
                .filter(|task| !task.is_finished())
                .collect();
            tracing::warn!(
                left = left.len(),
                what,
                "tasks did not stop in time; aborting them"
            );
            for task in &left {
                task.abort();
            }
            join_all(left).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A patience short enough for a test, long enough for tasks that stop at once.
    const PATIENCE: Duration = Duration::from_millis(200);

    #[tokio::test]
    async fn a_task_that_does_not_stop_is_aborted_after_the_patience() {
        let tasks = Tasks::default();
        let (dropped, was_dropped) = tokio::sync::oneshot::channel::<()>();
        // Never watches the stop signal: only the abort ends it (dropping its sender).
        tasks.adopt([tokio::spawn(async move {
            let _dropped = dropped;
            std::future::pending::<()>().await;
        })]);
        let polite = tasks.stop_signal();
        tasks.adopt([tokio::spawn(async move { polite.cancelled().await })]);
        let started = std::time::Instant::now();
        tasks.stop_within(PATIENCE, "test").await;
        assert!(started.elapsed() >= PATIENCE, "it waited its patience");
        assert!(was_dropped.await.is_err(), "the stuck task was aborted");
    }

    #[tokio::test]
    async fn tasks_that_ended_are_let_go_of_as_the_set_grows() {
        let tasks = Tasks::default();
        for _ in 0..1_000 {
            let task = tokio::spawn(async {});
            // Ended before it is adopted, as most of a long-lived set's tasks are by the
            // time the next one comes.
            while !task.is_finished() {
                tokio::task::yield_now().await;
            }
            tasks.adopt([task]);
            assert!(tasks.held() < 2 * LOOKED_OVER_FROM, "{} held", tasks.held());
        }
        let stop = tasks.stop_signal();
        for _ in 0..1_000 {
            let stop = stop.clone();
            tasks.adopt([tokio::spawn(async move { stop.cancelled().await })]);
        }
        assert!(tasks.held() >= 1_000, "running tasks are held");
        tasks.stop_within(Duration::from_secs(60), "test").await;
        assert_eq!(tasks.held(), 0);
    }

    #[tokio::test]
    async fn work_is_cut_at_the_stop_signal_and_awaited() {
        let tasks = Tasks::default();
        let (ended, has_ended) = tokio::sync::oneshot::channel();
        tasks.spawn(async move {
            std::future::pending::<()>().await;
            let _ = ended.send(());
        });
        tasks.stop_within(Duration::from_secs(60), "test").await;
        assert!(
            has_ended.await.is_err(),
            "the work was cut at the stop signal"
        );
    }
}
