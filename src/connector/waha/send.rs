//! Sending one message through WAHA: text, or a file with its caption, by the endpoint that
//! fits it. Separate from the rest of the connector because it is where a message's media is
//! read from the daemon's library and carried inline.

use async_trait::async_trait;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use super::engines::sent_id;
use super::resend::may_have_been_sent;
use super::Waha;
use crate::connector::SendOne;
use crate::model::{
    upstream::{Accepted, ConnectorError, Outgoing},
    Ack,
};

#[async_trait]
impl SendOne for Waha {
    async fn send_one(&self, outgoing: &Outgoing) -> Result<Accepted, ConnectorError> {
        let message = &outgoing.message;
        if message.template.is_some() {
            return Err(ConnectorError::Rejected(
                "WhatsApp templates are sent by Cloud API devices only".into(),
            ));
        }
        if may_have_been_sent(outgoing, self.opened_at) {
            match self.already_sent(outgoing).await {
                Ok(Some(id)) => return Ok(self.accepted(Some(id))),
                Ok(None) => {}
                // A WAHA that cannot list the chat is asked to send: as before, at worst twice.
                Err(ConnectorError::Rejected(reason)) => {
                    tracing::warn!(%reason, "WAHA did not list the chat; the message is sent again");
                }
                Err(error) => return Err(error),
            }
        }
        let mut body = self.chat_body(&message.chat_id);
        let content = &message.content;
        let endpoint = match (&content.forward_of, &message.media) {
            // The phone shows WhatsApp's own "Forwarded" mark on a message forwarded natively.
            (Some(original), _) => {
                body["messageId"] = json!(original);
                "forwardMessage"
            }
            (None, None) => match (&content.location, &content.contacts, &content.poll) {
                (Some(location), _, _) => {
                    body["latitude"] = json!(location.latitude);
                    body["longitude"] = json!(location.longitude);
                    body["title"] = json!(location.name.as_deref().unwrap_or_default());
                    "sendLocation"
                }
                (_, Some(cards), _) => {
                    let vcards: Vec<Value> = cards
                        .iter()
                        .map(|card| {
                            json!({ "vcard": card.vcard.clone().unwrap_or_else(|| card.to_vcard()) })
                        })
                        .collect();
                    body["contacts"] = json!(vcards);
                    "sendContactVcard"
                }
                (_, _, Some(poll)) => {
                    body["poll"] = json!({
                        "name": poll.question,
                        "options": poll.options,
                        "multipleAnswers": poll.multiple,
                    });
                    "sendPoll"
                }
                _ => {
                    body["text"] = json!(message.body);
                    "sendText"
                }
            },
            (None, Some(media)) => {
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
                // WAHA turns other audio into the Opus a voice note is, and other video into
                // the MP4 WhatsApp plays, when asked to.
                let convert = |native: &str| !media.mime.starts_with(native);
                match message.kind.as_str() {
                    "voice" => {
                        body["convert"] = json!(convert("audio/ogg"));
                        "sendVoice"
                    }
                    kind => {
                        if !message.body.is_empty() {
                            body["caption"] = json!(message.body);
                        }
                        match kind {
                            "image" | "sticker" => "sendImage",
                            "video" => {
                                body["convert"] = json!(convert("video/mp4"));
                                "sendVideo"
                            }
                            _ => "sendFile",
                        }
                    }
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
        Ok(self.accepted(upstream_id))
    }
}

impl Waha {
    /// A message WAHA has, by the id it gave; WAHA answers with the message once WhatsApp's
    /// servers have it.
    fn accepted(&self, upstream_id: Option<String>) -> Accepted {
        if let Some(id) = &upstream_id {
            self.sent_ids.remember(id);
        }
        Accepted {
            upstream_id,
            ack: Ack::Server,
        }
    }
}
