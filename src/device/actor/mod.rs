//! One task per device: the only place that does a device's I/O.
//!
//! The actor owns the device's [`DeviceState`] and its connector. Commands (from REST, the CLI
//! or Socket.IO, through a [`DeviceHandle`](super::DeviceHandle)), upstream events and timers
//! all become state machine inputs; it applies them one at a time, so there is never a race on
//! a device's state. Every transition is persisted and journaled in one write before anything
//! is emitted, then its effects are carried out, which may feed further inputs.
//!
//! While the device is up, the actor also checks on the upstream session every
//! `watchdog.probe_secs` (and at once when a webhook says it changed): that is how
//! an upstream that stopped answering, or a status change whose webhook was lost, is noticed.
//!
//! The actor's work is split by concern: `commands` answers what callers ask, `reports`
//! stores what the upstream reports, `session_checks` follows the upstream session,
//! `typing` keeps the typing indicators, `transitions` moves the device from state to state,
//! `effects` carries out what a move asks for, and `qr_codes` shows the pairing codes (and
//! gives codes for phone numbers).

mod commands;
mod effects;
mod governing;
pub use governing::seconds_until;
mod groups;
mod health;
mod qr_codes;
mod reports;
mod session_checks;
mod transitions;
mod typing;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch, Mutex};
use tokio::time::{sleep_until, Instant};

use super::governor::{self, Governor};
use super::group_echoes::GroupEchoes;
use super::group_names::GroupNames;
use super::latency::Latency;
use super::linked_ids::LinkedIds;
use super::media::Library;
use super::relay::Relay;
use super::relay_bell::RelayBell;
use super::retry::Pumped;
use super::state::{DeviceState, Input, Limits};
use super::uploads::Uploads;
use super::upstream::{Connectors, Upstream, UpstreamEvent};
use super::watchdog::Watchdog;
use super::{definition, CurrentQr, DeviceError};
use crate::config::Settings;
use crate::console::Console;
use crate::metrics::{ConnectorMetrics, Metrics};
use crate::model::{
    event::{EventData, HealthStatus, Me},
    governor::GovernorChanges,
    group::{GroupOp, GroupOutcome},
    pairing::{IssuedCode, LinkingPhone},
    spec::{ConnectorKind, DeviceFilters},
    upstream::{ConnectorError, Cue, Found, LookUp, Outbound, Reported},
    DeviceId, StateName,
};
use crate::store::{self, Store, StoreError};

/// What a command asks of the device. Its larger requests are boxed: every device's command
/// channel allocates room for 32 commands when it is made, and 10,000 idle devices' rooms
/// sized for a group's change were 50 MB (`docs/performance.md`, fleet).
#[derive(Debug)]
pub enum Command {
    Start,
    Stop,
    Restart,
    Logout,
    Cue(Cue),
    /// Our side starts or stops typing in a chat.
    Typing {
        chat_id: String,
        typing: bool,
    },
    /// Pass a hint that matters only now on to the upstream (see [`Outbound::WatchPresence`]).
    Tell(Box<Outbound>),
    /// Ask the upstream for the chat id of a phone number (see [`Upstream::find_number`]).
    FindNumber {
        number: String,
        found: oneshot::Sender<Option<String>>,
    },
    /// Ask the upstream for a code that links the device when typed on the phone `phone`
    /// (see [`Upstream::request_pairing_code`]).
    PairingCode {
        phone: LinkingPhone,
        issued: oneshot::Sender<IssuedCode>,
    },
    /// Ask the upstream about a contact (see [`Upstream::profile`], [`Upstream::picture`]).
    LookUp {
        look_up: LookUp,
        found: oneshot::Sender<Found>,
    },
    /// A verified webhook delivery: its chats and messages are stored before the answer.
    Webhook(Vec<Reported>),
    /// An admin changes the device's send governor's limits.
    Govern(Box<GovernorChanges>),
    /// Make, read or change a group (see [`Upstream::group`]); what changed is stored before
    /// the answer.
    Group {
        op: Box<GroupOp>,
        done: oneshot::Sender<GroupOutcome>,
    },
    /// The daemon is stopping: close the upstream, remember that the device should run again.
    Shutdown,
}

pub type Reply = oneshot::Sender<Result<(), DeviceError>>;
pub type CommandQueue = Arc<Mutex<mpsc::Receiver<(Command, Reply)>>>;

