//! Event sinks (SPEC §13): every journaled event a sink selects is published to NATS
//! JetStream, a Redis Stream or RabbitMQ, at least once, in `seq` order per device, in the
//! `{ type, deviceId, seq, at, data }` envelope of webhooks and the journal, with the id
//! `<deviceId>:<seq>` for the receiving side to dedupe by.
//!
//! A sink is a subscriber of the bus like the webhook sender, but the bus only wakes it: what
//! it publishes it reads from the journal, from its own cursor in the store (`store::sinks`),
//! which moves only after the sink's server has confirmed a page. So a sink whose server is
//! down keeps its backlog in the journal, and catches up from the store when the server is
//! back, after a restart or a `kill -9` too; an event published but not yet recorded as
//! confirmed is published again, with the same id.
//!
//! Each enabled sink runs in a task of its own (`worker`), which this module's supervisor
//! starts, restarts when its definition changes, and stops when it is disabled or deleted.
//! One module per kind (`nats`, `redis`, `amqp`) connects to its server and publishes a page.
//!
//! In a cluster, every node runs a worker for every sink, but only the one whose node holds
//! the sink's claim (`store::cluster::claim_sink`, renewed with each page) publishes; the
//! others stand by, and one of them takes over once a claim runs out (its node died or froze).
//! A node that froze mid-page and wakes after its claim ran out may publish that page again,
//! with the same ids.

