//! The only place that knows every component: builds them, runs the server, and shuts them
//! down in reverse order (sockets, then device actors, then the hooks, then the store's last
//! commit).

mod cluster;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use socketioxide::{ParserConfig, SocketIo};
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;

use crate::api::auth::{self, Authenticator, Scope};
use crate::api::contacts::ContactBook;
use crate::api::conversations::Conversations;
use crate::api::profile::Profiles;
use crate::api::rest::readiness::{self, Readiness};
use crate::api::socket::{
    attach_session, route_profile_paths, ClientContext, PacketLimits, ProfilePaths, QueueBudget,
    Sessions, SocketHub,
};
use crate::api::{origins, rest, AppState};
use crate::bus::EventBus;
use crate::config::SectionCheck;
use crate::config::{ServerSettings, Settings};
use crate::connector::{self, Builtin};
use crate::console::Console;
use crate::device::actor::ActorContext;
use crate::device::cluster::Ownership;
use crate::device::pairings::Pairings;
use crate::device::uploads::{BucketError, MediaBucketCheck, Uploads};
use crate::device::{DeviceError, DeviceManager};
use crate::hooks::desktop::Desktop;
use crate::hooks::sinks::Sinks;
use crate::hooks::sound::{self, Sound};
use crate::hooks::webhook::{SenderError, Webhooks};
use crate::hooks::HookSettingsCheck;
use crate::hooks::{HookRules, Listener};
use crate::metrics::{Changes, Metrics};
use crate::store::{Store, StoreError};
use crate::tasks::Tasks;

/// How many times `limits.max_message_bytes` the transport still reads (see `run`).
const OVERSIZE_READ_FACTOR: usize = 4;

/// Every component's check of the settings it reads, for [`crate::config::load`]: config
/// knows their sections' shape only.
pub const SETTINGS_CHECKS: &[&dyn SectionCheck] = &[&HookSettingsCheck, &MediaBucketCheck];

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot prepare credentials: {0}")]
    Secrets(std::io::Error),
    #[error(transparent)]
    Devices(#[from] DeviceError),
    #[error(transparent)]
    Webhooks(#[from] SenderError),
    #[error("protocol profiles:\n  {}", .0.join("\n  "))]
    Profiles(Vec<String>),
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error("`storage.media_url`: {0}")]
    MediaBucket(#[from] BucketError),
}

/// Choices that differ between the `serve` command and an embedded daemon (tests).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Where to draw QR codes and the first-run banner: the daemon's standard output (which
    /// its log lines go through too), or nowhere.
    pub console: Option<Console>,
    /// Bumped after every store commit and every count no commit follows, for an embedder
    /// that waits for an effect no event announces (see [`Changes`]).
    pub changes: Changes,
}

