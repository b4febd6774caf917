//! Linked ids: WhatsApp names some contacts by an id of their own (`…@lid`) instead of
//! their number, where it hides the number (groups, communities, privacy settings) and lately
//! in direct chats too. Stored as given, one contact would be two chats — their number's and
//! their linked id's — and a reply could go to neither the chat nor the contact a dashboard
//! shows. So before a batch of upstream reports is stored, every linked id in it whose number
//! the upstream can tell ([`Upstream::number_behind`]) is replaced by that number's chat id.
//! Meta's business-scoped user ids, the Cloud API's names for customers who chose a username,
//! are linked ids too: Meta has no lookup, but while it still gives the number alongside, a
//! delivery tells the pair ([`Inbound::Linked`]), which is remembered the same way.
//!
//! What was learned is kept in the store, so a contact's linked id is asked about once, not
//! after every restart. A number learned after something was stored under the linked id
//! (the upstream could not tell it then) makes that the number's: one person, one chat
//! (`messaging::inbound::merge_person`). An id whose number the upstream cannot tell (the contact has not
//! shared it) stays as given and is asked about again after [`ASK_AGAIN_AFTER`]: a contact's
//! number can become known later. Asking never holds a report back for longer than the
//! upstream's timeout, and a report whose ids could not be looked up is stored with them as
//! given: nothing the upstream reported is lost over it.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::device::upstream::Upstream;
use crate::messaging;
use crate::model::{
    ids::is_business_scoped_id,
    inbound::{Directory, Inbound, Incoming},
    upstream::ConnectorError,
    DeviceId,
};
use crate::store::{self, Store};

/// How long an id whose number is unknown is left before the upstream is asked again.
const ASK_AGAIN_AFTER: Duration = Duration::from_secs(600);
/// How long the upstream is left alone after it failed to answer.
const ASK_AGAIN_AFTER_FAILURE: Duration = Duration::from_secs(60);

/// WhatsApp's linked ids (`…@lid`), and Meta's business-scoped user ids, which the Cloud API
/// gives for customers who chose a username over showing their number.
fn is_linked(id: &str) -> bool {
    id.ends_with("@lid") || is_business_scoped_id(id)
}

/// Something that names contacts or chats by their ids.
pub trait Names {
    fn each_id(&mut self, visit: &mut dyn FnMut(&mut String));
    /// The linked ids whose number it tells, with that number's chat id.
    fn each_pair(&self, visit: &mut dyn FnMut(&str, &str)) {
        let _ = visit;
    }
    /// Called once linked ids were replaced, which can make two entries one.
    fn merge_duplicates(&mut self) {}
}

impl Names for String {
    fn each_id(&mut self, visit: &mut dyn FnMut(&mut String)) {
        visit(self);
    }
}

impl Names for Incoming {
    fn each_id(&mut self, visit: &mut dyn FnMut(&mut String)) {
        visit(&mut self.chat_id);
        visit(&mut self.from);
    }
}

impl Names for Inbound {
    fn each_id(&mut self, visit: &mut dyn FnMut(&mut String)) {
        match self {
            Inbound::Message(message) => message.each_id(visit),
            Inbound::Ack { by, .. } => by.iter_mut().for_each(visit),
            Inbound::ReadBy { reader, .. } => visit(reader),
            Inbound::Typing {
                chat_id,
                contact_id,
                ..
            } => {
                visit(chat_id);
                visit(contact_id);
            }
            Inbound::Presence { contact_id, .. } => visit(contact_id),
            Inbound::Call { chat_id, from, .. } => {
                visit(chat_id);
                visit(from);
            }
            Inbound::Reaction { from, .. } => visit(from),
            Inbound::Group { update, .. } => {
                update.by.iter_mut().for_each(&mut *visit);
                for participant in update.participants.iter_mut().flatten() {
                    visit(&mut participant.id);
                }
            }
            Inbound::Voted { voter, .. } => visit(voter),
            Inbound::Archived { chat_id, .. }
            | Inbound::GroupNamed { chat_id, .. }
            | Inbound::RevokedInChat { chat_id, .. } => visit(chat_id),
            Inbound::Failed { .. }
            | Inbound::Revoked { .. }
            | Inbound::Edited { .. }
            | Inbound::Linked { .. } => {}
        }
    }

    fn each_pair(&self, visit: &mut dyn FnMut(&str, &str)) {
        if let Inbound::Linked { id, number } = self {
            visit(id, number);
        }
    }
}

