//! A device relayed to a phone number on the WhatsApp Business Cloud API (the Graph API).
//!
//! There is nothing to scan: starting verifies the access token by reading the phone number
//! (`GET {graph_url}/{phone_number_id}`, which each probe reads again), and a valid token makes
//! the device `ready`; a 401 or 403 fails it with Meta's reason, as does a number Meta reports
//! blocked from sending. Sends are `POST {graph_url}/{phone_number_id}/messages`;
//! the `wamid` in the answer becomes the message's upstream id and means ack `server`. Meta's
//! webhooks (`/upstream/cloud/{deviceId}`) bring messages and delivery statuses; the media
//! they announce is fetched when a client asks for it ([`media`]).
//!
//! Chat ids are WhatsApp style, `<wa_id>@c.us`, like every other connector's, so a dashboard
//! treats all devices alike; the `@c.us` is dropped when talking to Meta. A customer who chose
//! a username over showing their number comes with their business-scoped user id only: their
//! chat's id is that id, unless an earlier delivery told the number behind it (see
//! `device::linked_ids`), and messages to it are addressed by `recipient` instead of `to`.

pub mod media;
mod message_kinds;
pub mod receiver;
mod webhook;

use async_trait::async_trait;
use reqwest::RequestBuilder;
use serde_json::{json, Value};

use super::http::Http;
use super::{send_in_order, SendOne};
use crate::device::media::{File, Library};
use crate::device::upstream::Upstream;
use crate::model::{
    content::ContactCard,
    event::Me,
    ids::is_business_scoped_id,
    inbound::Directory,
    spec::CloudApiSpec,
    upstream::{Accepted, ConnectorError, Outbound, Outgoing, Session},
    Ack,
};

pub use webhook::{read as read_webhook, verify_subscription};

pub struct CloudApi {
    spec: CloudApiSpec,
    /// The device's name, for an account Meta gives no verified name.
    device_name: String,
    /// Where the daemon serves this device's media (see [`media`]).
    media_base: String,
    /// Files the daemon serves for other devices, read whole to be uploaded.
    library: Library,
    http: Http,
}

impl CloudApi {
    pub fn new(
        spec: CloudApiSpec,
        device_name: String,
        media_base: String,
        http: Http,
        library: Library,
    ) -> Self {
        Self {
            spec,
            device_name,
            media_base,
            library,
            http,
        }
    }

    /// How Meta is told where a file to send is. A file Meta sent this device goes by its
    /// media id; one the daemon serves for another device (its URL needs a credential Meta
    /// does not have) is uploaded to Meta first and goes by the id that gives; any other by
    /// its link.
    async fn media_source(&self, url: &str) -> Result<Value, ConnectorError> {
        if let Some(id) = url
            .strip_prefix(&self.media_base)
            .filter(|id| media::is_media_id(id))
        {
            return Ok(json!({ "id": id }));
        }
        Ok(match self.library.read(url).await {
            Some(file) => json!({ "id": self.upload(file?).await? }),
            None => json!({ "link": url }),
        })
    }

