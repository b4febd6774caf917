//! A journal row kept as how it differs from the row of its kind before it.
//!
//! Many of a device's events repeat the last one of their kind but for a field or two: a
//! contact's presence going `online`, `typing`, `online`, `offline`; a message's acks
//! `server`, `device`, `read`; a device `ready` again after a restart; our messages, but for
//! their ids. Packed against the dictionary ([`super::packing`]) each such row still took 40
//! to 150 bytes, most of them the ids and times no dictionary holds (`docs/performance.md`,
//! fleet). When a row's fields are those of the device's last whole row of the same kind, at
//! most [`REACH`] seqs back, but for a few runs of bytes, the row keeps how many seqs back
//! that row is and its edits: how many of its bytes to copy, how many to pass over, and the
//! bytes to put in their place. It is kept so only when that takes at most a [`SHARE`] of
//! the fields' length, which packing rarely beats: the writer decides it at once, and a row
//! kept whole is then one the rows after it may be kept against.
//!
//! The edits are found in one pass over both rows, without a search: the bytes the two start
//! and end with are the earlier row's; what lies between is one run when the two differ in
//! length, and otherwise the runs where their bytes differ, since ids, times and numbers
//! of the same kind are mostly of one length.
//!
//! Only a row kept whole is one others are kept against, so a row is read with at most one
//! other. The writer remembers each device's last whole row of each kind ([`Earlier`]; of
//! each side of the chat, for messages: [`Strand`]) across batches, and learns a batch's rows
//! only when it commits: a rolled-back batch's seqs are given again to other rows. What it
//! has forgotten (a restart, or more strands written to since than it keeps) it reads back
//! from the journal on SQLite, where that read is no round trip.
//!
//! An earlier row must outlive the rows kept against it. Pruning keeps each device's newest
//! [`REACH`] events whatever the retention, so a row written after a pruning found what to
//! drop is kept against none it drops, and it moves its cut back past the earlier row of any
//! row it keeps (`journal::pruning`). A device's deleted journal goes on [`REACH`] seqs later,
//! so that no node that remembers one of its rows keeps a new row against it.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;

use crate::model::event::EventKind;
use crate::store::{StoreError, StoreResult};

/// How many seqs back the row a row is kept against may be. A device's contact, acks and
/// typing come within a few events of each other; a larger reach would find more earlier
/// rows on a busy device, and make pruning keep more.
pub(in crate::store) const REACH: u64 = 32;

/// A row kept as changes starts with this byte: a packed row starts with its dictionary's
/// number, from 1, and one kept as text with `{`.
const TAG: u8 = 0;

/// How many strands the writer remembers a row of, and the longest row it remembers: at most
/// 8 MiB, whatever the events. A simulated device's exchanges touch about a dozen strands, so
/// a fleet of a thousand devices exchanging at once finds most of its rows remembered; on
/// SQLite, the row of a strand forgotten is read back from the journal.
const MOST: usize = 16_384;
const LONGEST: usize = 512;

/// Two runs of differing bytes fewer than this many equal bytes apart are one edit: an edit's
/// three numbers take about as many.
const JOINED: usize = 4;

/// One edit of the earlier row: copy `copy` of its bytes, pass over `skip` more, and put the
/// row's bytes at `put` in their place.
#[derive(Debug, PartialEq)]
struct Edit {
    copy: usize,
    skip: usize,
    put: Range<usize>,
}

/// How small a row kept as changes must be, as a share of its fields' length: one in three.
/// Packing takes these rows to about half their length (an ack whose message and upstream id
/// differ from the last one's, 150 bytes of fields, to 81), so a row of changes under a third
/// is the smaller; at a quarter, such an ack and a notification, each ~45 bytes of changes,
/// were kept whole, one of each in every exchange.
const SHARE: usize = 3;

/// The row of `fields` kept against `earlier`, the fields of a row `back` seqs before it, if
/// it takes at most a [`SHARE`] of the fields' length.
pub(super) fn kept_against(fields: &str, earlier: &str, back: u64) -> Option<Vec<u8>> {
    let (fields, earlier) = (fields.as_bytes(), earlier.as_bytes());
    let edits = edits(fields, earlier);
    let numbers = |edit: &Edit| [edit.copy, edit.skip, edit.put.len()];
    let length = 1
        + number_length(back)
        + number_length(edits.len() as u64)
        + edits
            .iter()
            .flat_map(|edit| numbers(edit).map(|n| number_length(n as u64)))
            .sum::<usize>()
        + edits.iter().map(|edit| edit.put.len()).sum::<usize>();
    if length * SHARE > fields.len() {
        return None;
    }
    let mut row = Vec::with_capacity(length);
    row.push(TAG);
    put_number(&mut row, back);
    put_number(&mut row, edits.len() as u64);
    for edit in &edits {
        for number in numbers(edit) {
            put_number(&mut row, number as u64);
        }
        row.extend_from_slice(&fields[edit.put.clone()]);
    }
    Some(row)
}

