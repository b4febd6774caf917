//! The built-in simulated phone.
//!
//! It links like WhatsApp Web: each pairing code is single-use and registered in the shared
//! [`Pairings`] book (`device::pairings`), where the "phone side" (`POST /api/v1/pairings`, `/pair/{code}` or
//! `devicebridge pair`) claims it. Cue injection lets tests and demos drop the connection or
//! log the device out remotely.
//!
//! Once linked, the phone's contacts answer what we send ([`phone`]), and have profiles: an
//! "about" and a picture drawn for each ([`picture`]). A contact this account blocked is heard
//! no more in their own chat, nor in stories: what they do so on cue is dropped, and they get
//! nothing sent to them there. What the phone receives
//! is kept in the store (`simulator_inbox`, shown at `…/simulator/inbox`), keyed by our message
//! id: like a real upstream given an idempotency key, it recognises a message sent twice. What
//! its contacts still owe for each message (acks, read receipts, replies) is kept there too, and
//! taken up again each time the device connects (at [`Upstream::sync`], after linking or
//! restoring the session), so it survives a dropped connection and a restart of the daemon.

mod groups;
mod phone;
mod picture;
mod world;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::device::pairings::Pairings;
use crate::device::upstream::{Upstream, UpstreamEvent};
use crate::model::{
    event::Me,
    group::{GroupOp, GroupOutcome},
    ids::phone_of,
    inbound::Directory,
    pairing::LinkingPhone,
    spec::{SimulatedContact, SimulatorSpec},
    upstream::{
        Accepted, ConnectorError, Cue, GroupRefusal, Outbound, Outgoing, Picture, Profile, Session,
    },
    Ack, DeviceId,
};
use crate::store::{self, Store, StoreResult, Tx};

/// One simulated phone.
pub struct Simulator {
    device: DeviceId,
    device_name: String,
    spec: SimulatorSpec,
    public_url: String,
    pairings: Pairings,
    events: mpsc::Sender<UpstreamEvent>,
    failing_reconnects: u32,
    /// Whether the session stalled (see [`Cue::Stall`]); opening it again ends that.
    stalled: bool,
    store: Store,
    /// The contacts at work on what the phone owes, one task per message. They end with the
    /// connection; what they had not done yet is still owed in the store.
    contacts_at_work: JoinSet<()>,
}

/// What a simulator needs from the daemon.
pub struct SimulatorContext {
    pub device: DeviceId,
    pub device_name: String,
    pub spec: SimulatorSpec,
    pub public_url: String,
    pub pairings: Pairings,
    pub events: mpsc::Sender<UpstreamEvent>,
    pub store: Store,
}

impl Simulator {
    pub fn new(context: SimulatorContext) -> Self {
        Self {
            device: context.device,
            device_name: context.device_name,
            spec: context.spec,
            public_url: context.public_url.trim_end_matches('/').to_owned(),
            pairings: context.pairings,
            events: context.events,
            failing_reconnects: 0,
            stalled: false,
            store: context.store,
            contacts_at_work: JoinSet::new(),
        }
    }

    fn me(&self) -> Me {
        Me {
            id: format!("{}@c.us", self.spec.number()),
            name: self.device_name.clone(),
        }
    }

    /// Sets a contact to work on what the phone owes for one message.
    fn play(&mut self, duties: phone::Duties) {
        self.contacts_at_work.spawn(phone::play(
            self.device.clone(),
            duties,
            self.events.clone(),
        ));
    }

    /// The contact of the device file with id `id`.
    fn contact(&self, id: &str) -> Option<&SimulatedContact> {
        self.spec.contacts.iter().find(|contact| contact.id == id)
    }

    /// Whether this account blocked `contact`. The simulated phone keeps no block list of
    /// its own: it reads the device's, where a block is stored in the write that queues it
    /// for the upstream, so it holds from the moment the block is answered.
    async fn blocked(&self, contact: &str) -> Result<bool, ConnectorError> {
        let (device, contact) = (self.device.clone(), contact.to_owned());
        self.store
            .read(move |conn| store::contacts::is_blocked(conn, &device, &contact))
            .await
            .map_err(|error| ConnectorError::Unreachable(error.to_string()))
    }

