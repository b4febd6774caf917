//! Socket.IO: one namespace per device (`/device/<id>`) plus the root namespace for the fleet.
//!
//! Namespaces are registered when a device appears and deleted when it goes, so connecting to
//! an unknown device fails with no namespace created on the way. The handshake is authenticated
//! in a connect middleware, before the socket joins anything.
//!
//! Delivery is done by one *fanout* task per device. It receives the device's committed events
//! in `seq` order and emits them to the attached sockets, the events already waiting in one
//! pass over the sockets (so each connection writes them together); attaching a socket (with its
//! `lastSeq`) is a message to the same task, so the replay of missed events and the live stream
//! meet without a gap or a duplicate. A socket whose outgoing queue is full is disconnected
//! rather than silently skipped: it resumes with `lastSeq` and loses nothing.
//!
//! The hub here owns the namespaces and routes the bus; its parts live beside it:
//! `handshake` admits a socket, `greeting` tells it who it is, `fleet` is the root namespace,
//! `fanout` delivers a device's events, `rooms` keeps the chats a socket joined, `replay`
//! brings a resuming socket up to date, `session` is a client connection and `outbound` what
//! waits to be written to it; an acknowledgement is shaped in `api::reply`.

mod callers;
mod catch_up;
mod client_events;
mod expiry;
mod fanout;
mod fanouts;
mod fleet;
mod greeting;
mod handshake;
mod outbound;
mod paths;
mod protocol;
mod replay;
mod rooms;
mod session;
#[cfg(test)]
pub(crate) mod typescript;
mod visibility;

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;
use tokio::sync::{broadcast, watch};

use super::auth::{Authenticator, Caller};
use super::profile::Place;
use crate::bus::EventBus;
use crate::device::DeviceManager;
use crate::model::event::{EventKind, JournaledEvent};
use crate::model::DeviceId;
use crate::store::Store;
use crate::tasks::Tasks;
use callers::SharedCallers;
use expiry::Expiries;
use fanout::Fanout;
use fanouts::Fanouts;
use handshake::{LastSeq, Refusal};
use session::Refused;

use client_events::DeviceEvents;
pub use client_events::{Context as ClientContext, PacketLimits};
pub use fleet::Stats;
pub use paths::{route_profile_paths, ProfilePaths};
pub use session::{attach_session, QueueBudget, Sessions};

/// How long a handler waits for a device's namespace to follow its commit: the hub opens it
/// as soon as the bus tells of the device, within the same moment unless the host is stalled.
const NAMESPACE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Clone)]
pub struct SocketHub {
    inner: Arc<Inner>,
}

struct Inner {
    io: SocketIo,
    store: Store,
    auth: Authenticator,
    devices: DeviceManager,
    clients: ClientContext,
    /// The devices whose namespace is open, and the fanouts of those a socket watches.
    fanouts: Arc<Fanouts>,
    expiries: Expiries,
    /// The credentials sockets connected with, one copy of each.
    callers: SharedCallers,
    /// The hub's tasks (routing the bus, expiring credentials), stopped with it.
    tasks: Tasks,
    /// The devices whose namespace is open, watched by those waiting for one to open or
    /// close.
    namespaces: watch::Sender<HashSet<DeviceId>>,
}

impl SocketHub {
    /// Registers the root namespace and starts routing the bus to device fanouts.
    pub fn new(
        io: SocketIo,
        store: Store,
        auth: Authenticator,
        devices: DeviceManager,
        clients: ClientContext,
        bus: &EventBus,
    ) -> Self {
        let tasks = Tasks::default();
        let hub = SocketHub {
            inner: Arc::new(Inner {
                expiries: Expiries::start(io.clone(), &tasks),
                io,
                fanouts: Fanouts::new(store.clone(), bus.metrics().socket_fanout.clone()),
                store,
                auth,
                devices,
                clients,
                callers: SharedCallers::default(),
                tasks,
                namespaces: watch::Sender::new(HashSet::new()),
            }),
        };
        hub.register_root();
        let tasks = &hub.inner.tasks;
        tasks.spawn(hub.clone().route(bus.subscribe()));
        tasks.spawn(
            hub.clone()
                .announce_definitions(bus.subscribe_device_changes()),
        );
        tasks.spawn(hub.clone().close_revoked(bus.subscribe_key_revocations()));
        hub
    }

