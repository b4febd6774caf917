//! How a route documents the error codes it can answer with, in the OpenAPI document: a route
//! names them with [`Refused`] in its `responses(...)`, as
//! `Refused<{ CREDENTIALS | DEVICE | code(ErrorCode::InvalidState) }>`. They come out grouped
//! by HTTP status (each code has one, [`ErrorCode::status`]), each status as the error envelope
//! whose `code` is narrowed to the codes of that route, so a client generated from the document
//! knows which codes to expect where. Codes that any request may meet, whatever its route, are
//! added to every route ([`ANY_REQUEST`]).

use std::collections::BTreeMap;

use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{IntoResponses, ToSchema};

use super::{ErrorCode, ErrorEnvelope};

/// A set of error codes, one bit per code, as [`Refused`] takes it.
pub type Codes = u64;

/// The set of the codes `list`.
pub const fn codes(list: &[ErrorCode]) -> Codes {
    let mut set = 0;
    let mut at = 0;
    while at < list.len() {
        set |= code(list[at]);
        at += 1;
    }
    set
}

/// The set of one code.
pub const fn code(code: ErrorCode) -> Codes {
    1 << code as u32
}

/// A route that takes credentials: none or a bad one (`unauthorized`), or one without the
/// route's scope or without the device (`forbidden`).
pub const CREDENTIALS: Codes = codes(&[ErrorCode::Unauthorized, ErrorCode::Forbidden]);

/// A device named by the path: an id outside the alphabet, or no such device.
pub const DEVICE: Codes = codes(&[ErrorCode::InvalidDeviceId, ErrorCode::DeviceNotFound]);

/// A JSON body: malformed, of the wrong shape or type, or larger than
/// `limits.max_message_bytes`.
pub const JSON_BODY: Codes = codes(&[ErrorCode::BadRequest, ErrorCode::PayloadTooLarge]);

/// A route that writes: a store that cannot be written now (`storage_unavailable`), which keeps
/// nothing of the request.
pub const STORES: Codes = code(ErrorCode::StorageUnavailable);

/// What any request may meet, whatever its route: a head too large, a daemon at its
/// connection budget, a fault of ours.
pub const ANY_REQUEST: Codes = codes(&[
    ErrorCode::HeadersTooLarge,
    ErrorCode::OverCapacity,
    ErrorCode::Internal,
]);

/// The error answers of a route: the codes of `CODES` and [`ANY_REQUEST`], as responses of the
/// error envelope by status. See the module's documentation.
pub struct Refused<const CODES: Codes>;

impl<const CODES: Codes> IntoResponses for Refused<CODES> {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let set = CODES | ANY_REQUEST;
        let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
        for code in ErrorCode::ALL
            .into_iter()
            .filter(|c| set & self::code(*c) != 0)
        {
            by_status
                .entry(code.status().as_u16())
                .or_default()
                .push(code);
        }
        by_status
            .into_iter()
            .map(|(status, codes)| (status.to_string(), error_response(&codes).into()))
            .collect()
    }
}

/// The error envelope with `code` narrowed to `codes`, all of one status.
fn error_response(codes: &[ErrorCode]) -> utoipa::openapi::Response {
    let names: Vec<&str> = codes.iter().map(|code| code.as_str()).collect();
    let narrowed = ObjectBuilder::new().property(
        "error",
        ObjectBuilder::new().property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names.clone())),
        ),
    );
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name(ErrorEnvelope::name()))
        .item(narrowed);
    let reason = codes[0].status().canonical_reason().unwrap_or("Error");
    ResponseBuilder::new()
        .description(format!("{reason}: `{}`", names.join("`, `")))
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}
