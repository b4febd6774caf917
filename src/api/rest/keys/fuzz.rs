//! Property tests of the bodies that create API keys and access tokens.

use serde_json::json;

use super::*;
use crate::api::extract::fuzz::decode;
use crate::fuzz::{self, Field, Kind};

#[test]
fn a_new_key() {
    const FIELDS: &[Field] = &[
        Field::required("name", Kind::String),
        Field::defaulted("devices", Kind::Array),
        Field::required("scopes", Kind::Array),
    ];
    let valid = json!({ "name": "crm", "devices": ["demo"], "scopes": ["read", "send"] });
    fuzz::object_decoder(valid, FIELDS, decode::<NewKey>);
}

#[test]
fn a_new_token() {
    const FIELDS: &[Field] = &[
        Field::required("sub", Kind::String),
        Field::defaulted("devices", Kind::Array),
        Field::defaulted("scopes", Kind::Array),
        Field::defaulted("ttlSecs", Kind::Unsigned(u64::MAX)),
    ];
    let valid = json!({ "sub": "agent-7", "devices": ["*"], "scopes": ["read"], "ttlSecs": 600 });
    fuzz::object_decoder(valid, FIELDS, decode::<NewToken>);
}
