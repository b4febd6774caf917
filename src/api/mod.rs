//! The daemon's faces: REST under `/api/v1`, Socket.IO on `server.socket_path`, MCP at
//! `/mcp`, and the pairing page. Handlers extract, call a device handle or the store, and map
//! the result; they never talk to a connector and never emit to sockets themselves.

mod accept;
pub mod auth;
mod connection;
pub mod contacts;
pub mod conversations;
pub mod dashboard;
pub mod error;
mod extract;
pub mod fleet;
pub mod groups;
pub mod journal;
pub mod mcp;
pub mod openapi;
pub mod origins;
pub mod profile;
mod reply;
pub mod rest;
pub mod serve;
pub mod socket;
#[cfg(test)]
mod typescript;

use std::sync::Arc;

use crate::config::Settings;
use crate::device::pairings::Pairings;
use crate::device::DeviceManager;
use crate::hooks::sinks::Sinks;
use crate::hooks::webhook::Webhooks;
use crate::metrics::Metrics;
use crate::store::Store;

/// Everything a handler may use; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub devices: DeviceManager,
    pub auth: auth::Authenticator,
    pub sockets: socket::SocketHub,
    pub pairings: Pairings,
    pub conversations: conversations::Conversations,
    pub contacts: contacts::ContactBook,
    pub webhooks: Webhooks,
    pub sinks: Sinks,
    pub metrics: Arc<Metrics>,
    pub readiness: rest::readiness::Readiness,
    pub profiles: profile::Profiles,
}

/// The connectors' webhook receivers, which `app` mounts beside the API, reach devices through
/// the device manager.
impl axum::extract::FromRef<AppState> for DeviceManager {
    fn from_ref(state: &AppState) -> Self {
        state.devices.clone()
    }
}
