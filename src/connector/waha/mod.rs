//! A device relayed to one session of a WAHA server (WhatsApp HTTP API).
//!
//! Opening the device creates the WAHA session, or updates it, with a webhook back to
//! `{public_url}/upstream/waha/{deviceId}` signed with the device's `webhook_secret`, and
//! starts it. From then on WAHA drives: it shows QR codes, rotates them, and reports its status
//! by webhook. devicebridge never believes a status webhook as such — it asks WAHA where the
//! session stands ([`Upstream::check`]), so a late `STOPPED` from an earlier stop cannot stop
//! a session that was started again, and a repeated `SCAN_QR_CODE` only counts when the code
//! really changed.
//!
//! | WAHA status | devicebridge |
//! |---|---|
//! | `STARTING` | `starting` (a linked device that starts over goes back to `starting`) |
//! | `SCAN_QR_CODE` | `qr`, with the code from `GET /api/{session}/auth/qr?format=raw`; each new code is a new `qr` event |
//! | `WORKING` | `authenticated`, then `ready` once chats are backfilled |
//! | `FAILED` | `failed` |
//! | `STOPPED` | `stopped` (reason `upstream_stopped`) |

pub mod media;
mod webhook;

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use base64::Engine;
use reqwest::header::ACCEPT;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use url::Url;

use super::http::{self, Http};
use super::{send_in_order, SendOne};
use crate::device::media::Library;
use crate::device::upstream::Upstream;
use crate::model::{
    event::Me,
    inbound::{Directory, DirectoryChat, DirectoryContact},
    spec::WahaSpec,
    upstream::{Accepted, ConnectorError, Outbound, Outgoing, Session},
    Ack, DeviceId,
};
use media::Files;

pub use webhook::read as read_webhook;

/// The webhook events a WAHA session is subscribed to.
const EVENTS: [&str; 12] = [
    "session.status",
    "message",
    "message.any",
    "message.ack",
    "message.ack.group",
    "message.revoked",
    "message.reaction",
    "presence.update",
    "chat.archive",
    "group.v2.join",
    "group.v2.update",
    "call.received",
];
/// How many chats, newest first, are backfilled when the device becomes ready...
const BACKFILL_CHATS: u32 = 50;
/// ...and how many recent messages of each.
const BACKFILL_MESSAGES: u32 = 20;

/// A WAHA session status.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    Starting,
    ScanQrCode,
    Working,
    Failed,
    Stopped,
    /// A status devicebridge does not follow (passkey linking): treated as still starting.
    Other(String),
}

impl Status {
    fn of(info: &Value) -> Status {
        match info["status"].as_str().unwrap_or_default() {
            "STARTING" => Status::Starting,
            "SCAN_QR_CODE" => Status::ScanQrCode,
            "WORKING" => Status::Working,
            "FAILED" => Status::Failed,
            "STOPPED" => Status::Stopped,
            other => Status::Other(other.to_owned()),
        }
    }
}

pub struct Waha {
    spec: WahaSpec,
    base: Url,
    webhook_url: String,
    /// Where received files are served (see [`media`]).
    files: Files,
    /// Files the daemon serves, read whole to be sent inline.
    library: Library,
    http: Http,
    /// Our account, once WAHA reported it: messages from it are ours.
    me: Option<Me>,
    /// The last status reported to the device, so a repeated report is no news.
    reported: Option<Status>,
    /// The QR code on show, and one fetched by a check but not shown yet.
    shown_qr: Option<String>,
    fresh_qr: Option<String>,
    /// Chats whose presence this session of WAHA was asked to report.
    watched: HashSet<String>,
}

impl Waha {
    pub fn new(
        device: &DeviceId,
        spec: WahaSpec,
        public_url: &str,
        http: Http,
        library: Library,
    ) -> Result<Self, ConnectorError> {
        let base = Url::parse(&spec.base_url)
            .map_err(|error| ConnectorError::Rejected(format!("`waha.base_url`: {error}")))?;
        Ok(Self {
            webhook_url: format!(
                "{}/upstream/waha/{device}",
                public_url.trim_end_matches('/')
            ),
            files: Files::new(&spec, &super::media_base(public_url, device)),
            http,
            library,
            base,
            spec,
            me: None,
            reported: None,
            shown_qr: None,
            fresh_qr: None,
            watched: HashSet::new(),
        })
    }

