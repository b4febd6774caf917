//! The simulated phone's contacts: how they acknowledge, read and answer what we send.
//!
//! When the phone receives a message it plans its recipients' part on the device file's clock:
//! the server ack after `server_ack_ms`, delivery after `delivered_ms`, then each recipient (the
//! contact, or every member of the group) by its own behaviour: the read receipt after
//! `read_ms` (ten times that for a slow reader, never for a silent one) and, for an echoing
//! contact, presence, typing and a reply.
//!
//! The plan is stored (`simulator_duties`, with the phone's inbox) in the write in which the
//! phone receives the message, and one small task per message plays it, reporting each step as
//! owed ([`UpstreamEvent::Owed`]): the step is marked done in the transaction that stores what
//! it reported. So whatever is not stored when the daemon stops (SIGTERM or `kill -9`) is still
//! owed, and the phone does it when the device connects again, at once if it is overdue: every
//! message still gets its acks and receipts, and every echoing contact replies once. A step
//! played twice (by the task of the earlier connection, whose reports were still on their way,
//! and by the one that took over) is stored once, since only the first marks it done. The
//! message's own acks are the exception ([`play`]): stored twice they are stored once anyway,
//! so they are reported unmarked, and the next step marked counts them done with itself.
//!
//! A contact this account blocked gets nothing in their own chat: a message to them gets the
//! server's ack alone, and a reply there they had planned before the block is settled without
//! being reported. In the group they go on as before, as blocked members do on WhatsApp.
//!
//! The whole plan is kept rather than worked out again from the device file: an edited file
//! does not change what is owed for messages already received, the count of steps done keeps
//! its meaning, and a reply made again has the upstream id chosen for it at first.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::time::sleep;

use super::groups::{group_id, GROUP_NAME};
use crate::device::pairings::random_token;
use crate::device::upstream::{Marked, Settle, UpstreamEvent};
use crate::model::{
    content::Content,
    inbound::{Directory, DirectoryChat, DirectoryContact, Inbound, Incoming},
    spec::{Behaviour, SimulatedContact, SimulatorSpec},
    Ack, DeviceId, Media, Message,
};
use crate::store::messages::PhoneDuties;
use crate::store::sql::{Conn, Exists};
use crate::store::{self, StoreResult, Tx};
use std::collections::hash_map::{Entry, HashMap};

/// How much slower a slow reader is than `read_ms`.
const SLOW_READER_FACTOR: u64 = 10;
/// How long a contact stays online after replying.
const ONLINE_AFTER_REPLY: Duration = Duration::from_secs(5);

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

/// The contacts who receive a message sent to `chat_id`: the contact, or a group's members
/// (`members`, as the simulated world has them; all contacts in the phone's first group).
fn recipients<'s>(
    spec: &'s SimulatorSpec,
    chat_id: &str,
    members: Option<&[String]>,
) -> Vec<&'s SimulatedContact> {
    match members {
        Some(members) => spec
            .contacts
            .iter()
            .filter(|c| members.contains(&c.id))
            .collect(),
        None if chat_id == group_id(spec) => spec.contacts.iter().collect(),
        None => spec.contacts.iter().filter(|c| c.id == chat_id).collect(),
    }
}

/// When a contact reads what it receives, in milliseconds, if ever.
fn read_after(spec: &SimulatorSpec, contact: &SimulatedContact) -> Option<u64> {
    match contact.behaviour {
        Behaviour::Echo => Some(spec.read_ms),
        Behaviour::SlowReader => Some(spec.read_ms.saturating_mul(SLOW_READER_FACTOR)),
        Behaviour::Silent => None,
    }
}

