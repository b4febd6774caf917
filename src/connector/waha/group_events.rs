//! WAHA's group events, read into `group:update`s: `group.v2.join` (this account joined or
//! was added), `group.v2.leave` (it left or was removed), `group.v2.participants` (`type`
//! `join`, `leave`, `promote` or `demote` of `participants`) and `group.v2.update` (a new
//! subject or description). WAHA does not say who made a change, so `by` is `null`; each
//! change is named by the event, its group, time and participants, so a delivery WAHA makes
//! again is stored once.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::engines::subject_of;
use super::groups::participant_of;
use super::message_kinds::text;
use crate::model::group::{GroupChange, GroupUpdate, ParticipantAction, ParticipantChange};
use crate::model::inbound::Inbound;

/// What a group event reports to the account `me` (WAHA's envelope names it).
pub(super) fn read(event: &str, payload: &Value, me: Option<&str>) -> Vec<Inbound> {
    let group = match &payload["group"] {
        Value::Object(_) => &payload["group"],
        _ => payload,
    };
    let Some(chat_id) = text(&group["id"])
        .or_else(|| text(&group["id"]["_serialized"]))
        .or_else(|| text(&group["chatId"]))
    else {
        return Vec::new();
    };
    let timestamp = payload["timestamp"].as_i64().unwrap_or_default();
    let at = DateTime::from_timestamp(timestamp, 0).unwrap_or_else(Utc::now);
    let name = subject_of(group);
    let mine = |action| {
        me.map(|me| ParticipantChange {
            id: me.to_owned(),
            action,
        })
        .into_iter()
        .collect::<Vec<_>>()
    };
    let (named, updates) = match event {
        "group.v2.join" => {
            let joined = GroupUpdate::participants(
                chat_id,
                None,
                ParticipantAction::Add,
                mine(ParticipantAction::Add)
                    .into_iter()
                    .map(|change| change.id),
            );
            (
                name,
                vec![joined].into_iter().filter(has_participants).collect(),
            )
        }
        "group.v2.leave" => {
            let left = GroupUpdate {
                participants: Some(mine(ParticipantAction::Remove)),
                ..GroupUpdate::new(chat_id, GroupChange::Left, None)
            };
            (None, vec![left])
        }
        "group.v2.participants" => (None, participants(chat_id, payload, me)),
        _ => (None, renamed(chat_id, group, name)),
    };
    let mut reports: Vec<Inbound> = named
        .map(|name| Inbound::GroupNamed {
            chat_id: chat_id.to_owned(),
            name,
        })
        .into_iter()
        .collect();
    reports.extend(updates.into_iter().map(|update| {
        let upstream_id = named_change(event, timestamp, &update);
        Inbound::Group {
            update: Box::new(update),
            upstream_id: Some(upstream_id),
            at,
        }
    }));
    reports
}

fn has_participants(update: &GroupUpdate) -> bool {
    update.participants.as_ref().is_some_and(|p| !p.is_empty())
}

/// `group.v2.participants`: what `type` did to `participants`.
fn participants(chat_id: &str, payload: &Value, me: Option<&str>) -> Vec<GroupUpdate> {
    let action = match text(&payload["type"]) {
        Some("join" | "add") => ParticipantAction::Add,
        Some("leave" | "remove") => ParticipantAction::Remove,
        Some("promote") => ParticipantAction::Promote,
        Some("demote") => ParticipantAction::Demote,
        _ => return Vec::new(),
    };
    let changed: Vec<ParticipantChange> = payload["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|member| {
            // A member as an object with its role, or as its bare id.
            participant_of(member)
                .map(|member| member.id)
                .or_else(|| text(member).map(str::to_owned))
        })
        .map(|id| ParticipantChange { id, action })
        .collect();
    if changed.is_empty() {
        return Vec::new();
    }
    GroupUpdate::of_participants(chat_id, None, me.unwrap_or_default(), changed)
}

/// `group.v2.update`: a new subject, a new description, or both.
fn renamed(chat_id: &str, group: &Value, name: Option<String>) -> Vec<GroupUpdate> {
    let mut updates = Vec::new();
    if let Some(name) = name {
        updates.push(GroupUpdate {
            name: Some(name),
            ..GroupUpdate::new(chat_id, GroupChange::Name, None)
        });
    }
    let description = [&group["description"], &group["desc"], &group["Topic"]]
        .into_iter()
        .find_map(text);
    if let Some(description) = description {
        updates.push(GroupUpdate {
            description: Some(description.to_owned()),
            ..GroupUpdate::new(chat_id, GroupChange::Description, None)
        });
    }
    updates
}

