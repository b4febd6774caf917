//! A group change this account made, reported back by the upstream. WAHA tells its webhook of
//! every change to a group, this account's own included, a moment after it answered the
//! request; the change is journaled when the request is answered, so its report would say it a
//! second time. Each change made here is expected back for a while, and a report of the same
//! change (who did it aside, which the report may not say) is dropped once.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::model::{
    group::{GroupChange, GroupUpdate, ParticipantAction, ParticipantChange},
    inbound::Inbound,
};

/// How long a change made here is expected back.
const EXPECTED_FOR: Duration = Duration::from_secs(120);
/// Most changes expected at once; the oldest give way.
const MOST_EXPECTED: usize = 256;

#[derive(Default)]
pub struct GroupEchoes {
    expected: VecDeque<(Instant, GroupUpdate)>,
}

impl GroupEchoes {
    /// Expects `updates`, made by this account (`me`), to be reported back. A group it made is
    /// reported back as this account joining it.
    pub fn expect(&mut self, updates: &[GroupUpdate], me: &str) {
        let now = Instant::now();
        for update in updates {
            self.expected.push_back((now, update.clone()));
            if update.change == GroupChange::Created {
                let joined = GroupUpdate::participants(
                    &update.chat_id,
                    None,
                    ParticipantAction::Add,
                    [me.to_owned()],
                );
                self.expected.push_back((now, joined));
            }
        }
        while self.expected.len() > MOST_EXPECTED {
            self.expected.pop_front();
        }
    }

    /// Takes the reports of changes made here out of `batch`.
    pub fn drop_echoes(&mut self, batch: &mut Vec<Inbound>) {
        self.expected.retain(|(at, _)| at.elapsed() < EXPECTED_FOR);
        if self.expected.is_empty() {
            return;
        }
        batch.retain(|item| match item {
            Inbound::Group { update, .. } => !self.take(update),
            _ => true,
        });
    }

    /// Whether `reported` is a change expected back, which is then no longer expected.
    fn take(&mut self, reported: &GroupUpdate) -> bool {
        let found = self
            .expected
            .iter()
            .position(|(_, made)| same_change(made, reported));
        found
            .and_then(|index| self.expected.remove(index))
            .is_some()
    }
}

/// Whether two updates tell the same change: of the same group, the same participants with
/// the same actions in any order, the same name or description. Who made it is left aside
/// unless both say it, since a report may not.
fn same_change(made: &GroupUpdate, reported: &GroupUpdate) -> bool {
    let sorted = |update: &GroupUpdate| -> Vec<ParticipantChange> {
        let mut participants = update.participants.clone().unwrap_or_default();
        participants.sort();
        participants
    };
    let by_agrees = match (&made.by, &reported.by) {
        (Some(made), Some(reported)) => made == reported,
        _ => true,
    };
    made.chat_id == reported.chat_id
        && made.change == reported.change
        && by_agrees
        && sorted(made) == sorted(reported)
        && (reported.name.is_none() || made.name == reported.name)
        && (reported.description.is_none() || made.description == reported.description)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "15550000001@c.us";

    fn reported(update: GroupUpdate) -> Inbound {
        Inbound::Group {
            update: Box::new(update),
            upstream_id: None,
            at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_change_made_here_is_dropped_once_when_reported_back() {
        let mut echoes = GroupEchoes::default();
        let promoted = |by: Option<&str>| {
            GroupUpdate::participants(
                "1@g.us",
                by,
                ParticipantAction::Promote,
                ["15550000002@c.us".to_owned()],
            )
        };
        echoes.expect(&[promoted(Some(ME))], ME);
        let mut batch = vec![reported(promoted(None)), reported(promoted(None))];
        echoes.drop_echoes(&mut batch);
        assert_eq!(batch.len(), 1, "the second report is someone else's change");
    }

    #[test]
    fn a_group_made_here_is_expected_back_as_joined() {
        let mut echoes = GroupEchoes::default();
        let created = GroupUpdate {
            name: Some("Weekend".into()),
            ..GroupUpdate::new("1@g.us", GroupChange::Created, Some(ME))
        };
        echoes.expect(&[created], ME);
        let joined =
            GroupUpdate::participants("1@g.us", None, ParticipantAction::Add, [ME.to_owned()]);
        let other = GroupUpdate::new("2@g.us", GroupChange::Name, None);
        let mut batch = vec![reported(joined), reported(other)];
        echoes.drop_echoes(&mut batch);
        assert_eq!(batch.len(), 1);
    }
}
