//! What a message carries beside its text and file: a place, contact cards, a poll, a voice
//! note's length, and whether it was forwarded — the kinds of message WhatsApp users send
//! besides text and files. A message keeps them together ([`Content`]), stored as one value,
//! so a new kind is a new field here rather than a new column everywhere.

use serde::{Deserialize, Serialize};

/// The longest name, address, question or option accepted, in characters.
pub const MAX_LABEL_CHARS: usize = 256;
/// How many options a poll has, as WhatsApp allows.
pub const POLL_OPTIONS: std::ops::RangeInclusive<usize> = 2..=12;
/// How many cards one message may carry.
pub const MAX_CONTACT_CARDS: usize = 10;
/// The longest vCard accepted, in bytes.
pub const MAX_VCARD_BYTES: usize = 8192;

/// A place (`location`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct Location {
    #[schema(minimum = -90, maximum = 90, example = 52.3731)]
    pub latitude: f64,
    #[schema(minimum = -180, maximum = 180, example = 4.8922)]
    pub longitude: f64,
    /// What the place is called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 256)]
    #[cfg_attr(test, ts(optional))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 256)]
    #[cfg_attr(test, ts(optional))]
    pub address: Option<String>,
}

/// A contact card (`contacts[]`): a person's name and numbers, and the vCard that says them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct ContactCard {
    #[schema(min_length = 1, max_length = 256, example = "Alice Smith")]
    pub name: String,
    /// Numbers with their country code, as people write them.
    #[serde(default)]
    #[schema(example = json!(["+1 555 000 0002"]))]
    pub phones: Vec<String>,
    /// The vCard itself; built from `name` and `phones` when a send leaves it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 8192)]
    #[cfg_attr(test, ts(optional))]
    pub vcard: Option<String>,
}

impl ContactCard {
    /// The card as a vCard 3.0, from its name and numbers (`TEL;type=CELL;waid=<digits>`, as
    /// WhatsApp writes them, so the number opens a chat on the phone).
    pub fn to_vcard(&self) -> String {
        let escape = |text: &str| {
            text.replace('\\', "\\\\")
                .replace(',', "\\,")
                .replace(';', "\\;")
                .replace('\n', "\\n")
        };
        let mut card = format!(
            "BEGIN:VCARD\nVERSION:3.0\nFN:{}\nN:;{};;;\n",
            escape(&self.name),
            escape(&self.name)
        );
        for phone in &self.phones {
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            card += &format!("TEL;type=CELL;waid={digits}:{}\n", escape(phone));
        }
        card + "END:VCARD"
    }

    /// The card a vCard describes, as far as its `FN` and `TEL` lines say; `None` without a
    /// name. Upstreams that hand over bare vCards (WAHA) are read with it.
    pub fn from_vcard(vcard: &str) -> Option<ContactCard> {
        let value = |line: &str| {
            line.split_once(':')
                .map(|(_, value)| value.trim().to_owned())
        };
        let mut name = None;
        let mut phones = Vec::new();
        for line in vcard.lines().map(str::trim) {
            let key = line.split([':', ';']).next().unwrap_or_default();
            match key.to_ascii_uppercase().as_str() {
                "FN" => name = value(line),
                "TEL" | "ITEM1.TEL" | "ITEM2.TEL" => phones.extend(value(line)),
                _ => {}
            }
        }
        Some(ContactCard {
            name: name.filter(|name| !name.is_empty())?,
            phones,
            vcard: Some(vcard.to_owned()),
        })
    }
}

/// A poll (`poll`): its question, options, whether one may pick several, and the votes so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Poll {
    pub question: String,
    pub options: Vec<String>,
    #[serde(default)]
    pub multiple: bool,
    /// Who picks each option now, one entry per option in `options`' order.
    #[serde(default)]
    pub votes: Vec<PollVotes>,
}

