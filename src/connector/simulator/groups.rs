//! The simulated world's groups: who is in each, with what role, its name, description and
//! invite code, kept in the store (`simulator_groups`) so that they are the same after a
//! restart. WhatsApp's rules apply: only admins add, remove, promote and demote, see and reset
//! the invite link; the group's creator (its `superadmin`) cannot be demoted or removed by
//! another admin; any member may rename it or change its description, and leave it.
//!
//! The group every simulated phone is in with all its contacts ([`group_id`]) exists from
//! the start, made by the first contact: there the device is a plain member, so a test or a
//! demo sees an admin's refusal as readily as its own groups.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::device::pairings::random_token;
use crate::model::upstream::GroupRefusal;
use crate::model::{
    group::{
        GroupChange, GroupInfo, GroupOp, GroupOutcome, GroupPatch, GroupUpdate, NewGroup,
        Participant, ParticipantAction, ParticipantChange, ParticipantOutcome, ParticipantsChange,
        Role,
    },
    inbound::Inbound,
    rfc3339,
    spec::SimulatorSpec,
    upstream::{GroupAct, GroupCue},
    DeviceId,
};
use crate::store::{messages::simulator_group, sql::Conn, StoreResult, Tx};

/// How every group's id ends, as WhatsApp's do.
const GROUP_SERVER: &str = "@g.us";

/// The group every simulated phone is in with all its contacts.
pub fn group_id(spec: &SimulatorSpec) -> String {
    format!("120363{}{GROUP_SERVER}", spec.number())
}

pub const GROUP_NAME: &str = "Simulator group";

/// Length of a simulated invite code (WhatsApp's are 22 characters).
const INVITE_CODE_CHARS: usize = 22;

/// One group of the simulated world, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    id: String,
    name: String,
    description: Option<String>,
    owner: Option<String>,
    created_at: String,
    invite: String,
    members: Vec<Participant>,
}

impl Group {
    /// A new group made by `owner`, with `others` in it.
    pub fn new(id: String, owner: &str, others: &[String], group: &NewGroup) -> Group {
        let mut members = vec![Participant {
            id: owner.to_owned(),
            role: Role::Superadmin,
        }];
        for id in others.iter().filter(|id| *id != owner) {
            if !members.iter().any(|member| member.id == *id) {
                members.push(Participant {
                    id: id.clone(),
                    role: Role::Member,
                });
            }
        }
        Group {
            id,
            name: group.name.clone(),
            description: None,
            owner: Some(owner.to_owned()),
            created_at: rfc3339(Utc::now()),
            invite: random_token(INVITE_CODE_CHARS),
            members,
        }
    }

    /// A fresh id for a group made now: `120363` and digits, as WhatsApp's are.
    pub fn fresh_id() -> String {
        let digits = ulid::Ulid::new().0 % 1_000_000_000_000;
        format!("120363{digits:012}{GROUP_SERVER}")
    }

