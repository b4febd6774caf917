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

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::bus::{DeviceChange, EventBus};
use crate::model::{event::JournaledEvent, DeviceId};
use crate::store::journal::read_after;
use crate::store::sql::{params, Conn, Row};
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
/// The listener's connection is named after the node's (the `application_name` its storage
/// URL gives), then `notices`, for an operator to tell it apart in `pg_stat_activity`.
const NAMED: &str = "SELECT set_config('application_name',
    ltrim(current_setting('application_name') || ' notices'), false)";
/// The most events read from the journal at once when publishing what a notice, or a
/// catch-up, names.
const CATCH_UP_PAGE: u64 = 256;

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
/// publishing what they committed on `bus`. A lost connection is made again, and what was
/// committed while it was lost is then published as its notices would have been (see
/// [`Heard`]).
pub(in crate::store) fn listen(
    connect: impl Fn() -> StoreResult<Conn>,
    origin: &Origin,
    bus: &EventBus,
    closed: &AtomicBool,
) {
    let mut heard: Option<Heard> = None;
    while !closed.load(Ordering::Relaxed) {
        let listened = connect().and_then(|conn| {
            conn.query_one(NAMED, params![], |_| Ok(()))?;
            conn.execute_batch(&format!("LISTEN {CHANNEL}"))?;
            // Read once listening: whatever commits after this comes with a notice.
            let now = Heard::read(&conn)?;
            if let Some(before) = &heard {
                let missed = catch_up(&conn, bus, before, &now)?;
                tracing::info!(
                    events = missed.events,
                    devices = missed.devices,
                    revoked_keys = missed.revoked_keys,
                    "listening to the cluster's notices again; published what was committed meanwhile"
                );
            }
            let heard = heard.insert(now);
            while !closed.load(Ordering::Relaxed) {
                for payload in conn.notifications(LISTEN_TURN)? {
                    hear(&conn, origin, bus, &payload, heard)?;
                }
            }
            Ok(())
        });
        if let Err(error) = listened {
            tracing::warn!(%error, "lost the cluster's notices; listening again");
            std::thread::sleep(RECONNECT_PAUSE);
        }
    }
}

/// What the listener has heard of the cluster's commits, its own node's included: where each
/// device's journal stands, which devices are defined and how (their [`Definition`]), and
/// which API keys are revoked. Read from the database when the listener first listens, kept
/// up to date by every notice, and read again when it listens after it lost its connection:
/// the difference is what the notices it could not hear would have said. Without it, a key
/// revoked through another node meanwhile would keep its connections to this one open, a
/// device defined, edited or removed there would stay unknown, as it was, or known here, and
/// a device's events would reach this node's sockets only with its next event.
#[derive(Default)]
struct Heard {
    heads: HashMap<DeviceId, u64>,
    devices: HashMap<DeviceId, Definition>,
    revoked: HashSet<String>,
}

/// A device's definition as the listener last read it: a hash of what `PATCH` or a
/// configuration file changes (its name, connector, settings, source and autostart), so that
/// a catch-up announces a device edited meanwhile as well as one created. Its state is not in
/// it: a state change is journaled, and a catch-up publishes the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Definition(u64);

/// Selects what a [`Definition`] hashes, after the device's id.
const DEFINITION: &str = "SELECT id, name, connector, settings, source, autostart FROM devices";

impl Definition {
    /// The id and definition of the device of a row of [`DEFINITION`].
    fn of_row(row: &Row<'_>) -> StoreResult<(String, Self)> {
        let mut hasher = std::hash::DefaultHasher::new();
        for column in 1..5 {
            row.get::<String>(column)?.hash(&mut hasher);
        }
        row.get::<i64>(5)?.hash(&mut hasher);
        Ok((row.get(0)?, Self(hasher.finish())))
    }

    /// `device`'s definition now; `None` once it is removed.
    fn read(conn: &Conn, device: &DeviceId) -> StoreResult<Option<Self>> {
        let row = conn.query_opt(
            &format!("{DEFINITION} WHERE id = ?1"),
            params![device.as_str()],
            Self::of_row,
        )?;
        Ok(row.map(|(_, definition)| definition))
    }
}

