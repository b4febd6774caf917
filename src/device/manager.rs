//! The device supervisor: one actor per device, restarted if it crashes.
//!
//! The manager also owns the fleet's definition: devices declared in `devices/*.toml` are synced
//! into the store at boot, and devices created over the API are stored directly.
//!
//! In a cluster the manager runs actors only for the devices whose lease this node holds
//! ([`Ownership`] tells it which, through [`DeviceManager::take`] and
//! [`DeviceManager::let_go`]); every other device has a handle that carries its requests to
//! the owner ([`ToOwner`]) and follows the owner's events for its QR code, account and
//! readiness ([`DeviceManager::follow_events`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::actor::{Actor, ActorContext, Command, CommandQueue};
use super::leased::{Claim, LeasedConnectors};
use super::media::Library;
use super::ownership::Ownership;
use super::pairings::code_of;
use super::relay_bell::RelayBell;
use super::route::{webhook_path, Answer, ForwardedWebhook, Owners, ToActor, ToOwner, SCAN_PATH};
use super::spec::{self, DeclaredDevices, DeviceFileError};
use super::CurrentQr;
use super::{definition, stored, DeviceError, DeviceHandle, DeviceView};
use crate::bus::EventBus;
use crate::model::event::{JournaledEvent, Me};
use crate::model::{
    spec::{connector_tables, CloudApiSpec, ConnectorKind, DeviceSpec, SimulatorSpec, WahaSpec},
    upstream::media_base,
    upstream::{Download, WebhookError},
    DeviceId,
};
use crate::store::{self, DeviceRecord, DeviceSource};

struct Supervised {
    handle: DeviceHandle,
    runs: Runs,
}

/// Where a device's actor runs.
enum Runs {
    Here {
        /// The actor's own queue, for what only this node asks of it (to shut down).
        actor: ToActor,
        task: JoinHandle<()>,
    },
    /// On another node of the cluster; the handle's view of it follows that node's events.
    Elsewhere {
        qr: watch::Sender<Option<CurrentQr>>,
        me: watch::Sender<Option<Me>>,
        bell: Arc<RelayBell>,
    },
}

/// A cluster node's part in the manager: its leases, and how it reaches the other nodes.
#[derive(Clone)]
struct Cluster {
    ownership: Ownership,
    owners: Owners,
}

/// Changes a PATCH may make. Connector settings apply from the next start; a connector
/// table is replaced as a whole.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "name": "Shop (front desk)", "autostart": false }))]
pub struct DevicePatch {
    #[schema(schema_with = crate::model::constraints::optional_name)]
    pub name: Option<String>,
    pub autostart: Option<bool>,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub simulator: Option<SimulatorSpec>,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub waha: Option<WahaSpec>,
    #[serde(default, deserialize_with = "crate::model::nested::optional_object")]
    pub cloud_api: Option<CloudApiSpec>,
}

impl DevicePatch {
    /// The connector tables this change replaces (see [`spec::connector_tables`]).
    pub fn connector_tables(&self) -> Vec<&'static str> {
        connector_tables(&self.waha, &self.cloud_api)
    }
}

/// A device found to take webhooks from one upstream (see
/// [`DeviceManager::webhook_receiver`]), with the definition its deliveries are checked against.
pub struct WebhookReceiver {
    id: DeviceId,
    from: ConnectorKind,
    spec: DeviceSpec,
}

#[derive(Clone)]
pub struct DeviceManager {
    context: ActorContext,
    devices: Arc<Mutex<HashMap<DeviceId, Supervised>>>,
    cluster: Option<Cluster>,
}

impl DeviceManager {
    pub fn new(context: ActorContext) -> Self {
        Self {
            context,
            devices: Arc::default(),
            cluster: None,
        }
    }

    /// A manager for one node of a cluster: it runs the devices `ownership` holds, and
    /// carries requests for the others to their owners, authenticated with `key`.
    pub fn in_cluster(context: ActorContext, ownership: Ownership, key: &str) -> Self {
        let owners = Owners {
            store: context.store.clone(),
            node: ownership.node().to_owned(),
            key: key.into(),
            http: nodes_client(),
        };
        Self {
            cluster: Some(Cluster { ownership, owners }),
            ..Self::new(context)
        }
    }

