//! What a caller asks of a group, answered by the upstream at once: a group has to exist
//! upstream before it has an id, its members are the upstream's to list, and each participant
//! may be refused on its own. So group requests are not queued like messages: the device must
//! be ready, and the answer is the upstream's. What changed is then stored as any upstream
//! report is (`group:update` and the chat's `system` line, in one write), before the caller is
//! answered.

use chrono::Utc;

use super::Actor;
use crate::device::DeviceError;
use crate::model::upstream::GroupRefusal;
use crate::model::{
    capability::Capability,
    group::{
        GroupChange, GroupOp, GroupOutcome, GroupUpdate, ParticipantAction, ParticipantChange,
    },
    inbound::Inbound,
    StateName,
};

impl Actor {
    /// Asks the upstream to do `op`, and stores what it changed.
    pub(super) async fn group(&mut self, op: GroupOp) -> Result<GroupOutcome, DeviceError> {
        if !self.connector.can(Capability::GroupsManage) {
            return Err(DeviceError::Unsupported {
                connector: self.connector.as_str(),
                operation: Capability::GroupsManage,
            });
        }
        op.check().map_err(GroupRefusal::Invalid)?;
        if let Some(chat_id) = op.chat_id().filter(|id| !id.ends_with("@g.us")) {
            return Err(GroupRefusal::NoSuchGroup(chat_id.to_owned()).into());
        }
        let me = self.me.borrow().as_ref().map(|me| me.id.clone());
        let (StateName::Ready, Some(upstream), Some(me)) =
            (self.state.name(), self.upstream.as_mut(), me)
        else {
            return Err(DeviceError::NotReady);
        };
        let outcome = match upstream.group(&op).await {
            Ok(outcome) => outcome,
            Err(GroupRefusal::Upstream(error)) => return Err(self.answered_with(error).await),
            Err(refused) => return Err(refused.into()),
        };
        let updates = changes(&op, &outcome, &me);
        if !updates.is_empty() {
            self.group_echoes.expect(&updates, &me);
            let at = Utc::now();
            let reports: Vec<Inbound> = updates
                .into_iter()
                .map(|update| Inbound::Group {
                    update: Box::new(update),
                    upstream_id: None,
                    at,
                })
                .collect();
            self.store_inbound(reports).await?;
        }
        Ok(outcome)
    }
}

/// What `op` changed, as the upstream answered it, done by `me`.
fn changes(op: &GroupOp, outcome: &GroupOutcome, me: &str) -> Vec<GroupUpdate> {
    let by = Some(me);
    match (op, outcome) {
        (GroupOp::Create(made), GroupOutcome::Group(group)) => {
            let added = group
                .participants
                .iter()
                .filter(|participant| participant.id != me)
                .map(|participant| ParticipantChange {
                    id: participant.id.clone(),
                    action: ParticipantAction::Add,
                })
                .collect();
            vec![GroupUpdate {
                name: Some(made.name.clone()),
                participants: Some(added),
                ..GroupUpdate::new(&group.id, GroupChange::Created, by)
            }]
        }
        (GroupOp::Update { chat_id, patch }, _) => {
            let mut updates = Vec::new();
            if let Some(name) = &patch.name {
                updates.push(GroupUpdate {
                    name: Some(name.clone()),
                    ..GroupUpdate::new(chat_id, GroupChange::Name, by)
                });
            }
            if let Some(description) = &patch.description {
                updates.push(GroupUpdate {
                    description: Some(description.clone()),
                    ..GroupUpdate::new(chat_id, GroupChange::Description, by)
                });
            }
            updates
        }
        (GroupOp::Participants { chat_id, .. }, GroupOutcome::Participants { outcomes }) => {
            let done: Vec<ParticipantChange> = outcomes
                .iter()
                .filter(|outcome| outcome.ok)
                .map(|outcome| ParticipantChange {
                    id: outcome.id.clone(),
                    action: outcome.action,
                })
                .collect();
            match done.is_empty() {
                true => Vec::new(),
                false => vec![GroupUpdate {
                    participants: Some(done),
                    ..GroupUpdate::new(chat_id, GroupChange::Participants, by)
                }],
            }
        }
        (GroupOp::Leave { chat_id }, _) => vec![GroupUpdate {
            participants: Some(vec![ParticipantChange {
                id: me.to_owned(),
                action: ParticipantAction::Remove,
            }]),
            ..GroupUpdate::new(chat_id, GroupChange::Left, by)
        }],
        _ => Vec::new(),
    }
}