    /// Takes up what the phone still owes, as the store has it: what fell due while the daemon
    /// was stopped or the connection down is done at once, the rest on time. The work of an
    /// earlier connection is dropped first; a step it reported that is still on its way to the
    /// store is stored once all the same (see [`phone`]).
    async fn resume_duties(&mut self) -> Result<(), ConnectorError> {
        let device = self.device.clone();
        let owed = self
            .store
            .read(move |conn| store::messages::simulator_duties(conn, &device))
            .await
            .map_err(|error| ConnectorError::Unreachable(error.to_string()))?;
        self.contacts_at_work.abort_all();
        for stored in owed {
            if let Some(duties) = phone::Duties::read(&self.device, stored) {
                self.play(duties);
            }
        }
        Ok(())
    }
}

/// The account a saved link was made for, as the pairing book wrote it into the session: a
/// device linked by a code typed on another phone speaks as that phone's number, also after a
/// restart. A session without one is the simulated phone's own.
fn linked_account(session: &Value) -> Option<String> {
    Some(session.get("me")?.get("id")?.as_str()?.to_owned())
}

#[async_trait]
impl Upstream for Simulator {
    async fn open(&mut self, session: Option<&Value>) -> Result<Session, ConnectorError> {
        if self.failing_reconnects > 0 {
            self.failing_reconnects -= 1;
            return Err(ConnectorError::Unreachable(
                "simulated network outage".into(),
            ));
        }
        self.stalled = false;
        Ok(match session {
            Some(session) => {
                let mut me = self.me();
                me.id = linked_account(session).unwrap_or(me.id);
                Session::Linked {
                    session: session.clone(),
                    me,
                }
            }
            None => Session::NeedsLinking,
        })
    }

    async fn issue_qr(&mut self, ttl: Duration) -> Result<String, ConnectorError> {
        let code = self
            .pairings
            .issue(&self.device, ttl, self.events.clone(), self.me());
        Ok(format!("{}/pair/{code}", self.public_url))
    }

    /// The code is filed in the pairing book, where the phone side claims it with the same
    /// number; it links the device as that number's account.
    async fn request_pairing_code(
        &mut self,
        phone: &LinkingPhone,
        ttl: Duration,
    ) -> Result<String, ConnectorError> {
        let name = self.device_name.clone();
        let events = self.events.clone();
        Ok(self
            .pairings
            .issue_for_phone(&self.device, phone, ttl, events, name))
    }

    /// The phone's address book; its contacts take up what they still owe.
    async fn sync(&mut self) -> Result<Directory, ConnectorError> {
        self.resume_duties().await?;
        Ok(phone::directory(&self.spec))
    }

    /// The simulated phone keeps what it received by our message id.
    fn recognises_resends(&self) -> bool {
        true
    }

    async fn send(&mut self, batch: &[Outgoing]) -> Vec<Result<Accepted, ConnectorError>> {
        if self.stalled {
            // Taken, as a stalled session takes it, and never delivered nor acknowledged.
            let taken = Accepted {
                upstream_id: None,
                ack: Ack::Pending,
            };
            return vec![Ok(taken); batch.len()];
        }
        let (device, spec) = (self.device.clone(), self.spec.clone());
        let messages: Vec<_> = batch.iter().map(|o| o.message.clone()).collect();
        let received = self
            .store
            .write(move |tx| phone::receive(tx, &device, &spec, &messages, chrono::Utc::now()))
            .await;
        // Finished contacts are collected here, so the set only holds the ones still at work.
        while self.contacts_at_work.try_join_next().is_some() {}
        let received = match received {
            Ok(received) => received,
            Err(error) => return vec![Err(ConnectorError::Unreachable(error.to_string()))],
        };
        received
            .into_iter()
            .map(|(upstream_id, owed)| {
                if let Some(duties) = owed {
                    self.play(duties);
                }
                // The phone's server ack follows after `server_ack_ms`.
                Ok(Accepted {
                    upstream_id: Some(upstream_id),
                    ack: Ack::Pending,
                })
            })
            .collect()
    }

    /// The simulated contacts do not react to receipts, typing, reactions or revocations; a
    /// block is read from the store (see [`Simulator::blocked`]).
    async fn tell(&mut self, _action: &Outbound) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// The device file's contacts are on the simulated network, and so is every other number
    /// but those ending in `0000`, which have no account: a test or a demo can show a number
    /// without WhatsApp (`+1 555 123 0000`). Only the contacts receive what is sent to them;
    /// a message to anyone else gets the server's tick alone, like one to a phone that is
    /// switched off.
    async fn find_number(&mut self, number: &str) -> Result<Option<String>, ConnectorError> {
        let contact = self
            .spec
            .contacts
            .iter()
            .any(|contact| phone_of(&contact.id) == Some(number));
        Ok((contact || !number.ends_with("0000")).then(|| format!("{number}@c.us")))
    }

