//! The clonable way to talk to a device's actor.

use tokio::sync::{mpsc, oneshot, watch};

use super::actor::{Command, Reply};
use super::{CurrentQr, DeviceError, DeviceId};
use crate::connector::Fault;

#[derive(Clone)]
pub struct DeviceHandle {
    pub id: DeviceId,
    commands: mpsc::Sender<(Command, Reply)>,
    qr: watch::Receiver<Option<CurrentQr>>,
}

impl DeviceHandle {
    pub(super) fn new(
        id: DeviceId,
        commands: mpsc::Sender<(Command, Reply)>,
        qr: watch::Receiver<Option<CurrentQr>>,
    ) -> Self {
        Self { id, commands, qr }
    }

    async fn send(&self, command: Command) -> Result<(), DeviceError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send((command, reply))
            .await
            .map_err(|_| DeviceError::Gone)?;
        answer.await.map_err(|_| DeviceError::Gone)?
    }

    pub async fn start(&self) -> Result<(), DeviceError> {
        self.send(Command::Start).await
    }

    pub async fn stop(&self) -> Result<(), DeviceError> {
        self.send(Command::Stop).await
    }

    pub async fn restart(&self) -> Result<(), DeviceError> {
        self.send(Command::Restart).await
    }

    pub async fn logout(&self) -> Result<(), DeviceError> {
        self.send(Command::Logout).await
    }

    pub async fn inject_fault(&self, fault: Fault) -> Result<(), DeviceError> {
        self.send(Command::InjectFault(fault)).await
    }

    pub(super) async fn shutdown(&self) -> Result<(), DeviceError> {
        self.send(Command::Shutdown).await
    }

    /// The QR code on show, if the device is in state `qr`.
    pub fn current_qr(&self) -> Option<CurrentQr> {
        self.qr.borrow().clone()
    }
}
