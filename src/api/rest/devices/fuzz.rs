//! Property tests of the bodies that create a device, change it, and drop a simulator's
//! connection.

use serde_json::json;

use super::*;
use crate::api::extract::fuzz::decode;
use crate::fuzz::{self, Field, Kind};

const WAHA: Field = Field::optional("waha", Kind::Object);
const CLOUD_API: Field = Field::optional("cloud_api", Kind::Object);

#[test]
fn a_new_device() {
    const FIELDS: &[Field] = &[
        Field::required("id", Kind::String),
        Field::required("name", Kind::String),
        Field::defaulted("connector", Kind::String),
        Field::defaulted("autostart", Kind::Bool),
        Field::defaulted("simulator", Kind::Object),
        WAHA,
        CLOUD_API,
        Field::defaulted("hooks", Kind::Object),
    ];
    let valid = json!({
        "id": "sales", "name": "Sales phone", "connector": "waha", "autostart": false,
        "waha": { "base_url": "http://waha.test:3001", "webhook_secret": "s3cret" },
        "simulator": { "phone": "15550000001", "contacts": [{ "id": "15550000002@c.us", "name": "Alice" }] },
        "hooks": { "sound": false }
    });
    fuzz::object_decoder(valid, FIELDS, |body| {
        let NewDevice { id, spec } = NewDevice::read(decode(body)?, |_| Ok(()))?;
        spec.validate().map_err(ApiError::bad_request)?;
        Ok::<_, ApiError>((id, spec))
    });
}

#[test]
fn a_change_to_a_device() {
    const FIELDS: &[Field] = &[
        Field::optional("name", Kind::String),
        Field::optional("autostart", Kind::Bool),
        Field::optional("simulator", Kind::Object),
        WAHA,
        CLOUD_API,
    ];
    let valid = json!({
        "name": "Support", "autostart": true,
        "simulator": { "read_ms": 10, "contacts": [{ "id": "15550000002@c.us", "name": "Alice", "behaviour": "silent" }] }
    });
    fuzz::object_decoder(valid, FIELDS, decode::<DevicePatch>);
}

#[test]
fn a_simulated_drop() {
    const FIELDS: &[Field] = &[Field::defaulted(
        "failReconnects",
        Kind::Unsigned(u32::MAX as u64),
    )];
    fuzz::object_decoder(json!({ "failReconnects": 3 }), FIELDS, decode::<DropBody>);
}

#[test]
fn a_connector_table_given_as_a_list_is_refused() {
    let new = json!({ "id": "sales", "name": "Sales phone", "simulator": [] });
    let body: Value = decode(new.to_string().as_bytes()).unwrap();
    let refused = NewDevice::read(body, |_| Ok(())).err().unwrap();
    assert!(refused.message.starts_with("invalid device"), "{refused:?}");
    let patch = json!({ "name": "Support", "simulator": [] });
    assert!(decode::<DevicePatch>(patch.to_string().as_bytes()).is_err());
}