    /// This node's leases, in a cluster.
    pub fn ownership(&self) -> Option<&Ownership> {
        self.cluster.as_ref().map(|cluster| &cluster.ownership)
    }

    /// Whether `key` is the cluster's shared key, which requests carried from another node
    /// present.
    pub fn is_cluster_key(&self, key: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.cluster
            .as_ref()
            .is_some_and(|cluster| bool::from(cluster.owners.key.as_bytes().ct_eq(key.as_bytes())))
    }

    /// The device that runs on another node and shows the pairing code `qr`, if one does.
    pub fn showing(&self, qr: &str) -> Option<DeviceId> {
        let devices = self.devices.lock().expect("devices lock");
        devices
            .values()
            .find_map(|supervised| match &supervised.runs {
                Runs::Elsewhere { qr: shown, .. } => shown
                    .borrow()
                    .as_ref()
                    .filter(|shown| code_of(&shown.qr) == code_of(qr))
                    .map(|_| supervised.handle.id.clone()),
                Runs::Here { .. } => None,
            })
    }

    /// Has the node that runs `device` claim its pairing code `qr`: a phone scanned it through
    /// this node.
    pub async fn scan_on_owner(&self, device: &DeviceId, qr: &str) -> Result<(), DeviceError> {
        let cluster = self.cluster.as_ref().ok_or(DeviceError::NotFound)?;
        let _: serde_json::Value = cluster
            .owners
            .call(device, SCAN_PATH, &serde_json::json!({ "qr": qr }))
            .await?;
        Ok(())
    }

    /// The handle of a device whose actor runs on this node.
    pub fn local_handle(&self, id: &DeviceId) -> Option<DeviceHandle> {
        let devices = self.devices.lock().expect("devices lock");
        devices
            .get(id)
            .filter(|supervised| matches!(supervised.runs, Runs::Here { .. }))
            .map(|supervised| supervised.handle.clone())
    }

    /// Syncs `dir` into the store (file devices that disappeared are removed), then starts an
    /// actor for every stored device. Returns the files that could not be used. When `dir`
    /// cannot be read, the devices of files are kept as stored: a wrong working directory or
    /// a typo in `--devices-dir` must not delete them and their messages.
    pub async fn boot(&self, dir: &Path) -> Result<Vec<DeviceFileError>, DeviceError> {
        let errors = match spec::load_dir(dir) {
            Ok(declared) => self.sync_files(declared).await?,
            Err(error) => {
                tracing::warn!(
                    dir = %dir.display(),
                    %error,
                    "devices directory unreadable: the devices of its files are kept as stored"
                );
                Vec::new()
            }
        };
        let records = self.context.store.read(store::devices::list).await?;
        for record in records {
            self.supervise(record.id);
        }
        Ok(errors)
    }

