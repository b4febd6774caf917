//! The WAHA session: made to exist with our webhook and running, asked where it stands, and
//! its status read as the device's. Separate from the connector's other requests because this
//! is what the status table of the connector's documentation describes, and what
//! [`Upstream::open`](crate::device::upstream::Upstream::open) and
//! [`Upstream::check`](crate::device::upstream::Upstream::check) rest on.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::Waha;
use crate::connector::http;
use crate::model::{
    event::Me,
    pairing::{shown_code, LinkingPhone},
    spec::Filtered,
    upstream::{ConnectorError, Session},
};

/// The webhook events a WAHA session is subscribed to.
const EVENTS: [&str; 16] = [
    "session.status",
    "message",
    "message.any",
    "message.ack",
    "message.ack.group",
    "message.revoked",
    "message.edited",
    "poll.vote",
    "message.reaction",
    "presence.update",
    "chat.archive",
    "group.v2.join",
    "group.v2.leave",
    "group.v2.participants",
    "group.v2.update",
    "call.received",
];

/// A WAHA session status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Status {
    Starting,
    ScanQrCode,
    Working,
    Failed,
    Stopped,
    /// A status devicebridge does not follow (passkey linking): treated as still starting.
    Other(String),
}

impl Status {
    pub(super) fn of(info: &Value) -> Status {
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

impl Waha {
    /// Our webhook, as WAHA's session config holds it.
    fn webhook(&self) -> Value {
        json!({
            "url": self.webhook_url,
            "events": EVENTS,
            "hmac": { "key": self.spec.webhook_secret.expose() },
        })
    }

    /// What WAHA is to leave out, as its session config's `ignore` says it: the stories and
    /// channels' posts the device's filters drop. Groups and broadcast lists are chats.
    fn ignore(&self) -> Value {
        json!({
            "status": self.filters.statuses == Filtered::Drop,
            "channels": self.filters.channels == Filtered::Drop,
        })
    }

    /// Makes the session exist with our webhook and our `ignore`, and running.
    pub(super) async fn prepare_session(&self) -> Result<(), ConnectorError> {
        let (status, info) = self
            .http
            .exchange(self.request(Method::GET, &self.session_path(&[])))
            .await?;
        if status == StatusCode::NOT_FOUND {
            let create = json!({
                "name": self.spec.session,
                "start": true,
                "config": { "webhooks": [self.webhook()], "ignore": self.ignore() },
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
        // Other settings and other webhooks of the session are kept; ours is replaced, and
        // what `ignore` says of stories and channels is ours to say.
        let ours = self.webhook();
        let mut config = match &info["config"] {
            config @ Value::Object(_) => config.clone(),
            _ => json!({}),
        };
        let hooks: Vec<Value> = config["webhooks"].as_array().cloned().unwrap_or_default();
        let (mine, others): (Vec<Value>, Vec<Value>) = hooks
            .into_iter()
            .partition(|hook| hook["url"] == ours["url"]);
        let mut ignore = match &config["ignore"] {
            ignore @ Value::Object(_) => ignore.clone(),
            _ => json!({}),
        };
        let wanted = self.ignore();
        let ignore_kept = ["status", "channels"]
            .iter()
            .all(|key| ignore[key] == wanted[key]);
        if mine != [ours.clone()] || !ignore_kept {
            config["webhooks"] = others.into_iter().chain([ours]).collect();
            for key in ["status", "channels"] {
                ignore[key] = wanted[key].clone();
            }
            config["ignore"] = ignore;
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

    pub(super) async fn session_info(&self) -> Result<Value, ConnectorError> {
        self.http
            .call(self.request(Method::GET, &self.session_path(&[])))
            .await
    }

    /// `GET /api/sessions/{session}/me`, WAHA's documented "information about the
    /// authenticated account": `{ id, pushName }` from the engine's own login, `null` once it
    /// has none. The session's status is WAHA's record of the session, which can still say
    /// `WORKING` after the engine lost its login; this light call asks the engine itself.
    pub(super) async fn account(&self) -> Result<(), ConnectorError> {
        let me = self
            .http
            .call(self.request(Method::GET, &self.session_path(&["me"])))
            .await?;
        match me["id"].as_str().filter(|id| !id.is_empty()) {
            Some(_) => Ok(()),
            None => Err(ConnectorError::Failing(
                "WAHA's engine answers for no account".into(),
            )),
        }
    }

    pub(super) async fn fetch_qr(&self) -> Result<String, ConnectorError> {
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

    /// WAHA's `POST /api/{session}/auth/request-code` with `{ phoneNumber }` (digits, country
    /// code first), taken while the session is in `SCAN_QR_CODE`: it answers `{ code }`, as
    /// `ABCD-EFGH`, which WhatsApp links the session with when it is typed on that phone.
    pub(super) async fn request_code(
        &self,
        phone: &LinkingPhone,
    ) -> Result<String, ConnectorError> {
        let session = self.spec.session.as_str();
        let answer = self
            .http
            .call(
                self.request(Method::POST, &["api", session, "auth", "request-code"])
                    .json(&json!({ "phoneNumber": phone.digits() })),
            )
            .await?;
        answer["code"]
            .as_str()
            .filter(|code| !code.trim().is_empty())
            .map(shown_code)
            .ok_or_else(|| ConnectorError::Failing("WAHA answered without a pairing code".into()))
    }

    /// What a status means for the device; `None` while it cannot be followed yet (working,
    /// but without its account).
    pub(super) fn session_of(&mut self, status: &Status, info: &Value) -> Option<Session> {
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
}
