//! How a journal row holds an event's own fields: compressed against a dictionary of the
//! payloads' shapes.
//!
//! An event's fields are a few hundred bytes of JSON whose keys and fixed values (`"fromMe":`,
//! `"ackName":"server"`, `"presence":"online"`…) repeat in every row, and the journal is most
//! of what the store weighs (an exchange of two messages journals ~15 events). Each row is
//! compressed on its own, so any row can be read without its neighbours, with zstd against a
//! dictionary (the newest `dictionary-<n>.json` beside this file) that holds those shapes and
//! nothing of any device, which takes a row to a fraction of its text (`docs/performance.md`,
//! fleet: what packing does to a row).
//!
//! zstd rather than deflate: deflate packs these rows a little smaller, but it has to take in
//! its dictionary again for every row, which takes several times zstd's whole work (whose
//! dictionary is digested once), and every row is packed on the store's one writer thread,
//! whose time bounds how many messages a second the daemon accepts.
//!
//! A packed row starts with the number of the dictionary it was packed against, then a zstd
//! frame without its magic number. Rows written before the journal was packed, and rows of
//! a few bytes that packing would make larger, hold the fields as text, which starts with
//! `{`, and are read as they are. A dictionary is never changed once rows use it: when the
//! payloads' shapes have moved on (fields added to a message or a contact, the marks of
//! [`marked`]), a new one gets the next number, and the old ones stay to read the rows made
//! with them.

use std::cell::RefCell;
use std::sync::OnceLock;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};
use zstd::zstd_safe::{CParameter, DParameter, FrameFormat, ParamSwitch};

use crate::store::{StoreError, StoreResult};

/// Every dictionary rows were packed against, the one numbered `n` at `n - 1`. Rows are
/// packed against the last.
const DICTIONARIES: [&[u8]; 2] = [
    include_bytes!("dictionary-1.json"),
    include_bytes!("dictionary-2.json"),
];

/// The number of the dictionary new rows are packed against, a packed row's first byte.
const NUMBER: u8 = DICTIONARIES.len() as u8;

/// zstd's level: 4 packs the journal's rows smaller than 1 to 3 for a little more time
/// (`docs/performance.md`, fleet: what packing costs), and levels past it gain nothing on rows
/// this small.
const LEVEL: i32 = 4;

/// The dictionaries digested, once for the process: they are constants of the build, and
/// digesting one is most of the work of packing one row.
struct Digested {
    /// The newest, for packing.
    packing: EncoderDictionary<'static>,
    /// Each of them by its number less one, for unpacking.
    unpacking: Vec<DecoderDictionary<'static>>,
}

fn digested() -> &'static Digested {
    static DIGESTED: OnceLock<Digested> = OnceLock::new();
    DIGESTED.get_or_init(|| Digested {
        packing: EncoderDictionary::copy(DICTIONARIES[DICTIONARIES.len() - 1], LEVEL),
        unpacking: DICTIONARIES
            .iter()
            .map(|dictionary| DecoderDictionary::copy(dictionary))
            .collect(),
    })
}

/// A compressor with the newest dictionary and a decompressor, made once per thread: each
/// holds scratch space that making them again for every row would allocate again.
struct Codec {
    packer: Compressor<'static>,
    unpacker: Decompressor<'static>,
    /// The number of the dictionary the decompressor has; another's row switches it.
    unpacking_with: u8,
}

impl Codec {
    fn new() -> Codec {
        let digested = digested();
        let newest = digested.unpacking.last().expect("a dictionary");
        let mut unpacker = Decompressor::with_prepared_dictionary(newest)
            .expect("zstd makes a decompression context");
        unpacker
            .set_parameter(DParameter::Format(FrameFormat::Magicless))
            .expect("zstd takes the frame's format");
        Codec {
            packer: packer(&digested.packing),
            unpacker,
            unpacking_with: NUMBER,
        }
    }

    /// The decompressor, with the dictionary numbered `number`; `None` if this build has no
    /// such dictionary.
    fn unpacker(&mut self, number: u8) -> Option<&mut Decompressor<'static>> {
        if number != self.unpacking_with {
            let dictionary = digested()
                .unpacking
                .get(usize::from(number).checked_sub(1)?)?;
            self.unpacker
                .set_prepared_dictionary(dictionary)
                .expect("zstd takes a prepared dictionary");
            self.unpacking_with = number;
        }
        Some(&mut self.unpacker)
    }
}

