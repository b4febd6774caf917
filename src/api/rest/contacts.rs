//! `/api/v1/devices/{id}/contacts/{contactId}` (one contact, their profile picture, blocking
//! them) and `…/numbers/{phone}` (whether a number has WhatsApp): see
//! [`crate::api::contacts`]. The list of contacts is with the chats' routes.

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::Json;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::chats::{ids, Ids, IdsPath};
use super::media::served;
use crate::api::auth::{Caller, Scope};
use crate::api::contacts::NumberCheck;
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{DevicePath, LinkCaller};
use crate::api::openapi::{codes, Codes, File, Refused, CREDENTIALS, DEVICE, STORES};
use crate::api::AppState;
use crate::model::Contact;

/// What a route about one contact can meet besides its device: a contact id that is no id, a
/// contact neither the device nor its upstream knows, a connector without the operation.
const CONTACT: Codes = CREDENTIALS
    | DEVICE
    | codes(&[
        ErrorCode::BadRequest,
        ErrorCode::ContactNotFound,
        ErrorCode::UnsupportedByConnector,
    ]);

/// What asking the upstream can meet: a device that cannot ask it now, an upstream that
/// failed, a store that cannot keep what it said.
const ASKS: Codes = STORES | codes(&[ErrorCode::DeviceNotReady, ErrorCode::UpstreamError]);

/// A phone number in a path, as people write it (see `constraints::phone`).
struct Phone;

impl PartialSchema for Phone {
    fn schema() -> RefOr<Schema> {
        crate::model::constraints::phone().into()
    }
}

impl ToSchema for Phone {}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show_contact))
        .routes(routes!(contact_picture))
        .routes(routes!(block_contact))
        .routes(routes!(unblock_contact))
        .routes(routes!(check_number))
}

/// One contact, looked up
///
/// Asks the upstream for their profile (names, "about") and whether they have a picture, and
/// keeps what it says (`contact:update` when that changed something). When the upstream
/// cannot be asked, the contact is answered as the device knows it; one neither knows is
/// `contact_not_found`.
#[utoipa::path(get, path = "/api/v1/devices/{id}/contacts/{contactId}", tag = "chats",
    params(DevicePath, ("contactId" = String, Path, description = "the contact's id, as the upstream names them: 1 to 256 characters", min_length = 1, max_length = 256, example = "15551234567@c.us")),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the contact", body = Contact), Refused<{ CONTACT | ASKS }>))]
async fn show_contact(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
) -> Result<Json<Contact>, ApiError> {
    let Ids(id, contact_id) = ids(path)?;
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(state.contacts.contact(&id, contact_id).await?))
}

/// A contact's profile picture
///
/// Served by the daemon (a contact's `pictureUrl`): fetched from the upstream on the first
/// ask and kept for a day, within `limits.picture_cache_bytes`. A contact without one is
/// `media_not_found`.
#[utoipa::path(get, path = "/api/v1/devices/{id}/contacts/{contactId}/picture", tag = "chats",
    params(DevicePath, ("contactId" = String, Path, description = "the contact's id, as the upstream names them: 1 to 256 characters", min_length = 1, max_length = 256, example = "15551234567@c.us"),
        ("access_token" = Option<String>, Query, description = "an access token, for a link that can send no header (`<img src>`); API keys are not taken here")),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the picture, with its type", content_type = "image/*", body = File),
        Refused<{ CONTACT | ASKS | codes(&[ErrorCode::MediaNotFound]) }>))]
async fn contact_picture(
    State(state): State<AppState>,
    LinkCaller(caller): LinkCaller,
    path: IdsPath,
) -> Result<Response, ApiError> {
    let Ids(id, contact_id) = ids(path)?;
    caller.authorize(Scope::Read, Some(&id))?;
    let picture = state.contacts.picture(&id, contact_id).await?;
    let length = Some(picture.bytes.len() as u64);
    Ok(served(&picture.mime, length, Body::from(picture.bytes)))
}

/// Block a contact
///
/// Stored at once and told to the upstream after the device's messages; `contact:update`
/// tells every client. Blocking someone blocked already changes nothing.
#[utoipa::path(post, path = "/api/v1/devices/{id}/contacts/{contactId}/block", tag = "chats",
    params(DevicePath, ("contactId" = String, Path, description = "the contact's id, as the upstream names them: 1 to 256 characters", min_length = 1, max_length = 256, example = "15551234567@c.us")),
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = OK, description = "the contact, blocked", body = Contact),
        Refused<{ CONTACT | STORES | codes(&[ErrorCode::DeviceNotReady]) }>))]
async fn block_contact(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
) -> Result<Json<Contact>, ApiError> {
    blocking(state, caller, path, true).await
}

/// Unblock a contact
///
/// As blocking, the other way.
#[utoipa::path(post, path = "/api/v1/devices/{id}/contacts/{contactId}/unblock", tag = "chats",
    params(DevicePath, ("contactId" = String, Path, description = "the contact's id, as the upstream names them: 1 to 256 characters", min_length = 1, max_length = 256, example = "15551234567@c.us")),
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = OK, description = "the contact, unblocked", body = Contact),
        Refused<{ CONTACT | STORES | codes(&[ErrorCode::DeviceNotReady]) }>))]
async fn unblock_contact(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
) -> Result<Json<Contact>, ApiError> {
    blocking(state, caller, path, false).await
}

async fn blocking(
    state: AppState,
    caller: Caller,
    path: IdsPath,
    blocked: bool,
) -> Result<Json<Contact>, ApiError> {
    let Ids(id, contact_id) = ids(path)?;
    caller.authorize(Scope::Send, Some(&id))?;
    Ok(Json(state.contacts.block(&id, contact_id, blocked).await?))
}

/// Whether a number has WhatsApp
///
/// The upstream looks the number up; `chatId` is the chat to write to it in. The device's send
/// governor paces the checks (`number_checks_per_minute`): one too many is `rate_limited`,
/// saying in how many seconds one more may go.
#[utoipa::path(get, path = "/api/v1/devices/{id}/numbers/{phone}", tag = "chats",
    params(DevicePath, ("phone" = inline(Phone), Path, description = "the number", example = "+15551234567")),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "whether it has an account, and its chat", body = NumberCheck),
        Refused<{ CREDENTIALS | DEVICE | codes(&[ErrorCode::BadRequest, ErrorCode::UnsupportedByConnector, ErrorCode::DeviceNotReady, ErrorCode::UpstreamError, ErrorCode::RateLimited]) }>))]
async fn check_number(
    State(state): State<AppState>,
    caller: Caller,
    path: IdsPath,
) -> Result<Json<NumberCheck>, ApiError> {
    let Ids(id, phone) = ids(path)?;
    caller.authorize(Scope::Read, Some(&id))?;
    Ok(Json(state.contacts.check_number(&id, &phone).await?))
}
