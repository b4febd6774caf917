//! `/api/v1/devices/{id}/simulator/act`: the simulated world acts on cue, as if the upstream
//! reported it, so that tests, demos and the dashboard have someone on the other side.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::devices::COMMAND_REFUSED;
use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{ApiJson, DevicePath};
use crate::api::fleet::handle;
use crate::api::openapi::{code, Refused, JSON_BODY};
use crate::api::AppState;
use crate::messaging::{check_id, NewPoll, SendRequest};
use crate::model::content::{ContactCard, Location};
use crate::model::group::{check_name, check_participant, ParticipantAction, MAX_PARTICIPANTS};
use crate::model::upstream::{Act, Cue, GroupAct, GroupCue};
use crate::model::{Media, MediaKind, Message};

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
        /// Written from the contact's linked id (its `lid` in the device file), as WhatsApp
        /// names people whose number it has not told yet.
        #[serde(rename = "asLid", default)]
        #[cfg_attr(test, ts(optional = nullable))]
        as_lid: bool,
        #[serde(default)]
        #[cfg_attr(test, ts(optional = nullable))]
        text: String,
        #[serde(default)]
        #[cfg_attr(test, ts(optional = nullable))]
        location: Option<Box<Location>>,
        #[serde(default)]
        #[cfg_attr(test, ts(optional = nullable))]
        contacts: Option<Vec<ContactCard>>,
        #[serde(default)]
        #[cfg_attr(test, ts(optional = nullable))]
        poll: Option<Box<NewPoll>>,
        /// A file the simulated phone makes up: bytes of this size and type.
        #[serde(default)]
        #[cfg_attr(test, ts(optional = nullable))]
        media: Option<Box<SimulatedFile>>,
    },
    /// The upstream tells which linked id is `contact`'s (its `lid` in the device file):
    /// what came from that linked id becomes the contact's, in one chat.
    RevealLid { contact: String },
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
    /// A contact edits one of their messages (`messageId`: its `id` or `upstreamId`).
    Edit {
        from: String,
        #[serde(rename = "messageId")]
        message_id: String,
        text: String,
    },
    /// A contact votes on a poll (`messageId`: its `id` or `upstreamId`); no options take
    /// their vote back.
    Vote {
        from: String,
        #[serde(rename = "messageId")]
        message_id: String,
        options: Vec<String>,
    },
    /// An admin of the group `chatId` adds `participants`.
    GroupAdd(GroupMembers),
    /// An admin of the group removes `participants` (the device's own id removes it).
    GroupRemove(GroupMembers),
    /// An admin of the group makes `participants` admins.
    GroupPromote(GroupMembers),
    /// An admin of the group makes `participants` plain members again.
    GroupDemote(GroupMembers),
    /// A member leaves the group.
    GroupLeave(GroupMember),
    /// A member renames the group to `name`.
    GroupRename(GroupMember),
}

/// Who in a group of the simulated world changes whom (`group_add`, …).
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct GroupMembers {
    from: String,
    #[schema(example = "120363025246125888@g.us")]
    chat_id: String,
    #[schema(min_items = 1, max_items = 256)]
    participants: Vec<String>,
}

/// A member of a group of the simulated world, leaving it or renaming it (`name`).
#[derive(Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct GroupMember {
    from: String,
    #[schema(example = "120363025246125888@g.us")]
    chat_id: String,
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    #[schema(max_length = 100)]
    name: Option<String>,
}

impl GroupMembers {
    /// The cue of `action` on the participants, named `upstream_id`, once checked.
    fn cue(self, upstream_id: String, action: ParticipantAction) -> Result<Cue, ApiError> {
        let change = GroupAct::Participants {
            action,
            participants: self.participants,
        };
        group_cue(upstream_id, self.from, self.chat_id, change)
    }
}