/// A compressor against `dictionary`, with the rows' frame settings.
fn packer(dictionary: &'static EncoderDictionary<'static>) -> Compressor<'static> {
    let mut packer =
        Compressor::with_prepared_dictionary(dictionary).expect("zstd makes a compression context");
    // The first byte says what the row is; zstd's own 4-byte magic number, the frame's
    // checksum and the dictionary's id would repeat it in every row.
    //
    // Literals (the bytes no match covers: ids, texts) are stored as they are rather than
    // Huffman-coded: building a Huffman table for each row of a few hundred bytes was a
    // third of packing's time, for 1.5 % of the rows' bytes (`docs/performance.md`, send).
    for parameter in [
        CParameter::Format(FrameFormat::Magicless),
        CParameter::ChecksumFlag(false),
        CParameter::DictIdFlag(false),
        CParameter::LiteralCompressionMode(ParamSwitch::Disable),
    ] {
        packer
            .set_parameter(parameter)
            .expect("zstd takes the frame's settings");
    }
    packer
}

thread_local! {
    static CODEC: RefCell<Codec> = RefCell::new(Codec::new());
}

/// `fields` (an event's own fields, JSON) as its journal row keeps them: packed, or as text
/// where packing would not make them smaller.
pub fn pack(fields: &str) -> Vec<u8> {
    CODEC.with_borrow_mut(|codec| packed(&mut codec.packer, NUMBER, fields))
}

/// [`pack`] by `packer`, a compressor against the dictionary numbered `number`.
fn packed(packer: &mut Compressor<'static>, number: u8, fields: &str) -> Vec<u8> {
    let input = fields.as_bytes();
    let mut row = vec![0; 1 + zstd::zstd_safe::compress_bound(input.len())];
    row[0] = number;
    let written = packer
        .compress_to_buffer(input, &mut row[1..])
        .expect("zstd compresses into a buffer of its bound");
    row.truncate(1 + written);
    // A row of a few bytes (`{}`) would grow by the frame's header: it stays text.
    if row.len() >= input.len() {
        return input.to_vec();
    }
    row
}

/// The fields a journal row keeps: unpacked, or as they are if the row was written as text.
pub fn unpack(row: Vec<u8>) -> StoreResult<String> {
    let Some(&first) = row.first() else {
        return Err(unreadable("an empty row"));
    };
    if first == b'{' {
        return String::from_utf8(row).map_err(|_| unreadable("text that is not UTF-8"));
    }
    let frame = &row[1..];
    let fields = CODEC.with_borrow_mut(|codec| {
        let unpacker = codec.unpacker(first).ok_or_else(|| {
            unreadable(&format!(
                "a row packed with dictionary {first}, which this build does not have"
            ))
        })?;
        // The frame does not say how large its content is: a first guess, larger until it
        // fits, up to what a frame of this size can hold at most.
        let most = frame.len().saturating_mul(MOST_EXPANDED).max(1 << 16);
        let mut room = (frame.len() * 4).max(256);
        loop {
            let mut fields = Vec::with_capacity(room);
            match unpacker.decompress_to_buffer(frame, &mut fields) {
                Ok(_) => return Ok(fields),
                Err(_) if room < most => room = (room * 4).min(most),
                Err(error) => return Err(unreadable(&error.to_string())),
            }
        }
    })?;
    String::from_utf8(fields).map_err(|_| unreadable("fields that are not UTF-8"))
}

/// The byte that stands in a row's fields for its device's id, and the one for its time:
/// JSON text never holds either raw (a string escapes every control character), so a row's
/// fields with them put back are exactly the fields it was given.
const DEVICE_MARK: &str = "\u{1}";
const TIME_MARK: &str = "\u{2}";

/// A device id shorter than this is not marked: it saves a byte or two, and would stand for
/// pieces of other words.
const SHORTEST_MARKED_ID: usize = 4;

