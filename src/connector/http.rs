//! What the HTTP connectors share: a client with timeouts that measures its requests, the
//! sorting of failures into [`ConnectorError`]s, and webhook signature checks.

use std::error::Error as _;
use std::time::Duration;

use futures_util::stream::{StreamExt, TryStreamExt};
use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{IntoUrl, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::config::Timeouts;
use crate::metrics::UpstreamRequests;
use crate::model::upstream::{ConnectorError, Download, WebhookError};

/// The most of an upstream's error answer written to the log: enough for its reason, not a
/// whole HTML page.
const LOGGED_BODY_BYTES: usize = 512;

/// A connector's HTTP client: it keeps its connections alive between requests, bounds each
/// by `upstream.*`'s timeouts, and measures each in its connector's [`UpstreamRequests`].
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    requests: UpstreamRequests,
}

impl Http {
    /// A client each of whose requests, connection included, is bounded by `timeouts.total`.
    pub fn new(timeouts: Timeouts, requests: UpstreamRequests) -> Result<Self, ConnectorError> {
        let client = builder(timeouts).timeout(timeouts.total);
        Self::build(client, requests)
    }

    /// A client for downloads that may take longer than any one request should: each read
    /// must come within `timeouts.total`, however long the whole transfer lasts.
    pub fn for_downloads(
        timeouts: Timeouts,
        requests: UpstreamRequests,
    ) -> Result<Self, ConnectorError> {
        Self::build(builder(timeouts).read_timeout(timeouts.total), requests)
    }

    fn build(
        client: reqwest::ClientBuilder,
        requests: UpstreamRequests,
    ) -> Result<Self, ConnectorError> {
        let client = client
            .build()
            .map_err(|error| ConnectorError::Unreachable(describe(&error)))?;
        Ok(Self { client, requests })
    }

    pub fn request(&self, method: reqwest::Method, url: impl IntoUrl) -> RequestBuilder {
        self.client.request(method, url)
    }

    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.client.get(url)
    }

    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.client.post(url)
    }

    /// Sends a request and expects success, leaving the body unread (to be streamed); any
    /// other answer becomes the error its status means, as with [`Http::call`]. The request
    /// is timed until the answer's head.
    pub async fn open(&self, request: RequestBuilder) -> Result<reqwest::Response, ConnectorError> {
        let (status, response) = self
            .timed(async {
                let response = request.send().await?;
                Ok((response.status(), response))
            })
            .await?;
        if status.is_success() {
            return Ok(response);
        }
        if let Some(throttled) = throttled(status, response.headers()) {
            return Err(throttled);
        }
        let text = response.text().await.map_err(unreachable)?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Err(success(status, body).expect_err("the status is not a success"))
    }

    /// Sends a request; returns the status and the JSON body (`Null` when there is none). Only
    /// a request that got no answer, or a rate limit that says until when, is an error here.
    pub async fn exchange(
        &self,
        request: RequestBuilder,
    ) -> Result<(StatusCode, Value), ConnectorError> {
        let (status, (text, throttled)) = self
            .timed(async {
                let response = request.send().await?;
                let status = response.status();
                let throttled = throttled(status, response.headers());
                Ok((status, (response.text().await?, throttled)))
            })
            .await?;
        if let Some(throttled) = throttled {
            tracing::warn!(%throttled, "the upstream asked to slow down");
            return Err(throttled);
        }
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Sends a request and expects success: any other answer becomes the error its status
    /// means.
    pub async fn call(&self, request: RequestBuilder) -> Result<Value, ConnectorError> {
        let (status, body) = self.exchange(request).await?;
        success(status, body)
    }

    /// Runs one request's `exchange` with the upstream, and counts how long it took and how
    /// it ended.
    async fn timed<T>(
        &self,
        exchange: impl std::future::Future<Output = Result<(StatusCode, T), reqwest::Error>>,
    ) -> Result<(StatusCode, T), ConnectorError> {
        let started = std::time::Instant::now();
        match exchange.await {
            Ok((status, answer)) => {
                self.requests.answered(status.as_u16(), started.elapsed());
                Ok((status, answer))
            }
            Err(error) => {
                self.requests.unanswered(started.elapsed());
                Err(unreachable(error))
            }
        }
    }
}

fn builder(timeouts: Timeouts) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(timeouts.connect)
        .user_agent(concat!("devicebridge/", env!("CARGO_PKG_VERSION")))
}

/// The file an upstream's answer carries, of type `mime` if the upstream said so elsewhere,
/// else of the answer's `Content-Type`.
pub fn download(answer: reqwest::Response, mime: Option<&str>) -> Download {
    let mime = mime
        .or_else(|| {
            answer
                .headers()
                .get(reqwest::header::CONTENT_TYPE)?
                .to_str()
                .ok()
        })
        .unwrap_or("application/octet-stream")
        .to_owned();
    Download {
        mime,
        length: answer.content_length(),
        body: answer.bytes_stream().map_err(std::io::Error::other).boxed(),
    }
}

