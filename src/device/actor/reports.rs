//! What the upstream reports: its events (a scan, a lost connection, a logout, chats and
//! messages) and the verified webhook deliveries that carry the same. Reports that arrive
//! together are stored in one write, which is why they have a place of their own.

use super::Actor;
use crate::device::state::Input;
use crate::device::upstream::{Settle, UpstreamEvent};
use crate::device::DeviceError;
use crate::messaging::inbound;
use crate::model::{inbound::Inbound, upstream::Reported};
use crate::store::{StoreResult, Tx};

/// Most upstream reports applied in one write.
const INBOUND_BATCH: usize = 512;

impl Actor {
    pub(super) async fn upstream_event(&mut self, event: UpstreamEvent) {
        self.heard_upstream();
        let input = match event {
            UpstreamEvent::Scanned {
                session,
                me,
                linked,
            } => {
                self.pending_link = Some((*session, *me));
                let accepted = self.feed(Input::Scanned).await.is_ok();
                tracing::debug!(device_id = %self.id, accepted, "the scan of a pairing code is answered");
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
            UpstreamEvent::Inbound(first) => return self.report(*first, None).await,
            UpstreamEvent::Owed { report, settle } => {
                return self.report(*report, Some(settle)).await
            }
        };
        if let Err(ignored) = self.feed(input).await {
            tracing::debug!(device_id = %self.id, %ignored, "upstream event ignored");
        }
    }

    /// A verified webhook delivery: what it says about chats and messages is stored (in
    /// whatever state the device is, so nothing the upstream reported is lost), and a session
    /// change is looked into once the delivery has been answered.
    pub(super) async fn webhook(&mut self, reports: Vec<Reported>) -> Result<(), DeviceError> {
        let mut inbound = Vec::new();
        let mut session_changed = false;
        for report in reports {
            match report {
                Reported::Inbound(item) => inbound.push(item),
                Reported::SessionChanged => session_changed = true,
                Reported::Restrictions(restrictions) => self.restricted(restrictions).await,
            }
        }
        self.group_echoes.drop_echoes(&mut inbound);
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

    /// Applies a report from the upstream (with what settles it, if it was owed) and handles
    /// the event that came after the reports waiting with it.
    async fn report(&mut self, first: Inbound, settle: Option<Settle>) {
        let deferred = self.apply_inbound(first, settle).await;
        if let Some(other) = deferred {
            Box::pin(self.upstream_event(other)).await;
        }
    }

    /// Applies a report from the upstream together with every other one already waiting, in
    /// one write. Returns the first waiting event that is not a report, to handle next.
    async fn apply_inbound(
        &mut self,
        first: Inbound,
        settle: Option<Settle>,
    ) -> Option<UpstreamEvent> {
        let mut batch = Reports::default();
        batch.push(first, settle);
        let mut deferred = None;
        while batch.items.len() < INBOUND_BATCH {
            match self.upstream_events.try_recv() {
                Ok(UpstreamEvent::Inbound(item)) => batch.push(*item, None),
                Ok(UpstreamEvent::Owed { report, settle }) => batch.push(*report, Some(settle)),
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
    pub(super) async fn store_inbound(
        &mut self,
        batch: impl Into<Reports>,
    ) -> Result<(), DeviceError> {
        let mut batch = batch.into();
        self.linked_ids
            .resolve(batch.items.as_mut_slice(), self.upstream.as_deref_mut())
            .await;
        self.group_names
            .name_new_groups(&mut batch.items, self.upstream.as_deref_mut())
            .await;
        let (id, metrics, filters) = (self.id.clone(), self.metrics.clone(), self.filters);
        let changes = self
            .context
            .store
            .write(move |tx| {
                let items = batch.still_owed(tx)?;
                inbound::apply(tx, &id, &items, &filters, &metrics)
            })
            .await?;
        self.track_typing(changes);
        Ok(())
    }
}

/// Upstream reports stored together, with what settles those the upstream owed.
#[derive(Default)]
pub(super) struct Reports {
    items: Vec<Inbound>,
    /// Each owed report's place in `items`, and what settles it.
    settles: Vec<(usize, Settle)>,
}

impl From<Vec<Inbound>> for Reports {
    fn from(items: Vec<Inbound>) -> Self {
        Self {
            items,
            settles: Vec::new(),
        }
    }
}

impl Reports {
    fn push(&mut self, item: Inbound, settle: Option<Settle>) {
        if let Some(settle) = settle {
            self.settles.push((self.items.len(), settle));
        }
        self.items.push(item);
    }

    /// Settles the owed reports in the write that stores them, in the order they came (all
    /// marked first, then each read, [`Settle`]), and returns the reports to store: all but
    /// the owed ones that were no longer owed.
    fn still_owed(self, tx: &mut Tx<'_>) -> StoreResult<Vec<Inbound>> {
        let mut keep = vec![true; self.items.len()];
        let mut marked = Vec::with_capacity(self.settles.len());
        for (index, settle) in self.settles {
            marked.push((index, settle.mark(tx)?));
        }
        for (index, marked) in marked {
            keep[index] = marked.still_owed(tx)?;
        }
        Ok(self
            .items
            .into_iter()
            .zip(keep)
            .filter_map(|(item, keep)| keep.then_some(item))
            .collect())
    }
}
