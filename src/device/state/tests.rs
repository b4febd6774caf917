//! The state machine's tests: the table that fixes the outcome of every `(state, input)` pair,
//! the paths a device takes through it (linking, reconnecting, giving up), and the names states
//! and inputs are known by. Kept apart from the machine because the table is longer than the
//! rules it checks.

use super::*;
use DeviceState as S;
use Effect as E;

const LIMITS: Limits = Limits {
    qr_max_attempts: 6,
    qr_keep_offering: false,
    reconnect_max_attempts: 3,
};

/// [`LIMITS`] for a device that keeps offering pairing codes until it is linked.
const KEEP_OFFERING: Limits = Limits {
    qr_keep_offering: true,
    ..LIMITS
};

/// Every input, one value each. The exhaustive match in `input_index` makes adding an
/// `Input` variant a compile error here until the tables are extended.
fn all_inputs() -> Vec<Input> {
    let inputs = vec![
        Input::Start,
        Input::Stop,
        Input::Logout,
        Input::RemoteLogout,
        Input::NeedsLinking,
        Input::SessionRestored,
        Input::QrExpired,
        Input::Scanned,
        Input::Synced,
        lost(),
        Input::BackoffElapsed,
        Input::ReconnectsExhausted,
        fatal(),
        Input::UpstreamStarting,
        Input::UpstreamStopped,
        Input::LinkingTimedOut,
    ];
    for (i, input) in inputs.iter().enumerate() {
        assert_eq!(input_index(input), i, "all_inputs out of order");
    }
    inputs
}

fn input_index(input: &Input) -> usize {
    match input {
        Input::Start => 0,
        Input::Stop => 1,
        Input::Logout => 2,
        Input::RemoteLogout => 3,
        Input::NeedsLinking => 4,
        Input::SessionRestored => 5,
        Input::QrExpired => 6,
        Input::Scanned => 7,
        Input::Synced => 8,
        Input::ConnectionLost { .. } => 9,
        Input::BackoffElapsed => 10,
        Input::ReconnectsExhausted => 11,
        Input::Fatal { .. } => 12,
        Input::UpstreamStarting => 13,
        Input::UpstreamStopped => 14,
        Input::LinkingTimedOut => 15,
    }
}

fn lost() -> Input {
    Input::ConnectionLost {
        reason: "socket closed".to_owned(),
    }
}

fn fatal() -> Input {
    Input::Fatal {
        reason: "401".to_owned(),
    }
}

type Outcome = Option<(DeviceState, Vec<Effect>)>;

/// The input is rejected.
const NO: Outcome = None;

fn ok(state: DeviceState, effects: &[Effect]) -> Outcome {
    Some((state, effects.to_vec()))
}

fn stopped(reason: Option<&str>) -> DeviceState {
    S::Stopped {
        reason: reason.map(str::to_owned),
    }
}

fn starting(reconnect_attempt: u32) -> DeviceState {
    S::Starting { reconnect_attempt }
}

fn disconnected(attempt: u32) -> DeviceState {
    S::Disconnected {
        attempt,
        reason: "socket closed".to_owned(),
    }
}

fn logged_out(reason: Option<&str>) -> DeviceState {
    S::LoggedOut {
        reason: reason.map(str::to_owned),
    }
}

fn failed(reason: &str) -> DeviceState {
    S::Failed {
        reason: reason.to_owned(),
    }
}

fn qr(attempt: u32, first: bool) -> Effect {
    E::IssueQr { attempt, first }
}

