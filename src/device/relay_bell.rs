//! How clients' requests wake a device's relay without waiting for it.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Rung when there is something for the relay: messages queued for sending, or actions stored
/// for the upstream. Many rings before the relay runs count as one; it takes everything
/// stored when it does.
#[derive(Default)]
pub struct RelayBell {
    bell: Notify,
    /// Actions were stored since the relay last looked, so a relay turn reads them only then
    /// (or while some wait): most turns, under a stream of messages, have none to read.
    actions: AtomicBool,
    /// The relay is sending: the device is ready. A message accepted while it is not waits
    /// for the upstream, which is worth telling clients (`message:status queued`).
    sending: AtomicBool,
}

impl RelayBell {
    /// Messages were queued.
    pub fn ring(&self) {
        self.bell.notify_one();
    }

    /// Actions were stored (committed already).
    pub fn ring_for_actions(&self) {
        self.actions.store(true, Ordering::Release);
        self.ring();
    }

    pub async fn rung(&self) {
        self.bell.notified().await;
    }

    /// The relay starts or stops sending (the device became ready, or stopped being so).
    pub fn set_sending(&self, sending: bool) {
        self.sending.store(sending, Ordering::Release);
    }

    /// Whether a message queued now goes out at once, or waits for the device to be ready.
    pub fn is_sending(&self) -> bool {
        self.sending.load(Ordering::Acquire)
    }

    /// Whether actions were stored since the last call.
    pub fn take_actions(&self) -> bool {
        self.actions.swap(false, Ordering::AcqRel)
    }
}
