//! `GET /ready`: whether this daemon should be sent work now, for a container health check, a
//! load balancer or an orchestrator. `/health` answers as long as the process serves
//! requests; `/ready` answers 200 only when the store can write, the devices are loaded and
//! the daemon is not shutting down, and otherwise 503 with the error envelope and every
//! check's verdict, so the one that failed is named.
//!
//! The store is asked each time, with a real write (see `Store::check_writable`): an outage
//! shows before a client's write meets it, and its end shows as soon as a write succeeds,
//! without waiting for a client to try again — which a balancer that stopped sending traffic
//! on the first failure would never do.
//!
//! A disk does not fill all at once, though: when a large send no longer fits, the check's own
//! small row still may, and the write alone would call the daemon ready while every send is
//! refused. So with SQLite the disk holding the data directory must also have room for a few
//! of the largest requests (see [`ROOM_FOR_LARGEST_REQUESTS`]), which it has again as soon as
//! room is freed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::error::{ApiError, ErrorCode};
use crate::api::openapi::{codes, Refused};
use crate::api::AppState;
use crate::store::Store;

/// How long the store's write may take before readiness gives up on it: a writer stuck on a
/// failing disk answers nothing, and a health check must not hang with it.
const STORAGE_PATIENCE: Duration = Duration::from_secs(5);

/// How many of the largest requests (`limits.max_message_bytes`) the disk holding the SQLite
/// database must have room for: a send is stored as a message and journaled as an event, each
/// with its text, first in the database's log and then in its file.
const ROOM_FOR_LARGEST_REQUESTS: u64 = 4;

/// The room the disk holding the SQLite database must keep free (see [`Store::keep_free`]).
pub fn room_to_keep(limits: &crate::config::LimitSettings) -> u64 {
    ROOM_FOR_LARGEST_REQUESTS.saturating_mul(limits.max_message_bytes as u64)
}

/// What a passing check says.
const OK: &str = "ok";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ready))
}

/// What `/ready` answers when every check passes; a 503 carries the same `checks` beside
/// `error`.
#[derive(Serialize, ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "Readiness"))]
pub(super) struct Ready {
    #[schema(example = "ready")]
    status: &'static str,
    /// Each check's verdict, `ok` or why not: `storage`, `devices`, `running`.
    checks: BTreeMap<&'static str, &'static str>,
}

/// The parts of readiness that are not asked of the store: set by the daemon as it starts
/// and stops. Cheap to clone.
#[derive(Clone, Default)]
pub struct Readiness(Arc<Flags>);

#[derive(Default)]
struct Flags {
    devices_loaded: AtomicBool,
    stopping: AtomicBool,
    /// When the last storage check started and what it found, so that a crowd of requests
    /// shares checks instead of each queueing a write of its own (see [`Readiness::storage`]).
    last_storage_check: tokio::sync::Mutex<Option<(Instant, StorageCheck)>>,
}

/// What the storage check found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum StorageCheck {
    Writable,
    /// The database cannot be written, or did not commit in time.
    Unavailable,
    /// The store refused for another reason (it is closing); its cause is in the log.
    Failed,
    /// The write went through, but the disk has too little room left for the largest request.
    Full,
}

impl Readiness {
    /// Every device is loaded and has its actor and namespace. The server starts only after
    /// that today, so until then requests wait unanswered; the check states it rather than
    /// relying on that order.
    pub fn devices_loaded(&self) {
        self.0.devices_loaded.store(true, Ordering::Release);
    }

    /// The daemon is shutting down: from now on it should be sent nothing new.
    pub fn stopping(&self) {
        self.0.stopping.store(true, Ordering::Release);
    }

    /// Whether the store commits a write now. A check that started after this call began
    /// (one another request started while this one waited for its turn) answers for it too:
    /// checks run one at a time, and a flood of requests costs one write at a time.
    async fn storage(&self, store: &Store) -> StorageCheck {
        let asked = Instant::now();
        let mut last = self.0.last_storage_check.lock().await;
        if let Some((started, found)) = *last {
            if started >= asked {
                return found;
            }
        }
        let started = Instant::now();
        let found = match tokio::time::timeout(STORAGE_PATIENCE, store.check_writable()).await {
            Ok(Ok(())) if store.lacks_room() => StorageCheck::Full,
            Ok(Ok(())) => StorageCheck::Writable,
            Ok(Err(error)) if error.is_unwritable() => StorageCheck::Unavailable,
            Ok(Err(error)) => {
                tracing::warn!(%error, "the readiness check's write failed");
                StorageCheck::Failed
            }
            Err(_) => StorageCheck::Unavailable,
        };
        *last = Some((started, found));
        found
    }
}

