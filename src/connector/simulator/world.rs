//! What the simulated world does on cue (`POST …/simulator/act`): a contact writes (from their
//! number, or from their linked id), edits, votes, posts a story, or a channel posts; or the
//! upstream tells whose a linked id is. Each becomes what a real upstream would report,
//! so everything after it (filters, chats, notifications, events) runs as for WhatsApp.

use chrono::Utc;

use super::groups::{group_id, GROUP_NAME};
use crate::model::{
    content::Content,
    inbound::{Inbound, Incoming},
    spec::{SimulatorSpec, STATUS_CHAT},
    upstream::{Act, ConnectorError},
    Media,
};

/// The linked id the device file gives contact `contact`.
fn lid_of<'s>(spec: &'s SimulatorSpec, contact: &str) -> Result<&'s str, ConnectorError> {
    spec.contacts
        .iter()
        .find(|known| known.id == contact)
        .and_then(|known| known.lid.as_deref())
        .ok_or_else(|| {
            ConnectorError::Rejected(format!(
                "{contact} has no `lid` among the device file's contacts"
            ))
        })
}

/// What the upstream reports of an act.
pub fn report(spec: &SimulatorSpec, act: &Act) -> Result<Inbound, ConnectorError> {
    let said = |said: Said| Inbound::Message(Box::new(said.incoming(spec)));
    Ok(match act {
        Act::Message {
            upstream_id,
            from,
            chat_id,
            as_lid,
            kind,
            text,
            media,
            content,
        } => {
            // WhatsApp names the sender, and their own chat, by the linked id alone.
            let from = match as_lid {
                true => lid_of(spec, from)?.to_owned(),
                false => from.clone(),
            };
            said(Said {
                upstream_id,
                chat_id: chat_id.clone().unwrap_or_else(|| from.clone()),
                from,
                kind,
                body: text,
                media: media.clone(),
                content: Content::clone(content),
            })
        }
        Act::RevealLid { contact } => Inbound::Linked {
            id: lid_of(spec, contact)?.to_owned(),
            number: contact.clone(),
        },
        Act::Status {
            upstream_id,
            from,
            text,
        } => said(Said::text(
            upstream_id,
            STATUS_CHAT.to_owned(),
            from.clone(),
            text,
        )),
        Act::ChannelPost {
            upstream_id,
            channel,
            text,
        } => {
            let channel = format!("{channel}@newsletter");
            said(Said::text(upstream_id, channel.clone(), channel, text))
        }
        Act::Edit { upstream_id, text } => Inbound::Edited {
            upstream_id: upstream_id.clone(),
            body: text.clone(),
            at: Utc::now(),
        },
        Act::Vote {
            upstream_id,
            from,
            options,
        } => Inbound::Voted {
            upstream_id: upstream_id.clone(),
            voter: from.clone(),
            options: options.clone(),
        },
    })
}

/// The contact who does `act` towards this account alone, if one does: a message in their own
/// chat, or a story. What a blocked contact does so never arrives; what they do in a group
/// does, as on WhatsApp.
pub fn towards_us(act: &Act) -> Option<&str> {
    match act {
        Act::Message {
            from,
            chat_id: None,
            ..
        }
        | Act::Status { from, .. } => Some(from),
        Act::Message { from, chat_id, .. } => (chat_id.as_deref() == Some(from)).then_some(from),
        Act::Vote { .. } | Act::Edit { .. } | Act::ChannelPost { .. } | Act::RevealLid { .. } => {
            None
        }
    }
}

/// A message someone in the simulated world sends.
struct Said<'a> {
    upstream_id: &'a str,
    chat_id: String,
    from: String,
    kind: &'a str,
    body: &'a str,
    media: Option<Media>,
    content: Content,
}

impl<'a> Said<'a> {
    fn text(upstream_id: &'a str, chat_id: String, from: String, body: &'a str) -> Self {
        Said {
            upstream_id,
            chat_id,
            from,
            kind: "text",
            body,
            media: None,
            content: Content::default(),
        }
    }

    fn incoming(self, spec: &SimulatorSpec) -> Incoming {
        let from_name = spec
            .contacts
            .iter()
            .find(|contact| contact.id == self.from)
            .map(|contact| contact.name.clone());
        Incoming {
            upstream_id: self.upstream_id.to_owned(),
            chat_name: (self.chat_id == group_id(spec)).then(|| GROUP_NAME.to_owned()),
            group: self.chat_id.ends_with("@g.us"),
            from_name,
            from: self.from,
            chat_id: self.chat_id,
            from_me: false,
            kind: self.kind.to_owned(),
            body: self.body.to_owned(),
            media: self.media,
            content: self.content,
            reply_to: None,
            timestamp: Utc::now(),
        }
    }
}
