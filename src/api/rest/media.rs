//! `/api/v1/devices/{id}/media`: files uploaded to send (see [`crate::device::uploads`]), and
//! `…/media/{mediaId}`, the files messages point at, uploaded or kept by an upstream behind
//! its credentials.

use axum::body::Body;
use axum::extract::multipart::MultipartError;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::chats::{ids, Ids, IdsPath};
use crate::api::auth::{Caller, Scope};
use crate::api::error::{ApiError, ErrorCode};
use crate::api::extract::{DevicePath, LinkCaller};
use crate::api::openapi::{codes, File, Refused, CREDENTIALS, DEVICE, STORES};
use crate::api::AppState;
use crate::model::{DeviceId, Media};

/// The type of a file that says none.
const BYTES: &str = "application/octet-stream";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // The upload's own limit applies (see `device::uploads`), not the JSON bodies'.
        .routes(routes!(upload_media).layer(DefaultBodyLimit::disable()))
        .routes(routes!(download_media))
}

/// `?name=` of an upload.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// The file's name, for a body that is the file itself.
    name: Option<String>,
}

/// A file uploaded to send: its bytes, at least one (an empty file is refused, `bad_request`).
struct Upload;

impl PartialSchema for Upload {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .min_length(Some(1))
            .description(Some("The file's bytes; not empty."))
            .into()
    }
}

impl ToSchema for Upload {}

/// A browser's form with a file: the first field that carries one (with a file name) is the
/// file, whatever its name; a form with none is refused (`bad_request`).
struct UploadForm;

impl PartialSchema for UploadForm {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A form with a file field (`file` here; any name does), sent with its file name.",
            ))
            .property("file", Upload::schema())
            .required("file")
            .into()
    }
}

impl ToSchema for UploadForm {}

/// Upload a file to send
///
/// The body is the file (`Content-Type` its type, `?name` its name) or a
/// `multipart/form-data` form with one file field, as a browser's form sends it. The answer
/// is the `media` to send it with. The file is stored as it arrives, so a large one costs the
/// daemon a buffer, not its size.
#[utoipa::path(post, path = "/api/v1/devices/{id}/media", tag = "media",
    params(DevicePath, UploadQuery),
    request_body(content((Upload = "application/octet-stream"), (UploadForm = "multipart/form-data")),
        description = "the file, with its own type as `Content-Type` (any type: \
            `application/octet-stream` stands for them all), or a form with a file field"),
    security(("apiKey" = ["send"]), ("bearer" = ["send"])),
    responses((status = CREATED, description = "the `media` to send the file with", body = Media, headers(
            ("Location" = String, description = "the file's URL, the `url` of the answer"))),
        Refused<{ CREDENTIALS | DEVICE | STORES | codes(&[ErrorCode::BadRequest, ErrorCode::PayloadTooLarge]) }>))]
async fn upload_media(
    State(state): State<AppState>,
    caller: Caller,
    DevicePath(id): DevicePath,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    caller.authorize(Scope::Send, Some(&id))?;
    let name = query.name.filter(|name| !name.trim().is_empty());
    let content_type = match request.headers().get(header::CONTENT_TYPE) {
        None => BYTES.to_owned(),
        Some(value) => value
            .to_str()
            .ok()
            .filter(|mime| Media::is_mime_type(mime))
            .ok_or_else(|| {
                ApiError::bad_request("Content-Type must be the file's MIME type, as type/subtype")
            })?
            .to_owned(),
    };
    let media = if content_type.starts_with("multipart/form-data") {
        let form = Multipart::from_request(request, &state)
            .await
            .map_err(|refused| ApiError::bad_request(refused.body_text()))?;
        save_form(&state, &id, name, form).await?
    } else {
        let body = request.into_body().into_data_stream();
        save(&state, &id, content_type, name, body).await?
    };
    let location = HeaderValue::from_str(&media.url).map_err(ApiError::internal)?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(media),
    )
        .into_response())
}

/// Saves the form's first field that carries a file, with the type and name it gives
/// (`?name=` first).
async fn save_form(
    state: &AppState,
    id: &DeviceId,
    name: Option<String>,
    mut form: Multipart,
) -> Result<Media, ApiError> {
    let refused = |error: MultipartError| ApiError::bad_request(error.body_text());
    while let Some(field) = form.next_field().await.map_err(refused)? {
        let Some(file_name) = field.file_name().map(str::to_owned) else {
            continue;
        };
        let mime = field
            .content_type()
            .filter(|mime| Media::is_mime_type(mime))
            .unwrap_or(BYTES)
            .to_owned();
        let name = name.or(Some(file_name).filter(|name| !name.is_empty()));
        return save(state, id, mime, name, Box::pin(field)).await;
    }
    Err(ApiError::bad_request("the form has no file field"))
}

async fn save<E: std::fmt::Display>(
    state: &AppState,
    id: &DeviceId,
    mime: String,
    name: Option<String>,
    body: impl futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
) -> Result<Media, ApiError> {
    let library = state.devices.library();
    Ok(library.uploads().save(id, mime, name, body).await?)
}

/// A file a message's `media.url` points at
///
/// One uploaded, or one the upstream keeps, streamed from it as it arrives. Pictures, sound
/// and video are shown inline; anything else is a download.
#[utoipa::path(get, path = "/api/v1/devices/{id}/media/{mediaId}", tag = "media",
    params(DevicePath, ("mediaId" = String, Path, description = "the file's id, the last segment of its `url`"),
        ("access_token" = Option<String>, Query, description = "an access token, for a link that can send no header (`<img src>`); API keys are not taken here")),
    security(("apiKey" = ["read"]), ("bearer" = ["read"])),
    responses((status = OK, description = "the file, with its type", content_type = "*/*", body = File),
        Refused<{ CREDENTIALS | DEVICE | codes(&[ErrorCode::BadRequest, ErrorCode::MediaNotFound, ErrorCode::UpstreamError, ErrorCode::DeviceNotReady, ErrorCode::StorageUnavailable]) }>))]
async fn download_media(
    State(state): State<AppState>,
    LinkCaller(caller): LinkCaller,
    path: IdsPath,
) -> Result<Response, ApiError> {
    let Ids(id, media_id) = ids(path)?;
    caller.authorize(Scope::Read, Some(&id))?;
    let download = state.devices.media(&id, &media_id).await?;
    Ok(served(
        &download.mime,
        download.length,
        Body::from_stream(download.body),
    ))
}

/// A file the daemon serves, of type `mime`, for a browser to show or save but never to run.
pub(super) fn served(mime: &str, length: Option<u64>, body: Body) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_DISPOSITION, disposition(mime));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static(BYTES)),
    );
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    // The file is whatever someone sent or uploaded, served from the daemon's own origin: a
    // browser that opened it as a page (an HTML file, an SVG picture) would run its script
    // with the dashboard's rights. So the browser must not guess another type than the one
    // given, and whatever it shows runs sandboxed, with nothing to load.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    response
}

/// Pictures, sound and video are shown in the browser; anything else is downloaded rather
/// than opened as a page. An SVG picture is a document that can run script, so it is
/// downloaded too, as is any other XML type.
fn disposition(mime: &str) -> HeaderValue {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let shown = ["image/", "audio/", "video/"]
        .iter()
        .any(|kind| essence.starts_with(kind))
        && !essence.ends_with("+xml");
    HeaderValue::from_static(if shown { "inline" } else { "attachment" })
}