/// What the checks found.
struct Checks {
    stopping: bool,
    devices_loaded: bool,
    storage: StorageCheck,
}

impl Checks {
    /// Each check's name and verdict, `"ok"` or why not.
    fn verdicts(&self) -> [(&'static str, &'static str); 3] {
        let storage = match self.storage {
            StorageCheck::Writable => OK,
            StorageCheck::Unavailable => {
                "the database cannot be written (the disk may be full); see the daemon's log"
            }
            StorageCheck::Failed => "the store did not take a write; see the daemon's log",
            StorageCheck::Full => {
                "the disk holding the database has too little room left for the largest requests"
            }
        };
        let devices = match self.devices_loaded {
            true => OK,
            false => "the devices are still being loaded",
        };
        let running = match self.stopping {
            false => OK,
            true => "the daemon is shutting down",
        };
        [
            ("storage", storage),
            ("devices", devices),
            ("running", running),
        ]
    }

    /// The error to answer with when a check fails: `storage_unavailable` when the store
    /// cannot write (as a write is answered then), `not_ready` otherwise; its message names
    /// every failing check.
    fn error(&self) -> Option<ApiError> {
        let failed: Vec<String> = self
            .verdicts()
            .into_iter()
            .filter(|(_, verdict)| *verdict != OK)
            .map(|(name, verdict)| format!("{name}: {verdict}"))
            .collect();
        if failed.is_empty() {
            return None;
        }
        let code = match self.storage {
            StorageCheck::Unavailable | StorageCheck::Full => ErrorCode::StorageUnavailable,
            StorageCheck::Writable | StorageCheck::Failed => ErrorCode::NotReady,
        };
        Some(ApiError::new(
            code,
            format!("not ready: {}", failed.join("; ")),
        ))
    }
}

/// Readiness: 200 when the store can write, the devices are loaded and the daemon is not
/// shutting down
///
/// A failing check answers 503: `storage_unavailable` when the store cannot write, `not_ready`
/// otherwise, with `checks` beside `error` naming the one that failed.
#[utoipa::path(get, path = "/ready", tag = "system",
    responses((status = OK, description = "ready", body = Ready),
        Refused<{ codes(&[ErrorCode::StorageUnavailable, ErrorCode::NotReady]) }>))]
async fn ready(State(state): State<AppState>) -> Response {
    let readiness = &state.readiness;
    let checks = Checks {
        stopping: readiness.0.stopping.load(Ordering::Acquire),
        devices_loaded: readiness.0.devices_loaded.load(Ordering::Acquire),
        storage: readiness.storage(&state.store).await,
    };
    let verdicts = BTreeMap::from(checks.verdicts());
    match checks.error() {
        None => Json(Ready {
            status: "ready",
            checks: verdicts,
        })
        .into_response(),
        Some(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": error.body(), "checks": verdicts })),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(stopping: bool, devices_loaded: bool, storage: StorageCheck) -> Checks {
        Checks {
            stopping,
            devices_loaded,
            storage,
        }
    }

    #[test]
    fn passing_checks_are_no_error() {
        let ready = checks(false, true, StorageCheck::Writable);
        assert_eq!(ready.error(), None);
        assert!(ready.verdicts().iter().all(|(_, verdict)| *verdict == OK));
    }

    #[test]
    fn a_store_that_cannot_write_or_has_no_room_is_storage_unavailable() {
        for (storage, why) in [
            (StorageCheck::Unavailable, "the database cannot be written"),
            (
                StorageCheck::Full,
                "the disk holding the database has too little room",
            ),
        ] {
            let error = checks(false, true, storage).error().unwrap();
            assert_eq!(error.code, ErrorCode::StorageUnavailable);
            assert!(
                error
                    .message
                    .starts_with(&format!("not ready: storage: {why}")),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn shutting_down_is_not_ready_and_every_failing_check_is_named() {
        let error = checks(true, false, StorageCheck::Writable).error().unwrap();
        assert_eq!(error.code, ErrorCode::NotReady);
        assert_eq!(
            error.message,
            "not ready: devices: the devices are still being loaded; running: the daemon is shutting down"
        );
    }
}
