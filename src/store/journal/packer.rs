//! Packing a batch's journal rows beside the store's writer rather than on it.
//!
//! The writer is the one thread every write passes through, and its time bounds how many
//! messages a second the daemon takes; packing a row ([`super::packing::pack`]) was about a
//! sixth of it (`docs/performance.md`, send). What the writer journals is handed here in
//! chunks as it goes, packed on a thread of its own while the writer runs the batch's other
//! statements, and taken back, in the order given, when the batch writes its rows at its end.
//! Chunks rather than rows, so that the packer thread is woken a few times a batch, not once
//! a row.

use std::sync::mpsc;

use super::packing::pack;
use crate::store::{spawn_thread, StoreResult};

/// Rows handed to the packer thread at once.
const CHUNK: usize = 32;

/// The writer's end of the packer thread.
pub(in crate::store) struct Packer {
    to: mpsc::Sender<Vec<String>>,
    from: mpsc::Receiver<Vec<Vec<u8>>>,
    /// Rows given since the last chunk was sent.
    gathering: Vec<String>,
    /// Chunks sent whose packed rows are not taken yet.
    in_flight: usize,
}

impl Packer {
    /// Starts the packer thread, which ends when the writer drops its end.
    pub(in crate::store) fn start() -> StoreResult<Packer> {
        let (to, chunks) = mpsc::channel::<Vec<String>>();
        let (packed, from) = mpsc::channel();
        spawn_thread("packer", move || {
            for chunk in chunks {
                let rows = chunk.iter().map(|fields| pack(fields)).collect();
                if packed.send(rows).is_err() {
                    return;
                }
            }
        })?;
        Ok(Packer {
            to,
            from,
            gathering: Vec::with_capacity(CHUNK),
            in_flight: 0,
        })
    }

    /// Gives the fields of the batch's next journal row to pack.
    pub(in crate::store) fn give(&mut self, fields: String) {
        self.gathering.push(fields);
        if self.gathering.len() >= CHUNK {
            let chunk = std::mem::replace(&mut self.gathering, Vec::with_capacity(CHUNK));
            self.send(chunk);
        }
    }

    /// Every row given since the last take, packed, in the order given. The last chunk,
    /// not sent yet, is packed here while the packer thread finishes the others.
    pub(in crate::store) fn take(&mut self) -> Vec<Vec<u8>> {
        let last: Vec<Vec<u8>> = self
            .gathering
            .drain(..)
            .map(|fields| pack(&fields))
            .collect();
        let mut rows = Vec::with_capacity(self.in_flight * CHUNK + last.len());
        for _ in 0..std::mem::take(&mut self.in_flight) {
            rows.extend(self.from.recv().expect(THREAD_GONE));
        }
        rows.extend(last);
        rows
    }

    /// Drops what a rolled-back batch gave, so the next batch's rows are its own.
    pub(in crate::store) fn discard(&mut self) {
        self.gathering.clear();
        for _ in 0..std::mem::take(&mut self.in_flight) {
            self.from.recv().expect(THREAD_GONE);
        }
    }

    fn send(&mut self, chunk: Vec<String>) {
        self.to.send(chunk).expect(THREAD_GONE);
        self.in_flight += 1;
    }
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
            packer.give(row.clone());
        }
        let rows = packer.take();
        let unpacked: Vec<String> = rows.into_iter().map(|row| unpack(row).unwrap()).collect();
        assert_eq!(unpacked, given);
        assert!(packer.take().is_empty(), "a take leaves nothing behind");
    }

    #[test]
    fn a_discarded_batch_leaves_nothing_in_the_next() {
        let mut packer = Packer::start().unwrap();
        for n in 0..CHUNK * 2 + 1 {
            packer.give(fields(n));
        }
        packer.discard();
        packer.give(fields(1000));
        let rows = packer.take();
        assert_eq!(rows.len(), 1);
        assert_eq!(unpack(rows[0].clone()).unwrap(), fields(1000));
    }
}
