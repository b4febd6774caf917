//! The tools about devices: the fleet, one device's status, its QR code and its journal —
//! `GET /devices`, `GET /devices/{id}`, `GET …/qr` and `GET …/events`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{schemars, tool, tool_router};
use serde::Deserialize;

use super::answer::answer;
use super::Agent;
use crate::api::auth::{Caller, Scope};
use crate::api::fleet::{self, QrView};
use crate::api::journal;
use crate::model::{DeviceId, List};

/// A tool's input that names a device and nothing else.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct OneDevice {
    /// The device's id, as `list_devices` gives it.
    pub device_id: String,
}

/// Where to read a device's journal from.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct JournalRead {
    /// The device's id, as `list_devices` gives it.
    pub device_id: String,
    /// The last `seq` already seen: the page starts after it. 0 (the default) reads from the
    /// start; pass the previous page's `nextAfter` to read on.
    #[serde(default)]
    pub after: u64,
    /// The most events in the page, 1 to 1000 (default 100).
    pub limit: Option<u64>,
}

#[tool_router(router = device_tools, vis = "pub(super)")]
impl Agent {
    #[tool(
        description = "List the devices (linked messaging accounts) this credential may see, \
                       with each one's state (`ready` when it can send), state reason, linked \
                       account (`me`) and health. Needs the `read` scope.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_devices(&self, caller: Caller) -> CallToolResult {
        answer(async {
            caller.authorize(Scope::Read, None)?;
            let items = fleet::visible(&self.state, &caller).await?;
            Ok(List { items })
        })
        .await
    }

    #[tool(
        description = "One device in full: its state and why, the account it is linked to, \
                       the health of its session, and its send governor (the pace and limits \
                       of its sends, and how much is left today). Needs the `read` scope on \
                       the device.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn device_status(
        &self,
        caller: Caller,
        Parameters(input): Parameters<OneDevice>,
    ) -> CallToolResult {
        answer(async {
            let id = DeviceId::parse(&input.device_id)?;
            let device = fleet::handle(&self.state, &caller, Scope::Read, &id)?;
            fleet::view(&self.state, device.id).await
        })
        .await
    }

    #[tool(
        description = "The QR code a device shows while it waits to be linked (state `qr`): \
                       the text it encodes, the picture as a `data:image/png;base64,` URL, when \
                       it expires and which attempt it is. A person scans it with the phone's \
                       messaging app. Needs the `control` scope on the device; a device in \
                       another state answers `invalid_state`.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_qr(
        &self,
        caller: Caller,
        Parameters(input): Parameters<OneDevice>,
    ) -> CallToolResult {
        answer(async {
            let id = DeviceId::parse(&input.device_id)?;
            let device = fleet::handle(&self.state, &caller, Scope::Control, &id)?;
            Ok(QrView::from(fleet::qr(&self.state, &device).await?))
        })
        .await
    }

    #[tool(
        description = "A page of a device's event journal, oldest first: every message, ack, \
                       state change and the like, each with its `seq`. Read on from the \
                       answer's `nextAfter`; `head` is the newest `seq`. Needs the `read` \
                       scope on the device.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_events(
        &self,
        caller: Caller,
        Parameters(input): Parameters<JournalRead>,
    ) -> CallToolResult {
        answer(async {
            let id = DeviceId::parse(&input.device_id)?;
            journal::page(&self.state, &caller, &id, input.after, input.limit).await
        })
        .await
    }
}
