//! Webhook subscriptions and their durable outbox.
//!
//! A delivery row is written by [`Tx::journal`] in the same transaction as its event, for every
//! enabled subscription that selects the event, so a committed event always has its deliveries
//! and `kill -9` cannot fall between the two. The writer keeps the subscriptions it routes by in
//! memory ([`Routes`]) and reloads them after any write that changed them.

use super::page::page;
use super::sql::{params, Conn, Row};
use super::{StoreResult, Tx};
use crate::model::{
    event::{EventPattern, JournaledEvent},
    rfc3339, Page,
};
use chrono::{DateTime, Utc};

/// Where a subscription was declared: the configuration owns its definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename_all = "lowercase"))]
#[schema(rename_all = "lowercase")]
pub enum WebhookSource {
    Config,
    Api,
}

impl WebhookSource {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookSource::Config => "config",
            WebhookSource::Api => "api",
        }
    }
}

/// A subscription (SPEC §7.1).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    pub id: String,
    pub url: String,
    /// Event names, or `*` for all.
    pub events: Vec<EventPattern>,
    /// Device ids, or `*` for all.
    pub devices: Vec<String>,
    /// `whsec_` + base64 of the signing key.
    pub secret: String,
    pub enabled: bool,
    pub source: WebhookSource,
    /// Why the daemon disabled it (a `410 Gone`), if it did.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WebhookRecord {
    /// Whether this subscription wants `event`.
    pub fn selects(&self, event: &JournaledEvent) -> bool {
        self.enabled && event.selected_by(&self.events, &self.devices)
    }
}

const WEBHOOK_COLUMNS: &str =
    "id, url, events, devices, secret, enabled, source, disabled_reason, created_at, updated_at";

/// The list of names in column `index`, stored as a JSON array.
pub(super) fn list_column(row: &Row<'_>, index: usize) -> StoreResult<Vec<String>> {
    let text: String = row.get(index)?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

/// The time in column `index`, stored as RFC 3339 text.
pub(super) fn time_column(row: &Row<'_>, index: usize) -> StoreResult<DateTime<Utc>> {
    Ok(super::parse_time(&row.get::<String>(index)?))
}

fn webhook_row(row: &Row<'_>) -> StoreResult<WebhookRecord> {
    let list = |index: usize| list_column(row, index);
    let time = |index: usize| time_column(row, index);
    Ok(WebhookRecord {
        id: row.get(0)?,
        url: row.get(1)?,
        events: list(2)?.into_iter().map(EventPattern::stored).collect(),
        devices: list(3)?,
        secret: row.get(4)?,
        enabled: row.get::<i64>(5)? != 0,
        source: if row.get::<String>(6)? == "config" {
            WebhookSource::Config
        } else {
            WebhookSource::Api
        },
        disabled_reason: row.get(7)?,
        created_at: time(8)?,
        updated_at: time(9)?,
    })
}

pub fn list(conn: &Conn) -> StoreResult<Vec<WebhookRecord>> {
    conn.query_all(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY id"),
        params![],
        webhook_row,
    )
}

pub fn get(conn: &Conn, id: &str) -> StoreResult<Option<WebhookRecord>> {
    conn.query_opt(
        &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE id = ?1"),
        params![id],
        webhook_row,
    )
}

/// The subscriptions, as the writer routes events by them.
#[derive(Default)]
pub(super) struct Routes {
    subscriptions: Vec<WebhookRecord>,
    stale: bool,
}

impl Routes {
    /// Routes that load themselves on first use.
    pub(super) fn unloaded() -> Self {
        Routes {
            subscriptions: Vec::new(),
            stale: true,
        }
    }

    /// Forgets the subscriptions: a write changed or rolled back some of them.
    pub(super) fn invalidate(&mut self) {
        self.stale = true;
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename_all = "lowercase"))]
#[schema(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Not tried yet (or replayed).
    Pending,
    /// Tried and failed; tried again at `next_attempt_at`.
    Retrying,
    Delivered,
    /// Given up: retried for the whole retry window, or the receiver answered `410 Gone`.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> DeliveryStatus {
        match text {
            "retrying" => DeliveryStatus::Retrying,
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// One event for one subscription. Its `id` is the `webhook-id` of every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub id: String,
    pub webhook_id: String,
    pub device_id: String,
    pub seq: u64,
    pub event: String,
    /// The exact JSON body every attempt sends.
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    /// When it was created or last replayed: retries stop a retry window after this.
    pub scheduled_at: DateTime<Utc>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, d.device_id, d.seq, d.type, d.body, d.status, d.attempts, d.next_attempt_at, d.scheduled_at, d.last_status_code, d.last_error, d.delivered_at, d.created_at";

fn delivery_row(row: &Row<'_>) -> StoreResult<DeliveryRecord> {
    let time = |index: usize| -> StoreResult<DateTime<Utc>> {
        Ok(super::parse_time(&row.get::<String>(index)?))
    };
    let delivered: Option<String> = row.get(12)?;
    Ok(DeliveryRecord {
        id: row.get(0)?,
        webhook_id: row.get(1)?,
        device_id: row.get(2)?,
        seq: row.get::<i64>(3)? as u64,
        event: row.get(4)?,
        body: row.get(5)?,
        status: DeliveryStatus::parse(&row.get::<String>(6)?),
        attempts: row.get::<i64>(7)?.try_into().unwrap_or(u32::MAX),
        next_attempt_at: time(8)?,
        scheduled_at: time(9)?,
        last_status_code: row
            .get::<Option<i64>>(10)?
            .and_then(|code| u16::try_from(code).ok()),
        last_error: row.get(11)?,
        delivered_at: delivered.as_deref().map(super::parse_time),
        created_at: time(13)?,
    })
}

/// A subscription's deliveries, newest first; `before` is the id of the last one already seen.
pub fn list_deliveries(
    conn: &Conn,
    webhook: &str,
    before: Option<&str>,
    limit: u32,
) -> StoreResult<Page<DeliveryRecord>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d
         WHERE d.webhook_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR d.id < ?2)
         ORDER BY d.id DESC LIMIT ?3"
    );
    page(
        conn,
        (&sql, params![webhook, before, i64::from(limit) + 1]),
        delivery_row,
        limit,
        |_| true,
        |delivery| delivery.id.clone(),
    )
}