    /// A request to WAHA; `segments` are percent-encoded as needed (chat ids contain `@`).
    fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        let request = self
            .http
            .request(method, url)
            .header(ACCEPT, "application/json");
        match &self.spec.api_key {
            Some(key) => request.header("X-Api-Key", key.expose()),
            None => request,
        }
    }

    fn session_path<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut segments = vec!["api", "sessions", self.spec.session.as_str()];
        segments.extend_from_slice(rest);
        segments
    }

    /// Our webhook, as WAHA's session config holds it.
    fn webhook(&self) -> Value {
        json!({
            "url": self.webhook_url,
            "events": EVENTS,
            "hmac": { "key": self.spec.webhook_secret.expose() },
        })
    }

    /// Makes the session exist with our webhook, and running.
    async fn prepare_session(&self) -> Result<(), ConnectorError> {
        let (status, info) = self
            .http
            .exchange(self.request(Method::GET, &self.session_path(&[])))
            .await?;
        if status == StatusCode::NOT_FOUND {
            let create = json!({
                "name": self.spec.session,
                "start": true,
                "config": { "webhooks": [self.webhook()] },
            });
            self.http
                .call(
                    self.request(Method::POST, &["api", "sessions"])
                        .json(&create),
                )
                .await?;
            return Ok(());
        }
        let info = http::success(status, info)?;
        // Other settings and other webhooks of the session are kept; ours is replaced.
        let ours = self.webhook();
        let mut config = match &info["config"] {
            config @ Value::Object(_) => config.clone(),
            _ => json!({}),
        };
        let hooks: Vec<Value> = config["webhooks"].as_array().cloned().unwrap_or_default();
        let (mine, others): (Vec<Value>, Vec<Value>) = hooks
            .into_iter()
            .partition(|hook| hook["url"] == ours["url"]);
        if mine != [ours.clone()] {
            config["webhooks"] = others.into_iter().chain([ours]).collect();
            self.http
                .call(
                    self.request(Method::PUT, &self.session_path(&[]))
                        .json(&json!({ "config": config })),
                )
                .await?;
        }
        if matches!(Status::of(&info), Status::Stopped | Status::Failed) {
            self.http
                .call(self.request(Method::POST, &self.session_path(&["start"])))
                .await?;
        }
        Ok(())
    }

    async fn session_info(&self) -> Result<Value, ConnectorError> {
        self.http
            .call(self.request(Method::GET, &self.session_path(&[])))
            .await
    }

    async fn fetch_qr(&self) -> Result<String, ConnectorError> {
        let session = self.spec.session.as_str();
        let answer = self
            .http
            .call(
                self.request(Method::GET, &["api", session, "auth", "qr"])
                    .query(&[("format", "raw")]),
            )
            .await?;
        answer["value"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ConnectorError::Failing("WAHA answered without a QR code".into()))
    }

    /// What a status means for the device; `None` while it cannot be followed yet (working,
    /// but without its account).
    fn session_of(&mut self, status: &Status, info: &Value) -> Option<Session> {
        Some(match status {
            Status::Starting => Session::Starting,
            Status::ScanQrCode => Session::NeedsLinking,
            Status::Working => {
                let id = info["me"]["id"].as_str().filter(|id| !id.is_empty())?;
                let name = info["me"]["pushName"].as_str().unwrap_or(id);
                let me = Me {
                    id: id.to_owned(),
                    name: name.to_owned(),
                };
                self.me = Some(me.clone());
                Session::Linked {
                    session: json!({ "session": self.spec.session }),
                    me,
                }
            }
            Status::Failed => Session::Failed {
                reason: "WAHA reports the session as FAILED".into(),
            },
            Status::Stopped => Session::Stopped,
            Status::Other(status) => {
                tracing::warn!(
                    status,
                    "WAHA session status not followed; waiting for another"
                );
                return None;
            }
        })
    }

    /// Chats, newest first, and their recent messages. Backfill is best effort: only an
    /// unreachable WAHA or refused credentials keep the device from becoming ready.
    async fn backfill(&self) -> Result<Directory, ConnectorError> {
        let session = self.spec.session.as_str();
        let limit = BACKFILL_CHATS.to_string();
        let listed = self
            .http
            .call(
                self.request(Method::GET, &["api", session, "chats"])
                    .query(&[
                        ("limit", limit.as_str()),
                        ("sortBy", "conversationTimestamp"),
                        ("sortOrder", "desc"),
                    ]),
            )
            .await;
        let chats = match listed {
            Ok(chats) => chats.as_array().cloned().unwrap_or_default(),
            Err(error) => return best_effort(error, "chats").map(|()| Directory::default()),
        };
        let me = self.me.as_ref().map(|me| me.id.as_str());
        let mut directory = Directory::default();
        let limit = BACKFILL_MESSAGES.to_string();
        for chat in chats {
            let Some(id) = webhook::id_of(&chat["id"]) else {
                continue;
            };
            let group = id.ends_with("@g.us");
            let name = chat["name"]
                .as_str()
                .filter(|name| !name.is_empty())
                .unwrap_or(&id)
                .to_owned();
            if !group {
                directory.contacts.push(DirectoryContact {
                    id: id.clone(),
                    name: name.clone(),
                    push_name: None,
                });
            }
            let messages = self
                .http
                .call(
                    self.request(Method::GET, &["api", session, "chats", &id, "messages"])
                        .query(&[("limit", limit.as_str()), ("downloadMedia", "false")]),
                )
                .await;
            match messages {
                Ok(messages) => {
                    let messages = messages.as_array().into_iter().flatten();
                    directory.history.extend(messages.filter_map(|message| {
                        webhook::incoming(message, me, Some(&name), &self.files)
                    }));
                }
                Err(error) => best_effort(error, "messages")?,
            }
            directory.chats.push(DirectoryChat { id, name, group });
        }
        directory.history.sort_by_key(|message| message.timestamp);
        Ok(directory)
    }

    /// Read receipts, `POST /api/sendSeen`. In a group WAHA needs the sender of the messages
    /// (`participant`), which a group message's id ends with: one call per sender.
    async fn mark_read(
        &self,
        chat_id: &str,
        upstream_ids: &[String],
    ) -> Result<(), ConnectorError> {
        let group = chat_id.ends_with("@g.us");
        let mut by_sender: BTreeMap<Option<&str>, Vec<&str>> = BTreeMap::new();
        for id in upstream_ids {
            let sender = group.then(|| webhook::split_participant(id).1).flatten();
            by_sender.entry(sender).or_default().push(id);
        }
        for (participant, ids) in by_sender {
            let mut body = self.chat_body(chat_id);
            body["messageIds"] = json!(ids);
            if let Some(participant) = participant {
                body["participant"] = json!(participant);
            }
            self.http
                .call(self.request(Method::POST, &["api", "sendSeen"]).json(&body))
                .await?;
        }
        Ok(())
    }

    /// A body for the chat endpoints (`sendSeen`, typing).
    fn chat_body(&self, chat_id: &str) -> Value {
        json!({ "session": self.spec.session, "chatId": chat_id })
    }
}