/// `fields` with the device's id and the event's time (`at`, as the payload writes it), which
/// the row's key and `at` column hold already, each written as one byte. A message, its
/// chat's `lastMessage`, a contact's picture address and its `lastSeenAt` repeat them, and no
/// dictionary can hold a device's id or a time: as text they were a tenth of a row's packed
/// bytes (`docs/performance.md`, fleet).
pub fn marked(fields: &str, device: &str, at: &str) -> String {
    let fields = fields.replace(at, TIME_MARK);
    match device.len() >= SHORTEST_MARKED_ID {
        true => fields.replace(device, DEVICE_MARK),
        false => fields,
    }
}

/// The fields [`marked`] marked, as they were given: its marks replaced in the reverse order.
pub fn unmarked(fields: String, device: &str, at: &str) -> String {
    let is_mark = |c: char| {
        [DEVICE_MARK, TIME_MARK]
            .iter()
            .any(|mark| mark.starts_with(c))
    };
    if !fields.contains(is_mark) {
        return fields;
    }
    fields.replace(DEVICE_MARK, device).replace(TIME_MARK, at)
}

/// How many times its own size a zstd frame can unpack to at most: a block of up to 128 KiB
/// can be one repeated byte, coded in a few.
const MOST_EXPANDED: usize = 32_768;