/// Everything an actor needs from the daemon, shared by all devices.
#[derive(Clone)]
pub struct ActorContext {
    pub store: Store,
    pub settings: Arc<Settings>,
    /// Builds each device's upstream.
    pub connectors: Arc<dyn Connectors>,
    /// Where the daemon's devices are measured.
    pub metrics: Arc<Metrics>,
    /// Where each new QR code is drawn for whoever runs the daemon, if anywhere.
    pub console: Option<Console>,
    /// The files clients uploaded, made once: a bucket's client is shared by every device.
    pub uploads: Uploads,
}

impl ActorContext {
    /// The files the daemon serves for its devices.
    pub fn library(&self) -> Library {
        Library::new(
            self.store.clone(),
            self.settings.clone(),
            self.uploads.clone(),
            self.connectors.clone(),
        )
    }
}

pub struct Actor {
    id: DeviceId,
    /// The device's connector, which says what the device can do.
    connector: ConnectorKind,
    context: ActorContext,
    state: DeviceState,
    limits: Limits,
    upstream: Option<Box<dyn Upstream>>,
    upstream_events: mpsc::Receiver<UpstreamEvent>,
    upstream_sender: mpsc::Sender<UpstreamEvent>,
    session: Option<Value>,
    /// The linked account, published so the edge can say "me" in a client's own words.
    me: watch::Sender<Option<Me>>,
    /// Credentials from a scan, saved by the `SaveSession` effect.
    pending_link: Option<(Value, Me)>,
    qr_deadline: Option<Instant>,
    /// Until when a code given for a phone number links the device: linking is not given up
    /// before then (see `qr_codes`).
    linking_hold: Option<Instant>,
    reconnect_deadline: Option<Instant>,
    /// When to check on the upstream session next, while the device is up.
    check_deadline: Option<Instant>,
    /// The upstream's round trips, for `connection:status`.
    latency: Latency,
    qr: watch::Sender<Option<CurrentQr>>,
    relay: Relay,
    /// Rung when a message is accepted for sending.
    bell: Arc<RelayBell>,
    /// Who is typing where, and when the indicator expires without a stop.
    typing: HashMap<(String, String), Instant>,
    /// The numbers behind the linked ids the upstream reports.
    linked_ids: LinkedIds,
    /// Which groups have a chat, and the names of those that do not yet.
    group_names: GroupNames,
    /// Changes to groups made here, which the upstream may report back.
    group_echoes: GroupEchoes,
    /// The series of the device's connector.
    metrics: Arc<ConnectorMetrics>,
    /// What becomes of stories and channels' posts: the definition's, read at each fresh
    /// start as the linking settings are.
    filters: DeviceFilters,
    /// Whether the upstream session stalled or flaps (see `health`).
    watchdog: Watchdog,
    /// The device's health, published for its view.
    health: watch::Sender<HealthStatus>,
    /// What a session left without a server ack is sent again when the device is next ready
    /// (see `health`).
    resend_when_back: Resend,
}

/// Which messages still waiting for their server ack are sent again when the device is next
/// `ready`, rather than once their ack is overdue: sent again at once, they keep their place in
/// their chat ahead of the messages queued behind them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resend {
    /// None: the session that took them is still the one that may ack them.
    Nothing,
    /// After the daemon started: a session of an earlier run may have stalled with them, but
    /// may also have delivered them, so only an upstream that recognises a message handed to
    /// it again gets them at once.
    IfRecognised,
    /// After a stall: the stalled session never delivered them.
    Always,
}

