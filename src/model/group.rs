//! Groups (`groups.manage`): what a client asks of a group, what the upstream answers, and how
//! a change to a group is told (`group:update`).
//!
//! A group's members and their roles are the upstream's: WhatsApp keeps them, and anyone in the
//! group may change them at any time. So devicebridge asks the upstream whenever a client asks
//! (`GET …/groups/{chatId}`), and keeps of a group only what every chat has (its name, its
//! messages), plus the `system` lines that say what changed, as a phone shows them.

use serde::{Deserialize, Serialize};

/// The longest group name WhatsApp takes (its "subject"), in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The longest group description WhatsApp takes, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2048;
/// Most participant ids one request names, all actions together.
pub const MAX_PARTICIPANTS: usize = 256;
/// A person's id as a group names its members: a number's (`…@c.us`, `…@s.whatsapp.net`)
/// or a linked id (`…@lid`).
pub const PARTICIPANT_ID: &str = r"^[0-9]{5,20}@(c\.us|s\.whatsapp\.net|lid)$";
/// Where WhatsApp's invite links point, the code following.
pub const INVITE_BASE: &str = "https://chat.whatsapp.com/";

/// A member's standing in a group: the one who made it (`superadmin`), its admins, the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "GroupRole"))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Superadmin,
}

impl Role {
    /// Whether a member of this role may change who is in the group and who runs it.
    pub fn is_admin(self) -> bool {
        self != Role::Member
    }
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "GroupParticipant"))]
pub struct Participant {
    #[schema(example = "15550000002@c.us")]
    pub id: String,
    pub role: Role,
}

/// A group as its upstream describes it now (`GET …/groups/{chatId}`, `group:get`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "Group"))]
#[serde(rename_all = "camelCase")]
pub struct GroupInfo {
    #[schema(example = "120363025246125888@g.us")]
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Who made it, when the upstream says.
    pub owner: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: Option<String>,
    pub participants: Vec<Participant>,
}

/// What is done to a participant.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ParticipantAction {
    Add,
    Remove,
    Promote,
    Demote,
}

impl ParticipantAction {
    pub const ALL: [ParticipantAction; 4] = [
        ParticipantAction::Add,
        ParticipantAction::Remove,
        ParticipantAction::Promote,
        ParticipantAction::Demote,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantAction::Add => "add",
            ParticipantAction::Remove => "remove",
            ParticipantAction::Promote => "promote",
            ParticipantAction::Demote => "demote",
        }
    }
}

/// `POST …/groups/{chatId}/participants` and `group:participants`: who to add, remove,
/// promote to admin and demote, at least one id in all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "add": ["15550000003@c.us"], "promote": ["15550000002@c.us"] }))]
pub struct ParticipantsChange {
    #[serde(default)]
    #[schema(schema_with = participant_ids)]
    pub add: Vec<String>,
    #[serde(default)]
    #[schema(schema_with = participant_ids)]
    pub remove: Vec<String>,
    #[serde(default)]
    #[schema(schema_with = participant_ids)]
    pub promote: Vec<String>,
    #[serde(default)]
    #[schema(schema_with = participant_ids)]
    pub demote: Vec<String>,
}

/// A list of participant ids, as the schema states it.
fn participant_ids() -> utoipa::openapi::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .pattern(Some(PARTICIPANT_ID)),
        )
        .max_items(Some(MAX_PARTICIPANTS))
        .build()
}

impl ParticipantsChange {
    /// Each id with what is asked for it, adds first, then removals, promotions, demotions.
    pub fn each(&self) -> Vec<(ParticipantAction, &str)> {
        ParticipantAction::ALL
            .into_iter()
            .flat_map(|action| self.of(action).iter().map(move |id| (action, id.as_str())))
            .collect()
    }

    /// The ids named for `action`.
    pub fn of(&self, action: ParticipantAction) -> &[String] {
        match action {
            ParticipantAction::Add => &self.add,
            ParticipantAction::Remove => &self.remove,
            ParticipantAction::Promote => &self.promote,
            ParticipantAction::Demote => &self.demote,
        }
    }

    /// Checks the ids: at least one, at most [`MAX_PARTICIPANTS`], each a person's id.
    pub fn check(&self) -> Result<(), String> {
        let each = self.each();
        if each.is_empty() {
            return Err(
                "name at least one participant in `add`, `remove`, `promote` or `demote`".into(),
            );
        }
        if each.len() > MAX_PARTICIPANTS {
            return Err(format!("at most {MAX_PARTICIPANTS} participants at once"));
        }
        each.into_iter()
            .try_for_each(|(_, id)| check_participant(id))
    }
}

