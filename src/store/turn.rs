//! Writes that must enter the store in the order their requests arrived.
//!
//! socketioxide runs each inbound event's handler as a task of its own, and tasks start in
//! any order: two `message:send`s a client emitted back to back could reach the writer — and
//! so the contact — swapped. Each request takes a [`Turn`] among its connection's [`Arrivals`] as it arrives, in
//! order, and its write waits for the turn before it only until that one is *queued* to the
//! writer, not committed: a client's pipelined sends still share group commits.

use std::sync::Mutex;

use tokio::sync::oneshot;

/// The requests of one client connection, in arrival order.
#[derive(Debug, Default)]
pub struct Arrivals {
    /// Resolves when the last turn taken is over.
    last: Mutex<Option<oneshot::Receiver<()>>>,
}

impl Arrivals {
    /// The next place in line. Must be called in arrival order (synchronously, as the request
    /// is read), not from the task that handles it.
    pub fn take_turn(&self) -> Turn {
        let (over, next) = oneshot::channel();
        let after = self.last.lock().expect("arrivals lock").replace(next);
        Turn { after, _over: over }
    }
}

/// A place among [`Arrivals`]: over when dropped, which lets the next request's write go.
#[derive(Debug)]
pub struct Turn {
    after: Option<oneshot::Receiver<()>>,
    _over: oneshot::Sender<()>,
}

impl Turn {
    /// Waits until the turn before this one is over.
    pub async fn wait(&mut self) {
        if let Some(after) = &mut self.after {
            // The sender is only ever dropped: the error is the signal.
            let _ = after.await;
            self.after = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_turn_waits_for_the_one_before_it_to_be_over() {
        let arrivals = Arrivals::default();
        let first = arrivals.take_turn();
        let mut second = arrivals.take_turn();
        let waiting = tokio::time::timeout(Duration::from_millis(50), second.wait()).await;
        assert!(
            waiting.is_err(),
            "the second turn went before the first was over"
        );
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), second.wait())
            .await
            .expect("the second turn goes once the first is over");
    }

    #[tokio::test]
    async fn the_first_turn_and_a_turn_after_finished_ones_go_at_once() {
        let arrivals = Arrivals::default();
        arrivals.take_turn().wait().await;
        drop(arrivals.take_turn());
        tokio::time::timeout(Duration::from_secs(5), arrivals.take_turn().wait())
            .await
            .expect("nothing to wait for");
    }
}
