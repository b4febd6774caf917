//! The device lifecycle as a pure state machine.
//!
//! A device moves through `stopped → starting → qr → authenticated → ready`, can drop to
//! `disconnected` and reconnect, and ends up `stopped`, `logged_out` or `failed`. The rules for
//! those moves live here, in [`transition`], and nowhere else.
//!
//! [`transition`] is deliberately *pure*: it takes the current state, one input and the limits,
//! and returns the next state plus a list of [`Effect`]s. It performs no I/O, reads no clock and
//! draws no random numbers. The device actor owns everything impure: it opens and closes the
//! upstream connection, runs the QR and backoff timers (and their jitter), persists the session,
//! and turns what happens outside into [`Input`]s. This split buys three things:
//!
//! * **Exhaustive testing.** Because the function depends only on its arguments, every
//!   `(state, input)` pair can be checked against an explicit table without mocks, sleeps or a
//!   runtime; a rule that changes without the table changing makes the test fail.
//! * **Determinism.** Time and randomness are injected by the actor (a timer firing becomes
//!   [`Input::QrExpired`] or [`Input::BackoffElapsed`]), so the same sequence of inputs always
//!   produces the same sequence of states, which makes logs and bug reports replayable.
//! * **Atomic rejection.** An input that is not valid in the current state returns
//!   [`InvalidTransition`] and, since the state is only borrowed, cannot have changed anything.
//!   The API layer maps that error to `invalid_state`.

use std::fmt;

/// The name of a state, without the data it carries.
///
/// This is what is persisted, reported over the API and used in error messages, so its string
/// form ([`StateName::as_str`]) is part of the external contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[schema(
    rename_all = "snake_case",
    description = "Where a device is in its lifecycle."
)]
pub enum StateName {
    Stopped,
    Starting,
    Qr,
    Authenticated,
    Ready,
    Disconnected,
    LoggedOut,
    Failed,
}

impl StateName {
    /// Every state name, in lifecycle order.
    pub const ALL: [StateName; 8] = [
        StateName::Stopped,
        StateName::Starting,
        StateName::Qr,
        StateName::Authenticated,
        StateName::Ready,
        StateName::Disconnected,
        StateName::LoggedOut,
        StateName::Failed,
    ];

    /// The wire and storage form of the name.
    pub fn as_str(self) -> &'static str {
        match self {
            StateName::Stopped => "stopped",
            StateName::Starting => "starting",
            StateName::Qr => "qr",
            StateName::Authenticated => "authenticated",
            StateName::Ready => "ready",
            StateName::Disconnected => "disconnected",
            StateName::LoggedOut => "logged_out",
            StateName::Failed => "failed",
        }
    }

    /// The inverse of [`StateName::as_str`]; `None` for anything else.
    pub fn parse(s: &str) -> Option<StateName> {
        StateName::ALL.into_iter().find(|name| name.as_str() == s)
    }

    /// Whether the device has (or is trying to have) an upstream session.
    ///
    /// Running states are the ones that `stop`, `logout` and fatal errors apply to, and the
    /// ones in which `start` is refused.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            StateName::Starting
                | StateName::Qr
                | StateName::Authenticated
                | StateName::Ready
                | StateName::Disconnected
        )
    }
}

impl fmt::Display for StateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The full state, with the data each state carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    /// Not running. `reason` says why the machine stopped on its own (e.g. `"qr_timeout"`);
    /// it is `None` when a user stopped the device or it was never started.
    Stopped { reason: Option<String> },
    /// Opening the upstream. `0` is a fresh start; `n ≥ 1` is reconnect attempt `n`, kept so
    /// that a failure while starting continues the reconnect count instead of resetting it.
    Starting { reconnect_attempt: u32 },
    /// Waiting for the user to scan pairing code number `attempt` (1-based).
    Qr { attempt: u32 },
    /// Linked, waiting for the initial sync.
    Authenticated,
    /// Linked and synced: messages flow.
    Ready,
    /// The connection dropped. `attempt` is the reconnect attempt the backoff timer will start
    /// (1 right after the loss); `reason` is the upstream's explanation, for the API.
    Disconnected { attempt: u32, reason: String },
    /// Credentials were wiped. `reason` is `"remote_logout"` when the phone or the upstream
    /// logged the device out, `None` for a local logout.
    LoggedOut { reason: Option<String> },
    /// Gave up: bad credentials, a 401/403, or reconnect attempts exhausted. Needs a `start`.
    Failed { reason: String },
}