/// A number's chat id as WAHA's own ids write it (`15550001111@c.us`), from the forms engines
/// give: `@c.us`, or the protocol's `@s.whatsapp.net`, either possibly with a device suffix
/// (`15550001111:3@s.whatsapp.net`). Anything else is no number.
fn number_chat_id(jid: &str) -> Option<String> {
    let (user, server) = jid.split_once('@')?;
    let number = user.split(':').next().unwrap_or_default();
    let is_number = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    (is_number && matches!(server, "c.us" | "s.whatsapp.net")).then(|| format!("{number}@c.us"))
}

/// The id of the message a send answer describes, in the serialized form WAHA's webhooks
/// name it by (`true_{chatId}_{id}`), so its acks and its echo find it. Engines answer
/// differently: a string `id` or WEBJS's object with `_serialized`, or NOWEB's raw message
/// whose `key` holds the parts. `None` when the answer names no id (some versions answer
/// with an empty body).
fn sent_id(answer: &Value) -> Option<String> {
    if let Some(id) = webhook::id_of(&answer["id"]) {
        return Some(id);
    }
    let key = &answer["key"];
    let id = key["id"].as_str().filter(|id| !id.is_empty())?;
    let chat = key["remoteJid"].as_str().filter(|chat| !chat.is_empty())?;
    let from_me = key["fromMe"].as_bool().unwrap_or(true);
    let mut serialized = format!("{from_me}_{}_{id}", waha_jid(chat));
    if let Some(participant) = key["participant"].as_str().filter(|p| !p.is_empty()) {
        serialized = format!("{serialized}_{}", waha_jid(participant));
    }
    Some(serialized)
}