/// Whether `id` names a person as a group's member list does ([`PARTICIPANT_ID`]).
pub fn check_participant(id: &str) -> Result<(), String> {
    let (number, server) = id.split_once('@').unwrap_or((id, ""));
    let digits = (5..=20).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
    match digits && matches!(server, "c.us" | "s.whatsapp.net" | "lid") {
        true => Ok(()),
        false => Err(format!(
            "{id:?} is not a participant id: digits, then `@c.us`, `@s.whatsapp.net` or `@lid`"
        )),
    }
}

/// What became of one participant id (`[{ id, action, ok, error? }]`): the upstream may do
/// some and refuse others (`not_a_participant`, `already_a_participant`, `not_group_admin`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ParticipantOutcome {
    pub id: String,
    pub action: ParticipantAction,
    pub ok: bool,
    /// Why not, when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub error: Option<String>,
}

impl ParticipantOutcome {
    pub fn done(action: ParticipantAction, id: &str) -> Self {
        Self {
            id: id.to_owned(),
            action,
            ok: true,
            error: None,
        }
    }

    pub fn refused(action: ParticipantAction, id: &str, error: &str) -> Self {
        Self {
            ok: false,
            error: Some(error.to_owned()),
            ..Self::done(action, id)
        }
    }
}

/// `POST …/groups` and `group:create`: the new group's name and who is in it besides us.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "name": "Weekend", "participants": ["15550000002@c.us"] }))]
pub struct NewGroup {
    #[schema(schema_with = group_name)]
    pub name: String,
    #[schema(schema_with = new_participants)]
    pub participants: Vec<String>,
}

fn group_name() -> utoipa::openapi::Object {
    super::constraints::not_blank("The group's name (its subject); not blank.")
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_CHARS))
        .build()
}

fn new_participants() -> utoipa::openapi::Array {
    let mut ids = participant_ids();
    ids.min_items = Some(1);
    ids
}

/// Checks a group name: not blank, at most [`MAX_NAME_CHARS`].
pub fn check_name(name: &str) -> Result<(), String> {
    match !name.trim().is_empty() && name.chars().count() <= MAX_NAME_CHARS {
        true => Ok(()),
        false => Err(format!(
            "`name` must not be blank, and at most {MAX_NAME_CHARS} characters"
        )),
    }
}

impl NewGroup {
    pub fn check(&self) -> Result<(), String> {
        check_name(&self.name)?;
        if self.participants.is_empty() || self.participants.len() > MAX_PARTICIPANTS {
            return Err(format!(
                "`participants` must name 1 to {MAX_PARTICIPANTS} people"
            ));
        }
        self.participants
            .iter()
            .try_for_each(|id| check_participant(id))
    }
}

/// `PATCH …/groups/{chatId}` and `group:update`: a new name, a new description, or both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(optional_fields))]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "name": "Weekend trip" }))]
pub struct GroupPatch {
    #[serde(default)]
    #[schema(schema_with = group_name)]
    pub name: Option<String>,
    /// Empty takes the description away.
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub description: Option<String>,
}

impl GroupPatch {
    pub fn check(&self) -> Result<(), String> {
        if self.name.is_none() && self.description.is_none() {
            return Err("give a `name`, a `description`, or both".into());
        }
        if let Some(name) = &self.name {
            check_name(name)?;
        }
        match &self.description {
            Some(text) if text.chars().count() > MAX_DESCRIPTION_CHARS => Err(format!(
                "`description` must be at most {MAX_DESCRIPTION_CHARS} characters"
            )),
            _ => Ok(()),
        }
    }
}

/// A group's invite link (`GET …/groups/{chatId}/invite`, `group:invite`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Invite {
    #[schema(example = "K9mV2qHj5xL0aB3cD4eF6g")]
    pub code: String,
    #[schema(example = "https://chat.whatsapp.com/K9mV2qHj5xL0aB3cD4eF6g")]
    pub url: String,
}

impl Invite {
    /// The link of an invite code, as WhatsApp writes it.
    pub fn of(code: String) -> Invite {
        Invite {
            url: format!("{INVITE_BASE}{code}"),
            code,
        }
    }
}

/// What a device asks of its upstream about a group, once the request is checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum GroupOp {
    Create(NewGroup),
    Get {
        chat_id: String,
    },
    Update {
        chat_id: String,
        patch: GroupPatch,
    },
    Participants {
        chat_id: String,
        change: ParticipantsChange,
    },
    /// The invite code; `revoke` makes a new one, and the old link stops working.
    Invite {
        chat_id: String,
        revoke: bool,
    },
    Leave {
        chat_id: String,
    },
}

impl GroupOp {
    /// The group it is about; `None` for one still to be made.
    pub fn chat_id(&self) -> Option<&str> {
        match self {
            GroupOp::Create(_) => None,
            GroupOp::Get { chat_id }
            | GroupOp::Update { chat_id, .. }
            | GroupOp::Participants { chat_id, .. }
            | GroupOp::Invite { chat_id, .. }
            | GroupOp::Leave { chat_id } => Some(chat_id),
        }
    }

