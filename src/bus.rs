//! The event bus: where committed events fan out to the sinks.
//!
//! Only the store's writer publishes, right after the commit that journaled the events, so every
//! subscriber sees each device's events in `seq` order. A subscriber that falls behind the
//! channel's capacity is told how many it missed and refills the gap from the journal.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::event::JournaledEvent;

const CAPACITY: usize = 16_384;

#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<JournaledEvent>>,
}

impl EventBus {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CAPACITY);
        Self { sender }
    }

    pub fn publish(&self, event: JournaledEvent) {
        // No subscriber yet is fine: the journal keeps the event.
        let _ = self.sender.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<JournaledEvent>> {
        self.sender.subscribe()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}
