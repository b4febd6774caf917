//! devicebridge links many messaging accounts ("devices") the way WhatsApp Web links a browser
//! to a phone, and bridges each to dashboards (Socket.IO), integrations (REST) and an upstream.
//!
//! # The path of an event
//!
//! ```text
//!  connector ──► device actor ──► store writer ──(commit)──► event bus ──► Socket.IO fanout
//!  (upstream)    (state machine)   (journal + webhook        │              (per-device, seq order)
//!                    ▲              outbox, group commit)    ├──► webhook sender (reads the outbox)
//!  REST / Socket.IO ─┘ commands                              ├──► event sinks (read the journal)
//!                                                            └──► desktop and sound hooks
//!                      through a DeviceHandle                     (bounded queues, never block)
//! ```
//!
//! # The layers
//!
//! Each layer imports only from the ones below it, lowest first: [`model`] (the shared
//! vocabulary, importing nothing of the crate) → [`config`] → [`store`] with [`bus`] and
//! [`metrics`] → [`messaging`] → [`device`] → [`connector`] → [`hooks`] → [`api`] → [`app`] and
//! [`cli`]. `backoff`, [`console`] (standard output, shared by the log lines and the QR codes
//! drawn there), `qr`, [`tasks`] (tasks stopped together within a deadline) and [`envelope`]
//! (the error envelope) are leaf helpers.
//! `tests/architecture.rs` holds the order and its rules: the API never names a connector or
//! the actor's commands (it calls a device handle), handlers never publish domain events (the
//! store's writer does, after commit), SQL lives in the store, an upstream's webhook receiver
//! is its connector's own route, which [`app`] mounts; no two modules of a layer, nor two files
//! of a folder, use each other; no source file but a test is over 600 lines, and `main.rs`
//! only wires. `docs/architecture.md` has the table.
//!
//! # The map
//!
//! - [`model`] holds ids, messages, chats, events, device definitions, what connectors report
//!   and what devices ask of them.
//! - [`config`] reads the settings from their layers (defaults, files, the environment, the
//!   command line) and reports every problem at once.
//! - [`store`] keeps everything on SQLite (a file in the data directory) or PostgreSQL (shared
//!   by the nodes of a cluster), the same statements on both: one writer thread committing in
//!   batches; an event is journaled with a gap-free per-device `seq` in the same transaction as
//!   the change it describes, and published on the [`bus`] only after that commit. On
//!   PostgreSQL it also holds the cluster's nodes and device leases, and hears the other
//!   nodes' commits (`store::cluster`). [`metrics`] measures the daemon.
//! - [`messaging`] is what clients may do to chats and messages, each one store write that
//!   journals its events.
//! - [`device`] runs one actor per device around a pure state machine, under a supervisor.
//!   Before an actor stores what its upstream reports, the ids that name a person without
//!   their number (WhatsApp's linked ids, Meta's user ids) become that number's chat id where
//!   it is known, so one person is one chat. The manager is a front over the fleet's
//!   definitions, the supervisor and the upstreams' webhooks; in a cluster (`device::cluster`)
//!   a node runs the devices whose lease it holds, and a device's handle carries requests to
//!   the node that runs it.
//! - [`connector`] speaks to the upstream (the built-in simulator, a WAHA server, the WhatsApp
//!   Business Cloud API) in its own vocabulary; the device layer reaches it only through the
//!   `device::upstream::Connectors` trait, which `app` hands it.
//! - [`hooks`] act outside the daemon: signed webhooks from a durable outbox written with each
//!   event, event sinks (NATS, Redis, RabbitMQ) reading the journal from cursors of their
//!   own, desktop notifications and sounds on the host.
//! - [`api`] serves REST, the OpenAPI document, Socket.IO with its protocol profiles, MCP for
//!   AI agents, and the dashboard; handlers call device handles or the store and never emit events to sockets
//!   themselves.
//! - [`app`] wires the components together, a cluster's node included, and shuts them down in
//!   order; [`cli`] is the command line: `serve`, the REST client's subcommands, and `migrate`,
//!   which copies a SQLite database into PostgreSQL.

pub mod api;
pub mod app;
pub mod backoff;
pub mod bus;
pub mod cli;
pub mod config;
pub mod connector;
pub mod console;
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
