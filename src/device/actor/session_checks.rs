//! The checks on the upstream session while the device is up: every
//! `watchdog.probe_secs`, and at once when a webhook says it changed. They notice an
//! upstream that stopped answering or a status change whose webhook was lost, and they measure
//! the upstream's round trips for `connection:status`.
//!
//! A check is the connector's cheap probe (SPEC §12). While the device is `ready`, a probe
//! that fails in a way that may pass (no answer, a server error, throttling) only counts: one
//! such answer is as likely a blip of the network or a busy upstream as a broken session, and
//! restarting a working session for it costs a reconnect and resends. The watchdog stalls the
//! session when the next probe, `probe_secs` later, fails too. A failure that needs a person
//! (refused credentials, a failed session) acts at once, as does any failure of a device not
//! yet `ready`, which is still opening its session and retries that with backoff anyway.

use std::time::Duration;

use tokio::time::Instant;

use super::{failure_input, is_up, may_pass, Actor};
use crate::device::state::Input;
use crate::model::event::ConnectionStatus;
use crate::model::{event::EventData, upstream::Session, StateName};

impl Actor {
    /// Checks where the upstream session stands, and follows it if that changed. Only while
    /// the device is up: a disconnected device is reconnecting anyway.
    pub(super) async fn check_upstream(&mut self) {
        let up = is_up(self.state.name());
        let Some(upstream) = self.upstream.as_mut().filter(|_| up) else {
            return;
        };
        let started = Instant::now();
        let checked = upstream.check().await;
        let answered = checked.is_ok();
        let input = match checked {
            Ok(None) => {
                self.latency.measure(started);
                if self.state.name() == StateName::Ready {
                    if let Some(latency_ms) = self.latency.notable_change() {
                        self.journal(EventData::ConnectionStatus(ConnectionStatus {
                            upstream: "connected",
                            latency_ms: Some(latency_ms),
                        }))
                        .await;
                    }
                }
                None
            }
            Ok(Some(session)) => Some(self.session_input(session)),
            Err(error) if self.state.name() == StateName::Ready && may_pass(&error) => {
                tracing::warn!(device_id = %self.id, %error, "the upstream failed its probe; a second failure in a row restarts the session");
                None
            }
            Err(error) => Some(failure_input(error)),
        };
        if let Some(input) = input {
            if let Err(ignored) = self.feed(input).await {
                tracing::debug!(device_id = %self.id, %ignored, "upstream session report ignored");
            }
        }
        self.watch(answered).await;
        if self.check_deadline.is_none() && is_up(self.state.name()) {
            self.arm_check();
        }
    }

    pub(super) fn arm_check(&mut self) {
        let every = Duration::from_secs(self.context.settings.watchdog.probe_secs);
        self.check_deadline = Some(Instant::now() + every);
    }

    /// The input a report of the upstream session means. A link is kept for the
    /// `SaveSession` effect that follows it.
    pub(super) fn session_input(&mut self, session: Session) -> Input {
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
}