/// A protocol jid as WAHA writes ids: a number's `@s.whatsapp.net` is `@c.us`; groups and
/// linked ids stay as they are.
fn waha_jid(jid: &str) -> String {
    number_chat_id(jid).unwrap_or_else(|| jid.to_owned())
}

/// A group's subject in whichever engine's shape WAHA gives it.
fn subject_of(group: &Value) -> Option<String> {
    [
        &group["subject"],
        &group["name"],
        &group["groupMetadata"]["subject"],
        &group["Name"],
    ]
    .into_iter()
    .find_map(|name| name.as_str().filter(|name| !name.is_empty()))
    .map(str::to_owned)
}

/// A backfill request that failed: given up on with a warning, unless WAHA is unreachable or
/// refused our credentials.
fn best_effort(error: ConnectorError, what: &str) -> Result<(), ConnectorError> {
    match error {
        error if error.concerns_device() => Err(error),
        other => {
            tracing::warn!(error = %other, "WAHA did not list its {what}; backfill skips them");
            Ok(())
        }
    }
}

#[async_trait]
impl SendOne for Waha {
    async fn send_one(&self, outgoing: &Outgoing) -> Result<Accepted, ConnectorError> {
        let message = &outgoing.message;
        if message.template.is_some() {
            return Err(ConnectorError::Rejected(
                "WhatsApp templates are sent by Cloud API devices only".into(),
            ));
        }
        let mut body = self.chat_body(&message.chat_id);
        let endpoint = match &message.media {
            None => {
                body["text"] = json!(message.body);
                "sendText"
            }
            Some(media) => {
                // A file the daemon serves (received on this device or another) goes inline:
                // WAHA can fetch neither the daemon's URL nor, behind its key, its own.
                body["file"] = match self.library.read(&media.url).await {
                    Some(file) => json!({
                        "data": base64::engine::general_purpose::STANDARD.encode(file?.bytes),
                        "mimetype": media.mime,
                    }),
                    None => json!({ "url": media.url, "mimetype": media.mime }),
                };
                if let Some(name) = &media.name {
                    body["file"]["filename"] = json!(name);
                }
                if !message.body.is_empty() {
                    body["caption"] = json!(message.body);
                }
                match media.message_type() {
                    "image" => "sendImage",
                    _ => "sendFile",
                }
            }
        };
        if let Some(quoted) = &outgoing.reply_to {
            body["reply_to"] = json!(quoted);
        }
        let answer = self
            .http
            .call(self.request(Method::POST, &["api", endpoint]).json(&body))
            .await?;
        let upstream_id = sent_id(&answer);
        if upstream_id.is_none() {
            tracing::warn!(
                endpoint,
                "WAHA took a message without naming its id; its acks cannot be followed"
            );
        }
        // WAHA answers with the message once WhatsApp's servers have it.
        Ok(Accepted {
            upstream_id,
            ack: Ack::Server,
        })
    }
}

#[async_trait]
impl Upstream for Waha {
    async fn open(&mut self, _session: Option<&Value>) -> Result<Session, ConnectorError> {
        self.reported = None;
        self.shown_qr = None;
        self.fresh_qr = None;
        self.watched.clear();
        self.prepare_session().await?;
        let info = self.session_info().await?;
        let status = Status::of(&info);
        // Just started: a session still reported as stopped is about to start.
        if status == Status::Stopped {
            return Ok(Session::Starting);
        }
        let session = self.session_of(&status, &info);
        if session.is_some() {
            self.reported = Some(status);
        }
        Ok(session.unwrap_or(Session::Starting))
    }

