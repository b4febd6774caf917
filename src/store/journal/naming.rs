//! A `chat:update` row that names the `message` row journaled with it instead of holding the
//! message again.
//!
//! A message moves its chat to the top of the list, and the chat's `chat:update`, journaled at
//! the end of the same batch, carries the message again as its `lastMessage`: the same bytes
//! twice, ~a sixth of what an exchange journals (`docs/performance.md`, fleet). When the
//! `lastMessage` is byte for byte the fields of a `message` row of the same batch (it is not
//! when the batch also acked or edited it), the chat's row keeps, in its place, a mark and how
//! many seqs back that row is. Reading the row puts the message's fields back, so the payload
//! read is the one sent.
//!
//! A named row must outlive the row that names it: a row names one at most [`REACH`] seqs
//! before it, and pruning, which drops a prefix of a device's journal, moves its cut back to
//! the named row when a row it keeps names one it would drop
//! ([`super::pruning::cut_keeping_earlier`]).

use std::collections::HashMap;

use crate::model::DeviceId;

/// Where a `chat:update`'s `lastMessage` starts in its fields.
const LAST_MESSAGE: &str = "\"lastMessage\":";

/// The byte that stands for the named row's fields, followed by how many seqs back it is in
/// decimal. JSON text never holds it raw (a string escapes every control character), and the
/// other marks of a row ([`super::packing::marked`]) are other bytes.
const NAMED_MARK: char = '\u{3}';

/// How many seqs back a row names another at most. A batch journals its chats' updates at its
/// end, after the messages of all its writes; one whose message is further back keeps it.
pub(super) const REACH: u64 = 256;

/// The messages a batch journaled, by id: the device, seq and fields of each, for a
/// `chat:update` after it to name.
#[derive(Default)]
pub(in crate::store) struct Journaled {
    messages: HashMap<String, (DeviceId, u64, String)>,
}

impl Journaled {
    /// Keeps a `message` row's fields for a `chat:update` of the same batch to name.
    pub(super) fn message(&mut self, device: &DeviceId, id: &str, seq: u64, fields: String) {
        self.messages
            .insert(id.to_owned(), (device.clone(), seq, fields));
    }

    /// Forgets the device's messages, whose rows are deleted.
    pub(super) fn forget(&mut self, device: &DeviceId) {
        self.messages.retain(|_, (of, _, _)| of != device);
    }

    /// The fields of a `chat:update` journaled at `seq` whose last message has `id`, naming
    /// that message's row if its fields are the batch's row's.
    pub(super) fn chat(&self, device: &DeviceId, id: &str, seq: u64, fields: String) -> String {
        match self.messages.get(id) {
            Some((of, named, message)) if of == device && seq - named <= REACH => {
                naming(fields, message, seq - named)
            }
            _ => fields,
        }
    }
}

/// `chat` with its `lastMessage`, if it is `message`, replaced by the mark of the row `back`
/// seqs before.
fn naming(chat: String, message: &str, back: u64) -> String {
    let value = chat
        .match_indices(LAST_MESSAGE)
        .map(|(at, key)| at + key.len())
        .find(|&value| chat[value..].starts_with(message));
    match value {
        Some(value) => format!(
            "{}{NAMED_MARK}{back}{}",
            &chat[..value],
            &chat[value + message.len()..]
        ),
        None => chat,
    }
}

/// Where the mark is in these fields, with the digits after it, if they name a row.
fn mark(fields: &str) -> Option<std::ops::Range<usize>> {
    let at = fields.find(NAMED_MARK)?;
    let digits = &fields[at + NAMED_MARK.len_utf8()..];
    let length = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    Some(at..at + NAMED_MARK.len_utf8() + length)
}

/// How many seqs back the row these fields name is, if they name one.
pub(in crate::store) fn named(fields: &str) -> Option<u64> {
    let mark = mark(fields)?;
    fields[mark.start + NAMED_MARK.len_utf8()..mark.end]
        .parse()
        .ok()
}

/// `fields` with the named row's fields, `message`, in the mark's place.
pub(super) fn with_named(fields: &str, message: &str) -> String {
    match mark(fields) {
        Some(mark) => format!("{}{message}{}", &fields[..mark.start], &fields[mark.end..]),
        None => fields.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = r#"{"id":"msg_1","chatId":"15550000002@c.us","body":"hello"}"#;

    fn chat(last: &str) -> String {
        format!(
            r#"{{"id":"15550000002@c.us","unreadCount":0,"lastMessage":{last},"archived":false}}"#
        )
    }

    fn device() -> DeviceId {
        DeviceId::parse("phone").unwrap()
    }

    #[test]
    fn a_chat_whose_last_message_is_the_batchs_row_names_it_and_reads_back_whole() {
        let mut journaled = Journaled::default();
        journaled.message(&device(), "msg_1", 40, MESSAGE.into());
        let kept = journaled.chat(&device(), "msg_1", 43, chat(MESSAGE));
        assert_eq!(
            kept,
            "{\"id\":\"15550000002@c.us\",\"unreadCount\":0,\"lastMessage\":\u{3}3,\"archived\":false}"
        );
        assert_eq!(named(&kept), Some(3));
        assert_eq!(with_named(&kept, MESSAGE), chat(MESSAGE));
    }

    #[test]
    fn a_last_message_that_changed_since_its_row_another_devices_or_a_deleted_one_is_kept_whole() {
        let mut journaled = Journaled::default();
        journaled.message(&device(), "msg_1", 40, MESSAGE.into());
        let acked = MESSAGE.replace("hello", "hello again");
        assert_eq!(
            journaled.chat(&device(), "msg_1", 43, chat(&acked)),
            chat(&acked)
        );
        let other = DeviceId::parse("other").unwrap();
        assert_eq!(
            journaled.chat(&other, "msg_1", 43, chat(MESSAGE)),
            chat(MESSAGE)
        );
        assert_eq!(
            journaled.chat(&device(), "msg_2", 43, chat(MESSAGE)),
            chat(MESSAGE)
        );
        let far = 40 + REACH + 1;
        assert_eq!(
            journaled.chat(&device(), "msg_1", far, chat(MESSAGE)),
            chat(MESSAGE)
        );
        assert_eq!(named(&chat(MESSAGE)), None);
        // A device's journal deleted in the batch takes its rows to name with it.
        journaled.forget(&device());
        assert_eq!(
            journaled.chat(&device(), "msg_1", 43, chat(MESSAGE)),
            chat(MESSAGE)
        );
    }
}
