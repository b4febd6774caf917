//! What the checks of outside input take that a field's type does not say (a name that is not
//! blank, a list that names something, a phone number as people write it), written as the
//! JSON Schema the OpenAPI document gives those fields (`#[schema(schema_with = …)]`), so that
//! a request the document allows is one the checks take, and the other way round.
//!
//! Patterns are ECMA-262 regular expressions, as JSON Schema's are, and match anywhere unless
//! anchored. What a check counts as whitespace is Rust's (`char::is_whitespace`, which
//! `str::trim` uses), spelled out character by character: a regex engine's `\s` is its own.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{Array, Object};

/// A device id, as [`super::DeviceId::parse`] takes it, without its anchors.
const DEVICE_ID: &str = "[a-z0-9][a-z0-9_-]{0,63}";

/// A token of a MIME type (RFC 2045): visible ASCII but its separators, as
/// [`super::Media::is_mime_type`] takes it.
const MIME_TOKEN: &str = r#"[!#-'*+.0-9A-Z^-~-]+"#;

/// `char::is_whitespace`'s characters, as the inside of a regex class: `\u0009-\u000D…`.
fn whitespace() -> String {
    class_of(char::is_whitespace)
}

/// The characters `char::is_control` takes, as the inside of a regex class.
fn controls() -> String {
    class_of(char::is_control)
}

/// The characters of the Basic Multilingual Plane that `member` takes, as runs of `\uXXXX`
/// ranges (whitespace and control characters all lie there).
fn class_of(member: fn(char) -> bool) -> String {
    let mut class = String::new();
    let mut run: Option<(u32, u32)> = None;
    let code = |c: u32| format!("\\u{c:04X}");
    let close = |(first, last): (u32, u32), class: &mut String| {
        class.push_str(&code(first));
        if last > first {
            class.push('-');
            class.push_str(&code(last));
        }
    };
    for c in (0..=0xFFFF).filter_map(char::from_u32) {
        let c = c as u32;
        if !member(char::from_u32(c).unwrap_or_default()) {
            continue;
        }
        run = match run {
            Some((first, last)) if last + 1 == c => Some((first, c)),
            Some(done) => {
                close(done, &mut class);
                Some((c, c))
            }
            None => Some((c, c)),
        };
    }
    if let Some(done) = run {
        close(done, &mut class);
    }
    class
}