/// Runs the daemon on `listener` until `shutdown` resolves, then stops cleanly.
pub async fn run(
    mut settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: RunOptions,
) -> Result<(), AppError> {
    let address = listener.local_addr().map_err(AppError::Serve)?;
    settings.server.public_url = public_url(&settings, address);
    let settings = Arc::new(settings);
    let data_dir = &settings.storage.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|source| AppError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    let profiles = load_profiles(&settings)?;
    let metrics = Arc::new(Metrics::new(options.changes.clone()));
    let bus = EventBus::with_metrics(metrics.clone());
    let store = Store::open(&settings.storage, bus.clone())?;
    store.keep_free(readiness::room_to_keep(&settings.limits));
    let _store_closes = store.close_on_drop();
    let secret = token_secret(&settings, &store).await?;
    let auth = Authenticator::new(&settings, store.clone(), &secret);
    ensure_admin_key(&settings, &store, &auth, options.console.as_ref()).await?;

    let pairings = Pairings::default();
    let uploads = Uploads::new(store.clone(), &settings)?;
    let context = ActorContext {
        store: store.clone(),
        settings: settings.clone(),
        connectors: Arc::new(Builtin::new(
            settings.clone(),
            store.clone(),
            pairings.clone(),
            metrics.clone(),
        )),
        metrics: metrics.clone(),
        console: options.console.clone(),
        uploads: uploads.clone(),
    };
    let devices = match settings.storage.postgres_url() {
        None => DeviceManager::new(context),
        Some(_) => {
            let cluster = &settings.cluster;
            let ownership = Ownership::new(
                cluster.node_id(),
                cluster.advertise_url(&settings.server.public_url, address),
                cluster.lease(),
                store.clone(),
                metrics.clone(),
            );
            tracing::info!(node_id = ownership.node(), "joining the cluster");
            DeviceManager::in_cluster(context, ownership, &cluster::key(&secret))
        }
    };
    let max_bytes = settings.limits.max_message_bytes;
    // The transport takes packets up to a few times the limit, so that an oversized packet
    // still reaches the handler and gets a `payload_too_large` answer; past that, the
    // connection is closed without reading it.
    let transport_max = max_bytes.saturating_mul(OVERSIZE_READ_FACTOR);
    // Binary attachments are refused by every event, but the parser would hold up to 10 MB of
    // them per packet (and for a minute) before any handler, authentication included, sees
    // it: one small attachment still reaches the handler and its clear error, more closes
    // the connection.
    let parser = ParserConfig::common()
        .max_incoming_binaries(1)
        .max_incoming_binary_buf_size(max_bytes)
        .packet_completion_timeout(Duration::from_secs(settings.limits.header_timeout_secs));
    let (socket_layer, io) = SocketIo::builder()
        .with_parser(parser)
        .req_path(settings.server.socket_path.clone())
        .max_payload(transport_max as u64)
        .ws_max_message_size(transport_max)
        .ws_max_frame_size(transport_max)
        .max_buffer_size(settings.limits.client_queue_packets)
        // Each WebSocket keeps a read buffer of this size, zero-filled, for its whole life
        // (engineioxide's default is 4 KiB); inbound packets are small, and a larger one grows
        // the buffer as needed. Measured with `cargo bench --bench load -- idle`.
        .ws_read_buffer_size(1024)
        .build_layer();
    let conversations = Conversations::new(
        store.clone(),
        devices.clone(),
        settings.limits.max_reply_bytes,
    );
    let clients = ClientContext {
        conversations: conversations.clone(),
        limits: PacketLimits {
            max_bytes,
            events_per_minute: settings.limits.events_per_minute,
        },
        profiles: profiles.clone(),
        send_taken: bus.metrics().socket_send.clone(),
    };
    let sockets = SocketHub::new(
        io,
        store.clone(),
        auth.clone(),
        devices.clone(),
        clients,
        &bus,
    );
    // The hooks hear the bus live (a sound, a desktop notification is for now or never):
    // they subscribe before the devices start, or a device's first QR code would pass them by.
    let background = Tasks::default();
    let rules = HookRules::new(store.clone(), &settings.hooks);
    let mut hooks = Listener::default();
    if settings.hooks.desktop.enabled {
        background.adopt([Desktop::start(
            rules.clone(),
            settings.hooks.desktop.clone(),
            metrics.clone(),
            &mut hooks,
        )]);
    }
    if settings.hooks.sound.enabled {
        background.adopt(Sound::start(
            rules.clone(),
            settings.hooks.sound.clone(),
            metrics.clone(),
            &mut hooks,
            sound::default_speaker(),
        ));
    }
    background.adopt(hooks.start(&bus, background.stop_signal(), rules, metrics.clone()));
    devices.boot(&settings.devices.dir).await?;
    sockets.open_stored(&devices.ids());
    let node = cluster::Node::start(&devices, &bus);
    let readiness = Readiness::default();
    readiness.devices_loaded();
    match uploads.sweep().await {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed files of unfinished or deleted uploads"),
        Err(error) => tracing::warn!(%error, "could not look for unfinished uploads"),
    }
    background.spawn(prune(
        store.clone(),
        settings.clone(),
        uploads,
        metrics.clone(),
    ));
    let node_id = devices
        .ownership()
        .map(|ownership| ownership.node().to_owned());
    let webhooks = Webhooks::new(
        store.clone(),
        settings.clone(),
        metrics.clone(),
        node_id.clone(),
    )?;
    webhooks.sync_configured().await?;
    background.adopt([tokio::spawn({
        let (webhooks, bus, stop) = (webhooks.clone(), bus.clone(), background.stop_signal());
        async move { webhooks.run(&bus, stop).await }
    })]);
    let sinks = Sinks::new(store.clone(), settings.clone(), node_id);
    sinks.sync_configured().await?;
    background.adopt([tokio::spawn({
        let (sinks, bus, stop) = (sinks.clone(), bus.clone(), background.stop_signal());
        sinks.run(bus, stop)
    })]);
    let state = AppState {
        settings: settings.clone(),
        store: store.clone(),
        devices: devices.clone(),
        auth,
        sockets: sockets.clone(),
        pairings,
        conversations,
        contacts: ContactBook::new(store.clone(), devices.clone()),
        webhooks,
        sinks,
        metrics: metrics.clone(),
        readiness: readiness.clone(),
        profiles,
    };
    let sessions = Sessions::new(
        settings.server.socket_path.clone(),
        settings.limits.events_per_minute,
        QueueBudget {
            bytes: settings.limits.client_queue_bytes,
            packets: settings.limits.client_queue_packets,
        },
        metrics,
    );
    let router = rest::router(state, routes())
        .layer(socket_layer)
        .layer(axum::middleware::from_fn_with_state(
            sessions.clone(),
            attach_session,
        ))
        .layer(axum::middleware::from_fn_with_state(
            origins::SocketOrigins::new(&settings),
            origins::guard_sockets,
        ))
        .layer(origins::cors(&settings))
        .layer(axum::middleware::map_request_with_state(
            ProfilePaths::new(&settings),
            route_profile_paths,
        ))
        .layer(axum::middleware::map_request(detach_request_head));
    announce_address(address, options.console.as_ref());
    let closing_sockets = sockets.clone();
    crate::api::serve::serve(listener, router, &settings.limits, sessions, async move {
        shutdown.await;
        tracing::info!("shutting down");
        readiness.stopping();
        // Long-lived Socket.IO connections would keep the server open: close them first.
        closing_sockets.close().await;
    })
    .await;
    if let Some(node) = node {
        node.leave().await;
    }
    devices.shutdown().await;
    sockets.stop().await;
    // The hooks stop after the devices' last events, and before the store closes.
    background.stop("background work").await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Every route the daemon documents: the API's, and the webhook receivers the connectors
/// contribute for their upstreams.
pub fn routes() -> OpenApiRouter<AppState> {
    rest::routes().merge(connector::webhook_routes())
}

/// The shipped profiles and the users' own; every socket path of `server.profiles` must name
/// one of them (or `native`).
fn load_profiles(settings: &Settings) -> Result<Profiles, AppError> {
    let profiles = Profiles::load(&settings.profiles.dir).map_err(AppError::Profiles)?;
    let unknown: Vec<String> = settings
        .server
        .profiles
        .iter()
        .filter(|(_, name)| !profiles.contains(name))
        .map(|(path, name)| format!("server.profiles.{path:?}: no profile is named `{name}`"))
        .collect();
    if unknown.is_empty() {
        Ok(profiles)
    } else {
        Err(AppError::Profiles(unknown))
    }
}

/// Copies a request's URI and headers into allocations of their own.
///
/// Parsed request heads point into hyper's 8–16 KiB connection read buffer. A Socket.IO
/// connection keeps its handshake request for its whole life, and with it that buffer, which
/// is most of what an idle connection would hold (`docs/performance.md`, idle). The copy
/// costs a few hundred bytes, once per request.
async fn detach_request_head(mut request: axum::extract::Request) -> axum::extract::Request {
    if let Ok(uri) = request.uri().to_string().parse::<axum::http::Uri>() {
        // The router keeps a copy of the URI as it arrived, too.
        if let Some(original) = request
            .extensions_mut()
            .get_mut::<axum::extract::OriginalUri>()
        {
            original.0 = uri.clone();
        }
        *request.uri_mut() = uri;
    }
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            let name = axum::http::HeaderName::from_bytes(name.as_str().as_bytes()).ok()?;
            let value = axum::http::HeaderValue::from_bytes(value.as_bytes()).ok()?;
            Some((name, value))
        })
        .collect();
    *request.headers_mut() = headers;
    request
}

