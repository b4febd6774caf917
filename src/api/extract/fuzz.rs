//! Property tests of the JSON body extractor every REST route with a body uses, and the way
//! REST bodies are read in the other routes' property tests ([`decode`]).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use proptest::prop_assert;
use proptest::strategy::Strategy;
use serde_json::{json, Value};

use super::*;
use crate::fuzz::{self, check};

/// `body` as a request with this `Content-Type`, through [`ApiJson`].
fn extract<T: DeserializeOwned>(content_type: Option<&str>, body: &[u8]) -> Result<T, ApiError> {
    let mut request = axum::http::Request::builder();
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    let request = request
        .body(Body::from(body.to_vec()))
        .expect("a sendable request");
    // The body is in memory, so the extractor finishes on its first poll.
    let extracted = pin!(ApiJson::<T>::from_request(request, &()))
        .poll(&mut Context::from_waker(Waker::noop()));
    match extracted {
        Poll::Ready(extracted) => extracted.map(|ApiJson(value)| value),
        Poll::Pending => panic!("an in-memory body was not read at once"),
    }
}

/// A JSON request body read as `T`, as a REST route reads it.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    extract(Some("application/json"), body)
}

/// Whether `body` is a JSON object, which is what every REST body must be.
fn is_json_object(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|value| value.is_object())
}

#[test]
fn a_body_is_taken_when_it_is_a_json_object_and_says_so() {
    let valid = json!({ "text": "hi", "media": { "url": "http://files.test/a" } });
    check(fuzz::broken(valid.to_string()), |body| {
        prop_assert!(
            decode::<Value>(&body).is_ok() == is_json_object(&body),
            "{:?}",
            body
        );
        Ok(())
    });
    check(fuzz::json(), |value| {
        let body = value.to_string();
        prop_assert!(
            decode::<Value>(body.as_bytes()).is_ok() == value.is_object(),
            "{}",
            body
        );
        Ok(())
    });
    // Only what can be sent as a header value.
    let content_types = proptest::option::of(fuzz::odd_text().prop_filter("a header value", |t| {
        axum::http::HeaderValue::from_str(t).is_ok()
    }));
    check((content_types, fuzz::json()), |(content_type, value)| {
        let json = content_type
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().contains("json"));
        let taken = extract::<Value>(content_type.as_deref(), value.to_string().as_bytes()).is_ok();
        prop_assert!(
            !taken || (json && value.is_object()),
            "{:?} {}",
            content_type,
            value
        );
        Ok(())
    });
}

#[test]
fn an_optional_body_is_empty_or_a_json_object() {
    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Empty {}
    assert!(optional_body::<Empty>(b"").is_ok());
    check(
        fuzz::broken(json!({}).to_string()).prop_filter("not empty", |body| !body.is_empty()),
        |body| {
            let taken = optional_body::<Empty>(&body).is_ok();
            prop_assert!(!taken || is_json_object(&body), "{:?}", body);
            Ok(())
        },
    );
}
