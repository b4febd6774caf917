//! Durable, signed webhooks (SPEC §7.1).
//!
//! Deliveries are written to the outbox by the store, in the transaction of their event (see
//! `store::webhooks`). This worker only sends them: it takes the head of every (subscription,
//! device) line whose time has come, POSTs it with Standard Webhooks headers, and records the
//! outcome. A failed attempt is retried with exponential backoff and full jitter until the
//! delivery's retry window is over; a `410 Gone` disables the subscription. Because the outbox
//! is the only state, a restart (or `kill -9`) resumes exactly where the last commit left off:
//! an attempt that was in flight is sent again with the same `webhook-id` (at least once).

pub mod address;
pub mod signing;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinSet;
use url::Url;

use crate::backoff;
use crate::bus::EventBus;
use crate::config::{Settings, WebhookSubscriptionSetting};
use crate::metrics::Metrics;
use crate::model::event::{EventPattern, JournaledEvent};
use crate::store::webhooks::{
    self as outbox, Attempt, DeliveryStatus, Head, WebhookRecord, WebhookSource,
};
use crate::store::{cluster, Store, StoreError};
use signing::Secret;

/// How long the worker sleeps when nothing is due: it is woken earlier by any event, replay or
/// subscription change.
const IDLE: Duration = Duration::from_secs(60);
/// How much longer than an attempt's timeout a node's claim on a delivery lasts: time to
/// record the attempt's outcome.
const CLAIM_MARGIN_MS: u64 = 30_000;

/// Reads an `events` list: `*` or known event names, at least one.
pub fn parse_events(events: &[String]) -> Result<Vec<EventPattern>, String> {
    if events.is_empty() {
        return Err("must list event names or \"*\"".into());
    }
    events
        .iter()
        .map(|name| EventPattern::parse(name).map_err(|unknown| unknown.to_string()))
        .collect()
}

/// The id of a subscription declared in the configuration.
pub fn configured_id(name: &str) -> String {
    format!("cfg_{name}")
}

/// The webhook sender: a handle that wakes the worker.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
    wake: Notify,
    /// In a cluster, this node's id: each node's sender claims a delivery before its attempt.
    node: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

