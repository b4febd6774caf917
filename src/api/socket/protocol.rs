//! What a socket is sent, in the protocol it speaks: native events as they are, or as its
//! profile has them (renamed, reshaped, several or none). Live delivery, replays, snapshots
//! and the edge's own events (`session`, `sync`) all go through here, so a profile's client
//! never receives a native name its profile renames.

use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::Value;
use socketioxide::extract::SocketRef;

use super::session::{self, Refused, Session};
use crate::api::profile::{Place, Profile};
use crate::device::DeviceHandle;

/// Events as a profile's client receives them: its names, and JSON text ready to queue.
pub(super) type Events = Vec<(String, Box<RawValue>)>;

/// The profile a socket speaks, if any (set by the handshake).
pub(super) fn profile_of(socket: &SocketRef) -> Option<Arc<Profile>> {
    socket.extensions.get::<Arc<Profile>>()
}

/// The account the device of a socket's namespace is linked to: what a profile's `$me`
/// reads, so a client told "who received this" in its own words hears its own id.
pub(super) fn me_of(socket: &SocketRef) -> Option<String> {
    socket.extensions.get::<DeviceHandle>()?.me()
}

/// A native event as `profile` has it for a socket at `place`, each as JSON text ready to
/// queue.
pub(super) fn translate(
    profile: &Profile,
    name: &str,
    payload: &RawValue,
    me: Option<&str>,
    place: Place,
) -> Events {
    let Ok(native) = serde_json::from_str::<Value>(payload.get()) else {
        return Vec::new();
    };
    profile
        .outbound(name, &native, me, place)
        .into_iter()
        .filter_map(|(name, payload)| Some((name, serde_json::value::to_raw_value(&payload).ok()?)))
        .collect()
}

/// How one socket is spoken to: natively, or in its profile's words with the device's account
/// as `$me`. Read once from the socket for a run of events (a replay's), not once per event.
pub(super) struct SocketProtocol {
    profile: Option<Arc<Profile>>,
    me: Option<String>,
}

impl SocketProtocol {
    pub(super) fn of(socket: &SocketRef) -> SocketProtocol {
        let profile = profile_of(socket);
        let me = profile.as_ref().and_then(|_| me_of(socket));
        SocketProtocol { profile, me }
    }

    /// A native event in this protocol for a socket at `place`, ready to queue (and to queue
    /// again, after a refusal).
    pub(super) fn outgoing<'e>(
        &self,
        name: &'e str,
        payload: &'e RawValue,
        place: Place,
    ) -> Outgoing<'e> {
        match &self.profile {
            None => Outgoing::Native(name, payload),
            Some(profile) => {
                Outgoing::Translated(translate(profile, name, payload, self.me.as_deref(), place))
            }
        }
    }
}

/// A native event as one socket is sent it.
pub(super) enum Outgoing<'e> {
    Native(&'e str, &'e RawValue),
    Translated(Events),
}

impl Outgoing<'_> {
    /// The events and payloads to queue, in order.
    pub(super) fn packets(&self) -> impl Iterator<Item = (&str, &RawValue)> {
        let (native, translated) = match self {
            Outgoing::Native(name, payload) => (Some((*name, *payload)), &[][..]),
            Outgoing::Translated(events) => (None, &events[..]),
        };
        native.into_iter().chain(
            translated
                .iter()
                .map(|(name, payload)| (name.as_str(), &**payload)),
        )
    }

    /// Queues them for `socket`. A profile that turned the event into several queues them
    /// all, stopping at the first refusal.
    pub(super) fn emit(&self, socket: &SocketRef) -> Result<(), Refused> {
        match self {
            Outgoing::Native(name, payload) => session::emit(socket, name, payload),
            Outgoing::Translated(events) => emit_all(session::session_of(socket), socket, events),
        }
    }
}

/// Queues a profile's events for `socket`, whose session the caller holds, stopping at the
/// first refusal.
pub(super) fn emit_all(
    session: Option<&Arc<Session>>,
    socket: &SocketRef,
    events: &[(String, Box<RawValue>)],
) -> Result<(), Refused> {
    events
        .iter()
        .try_for_each(|(name, payload)| session::emit_in(session, socket, name, payload))
}

/// One event's translations for the profiles (and places) of the sockets it goes to, each
/// made once: a fan-out to a thousand sockets of one profile translates the event once.
#[derive(Default)]
pub(super) struct Translations {
    made: Vec<(Arc<Profile>, Place, Events)>,
}

impl Translations {
    /// The translation for `profile` at `place`, made the first time it is asked for;
    /// `socket` is one of the device's sockets, which tells who the device's account is.
    pub(super) fn of(
        &mut self,
        profile: &Arc<Profile>,
        place: Place,
        name: &str,
        payload: &RawValue,
        socket: &SocketRef,
    ) -> &[(String, Box<RawValue>)] {
        let at = match self
            .made
            .iter()
            .position(|(made, at, _)| Arc::ptr_eq(made, profile) && *at == place)
        {
            Some(at) => at,
            None => {
                let me = me_of(socket);
                self.made.push((
                    profile.clone(),
                    place,
                    translate(profile, name, payload, me.as_deref(), place),
                ));
                self.made.len() - 1
            }
        };
        &self.made[at].2
    }
}
