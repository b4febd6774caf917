//! The effects a move of the state machine asks for, carried out: opening, syncing, closing and
//! logging out of the upstream, issuing pairing codes, and scheduling reconnects with backoff.
//! Each may lead to a further input, which the caller feeds back into the machine.

use std::time::Duration;

use tokio::time::Instant;

use super::{failure_input, Actor};
use crate::device::state::{DeviceState, Effect, Input};
use crate::device::upstream::Upstream;
use crate::device::{definition, stored, DeviceError};
use crate::messaging::inbound;
use crate::model::upstream::Session;

impl Actor {
    /// Performs one effect; returns the input it leads to, if any.
    pub(super) async fn carry_out(&mut self, effect: Effect) -> Option<Input> {
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
                let delay = self.reconnect_wait(attempt).await;
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

    /// Builds the upstream from the device's definition as stored now, and takes the
    /// definition's linking settings with it: a change made since the last start applies.
    async fn build_upstream(&mut self) -> Result<Box<dyn Upstream>, DeviceError> {
        let spec = definition(&stored(&self.context.store, &self.id).await?)?;
        spec.validate().map_err(DeviceError::Definition)?;
        self.limits.qr_keep_offering = spec.qr.keep_offering;
        self.filters = spec.filters;
        self.context.connectors.upstream(
            &self.id,
            spec,
            self.upstream_sender.clone(),
            self.context.library(),
        )
    }
}
