//! How the API's own errors and those of the layers it calls read on the wire, in the one
//! error envelope (see [`crate::envelope`]). The device and store layers say how theirs read
//! themselves, so that the connectors' webhook receivers answer in the same words.

pub use crate::envelope::{ApiError, ErrorCode, ErrorEnvelope};

use crate::api::auth::AuthError;
use crate::device::uploads::UploadError;
use crate::messaging::MessagingError;
use crate::model::InvalidSelection;
use crate::store;

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::Empty | UploadError::CutOff(_) => ApiError::bad_request(error.to_string()),
            UploadError::TooLarge => ApiError::new(ErrorCode::PayloadTooLarge, error.to_string()),
            // Logged once per outage by the store (see `Uploads::save`).
            UploadError::Disk(cause) if store::is_unwritable_file(&cause) => {
                ApiError::storage_unavailable()
            }
            UploadError::Disk(cause) => ApiError::internal(cause),
            // Logged by the bucket's client (see `Uploads::save`).
            UploadError::Bucket(_) => ApiError::new(
                ErrorCode::StorageUnavailable,
                "the bucket that keeps uploaded files cannot take the file now; nothing was \
                 stored, try again later",
            ),
            UploadError::Device(device) => device.into(),
        }
    }
}

impl From<MessagingError> for ApiError {
    fn from(error: MessagingError) -> Self {
        let code = match error {
            MessagingError::DeviceNotFound => ErrorCode::DeviceNotFound,
            MessagingError::DeviceNotReady => ErrorCode::DeviceNotReady,
            MessagingError::ChatNotFound(_) => ErrorCode::ChatNotFound,
            MessagingError::ContactNotFound(_) => ErrorCode::ContactNotFound,
            MessagingError::MessageNotFound(_) => ErrorCode::MessageNotFound,
            MessagingError::Invalid(_) => ErrorCode::BadRequest,
            MessagingError::Unsupported { .. } => ErrorCode::UnsupportedByConnector,
            MessagingError::EditWindowClosed => ErrorCode::EditWindowClosed,
            MessagingError::Store(store) => return store.into(),
        };
        ApiError::new(code, error.to_string())
    }
}

impl From<InvalidSelection> for ApiError {
    fn from(error: InvalidSelection) -> Self {
        match error {
            InvalidSelection::Empty => ApiError::bad_request(format!("`devices` {error}")),
            InvalidSelection::Id(id) => id.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Unauthorized => ApiError::new(
                ErrorCode::Unauthorized,
                "a valid API key or access token is required",
            ),
            AuthError::Forbidden(why) => ApiError::new(ErrorCode::Forbidden, why),
            AuthError::Store(store) => store.into(),
        }
    }
}