mod amqp;
mod nats;
mod redis;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio::task::{self, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::bus::EventBus;
use crate::config::{Settings, SinkSetting};
use crate::model::event::EventPattern;
use crate::model::sink::{redacted_url, SinkKind};
use crate::model::DeviceId;
use crate::store::cluster::claim_sink;
use crate::store::sinks::{self, SinkRecord, CONFIGURED};
use crate::store::{Store, StoreError};

/// How long connecting to a sink's server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// In a cluster, how often the supervisor reads the sinks again: a sink added, changed or
/// removed through another node is taken up here within this.
const CLUSTER_RELOOK: Duration = Duration::from_secs(5);

/// One event as a sink publishes it.
pub(super) struct Outgoing {
    /// `<deviceId>:<seq>`, the same each time the event is published.
    id: String,
    device: DeviceId,
    /// The event's name (`message:ack`).
    event: &'static str,
    seq: u64,
    /// The envelope's JSON.
    body: String,
}

/// A connection to a sink's server.
#[async_trait::async_trait]
trait Publisher: Send {
    /// Publishes `batch` in order, and returns once the server has confirmed all of it.
    async fn publish(&mut self, batch: &[Outgoing]) -> Result<(), SinkError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("cannot publish: {0}")]
    Publish(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SinkError {
    fn connect(error: impl std::fmt::Display) -> Self {
        SinkError::Connect(error.to_string())
    }

    fn publish(error: impl std::fmt::Display) -> Self {
        SinkError::Publish(error.to_string())
    }
}

/// Connects to `sink`'s server, within [`CONNECT_TIMEOUT`].
async fn connect(sink: &SinkRecord) -> Result<Box<dyn Publisher>, SinkError> {
    let connecting = async {
        match sink.kind {
            SinkKind::Nats => nats::connect(sink).await,
            SinkKind::Redis => redis::connect(sink).await,
            SinkKind::Amqp => amqp::connect(sink).await,
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .unwrap_or_else(|_| Err(SinkError::Connect("timed out".into())))
}

/// The id of a sink declared in the configuration.
fn configured_id(name: &str) -> String {
    format!("{CONFIGURED}{name}")
}

/// How a sink's worker is doing, as the API shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStatus {
    /// Connected to its server, and the last page it published was confirmed.
    pub connected: bool,
    /// Why it last failed to connect or publish, until it succeeds again.
    pub last_error: Option<String>,
}

/// The sinks' supervisor: a handle that wakes it, and what its workers report.
#[derive(Clone)]
pub struct Sinks {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    settings: Arc<Settings>,
    /// In a cluster, this node's id: a node publishes a sink only while it holds its claim.
    node: Option<String>,
    wake: Notify,
    statuses: Mutex<HashMap<String, SinkStatus>>,
}

impl Sinks {
    /// The supervisor; `node` is this node's id in a cluster, whose workers claim their sink.
    pub fn new(store: Store, settings: Arc<Settings>, node: Option<String>) -> Self {
        Sinks {
            inner: Arc::new(Inner {
                store,
                settings,
                node,
                wake: Notify::new(),
                statuses: Mutex::default(),
            }),
        }
    }

    /// Makes the store's sinks from the configuration match `[[sinks]]`: new ones are added
    /// (enabled, at every device's head), changed ones updated (keeping whether they are
    /// enabled, and their cursors), removed ones deleted.
    pub async fn sync_configured(&self) -> Result<(), StoreError> {
        let declared: Vec<SinkSetting> = self.inner.settings.sinks.clone();
        self.inner
            .store
            .write(move |tx| {
                let now = Utc::now();
                for existing in sinks::list(tx.conn())? {
                    let kept = declared
                        .iter()
                        .any(|entry| configured_id(&entry.name) == existing.id);
                    if existing.configured() && !kept {
                        tx.delete_sink(&existing.id)?;
                    }
                }
                for entry in declared {
                    // Checked with the rest of the configuration at load time.
                    let Some(kind) = entry.kind else { continue };
                    let target = entry.target().unwrap_or(kind.default_target()).to_owned();
                    tx.upsert_sink(&SinkRecord {
                        id: configured_id(&entry.name),
                        kind,
                        url: entry.url,
                        target,
                        events: entry.events.into_iter().map(EventPattern::stored).collect(),
                        devices: entry.devices,
                        enabled: true,
                        created_at: now,
                        updated_at: now,
                    })?;
                }
                Ok(())
            })
            .await
    }

    /// Looks at the sinks again now: every change of a sink must call this.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// How sink `id`'s worker is doing; the default for one that is not running.
    pub fn status(&self, id: &str) -> SinkStatus {
        let statuses = self.inner.statuses.lock().expect("never poisoned");
        statuses.get(id).cloned().unwrap_or_default()
    }

    /// Runs a worker for every enabled sink until `stop` fires, then stops them and waits
    /// for them. A worker is started again when its sink changes, and when it ends by itself
    /// (it only would by panicking).
    pub async fn run(self, bus: EventBus, stop: CancellationToken) {
        // Each running sink as it was read, the token that stops its worker, and the worker.
        let mut running: HashMap<String, (SinkRecord, CancellationToken, task::Id)> =
            HashMap::new();
        let mut workers: JoinSet<()> = JoinSet::new();
        loop {
            match self.inner.store.read(sinks::list).await {
                Ok(list) => {
                    let wanted: Vec<SinkRecord> =
                        list.into_iter().filter(|sink| sink.enabled).collect();
                    running.retain(|id, (record, token, _)| {
                        let keep = wanted.iter().any(|sink| sink == record);
                        if !keep {
                            token.cancel();
                            self.forget(id);
                        }
                        keep
                    });
                    for sink in wanted {
                        if running.contains_key(&sink.id) {
                            continue;
                        }
                        let token = stop.child_token();
                        let worker = worker::Worker {
                            sinks: self.clone(),
                            sink: sink.clone(),
                            events: bus.subscribe(),
                            stop: token.clone(),
                        };
                        let task = workers.spawn(worker.run()).id();
                        running.insert(sink.id.clone(), (sink, token, task));
                    }
                }
                Err(error) => tracing::error!(%error, "cannot read the event sinks"),
            }
            let relook = async {
                match self.inner.node {
                    Some(_) => tokio::time::sleep(CLUSTER_RELOOK).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.inner.wake.notified() => {}
                _ = relook => {}
                Some(ended) = workers.join_next_with_id() => {
                    // A worker ends when it is stopped; one that ended otherwise (the running
                    // worker of its sink, not one replaced) is started again.
                    let task = match ended {
                        Ok((task, ())) => task,
                        Err(error) => {
                            tracing::error!(%error, "an event sink's worker crashed");
                            error.id()
                        }
                    };
                    running.retain(|_, (_, token, running)| *running != task || token.is_cancelled());
                }
            }
        }
        while workers.join_next().await.is_some() {}
    }

    fn forget(&self, id: &str) {
        self.inner
            .statuses
            .lock()
            .expect("never poisoned")
            .remove(id);
    }

    /// Records how sink `id` is doing. A failure is logged once, when it begins, and the
    /// recovery once: a server that is down for an hour is not a line per retry.
    fn report(&self, sink: &SinkRecord, outcome: Result<(), &SinkError>) {
        let mut statuses = self.inner.statuses.lock().expect("never poisoned");
        let status = statuses.entry(sink.id.clone()).or_default();
        let url = redacted_url(&sink.url);
        match outcome {
            Ok(()) => {
                if status.last_error.is_some() {
                    tracing::info!(sink_id = %sink.id, %url, "event sink is back");
                }
                *status = SinkStatus {
                    connected: true,
                    last_error: None,
                };
            }
            Err(error) => {
                if status.last_error.is_none() {
                    tracing::warn!(sink_id = %sink.id, %url, %error, "event sink is down; its events wait in the journal");
                }
                *status = SinkStatus {
                    connected: false,
                    last_error: Some(error.to_string()),
                };
            }
        }
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Whether this node may publish sink `id` for the next `hold`: always on a single node;
    /// in a cluster, while it holds the sink's claim, which this takes or renews.
    async fn claim(&self, id: &str, hold: Duration) -> Result<bool, StoreError> {
        let Some(node) = self.inner.node.clone() else {
            return Ok(true);
        };
        let (sink, hold_ms) = (id.to_owned(), hold.as_millis() as i64);
        self.inner
            .store
            .coordinate(move |conn| claim_sink(conn, &sink, &node, hold_ms))
            .await
    }
}
