//! A stub WAHA server: the documented session (its account included), pairing (QR codes and codes for a phone number),
//! sending (every kind, forwards, sends whose answer is lost), chat (archive included), number,
//! linked id, group and contact lookup (profile pictures and blocking included), presence and
//! file endpoints over one session whose status the test sets, recording every request it
//! gets. Profile pictures are served at an address of their own, as WhatsApp's CDN serves them
//! (`/cdn/…`, which takes no API key).
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};

use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::stub::{answer, Recorded, Stub};

pub const API_KEY: &str = "waha-api-key";
/// The one received file the stub serves under `/api/files/default/`, and its bytes.
pub const FILE: &str = "false_15550002222@c.us_PIC.jpeg";
pub const FILE_BYTES: &[u8] = b"\xff\xd8\xff\xe0 a picture Alice sent";

/// What the stub WAHA holds; tests change it through [`WahaStub::with`].
#[derive(Debug)]
pub struct WahaState {
    pub session: String,
    /// Whether the session exists yet.
    pub exists: bool,
    pub status: String,
    /// The status a start (or a create with `start: true`) leads to.
    pub status_after_start: String,
    pub qr: String,
    /// The code `POST /api/{session}/auth/request-code` answers while the session shows QR
    /// codes.
    pub pairing_code: String,
    /// `{ id, pushName }`, reported while WORKING.
    pub me: Value,
    pub config: Value,
    pub chats: Vec<Value>,
    pub messages: HashMap<String, Vec<Value>>,
    /// Answers for the next sends instead of the usual one: status and body (`Null`: an
    /// empty body).
    pub send_answers: VecDeque<(u16, Value)>,
    /// A `Retry-After` header for the next of those answers.
    pub send_retry_after: Option<String>,
    /// Answers for the next looks at the session (`GET /api/sessions/{session}`) instead of
    /// its info.
    pub session_answers: VecDeque<(u16, Value)>,
    /// Answers for the next looks at the account (`GET /api/sessions/{session}/me`) instead
    /// of `me` (while WORKING) or `null`.
    pub me_answers: VecDeque<(u16, Value)>,
    /// Answers for the next read receipts and reactions instead of success.
    pub tell_failures: VecDeque<(u16, Value)>,
    /// Numbers WhatsApp has an account for, and the chat id WAHA gives for each.
    pub on_whatsapp: HashMap<String, String>,
    /// Linked ids WAHA knows, with the number's id behind each (`None`: not shared with us).
    /// Others get 404, and those in `lids_failing` a server error.
    pub lids: HashMap<String, Option<String>>,
    pub lids_failing: Vec<String>,
    /// Groups WAHA knows, as the engine's group object (NOWEB's shape for the groups it
    /// makes); others get 404.
    pub groups: HashMap<String, Value>,
    /// How many of the next sends WAHA takes, then loses the answer of: the connection
    /// breaks mid-answer, as when a proxy or the network drops it.
    pub lose_answers: u32,
    /// Whether listing a chat's messages fails with a server error.
    pub listing_fails: bool,
    /// Groups whose changes WAHA refuses with 403, as it does a member who is no admin.
    pub groups_refusing: Vec<String>,
    /// Contacts WAHA knows, by id; others get 404.
    pub contacts: HashMap<String, WahaContact>,
    sent: u32,
}

/// A contact as WAHA tells of them.
#[derive(Debug, Clone, Default)]
pub struct WahaContact {
    /// `GET /api/contacts`: the engine's contact object.
    pub contact: Value,
    /// `GET /api/contacts/about`'s `about`.
    pub about: Option<String>,
    /// The picture `profilePictureURL` points at, with its type; `None`: a null URL.
    pub picture: Option<(String, Vec<u8>)>,
}

pub type WahaStub = Stub<WahaState>;

/// The whole envelope WAHA posts for an event of session `default` whose account is `me`.
pub fn envelope(event: &str, payload: Value, me: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "evt_01hx0000000000000000000000", "timestamp": 1_700_000_500_000u64,
        "session": "default", "engine": "WEBJS", "event": event, "payload": payload,
        "me": { "id": me, "pushName": "Waha Phone" },
        "environment": { "version": "2026.7.1", "engine": "WEBJS", "tier": "CORE", "browser": "", "platform": "linux/x64", "worker": { "id": null } }
    }))
    .unwrap()
}

/// The headers WAHA signs `body` with, under the session's HMAC key `secret`.
pub fn signature_headers(secret: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("x-webhook-hmac", super::stub::hmac_sha512_hex(secret, body)),
        ("x-webhook-hmac-algorithm", "sha512".into()),
        ("x-webhook-request-id", "req-1".into()),
        ("x-webhook-timestamp", "1700000500000".into()),
    ]
}