pub fn get_delivery(conn: &Conn, id: &str) -> StoreResult<Option<DeliveryRecord>> {
    conn.query_opt(
        &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.id = ?1"),
        params![id],
        delivery_row,
    )
}

/// A delivery at the head of its (subscription, device) line, with where to send it.
#[derive(Debug, Clone)]
pub struct Head {
    pub delivery: DeliveryRecord,
    pub url: String,
    pub secret: String,
}

/// The oldest outstanding delivery of every (enabled subscription, device) pair, due or not.
///
/// Only heads are ever sent, so a delivery waiting for its retry holds back the later ones of
/// its pair, and no other: that is the per-subscription, per-device order. A delivery of an
/// event the disk does not hold yet is left out until it does (see
/// [`super::synced_heads`]): the sender looks again at every event.
pub fn heads(conn: &Conn) -> StoreResult<Vec<Head>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS}, w.url, w.secret
         FROM (SELECT MIN(id) AS id FROM webhook_deliveries
               WHERE status IN ('pending', 'retrying') GROUP BY webhook_id, device_id) h
         JOIN webhook_deliveries d ON d.id = h.id
         JOIN webhooks w ON w.id = d.webhook_id
         WHERE w.enabled = 1
         ORDER BY d.next_attempt_at"
    );
    let heads = conn.query_all(&sql, params![], |row| {
        Ok(Head {
            delivery: delivery_row(row)?,
            url: row.get(14)?,
            secret: row.get(15)?,
        })
    })?;
    Ok(heads
        .into_iter()
        .filter(|head| {
            let delivery = &head.delivery;
            conn.readable_head(&delivery.device_id, delivery.seq) == delivery.seq
        })
        .collect())
}

