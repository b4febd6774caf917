//! The daemon's background work: journal pruning, the webhook sender and the host's hooks.
//!
//! On shutdown each is told to stop and then awaited, so that none of it still runs when the
//! store closes: a hook drains the events it already took, the webhook sender lets its
//! attempts in flight end (an attempt cut short is sent again after the next start). Work that
//! has not stopped after [`STOP_PATIENCE`] is aborted, so a stuck upstream or sound card
//! cannot hold the daemon up.

use std::future::Future;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long stopping background work may take before what is left is aborted.
const STOP_PATIENCE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Background {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    /// What work that must finish something before it ends watches to know it must stop.
    pub fn stop_signal(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Runs `work` until it ends or the daemon stops, whichever comes first.
    pub fn spawn(&mut self, work: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        self.tasks.push(tokio::spawn(async move {
            stop.run_until_cancelled(work).await;
        }));
    }

    /// Takes on tasks that end by themselves once [`Background::stop_signal`] fires.
    pub fn adopt(&mut self, tasks: impl IntoIterator<Item = JoinHandle<()>>) {
        self.tasks.extend(tasks);
    }

    /// Tells every task to stop and waits for them all, aborting those still running after
    /// [`STOP_PATIENCE`].
    pub async fn stop(mut self) {
        self.stop.cancel();
        let all_ended = join_all(self.tasks.iter_mut());
        if tokio::time::timeout(STOP_PATIENCE, all_ended)
            .await
            .is_err()
        {
            let left = self.tasks.iter().filter(|task| !task.is_finished()).count();
            tracing::warn!(left, "background work did not stop in time; aborting it");
            for task in &self.tasks {
                task.abort();
            }
            join_all(self.tasks.iter_mut()).await;
        }
    }
}