/// Tells where the daemon listens: with port 0 it is the only place that says which port was
/// picked, and scripts wait for this line. So it is printed on stdout when the log filter
/// hides it.
fn announce_address(address: std::net::SocketAddr, console: Option<&Console>) {
    if tracing::enabled!(tracing::Level::INFO) {
        tracing::info!("listening on http://{address}");
    } else {
        let line = format!("listening on http://{address}\n");
        match console {
            Some(console) => console.print(&line),
            None => print!("{line}"),
        }
    }
}

/// The base URL for QR codes. Left at its default, `server.public_url` follows the address
/// actually bound, so `--bind 127.0.0.1:0` or another port still yields working pairing links.
fn public_url(settings: &Settings, bound: std::net::SocketAddr) -> String {
    let configured = &settings.server.public_url;
    if *configured != ServerSettings::default().public_url {
        return configured.clone();
    }
    if bound.ip().is_loopback() || bound.ip().is_unspecified() {
        format!("http://localhost:{}", bound.port())
    } else {
        format!("http://{bound}")
    }
}

/// The secret access tokens are signed with: `auth.jwt_secret` if it is set; else, on
/// PostgreSQL, the one kept in the database, so that every daemon sharing it accepts the
/// tokens the others issue; else `<data dir>/jwt-secret`, generated on first use.
async fn token_secret(settings: &Settings, store: &Store) -> Result<String, AppError> {
    if let Some(secret) = &settings.auth.jwt_secret {
        return Ok(secret.clone());
    }
    if settings.storage.postgres_url().is_some() {
        return Ok(store
            .write(|tx| tx.shared_secret("jwt", || auth::random_secret(64)))
            .await?);
    }
    let path = settings.storage.data_dir.join("jwt-secret");
    auth::read_or_create_secret(&path, || auth::random_secret(64)).map_err(AppError::Secrets)
}