/// A name for one change WAHA reported, the same each time it reports it.
fn named_change(event: &str, timestamp: i64, update: &GroupUpdate) -> String {
    let whom: Vec<&str> = update
        .participants
        .iter()
        .flatten()
        .map(|change| change.id.as_str())
        .collect();
    let change = serde_json::to_value(update.change).unwrap_or_default();
    format!(
        "waha:{event}:{}:{timestamp}:{}:{}",
        update.chat_id,
        change.as_str().unwrap_or_default(),
        whom.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ME: &str = "15550001111@c.us";

    fn updates(event: &str, payload: Value) -> Vec<GroupUpdate> {
        read(event, &payload, Some(ME))
            .into_iter()
            .filter_map(|item| match item {
                Inbound::Group { update, .. } => Some(*update),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn participants_events_say_who_joined_left_or_was_promoted() {
        let payload = |kind: &str, who: &str| {
            json!({ "group": { "id": "1@g.us" }, "type": kind, "timestamp": 1700000000,
                    "participants": [{ "id": who, "role": "participant" }] })
        };
        let joined = updates("group.v2.participants", payload("join", "2@c.us"));
        assert_eq!(joined[0].change, GroupChange::Participants);
        assert_eq!(joined[0].by, None);
        assert_eq!(
            joined[0].participants,
            Some(vec![ParticipantChange {
                id: "2@c.us".into(),
                action: ParticipantAction::Add
            }])
        );
        let promoted = updates("group.v2.participants", payload("promote", "2@c.us"));
        assert_eq!(
            promoted[0].participants.as_ref().unwrap()[0].action,
            ParticipantAction::Promote
        );
        let removed = updates("group.v2.participants", payload("leave", ME));
        assert_eq!(removed[0].change, GroupChange::Left);
        assert!(updates("group.v2.participants", payload("mystery", ME)).is_empty());
    }

    #[test]
    fn joining_names_the_group_and_leaving_and_updates_are_told() {
        let joined = read(
            "group.v2.join",
            &json!({ "group": { "id": "1@g.us", "subject": "Family" }, "timestamp": 1 }),
            Some(ME),
        );
        assert!(matches!(&joined[0], Inbound::GroupNamed { name, .. } if name == "Family"));
        assert!(matches!(&joined[1], Inbound::Group { update, .. }
            if update.participants.as_deref() == Some(&[ParticipantChange { id: ME.into(), action: ParticipantAction::Add }][..])));
        let left = updates(
            "group.v2.leave",
            json!({ "group": { "id": "1@g.us" }, "timestamp": 2 }),
        );
        assert_eq!(left[0].change, GroupChange::Left);
        let changed = updates(
            "group.v2.update",
            json!({ "group": { "id": "1@g.us", "subject": "Kin", "description": "rules" }, "timestamp": 3 }),
        );
        let kinds: Vec<GroupChange> = changed.iter().map(|update| update.change).collect();
        assert_eq!(kinds, [GroupChange::Name, GroupChange::Description]);
        let flat = updates(
            "group.v2.update",
            json!({ "chatId": "1@g.us", "subject": "Kin" }),
        );
        assert_eq!(flat[0].name.as_deref(), Some("Kin"));
        assert!(read("group.v2.update", &json!({ "group": {} }), Some(ME)).is_empty());
    }

    #[test]
    fn the_same_report_gets_the_same_name() {
        let payload = json!({ "group": { "id": "1@g.us" }, "type": "join", "timestamp": 5,
                              "participants": [{ "id": "2@c.us" }] });
        let name = |reports: Vec<Inbound>| match &reports[0] {
            Inbound::Group { upstream_id, .. } => upstream_id.clone(),
            _ => None,
        };
        let first = name(read("group.v2.participants", &payload, Some(ME)));
        assert_eq!(
            first,
            name(read("group.v2.participants", &payload, Some(ME)))
        );
        assert!(first.is_some());
    }
}