impl Actor {
    /// Loads the device from the store; `None` if it no longer exists.
    pub async fn load(
        context: ActorContext,
        id: DeviceId,
        qr: watch::Sender<Option<CurrentQr>>,
        me: watch::Sender<Option<Me>>,
        health: watch::Sender<HealthStatus>,
        bell: Arc<RelayBell>,
    ) -> Result<Option<(Actor, bool)>, DeviceError> {
        let lookup = id.clone();
        let (Some(record), ledger) = context
            .store
            .read(move |conn| {
                Ok((
                    store::devices::get(conn, &lookup)?,
                    store::governors::governor(conn, &lookup)?,
                ))
            })
            .await?
        else {
            return Ok(None);
        };
        let (upstream_sender, upstream_events) = mpsc::channel(1024);
        let limits = Limits {
            qr_max_attempts: context.settings.qr.max_attempts,
            // The device's own, read from its definition at each fresh start.
            qr_keep_offering: false,
            reconnect_max_attempts: context.settings.reconnect.max_attempts,
        };
        let messages = &context.settings.messages;
        // A definition that cannot be read fails the device when it starts, before any
        // upstream is reached: any connector's series do until then.
        let (connector, filters, file_governor) = definition(&record).map_or_else(
            |_| Default::default(),
            |spec| (spec.connector, spec.filters, spec.governor),
        );
        let metrics = context.metrics.connector(connector);
        let governor = Governor::new(
            governor::base_limits(connector, &context.settings.governor, &file_governor),
            governor::read_ledger(&id, ledger),
        );
        let relay = Relay::new(
            id.clone(),
            context.store.clone(),
            Duration::from_secs(messages.ack_timeout_secs),
            messages.max_send_attempts,
            bell.clone(),
            metrics.clone(),
            governor,
        );
        me.send_replace(record.me.clone());
        health.send_replace(HealthStatus::Healthy);
        let watchdog = Watchdog::new(
            &context.settings.watchdog,
            chrono::Utc::now().timestamp_millis(),
        );
        let actor = Actor {
            watchdog,
            health,
            resend_when_back: Resend::IfRecognised,
            relay,
            linked_ids: LinkedIds::new(id.clone(), context.store.clone()),
            group_names: GroupNames::new(id.clone(), context.store.clone()),
            group_echoes: GroupEchoes::default(),
            bell,
            typing: HashMap::new(),
            id,
            connector,
            state: DeviceState::from_persisted(record.state, record.state_reason.clone()),
            limits,
            upstream: None,
            upstream_events,
            upstream_sender,
            session: record.session.clone(),
            me,
            pending_link: None,
            qr_deadline: None,
            linking_hold: None,
            reconnect_deadline: None,
            check_deadline: None,
            latency: Latency::default(),
            qr,
            metrics,
            filters,
            context,
        };
        Ok(Some((actor, record.autostart && record.wants_running)))
    }

    /// Runs until the command queue closes or a shutdown command arrives.
    pub async fn run(mut self, commands: CommandQueue, autostart: bool, boot_reason: &'static str) {
        let mut commands = commands.lock_owned().await;
        Box::pin(self.boot(autostart, boot_reason)).await;
        loop {
            let next = self.next_deadline();
            let wake = tokio::select! {
                command = commands.recv() => match command {
                    Some((command, reply)) => Wake::Command(command, reply),
                    None => break,
                },
                Some(event) = self.upstream_events.recv() => Wake::Upstream(event),
                _ = self.bell.rung() => Wake::Bell,
                due = at(next) => Wake::Due(due),
            };
            // Boxed: inline, the futures of everything a wake can do would make every idle
            // actor, ten thousand of them in a fleet, as large as the largest (~10 KB each).
            if Box::pin(self.woken(wake)).await.is_break() {
                break;
            }
        }
    }

    /// Records a stop the daemon (or this actor) did not record, then starts the device if it
    /// starts with the daemon.
    async fn boot(&mut self, autostart: bool, boot_reason: &'static str) {
        if self.state.name().is_running() {
            self.enter(
                DeviceState::Stopped {
                    reason: Some(boot_reason.into()),
                },
                true,
            )
            .await;
        }
        if autostart {
            let _ = self.feed(Input::Start).await;
        }
    }

    /// Does what `wake` asks; breaks once the actor has shut down.
    async fn woken(&mut self, wake: Wake) -> ControlFlow<()> {
        match wake {
            Wake::Command(Command::Shutdown, reply) => {
                self.shut_down().await;
                let _ = reply.send(Ok(()));
                return ControlFlow::Break(());
            }
            Wake::Command(command, reply) => {
                let result = self.command(command).await;
                let _ = reply.send(result);
            }
            Wake::Upstream(event) => self.upstream_event(event).await,
            Wake::Bell => {
                if let (StateName::Ready, Some(upstream)) =
                    (self.state.name(), self.upstream.as_mut())
                {
                    let pumped = self.relay.pump(upstream.as_mut()).await;
                    self.pumped(pumped).await;
                }
            }
            Wake::Due(Deadline::Relay) => match (self.state.name(), self.upstream.as_mut()) {
                (StateName::Ready, Some(upstream)) => {
                    let pumped = self.relay.on_deadline(upstream.as_mut()).await;
                    self.pumped(pumped).await;
                }
                _ => self.relay.pause(),
            },
            Wake::Due(Deadline::Check) => {
                self.check_deadline = None;
                self.check_upstream().await;
            }
            Wake::Due(Deadline::Typing) => self.expire_typing().await,
            Wake::Due(Deadline::Qr) => {
                self.qr_deadline = None;
                let input = match self.rotates_qr() {
                    true => Input::LinkingTimedOut,
                    false => Input::QrExpired,
                };
                if !self.holds_linking(&input) {
                    let _ = self.feed(input).await;
                }
            }
            Wake::Due(Deadline::Reconnect) => {
                self.reconnect_deadline = None;
                let _ = self.feed(Input::BackoffElapsed).await;
            }
        }
        ControlFlow::Continue(())
    }

