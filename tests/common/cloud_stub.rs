//! A stub Graph API for the WhatsApp Business Cloud API: the phone number and its `messages`
//! endpoint, checking the bearer token, recording every request it gets.
#![allow(dead_code)]

use std::collections::VecDeque;

use axum::response::Response;
use serde_json::{json, Value};

use super::stub::{answer, Recorded, Stub};

pub const VERSION: &str = "v21.0";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const TOKEN: &str = "EAAG-test-token";

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
