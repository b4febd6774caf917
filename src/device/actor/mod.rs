//! One task per device: the only place that does a device's I/O.
//!
//! The actor owns the device's [`DeviceState`] and its connector. Commands (from REST, the CLI
//! or Socket.IO, through a [`DeviceHandle`](super::DeviceHandle)), upstream events and timers
//! all become state machine inputs; it applies them one at a time, so there is never a race on
//! a device's state. Every transition is persisted and journaled in one write before anything
//! is emitted, then its effects are carried out, which may feed further inputs.
//!
//! While the device is up, the actor also checks on the upstream session every
//! `upstream.check_interval_secs` (and at once when a webhook says it changed): that is how
//! an upstream that stopped answering, or a status change whose webhook was lost, is noticed.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch, Mutex};
use tokio::time::{sleep_until, Instant};

use super::group_names::GroupNames;
use super::latency::Latency;
use super::linked_ids::LinkedIds;
use super::media::Library;
use super::outbox::Outbox;
use super::relay::{Pumped, Relay};
use super::state::{transition, DeviceState, Effect, Input, InvalidTransition, Limits};
use super::upstream::{Connectors, Upstream, UpstreamEvent};
use super::{definition, stored, CurrentQr, DeviceError};
use crate::backoff;
use crate::config::Settings;
use crate::messaging::inbound;
use crate::metrics::{ConnectorMetrics, Metrics};
use crate::model::{
    event::{EventData, Me},
    inbound::{Inbound, TypingChange},
    rfc3339,
    upstream::{ConnectorError, Fault, Outbound, Reported, Session},
    DeviceId, StateName,
};
use crate::qr;
use crate::store::{self, Store};

/// How long a typing indicator lasts without a stop: WhatsApp's own expiry.
const TYPING_EXPIRES: Duration = Duration::from_secs(25);
/// Most upstream reports applied in one write.
const INBOUND_BATCH: usize = 512;

/// What a command asks of the device.
#[derive(Debug)]
pub enum Command {
    Start,
    Stop,
    Restart,
    Logout,
    InjectFault(Fault),
    /// Our side starts or stops typing in a chat.
    Typing {
        chat_id: String,
        typing: bool,
    },
    /// Pass a hint that matters only now on to the upstream (see [`Outbound::WatchPresence`]).
    Tell(Outbound),
    /// Ask the upstream for the chat id of a phone number (see [`Upstream::find_number`]).
    FindNumber {
        number: String,
        found: oneshot::Sender<Option<String>>,
    },
    /// A verified webhook delivery: its chats and messages are stored before the answer.
    Webhook(Vec<Reported>),
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
    /// Print each new QR code on the daemon's terminal.
    pub print_qr: bool,
}

impl ActorContext {
    /// The files the daemon serves for its devices.
    pub fn library(&self) -> Library {
        Library::new(
            self.store.clone(),
            self.settings.clone(),
            self.connectors.clone(),
        )
    }
}

pub struct Actor {
    id: DeviceId,
    context: ActorContext,
    state: DeviceState,
    limits: Limits,
    upstream: Option<Box<dyn Upstream>>,
    upstream_events: mpsc::Receiver<UpstreamEvent>,
    upstream_sender: mpsc::Sender<UpstreamEvent>,
    session: Option<Value>,
    me: Option<Me>,
    /// Credentials from a scan, saved by the `SaveSession` effect.
    pending_link: Option<(Value, Me)>,
    qr_deadline: Option<Instant>,
    reconnect_deadline: Option<Instant>,
    /// When to check on the upstream session next, while the device is up.
    check_deadline: Option<Instant>,
    /// The upstream's round trips, for `connection:status`.
    latency: Latency,
    qr: watch::Sender<Option<CurrentQr>>,
    relay: Relay,
    /// Rung when a message is accepted for sending.
    outbox: Arc<Outbox>,
    /// Who is typing where, and when the indicator expires without a stop.
    typing: HashMap<(String, String), Instant>,
    /// The numbers behind the linked ids the upstream reports.
    linked_ids: LinkedIds,
    /// Which groups have a chat, and the names of those that do not yet.
    group_names: GroupNames,
    /// The series of the device's connector.
    metrics: Arc<ConnectorMetrics>,
}

