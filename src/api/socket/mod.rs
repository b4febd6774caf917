//! Socket.IO: one namespace per device (`/device/<id>`) plus the root namespace for the fleet.
//!
//! Namespaces are registered when a device appears and deleted when it goes, so connecting to
//! an unknown device fails with no namespace created on the way. The handshake is authenticated
//! in a connect middleware, before the socket joins anything.
//!
//! Delivery is done by one *fanout* task per device. It receives the device's committed events
//! in `seq` order and emits each to the attached sockets; attaching a socket (with its
//! `lastSeq`) is a message to the same task, so the replay of missed events and the live stream
//! meet without a gap or a duplicate. A socket whose outgoing queue is full is disconnected
//! rather than silently skipped: it resumes with `lastSeq` and loses nothing.

mod client_events;
mod expiry;
mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::Sid;
use socketioxide::SocketIo;
use tokio::sync::{broadcast, mpsc};

use super::auth::{header_credentials, Authenticator, Caller, Scope};
use super::error::ApiError;
use crate::bus::{DeviceChange, EventBus};
use crate::device::{DeviceManager, DeviceView};
use crate::model::{event::JournaledEvent, rfc3339, DeviceId};
use crate::store::{self, Store};
use client_events::Packet;
use expiry::Expiries;
use session::Refused;

use client_events::NoFields;
pub use client_events::{Context as ClientContext, PacketLimits};
pub use session::{attach_session, Edge};

/// Fleet counters over the devices a credential sees (`stats`, `GET /api/v1/stats`).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub devices: usize,
    /// Devices that are running (not stopped, logged out or failed).
    pub active_devices: usize,
    /// Messages stored for them.
    pub messages: u64,
    /// Socket.IO connections to their namespaces.
    pub connections: usize,
}

/// Largest replay read from the journal in one go.
const REPLAY_PAGE: u64 = 1000;

/// Why a handshake was refused; its text is the client's `connect_error` message.
#[derive(Debug)]
enum Refusal {
    Unauthorized,
    Forbidden,
    /// A `lastSeq` that is not a seq: resuming from a guess could skip events unnoticed.
    BadLastSeq,
}

impl Refusal {
    /// The refusal's `outcome` in `devicebridge_socket_handshakes_total`.
    fn outcome(&self) -> &'static str {
        match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::Forbidden => "forbidden",
            Refusal::BadLastSeq => "bad_request",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::Forbidden => "forbidden",
            Refusal::BadLastSeq => "bad_request: lastSeq must be a whole number, 0 or more",
        })
    }
}

/// The `lastSeq` a device's socket connected with, kept from its handshake to its attachment.
#[derive(Clone, Copy)]
struct LastSeq(Option<u64>);

