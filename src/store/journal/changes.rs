//! A journal row kept as how it differs from the row of its kind before it.
//!
//! Many of a device's events repeat the last one of their kind but for a field or two: a
//! contact's presence going `online`, `typing`, `online`, `offline`; a message's acks
//! `server`, `device`, `read`; a device `ready` again after a restart. Packed against the
//! dictionary ([`super::packing`]) each such row still took 40 to 90 bytes, most of them the
//! ids and times no dictionary holds (`docs/performance.md`, fleet). When a row's fields are
//! those of the device's last whole row of the same kind, at most [`REACH`] seqs back, but for
//! one run of bytes, the row keeps that run, how many of the earlier row's bytes come before
//! and after it, and how many seqs back that row is. It is kept so only when that takes at
//! most a quarter of the fields' length, which packing rarely beats.
//!
//! Only a row kept whole is one others are kept against, so a row is read with at most one
//! other. The writer remembers each device's last whole row of each kind ([`Earlier`]; of
//! each side of the chat, for messages: [`Strand`]) across batches, and learns a batch's rows only when it commits: a rolled-back batch's seqs are
//! given again to other rows.
//!
//! An earlier row must outlive the rows kept against it. Pruning keeps each device's newest
//! [`REACH`] events whatever the retention, so a row written after a pruning found what to
//! drop is kept against none it drops, and it moves its cut back past the earlier row of any
//! row it keeps ([`super::naming::cut_keeping_named`]). A device's deleted journal goes on
//! [`REACH`] seqs later, so that no node that remembers one of its rows keeps a new row
//! against it.

use std::collections::{HashMap, VecDeque};

use crate::model::event::EventKind;
use crate::store::{StoreError, StoreResult};

/// How many seqs back the row a row is kept against may be. A device's contact, acks and
/// typing come within a few events of each other; a larger reach would find more earlier
/// rows on a busy device, and make pruning keep more.
pub(in crate::store) const REACH: u64 = 32;

/// A row kept as changes starts with this byte: a packed row starts with its dictionary's
/// number, from 1, and one kept as text with `{`.
const TAG: u8 = 0;

/// How many devices' kinds the writer remembers a row of, and the longest row it remembers:
/// at most 4 MiB, whatever the events.
const MOST: usize = 4_096;
const LONGEST: usize = 1_024;