impl WahaStub {
    /// A WAHA whose session `default` does not exist yet; once started it shows `qr`.
    pub async fn start(qr: &str) -> Self {
        let state = WahaState {
            session: "default".into(),
            exists: false,
            status: "STOPPED".into(),
            status_after_start: "SCAN_QR_CODE".into(),
            qr: qr.into(),
            pairing_code: "K7QM-WX42".into(),
            me: json!({ "id": "15550001111@c.us", "pushName": "Waha Phone" }),
            config: json!({}),
            chats: Vec::new(),
            messages: HashMap::new(),
            send_answers: VecDeque::new(),
            send_retry_after: None,
            session_answers: VecDeque::new(),
            me_answers: VecDeque::new(),
            tell_failures: VecDeque::new(),
            on_whatsapp: HashMap::new(),
            lids: HashMap::new(),
            lids_failing: Vec::new(),
            groups: HashMap::new(),
            lose_answers: 0,
            listing_fails: false,
            groups_refusing: Vec::new(),
            contacts: HashMap::new(),
            sent: 0,
        };
        Stub::launch(state, handle).await
    }
}

/// The query of a request, by name.
fn query(request: &Recorded) -> HashMap<String, String> {
    url::form_urlencoded::parse(request.query.as_deref().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// `GET /api/contacts[/about|/profile-picture]?contactId=&session=`.
fn contact_lookup(state: &WahaState, request: &Recorded, what: Option<&str>) -> Response {
    let query = query(request);
    if query.get("session") != Some(&state.session) {
        return answer(422, json!({ "message": "unknown session" }));
    }
    let id = query.get("contactId").cloned().unwrap_or_default();
    let Some(known) = state.contacts.get(&id) else {
        return answer(404, json!({ "message": "unknown contact" }));
    };
    match what {
        None => answer(200, known.contact.clone()),
        Some("about") => answer(200, json!({ "about": known.about })),
        _ => {
            // WhatsApp's CDN address: another host in truth, signed, and expiring.
            let host = request.header("host").unwrap_or_default();
            let url = known
                .picture
                .as_ref()
                .map(|_| format!("http://{host}/cdn/pictures/{id}?oe=6A0B1C2D&oh=signature"));
            answer(200, json!({ "profilePictureURL": url }))
        }
    }
}

/// The CDN's picture of contact `id`; WAHA's key must never reach it.
fn cdn_picture(state: &WahaState, request: &Recorded, id: &str) -> Response {
    if request.header("x-api-key").is_some() {
        return answer(
            400,
            json!({ "message": "WAHA's API key was sent to the CDN" }),
        );
    }
    match state
        .contacts
        .get(id)
        .and_then(|known| known.picture.clone())
    {
        Some((mime, bytes)) => ([(axum::http::header::CONTENT_TYPE, mime)], bytes).into_response(),
        None => answer(404, json!({ "message": "no picture" })),
    }
}

fn handle(state: &mut WahaState, request: &Recorded) -> Response {
    let (method, path, body) = (&request.method, &request.path, &request.body);
    if let Some(id) = path.strip_prefix("/cdn/pictures/") {
        return cdn_picture(state, request, id);
    }
    if request.header("x-api-key") != Some(API_KEY) {
        return answer(401, json!({ "statusCode": 401, "message": "Unauthorized" }));
    }
    let session = state.session.clone();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let info = |state: &WahaState| {
        let mut info =
            json!({ "name": state.session, "status": state.status, "config": state.config });
        if state.status == "WORKING" {
            info["me"] = state.me.clone();
        }
        info
    };
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["api", "sessions", name]) if *name == session => match state.exists {
            _ if !state.session_answers.is_empty() => {
                let (status, given) = state.session_answers.pop_front().unwrap();
                answer(status, given)
            }
            true => answer(200, info(state)),
            false => answer(
                404,
                json!({ "statusCode": 404, "message": "Session not found" }),
            ),
        },
        ("GET", ["api", "sessions", name, "me"]) if *name == session && state.exists => {
            match state.me_answers.pop_front() {
                Some((status, given)) => answer(status, given),
                None if state.status == "WORKING" => answer(200, state.me.clone()),
                None => answer(200, Value::Null),
            }
        }
        ("POST", ["api", "sessions"]) => {
            state.exists = true;
            state.config = body["config"].clone();
            if body["start"] == true {
                state.status = state.status_after_start.clone();
            }
            answer(201, info(state))
        }
        ("PUT", ["api", "sessions", name]) if *name == session && state.exists => {
            state.config = body["config"].clone();
            answer(200, info(state))
        }
        ("POST", ["api", "sessions", name, action]) if *name == session && state.exists => {
            state.status = match *action {
                "start" => state.status_after_start.clone(),
                "stop" | "logout" => "STOPPED".into(),
                _ => return answer(404, json!({ "message": "no such action" })),
            };
            answer(201, info(state))
        }
        ("GET", ["api", name, "auth", "qr"]) if *name == session => {
            answer(200, json!({ "value": state.qr }))
        }
        ("POST", ["api", name, "auth", "request-code"]) if *name == session => {
            match (state.status.as_str(), body["phoneNumber"].as_str()) {
                ("SCAN_QR_CODE", Some(_)) => answer(201, json!({ "code": state.pairing_code })),
                _ => answer(
                    422,
                    json!({ "statusCode": 422, "message": "the session is not waiting for a link" }),
                ),
            }
        }
        (
            "POST",
            ["api", "sendText" | "sendImage" | "sendFile" | "sendVoice" | "sendVideo" | "sendLocation"
            | "sendContactVcard" | "sendPoll" | "forwardMessage"],
        ) => {
            match state.send_answers.pop_front() {
                Some((status, Value::Null)) => {
                    return axum::http::StatusCode::from_u16(status)
                        .unwrap()
                        .into_response()
                }
                Some((status, given)) => {
                    let mut answered = answer(status, given);
                    if let Some(after) = state.send_retry_after.take() {
                        let after = after.parse().unwrap();
                        answered
                            .headers_mut()
                            .insert(axum::http::header::RETRY_AFTER, after);
                    }
                    return answered;
                }
                None => {}
            }
            state.sent += 1;
            let chat = body["chatId"].as_str().unwrap_or("").to_owned();
            let id = format!("true_{chat}_STUB{}", state.sent);
            let text = body["text"].as_str().or(body["caption"].as_str());
            let mut message = json!({
                "id": id, "fromMe": true, "to": chat, "body": text.unwrap_or(""),
                "hasMedia": !body["file"].is_null(), "ack": 1,
                "timestamp": std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
            });
            if !body["latitude"].is_null() {
                message["location"] =
                    json!({ "latitude": body["latitude"], "longitude": body["longitude"] });
            }
            state
                .messages
                .entry(chat)
                .or_default()
                .push(message.clone());
            if state.lose_answers > 0 {
                state.lose_answers -= 1;
                return lost_answer();
            }
            answer(201, message)
        }
        ("POST", ["api", "sendSeen" | "sendPollVote"])
        | ("PUT", ["api", "reaction"])
        | ("PUT", ["api", _, "chats", _, "messages", _]) => match state.tell_failures.pop_front() {
            Some((status, failure)) => answer(status, failure),
            None => answer(201, json!({})),
        },
        ("POST", ["api", "startTyping" | "stopTyping"]) => answer(201, json!({})),
        ("POST", ["api", name, "presence", _, "subscribe"]) if *name == session => {
            answer(201, json!({}))
        }
        ("GET", ["api", "contacts"]) => contact_lookup(state, request, None),
        ("GET", ["api", "contacts", what @ ("about" | "profile-picture")]) => {
            contact_lookup(state, request, Some(what))
        }
        ("POST", ["api", "contacts", "block" | "unblock"]) => match state.tell_failures.pop_front()
        {
            Some((status, failure)) => answer(status, failure),
            None => answer(201, json!({})),
        },
        ("GET", ["api", "contacts", "check-exists"]) => {
            let query = query(request);
            if query.get("session") != Some(&session) {
                return answer(422, json!({ "message": "unknown session" }));
            }
            match query
                .get("phone")
                .and_then(|phone| state.on_whatsapp.get(phone))
            {
                Some(chat_id) => answer(200, json!({ "numberExists": true, "chatId": chat_id })),
                None => answer(200, json!({ "numberExists": false })),
            }
        }
        ("DELETE", ["api", name, "chats", _, "messages", _]) if *name == session => {
            answer(200, json!({}))
        }
        ("POST", ["api", name, "groups"]) if *name == session => {
            state.sent += 1;
            let id = format!("1203639{:011}@g.us", state.sent);
            let mut members = vec![json!({ "id": state.me["id"], "admin": "superadmin" })];
            for member in body["participants"].as_array().into_iter().flatten() {
                members.push(json!({ "id": member["id"], "admin": null }));
            }
            let group = json!({ "id": id, "subject": body["name"], "owner": state.me["id"],
                "creation": 1_700_000_000, "participants": members, "invite": "FIRSTCODE" });
            state.groups.insert(id, group.clone());
            answer(201, group)
        }
        ("GET", ["api", name, "groups", group]) if *name == session => {
            match state.groups.get(*group) {
                Some(info) => answer(200, info.clone()),
                None => answer(404, json!({ "message": "unknown group" })),
            }
        }
        (_, ["api", name, "groups", group, rest @ ..]) if *name == session => {
            let me = state.me["id"].clone();
            if state
                .groups_refusing
                .iter()
                .any(|refusing| refusing == group)
            {
                return answer(403, json!({ "message": "not an admin" }));
            }
            let Some(info) = state.groups.get_mut(*group) else {
                return answer(404, json!({ "message": "unknown group" }));
            };
            change_group(info, method.as_str(), rest, body, &me)
        }
        ("GET", ["api", name, "lids", lid]) if *name == session => {
            if state.lids_failing.iter().any(|failing| failing == lid) {
                return answer(500, json!({ "message": "engine error" }));
            }
            match state.lids.get(*lid) {
                Some(number) => answer(200, json!({ "lid": lid, "pn": number })),
                None => answer(404, json!({ "message": "unknown lid" })),
            }
        }
        ("GET", ["api", "files", name, file]) if *name == session && *file == FILE => (
            [(axum::http::header::CONTENT_TYPE, "image/jpeg")],
            FILE_BYTES,
        )
            .into_response(),
        ("POST", ["api", name, "chats", _, "archive" | "unarchive" | "unread"])
            if *name == session =>
        {
            answer(200, json!({}))
        }
        ("GET", ["api", name, "chats"]) if *name == session => answer(200, json!(state.chats)),
        ("GET", ["api", name, "chats", _, "messages"]) if state.listing_fails => {
            answer(500, json!({ "message": "engine busy" }))
        }
        ("GET", ["api", name, "chats", chat, "messages"]) if *name == session => {
            let messages = state.messages.get(*chat).cloned().unwrap_or_default();
            answer(200, json!(messages))
        }
        _ => answer(
            404,
            json!({ "statusCode": 404, "message": format!("no route {method} {path}") }),
        ),
    }
}

