//! A page of a device's journal for pull consumers, as REST and MCP give it: the events a
//! caller may see after a `seq`, cut to the reply budget, with where the next page starts.

use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{Caller, Scope};
use super::error::ApiError;
use super::extract::page_limit;
use super::AppState;
use crate::device::DeviceError;
use crate::model::{
    event::{Envelope, JournaledEvent},
    fitting, DeviceId,
};
use crate::store;

/// Page size when a request names none, and the most it may ask for.
const DEFAULT_EVENTS_PAGE: u64 = 100;
const MAX_EVENTS_PAGE: u64 = 1000;

/// The events of one page, kept whole so that the answer can borrow them.
pub struct JournalPage {
    events: Vec<JournaledEvent>,
    head: u64,
    recovered: bool,
    next_after: Option<u64>,
}

/// A page of a device's journal, as it is written.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "JournalPage"))]
#[serde(rename_all = "camelCase")]
pub struct EventPage<'a> {
    items: Vec<Envelope<'a>>,
    /// The device's last `seq`.
    head: u64,
    /// False when entries after `after` were already pruned.
    recovered: bool,
    /// The `after` of the next page: the page may end early to stay within
    /// `limits.max_reply_bytes`, and `qr` entries are left out for credentials without the
    /// `control` scope.
    next_after: Option<u64>,
}

/// Written as [`EventPage`].
impl Serialize for JournalPage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wire().serialize(serializer)
    }
}

impl JournalPage {
    fn wire(&self) -> EventPage<'_> {
        EventPage {
            items: self.events.iter().map(JournaledEvent::envelope).collect(),
            head: self.head,
            recovered: self.recovered,
            next_after: self.next_after,
        }
    }
}

/// Device `id`'s journal after `after`, oldest first: at most `limit` events (100 if none is
/// asked for, 1000 at most), of those `caller` may see (see [`Caller::may_see`]).
pub async fn page(
    state: &AppState,
    caller: &Caller,
    id: &DeviceId,
    after: u64,
    limit: Option<u64>,
) -> Result<JournalPage, ApiError> {
    caller.authorize(Scope::Read, Some(id))?;
    state.devices.handle(id).ok_or(DeviceError::NotFound)?;
    let limit = page_limit(limit, DEFAULT_EVENTS_PAGE, MAX_EVENTS_PAGE)?;
    let device = id.clone();
    let read = state
        .store
        .read(move |conn| store::journal::read_after(conn, &device, after, limit))
        .await?;
    let last_read = read.events.last().map(|event| event.seq);
    let mut visible: Vec<JournaledEvent> = read
        .events
        .into_iter()
        .filter(|event| caller.may_see(event.kind, id))
        .collect();
    let envelopes: Vec<_> = visible.iter().map(JournaledEvent::envelope).collect();
    // Cut to the reply budget; `nextAfter` is where the next page starts: the last event
    // given, or the last one read when the rest of the page was not for this caller.
    let fit = fitting(&envelopes, state.settings.limits.max_reply_bytes);
    let next_after = match fit < visible.len() {
        true => visible.get(fit.saturating_sub(1)).map(|event| event.seq),
        false => last_read,
    };
    visible.truncate(fit);
    Ok(JournalPage {
        events: visible,
        head: read.head,
        recovered: read.complete,
        next_after,
    })
}