impl DeviceState {
    /// The name of this state.
    pub fn name(&self) -> StateName {
        match self {
            DeviceState::Stopped { .. } => StateName::Stopped,
            DeviceState::Starting { .. } => StateName::Starting,
            DeviceState::Qr { .. } => StateName::Qr,
            DeviceState::Authenticated => StateName::Authenticated,
            DeviceState::Ready => StateName::Ready,
            DeviceState::Disconnected { .. } => StateName::Disconnected,
            DeviceState::LoggedOut { .. } => StateName::LoggedOut,
            DeviceState::Failed { .. } => StateName::Failed,
        }
    }

    /// The reason carried by the state, if any. Together with [`DeviceState::name`] this is
    /// what gets persisted and reported.
    pub fn reason(&self) -> Option<&str> {
        match self {
            DeviceState::Stopped { reason } | DeviceState::LoggedOut { reason } => {
                reason.as_deref()
            }
            DeviceState::Disconnected { reason, .. } | DeviceState::Failed { reason } => {
                Some(reason)
            }
            DeviceState::Starting { .. }
            | DeviceState::Qr { .. }
            | DeviceState::Authenticated
            | DeviceState::Ready => None,
        }
    }

    /// Rebuilds a state from what is persisted (its name and reason) after a daemon restart.
    ///
    /// Only the name and reason survive a restart, so counters start over: `Qr` and
    /// `Disconnected` come back at attempt 1 and `Starting` as a fresh start. A missing reason
    /// for `Failed` or `Disconnected` becomes `""`; a reason given for a state that carries
    /// none is ignored. Deciding whether a running state should be resumed is the caller's
    /// job, not this function's: it returns the state as named.
    pub fn from_persisted(name: StateName, reason: Option<String>) -> DeviceState {
        match name {
            StateName::Stopped => DeviceState::Stopped { reason },
            StateName::Starting => DeviceState::Starting {
                reconnect_attempt: 0,
            },
            StateName::Qr => DeviceState::Qr { attempt: 1 },
            StateName::Authenticated => DeviceState::Authenticated,
            StateName::Ready => DeviceState::Ready,
            StateName::Disconnected => DeviceState::Disconnected {
                attempt: 1,
                reason: reason.unwrap_or_default(),
            },
            StateName::LoggedOut => DeviceState::LoggedOut { reason },
            StateName::Failed => DeviceState::Failed {
                reason: reason.unwrap_or_default(),
            },
        }
    }
}

/// Something that happened: a user command, or an upstream or timer event reported by the actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// User command: bring the device up.
    Start,
    /// User command: take the device down, keeping credentials.
    Stop,
    /// User command: log out locally; the upstream must be told.
    Logout,
    /// The phone or upstream logged the device out; there is nobody left to tell.
    RemoteLogout,
    /// The upstream needs a QR scan: on opening, or again with a new code of its own while
    /// one is on show. A linked upstream that needs a scan has lost its link.
    NeedsLinking,
    /// The upstream is linked: saved credentials or a token were accepted, or the upstream
    /// saw a scan itself. The link it reports is saved.
    SessionRestored,
    /// The current pairing code's timer ran out.
    QrExpired,
    /// The pairing code was scanned and the link completed.
    Scanned,
    /// The initial sync finished.
    Synced,
    /// The upstream connection dropped.
    ConnectionLost { reason: String },
    /// The reconnect backoff timer fired.
    BackoffElapsed,
    /// The actor has no reconnect attempts left (after [`Effect::GiveUp`]).
    ReconnectsExhausted,
    /// An unrecoverable upstream error: bad credentials, 401/403.
    Fatal { reason: String },
    /// The upstream is starting its session over by itself (WAHA's `STARTING` while linked).
    UpstreamStarting,
    /// The upstream stopped the session by itself (WAHA's `STOPPED`).
    UpstreamStopped,
    /// Linking outlasted the time every pairing code together is shown for, with an upstream
    /// that rotates its own codes and stopped showing new ones (see [`Limits`]).
    LinkingTimedOut,
}

impl Input {
    /// The snake_case name of the input, as used in errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Input::Start => "start",
            Input::Stop => "stop",
            Input::Logout => "logout",
            Input::RemoteLogout => "remote_logout",
            Input::NeedsLinking => "needs_linking",
            Input::SessionRestored => "session_restored",
            Input::QrExpired => "qr_expired",
            Input::Scanned => "scanned",
            Input::Synced => "synced",
            Input::ConnectionLost { .. } => "connection_lost",
            Input::BackoffElapsed => "backoff_elapsed",
            Input::ReconnectsExhausted => "reconnects_exhausted",
            Input::Fatal { .. } => "fatal",
            Input::UpstreamStarting => "upstream_starting",
            Input::UpstreamStopped => "upstream_stopped",
            Input::LinkingTimedOut => "linking_timed_out",
        }
    }
}