/// The body of a successful answer, or the error its status means.
///
/// The error says only the status, in fixed words: it becomes a state reason, a message's
/// error, an API answer, all of which clients see, and an upstream's body is not ours to show
/// them (a device's upstream URL can point anywhere, and its answer could be a page of the
/// host's own network). The body, cut short, goes to the log for whoever runs the daemon.
pub fn success(status: StatusCode, body: Value) -> Result<Value, ConnectorError> {
    if status.is_success() {
        return Ok(match body {
            Value::String(text) if text.is_empty() => Value::Null,
            body => body,
        });
    }
    tracing::warn!(
        status = status.as_u16(),
        body = %logged_body(&body),
        "upstream answered an error"
    );
    if let Some(code) = restriction_error(&body) {
        return Err(ConnectorError::Restricted { code });
    }
    if body["error"]["code"].as_i64() == Some(GRAPH_PAIR_RATE) {
        return Err(ConnectorError::Throttled {
            retry_after: PAIR_RATE_WAIT,
            one_chat: true,
        });
    }
    let reason = format!("upstream answered {status}");
    Err(match kind_of(status, &body) {
        Kind::Refused => ConnectorError::Refused(reason),
        Kind::Rejected => ConnectorError::Rejected(reason),
        Kind::Transient => ConnectorError::Failing(reason),
    })
}

/// WhatsApp's server errors for a message refused under a restriction on new contacts: 463,
/// the reach-out timelock, and 475, message capping.
const RESTRICTION_ERRORS: [u16; 2] = [463, 475];

/// The restriction error an answer passes on, as WAHA's engines word it (a 500 with
/// `exception.message` `"2 UNKNOWN: server returned error 463"`).
fn restriction_error(body: &Value) -> Option<u16> {
    let texts = [&body["exception"]["message"], &body["message"]];
    texts
        .into_iter()
        .filter_map(Value::as_str)
        .find_map(|text| {
            text.split("error ").skip(1).find_map(|after| {
                let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
                let code = digits.parse().ok()?;
                RESTRICTION_ERRORS.contains(&code).then_some(code)
            })
        })
}

/// An error answer's body as the log shows it: its text, at most [`LOGGED_BODY_BYTES`] of it.
fn logged_body(body: &Value) -> String {
    let mut text = match body {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    text.truncate(text.floor_char_boundary(LOGGED_BODY_BYTES));
    text
}

/// What an error answer means for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Our credentials or permissions are refused: nothing passes until a person fixes them.
    Refused,
    /// This request is wrong, and would be wrong again.
    Rejected,
    /// The upstream cannot take it now (a server error, throttling, a session restarting):
    /// the same request may pass later.
    Transient,
}

/// Graph API error codes (`error.code`) that refuse our token or its permissions: 0 and 190
/// (the token is invalid or expired), 10 and 200…299 (a permission is missing).
fn graph_refuses(code: i64) -> bool {
    matches!(code, 0 | 10 | 190 | 200..=299)
}

/// Graph API error codes Meta documents as passing by themselves: throttling (4 application
/// rate limit, 80007 account rate limit, 130429 throughput, 131056 too many messages to one
/// number) and "try again later" (1 unknown, 2 service unavailable, 131000 something went
/// wrong).
fn graph_transient(code: i64) -> bool {
    matches!(code, 1 | 2 | 4 | 80007 | 130429 | 131000 | GRAPH_PAIR_RATE)
}

/// The Graph API's code for too many messages to one number in a short time.
const GRAPH_PAIR_RATE: i64 = 131056;

/// WAHA's 422 for a request that needs the session in another status than it is in now (it is
/// starting or restarting): `{"error": "Session status is not as expected…", "status":
/// "STARTING", "expected": ["WORKING"]}`.
fn waha_session_not_ready(body: &Value) -> bool {
    body["expected"].is_array()
        || [&body["error"], &body["message"]].into_iter().any(|text| {
            text.as_str().is_some_and(|text| {
                text.to_ascii_lowercase()
                    .contains("session status is not as expected")
            })
        })
}

/// Sorts an error answer by its status and, where the upstream says more, by its body: a
/// Graph API error code decides over the status it came with.
fn kind_of(status: StatusCode, body: &Value) -> Kind {
    if let Some(code) = body["error"]["code"].as_i64() {
        if graph_refuses(code) {
            return Kind::Refused;
        }
        if graph_transient(code) {
            return Kind::Transient;
        }
    }
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Kind::Refused,
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_EARLY | StatusCode::TOO_MANY_REQUESTS => {
            Kind::Transient
        }
        StatusCode::UNPROCESSABLE_ENTITY if waha_session_not_ready(body) => Kind::Transient,
        status if status.is_client_error() => Kind::Rejected,
        _ => Kind::Transient,
    }
}