/// One row per state: the expected outcome of every input, labelled with the input's name
/// and listed in `all_inputs` order (the test checks both).
type Row = (DeviceState, [(&'static str, Outcome); 16]);

/// The contract, written out in full for `limits` ([`LIMITS`] or [`KEEP_OFFERING`]: 6 QR
/// codes, 3 reconnects, and whether the codes keep coming after the sixth): one representative
/// per state, plus the edges where a counter meets its limit.
fn table(limits: &Limits) -> Vec<Row> {
    // Outcomes that several states share, named so the rows below stay readable.
    let start = || ok(starting(0), &[E::OpenUpstream]);
    let stop = || ok(stopped(None), &[E::CloseUpstream]);
    let logout = || ok(logged_out(None), &[E::LogoutUpstream, E::WipeSession]);
    let remote = || {
        ok(
            logged_out(Some("remote_logout")),
            &[E::CloseUpstream, E::WipeSession],
        )
    };
    let fatal = || ok(failed("401"), &[E::CloseUpstream]);
    let link = || ok(S::Qr { attempt: 1 }, &[qr(1, true)]);
    let restored = || ok(S::Authenticated, &[E::SaveSession, E::SyncUpstream]);
    let upstream_stop = || ok(stopped(Some("upstream_stopped")), &[E::CloseUpstream]);
    let upstream_restart = || ok(starting(0), &[]);
    let scanned = || ok(S::Authenticated, &[E::SaveSession, E::SyncUpstream]);
    let sched = |n| ok(disconnected(n), &[E::ScheduleReconnect { attempt: n }]);
    let exhausted = || ok(failed("reconnect_exhausted"), &[E::CloseUpstream]);
    // What ends a round of codes: a new round, or a stop with `qr_timeout`.
    let last_code_out = || match limits.qr_keep_offering {
        true => ok(S::Qr { attempt: 1 }, &[qr(1, false)]),
        false => ok(stopped(Some("qr_timeout")), &[E::CloseUpstream]),
    };
    // An upstream that rotates its own codes stopped showing them: a new session, or a stop.
    let linking_timed_out = || match limits.qr_keep_offering {
        true => ok(starting(0), &[E::CloseUpstream, E::OpenUpstream]),
        false => ok(stopped(Some("qr_timeout")), &[E::CloseUpstream]),
    };

    vec![
        (
            stopped(None),
            [
                ("start", start()),
                ("stop", NO),
                ("logout", NO),
                ("remote_logout", NO),
                ("needs_linking", NO),
                ("session_restored", NO),
                ("qr_expired", NO),
                ("scanned", NO),
                ("synced", NO),
                ("connection_lost", NO),
                ("backoff_elapsed", NO),
                ("reconnects_exhausted", NO),
                ("fatal", NO),
                ("upstream_starting", NO),
                ("upstream_stopped", NO),
                ("linking_timed_out", NO),
            ],
        ),
        (
            // A fresh start: a drop is reconnect attempt 1.
            starting(0),
            [
                ("start", NO),
                ("stop", stop()),
                ("logout", logout()),
                ("remote_logout", remote()),
                ("needs_linking", link()),
                ("session_restored", restored()),
                ("qr_expired", NO),
                ("scanned", NO),
                ("synced", NO),
                ("connection_lost", sched(1)),
                ("backoff_elapsed", NO),
                ("reconnects_exhausted", NO),
                ("fatal", fatal()),
                ("upstream_starting", NO),
                ("upstream_stopped", upstream_stop()),
                ("linking_timed_out", NO),
            ],
        ),
        (
            // Reconnect attempt 2 of 3: a drop schedules the last attempt.
            starting(2),
            [
                ("start", NO),
                ("stop", stop()),
                ("logout", logout()),
                ("remote_logout", remote()),
                ("needs_linking", link()),
                ("session_restored", restored()),
                ("qr_expired", NO),
                ("scanned", NO),
                ("synced", NO),
                ("connection_lost", sched(3)),
                ("backoff_elapsed", NO),
                ("reconnects_exhausted", NO),
                ("fatal", fatal()),
                ("upstream_starting", NO),
                ("upstream_stopped", upstream_stop()),
                ("linking_timed_out", NO),
            ],
        ),
        (
            // The last reconnect attempt: a drop gives up.
            starting(3),
            [
                ("start", NO),
                ("stop", stop()),
                ("logout", logout()),
                ("remote_logout", remote()),
                ("needs_linking", link()),
                ("session_restored", restored()),
                ("qr_expired", NO),
                ("scanned", NO),
                ("synced", NO),
                ("connection_lost", ok(disconnected(4), &[E::GiveUp])),
                ("backoff_elapsed", NO),
                ("reconnects_exhausted", NO),
                ("fatal", fatal()),
                ("upstream_starting", NO),
                ("upstream_stopped", upstream_stop()),
                ("linking_timed_out", NO),
            ],
        ),
        (
            S::Qr { attempt: 1 },
            [
                ("start", NO),
                ("stop", stop()),
                ("logout", logout()),
                ("remote_logout", remote()),
                ("needs_linking", ok(S::Qr { attempt: 2 }, &[qr(2, false)])),
                ("session_restored", restored()),
                ("qr_expired", ok(S::Qr { attempt: 2 }, &[qr(2, false)])),
                ("scanned", scanned()),
                ("synced", NO),
                ("connection_lost", sched(1)),
                ("backoff_elapsed", NO),
                ("reconnects_exhausted", NO),
                ("fatal", fatal()),
                ("upstream_starting", NO),
                ("upstream_stopped", upstream_stop()),
                ("linking_timed_out", linking_timed_out()),
            ],
        ),
        (
            // The last QR code: expiry ends the round.
            S::Qr { attempt: 6 },
            [
                ("start", NO),
                ("stop", stop()),
                ("logout", logout()),
                ("remote_logout", remote()),
                ("needs_linking", last_code_out()),
                ("session_restored", restored()),
                ("qr_expired", last_code_out()),
                ("scanned", scanned()),
                ("synced", NO),
                ("connection_lost", sched(1)),
                ("backoff_elapsed", NO),
                ("reconnects_exhausted", NO),
                ("fatal", fatal()),
                ("upstream_starting", NO),
                ("upstream_stopped", upstream_stop()),
                ("linking_timed_out", linking_timed_out()),
            ],
        ),
        (
            S::Authenticated,
            [
                ("start", NO),
                ("stop", stop()),
                ("logout", logout()),
                ("remote_logout", remote()),
                ("needs_linking", remote()),
                ("session_restored", NO),
                ("qr_expired", NO),
                ("scanned", NO),
                ("synced", ok(S::Ready, &[E::ResetBackoff])),
                ("connection_lost", sched(1)),
                ("backoff_elapsed", NO),
                ("reconnects_exhausted", NO),
                ("fatal", fatal()),
                ("upstream_starting", upstream_restart()),
                ("upstream_stopped", upstream_stop()),
                ("linking_timed_out", NO),
            ],
        ),
        (
            S::Ready,
            [
                ("start", NO),
                ("stop", stop()),
                ("logout", logout()),
                ("remote_logout", remote()),
                ("needs_linking", remote()),
                ("session_restored", NO),
                ("qr_expired", NO),
                ("scanned", NO),
                ("synced", NO),
                ("connection_lost", sched(1)),
                ("backoff_elapsed", NO),
                ("reconnects_exhausted", NO),
                ("fatal", fatal()),
                ("upstream_starting", upstream_restart()),
                ("upstream_stopped", upstream_stop()),
                ("linking_timed_out", NO),
            ],
        ),
        (
            disconnected(1),
            [
                ("start", NO),
                ("stop", stop()),
                ("logout", logout()),
                ("remote_logout", remote()),
                ("needs_linking", NO),
                ("session_restored", NO),
                ("qr_expired", NO),
                ("scanned", NO),
                ("synced", NO),
                ("connection_lost", NO),
                ("backoff_elapsed", ok(starting(1), &[E::OpenUpstream])),
                ("reconnects_exhausted", exhausted()),
                ("fatal", fatal()),
                ("upstream_starting", NO),
                ("upstream_stopped", upstream_stop()),
                ("linking_timed_out", NO),
            ],
        ),
        (
            // Waiting for the last reconnect attempt.
            disconnected(3),
            [
                ("start", NO),
                ("stop", stop()),
                ("logout", logout()),
                ("remote_logout", remote()),
                ("needs_linking", NO),
                ("session_restored", NO),
                ("qr_expired", NO),
                ("scanned", NO),
                ("synced", NO),
                ("connection_lost", NO),
                ("backoff_elapsed", ok(starting(3), &[E::OpenUpstream])),
                ("reconnects_exhausted", exhausted()),
                ("fatal", fatal()),
                ("upstream_starting", NO),
                ("upstream_stopped", upstream_stop()),
                ("linking_timed_out", NO),
            ],
        ),
        (
            logged_out(Some("remote_logout")),
            [
                ("start", start()),
                ("stop", NO),
                ("logout", NO),
                ("remote_logout", NO),
                ("needs_linking", NO),
                ("session_restored", NO),
                ("qr_expired", NO),
                ("scanned", NO),
                ("synced", NO),
                ("connection_lost", NO),
                ("backoff_elapsed", NO),
                ("reconnects_exhausted", NO),
                ("fatal", NO),
                ("upstream_starting", NO),
                ("upstream_stopped", NO),
                ("linking_timed_out", NO),
            ],
        ),
        (
            failed("reconnect_exhausted"),
            [
                ("start", start()),
                ("stop", NO),
                ("logout", NO),
                ("remote_logout", NO),
                ("needs_linking", NO),
                ("session_restored", NO),
                ("qr_expired", NO),
                ("scanned", NO),
                ("synced", NO),
                ("connection_lost", NO),
                ("backoff_elapsed", NO),
                ("reconnects_exhausted", NO),
                ("fatal", NO),
                ("upstream_starting", NO),
                ("upstream_stopped", NO),
                ("linking_timed_out", NO),
            ],
        ),
    ]
}

/// Feeds `inputs` in order from `state`, failing on the first rejected input, and returns
/// the final state with the effects of each step.
fn run(
    mut state: DeviceState,
    inputs: &[Input],
    limits: &Limits,
) -> (DeviceState, Vec<Vec<Effect>>) {
    let mut effects = Vec::new();
    for input in inputs {
        let (next, step) =
            transition(&state, input, limits).unwrap_or_else(|e| panic!("{e} (state {state:?})"));
        state = next;
        effects.push(step);
    }
    (state, effects)
}

#[test]
fn every_state_and_input_matches_the_table() {
    for limits in [LIMITS, KEEP_OFFERING] {
        matches_the_table(&limits);
    }
}

fn matches_the_table(limits: &Limits) {
    let inputs = all_inputs();
    let table = table(limits);

    // Every state name has at least one representative row.
    for name in StateName::ALL {
        assert!(
            table.iter().any(|(state, _)| state.name() == name),
            "no row for {name}"
        );
    }

    let mut checked = 0;
    for (state, outcomes) in &table {
        for (input, (label, expected)) in inputs.iter().zip(outcomes) {
            assert_eq!(*label, input.name(), "table row for {state:?} out of order");
            let actual = transition(state, input, limits);
            match expected {
                Some(expected) => assert_eq!(
                    actual.as_ref(),
                    Ok(expected),
                    "{state:?} on {input:?} with {limits:?}"
                ),
                None => assert_eq!(
                    actual,
                    Err(InvalidTransition {
                        state: state.name(),
                        input: input.name(),
                    }),
                    "{state:?} on {input:?} should be rejected"
                ),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, table.len() * inputs.len());
}

#[test]
fn running_commands_are_accepted_exactly_in_running_states() {
    // Cross-checks the table against `is_running`, which the API uses on its own.
    for (state, outcomes) in [LIMITS, KEEP_OFFERING].iter().flat_map(table) {
        let running = state.name().is_running();
        for (input, outcome) in outcomes {
            match input {
                "start" => assert_eq!(outcome.is_some(), !running, "start in {state:?}"),
                "stop" | "logout" | "remote_logout" | "fatal" | "upstream_stopped" => {
                    assert_eq!(outcome.is_some(), running, "{input} in {state:?}")
                }
                _ => {}
            }
        }
    }
}

#[test]
fn without_reconnects_a_lost_connection_gives_up_at_once() {
    let limits = Limits {
        reconnect_max_attempts: 0,
        ..LIMITS
    };
    for state in [
        starting(0),
        S::Qr { attempt: 1 },
        S::Authenticated,
        S::Ready,
    ] {
        let (next, effects) = transition(&state, &lost(), &limits).unwrap();
        assert_eq!(next, disconnected(1), "from {state:?}");
        assert_eq!(effects, vec![E::GiveUp], "from {state:?}");
    }
}

#[test]
fn full_link_path_reaches_ready() {
    let (state, effects) = run(
        stopped(None),
        &[
            Input::Start,
            Input::NeedsLinking,
            Input::Scanned,
            Input::Synced,
        ],
        &LIMITS,
    );
    assert_eq!(state, S::Ready);
    assert_eq!(
        effects,
        vec![
            vec![E::OpenUpstream],
            vec![qr(1, true)],
            vec![E::SaveSession, E::SyncUpstream],
            vec![E::ResetBackoff],
        ]
    );
}

#[test]
fn restored_session_skips_the_qr() {
    let (state, effects) = run(
        stopped(None),
        &[Input::Start, Input::SessionRestored, Input::Synced],
        &LIMITS,
    );
    assert_eq!(state, S::Ready);
    assert_eq!(effects[1], vec![E::SaveSession, E::SyncUpstream]);
}

#[test]
fn qr_rotates_until_the_limit_then_times_out() {
    let mut inputs = vec![Input::Start, Input::NeedsLinking];
    inputs.extend(std::iter::repeat_n(Input::QrExpired, 5));
    let (state, effects) = run(stopped(None), &inputs, &LIMITS);
    assert_eq!(state, S::Qr { attempt: 6 });
    let issued: Vec<_> = effects[1..].iter().flatten().cloned().collect();
    assert_eq!(
        issued,
        vec![
            qr(1, true),
            qr(2, false),
            qr(3, false),
            qr(4, false),
            qr(5, false),
            qr(6, false),
        ]
    );

    let (state, effects) = transition(&state, &Input::QrExpired, &LIMITS).unwrap();
    assert_eq!(state, stopped(Some("qr_timeout")));
    assert_eq!(state.reason(), Some("qr_timeout"));
    assert_eq!(effects, vec![E::CloseUpstream]);
}

#[test]
fn a_device_that_keeps_offering_codes_starts_a_new_round_until_scanned() {
    let mut inputs = vec![Input::Start, Input::NeedsLinking];
    inputs.extend(std::iter::repeat_n(Input::QrExpired, 13));
    let (state, effects) = run(stopped(None), &inputs, &KEEP_OFFERING);
    // Two rounds of six codes, then the third round's second code.
    assert_eq!(state, S::Qr { attempt: 2 });
    let issued: Vec<_> = effects[1..].iter().flatten().cloned().collect();
    let round = |first| (1..=6).map(move |n| qr(n, n == 1 && first));
    let expected: Vec<_> = round(true)
        .chain(round(false))
        .chain(round(false).take(2))
        .collect();
    assert_eq!(issued, expected);

    // It never stops on its own, and links as any device does.
    let (state, _) = run(state, &[Input::Scanned, Input::Synced], &KEEP_OFFERING);
    assert_eq!(state, S::Ready);
}

#[test]
fn an_upstream_that_rotates_its_own_codes_links_by_reporting_it() {
    // WAHA: it needs a scan, shows two more codes, then reports the link it saw.
    let (state, effects) = run(
        stopped(None),
        &[
            Input::Start,
            Input::NeedsLinking,
            Input::NeedsLinking,
            Input::NeedsLinking,
            Input::SessionRestored,
            Input::Synced,
        ],
        &LIMITS,
    );
    assert_eq!(state, S::Ready);
    assert_eq!(
        effects,
        vec![
            vec![E::OpenUpstream],
            vec![qr(1, true)],
            vec![qr(2, false)],
            vec![qr(3, false)],
            vec![E::SaveSession, E::SyncUpstream],
            vec![E::ResetBackoff],
        ]
    );

    // Starting over by itself, then working again, goes back through authenticated.
    let (state, effects) = run(
        S::Ready,
        &[
            Input::UpstreamStarting,
            Input::SessionRestored,
            Input::Synced,
        ],
        &LIMITS,
    );
    assert_eq!(state, S::Ready);
    assert_eq!(effects[0], vec![]);

    // Needing a scan again while linked means the link is gone.
    let (state, effects) = transition(&S::Ready, &Input::NeedsLinking, &LIMITS).unwrap();
    assert_eq!(state, logged_out(Some("remote_logout")));
    assert_eq!(effects, vec![E::CloseUpstream, E::WipeSession]);
}

#[test]
fn dropped_connection_reconnects_to_ready() {
    let (state, effects) = run(
        S::Ready,
        &[
            lost(),
            Input::BackoffElapsed,
            Input::SessionRestored,
            Input::Synced,
        ],
        &LIMITS,
    );
    assert_eq!(state, S::Ready);
    assert_eq!(
        effects,
        vec![
            vec![E::ScheduleReconnect { attempt: 1 }],
            vec![E::OpenUpstream],
            vec![E::SaveSession, E::SyncUpstream],
            vec![E::ResetBackoff],
        ]
    );
}

#[test]
fn exhausted_reconnects_give_up_and_fail() {
    // Ready drops, then every reconnect attempt fails while starting.
    let mut state = S::Ready;
    let mut last = Vec::new();
    for _ in 0..=LIMITS.reconnect_max_attempts {
        let (next, effects) = transition(&state, &lost(), &LIMITS).unwrap();
        last = effects;
        if last == [E::GiveUp] {
            state = next;
            break;
        }
        let (next, _) = transition(&next, &Input::BackoffElapsed, &LIMITS).unwrap();
        state = next;
    }
    assert_eq!(last, vec![E::GiveUp]);
    assert_eq!(state, disconnected(4));

    let (state, effects) = transition(&state, &Input::ReconnectsExhausted, &LIMITS).unwrap();
    assert_eq!(state, failed("reconnect_exhausted"));
    assert_eq!(effects, vec![E::CloseUpstream]);

    // A failed device can be started again from scratch.
    let (state, _) = transition(&state, &Input::Start, &LIMITS).unwrap();
    assert_eq!(state, starting(0));
}

#[test]
fn invalid_transition_names_state_and_input() {
    let err = transition(&S::Ready, &Input::Start, &LIMITS).unwrap_err();
    assert_eq!(err.to_string(), "cannot start while ready");

    let err = transition(&logged_out(None), &lost(), &LIMITS).unwrap_err();
    assert_eq!(err.to_string(), "cannot connection_lost while logged_out");

    let as_error: &dyn std::error::Error = &err;
    assert_eq!(as_error.to_string(), err.to_string());
}

#[test]
fn state_names_round_trip() {
    for name in StateName::ALL {
        assert_eq!(StateName::parse(name.as_str()), Some(name));
        assert_eq!(name.to_string(), name.as_str());
    }
    assert_eq!(StateName::parse("Ready"), None);
    assert_eq!(StateName::parse(""), None);

    let running: Vec<_> = StateName::ALL
        .into_iter()
        .filter(|n| n.is_running())
        .map(StateName::as_str)
        .collect();
    assert_eq!(
        running,
        ["starting", "qr", "authenticated", "ready", "disconnected"]
    );
}

#[test]
fn input_names_are_distinct_snake_case() {
    let names: Vec<_> = all_inputs().iter().map(Input::name).collect();
    assert_eq!(
        names,
        [
            "start",
            "stop",
            "logout",
            "remote_logout",
            "needs_linking",
            "session_restored",
            "qr_expired",
            "scanned",
            "synced",
            "connection_lost",
            "backoff_elapsed",
            "reconnects_exhausted",
            "fatal",
            "upstream_starting",
            "upstream_stopped",
            "linking_timed_out",
        ]
    );
}

#[test]
fn persisted_states_are_rebuilt_as_named() {
    let reason = || Some("why".to_owned());
    let cases = [
        (StateName::Stopped, None, stopped(None)),
        (StateName::Stopped, reason(), stopped(Some("why"))),
        (StateName::Starting, reason(), starting(0)),
        (StateName::Qr, None, S::Qr { attempt: 1 }),
        (StateName::Authenticated, reason(), S::Authenticated),
        (StateName::Ready, None, S::Ready),
        (
            StateName::Disconnected,
            None,
            S::Disconnected {
                attempt: 1,
                reason: String::new(),
            },
        ),
        (
            StateName::Disconnected,
            reason(),
            S::Disconnected {
                attempt: 1,
                reason: "why".to_owned(),
            },
        ),
        (StateName::LoggedOut, None, logged_out(None)),
        (
            StateName::LoggedOut,
            Some("remote_logout".to_owned()),
            logged_out(Some("remote_logout")),
        ),
        (StateName::Failed, None, failed("")),
        (StateName::Failed, reason(), failed("why")),
    ];
    for (name, persisted, expected) in cases {
        let state = DeviceState::from_persisted(name, persisted.clone());
        assert_eq!(state, expected, "{name} {persisted:?}");
        assert_eq!(state.name(), name);
    }
    // What is persisted is exactly what comes back.
    for state in [stopped(Some("qr_timeout")), failed("401"), S::Ready] {
        let rebuilt = DeviceState::from_persisted(state.name(), state.reason().map(Into::into));
        assert_eq!(rebuilt, state);
    }
}
