//! What one socket is shown of its device's events, live and replayed alike: linking codes
//! (`qr`, `pairing:code`) only with a credential that may see them, and only the chats it
//! joined, if it joined any — save what its profile sends a socket outside a chat's room.

use std::sync::Arc;

use socketioxide::extract::SocketRef;

use super::protocol;
use super::rooms::{Rooms, Subject};
use crate::api::auth::Caller;
use crate::api::profile::{Place, Profile};
use crate::model::event::EventKind;
use crate::model::DeviceId;

/// What one socket is shown of its device's events, live and replayed alike.
pub(super) struct Visibility {
    /// Whether its credential may see the device's linking codes (decided once, as it
    /// attaches).
    sees_linking_codes: bool,
    /// The protocol profile it speaks, if any.
    pub(super) profile: Option<Arc<Profile>>,
    /// The chats it joined, which it may change at any time.
    rooms: Rooms,
}

impl Visibility {
    pub(super) fn of(socket: &SocketRef) -> Self {
        Visibility {
            sees_linking_codes: sees_linking_codes(socket),
            rooms: Rooms::of(socket),
            profile: protocol::profile_of(socket),
        }
    }

    /// Whether the socket is sent `event` as it is (in its profile's words).
    pub(super) fn shows(&self, event: &Subject<'_>) -> bool {
        self.place(event) == Some(Place::Room)
    }

    /// Where the socket stands towards `event`: in its room, outside it with a profile that
    /// still sends something there, or (`None`) not sent it at all.
    pub(super) fn place(&self, event: &Subject<'_>) -> Option<Place> {
        let kind = event.event().kind;
        if kind.carries_linking_code() && !self.sees_linking_codes {
            return None;
        }
        if self.rooms.admit(event) {
            return Some(Place::Room);
        }
        self.profile
            .as_ref()
            .filter(|profile| profile.speaks_outside(kind.as_str()))
            .map(|_| Place::Outside)
    }
}

/// Whether `socket`'s credential may see the linking codes of the device whose namespace it
/// is on: [`Caller::may_see`] decides for every kind that carries one alike.
fn sees_linking_codes(socket: &SocketRef) -> bool {
    let device = socket
        .ns()
        .strip_prefix("/device/")
        .and_then(|id| DeviceId::parse(id).ok());
    let caller = socket.extensions.get::<Arc<Caller>>();
    matches!((caller, device), (Some(caller), Some(device)) if caller.may_see(EventKind::Qr, &device))
}