    /// Checks what the request says before anything is asked of the upstream.
    pub fn check(&self) -> Result<(), String> {
        match self {
            GroupOp::Create(group) => group.check(),
            GroupOp::Update { patch, .. } => patch.check(),
            GroupOp::Participants { change, .. } => change.check(),
            GroupOp::Get { .. } | GroupOp::Invite { .. } | GroupOp::Leave { .. } => Ok(()),
        }
    }
}

/// What the upstream answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum GroupOutcome {
    /// The group as it is (made, or asked for).
    Group(GroupInfo),
    Participants {
        outcomes: Vec<ParticipantOutcome>,
    },
    Invite {
        code: String,
    },
    Done,
}

/// What kind of change a `group:update` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum GroupChange {
    Created,
    Name,
    Description,
    Participants,
    /// This account left the group, or was removed from it.
    Left,
}

/// One participant in a `group:update`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ParticipantChange {
    pub id: String,
    pub action: ParticipantAction,
}

/// `group:update`: a group changed, by this account or anyone in it (`by`; `null` when the
/// upstream does not say who). Journaled with the `system` line that says it in the chat.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct GroupUpdate {
    pub chat_id: String,
    pub change: GroupChange,
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub participants: Option<Vec<ParticipantChange>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub description: Option<String>,
}

impl GroupUpdate {
    /// A change of `chat_id` by `by`, with nothing else said yet.
    pub fn new(chat_id: &str, change: GroupChange, by: Option<&str>) -> Self {
        Self {
            chat_id: chat_id.to_owned(),
            change,
            by: by.map(str::to_owned),
            participants: None,
            name: None,
            description: None,
        }
    }

    /// `participants` changed: each id with `action`.
    pub fn participants(
        chat_id: &str,
        by: Option<&str>,
        action: ParticipantAction,
        ids: impl IntoIterator<Item = String>,
    ) -> Self {
        let participants = ids
            .into_iter()
            .map(|id| ParticipantChange { id, action })
            .collect();
        Self {
            participants: Some(participants),
            ..Self::new(chat_id, GroupChange::Participants, by)
        }
    }
}

impl GroupUpdate {
    /// What an upstream says of participants changed by `by` (`None`: it does not say who):
    /// this account's (`me`) removal is its leaving the group (`left`), told apart from the
    /// others' changes.
    pub fn of_participants(
        chat_id: &str,
        by: Option<&str>,
        me: &str,
        changed: Vec<ParticipantChange>,
    ) -> Vec<GroupUpdate> {
        let (mine, others): (Vec<_>, Vec<_>) = changed
            .into_iter()
            .partition(|change| change.id == me && change.action == ParticipantAction::Remove);
        let mut updates = Vec::new();
        if !others.is_empty() {
            updates.push(GroupUpdate {
                participants: Some(others),
                ..GroupUpdate::new(chat_id, GroupChange::Participants, by)
            });
        }
        if !mine.is_empty() {
            updates.push(GroupUpdate {
                participants: Some(mine),
                ..GroupUpdate::new(chat_id, GroupChange::Left, by)
            });
        }
        updates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_ids_are_persons_ids() {
        for good in [
            "15550000002@c.us",
            "4915112345678@s.whatsapp.net",
            "123456789012345@lid",
        ] {
            assert_eq!(check_participant(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "alice",
            "1555@c.us",
            "15550000002@g.us",
            "+15550000002@c.us",
            "15550000002",
        ] {
            assert!(check_participant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_change_names_someone_and_each_id_once_per_action() {
        assert!(ParticipantsChange::default().check().is_err());
        let change = ParticipantsChange {
            add: vec!["15550000003@c.us".into()],
            demote: vec!["15550000002@c.us".into()],
            ..Default::default()
        };
        assert_eq!(change.check(), Ok(()));
        assert_eq!(
            change.each(),
            [
                (ParticipantAction::Add, "15550000003@c.us"),
                (ParticipantAction::Demote, "15550000002@c.us")
            ]
        );
    }

    #[test]
    fn names_and_patches_are_checked() {
        assert!(check_name("  ").is_err());
        assert!(check_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(GroupPatch::default().check().is_err());
        let patch = GroupPatch {
            description: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(patch.check(), Ok(()));
    }

    #[test]
    fn an_update_says_only_what_changed() {
        let update = GroupUpdate::participants(
            "1@g.us",
            None,
            ParticipantAction::Add,
            ["15550000002@c.us".to_owned()],
        );
        assert_eq!(
            serde_json::to_value(&update).unwrap(),
            serde_json::json!({
                "chatId": "1@g.us", "change": "participants", "by": null,
                "participants": [{ "id": "15550000002@c.us", "action": "add" }]
            })
        );
        assert_eq!(
            Invite::of("abc".into()).url,
            "https://chat.whatsapp.com/abc"
        );
    }
}