/// An answer cut short: its body breaks off, and with it the connection, before the client
/// has it.
fn lost_answer() -> Response {
    let cut = futures_util::stream::iter([
        Ok(axum::body::Bytes::from_static(b"{\"id\":")),
        Err(std::io::Error::other("the connection broke")),
    ]);
    Response::builder()
        .status(201)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from_stream(cut))
        .unwrap()
}

/// A change to a group the stub knows, as WAHA's group endpoints make it. Adding answers per
/// participant, as NOWEB does (`409` for one already in).
fn change_group(
    group: &mut Value,
    method: &str,
    rest: &[&str],
    body: &Value,
    me: &Value,
) -> Response {
    let ids: Vec<Value> = body["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|member| member["id"].clone())
        .collect();
    let members = group["participants"].as_array_mut().unwrap();
    match (method, rest) {
        ("PUT", ["subject"]) => group["subject"] = body["subject"].clone(),
        ("PUT", ["description"]) => group["desc"] = body["description"].clone(),
        ("POST", ["participants", "add"]) => {
            let statuses: Vec<Value> = ids
                .iter()
                .map(|id| {
                    let known = members.iter().any(|member| member["id"] == *id);
                    if !known {
                        members.push(json!({ "id": id, "admin": null }));
                    }
                    json!({ "jid": id, "status": if known { "409" } else { "200" } })
                })
                .collect();
            return answer(200, json!(statuses));
        }
        ("POST", ["participants", "remove"]) => {
            members.retain(|member| !ids.contains(&member["id"]))
        }
        ("POST", ["admin", action @ ("promote" | "demote")]) => {
            let role = if *action == "promote" {
                json!("admin")
            } else {
                Value::Null
            };
            for member in members
                .iter_mut()
                .filter(|member| ids.contains(&member["id"]))
            {
                member["admin"] = role.clone();
            }
        }
        ("GET", ["invite-code"]) => return answer(200, group["invite"].clone()),
        ("POST", ["invite-code", "revoke"]) => {
            group["invite"] = json!("SECONDCODE");
            return answer(201, group["invite"].clone());
        }
        ("POST", ["leave"]) => members.retain(|member| member["id"] != *me),
        _ => return answer(404, json!({ "message": "no such group route" })),
    }
    answer(200, json!({}))
}
