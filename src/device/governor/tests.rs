//! The governor driven by a clock the tests advance: a relay's turns, each at the earliest time
//! a held message may go.

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::model::governor::ReachoutTimelock;
use crate::model::spec::ConnectorKind;

const DAY: i64 = 86_400_000;
/// A Monday, 09:00 UTC.
const START: i64 = 1_800_003_600_000 - 1_800_003_600_000 % DAY + 9 * 3_600_000;

struct Queued {
    id: String,
    chat: String,
    new_chat: bool,
}

fn queue(count: usize, chats: impl Fn(usize) -> (String, bool)) -> Vec<Queued> {
    (0..count)
        .map(|i| {
            let (chat, new_chat) = chats(i);
            Queued {
                id: format!("msg_{i:03}"),
                chat,
                new_chat,
            }
        })
        .collect()
}

fn limits(changes: GovernorChanges) -> GovernorLimits {
    changes.over(defaults(ConnectorKind::Waha))
}

/// What a relay does: each turn offers the whole queue, sends what may go, and sleeps until
/// the first held message's time. Returns when each message went, and the warnings.
struct Run {
    sent: Vec<(String, i64)>,
    warnings: Vec<LimitWarning>,
    now: i64,
}

impl Run {
    fn new(now: i64) -> Run {
        Run {
            sent: Vec::new(),
            warnings: Vec::new(),
            now,
        }
    }

    /// Turns until the queue is empty, or `stop` messages went, or the next turn is past `until`.
    fn drive(
        &mut self,
        governor: &mut Governor,
        queue: &mut Vec<Queued>,
        rng: &mut StdRng,
        stop: usize,
        until: i64,
    ) {
        while !queue.is_empty() && self.sent.len() < stop {
            let candidates: Vec<Candidate> = queue
                .iter()
                .map(|q| Candidate {
                    message_id: &q.id,
                    chat_id: &q.chat,
                    new_chat: q.new_chat,
                    text_chars: Some(10),
                })
                .collect();
            let admission = governor.admit(self.now, &candidates, usize::MAX, rng);
            self.warnings.extend(admission.warnings);
            let mut next = i64::MAX;
            let mut gone = Vec::new();
            for (q, verdict) in queue.iter().zip(&admission.verdicts) {
                match verdict {
                    Verdict::Go => gone.push(q.id.clone()),
                    Verdict::Hold { until, .. } => next = next.min(until.unwrap_or(i64::MAX)),
                    Verdict::TypeFirst { until } => next = next.min(*until),
                    Verdict::Wait => {}
                }
            }
            queue.retain(|q| !gone.contains(&q.id));
            self.sent
                .extend(gone.iter().map(|id| (id.clone(), self.now)));
            if gone.is_empty() {
                if next == i64::MAX || next > until {
                    return;
                }
                self.now = next;
            }
        }
    }
}

/// A message of `chat_id` that is not a text.
fn candidate(
    message_id: &'static str,
    chat_id: &'static str,
    new_chat: bool,
) -> Candidate<'static> {
    Candidate {
        message_id,
        chat_id,
        new_chat,
        text_chars: None,
    }
}

fn ids(sent: &[(String, i64)]) -> Vec<&str> {
    sent.iter().map(|(id, _)| id.as_str()).collect()
}

#[test]
fn a_hundred_messages_at_twenty_a_minute_take_about_four_and_three_quarter_minutes() {
    let limits = limits(GovernorChanges {
        per_minute: Some(20),
        burst: Some(5),
        ..GovernorChanges::default()
    });
    let mut governor = Governor::new(limits, Ledger::default());
    let mut rng = StdRng::seed_from_u64(7);
    let mut queue = queue(100, |_| ("15550000002@c.us".into(), false));
    let mut run = Run::new(START);
    run.drive(&mut governor, &mut queue, &mut rng, usize::MAX, i64::MAX);

    assert_eq!(run.sent.len(), 100);
    let expected: Vec<String> = (0..100).map(|i| format!("msg_{i:03}")).collect();
    assert_eq!(ids(&run.sent), expected, "in order, none lost");
    assert!(
        run.sent[..5].iter().all(|(_, at)| *at == START),
        "the burst goes at once"
    );
    let took = run.sent[99].1 - START;
    // 95 gaps of 3 s, each ±30 %: about 285 s, and far from either bound.
    assert!((255_000..=315_000).contains(&took), "took {took} ms");
    let gaps: std::collections::HashSet<i64> = run
        .sent
        .windows(2)
        .skip(5)
        .map(|w| w[1].1 - w[0].1)
        .collect();
    assert!(gaps.len() > 20, "the jitter varies the gaps: {gaps:?}");
}

