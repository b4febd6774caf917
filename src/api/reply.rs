//! The acknowledgement a client's event is answered with: every namespace answers with it,
//! natively or through a profile, and its serialization is on the hot path of `message:send`.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::api::error::ApiError;

/// The acknowledgement shape: `{ ok: true, data }` or `{ ok: false, error }`.
pub fn envelope<T: Serialize>(result: Result<T, ApiError>) -> Reply<T> {
    Reply(result)
}

/// An acknowledgement, serialized straight from the answer's own type: `message:send` is
/// answered thousands of times a second, and building a JSON value of the message first, to
/// print it right after, was work the socket tasks did for nothing (see docs/performance.md,
/// "send").
pub struct Reply<T>(Result<T, ApiError>);

impl<T: Serialize> Serialize for Reply<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        match &self.0 {
            Ok(data) => {
                map.serialize_entry("ok", &true)?;
                map.serialize_entry("data", data)?;
            }
            Err(error) => {
                map.serialize_entry("ok", &false)?;
                map.serialize_entry("error", &error.body())?;
            }
        }
        map.end()
    }
}
