//! The backfill when the device becomes ready: the newest chats and their recent messages, as
//! WAHA lists them. Separate because it is best effort, unlike every other request: a listing
//! WAHA refuses is skipped with a warning.

use reqwest::Method;

use super::{engines, webhook, Waha};
use crate::model::{
    inbound::{Directory, DirectoryChat, DirectoryContact},
    upstream::ConnectorError,
};

/// How many chats, newest first, are backfilled when the device becomes ready...
const BACKFILL_CHATS: u32 = 50;
/// ...and how many recent messages of each.
const BACKFILL_MESSAGES: u32 = 20;

impl Waha {
    /// Chats, newest first, and their recent messages. Backfill is best effort: only an
    /// unreachable WAHA or refused credentials keep the device from becoming ready.
    pub(super) async fn backfill(&self) -> Result<Directory, ConnectorError> {
        let session = self.spec.session.as_str();
        let limit = BACKFILL_CHATS.to_string();
        let listed = self
            .http
            .call(
                self.request(Method::GET, &["api", session, "chats"])
                    .query(&[
                        ("limit", limit.as_str()),
                        ("sortBy", "conversationTimestamp"),
                        ("sortOrder", "desc"),
                    ]),
            )
            .await;
        let chats = match listed {
            Ok(chats) => chats.as_array().cloned().unwrap_or_default(),
            Err(error) => return best_effort(error, "chats").map(|()| Directory::default()),
        };
        let me = self.me.as_ref().map(|me| me.id.as_str());
        let mut directory = Directory::default();
        let limit = BACKFILL_MESSAGES.to_string();
        for chat in chats {
            let Some(id) = engines::id_of(&chat["id"]) else {
                continue;
            };
            let group = id.ends_with("@g.us");
            let name = chat["name"]
                .as_str()
                .filter(|name| !name.is_empty())
                .unwrap_or(&id)
                .to_owned();
            if !group {
                directory.contacts.push(DirectoryContact {
                    id: id.clone(),
                    name: name.clone(),
                    push_name: None,
                });
            }
            let messages = self
                .http
                .call(
                    self.request(Method::GET, &["api", session, "chats", &id, "messages"])
                        .query(&[("limit", limit.as_str()), ("downloadMedia", "false")]),
                )
                .await;
            match messages {
                Ok(messages) => {
                    let messages = messages.as_array().into_iter().flatten();
                    directory.history.extend(messages.filter_map(|message| {
                        webhook::incoming(message, me, Some(&name), &self.files)
                    }));
                }
                Err(error) => best_effort(error, "messages")?,
            }
            directory.chats.push(DirectoryChat { id, name, group });
        }
        directory.history.sort_by_key(|message| message.timestamp);
        Ok(directory)
    }
}

/// A backfill request that failed: given up on with a warning, unless WAHA is unreachable or
/// refused our credentials.
fn best_effort(error: ConnectorError, what: &str) -> Result<(), ConnectorError> {
    match error {
        error if error.concerns_device() => Err(error),
        other => {
            tracing::warn!(error = %other, "WAHA did not list its {what}; backfill skips them");
            Ok(())
        }
    }
}
