//! What a tool answers: the JSON a REST route would answer, or its error envelope marked as
//! a tool error.

use std::future::Future;

use rmcp::model::CallToolResult;
use serde::Serialize;

use crate::api::error::{ApiError, ErrorEnvelope};

/// Runs a tool's work and answers with its outcome, both as structured content and as its
/// JSON text, since clients show one or the other. A failure is a tool error (`isError`), not
/// a protocol error: MCP clients hand a tool error's content to the model, which can read the
/// code and act on it (another device, another scope), whereas a protocol error reaches it
/// as an opaque failure.
pub(super) async fn answer<T: Serialize>(
    work: impl Future<Output = Result<T, ApiError>>,
) -> CallToolResult {
    let outcome = work
        .await
        .and_then(|value| serde_json::to_value(value).map_err(ApiError::internal));
    match outcome {
        Ok(value) => CallToolResult::structured(value),
        Err(error) => {
            let envelope = serde_json::to_value(ErrorEnvelope { error }).unwrap_or_default();
            CallToolResult::structured_error(envelope)
        }
    }
}