impl GroupMember {
    /// The cue of leaving the group, or renaming it, named `upstream_id`, once checked.
    fn cue(self, upstream_id: String, rename: bool) -> Result<Cue, ApiError> {
        let change = match rename {
            true => GroupAct::Rename {
                name: self.name.unwrap_or_default(),
            },
            false => GroupAct::Leave,
        };
        group_cue(upstream_id, self.from, self.chat_id, change)
    }
}

/// A group act's cue, its ids and name checked as a client's group request is checked.
fn group_cue(
    upstream_id: String,
    from: String,
    chat_id: String,
    change: GroupAct,
) -> Result<Cue, ApiError> {
    group_checked(&from, &chat_id, &change)?;
    Ok(Cue::Group(Box::new(GroupCue {
        upstream_id,
        from,
        chat_id,
        change,
    })))
}

/// Checks a group act's ids and name as a client's group request is checked.
fn group_checked(from: &str, chat_id: &str, change: &GroupAct) -> Result<(), ApiError> {
    check_participant(from).map_err(ApiError::bad_request)?;
    check_id("chatId", chat_id)?;
    match change {
        GroupAct::Participants { participants, .. } => {
            if participants.is_empty() || participants.len() > MAX_PARTICIPANTS {
                return Err(ApiError::bad_request(format!(
                    "`participants` must name 1 to {MAX_PARTICIPANTS} people"
                )));
            }
            participants
                .iter()
                .try_for_each(|id| check_participant(id))
                .map_err(ApiError::bad_request)
        }
        GroupAct::Rename { name } => check_name(name).map_err(ApiError::bad_request),
        GroupAct::Leave => Ok(()),
    }
}

/// A file a contact sends in the simulated world: what it is sent as, its type, name and
/// size. Its bytes are made up (the type's signature, then zeros) and kept like an upload, so
/// the message's `media.url` serves them.
#[derive(Debug, Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "type": "voice", "mime": "audio/ogg", "size": 4096 }))]
pub(super) struct SimulatedFile {
    #[serde(rename = "type")]
    kind: SimulatedKind,
    #[schema(schema_with = crate::model::constraints::media_type)]
    mime: String,
    #[serde(default)]
    #[cfg_attr(test, ts(optional = nullable))]
    name: Option<String>,
    #[schema(minimum = 1, maximum = 16_777_216)]
    size: u64,
}

/// What a contact's file is sent as: what a user can send, or a sticker, which users only
/// receive (a `image/webp` picture shown small and without a caption).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub(super) enum SimulatedKind {
    Image,
    Document,
    Voice,
    Video,
    Audio,
    Sticker,
}

impl SimulatedKind {
    /// The kind of file the message is composed with: a sticker is a picture.
    fn media_kind(self) -> MediaKind {
        match self {
            SimulatedKind::Image | SimulatedKind::Sticker => MediaKind::Image,
            SimulatedKind::Document => MediaKind::Document,
            SimulatedKind::Voice => MediaKind::Voice,
            SimulatedKind::Video => MediaKind::Video,
            SimulatedKind::Audio => MediaKind::Audio,
        }
    }

    /// Whether a file of MIME type `mime` can be sent as this.
    fn takes(self, mime: &str) -> bool {
        match self {
            SimulatedKind::Sticker => mime == "image/webp",
            other => other.media_kind().takes(mime),
        }
    }
}

/// The largest file the simulated phone makes up: what WAHA takes inline.
const MAX_SIMULATED_FILE: u64 = 16 * 1024 * 1024;