    /// The device file's contacts, with their name and "about"; nobody else has a profile.
    async fn profile(&mut self, contact_id: &str) -> Result<Option<Profile>, ConnectorError> {
        Ok(self.contact(contact_id).map(|contact| Profile {
            name: Some(contact.name.clone()),
            push_name: Some(contact.name.clone()),
            about: contact.about().map(str::to_owned),
        }))
    }

    /// A drawing of the contact's own, for the device file's contacts that have a picture.
    async fn picture(&mut self, contact_id: &str) -> Result<Option<Picture>, ConnectorError> {
        Ok(self
            .contact(contact_id)
            .filter(|contact| contact.picture)
            .map(|contact| picture::draw(&contact.id)))
    }

    async fn close(&mut self) {
        self.pairings.retire_device(&self.device);
        self.contacts_at_work.abort_all();
    }

    async fn logout(&mut self) {
        self.pairings.retire_device(&self.device);
        self.contacts_at_work.abort_all();
    }

    async fn cue(&mut self, cue: Cue) -> Result<(), ConnectorError> {
        let event = match cue {
            Cue::Drop { fail_reconnects } => {
                self.failing_reconnects = fail_reconnects;
                UpstreamEvent::ConnectionLost {
                    reason: "connection_lost".into(),
                }
            }
            Cue::Stall => {
                // What the contacts were doing is swallowed too; it stays owed in the store
                // and is taken up again when the session is opened and synced.
                self.stalled = true;
                self.contacts_at_work.abort_all();
                return Ok(());
            }
            Cue::RemoteLogout => UpstreamEvent::RemoteLogout,
            Cue::Act(act) => {
                // WhatsApp delivers nothing someone this account blocked sends it.
                if let Some(by) = world::towards_us(&act) {
                    if self.blocked(by).await? {
                        return Ok(());
                    }
                }
                UpstreamEvent::Inbound(Box::new(world::report(&self.spec, &act)?))
            }
            Cue::Group(cue) => {
                let reports = self
                    .in_world(move |tx, device, spec, me| groups::act(tx, device, spec, me, &cue))
                    .await
                    .map_err(|refused| ConnectorError::Rejected(refused.to_string()))?;
                for report in reports {
                    self.report(UpstreamEvent::Inbound(Box::new(report)))
                        .await?;
                }
                return Ok(());
            }
        };
        self.report(event).await
    }

    /// Reads a group's name from the simulated world.
    async fn group_name(&mut self, group_id: &str) -> Result<Option<String>, ConnectorError> {
        let chat_id = group_id.to_owned();
        let (device, spec, me) = (self.device.clone(), self.spec.clone(), self.me().id);
        let group = self
            .store
            .read(move |conn| groups::load(conn, &device, &spec, &me, &chat_id))
            .await
            .map_err(|error| ConnectorError::Unreachable(error.to_string()))?;
        Ok(group.map(|group| group.name().to_owned()))
    }

    /// The simulated world's groups, as WhatsApp runs them (see [`groups`]).
    async fn group(&mut self, op: &GroupOp) -> Result<GroupOutcome, GroupRefusal> {
        let op = op.clone();
        self.in_world(move |tx, device, spec, me| groups::apply(tx, device, spec, me, &op))
            .await
    }
}

impl Simulator {
    /// Runs `change` on the simulated world in a write of the store, as this phone's account.
    async fn in_world<T: Send + 'static>(
        &self,
        change: impl FnOnce(
                &mut Tx<'_>,
                &DeviceId,
                &SimulatorSpec,
                &str,
            ) -> StoreResult<Result<T, GroupRefusal>>
            + Send
            + 'static,
    ) -> Result<T, GroupRefusal> {
        let (device, spec, me) = (self.device.clone(), self.spec.clone(), self.me().id);
        self.store
            .write(move |tx| change(tx, &device, &spec, &me))
            .await
            .map_err(|error| ConnectorError::Unreachable(error.to_string()))?
    }

    /// Passes what the simulated upstream did on to the device.
    /// Reports an event to the device, unless the session stalled and swallows it.
    async fn report(&self, event: UpstreamEvent) -> Result<(), ConnectorError> {
        if self.stalled {
            return Ok(());
        }
        self.events
            .send(event)
            .await
            .map_err(|_| ConnectorError::Unreachable("device stopped".into()))
    }
}