    /// Disconnects the sockets of each API key revoked, as the bus tells of it: a revocation
    /// made through another node of a cluster closes this node's connections too.
    async fn close_revoked(self, mut revocations: tokio::sync::broadcast::Receiver<Arc<[String]>>) {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match revocations.recv().await {
                Ok(keys) => self.disconnect_keys(&keys),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "revocations came faster than they were applied; reading the keys from the store"
                    );
                    self.catch_up_revocations().await;
                }
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Opens the namespaces of the devices stored when the daemon starts; from then on they
    /// open and close as the bus tells of devices defined and removed.
    pub fn open_stored(&self, ids: &[DeviceId]) {
        for id in ids {
            self.add_device(id);
        }
    }

    /// Opens `/device/<id>`; its fanout starts when a socket attaches.
    fn add_device(&self, id: &DeviceId) {
        if !self.inner.fanouts.open(id) {
            return;
        }
        let hub = self.clone();
        let device = id.clone();
        let on_connect = move |socket: SocketRef| async move {
            let last_seq = socket.extensions.remove::<LastSeq>().and_then(|seq| seq.0);
            let (detach_hub, detach_device) = (hub.clone(), device.clone());
            socket.on_disconnect(move |socket: SocketRef| async move {
                detach_hub.inner.expiries.forget(&socket);
                let fanouts = &detach_hub.inner.fanouts;
                fanouts.tell(&detach_device, Fanout::Detach(socket.id));
            });
            // Greeted here, before the fanout has the socket: what it sends (replay,
            // snapshot, `sync`, live events) is queued after the greeting.
            if greeting::greet(&socket, &device) {
                hub.inner.fanouts.attach(&device, socket, last_seq);
            }
        };
        let hub = self.clone();
        let device = id.clone();
        let handling = Arc::new(DeviceEvents {
            context: self.inner.clients.clone(),
            device: id.clone(),
        });
        let middleware = move |socket: SocketRef, TryData(data): TryData<Value>| async move {
            hub.handshake(&socket, data.as_ref().ok(), Some(&device))
                .await?;
            // A profile may speak of the device's account (`$me`); native sockets never do,
            // and do not carry the handle.
            if protocol::profile_of(&socket).is_some() {
                if let Some(handle) = hub.inner.devices.handle(&device) {
                    socket.extensions.insert(handle);
                }
            }
            client_events::register(&socket, &handling);
            Ok::<(), Refusal>(())
        };
        self.inner
            .io
            .ns(id.namespace(), on_connect.with(middleware));
        self.inner.namespaces.send_modify(|opened| {
            opened.insert(id.clone());
        });
    }

    /// Disconnects the sockets of `/device/<id>`, closes the namespace and stops its fanout.
    ///
    /// Each socket is told (a disconnect packet) before the namespace goes: closing the
    /// namespace alone drops its sockets without a word, and a dashboard would stay
    /// "connected" to a device that no longer exists, its events unanswered.
    fn remove_device(&self, id: &DeviceId) {
        self.inner.fanouts.close(id);
        if let Some(namespace) = self.inner.io.of(id.namespace()) {
            for socket in namespace.sockets() {
                session::disconnect(socket, "device_removed");
            }
        }
        self.inner.io.delete_ns(id.namespace());
        self.inner.namespaces.send_modify(|opened| {
            opened.remove(id);
        });
    }