impl SimulatedFile {
    /// Makes the file up and keeps it for device `id`; answers the `media` to send it with.
    async fn make(self, state: &AppState, id: &crate::model::DeviceId) -> Result<Media, ApiError> {
        if !Media::is_mime_type(&self.mime) || !self.kind.takes(&self.mime) {
            return Err(ApiError::bad_request(format!(
                "`media.mime` must be a MIME type a {} can have",
                serde_json::to_value(self.kind).unwrap_or_default()
            )));
        }
        if !(1..=MAX_SIMULATED_FILE).contains(&self.size) {
            return Err(ApiError::bad_request(format!(
                "`media.size` must be 1 to {MAX_SIMULATED_FILE} bytes"
            )));
        }
        let signature: &[u8] = match self.mime.split(';').next().unwrap_or_default() {
            "image/png" => b"\x89PNG\r\n\x1a\n",
            "image/jpeg" => b"\xff\xd8\xff",
            "audio/ogg" => b"OggS",
            "video/mp4" => b"\0\0\0\x18ftypmp42",
            "image/webp" => b"RIFF\0\0\0\0WEBP",
            _ => b"",
        };
        // Written in chunks, so a large file never sits whole in memory.
        const CHUNK: u64 = 64 * 1024;
        let size = self.size;
        let chunks = (0..size.div_ceil(CHUNK)).map(move |index| {
            let length = CHUNK.min(size - index * CHUNK) as usize;
            let mut chunk = vec![0u8; length];
            if index == 0 {
                let head = signature.len().min(length);
                chunk[..head].copy_from_slice(&signature[..head]);
            }
            Ok::<_, std::convert::Infallible>(bytes::Bytes::from(chunk))
        });
        let library = state.devices.library();
        let media = library
            .uploads()
            .save(id, self.mime, self.name, futures_util::stream::iter(chunks))
            .await?;
        Ok(Media {
            kind: Some(self.kind.media_kind()),
            ..media
        })
    }
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
    /// given, and something said (a message's content is checked as a send's is). An act on a
    /// message (`edit`, `vote`) is checked against `target`, the message it names.
    fn act(
        self,
        upstream_id: String,
        target: Option<&Message>,
        file: Option<Media>,
    ) -> Result<Cue, ApiError> {
        let (ids, text) = match &self {
            ActBody::Edit { from, text, .. } => (vec![("from", Some(from))], Some(text)),
            ActBody::Vote { from, .. } => (vec![("from", Some(from))], None),
            ActBody::Message { from, chat_id, .. } => (
                vec![("from", Some(from)), ("chatId", chat_id.as_ref())],
                None,
            ),
            ActBody::Status { from, text } => (vec![("from", Some(from))], Some(text)),
            ActBody::RevealLid { contact } => (vec![("contact", Some(contact))], None),
            ActBody::ChannelPost { channel, text } => {
                (vec![("channel", Some(channel))], Some(text))
            }
            // Checked with their cue, below.
            ActBody::GroupAdd(_)
            | ActBody::GroupRemove(_)
            | ActBody::GroupPromote(_)
            | ActBody::GroupDemote(_)
            | ActBody::GroupLeave(_)
            | ActBody::GroupRename(_) => (Vec::new(), None),
        };
        for (field, id) in ids {
            if let Some(id) = id {
                check_id(field, id)?;
            }
        }
        if text.is_some_and(String::is_empty) {
            return Err(ApiError::bad_request("`text` must not be empty"));
        }
        let act = match self {
            ActBody::GroupAdd(body) => return body.cue(upstream_id, ParticipantAction::Add),
            ActBody::GroupRemove(body) => return body.cue(upstream_id, ParticipantAction::Remove),
            ActBody::GroupPromote(body) => {
                return body.cue(upstream_id, ParticipantAction::Promote)
            }
            ActBody::GroupDemote(body) => return body.cue(upstream_id, ParticipantAction::Demote),
            ActBody::GroupLeave(body) => return body.cue(upstream_id, false),
            ActBody::GroupRename(body) => return body.cue(upstream_id, true),
            ActBody::Message {
                from,
                chat_id,
                as_lid,
                text,
                location,
                contacts,
                poll,
                ..
            } => {
                let written = SendRequest {
                    chat_id: from.clone(),
                    text,
                    media: file,
                    location: location.map(|location| *location),
                    contacts,
                    poll: poll.map(|poll| *poll),
                    reply_to: None,
                    temp_id: None,
                    template: None,
                    forwarded: false,
                    forward_of: None,
                };
                let (kind, content) = written.composed()?;
                Act::Message {
                    upstream_id,
                    from,
                    chat_id,
                    as_lid,
                    kind: kind.to_owned(),
                    text: written.text,
                    media: written.media,
                    content: Box::new(content),
                }
            }
            ActBody::RevealLid { contact } => Act::RevealLid { contact },
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
            ActBody::Edit { from, text, .. } => {
                let target = target.filter(|target| target.from == from && !target.from_me);
                let Some(target) = target else {
                    return Err(ApiError::bad_request(format!(
                        "{from} can edit only a message they sent"
                    )));
                };
                Act::Edit {
                    upstream_id: upstream_of(target)?,
                    text,
                }
            }
            ActBody::Vote { from, options, .. } => {
                let poll = target.and_then(|target| target.content.poll.as_ref());
                let (Some(target), Some(poll)) = (target, poll) else {
                    return Err(ApiError::bad_request("only a poll takes votes"));
                };
                poll.check_vote(&options).map_err(ApiError::bad_request)?;
                Act::Vote {
                    upstream_id: upstream_of(target)?,
                    from,
                    options,
                }
            }
        };
        Ok(Cue::Act(Box::new(act)))
    }
}

