//! How a node reaches the device that runs on another: the owner's address from its lease,
//! the internal routes the nodes answer on, and the requests and webhook deliveries they carry.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::device::route::{Answer, Carried, CommandRoute, Request};
use crate::device::DeviceError;
use crate::envelope::ErrorEnvelope;
use crate::model::spec::ConnectorKind;
use crate::model::DeviceId;
use crate::store::{cluster, Store};

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
    pub from: ConnectorKind,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ForwardedWebhook {
    pub fn new(from: ConnectorKind, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Self {
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
    store: Store,
    /// This node's id: a lease found on it was taken a moment ago, and its actor is starting.
    node: String,
    /// The cluster's shared key, which the owner checks.
    key: Arc<str>,
    http: reqwest::Client,
}

impl Owners {
    /// How node `node` reaches the owners of its devices, presenting the cluster's `key`.
    pub(super) fn new(store: Store, node: &str, key: &str) -> Self {
        Self {
            store,
            node: node.to_owned(),
            key: key.into(),
            http: nodes_client(),
        }
    }

    /// Whether `key` is the cluster's shared key, which requests carried from another node
    /// present.
    pub(super) fn is_key(&self, key: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.key.as_bytes().ct_eq(key.as_bytes()))
    }

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
            Request::Cue(cue) => Carried::Cue { cue },
            Request::Typing { chat_id, typing } => Carried::Typing { chat_id, typing },
            Request::Tell(action) => Carried::Tell { action },
            Request::FindNumber(number) => Carried::FindNumber { number },
            Request::PairingCode(phone) => Carried::PairingCode { phone },
            Request::Group(op) => Carried::Group { op },
            Request::LookUp(look_up) => Carried::LookUp { look_up },
            Request::Govern(changes) => Carried::Govern { changes },
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

/// The HTTP client a node calls the others with: straight to them, never through a proxy the
/// environment names, and giving up on a node that does not take the connection in a moment.
fn nodes_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}