/// The phone receives a relay's batch of `messages` in the write `tx`, each with its
/// recipients' part planned ([`plan`]) and stored with it. Returns each message's upstream id
/// and what the phone still owes for it, to play: once per message id (see
/// [`Tx::simulator_receive`]), a message sent again gets what is left of the plan it got the
/// first time (its acks may not have been stored), and nothing once all of it is done.
///
/// Whether a chat's contact blocked this account is asked once for each chat of the batch,
/// and the batch's messages are received before any receipt is read, so that on PostgreSQL
/// each takes one round trip for the whole batch.
pub fn receive(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    spec: &SimulatorSpec,
    messages: &[Message],
    now: DateTime<Utc>,
) -> StoreResult<Vec<(String, Option<Duties>)>> {
    let mut asked: HashMap<&str, Exists> = HashMap::new();
    for message in messages {
        if let Entry::Vacant(chat) = asked.entry(&message.chat_id) {
            chat.insert(store::contacts::ask_blocked(
                tx.conn(),
                device,
                &message.chat_id,
            )?);
        }
    }
    let blocked = asked
        .into_iter()
        .map(|(chat, asked)| Ok((chat, tx.conn().answer_exists(asked)?)))
        .collect::<StoreResult<HashMap<_, _>>>()?;
    let arrivals = messages
        .iter()
        .map(|message| {
            let blocked = blocked.get(message.chat_id.as_str()) == Some(&true);
            let plan = plan(tx.conn(), device, spec, message, blocked)?;
            let candidate = format!("true_{}_{}", message.chat_id, random_token(20));
            let stored = serde_json::to_string(&plan)?;
            let receipt = tx.simulator_receive(device, message, &candidate, now, &stored)?;
            Ok((receipt, plan))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    messages
        .iter()
        .zip(arrivals)
        .map(|(message, (receipt, plan))| {
            let received = receipt.read(tx.conn(), device, message)?;
            if !received.first {
                let left = tx.simulator_duties_in(device, received.row)?;
                return Ok((
                    received.upstream_id,
                    left.and_then(|left| Duties::read(device, left)),
                ));
            }
            let duties = Duties {
                row: received.row,
                upstream_id: received.upstream_id.clone(),
                received_at: now,
                plan,
                done: 0,
            };
            Ok((received.upstream_id, Some(duties)))
        })
        .collect()
}

/// What the recipients of `message` will do about it. `blocked`: whether the message's chat is
/// a contact who blocked this account.
fn plan(
    conn: &Conn,
    device: &DeviceId,
    spec: &SimulatorSpec,
    message: &Message,
    blocked: bool,
) -> StoreResult<Plan> {
    let me = format!("{}@c.us", spec.number());
    let members = super::groups::load(conn, device, spec, &me, &message.chat_id)?
        .map(|group| group.member_ids().map(str::to_owned).collect::<Vec<_>>());
    // In their own chat, a contact this account blocked gets nothing, as one whose phone is
    // off; in a group, blocking changes nothing, as on WhatsApp.
    Ok(match members.is_none() && blocked {
        true => Plan::with_members(
            &SimulatorSpec {
                contacts: Vec::new(),
                ..spec.clone()
            },
            message,
            None,
        ),
        false => Plan::with_members(spec, message, members.as_deref()),
    })
}

/// What the recipients of one message do about it, in the order they do it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    chat_id: String,
    /// A group's replies and receipts name their sender.
    group: bool,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Step {
    /// When, after the phone received the message.
    after_ms: u64,
    act: Act,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Act {
    /// The server has the message.
    Server,
    /// The recipients' phones have it.
    Delivered,
    /// A group member read it, while others have not.
    ReadBy {
        reader: String,
    },
    /// The last recipient read it: the message is read.
    Read {
        reader: String,
    },
    Presence {
        contact: String,
        online: bool,
    },
    Typing {
        contact: String,
        typing: bool,
    },
    /// An echoing contact sends the message back, quoting it.
    Reply(Box<Reply>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reply {
    /// Chosen with the plan, so that a reply is the same message however often it is made.
    upstream_id: String,
    from: String,
    from_name: String,
    kind: String,
    body: String,
    media: Option<Media>,
    /// A place or cards sent back as they came (plans stored before kept none).
    #[serde(default)]
    content: Content,
}

impl Act {
    /// Whether this is an ack of the message: merged into its ack, so that storing it twice
    /// is storing it once.
    fn is_ack(&self) -> bool {
        matches!(self, Act::Server | Act::Delivered | Act::Read { .. })
    }
}

impl Plan {
    /// [`Plan::with_members`] for a chat that is no group of the simulated world's store.
    #[cfg(test)]
    pub fn new(spec: &SimulatorSpec, message: &Message) -> Plan {
        Plan::with_members(spec, message, None)
    }

    /// The recipients' part for `message`, sent to the contact or to a group whose members
    /// are `members`. After the server and delivery acks (the message's own), each recipient
    /// acts on its own clock, as the members of a real group do: one that reads comes online
    /// and sends its receipt, an echoing one types and replies, and each goes offline a while
    /// later. The message becomes read with the receipt of the last recipient to read it, so a
    /// group with a silent member never gets there.
    pub fn with_members(
        spec: &SimulatorSpec,
        message: &Message,
        members: Option<&[String]>,
    ) -> Plan {
        let recipients = recipients(spec, &message.chat_id, members);
        let group = recipients.len() > 1 || message.chat_id.ends_with("@g.us");
        let server = spec.server_ack_ms;
        let mut steps = vec![Step {
            after_ms: server,
            act: Act::Server,
        }];
        if !recipients.is_empty() {
            let delivered = spec.delivered_ms.max(server);
            steps.push(Step {
                after_ms: delivered,
                act: Act::Delivered,
            });
            let readers: Vec<(u64, &SimulatedContact)> = recipients
                .iter()
                .filter_map(|contact| Some((read_after(spec, contact)?.max(delivered), *contact)))
                .collect();
            // Receipts leave in time order, the earlier listed first at the same time; the
            // message is read with the last, if every recipient reads.
            let last_reader = readers
                .iter()
                .enumerate()
                .max_by_key(|(index, (read_at, _))| (*read_at, *index))
                .map(|(index, _)| index)
                .filter(|_| readers.len() == recipients.len());
            for (index, (read_at, contact)) in readers.into_iter().enumerate() {
                let read = Some(index) == last_reader;
                steps.extend(reader_steps(spec, message, contact, read_at, read));
            }
        }
        // Stable: steps at the same time keep the order they were planned in.
        steps.sort_by_key(|step| step.after_ms);
        Plan {
            chat_id: message.chat_id.clone(),
            group,
            steps,
        }
    }

    /// What `act` reports about the message `upstream_id`.
    fn report(&self, act: &Act, upstream_id: &str) -> Inbound {
        let ack = |ack: Ack, by: Option<&String>| Inbound::Ack {
            upstream_id: upstream_id.to_owned(),
            ack,
            by: by.cloned(),
        };
        match act {
            Act::Server => ack(Ack::Server, None),
            Act::Delivered => ack(Ack::Device, None),
            Act::Read { reader } => ack(Ack::Read, Some(reader)),
            Act::ReadBy { reader } => Inbound::ReadBy {
                upstream_id: upstream_id.to_owned(),
                reader: reader.clone(),
            },
            Act::Presence { contact, online } => Inbound::Presence {
                contact_id: contact.clone(),
                online: *online,
            },
            Act::Typing { contact, typing } => Inbound::Typing {
                chat_id: self.chat_id.clone(),
                contact_id: contact.clone(),
                typing: *typing,
            },
            Act::Reply(reply) => Inbound::Message(Box::new(Incoming {
                upstream_id: reply.upstream_id.clone(),
                chat_id: self.chat_id.clone(),
                chat_name: self.group.then(|| GROUP_NAME.to_owned()),
                group: self.group,
                from: reply.from.clone(),
                from_name: Some(reply.from_name.clone()),
                from_me: false,
                kind: reply.kind.clone(),
                body: reply.body.clone(),
                media: reply.media.clone(),
                content: reply.content.clone(),
                reply_to: Some(upstream_id.to_owned()),
                timestamp: Utc::now(),
            })),
        }
    }
}

/// One recipient's part once it reads `message` at `read_at`: it comes online and sends its
/// receipt (the one that makes the message `read` if `read`), replies if it echoes (typing for
/// `typing_ms` first), and goes offline a while later.
fn reader_steps(
    spec: &SimulatorSpec,
    message: &Message,
    contact: &SimulatedContact,
    read_at: u64,
    read: bool,
) -> Vec<Step> {
    let at = |after_ms: u64, act: Act| Step { after_ms, act };
    let (presence, typing) = (
        |online| Act::Presence {
            contact: contact.id.clone(),
            online,
        },
        |typing| Act::Typing {
            contact: contact.id.clone(),
            typing,
        },
    );
    let reader = contact.id.clone();
    let receipt = match read {
        true => Act::Read { reader },
        false => Act::ReadBy { reader },
    };
    let mut steps = vec![at(read_at, presence(true)), at(read_at, receipt)];
    let mut done_at = read_at;
    // A poll is answered by a vote, not sent back.
    if contact.behaviour == Behaviour::Echo && message.content.poll.is_none() {
        let replied_at = read_at.saturating_add(spec.typing_ms);
        let reply = Reply {
            upstream_id: format!("false_{}_{}", message.chat_id, random_token(20)),
            from: contact.id.clone(),
            from_name: contact.name.clone(),
            kind: message.kind.clone(),
            body: message.body.clone(),
            media: message.media.clone(),
            content: Content {
                forwarded: false,
                ..message.content.clone()
            },
        };
        steps.extend([
            at(read_at, typing(true)),
            at(replied_at, typing(false)),
            at(replied_at, Act::Reply(Box::new(reply))),
        ]);
        done_at = replied_at;
    }
    let offline_at = done_at.saturating_add(ONLINE_AFTER_REPLY.as_millis() as u64);
    steps.push(at(offline_at, presence(false)));
    steps
}

/// What the phone still owes for one message: its plan, and how many steps of it are done.
#[derive(Debug, Clone, PartialEq)]
pub struct Duties {
    /// The row of the phone's inbox that keeps the plan.
    row: i64,
    upstream_id: String,
    received_at: DateTime<Utc>,
    plan: Plan,
    done: u32,
}

impl Duties {
    /// The duties as the store keeps them; `None` (and a warning) for a plan this build
    /// cannot read, which is left alone.
    pub fn read(device: &DeviceId, stored: PhoneDuties) -> Option<Duties> {
        match serde_json::from_str(&stored.plan) {
            Ok(plan) => Some(Duties {
                row: stored.row,
                upstream_id: stored.upstream_id,
                received_at: stored.received_at,
                plan,
                done: stored.done,
            }),
            Err(error) => {
                tracing::warn!(device_id = %device, upstream_id = %stored.upstream_id, %error, "the simulated phone cannot read what it owes for a message");
                None
            }
        }
    }
}

/// Plays what the phone owes for one message, from the first step not done: each step at its
/// time after the message was received (at once if that is past), reported as owed, so that it
/// is marked done in the write that stores it. An ack that is not the last step is reported
/// as it is, unmarked: the server's, the delivery's and the read receipt's merge into the
/// message's ack, so one stored again (after a restart, or by the task of an earlier
/// connection) changes nothing, and not marking it spares the phone's plan a write a step.
/// Ends with the plan, or when the device's events are closed.
pub async fn play(device: DeviceId, duties: Duties, events: mpsc::Sender<UpstreamEvent>) {
    let steps = &duties.plan.steps;
    // Where the plan stands after its last marked step: the next one is owed from there.
    let mut from = duties.done;
    for (index, step) in steps.iter().enumerate().skip(duties.done as usize) {
        let due = duties.received_at + TimeDelta::milliseconds(step.after_ms as i64);
        sleep((due - Utc::now()).to_std().unwrap_or_default()).await;
        let report = Box::new(duties.plan.report(&step.act, &duties.upstream_id));
        let last = index + 1 == steps.len();
        let event = match step.act.is_ack() && !last {
            true => UpstreamEvent::Inbound(report),
            false => {
                let settle = settle(&device, &duties, from, index as u32, last);
                from = index as u32 + 1;
                UpstreamEvent::Owed { report, settle }
            }
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

/// What marks step `step` of `duties` done in the write that stores its report, and tells
/// whether it was still owed ([`Tx::simulator_step_done`]).
fn settle(device: &DeviceId, duties: &Duties, from: u32, step: u32, last: bool) -> Settle {
    let (device, upstream_id, row) = (device.clone(), duties.upstream_id.clone(), duties.row);
    let replier = match &duties.plan.steps[step as usize].act {
        Act::Reply(reply) if !duties.plan.group => Some(reply.from.clone()),
        _ => None,
    };
    Settle::new(move |tx| {
        let mark = tx.simulator_step_done(&device, &upstream_id, row, from, step, last)?;
        Ok(Marked::new(move |tx| {
            let owed = tx.conn().answer_changed(mark)? > 0;
            // A reply in their chat planned before its sender was blocked is done, and
            // never arrives.
            match replier {
                Some(from) if owed => Ok(!store::contacts::is_blocked(tx.conn(), &device, &from)?),
                _ => Ok(owed),
            }
        }))
    })
}

#[cfg(test)]
mod tests;
