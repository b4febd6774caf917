//! Device identifiers.
//!
//! A device id is used as a file stem, a URL path segment and a Socket.IO namespace
//! (`/device/<id>`), so it is restricted to a small alphabet that is safe in all three.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A validated device id: `^[a-z0-9][a-z0-9_-]{0,63}$`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", example = "demo")]
pub struct DeviceId(String);

/// The text that was offered as a device id, kept to name it in the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid device id: use 1 to 64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit")]
pub struct InvalidDeviceId(pub String);

impl DeviceId {
    pub fn parse(raw: &str) -> Result<Self, InvalidDeviceId> {
        let mut chars = raw.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if first_ok && rest_ok && raw.len() <= 64 {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidDeviceId(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Socket.IO namespace that carries this device's events.
    pub fn namespace(&self) -> String {
        format!("/device/{}", self.0)
    }
}

/// Why a list of devices (`["*"]` or ids), as keys, tokens and webhooks take, is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSelection {
    #[error("must list device ids or \"*\"")]
    Empty,
    #[error(transparent)]
    Id(#[from] InvalidDeviceId),
}

/// Checks a device selection: `*` or valid ids, at least one.
pub fn check_selection(devices: &[String]) -> Result<(), InvalidSelection> {
    if devices.is_empty() {
        return Err(InvalidSelection::Empty);
    }
    for device in devices.iter().filter(|d| d.as_str() != "*") {
        DeviceId::parse(device)?;
    }
    Ok(())
}

impl TryFrom<String> for DeviceId {
    type Error = InvalidDeviceId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DeviceId> for String {
    fn from(id: DeviceId) -> String {
        id.0
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `id` is a business-scoped user id (BSUID): what Meta names a customer by, alone
/// when they chose a username over showing their number. A two-letter country code, a dot,
/// `ENT.` for the parent id shared across a company's portfolios, then up to 128 letters and
/// digits: `US.13491208655302741918`.
pub fn is_business_scoped_id(id: &str) -> bool {
    let Some((country, rest)) = id.split_once('.') else {
        return false;
    };
    let rest = rest.strip_prefix("ENT.").unwrap_or(rest);
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && (1..=128).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// What an id (a chat's, a contact's, a key's) cannot carry as it is in one segment of a URL's
/// path: RFC 3986's `pchar` keeps the rest, so `@`, `.` and `:`, which upstream ids are made
/// of, stay as they are, and a `/` or `?` in an id cannot reach another route.
pub const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The phone number a person's id names, as digits (`15551234567` of `15551234567@c.us`, of
/// `15551234567@s.whatsapp.net`, and of a companion device's `15551234567:12@s.whatsapp.net`);
/// `None` for a linked id, a group or anything else.
pub fn phone_of(id: &str) -> Option<&str> {
    let (user, server) = id.split_once('@')?;
    let number = user.split(':').next().unwrap_or_default();
    let is_number = (5..=15).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
    (is_number && matches!(server, "c.us" | "s.whatsapp.net")).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_is_read_from_a_persons_id_only() {
        assert_eq!(phone_of("15551234567@c.us"), Some("15551234567"));
        assert_eq!(
            phone_of("15551234567:12@s.whatsapp.net"),
            Some("15551234567")
        );
        for none in [
            "123456789012345@lid",
            "120363000000@g.us",
            "1234@c.us",
            "x@c.us",
            "15551234567",
        ] {
            assert_eq!(phone_of(none), None, "{none}");
        }
    }

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in ["demo", "a", "0", "shop-1_eu", &"a".repeat(64)] {
            assert!(DeviceId::parse(ok).is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "-a",
            "_a",
            "Demo",
            "a b",
            "a/b",
            "a.b",
            "é",
            &"a".repeat(65),
        ] {
            assert_eq!(
                DeviceId::parse(bad),
                Err(InvalidDeviceId(bad.to_owned())),
                "{bad}"
            );
        }
    }
}