/// On first start with no key anywhere, creates an admin key, shows it once and writes it to
/// `<data dir>/admin-api-key` (mode 0600), so a fresh install is usable and never open.
async fn ensure_admin_key(
    settings: &Settings,
    store: &Store,
    auth: &Authenticator,
    console: Option<&Console>,
) -> Result<(), AppError> {
    if auth.has_configured_keys() || store.read(crate::store::keys::count).await? > 0 {
        return Ok(());
    }
    // The file first: a key stored without it would be lost for good, and with keys in the
    // store no new one is ever generated. A file written without its key is replaced next time.
    let created = auth::NewKey::generate("admin".into(), vec!["*".into()], vec![Scope::Admin]);
    let path = settings.storage.data_dir.join("admin-api-key");
    auth::write_private(&path, &created.secret).map_err(AppError::Secrets)?;
    auth.store_key(&created).await?;
    tracing::info!(path = %path.display(), "generated the first admin API key");
    if let Some(console) = console {
        console.print(&format!(
            "\n  ┌──────────────────────────────────────────────────────────────┐\n  \
             │ First run: an admin API key was generated (shown only once). │\n  \
             └──────────────────────────────────────────────────────────────┘\n  \
             {}\n  It is also in {} (readable by you only).\n\n",
            created.secret,
            path.display()
        ));
    }
    Ok(())
}

/// Keeps each device's journal within `journal.retention_*` (counting the events removed),
/// the webhook delivery log of finished deliveries within `journal.retention_secs` too, and
/// uploads within `storage.upload_retention_days`; sweeps the media bucket of objects no
/// upload names.
async fn prune(store: Store, settings: Arc<Settings>, uploads: Uploads, metrics: Arc<Metrics>) {
    let mut every =
        tokio::time::interval(Duration::from_secs(settings.journal.prune_interval_secs));
    loop {
        every.tick().await;
        let keep = settings.journal.retention_events;
        let now = chrono::Utc::now();
        let cutoff = now - chrono::Duration::seconds(settings.journal.retention_secs as i64);
        let pruned = async {
            let events = store.prune_journal(keep, cutoff).await?;
            metrics.journal_pruned.add(events as u64);
            Ok::<_, StoreError>(events + store.prune_deliveries(cutoff).await?)
        };
        match pruned.await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "pruned the event journal and delivery log"),
            Err(error) => tracing::warn!(%error, "could not prune the event journal"),
        }
        let uploaded_before =
            now - chrono::Duration::days(settings.storage.upload_retention_days as i64);
        match uploads.prune(uploaded_before).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "removed old uploads"),
            Err(error) => tracing::warn!(%error, "could not remove old uploads"),
        }
        match uploads.sweep_bucket().await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed objects no upload names"),
            Err(error) => tracing::warn!(%error, "could not sweep the media bucket"),
        }
    }
}