    async fn issue_qr(&mut self, _ttl: std::time::Duration) -> Result<String, ConnectorError> {
        let qr = match self.fresh_qr.take() {
            Some(qr) => qr,
            None => self.fetch_qr().await?,
        };
        self.shown_qr = Some(qr.clone());
        Ok(qr)
    }

    fn rotates_qr(&self) -> bool {
        true
    }

    async fn check(&mut self) -> Result<Option<Session>, ConnectorError> {
        let info = self.session_info().await?;
        let status = Status::of(&info);
        if status == Status::ScanQrCode {
            let qr = self.fetch_qr().await?;
            let known = [&self.shown_qr, &self.fresh_qr]
                .into_iter()
                .any(|seen| seen.as_ref() == Some(&qr));
            if known && self.reported == Some(Status::ScanQrCode) {
                return Ok(None);
            }
            self.fresh_qr = Some(qr);
        } else if self.reported.as_ref() == Some(&status) {
            return Ok(None);
        }
        let session = self.session_of(&status, &info);
        if session.is_some() {
            self.reported = Some(status);
        }
        Ok(session)
    }

    async fn sync(&mut self) -> Result<Directory, ConnectorError> {
        self.backfill().await
    }

    async fn send(&mut self, batch: &[Outgoing]) -> Vec<Result<Accepted, ConnectorError>> {
        send_in_order(self, batch).await
    }

    async fn tell(&mut self, action: &Outbound) -> Result<(), ConnectorError> {
        let request = match action {
            Outbound::MarkRead {
                chat_id,
                upstream_ids,
            } => return self.mark_read(chat_id, upstream_ids).await,
            Outbound::Typing {
                chat_id, typing, ..
            } => {
                let endpoint = if *typing { "startTyping" } else { "stopTyping" };
                self.request(Method::POST, &["api", endpoint])
                    .json(&self.chat_body(chat_id))
            }
            Outbound::React {
                upstream_id, emoji, ..
            } => self
                .request(Method::PUT, &["api", "reaction"])
                .json(&json!({
                    "session": self.spec.session,
                    "messageId": upstream_id,
                    "reaction": emoji,
                })),
            Outbound::Revoke {
                chat_id,
                upstream_id,
            } => {
                let session = self.spec.session.as_str();
                self.request(
                    Method::DELETE,
                    &["api", session, "chats", chat_id, "messages", upstream_id],
                )
            }
            Outbound::Archive { chat_id, archived } => {
                let action = if *archived { "archive" } else { "unarchive" };
                let session = self.spec.session.as_str();
                self.request(Method::POST, &["api", session, "chats", chat_id, action])
            }
            // Once per chat while the session runs, whatever the answer: the engine keeps the
            // subscription (NOWEB renews it when it reconnects), and presence is best effort,
            // so an engine that cannot subscribe is not asked at every look at the chat.
            Outbound::WatchPresence { chat_id } => {
                if !self.watched.insert(chat_id.clone()) {
                    return Ok(());
                }
                let session = self.spec.session.as_str();
                self.request(
                    Method::POST,
                    &["api", session, "presence", chat_id, "subscribe"],
                )
            }
        };
        self.http.call(request).await.map(drop)
    }

    /// WAHA asks WhatsApp, and answers with the chat id to write to: for some countries it
    /// differs from the number as dialled (Brazil's mobile numbers with or without their
    /// extra 9), so the id is taken as WAHA gives it.
    async fn find_number(&mut self, number: &str) -> Result<Option<String>, ConnectorError> {
        let request = self
            .request(Method::GET, &["api", "contacts", "check-exists"])
            .query(&[("phone", number), ("session", self.spec.session.as_str())]);
        let found = self.http.call(request).await?;
        if found["numberExists"] != true {
            return Ok(None);
        }
        Ok(Some(match found["chatId"].as_str() {
            Some(chat_id) if !chat_id.is_empty() => chat_id.to_owned(),
            _ => format!("{number}@c.us"),
        }))
    }

