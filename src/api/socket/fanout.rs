//! Live delivery of one device's events: its fanout task, which emits each committed event
//! in `seq` order to the sockets attached to the device, and takes attachments as messages
//! on the same inbox so that replay and the live stream meet without a gap or a duplicate.
//! Separate from the hub, which only starts the task and feeds it, and from [`super::replay`],
//! which brings one socket up to date before it joins.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use tokio::sync::mpsc;

use super::protocol::{self, Translations};
use super::replay::{recoverable, replay, snapshot, synced, REPLAY_PAGE};
use super::rooms::Subject;
use super::session::{self, Refused, Session};
use super::visibility::Visibility;
use crate::metrics::Histogram;
use crate::model::event::JournaledEvent;
use crate::model::DeviceId;
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
    /// A replay ended without its socket: it went away, or was disconnected.
    ReplayAbandoned,
}

/// Whether a fanout with nothing to deliver to may end, given its inbox: it may when the inbox
/// is empty, and is then taken off the device so that what comes next starts another.
pub(super) type Retire = Box<dyn Fn(&mpsc::UnboundedReceiver<Fanout>) -> bool + Send>;

/// One device's delivery loop.
///
/// A resuming socket is replayed by its own task ([`replay`]), which waits for room in the
/// socket's queue instead of failing, so a long backlog reaches a client that reads it; live
/// delivery to the other sockets goes on meanwhile. When the replay has caught up with what
/// the loop has emitted, the socket gets `sync` and joins the live stream.
///
/// It starts from `routed`, the last event routed to the device before its inbox opened, which
/// every later event follows into the inbox (see `fanouts`), or, when none was, from the
/// journal's head. The loop ends when no socket is attached or being replayed and `retire`
/// lets it; the next socket to attach starts another.
pub(super) async fn fanout(
    retire: Retire,
    store: Store,
    device: DeviceId,
    routed: Option<u64>,
    mut inbox: mpsc::UnboundedReceiver<Fanout>,
    me: mpsc::WeakUnboundedSender<Fanout>,
    taken: Histogram,
) {
    let start = match routed {
        Some(routed) => Some(routed),
        None => head(&store, &device).await,
    };
    let Some(mut emitted) = start else {
        // Nobody can be brought up to date: those waiting are told so and resume later, and
        // the next socket to attach starts another fanout, which reads the head again.
        inbox.close();
        while let Ok(message) = inbox.try_recv() {
            if let Fanout::Attach { socket, .. } = message {
                session::disconnect(socket, "journal_unreadable");
            }
        }
        return;
    };
    // Whether events may have been missed while no socket was attached: nobody was owed
    // them, so they were not read, and the journal's head is read when a socket attaches or
    // a replay ends.
    let mut behind = false;
    let mut sockets = Attached::default();
    // Replays under way: their sockets are not attached yet, and each reports back.
    let mut replaying = 0usize;
    let start_replay = |socket: SocketRef, after: u64, until: u64, from: u64| {
        let (store, device, me) = (store.clone(), device.clone(), me.clone());
        tokio::spawn(async move {
            let report = match replay(&store, &device, &socket, after, until).await {
                Some(through) => Fanout::Replayed {
                    socket,
                    through,
                    from,
                },
                None => Fanout::ReplayAbandoned,
            };
            if let Some(fanout) = me.upgrade() {
                let _ = fanout.send(report);
            }
        });
    };
    // A message taken from the inbox while gathering a batch of events, handled next.
    let mut held = None;
    loop {
        let message = match held.take() {
            Some(message) => message,
            None => match inbox.recv().await {
                Some(message) => message,
                None => break,
            },
        };
        match message {
            Fanout::Event(event) => {
                let mut batch = vec![event];
                while batch.len() < BATCH_EVENTS {
                    match inbox.try_recv() {
                        Ok(Fanout::Event(event)) => batch.push(event),
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if sockets.is_empty() {
                    // Nobody to deliver to, nor any gap to read: a replay under way reads
                    // the journal through where this leaves `emitted`.
                    emitted = emitted.max(batch[batch.len() - 1].seq);
                    behind = false;
                } else {
                    live(&store, &device, &mut emitted, &batch, &mut sockets, &taken).await;
                }
            }
            Fanout::Resync if sockets.is_empty() => behind = true,
            Fanout::Resync => catch_up(&store, &device, &mut emitted, u64::MAX, &mut sockets).await,
            Fanout::Attach { socket, last_seq } => {
                if !up_to_head(&store, &device, &mut emitted, &mut behind).await {
                    session::disconnect(socket, "journal_unreadable");
                    continue;
                }
                if last_seq.is_some_and(|last| last > emitted) {
                    // A client can know a seq before this fanout emitted it: from the journal
                    // over REST, or from a webhook. Catch up with the store before taking it
                    // for a seq of another journal.
                    catch_up(&store, &device, &mut emitted, u64::MAX, &mut sockets).await;
                }
                match last_seq {
                    Some(last) if last < emitted => {
                        match recoverable(&store, &device, last).await {
                            Some(true) => {
                                replaying += 1;
                                start_replay(socket, last, emitted, last + 1);
                            }
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
                // Events the bus dropped while no socket was attached are in the journal past
                // `emitted`: the replay goes on through its head before the socket attaches.
                if !up_to_head(&store, &device, &mut emitted, &mut behind).await {
                    replaying -= 1;
                    session::disconnect(socket, "journal_unreadable");
                } else if through >= emitted {
                    replaying -= 1;
                    if synced(&device, &socket, from, emitted, true) {
                        sockets.attach(socket);
                    }
                } else {
                    start_replay(socket, through, emitted, from);
                }
            }
            Fanout::ReplayAbandoned => replaying -= 1,
        }
        let idle = sockets.is_empty() && replaying == 0 && held.is_none();
        if idle && retire(&inbox) {
            break;
        }
    }
}

/// Brings `emitted` up to the journal's head when events may have been missed while no socket
/// was attached (`behind`). False, and still behind, when the head cannot be read.
async fn up_to_head(
    store: &Store,
    device: &DeviceId,
    emitted: &mut u64,
    behind: &mut bool,
) -> bool {
    if *behind {
        let Some(head) = head(store, device).await else {
            return false;
        };
        *emitted = (*emitted).max(head);
        *behind = false;
    }
    true
}

/// Where `device`'s journal stands, or `None` (logged) when it cannot be read.
async fn head(store: &Store, device: &DeviceId) -> Option<u64> {
    let head_of = device.clone();
    match store
        .read(move |conn| store::journal::head(conn, &head_of))
        .await
    {
        Ok(head) => Some(head),
        Err(error) => {
            tracing::error!(device_id = %device, %error, "cannot read the journal head");
            None
        }
    }
}

/// The most live events delivered in one pass over the sockets: what one group commit of a
/// busy device publishes, bounded so that an attachment waiting behind them is not held long.
const BATCH_EVENTS: usize = 64;

/// Delivers a batch of live events in `seq` order, skipping those already emitted and
/// reading from the journal any the bus skipped.
///
/// The events that follow one another are delivered in one pass: each socket is queued all
/// of them at once, so its connection wakes once and writes them together (a message and
/// its chat's update, committed together, leave in one TCP segment), and the sockets' state
/// is visited once per batch rather than once per event.
async fn live(
    store: &Store,
    device: &DeviceId,
    emitted: &mut u64,
    batch: &[Arc<JournaledEvent>],
    sockets: &mut Attached,
    taken: &Histogram,
) {
    let seqs: Vec<u64> = batch.iter().map(|event| event.seq).collect();
    for step in plan(*emitted, &seqs) {
        match step {
            Step::Deliver(run) => {
                let started = Instant::now();
                sockets.deliver(&batch[run.clone()]);
                let share = started.elapsed() / run.len() as u32;
                *emitted = batch[run.end - 1].seq;
                run.for_each(|_| taken.observe_duration(share));
            }
            Step::CatchUp(until) => catch_up(store, device, emitted, until, sockets).await,
        }
    }
}

/// One step of delivering a batch of live events.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Deliver these events of the batch: they follow one another and what was emitted.
    Deliver(Range<usize>),
    /// Read the journal through this seq first: the bus did not bring those events.
    CatchUp(u64),
}

/// The steps that deliver a batch whose events have `seqs`, after `emitted`: an event at or
/// before what was emitted is skipped, and one past the next seq is preceded by a catch-up.
fn plan(emitted: u64, seqs: &[u64]) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut last = emitted;
    let mut run: Option<usize> = None;
    for (at, &seq) in seqs.iter().enumerate() {
        if seq != last + 1 {
            if let Some(start) = run.take() {
                steps.push(Step::Deliver(start..at));
            }
            if seq <= last {
                continue;
            }
            steps.push(Step::CatchUp(seq - 1));
        }
        run.get_or_insert(at);
        last = seq;
    }
    if let Some(start) = run {
        steps.push(Step::Deliver(start..seqs.len()));
    }
    steps
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
        let through = read.events.partition_point(|event| event.seq <= until);
        let page = &read.events[..through];
        let pruned = through < read.events.len();
        sockets.deliver(page);
        if let Some(last) = page.last() {
            *emitted = last.seq;
        }
        if pruned {
            // The events up to `until` were pruned before they could be delivered.
            *emitted = until;
            return;
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
    /// Its connection's session, looked up once rather than for every event.
    session: Option<Arc<Session>>,
    visibility: Visibility,
}

impl Attached {
    fn attach(&mut self, socket: SocketRef) {
        if socket.connected() {
            let visibility = Visibility::of(&socket);
            let session = session::session_of(&socket).cloned();
            self.live.insert(
                socket.id,
                Listener {
                    socket,
                    session,
                    visibility,
                },
            );
        }
    }

    fn detach(&mut self, sid: Sid) {
        self.live.remove(&sid);
    }

    fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Sends events to every socket that may see them, each socket all of them in turn; a
    /// socket that cannot take one is cut off, to resume later with `lastSeq`. Each payload
    /// is serialized once and the same JSON text goes to every socket (once per profile, for
    /// sockets that speak one).
    fn deliver<E: Borrow<JournaledEvent>>(&mut self, events: &[E]) {
        let subjects: Vec<Subject> = events
            .iter()
            .map(|event| Subject::new(event.borrow()))
            .collect();
        let mut translations: Vec<Translations> =
            events.iter().map(|_| Translations::default()).collect();
        self.live.retain(|_, listener| {
            for ((event, subject), translations) in
                events.iter().zip(&subjects).zip(&mut translations)
            {
                let event = event.borrow();
                let Some(place) = listener.visibility.place(subject) else {
                    continue;
                };
                let emitted = match &listener.visibility.profile {
                    None => session::emit_in(
                        listener.session.as_ref(),
                        &listener.socket,
                        event.kind.as_str(),
                        &event.payload,
                    ),
                    Some(profile) => protocol::emit_all(
                        listener.session.as_ref(),
                        &listener.socket,
                        translations.of(
                            profile,
                            place,
                            event.kind.as_str(),
                            &event.payload,
                            &listener.socket,
                        ),
                    ),
                };
                match emitted {
                    Ok(()) => {}
                    Err(Refused::Full) => {
                        session::cut_off(&listener.socket);
                        return false;
                    }
                    Err(Refused::Gone) => return false,
                }
            }
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{plan, Step};

    #[test]
    fn a_batch_that_follows_what_was_emitted_is_delivered_in_one_step() {
        assert_eq!(plan(5, &[6, 7, 8]), [Step::Deliver(0..3)]);
    }

    #[test]
    fn events_already_emitted_are_skipped() {
        assert_eq!(plan(7, &[6, 7, 8, 9]), [Step::Deliver(2..4)]);
        assert_eq!(plan(9, &[8, 9]), []);
    }

    #[test]
    fn a_gap_is_read_from_the_journal_before_what_follows_it() {
        assert_eq!(
            plan(5, &[6, 7, 10, 11]),
            [Step::Deliver(0..2), Step::CatchUp(9), Step::Deliver(2..4)]
        );
        assert_eq!(plan(5, &[8]), [Step::CatchUp(7), Step::Deliver(0..1)]);
    }

    #[test]
    fn a_repeated_event_inside_a_batch_ends_its_run() {
        assert_eq!(
            plan(5, &[6, 7, 7, 8]),
            [Step::Deliver(0..2), Step::Deliver(3..4)]
        );
    }
}
