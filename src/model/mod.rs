//! The vocabulary every layer shares: ids, messages and chats, the events that happen to a
//! device, what connectors report and what devices ask of them.
//!
//! This module imports nothing of the crate, so any layer can use it without reaching up: a
//! type that two layers both need belongs here, and a type that needs the store, a device or
//! a connector to mean anything does not.

pub mod capability;
pub mod constraints;
pub mod content;
pub mod event;
pub mod governor;
pub mod group;
pub mod ids;
pub mod inbound;
pub mod message;
pub mod nested;
pub mod pairing;
pub mod sink;
pub mod spec;
pub mod state;
pub mod time;
#[cfg(test)]
pub(crate) mod typescript;
pub mod upstream;
pub mod whole;

pub use ids::{check_selection, DeviceId, InvalidDeviceId, InvalidSelection};
pub use message::{
    fitting, Ack, Chat, ChatFlags, Contact, List, Media, MediaKind, Message, Page, RelayStatus,
    ReplyBudget, TempId, Template,
};
pub use state::StateName;
pub use time::rfc3339;
