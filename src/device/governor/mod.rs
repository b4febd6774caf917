//! The send governor (SPEC §12): decides *when* each queued message may go to the upstream,
//! so that an account does not send like a machine, and obeys the limits the upstream and
//! WhatsApp set. It is free of I/O, with the time and the randomness passed in, so its tests
//! advance a clock instead of sleeping; the relay asks it about each turn's messages and
//! carries out what it says, and the store keeps its [`Ledger`] in the same commit as the
//! messages it let go.
//!
//! A held message stays accepted, stored and `queued` in its chat's order; the relay tells
//! its clients once why it waits (`message:status queued` with `reason` and `sendAt`).

mod daily;
mod pace;
mod restrictions;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::model::event::{EventData, LimitWarning};
use crate::model::governor::{GovernorChanges, GovernorLimits, GovernorView, Restrictions};
use crate::model::spec::ConnectorKind;
use crate::model::time::rfc3339_of_millis;
use crate::model::DeviceId;
use crate::store::{StoreResult, Tx};
use daily::DailyCount;
use pace::Pace;

/// How long the typing indicator shows before a text: a second, and 30 ms a character, up
/// to six seconds — about how long a person takes to type a short message.
fn typing_time(chars: usize) -> i64 {
    (1_000 + 30 * chars as i64).min(6_000)
}

/// The most chats remembered as having written to the account; past it the memory starts over
/// and the store is asked again.
const WROTE_REMEMBERED: usize = 10_000;
const MINUTE_MS: i64 = 60_000;

/// What the governor keeps of a device between restarts, stored as one JSON document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Ledger {
    /// The pace's next due time (see [`pace`]), in milliseconds since the epoch.
    pace_at: i64,
    /// When each message of the last minute went, while the governor is on.
    recent: VecDeque<i64>,
    /// Today's messages to chats that never wrote.
    new_chats: DailyCount,
    /// Until when the upstream asked for no requests.
    throttled_until: Option<i64>,
    /// When the account was linked here, for the warm-up; unknown for an account linked
    /// before the governor, which counts as warmed up.
    linked_at: Option<i64>,
    /// An admin's changes to the limits, laid over the file's.
    changes: GovernorChanges,
    /// What WhatsApp restricts, as last reported.
    restrictions: Restrictions,
}

impl Ledger {
    pub fn restrictions(&self) -> &Restrictions {
        &self.restrictions
    }
}

/// One queued message, as the governor needs to know it.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub message_id: &'a str,
    pub chat_id: &'a str,
    /// Whether its chat never wrote to this account.
    pub new_chat: bool,
    /// The length of its text, if it is a text (which typing may precede).
    pub text_chars: Option<usize>,
}

/// Why a held message waits: `message:status`'s `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldReason {
    /// The device's pace or daily cap, or the upstream's rate limit.
    Paced,
    /// One of WhatsApp's restrictions on messages to new contacts.
    Restricted,
}

impl HoldReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldReason::Paced => "paced",
            HoldReason::Restricted => "restricted",
        }
    }
}

/// What becomes of one candidate this turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Go,
    /// Show the typing indicator in its chat now, and send it at `until`.
    TypeFirst {
        until: i64,
    },
    /// Held for `reason` until about `until` (`None`: nobody can say).
    Hold {
        reason: HoldReason,
        until: Option<i64>,
    },
    /// Waits behind a message being typed; nothing to tell.
    Wait,
}

/// The verdicts on a turn's candidates, in their order, and the warnings they bring.
#[derive(Debug, Default)]
pub struct Admission {
    pub verdicts: Vec<Verdict>,
    pub warnings: Vec<LimitWarning>,
}

/// A device's governor: its limits (the daemon's and the file's), and its ledger.
#[derive(Debug)]
pub struct Governor {
    base: GovernorLimits,
    ledger: Ledger,
    /// Chats known to have written to the account: once written, never new again.
    wrote: HashSet<String>,
    /// The message the typing indicator is showing for.
    typing_for: Option<String>,
    /// Number checks of the last minute (not kept over a restart: a minute's worth).
    number_checks: VecDeque<i64>,
    /// The ledger changed since it was last stored.
    changed: bool,
}