/// The edits that make `fields` of `earlier`, in order.
fn edits(fields: &[u8], earlier: &[u8]) -> Vec<Edit> {
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
    let (end, earlier_end) = (fields.len() - after, earlier.len() - after);
    if end - before != earlier_end - before {
        return vec![Edit {
            copy: before,
            skip: earlier_end - before,
            put: before..end,
        }];
    }
    // As long as each other between the two: the runs where their bytes differ.
    let mut runs: Vec<Range<usize>> = Vec::new();
    for at in before..end {
        if fields[at] == earlier[at] {
            continue;
        }
        match runs.last_mut() {
            Some(run) if at - run.end < JOINED => run.end = at + 1,
            _ => runs.push(at..at + 1),
        }
    }
    let mut copied = 0;
    runs.into_iter()
        .map(|run| {
            let edit = Edit {
                copy: run.start - copied,
                skip: run.len(),
                put: run.clone(),
            };
            copied = run.end;
            edit
        })
        .collect()
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
    let number = |rest: &mut &[u8]| {
        take_number(rest)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(unreadable)
    };
    let (_back, count) = (number(&mut rest)?, number(&mut rest)?);
    let earlier = earlier.as_bytes();
    let mut fields = Vec::with_capacity(earlier.len() + rest.len());
    let mut at: usize = 0;
    for _ in 0..count {
        let (copy, skip, put) = (number(&mut rest)?, number(&mut rest)?, number(&mut rest)?);
        let copied_to = at.checked_add(copy).ok_or_else(unreadable)?;
        let copied = earlier.get(at..copied_to).ok_or_else(unreadable)?;
        let (put, left) = (rest.get(..put).ok_or_else(unreadable)?, &rest[put..]);
        fields.extend_from_slice(copied);
        fields.extend_from_slice(put);
        at = copied_to.checked_add(skip).ok_or_else(unreadable)?;
        rest = left;
    }
    fields.extend_from_slice(earlier.get(at..).ok_or_else(unreadable)?);
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

    /// Whether a whole row of the strand's device and kind, whose fields are `fields`, is of
    /// this strand: for a message, of its side of the chat.
    pub(super) fn holds(self, fields: &str) -> bool {
        self.kind != EventKind::Message || from_me(fields) == self.ours
    }
}

/// Whether a message's fields, as its row keeps them, are of one of ours. Read as text: the
/// row's fields are marked ([`super::packing::marked`]) with bytes that no JSON string holds
/// unescaped, and a message's own `fromMe` comes before any other (a key in a string value
/// has its quotes escaped).
fn from_me(fields: &str) -> bool {
    fields
        .split_once("\"fromMe\":")
        .is_some_and(|(_, rest)| rest.starts_with("true"))
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

    /// Whether the newest whole row of `strand` is remembered, in reach or not: when it is
    /// out of reach, the journal holds no newer one to keep a row against either (but one too
    /// long to remember).
    pub(super) fn knows(&self, strand: Strand) -> bool {
        self.batch.contains_key(&strand) || self.committed.contains_key(&strand)
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
    fn ids_that_differ_in_several_places_of_one_length_are_several_edits() {
        const ACK: &str = r#"{"messageId":"msg_01M8H58KRJB1S30EBZ77GA5NE7","upstreamId":"true_15550000002@c.us_oyaNyJcOOIjNylexUcRR","chatId":"15550000002@c.us","ack":1,"ackName":"server"}"#;
        let next = ACK
            .replace("KRJB1S30EBZ77GA5NE7", "VC6PAAMEECXDCRDT636")
            .replace("oyaNyJcOOIjNylexUcRR", "FhlrQ17Ch3EIePmRUCQK");
        let edits = edits(next.as_bytes(), ACK.as_bytes());
        assert_eq!(edits.len(), 2, "{edits:?}");
        assert_eq!(edits[0].skip, edits[0].put.len());
        let row = kept_against(&next, ACK, 5).expect("kept as changes");
        assert!(row.len() * SHARE <= next.len(), "{} bytes", row.len());
        assert_eq!(with_earlier(&row, ACK).unwrap(), next);
        // Its chat as well: over a third of the row.
        let unlike = next.replace("15550000002", "16661111113");
        assert_eq!(kept_against(&unlike, ACK, 5), None);
        // A message of theirs after another: its id, upstream id, quote and time.
        const THEIRS: &str = "{\"id\":\"msg_01M8H58P6YG0QCYRYT495RD6EJ\",\"upstreamId\":\"false_15550000002@c.us_YlGLsljXyEGRS7nlCQLw\",\"deviceId\":\"\u{1}\",\"chatId\":\"15550000002@c.us\",\"from\":\"15550000002@c.us\",\"fromPhone\":\"15550000002\",\"fromMe\":false,\"type\":\"text\",\"body\":\"hello\",\"media\":null,\"replyTo\":\"msg_01M8H58KRJB1S30EBZ77GA5NE7\",\"timestamp\":\"2026-11-28T13:24:42.845Z\",\"ack\":0,\"ackName\":\"pending\",\"tempId\":null,\"revoked\":false,\"forwarded\":false,\"editedAt\":null}";
        let next = THEIRS
            .replace("P6YG0QCYRYT495RD6EJ", "XTW3KFTF9Z2VD70EWD2")
            .replace("YlGLsljXyEGRS7nlCQLw", "bOrjav7SrQaHWoRJ4lJN")
            .replace("KRJB1S30EBZ77GA5NE7", "VC6PAAMEECXDCRDT636")
            .replace("13:24:42.845", "13:24:50.648");
        let row = kept_against(&next, THEIRS, 15).expect("kept as changes");
        assert!(row.len() < 90, "{} bytes", row.len());
        assert_eq!(kept_back(&row), Some(15));
        assert_eq!(with_earlier(&row, THEIRS).unwrap(), next);
    }

    #[test]
    fn changes_that_do_not_fit_the_earlier_row_are_an_error() {
        let typing = ONLINE.replace("online", "typing");
        let row = kept_against(&typing, ONLINE, 3).unwrap();
        assert!(with_earlier(&row, "{}").is_err());
        assert!(with_earlier(&row[..row.len() - 1], ONLINE).is_err());
        assert!(with_earlier(&[TAG, 1, 5], ONLINE).is_err());
        let mut huge = vec![TAG, 1, 2, 1];
        huge.extend([0xff; 9].iter().chain(&[0x01, 0]));
        huge.extend([
            0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0,
        ]);
        assert!(
            with_earlier(&huge, ONLINE).is_err(),
            "numbers past the row's end"
        );
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