#[test]
fn a_restart_in_the_middle_keeps_the_pace() {
    let limits = limits(GovernorChanges {
        per_minute: Some(20),
        burst: Some(5),
        jitter: Some(0.0),
        ..GovernorChanges::default()
    });
    let mut governor = Governor::new(limits.clone(), Ledger::default());
    let mut rng = StdRng::seed_from_u64(8);
    let mut queue = queue(100, |_| ("15550000002@c.us".into(), false));
    let mut run = Run::new(START);
    run.drive(&mut governor, &mut queue, &mut rng, 50, i64::MAX);
    assert_eq!(run.sent.len(), 50);

    // The ledger as the store keeps it, read back by a new governor.
    let stored = serde_json::to_string(&governor.take_changed().unwrap()).unwrap();
    let mut governor = Governor::new(limits, serde_json::from_str(&stored).unwrap());
    run.drive(&mut governor, &mut queue, &mut rng, usize::MAX, i64::MAX);

    assert_eq!(run.sent.len(), 100);
    let gap_after_restart = run.sent[50].1 - run.sent[49].1;
    assert_eq!(gap_after_restart, 3_000, "no new burst after the restart");
    assert_eq!(run.sent[99].1 - START, 95 * 3_000);
}

#[test]
fn sixty_new_chats_with_a_cap_of_fifty_send_fifty_warn_twice_and_hold_ten_to_the_next_day() {
    let limits = limits(GovernorChanges {
        per_minute: Some(6000),
        burst: Some(100),
        new_chats_per_day: Some(50),
        warmup_days: Some(0),
        ..GovernorChanges::default()
    });
    let mut governor = Governor::new(limits, Ledger::default());
    let mut rng = StdRng::seed_from_u64(9);
    let mut queue = queue(60, |i| (format!("1555{i:07}@c.us"), true));
    let mut run = Run::new(START);
    let midnight = START - START % DAY + DAY;
    run.drive(
        &mut governor,
        &mut queue,
        &mut rng,
        usize::MAX,
        midnight - 1,
    );

    assert_eq!(run.sent.len(), 50, "fifty go today");
    let warned: Vec<(Option<u64>, bool)> =
        run.warnings.iter().map(|w| (w.used, w.active)).collect();
    assert_eq!(warned, [(Some(40), false), (Some(50), true)]);
    assert!(run
        .warnings
        .iter()
        .all(|w| w.kind == daily::NEW_CHATS_PER_DAY
            && w.limit == Some(50)
            && w.resets_at == rfc3339_of_millis(midnight)));
    let held = governor.admit(
        run.now,
        &[candidate("msg_050", "15550000050@c.us", true)],
        usize::MAX,
        &mut rng,
    );
    assert_eq!(
        held.verdicts,
        [Verdict::Hold {
            reason: HoldReason::Paced,
            until: Some(midnight)
        }]
    );

    run.drive(&mut governor, &mut queue, &mut rng, usize::MAX, i64::MAX);
    assert_eq!(run.sent.len(), 60);
    assert!(
        run.sent[50..].iter().all(|(_, at)| *at == midnight),
        "the ten go the next day"
    );
}

#[test]
fn chats_that_wrote_are_not_capped_and_keep_going_while_new_ones_wait() {
    let limits = limits(GovernorChanges {
        per_minute: Some(6000),
        burst: Some(100),
        new_chats_per_day: Some(0),
        warmup_days: Some(0),
        ..GovernorChanges::default()
    });
    let mut governor = Governor::new(limits, Ledger::default());
    let mut rng = StdRng::seed_from_u64(10);
    let candidates = [
        candidate("a", "new@c.us", true),
        candidate("b", "old@c.us", false),
        candidate("c", "new@c.us", true),
    ];
    let admission = governor.admit(START, &candidates, usize::MAX, &mut rng);
    assert!(matches!(
        admission.verdicts[0],
        Verdict::Hold {
            reason: HoldReason::Paced,
            ..
        }
    ));
    assert_eq!(admission.verdicts[1], Verdict::Go);
    assert_eq!(admission.verdicts[2], admission.verdicts[0]);
    assert_eq!(admission.warnings.len(), 1, "the cap's warning, once");
}