pub(super) fn text(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

/// Text with something besides whitespace, as a secret or a WAHA session must be.
pub fn not_blank(description: &str) -> ObjectBuilder {
    text(description).pattern(Some(format!("[^{}]", whitespace())))
}

/// A device's or a key's `name`: what dashboards and lists show, so not blank.
pub fn name() -> Object {
    not_blank("What dashboards and lists show; not blank.").build()
}

/// A `name` a change may leave out or give as `null`, both leaving it as it is.
pub fn optional_name() -> Object {
    not_blank("What dashboards and lists show; not blank. Left out or `null`, it stays.")
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .build()
}

/// Letters and digits, with whitespace around them, as a Cloud API phone number's id is.
pub fn alphanumeric(description: &str) -> ObjectBuilder {
    let around = format!("[{}]*", whitespace());
    text(description).pattern(Some(format!("^{around}[A-Za-z0-9]+{around}$")))
}

/// Text with something besides whitespace and no `/`, as a WAHA session's name.
pub fn path_segment(description: &str) -> ObjectBuilder {
    text(description).pattern(Some(format!("^[^/]*[^/{}][^/]*$", whitespace())))
}

/// A device selection, as keys, tokens and webhook subscriptions take it (see
/// [`super::check_selection`]): `*` or device ids, at least one.
pub fn devices() -> Array {
    device_selection().build()
}

/// A device selection that may be left out for every device (`["*"]`).
pub fn all_devices() -> Array {
    device_selection()
        .default(Some(serde_json::json!(["*"])))
        .build()
}

/// A device selection a change may leave out or give as `null`, both leaving it as it is.
pub fn optional_devices() -> Array {
    or_null(device_selection())
}

fn device_selection() -> ArrayBuilder {
    let entry = text("A device id, or `*` for every device.")
        .pattern(Some(format!("^(?:\\*|{DEVICE_ID})$")));
    selection(entry, "Device ids, or `*` for all.")
}

/// A list that names at least one thing: a list of nothing selects nothing, a mistake.
pub(super) fn selection(entry: ObjectBuilder, description: &str) -> ArrayBuilder {
    ArrayBuilder::new()
        .items(entry)
        .min_items(Some(1))
        .description(Some(description))
}

pub(super) fn or_null(array: ArrayBuilder) -> Array {
    array
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .build()
}

/// A phone number as people write it: country code first, with or without `+`, 5 to 15
/// digits, with any spaces, dashes, dots and parentheses, and whitespace around it.
pub fn phone() -> Object {
    let around = format!("[{}]*", whitespace());
    let marks = "[ .()-]*";
    text(
        "Country code first, with or without `+`: 5 to 15 digits; spaces, dashes, dots and \
         parentheses are ignored.",
    )
    .pattern(Some(format!(
        "^{around}{marks}\\+?(?:{marks}[0-9]){{5,15}}{marks}{around}$"
    )))
    .build()
}

/// The number of a phone to link, as [`super::pairing::LinkingPhone::parse`] takes it:
/// digits only, with or without a leading `+`.
pub fn linking_phone() -> Object {
    let (fewest, most) = (
        super::pairing::PHONE_DIGITS.start(),
        super::pairing::PHONE_DIGITS.end(),
    );
    text(&format!(
        "The phone's number, country code first: {fewest} to {most} digits, with or without a \
         leading `+`, and nothing else."
    ))
    .pattern(Some(format!("^\\+?[0-9]{{{fewest},{most}}}$")))
    .build()
}

/// A file's MIME type, `type/subtype` and parameters; empty, the type of its name.
pub fn media_type() -> Object {
    let around = format!("[{}]*", whitespace());
    let rest = format!("[^{}]*", controls());
    text("`type/subtype`, as `image/jpeg`; left empty, the type of `name` (or of the link's file name) is taken.")
        .pattern(Some(format!(
            "^(?:{around}{MIME_TOKEN}/{MIME_TOKEN}{around}(?:;{rest})?)?$"
        )))
        .build()
}

/// An absolute http(s) URL with a host, as the URL parser reads one.
pub fn http_url(description: &str) -> ObjectBuilder {
    url(
        description,
        format!("^{SCHEME}{}{PORT}{REST}$", http_host()),
    )
}

/// A file's link, as a message's `media` carries it: the `url` an upload answered, or any
/// link the upstream can fetch.
pub fn media_url() -> Object {
    http_url("An http(s) link: the `url` an upload answered, or any link the upstream can fetch.")
        .build()
}

/// A webhook's URL: an http(s) URL whose host is not `localhost`, nor a loopback, private or
/// link-local IPv4 address, nor an IPv6 address that is unspecified, loopback, unique local,
/// link-local or site-local. Whether a name resolves to public addresses only is known when the
/// subscription is saved, not from its text (see `hooks::webhook::address`).
pub fn webhook_url() -> Object {
    webhook_address().build()
}

/// A webhook's URL a change may leave out or give as `null`, both leaving it as it is.
pub fn optional_webhook_url() -> Object {
    webhook_address()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .build()
}

fn webhook_address() -> ObjectBuilder {
    let end = "(?:[:/?#]|$)";
    let not_public = format!(
        "(?![Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt]\\.?{end}\
         |(?:0|10|127)\\.[0-9.]*{end}\
         |169\\.254\\.[0-9.]*{end}\
         |172\\.(?:1[6-9]|2[0-9]|3[01])\\.[0-9.]*{end}\
         |192\\.168\\.[0-9.]*{end}\
         |\\[(?:::1?\\]|[Ff](?:[CcDd][0-9A-Fa-f]{{2}}|[Ee][89A-Fa-f][0-9A-Fa-f]):))"
    );
    url(
        "http(s). A host that is, or resolves to, an address that is not public (loopback, \
         private, link-local, …) is refused (`bad_request`) unless `webhooks.allow_private`: \
         `localhost` and such literal addresses (IPv6's unspecified, loopback, unique and link- \
         or site-local ones among them) are refused by this pattern, names when the \
         subscription is saved.",
        format!("^{SCHEME}{not_public}{}{PORT}{REST}$", http_host()),
    )
}

/// An event sink's URL: `nats://` (`tls://`), `redis://` (`rediss://`) or `amqp://`
/// (`amqps://`), with credentials if the server wants them; which of them a sink takes is its
/// `kind`'s to say (`model::sink::SinkKind::url_problem`, which holds the server's part to
/// this pattern too).
pub fn sink_url() -> Object {
    sink_address().build()
}

/// A sink's URL a change may leave out or give as `null`, both leaving it as it is.
pub fn optional_sink_url() -> Object {
    sink_address()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .build()
}

fn sink_address() -> ObjectBuilder {
    let schemes =
        "(?:[Nn][Aa][Tt][Ss]|[Tt][Ll][Ss]|[Rr][Ee][Dd][Ii][Ss][Ss]?|[Aa][Mm][Qq][Pp][Ss]?)://";
    let credentials = "(?:[A-Za-z0-9._~%!$&'()*+,;=:-]*@)?";
    text(
        "The server: `nats://` or `tls://` for `nats`, `redis://` or `rediss://` for `redis`, \
         `amqp://` or `amqps://` for `amqp` (another is refused, `bad_request`), with \
         `user:password@` if the server wants them; the password is never shown back.",
    )
    .pattern(Some(format!(
        "^{schemes}{credentials}{}{PORT}{REST}$",
        server_host()
    )))
}

/// The printable ASCII characters but `.`, `*`, `>`, `/` and `\`: what a JetStream stream's
/// name may hold (`model::sink::target_problem`), and so a stream, key or exchange of any sink.
pub fn sink_target() -> Object {
    text(
        "Renames where the sink publishes: `stream` for `nats`, `key` for `redis`, `exchange` for \
         `amqp` (another kind's setting is refused, `bad_request`). 1 to 255 printable ASCII \
         characters, without `.`, `*`, `>`, `/` or `\\`.",
    )
    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
    .pattern(Some("^[!-)+-\\-0-=?-\\[\\]-~]{1,255}$"))
    .build()
}

fn url(description: &str, pattern: String) -> ObjectBuilder {
    text(description)
        .format(Some(SchemaFormat::Custom("uri".into())))
        .pattern(Some(pattern))
}

/// The schemes of [`http_url`], in any case.
const SCHEME: &str = "[Hh][Tt][Tt][Pp][Ss]?://";

/// A host name whose last label is not a number (the URL parser reads such a name as an IPv4
/// address).
const NAME: &str = "(?:[A-Za-z0-9_~-]+\\.)*[A-Za-z_~-][A-Za-z0-9_~-]*\\.?";

/// An IPv4 address in dotted decimal.
const IPV4: &str = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\
                    (?:\\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}";

/// The host of an http(s) URL: a name, an IPv4 address, or an IPv6 address in brackets.
fn http_host() -> String {
    format!("(?:{NAME}|{IPV4}|\\[{}\\])", ipv6())
}

/// The host of a sink's URL: a name or an IPv4 address (`model::sink::is_server`).
fn server_host() -> String {
    format!("(?:{NAME}|{IPV4})")
}

/// An IPv6 address as RFC 3986 spells one, which is what the URL parser takes: eight pieces
/// of one to four hex digits, the last two of which may be written as an IPv4 address, and
/// at most one run of pieces left out as `::`.
fn ipv6() -> String {
    let piece = "[0-9A-Fa-f]{1,4}";
    let last_two = format!("(?:{piece}:{piece}|{IPV4})");
    let mut forms = vec![
        format!("(?:{piece}:){{6}}{last_two}"),
        format!("::(?:{piece}:){{5}}{last_two}"),
    ];
    // With up to `most_before` + 1 pieces before the `::`, what may follow it.
    let after = [
        format!("(?:{piece}:){{4}}{last_two}"),
        format!("(?:{piece}:){{3}}{last_two}"),
        format!("(?:{piece}:){{2}}{last_two}"),
        format!("{piece}:{last_two}"),
        last_two.clone(),
        piece.to_owned(),
        String::new(),
    ];
    for (most_before, after) in after.iter().enumerate() {
        forms.push(format!(
            "(?:(?:{piece}:){{0,{most_before}}}{piece})?::{after}"
        ));
    }
    format!("(?:{})", forms.join("|"))
}

/// An optional port, 0 to 65535 (or none after the colon).
const PORT: &str = "(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}\
                    |655[0-2][0-9]|6553[0-5])?)?";

/// The path, query and fragment: anything, which the parser escapes as it must.
const REST: &str = "(?:[/?#][\\s\\S]*)?";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_rusts_spelled_as_ranges() {
        let class = whitespace();
        assert!(class.starts_with("\\u0009-\\u000D\\u0020"), "{class}");
        assert!(class.contains("\\u2000-\\u200A"), "{class}");
        assert!(class.ends_with("\\u3000"), "{class}");
    }

    #[test]
    fn a_selected_device_is_named_as_a_device_id_is() {
        use utoipa::PartialSchema;
        let id = serde_json::to_value(super::super::DeviceId::schema()).unwrap();
        assert_eq!(id["pattern"], format!("^{DEVICE_ID}$"));
        let devices = serde_json::to_value(devices()).unwrap();
        assert_eq!(
            devices["items"]["pattern"],
            format!("^(?:\\*|{DEVICE_ID})$")
        );
    }

    #[test]
    fn a_sink_has_no_ipv6_host() {
        let schema = serde_json::to_value(sink_url()).unwrap();
        let pattern = fancy_regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
        assert!(pattern.is_match("nats://127.0.0.1:4222").unwrap());
        assert!(!pattern.is_match("nats://[::1]:4222").unwrap());
    }
}
