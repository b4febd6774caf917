//! A group's changes, stored as a phone shows them: the `group:update` event, and in the same
//! write a `system` line in the group's chat that says it in WhatsApp's words ("Alice added
//! Bob", "You created group “Weekend”"), people named as the device's contacts name them.
//!
//! The line is a message of the chat like any other (listed, paged, the chat's last message),
//! so a client that only shows messages shows the change too; it counts as read, since nobody
//! wrote it, and raises no notification.

use chrono::{DateTime, Utc};

use crate::model::{
    event::EventData,
    group::{GroupChange, GroupUpdate, ParticipantAction, ParticipantChange},
    rfc3339, Ack, DeviceId,
};
use crate::store::messages::{AckSubject, NewMessage};
use crate::store::{self, StoreResult, Tx};

/// Stores a change of a group: its chat (made if new, renamed by a new name), `group:update`
/// and the `system` line. A change the upstream named (`upstream_id`) is stored once, however
/// often it is reported.
pub fn changed(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    update: &GroupUpdate,
    upstream_id: Option<&str>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if let Some(upstream_id) = upstream_id {
        if store::messages::by_upstream_id(tx.conn(), device, upstream_id)?.is_some() {
            return Ok(());
        }
    }
    let now = rfc3339(Utc::now());
    let chat = store::chats::get_chat(tx.conn(), device, &update.chat_id)?;
    // A group renamed to the name it has is no news (an upstream's report of our own rename,
    // or of a settings change that repeats the subject).
    let unchanged = |chat: &crate::model::Chat| Some(&chat.name) == update.name.as_ref();
    if update.change == GroupChange::Name && chat.as_ref().is_some_and(unchanged) {
        return Ok(());
    }
    let renamed = update
        .name
        .as_deref()
        .filter(|_| matches!(update.change, GroupChange::Created | GroupChange::Name));
    match (&chat, renamed) {
        (None, name) => {
            tx.upsert_chat(
                device,
                &update.chat_id,
                name.unwrap_or(&update.chat_id),
                "group",
                &now,
            )?;
        }
        (Some(chat), Some(name)) if chat.name != name => {
            tx.upsert_chat(device, &update.chat_id, name, "group", &now)?;
        }
        _ => {}
    }
    let me = store::devices::speaker(tx.conn(), device, None)?
        .and_then(|speaker| speaker.me)
        .map(|me| me.id);
    let line = Line {
        tx,
        device,
        me: me.as_deref(),
    }
    .says(update)?;
    tx.journal(device, EventData::GroupUpdate(update.clone()))?;
    let from_me = update.by.is_some() && update.by == me;
    let id = tx.new_id("msg_");
    let message = tx.insert_message(
        device,
        &NewMessage {
            id: &id,
            chat_id: &update.chat_id,
            upstream_id,
            from: update.by.as_deref().unwrap_or(&update.chat_id),
            from_me,
            kind: "system",
            body: &line,
            media: None,
            template: None,
            content: &Default::default(),
            reply_to: None,
            timestamp: &rfc3339(at),
            temp_id: None,
            idempotency_key: None,
            relay: None,
            seen: true,
            now: &now,
        },
    )?;
    // Nothing is sent: the upstream has the line's news already.
    let mut subject = AckSubject::of(&message);
    tx.merge_ack(device, &mut subject, Ack::Server)?;
    let message = crate::model::Message {
        ack: subject.ack.level(),
        ack_name: subject.ack.name(),
        ..message
    };
    tx.journal(device, EventData::Message(message.clone()))?;
    tx.touch_chat(device, &message, &now, false)?;
    Ok(())
}

/// Writes a change's `system` line.
struct Line<'t, 'c> {
    tx: &'t Tx<'c>,
    device: &'t DeviceId,
    me: Option<&'t str>,
}

