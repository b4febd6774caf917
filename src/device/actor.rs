//! One task per device: the only place that does a device's I/O.
//!
//! The actor owns the device's [`DeviceState`] and its connector. Commands (from REST, the CLI
//! or Socket.IO, through a [`DeviceHandle`](super::DeviceHandle)), upstream events and timers
//! all become state machine inputs; it applies them one at a time, so there is never a race on
//! a device's state. Every transition is persisted and journaled in one write before anything
//! is emitted, then its effects are carried out, which may feed further inputs.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch, Mutex};
use tokio::time::{sleep_until, Instant};

use super::backoff;
use super::spec::{ConnectorKind, DeviceSpec};
use super::state::{transition, DeviceState, Effect, Input, InvalidTransition, Limits, StateName};
use super::{CurrentQr, DeviceError, DeviceId};
use crate::config::Settings;
use crate::connector::simulator::{Pairings, Simulator, SimulatorContext};
use crate::connector::{ConnectorError, Fault, Opened, Upstream, UpstreamEvent};
use crate::event::{rfc3339, EventData, Me};
use crate::qr;
use crate::store::{self, Store};

/// What a command asks of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Start,
    Stop,
    Restart,
    Logout,
    InjectFault(Fault),
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
    pub pairings: Pairings,
    /// Print each new QR code on the daemon's terminal.
    pub print_qr: bool,
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
    qr: watch::Sender<Option<CurrentQr>>,
}

impl Actor {
    /// Loads the device from the store; `None` if it no longer exists.
    pub async fn load(
        context: ActorContext,
        id: DeviceId,
        qr: watch::Sender<Option<CurrentQr>>,
    ) -> Result<Option<(Actor, bool)>, DeviceError> {
        let lookup = id.clone();
        let Some(record) = context
            .store
            .read(move |conn| store::devices::get(conn, &lookup))
            .await?
        else {
            return Ok(None);
        };
        let (upstream_sender, upstream_events) = mpsc::channel(64);
        let limits = Limits {
            qr_max_attempts: context.settings.qr.max_attempts,
            reconnect_max_attempts: context.settings.reconnect.max_attempts,
        };
        let actor = Actor {
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
            qr,
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
                    if command == Command::Shutdown {
                        self.shut_down().await;
                        let _ = reply.send(Ok(()));
                        break;
                    }
                    let result = self.command(command).await;
                    let _ = reply.send(result);
                }
                Some(event) = self.upstream_events.recv() => self.upstream_event(event).await,
                _ = at(self.qr_deadline) => {
                    self.qr_deadline = None;
                    let _ = self.feed(Input::QrExpired).await;
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
        };
        if let Err(ignored) = self.feed(input).await {
            tracing::debug!(device_id = %self.id, %ignored, "upstream event ignored");
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
        let mut queue = VecDeque::from([input]);
        let mut first = true;
        while let Some(input) = queue.pop_front() {
            match transition(&self.state, &input, &self.limits) {
                Ok((next, effects)) => {
                    let link = self.link_change(&effects);
                    self.enter_with(next, false, link).await;
                    for effect in effects {
                        if let Some(follow_up) = self.carry_out(effect).await {
                            queue.push_back(follow_up);
                        }
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
        let id = self.id.clone();
        let me = self.me.clone();
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
                        tx.journal(
                            &id,
                            EventData::ConnectionStatus {
                                upstream: "connected",
                                latency_ms: None,
                            },
                        )?;
                    }
                    DeviceState::Disconnected { reason, .. } => {
                        tx.journal(
                            &id,
                            EventData::Disconnected {
                                reason: reason.clone(),
                            },
                        )?;
                        tx.journal(
                            &id,
                            EventData::ConnectionStatus {
                                upstream: "disconnected",
                                latency_ms: None,
                            },
                        )?;
                    }
                    _ => {}
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
                match upstream.open(self.session.as_ref()).await {
                    Ok(Opened::NeedsLinking) => Some(Input::NeedsLinking),
                    Ok(Opened::Restored { me }) => {
                        self.me = Some(me);
                        Some(Input::SessionRestored)
                    }
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
                Ok(()) => Some(Input::Synced),
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
        let id = self.id.clone();
        let record = self
            .context
            .store
            .read(move |conn| store::devices::get(conn, &id))
            .await?
            .ok_or(DeviceError::NotFound)?;
        let spec: DeviceSpec = serde_json::from_value(record.settings)
            .map_err(|e| DeviceError::Definition(e.to_string()))?;
        Ok(match spec.connector {
            ConnectorKind::Simulator => Box::new(Simulator::new(SimulatorContext {
                device: self.id.clone(),
                device_name: spec.name,
                spec: spec.simulator,
                public_url: self.context.settings.server.public_url.clone(),
                pairings: self.context.pairings.clone(),
                events: self.upstream_sender.clone(),
            })),
        })
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
        let id = self.id.clone();
        let max_attempts = self.limits.qr_max_attempts;
        let journaled = self
            .context
            .store
            .write(move |tx| {
                tx.journal(
                    &id,
                    EventData::Qr {
                        qr: text,
                        image,
                        expires_at: rfc3339(expires_at),
                        attempt,
                        max_attempts,
                    },
                )
            })
            .await;
        if let Err(error) = journaled {
            tracing::error!(device_id = %self.id, %error, "could not journal a QR code");
        }
        if self.context.print_qr {
            if let Ok(art) = qr::terminal(&current.qr) {
                println!(
                    "\nScan to link device `{}` (code {attempt}/{max_attempts}, or run `devicebridge pair {}`):\n{art}",
                    self.id, current.qr
                );
            }
        }
        self.qr_deadline = Some(Instant::now() + ttl);
        self.qr.send_replace(Some(current));
    }
}

fn failure_input(error: ConnectorError) -> Input {
    match error {
        ConnectorError::Unreachable(reason) => Input::ConnectionLost { reason },
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