    /// WAHA's `GET /api/{session}/lids/{lid}`: `pn` is the number's chat id, or null while
    /// the contact has not shared it with us; 404 from a WAHA that does not know the id (or,
    /// older, the endpoint).
    async fn number_behind(&mut self, lid: &str) -> Result<Option<String>, ConnectorError> {
        let session = self.spec.session.as_str();
        let (status, answer) = self
            .http
            .exchange(self.request(Method::GET, &["api", session, "lids", lid]))
            .await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let answer = http::success(status, answer)?;
        Ok(answer["pn"].as_str().and_then(number_chat_id))
    }

    /// WAHA's `GET /api/{session}/groups/{id}` answers with the engine's own group object:
    /// the subject is `subject` (NOWEB), `name` or `groupMetadata.subject` (WEBJS), or `Name`
    /// (GOWS).
    async fn group_name(&mut self, group_id: &str) -> Result<Option<String>, ConnectorError> {
        let session = self.spec.session.as_str();
        let (status, group) = self
            .http
            .exchange(self.request(Method::GET, &["api", session, "groups", group_id]))
            .await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(subject_of(&http::success(status, group)?))
    }

    async fn close(&mut self) {
        self.reported = None;
        if let Err(error) = self
            .http
            .call(self.request(Method::POST, &self.session_path(&["stop"])))
            .await
        {
            tracing::debug!(%error, "WAHA did not stop the session");
        }
    }

    async fn logout(&mut self) {
        self.reported = None;
        if let Err(error) = self
            .http
            .call(self.request(Method::POST, &self.session_path(&["logout"])))
            .await
        {
            tracing::warn!(%error, "WAHA did not log the session out");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{number_chat_id, sent_id, subject_of};
    use serde_json::json;

    #[test]
    fn a_sent_messages_id_is_read_from_every_engines_answer() {
        let serialized = "true_15550002222@c.us_3EB0AAAA";
        let plain = json!({ "id": serialized, "body": "hi" });
        let webjs = json!({ "id": { "fromMe": true, "remote": "15550002222@c.us",
            "id": "3EB0AAAA", "_serialized": serialized } });
        let noweb = json!({ "key": { "remoteJid": "15550002222@s.whatsapp.net",
            "fromMe": true, "id": "3EB0AAAA" }, "message": {}, "status": "PENDING" });
        for answer in [plain, webjs, noweb] {
            assert_eq!(sent_id(&answer).as_deref(), Some(serialized), "{answer}");
        }
        let group =
            json!({ "key": { "remoteJid": "120363@g.us", "fromMe": true, "id": "3EB0BBBB" } });
        assert_eq!(
            sent_id(&group).as_deref(),
            Some("true_120363@g.us_3EB0BBBB")
        );
        for nameless in [
            json!(null),
            json!({}),
            json!({ "key": { "remoteJid": "1@c.us" } }),
        ] {
            assert_eq!(sent_id(&nameless), None, "{nameless}");
        }
    }

    #[test]
    fn a_groups_subject_is_read_from_every_engines_shape() {
        let noweb = json!({ "id": "120363@g.us", "subject": "Family" });
        let webjs = json!({ "id": { "_serialized": "120363@g.us" }, "name": "Family",
            "groupMetadata": { "subject": "Family" } });
        let webjs_unnamed = json!({ "name": "", "groupMetadata": { "subject": "Family" } });
        let gows = json!({ "JID": "120363@g.us", "Name": "Family" });
        for group in [noweb, webjs, webjs_unnamed, gows] {
            assert_eq!(subject_of(&group).as_deref(), Some("Family"), "{group}");
        }
        assert_eq!(subject_of(&json!({ "id": "120363@g.us" })), None);
    }

    #[test]
    fn numbers_behind_linked_ids_read_as_chat_ids_in_every_form_engines_give() {
        let read = |jid| number_chat_id(jid);
        assert_eq!(
            read("15550002222@c.us").as_deref(),
            Some("15550002222@c.us")
        );
        assert_eq!(
            read("15550002222@s.whatsapp.net").as_deref(),
            Some("15550002222@c.us")
        );
        assert_eq!(
            read("15550002222:3@s.whatsapp.net").as_deref(),
            Some("15550002222@c.us")
        );
        for not_a_number in ["123@lid", "120363@g.us", "@c.us", "abc@c.us", "15550002222"] {
            assert_eq!(read(not_a_number), None, "{not_a_number}");
        }
    }
}
