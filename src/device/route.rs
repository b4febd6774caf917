//! How a caller's request reaches a device. Callers (the API, webhook receivers) hold a
//! [`DeviceHandle`](super::DeviceHandle), and the handle carries each request along its
//! [`CommandRoute`]: straight to the device's actor when it runs on this node ([`ToActor`]),
//! or, in a cluster, to the node holding the device's lease, over an internal HTTP call
//! ([`ToOwner`]), which brings the answer back. No caller knows which.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::actor::{Command, Reply};
use super::handle::Lifecycle;
use super::DeviceError;
use crate::envelope::ErrorEnvelope;
use crate::model::upstream::{Fault, Outbound, Reported};
use crate::model::DeviceId;
use crate::store::{cluster, Store};

/// What a caller may ask of a device: plain data, so a route may carry it anywhere.
#[derive(Debug)]
pub enum Request {
    Lifecycle(Lifecycle),
    /// Make a simulated upstream misbehave (see [`Fault`]).
    InjectFault(Fault),
    /// Our side starts or stops typing in a chat.
    Typing {
        chat_id: String,
        typing: bool,
    },
    /// A hint that matters only now, for the upstream (see [`Outbound::WatchPresence`]).
    Tell(Outbound),
    /// The chat id of a phone number, if it has an account.
    FindNumber(String),
    /// A verified webhook delivery: what it reports is stored before the answer.
    Webhook(Vec<Reported>),
}

/// A device's answer: done, or what was asked for.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Answer {
    Done,
    Found(Option<String>),
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
            Request::Lifecycle(Lifecycle::Start) => Command::Start,
            Request::Lifecycle(Lifecycle::Stop) => Command::Stop,
            Request::Lifecycle(Lifecycle::Restart) => Command::Restart,
            Request::Lifecycle(Lifecycle::Logout) => Command::Logout,
            Request::InjectFault(fault) => Command::InjectFault(fault),
            Request::Typing { chat_id, typing } => Command::Typing { chat_id, typing },
            Request::Tell(action) => Command::Tell(action),
            Request::Webhook(reports) => Command::Webhook(reports),
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
    InjectFault { fault: Fault },
    Typing { chat_id: String, typing: bool },
    Tell { action: Outbound },
    FindNumber { number: String },
}

impl From<Carried> for Request {
    fn from(carried: Carried) -> Self {
        match carried {
            Carried::Lifecycle { step } => Request::Lifecycle(step),
            Carried::InjectFault { fault } => Request::InjectFault(fault),
            Carried::Typing { chat_id, typing } => Request::Typing { chat_id, typing },
            Carried::Tell { action } => Request::Tell(action),
            Carried::FindNumber { number } => Request::FindNumber(number),
        }
    }
}

/// Where a node answers the requests carried to it, on its `advertise_url`.
pub const CARRIED_ROUTE: &str = "/internal/v1/devices/{id}/requests";
/// Where a node takes an upstream's webhook delivery for a device it runs, which reached
/// another node.
pub const WEBHOOK_ROUTE: &str = "/internal/v1/devices/{id}/webhooks";

/// `route` for `device`.
fn path_for(route: &str, device: &DeviceId) -> String {
    route.replace("{id}", device.as_str())
}

/// [`WEBHOOK_ROUTE`] for `device`.
pub fn webhook_path(device: &DeviceId) -> String {
    path_for(WEBHOOK_ROUTE, device)
}

/// An upstream's webhook delivery as one node hands it to the device's owner: the request as
/// it came (the owner verifies its signature again), its body in base64.
#[derive(Debug, Serialize, Deserialize)]
pub struct ForwardedWebhook {
    pub from: crate::model::spec::ConnectorKind,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ForwardedWebhook {
    pub fn new(
        from: crate::model::spec::ConnectorKind,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Self {
        use base64::Engine;
        Self {
            from,
            headers: headers
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.to_string(), value.to_str().ok()?.to_owned()))
                })
                .collect(),
            body: base64::engine::general_purpose::STANDARD.encode(body),
        }
    }

    /// The headers and body as they came.
    pub fn request(&self) -> Option<(reqwest::header::HeaderMap, Vec<u8>)> {
        use base64::Engine;
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &self.headers {
            headers.append(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).ok()?,
                reqwest::header::HeaderValue::from_str(value).ok()?,
            );
        }
        let body = base64::engine::general_purpose::STANDARD
            .decode(&self.body)
            .ok()?;
        Some((headers, body))
    }
}

/// Where a node claims a pairing code one of its devices shows, for a phone that scanned it
/// through another node.
pub const SCAN_PATH: &str = "/internal/v1/pairings";

/// How long a node waits for another's answer: a lifecycle step may wait for the upstream.
const OWNER_PATIENCE: Duration = Duration::from_secs(60);

/// How a node reaches the owner of a device: the owner's address from its lease, and the key
/// the nodes share.
#[derive(Clone)]
pub struct Owners {
    pub(super) store: Store,
    /// This node's id: a lease found on it was taken a moment ago, and its actor is starting.
    pub(super) node: String,
    /// The cluster's shared key, which the owner checks.
    pub(super) key: Arc<str>,
    pub(super) http: reqwest::Client,
}

impl Owners {
    /// Posts `body` to `path` on the node that runs `device`, and reads its answer. No live
    /// owner (it died, and its lease has not run out yet), an owner that does not answer, or
    /// this node having taken the device a moment ago, is `NotReady`: the caller may try
    /// again shortly. An error the owner answers with comes back as it is.
    pub(super) async fn call<A: serde::de::DeserializeOwned>(
        &self,
        device: &DeviceId,
        path: &str,
        body: &impl Serialize,
    ) -> Result<A, DeviceError> {
        let asked = device.clone();
        let owner = self
            .store
            .coordinate(move |conn| cluster::owner(conn, &asked))
            .await?;
        let owner = owner
            .filter(|owner| owner.node != self.node)
            .ok_or(DeviceError::NotReady)?;
        let answer = self
            .http
            .post(format!("{}{path}", owner.url))
            .bearer_auth(&*self.key)
            .json(body)
            .timeout(OWNER_PATIENCE)
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(device_id = %device, owner = %owner.node, %error, "the device's owner did not answer");
                DeviceError::NotReady
            })?;
        if answer.status().is_success() {
            return answer.json().await.map_err(|_| DeviceError::NotReady);
        }
        match answer.json::<ErrorEnvelope>().await {
            Ok(refused) => Err(DeviceError::Owner(refused.error)),
            Err(_) => Err(DeviceError::NotReady),
        }
    }
}

/// The route to a device that runs on another node of the cluster.
pub struct ToOwner {
    pub(super) device: DeviceId,
    pub(super) owners: Owners,
}

#[async_trait]
impl CommandRoute for ToOwner {
    async fn carry(&self, request: Request) -> Result<Answer, DeviceError> {
        let carried = match request {
            Request::Lifecycle(step) => Carried::Lifecycle { step },
            Request::InjectFault(fault) => Carried::InjectFault { fault },
            Request::Typing { chat_id, typing } => Carried::Typing { chat_id, typing },
            Request::Tell(action) => Carried::Tell { action },
            Request::FindNumber(number) => Carried::FindNumber { number },
            Request::Webhook(_) => return Err(DeviceError::NotReady),
        };
        self.owners
            .call(
                &self.device,
                &path_for(CARRIED_ROUTE, &self.device),
                &carried,
            )
            .await
    }
}
