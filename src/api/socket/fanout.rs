//! Live delivery of one device's events: its fanout task, which emits each committed event
//! in `seq` order to the sockets attached to the device, and takes attachments as messages
//! on the same inbox so that replay and the live stream meet without a gap or a duplicate.
//! Separate from the hub, which only starts the task and feeds it, and from [`super::replay`],
//! which brings one socket up to date before it joins.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use tokio::sync::mpsc;

use super::replay::{recoverable, replay, snapshot, synced, REPLAY_PAGE};
use super::rooms::{Rooms, Subject};
use super::session::{self, Refused};
use super::speech::{self, Translations};
use crate::api::auth::Caller;
use crate::api::profile::Profile;
use crate::metrics::Histogram;
use crate::model::{event::JournaledEvent, DeviceId};
use crate::store::{self, Store};

/// What a device's fanout task is told: an event to deliver, and the comings and goings of
/// the sockets it delivers to.
pub(super) enum Fanout {
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

/// One device's delivery loop.
///
/// A resuming socket is replayed by its own task ([`replay`]), which waits for room in the
/// socket's queue instead of failing, so a long backlog reaches a client that reads it; live
/// delivery to the other sockets goes on meanwhile. When the replay has caught up with what
/// the loop has emitted, the socket gets `sync` and joins the live stream.
pub(super) async fn fanout(
    store: Store,
    device: DeviceId,
    mut inbox: mpsc::UnboundedReceiver<Fanout>,
    me: mpsc::WeakUnboundedSender<Fanout>,
    taken: Histogram,
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
                let started = Instant::now();
                sockets.deliver(&event);
                taken.observe_duration(started.elapsed());
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
    sight: Sight,
}

/// What one socket is shown of its device's events, live and replayed alike.
pub(super) struct Sight {
    /// Whether its credential may see the device's QR codes (decided once, as it attaches).
    sees_qr: bool,
    /// The protocol profile it speaks, if any.
    profile: Option<Arc<Profile>>,
    /// The chats it joined, which it may change at any time.
    rooms: Rooms,
}

impl Sight {
    pub(super) fn of(socket: &SocketRef) -> Self {
        Sight {
            sees_qr: sees_qr(socket),
            rooms: Rooms::of(socket),
            profile: speech::profile_of(socket),
        }
    }

    pub(super) fn shows(&self, event: &Subject<'_>) -> bool {
        (event.event().name != "qr" || self.sees_qr) && self.rooms.admit(event)
    }
}

impl Attached {
    fn attach(&mut self, socket: SocketRef) {
        if socket.connected() {
            let sight = Sight::of(&socket);
            self.live.insert(socket.id, Listener { socket, sight });
        }
    }

    fn detach(&mut self, sid: Sid) {
        self.live.remove(&sid);
    }

    /// Sends one event to every socket that may see it; a socket that cannot take it is cut
    /// off, to resume later with `lastSeq`. The payload is serialized once and the same JSON
    /// text goes to every socket (once per profile, for sockets that speak one).
    fn deliver(&mut self, event: &JournaledEvent) {
        let subject = Subject::new(event);
        let mut translations = Translations::default();
        self.live.retain(|_, listener| {
            if !listener.sight.shows(&subject) {
                return true;
            }
            let emitted = match &listener.sight.profile {
                None => session::emit(&listener.socket, &event.name, &event.payload),
                Some(profile) => speech::emit_all(
                    &listener.socket,
                    translations.of(profile, &event.name, &event.payload, &listener.socket),
                ),
            };
            match emitted {
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