impl Heard {
    fn read(conn: &Conn) -> StoreResult<Self> {
        let device = |id: String| DeviceId::parse(&id).ok();
        let heads = conn.query_all(
            "SELECT device_id, last_seq FROM device_seq",
            params![],
            |row| Ok((row.get::<String>(0)?, row.get::<i64>(1)?)),
        )?;
        let devices = conn.query_all(DEFINITION, params![], Definition::of_row)?;
        Ok(Self {
            heads: heads
                .into_iter()
                .filter_map(|(id, seq)| Some((device(id)?, u64::try_from(seq).ok()?)))
                .collect(),
            devices: devices
                .into_iter()
                .filter_map(|(id, definition)| Some((device(id)?, definition)))
                .collect(),
            revoked: crate::store::keys::revoked_ids(conn)?,
        })
    }
}

/// How much a catch-up published.
struct Missed {
    events: u64,
    devices: usize,
    revoked_keys: usize,
}

/// Publishes what was committed between `before` and `now`: the devices defined or edited,
/// then the events journaled (this node's own among them, which its sockets skip as already
/// delivered), then the devices removed and the keys revoked.
fn catch_up(conn: &Conn, bus: &EventBus, before: &Heard, now: &Heard) -> StoreResult<Missed> {
    let defined: Vec<DeviceChange> = now
        .devices
        .iter()
        .filter(|(device, definition)| before.devices.get(device) != Some(definition))
        .map(|(device, _)| DeviceChange::Defined(device.clone()))
        .collect();
    let removed: Vec<DeviceChange> = before
        .devices
        .keys()
        .filter(|device| !now.devices.contains_key(device))
        .map(|device| DeviceChange::Removed(device.clone()))
        .collect();
    let devices = defined.len() + removed.len();
    bus.publish_device_changes(defined);
    let mut events = 0;
    for (device, &head) in &now.heads {
        let from = before.heads.get(device).copied().unwrap_or(0);
        events += publish_events(conn, bus, device, from, head)?;
    }
    bus.publish_device_changes(removed);
    let revoked: Vec<String> = now.revoked.difference(&before.revoked).cloned().collect();
    let revoked_keys = revoked.len();
    bus.publish_keys_revoked(revoked);
    Ok(Missed {
        events,
        devices,
        revoked_keys,
    })
}

/// Publishes `device`'s events after `after` up to `last`, read from the journal a page at a
/// time, marked as another node's; returns how many.
fn publish_events(
    conn: &Conn,
    bus: &EventBus,
    device: &DeviceId,
    mut after: u64,
    last: u64,
) -> StoreResult<u64> {
    let mut published = 0;
    while after < last {
        let read = read_after(conn, device, after, (last - after).min(CATCH_UP_PAGE))?;
        let Some(newest) = read.events.last().map(|event| event.seq) else {
            break;
        };
        for mut event in read.events.into_iter().filter(|event| event.seq <= last) {
            event.remote = true;
            bus.publish(event);
            published += 1;
        }
        after = newest;
    }
    Ok(published)
}

/// Publishes what one notice says another node committed, and notes what any notice, this
/// node's own included, says in `heard`. Its devices and revoked keys are published together
/// after its events, as the node that committed them published them.
fn hear(
    conn: &Conn,
    origin: &Origin,
    bus: &EventBus,
    payload: &str,
    heard: &mut Heard,
) -> StoreResult<()> {
    let mut lines = payload.lines();
    let ours = lines.next() == Some(&*origin.0);
    let (mut devices, mut revoked) = (Vec::new(), Vec::new());
    for line in lines {
        let mut words = line.split(' ');
        let (Some(kind), Some(named)) = (words.next(), words.next()) else {
            continue;
        };
        if kind == "k" {
            heard.revoked.insert(named.to_owned());
            revoked.push(named.to_owned());
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
                let head = heard.heads.entry(device.clone()).or_default();
                // Published already by a catch-up that read past this notice's commit.
                let after = (*head).max(first.saturating_sub(1));
                *head = (*head).max(last);
                if !ours {
                    publish_events(conn, bus, &device, after, last)?;
                }
            }
            "d" => {
                // Read now, for a later catch-up to compare with: a notice says which device
                // changed, not how.
                if let Some(definition) = Definition::read(conn, &device)? {
                    heard.devices.insert(device.clone(), definition);
                }
                devices.push(DeviceChange::Defined(device));
            }
            "r" => {
                heard.devices.remove(&device);
                heard.heads.remove(&device);
                devices.push(DeviceChange::Removed(device));
            }
            _ => {}
        }
    }
    if !ours {
        bus.publish_device_changes(devices);
        bus.publish_keys_revoked(revoked);
    }
    Ok(())
}