#[test]
fn only_waha_devices_are_governed_by_default() {
    assert!(defaults(ConnectorKind::Waha).enabled);
    assert!(!defaults(ConnectorKind::CloudApi).enabled);
    assert!(!defaults(ConnectorKind::Simulator).enabled);
}

#[test]
fn a_new_account_starts_at_a_quarter_of_its_limits() {
    let limits = limits(GovernorChanges::default());
    let mut governor = Governor::new(limits, Ledger::default());
    governor.linked(START);
    let first = governor.view(START);
    assert_eq!((first.per_minute_now, first.new_chats_limit_today), (5, 12));
    assert_eq!(first.warmup, 0.25);
    let later = governor.view(START + 7 * DAY);
    assert_eq!(
        (later.per_minute_now, later.new_chats_limit_today),
        (20, 50)
    );
}

#[test]
fn a_restriction_holds_new_chats_until_it_ends_even_when_ungoverned() {
    let mut governor = Governor::new(defaults(ConnectorKind::Simulator), Ledger::default());
    let mut rng = StdRng::seed_from_u64(11);
    assert!(!governor.governs(START));
    let ends = START + 3_600_000;
    let warnings = governor.restrict(
        Restrictions {
            reachout_timelock: Some(ReachoutTimelock {
                is_active: true,
                enforcement_type: None,
                time_enforcement_ends: rfc3339_of_millis(ends),
            }),
            message_capping: None,
        },
        START,
    );
    assert_eq!(warnings.len(), 1);
    assert!(governor.governs(START));
    let candidates = [
        candidate("a", "new@c.us", true),
        candidate("b", "old@c.us", false),
    ];
    let admission = governor.admit(START, &candidates, usize::MAX, &mut rng);
    assert_eq!(
        admission.verdicts,
        [
            Verdict::Hold {
                reason: HoldReason::Restricted,
                until: Some(ends)
            },
            Verdict::Go
        ]
    );
    let after = governor.admit(ends, &candidates, usize::MAX, &mut rng);
    assert_eq!(after.verdicts, [Verdict::Go, Verdict::Go]);
}

#[test]
fn the_upstreams_rate_limit_holds_everything_until_it_ends() {
    let mut governor = Governor::new(defaults(ConnectorKind::CloudApi), Ledger::default());
    let mut rng = StdRng::seed_from_u64(12);
    governor.throttle(START + 30_000);
    let candidates = [candidate("a", "x@c.us", false)];
    assert_eq!(
        governor
            .admit(START + 29_999, &candidates, usize::MAX, &mut rng)
            .verdicts,
        [Verdict::Hold {
            reason: HoldReason::Paced,
            until: Some(START + 30_000)
        }]
    );
    assert_eq!(
        governor
            .admit(START + 30_000, &candidates, usize::MAX, &mut rng)
            .verdicts,
        [Verdict::Go]
    );
    assert_eq!(
        governor.view(START).throttled_until,
        rfc3339_of_millis(START + 30_000)
    );
}

#[test]
fn typing_shows_before_a_text_and_holds_what_comes_after() {
    let limits = limits(GovernorChanges {
        typing: Some(true),
        warmup_days: Some(0),
        ..GovernorChanges::default()
    });
    let mut governor = Governor::new(limits, Ledger::default());
    let mut rng = StdRng::seed_from_u64(13);
    let candidates = [
        Candidate {
            message_id: "a",
            chat_id: "x@c.us",
            new_chat: false,
            text_chars: Some(100),
        },
        candidate("b", "y@c.us", false),
    ];
    let first = governor.admit(START, &candidates, usize::MAX, &mut rng);
    assert_eq!(
        first.verdicts,
        [
            Verdict::TypeFirst {
                until: START + 4_000
            },
            Verdict::Wait
        ]
    );
    let then = governor.admit(START + 4_000, &candidates, usize::MAX, &mut rng);
    assert_eq!(then.verdicts, [Verdict::Go, Verdict::Go]);
}

#[test]
fn number_checks_are_paced_per_minute() {
    let limits = limits(GovernorChanges {
        number_checks_per_minute: Some(2),
        warmup_days: Some(0),
        ..GovernorChanges::default()
    });
    let mut governor = Governor::new(limits, Ledger::default());
    assert!(governor.number_check(START).is_ok());
    assert!(governor.number_check(START + 1_000).is_ok());
    assert_eq!(
        governor.number_check(START + 2_000),
        Err(Duration::from_millis(58_000))
    );
    assert!(governor.number_check(START + 60_000).is_ok());
}