impl Governor {
    pub fn new(base: GovernorLimits, ledger: Ledger) -> Governor {
        Governor {
            base,
            ledger,
            wrote: HashSet::new(),
            typing_for: None,
            number_checks: VecDeque::new(),
            changed: false,
        }
    }

    /// The limits in force: the base with an admin's changes over it.
    pub fn limits(&self) -> GovernorLimits {
        self.ledger.changes.over(self.base.clone())
    }

    /// The share of the limits the account has at `now`: a quarter when newly linked, rising
    /// evenly to all of them over `warmup_days`.
    fn warmup(&self, limits: &GovernorLimits, now: i64) -> f64 {
        match (self.ledger.linked_at, limits.warmup_days) {
            (Some(linked_at), days) if days > 0 => {
                let elapsed = (now - linked_at).max(0) as f64 / (f64::from(days) * 86_400_000.0);
                0.25 + 0.75 * elapsed.min(1.0)
            }
            _ => 1.0,
        }
    }

    /// `limit` at the warm-up's share, at least `floor`.
    fn warmed(limit: u32, share: f64, floor: u32) -> u32 {
        ((f64::from(limit) * share).floor() as u32).max(floor)
    }

    fn pace(&self, limits: &GovernorLimits, share: f64) -> Pace {
        Pace::new(
            Self::warmed(limits.per_minute, share, 1),
            Self::warmed(limits.burst, share, 1),
        )
    }

    /// Whether the turn's candidates need to say whether their chats are new: only while a
    /// cap on new chats or a restriction applies, so an ungoverned device asks the store
    /// nothing.
    pub fn asks_about_new_chats(&self, now: i64) -> bool {
        self.limits().enabled || restrictions::hold(&self.ledger.restrictions, now).is_some()
    }

    /// Whether anything holds messages back at all at `now`: an ungoverned device with no
    /// restriction and no rate limit in force is not asked about each message.
    pub fn governs(&self, now: i64) -> bool {
        self.asks_about_new_chats(now) || self.throttled(now).is_some()
    }

    /// Whether the chat is known to have written to the account.
    pub fn knows_written(&self, chat_id: &str) -> bool {
        self.wrote.contains(chat_id)
    }

    /// The store says these chats wrote to the account.
    pub fn learn_written(&mut self, chats: impl IntoIterator<Item = String>) {
        for chat in chats {
            if self.wrote.len() >= WROTE_REMEMBERED {
                self.wrote.clear();
            }
            self.wrote.insert(chat);
        }
    }

    /// Until when the upstream asked for no requests, if that is still ahead.
    pub fn throttled(&self, now: i64) -> Option<i64> {
        self.ledger.throttled_until.filter(|until| *until > now)
    }

    /// The upstream answered that it takes nothing until `until` (HTTP 429 `Retry-After`).
    pub fn throttle(&mut self, until: i64) {
        if self.ledger.throttled_until.is_none_or(|was| was < until) {
            self.ledger.throttled_until = Some(until);
            self.changed = true;
        }
    }

    /// The account was linked here now: its warm-up starts.
    pub fn linked(&mut self, now: i64) {
        self.ledger.linked_at = Some(now);
        self.changed = true;
    }

    /// An admin changed the limits: these changes over the earlier ones.
    pub fn change(&mut self, changes: &GovernorChanges) {
        self.ledger.changes = self.ledger.changes.then(changes);
        self.changed = true;
    }

    /// The upstream reported WhatsApp's restrictions: the warnings their changes bring.
    pub fn restrict(&mut self, reported: Restrictions, now: i64) -> Vec<LimitWarning> {
        let warnings = restrictions::warnings(&self.ledger.restrictions, &reported, now);
        if reported != self.ledger.restrictions {
            self.ledger.restrictions = reported;
            self.changed = true;
        }
        warnings
    }

    /// WhatsApp refused a message with its restriction error `code` at `now`: the restriction
    /// it names holds messages to new contacts for a while (see
    /// [`restrictions::after_refusal`]). The warnings it brings.
    pub fn refused(&mut self, code: u16, now: i64) -> Vec<LimitWarning> {
        match restrictions::after_refusal(&self.ledger.restrictions, code, now) {
            Some(restricted) => self.restrict(restricted, now),
            None => Vec::new(),
        }
    }

