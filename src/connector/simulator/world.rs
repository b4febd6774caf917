//! What the simulated world does on cue (`POST …/simulator/act`): a contact writes, posts a
//! story, or a channel posts. Each becomes what a real upstream would report, so everything
//! after it (filters, chats, notifications, events) runs as for WhatsApp.

use chrono::Utc;

use super::phone;
use crate::model::{
    content::Content,
    inbound::Incoming,
    spec::{SimulatorSpec, STATUS_CHAT},
    upstream::Act,
};

/// The message an act makes, as the upstream reports it.
pub fn incoming(spec: &SimulatorSpec, act: &Act) -> Incoming {
    let name_of = |id: &str| {
        spec.contacts
            .iter()
            .find(|contact| contact.id == id)
            .map(|contact| contact.name.clone())
    };
    let text = |upstream_id: &String, chat_id: String, from: String, body: &String| {
        (
            upstream_id.clone(),
            chat_id,
            from,
            "text".to_owned(),
            body.clone(),
            Content::default(),
        )
    };
    let (upstream_id, chat_id, from, kind, body, content) = match act {
        Act::Message {
            upstream_id,
            from,
            chat_id,
            kind,
            text,
            content,
        } => (
            upstream_id.clone(),
            chat_id.clone().unwrap_or_else(|| from.clone()),
            from.clone(),
            kind.clone(),
            text.clone(),
            Content::clone(content),
        ),
        Act::Status {
            upstream_id,
            from,
            text: body,
        } => text(upstream_id, STATUS_CHAT.to_owned(), from.clone(), body),
        Act::ChannelPost {
            upstream_id,
            channel,
            text: body,
        } => {
            let channel = format!("{channel}@newsletter");
            text(upstream_id, channel.clone(), channel, body)
        }
    };
    let group = chat_id.ends_with("@g.us");
    Incoming {
        upstream_id,
        chat_name: (chat_id == phone::group_id(spec)).then(|| phone::GROUP_NAME.to_owned()),
        group,
        from_name: name_of(&from),
        from,
        chat_id,
        from_me: false,
        kind,
        body,
        media: None,
        content,
        reply_to: None,
        timestamp: Utc::now(),
    }
}