impl Line<'_, '_> {
    /// What the chat says of `update`, as WhatsApp words it.
    fn says(&self, update: &GroupUpdate) -> StoreResult<String> {
        let by = match &update.by {
            Some(by) => Some(self.name(by, true)?),
            None => None,
        };
        let quoted = |text: &Option<String>| format!("“{}”", text.as_deref().unwrap_or_default());
        Ok(match (update.change, by) {
            (GroupChange::Created, Some(by)) => {
                format!("{by} created group {}", quoted(&update.name))
            }
            (GroupChange::Created, None) => format!("Group {} was created", quoted(&update.name)),
            (GroupChange::Name, Some(by)) => {
                format!("{by} changed the group name to {}", quoted(&update.name))
            }
            (GroupChange::Name, None) => {
                format!("The group name was changed to {}", quoted(&update.name))
            }
            (GroupChange::Description, Some(by)) => format!("{by} changed the group description"),
            (GroupChange::Description, None) => "The group description was changed".into(),
            (GroupChange::Left, Some(by)) if update.by.as_deref() != self.me => {
                format!("{by} removed you")
            }
            (GroupChange::Left, _) => "You left".into(),
            (GroupChange::Participants, by) => {
                let changes = update.participants.as_deref().unwrap_or_default();
                self.participants(changes, by, update.by.as_deref())?
            }
        })
    }

    /// "Alice added Bob and Carol", "Bob left", "You were made an admin".
    fn participants(
        &self,
        changes: &[ParticipantChange],
        by: Option<String>,
        by_id: Option<&str>,
    ) -> StoreResult<String> {
        let mut said = Vec::new();
        for action in ParticipantAction::ALL {
            let ids: Vec<&str> = changes
                .iter()
                .filter(|change| change.action == action)
                .map(|change| change.id.as_str())
                .collect();
            if ids.is_empty() {
                continue;
            }
            said.push(self.acted(action, &ids, by.as_deref(), by_id)?);
        }
        Ok(said.join("; "))
    }

    /// One action's part of a participants line.
    fn acted(
        &self,
        action: ParticipantAction,
        ids: &[&str],
        by: Option<&str>,
        by_id: Option<&str>,
    ) -> StoreResult<String> {
        let only_me = self.me.is_some() && ids == [self.me.unwrap_or_default()];
        let by_self = by_id.is_some() && ids == [by_id.unwrap_or_default()];
        let whom = self.names(ids)?;
        let who = || {
            let mut who = whom.clone();
            if let Some(first) = who.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            who
        };
        let verb_of_many = |one: &str, many: &str| match ids.len() {
            1 => one.to_owned(),
            _ => many.to_owned(),
        };
        Ok(match (action, by) {
            (ParticipantAction::Add, Some(_)) if by_self => format!("{} joined", who()),
            (ParticipantAction::Add, Some(by)) => format!("{by} added {whom}"),
            (ParticipantAction::Add, None) => format!("{} joined", who()),
            (ParticipantAction::Remove, Some(by)) if !by_self => format!("{by} removed {whom}"),
            (ParticipantAction::Remove, _) => format!("{} left", who()),
            (ParticipantAction::Promote, _) if only_me => "You were made an admin".into(),
            (ParticipantAction::Promote, Some(by)) => {
                format!("{by} made {whom} {}", verb_of_many("an admin", "admins"))
            }
            (ParticipantAction::Promote, None) => {
                format!(
                    "{} {} now {}",
                    who(),
                    verb_of_many("is", "are"),
                    verb_of_many("an admin", "admins")
                )
            }
            (ParticipantAction::Demote, _) if only_me => "You're no longer an admin".into(),
            (ParticipantAction::Demote, Some(by)) => format!("{by} dismissed {whom} as admin"),
            (ParticipantAction::Demote, None) => {
                format!(
                    "{} {} no longer {}",
                    who(),
                    verb_of_many("is", "are"),
                    verb_of_many("an admin", "admins")
                )
            }
        })
    }

    /// "Bob", "Bob and Carol", "Bob, Carol and Dan"; this account is "you".
    fn names(&self, ids: &[&str]) -> StoreResult<String> {
        let names = ids
            .iter()
            .map(|id| self.name(id, false))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        })
    }

    /// A person as the line names them: "You" (or "you" inside a sentence), the contact's
    /// name where the device has one, else their number.
    fn name(&self, id: &str, first: bool) -> StoreResult<String> {
        if Some(id) == self.me {
            return Ok(if first { "You" } else { "you" }.into());
        }
        Ok(
            match store::contacts::get_contact(self.tx.conn(), self.device, id)? {
                Some(contact) if !contact.name.is_empty() => contact.name,
                _ => match id.split_once('@') {
                    Some((number, "c.us" | "s.whatsapp.net")) => format!("+{number}"),
                    _ => id.to_owned(),
                },
            },
        )
    }
}
