//! How a caller's request reaches a device. Callers (the API, webhook receivers) hold a
//! [`DeviceHandle`](super::DeviceHandle), and the handle carries each request along its
//! [`CommandRoute`]: straight to the device's actor when it runs on this node ([`ToActor`]),
//! or, in a cluster, to the node holding the device's lease, over an internal HTTP call
//! (`cluster::ToOwner`), which brings the answer back. No caller knows which.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::actor::{Command, Reply};
use super::DeviceError;
use crate::model::governor::GovernorChanges;
use crate::model::group::{GroupOp, GroupOutcome};
use crate::model::pairing::{IssuedCode, LinkingPhone};
use crate::model::upstream::{Cue, Found, LookUp, Outbound, Reported};

/// What a caller may ask of a device: plain data, so a route may carry it anywhere.
#[derive(Debug)]
pub enum Request {
    Lifecycle(Lifecycle),
    /// Make the simulated world act (see [`Cue`]).
    Cue(Cue),
    /// Our side starts or stops typing in a chat.
    Typing {
        chat_id: String,
        typing: bool,
    },
    /// A hint that matters only now, for the upstream (see [`Outbound::WatchPresence`]).
    Tell(Outbound),
    /// The chat id of a phone number, if it has an account.
    FindNumber(String),
    /// A code that links the device when typed on the phone with this number.
    PairingCode(LinkingPhone),
    /// What the upstream says of a contact.
    LookUp(LookUp),
    /// A verified webhook delivery: what it reports is stored before the answer.
    Webhook(Vec<Reported>),
    /// Make, read or change a group, as this account.
    Group(GroupOp),
    /// An admin's changes to the device's send governor.
    Govern(GovernorChanges),
}

/// The lifecycle steps a caller can ask of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Lifecycle {
    Start,
    /// Stops the device, keeping its link.
    Stop,
    /// Stops the device if it runs, then starts it.
    Restart,
    /// Logs the device out and forgets its link.
    Logout,
}

/// A device's answer: done, or what was asked for.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Answer {
    Done,
    Found(Option<String>),
    PairingCode(IssuedCode),
    Group(GroupOutcome),
    LookedUp(Found),
}

/// Carries requests to a device wherever it runs, and their answers back.
#[async_trait]
pub trait CommandRoute: Send + Sync {
    async fn carry(&self, request: Request) -> Result<Answer, DeviceError>;
}

/// The route to a device's actor on this node: its command queue.
#[derive(Clone)]
pub struct ToActor {
    commands: mpsc::Sender<(Command, Reply)>,
}

impl ToActor {
    pub(super) fn new(commands: mpsc::Sender<(Command, Reply)>) -> Self {
        Self { commands }
    }

    /// Sends a command and waits for the actor's answer.
    pub(super) async fn command(&self, command: Command) -> Result<(), DeviceError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send((command, reply))
            .await
            .map_err(|_| DeviceError::Gone)?;
        answer.await.map_err(|_| DeviceError::Gone)?
    }
}

#[async_trait]
impl CommandRoute for ToActor {
    async fn carry(&self, request: Request) -> Result<Answer, DeviceError> {
        let command = match request {
            Request::FindNumber(number) => {
                let (found, answer) = oneshot::channel();
                self.command(Command::FindNumber { number, found }).await?;
                return Ok(Answer::Found(answer.await.map_err(|_| DeviceError::Gone)?));
            }
            Request::PairingCode(phone) => {
                let (issued, answer) = oneshot::channel();
                self.command(Command::PairingCode { phone, issued }).await?;
                return Ok(Answer::PairingCode(
                    answer.await.map_err(|_| DeviceError::Gone)?,
                ));
            }
            Request::Group(op) => {
                let (done, answer) = oneshot::channel();
                self.command(Command::Group {
                    op: Box::new(op),
                    done,
                })
                .await?;
                return Ok(Answer::Group(answer.await.map_err(|_| DeviceError::Gone)?));
            }
            Request::LookUp(look_up) => {
                let (found, answer) = oneshot::channel();
                self.command(Command::LookUp { look_up, found }).await?;
                return Ok(Answer::LookedUp(
                    answer.await.map_err(|_| DeviceError::Gone)?,
                ));
            }
            Request::Lifecycle(Lifecycle::Start) => Command::Start,
            Request::Lifecycle(Lifecycle::Stop) => Command::Stop,
            Request::Lifecycle(Lifecycle::Restart) => Command::Restart,
            Request::Lifecycle(Lifecycle::Logout) => Command::Logout,
            Request::Cue(cue) => Command::Cue(cue),
            Request::Typing { chat_id, typing } => Command::Typing { chat_id, typing },
            Request::Tell(action) => Command::Tell(Box::new(action)),
            Request::Webhook(reports) => Command::Webhook(reports),
            Request::Govern(changes) => Command::Govern(Box::new(changes)),
        };
        self.command(command).await.map(|()| Answer::Done)
    }
}

/// A request as it crosses from one node to another: what a caller may ask of a device on
/// another node. A webhook delivery is not carried: the upstream's receiver reads it on the
/// node it reached.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "camelCase")]
pub enum Carried {
    Lifecycle { step: Lifecycle },
    Cue { cue: Cue },
    Typing { chat_id: String, typing: bool },
    Tell { action: Outbound },
    FindNumber { number: String },
    PairingCode { phone: LinkingPhone },
    Group { op: GroupOp },
    LookUp { look_up: LookUp },
    Govern { changes: GovernorChanges },
}

impl From<Carried> for Request {
    fn from(carried: Carried) -> Self {
        match carried {
            Carried::Lifecycle { step } => Request::Lifecycle(step),
            Carried::Cue { cue } => Request::Cue(cue),
            Carried::Typing { chat_id, typing } => Request::Typing { chat_id, typing },
            Carried::Tell { action } => Request::Tell(action),
            Carried::FindNumber { number } => Request::FindNumber(number),
            Carried::PairingCode { phone } => Request::PairingCode(phone),
            Carried::Group { op } => Request::Group(op),
            Carried::LookUp { look_up } => Request::LookUp(look_up),
            Carried::Govern { changes } => Request::Govern(changes),
        }
    }
}
