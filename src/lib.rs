//! devicebridge links many messaging accounts ("devices") the way WhatsApp Web links a browser
//! to a phone, and bridges each to dashboards (Socket.IO), integrations (REST) and an upstream.
//!
//! # The path of an event
//!
//! ```text
//!  connector ──► device actor ──► store writer ──(commit)──► event bus ──► Socket.IO fanout
//!  (upstream)    (state machine)   (journal + webhook        │              (per-device, seq order)
//!                    ▲              outbox, group commit)    ├──► webhook sender (reads the outbox)
//!  REST / Socket.IO ─┘ commands                              └──► desktop and sound hooks
//!                      through a DeviceHandle                     (bounded queues, never block)
//! ```
//!
//! # The layers
//!
//! Each layer imports only from the ones below it, lowest first: [`model`] (the shared
//! vocabulary, importing nothing of the crate) → [`config`] → [`store`] with [`bus`] and
//! [`metrics`] → [`messaging`] → [`device`] → [`connector`] → [`hooks`] → [`api`] → [`app`] and
//! [`cli`]. `backoff`, `qr` and [`envelope`] (the error envelope) are leaf helpers.
//! `tests/architecture.rs` holds the order and four rules: the API never names a connector or
//! the actor's commands (it calls a device handle), handlers never publish domain events (the
//! store's writer does, after commit), SQL lives in the store, and an upstream's webhook
//! receiver is its connector's own route, which [`app`] mounts. `docs/architecture.md` has the
//! table.
//!
//! - [`model`] holds ids, messages, chats, events, device definitions, what connectors report
//!   and what devices ask of them.
//! - [`connector`] speaks to the upstream (the built-in simulator, a WAHA server, the WhatsApp
//!   Business Cloud API) in its own vocabulary; the device layer reaches it only through the
//!   `device::upstream::Connectors` trait, which `app` hands it.
//! - [`device`] runs one actor per device around a pure state machine, under a supervisor.
//!   Before an actor stores what its upstream reports, the ids that name a person without
//!   their number (WhatsApp's linked ids, Meta's user ids) become that number's chat id where
//!   it is known, so one person is one chat.
//! - [`store`] is embedded SQLite: one writer thread committing in batches; an event is
//!   journaled with a gap-free per-device `seq` in the same transaction as the change it
//!   describes, and published only after that commit.
//! - [`hooks`] act outside the daemon: signed webhooks from a durable outbox written with each
//!   event, desktop notifications and sounds on the host; [`metrics`] measures the daemon.
//! - [`api`] serves REST, the OpenAPI document and Socket.IO; handlers call device handles or
//!   the store and never emit events to sockets themselves.
//! - [`app`] wires the components together and shuts them down in order.

pub mod api;
pub mod app;
pub mod backoff;
pub mod bus;
pub mod cli;
pub mod config;
pub mod connector;
pub mod device;
pub mod envelope;
#[cfg(test)]
mod fuzz;
pub mod hooks;
pub mod messaging;
pub mod metrics;
pub mod model;
pub mod qr;
pub mod store;
pub mod tasks;

pub use app::{run, RunOptions};
