//! Bringing a socket up to date as it attaches to a device: the replay of the journal after
//! its `lastSeq`, or a snapshot of the device's current view when it has none, then `sync`.
//! Both show the socket what live delivery would (its [`Visibility`]): a client that named its
//! chats in the handshake is replayed those chats' events only.
//! A replay runs in a task of its own and waits for a slow reader, where live delivery
//! ([`super::fanout`]) never waits; that difference is why the two are apart.

use serde::Serialize;
use serde_json::value::RawValue;
use socketioxide::extract::SocketRef;

use super::protocol;
use super::rooms::Subject;
use super::session::{self, Refused};
use super::tell;
use super::visibility::Visibility;
use crate::model::{rfc3339, DeviceId};
use crate::store::{self, Store};

/// Largest replay read from the journal in one go.
pub(super) const REPLAY_PAGE: u64 = 1000;

/// Whether the journal still holds everything after `last` (`None` if it cannot be read).
pub(super) async fn recoverable(store: &Store, device: &DeviceId, last: u64) -> Option<bool> {
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
pub(super) async fn replay(
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
        let (visibility, protocol) = (Visibility::of(socket), protocol::SocketProtocol::of(socket));
        for event in page.events.iter().filter(|e| e.seq <= until) {
            if let Some(place) = visibility.place(&Subject::new(event)) {
                let words = protocol.outgoing(event.kind.as_str(), &event.payload, place);
                // One by one: a profile's several packets for an event are each queued once,
                // whichever of them had to wait.
                for (name, payload) in words.packets() {
                    emit_patiently(socket, name, payload).await?;
                }
            }
            after = event.seq;
        }
    }
    Some(after)
}

/// Queues event `name` for `socket` once it leaves half of its queue free (see
/// [`session::leaves_half_free`]), checking again every few milliseconds while it would not.
async fn emit_patiently(socket: &SocketRef, name: &str, payload: &RawValue) -> Option<()> {
    let stalled_at = tokio::time::Instant::now() + REPLAY_STALL;
    loop {
        if session::leaves_half_free(socket, name, payload) {
            match session::emit(socket, name, payload) {
                Ok(()) => return Some(()),
                // The count of what waits errs low by the transport's framing: full after all.
                Err(Refused::Full) => {}
                Err(Refused::Gone) => return None,
            }
        }
        if tokio::time::Instant::now() >= stalled_at {
            tracing::debug!(sid = %socket.id, "a socket took nothing of its replay");
            session::cut_off(socket);
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// `sync`: the socket is up to date. Sent after a resume's replay (or a fresh socket's
/// snapshot); the socket's own, not journaled, with no `seq`.
#[derive(Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub(super) struct Synced<'a> {
    /// The replay covered the events after this seq…
    from_seq: u64,
    /// …up to this one, the device's last when the socket attached.
    to_seq: u64,
    /// False when events after the client's `lastSeq` were pruned: reload from REST.
    recovered: bool,
    #[cfg_attr(test, ts(type = "string"))]
    device_id: &'a DeviceId,
    at: String,
}

/// Tells a socket it is up to date (`sync`); returns whether it is still there.
pub(super) fn synced(
    device: &DeviceId,
    socket: &SocketRef,
    from: u64,
    to: u64,
    recovered: bool,
) -> bool {
    let sync = Synced {
        from_seq: from,
        to_seq: to,
        recovered,
        device_id: device,
        at: rfc3339(chrono::Utc::now()),
    };
    tell(socket, "sync", &sync)
}

/// A socket without `lastSeq` gets the device's current `state` (and `qr`, when one is
/// showing) so a dashboard can draw at once, then `sync`. Returns whether it stays attached.
pub(super) async fn snapshot(
    store: &Store,
    device: &DeviceId,
    socket: &SocketRef,
    emitted: u64,
) -> bool {
    let id = device.clone();
    let Ok(events) = store
        .read(move |conn| store::journal::current_view(conn, &id))
        .await
    else {
        return false;
    };
    let visibility = Visibility::of(socket);
    let visible = events
        .iter()
        .filter(|e| e.seq <= emitted && visibility.shows(&Subject::new(e)));
    for event in visible {
        if !tell(socket, event.kind.as_str(), &event.payload) {
            return false;
        }
    }
    synced(device, socket, emitted + 1, emitted, true)
}
