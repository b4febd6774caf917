//! How the device moves: inputs go through the pure state machine, each move is persisted and
//! journaled in one write (with the saved link it changes), and only then are its effects
//! carried out and the relay paused or resumed. This is the one path by which a device's state
//! changes.

use std::collections::VecDeque;

use serde_json::Value;

use super::{failure_input, is_up, Actor};
use crate::device::governor;
use crate::device::state::{transition, DeviceState, Effect, Input, InvalidTransition};
use crate::model::event::{Authenticated, ConnectionStatus, Disconnected, Ready, StateChange};
use crate::model::{
    event::{EventData, Me},
    StateName,
};

impl Actor {
    /// Applies an input and everything it leads to. Only the first input can be refused;
    /// follow-ups that no longer apply (a stop raced them) are dropped.
    pub(super) async fn feed(&mut self, input: Input) -> Result<(), InvalidTransition> {
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
        self.bell.set_sending(ready);
        if was_ready && !ready {
            self.left_ready();
            self.relay.pause();
        }
        if was_ready || !ready {
            return None;
        }
        self.back_up().await;
        let pumped = self.relay.resume(self.upstream.as_mut()?.as_mut()).await;
        if pumped.more {
            self.bell.ring();
        }
        pumped.trouble.map(failure_input)
    }

    /// Moves to `next`: persists it and journals its events in one write. During a shutdown
    /// or a restart the device keeps wanting to run, so it comes back.
    pub(super) async fn enter(&mut self, next: DeviceState, keep_wanting: bool) {
        self.enter_with(next, keep_wanting, None).await;
    }

    /// What a transition does to the saved link: a scan saves it, a logout wipes it. Applied
    /// in the same write as the state change, so no one sees `authenticated` or `logged_out`
    /// before the link matches it.
    fn link_change(&mut self, effects: &[Effect]) -> Option<Option<(Value, Me)>> {
        if effects.contains(&Effect::WipeSession) {
            self.session = None;
            self.me.send_replace(None);
            return Some(None);
        }
        if effects.contains(&Effect::SaveSession) {
            let (session, me) = self.pending_link.take()?;
            if self.session.is_none() {
                // A new link, not one restored: the account's warm-up starts.
                self.relay
                    .governor()
                    .linked(chrono::Utc::now().timestamp_millis());
            }
            self.session = Some(session.clone());
            self.me.send_replace(Some(me.clone()));
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
        let previous_name = previous.name();
        if next.name() != StateName::Qr {
            self.qr_deadline = None;
            self.linking_hold = None;
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
        let me = self.me.borrow().clone();
        let entering_ready = next.name() == StateName::Ready;
        let leaving_ready = previous.name() == StateName::Ready && !entering_ready;
        let latency_ms = entering_ready.then(|| self.latency.report()).flatten();
        let ledger = self.relay.governor().take_changed();
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
                governor::record(tx, &id, ledger.as_ref(), Vec::new())?;
                tx.journal(
                    &id,
                    EventData::State(StateChange {
                        state: next.name().as_str(),
                        previous: previous.name().as_str(),
                        reason: reason.clone(),
                    }),
                )?;
                match &next {
                    DeviceState::Authenticated => {
                        tx.journal(&id, EventData::Authenticated(Authenticated {}))?;
                    }
                    DeviceState::Ready => {
                        if let Some(me) = me {
                            tx.journal(&id, EventData::Ready(Ready { me }))?;
                        }
                    }
                    DeviceState::Disconnected { reason, .. } => {
                        tx.journal(
                            &id,
                            EventData::Disconnected(Disconnected {
                                reason: reason.clone(),
                            }),
                        )?;
                    }
                    _ => {}
                }
                // The upstream connection is up exactly while the device is ready.
                if entering_ready || leaving_ready {
                    let status = EventData::ConnectionStatus(ConnectionStatus {
                        upstream: if entering_ready {
                            "connected"
                        } else {
                            "disconnected"
                        },
                        latency_ms,
                    });
                    tx.journal(&id, status)?;
                }
                Ok(())
            })
            .await;
        if let Err(error) = written {
            tracing::error!(device_id = %self.id, %error, "could not record a state change");
        }
        self.log_state(previous_name);
    }

    /// Logs the state entered, with the reason it carries (why a device stopped, failed or
    /// lost its connection) so that the line alone says it. A new code shown in state `qr` is
    /// no change of state for a reader of the log, and is logged at debug level: a device that
    /// keeps offering codes would otherwise write a line every few seconds, between the codes
    /// drawn on the console.
    fn log_state(&self, previous: StateName) {
        let (id, state) = (&self.id, self.state.name());
        match (self.state.reason(), previous == state) {
            (Some(reason), _) => tracing::info!(device_id = %id, %state, %reason, "device state"),
            (None, false) => tracing::info!(device_id = %id, %state, "device state"),
            (None, true) => tracing::debug!(device_id = %id, %state, "device state"),
        }
    }
}
