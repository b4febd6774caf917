//! What waits to be written to one client: the bytes its session queued and the transport has
//! not written yet, counted against `limits.client_queue_bytes`, and whether the session was
//! cut off as a slow consumer (see [`super::session`] for who counts what).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::api::connection::ConnectionMeter;

/// What may wait for one client: `limits.client_queue_bytes` and
/// `limits.client_queue_packets`.
#[derive(Debug, Clone, Copy)]
pub struct QueueBudget {
    pub bytes: usize,
    pub packets: usize,
}

/// Bytes queued for one client and not yet written out.
#[derive(Debug, Default)]
pub struct Outbound {
    /// Bytes queued, less what polling responses carried.
    queued: AtomicI64,
    /// The WebSocket connection carrying the session, and what it had written when it took
    /// over: what it wrote since has left the queue.
    carrier: Mutex<Option<(Arc<ConnectionMeter>, u64)>>,
    cut_off: AtomicBool,
    /// The fewest bytes of any packet queued so far (0 before the first): what waits is at
    /// most `waiting / smallest` packets.
    smallest: AtomicUsize,
}

impl Outbound {
    pub(super) fn carry_on(&self, meter: Arc<ConnectionMeter>) {
        let written = meter.written();
        *self.carrier.lock().expect("carrier lock") = Some((meter, written));
    }

    pub(super) fn left(&self, bytes: usize) {
        self.queued.fetch_sub(bytes as i64, Ordering::Relaxed);
    }

    /// Bytes that wait to be written.
    ///
    /// Packets are counted at their smallest possible size, and the transport writes a few
    /// bytes more than that (frame headers, pings, polling separators), so what left can
    /// exceed what was counted: the count is then brought back to zero instead of going
    /// negative, so that those bytes never add up to credit for later packets. The estimate
    /// thus errs low by the framing of what waits, never high: a client that reads is never
    /// taken for a slow one.
    pub fn waiting(&self) -> i64 {
        let carried = match &*self.carrier.lock().expect("carrier lock") {
            Some((meter, since)) => meter.written().saturating_sub(*since) as i64,
            None => 0,
        };
        let queued = self
            .queued
            .fetch_max(carried, Ordering::Relaxed)
            .max(carried);
        queued - carried
    }

    /// Counts `bytes` more as queued if they fit in `budget`; false (and nothing counted)
    /// when they do not, or when the session was cut off.
    pub fn admit(&self, bytes: usize, budget: usize) -> bool {
        if self.is_cut_off() || self.waiting() + bytes as i64 > budget as i64 {
            return false;
        }
        self.queued.fetch_add(bytes as i64, Ordering::Relaxed);
        self.smallest
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |smallest| {
                (smallest == 0 || bytes < smallest).then_some(bytes)
            })
            .ok();
        true
    }

    /// Whether one more packet of `bytes` leaves at least half of `budget` free, in bytes and
    /// in packets. Packets waiting are counted at the most there can be: all of the session's
    /// smallest size.
    pub(super) fn leaves_half_free(&self, bytes: usize, budget: QueueBudget) -> bool {
        let waiting = usize::try_from(self.waiting()).unwrap_or(0);
        let smallest = match self.smallest.load(Ordering::Relaxed) {
            0 => bytes,
            seen => seen.min(bytes),
        };
        let packets_waiting = waiting.div_ceil(smallest.max(1));
        waiting + bytes <= budget.bytes / 2 && packets_waiting < (budget.packets / 2).max(1)
    }

    /// Gives back what [`Outbound::admit`] counted for a packet that was not queued after all.
    pub(super) fn unadmit(&self, bytes: usize) {
        self.left(bytes);
    }

    pub fn is_cut_off(&self) -> bool {
        self.cut_off.load(Ordering::Relaxed)
    }

    /// Marks the session cut off; false if it already was.
    pub(super) fn cut(&self) -> bool {
        !self.cut_off.swap(true, Ordering::Relaxed)
    }

    /// Closes the WebSocket connection carrying the session, if one does; false for a
    /// long-polling session, which has none to close.
    pub(super) fn close_carrier(&self) -> bool {
        match &*self.carrier.lock().expect("carrier lock") {
            Some((meter, _)) => {
                meter.close();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_takes_what_fits_and_gives_back_what_left() {
        let outbound = Outbound::default();
        assert!(outbound.admit(600, 1000));
        assert!(
            !outbound.admit(600, 1000),
            "1200 bytes would not fit in 1000"
        );
        outbound.left(500);
        assert!(outbound.admit(600, 1000));
        assert_eq!(outbound.waiting(), 700);
        // More left than was counted (framing): no credit for later packets.
        outbound.left(5000);
        assert_eq!(outbound.waiting(), 0);
        assert!(outbound.admit(1000, 1000));
        assert!(!outbound.admit(1, 1000));
    }

    #[test]
    fn a_replay_leaves_half_of_the_queue_free_in_bytes_and_in_packets() {
        let outbound = Outbound::default();
        let budget = QueueBudget {
            bytes: 1000,
            packets: 8,
        };
        assert!(outbound.leaves_half_free(500, budget));
        assert!(!outbound.leaves_half_free(501, budget), "bytes");
        for _ in 0..3 {
            assert!(outbound.admit(10, 1000));
        }
        assert!(
            outbound.leaves_half_free(10, budget),
            "a fourth packet of eight"
        );
        assert!(outbound.admit(10, 1000));
        assert!(
            !outbound.leaves_half_free(10, budget),
            "a fifth packet of eight"
        );
        // What waits is counted as packets of the smallest size seen: 30 bytes are 3
        // packets, and 130 bytes 13.
        outbound.left(10);
        assert!(outbound.leaves_half_free(100, budget));
        assert!(outbound.admit(100, 1000));
        assert!(!outbound.leaves_half_free(100, budget));
    }

    #[test]
    fn a_websocket_carrier_counts_what_its_connection_wrote() {
        let outbound = Outbound::default();
        let meter = Arc::new(ConnectionMeter::default());
        assert!(outbound.admit(900, 1000));
        outbound.carry_on(meter.clone());
        assert!(!outbound.admit(200, 1000));
        // Nothing written yet: the meter's count is what it had when it took over.
        assert_eq!(outbound.waiting(), 900);
    }
}