    /// The group as `GET …/groups/{chatId}` shows it.
    pub fn info(&self) -> GroupInfo {
        GroupInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            owner: self.owner.clone(),
            created_at: Some(self.created_at.clone()),
            participants: self.members.clone(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its members' ids.
    pub fn member_ids(&self) -> impl Iterator<Item = &str> {
        self.members.iter().map(|member| member.id.as_str())
    }

    fn role_of(&self, id: &str) -> Option<Role> {
        self.members
            .iter()
            .find(|member| member.id == id)
            .map(|member| member.role)
    }

    /// Whether `id` is in the group.
    pub fn has(&self, id: &str) -> bool {
        self.role_of(id).is_some()
    }

    /// Refuses `by` unless they are one of its admins.
    fn admin(&self, by: &str) -> Result<(), GroupRefusal> {
        match self.role_of(by) {
            Some(role) if role.is_admin() => Ok(()),
            _ => Err(GroupRefusal::NotAdmin),
        }
    }

    /// Refuses `by` unless they are in the group.
    fn member(&self, by: &str) -> Result<(), GroupRefusal> {
        match self.has(by) {
            true => Ok(()),
            false => Err(GroupRefusal::Invalid(format!("{by} is not in the group"))),
        }
    }

    /// `by` adds, removes, promotes and demotes: what became of each id, and what changed.
    pub fn change_participants(
        &mut self,
        by: &str,
        change: &ParticipantsChange,
    ) -> Result<(Vec<ParticipantOutcome>, Vec<ParticipantChange>), GroupRefusal> {
        self.admin(by)?;
        let mut outcomes = Vec::new();
        let mut changed = Vec::new();
        for (action, id) in change.each() {
            let outcome = match self.participant(by, action, id) {
                Ok(true) => {
                    changed.push(ParticipantChange {
                        id: id.to_owned(),
                        action,
                    });
                    ParticipantOutcome::done(action, id)
                }
                Ok(false) => ParticipantOutcome::done(action, id),
                Err(error) => ParticipantOutcome::refused(action, id, error),
            };
            outcomes.push(outcome);
        }
        Ok((outcomes, changed))
    }

    /// Does `action` to `id`; true if it changed something, or why it cannot be done.
    fn participant(
        &mut self,
        by: &str,
        action: ParticipantAction,
        id: &str,
    ) -> Result<bool, &'static str> {
        let role = self.role_of(id);
        let owner_untouchable = role == Some(Role::Superadmin) && self.owner.as_deref() != Some(by);
        match (action, role) {
            (ParticipantAction::Add, Some(_)) => Err("already_a_participant"),
            (ParticipantAction::Add, None) => {
                self.members.push(Participant {
                    id: id.to_owned(),
                    role: Role::Member,
                });
                Ok(true)
            }
            (_, None) => Err("not_a_participant"),
            (ParticipantAction::Remove | ParticipantAction::Demote, _) if owner_untouchable => {
                Err("not_group_admin")
            }
            (ParticipantAction::Remove, Some(_)) => {
                self.members.retain(|member| member.id != id);
                Ok(true)
            }
            (ParticipantAction::Promote, Some(Role::Member)) => Ok(self.set_role(id, Role::Admin)),
            (ParticipantAction::Demote, Some(Role::Admin | Role::Superadmin)) => {
                Ok(self.set_role(id, Role::Member))
            }
            (ParticipantAction::Promote | ParticipantAction::Demote, Some(_)) => Ok(false),
        }
    }

    fn set_role(&mut self, id: &str, role: Role) -> bool {
        for member in self.members.iter_mut().filter(|member| member.id == id) {
            member.role = role;
        }
        true
    }

    /// `by` renames the group or changes its description; returns whether each changed.
    pub fn update(&mut self, by: &str, patch: &GroupPatch) -> Result<(bool, bool), GroupRefusal> {
        self.member(by)?;
        let renamed = patch.name.as_ref().is_some_and(|name| *name != self.name);
        let described = patch
            .description
            .as_ref()
            .is_some_and(|text| Some(text) != self.description.as_ref());
        if let Some(name) = patch.name.clone() {
            self.name = name;
        }
        if let Some(text) = patch.description.clone() {
            self.description = Some(text).filter(|text| !text.is_empty());
        }
        Ok((renamed, described))
    }

    /// The invite code, as `by` (an admin) sees it; `revoke` makes a new one first.
    pub fn invite(&mut self, by: &str, revoke: bool) -> Result<String, GroupRefusal> {
        self.admin(by)?;
        if revoke {
            self.invite = random_token(INVITE_CODE_CHARS);
        }
        Ok(self.invite.clone())
    }

    /// `by` leaves the group.
    pub fn leave(&mut self, by: &str) -> Result<(), GroupRefusal> {
        self.member(by)?;
        self.members.retain(|member| member.id != by);
        Ok(())
    }
}

/// The group every simulated phone is in with all its contacts, as it is before anyone
/// changes it: made by the first contact, the device a plain member.
fn first_group(spec: &SimulatorSpec, me: &str) -> Option<Group> {
    let (owner, others) = spec.contacts.split_first()?;
    let mut others: Vec<String> = others.iter().map(|contact| contact.id.clone()).collect();
    others.push(me.to_owned());
    let made = NewGroup {
        name: GROUP_NAME.to_owned(),
        participants: others.clone(),
    };
    Some(Group::new(group_id(spec), &owner.id, &others, &made))
}

/// Group `chat_id` of a device's simulated world as it is now, if there is one. Every group
/// of a simulated world has a group's id (`…@g.us`), so a direct chat, which most messages
/// are in, is answered without reading the store.
pub fn load(
    conn: &Conn,
    device: &DeviceId,
    spec: &SimulatorSpec,
    me: &str,
    chat_id: &str,
) -> StoreResult<Option<Group>> {
    if !chat_id.ends_with(GROUP_SERVER) {
        return Ok(None);
    }
    match simulator_group(conn, device, chat_id)? {
        Some(state) => Ok(serde_json::from_str(&state).ok()),
        None if chat_id == group_id(spec) => Ok(first_group(spec, me)),
        None => Ok(None),
    }
}

/// Keeps `group` as it is now.
pub fn keep(tx: &mut Tx<'_>, device: &DeviceId, group: &Group) -> StoreResult<()> {
    tx.simulator_keep_group(device, &group.id, &serde_json::to_string(group)?)
}

/// Does what this account (`me`) asks of a group in the write `tx`: nothing is kept of a
/// refusal. A group `me` is not in is no group of theirs.
pub fn apply(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    spec: &SimulatorSpec,
    me: &str,
    op: &GroupOp,
) -> StoreResult<Result<GroupOutcome, GroupRefusal>> {
    let chat_id = match op {
        GroupOp::Create(made) => {
            let group = Group::new(Group::fresh_id(), me, &made.participants, made);
            keep(tx, device, &group)?;
            return Ok(Ok(GroupOutcome::Group(group.info())));
        }
        other => other.chat_id().unwrap_or_default(),
    };
    let Some(mut group) = load(tx.conn(), device, spec, me, chat_id)?.filter(|g| g.has(me)) else {
        return Ok(Err(GroupRefusal::NoSuchGroup(chat_id.to_owned())));
    };
    let outcome = match op {
        GroupOp::Get { .. } => Ok(GroupOutcome::Group(group.info())),
        GroupOp::Update { patch, .. } => group.update(me, patch).map(|_| GroupOutcome::Done),
        GroupOp::Participants { change, .. } => group
            .change_participants(me, change)
            .map(|(outcomes, _)| GroupOutcome::Participants { outcomes }),
        GroupOp::Invite { revoke, .. } => group
            .invite(me, *revoke)
            .map(|code| GroupOutcome::Invite { code }),
        GroupOp::Leave { .. } => group.leave(me).map(|()| GroupOutcome::Done),
        GroupOp::Create(_) => unreachable!("made above"),
    };
    if outcome.is_ok() {
        keep(tx, device, &group)?;
    }
    Ok(outcome)
}

/// A member of a group changes it on cue, in the write `tx`: what the upstream then reports
/// to this account (`me`), nothing if `me` is not in the group. Refused as WhatsApp would
/// refuse the member; a change that changes nothing is refused too, so a cue always shows.
pub fn act(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    spec: &SimulatorSpec,
    me: &str,
    cue: &GroupCue,
) -> StoreResult<Result<Vec<Inbound>, GroupRefusal>> {
    let Some(mut group) = load(tx.conn(), device, spec, me, &cue.chat_id)? else {
        return Ok(Err(GroupRefusal::NoSuchGroup(cue.chat_id.clone())));
    };
    let told = group.has(me);
    let by = Some(cue.from.as_str());
    let updates = match &cue.change {
        GroupAct::Participants {
            action,
            participants,
        } => {
            let mut change = ParticipantsChange::default();
            match action {
                ParticipantAction::Add => change.add.clone_from(participants),
                ParticipantAction::Remove => change.remove.clone_from(participants),
                ParticipantAction::Promote => change.promote.clone_from(participants),
                ParticipantAction::Demote => change.demote.clone_from(participants),
            }
            let (outcomes, changed) = match group.change_participants(&cue.from, &change) {
                Ok(done) => done,
                Err(refused) => return Ok(Err(refused)),
            };
            if changed.is_empty() {
                let why: Vec<String> = outcomes
                    .iter()
                    .map(|outcome| {
                        format!(
                            "{}: {}",
                            outcome.id,
                            outcome.error.as_deref().unwrap_or("no change")
                        )
                    })
                    .collect();
                return Ok(Err(GroupRefusal::Invalid(why.join(", "))));
            }
            GroupUpdate::of_participants(&cue.chat_id, by, me, changed)
        }
        GroupAct::Leave => match group.leave(&cue.from) {
            Ok(()) => vec![GroupUpdate::participants(
                &cue.chat_id,
                by,
                ParticipantAction::Remove,
                [cue.from.clone()],
            )],
            Err(refused) => return Ok(Err(refused)),
        },
        GroupAct::Rename { name } => {
            let patch = GroupPatch {
                name: Some(name.clone()),
                description: None,
            };
            match group.update(&cue.from, &patch) {
                Ok(_) => vec![GroupUpdate {
                    name: Some(name.clone()),
                    ..GroupUpdate::new(&cue.chat_id, GroupChange::Name, by)
                }],
                Err(refused) => return Ok(Err(refused)),
            }
        }
    };
    keep(tx, device, &group)?;
    if !told {
        return Ok(Ok(Vec::new()));
    }
    let at = Utc::now();
    Ok(Ok(updates
        .into_iter()
        .enumerate()
        .map(|(index, update)| Inbound::Group {
            update: Box::new(update),
            upstream_id: Some(match index {
                0 => cue.upstream_id.clone(),
                n => format!("{}-{n}", cue.upstream_id),
            }),
            at,
        })
        .collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "15550000001@c.us";
    const ALICE: &str = "15550000002@c.us";
    const BOB: &str = "15550000003@c.us";

    fn made() -> Group {
        let group = NewGroup {
            name: "Weekend".into(),
            participants: vec![ALICE.into()],
        };
        Group::new(Group::fresh_id(), ME, &group.participants, &group)
    }

    #[test]
    fn its_maker_runs_it_and_the_others_are_members() {
        let group = made();
        assert!(group.info().id.ends_with("@g.us"));
        assert_eq!(group.role_of(ME), Some(Role::Superadmin));
        assert_eq!(group.role_of(ALICE), Some(Role::Member));
    }

    #[test]
    fn each_participant_gets_its_own_outcome() {
        let mut group = made();
        let change = ParticipantsChange {
            add: vec![BOB.into(), ALICE.into()],
            promote: vec![ALICE.into()],
            remove: vec!["15550000009@c.us".into()],
            ..Default::default()
        };
        let (outcomes, changed) = group.change_participants(ME, &change).unwrap();
        let oks: Vec<(bool, Option<&str>)> = outcomes
            .iter()
            .map(|outcome| (outcome.ok, outcome.error.as_deref()))
            .collect();
        assert_eq!(
            oks,
            [
                (true, None),
                (false, Some("already_a_participant")),
                (false, Some("not_a_participant")),
                (true, None)
            ]
        );
        assert_eq!(changed.len(), 2);
        assert_eq!(group.role_of(ALICE), Some(Role::Admin));
    }

    #[test]
    fn only_admins_change_members_and_nobody_demotes_the_maker() {
        let mut group = made();
        let demote_me = ParticipantsChange {
            demote: vec![ME.into()],
            ..Default::default()
        };
        assert_eq!(
            group.change_participants(ALICE, &demote_me),
            Err(GroupRefusal::NotAdmin)
        );
        let promote = ParticipantsChange {
            promote: vec![ALICE.into()],
            ..Default::default()
        };
        group.change_participants(ME, &promote).unwrap();
        let (outcomes, changed) = group.change_participants(ALICE, &demote_me).unwrap();
        assert_eq!(outcomes[0].error.as_deref(), Some("not_group_admin"));
        assert!(changed.is_empty());
    }

    #[test]
    fn a_revoked_invite_is_a_new_code_and_leaving_takes_one_out() {
        let mut group = made();
        let first = group.invite(ME, false).unwrap();
        assert_eq!(group.invite(ME, false).unwrap(), first);
        assert_ne!(group.invite(ME, true).unwrap(), first);
        assert_eq!(group.invite(ALICE, false), Err(GroupRefusal::NotAdmin));
        group.leave(ALICE).unwrap();
        assert!(!group.has(ALICE));
        assert!(group.leave(ALICE).is_err());
    }
}
