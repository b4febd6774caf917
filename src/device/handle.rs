//! The clonable way to talk to a device's actor.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};

use super::actor::{Command, Reply};
use super::outbox::Outbox;
use super::{CurrentQr, DeviceError};
use crate::model::DeviceId;

#[derive(Clone)]
pub struct DeviceHandle {
    pub id: DeviceId,
    commands: mpsc::Sender<(Command, Reply)>,
    qr: watch::Receiver<Option<CurrentQr>>,
    outbox: Arc<Outbox>,
}

impl DeviceHandle {
    pub(super) fn new(
        id: DeviceId,
        commands: mpsc::Sender<(Command, Reply)>,
        qr: watch::Receiver<Option<CurrentQr>>,
        outbox: Arc<Outbox>,
    ) -> Self {
        Self {
            id,
            commands,
            qr,
            outbox,
        }
    }

    /// Tells the device that messages were queued for sending. Never waits: many sends ring
    /// once, and the relay takes everything queued when it runs.
    pub fn wake_relay(&self) {
        self.outbox.ring();
    }

    /// Tells the device that actions were stored for the upstream (see
    /// [`crate::store::actions`]), as [`Self::wake_relay`] does for messages.
    pub fn wake_for_actions(&self) {
        self.outbox.ring_for_actions();
    }

    /// Sends a command and waits for the actor's answer.
    pub async fn command(&self, command: Command) -> Result<(), DeviceError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send((command, reply))
            .await
            .map_err(|_| DeviceError::Gone)?;
        answer.await.map_err(|_| DeviceError::Gone)?
    }

    /// The chat id of a phone number, if it has a WhatsApp account (see
    /// [`crate::device::upstream::Upstream::find_number`]).
    pub async fn find_number(&self, number: String) -> Result<Option<String>, DeviceError> {
        let (found, answer) = oneshot::channel();
        self.command(Command::FindNumber { number, found }).await?;
        answer.await.map_err(|_| DeviceError::Gone)
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
