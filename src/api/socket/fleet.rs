//! The root namespace: the fleet as a dashboard sees it. A root socket is greeted with every
//! device its credential sees, told of each device's changes (`device:update`,
//! `device:removed`) and answers `devices:list` and `stats`. Separate from a device's
//! namespace, whose events are journaled and replayed: these are announcements of the
//! present, with nothing to resume.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use tokio::sync::broadcast;

use super::client_events::{self, NoFields, Packet};
use super::handshake::Refusal;
use super::{tell, SocketHub};
use crate::api::auth::{Caller, Scope};
use crate::api::error::ApiError;
use crate::bus::DeviceChange;
use crate::device::DeviceView;
use crate::model::{
    event::{HealthStatus, JournaledEvent},
    rfc3339, DeviceId,
};
use crate::store;

/// Fleet counters over the devices a credential sees (`stats`, `GET /api/v1/stats`).
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub devices: usize,
    /// Devices that are running (not stopped, logged out or failed).
    pub active_devices: usize,
    /// Messages stored for them.
    pub messages: u64,
    /// Socket.IO connections to their namespaces, and to the root namespace by credentials
    /// that see none but them (a dashboard's own connection is counted).
    pub connections: usize,
}

impl SocketHub {
    /// `{ devices, activeDevices, messages, connections }` over the devices `caller` sees:
    /// their stored messages, and the connections to their namespaces and to the root. A root
    /// connection is a dashboard watching the fleet its credential sees: it counts for a
    /// caller who sees that whole fleet (one that sees every device counts them all, as
    /// `/metrics` does), and is none of the business of a caller limited to fewer devices.
    pub async fn stats(&self, caller: &Caller) -> Result<Stats, ApiError> {
        let (records, messages) = self
            .inner
            .store
            .read(|conn| Ok((store::devices::list(conn)?, store::messages::counts(conn)?)))
            .await?;
        let visible: Vec<_> = records.iter().filter(|r| caller.sees(&r.id)).collect();
        let active = visible.iter().filter(|r| r.state.is_running()).count();
        let stored: u64 = visible
            .iter()
            .filter_map(|r| messages.get(r.id.as_str()))
            .sum();
        let on_devices: usize = visible
            .iter()
            .filter_map(|r| self.inner.io.of(r.id.namespace()))
            .map(|ns| ns.sockets().len())
            .sum();
        let on_root = self.inner.io.of("/").map_or(0, |root| {
            root.sockets()
                .iter()
                .filter(|socket| {
                    socket
                        .extensions
                        .get::<Arc<Caller>>()
                        .is_some_and(|theirs| caller.sees_all_that(&theirs))
                })
                .count()
        });
        Ok(Stats {
            devices: visible.len(),
            active_devices: active,
            messages: stored,
            connections: on_devices + on_root,
        })
    }