/// The longest an upstream's `Retry-After` is obeyed: past it (a typo, a broken proxy) the
/// device would stop sending for good, which a person should decide.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(3_600);
/// How long the Cloud API's pair rate limit (131056) holds a chat: Meta documents it as about
/// one message every six seconds to the same number.
const PAIR_RATE_WAIT: Duration = Duration::from_secs(6);

/// A 429 answer that says when to come back (`Retry-After`, seconds or an HTTP date): the
/// device takes nothing to the upstream until then. Without one, throttling is retried with
/// backoff like any passing failure.
fn throttled(status: StatusCode, headers: &HeaderMap) -> Option<ConnectorError> {
    if status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let retry_after = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(ConnectorError::Throttled {
        retry_after: retry_after.min(LONGEST_RETRY_AFTER),
        one_chat: false,
    })
}

/// A request that got no answer. The URL is left out: the reason ends up in events.
fn unreachable(error: reqwest::Error) -> ConnectorError {
    ConnectorError::Unreachable(describe(&error))
}

fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The innermost cause says the most ("Connection refused"); reqwest's own text names the URL.
    let mut cause = error.source();
    let mut innermost = None;
    while let Some(next) = cause {
        innermost = Some(next.to_string());
        cause = next.source();
    }
    match innermost {
        Some(cause) => format!("{what}: {cause}"),
        None => what.to_owned(),
    }
}

/// Checks a hex HMAC of `body` under `key`, in constant time.
pub fn verify_hmac<M: Mac + hmac::digest::KeyInit>(
    key: &str,
    body: &[u8],
    signature_hex: Option<&str>,
) -> Result<(), WebhookError> {
    let signature = signature_hex
        .and_then(|hex_text| hex::decode(hex_text.trim()).ok())
        .ok_or(WebhookError::BadSignature)?;
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key.as_bytes())
        .map_err(|_| WebhookError::BadSignature)?;
    mac.update(body);
    mac.verify_slice(&signature)
        .map_err(|_| WebhookError::BadSignature)
}

