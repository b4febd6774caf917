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
//! index is asked as before. What is kept is bounded: [`MOST`] rows of 16 bytes.

use std::collections::{HashMap, VecDeque};

use ahash::RandomState;

use crate::model::DeviceId;

/// How many sent messages are remembered: a few seconds of sends at the writer's rate, more
/// than the time from a send to its server ack and delivery.
const MOST: usize = 16_384;

/// The rows of the messages sent lately, oldest first, each under a hash of its device and
/// upstream id: 16 bytes each, whatever the ids' length. Two messages whose hashes agree
/// share a place, and the one that is not there is found through the index; the hash's keys
/// are the process's own, so nobody naming ids can choose such pairs.
#[derive(Default)]
pub struct SentRows {
    rows: HashMap<u64, i64, RandomState>,
    order: VecDeque<u64>,
}

impl SentRows {
    /// The message of `device` sent as `upstream_id` is row `rowid`; the oldest one
    /// remembered is forgotten once there are [`MOST`].
    pub fn remember(&mut self, device: &DeviceId, upstream_id: &str, rowid: i64) {
        let key = self.key(device, upstream_id);
        if self.rows.insert(key, rowid).is_some() {
            return;
        }
        self.order.push_back(key);
        if self.order.len() > MOST {
            if let Some(oldest) = self.order.pop_front() {
                self.rows.remove(&oldest);
            }
        }
    }

    /// The row of the message of `device` sent as `upstream_id`, if it is remembered; it
    /// may no longer be that message's (see the module's documentation).
    pub fn row_of(&self, device: &DeviceId, upstream_id: &str) -> Option<i64> {
        self.rows.get(&self.key(device, upstream_id)).copied()
    }

    fn key(&self, device: &DeviceId, upstream_id: &str) -> u64 {
        self.rows.hasher().hash_one((device.as_str(), upstream_id))
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
        assert_eq!(sent.row_of(&demo, "up_0"), Some(2));
        assert_eq!(
            sent.row_of(&other, "up_0"),
            None,
            "each device has its own ids"
        );
        assert_eq!((sent.order.len(), sent.rows.len()), (MOST, MOST));
    }

    #[test]
    fn a_message_remembered_again_takes_one_place() {
        let demo = DeviceId::parse("demo").unwrap();
        let mut sent = SentRows::default();
        sent.remember(&demo, "up", 1);
        sent.remember(&demo, "up", 2);
        assert_eq!(sent.row_of(&demo, "up"), Some(2));
        assert_eq!(sent.order.len(), 1);
    }
}
