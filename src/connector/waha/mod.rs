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
//! | `SCAN_QR_CODE` | `qr`, with the code from `GET /api/{session}/auth/qr?format=raw`; each new code is a new `qr` event; a code for a phone number from `POST /api/{session}/auth/request-code` |
//! | `WORKING` | `authenticated`, then `ready` once chats are backfilled |
//! | `FAILED` | `failed` |
//! | `STOPPED` | `stopped` (reason `upstream_stopped`) |
//!
//! Here: the connector's state, its requests to WAHA and the [`Upstream`] it implements. The
//! session and its status are in `session`, the backfill in `backfill`, sending in `send`, the
//! engines' differing answers in `engines`, sending once whatever answers are lost in
//! `resend`, incoming webhooks in `webhook`, files in [`media`], contacts' profiles, pictures
//! and blocks in `contacts`.

mod backfill;
mod contacts;
mod engines;
mod group_events;
mod groups;
pub mod media;
mod message_kinds;
pub mod receiver;
mod resend;
mod restrictions;
mod send;
mod session;
mod webhook;

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::ACCEPT;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use url::Url;

use super::http::{self, Http};
use super::send_in_order;
use crate::device::media::Library;
use crate::device::upstream::Upstream;
use crate::model::{
    event::Me,
    group::{GroupOp, GroupOutcome},
    inbound::Directory,
    pairing::LinkingPhone,
    spec::{DeviceFilters, WahaSpec},
    upstream::{
        Accepted, ConnectorError, GroupRefusal, Outbound, Outgoing, Picture, Profile, Session,
    },
    DeviceId,
};
use engines::{number_chat_id, subject_of};
use media::Files;
use session::Status;

pub use webhook::read as read_webhook;

pub struct Waha {
    spec: WahaSpec,
    /// Which stories and channels' posts the device wants: WAHA is told not to send the rest.
    filters: DeviceFilters,
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
    /// When the session was last opened: a message accepted before may have been in hand
    /// when the daemon stopped (see [`resend`]).
    opened_at: DateTime<Utc>,
    /// The ids WAHA named for our sends, so a lost answer's message is not taken for another.
    sent_ids: resend::SentIds,
    /// The chats WAHA listed since the session opened, looking for such messages.
    listings: resend::Listings,
}

impl Waha {
    pub fn new(
        device: &DeviceId,
        spec: WahaSpec,
        filters: DeviceFilters,
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
            filters,
            me: None,
            reported: None,
            shown_qr: None,
            fresh_qr: None,
            watched: HashSet::new(),
            opened_at: Utc::now(),
            sent_ids: resend::SentIds::default(),
            listings: resend::Listings::default(),
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

#[async_trait]
impl Upstream for Waha {
    async fn open(&mut self, _session: Option<&Value>) -> Result<Session, ConnectorError> {
        self.reported = None;
        self.shown_qr = None;
        self.fresh_qr = None;
        self.watched.clear();
        self.opened_at = Utc::now();
        self.listings.clear();
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

    /// WhatsApp decides how long WAHA's code lasts; it is shown for `ttl`, as the simulator's.
    async fn request_pairing_code(
        &mut self,
        phone: &LinkingPhone,
        _ttl: std::time::Duration,
    ) -> Result<String, ConnectorError> {
        self.request_code(phone).await
    }

    /// The session's status; once it is reported `WORKING`, also the account its engine
    /// answers for (see [`Waha::account`]), so that a status WAHA still shows as `WORKING`
    /// does not hide an engine that lost the account.
    async fn check(&mut self) -> Result<Option<Session>, ConnectorError> {
        let info = self.session_info().await?;
        let status = Status::of(&info);
        if status == Status::Working && self.reported == Some(Status::Working) {
            self.account().await?;
            return Ok(None);
        }
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
            Outbound::Edit {
                chat_id,
                upstream_id,
                text,
            } => {
                let session = self.spec.session.as_str();
                self.request(
                    Method::PUT,
                    &["api", session, "chats", chat_id, "messages", upstream_id],
                )
                .json(&json!({ "text": text }))
            }
            Outbound::Vote {
                chat_id,
                upstream_id,
                options,
            } => {
                let mut body = self.chat_body(chat_id);
                body["pollMessageId"] = json!(upstream_id);
                body["votes"] = json!(options);
                self.request(Method::POST, &["api", "sendPollVote"])
                    .json(&body)
            }
            // Taking the mark off is reading the chat, which its read receipts tell.
            Outbound::MarkUnread { unread: false, .. } => return Ok(()),
            Outbound::MarkUnread {
                chat_id,
                unread: true,
            } => {
                let session = self.spec.session.as_str();
                self.request(Method::POST, &["api", session, "chats", chat_id, "unread"])
            }
            Outbound::Archive { chat_id, archived } => {
                let action = if *archived { "archive" } else { "unarchive" };
                let session = self.spec.session.as_str();
                self.request(Method::POST, &["api", session, "chats", chat_id, action])
            }
            Outbound::Block {
                contact_id,
                blocked,
            } => self.block(contact_id, *blocked),
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

    /// WAHA's group endpoints (see [`groups`]).
    async fn group(&mut self, op: &GroupOp) -> Result<GroupOutcome, GroupRefusal> {
        self.group_op(op).await
    }

    async fn profile(&mut self, contact_id: &str) -> Result<Option<Profile>, ConnectorError> {
        self.profile_of(contact_id).await
    }

    async fn picture(&mut self, contact_id: &str) -> Result<Option<Picture>, ConnectorError> {
        self.picture_of(contact_id).await
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
