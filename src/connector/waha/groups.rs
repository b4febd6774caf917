//! Groups on WAHA, through its documented group endpoints under `/api/{session}/groups`: made
//! (`POST …/groups`), read (`GET …/groups/{id}`), renamed (`PUT …/subject`), described (`PUT
//! …/description`), their participants added and removed (`POST …/participants/add|remove`),
//! promoted and demoted (`POST …/admin/promote|demote`), their invite code read (`GET
//! …/invite-code`) and revoked (`POST …/invite-code/revoke`), and left (`POST …/leave`).
//!
//! WAHA answers a group in its engine's own shape (NOWEB's and GOWS's `participants[].admin`,
//! WEBJS's `isAdmin`/`isSuperAdmin`, the `role` of its group events), read here into one. It
//! refuses a non-admin with 403 and names an unknown group with 404, which become
//! `not_group_admin` and `chat_not_found`; an engine that answers participants one by one
//! (`[{ id | jid, status | code }]`) has its refusals said per participant.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::engines::{id_of, subject_of};
use super::message_kinds::text;
use super::Waha;
use crate::connector::http;
use crate::model::group::{
    GroupInfo, GroupOp, GroupOutcome, NewGroup, Participant, ParticipantAction, ParticipantOutcome,
    Role,
};
use crate::model::upstream::ConnectorError;
use crate::model::upstream::GroupRefusal;

impl Waha {
    /// Does `op` on WAHA (see the module's documentation).
    pub(super) async fn group_op(&mut self, op: &GroupOp) -> Result<GroupOutcome, GroupRefusal> {
        let group = op.chat_id();
        let chat_id = group.unwrap_or_default();
        match op {
            GroupOp::Get { .. } => {
                let answer = self.group_call(Method::GET, group, &[], None).await?;
                let mut found = group_of(&answer)
                    .ok_or_else(|| GroupRefusal::NoSuchGroup(chat_id.to_owned()))?;
                found.id = chat_id.to_owned();
                Ok(GroupOutcome::Group(found))
            }
            GroupOp::Update { patch, .. } => {
                if let Some(name) = &patch.name {
                    let body = json!({ "subject": name });
                    self.group_call(Method::PUT, group, &["subject"], Some(body))
                        .await?;
                }
                if let Some(description) = &patch.description {
                    let body = json!({ "description": description });
                    self.group_call(Method::PUT, group, &["description"], Some(body))
                        .await?;
                }
                Ok(GroupOutcome::Done)
            }
            GroupOp::Participants { change, .. } => {
                let mut outcomes = Vec::new();
                for action in ParticipantAction::ALL {
                    let ids = change.of(action);
                    if ids.is_empty() {
                        continue;
                    }
                    let path = match action {
                        ParticipantAction::Add => ["participants", "add"],
                        ParticipantAction::Remove => ["participants", "remove"],
                        ParticipantAction::Promote => ["admin", "promote"],
                        ParticipantAction::Demote => ["admin", "demote"],
                    };
                    let listed: Vec<Value> = ids.iter().map(|id| json!({ "id": id })).collect();
                    let body = json!({ "participants": listed });
                    let answer = self
                        .group_call(Method::POST, group, &path, Some(body))
                        .await?;
                    outcomes.extend(ids.iter().map(|id| outcome_of(&answer, action, id)));
                }
                Ok(GroupOutcome::Participants { outcomes })
            }
            GroupOp::Invite { revoke, .. } => {
                let answer = match revoke {
                    true => {
                        let path = ["invite-code", "revoke"];
                        self.group_call(Method::POST, group, &path, None).await?
                    }
                    false => {
                        self.group_call(Method::GET, group, &["invite-code"], None)
                            .await?
                    }
                };
                let code = invite_code(&answer).ok_or_else(|| {
                    ConnectorError::Rejected("WAHA answered no invite code".into())
                })?;
                Ok(GroupOutcome::Invite { code })
            }
            GroupOp::Leave { .. } => {
                self.group_call(Method::POST, group, &["leave"], None)
                    .await?;
                Ok(GroupOutcome::Done)
            }
            GroupOp::Create(made) => self.create_group(made).await,
        }
    }

