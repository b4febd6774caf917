//! The simulated phone's contacts: how they acknowledge, read and answer what we send.
//!
//! Each message we send gets one small task that plays its recipients' part on the device
//! file's clock: the server ack after `server_ack_ms`, delivery after `delivered_ms`, then each
//! recipient (the contact, or every member of the group) by its own behaviour: the read receipt
//! after `read_ms` (ten times that for a slow reader, never for a silent one) and, for an
//! echoing contact, presence, typing and a reply.

use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use tokio::sync::{mpsc, Mutex};
use tokio::time::sleep;

use crate::device::upstream::UpstreamEvent;
use crate::model::{
    inbound::{Directory, DirectoryChat, DirectoryContact, Inbound, Incoming},
    spec::{Behaviour, SimulatedContact, SimulatorSpec},
    Ack, Message,
};

/// How much slower a slow reader is than `read_ms`.
const SLOW_READER_FACTOR: u64 = 10;
/// How long a contact stays online after replying.
const ONLINE_AFTER_REPLY: Duration = Duration::from_secs(5);

/// The group every simulated phone is in with all its contacts.
pub fn group_id(spec: &SimulatorSpec) -> String {
    format!("120363{}@g.us", spec.phone)
}

pub const GROUP_NAME: &str = "Simulator group";

/// The phone's address book: one direct chat per contact, and the group when there are contacts.
pub fn directory(spec: &SimulatorSpec) -> Directory {
    let contacts = spec
        .contacts
        .iter()
        .map(|c| DirectoryContact {
            id: c.id.clone(),
            name: c.name.clone(),
            push_name: Some(c.name.clone()),
        })
        .collect();
    let mut chats: Vec<DirectoryChat> = spec
        .contacts
        .iter()
        .map(|c| DirectoryChat {
            id: c.id.clone(),
            name: c.name.clone(),
            group: false,
        })
        .collect();
    if !spec.contacts.is_empty() {
        chats.push(DirectoryChat {
            id: group_id(spec),
            name: GROUP_NAME.into(),
            group: true,
        });
    }
    Directory {
        contacts,
        chats,
        history: Vec::new(),
    }
}

/// The contacts who receive a message sent to `chat_id`.
fn recipients<'s>(spec: &'s SimulatorSpec, chat_id: &str) -> Vec<&'s SimulatedContact> {
    if chat_id == group_id(spec) {
        spec.contacts.iter().collect()
    } else {
        spec.contacts.iter().filter(|c| c.id == chat_id).collect()
    }
}

/// When a contact reads what it receives, if ever.
fn read_after(spec: &SimulatorSpec, contact: &SimulatedContact) -> Option<Duration> {
    match contact.behaviour {
        Behaviour::Echo => Some(Duration::from_millis(spec.read_ms)),
        Behaviour::SlowReader => Some(Duration::from_millis(spec.read_ms * SLOW_READER_FACTOR)),
        Behaviour::Silent => None,
    }
}

/// Plays the recipients' part for one message we sent. `first_delivery` is false for a resend
/// the phone already had: acks and receipts come again (they may have been lost), replies do
/// not.
///
/// The server and delivery acks are the message's own. After them each recipient acts on its
/// own clock, as the members of a real group do: one that reads sends its receipt, and an
/// echoing one replies, whatever the others do. The message's ack becomes `read` with the
/// receipt of the last recipient to read it, so a group with a silent member never gets there.
pub async fn play(
    spec: SimulatorSpec,
    message: Message,
    upstream_id: String,
    first_delivery: bool,
    events: mpsc::Sender<UpstreamEvent>,
) {
    let emit = |item: Inbound| {
        let events = events.clone();
        async move { events.send(UpstreamEvent::Inbound(item)).await.is_ok() }
    };
    let ack = |ack: Ack| Inbound::Ack {
        upstream_id: upstream_id.clone(),
        ack,
        by: None,
    };
    let recipients = recipients(&spec, &message.chat_id);
    let server = Duration::from_millis(spec.server_ack_ms);
    let delivered = Duration::from_millis(spec.delivered_ms.max(spec.server_ack_ms));
    sleep(server).await;
    if !emit(ack(Ack::Server)).await || recipients.is_empty() {
        return;
    }
    sleep(delivered - server).await;
    if !emit(ack(Ack::Device)).await {
        return;
    }
    let delivery = Delivery {
        spec: &spec,
        message: &message,
        upstream_id: &upstream_id,
        group: recipients.len() > 1 || message.chat_id == group_id(&spec),
        first_delivery,
        unread: Mutex::new(recipients.len()),
    };
    join_all(
        recipients
            .iter()
            .map(|contact| delivery.recipient(contact, delivered, &emit)),
    )
    .await;
}

