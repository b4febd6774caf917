//! Where the messages sent lately are stored, by their upstream id, on SQLite: the writer's
//! memory of them, so that their acks find them without the index of upstream ids.
//!
//! An upstream names the message it acknowledges by its own id, which is random: each ack's
//! lookup in that index read a page of its own, most of them not in the writer's cache, and
//! was the largest part of an ack's work. The relay knows the row of each message it sends
//! (its `rowid`, read with the queue), and an ack comes soon after the send. So the writer
//! keeps the rows of the last [`MOST`] messages it recorded as sent, and an ack reads the row
//! straight away, checking that it is still that device's message with that upstream id.
//!
//! Nothing here has to be kept in step with the database: a row that no longer matches (its
//! message deleted, or the batch that recorded it rolled back) is simply not found, and the
//! index is asked as before. What is kept is bounded in count and in the length of its ids.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use ahash::RandomState;

use crate::model::DeviceId;

/// How many sent messages are remembered: a few seconds of sends at the writer's rate, more
/// than the time from a send to its server ack and delivery.
const MOST: usize = 16_384;

/// Upstream ids longer than this are not remembered (WhatsApp's are ~20–40 characters), so
/// that what is kept stays within `MOST` × a few hundred bytes.
const LONGEST_ID: usize = 128;

/// A map hashed with keys of its own (not open to collisions chosen by whoever names the
/// ids), faster than the standard library's for the writer's many small lookups.
type Map<K, V> = HashMap<K, V, RandomState>;

/// The rows of the messages sent lately, by device and upstream id, oldest first.
#[derive(Default)]
pub struct SentRows {
    rows: Map<DeviceId, Map<Arc<str>, i64>>,
    order: VecDeque<(DeviceId, Arc<str>)>,
}

impl SentRows {
    /// The message of `device` sent as `upstream_id` is row `rowid`; the oldest one
    /// remembered is forgotten once there are [`MOST`].
    pub fn remember(&mut self, device: &DeviceId, upstream_id: &str, rowid: i64) {
        if upstream_id.len() > LONGEST_ID {
            return;
        }
        let id: Arc<str> = Arc::from(upstream_id);
        let rows = self.rows.entry(device.clone()).or_default();
        if rows.insert(id.clone(), rowid).is_some() {
            return;
        }
        self.order.push_back((device.clone(), id));
        if self.order.len() > MOST {
            if let Some((device, id)) = self.order.pop_front() {
                self.forget(&device, &id);
            }
        }
    }

    /// The row of the message of `device` sent as `upstream_id`, if it is remembered; it
    /// may no longer be that message's (see the module's documentation).
    pub fn row_of(&self, device: &DeviceId, upstream_id: &str) -> Option<i64> {
        self.rows.get(device)?.get(upstream_id).copied()
    }

    fn forget(&mut self, device: &DeviceId, upstream_id: &str) {
        if let Some(rows) = self.rows.get_mut(device) {
            rows.remove(upstream_id);
            if rows.is_empty() {
                self.rows.remove(device);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_is_forgotten_past_the_most_kept() {
        let (demo, other) = (
            DeviceId::parse("demo").unwrap(),
            DeviceId::parse("other").unwrap(),
        );
        let mut sent = SentRows::default();
        sent.remember(&other, "first", 1);
        for n in 0..MOST as i64 {
            sent.remember(&demo, &format!("up_{n}"), n + 2);
        }
        assert_eq!(sent.row_of(&other, "first"), None);
        assert!(
            !sent.rows.contains_key(&other),
            "a device with nothing kept is let go"
        );
        assert_eq!(sent.row_of(&demo, "up_0"), Some(2));
        assert_eq!(
            sent.row_of(&other, "up_0"),
            None,
            "each device has its own ids"
        );
        assert_eq!(sent.order.len(), MOST);
    }

    #[test]
    fn a_long_upstream_id_is_not_remembered_and_a_known_one_not_twice() {
        let demo = DeviceId::parse("demo").unwrap();
        let mut sent = SentRows::default();
        sent.remember(&demo, &"x".repeat(LONGEST_ID + 1), 1);
        assert_eq!(sent.order.len(), 0);
        sent.remember(&demo, "up", 1);
        sent.remember(&demo, "up", 2);
        assert_eq!(sent.row_of(&demo, "up"), Some(2));
        assert_eq!(sent.order.len(), 1);
    }
}
