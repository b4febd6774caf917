//! Typing indicators, ours and the contacts': journaled for the device's clients, told to the
//! upstream, and ended by the actor when their stop never comes. They are the only timers the
//! actor keeps per chat, so they have a file of their own.

use std::time::Duration;

use tokio::time::Instant;

use super::Actor;
use crate::device::state::InvalidTransition;
use crate::device::DeviceError;
use crate::model::{
    event::EventData,
    inbound::{Inbound, TypingChange},
    upstream::Outbound,
    StateName,
};
use crate::store;

/// How long a typing indicator lasts without a stop: WhatsApp's own expiry.
const TYPING_EXPIRES: Duration = Duration::from_secs(25);

impl Actor {
    pub(super) fn track_typing(&mut self, changes: Vec<TypingChange>) {
        for change in changes {
            let key = (change.chat_id, change.contact_id);
            if change.typing {
                self.typing.insert(key, Instant::now() + TYPING_EXPIRES);
            } else {
                self.typing.remove(&key);
            }
        }
    }

    /// Our side typing: journaled for the device's other clients, shown upstream, and stopped
    /// by itself after 25 s without a stop. Typing is of the moment: a start needs the device
    /// `ready`, while a stop is always taken (the upstream is told only while it is ready).
    pub(super) async fn our_typing(
        &mut self,
        chat_id: String,
        typing: bool,
    ) -> Result<(), DeviceError> {
        let Some(me) = self.me.borrow().as_ref().map(|me| me.id.clone()) else {
            return Err(DeviceError::InvalidState(InvalidTransition {
                state: self.state.name(),
                input: "typing",
            }));
        };
        let ready = self.state.name() == StateName::Ready;
        if typing && !ready {
            return Err(DeviceError::NotReady);
        }
        let key = (chat_id.clone(), me.clone());
        let was_typing = self.typing.contains_key(&key);
        if typing {
            self.typing.insert(key, Instant::now() + TYPING_EXPIRES);
        } else {
            self.typing.remove(&key);
        }
        if was_typing != typing {
            self.journal_typing(&chat_id, &me, typing).await;
        }
        if !ready {
            return Ok(());
        }
        let latest_incoming = match typing {
            true => self.latest_incoming(&chat_id).await,
            false => None,
        };
        self.tell(&Outbound::Typing {
            chat_id,
            typing,
            latest_incoming,
        })
        .await
    }

    /// The upstream id of the newest message the other side sent in a chat.
    async fn latest_incoming(&self, chat_id: &str) -> Option<String> {
        let (id, chat_id) = (self.id.clone(), chat_id.to_owned());
        self.context
            .store
            .read(move |conn| store::messages::latest_incoming(conn, &id, &chat_id))
            .await
            .unwrap_or_else(|error| {
                tracing::error!(device_id = %self.id, %error, "cannot read the chat's latest message");
                None
            })
    }

    async fn journal_typing(&self, chat_id: &str, contact_id: &str, typing: bool) {
        let data = EventData::typing(chat_id.to_owned(), contact_id.to_owned(), typing);
        self.journal(data).await;
    }

    /// Ends the typing indicators whose stop never came. A contact's ends as if the upstream
    /// had said so (its presence back to `online`, with `contact:update`); ours is told to the
    /// upstream.
    pub(super) async fn expire_typing(&mut self) {
        let now = Instant::now();
        let expired: Vec<_> = self
            .typing
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &expired {
            self.typing.remove(key);
        }
        let ours = self.me.borrow().as_ref().map(|me| me.id.clone());
        let (ours, theirs): (Vec<_>, Vec<_>) = expired
            .into_iter()
            .partition(|(_, contact_id)| ours.as_deref() == Some(contact_id.as_str()));
        for (chat_id, contact_id) in ours {
            self.journal_typing(&chat_id, &contact_id, false).await;
            let stop = Outbound::Typing {
                chat_id,
                typing: false,
                latest_incoming: None,
            };
            if let Err(error) = self.tell(&stop).await {
                tracing::debug!(device_id = %self.id, %error, "the upstream was not told typing stopped");
            }
        }
        let stops: Vec<_> = theirs
            .into_iter()
            .map(|(chat_id, contact_id)| Inbound::Typing {
                chat_id,
                contact_id,
                typing: false,
            })
            .collect();
        if stops.is_empty() {
            return;
        }
        if let Err(error) = self.store_inbound(stops).await {
            tracing::error!(device_id = %self.id, %error, "cannot end a contact's typing");
        }
    }
}