/// One message as its recipients have it: what they share.
struct Delivery<'a> {
    spec: &'a SimulatorSpec,
    message: &'a Message,
    upstream_id: &'a str,
    group: bool,
    first_delivery: bool,
    /// How many recipients have not read the message yet. Held while a receipt is sent, so
    /// receipts leave in the order they were counted and the one that reaches zero is last.
    unread: Mutex<usize>,
}

impl Delivery<'_> {
    /// One recipient's part once the message was delivered (at `delivered`): it comes online,
    /// reads, replies if it echoes, and goes offline a while later. A silent one does nothing.
    async fn recipient<F, Fut>(&self, contact: &SimulatedContact, delivered: Duration, emit: &F)
    where
        F: Fn(Inbound) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let Some(read_at) = read_after(self.spec, contact) else {
            return;
        };
        sleep(read_at.saturating_sub(delivered)).await;
        let presence = |online: bool| Inbound::Presence {
            contact_id: contact.id.clone(),
            online,
        };
        emit(presence(true)).await;
        {
            let mut unread = self.unread.lock().await;
            *unread -= 1;
            let (upstream_id, reader) = (self.upstream_id.to_owned(), contact.id.clone());
            let receipt = if *unread == 0 {
                Inbound::Ack {
                    upstream_id,
                    ack: Ack::Read,
                    by: Some(reader),
                }
            } else {
                Inbound::ReadBy {
                    upstream_id,
                    reader,
                }
            };
            if !emit(receipt).await {
                return;
            }
        }
        if self.first_delivery && contact.behaviour == Behaviour::Echo {
            reply(
                self.spec,
                contact,
                self.message,
                self.group,
                self.upstream_id,
                emit,
            )
            .await;
        }
        sleep(ONLINE_AFTER_REPLY).await;
        emit(presence(false)).await;
    }
}

/// An echoing contact types for `typing_ms`, then sends the text back, quoting it.
async fn reply<F, Fut>(
    spec: &SimulatorSpec,
    contact: &SimulatedContact,
    message: &Message,
    group: bool,
    quoted: &str,
    emit: &F,
) where
    F: Fn(Inbound) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let typing = |typing: bool| Inbound::Typing {
        chat_id: message.chat_id.clone(),
        contact_id: contact.id.clone(),
        typing,
    };
    emit(typing(true)).await;
    sleep(Duration::from_millis(spec.typing_ms)).await;
    emit(typing(false)).await;
    emit(Inbound::Message(Box::new(Incoming {
        upstream_id: format!(
            "false_{}_{}",
            message.chat_id,
            crate::device::pairings::random_token(20)
        ),
        chat_id: message.chat_id.clone(),
        chat_name: group.then(|| GROUP_NAME.to_owned()),
        group,
        from: contact.id.clone(),
        from_name: Some(contact.name.clone()),
        from_me: false,
        kind: message.kind.clone(),
        body: message.body.clone(),
        media: message.media.clone(),
        reply_to: Some(quoted.to_owned()),
        timestamp: Utc::now(),
    })))
    .await;
}