    /// Disconnects every socket that connected with one of the API keys `keys` (see
    /// [`crate::api::auth::Grant::key`]), or with a token issued from one: they were revoked.
    fn disconnect_keys(&self, keys: &[String]) {
        for namespace in self.namespaces() {
            let Some(operators) = self.inner.io.of(namespace) else {
                continue;
            };
            for socket in operators.sockets() {
                let revoked = socket
                    .extensions
                    .get::<Arc<Caller>>()
                    .is_some_and(|caller| {
                        caller.grants.iter().any(|grant| keys.contains(&grant.key))
                    });
                if revoked {
                    session::disconnect(socket, "key_revoked");
                }
            }
        }
    }

    /// The root namespace and every device's.
    fn namespaces(&self) -> Vec<String> {
        let devices = self.inner.fanouts.devices();
        let namespaces = devices.iter().map(DeviceId::namespace);
        std::iter::once("/".to_owned()).chain(namespaces).collect()
    }

    /// Sockets connected now, over every namespace: a client on the root and on two devices
    /// counts three.
    pub fn connections(&self) -> usize {
        self.namespaces()
            .into_iter()
            .filter_map(|namespace| self.inner.io.of(namespace))
            .map(|namespace| namespace.sockets().len())
            .sum()
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.inner.io.close().await;
    }

    /// Stops the hub's tasks once its connections are closed ([`Self::close`]), waiting for
    /// them within [`crate::tasks::STOP_PATIENCE`].
    pub async fn stop(&self) {
        tokio::join!(
            self.inner.fanouts.stop(),
            self.inner.tasks.stop("socket hub")
        );
    }

    /// How many devices a socket watches: those with a fanout running.
    pub fn watched_devices(&self) -> usize {
        self.inner.fanouts.running()
    }

    /// Waits until `/device/<id>` is open (`open`) or closed, as the bus's device changes
    /// make it, for at most `NAMESPACE_PATIENCE`; returns whether it is. A handler that
    /// created a device answers once a client can connect to it.
    pub async fn namespace_settled(&self, id: &DeviceId, open: bool) -> bool {
        let mut changes = self.inner.namespaces.subscribe();
        let settled = |opened: &HashSet<DeviceId>| opened.contains(id) == open;
        tokio::time::timeout(NAMESPACE_PATIENCE, changes.wait_for(settled))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    /// Routes every committed event to its device's fanout, and changes of a device's state
    /// or health to the root.
    async fn route(self, mut events: broadcast::Receiver<Arc<JournaledEvent>>) {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if matches!(event.kind, EventKind::State | EventKind::DeviceHealth) {
                        self.announce(&event).await;
                    }
                    self.inner.fanouts.route(event);
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "socket delivery fell behind the bus; resyncing from the journal"
                    );
                    self.inner.fanouts.resync_all();
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// Queues the native event `event` for `socket`, in the protocol the socket speaks; a socket
/// that cannot take it is cut off. Returns whether it was queued.
fn tell(socket: &SocketRef, event: &str, payload: &impl Serialize) -> bool {
    let Ok(payload) = serde_json::value::to_raw_value(payload) else {
        return false;
    };
    let said = protocol::SocketProtocol::of(socket)
        .outgoing(event, &payload, Place::Room)
        .emit(socket);
    queued(socket, said)
}

/// Queues an event already in the client's own terms (a profile's reply event).
fn tell_as_is(socket: &SocketRef, event: &str, payload: &impl Serialize) -> bool {
    let Ok(payload) = serde_json::value::to_raw_value(payload) else {
        return false;
    };
    queued(socket, session::emit(socket, event, &payload))
}

/// Whether an emit was queued; a socket whose queue is full is cut off.
fn queued(socket: &SocketRef, emitted: Result<(), Refused>) -> bool {
    match emitted {
        Ok(()) => true,
        Err(Refused::Full) => {
            session::cut_off(socket);
            false
        }
        Err(Refused::Gone) => false,
    }
}
