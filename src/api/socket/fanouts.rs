//! Which devices have a fanout running. A device's namespace is open as long as the device
//! exists, but its fanout ([`super::fanout`]) runs only while a socket is attached to it or
//! being brought up to date: the first attachment starts it and it ends when the last socket
//! has gone. The devices of a fleet that no dashboard watches then hold no task and no inbox,
//! and their events wake nothing. A fanout that starts reads where the device's journal
//! stands, as one that was running would after events it had nobody to deliver to.
//!
//! A fanout ends only with nothing left in its inbox, decided under the lock that every
//! message to it is sent under: an attachment is either in the inbox of the fanout that
//! then goes on, or finds none running and starts another.
//!
//! A fanout that starts takes up from the last event routed to the device, which every later
//! event follows into its inbox, rather than from the journal's head: the head can hold an
//! event committed and not yet published, which the fanout would then take for one emitted
//! already and never deliver, though the socket attached before it was published (its own
//! `chat:open`'s `chat:update`, say).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use socketioxide::extract::SocketRef;
use tokio::sync::mpsc;

use super::fanout::{fanout, Fanout, Retire};
use crate::metrics::Histogram;
use crate::model::event::JournaledEvent;
use crate::model::DeviceId;
use crate::store::Store;
use crate::tasks::Tasks;

/// Every open device, by its id.
type Lanes = HashMap<DeviceId, Lane>;

/// An open device.
#[derive(Default)]
struct Lane {
    /// Its fanout's inbox, while one runs.
    running: Option<mpsc::UnboundedSender<Fanout>>,
    /// The seq of the last event routed to it, unless none was since it opened or since the
    /// bus dropped events.
    routed: Option<u64>,
}

/// The fanouts of the devices whose namespace is open on this node.
pub(super) struct Fanouts {
    lanes: Mutex<Lanes>,
    store: Store,
    /// Where each fanout records how long one live event took it.
    taken: Histogram,
    tasks: Tasks,
}

impl Fanouts {
    pub(super) fn new(store: Store, taken: Histogram) -> Arc<Fanouts> {
        Arc::new(Fanouts {
            lanes: Mutex::default(),
            store,
            taken,
            tasks: Tasks::default(),
        })
    }

    fn lanes(&self) -> MutexGuard<'_, Lanes> {
        self.lanes.lock().expect("fanouts lock")
    }

    /// Counts `device` as open, with no fanout until a socket attaches; returns whether it
    /// was not open already (in a cluster, a device's creation is heard from the bus too).
    pub(super) fn open(&self, device: &DeviceId) -> bool {
        let mut lanes = self.lanes();
        if lanes.contains_key(device) {
            return false;
        }
        lanes.insert(device.clone(), Lane::default());
        true
    }

    /// Forgets `device`: its fanout, if one runs, ends once it has handled its inbox.
    pub(super) fn close(&self, device: &DeviceId) {
        self.lanes().remove(device);
    }

    /// The devices open.
    pub(super) fn devices(&self) -> Vec<DeviceId> {
        self.lanes().keys().cloned().collect()
    }

    /// How many devices have a fanout running: those a socket watches.
    pub(super) fn running(&self) -> usize {
        let lanes = self.lanes();
        lanes
            .values()
            .filter_map(|lane| lane.running.as_ref())
            .filter(|inbox| !inbox.is_closed())
            .count()
    }

    /// Hands `message` to the fanout of `device` if one runs; nobody is owed it otherwise.
    pub(super) fn tell(&self, device: &DeviceId, message: Fanout) {
        if let Some(running) = self
            .lanes()
            .get(device)
            .and_then(|lane| lane.running.as_ref())
        {
            let _ = running.send(message);
        }
    }

    /// Hands a committed event to its device's fanout, if one runs, and remembers it as the
    /// last routed to the device.
    pub(super) fn route(&self, event: Arc<JournaledEvent>) {
        let mut lanes = self.lanes();
        let Some(lane) = lanes.get_mut(&event.device_id) else {
            return;
        };
        lane.routed = Some(event.seq);
        if let Some(running) = &lane.running {
            let _ = running.send(Fanout::Event(event));
        }
    }

    /// Tells every running fanout that the bus dropped events.
    pub(super) fn resync_all(&self) {
        for lane in self.lanes().values_mut() {
            lane.routed = None;
            if let Some(running) = &lane.running {
                let _ = running.send(Fanout::Resync);
            }
        }
    }

    /// Attaches `socket` to the fanout of `device`, starting one if none runs (or the one
    /// there has ended, which it does on its own when the journal's head cannot be read).
    pub(super) fn attach(
        self: &Arc<Self>,
        device: &DeviceId,
        socket: SocketRef,
        last_seq: Option<u64>,
    ) {
        let mut lanes = self.lanes();
        let Some(lane) = lanes.get_mut(device) else {
            return;
        };
        let mut message = Fanout::Attach { socket, last_seq };
        if let Some(running) = &lane.running {
            match running.send(message) {
                Ok(()) => return,
                Err(mpsc::error::SendError(back)) => message = back,
            }
        }
        let (sender, inbox) = mpsc::unbounded_channel();
        let _ = sender.send(message);
        let retire: Retire = {
            let (fanouts, device, me) = (self.clone(), device.clone(), sender.downgrade());
            Box::new(move |inbox| fanouts.retire(&device, inbox, &me))
        };
        self.tasks.spawn(fanout(
            retire,
            self.store.clone(),
            device.clone(),
            lane.routed,
            inbox,
            sender.downgrade(),
            self.taken.clone(),
        ));
        lane.running = Some(sender);
    }

    /// Whether the fanout of `device` whose inbox is `inbox` may end: when nothing waits in
    /// it. It is then taken off the lane, and what comes for the device next finds none.
    fn retire(
        &self,
        device: &DeviceId,
        inbox: &mpsc::UnboundedReceiver<Fanout>,
        me: &mpsc::WeakUnboundedSender<Fanout>,
    ) -> bool {
        let mut lanes = self.lanes();
        if !inbox.is_empty() {
            return false;
        }
        // Still this fanout's lane, unless the device was closed (and perhaps opened again).
        if let (Some(lane), Some(me)) = (lanes.get_mut(device), me.upgrade()) {
            if lane
                .running
                .as_ref()
                .is_some_and(|running| running.same_channel(&me))
            {
                lane.running = None;
            }
        }
        true
    }

    /// Ends every fanout, within [`crate::tasks::STOP_PATIENCE`].
    pub(super) async fn stop(&self) {
        self.lanes().clear();
        self.tasks.stop("socket fanouts").await;
    }
}
