//! Connectors: the upstream side of a device.
//!
//! A connector maps one upstream's vocabulary (the simulated phone, a WAHA server, the
//! WhatsApp Business Cloud API) onto devicebridge's and nothing else. The device actor calls
//! it and turns its answers into state machine inputs; things the upstream does on its own (a
//! scan, a dropped connection, a webhook saying its session changed) arrive on the
//! [`UpstreamEvent`] channel the connector was built with, or, for webhooks, through
//! [`Connectors::read_webhook`] and the device's command queue. The device layer reaches them
//! only through the [`Connectors`] trait, which [`Builtin`] implements.

pub mod cloud_api;
pub mod delivery;
mod http;
pub mod simulator;
pub mod waha;

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::FromRef;
use reqwest::header::HeaderMap;
use tokio::sync::mpsc;
use utoipa_axum::router::OpenApiRouter;

use self::cloud_api::CloudApi;
use self::http::Http;
use self::simulator::{Simulator, SimulatorContext};
use self::waha::Waha;
use crate::config::Settings;
use crate::device::media::{Downloads, Library};
use crate::device::pairings::Pairings;
use crate::device::upstream::{Connectors, Upstream, UpstreamEvent};
use crate::device::{DeviceError, DeviceManager};
use crate::metrics::Metrics;
use crate::model::{
    spec::{ConnectorKind, DeviceSpec},
    upstream::{media_base, Accepted, ConnectorError, Download, Outgoing, Reported, WebhookError},
    DeviceId,
};
use crate::store::Store;

/// Every connector's webhook routes, for `app` to mount; they need the device manager from the
/// state they are mounted in.
pub fn webhook_routes<S>() -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    DeviceManager: FromRef<S>,
{
    OpenApiRouter::new()
        .merge(waha::receiver::routes())
        .merge(cloud_api::receiver::routes())
}

/// Sends one message; connectors that talk to an upstream one request per message implement
/// this and get [`send_in_order`].
#[async_trait]
trait SendOne: Sync {
    async fn send_one(&self, outgoing: &Outgoing) -> Result<Accepted, ConnectorError>;
}

/// Sends a batch one message at a time. A rejection fails only its own message, so sending
/// goes on; any other failure stops the batch, because later messages of the same chat must
/// not overtake one that will be retried.
async fn send_in_order(
    sender: &impl SendOne,
    batch: &[Outgoing],
) -> Vec<Result<Accepted, ConnectorError>> {
    let mut results = Vec::with_capacity(batch.len());
    for outgoing in batch {
        let result = sender.send_one(outgoing).await;
        let stop = matches!(&result, Err(error) if !matches!(error, ConnectorError::Rejected(_)));
        results.push(result);
        if stop {
            break;
        }
    }
    results
}

/// The built-in connectors: the simulator, WAHA and the Cloud API, as the device layer asks for
/// them (see [`Connectors`]).
pub struct Builtin {
    settings: Arc<Settings>,
    store: Store,
    pairings: Pairings,
    /// Where each connector's upstream requests are measured.
    metrics: Arc<Metrics>,
}

impl Builtin {
    pub fn new(
        settings: Arc<Settings>,
        store: Store,
        pairings: Pairings,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            settings,
            store,
            pairings,
            metrics,
        }
    }
}

#[async_trait]
impl Connectors for Builtin {
    fn upstream(
        &self,
        id: &DeviceId,
        spec: DeviceSpec,
        events: mpsc::Sender<UpstreamEvent>,
        library: Library,
    ) -> Result<Box<dyn Upstream>, DeviceError> {
        let timeouts = self.settings.upstream.timeouts();
        let public_url = &self.settings.server.public_url;
        Ok(match (spec.connector, spec.waha, spec.cloud_api) {
            (ConnectorKind::Waha, Some(waha), _) => {
                let http = Http::new(timeouts, self.metrics.waha_requests.clone())?;
                Box::new(Waha::new(
                    id,
                    waha,
                    spec.filters,
                    public_url,
                    http,
                    library,
                )?)
            }
            (ConnectorKind::CloudApi, _, Some(cloud)) => {
                let media = media_base(public_url, id);
                let http = Http::new(timeouts, self.metrics.cloud_api_requests.clone())?;
                Box::new(CloudApi::new(cloud, spec.name, media, http, library))
            }
            (ConnectorKind::Waha | ConnectorKind::CloudApi, ..) => {
                return Err(DeviceError::Definition(format!(
                    "the `{}` table is missing",
                    spec.connector.as_str()
                )))
            }
            (ConnectorKind::Simulator, ..) => Box::new(Simulator::new(SimulatorContext {
                device: id.clone(),
                device_name: spec.name,
                spec: spec.simulator,
                public_url: public_url.clone(),
                pairings: self.pairings.clone(),
                events,
                store: self.store.clone(),
            })),
        })
    }

    fn read_webhook(
        &self,
        spec: &DeviceSpec,
        from: ConnectorKind,
        media_base: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Vec<Reported>, WebhookError> {
        match (from, spec.connector, &spec.waha, &spec.cloud_api) {
            (ConnectorKind::Waha, ConnectorKind::Waha, Some(waha), _) => {
                waha::read_webhook(waha, media_base, headers, body)
            }
            (ConnectorKind::CloudApi, ConnectorKind::CloudApi, _, Some(cloud)) => {
                cloud_api::read_webhook(cloud, media_base, headers, body)
            }
            (from, ..) => Err(WebhookError::NotThisConnector(from.as_str())),
        }
    }

    fn verify_subscription(
        &self,
        spec: &DeviceSpec,
        mode: Option<&str>,
        token: Option<&str>,
    ) -> Result<(), WebhookError> {
        let cloud = spec
            .cloud_api
            .as_ref()
            .ok_or(WebhookError::NotThisConnector("cloud_api"))?;
        cloud_api::verify_subscription(cloud, mode, token)
    }
}

#[async_trait]
impl Downloads for Builtin {
    async fn download(
        &self,
        spec: &DeviceSpec,
        media_id: &str,
    ) -> Result<Option<Download>, ConnectorError> {
        let timeouts = self.settings.upstream.timeouts();
        Ok(Some(match (spec.connector, &spec.cloud_api, &spec.waha) {
            (ConnectorKind::CloudApi, Some(cloud), _) => {
                let http = Http::for_downloads(timeouts, self.metrics.cloud_api_requests.clone())?;
                cloud_api::media::download(cloud, &http, media_id).await?
            }
            (ConnectorKind::Waha, _, Some(waha)) => {
                let http = Http::for_downloads(timeouts, self.metrics.waha_requests.clone())?;
                waha::media::download(waha, &http, media_id).await?
            }
            _ => return Ok(None),
        }))
    }
}