/// The row of `fields` kept against `earlier`, the fields of a row `back` seqs before it, if
/// the two differ in one run of bytes short enough.
pub(super) fn kept_against(fields: &str, earlier: &str, back: u64) -> Option<Vec<u8>> {
    let (fields, earlier) = (fields.as_bytes(), earlier.as_bytes());
    let before = fields
        .iter()
        .zip(earlier)
        .take_while(|(a, b)| a == b)
        .count();
    let after = fields[before..]
        .iter()
        .rev()
        .zip(earlier[before..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let run = &fields[before..fields.len() - after];
    let numbers = [back, before as u64, after as u64];
    let length = 1 + numbers.iter().map(|&n| number_length(n)).sum::<usize>() + run.len();
    if length * 4 > fields.len() {
        return None;
    }
    let mut row = Vec::with_capacity(length);
    row.push(TAG);
    for number in numbers {
        put_number(&mut row, number);
    }
    row.extend_from_slice(run);
    Some(row)
}

/// How many seqs back the row that `row` is kept against is, if it is kept as changes.
pub(in crate::store) fn kept_back(row: &[u8]) -> Option<u64> {
    match row.split_first() {
        Some((&TAG, rest)) => take_number(&mut &rest[..]),
        _ => None,
    }
}

/// The fields of `row`, kept as changes, with the fields of the row it is kept against.
pub(super) fn with_earlier(row: &[u8], earlier: &str) -> StoreResult<String> {
    let unreadable = || StoreError::Unreadable("journal row: changes that do not fit".into());
    let mut rest = row.get(1..).ok_or_else(unreadable)?;
    let mut number = || {
        take_number(&mut rest)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(unreadable)
    };
    let (_back, before, after) = (number()?, number()?, number()?);
    let earlier = earlier.as_bytes();
    if before + after > earlier.len() {
        return Err(unreadable());
    }
    let mut fields = Vec::with_capacity(before + rest.len() + after);
    fields.extend_from_slice(&earlier[..before]);
    fields.extend_from_slice(rest);
    fields.extend_from_slice(&earlier[earlier.len() - after..]);
    String::from_utf8(fields).map_err(|_| unreadable())
}

/// `number` in 7-bit groups, lowest first, the high bit set on all but the last.
fn put_number(row: &mut Vec<u8>, mut number: u64) {
    while number >= 0x80 {
        row.push((number as u8) | 0x80);
        number >>= 7;
    }
    row.push(number as u8);
}

/// How many bytes [`put_number`] writes `number` in.
fn number_length(number: u64) -> usize {
    (64 - number.leading_zeros() as usize).div_ceil(7).max(1)
}

/// The number [`put_number`] wrote at the start of `bytes`, which then start after it.
fn take_number(bytes: &mut &[u8]) -> Option<u64> {
    let mut number = 0u64;
    for (index, &byte) in bytes.iter().enumerate().take(10) {
        number |= u64::from(byte & 0x7f) << (7 * index);
        if byte < 0x80 {
            *bytes = &bytes[index + 1..];
            return Some(number);
        }
    }
    None
}

/// The rows a row may be kept against: its device's (by the device's journal number, its
/// keys' high bits) of its kind, and for a message, of its side of the chat. Our messages
/// repeat each other but for their ids; the contact's differ from ours in their sender, their
/// upstream id and their time as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Strand {
    device: i64,
    kind: EventKind,
    ours: bool,
}

impl Strand {
    pub(super) fn new(device: i64, kind: EventKind, ours: bool) -> Strand {
        Strand { device, kind, ours }
    }

    pub(super) fn kind(self) -> EventKind {
        self.kind
    }
}

/// Each device's last whole row of each kind, by seq, as the writer committed them, and those
/// of the batch it is running.
#[derive(Default)]
pub(in crate::store) struct Earlier {
    committed: HashMap<Strand, (u64, String)>,
    /// The committed strands, oldest first: past [`MOST`] the oldest is forgotten.
    order: VecDeque<Strand>,
    batch: HashMap<Strand, (u64, String)>,
}

impl Earlier {
    /// The row to keep the row of `strand` at `seq` against: how many seqs back it is, and its
    /// fields.
    pub(super) fn row_for(&self, strand: Strand, seq: u64) -> Option<(u64, &str)> {
        let (earlier, fields) = self
            .batch
            .get(&strand)
            .or_else(|| self.committed.get(&strand))?;
        let back = seq.checked_sub(*earlier)?;
        (back <= REACH).then_some((back, fields.as_str()))
    }

    /// Remembers a row the batch keeps whole, for the rows after it to be kept against once
    /// the batch commits.
    pub(super) fn whole(&mut self, strand: Strand, seq: u64, fields: &str) {
        if fields.len() <= LONGEST {
            self.batch.insert(strand, (seq, fields.to_owned()));
        }
    }

    /// The batch committed: its rows are the ones to keep rows against.
    pub(in crate::store) fn committed(&mut self) {
        for (strand, row) in self.batch.drain() {
            if self.committed.insert(strand, row).is_none() {
                self.order.push_back(strand);
            }
        }
        while self.order.len() > MOST {
            if let Some(oldest) = self.order.pop_front() {
                self.committed.remove(&oldest);
            }
        }
    }

    /// The batch rolled back: its seqs go to other rows.
    pub(in crate::store) fn discard(&mut self) {
        self.batch.clear();
    }

    /// Forgets the rows of the device numbered `device`, whose journal is deleted.
    pub(super) fn forget(&mut self, device: i64) {
        self.batch.retain(|strand, _| strand.device != device);
        self.committed.retain(|strand, _| strand.device != device);
        self.order.retain(|strand| strand.device != device);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONLINE: &str = r#"{"id":"15550000002@c.us","name":"Echo","presence":"online","lastSeenAt":null,"phone":"15550000002","about":null,"blocked":false,"pictureUrl":"/api/v1/devices/\u0001/contacts/15550000002@c.us/picture"}"#;

    #[test]
    fn a_row_that_differs_in_one_run_is_kept_as_it_and_read_back() {
        let typing = ONLINE.replace("online", "typing");
        let row = kept_against(&typing, ONLINE, 3).expect("kept as changes");
        assert!(row.len() < 16, "{} bytes", row.len());
        assert_eq!(kept_back(&row), Some(3));
        assert_eq!(with_earlier(&row, ONLINE).unwrap(), typing);
    }

    #[test]
    fn a_numbers_length_is_the_bytes_it_is_written_in() {
        for number in [0, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut row = Vec::new();
            put_number(&mut row, number);
            assert_eq!(number_length(number), row.len(), "{number}");
            assert_eq!(take_number(&mut &row[..]), Some(number));
        }
    }

    #[test]
    fn a_row_unlike_the_earlier_one_is_kept_whole() {
        let other = r#"{"id":"15550000003@c.us","name":"Someone else","presence":"offline"}"#;
        assert_eq!(kept_against(other, ONLINE, 1), None);
    }

    #[test]
    fn rows_of_any_length_and_numbers_past_a_byte_come_back() {
        let longer = ONLINE.replace("Echo", "Echo, with a longer name than before");
        let row = kept_against(&longer, ONLINE, 300).expect("kept as changes");
        assert_eq!(kept_back(&row), Some(300));
        assert_eq!(with_earlier(&row, ONLINE).unwrap(), longer);
        let shorter = ONLINE.replace(r#""about":null,"#, "");
        let row = kept_against(&shorter, ONLINE, 1).expect("kept as changes");
        assert_eq!(with_earlier(&row, ONLINE).unwrap(), shorter);
        assert_eq!(kept_back(br#"{"a":1}"#), None, "text is not changes");
        assert_eq!(kept_back(&[2, 0x28]), None, "a packed row is not changes");
    }

    #[test]
    fn a_row_is_kept_against_only_a_committed_whole_row_of_its_strand_within_reach() {
        let contact = |device| Strand::new(device, EventKind::ContactUpdate, false);
        let mut earlier = Earlier::default();
        earlier.whole(contact(1), 10, ONLINE);
        assert_eq!(
            earlier.row_for(contact(1), 11),
            Some((1, ONLINE)),
            "a row of the same batch"
        );
        earlier.discard();
        assert_eq!(earlier.row_for(contact(1), 11), None);
        earlier.whole(contact(1), 10, ONLINE);
        earlier.committed();
        assert!(earlier.row_for(contact(1), 10 + REACH).is_some());
        assert_eq!(earlier.row_for(contact(1), 11 + REACH), None);
        let ack = Strand::new(1, EventKind::MessageAck, false);
        assert_eq!(earlier.row_for(ack, 11), None);
        assert_eq!(earlier.row_for(contact(2), 11), None);
        let ours = Strand::new(1, EventKind::ContactUpdate, true);
        assert_eq!(earlier.row_for(ours, 11), None, "another side of the chat");
        earlier.forget(1);
        assert_eq!(earlier.row_for(contact(1), 11), None);
    }

    #[test]
    fn the_oldest_devices_are_forgotten_past_the_most_kept() {
        let ack = |device| Strand::new(device, EventKind::MessageAck, false);
        let mut earlier = Earlier::default();
        for device in 0..=MOST as i64 {
            earlier.whole(ack(device), 1, "{}");
            earlier.committed();
        }
        assert_eq!(earlier.row_for(ack(0), 2), None);
        assert!(earlier.row_for(ack(MOST as i64), 2).is_some());
        earlier.whole(ack(9), 1, &"x".repeat(LONGEST + 1));
        earlier.committed();
        assert_eq!(earlier.row_for(ack(9), 2), Some((1, "{}")));
    }
}
