//! What clients ask of chats and messages, and what they get back: the queries, bodies and
//! answers both faces (REST and Socket.IO) share.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `?limit&cursor` for chats.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChatsQuery {
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `nextCursor` of the previous page: its time (RFC 3339), `|`, a chat id.
    #[param(
        pattern = r"^[0-9]{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\|[\s\S]+$"
    )]
    pub cursor: Option<String>,
}

/// `?before&limit` for a chat's messages.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// A message id: the page ends before it (the `nextCursor` of the previous page).
    pub before: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// `?q&chatId&before&limit`: a search of a device's messages.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The words to find, each the start of a word of the text, all of them in the message;
    /// letters and digits make words, anything else separates them.
    #[param(min_length = 1, max_length = 256, example = "lunch tomorrow")]
    pub q: String,
    /// Only this chat's messages.
    #[param(min_length = 1, max_length = 256)]
    pub chat_id: Option<String>,
    /// A message id: the page ends before it (the `nextCursor` of the previous page).
    pub before: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// `{ phone }`: the number a chat is opened with.
#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "phone": "+1 555 000 0003" }))]
pub struct OpenChat {
    /// Country code first, with or without `+`; spaces, dashes, dots and parentheses are
    /// ignored.
    #[schema(schema_with = crate::model::constraints::phone)]
    pub phone: String,
}

/// `{ phone }`: the number of the phone a pairing code is asked for.
#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "phone": "+15550000009" }))]
pub struct PairingCodeRequest {
    #[schema(schema_with = crate::model::constraints::linking_phone)]
    pub phone: String,
}

/// What marking a chat read answers: the messages that were newly read.
#[derive(Debug, Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ReadReceipt {
    pub message_ids: Vec<String>,
}

/// `presence:get`: whose presence, by contact ids, by chat, both (their union), or neither
/// (every contact of the device).
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PresenceQuery {
    #[serde(default)]
    pub ids: Option<Vec<String>>,
    #[serde(default)]
    pub chat_id: Option<String>,
}

/// One contact's presence, as `presence:get` answers it.
#[derive(Debug, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    pub id: String,
    pub presence: String,
    pub last_seen_at: Option<String>,
}

impl Presence {
    /// Someone the device knows nothing of: offline, never seen. A client asking about
    /// anyone gets an answer, as a phone shows no presence for a stranger.
    pub(super) fn unknown(id: String) -> Self {
        Presence {
            id,
            presence: "offline".into(),
            last_seen_at: None,
        }
    }
}