/// The id the simulated phone knows a message by: one it has not been sent yet has none.
fn upstream_of(message: &Message) -> Result<String, ApiError> {
    message.upstream_id.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidState,
            "the simulated phone has not received this message yet",
        )
    })
}

/// Simulator: someone in the simulated world acts
///
/// As if the upstream reported it: a contact writes (`message`), posts a story (`status`), a
/// channel posts (`channel_post`), or a member changes a group (`group_add`, `group_remove`,
/// `group_promote`, `group_demote`, `group_leave`, `group_rename`: `group:update` and a
/// `system` line follow; the simulated upstream refuses, `upstream_error`, what WhatsApp would
/// refuse that member). Answers with the upstream id of the message it made. A device of
/// another connector has no simulated world (`unsupported_by_connector`).
#[utoipa::path(post, path = "/api/v1/devices/{id}/simulator/act", tag = "devices",
    params(DevicePath),
    request_body = ActBody,
    security(("apiKey" = ["control"]), ("bearer" = ["control"])),
    responses((status = OK, description = "the act was reported", body = Acted), Refused<{ COMMAND_REFUSED | JSON_BODY | code(ErrorCode::MessageNotFound) }>))]
async fn simulator_act(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    ApiJson(body): ApiJson<ActBody>,
) -> Result<Json<Acted>, ApiError> {
    let device = handle(&state, &caller, Scope::Control, &id)?;
    let target = match &body {
        ActBody::Edit { message_id, .. } | ActBody::Vote { message_id, .. } => {
            check_id("messageId", message_id)?;
            Some(state.conversations.message_named(&id, message_id).await?)
        }
        _ => None,
    };
    let mut body = body;
    let (file, sticker) = match &mut body {
        ActBody::Message { media, .. } => match media.take() {
            Some(file) => {
                let sticker = file.kind == SimulatedKind::Sticker;
                (Some(file.make(&state, &id).await?), sticker)
            }
            None => (None, false),
        },
        _ => (None, false),
    };
    let made = format!("sim_{}", ulid::Ulid::new());
    let mut act = body.act(made.clone(), target.as_ref(), file)?;
    if let (true, Cue::Act(act)) = (sticker, &mut act) {
        if let Act::Message { kind, .. } = act.as_mut() {
            "sticker".clone_into(kind);
        }
    }
    // An act on a message is known by that message's id; any other made a message.
    let upstream_id = match target.and_then(|target| target.upstream_id) {
        Some(known) => known,
        None => made,
    };
    device.cue(act).await?;
    Ok(Json(Acted { upstream_id }))
}
