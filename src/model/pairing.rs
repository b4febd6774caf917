//! Linking by phone number: the number a pairing code is asked for, the code as people read
//! and type it, and what asking for one answers.
//!
//! WhatsApp offers it beside the QR code: the linking device asks for a code for a phone
//! number, the phone's owner types the code into WhatsApp (Linked devices → Link with phone
//! number), and the device is linked as if the QR code had been scanned. The rules for the
//! number and the code live here, below every layer, so that the API's checks, the simulated
//! phone and the connectors agree on them.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

/// How many digits the number of a phone to link has, country code first: E.164 numbers have
/// at most 15, and none in use is shorter than 7 with its country code.
pub const PHONE_DIGITS: RangeInclusive<usize> = 7..=15;

/// How many letters and digits a pairing code has, as WhatsApp's have.
pub const CODE_LENGTH: usize = 8;

/// The characters of the pairing codes devicebridge makes up (the simulator's): letters and
/// digits nobody mistakes for one another when reading them off one screen and typing them on
/// another, so no `0`/`O`, `1`/`I`/`L` or `U`/`V`.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTWXYZ23456789";

/// The number of the phone a pairing code is for: digits only, country code first, as
/// WhatsApp's ids and WAHA's `phoneNumber` write it. Read back from its digits, checked again,
/// where a request carries it to the cluster node that runs the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LinkingPhone(String);

impl TryFrom<String> for LinkingPhone {
    type Error = InvalidPhone;

    fn try_from(raw: String) -> Result<Self, InvalidPhone> {
        LinkingPhone::parse(&raw)
    }
}

impl From<LinkingPhone> for String {
    fn from(phone: LinkingPhone) -> String {
        phone.0
    }
}

/// A `phone` that is not a number to link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`phone` must be the phone's number, country code first: {} to {} digits, with or without a leading `+`, and nothing else",
    PHONE_DIGITS.start(),
    PHONE_DIGITS.end()
)]
pub struct InvalidPhone;

impl LinkingPhone {
    /// Reads a number written as digits, with or without a leading `+`. Nothing else is taken
    /// (no spaces, dashes or brackets): the number is typed into a form field, and a code made
    /// for a number misread would link nobody.
    pub fn parse(raw: &str) -> Result<Self, InvalidPhone> {
        let digits = raw.strip_prefix('+').unwrap_or(raw);
        let only_digits = digits.bytes().all(|byte| byte.is_ascii_digit());
        match only_digits && PHONE_DIGITS.contains(&digits.len()) {
            true => Ok(LinkingPhone(digits.to_owned())),
            false => Err(InvalidPhone),
        }
    }

    /// The number's digits.
    pub fn digits(&self) -> &str {
        &self.0
    }

    /// The account the number is on WhatsApp: `<digits>@c.us`.
    pub fn account_id(&self) -> String {
        format!("{}@c.us", self.0)
    }
}

/// A code as typed: its letters and digits, upper case. `abcd efgh` and `ABCD-EFGH` are the
/// same code, as WhatsApp takes them.
pub fn typed_code(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A code as shown to people: `ABCD-EFGH`, two halves that are easy to read off and type.
/// One of another length is shown as it is typed.
pub fn shown_code(code: &str) -> String {
    let typed = typed_code(code);
    match typed.len() == CODE_LENGTH {
        true => format!(
            "{}-{}",
            &typed[..CODE_LENGTH / 2],
            &typed[CODE_LENGTH / 2..]
        ),
        false => typed,
    }
}

/// What asking for a pairing code answers: the code, shown as `ABCD-EFGH`, and until when
/// it links the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({ "code": "K7QM-WX42", "expiresAt": "2026-01-02T03:05:05.678Z" }))]
pub struct IssuedCode {
    /// The code to type on the phone, as `ABCD-EFGH`.
    #[schema(pattern = "^[A-Z0-9]{4}-[A-Z0-9]{4}$")]
    pub code: String,
    /// When the code stops linking; the device leaving state `qr` ends it sooner.
    #[schema(format = DateTime)]
    pub expires_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_digits_with_or_without_a_plus() {
        for (raw, digits) in [
            ("+15550000009", "15550000009"),
            ("15550000009", "15550000009"),
            ("1234567", "1234567"),
            ("+123456789012345", "123456789012345"),
        ] {
            let phone = LinkingPhone::parse(raw).unwrap();
            assert_eq!(phone.digits(), digits, "{raw}");
        }
        assert_eq!(
            LinkingPhone::parse("+15550000009").unwrap().account_id(),
            "15550000009@c.us"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for raw in [
            "",
            "+",
            "123456",
            "1234567890123456",
            "+1 555 000 0009",
            "1555-000-0009",
            "++15550000009",
            "15550000009+",
            " 15550000009",
            "١٥٥٥٠٠٠٠٠٠٩",
            "1555000000a",
        ] {
            assert_eq!(LinkingPhone::parse(raw), Err(InvalidPhone), "{raw:?}");
        }
        assert!(InvalidPhone.to_string().contains("7 to 15 digits"));
    }

    #[test]
    fn codes_are_shown_in_two_halves_and_typed_in_any_form() {
        assert_eq!(shown_code("abcdefgh"), "ABCD-EFGH");
        assert_eq!(shown_code("ABCD-EFGH"), "ABCD-EFGH");
        assert_eq!(shown_code(" abcd efgh "), "ABCD-EFGH");
        assert_eq!(shown_code("abc"), "ABC");
        assert_eq!(typed_code("abCD-efGH"), "ABCDEFGH");
    }

    #[test]
    fn the_alphabet_leaves_out_what_reads_alike() {
        for confusable in *b"01ILOUV" {
            assert!(
                !CODE_ALPHABET.contains(&confusable),
                "{}",
                confusable as char
            );
        }
        assert!(CODE_ALPHABET.iter().all(u8::is_ascii_alphanumeric));
    }
}