/// What the actor must do after a transition; the machine never does I/O itself.
///
/// Effects are listed in the order the actor should carry them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Connect to the upstream, with saved credentials if there are any.
    OpenUpstream,
    /// Ask the connector for a new pairing code. `first` selects the longer TTL of the first
    /// code, which gives the user time to find their phone.
    IssueQr { attempt: u32, first: bool },
    /// Persist the freshly linked session.
    SaveSession,
    /// Ask the upstream to sync; completion arrives as [`Input::Synced`].
    SyncUpstream,
    /// The device is healthy again: forget the backoff delay.
    ResetBackoff,
    /// Start the backoff timer for reconnect attempt `attempt`; it fires as
    /// [`Input::BackoffElapsed`].
    ScheduleReconnect { attempt: u32 },
    /// Reconnect attempts are exhausted: the actor feeds [`Input::ReconnectsExhausted`].
    GiveUp,
    /// Stop the upstream session, keeping credentials.
    CloseUpstream,
    /// Tell the upstream to log out.
    LogoutUpstream,
    /// Delete saved credentials.
    WipeSession,
}

/// Settings the machine needs, passed in rather than read from globals so that tests can use
/// any values and the function stays pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How many pairing codes to issue before giving up with `qr_timeout`.
    pub qr_max_attempts: u32,
    /// How many reconnect attempts to make before failing with `reconnect_exhausted`.
    pub reconnect_max_attempts: u32,
}

/// An input that is not valid in the current state. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTransition {
    /// The state the device was (and still is) in.
    pub state: StateName,
    /// The [`Input::name`] that was rejected.
    pub input: &'static str,
}

impl fmt::Display for InvalidTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot {} while {}", self.input, self.state)
    }
}

impl std::error::Error for InvalidTransition {}

/// Reason stored when the last pairing code expired unscanned.
const QR_TIMEOUT: &str = "qr_timeout";
/// Reason stored when the upstream logged the device out.
const REMOTE_LOGOUT: &str = "remote_logout";
/// Reason stored when every reconnect attempt failed.
const RECONNECT_EXHAUSTED: &str = "reconnect_exhausted";
/// Reason stored when the upstream stopped the session by itself.
const UPSTREAM_STOPPED: &str = "upstream_stopped";

/// Computes the next state and the effects the actor must carry out, or rejects the input.
///
/// Pure: the result depends only on the arguments. On `Err` the caller keeps `state` as is.
pub fn transition(
    state: &DeviceState,
    input: &Input,
    limits: &Limits,
) -> Result<(DeviceState, Vec<Effect>), InvalidTransition> {
    use DeviceState as S;
    use Effect as E;

    let running = state.name().is_running();
    // The upstream already ended the session, so there is nobody to send a logout to.
    let remote_logout = || {
        (
            S::LoggedOut {
                reason: Some(REMOTE_LOGOUT.to_owned()),
            },
            vec![E::CloseUpstream, E::WipeSession],
        )
    };
    let next = match (state, input) {
        // Bringing a device up from any resting state always begins with a fresh start.
        (S::Stopped { .. } | S::LoggedOut { .. } | S::Failed { .. }, Input::Start) => (
            S::Starting {
                reconnect_attempt: 0,
            },
            vec![E::OpenUpstream],
        ),

        // Commands and fatal errors that apply to every running state alike.
        (_, Input::Stop) if running => (S::Stopped { reason: None }, vec![E::CloseUpstream]),
        (_, Input::Logout) if running => (
            S::LoggedOut { reason: None },
            vec![E::LogoutUpstream, E::WipeSession],
        ),
        (_, Input::RemoteLogout) if running => remote_logout(),
        (_, Input::Fatal { reason }) if running => (
            S::Failed {
                reason: reason.clone(),
            },
            vec![E::CloseUpstream],
        ),
        (_, Input::UpstreamStopped) if running => (
            S::Stopped {
                reason: Some(UPSTREAM_STOPPED.to_owned()),
            },
            vec![E::CloseUpstream],
        ),

        // Opening the upstream tells us whether it needs linking or the session is restored.
        (S::Starting { .. }, Input::NeedsLinking) => (
            S::Qr { attempt: 1 },
            vec![E::IssueQr {
                attempt: 1,
                first: true,
            }],
        ),
        // Linked without our scan (saved credentials, a token, or a scan the upstream saw):
        // the link is saved as the upstream reports it, so its account is always current.
        (S::Starting { .. } | S::Qr { .. }, Input::SessionRestored) => {
            (S::Authenticated, vec![E::SaveSession, E::SyncUpstream])
        }
        (S::Authenticated | S::Ready, Input::NeedsLinking) => remote_logout(),
        // The upstream starts over by itself; its status follows.
        (S::Authenticated | S::Ready, Input::UpstreamStarting) => (
            S::Starting {
                reconnect_attempt: 0,
            },
            vec![],
        ),

        // Pairing codes rotate, on our timer or when the upstream shows a new code, until the
        // limit; then the device stops rather than keep a QR session open with nobody watching.
        (S::Qr { attempt }, Input::QrExpired | Input::NeedsLinking)
            if *attempt < limits.qr_max_attempts =>
        {
            let attempt = attempt + 1;
            (
                S::Qr { attempt },
                vec![E::IssueQr {
                    attempt,
                    first: false,
                }],
            )
        }
        (S::Qr { .. }, Input::QrExpired | Input::NeedsLinking | Input::LinkingTimedOut) => (
            S::Stopped {
                reason: Some(QR_TIMEOUT.to_owned()),
            },
            vec![E::CloseUpstream],
        ),
        (S::Qr { .. }, Input::Scanned) => (S::Authenticated, vec![E::SaveSession, E::SyncUpstream]),

        (S::Authenticated, Input::Synced) => (S::Ready, vec![E::ResetBackoff]),

        // A drop from a healthy or linking state starts counting reconnects at 1; a drop while
        // starting a reconnect continues the count, so a flapping upstream eventually fails.
        (S::Ready | S::Authenticated | S::Qr { .. }, Input::ConnectionLost { reason }) => {
            disconnect(1, reason, limits)
        }
        (S::Starting { reconnect_attempt }, Input::ConnectionLost { reason }) => {
            disconnect(reconnect_attempt.saturating_add(1), reason, limits)
        }

        (S::Disconnected { attempt, .. }, Input::BackoffElapsed) => (
            S::Starting {
                reconnect_attempt: *attempt,
            },
            vec![E::OpenUpstream],
        ),
        (S::Disconnected { .. }, Input::ReconnectsExhausted) => (
            S::Failed {
                reason: RECONNECT_EXHAUSTED.to_owned(),
            },
            vec![E::CloseUpstream],
        ),

        _ => {
            return Err(InvalidTransition {
                state: state.name(),
                input: input.name(),
            })
        }
    };
    Ok(next)
}