impl Webhooks {
    /// The sender; `node` is this node's id in a cluster, whose senders claim each delivery.
    pub fn new(
        store: Store,
        settings: Arc<Settings>,
        metrics: Arc<Metrics>,
        node: Option<String>,
    ) -> Result<Self, SenderError> {
        let config = &settings.webhooks;
        let mut client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("devicebridge/", env!("CARGO_PKG_VERSION")));
        if !config.allow_private {
            client = client.dns_resolver(address::PublicOnly::resolver());
        }
        Ok(Webhooks {
            inner: Arc::new(Inner {
                store,
                client: client.build()?,
                settings,
                metrics,
                wake: Notify::new(),
                node,
            }),
        })
    }

    /// Makes the store's subscriptions from the configuration match `webhooks.subscriptions`:
    /// new ones are added (enabled), changed ones updated (keeping whether they are enabled),
    /// removed ones deleted with their log.
    pub async fn sync_configured(&self) -> Result<(), StoreError> {
        let declared: Vec<WebhookSubscriptionSetting> =
            self.inner.settings.webhooks.subscriptions.clone();
        self.inner
            .store
            .write(move |tx| {
                let now = Utc::now();
                for existing in outbox::list(tx.conn())? {
                    let kept = declared
                        .iter()
                        .any(|entry| configured_id(&entry.name) == existing.id);
                    if existing.source == WebhookSource::Config && !kept {
                        tx.delete_webhook(&existing.id)?;
                    }
                }
                for entry in declared {
                    tx.upsert_webhook(&WebhookRecord {
                        id: configured_id(&entry.name),
                        url: entry.url,
                        // Checked with the rest of the configuration at load time.
                        events: entry.events.into_iter().map(EventPattern::stored).collect(),
                        devices: entry.devices,
                        secret: entry.secret,
                        enabled: true,
                        source: WebhookSource::Config,
                        disabled_reason: None,
                        created_at: now,
                        updated_at: now,
                    })?;
                }
                Ok(())
            })
            .await
    }

    /// Looks at the subscriptions and the outbox again now: every change of a subscription and
    /// every replay must call this, or the sender would go on routing by what it knew.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Runs the sender until `stop` fires; it then starts no attempt and waits for those in
    /// flight. An attempt cut short (the daemon gives up waiting) is sent again after the next
    /// start.
    pub async fn run(self, bus: &EventBus, stop: CancellationToken) {
        let events = bus.subscribe();
        self.dispatch(events, stop).await
    }

    /// The sender's loop. It looks at the outbox when something may have changed there: an
    /// event that an enabled subscription selects, an attempt that ended, a wake-up (replay,
    /// subscription change), or the time of the earliest retry. Events no subscription wants
    /// cost no read at all.
    async fn dispatch(
        self,
        mut events: broadcast::Receiver<Arc<JournaledEvent>>,
        stop: CancellationToken,
    ) {
        let concurrency = self.inner.settings.webhooks.concurrency;
        let mut in_flight: HashSet<(String, String)> = HashSet::new();
        let mut attempts: JoinSet<(String, String)> = JoinSet::new();
        let mut subscriptions: Vec<WebhookRecord> = Vec::new();
        let mut next_due: Option<DateTime<Utc>> = None;
        let (mut look, mut stale, mut listening) = (true, true, true);
        loop {
            if stale {
                match self.inner.store.read(outbox::list).await {
                    Ok(list) => subscriptions = list,
                    Err(error) => tracing::error!(%error, "cannot read the webhook subscriptions"),
                }
                stale = false;
            }
            if look {
                next_due = None;
                match self.inner.store.read(outbox::heads).await {
                    Ok(heads) => {
                        let now = Utc::now();
                        for head in heads {
                            let line = (
                                head.delivery.webhook_id.clone(),
                                head.delivery.device_id.clone(),
                            );
                            if in_flight.contains(&line) || in_flight.len() >= concurrency {
                                continue;
                            }
                            let due = head.delivery.next_attempt_at;
                            if due > now {
                                next_due = Some(next_due.map_or(due, |next| next.min(due)));
                                continue;
                            }
                            if !self.inner.claim(&head).await {
                                continue;
                            }
                            in_flight.insert(line.clone());
                            let inner = self.inner.clone();
                            attempts.spawn(async move {
                                inner.attempt(head).await;
                                line
                            });
                        }
                    }
                    Err(error) => tracing::error!(%error, "cannot read the webhook outbox"),
                }
                look = false;
            }
            // A retry whose time has passed meanwhile is due now, not in `IDLE`.
            let idle = next_due
                .map(|due| (due - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(IDLE)
                .min(IDLE);
            tokio::select! {
                _ = stop.cancelled() => {
                    while attempts.join_next().await.is_some() {}
                    return;
                }
                _ = self.inner.wake.notified() => {
                    (look, stale) = (true, true);
                }
                received = events.recv(), if listening => {
                    let wanted = |event: &JournaledEvent| subscriptions.iter().any(|s| s.selects(event));
                    match received {
                        Ok(event) => look |= wanted(&event),
                        Err(broadcast::error::RecvError::Lagged(_)) => look = true,
                        Err(broadcast::error::RecvError::Closed) => listening = false,
                    }
                    // A burst of events needs one look at the outbox, not one per event.
                    while let Ok(event) = events.try_recv() {
                        look |= wanted(&event);
                    }
                }
                Some(done) = attempts.join_next() => {
                    // The attempt may have disabled its subscription (410).
                    (look, stale) = (true, true);
                    match done {
                        Ok(line) => {
                            in_flight.remove(&line);
                        }
                        Err(error) => {
                            tracing::error!(%error, "a webhook attempt crashed");
                            in_flight.clear();
                            attempts.abort_all();
                        }
                    }
                }
                _ = tokio::time::sleep(idle) => look = true,
            }
        }
    }
}

/// Why an attempt did not deliver.
enum Failure {
    /// The receiver answered `410 Gone`: it wants no more deliveries.
    Gone,
    /// Anything else; worth another try.
    Transient {
        status_code: Option<u16>,
        error: String,
    },
}

impl Inner {
    /// In a cluster, claims the delivery for this node (see [`cluster::claim_delivery`]) for
    /// as long as an attempt and its record may take; whether this node may attempt it. The
    /// nodes' senders all look at the same heads: one attempts each, and the order per
    /// subscription and device holds, as only the oldest outstanding delivery is a head.
    async fn claim(&self, head: &Head) -> bool {
        let Some(node) = self.node.clone() else {
            return true;
        };
        let delivery = head.delivery.id.clone();
        let hold_ms = (self.settings.webhooks.timeout_secs * 1_000 + CLAIM_MARGIN_MS) as i64;
        let claimed = self
            .store
            .coordinate(move |conn| cluster::claim_delivery(conn, &delivery, &node, hold_ms))
            .await;
        claimed.unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot claim a webhook delivery");
            false
        })
    }

    /// Sends one delivery and records what came of it.
    async fn attempt(&self, head: Head) {
        let delivery = &head.delivery;
        let attempt_number = delivery.attempts + 1;
        let now = Utc::now();
        let config = &self.settings.webhooks;
        let (attempt, disable) = match self.send(&head).await {
            Ok(status_code) => {
                let taken = Utc::now() - delivery.scheduled_at;
                let latency = &self.metrics.webhook_delivery_latency;
                latency.observe_duration(taken.to_std().unwrap_or_default());
                self.metrics.webhook_deliveries.inc("ok");
                let attempt = Attempt {
                    status: DeliveryStatus::Delivered,
                    status_code: Some(status_code),
                    error: None,
                    next_attempt_at: now,
                };
                (attempt, false)
            }
            Err(Failure::Gone) => {
                self.metrics.webhook_deliveries.inc("failed");
                tracing::warn!(webhook_id = %delivery.webhook_id, "the receiver answered 410 Gone; the subscription is disabled");
                let attempt = Attempt {
                    status: DeliveryStatus::Failed,
                    status_code: Some(410),
                    error: Some("the receiver answered 410 Gone".into()),
                    next_attempt_at: now,
                };
                (attempt, true)
            }
            Err(Failure::Transient { status_code, error }) => {
                let delay = backoff::delay(
                    attempt_number,
                    Duration::from_millis(config.retry_initial_ms),
                    Duration::from_millis(config.retry_max_ms),
                    &mut rand::thread_rng(),
                );
                let next = now + chrono::Duration::from_std(delay).unwrap_or_default();
                let window_ends = delivery.scheduled_at
                    + chrono::Duration::seconds(config.retry_window_secs as i64);
                let status = if next <= window_ends {
                    self.metrics.webhook_deliveries.inc("retrying");
                    DeliveryStatus::Retrying
                } else {
                    self.metrics.webhook_deliveries.inc("failed");
                    tracing::warn!(webhook_id = %delivery.webhook_id, delivery_id = %delivery.id, %error, "webhook delivery given up");
                    DeliveryStatus::Failed
                };
                tracing::debug!(webhook_id = %delivery.webhook_id, delivery_id = %delivery.id, attempt = attempt_number, %error, "webhook attempt failed");
                let attempt = Attempt {
                    status,
                    status_code,
                    error: Some(error),
                    next_attempt_at: next,
                };
                (attempt, false)
            }
        };
        let (attempted, webhook) = (delivery.clone(), delivery.webhook_id.clone());
        let recorded = self
            .store
            .write(move |tx| {
                if !tx.record_attempt(&attempted, &attempt)? {
                    tracing::debug!(delivery_id = %attempted.id, "replayed during its attempt: sent again");
                }
                if disable {
                    tx.set_webhook_enabled(
                        &webhook,
                        false,
                        Some("the receiver answered 410 Gone"),
                    )?;
                }
                Ok(())
            })
            .await;
        if let Err(error) = recorded {
            // An outage of the storage is logged once, by the store.
            if !error.is_unwritable() {
                tracing::error!(%error, "cannot record a webhook attempt");
            }
            // The outbox still has the delivery due: ending the attempt now would have it sent
            // again at once, and again, as fast as the receiver answers, for as long as the
            // store cannot write. Its line waits the first retry's delay instead.
            tokio::time::sleep(Duration::from_millis(config.retry_initial_ms)).await;
        }
    }

    /// POSTs the delivery; the status code on a 2xx answer.
    async fn send(&self, head: &Head) -> Result<u16, Failure> {
        let transient = |error: String| Failure::Transient {
            status_code: None,
            error,
        };
        let url = Url::parse(&head.url).map_err(|e| transient(format!("invalid URL: {e}")))?;
        if !self.settings.webhooks.allow_private {
            address::check_literal(&url).map_err(|e| transient(e.to_string()))?;
        }
        let secret = Secret::parse(&head.secret)
            .map_err(|e| transient(format!("the subscription's secret is unusable: {e}")))?;
        let delivery = &head.delivery;
        let timestamp = Utc::now().timestamp();
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                secret.sign(&delivery.id, timestamp, &delivery.body),
            )
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|e| transient(describe(&e)))?;
        let status = response.status();
        match status.as_u16() {
            code if status.is_success() => Ok(code),
            410 => Err(Failure::Gone),
            code => Err(Failure::Transient {
                status_code: Some(code),
                error: format!("the receiver answered {status}"),
            }),
        }
    }
}

/// An HTTP error with its causes, without the URL (it may carry credentials).
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else {
        "cannot reach the receiver".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