    /// Decides about a turn's candidates, in queue order. A chat's messages keep their order:
    /// once one is held, the chat's later ones are held with it.
    ///
    /// At most `max_go` go: an upstream that takes a batch of one gets its messages one turn
    /// at a time, and those not yet offered are neither counted nor told anything.
    pub fn admit(
        &mut self,
        now: i64,
        candidates: &[Candidate],
        max_go: usize,
        rng: &mut impl Rng,
    ) -> Admission {
        let limits = self.limits();
        let share = self.warmup(&limits, now);
        let pace = self.pace(&limits, share);
        let cap = Self::warmed(limits.new_chats_per_day, share, 0);
        let restricted = restrictions::hold(&self.ledger.restrictions, now);
        let throttled = self.throttled(now);
        if limits.enabled && self.ledger.new_chats.day != now.div_euclid(86_400_000) {
            self.ledger.new_chats.roll(now);
            self.changed = true;
        }
        let mut admission = Admission::default();
        let mut held_chats: HashMap<&str, Verdict> = HashMap::new();
        // Paced messages so far this turn: each is projected one gap after the one before.
        let mut paced = 0;
        let mut gone = 0;
        let mut typing = false;
        for candidate in candidates {
            // A message paced this turn is not remembered for its chat: the chat's next
            // message meets the pace too, and is projected after it.
            let mut remember = true;
            let verdict = if typing {
                Verdict::Wait
            } else if let Some(verdict) = held_chats.get(candidate.chat_id) {
                *verdict
            } else if let Some(until) = throttled {
                Verdict::Hold {
                    reason: HoldReason::Paced,
                    until: Some(until),
                }
            } else if let (true, Some(until)) = (candidate.new_chat, restricted) {
                Verdict::Hold {
                    reason: HoldReason::Restricted,
                    until,
                }
            } else if limits.enabled && candidate.new_chat && self.ledger.new_chats.is_full(cap) {
                admission.warnings.extend(self.ledger.new_chats.held(cap));
                self.changed = true;
                Verdict::Hold {
                    reason: HoldReason::Paced,
                    until: Some(self.ledger.new_chats.resets_at()),
                }
            } else if !limits.enabled && gone < max_go {
                gone += 1;
                Verdict::Go
            } else if !limits.enabled {
                Verdict::Wait
            } else if let Some(free) = pace.next_free(self.ledger.pace_at, now) {
                paced += 1;
                remember = false;
                Verdict::Hold {
                    reason: HoldReason::Paced,
                    until: Some(free + (paced - 1) * pace.gap_ms()),
                }
            } else if gone >= max_go {
                Verdict::Wait
            } else if let Some(until) = self.typing_first(&limits, candidate, now) {
                typing = true;
                Verdict::TypeFirst { until }
            } else {
                self.goes(&pace, &limits, candidate, cap, now, rng, &mut admission);
                gone += 1;
                Verdict::Go
            };
            if remember && matches!(verdict, Verdict::Hold { .. } | Verdict::Wait) {
                held_chats.entry(candidate.chat_id).or_insert(verdict);
            }
            admission.verdicts.push(verdict);
        }
        admission
    }

    /// When the candidate is a text that the typing indicator should precede and has not
    /// yet: until when it shows.
    fn typing_first(
        &mut self,
        limits: &GovernorLimits,
        candidate: &Candidate,
        now: i64,
    ) -> Option<i64> {
        let chars = candidate.text_chars.filter(|_| limits.typing)?;
        if self.typing_for.as_deref() == Some(candidate.message_id) {
            return None;
        }
        self.typing_for = Some(candidate.message_id.to_owned());
        Some(now + typing_time(chars))
    }

    /// A governed message goes: its pace, its count among the last minute's and today's new
    /// chats.
    #[allow(clippy::too_many_arguments)]
    fn goes(
        &mut self,
        pace: &Pace,
        limits: &GovernorLimits,
        candidate: &Candidate,
        cap: u32,
        now: i64,
        rng: &mut impl Rng,
        admission: &mut Admission,
    ) {
        pace.take(&mut self.ledger.pace_at, now, limits.jitter, rng);
        self.ledger.recent.push_back(now);
        while self
            .ledger
            .recent
            .front()
            .is_some_and(|at| now - at >= MINUTE_MS)
        {
            self.ledger.recent.pop_front();
        }
        if candidate.new_chat {
            admission.warnings.extend(self.ledger.new_chats.count(cap));
        }
        self.typing_for = None;
        self.changed = true;
    }