    /// `POST …/media`: hands Meta a file to send, for the media id it answers with.
    async fn upload(&self, file: File) -> Result<String, ConnectorError> {
        let part = reqwest::multipart::Part::bytes(file.bytes)
            .file_name("file")
            .mime_str(&file.mime)
            .map_err(|_| ConnectorError::Rejected(format!("{:?} is not a MIME type", file.mime)))?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", file.mime)
            .part("file", part);
        let answer = self
            .http
            .call(
                self.authorized(self.http.post(self.endpoint("/media")))
                    .multipart(form),
            )
            .await?;
        answer["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ConnectorError::Failing("Meta answered an upload without its id".into()))
    }

    fn endpoint(&self, rest: &str) -> String {
        format!(
            "{}/{}{rest}",
            self.spec.graph_url.trim_end_matches('/'),
            self.spec.phone_number_id
        )
    }

    fn authorized(&self, request: RequestBuilder) -> RequestBuilder {
        request.bearer_auth(self.spec.access_token.expose())
    }

    /// Reads the phone number, which proves the token works: its number and name, for the
    /// linked account, and `health_status`, Meta's documented summary of whether the number
    /// can send at all (`can_send_message`: `AVAILABLE`, `LIMITED` or `BLOCKED`, the last
    /// with the reasons of the entities at fault). A blocked number is refused: nothing it
    /// sends would pass until a person acts (a missing payment method, an unverified
    /// business, a banned account), so it fails the device with a reason rather than have it
    /// restarted again and again.
    async fn phone_number(&self) -> Result<Value, ConnectorError> {
        let number = self
            .http
            .call(
                self.authorized(self.http.get(self.endpoint("")))
                    .query(&[("fields", "display_phone_number,verified_name,health_status")]),
            )
            .await?;
        match number["health_status"]["can_send_message"].as_str() {
            Some("BLOCKED") => Err(ConnectorError::Refused(
                "Meta reports the number as blocked from sending (health status BLOCKED)".into(),
            )),
            _ => Ok(number),
        }
    }

    /// `POST …/messages`, the one endpoint for sending, read receipts and typing.
    async fn post_message(&self, body: &Value) -> Result<Value, ConnectorError> {
        self.http
            .call(
                self.authorized(self.http.post(self.endpoint("/messages")))
                    .json(body),
            )
            .await
    }
}

/// How Meta is told who a message goes to: `to` with the digits of a number's chat id, or
/// `recipient` with a business-scoped user id, which is a chat's id as it is.
fn addressee(chat_id: &str) -> (&'static str, &str) {
    if is_business_scoped_id(chat_id) {
        ("recipient", chat_id)
    } else {
        ("to", chat_id.split('@').next().unwrap_or(chat_id))
    }
}

/// A message to a chat, before its content.
fn message_to(chat_id: &str) -> Value {
    let (field, id) = addressee(chat_id);
    let mut body = json!({ "messaging_product": "whatsapp", "recipient_type": "individual" });
    body[field] = json!(id);
    body
}

/// A read receipt, which can also show our typing indicator.
fn read_receipt(upstream_id: &str) -> Value {
    json!({ "messaging_product": "whatsapp", "status": "read", "message_id": upstream_id })
}

/// A contact card as Meta's `contacts[]` takes it: a formatted name, and each number with the
/// WhatsApp id its digits make, so the card opens a chat.
fn contact_card(card: &ContactCard) -> Value {
    let phones: Vec<Value> = card
        .phones
        .iter()
        .map(|phone| {
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            json!({ "phone": phone, "type": "CELL", "wa_id": digits })
        })
        .collect();
    json!({
        "name": { "formatted_name": card.name, "first_name": card.name },
        "phones": phones,
    })
}

#[async_trait]
impl SendOne for CloudApi {
    async fn send_one(&self, outgoing: &Outgoing) -> Result<Accepted, ConnectorError> {
        let message = &outgoing.message;
        let mut body = message_to(&message.chat_id);
        match (&message.template, &message.media) {
            (Some(template), _) => {
                body["type"] = json!("template");
                body["template"] = json!({
                    "name": template.name,
                    "language": { "code": template.language },
                });
                if let Some(components) = &template.components {
                    body["template"]["components"] = components.clone();
                }
            }
            (None, None) => match (&message.content.location, &message.content.contacts) {
                (Some(location), _) => {
                    body["type"] = json!("location");
                    body["location"] = json!(location);
                }
                (_, Some(cards)) => {
                    body["type"] = json!("contacts");
                    body["contacts"] = cards.iter().map(contact_card).collect();
                }
                _ => {
                    body["type"] = json!("text");
                    body["text"] = json!({ "preview_url": false, "body": message.body });
                }
            },
            (None, Some(media)) => {
                // Meta's kinds of file: a voice note is an audio marked `voice`, a
                // sticker is sent as the picture it is.
                let kind = match message.kind.as_str() {
                    "voice" | "audio" => "audio",
                    "video" => "video",
                    "image" | "sticker" => "image",
                    _ => "document",
                };
                let mut object = self.media_source(&media.url).await?;
                // Audio takes no caption; documents keep their file name.
                if kind != "audio" && !message.body.is_empty() {
                    object["caption"] = json!(message.body);
                }
                if let (Some(name), "document") = (&media.name, kind) {
                    object["filename"] = json!(name);
                }
                if message.kind == "voice" {
                    object["voice"] = json!(true);
                }
                body["type"] = json!(kind);
                body[kind] = object;
            }
        }
        if let Some(quoted) = &outgoing.reply_to {
            body["context"] = json!({ "message_id": quoted });
        }
        let answer = self.post_message(&body).await?;
        let upstream_id = answer["messages"][0]["id"]
            .as_str()
            .ok_or_else(|| ConnectorError::Failing("Meta answered without a message id".into()))?;
        Ok(Accepted {
            upstream_id: Some(upstream_id.to_owned()),
            ack: Ack::Server,
        })
    }
}

#[async_trait]
impl Upstream for CloudApi {
    async fn open(&mut self, _session: Option<&Value>) -> Result<Session, ConnectorError> {
        let number = self.phone_number().await?;
        let digits: String = number["display_phone_number"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let id = match digits.is_empty() {
            true => self.spec.phone_number_id.clone(),
            false => digits,
        };
        let name = number["verified_name"]
            .as_str()
            .filter(|name| !name.is_empty())
            .unwrap_or(&self.device_name);
        Ok(Session::Linked {
            session: json!({ "phoneNumberId": self.spec.phone_number_id }),
            me: Me {
                id: format!("{id}@c.us"),
                name: name.to_owned(),
            },
        })
    }

    async fn issue_qr(&mut self, _ttl: std::time::Duration) -> Result<String, ConnectorError> {
        Err(ConnectorError::Unsupported("QR linking"))
    }

    /// The cheap probe: the token still works, Meta answers for the number, and the number
    /// is not blocked from sending; nothing else can change.
    async fn check(&mut self) -> Result<Option<Session>, ConnectorError> {
        self.phone_number().await.map(|_| None)
    }

    /// Meta lists no chats: they appear as messages arrive.
    async fn sync(&mut self) -> Result<Directory, ConnectorError> {
        Ok(Directory::default())
    }

    async fn send(&mut self, batch: &[Outgoing]) -> Vec<Result<Accepted, ConnectorError>> {
        send_in_order(self, batch).await
    }

    async fn tell(&mut self, action: &Outbound) -> Result<(), ConnectorError> {
        let body = match action {
            // Reading the newest marks everything before it read too.
            Outbound::MarkRead { upstream_ids, .. } => match upstream_ids.last() {
                Some(newest) => read_receipt(newest),
                None => return Ok(()),
            },
            // Meta shows typing against the message being answered, and dismisses it on our
            // reply or after 25 seconds: there is nothing to send for a stop.
            Outbound::Typing {
                typing: true,
                latest_incoming: Some(latest),
                ..
            } => {
                let mut body = read_receipt(latest);
                body["typing_indicator"] = json!({ "type": "text" });
                body
            }
            Outbound::Typing { .. } => return Ok(()),
            Outbound::React {
                chat_id,
                upstream_id,
                emoji,
            } => {
                let mut body = message_to(chat_id);
                body["type"] = json!("reaction");
                body["reaction"] = json!({ "message_id": upstream_id, "emoji": emoji });
                body
            }
            Outbound::Revoke { .. } => {
                return Err(ConnectorError::Unsupported("revoking messages"))
            }
            Outbound::Edit { .. } => return Err(ConnectorError::Unsupported("editing messages")),
            Outbound::Vote { .. } => return Err(ConnectorError::Unsupported("polls")),
            Outbound::Block { .. } => return Err(ConnectorError::Unsupported("blocking")),
            // A business number has no chat list on Meta's side to archive in.
            Outbound::Archive { .. } | Outbound::MarkUnread { .. } => return Ok(()),
            // Meta reports no presence for customers.
            Outbound::WatchPresence { .. } => return Ok(()),
        };
        self.post_message(&body).await.map(drop)
    }

    /// Meta offers no lookup of numbers, and a business may write to a new number only with
    /// a template, which opens the chat itself.
    async fn find_number(&mut self, _number: &str) -> Result<Option<String>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "opening a chat: send a template to the number (`<digits>@c.us`) instead",
        ))
    }

    /// Nothing runs upstream between requests.
    async fn close(&mut self) {}

    /// The token belongs to the business, not to this link: nothing to tell Meta.
    async fn logout(&mut self) {}
}