    /// The first of the actor's deadlines to pass, and which it is. The actor waits on this one
    /// timer rather than one for each: every timer a select waits on is held in the loop's
    /// future, which every idle actor keeps. Deadlines that pass together are taken one at a
    /// time, earliest first, each in a wake of its own.
    fn next_deadline(&self) -> Option<(Instant, Deadline)> {
        [
            (self.relay.deadline(), Deadline::Relay),
            (self.check_deadline, Deadline::Check),
            (self.typing.values().min().copied(), Deadline::Typing),
            (self.qr_deadline, Deadline::Qr),
            (self.reconnect_deadline, Deadline::Reconnect),
        ]
        .into_iter()
        .filter_map(|(at, deadline)| Some((at?, deadline)))
        .min_by_key(|(at, _)| *at)
    }

    /// Follows up a turn of the relay: more to send, or trouble with the upstream.
    async fn pumped(&mut self, pumped: Pumped) {
        if pumped.more {
            self.bell.ring();
        }
        if let Some(error) = pumped.trouble {
            let _ = self.feed(failure_input(error)).await;
        }
    }

    /// Journals one event of the device in a write of its own; a write that fails is logged.
    async fn journal(&self, data: EventData) {
        let kind = data.kind();
        if let Err(error) = self.journaled(data).await {
            tracing::error!(device_id = %self.id, %error, event = %kind, "cannot journal an event");
        }
    }

    /// Journals one event of the device in a write of its own, for an answer that must not be
    /// given unless the event is stored.
    async fn journaled(&self, data: EventData) -> Result<(), StoreError> {
        let id = self.id.clone();
        self.context
            .store
            .write(move |tx| tx.journal(&id, data).map(drop))
            .await
    }
}

/// What woke an actor: a command, a report of its upstream, the relay's bell, or one of its
/// deadlines passing.
enum Wake {
    Command(Command, Reply),
    Upstream(UpstreamEvent),
    Bell,
    Due(Deadline),
}

/// An actor's deadlines ([`Actor::next_deadline`]).
#[derive(Clone, Copy)]
enum Deadline {
    /// The relay's next retry, ack timeout, governor's turn or scheduled action.
    Relay,
    /// The next check on the upstream session.
    Check,
    /// A typing indicator expires.
    Typing,
    /// The QR code (or the linking) runs out.
    Qr,
    /// The backoff before reconnecting ends.
    Reconnect,
}

/// Whether the device has (or is opening) a session with its upstream, which it checks on.
fn is_up(state: StateName) -> bool {
    matches!(
        state,
        StateName::Starting | StateName::Qr | StateName::Authenticated | StateName::Ready
    )
}

/// Whether an upstream failure may pass by itself: no answer, a server error, throttling, a
/// session restarting. Anything else (refused credentials, a rejected request, a failed
/// session) needs a person.
fn may_pass(error: &ConnectorError) -> bool {
    matches!(
        error,
        ConnectorError::Unreachable(_)
            | ConnectorError::Failing(_)
            | ConnectorError::Throttled { .. }
    )
}

/// What an upstream failure means for the device: one that [may pass](may_pass) is a lost
/// connection, reconnected with backoff; anything else needs a person.
fn failure_input(error: ConnectorError) -> Input {
    match error {
        ConnectorError::Unreachable(reason) => Input::ConnectionLost { reason },
        error if may_pass(&error) => Input::ConnectionLost {
            reason: error.to_string(),
        },
        other => Input::Fatal {
            reason: other.to_string(),
        },
    }
}

/// Waits for a deadline and says which it was, or waits forever if there is none.
async fn at(next: Option<(Instant, Deadline)>) -> Deadline {
    match next {
        Some((deadline, which)) => {
            sleep_until(deadline).await;
            which
        }
        None => std::future::pending().await,
    }
}