enum Fanout {
    Event(Arc<JournaledEvent>),
    /// The bus dropped events: re-read the journal from the last emitted seq.
    Resync,
    Attach {
        socket: SocketRef,
        last_seq: Option<u64>,
    },
    /// The socket disconnected: stop delivering to it and let go of it.
    Detach(Sid),
    /// A resuming socket was replayed everything through `through`.
    Replayed {
        socket: SocketRef,
        through: u64,
        from: u64,
    },
}

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
    fanouts: Mutex<HashMap<DeviceId, mpsc::UnboundedSender<Fanout>>>,
    expiries: Expiries,
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
        let hub = SocketHub {
            inner: Arc::new(Inner {
                expiries: Expiries::start(io.clone()),
                io,
                store,
                auth,
                devices,
                clients,
                fanouts: Mutex::default(),
            }),
        };
        hub.register_root();
        tokio::spawn(hub.clone().route(bus.subscribe()));
        tokio::spawn(
            hub.clone()
                .announce_definitions(bus.subscribe_device_changes()),
        );
        hub
    }

    /// Opens `/device/<id>` and starts its fanout.
    pub fn add_device(&self, id: &DeviceId) {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.inner
            .fanouts
            .lock()
            .expect("fanouts lock")
            .insert(id.clone(), sender.clone());
        tokio::spawn(fanout(
            self.inner.store.clone(),
            id.clone(),
            receiver,
            sender.downgrade(),
        ));
        let hub = self.clone();
        let device = id.clone();
        let on_connect = move |socket: SocketRef| async move {
            let last_seq = socket.extensions.remove::<LastSeq>().and_then(|seq| seq.0);
            let (detach_hub, detach_device) = (hub.clone(), device.clone());
            socket.on_disconnect(move |socket: SocketRef| async move {
                detach_hub.inner.expiries.forget(&socket);
                detach_hub.send(&detach_device, Fanout::Detach(socket.id));
            });
            hub.send(&device, Fanout::Attach { socket, last_seq });
        };
        let hub = self.clone();
        let device = id.clone();
        let middleware = move |socket: SocketRef, TryData(data): TryData<Value>| async move {
            hub.handshake(&socket, data.as_ref().ok(), Some(&device))
                .await?;
            client_events::register(&socket, &hub.inner.clients, &device);
            Ok::<(), Refusal>(())
        };
        self.inner
            .io
            .ns(id.namespace(), on_connect.with(middleware));
    }

    /// Disconnects the sockets of `/device/<id>`, closes the namespace and stops its fanout.
    ///
    /// Each socket is told (a disconnect packet) before the namespace goes: closing the
    /// namespace alone drops its sockets without a word, and a dashboard would stay
    /// "connected" to a device that no longer exists, its events unanswered.
    pub fn remove_device(&self, id: &DeviceId) {
        self.inner.fanouts.lock().expect("fanouts lock").remove(id);
        if let Some(namespace) = self.inner.io.of(id.namespace()) {
            for socket in namespace.sockets() {
                session::disconnect(socket, "device_removed");
            }
        }
        self.inner.io.delete_ns(id.namespace());
    }

    /// Disconnects every socket that connected with the API key `key` (see
    /// [`crate::api::auth::Grant::key`]), or with a token issued from it: the key was revoked.
    pub fn disconnect_key(&self, key: &str) {
        for namespace in self.namespaces() {
            let Some(operators) = self.inner.io.of(namespace) else {
                continue;
            };
            for socket in operators.sockets() {
                let revoked = socket
                    .extensions
                    .get::<Caller>()
                    .is_some_and(|caller| caller.grants.iter().any(|grant| grant.key == key));
                if revoked {
                    session::disconnect(socket, "key_revoked");
                }
            }
        }
    }

    /// The root namespace and every device's.
    fn namespaces(&self) -> Vec<String> {
        let fanouts = self.inner.fanouts.lock().expect("fanouts lock");
        let devices = fanouts.keys().map(DeviceId::namespace);
        std::iter::once("/".to_owned()).chain(devices).collect()
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

    /// `{ devices, activeDevices, messages, connections }` over the devices `caller` sees:
    /// their stored messages, and the connections to their namespaces.
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
        let connections: usize = visible
            .iter()
            .filter_map(|r| self.inner.io.of(r.id.namespace()))
            .map(|ns| ns.sockets().len())
            .sum();
        Ok(Stats {
            devices: visible.len(),
            active_devices: active,
            messages: stored,
            connections,
        })
    }

    fn send(&self, device: &DeviceId, message: Fanout) {
        if let Some(fanout) = self.inner.fanouts.lock().expect("fanouts lock").get(device) {
            let _ = fanout.send(message);
        }
    }

    /// Routes every committed event to its device's fanout, and state changes to the root.
    async fn route(self, mut events: broadcast::Receiver<Arc<JournaledEvent>>) {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if event.name == "state" {
                        self.announce(&event).await;
                    }
                    let device = event.device_id.clone();
                    self.send(&device, Fanout::Event(event));
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "socket delivery fell behind the bus; resyncing from the journal"
                    );
                    for fanout in self.inner.fanouts.lock().expect("fanouts lock").values() {
                        let _ = fanout.send(Fanout::Resync);
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// `device:update` when a device is created or its definition edited, `device:removed`
    /// when it is removed: the device layer's changes, heard on the bus after they commit.
    async fn announce_definitions(self, mut changes: broadcast::Receiver<DeviceChange>) {
        loop {
            match changes.recv().await {
                Ok(DeviceChange::Defined(id)) => self.announce_device(&id, None).await,
                Ok(DeviceChange::Removed(id)) => self.device_removed(&id),
                // Hundreds of definitions changed at once (a directory of device files
                // synced at startup): the missed ones are not announced, and a dashboard
                // sees them in `GET /api/v1/devices` and their next state change.
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "device changes came faster than they were announced"
                    );
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// `device:update` to every root socket whose credential sees the device, after a state
    /// change.
    async fn announce(&self, event: &JournaledEvent) {
        let at = Some((event.seq, event.at.clone()));
        self.announce_device(&event.device_id, at).await;
    }

    /// `device:update` with the device as it is now, after it was created or changed.
    /// `device:update` for the event `(seq, at)`, or, for a change of the device's definition
    /// (which journals nothing), for where its journal stands now: the same read gives the
    /// device and that `seq`, so a dashboard that keeps the update with the highest `seq`
    /// keeps the latest device.
    async fn announce_device(&self, id: &DeviceId, event: Option<(u64, String)>) {
        let lookup = id.clone();
        let Ok(Some((record, (seq, at)))) = self
            .inner
            .store
            .read(move |conn| {
                let event = match event {
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
        self.tell_root(id, "device:update", &device_update(&record, seq, &at));
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
            if !tell(socket, "device:update", &device_update(&record, seq, &at)) {
                return;
            }
        }
    }

    /// `device:removed { deviceId, at }` to the root sockets that saw the device: it was
    /// deleted, with its journal (so there is no `seq` to give).
    fn device_removed(&self, id: &DeviceId) {
        let payload = json!({ "deviceId": id, "at": rfc3339(chrono::Utc::now()) });
        self.tell_root(id, "device:removed", &payload);
    }

    /// Emits `event` to every root socket whose credential sees device `id`.
    fn tell_root(&self, id: &DeviceId, event: &str, payload: &Value) {
        let Some(root) = self.inner.io.of("/") else {
            return;
        };
        for socket in root.sockets() {
            let sees = socket
                .extensions
                .get::<Caller>()
                .is_some_and(|caller| caller.sees(id));
            if sees {
                tell(&socket, event, payload);
            }
        }
    }

    fn register_root(&self) {
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

    /// Checks a handshake for device `device`'s namespace (or the root's): the credentials
    /// must grant reading it. They are kept on the socket for its events, and the socket is
    /// disconnected when they end. Each handshake is counted by its outcome.
    ///
    /// The namespaces' middlewares register a socket's event handlers right after this, not
    /// in the connect handler: socketioxide sends the connect packet before it starts that
    /// handler as a task, and an event a client emits as soon as it is connected could
    /// otherwise arrive with no handler to take it, and go unanswered.
    async fn handshake(
        &self,
        socket: &SocketRef,
        data: Option<&Value>,
        device: Option<&DeviceId>,
    ) -> Result<(), Refusal> {
        let admitted = self.admit(socket, data, device).await;
        let outcome = admitted
            .as_ref()
            .map_or_else(Refusal::outcome, |()| "accepted");
        session::count_handshake(socket, outcome);
        admitted
    }

    async fn admit(
        &self,
        socket: &SocketRef,
        data: Option<&Value>,
        device: Option<&DeviceId>,
    ) -> Result<(), Refusal> {
        let caller = authenticate(&self.inner.auth, socket, data).await?;
        caller
            .authorize(Scope::Read, device)
            .map_err(|_| Refusal::Forbidden)?;
        if device.is_some() {
            socket.extensions.insert(LastSeq(last_seq(socket, data)?));
        }
        self.inner.expiries.watch(socket, &caller);
        socket.extensions.insert(caller);
        Ok(())
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

    async fn devices_list(&self, caller: &Caller) -> Result<Value, ApiError> {
        let devices = self.visible_devices(caller.clone()).await?;
        let items: Vec<DeviceView> = devices
            .iter()
            .map(|(_, record)| DeviceView::from(record))
            .collect();
        Ok(json!({ "items": items }))
    }

    /// The devices `caller` sees, of those the daemon has, each with where its journal stands.
    async fn visible_devices(
        &self,
        caller: Caller,
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

/// `device:update`'s payload: the device as `record` has it, at journal position `seq`.
fn device_update(record: &store::DeviceRecord, seq: u64, at: &str) -> Value {
    json!({
        "device": DeviceView::from(record),
        "deviceId": record.id,
        "seq": seq,
        "at": at,
    })
}

/// The acknowledgement shape: `{ ok: true, data }` or `{ ok: false, error }`.
pub fn envelope<T: Serialize>(result: Result<T, ApiError>) -> Reply<T> {
    Reply(result)
}

/// An acknowledgement, serialized straight from the answer's own type: `message:send` is
/// answered thousands of times a second, and building a JSON value of the message first, to
/// print it right after, was an eighth of the socket tasks' work.
pub struct Reply<T>(Result<T, ApiError>);

impl<T: Serialize> Serialize for Reply<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        match &self.0 {
            Ok(data) => {
                map.serialize_entry("ok", &true)?;
                map.serialize_entry("data", data)?;
            }
            Err(error) => {
                map.serialize_entry("ok", &false)?;
                map.serialize_entry("error", &error.body())?;
            }
        }
        map.end()
    }
}

/// Finds the credentials in the handshake: `auth`, then query, then headers.
async fn authenticate(
    auth: &Authenticator,
    socket: &SocketRef,
    data: Option<&Value>,
) -> Result<Caller, Refusal> {
    let parts = socket.req_parts();
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| url_pairs(q).collect())
        .unwrap_or_default();
    let (header_key, header_token) = header_credentials(&parts.headers);
    let from_auth = |name: &str| {
        data.and_then(|d| d.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let api_key = from_auth("apiKey")
        .or_else(|| query.get("apiKey").cloned())
        .or(header_key);
    let token = from_auth("token")
        .or_else(|| query.get("access-token").cloned())
        .or(header_token);
    auth.identify(api_key.as_deref(), token.as_deref())
        .await
        .map_err(|_| Refusal::Unauthorized)
}

/// The `lastSeq` of a handshake: `auth.lastSeq` (a number, or a string of digits as a client
/// may have stored it), else query `lastSeq`. Anything else is refused rather than taken as
/// absent, which would start the client from now and lose what it missed without a word.
fn last_seq(socket: &SocketRef, auth: Option<&Value>) -> Result<Option<u64>, Refusal> {
    let given = match auth.and_then(|a| a.get("lastSeq")) {
        None | Some(Value::Null) => socket.req_parts().uri.query().and_then(|query| {
            url_pairs(query)
                .find(|(k, _)| k == "lastSeq")
                .map(|(_, v)| Value::String(v))
        }),
        Some(value) => Some(value.clone()),
    };
    match given {
        None => Ok(None),
        Some(Value::Number(number)) => number.as_u64().map(Some).ok_or(Refusal::BadLastSeq),
        Some(Value::String(text)) => text.parse().map(Some).map_err(|_| Refusal::BadLastSeq),
        Some(_) => Err(Refusal::BadLastSeq),
    }
}

/// Decoded `key=value` pairs of a query string.
fn url_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

/// One device's delivery loop.
///
/// A resuming socket is replayed by its own task ([`replay`]), which waits for room in the
/// socket's queue instead of failing, so a long backlog reaches a client that reads it; live
/// delivery to the other sockets goes on meanwhile. When the replay has caught up with what
/// the loop has emitted, the socket gets `sync` and joins the live stream.
async fn fanout(
    store: Store,
    device: DeviceId,
    mut inbox: mpsc::UnboundedReceiver<Fanout>,
    me: mpsc::WeakUnboundedSender<Fanout>,
) {
    let head_of = device.clone();
    let mut emitted = match store
        .read(move |conn| store::journal::head(conn, &head_of))
        .await
    {
        Ok(head) => head,
        Err(error) => {
            tracing::error!(device_id = %device, %error, "cannot read the journal head");
            return;
        }
    };
    let mut sockets = Attached::default();
    let start_replay = |socket: SocketRef, after: u64, until: u64, from: u64| {
        let (store, device, me) = (store.clone(), device.clone(), me.clone());
        tokio::spawn(async move {
            if let Some(through) = replay(&store, &device, &socket, after, until).await {
                if let Some(fanout) = me.upgrade() {
                    let _ = fanout.send(Fanout::Replayed {
                        socket,
                        through,
                        from,
                    });
                }
            }
        });
    };
    while let Some(message) = inbox.recv().await {
        match message {
            Fanout::Event(event) => {
                if event.seq <= emitted {
                    continue;
                }
                if event.seq > emitted + 1 {
                    catch_up(&store, &device, &mut emitted, event.seq - 1, &mut sockets).await;
                }
                sockets.deliver(&event);
                emitted = event.seq;
            }
            Fanout::Resync => catch_up(&store, &device, &mut emitted, u64::MAX, &mut sockets).await,
            Fanout::Attach { socket, last_seq } => {
                if last_seq.is_some_and(|last| last > emitted) {
                    // A client can know a seq before this fanout emitted it: from the journal
                    // over REST, or from a webhook. Catch up with the store before taking it
                    // for a seq of another journal.
                    catch_up(&store, &device, &mut emitted, u64::MAX, &mut sockets).await;
                }
                match last_seq {
                    Some(last) if last < emitted => {
                        match recoverable(&store, &device, last).await {
                            Some(true) => start_replay(socket, last, emitted, last + 1),
                            Some(false) => {
                                if synced(&device, &socket, last + 1, emitted, false) {
                                    sockets.attach(socket);
                                }
                            }
                            None => session::disconnect(socket, "journal_unreadable"),
                        }
                    }
                    // Ahead of the journal: the client saw another one (the data was reset), so
                    // what it holds cannot be resumed from.
                    Some(last) if last > emitted => {
                        if synced(&device, &socket, emitted + 1, emitted, false) {
                            sockets.attach(socket);
                        }
                    }
                    Some(last) => {
                        if synced(&device, &socket, last + 1, emitted, true) {
                            sockets.attach(socket);
                        }
                    }
                    None => {
                        if snapshot(&store, &device, &socket, emitted).await {
                            sockets.attach(socket);
                        }
                    }
                }
            }
            Fanout::Detach(sid) => sockets.detach(sid),
            Fanout::Replayed {
                socket,
                through,
                from,
            } => {
                if through >= emitted {
                    if synced(&device, &socket, from, emitted, true) {
                        sockets.attach(socket);
                    }
                } else {
                    start_replay(socket, through, emitted, from);
                }
            }
        }
    }
}

/// Emits journaled events after `emitted` up to `until` to every socket.
async fn catch_up(
    store: &Store,
    device: &DeviceId,
    emitted: &mut u64,
    until: u64,
    sockets: &mut Attached,
) {
    while *emitted < until {
        let (id, after) = (device.clone(), *emitted);
        let Ok(read) = store
            .read(move |conn| store::journal::read_after(conn, &id, after, REPLAY_PAGE))
            .await
        else {
            return;
        };
        if read.events.is_empty() {
            return;
        }
        for event in &read.events {
            if event.seq > until {
                // The events up to `until` were pruned before they could be delivered.
                *emitted = until;
                return;
            }
            sockets.deliver(event);
            *emitted = event.seq;
        }
    }
}

/// The sockets of a device that receive its live events.
///
/// Sockets are let go of as soon as they disconnect: a closed socket still holds its buffers,
/// and thousands of them would otherwise stay alive until the next event fails to reach them.
#[derive(Default)]
struct Attached {
    live: HashMap<Sid, Listener>,
}

/// A socket attached to a device's live events.
struct Listener {
    socket: SocketRef,
    /// Whether its credential may see the device's QR codes (decided once, as it attaches).
    sees_qr: bool,
}

impl Attached {
    fn attach(&mut self, socket: SocketRef) {
        if socket.connected() {
            let sees_qr = sees_qr(&socket);
            self.live.insert(socket.id, Listener { socket, sees_qr });
        }
    }

    fn detach(&mut self, sid: Sid) {
        self.live.remove(&sid);
    }

    /// Sends one event to every socket that may see it; a socket that cannot take it is cut
    /// off, to resume later with `lastSeq`. The payload is serialized once and the same JSON
    /// text goes to every socket.
    fn deliver(&mut self, event: &JournaledEvent) {
        let qr = event.name == "qr";
        self.live.retain(|_, listener| {
            if qr && !listener.sees_qr {
                return true;
            }
            match session::emit(&listener.socket, &event.name, &event.payload) {
                Ok(()) => true,
                Err(Refused::Full) => {
                    session::cut_off(&listener.socket);
                    false
                }
                Err(Refused::Gone) => false,
            }
        });
    }
}

/// Whether `socket`'s credential may see QR codes of the device whose namespace it is on.
fn sees_qr(socket: &SocketRef) -> bool {
    let device = socket
        .ns()
        .strip_prefix("/device/")
        .and_then(|id| DeviceId::parse(id).ok());
    let caller = socket.extensions.get::<Caller>();
    matches!((caller, device), (Some(caller), Some(device)) if caller.may_see("qr", &device))
}

/// Queues `payload` as `event` for `socket`; a socket that cannot take it is cut off.
/// Returns whether it was queued.
fn tell(socket: &SocketRef, event: &str, payload: &impl Serialize) -> bool {
    let Ok(payload) = serde_json::value::to_raw_value(payload) else {
        return false;
    };
    match session::emit(socket, event, &payload) {
        Ok(()) => true,
        Err(Refused::Full) => {
            session::cut_off(socket);
            false
        }
        Err(Refused::Gone) => false,
    }
}

/// Whether the journal still holds everything after `last` (`None` if it cannot be read).
async fn recoverable(store: &Store, device: &DeviceId, last: u64) -> Option<bool> {
    let id = device.clone();
    store
        .read(move |conn| store::journal::read_after(conn, &id, last, 1))
        .await
        .ok()
        .map(|read| read.complete)
}

/// How long a replay waits for a socket that takes nothing from its queue.
const REPLAY_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// Emits the journal after `after` up to `until` to one socket, waiting for room in its queue.
/// Returns the last seq emitted, or `None` if the socket went away or stalled (it is then
/// disconnected, and resumes later with `lastSeq`).
async fn replay(
    store: &Store,
    device: &DeviceId,
    socket: &SocketRef,
    mut after: u64,
    until: u64,
) -> Option<u64> {
    while after < until {
        let id = device.clone();
        let page = store
            .read(move |conn| store::journal::read_after(conn, &id, after, REPLAY_PAGE))
            .await
            .ok()?;
        if page.events.is_empty() {
            break;
        }
        if !page.complete {
            // Pruned past this socket while it replayed: it resumes again, and is then told
            // that its view cannot be recovered.
            tracing::debug!(sid = %socket.id, "the journal was pruned during a replay");
            session::disconnect(socket.clone(), "journal_pruned");
            return None;
        }
        let sees_qr = sees_qr(socket);
        for event in page.events.iter().filter(|e| e.seq <= until) {
            if event.name != "qr" || sees_qr {
                emit_patiently(socket, event).await?;
            }
            after = event.seq;
        }
    }
    Some(after)
}

async fn emit_patiently(socket: &SocketRef, event: &JournaledEvent) -> Option<()> {
    let stalled_at = tokio::time::Instant::now() + REPLAY_STALL;
    loop {
        match session::emit(socket, &event.name, &event.payload) {
            Ok(()) => return Some(()),
            Err(Refused::Full) if tokio::time::Instant::now() < stalled_at => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err(Refused::Full) => {
                tracing::debug!(sid = %socket.id, "a socket took nothing of its replay");
                session::cut_off(socket);
                return None;
            }
            Err(Refused::Gone) => return None,
        }
    }
}

/// Tells a socket it is up to date (`sync`); returns whether it is still there.
fn synced(device: &DeviceId, socket: &SocketRef, from: u64, to: u64, recovered: bool) -> bool {
    let sync = json!({
        "fromSeq": from,
        "toSeq": to,
        "recovered": recovered,
        "deviceId": device,
        "at": rfc3339(chrono::Utc::now()),
    });
    tell(socket, "sync", &sync)
}

/// A socket without `lastSeq` gets the device's current `state` (and `qr`, when one is
/// showing) so a dashboard can draw at once, then `sync`. Returns whether it stays attached.
async fn snapshot(store: &Store, device: &DeviceId, socket: &SocketRef, emitted: u64) -> bool {
    let id = device.clone();
    let Ok(events) = store
        .read(move |conn| store::journal::current_view(conn, &id))
        .await
    else {
        return false;
    };
    let sees_qr = sees_qr(socket);
    let visible = events
        .iter()
        .filter(|e| e.seq <= emitted && (e.name != "qr" || sees_qr));
    for event in visible {
        if !tell(socket, &event.name, &event.payload) {
            return false;
        }
    }
    synced(device, socket, emitted + 1, emitted, true)
}