/// How much is waiting to be delivered: outstanding deliveries of enabled subscriptions, and
/// when the oldest of them was created.
pub fn backlog(conn: &Conn) -> StoreResult<(u64, Option<DateTime<Utc>>)> {
    let (count, oldest): (i64, Option<String>) = conn.query_one(
        "SELECT COUNT(*), MIN(d.created_at) FROM webhook_deliveries d
         JOIN webhooks w ON w.id = d.webhook_id
         WHERE w.enabled = 1 AND d.status IN ('pending', 'retrying')",
        params![],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok((count as u64, oldest.as_deref().map(super::parse_time)))
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: DeliveryStatus,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
}

impl Tx<'_> {
    /// Writes a delivery for every enabled subscription that selects `event`.
    pub(super) fn enqueue_deliveries(&mut self, event: &JournaledEvent) -> StoreResult<()> {
        if self.routes.stale {
            self.routes.subscriptions = list(self.conn())?;
            self.routes.stale = false;
        }
        let wanted: Vec<String> = self
            .routes
            .subscriptions
            .iter()
            .filter(|webhook| webhook.selects(event))
            .map(|webhook| webhook.id.clone())
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_string(&event.envelope())?;
        let now = rfc3339(Utc::now());
        for webhook in wanted {
            let id = self.new_id("whd_");
            self.execute(
                    "INSERT INTO webhook_deliveries (id, webhook_id, device_id, seq, type, body, status,
                        next_attempt_at, scheduled_at, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7, ?7, ?7)",
                params![
                    id,
                    webhook,
                    event.device_id.as_str(),
                    event.seq as i64,
                    event.kind.as_str(),
                    body,
                    now
                ],
            )?;
        }
        Ok(())
    }

    /// Inserts a subscription, or replaces its definition if it exists (keeping `enabled`).
    pub fn upsert_webhook(&mut self, webhook: &WebhookRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO webhooks (id, url, events, devices, secret, enabled, source, disabled_reason, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (id) DO UPDATE SET url = excluded.url, events = excluded.events,
                devices = excluded.devices, secret = excluded.secret, source = excluded.source,
                updated_at = excluded.updated_at",
            params![
                webhook.id,
                webhook.url,
                serde_json::to_string(&webhook.events)?,
                serde_json::to_string(&webhook.devices)?,
                webhook.secret,
                i64::from(webhook.enabled),
                webhook.source.as_str(),
                webhook.disabled_reason,
                rfc3339(webhook.created_at),
                rfc3339(webhook.updated_at),
            ],
        )?;
        self.routes.invalidate();
        Ok(())
    }

    /// Enables or disables a subscription; disabling records why. False if there is none.
    pub fn set_webhook_enabled(
        &mut self,
        id: &str,
        enabled: bool,
        reason: Option<&str>,
    ) -> StoreResult<bool> {
        let changed = self.execute(
            "UPDATE webhooks SET enabled = ?2, disabled_reason = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, i64::from(enabled), reason, rfc3339(Utc::now())],
        )?;
        self.routes.invalidate();
        Ok(changed > 0)
    }

    /// Deletes a subscription and its delivery log; false if there was none.
    pub fn delete_webhook(&mut self, id: &str) -> StoreResult<bool> {
        self.execute(
            "DELETE FROM webhook_deliveries WHERE webhook_id = ?1",
            params![id],
        )?;
        let removed = self.execute("DELETE FROM webhooks WHERE id = ?1", params![id])?;
        self.routes.invalidate();
        Ok(removed > 0)
    }

    /// Records the outcome of one attempt at `delivery` as it was scheduled when the attempt
    /// began. A delivery replayed while the attempt was under way has a newer schedule: the
    /// outcome is then dropped, so the replay is not lost, and it is sent again. Returns whether
    /// the outcome was recorded.
    pub fn record_attempt(
        &mut self,
        delivery: &DeliveryRecord,
        attempt: &Attempt,
    ) -> StoreResult<bool> {
        let now = rfc3339(Utc::now());
        let delivered = (attempt.status == DeliveryStatus::Delivered).then_some(&now);
        let changed = self.execute(
            "UPDATE webhook_deliveries SET status = ?2, attempts = attempts + 1,
                last_status_code = ?3, last_error = ?4, next_attempt_at = ?5,
                delivered_at = COALESCE(?6, delivered_at), updated_at = ?7
             WHERE id = ?1 AND scheduled_at = ?8",
            params![
                delivery.id,
                attempt.status.as_str(),
                attempt.status_code.map(i64::from),
                attempt.error,
                rfc3339(attempt.next_attempt_at),
                delivered.cloned(),
                now,
                rfc3339(delivery.scheduled_at)
            ],
        )?;
        Ok(changed == 1)
    }

    /// Forgets up to `limit` finished (delivered or failed) deliveries created before
    /// `older_than`, oldest first; returns how many. Outstanding ones are kept whatever their
    /// age.
    pub fn forget_deliveries(
        &mut self,
        older_than: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<usize> {
        self.execute(
            &format!("DELETE FROM webhook_deliveries WHERE id IN ({OLD_FINISHED})"),
            params![
                rfc3339(older_than),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
        )
    }

    /// Puts a delivery back in the outbox, same id, due now, with a fresh retry window.
    ///
    /// The new schedule is always later than the old one, even within the same millisecond:
    /// it is what tells an attempt under way that its outcome is stale ([`Tx::record_attempt`]).
    pub fn replay_delivery(&mut self, id: &str) -> StoreResult<Option<DeliveryRecord>> {
        let Some(delivery) = get_delivery(self.conn(), id)? else {
            return Ok(None);
        };
        let later = delivery.scheduled_at + chrono::Duration::milliseconds(1);
        let now = rfc3339(Utc::now().max(later));
        self.execute(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?2,
                scheduled_at = ?2, updated_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        get_delivery(self.conn(), id)
    }
}

/// The oldest `?2` finished deliveries created before `?1`, found through the index of
/// finished deliveries by age.
pub(super) const OLD_FINISHED: &str = "SELECT id FROM webhook_deliveries
    WHERE status IN ('delivered', 'failed') AND created_at < ?1 ORDER BY created_at LIMIT ?2";

/// The most finished deliveries one pruning write forgets, so that pruning a busy day's log
/// holds the writer for milliseconds at a time, not seconds.
const PRUNE_BATCH: usize = 2_000;

impl super::Store {
    /// Forgets the finished deliveries created before `older_than`, in writes of at most
    /// [`PRUNE_BATCH`]; returns how many.
    pub async fn prune_deliveries(&self, older_than: DateTime<Utc>) -> StoreResult<usize> {
        let mut removed = 0;
        loop {
            let batch = self
                .write(move |tx| tx.forget_deliveries(older_than, PRUNE_BATCH))
                .await?;
            removed += batch;
            if batch < PRUNE_BATCH {
                return Ok(removed);
            }
        }
    }
}
