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

use crate::model::StateName;

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
    /// How many pairing codes to issue before giving up with `qr_timeout`: one round.
    pub qr_max_attempts: u32,
    /// Start a new round of codes after the last one instead of giving up (a device file's
    /// `[qr] keep_offering`): a device meant to be linked whenever someone gets to it, such as
    /// the shipped demo, never stops on its own while nobody scans.
    pub qr_keep_offering: bool,
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
        // limit; then the device stops rather than keep a QR session open with nobody watching,
        // unless its file asks it to keep offering codes.
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
        // A device that keeps offering codes starts a new round, at attempt 1 again so that
        // `attempt` never passes `maxAttempts`. Its first code is as short as the others:
        // nobody is known to be looking for their phone this time.
        (S::Qr { .. }, Input::QrExpired | Input::NeedsLinking) if limits.qr_keep_offering => (
            S::Qr { attempt: 1 },
            vec![E::IssueQr {
                attempt: 1,
                first: false,
            }],
        ),
        // An upstream that rotates its own codes stopped showing them: a device that keeps
        // offering codes opens a new session, which shows new ones.
        (S::Qr { .. }, Input::LinkingTimedOut) if limits.qr_keep_offering => (
            S::Starting {
                reconnect_attempt: 0,
            },
            vec![E::CloseUpstream, E::OpenUpstream],
        ),
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
mod tests;
