//! `/mcp`: the Model Context Protocol, for AI agents — a third face beside REST and
//! Socket.IO, calling the same services with the same credentials and scopes.
//!
//! Served over streamable HTTP by the official SDK (`rmcp`), statelessly: every POST is a
//! whole exchange, answered with JSON, and no session lives in this node's memory. An agent
//! may therefore reach any node of a cluster, and a restart loses nothing of its
//! conversation; there is nothing for the server to push between requests, since an agent
//! that wants the device's events pages through them (`list_events`).
//!
//! Each tool mirrors a REST route and checks what that route checks, in the same words: the
//! scope and the device ([`Caller::authorize`]), then the same call into
//! [`super::conversations`], [`super::fleet`] or [`super::journal`]. What goes wrong comes
//! back as a tool error carrying the REST error envelope, so an agent reads `forbidden` or
//! `device_not_found` where a script would.

mod answer;
mod auth;
mod chats;
mod devices;
mod exchange;

pub use exchange::{routes, Server};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};
use rmcp::{tool_handler, ServerHandler};

use super::auth::{Caller, Scope};
use super::error::ApiError;
use super::AppState;
use crate::model::DeviceId;

/// The server one request talks to: the daemon's services and the tools over them.
#[derive(Clone)]
struct Agent {
    state: AppState,
    tool_router: ToolRouter<Agent>,
}

impl Agent {
    fn new(state: AppState) -> Self {
        Agent {
            state,
            tool_router: Self::device_tools() + Self::chat_tools(),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Agent {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "devicebridge links messaging accounts (devices). Start with `list_devices`; \
                 chats and messages are per device (`deviceId`), chats by their `chatId`. \
                 Lists come in pages: pass a page's `nextCursor` as the next call's `cursor` \
                 (chats) or `before` (messages). Errors carry a stable `code` such as \
                 `forbidden` or `device_not_found`.",
            )
    }
}

/// The device a tool's input names, once `caller` may act on it with `scope`: the check every
/// REST route about a device makes first.
fn device(caller: &Caller, scope: Scope, device_id: &str) -> Result<DeviceId, ApiError> {
    let id = DeviceId::parse(device_id)?;
    caller.authorize(scope, Some(&id))?;
    Ok(id)
}

/// The caller of the request a tool serves, as [`auth::authenticate`] found it.
impl<C: rmcp::handler::server::common::AsRequestContext>
    rmcp::handler::server::common::FromContextPart<C> for Caller
{
    fn from_context_part(context: &mut C) -> Result<Self, rmcp::ErrorData> {
        context
            .as_request_context()
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .cloned()
            .ok_or_else(|| rmcp::ErrorData::internal_error("no credential was checked", None))
    }
}
