//! What callers ask of a device through its handle: start, stop, restart, log out, pass a hint
//! or a question (a number, a contact) on to the upstream, ask for a pairing code, and shut
//! down with the daemon. Kept apart from the run loop so that the loop reads as the list of
//! what an actor waits for.

use super::{failure_input, Actor, Command};
use crate::device::state::{DeviceState, Input, InvalidTransition};
use crate::device::upstream::Upstream;
use crate::device::DeviceError;
use crate::model::{
    upstream::{ConnectorError, Found, LookUp, Outbound},
    StateName,
};

impl Actor {
    pub(super) async fn command(&mut self, command: Command) -> Result<(), DeviceError> {
        match command {
            Command::Start => self.feed(Input::Start).await?,
            Command::Stop => self.feed(Input::Stop).await?,
            Command::Logout => self.feed(Input::Logout).await?,
            Command::Restart => {
                if self.state.name().is_running() {
                    self.feed(Input::Stop).await?;
                }
                self.feed(Input::Start).await?;
            }
            Command::Cue(cue) => {
                let upstream = match (&mut self.upstream, self.state.name().is_running()) {
                    (Some(upstream), true) => upstream,
                    _ => {
                        return Err(DeviceError::InvalidState(InvalidTransition {
                            state: self.state.name(),
                            input: "simulator cue",
                        }))
                    }
                };
                upstream.cue(cue).await?;
            }
            Command::Typing { chat_id, typing } => self.our_typing(chat_id, typing).await?,
            Command::Tell(action) => self.tell(&action).await?,
            Command::FindNumber { number, found } => {
                let _ = found.send(self.find_number(&number).await?);
            }
            Command::PairingCode { phone, issued } => {
                let _ = issued.send(self.pairing_code(phone).await?);
            }
            Command::LookUp { look_up, found } => {
                let _ = found.send(self.look_up(look_up).await?);
            }
            Command::Webhook(reports) => {
                self.heard_upstream();
                self.webhook(reports).await?
            }
            Command::Govern(changes) => self.govern(*changes).await?,
            Command::Group { op, done } => {
                let _ = done.send(self.group(*op).await?);
            }
            Command::Shutdown => unreachable!("handled by the run loop"),
        }
        Ok(())
    }

    /// Passes an action to the upstream of a ready device. A failure that concerns the whole
    /// device (unreachable, credentials refused) also moves the device.
    pub(super) async fn tell(&mut self, action: &Outbound) -> Result<(), DeviceError> {
        let (StateName::Ready, Some(upstream)) = (self.state.name(), self.upstream.as_mut()) else {
            return Ok(());
        };
        match upstream.tell(action).await {
            Ok(()) => Ok(()),
            Err(error) => Err(self.answered_with(error).await),
        }
    }

    /// The upstream of a ready device, to ask something of for a caller.
    fn ready_upstream(&mut self) -> Result<&mut (dyn Upstream + 'static), DeviceError> {
        match (self.state.name(), self.upstream.as_deref_mut()) {
            (StateName::Ready, Some(upstream)) => Ok(upstream),
            _ => Err(DeviceError::NotReady),
        }
    }

    async fn find_number(&mut self, number: &str) -> Result<Option<String>, DeviceError> {
        self.ready_upstream()?;
        self.check_a_number()?;
        match self.ready_upstream()?.find_number(number).await {
            Ok(Some(mut chat_id)) => {
                // A number WhatsApp answers with a linked id for is that number's chat.
                self.linked_ids
                    .resolve(&mut chat_id, self.upstream.as_deref_mut())
                    .await;
                Ok(Some(chat_id))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(self.answered_with(error).await),
        }
    }

    async fn look_up(&mut self, look_up: LookUp) -> Result<Found, DeviceError> {
        let upstream = self.ready_upstream()?;
        let found = match look_up {
            LookUp::Profile { contact_id } => {
                upstream.profile(&contact_id).await.map(Found::Profile)
            }
            LookUp::Picture { contact_id } => {
                upstream.picture(&contact_id).await.map(Found::Picture)
            }
        };
        match found {
            Ok(found) => Ok(found),
            Err(error) => Err(self.answered_with(error).await),
        }
    }

    /// An upstream that failed a request made for a caller: one that stopped answering or
    /// refuses our credentials also moves the device on (`disconnected`, `failed`), as the
    /// same failure in the relay would.
    pub(super) async fn answered_with(&mut self, error: ConnectorError) -> DeviceError {
        if error.concerns_device() {
            let _ = self.feed(failure_input(error.clone())).await;
        }
        error.into()
    }

    pub(super) async fn shut_down(&mut self) {
        if self.state.name().is_running() {
            if let Some(upstream) = self.upstream.as_mut() {
                upstream.close().await;
            }
            self.enter(
                DeviceState::Stopped {
                    reason: Some("shutdown".into()),
                },
                true,
            )
            .await;
        }
    }
}
