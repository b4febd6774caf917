//! The device supervisor: one actor per device, restarted if it crashes.
//!
//! The manager also owns the fleet's definition: devices declared in `devices/*.toml` are synced
//! into the store at boot, and devices created over the API are stored directly.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::actor::{Actor, ActorContext, Command, CommandQueue};
use super::media::Library;
use super::relay_bell::RelayBell;
use super::route::ToActor;
use super::spec::{self, DeclaredDevices, DeviceFileError};
use super::{definition, stored, DeviceError, DeviceHandle, DeviceView};
use crate::model::{
    spec::{connector_tables, CloudApiSpec, ConnectorKind, DeviceSpec, SimulatorSpec, WahaSpec},
    upstream::media_base,
    upstream::{Download, WebhookError},
    DeviceId,
};
use crate::store::{self, DeviceRecord, DeviceSource};

struct Supervised {
    handle: DeviceHandle,
    /// The actor's own queue, for what only this node asks of it (to shut down).
    actor: ToActor,
    task: JoinHandle<()>,
}

/// Changes a PATCH may make. Connector settings apply from the next start; a connector
/// table is replaced as a whole.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "name": "Shop (front desk)", "autostart": false }))]
pub struct DevicePatch {
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
}

impl DeviceManager {
    pub fn new(context: ActorContext) -> Self {
        Self {
            context,
            devices: Arc::default(),
        }
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
        let supervised = self.devices.lock().expect("devices lock").remove(id);
        if let Some(supervised) = supervised {
            let _ = supervised.actor.command(Command::Shutdown).await;
            let _ = supervised.task.await;
        }
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
        for supervised in &all {
            let _ = supervised.actor.command(Command::Shutdown).await;
        }
        for supervised in all {
            let _ = supervised.task.await;
        }
    }

    /// Starts the supervisor of one device: it runs the actor and runs it again if it panics.
    fn supervise(&self, id: DeviceId) {
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
        let context = self.context.clone();
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
                actor,
                task,
            },
        );
    }
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
