//! The clonable way to talk to a device's actor.

use std::sync::Arc;

use tokio::sync::watch;

use super::relay_bell::RelayBell;
use super::route::{Answer, Carried, CommandRoute, Lifecycle, Request};
use super::{CurrentQr, DeviceError};
use crate::model::{
    event::{HealthStatus, Me},
    governor::GovernorChanges,
    group::{GroupOp, GroupOutcome},
    pairing::{IssuedCode, LinkingPhone},
    upstream::{Cue, Found, LookUp, Outbound, Picture, Profile, Reported},
    DeviceId,
};

#[derive(Clone)]
pub struct DeviceHandle {
    pub id: DeviceId,
    /// Where its requests go: its actor here, or the node that runs it.
    route: Arc<dyn CommandRoute>,
    qr: watch::Receiver<Option<CurrentQr>>,
    me: watch::Receiver<Option<Me>>,
    health: watch::Receiver<HealthStatus>,
    bell: Arc<RelayBell>,
}

impl DeviceHandle {
    pub(super) fn new(
        id: DeviceId,
        route: Arc<dyn CommandRoute>,
        qr: watch::Receiver<Option<CurrentQr>>,
        me: watch::Receiver<Option<Me>>,
        health: watch::Receiver<HealthStatus>,
        bell: Arc<RelayBell>,
    ) -> Self {
        Self {
            id,
            route,
            qr,
            me,
            health,
            bell,
        }
    }

    /// Whether a message queued now is sent at once: false while the device is not ready,
    /// and its messages wait for the upstream.
    pub fn is_sending(&self) -> bool {
        self.bell.is_sending()
    }

    /// Tells the device that messages were queued for sending. Never waits: many sends ring
    /// once, and the relay takes everything queued when it runs.
    pub fn wake_relay(&self) {
        self.bell.ring();
    }

    /// Tells the device that actions were stored for the upstream (see
    /// [`crate::store::actions`]), as [`Self::wake_relay`] does for messages.
    pub fn wake_for_actions(&self) {
        self.bell.ring_for_actions();
    }

    /// Starts, stops, restarts or logs out the device, and waits until it has.
    pub async fn lifecycle(&self, step: Lifecycle) -> Result<(), DeviceError> {
        self.ask(Request::Lifecycle(step)).await
    }

    /// Makes the simulated world act: misbehave, or someone in it post (see [`Cue`]).
    pub async fn cue(&self, cue: Cue) -> Result<(), DeviceError> {
        self.ask(Request::Cue(cue)).await
    }

    /// Our side starts or stops typing in a chat.
    pub async fn typing(&self, chat_id: String, typing: bool) -> Result<(), DeviceError> {
        self.ask(Request::Typing { chat_id, typing }).await
    }

    /// Passes a hint that matters only now on to the upstream (see
    /// [`Outbound::WatchPresence`]).
    pub async fn tell(&self, action: Outbound) -> Result<(), DeviceError> {
        self.ask(Request::Tell(action)).await
    }

    /// Changes the device's send governor's limits, as an admin asked; stored before the
    /// answer.
    pub async fn govern(&self, changes: GovernorChanges) -> Result<(), DeviceError> {
        self.ask(Request::Govern(changes)).await
    }

    /// Hands a verified webhook delivery to the device, which stores what it reports first.
    pub async fn deliver(&self, reports: Vec<Reported>) -> Result<(), DeviceError> {
        self.ask(Request::Webhook(reports)).await
    }

    /// The chat id of a phone number, if it has a WhatsApp account (see
    /// [`crate::device::upstream::Upstream::find_number`]).
    pub async fn find_number(&self, number: String) -> Result<Option<String>, DeviceError> {
        match self.route.carry(Request::FindNumber(number)).await? {
            Answer::Found(chat_id) => Ok(chat_id),
            Answer::Done | Answer::PairingCode(_) | Answer::Group(_) | Answer::LookedUp(_) => {
                Ok(None)
            }
        }
    }

    /// A code that links the device when typed on the phone `phone`, while it shows its QR
    /// codes (see [`crate::device::upstream::Upstream::request_pairing_code`]).
    pub async fn pairing_code(&self, phone: LinkingPhone) -> Result<IssuedCode, DeviceError> {
        match self.route.carry(Request::PairingCode(phone)).await? {
            Answer::PairingCode(issued) => Ok(issued),
            // Only an owner of another build could answer otherwise: as an answer that does
            // not read.
            Answer::Done | Answer::Found(_) | Answer::Group(_) | Answer::LookedUp(_) => {
                Err(DeviceError::NotReady)
            }
        }
    }

    /// Makes, reads or changes a group as this account, and stores what changed (see
    /// [`crate::device::upstream::Upstream::group`]).
    pub async fn group(&self, op: GroupOp) -> Result<GroupOutcome, DeviceError> {
        match self.route.carry(Request::Group(op)).await? {
            Answer::Group(outcome) => Ok(outcome),
            Answer::Done | Answer::Found(_) | Answer::PairingCode(_) | Answer::LookedUp(_) => {
                Ok(GroupOutcome::Done)
            }
        }
    }

    /// What the upstream's profile of a contact says; `None` if it knows no such contact.
    pub async fn profile(&self, contact_id: String) -> Result<Option<Profile>, DeviceError> {
        match self.look_up(LookUp::Profile { contact_id }).await? {
            Found::Profile(profile) => Ok(profile),
            Found::Picture(_) => Err(DeviceError::NotReady),
        }
    }

    /// A contact's profile picture from the upstream; `None` if they have none.
    pub async fn picture(&self, contact_id: String) -> Result<Option<Picture>, DeviceError> {
        match self.look_up(LookUp::Picture { contact_id }).await? {
            Found::Picture(picture) => Ok(picture),
            Found::Profile(_) => Err(DeviceError::NotReady),
        }
    }

    /// Asks the upstream; an answer of another kind (from an owner node that misread the
    /// request) is no answer.
    async fn look_up(&self, look_up: LookUp) -> Result<Found, DeviceError> {
        match self.route.carry(Request::LookUp(look_up)).await? {
            Answer::LookedUp(found) => Ok(found),
            Answer::Done | Answer::Found(_) | Answer::PairingCode(_) | Answer::Group(_) => {
                Err(DeviceError::NotReady)
            }
        }
    }

    /// Answers a request another node of the cluster carried here.
    pub async fn answer(&self, carried: Carried) -> Result<Answer, DeviceError> {
        self.route.carry(carried.into()).await
    }

    /// Carries a request that is answered with nothing but its success.
    async fn ask(&self, request: Request) -> Result<(), DeviceError> {
        self.route.carry(request).await.map(drop)
    }

    /// How its upstream session is doing, as the watchdog last said.
    pub fn health(&self) -> HealthStatus {
        *self.health.borrow()
    }

    /// The id of the account the device is linked to, if it is.
    pub fn me(&self) -> Option<String> {
        self.me.borrow().as_ref().map(|me| me.id.clone())
    }

    /// The QR code on show, if the device is in state `qr`.
    pub fn current_qr(&self) -> Option<CurrentQr> {
        self.qr.borrow().clone()
    }

    /// The QR code on show, waiting up to `within` for one: a device enters state `qr` (and
    /// says so) just before its upstream has issued the code.
    pub async fn qr_within(&self, within: std::time::Duration) -> Option<CurrentQr> {
        let mut qr = self.qr.clone();
        let shown = tokio::time::timeout(within, qr.wait_for(Option::is_some)).await;
        match shown {
            Ok(Ok(current)) => current.clone(),
            _ => None,
        }
    }
}
