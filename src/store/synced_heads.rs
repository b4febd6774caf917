//! How far each device's journal is on the disk, for what reads it on SQLite.
//!
//! The log's sync is off the writer's path ([`super::syncer`]): a commit is visible to the
//! read connections as soon as it is made, and on the disk only once the syncer has synced the
//! log that holds it, a millisecond or so later. Its answers and events wait for that sync;
//! a read of the journal did not. A pull over `GET …/events`, a sink or a socket's replay could
//! take an event the disk did not hold yet, and a power cut in that millisecond would then give
//! its `seq` to another event, which a consumer that had the first would skip as seen. So the
//! read connections read each device's journal only up to the head its last synced commit
//! left ([`super::Conn::readable_head`]), and only the webhook deliveries of events up to it
//! are sent ([`super::webhooks::heads`]).
//!
//! The heads are told here by the writer's commits once they are synced, before their events
//! are published, so anything a client learns from an answer or an event is readable. When
//! the store opens, its log is synced first, and every head it holds then is on the disk.
//! What else a read shows (a message, a chat) can still come a sync early, as with
//! `synchronous = NORMAL`: those are not numbered in a sequence that a lost commit would give
//! out again. PostgreSQL makes a commit visible only once it is durable, and
//! `storage.synchronous = normal` syncs nothing: neither has heads here.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::model::DeviceId;

/// Each device's newest synced seq, by its id; a device not here has none yet.
#[derive(Debug)]
pub struct SyncedHeads(RwLock<HashMap<String, u64>>);

impl SyncedHeads {
    /// The heads of a database whose log is synced: each device's id and newest seq.
    pub(super) fn new(heads: impl IntoIterator<Item = (String, u64)>) -> SyncedHeads {
        SyncedHeads(RwLock::new(heads.into_iter().collect()))
    }

    /// A commit that left these heads is synced.
    pub(super) fn synced(&self, heads: &[(DeviceId, u64)]) {
        if heads.is_empty() {
            return;
        }
        let mut synced = self.0.write().expect("synced heads lock");
        for (device, head) in heads {
            match synced.get_mut(device.as_str()) {
                Some(known) => *known = (*known).max(*head),
                None => {
                    synced.insert(device.as_str().to_owned(), *head);
                }
            }
        }
    }

    /// `last`, the head of `device`'s journal as a read sees it, or its synced head if that is
    /// older.
    pub(super) fn cap(&self, device: &str, last: u64) -> u64 {
        let synced = self.0.read().expect("synced heads lock");
        last.min(synced.get(device).copied().unwrap_or(0))
    }
}