impl Actor {
    /// Loads the device from the store; `None` if it no longer exists.
    pub async fn load(
        context: ActorContext,
        id: DeviceId,
        qr: watch::Sender<Option<CurrentQr>>,
        outbox: Arc<Outbox>,
    ) -> Result<Option<(Actor, bool)>, DeviceError> {
        let lookup = id.clone();
        let Some(record) = context
            .store
            .read(move |conn| store::devices::get(conn, &lookup))
            .await?
        else {
            return Ok(None);
        };
        let (upstream_sender, upstream_events) = mpsc::channel(1024);
        let limits = Limits {
            qr_max_attempts: context.settings.qr.max_attempts,
            reconnect_max_attempts: context.settings.reconnect.max_attempts,
        };
        let messages = &context.settings.messages;
        // A definition that cannot be read fails the device when it starts, before any
        // upstream is reached: any connector's series do until then.
        let connector =
            definition(&record).map_or_else(|_| Default::default(), |spec| spec.connector);
        let metrics = context.metrics.connector(connector);
        let relay = Relay::new(
            id.clone(),
            context.store.clone(),
            Duration::from_secs(messages.ack_timeout_secs),
            messages.max_send_attempts,
            outbox.clone(),
            metrics.clone(),
        );
        let actor = Actor {
            relay,
            linked_ids: LinkedIds::new(id.clone(), context.store.clone()),
            group_names: GroupNames::new(id.clone(), context.store.clone()),
            outbox,
            typing: HashMap::new(),
            id,
            state: DeviceState::from_persisted(record.state, record.state_reason.clone()),
            limits,
            upstream: None,
            upstream_events,
            upstream_sender,
            session: record.session.clone(),
            me: record.me.clone(),
            pending_link: None,
            qr_deadline: None,
            reconnect_deadline: None,
            check_deadline: None,
            latency: Latency::default(),
            qr,
            metrics,
            context,
        };
        Ok(Some((actor, record.autostart && record.wants_running)))
    }