    /// Stores the devices `dir` declares and removes the file devices it no longer does (a
    /// file that fails to parse keeps its device).
    async fn sync_files(
        &self,
        (declared, errors): DeclaredDevices,
    ) -> Result<Vec<DeviceFileError>, DeviceError> {
        for error in &errors {
            tracing::error!(%error, "device file skipped");
        }
        let broken: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                e.path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .map(str::to_owned)
            })
            .collect();
        self.context
            .store
            .write(move |tx| {
                for existing in store::devices::list(tx.conn())? {
                    let still_declared = declared.iter().any(|(id, _)| *id == existing.id)
                        || broken.contains(&existing.id.to_string());
                    if existing.source == DeviceSource::File && !still_declared {
                        tx.delete_device(&existing.id)?;
                    }
                }
                for (id, spec) in declared {
                    tx.upsert_device(&DeviceRecord::new(id, &spec, DeviceSource::File))?;
                }
                Ok(())
            })
            .await?;
        Ok(errors)
    }

    pub async fn create(&self, id: DeviceId, spec: DeviceSpec) -> Result<DeviceView, DeviceError> {
        spec.validate().map_err(DeviceError::Definition)?;
        let record = DeviceRecord::new(id.clone(), &spec, DeviceSource::Api);
        let created = self
            .context
            .store
            .write(move |tx| {
                if tx.device(&record.id)?.is_some() {
                    return Ok(None);
                }
                tx.upsert_device(&record)?;
                tx.device(&record.id)
            })
            .await?
            .ok_or(DeviceError::Exists)?;
        self.supervise(id);
        Ok(DeviceView::from(&created))
    }

    pub async fn update(
        &self,
        id: &DeviceId,
        patch: DevicePatch,
    ) -> Result<DeviceView, DeviceError> {
        let id = id.clone();
        let updated = self
            .context
            .store
            .write(move |tx| {
                let Some(mut record) = tx.device(&id)? else {
                    return Ok(Err(DeviceError::NotFound));
                };
                if record.source == DeviceSource::File {
                    return Ok(Err(DeviceError::DeclaredInFile(format!(
                        "devices/{id}.toml"
                    ))));
                }
                let mut spec = match definition(&record) {
                    Ok(spec) => spec,
                    Err(error) => return Ok(Err(error)),
                };
                if let Some(name) = patch.name {
                    spec.name = name;
                }
                if let Some(autostart) = patch.autostart {
                    spec.autostart = autostart;
                }
                if let Some(simulator) = patch.simulator {
                    spec.simulator = simulator;
                }
                if let Some(waha) = patch.waha {
                    spec.waha = Some(waha);
                }
                if let Some(cloud_api) = patch.cloud_api {
                    spec.cloud_api = Some(cloud_api);
                }
                if let Err(problem) = spec.validate() {
                    return Ok(Err(DeviceError::Definition(problem)));
                }
                record.name = spec.name.clone();
                record.autostart = spec.autostart;
                record.settings = serde_json::to_value(&spec)?;
                record.updated_at = Utc::now();
                tx.upsert_device(&record)?;
                Ok(tx.device(&id)?.ok_or(DeviceError::NotFound))
            })
            .await??;
        Ok(DeviceView::from(&updated))
    }

    /// Stops the device's actor and deletes the device with its journal.
    pub async fn delete(&self, id: &DeviceId) -> Result<(), DeviceError> {
        let record = stored(&self.context.store, id).await?;
        if record.source == DeviceSource::File {
            return Err(DeviceError::DeclaredInFile(format!("devices/{id}.toml")));
        }
        self.forget(id).await;
        let deleted = id.clone();
        self.context
            .store
            .write(move |tx| tx.delete_device(&deleted))
            .await?;
        self.library().uploads().forget(id).await;
        Ok(())
    }

    /// The largest upstream webhook body a receiver reads (`limits.max_upstream_body_bytes`).
    pub fn webhook_body_limit(&self) -> usize {
        self.context.settings.limits.max_upstream_body_bytes
    }

    /// The device a webhook delivery from upstream `from` is for, checked before the
    /// delivery's body is read: the device must exist and be relayed to that upstream, so
    /// that a post for any other id costs nothing.
    pub async fn webhook_receiver(
        &self,
        id: &DeviceId,
        from: ConnectorKind,
    ) -> Result<WebhookReceiver, DeviceError> {
        let spec = definition(&stored(&self.context.store, id).await?)?;
        if spec.connector != from {
            return Err(WebhookError::NotThisConnector(from.as_str()).into());
        }
        Ok(WebhookReceiver {
            id: id.clone(),
            from,
            spec,
        })
    }

    /// A webhook delivery from a device's upstream: verified against the device's secret over
    /// the raw body, read, and handed to the device, which stores what it reports before this
    /// returns. Nothing changes when the signature is wrong.
    pub async fn receive_webhook(
        &self,
        receiver: WebhookReceiver,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) -> Result<(), DeviceError> {
        let WebhookReceiver { id, from, spec } = receiver;
        let media_base = media_base(&self.context.settings.server.public_url, &id);
        let reports =
            self.context
                .connectors
                .read_webhook(&spec, from, &media_base, headers, body)?;
        if reports.is_empty() {
            return Ok(());
        }
        if let (Some(cluster), None) = (&self.cluster, self.local_handle(&id)) {
            // Verified here, read again by the node that runs the device.
            let forwarded = ForwardedWebhook::new(from, headers, body);
            let _: Answer = cluster
                .owners
                .call(&id, &webhook_path(&id), &forwarded)
                .await?;
            return Ok(());
        }
        self.handle(&id)
            .ok_or(DeviceError::NotFound)?
            .deliver(reports)
            .await
    }

    /// Opens media the device's upstream keeps behind its credentials (a Cloud API device's
    /// files, those WAHA serves itself), for `GET /api/v1/devices/{id}/media/{mediaId}`, the
    /// URL its messages carry.
    pub async fn media(&self, id: &DeviceId, media_id: &str) -> Result<Download, DeviceError> {
        self.library().open(id, media_id).await
    }

    /// The files the daemon serves for its devices.
    pub fn library(&self) -> Library {
        self.context.library()
    }

    /// Meta's check of a Cloud API device's callback URL.
    pub async fn verify_cloud_subscription(
        &self,
        id: &DeviceId,
        mode: Option<&str>,
        token: Option<&str>,
    ) -> Result<(), DeviceError> {
        let receiver = self.webhook_receiver(id, ConnectorKind::CloudApi).await?;
        Ok(self
            .context
            .connectors
            .verify_subscription(&receiver.spec, mode, token)?)
    }

    pub fn handle(&self, id: &DeviceId) -> Option<DeviceHandle> {
        self.devices
            .lock()
            .expect("devices lock")
            .get(id)
            .map(|supervised| supervised.handle.clone())
    }

    pub fn ids(&self) -> Vec<DeviceId> {
        let mut ids: Vec<_> = self
            .devices
            .lock()
            .expect("devices lock")
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// Stops every actor (each records its shutdown), waiting for all of them.
    pub async fn shutdown(&self) {
        let all: Vec<Supervised> = self
            .devices
            .lock()
            .expect("devices lock")
            .drain()
            .map(|(_, s)| s)
            .collect();
        let running: Vec<(ToActor, JoinHandle<()>)> = all
            .into_iter()
            .filter_map(|supervised| match supervised.runs {
                Runs::Here { actor, task } => Some((actor, task)),
                Runs::Elsewhere { .. } => None,
            })
            .collect();
        for (actor, _) in &running {
            let _ = actor.command(Command::Shutdown).await;
        }
        for (_, task) in running {
            let _ = task.await;
        }
    }

    /// Stops the device's actor, if it runs here, and forgets the device.
    pub async fn forget(&self, id: &DeviceId) {
        let supervised = self.devices.lock().expect("devices lock").remove(id);
        stop_actor(supervised).await;
    }

    /// Runs the device here: this node took its lease. Its handle is replaced, so callers
    /// that ask for it from now on reach the new actor.
    pub async fn take(&self, id: &DeviceId) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let Some((fence, clock)) = cluster.ownership.held(id) else {
            return;
        };
        let store = self.context.store.fenced(fence);
        let context = ActorContext {
            connectors: Arc::new(LeasedConnectors {
                inner: self.context.connectors.clone(),
                claim: Claim {
                    clock,
                    store: store.clone(),
                },
            }),
            store,
            ..self.context.clone()
        };
        // Replaced in one step: a device's definition heard meanwhile (`adopt`) cannot slip
        // a handle of its own in between.
        let replaced = self.run_here(id.clone(), context);
        stop_actor(replaced).await;
    }

    /// Stops the device's actor here, if it runs here, and follows it on its next owner: this
    /// node lost or gave up its lease.
    pub async fn let_go(&self, id: &DeviceId) {
        let running = {
            let mut devices = self.devices.lock().expect("devices lock");
            match devices.get(id).map(|supervised| &supervised.runs) {
                Some(Runs::Here { .. }) => devices.remove(id),
                _ => return,
            }
        };
        // Callers reach the device's next owner from now on, while its actor here stops.
        self.follow(id.clone());
        stop_actor(running).await;
    }

    /// Starts the supervisor of one device: on one node, it runs the actor and runs it again
    /// if it panics; in a cluster, the device is followed until this node takes its lease.
    fn supervise(&self, id: DeviceId) {
        match &self.cluster {
            // A device new to the manager: there is nothing before it to stop.
            None => drop(self.run_here(id, self.context.clone())),
            Some(cluster) => {
                self.follow(id);
                cluster.ownership.wake();
            }
        }
    }

    /// Learns of a device defined on another node of the cluster.
    pub fn adopt(&self, id: &DeviceId) {
        let known = self.devices.lock().expect("devices lock").contains_key(id);
        if !known {
            self.supervise(id.clone());
        }
    }

    /// Gives a device that runs on another node a handle that carries requests to it, and
    /// reads where it stands (QR code, account, readiness) from the store; its events keep
    /// that up to date from then on ([`Self::follow_events`]). A device whose actor runs here
    /// keeps its handle.
    fn follow(&self, id: DeviceId) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let (qr, qr_receiver) = watch::channel(None);
        let (me, me_receiver) = watch::channel(None);
        let bell = Arc::new(RelayBell::default());
        let route = ToOwner {
            device: id.clone(),
            owners: cluster.owners.clone(),
        };
        let handle = DeviceHandle::new(
            id.clone(),
            Arc::new(route),
            qr_receiver,
            me_receiver,
            bell.clone(),
        );
        let (seen_me, seen_qr, seen_bell, device) =
            (me.clone(), qr.clone(), bell.clone(), id.clone());
        {
            let mut devices = self.devices.lock().expect("devices lock");
            if let Some(Supervised {
                runs: Runs::Here { .. },
                ..
            }) = devices.get(&id)
            {
                return;
            }
            devices.insert(
                id,
                Supervised {
                    handle,
                    runs: Runs::Elsewhere { qr, me, bell },
                },
            );
        }
        let store = self.context.store.clone();
        tokio::spawn(async move {
            let read = store
                .read(move |conn| {
                    let record = store::devices::get(conn, &device)?;
                    let qr = store::journal::latest_named(conn, &device, "qr")?;
                    Ok((record, qr))
                })
                .await;
            if let Ok((Some(record), qr)) = read {
                seen_me.send_replace(record.me.clone());
                seen_bell.set_sending(record.state.as_str() == "ready");
                if record.state.as_str() == "qr" {
                    seen_qr.send_replace(qr.as_ref().and_then(current_qr));
                }
            }
        });
    }

    /// Keeps the cluster's view of its devices up to date from the bus, until it closes:
    /// another node's events ring the relay of a device that runs here (a message was queued
    /// there), and update the QR code, account and readiness of a device that runs elsewhere.
    pub async fn follow_events(self, bus: &EventBus) {
        let mut events = bus.subscribe();
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let devices = self.devices.lock().expect("devices lock");
            match devices
                .get(&event.device_id)
                .map(|supervised| &supervised.runs)
            {
                Some(Runs::Here { .. }) if event.remote => {
                    let handle = &devices[&event.device_id].handle;
                    handle.wake_relay();
                    handle.wake_for_actions();
                }
                Some(Runs::Elsewhere { qr, me, bell }) => follow_event(&event, qr, me, bell),
                _ => {}
            }
        }
    }

    /// Starts the supervisor of a device whose actor runs here; returns what the device had
    /// before, for the caller to stop.
    #[must_use]
    fn run_here(&self, id: DeviceId, context: ActorContext) -> Option<Supervised> {
        let (commands, queue) = mpsc::channel(32);
        let queue: CommandQueue = Arc::new(tokio::sync::Mutex::new(queue));
        let (qr_sender, qr_receiver) = watch::channel(None);
        let (me_sender, me_receiver) = watch::channel(None);
        let bell = Arc::new(RelayBell::default());
        let actor = ToActor::new(commands);
        let handle = DeviceHandle::new(
            id.clone(),
            Arc::new(actor.clone()),
            qr_receiver,
            me_receiver,
            bell.clone(),
        );
        let task = tokio::spawn(restart_on_panic(id.clone(), move |after_crash| {
            let (context, id, qr_sender, me_sender, queue, bell) = (
                context.clone(),
                id.clone(),
                qr_sender.clone(),
                me_sender.clone(),
                queue.clone(),
                bell.clone(),
            );
            async move {
                let boot_reason = if after_crash {
                    "actor_restart"
                } else {
                    "daemon_restart"
                };
                match Actor::load(context, id.clone(), qr_sender, me_sender, bell).await {
                    Ok(Some((actor, autostart))) => actor.run(queue, autostart, boot_reason).await,
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(device_id = %id, %error, "cannot load the device")
                    }
                }
            }
        }));
        self.devices.lock().expect("devices lock").insert(
            handle.id.clone(),
            Supervised {
                handle,
                runs: Runs::Here { actor, task },
            },
        )
    }
}

