//! A stub Graph API for the WhatsApp Business Cloud API: the phone number, its `messages`
//! endpoint and one media file, checking the bearer token, recording every request it gets.
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
    sent: u32,
}

pub type CloudStub = Stub<CloudState>;

impl CloudStub {
    pub async fn start() -> Self {
        let state = CloudState {
            token: TOKEN.into(),
            failures: VecDeque::new(),
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
        "GET" if *path == CloudStub::number_path() => answer(
            200,
            json!({ "verified_name": "Acme Support", "display_phone_number": "+1 555-010-0000", "id": PHONE_NUMBER_ID }),
        ),
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