    /// Runs until the command queue closes or a shutdown command arrives.
    pub async fn run(mut self, commands: CommandQueue, autostart: bool, boot_reason: &'static str) {
        let mut commands = commands.lock_owned().await;
        if self.state.name().is_running() {
            // The daemon (or this actor) stopped without recording it: say so, then carry on.
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
        loop {
            tokio::select! {
                command = commands.recv() => {
                    let Some((command, reply)) = command else { break };
                    if matches!(command, Command::Shutdown) {
                        self.shut_down().await;
                        let _ = reply.send(Ok(()));
                        break;
                    }
                    let result = self.command(command).await;
                    let _ = reply.send(result);
                }
                Some(event) = self.upstream_events.recv() => self.upstream_event(event).await,
                _ = self.outbox.rung() => {
                    if let (StateName::Ready, Some(upstream)) = (self.state.name(), self.upstream.as_mut()) {
                        let pumped = self.relay.pump(upstream.as_mut()).await;
                        self.pumped(pumped).await;
                    }
                }
                _ = at(self.relay.deadline()) => {
                    match (self.state.name(), self.upstream.as_mut()) {
                        (StateName::Ready, Some(upstream)) => {
                            let pumped = self.relay.on_deadline(upstream.as_mut()).await;
                            self.pumped(pumped).await;
                        }
                        _ => self.relay.pause(),
                    }
                }
                _ = at(self.check_deadline) => {
                    self.check_deadline = None;
                    self.check_upstream().await;
                }
                _ = at(self.typing.values().min().copied()) => self.expire_typing().await,
                _ = at(self.qr_deadline) => {
                    self.qr_deadline = None;
                    let input = match self.rotates_qr() {
                        true => Input::LinkingTimedOut,
                        false => Input::QrExpired,
                    };
                    let _ = self.feed(input).await;
                }
                _ = at(self.reconnect_deadline) => {
                    self.reconnect_deadline = None;
                    let _ = self.feed(Input::BackoffElapsed).await;
                }
            }
        }
    }

    async fn command(&mut self, command: Command) -> Result<(), DeviceError> {
        match command {
            Command::Start => self.feed(Input::Start).await?,
            Command::Stop => self.feed(Input::Stop).await?,
            Command::Logout => self.feed(Input::Logout).await?,
            Command::Restart => {
                if self.state.name().is_running() {
                    self.feed(Input::Stop).await?;
                }
                self.feed(Input::Start).await?;
            }
            Command::InjectFault(fault) => {
                let upstream = match (&mut self.upstream, self.state.name().is_running()) {
                    (Some(upstream), true) => upstream,
                    _ => {
                        return Err(DeviceError::InvalidState(InvalidTransition {
                            state: self.state.name(),
                            input: "inject_fault",
                        }))
                    }
                };
                upstream.inject_fault(fault).await?;
            }
            Command::Typing { chat_id, typing } => self.our_typing(chat_id, typing).await?,
            Command::Tell(action) => self.tell(&action).await?,
            Command::FindNumber { number, found } => {
                let _ = found.send(self.find_number(&number).await?);
            }
            Command::Webhook(reports) => self.webhook(reports).await?,
            Command::Shutdown => unreachable!("handled by the run loop"),
        }
        Ok(())
    }

    async fn upstream_event(&mut self, event: UpstreamEvent) {
        let input = match event {
            UpstreamEvent::Scanned {
                session,
                me,
                linked,
            } => {
                self.pending_link = Some((session, me));
                let accepted = self.feed(Input::Scanned).await.is_ok();
                if !accepted {
                    self.pending_link = None;
                }
                let _ = linked.send(accepted);
                return;
            }
            UpstreamEvent::ConnectionLost { reason } => Input::ConnectionLost { reason },
            UpstreamEvent::RemoteLogout => Input::RemoteLogout,
            UpstreamEvent::SessionChanged => {
                self.check_upstream().await;
                return;
            }
            UpstreamEvent::Inbound(first) => {
                let deferred = self.apply_inbound(first).await;
                if let Some(other) = deferred {
                    Box::pin(self.upstream_event(other)).await;
                }
                return;
            }
        };
        if let Err(ignored) = self.feed(input).await {
            tracing::debug!(device_id = %self.id, %ignored, "upstream event ignored");
        }
    }

    /// A verified webhook delivery: what it says about chats and messages is stored (in
    /// whatever state the device is, so nothing the upstream reported is lost), and a session
    /// change is looked into once the delivery has been answered.
    async fn webhook(&mut self, reports: Vec<Reported>) -> Result<(), DeviceError> {
        let mut inbound = Vec::new();
        let mut session_changed = false;
        for report in reports {
            match report {
                Reported::Inbound(item) => inbound.push(item),
                Reported::SessionChanged => session_changed = true,
            }
        }
        if !inbound.is_empty() {
            self.store_inbound(inbound).await?;
        }
        if session_changed
            && self
                .upstream_sender
                .try_send(UpstreamEvent::SessionChanged)
                .is_err()
        {
            // The regular check catches up with the change.
            tracing::warn!(device_id = %self.id, "upstream events are backed up; a session change waits for the next check");
        }
        Ok(())
    }

    /// Checks where the upstream session stands, and follows it if that changed. Only while
    /// the device is up: a disconnected device is reconnecting anyway.
    async fn check_upstream(&mut self) {
        let up = is_up(self.state.name());
        let Some(upstream) = self.upstream.as_mut().filter(|_| up) else {
            return;
        };
        let started = Instant::now();
        let input = match upstream.check().await {
            Ok(None) => {
                self.latency.measure(started);
                if self.state.name() == StateName::Ready {
                    if let Some(latency_ms) = self.latency.notable_change() {
                        self.journal(EventData::ConnectionStatus {
                            upstream: "connected",
                            latency_ms: Some(latency_ms),
                        })
                        .await;
                    }
                }
                None
            }
            Ok(Some(session)) => Some(self.session_input(session)),
            Err(error) => Some(failure_input(error)),
        };
        if let Some(input) = input {
            if let Err(ignored) = self.feed(input).await {
                tracing::debug!(device_id = %self.id, %ignored, "upstream session report ignored");
            }
        }
        if self.check_deadline.is_none() && is_up(self.state.name()) {
            self.arm_check();
        }
    }

    fn arm_check(&mut self) {
        let every = Duration::from_secs(self.context.settings.upstream.check_interval_secs);
        self.check_deadline = Some(Instant::now() + every);
    }

    /// The input a report of the upstream session means. A link is kept for the
    /// `SaveSession` effect that follows it.
    fn session_input(&mut self, session: Session) -> Input {
        match session {
            Session::Starting => Input::UpstreamStarting,
            Session::NeedsLinking => Input::NeedsLinking,
            Session::Linked { session, me } => {
                self.pending_link = Some((session, me));
                Input::SessionRestored
            }
            Session::Stopped => Input::UpstreamStopped,
            Session::Failed { reason } => Input::Fatal { reason },
        }
    }

    /// Passes an action to the upstream of a ready device. A failure that concerns the whole
    /// device (unreachable, credentials refused) also moves the device.
    async fn tell(&mut self, action: &Outbound) -> Result<(), DeviceError> {
        let (StateName::Ready, Some(upstream)) = (self.state.name(), self.upstream.as_mut()) else {
            return Ok(());
        };
        match upstream.tell(action).await {
            Ok(()) => Ok(()),
            Err(error) => Err(self.answered_with(error).await),
        }
    }

    async fn find_number(&mut self, number: &str) -> Result<Option<String>, DeviceError> {
        let (StateName::Ready, Some(upstream)) = (self.state.name(), self.upstream.as_mut()) else {
            return Err(DeviceError::NotReady);
        };
        match upstream.find_number(number).await {
            Ok(Some(mut chat_id)) => {
                // A number WhatsApp answers with a linked id for is that number's chat.
                self.linked_ids
                    .resolve(&mut chat_id, self.upstream.as_deref_mut())
                    .await;
                Ok(Some(chat_id))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(self.answered_with(error).await),
        }
    }

    /// An upstream that failed a request made for a caller: one that stopped answering or
    /// refuses our credentials also moves the device on (`disconnected`, `failed`), as the
    /// same failure in the relay would.
    async fn answered_with(&mut self, error: ConnectorError) -> DeviceError {
        if error.concerns_device() {
            let _ = self.feed(failure_input(error.clone())).await;
        }
        error.into()
    }

    /// Follows up a turn of the relay: more to send, or trouble with the upstream.
    async fn pumped(&mut self, pumped: Pumped) {
        if pumped.more {
            self.outbox.ring();
        }
        if let Some(error) = pumped.trouble {
            let _ = self.feed(failure_input(error)).await;
        }
    }

    /// Applies a report from the upstream together with every other one already waiting, in
    /// one write. Returns the first waiting event that is not a report, to handle next.
    async fn apply_inbound(&mut self, first: Inbound) -> Option<UpstreamEvent> {
        let mut batch = vec![first];
        let mut deferred = None;
        while batch.len() < INBOUND_BATCH {
            match self.upstream_events.try_recv() {
                Ok(UpstreamEvent::Inbound(item)) => batch.push(item),
                Ok(other) => {
                    deferred = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        if let Err(error) = self.store_inbound(batch).await {
            tracing::error!(device_id = %self.id, %error, "cannot store what the upstream reported");
        }
        deferred
    }

    /// Stores upstream reports in one write and follows the typing indicators they change.
    async fn store_inbound(&mut self, mut batch: Vec<Inbound>) -> Result<(), DeviceError> {
        self.linked_ids
            .resolve(batch.as_mut_slice(), self.upstream.as_deref_mut())
            .await;
        self.group_names
            .name_new_groups(&mut batch, self.upstream.as_deref_mut())
            .await;
        let (id, metrics) = (self.id.clone(), self.metrics.clone());
        let changes = self
            .context
            .store
            .write(move |tx| inbound::apply(tx, &id, &batch, &metrics))
            .await?;
        self.track_typing(changes);
        Ok(())
    }

    fn track_typing(&mut self, changes: Vec<TypingChange>) {
        for change in changes {
            let key = (change.chat_id, change.contact_id);
            if change.typing {
                self.typing.insert(key, Instant::now() + TYPING_EXPIRES);
            } else {
                self.typing.remove(&key);
            }
        }
    }

    /// Our side typing: journaled for the device's other clients, shown upstream, and stopped
    /// by itself after 25 s without a stop. Typing is of the moment: a start needs the device
    /// `ready`, while a stop is always taken (the upstream is told only while it is ready).
    async fn our_typing(&mut self, chat_id: String, typing: bool) -> Result<(), DeviceError> {
        let Some(me) = self.me.as_ref().map(|me| me.id.clone()) else {
            return Err(DeviceError::InvalidState(InvalidTransition {
                state: self.state.name(),
                input: "typing",
            }));
        };
        let ready = self.state.name() == StateName::Ready;
        if typing && !ready {
            return Err(DeviceError::NotReady);
        }
        let key = (chat_id.clone(), me.clone());
        let was_typing = self.typing.contains_key(&key);
        if typing {
            self.typing.insert(key, Instant::now() + TYPING_EXPIRES);
        } else {
            self.typing.remove(&key);
        }
        if was_typing != typing {
            self.journal_typing(&chat_id, &me, typing).await;
        }
        if !ready {
            return Ok(());
        }
        let latest_incoming = match typing {
            true => self.latest_incoming(&chat_id).await,
            false => None,
        };
        self.tell(&Outbound::Typing {
            chat_id,
            typing,
            latest_incoming,
        })
        .await
    }

    /// The upstream id of the newest message the other side sent in a chat.
    async fn latest_incoming(&self, chat_id: &str) -> Option<String> {
        let (id, chat_id) = (self.id.clone(), chat_id.to_owned());
        self.context
            .store
            .read(move |conn| store::messages::latest_incoming(conn, &id, &chat_id))
            .await
            .unwrap_or_else(|error| {
                tracing::error!(device_id = %self.id, %error, "cannot read the chat's latest message");
                None
            })
    }

    async fn journal_typing(&self, chat_id: &str, contact_id: &str, typing: bool) {
        let data = EventData::typing(chat_id.to_owned(), contact_id.to_owned(), typing);
        self.journal(data).await;
    }

    /// Journals one event of the device in a write of its own.
    async fn journal(&self, data: EventData) {
        let (id, name) = (self.id.clone(), data.name());
        let written = self
            .context
            .store
            .write(move |tx| tx.journal(&id, data).map(drop))
            .await;
        if let Err(error) = written {
            tracing::error!(device_id = %self.id, %error, event = name, "cannot journal an event");
        }
    }

    /// Ends the typing indicators whose stop never came. A contact's ends as if the upstream
    /// had said so (its presence back to `online`, with `contact:update`); ours is told to the
    /// upstream.
    async fn expire_typing(&mut self) {
        let now = Instant::now();
        let expired: Vec<_> = self
            .typing
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &expired {
            self.typing.remove(key);
        }
        let ours = self.me.as_ref().map(|me| me.id.clone());
        let (ours, theirs): (Vec<_>, Vec<_>) = expired
            .into_iter()
            .partition(|(_, contact_id)| ours.as_deref() == Some(contact_id.as_str()));
        for (chat_id, contact_id) in ours {
            self.journal_typing(&chat_id, &contact_id, false).await;
            let stop = Outbound::Typing {
                chat_id,
                typing: false,
                latest_incoming: None,
            };
            if let Err(error) = self.tell(&stop).await {
                tracing::debug!(device_id = %self.id, %error, "the upstream was not told typing stopped");
            }
        }
        let stops: Vec<_> = theirs
            .into_iter()
            .map(|(chat_id, contact_id)| Inbound::Typing {
                chat_id,
                contact_id,
                typing: false,
            })
            .collect();
        if stops.is_empty() {
            return;
        }
        if let Err(error) = self.store_inbound(stops).await {
            tracing::error!(device_id = %self.id, %error, "cannot end a contact's typing");
        }
    }

    async fn shut_down(&mut self) {
        if self.state.name().is_running() {
            if let Some(upstream) = self.upstream.as_mut() {
                upstream.close().await;
            }
            self.enter(
                DeviceState::Stopped {
                    reason: Some("shutdown".into()),
                },
                true,
            )
            .await;
        }
    }

    /// Applies an input and everything it leads to. Only the first input can be refused;
    /// follow-ups that no longer apply (a stop raced them) are dropped.
    async fn feed(&mut self, input: Input) -> Result<(), InvalidTransition> {
        let fed = self.feed_all(input).await;
        // A link that was reported but not saved (its input no longer applied) is stale.
        self.pending_link = None;
        fed
    }

    async fn feed_all(&mut self, input: Input) -> Result<(), InvalidTransition> {
        let mut queue = VecDeque::from([input]);
        let mut first = true;
        while let Some(input) = queue.pop_front() {
            match transition(&self.state, &input, &self.limits) {
                Ok((next, effects)) => {
                    let link = self.link_change(&effects);
                    let was_ready = self.state.name() == StateName::Ready;
                    self.enter_with(next, false, link).await;
                    for effect in effects {
                        if let Some(follow_up) = self.carry_out(effect).await {
                            queue.push_back(follow_up);
                        }
                    }
                    if let Some(trouble) = self.relay_after(was_ready).await {
                        queue.push_back(trouble);
                    }
                }
                Err(refused) if first => return Err(refused),
                Err(refused) => {
                    tracing::debug!(device_id = %self.id, %refused, "follow-up input dropped")
                }
            }
            first = false;
        }
        Ok(())
    }

    /// Pauses the relay when the device stops being ready, and sends what waited when it
    /// becomes ready. Returns the input an upstream found unusable on that first send means.
    async fn relay_after(&mut self, was_ready: bool) -> Option<Input> {
        let ready = self.state.name() == StateName::Ready;
        if was_ready && !ready {
            self.relay.pause();
        }
        if was_ready || !ready {
            return None;
        }
        let pumped = self.relay.resume(self.upstream.as_mut()?.as_mut()).await;
        if pumped.more {
            self.outbox.ring();
        }
        pumped.trouble.map(failure_input)
    }

    /// Moves to `next`: persists it and journals its events in one write. During a shutdown
    /// or a restart the device keeps wanting to run, so it comes back.
    async fn enter(&mut self, next: DeviceState, keep_wanting: bool) {
        self.enter_with(next, keep_wanting, None).await;
    }

    /// What a transition does to the saved link: a scan saves it, a logout wipes it. Applied
    /// in the same write as the state change, so no one sees `authenticated` or `logged_out`
    /// before the link matches it.
    fn link_change(&mut self, effects: &[Effect]) -> Option<Option<(Value, Me)>> {
        if effects.contains(&Effect::WipeSession) {
            self.session = None;
            self.me = None;
            return Some(None);
        }
        if effects.contains(&Effect::SaveSession) {
            let (session, me) = self.pending_link.take()?;
            self.session = Some(session.clone());
            self.me = Some(me.clone());
            return Some(Some((session, me)));
        }
        None
    }

    async fn enter_with(
        &mut self,
        next: DeviceState,
        keep_wanting: bool,
        link: Option<Option<(Value, Me)>>,
    ) {
        let previous = std::mem::replace(&mut self.state, next.clone());
        if next.name() != StateName::Qr {
            self.qr_deadline = None;
            self.qr.send_replace(None);
        }
        if next.name() != StateName::Disconnected {
            self.reconnect_deadline = None;
        }
        match is_up(next.name()) {
            true => self.arm_check(),
            false => self.check_deadline = None,
        }
        let id = self.id.clone();
        let me = self.me.clone();
        let entering_ready = next.name() == StateName::Ready;
        let leaving_ready = previous.name() == StateName::Ready && !entering_ready;
        let latency_ms = entering_ready.then(|| self.latency.report()).flatten();
        let written = self
            .context
            .store
            .write(move |tx| {
                let reason = next.reason().map(str::to_owned);
                tx.set_device_state(&id, next.name(), reason.as_deref(), keep_wanting)?;
                if let Some(link) = &link {
                    let (session, me) = link.as_ref().map(|(s, m)| (s, m)).unzip();
                    tx.set_device_session(&id, session, me)?;
                }
                tx.journal(
                    &id,
                    EventData::State {
                        state: next.name().as_str(),
                        previous: previous.name().as_str(),
                        reason: reason.clone(),
                    },
                )?;
                match &next {
                    DeviceState::Authenticated => {
                        tx.journal(&id, EventData::Authenticated {})?;
                    }
                    DeviceState::Ready => {
                        if let Some(me) = me {
                            tx.journal(&id, EventData::Ready { me })?;
                        }
                    }
                    DeviceState::Disconnected { reason, .. } => {
                        tx.journal(
                            &id,
                            EventData::Disconnected {
                                reason: reason.clone(),
                            },
                        )?;
                    }
                    _ => {}
                }
                // The upstream connection is up exactly while the device is ready.
                if entering_ready || leaving_ready {
                    let status = EventData::ConnectionStatus {
                        upstream: if entering_ready {
                            "connected"
                        } else {
                            "disconnected"
                        },
                        latency_ms,
                    };
                    tx.journal(&id, status)?;
                }
                Ok(())
            })
            .await;
        if let Err(error) = written {
            tracing::error!(device_id = %self.id, %error, "could not record a state change");
        }
        tracing::info!(device_id = %self.id, state = %self.state.name(), "device state");
    }

    /// Performs one effect; returns the input it leads to, if any.
    async fn carry_out(&mut self, effect: Effect) -> Option<Input> {
        match effect {
            Effect::OpenUpstream => {
                if matches!(
                    self.state,
                    DeviceState::Starting {
                        reconnect_attempt: 0
                    }
                ) || self.upstream.is_none()
                {
                    match self.build_upstream().await {
                        Ok(upstream) => self.upstream = Some(upstream),
                        Err(error) => {
                            return Some(Input::Fatal {
                                reason: error.to_string(),
                            })
                        }
                    }
                }
                let upstream = self.upstream.as_mut()?;
                let started = Instant::now();
                let opened = upstream.open(self.session.as_ref()).await;
                if opened.is_ok() {
                    self.latency.measure(started);
                }
                match opened {
                    // Still coming up: its status follows by webhook or the next check.
                    Ok(Session::Starting) => None,
                    Ok(session) => Some(self.session_input(session)),
                    Err(error) => Some(failure_input(error)),
                }
            }
            Effect::IssueQr { attempt, first } => {
                let qr_settings = &self.context.settings.qr;
                let ttl = Duration::from_secs(if first {
                    qr_settings.first_ttl_secs
                } else {
                    qr_settings.ttl_secs
                });
                let upstream = self.upstream.as_mut()?;
                match upstream.issue_qr(ttl).await {
                    Ok(text) => {
                        self.publish_qr(text, attempt, ttl).await;
                        None
                    }
                    Err(error) => Some(failure_input(error)),
                }
            }
            // Saving and wiping the link are part of the transition's own write (`link_change`).
            Effect::SaveSession | Effect::WipeSession => None,
            Effect::SyncUpstream => match self.upstream.as_mut()?.sync().await {
                Ok(mut directory) => {
                    self.linked_ids
                        .resolve(&mut directory, self.upstream.as_deref_mut())
                        .await;
                    let (id, metrics) = (self.id.clone(), self.metrics.clone());
                    let stored = self
                        .context
                        .store
                        .write(move |tx| inbound::apply_directory(tx, &id, &directory, &metrics))
                        .await;
                    match stored {
                        Ok(()) => Some(Input::Synced),
                        Err(error) => Some(Input::Fatal {
                            reason: format!("cannot store the upstream's chats: {error}"),
                        }),
                    }
                }
                Err(error) => Some(failure_input(error)),
            },
            // The reconnect attempt count lives in the state, which `ready` has already reset.
            Effect::ResetBackoff => None,
            Effect::ScheduleReconnect { attempt } => {
                let reconnect = &self.context.settings.reconnect;
                let delay = backoff::delay(
                    attempt,
                    Duration::from_millis(reconnect.initial_ms),
                    Duration::from_millis(reconnect.max_ms),
                    &mut rand::thread_rng(),
                );
                tracing::info!(device_id = %self.id, attempt, ?delay, "reconnecting after a delay");
                self.reconnect_deadline = Some(Instant::now() + delay);
                None
            }
            Effect::GiveUp => Some(Input::ReconnectsExhausted),
            Effect::CloseUpstream => {
                if let Some(upstream) = self.upstream.as_mut() {
                    upstream.close().await;
                }
                None
            }
            Effect::LogoutUpstream => {
                if let Some(upstream) = self.upstream.as_mut() {
                    upstream.logout().await;
                }
                None
            }
        }
    }

    async fn build_upstream(&self) -> Result<Box<dyn Upstream>, DeviceError> {
        let spec = definition(&stored(&self.context.store, &self.id).await?)?;
        spec.validate().map_err(DeviceError::Definition)?;
        self.context.connectors.upstream(
            &self.id,
            spec,
            self.upstream_sender.clone(),
            self.context.library(),
        )
    }

    async fn publish_qr(&mut self, text: String, attempt: u32, ttl: Duration) {
        let image = match qr::png_data_url(&text) {
            Ok(image) => image,
            Err(error) => {
                tracing::error!(device_id = %self.id, %error, "could not render the QR code");
                return;
            }
        };
        let expires_at = Utc::now() + ttl;
        let current = CurrentQr {
            qr: text.clone(),
            image: image.clone(),
            expires_at,
            attempt,
            max_attempts: self.limits.qr_max_attempts,
        };
        // The code is on show before its event goes out, so a client that asks for it on
        // hearing the event gets this code and not the one before.
        self.qr.send_replace(Some(current.clone()));
        let max_attempts = self.limits.qr_max_attempts;
        self.journal(EventData::Qr {
            qr: text,
            image,
            expires_at: rfc3339(expires_at),
            attempt,
            max_attempts,
        })
        .await;
        if self.context.print_qr {
            if let Ok(art) = qr::terminal(&current.qr) {
                println!(
                    "\nScan to link device `{}` (code {attempt}/{max_attempts}, or run `devicebridge pair {}`):\n{art}",
                    self.id, current.qr
                );
            }
        }
        // An upstream that rotates its codes says when a new one is due; otherwise the timer
        // is ours. For the former it is only a safety net, set with the first code, should the
        // upstream stop showing new ones: linking ends when all codes together would have.
        self.qr_deadline = match self.rotates_qr() {
            false => Some(Instant::now() + ttl),
            true => self
                .qr_deadline
                .or_else(|| Some(Instant::now() + self.context.settings.qr.window())),
        };
    }

    /// Whether the upstream rotates its pairing codes itself ([`Upstream::rotates_qr`]).
    fn rotates_qr(&self) -> bool {
        self.upstream.as_ref().is_some_and(|u| u.rotates_qr())
    }
}

/// Whether the device has (or is opening) a session with its upstream, which it checks on.
fn is_up(state: StateName) -> bool {
    matches!(
        state,
        StateName::Starting | StateName::Qr | StateName::Authenticated | StateName::Ready
    )
}

/// What an upstream failure means for the device: one that may pass (no answer, a server
/// error, throttling, a session restarting) is a lost connection, reconnected with backoff;
/// anything else needs a person.
fn failure_input(error: ConnectorError) -> Input {
    match error {
        ConnectorError::Unreachable(reason) => Input::ConnectionLost { reason },
        ConnectorError::Failing(_) => Input::ConnectionLost {
            reason: error.to_string(),
        },
        other => Input::Fatal {
            reason: other.to_string(),
        },
    }
}

/// Waits for a deadline, or forever if there is none.
async fn at(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
