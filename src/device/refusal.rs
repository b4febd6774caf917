//! How the device layer's errors read on the wire, in the one error envelope: the API and the
//! connectors' webhook receivers answer them in the same words.

use crate::envelope::{ApiError, ErrorCode};
use crate::model::{upstream::GroupRefusal, upstream::WebhookError, InvalidDeviceId};

use super::DeviceError;

impl From<DeviceError> for ApiError {
    fn from(error: DeviceError) -> Self {
        match error {
            DeviceError::InvalidState(refused) => {
                ApiError::new(ErrorCode::InvalidState, refused.to_string())
            }
            DeviceError::NotFound => {
                ApiError::new(ErrorCode::DeviceNotFound, "no device with this id")
            }
            DeviceError::Exists => ApiError::new(
                ErrorCode::DeviceExists,
                "a device with this id already exists",
            ),
            DeviceError::DeclaredInFile(_) => {
                ApiError::new(ErrorCode::InvalidState, error.to_string())
            }
            DeviceError::Definition(_) => ApiError::bad_request(error.to_string()),
            DeviceError::Connector(crate::model::upstream::ConnectorError::Unsupported(what)) => {
                ApiError::new(
                    ErrorCode::UnsupportedByConnector,
                    format!("this device's connector does not support {what}"),
                )
            }
            DeviceError::Connector(upstream) => {
                ApiError::new(ErrorCode::UpstreamError, upstream.to_string())
            }
            DeviceError::Webhook(refused) => {
                let code = match refused {
                    WebhookError::BadSignature => ErrorCode::Unauthorized,
                    WebhookError::WrongVerifyToken => ErrorCode::Forbidden,
                    WebhookError::Malformed(_) => ErrorCode::BadRequest,
                    // The device is there, relayed to another upstream.
                    WebhookError::NotThisConnector(_) => ErrorCode::InvalidState,
                };
                ApiError::new(code, refused.to_string())
            }
            DeviceError::Group(refused) => {
                let code = match refused {
                    GroupRefusal::NoSuchGroup(_) => ErrorCode::ChatNotFound,
                    GroupRefusal::NotAdmin => ErrorCode::NotGroupAdmin,
                    GroupRefusal::Invalid(_) => ErrorCode::BadRequest,
                    GroupRefusal::Upstream(upstream) => {
                        return DeviceError::Connector(upstream).into()
                    }
                };
                ApiError::new(code, refused.to_string())
            }
            DeviceError::Unsupported { .. } => {
                ApiError::new(ErrorCode::UnsupportedByConnector, error.to_string())
            }
            DeviceError::Store(store) => store.into(),
            DeviceError::Owner(refused) => refused,
            DeviceError::NotReady => ApiError::new(ErrorCode::DeviceNotReady, error.to_string()),
            DeviceError::Paced { .. } => ApiError::new(ErrorCode::RateLimited, error.to_string()),
            DeviceError::Gone => ApiError::new(
                ErrorCode::DeviceNotFound,
                "the device was removed or the daemon is stopping",
            ),
            DeviceError::MediaNotFound(_) => {
                ApiError::new(ErrorCode::MediaNotFound, error.to_string())
            }
            DeviceError::MediaUnavailable => {
                ApiError::new(ErrorCode::StorageUnavailable, error.to_string())
            }
        }
    }
}

impl From<InvalidDeviceId> for ApiError {
    fn from(error: InvalidDeviceId) -> Self {
        ApiError::new(ErrorCode::InvalidDeviceId, error.to_string())
    }
}
