//! Names for groups first seen in a message. A webhook's message says which group it is in
//! but not what the group is called, and a chat is created with the name it first arrives
//! with: without this, a group joined (or first written in) after the device's backfill would
//! be listed by its id (`120363025246125888@g.us`). So before a batch of upstream reports is
//! stored, each group it brings that has no chat yet is named by asking the upstream
//! ([`Upstream::group_name`]), once; if that fails, the chat takes the id as before, and the
//! next backfill (at the device's next start) names it.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::device::upstream::Upstream;
use crate::model::{inbound::Inbound, DeviceId};
use crate::store::{self, Store};

/// What a device knows of its groups' chats.
pub struct GroupNames {
    device: DeviceId,
    store: Store,
    /// Groups that have a chat already: nothing to ask.
    stored: HashSet<String>,
}

impl GroupNames {
    pub fn new(device: DeviceId, store: Store) -> Self {
        Self {
            device,
            store,
            stored: HashSet::new(),
        }
    }

    /// Gives the messages of groups without a chat yet the group's name, if `upstream`
    /// (running) can tell it.
    pub async fn name_new_groups(
        &mut self,
        batch: &mut [Inbound],
        upstream: Option<&mut (dyn Upstream + 'static)>,
    ) {
        let Some(upstream) = upstream else {
            return;
        };
        let unnamed: BTreeSet<String> = batch
            .iter()
            .filter_map(|item| match item {
                Inbound::Message(message) if message.group && message.chat_name.is_none() => {
                    Some(message.chat_id.clone())
                }
                _ => None,
            })
            .filter(|chat_id| !self.stored.contains(chat_id))
            .collect();
        if unnamed.is_empty() {
            return;
        }
        let (device, lookup) = (self.device.clone(), unnamed.clone());
        let have_chats = self
            .store
            .read(move |conn| {
                lookup
                    .iter()
                    .cloned()
                    .filter_map(
                        |chat_id| match store::chats::get_chat(conn, &device, &chat_id) {
                            Ok(Some(_)) => Some(Ok(chat_id)),
                            Ok(None) => None,
                            Err(error) => Some(Err(error)),
                        },
                    )
                    .collect::<Result<Vec<_>, _>>()
            })
            .await;
        match have_chats {
            Ok(have_chats) => self.stored.extend(have_chats),
            Err(error) => {
                tracing::warn!(device_id = %self.device, %error, "cannot read which groups have chats");
                return;
            }
        }
        let mut names = HashMap::new();
        for group_id in unnamed.iter().filter(|id| !self.stored.contains(*id)) {
            match upstream.group_name(group_id).await {
                Ok(Some(name)) => {
                    names.insert(group_id.clone(), name);
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(device_id = %self.device, %error, group_id, "the upstream did not tell a group's name; its chat is named by its id");
                    break;
                }
            }
        }
        for item in batch.iter_mut() {
            if let Inbound::Message(message) = item {
                if let (true, None) = (message.group, &message.chat_name) {
                    message.chat_name = names.get(&message.chat_id).cloned();
                }
            }
        }
        // Stored with this batch, named or not: asked about once.
        self.stored.extend(unnamed);
    }
}