/// A contact's or chat's name is visited too: an upstream that knows no name gives the id
/// (WAHA does), and a linked id's number reads better than the linked id.
impl Names for Directory {
    fn each_id(&mut self, visit: &mut dyn FnMut(&mut String)) {
        for contact in &mut self.contacts {
            visit(&mut contact.id);
            visit(&mut contact.name);
        }
        for chat in &mut self.chats {
            visit(&mut chat.id);
            visit(&mut chat.name);
        }
        self.history.iter_mut().for_each(|m| m.each_id(visit));
    }

    /// A contact listed under their number and under their linked id is listed once, with
    /// the entry that has a name of its own: the other's name is only its id.
    fn merge_duplicates(&mut self) {
        keep_one_per_id(&mut self.contacts, |c| (&c.id, &c.name));
        keep_one_per_id(&mut self.chats, |c| (&c.id, &c.name));
    }
}

/// Keeps, of the entries with the same id, the first one with a name that is not an id (or
/// the first one if none has), in the order they came.
fn keep_one_per_id<T>(entries: &mut Vec<T>, id_and_name: impl Fn(&T) -> (&String, &String)) {
    let named = |entry: &T| {
        let (id, name) = id_and_name(entry);
        name != id && !is_linked(name)
    };
    let mut kept: HashMap<&String, usize> = HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let (id, _) = id_and_name(entry);
        let first = *kept.entry(id).or_insert(index);
        if !named(&entries[first]) && named(entry) {
            kept.insert(id, index);
        }
    }
    let kept: HashSet<usize> = kept.into_values().collect();
    *entries = std::mem::take(entries)
        .into_iter()
        .enumerate()
        .filter_map(|(index, entry)| kept.contains(&index).then_some(entry))
        .collect();
}

impl<T: Names> Names for [T] {
    fn each_id(&mut self, visit: &mut dyn FnMut(&mut String)) {
        self.iter_mut().for_each(|item| item.each_id(visit));
    }

    fn each_pair(&self, visit: &mut dyn FnMut(&str, &str)) {
        self.iter().for_each(|item| item.each_pair(visit));
    }
}

/// What a device knows of the numbers behind linked ids.
pub struct LinkedIds {
    device: DeviceId,
    store: Store,
    numbers: HashMap<String, String>,
    /// Ids the upstream could not tell a number for, and when to ask again.
    unknown: HashMap<String, Instant>,
}

impl LinkedIds {
    pub fn new(device: DeviceId, store: Store) -> Self {
        Self {
            device,
            store,
            numbers: HashMap::new(),
            unknown: HashMap::new(),
        }
    }