/// The HTTP client a node calls the others with: straight to them, never through a proxy the
/// environment names, and giving up on a node that does not take the connection in a moment.
fn nodes_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

/// Stops the actor of `supervised`, if it runs here, and waits until it has.
async fn stop_actor(supervised: Option<Supervised>) {
    if let Some(Supervised {
        runs: Runs::Here { actor, task },
        ..
    }) = supervised
    {
        let _ = actor.command(Command::Shutdown).await;
        let _ = task.await;
    }
}

/// What one event of a device running elsewhere changes in its handle's view.
fn follow_event(
    event: &JournaledEvent,
    qr: &watch::Sender<Option<CurrentQr>>,
    me: &watch::Sender<Option<Me>>,
    bell: &RelayBell,
) {
    match event.name.as_str() {
        "qr" => {
            qr.send_replace(current_qr(event));
        }
        "ready" => {
            let fields = event.fields();
            if let (Some(id), Some(name)) =
                (fields["me"]["id"].as_str(), fields["me"]["name"].as_str())
            {
                me.send_replace(Some(Me {
                    id: id.to_owned(),
                    name: name.to_owned(),
                }));
            }
        }
        "state" => {
            let fields = event.fields();
            let state = fields["state"].as_str().unwrap_or_default();
            bell.set_sending(state == "ready");
            if state != "qr" {
                qr.send_replace(None);
            }
            if state == "logged_out" {
                me.send_replace(None);
            }
        }
        _ => {}
    }
}