    /// `POST /api/{session}/groups`: the group as WAHA made it; the members asked for where
    /// its answer does not list them.
    async fn create_group(&mut self, made: &NewGroup) -> Result<GroupOutcome, GroupRefusal> {
        let participants: Vec<Value> = made
            .participants
            .iter()
            .map(|id| json!({ "id": id }))
            .collect();
        let body = json!({ "name": made.name, "participants": participants });
        let answer = self.group_call(Method::POST, None, &[], Some(body)).await?;
        let mut group = group_of(&answer).ok_or_else(|| {
            ConnectorError::Rejected("WAHA answered a new group without its id".into())
        })?;
        if group.participants.is_empty() {
            let me = self.me.as_ref().map(|me| me.id.as_str());
            group.participants = made_with(me, &made.participants);
        }
        if group.name.is_empty() {
            group.name.clone_from(&made.name);
        }
        Ok(GroupOutcome::Group(group))
    }

    /// One request under `/api/{session}/groups[/{group}]/{rest}`: 404 is no such group, 403
    /// a refusal of this account, anything else unsuccessful what its status means.
    async fn group_call(
        &self,
        method: Method,
        group: Option<&str>,
        rest: &[&str],
        body: Option<Value>,
    ) -> Result<Value, GroupRefusal> {
        let mut segments = vec!["api", self.spec.session.as_str(), "groups"];
        segments.extend(group);
        segments.extend_from_slice(rest);
        let mut request = self.request(method, &segments);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let (status, answer) = self.http.exchange(request).await?;
        match (status, group) {
            (StatusCode::NOT_FOUND, Some(group)) => {
                Err(GroupRefusal::NoSuchGroup(group.to_owned()))
            }
            (StatusCode::FORBIDDEN, _) => Err(GroupRefusal::NotAdmin),
            _ => Ok(http::success(status, answer)?),
        }
    }
}

/// The members of a group WAHA made without listing them: this account its creator, the
/// others members.
fn made_with(me: Option<&str>, others: &[String]) -> Vec<Participant> {
    let creator = me.map(|me| Participant {
        id: me.to_owned(),
        role: Role::Superadmin,
    });
    creator
        .into_iter()
        .chain(others.iter().map(|id| Participant {
            id: id.clone(),
            role: Role::Member,
        }))
        .collect()
}

/// A group as WAHA answers it, in any engine's shape; `None` without an id.
pub(super) fn group_of(answer: &Value) -> Option<GroupInfo> {
    let group = match &answer["groupMetadata"] {
        Value::Object(_) => &answer["groupMetadata"],
        _ => answer,
    };
    let id = [
        &group["id"],
        &group["gid"],
        &answer["id"],
        &answer["gid"],
        &group["JID"],
    ]
    .into_iter()
    .find_map(id_of)?;
    let participants = [&group["participants"], &group["Participants"]]
        .into_iter()
        .find_map(Value::as_array)
        .map(|listed| listed.iter().filter_map(participant_of).collect())
        .unwrap_or_default();
    let described = [&group["desc"], &group["description"], &group["Topic"]]
        .into_iter()
        .find_map(|value| text(value).map(str::to_owned));
    let created = [&group["creation"], &group["GroupCreated"]]
        .into_iter()
        .find_map(|value| value.as_i64())
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
        .map(crate::model::rfc3339);
    Some(GroupInfo {
        id,
        name: subject_of(answer)
            .or_else(|| subject_of(group))
            .unwrap_or_default(),
        description: described.filter(|text| !text.is_empty()),
        owner: [&group["owner"], &group["OwnerJID"]]
            .into_iter()
            .find_map(id_of),
        created_at: created,
        participants,
    })
}

/// One member, its role from `role`, `admin` (`admin`, `superadmin`), `isSuperAdmin` /
/// `isAdmin`, or GOWS's `IsSuperAdmin` / `IsAdmin`.
pub(super) fn participant_of(member: &Value) -> Option<Participant> {
    let id = [&member["id"], &member["JID"], &member["jid"]]
        .into_iter()
        .find_map(id_of)?;
    let flag = |names: [&str; 2]| {
        names
            .iter()
            .any(|name| member[*name].as_bool() == Some(true))
    };
    let named = text(&member["role"]).or_else(|| text(&member["admin"]));
    let role = match named {
        Some("superadmin") => Role::Superadmin,
        Some("admin") => Role::Admin,
        _ if flag(["isSuperAdmin", "IsSuperAdmin"]) => Role::Superadmin,
        _ if flag(["isAdmin", "IsAdmin"]) => Role::Admin,
        _ => Role::Member,
    };
    Some(Participant { id, role })
}

