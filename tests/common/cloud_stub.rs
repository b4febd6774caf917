//! A stub Graph API for the WhatsApp Business Cloud API: the phone number (the fields asked
//! for, its health status included), its `messages` endpoint and one media file, checking the
//! bearer token, recording every request it gets; reads of the number and sends fail on demand.
#![allow(dead_code)]

use std::collections::VecDeque;

use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::stub::{answer, Recorded, Stub};

pub const VERSION: &str = "v21.0";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const TOKEN: &str = "EAAG-test-token";
/// The one media id the stub knows, and its file.
pub const MEDIA_ID: &str = "1037543291543636";
pub const MEDIA_BYTES: &[u8] =
    b"\xff\xd8\xff\xe0 not really a JPEG, but bytes all the same \x00\x01";
/// The media id Meta gives a file uploaded to it.
pub const UPLOADED_ID: &str = "2040000000000001";

#[derive(Debug)]
pub struct CloudState {
    /// The token Meta accepts.
    pub token: String,
    /// Answers for the next `messages` calls instead of success: status and body.
    pub failures: VecDeque<(u16, Value)>,
    /// Answers for the next reads of the phone number instead of its fields.
    pub number_answers: VecDeque<(u16, Value)>,
    /// The number's `health_status.can_send_message`: `AVAILABLE`, `LIMITED` or `BLOCKED`.
    pub can_send_message: String,
    sent: u32,
}

pub type CloudStub = Stub<CloudState>;

impl CloudStub {
    pub async fn start() -> Self {
        let state = CloudState {
            token: TOKEN.into(),
            failures: VecDeque::new(),
            number_answers: VecDeque::new(),
            can_send_message: "AVAILABLE".into(),
            sent: 0,
        };
        Stub::launch(state, handle).await
    }

    /// The `graph_url` a device uses to reach this stub.
    pub fn graph_url(&self) -> String {
        format!("{}/{VERSION}", self.base())
    }

    pub fn number_path() -> String {
        format!("/{VERSION}/{PHONE_NUMBER_ID}")
    }

    pub fn messages_path() -> String {
        format!("/{VERSION}/{PHONE_NUMBER_ID}/messages")
    }

    /// Where files to send are uploaded.
    pub fn upload_path() -> String {
        format!("/{VERSION}/{PHONE_NUMBER_ID}/media")
    }

    pub fn media_path() -> String {
        format!("/{VERSION}/{MEDIA_ID}")
    }

    /// Where Meta's answer about the media says the file is (a short-lived URL at Meta).
    pub fn download_path() -> String {
        format!("/download/{MEDIA_ID}")
    }
}

/// Posts a delivery to a Cloud API device's callback as Meta does, signed with the app secret.
pub async fn deliver(
    daemon: &super::TestDaemon,
    device: &str,
    app_secret: &str,
    body: Vec<u8>,
) -> (reqwest::StatusCode, String) {
    let signature = super::stub::meta_signature(app_secret, &body);
    daemon
        .deliver(
            reqwest::Method::POST,
            &format!("/upstream/cloud/{device}"),
            body,
            &[("x-hub-signature-256", &signature)],
        )
        .await
}

/// The phone number node with the fields asked for (`?fields=`), as the Graph API answers:
/// only those, and the id; a field it does not know is error 100. `health_status` is the documented summary for a business phone
/// number, with the number, its account, business and app as entities.
fn phone_number(state: &CloudState, request: &Recorded) -> Response {
    let can_send = state.can_send_message.as_str();
    let entity = |entity_type: &str, id: &str| {
        let mut entity =
            json!({ "entity_type": entity_type, "id": id, "can_send_message": can_send });
        if can_send == "BLOCKED" {
            entity["errors"] = json!([{ "error_code": 141006,
                "error_description": "There is an error with the payment method.",
                "possible_solution": "Add a payment method to the account." }]);
        }
        entity
    };
    let health = json!({
        "can_send_message": can_send,
        "entities": [
            entity("PHONE_NUMBER", PHONE_NUMBER_ID),
            entity("WABA", "102290129340398"),
            json!({ "entity_type": "BUSINESS", "id": "2729063490586005", "can_send_message": "AVAILABLE" }),
            json!({ "entity_type": "APP", "id": "334526262904513", "can_send_message": "AVAILABLE" }),
        ],
    });
    let all = json!({
        "verified_name": "Acme Support",
        "display_phone_number": "+1 555-010-0000",
        "health_status": health,
    });
    let fields = url::form_urlencoded::parse(request.query.as_deref().unwrap_or("").as_bytes())
        .find(|(name, _)| name == "fields")
        .map(|(_, fields)| fields.into_owned())
        // Without `fields`, Meta answers a default set, of which the stub has these.
        .unwrap_or_else(|| "verified_name,display_phone_number".into());
    let mut number = json!({ "id": PHONE_NUMBER_ID });
    for field in fields.split(',').filter(|field| !field.is_empty()) {
        match all.get(field) {
            Some(value) => number[field] = value.clone(),
            None => {
                return answer(
                    400,
                    json!({ "error": { "message": format!("(#100) Tried accessing nonexisting field ({field})"), "type": "OAuthException", "code": 100 } }),
                )
            }
        }
    }
    answer(200, number)
}

fn handle(state: &mut CloudState, request: &Recorded) -> Response {
    let (method, path, body) = (&request.method, &request.path, &request.body);
    let bearer = format!("Bearer {}", state.token);
    if request.header("authorization") != Some(bearer.as_str()) {
        return answer(
            401,
            json!({ "error": { "message": "Invalid OAuth access token - Cannot parse access token", "type": "OAuthException", "code": 190 } }),
        );
    }
    match method.as_str() {
        "GET" if *path == CloudStub::number_path() => match state.number_answers.pop_front() {
            Some((status, given)) => answer(status, given),
            None => phone_number(state, request),
        },
        "GET" if *path == CloudStub::media_path() => {
            let host = request.header("host").unwrap_or_default();
            answer(
                200,
                json!({
                    "messaging_product": "whatsapp",
                    "url": format!("http://{host}{}", CloudStub::download_path()),
                    "mime_type": "image/jpeg",
                    "sha256": "1b9f0c1e0b8f6c2e6a6f0e4d0b9b4f1b1f2e3d4c5b6a79880706050403020100",
                    "file_size": MEDIA_BYTES.len(),
                    "id": MEDIA_ID,
                }),
            )
        }
        "GET" if *path == CloudStub::download_path() => (
            [(axum::http::header::CONTENT_TYPE, "image/jpeg")],
            MEDIA_BYTES,
        )
            .into_response(),
        "GET" if path.starts_with(&format!("/{VERSION}/")) => answer(
            400,
            json!({ "error": { "message": format!("Unsupported get request. Object with ID '{}' does not exist", &path[VERSION.len() + 2..]), "type": "GraphMethodException", "code": 100 } }),
        ),
        "POST" if *path == CloudStub::upload_path() => answer(200, json!({ "id": UPLOADED_ID })),
        "POST" if *path == CloudStub::messages_path() => {
            if let Some((status, failure)) = state.failures.pop_front() {
                return answer(status, failure);
            }
            if body["status"] == "read" {
                return answer(200, json!({ "success": true }));
            }
            state.sent += 1;
            answer(
                200,
                json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{ "input": body["to"], "wa_id": body["to"] }],
                    "messages": [{ "id": format!("wamid.STUB{}", state.sent) }],
                }),
            )
        }
        _ => answer(
            404,
            json!({ "error": { "message": format!("Unknown path components: {path}") } }),
        ),
    }
}