/// The QR code a `qr` event shows.
fn current_qr(event: &JournaledEvent) -> Option<CurrentQr> {
    let fields = event.fields();
    Some(CurrentQr {
        qr: fields["qr"].as_str()?.to_owned(),
        image: fields["image"].as_str()?.to_owned(),
        expires_at: fields["expiresAt"].as_str()?.parse().ok()?,
        attempt: fields["attempt"].as_u64()? as u32,
        max_attempts: fields["maxAttempts"].as_u64()? as u32,
    })
}

/// Runs the task that `attempt` makes until it ends without panicking. After a panic it makes
/// the task again, telling it so; the actor's command queue sits behind a mutex whose guard is
/// released by the unwinding, so the new actor picks up where the old one stopped.
async fn restart_on_panic<F, Fut>(id: DeviceId, mut attempt: F)
where
    F: FnMut(bool) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut after_crash = false;
    loop {
        match tokio::spawn(attempt(after_crash)).await {
            Err(crash) if crash.is_panic() => {
                tracing::error!(device_id = %id, "device actor crashed; restarting it");
                after_crash = true;
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_panicking_task_is_restarted_and_gets_the_queue_back() {
        let queue = Arc::new(tokio::sync::Mutex::new(0u32));
        let runs = Arc::new(AtomicU32::new(0));
        let (seen_queue, seen_runs) = (queue.clone(), runs.clone());
        restart_on_panic(DeviceId::parse("crashy").unwrap(), move |after_crash| {
            let (queue, runs) = (seen_queue.clone(), seen_runs.clone());
            async move {
                let mut held = queue.lock_owned().await;
                *held += 1;
                let run = runs.fetch_add(1, Ordering::SeqCst);
                assert_eq!(after_crash, run > 0);
                if run < 2 {
                    panic!("simulated crash while holding the queue");
                }
            }
        })
        .await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "two crashes, then a clean end"
        );
        assert_eq!(*queue.lock().await, 3, "each run got the queue back");
    }
}