/// What became of `id` by WAHA's answer: an engine that lists participants one by one says
/// each one's status (`200`, or `403`, `404`, `409`); one that does not has done them all.
fn outcome_of(answer: &Value, action: ParticipantAction, id: &str) -> ParticipantOutcome {
    let listed = answer.as_array().into_iter().flatten().find(|entry| {
        [&entry["id"], &entry["jid"], &entry["JID"]]
            .into_iter()
            .find_map(id_of)
            .is_some_and(|listed| listed == id)
    });
    let status = listed.and_then(|entry| {
        [&entry["status"], &entry["code"], &entry["error"]]
            .into_iter()
            .find_map(|value| value.as_u64().or_else(|| text(value)?.parse().ok()))
    });
    match status {
        None | Some(200..=299) => ParticipantOutcome::done(action, id),
        Some(403) => ParticipantOutcome::refused(action, id, "not_group_admin"),
        Some(404) => ParticipantOutcome::refused(action, id, "not_a_participant"),
        Some(409) => ParticipantOutcome::refused(action, id, "already_a_participant"),
        Some(_) => ParticipantOutcome::refused(action, id, "refused_by_upstream"),
    }
}

/// The invite code WAHA answers: the code as a string, or `{ code }`, or a whole link.
fn invite_code(answer: &Value) -> Option<String> {
    let code = text(answer).or_else(|| text(&answer["code"]))?;
    let code = code.rsplit('/').next().unwrap_or(code);
    (!code.is_empty()).then(|| code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_is_read_from_every_engines_shape() {
        let noweb = json!({ "id": "1@g.us", "subject": "Family", "desc": "hi", "owner": "2@c.us", "creation": 1700000000,
            "participants": [{ "id": "2@c.us", "admin": "superadmin" }, { "id": "3@c.us", "admin": null }] });
        let webjs = json!({ "id": { "_serialized": "1@g.us" }, "name": "Family", "groupMetadata": {
            "id": { "_serialized": "1@g.us" }, "subject": "Family", "desc": "hi", "owner": { "_serialized": "2@c.us" }, "creation": 1700000000,
            "participants": [{ "id": { "_serialized": "2@c.us" }, "isAdmin": true, "isSuperAdmin": true }, { "id": { "_serialized": "3@c.us" }, "isAdmin": false }] } });
        let gows = json!({ "JID": "1@g.us", "Name": "Family", "Topic": "hi", "OwnerJID": "2@c.us", "GroupCreated": 1700000000,
            "Participants": [{ "JID": "2@c.us", "IsAdmin": true, "IsSuperAdmin": true }, { "JID": "3@c.us" }] });
        for answer in [noweb, webjs, gows] {
            let group = group_of(&answer).unwrap();
            assert_eq!(
                (group.id.as_str(), group.name.as_str()),
                ("1@g.us", "Family"),
                "{answer}"
            );
            assert_eq!(group.description.as_deref(), Some("hi"));
            assert_eq!(group.owner.as_deref(), Some("2@c.us"));
            assert_eq!(
                group.created_at.as_deref(),
                Some("2023-11-14T22:13:20.000Z")
            );
            let roles: Vec<Role> = group.participants.iter().map(|p| p.role).collect();
            assert_eq!(roles, [Role::Superadmin, Role::Member], "{answer}");
        }
    }

    #[test]
    fn participants_answered_one_by_one_keep_their_refusals() {
        let answer =
            json!([{ "jid": "2@c.us", "status": "200" }, { "jid": "3@c.us", "status": "409" }]);
        assert!(outcome_of(&answer, ParticipantAction::Add, "2@c.us").ok);
        let refused = outcome_of(&answer, ParticipantAction::Add, "3@c.us");
        assert_eq!(refused.error.as_deref(), Some("already_a_participant"));
        assert!(outcome_of(&json!({}), ParticipantAction::Remove, "4@c.us").ok);
    }

    #[test]
    fn an_invite_code_is_read_as_a_string_an_object_or_a_link() {
        for answer in [
            json!("AbC123"),
            json!({ "code": "AbC123" }),
            json!("https://chat.whatsapp.com/AbC123"),
        ] {
            assert_eq!(invite_code(&answer).as_deref(), Some("AbC123"));
        }
        assert_eq!(invite_code(&json!("")), None);
    }
}