    /// `device:update` when a device is created or its definition edited, `device:removed`
    /// when it is removed: the device layer's changes, heard on the bus after they commit.
    /// A device is announced only once its namespace is open here, and its namespace closed
    /// before its removal is, so a dashboard that connects to a device it was told of is not
    /// refused, whichever node of a cluster created it.
    pub(super) async fn announce_definitions(
        self,
        mut changes: broadcast::Receiver<Arc<[DeviceChange]>>,
    ) {
        loop {
            match changes.recv().await {
                Ok(committed) => self.apply_device_changes(&committed).await,
                // Hundreds of commits changing definitions while this task could not run
                // (each commit's changes are one message, see `bus`).
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "device changes came faster than they were announced; reading the devices from the store"
                    );
                    self.catch_up_devices().await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// Opens and announces each device defined, closes and announces each removed.
    pub(super) async fn apply_device_changes(&self, changes: &[DeviceChange]) {
        for change in changes {
            match change {
                DeviceChange::Defined(id) => {
                    self.add_device(id);
                    self.announce_device(id, None).await
                }
                DeviceChange::Removed(id) => {
                    self.remove_device(id);
                    self.device_removed(id)
                }
            }
        }
    }

    /// `device:update` to every root socket whose credential sees the device, after a change
    /// of its state or its health.
    pub(super) async fn announce(&self, event: &JournaledEvent) {
        let at = Some((event.seq, event.at.clone()));
        self.announce_device(&event.device_id, at).await;
    }

    /// `device:update` with the device as it is now, after it was created or changed.
    /// `device:update` for the event `(seq, at)`, or, for a change of the device's definition
    /// (which journals nothing), for where its journal stands now: the same read gives the
    /// device and that `seq`, so a dashboard that keeps the update with the highest `seq`
    /// keeps the latest device.
    async fn announce_device(&self, id: &DeviceId, event: Option<(u64, String)>) {
        // Nobody to tell, nothing to read: thousands of devices linking at once change state
        // faster than the hub could read each of them.
        if self.root_sockets_seeing(id).is_empty() {
            return;
        }
        let lookup = id.clone();
        let Ok(Some((record, (seq, at)))) = self
            .inner
            .store
            .read(move |conn| {
                let event = match event.clone() {
                    Some(event) => event,
                    None => (
                        store::journal::head(conn, &lookup)?,
                        rfc3339(chrono::Utc::now()),
                    ),
                };
                Ok(store::devices::get(conn, &lookup)?.map(|record| (record, event)))
            })
            .await
        else {
            return;
        };
        self.tell_root(id, "device:update", &self.device_update(&record, seq, &at));
    }

    /// `device:update` for every device `socket`'s credential sees, as it connects to the
    /// root: a fleet dashboard draws at once, as a device's dashboard gets its `state`. Each
    /// `seq` is where the device's journal stands, so a later update supersedes it.
    async fn greet_root(&self, socket: &SocketRef) {
        let Ok(caller) = client_events::caller_of(socket) else {
            return;
        };
        let Ok(devices) = self.visible_devices(caller).await else {
            return;
        };
        let at = rfc3339(chrono::Utc::now());
        for (seq, record) in devices {
            if !tell(
                socket,
                "device:update",
                &self.device_update(&record, seq, &at),
            ) {
                return;
            }
        }
    }

    /// `device:removed { deviceId, at }` to the root sockets that saw the device: it was
    /// deleted, with its journal (so there is no `seq` to give).
    fn device_removed(&self, id: &DeviceId) {
        let payload = DeviceRemoved {
            device_id: id,
            at: rfc3339(chrono::Utc::now()),
        };
        self.tell_root(id, "device:removed", &payload);
    }

    /// Emits `event` to every root socket whose credential sees device `id`.
    fn tell_root(&self, id: &DeviceId, event: &str, payload: &impl Serialize) {
        for socket in self.root_sockets_seeing(id) {
            tell(&socket, event, payload);
        }
    }

    /// The root sockets whose credential sees device `id`.
    fn root_sockets_seeing(&self, id: &DeviceId) -> Vec<SocketRef> {
        let Some(root) = self.inner.io.of("/") else {
            return Vec::new();
        };
        let mut sockets = root.sockets();
        sockets.retain(|socket| {
            let caller = socket.extensions.get::<Arc<Caller>>();
            caller.is_some_and(|caller| caller.sees(id))
        });
        sockets
    }

    pub(super) fn register_root(&self) {
        let hub = self.clone();
        let on_connect = move |socket: SocketRef| async move {
            let forget_hub = hub.clone();
            socket.on_disconnect(move |socket: SocketRef| async move {
                forget_hub.inner.expiries.forget(&socket);
            });
            hub.greet_root(&socket).await;
        };
        let hub = self.clone();
        let middleware = move |socket: SocketRef, TryData(data): TryData<Value>| async move {
            hub.handshake(&socket, data.as_ref().ok(), None).await?;
            let events_hub = hub.clone();
            socket.on_fallback(
                move |socket: SocketRef, Event(event): Event, packet: Packet, ack: AckSender| {
                    let hub = events_hub.clone();
                    async move {
                        let reply = hub.root_event(&socket, &event, packet).await;
                        client_events::answer_with(&socket, ack, reply);
                    }
                },
            );
            Ok::<(), Refusal>(())
        };
        self.inner.io.ns("/", on_connect.with(middleware));
    }

    /// Runs one event of the root namespace, through the same gate as a device's events.
    async fn root_event(
        &self,
        socket: &SocketRef,
        event: &str,
        packet: Packet,
    ) -> Result<Value, ApiError> {
        let payload = client_events::admit(socket, &self.inner.clients, packet, None, Scope::Read)?;
        let caller = client_events::caller_of(socket)?;
        match event {
            "devices:list" => {
                client_events::parse::<NoFields>(event, payload)?;
                self.devices_list(&caller).await
            }
            "stats" => {
                client_events::parse::<NoFields>(event, payload)?;
                Ok(json!(self.stats(&caller).await?))
            }
            unknown => Err(client_events::unknown_event(unknown)),
        }
    }

    async fn devices_list(&self, caller: &Arc<Caller>) -> Result<Value, ApiError> {
        let devices = self.visible_devices(caller.clone()).await?;
        let items: Vec<DeviceView> = devices
            .iter()
            .map(|(_, record)| self.view_of(record))
            .collect();
        Ok(json!({ "items": items }))
    }

    /// A device as the fleet shows it: its record, with its health as its handle knows it
    /// (the record does not keep it).
    fn view_of(&self, record: &store::DeviceRecord) -> DeviceView {
        let health = self
            .inner
            .devices
            .handle(&record.id)
            .map_or(HealthStatus::Healthy, |handle| handle.health());
        DeviceView {
            health,
            ..DeviceView::from(record)
        }
    }

    /// `device:update`'s payload: the device as `record` has it, at journal position `seq`.
    fn device_update<'a>(
        &self,
        record: &'a store::DeviceRecord,
        seq: u64,
        at: &'a str,
    ) -> DeviceUpdate<'a> {
        DeviceUpdate {
            device: self.view_of(record),
            device_id: &record.id,
            seq,
            at,
        }
    }

    /// The devices `caller` sees, of those the daemon has, each with where its journal stands.
    async fn visible_devices(
        &self,
        caller: Arc<Caller>,
    ) -> store::StoreResult<Vec<(u64, store::DeviceRecord)>> {
        let known = self.inner.devices.ids();
        self.inner
            .store
            .read(move |conn| {
                store::devices::list(conn)?
                    .into_iter()
                    .filter(|record| caller.sees(&record.id) && known.contains(&record.id))
                    .map(|record| Ok((store::journal::head(conn, &record.id)?, record)))
                    .collect()
            })
            .await
    }
}

/// `device:update`: a device as it is now, at a position of its journal.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub(super) struct DeviceUpdate<'a> {
    device: DeviceView,
    #[cfg_attr(test, ts(type = "string"))]
    device_id: &'a DeviceId,
    /// Where the device's journal stood: of two updates of a device, keep the higher.
    seq: u64,
    at: &'a str,
}

/// `device:removed`: the device was deleted, with its journal (so there is no `seq`).
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub(super) struct DeviceRemoved<'a> {
    #[cfg_attr(test, ts(type = "string"))]
    device_id: &'a DeviceId,
    at: String,
}