fn unreadable(what: &str) -> StoreError {
    StoreError::Unreadable(format!("journal row: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &str = r#"{"messageId":"msg_01M88NXXRME60EZ5XSGV8QA4XC","upstreamId":"true_15550000002@c.us_g21XQWfGKUmPvkjhOjcK","chatId":"15550000002@c.us","ack":1,"ackName":"server"}"#;

    #[test]
    fn a_packed_row_unpacks_to_the_same_fields() {
        let row = pack(FIELDS);
        assert_eq!(row[0], NUMBER);
        assert_eq!(unpack(row).unwrap(), FIELDS);
    }

    /// What a simulated device's exchange journals today, each as its row's fields are
    /// given to [`pack`]: marked ([`marked`]) for a device `fleet-609738-8`.
    const MESSAGE: &str = "{\"id\":\"msg_01M8G56CTGJ89KP5JN4W4KC654\",\"upstreamId\":\"false_15550000002@c.us_100jYkD6Ipo91c1bxNvY\",\"deviceId\":\"\u{1}\",\"chatId\":\"15550000002@c.us\",\"from\":\"15550000002@c.us\",\"fromPhone\":\"15550000002\",\"fromMe\":false,\"type\":\"text\",\"body\":\"hello\",\"media\":null,\"replyTo\":\"msg_01M8G56AC1WA43A6Y79FMC7N2Y\",\"timestamp\":\"2026-11-28T04:04:13.258Z\",\"ack\":0,\"ackName\":\"pending\",\"tempId\":null,\"revoked\":false,\"forwarded\":false,\"editedAt\":null}";
    const CHAT: &str = "{\"id\":\"15550000002@c.us\",\"name\":\"Echo\",\"kind\":\"direct\",\"unreadCount\":0,\"lastMessage\":{\"id\":\"msg_01M8G56AC1WA43A6Y79FMC7N2Y\",\"upstreamId\":null,\"deviceId\":\"\u{1}\",\"chatId\":\"15550000002@c.us\",\"from\":\"15550000001@c.us\",\"fromPhone\":\"15550000001\",\"fromMe\":true,\"type\":\"text\",\"body\":\"hello\",\"media\":null,\"replyTo\":null,\"timestamp\":\"\u{2}\",\"ack\":0,\"ackName\":\"pending\",\"tempId\":null,\"revoked\":false,\"forwarded\":false,\"editedAt\":null},\"updatedAt\":\"\u{2}\",\"archived\":false,\"muted\":false,\"pinned\":false,\"markedUnread\":false}";
    const CONTACT: &str = "{\"id\":\"15550000002@c.us\",\"name\":\"Echo\",\"pushName\":\"Echo\",\"presence\":\"online\",\"lastSeenAt\":null,\"phone\":\"15550000002\",\"lid\":null,\"about\":null,\"blocked\":false,\"pictureUrl\":\"/api/v1/devices/\u{1}/contacts/15550000002@c.us/picture\"}";

    /// `fields` packed as a build whose newest dictionary was the one numbered `number`.
    fn packed_against(number: u8, fields: &str) -> Vec<u8> {
        let dictionary = DICTIONARIES[usize::from(number) - 1];
        let digested = Box::leak(Box::new(EncoderDictionary::copy(dictionary, LEVEL)));
        packed(&mut packer(digested), number, fields)
    }

    #[test]
    fn the_dictionary_packs_the_shapes_it_holds_to_under_half_their_text() {
        for fields in [MESSAGE, CHAT, CONTACT] {
            let row = pack(fields);
            assert!(
                row.len() * 2 < fields.len(),
                "{} bytes packed from {}: {fields}",
                row.len(),
                fields.len()
            );
            assert_eq!(unpack(row).unwrap(), fields);
        }
    }

    #[test]
    fn the_newest_dictionary_packs_todays_shapes_smaller_than_the_one_before() {
        for fields in [MESSAGE, CHAT, CONTACT] {
            let (newest, before) = (pack(fields), packed_against(NUMBER - 1, fields));
            assert!(
                newest.len() < before.len(),
                "{} bytes against {}: {fields}",
                newest.len(),
                before.len()
            );
        }
    }

    #[test]
    fn rows_packed_against_every_older_dictionary_are_still_read() {
        // In turn with rows of the newest, which the decompressor switches back for.
        for number in 1..NUMBER {
            let row = packed_against(number, FIELDS);
            assert_eq!(row[0], number);
            assert_eq!(unpack(row.clone()).unwrap(), FIELDS);
            assert_eq!(unpack(pack(MESSAGE)).unwrap(), MESSAGE);
            assert_eq!(unpack(row).unwrap(), FIELDS);
        }
    }

    #[test]
    fn fields_that_unpack_past_the_first_guess_of_room_round_trip() {
        let fields = format!(r#"{{"body":"{}"}}"#, "ab".repeat(50_000));
        let row = pack(&fields);
        assert!(row.len() * 4 < 256, "a row this repetitive packs small");
        assert_eq!(unpack(row).unwrap(), fields);
        let text: String = (0..20_000u32)
            .map(|i| char::from(b'a' + (i * 7919 % 26) as u8))
            .collect();
        let fields = format!(r#"{{"body":"{text}"}}"#);
        assert_eq!(unpack(pack(&fields)).unwrap(), fields);
    }

    #[test]
    fn fields_that_packing_would_not_shrink_stay_text() {
        assert_eq!(pack("{}"), b"{}");
        assert_eq!(unpack(pack("{}")).unwrap(), "{}");
    }

    #[test]
    fn a_row_written_as_text_is_read_as_it_is() {
        assert_eq!(unpack(FIELDS.as_bytes().to_vec()).unwrap(), FIELDS);
    }

    #[test]
    fn a_devices_id_and_the_events_time_are_marked_and_put_back_as_they_were() {
        let (device, at) = ("fleet-1", "2026-11-28T01:00:55.266Z");
        let fields = r#"{"id":"15550000002@c.us","deviceId":"fleet-1","pictureUrl":"/api/v1/devices/fleet-1/contacts/15550000002@c.us/picture","lastSeenAt":"2026-11-28T01:00:55.266Z","body":"fleet-10 at 2026-11-28T01:00:55.2","note":"\u0001 is escaped"}"#;
        let kept = marked(fields, device, at);
        assert_eq!(kept.matches(DEVICE_MARK).count(), 3, "{kept}");
        assert_eq!(kept.matches(TIME_MARK).count(), 1, "{kept}");
        assert!(!kept.contains(device) && !kept.contains(at));
        assert_eq!(unmarked(kept.clone(), device, at), fields);
        let packed = pack(&kept);
        assert!(packed.len() < pack(fields).len());
        assert_eq!(unmarked(unpack(packed).unwrap(), device, at), fields);
        // A short id is left as it is; fields marked before are read as they are.
        assert_eq!(marked(r#"{"a":"ab"}"#, "ab", at), r#"{"a":"ab"}"#);
        assert_eq!(unmarked(FIELDS.into(), device, at), FIELDS);
    }

    #[test]
    fn a_cut_or_unknown_row_is_an_error_not_a_panic() {
        let mut row = pack(FIELDS);
        row.truncate(row.len() / 2);
        assert!(matches!(unpack(row), Err(StoreError::Unreadable(_))));
        assert!(matches!(unpack(vec![]), Err(StoreError::Unreadable(_))));
        assert!(matches!(
            unpack(vec![200, 1, 2]),
            Err(StoreError::Unreadable(_))
        ));
    }
}
