//! `/api/v1/devices/{id}/simulator/act`: the simulated world acts on cue, as if the upstream
//! reported it, so that tests, demos and the dashboard have someone on the other side.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::devices::{handle, COMMAND_REFUSED};
use crate::api::auth::{Caller, Scope};
use crate::api::error::ApiError;
use crate::api::extract::{ApiJson, DevicePath};
use crate::api::openapi::{Refused, JSON_BODY};
use crate::api::AppState;
use crate::messaging::{check_id, NewPoll, SendRequest};
use crate::model::content::{ContactCard, Location};
use crate::model::upstream::{Act, Cue};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(simulator_act))
}

/// What the simulated world is to do (`do`), and who does it.
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "SimulatorAct"))]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
#[schema(example = json!({ "do": "status", "from": "15550000002@c.us", "text": "At the beach" }))]
pub(super) enum ActBody {
    /// A contact writes, in their own chat or in the group `chatId`: a `text`, or a
    /// `location`, `contacts` or a `poll`, checked as a send is.
    Message {
        from: String,
        #[serde(rename = "chatId", default)]
        #[cfg_attr(test, ts(optional = nullable))]
        chat_id: Option<String>,
        #[serde(default)]
        #[cfg_attr(test, ts(optional = nullable))]
        text: String,
        #[serde(default)]
        #[cfg_attr(test, ts(optional = nullable))]
        location: Option<Location>,
        #[serde(default)]
        #[cfg_attr(test, ts(optional = nullable))]
        contacts: Option<Vec<ContactCard>>,
        #[serde(default)]
        #[cfg_attr(test, ts(optional = nullable))]
        poll: Option<NewPoll>,
    },
    /// A contact posts a story (`status@broadcast`).
    Status {
        from: String,
        #[schema(min_length = 1)]
        text: String,
    },
    /// A channel posts: `channel` is its id, with or without `@newsletter`.
    ChannelPost {
        channel: String,
        #[schema(min_length = 1)]
        text: String,
    },
}

/// The message the act made, by the id the upstream gave it.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "SimulatorActed"))]
#[serde(rename_all = "camelCase")]
pub(super) struct Acted {
    upstream_id: String,
}

impl ActBody {
    /// The act, named `upstream_id`, once its fields are checked: ids an upstream could have
    /// given, and something said (a message's content is checked as a send's is).
    fn act(self, upstream_id: String) -> Result<Act, ApiError> {
        let (ids, text) = match &self {
            ActBody::Message { from, chat_id, .. } => (
                vec![("from", Some(from)), ("chatId", chat_id.as_ref())],
                None,
            ),
            ActBody::Status { from, text } => (vec![("from", Some(from))], Some(text)),
            ActBody::ChannelPost { channel, text } => {
                (vec![("channel", Some(channel))], Some(text))
            }
        };
        for (field, id) in ids {
            if let Some(id) = id {
                check_id(field, id)?;
            }
        }
        if text.is_some_and(String::is_empty) {
            return Err(ApiError::bad_request("`text` must not be empty"));
        }
        Ok(match self {
            ActBody::Message {
                from,
                chat_id,
                text,
                location,
                contacts,
                poll,
            } => {
                let written = SendRequest {
                    chat_id: from.clone(),
                    text,
                    media: None,
                    location,
                    contacts,
                    poll,
                    reply_to: None,
                    temp_id: None,
                    template: None,
                };
                let (kind, content) = written.composed()?;
                Act::Message {
                    upstream_id,
                    from,
                    chat_id,
                    kind: kind.to_owned(),
                    text: written.text,
                    content: Box::new(content),
                }
            }
            ActBody::Status { from, text } => Act::Status {
                upstream_id,
                from,
                text,
            },
            ActBody::ChannelPost { channel, text } => Act::ChannelPost {
                upstream_id,
                channel: channel.trim_end_matches("@newsletter").to_owned(),
                text,
            },
        })
    }
}

/// Simulator: someone in the simulated world acts
///
/// As if the upstream reported it: a contact writes (`message`), posts a story (`status`), or a
/// channel posts (`channel_post`). Answers with the upstream id of the message it made. A
/// device of another connector has no simulated world (`unsupported_by_connector`).
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/act", tag = "devices",
    params(DevicePath),
    request_body = ActBody,
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the act was reported", body = Acted), Refused<{ COMMAND_REFUSED | JSON_BODY }>))]
async fn simulator_act(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    ApiJson(body): ApiJson<ActBody>,
) -> Result<Json<Acted>, ApiError> {
    let device = handle(&state, &caller, Scope::Control, &id)?;
    let upstream_id = format!("sim_{}", ulid::Ulid::new());
    let act = body.act(upstream_id.clone())?;
    device.cue(Cue::Act(Box::new(act))).await?;
    Ok(Json(Acted { upstream_id }))
}
