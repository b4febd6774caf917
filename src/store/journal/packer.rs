//! Packing a batch's journal rows beside the store's writer rather than on it.
//!
//! The writer is the one thread every write passes through, and its time bounds how many
//! messages a second the daemon takes; packing a row ([`super::packing::pack`]) was about a
//! sixth of it (`docs/performance.md`, send). What the writer journals is handed here in
//! chunks as it goes, packed on a thread of its own while the writer runs the batch's other
//! statements, and taken back, in the order given, when the batch writes its rows at its end.
//! Chunks rather than rows, so that the packer thread is woken a few times a batch, not once
//! a row.
//!
//! The chunks the packer thread has not started when the batch ends are packed by the writer
//! itself, which would otherwise wait for them: on a host whose cores are busy the packer
//! thread is often not running then, and the writer waited a tenth of its time for it.

use std::collections::VecDeque;
use std::sync::{mpsc, Arc, Mutex};

use super::packing::pack;
use crate::store::{spawn_thread, StoreResult};

/// Rows handed to the packer thread at once.
const CHUNK: usize = 32;

/// A row given: the fields to pack, or the row made already (one kept as changes,
/// [`super::changes`]), which comes back as it is.
pub(in crate::store) enum Given {
    Fields(String),
    Made(Vec<u8>),
}

/// Chunks given and not yet started, oldest first: the packer thread starts them from the
/// front, and the writer takes what is left of them at the batch's end.
type Waiting = Arc<Mutex<VecDeque<Vec<Given>>>>;

/// The writer's end of the packer thread.
pub(in crate::store) struct Packer {
    waiting: Waiting,
    /// One wake-up for the packer thread a chunk given.
    wake: mpsc::Sender<()>,
    from: mpsc::Receiver<Vec<Vec<u8>>>,
    /// Rows given since the last chunk was sent.
    gathering: Vec<Given>,
    /// Chunks given whose packed rows are not taken yet.
    in_flight: usize,
}

impl Packer {
    /// Starts the packer thread, which ends when the writer drops its end.
    pub(in crate::store) fn start() -> StoreResult<Packer> {
        let waiting = Waiting::default();
        let (wake, wakes) = mpsc::channel::<()>();
        let (packed, from) = mpsc::channel();
        let queue = Arc::clone(&waiting);
        spawn_thread("packer", move || {
            for () in wakes {
                // The writer may have taken the chunk back to pack it itself.
                let Some(chunk) = lock(&queue).pop_front() else {
                    continue;
                };
                if packed.send(pack_all(chunk)).is_err() {
                    return;
                }
            }
        })?;
        Ok(Packer {
            waiting,
            wake,
            from,
            gathering: Vec::with_capacity(CHUNK),
            in_flight: 0,
        })
    }

    /// Gives the batch's next journal row.
    pub(in crate::store) fn give(&mut self, row: Given) {
        self.gathering.push(row);
        if self.gathering.len() >= CHUNK {
            let chunk = std::mem::replace(&mut self.gathering, Vec::with_capacity(CHUNK));
            lock(&self.waiting).push_back(chunk);
            self.wake.send(()).expect(THREAD_GONE);
            self.in_flight += 1;
        }
    }

    /// Every row given since the last take, packed, in the order given. The chunks the packer
    /// thread has not started, and the last chunk, are packed here while it finishes the ones
    /// it has.
    pub(in crate::store) fn take(&mut self) -> Vec<Vec<u8>> {
        let (started, left) = self.started();
        let last = std::mem::replace(&mut self.gathering, Vec::with_capacity(CHUNK));
        let mut rows = Vec::with_capacity((started + left.len()) * CHUNK + last.len());
        let mine: Vec<Vec<u8>> = left.into_iter().chain([last]).flat_map(pack_all).collect();
        for _ in 0..started {
            rows.extend(self.from.recv().expect(THREAD_GONE));
        }
        rows.extend(mine);
        rows
    }

    /// Drops what a rolled-back batch gave, so the next batch's rows are its own.
    pub(in crate::store) fn discard(&mut self) {
        self.gathering.clear();
        let (started, _) = self.started();
        for _ in 0..started {
            self.from.recv().expect(THREAD_GONE);
        }
    }

    /// How many of the chunks given the packer thread has started (their rows come back in
    /// order), and the others, taken back from it. Nothing is in flight after.
    fn started(&mut self) -> (usize, VecDeque<Vec<Given>>) {
        let left = std::mem::take(&mut *lock(&self.waiting));
        let started = std::mem::take(&mut self.in_flight) - left.len();
        (started, left)
    }
}

fn pack_all(chunk: Vec<Given>) -> Vec<Vec<u8>> {
    chunk
        .into_iter()
        .map(|row| match row {
            Given::Fields(fields) => pack(&fields),
            Given::Made(row) => row,
        })
        .collect()
}

/// The queue, even if a thread panicked holding it: it is only ever pushed to and taken from
/// whole, so it is never half changed.
fn lock(waiting: &Waiting) -> std::sync::MutexGuard<'_, VecDeque<Vec<Given>>> {
    waiting
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The packer thread ends only when the writer drops its end, or if packing a row panicked,
/// which would have panicked the writer had it packed the row itself.
const THREAD_GONE: &str = "the journal's packer thread stopped";

#[cfg(test)]
mod tests {
    use super::super::packing::unpack;
    use super::*;

    fn fields(n: usize) -> String {
        format!(
            r#"{{"messageId":"msg_{n}","chatId":"15550000002@c.us","ack":1,"ackName":"server"}}"#
        )
    }

    #[test]
    fn rows_come_back_packed_in_the_order_given_across_chunks() {
        let mut packer = Packer::start().unwrap();
        let given: Vec<String> = (0..CHUNK * 3 + 5).map(fields).collect();
        for row in &given {
            packer.give(Given::Fields(row.clone()));
        }
        let rows = packer.take();
        let unpacked: Vec<String> = rows.into_iter().map(|row| unpack(row).unwrap()).collect();
        assert_eq!(unpacked, given);
        assert!(packer.take().is_empty(), "a take leaves nothing behind");
    }

    #[test]
    fn chunks_the_packer_thread_has_not_started_are_packed_by_the_writer() {
        // A packer whose thread never runs: its wake-ups are kept, never read.
        let (wake, _wakes) = mpsc::channel();
        let (_packed, from) = mpsc::channel();
        let mut packer = Packer {
            waiting: Waiting::default(),
            wake,
            from,
            gathering: Vec::new(),
            in_flight: 0,
        };
        let given: Vec<String> = (0..CHUNK * 3 + 5).map(fields).collect();
        for row in &given {
            packer.give(Given::Fields(row.clone()));
        }
        let (done, taken) = mpsc::channel();
        std::thread::spawn(move || done.send(packer.take()));
        let rows = taken
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the writer packs the chunks itself instead of waiting for them");
        let unpacked: Vec<String> = rows.into_iter().map(|row| unpack(row).unwrap()).collect();
        assert_eq!(unpacked, given);
    }

    #[test]
    fn a_discarded_batch_leaves_nothing_in_the_next() {
        let mut packer = Packer::start().unwrap();
        for n in 0..CHUNK * 2 + 1 {
            packer.give(Given::Fields(fields(n)));
        }
        packer.discard();
        packer.give(Given::Made(b"made".to_vec()));
        packer.give(Given::Fields(fields(1000)));
        let rows = packer.take();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], b"made", "a row made already comes back as it is");
        assert_eq!(unpack(rows[1].clone()).unwrap(), fields(1000));
    }
}
