//! Which events a webhook subscription takes, as the OpenAPI document states it: `*` or the
//! names of [`EventKind`]s, at least one.

use utoipa::openapi::schema::ArrayBuilder;
use utoipa::openapi::Array;

use super::kind::EventKind;
use crate::model::constraints::{or_null, selection, text};

/// An event selection, as webhook subscriptions take it: `*` or event names, at least one.
pub fn events() -> Array {
    event_selection().build()
}

/// An event selection that may be left out for every event (`["*"]`).
pub fn all_events() -> Array {
    event_selection()
        .default(Some(serde_json::json!(["*"])))
        .build()
}

/// An event selection a change may leave out or give as `null`, both leaving it as it is.
pub fn optional_events() -> Array {
    or_null(event_selection())
}

fn event_selection() -> ArrayBuilder {
    let names = std::iter::once("*").chain(EventKind::ALL.map(EventKind::as_str));
    let entry =
        text("An event's name, as on Socket.IO, or `*` for every event.").enum_values(Some(names));
    selection(entry, "Event names, as on Socket.IO, or `*` for all.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_selection_lists_every_event_and_the_wildcard() {
        let events = serde_json::to_value(events()).unwrap();
        let listed = events["items"]["enum"].as_array().unwrap();
        assert_eq!(listed.len(), EventKind::ALL.len() + 1);
        assert_eq!(listed[0], "*");
    }
}
