//! How the nodes of a cluster hear of each other's commits: every commit on PostgreSQL that
//! journals events, defines or removes a device, or revokes an API key, notifies the channel [`CHANNEL`] within its
//! transaction (a notification is delivered only if, and once, the transaction commits), and
//! every node listens to it on a connection of its own.
//!
//! A notice carries only where each device's journal now stands, not the events: the events
//! can be larger than a notification may be, and the journal has them. A listening node reads
//! them from the journal and publishes them on its bus, marked remote, so that its sockets,
//! rooms and webhook sender see every node's events as they see their own. Each device's
//! events are journaled under a lock on its head row, so their commits, and the notices, come
//! in `seq` order; a socket's fanout refills from the journal anything it finds missing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::bus::{DeviceChange, EventBus};
use crate::model::{event::JournaledEvent, DeviceId};
use crate::store::journal::read_after;
use crate::store::sql::{params, Conn};
use crate::store::StoreResult;

/// The notification channel every node listens to.
const CHANNEL: &str = "devicebridge";
/// PostgreSQL refuses a notification payload of 8,000 bytes or more; a commit's notice is cut
/// into several below that.
const MOST_PAYLOAD: usize = 7_000;
/// How long the listener waits for a notice before it checks whether the store closed.
const LISTEN_TURN: Duration = Duration::from_millis(500);
/// How long the listener waits before connecting again after it lost its connection.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// A name of this daemon's own, new at each start, that its notices carry: the listener
/// ignores what its own writer committed, which its bus had at the commit.
#[derive(Clone)]
pub(in crate::store) struct Origin(Arc<str>);

impl Origin {
    pub(in crate::store) fn new() -> Self {
        Self(ulid::Ulid::new().to_string().into())
    }
}

/// What a batch publishes once it has committed, and announces to the other nodes within its
/// transaction: the events it journaled, the devices it defined or removed and the API keys it
/// revoked.
#[derive(Default)]
pub(in crate::store) struct Announced {
    pub(in crate::store) events: Vec<JournaledEvent>,
    pub(in crate::store) device_changes: Vec<DeviceChange>,
    pub(in crate::store) revoked_keys: Vec<String>,
}

/// Notifies, within the transaction under way, what it journaled, which devices it defined
/// or removed and which API keys it revoked.
pub(in crate::store) fn announce(
    conn: &Conn,
    origin: &Origin,
    announced: &Announced,
) -> StoreResult<()> {
    let mut lines: Vec<String> = Vec::new();
    let mut run: Option<(&DeviceId, u64, u64)> = None;
    for event in &announced.events {
        run = match run {
            Some((device, first, _)) if *device == event.device_id => {
                Some((device, first, event.seq))
            }
            Some((device, first, last)) => {
                lines.push(format!("e {device} {first} {last}"));
                Some((&event.device_id, event.seq, event.seq))
            }
            None => Some((&event.device_id, event.seq, event.seq)),
        };
    }
    if let Some((device, first, last)) = run {
        lines.push(format!("e {device} {first} {last}"));
    }
    for change in &announced.device_changes {
        lines.push(match change {
            DeviceChange::Defined(device) => format!("d {device}"),
            DeviceChange::Removed(device) => format!("r {device}"),
        });
    }
    for key in &announced.revoked_keys {
        lines.push(format!("k {key}"));
    }
    let mut payload = String::new();
    for line in lines {
        if !payload.is_empty() && payload.len() + line.len() >= MOST_PAYLOAD {
            notify(conn, &payload)?;
            payload.clear();
        }
        if payload.is_empty() {
            payload.push_str(&origin.0);
        }
        payload.push('\n');
        payload.push_str(&line);
    }
    if !payload.is_empty() {
        notify(conn, &payload)?;
    }
    Ok(())
}

fn notify(conn: &Conn, payload: &str) -> StoreResult<()> {
    conn.query_one(
        "SELECT pg_notify(?1, ?2)::TEXT",
        params![CHANNEL, payload],
        |_| Ok(()),
    )
}

/// Listens for the other nodes' notices until `closed`, on connections made by `connect`,
/// publishing what they committed on `bus`. A lost connection is made again; what was
/// committed meanwhile reaches the sockets with the next event of each device, whose fanout
/// refills the gap from the journal.
pub(in crate::store) fn listen(
    connect: impl Fn() -> StoreResult<Conn>,
    origin: &Origin,
    bus: &EventBus,
    closed: &AtomicBool,
) {
    while !closed.load(Ordering::Relaxed) {
        let heard = connect().and_then(|conn| {
            conn.execute_batch(&format!("LISTEN {CHANNEL}"))?;
            while !closed.load(Ordering::Relaxed) {
                for payload in conn.notifications(LISTEN_TURN)? {
                    hear(&conn, origin, bus, &payload)?;
                }
            }
            Ok(())
        });
        if let Err(error) = heard {
            tracing::warn!(%error, "lost the cluster's notices; listening again");
            std::thread::sleep(RECONNECT_PAUSE);
        }
    }
}

/// Publishes what one notice says another node committed.
fn hear(conn: &Conn, origin: &Origin, bus: &EventBus, payload: &str) -> StoreResult<()> {
    let mut lines = payload.lines();
    if lines.next() == Some(&*origin.0) {
        return Ok(());
    }
    for line in lines {
        let mut words = line.split(' ');
        let (Some(kind), Some(named)) = (words.next(), words.next()) else {
            continue;
        };
        if kind == "k" {
            bus.publish_key_revoked(named.to_owned());
            continue;
        }
        let Ok(device) = DeviceId::parse(named) else {
            continue;
        };
        match kind {
            "e" => {
                let mut seqs = words.filter_map(|word| word.parse::<u64>().ok());
                let (Some(first), Some(last)) = (seqs.next(), seqs.next()) else {
                    continue;
                };
                let read = read_after(conn, &device, first.saturating_sub(1), last + 1 - first)?;
                for mut event in read.events {
                    event.remote = true;
                    bus.publish(event);
                }
            }
            "d" => bus.publish_device_change(DeviceChange::Defined(device)),
            "r" => bus.publish_device_change(DeviceChange::Removed(device)),
            _ => {}
        }
    }
    Ok(())
}