/// The hex HMAC of `body` under `key`, as an upstream signs its deliveries.
#[cfg(test)]
pub fn hex_hmac<M: Mac + hmac::digest::KeyInit>(key: &str, body: &[u8]) -> String {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key.as_bytes()).expect("any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// HMAC-SHA512, WAHA's webhook signature.
pub type HmacSha512 = Hmac<sha2::Sha512>;
/// HMAC-SHA256, Meta's webhook signature.
pub type HmacSha256 = Hmac<sha2::Sha256>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_answers_say_their_status_and_nothing_of_their_body() {
        let graph = json!({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}});
        assert_eq!(
            success(StatusCode::UNAUTHORIZED, graph),
            Err(ConnectorError::Refused(
                "upstream answered 401 Unauthorized".into()
            ))
        );
        let waha = json!({"statusCode": 422, "message": ["chatId must be a string"], "error": "Unprocessable Entity"});
        assert_eq!(
            success(StatusCode::UNPROCESSABLE_ENTITY, waha),
            Err(ConnectorError::Rejected(
                "upstream answered 422 Unprocessable Entity".into()
            ))
        );
        let page = Value::String("<html>the router's admin page</html>".into());
        assert_eq!(
            success(StatusCode::BAD_GATEWAY, page),
            Err(ConnectorError::Failing(
                "upstream answered 502 Bad Gateway".into()
            ))
        );
        assert_eq!(
            success(StatusCode::CREATED, Value::String(String::new())),
            Ok(Value::Null)
        );
    }

    #[test]
    fn a_rate_limit_that_says_when_is_obeyed_until_then() {
        let mut headers = HeaderMap::new();
        assert_eq!(throttled(StatusCode::TOO_MANY_REQUESTS, &headers), None);
        headers.insert(RETRY_AFTER, "30".parse().unwrap());
        assert_eq!(
            throttled(StatusCode::TOO_MANY_REQUESTS, &headers),
            Some(ConnectorError::Throttled {
                retry_after: Duration::from_secs(30),
                one_chat: false
            })
        );
        assert_eq!(throttled(StatusCode::SERVICE_UNAVAILABLE, &headers), None);
        let in_a_minute = chrono::Utc::now() + chrono::Duration::seconds(61);
        let date = in_a_minute.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        headers.insert(RETRY_AFTER, date.parse().unwrap());
        let Some(ConnectorError::Throttled { retry_after, .. }) =
            throttled(StatusCode::TOO_MANY_REQUESTS, &headers)
        else {
            panic!("an HTTP date is read too");
        };
        assert!(
            (55..=61).contains(&retry_after.as_secs()),
            "{retry_after:?}"
        );
        headers.insert(RETRY_AFTER, "999999999".parse().unwrap());
        assert!(matches!(
            throttled(StatusCode::TOO_MANY_REQUESTS, &headers),
            Some(ConnectorError::Throttled { retry_after, .. }) if retry_after == LONGEST_RETRY_AFTER
        ));
        let pair_rate = json!({ "error": { "message": "pair rate", "code": 131056 } });
        assert_eq!(
            success(StatusCode::BAD_REQUEST, pair_rate),
            Err(ConnectorError::Throttled {
                retry_after: PAIR_RATE_WAIT,
                one_chat: true
            })
        );
    }

    #[test]
    fn whatsapps_restriction_errors_are_read_from_wahas_answers() {
        let answer = |message: &str| json!({ "statusCode": 500, "exception": { "message": message, "code": 2 } });
        for (message, code) in [
            ("2 UNKNOWN: server returned error 463", 463),
            ("server returned error 475", 475),
        ] {
            assert_eq!(
                success(StatusCode::INTERNAL_SERVER_ERROR, answer(message)),
                Err(ConnectorError::Restricted { code })
            );
        }
        for other in ["server returned error 4634", "error 500", "error"] {
            assert!(
                matches!(
                    success(StatusCode::INTERNAL_SERVER_ERROR, answer(other)),
                    Err(ConnectorError::Failing(_))
                ),
                "{other}"
            );
        }
    }

    #[test]
    fn answers_that_may_pass_are_transient_and_refused_credentials_are_refused() {
        let graph = |code: i64| json!({ "error": { "message": "m", "code": code } });
        let restarting = json!({ "error": "Session status is not as expected. Try again later or restart the session",
            "session": "default", "status": "STARTING", "expected": ["WORKING"] });
        let cases = [
            (StatusCode::REQUEST_TIMEOUT, json!({}), Kind::Transient),
            (StatusCode::TOO_EARLY, json!({}), Kind::Transient),
            (
                StatusCode::TOO_MANY_REQUESTS,
                json!({ "message": "slow down" }),
                Kind::Transient,
            ),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                restarting,
                Kind::Transient,
            ),
            (StatusCode::BAD_REQUEST, graph(4), Kind::Transient),
            (StatusCode::BAD_REQUEST, graph(80007), Kind::Transient),
            (StatusCode::BAD_REQUEST, graph(130429), Kind::Transient),
            (StatusCode::BAD_REQUEST, graph(131056), Kind::Transient),
            (StatusCode::INTERNAL_SERVER_ERROR, graph(1), Kind::Transient),
            (StatusCode::SERVICE_UNAVAILABLE, graph(2), Kind::Transient),
            (StatusCode::BAD_REQUEST, graph(131000), Kind::Transient),
            (StatusCode::BAD_REQUEST, graph(190), Kind::Refused),
            (StatusCode::BAD_REQUEST, graph(10), Kind::Refused),
            (StatusCode::BAD_REQUEST, graph(0), Kind::Refused),
            (StatusCode::BAD_REQUEST, graph(200), Kind::Refused),
            (StatusCode::BAD_REQUEST, graph(299), Kind::Refused),
            (StatusCode::TOO_MANY_REQUESTS, graph(190), Kind::Refused),
            (StatusCode::FORBIDDEN, json!({}), Kind::Refused),
            (StatusCode::BAD_REQUEST, graph(131030), Kind::Rejected),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "message": ["chatId must be a string"] }),
                Kind::Rejected,
            ),
            (StatusCode::NOT_FOUND, json!({}), Kind::Rejected),
        ];
        for (status, body, kind) in cases {
            assert_eq!(kind_of(status, &body), kind, "{status} {body}");
        }
    }

    #[test]
    fn the_logged_body_is_cut_on_a_character_boundary() {
        let page = Value::String("é".repeat(LOGGED_BODY_BYTES));
        let logged = logged_body(&page);
        assert_eq!(logged.len(), LOGGED_BODY_BYTES);
        assert!(logged.chars().all(|c| c == 'é'));
        let json = json!({ "message": "short" });
        assert_eq!(logged_body(&json), r#"{"message":"short"}"#);
    }

    #[test]
    fn hmac_signatures_are_checked() {
        let mut mac = HmacSha256::new_from_slice(b"secret").unwrap();
        mac.update(b"body");
        let good = hex::encode(mac.finalize().into_bytes());
        assert_eq!(
            verify_hmac::<HmacSha256>("secret", b"body", Some(&good)),
            Ok(())
        );
        for bad in [None, Some("zz"), Some(good.as_str())] {
            let body: &[u8] = if bad == Some(good.as_str()) {
                b"other body"
            } else {
                b"body"
            };
            assert_eq!(
                verify_hmac::<HmacSha256>("secret", body, bad),
                Err(WebhookError::BadSignature)
            );
        }
    }
}