    /// Remembers the pairs `items` tell, then replaces the linked ids in `items` by their
    /// numbers' chat ids where known, asking the store and then `upstream` (if the device has
    /// one running) about those not known yet.
    pub async fn resolve<N: Names + ?Sized>(
        &mut self,
        items: &mut N,
        upstream: Option<&mut (dyn Upstream + 'static)>,
    ) {
        let mut told = Vec::new();
        items.each_pair(&mut |id, number| {
            if self.numbers.get(id).map(String::as_str) != Some(number) {
                told.push((id.to_owned(), number.to_owned()));
            }
        });
        if !told.is_empty() {
            self.remember(told).await;
        }
        let now = Instant::now();
        self.unknown.retain(|_, until| *until > now);
        let mut linked = false;
        let mut wanted = BTreeSet::new();
        items.each_id(&mut |id| {
            if !is_linked(id) {
                return;
            }
            linked = true;
            if !self.numbers.contains_key(id.as_str()) && !self.unknown.contains_key(id.as_str()) {
                wanted.insert(id.clone());
            }
        });
        if !linked {
            return;
        }
        if !wanted.is_empty() {
            self.learn(wanted.into_iter().collect(), upstream).await;
        }
        items.each_id(&mut |id| {
            if let Some(number) = self.numbers.get(id.as_str()) {
                id.clone_from(number);
            }
        });
        items.merge_duplicates();
    }

    async fn learn(
        &mut self,
        wanted: Vec<String>,
        upstream: Option<&mut (dyn Upstream + 'static)>,
    ) {
        let device = self.device.clone();
        let lookup = wanted.clone();
        match self
            .store
            .read(move |conn| store::linked_ids::numbers_behind(conn, &device, &lookup))
            .await
        {
            Ok(stored) => self.numbers.extend(stored),
            Err(error) => {
                tracing::warn!(device_id = %self.device, %error, "cannot read the numbers behind linked ids")
            }
        }
        // Without a running upstream, ids not stored yet are asked about once it runs.
        let Some(upstream) = upstream else {
            return;
        };
        let mut learned = Vec::new();
        for lid in wanted {
            if self.numbers.contains_key(&lid) {
                continue;
            }
            match upstream.number_behind(&lid).await {
                Ok(Some(number)) => learned.push((lid, number)),
                Ok(None) => {
                    self.unknown.insert(lid, Instant::now() + ASK_AGAIN_AFTER);
                }
                // An upstream that cannot look ids up (WAHA's NOWEB engine without its store
                // answers 4xx) is no better in a minute.
                Err(error @ ConnectorError::Rejected(_)) => {
                    tracing::debug!(device_id = %self.device, %error, lid, "the upstream cannot tell the number behind a linked id");
                    self.unknown.insert(lid, Instant::now() + ASK_AGAIN_AFTER);
                }
                Err(error) => {
                    tracing::warn!(device_id = %self.device, %error, lid, "the upstream did not tell the number behind a linked id; it stays as given for now");
                    self.unknown
                        .insert(lid, Instant::now() + ASK_AGAIN_AFTER_FAILURE);
                    if error.concerns_device() {
                        // The rest would wait for the same timeout or refusal.
                        break;
                    }
                }
            }
        }
        if !learned.is_empty() {
            self.remember(learned).await;
        }
    }

    /// Keeps numbers learned, in memory and in the store, and makes what was stored under
    /// each linked id its number's: one person, one chat.
    async fn remember(&mut self, learned: Vec<(String, String)>) {
        let device = self.device.clone();
        let numbers = learned.clone();
        if let Err(error) = self
            .store
            .write(move |tx| {
                tx.remember_numbers(&device, &numbers)?;
                for (lid, number) in &numbers {
                    messaging::inbound::merge_person(tx, &device, lid, number)?;
                }
                Ok(())
            })
            .await
        {
            tracing::warn!(device_id = %self.device, %error, "cannot store the numbers behind linked ids");
        }
        self.numbers.extend(learned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::inbound::DirectoryChat;
    use crate::model::Ack;

    #[test]
    fn every_id_that_names_a_contact_or_chat_is_visited_and_no_message_id() {
        let mut items = [
            Inbound::Ack {
                upstream_id: "true_1@lid_A".into(),
                ack: Ack::Read,
                by: Some("1@lid".into()),
            },
            Inbound::Typing {
                chat_id: "2@lid".into(),
                contact_id: "3@lid".into(),
                typing: true,
            },
            Inbound::Presence {
                contact_id: "4@lid".into(),
                online: true,
            },
            Inbound::Reaction {
                upstream_id: "false_5@lid_B".into(),
                from: "5@lid".into(),
                emoji: "👍".into(),
            },
            Inbound::Revoked {
                upstream_id: "false_6@lid_C".into(),
            },
            Inbound::ReadBy {
                upstream_id: "true_7@g.us_D".into(),
                reader: "7@lid".into(),
            },
        ];
        let mut seen = Vec::new();
        items.each_id(&mut |id| seen.push(id.clone()));
        assert_eq!(seen, ["1@lid", "2@lid", "3@lid", "4@lid", "5@lid", "7@lid"]);
    }

    #[test]
    fn a_chat_listed_under_its_number_and_its_linked_id_keeps_the_entry_with_a_name() {
        let chat = |id: &str, name: &str| DirectoryChat {
            id: id.into(),
            name: name.into(),
            group: false,
        };
        // As the upstream listed them, linked ids already replaced: Alice's linked id first
        // (newest), named by the id WAHA gave; Bob under his number only.
        let mut directory = Directory {
            chats: vec![
                chat("111@c.us", "111@c.us"),
                chat("222@c.us", "Bob"),
                chat("111@c.us", "Alice"),
                chat("333@c.us", "333@c.us"),
            ],
            ..Directory::default()
        };
        directory.merge_duplicates();
        let kept: Vec<_> = directory
            .chats
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str()))
            .collect();
        assert_eq!(
            kept,
            [
                ("222@c.us", "Bob"),
                ("111@c.us", "Alice"),
                ("333@c.us", "333@c.us")
            ]
        );
    }
}
