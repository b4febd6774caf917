//! The pages a phone sees at `/pair/{code}`: asked to link the device, told it is linked, or
//! why not. Plain HTML whose one button is a form, so they work without JavaScript. They carry
//! the daemon's Content-Security-Policy like every page of its, which allows styles from the
//! daemon only: the look comes from `/pair.css`, a file the daemon serves, and none is inline.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::api::dashboard::with_policy;

/// What a page tells, which its mark above the title shows at a glance.
pub(super) enum Outcome {
    /// The device asks to be linked.
    Ask,
    /// It is linked.
    Done,
    /// The code is no longer good, or the device did not answer.
    Refused,
}

impl Outcome {
    fn class(&self) -> &'static str {
        match self {
            Outcome::Ask => "ask",
            Outcome::Done => "done",
            Outcome::Refused => "refused",
        }
    }
}

/// A page titled `title` with `body` (HTML made by the caller from trusted text), answered
/// with `status`.
pub(super) fn page(status: StatusCode, outcome: Outcome, title: &str, body: &str) -> Response {
    let class = outcome.class();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>{title} · devicebridge</title>\
         <link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\">\
         <link rel=\"stylesheet\" href=\"/pair.css\"></head>\
         <body><p class=\"brand\"><img src=\"/favicon.svg\" alt=\"\">devicebridge</p>\
         <main class=\"pairing {class}\"><h1>{title}</h1>{body}</main></body></html>"
    );
    with_policy((status, Html(html)).into_response())
}