    /// A number check may go now, or must wait this long (`number_checks_per_minute`).
    pub fn number_check(&mut self, now: i64) -> Result<(), Duration> {
        let limits = self.limits();
        if !limits.enabled {
            return Ok(());
        }
        let share = self.warmup(&limits, now);
        let allowed = Self::warmed(limits.number_checks_per_minute, share, 1) as usize;
        while self
            .number_checks
            .front()
            .is_some_and(|at| now - at >= MINUTE_MS)
        {
            self.number_checks.pop_front();
        }
        if self.number_checks.len() >= allowed {
            let oldest = self.number_checks.front().copied().unwrap_or(now);
            let wait = (oldest + MINUTE_MS - now).max(1);
            return Err(Duration::from_millis(wait as u64));
        }
        self.number_checks.push_back(now);
        Ok(())
    }

    /// The ledger to store, if it changed since it was last taken.
    pub fn take_changed(&mut self) -> Option<Ledger> {
        std::mem::take(&mut self.changed).then(|| self.ledger.clone())
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// What `GET /devices/{id}` shows of the governor at `now`.
    pub fn view(&self, now: i64) -> GovernorView {
        let limits = self.limits();
        let share = self.warmup(&limits, now);
        let pace = self.pace(&limits, share);
        let today = &self.ledger.new_chats;
        let counted_today = today.day == now.div_euclid(86_400_000);
        GovernorView {
            warmup: share,
            sent_last_minute: self
                .ledger
                .recent
                .iter()
                .filter(|at| now - **at < MINUTE_MS)
                .count() as u32,
            per_minute_now: Self::warmed(limits.per_minute, share, 1),
            new_chats_today: if counted_today { today.used } else { 0 },
            new_chats_limit_today: Self::warmed(limits.new_chats_per_day, share, 0),
            next_send_at: limits
                .enabled
                .then(|| pace.next_free(self.ledger.pace_at, now))
                .flatten()
                .and_then(rfc3339_of_millis),
            throttled_until: self.throttled(now).and_then(rfc3339_of_millis),
            limits,
        }
    }
}

/// SPEC §12's limits, on for the connectors whose accounts get banned (`waha`), off for the
/// Cloud API, which Meta paces by tier, and for the simulator, so that tests, demos and
/// benchmarks are not paced.
pub fn defaults(connector: ConnectorKind) -> GovernorLimits {
    GovernorLimits {
        enabled: connector == ConnectorKind::Waha,
        per_minute: 20,
        burst: 5,
        jitter: 0.3,
        new_chats_per_day: 50,
        warmup_days: 7,
        number_checks_per_minute: 10,
        typing: false,
    }
}

/// The limits a device's governor starts from: SPEC §12's for its connector, the daemon's
/// `[governor]` over them, then its file's.
pub fn base_limits(
    connector: ConnectorKind,
    daemon: &GovernorChanges,
    file: &GovernorChanges,
) -> GovernorLimits {
    file.over(daemon.over(defaults(connector)))
}

/// A stored ledger, as the store gave it; a document this build cannot read starts afresh
/// (the worst it loses is a day's count), and says so.
pub fn read_ledger(device: &DeviceId, stored: Option<String>) -> Ledger {
    let Some(stored) = stored else {
        return Ledger::default();
    };
    serde_json::from_str(&stored).unwrap_or_else(|error| {
        tracing::error!(device_id = %device, %error, "the governor's stored counts cannot be read; starting them afresh");
        Ledger::default()
    })
}

/// Stores what the governor changed, and journals the warnings it gave, in the write `tx` of
/// what they are about.
pub fn record(
    tx: &mut Tx<'_>,
    device: &DeviceId,
    ledger: Option<&Ledger>,
    warnings: Vec<LimitWarning>,
) -> StoreResult<()> {
    for warning in warnings {
        tx.journal(device, EventData::LimitWarning(warning))?;
    }
    if let Some(ledger) = ledger {
        tx.keep_governor(device, &serde_json::to_string(ledger)?)?;
    }
    Ok(())
}

/// Whether messages to a chat count as messages to a person who may never have written:
/// groups the account is in do not.
pub fn is_person(chat_id: &str) -> bool {
    !chat_id.ends_with("@g.us")
}

#[cfg(test)]
mod tests;
