//! Property tests of the bodies that create and change webhook subscriptions.

use serde_json::json;

use super::*;
use crate::api::extract::fuzz::decode;
use crate::fuzz::{self, Field, Kind};

#[test]
fn a_new_subscription() {
    const FIELDS: &[Field] = &[
        Field::required("url", Kind::String),
        Field::defaulted("events", Kind::Array),
        Field::defaulted("devices", Kind::Array),
        Field::optional("secret", Kind::String),
        Field::defaulted("enabled", Kind::Bool),
    ];
    let valid = json!({
        "url": "https://hooks.test/in", "events": ["message"], "devices": ["*"],
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "enabled": true
    });
    fuzz::object_decoder(valid, FIELDS, decode::<NewWebhook>);
}

#[test]
fn a_change_to_a_subscription() {
    const FIELDS: &[Field] = &[
        Field::optional("url", Kind::String),
        Field::optional("events", Kind::Array),
        Field::optional("devices", Kind::Array),
        Field::optional("secret", Kind::String),
        Field::optional("enabled", Kind::Bool),
    ];
    let valid = json!({ "url": "https://hooks.test/in", "events": ["*"], "enabled": false });
    fuzz::object_decoder(valid, FIELDS, decode::<WebhookPatch>);
}