impl Poll {
    /// A new poll, nobody's vote in yet.
    pub fn new(question: String, options: Vec<String>, multiple: bool) -> Poll {
        let votes = options
            .iter()
            .map(|option| PollVotes {
                option: option.clone(),
                voters: Vec::new(),
            })
            .collect();
        Poll {
            question,
            options,
            multiple,
            votes,
        }
    }
}

impl Poll {
    /// Records that `voter` now picks `options` (none: takes their vote back), replacing
    /// their earlier vote. Returns whether the tally changed.
    pub fn vote(&mut self, voter: &str, options: &[String]) -> bool {
        let before = self.votes.clone();
        for tally in &mut self.votes {
            tally.voters.retain(|who| who != voter);
            if options.contains(&tally.option) {
                tally.voters.push(voter.to_owned());
            }
        }
        self.votes != before
    }

    /// Checks a vote of ours: options of the poll, each once, one unless it takes several.
    pub fn check_vote(&self, options: &[String]) -> Result<(), String> {
        if let Some(unknown) = options.iter().find(|option| !self.options.contains(option)) {
            return Err(format!("{unknown:?} is not an option of this poll"));
        }
        let distinct: std::collections::HashSet<&String> = options.iter().collect();
        if distinct.len() != options.len() {
            return Err("each option is picked once".into());
        }
        if !self.multiple && options.len() > 1 {
            return Err("this poll takes one option".into());
        }
        Ok(())
    }
}

/// The voters of one option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct PollVotes {
    pub option: String,
    pub voters: Vec<String>,
}

/// What a message carries beside `body` and `media`, as it is stored and as its fields are
/// shown on the message (`location`, `contacts`, `poll`, `durationSecs`, `forwarded`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub contacts: Option<Vec<ContactCard>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub poll: Option<Poll>,
    /// A voice note's, audio's or video's length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub duration_secs: Option<u32>,
    /// Sent on from another chat.
    #[serde(default)]
    pub forwarded: bool,
    /// On a message this account forwarded: the upstream id of the original, which a
    /// connector that forwards natively (WAHA's `forwardMessage`) names instead of sending a
    /// copy. Absent when the original was never known upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub forward_of: Option<String>,
}

impl Content {
    /// Whether there is nothing to keep: a plain text or file.
    pub fn is_plain(&self) -> bool {
        *self == Content::default()
    }

    /// What a message of this content says in a line (a notification, a chat's preview, the
    /// text a connector without the kind could send): the poll's question, the place's name,
    /// the cards' names.
    pub fn summary(&self) -> Option<String> {
        if let Some(poll) = &self.poll {
            return Some(poll.question.clone());
        }
        if let Some(location) = &self.location {
            return Some(
                location
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}, {}", location.latitude, location.longitude)),
            );
        }
        let cards = self.contacts.as_ref()?;
        Some(
            cards
                .iter()
                .map(|card| card.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_is_written_and_read_as_a_vcard() {
        let card = ContactCard {
            name: "Smith, Alice".into(),
            phones: vec!["+1 555 000 0002".into()],
            vcard: None,
        };
        let vcard = card.to_vcard();
        assert!(vcard.contains("FN:Smith\\, Alice\n"), "{vcard}");
        assert!(vcard.contains("TEL;type=CELL;waid=15550000002:+1 555 000 0002\n"));
        let read = ContactCard::from_vcard(&vcard).unwrap();
        assert_eq!(read.phones, ["+1 555 000 0002"]);
        assert_eq!(read.vcard.as_deref(), Some(vcard.as_str()));
        assert_eq!(ContactCard::from_vcard("BEGIN:VCARD\nEND:VCARD"), None);
    }

    #[test]
    fn plain_content_is_stored_as_nothing() {
        assert!(Content::default().is_plain());
        let forwarded = Content {
            forwarded: true,
            ..Content::default()
        };
        assert!(!forwarded.is_plain());
        assert_eq!(
            serde_json::to_value(&forwarded).unwrap(),
            serde_json::json!({ "forwarded": true })
        );
    }
}