/// The `disconnected` state for reconnect attempt `attempt`, scheduling it if the limit allows
/// and otherwise asking the actor to give up.
fn disconnect(attempt: u32, reason: &str, limits: &Limits) -> (DeviceState, Vec<Effect>) {
    let effect = if attempt <= limits.reconnect_max_attempts {
        Effect::ScheduleReconnect { attempt }
    } else {
        Effect::GiveUp
    };
    (
        DeviceState::Disconnected {
            attempt,
            reason: reason.to_owned(),
        },
        vec![effect],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeviceState as S;
    use Effect as E;

    const LIMITS: Limits = Limits {
        qr_max_attempts: 6,
        reconnect_max_attempts: 3,
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

    /// The contract, written out in full for `LIMITS` (6 QR codes, 3 reconnects): one
    /// representative per state, plus the edges where a counter meets its limit.
    fn table() -> Vec<Row> {
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
                    (
                        "linking_timed_out",
                        ok(stopped(Some("qr_timeout")), &[E::CloseUpstream]),
                    ),
                ],
            ),
            (
                // The last QR code: expiry stops the device.
                S::Qr { attempt: 6 },
                [
                    ("start", NO),
                    ("stop", stop()),
                    ("logout", logout()),
                    ("remote_logout", remote()),
                    (
                        "needs_linking",
                        ok(stopped(Some("qr_timeout")), &[E::CloseUpstream]),
                    ),
                    ("session_restored", restored()),
                    (
                        "qr_expired",
                        ok(stopped(Some("qr_timeout")), &[E::CloseUpstream]),
                    ),
                    ("scanned", scanned()),
                    ("synced", NO),
                    ("connection_lost", sched(1)),
                    ("backoff_elapsed", NO),
                    ("reconnects_exhausted", NO),
                    ("fatal", fatal()),
                    ("upstream_starting", NO),
                    ("upstream_stopped", upstream_stop()),
                    (
                        "linking_timed_out",
                        ok(stopped(Some("qr_timeout")), &[E::CloseUpstream]),
                    ),
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
            let (next, step) = transition(&state, input, limits)
                .unwrap_or_else(|e| panic!("{e} (state {state:?})"));
            state = next;
            effects.push(step);
        }
        (state, effects)
    }

    #[test]
    fn every_state_and_input_matches_the_table() {
        let inputs = all_inputs();
        let table = table();

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
                let actual = transition(state, input, &LIMITS);
                match expected {
                    Some(expected) => {
                        assert_eq!(actual.as_ref(), Ok(expected), "{:?} on {:?}", state, input)
                    }
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
        for (state, outcomes) in table() {
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
            qr_max_attempts: 6,
            reconnect_max_attempts: 0,
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
}
