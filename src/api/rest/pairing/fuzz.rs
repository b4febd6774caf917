//! Property tests of the body that links a simulated device (`POST /api/v1/pairings`).

use serde_json::json;

use super::*;
use crate::api::extract::fuzz::decode;
use crate::fuzz::{self, Field, Kind};

#[test]
fn a_scanned_code() {
    const FIELDS: &[Field] = &[Field::required("qr", Kind::String)];
    let valid = json!({ "qr": "http://localhost:3000/pair/4f9aQ2" });
    fuzz::object_decoder(valid, FIELDS, decode::<Pairing>);
}

#[test]
fn a_typed_code() {
    const FIELDS: &[Field] = &[
        Field::required("code", Kind::String),
        Field::required("phone", Kind::String),
    ];
    let valid = json!({ "code": "K7QM-WX42", "phone": "+15550000009" });
    fuzz::object_decoder(valid, FIELDS, decode::<Pairing>);
}

#[test]
fn a_phone_to_give_a_code_for() {
    const FIELDS: &[Field] = &[Field::required("phone", Kind::String)];
    let valid = json!({ "phone": "+15550000009" });
    fuzz::object_decoder(valid, FIELDS, decode::<PairingCodeRequest>);
}
