//! The supervisor: one actor per device that runs on this node, run again if it panics, and
//! stopped within a deadline when the daemon shuts down. It also keeps the handles of the
//! devices that run on other nodes of a cluster, so that callers find every device's handle in
//! one place.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::actor::{Actor, ActorContext, Command, CommandQueue};
use super::mirror::Mirror;
use super::pairings::Scan;
use super::relay_bell::RelayBell;
use super::route::ToActor;
use super::DeviceHandle;
use crate::model::event::HealthStatus;
use crate::model::event::JournaledEvent;
use crate::model::DeviceId;

/// How long a device's actor may take to record its shutdown and stop. One that takes
/// longer (an upstream call that does not return) is abandoned, so that the daemon still
/// exits: its state is recorded as it was, and the next start says it stopped unannounced.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

pub(super) struct Supervised {
    pub(super) handle: DeviceHandle,
    runs: Runs,
}

/// Where a device's actor runs.
enum Runs {
    Here {
        /// The actor's own queue, for what only this node asks of it (to shut down).
        actor: ToActor,
        task: JoinHandle<()>,
    },
    /// On another node of the cluster; the handle's view of it follows that node's events.
    Elsewhere(Mirror),
}

/// Every device's handle, and the actors of those that run here.
#[derive(Clone, Default)]
pub(super) struct Supervisor {
    devices: Arc<Mutex<HashMap<DeviceId, Supervised>>>,
}

impl Supervisor {
    fn devices(&self) -> std::sync::MutexGuard<'_, HashMap<DeviceId, Supervised>> {
        self.devices.lock().expect("devices lock")
    }

    pub(super) fn handle(&self, id: &DeviceId) -> Option<DeviceHandle> {
        self.devices()
            .get(id)
            .map(|supervised| supervised.handle.clone())
    }

    /// The handle of a device whose actor runs on this node.
    pub(super) fn local_handle(&self, id: &DeviceId) -> Option<DeviceHandle> {
        self.devices()
            .get(id)
            .filter(|supervised| matches!(supervised.runs, Runs::Here { .. }))
            .map(|supervised| supervised.handle.clone())
    }

    pub(super) fn knows(&self, id: &DeviceId) -> bool {
        self.devices().contains_key(id)
    }

    pub(super) fn ids(&self) -> Vec<DeviceId> {
        let mut ids: Vec<_> = self.devices().keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Forgets the device; what it ran here is the caller's to stop ([`stop`]).
    pub(super) fn remove(&self, id: &DeviceId) -> Option<Supervised> {
        self.devices().remove(id)
    }

    /// Forgets the device if its actor runs here, for the caller to stop.
    pub(super) fn remove_if_here(&self, id: &DeviceId) -> Option<Supervised> {
        let mut devices = self.devices();
        match devices.get(id).map(|supervised| &supervised.runs) {
            Some(Runs::Here { .. }) => devices.remove(id),
            _ => None,
        }
    }

    /// Gives a device that runs elsewhere `handle`, whose view `mirror` writes; a device
    /// whose actor runs here keeps its own. Returns whether the handle was taken.
    pub(super) fn mirror(&self, handle: DeviceHandle, mirror: Mirror) -> bool {
        let mut devices = self.devices();
        if let Some(Supervised {
            runs: Runs::Here { .. },
            ..
        }) = devices.get(&handle.id)
        {
            return false;
        }
        devices.insert(
            handle.id.clone(),
            Supervised {
                handle,
                runs: Runs::Elsewhere(mirror),
            },
        );
        true
    }

    /// The device that runs elsewhere and shows the code `scan` presents, if one does.
    pub(super) fn showing(&self, scan: &Scan<'_>) -> Option<DeviceId> {
        self.devices()
            .values()
            .find_map(|supervised| match &supervised.runs {
                Runs::Elsewhere(mirror) if mirror.shows(scan) => Some(supervised.handle.id.clone()),
                Runs::Elsewhere(_) | Runs::Here { .. } => None,
            })
    }

    /// What an event journaled by another node means here: a device that runs here has its
    /// relay rung (a message was queued there); one that runs elsewhere updates its view.
    pub(super) fn heard(&self, event: &JournaledEvent) {
        let devices = self.devices();
        match devices.get(&event.device_id) {
            Some(Supervised {
                handle,
                runs: Runs::Here { .. },
            }) if event.remote => {
                handle.wake_relay();
                handle.wake_for_actions();
            }
            Some(Supervised {
                runs: Runs::Elsewhere(mirror),
                ..
            }) => mirror.follow(&event.device_id, event),
            _ => {}
        }
    }

    /// Runs the device's actor here, run again if it panics; returns what the device had
    /// before, for the caller to stop.
    #[must_use]
    pub(super) fn run_here(&self, id: DeviceId, context: ActorContext) -> Option<Supervised> {
        let (commands, queue) = mpsc::channel(32);
        let queue: CommandQueue = Arc::new(tokio::sync::Mutex::new(queue));
        let (qr_sender, qr_receiver) = watch::channel(None);
        let (me_sender, me_receiver) = watch::channel(None);
        let (health_sender, health_receiver) = watch::channel(HealthStatus::Healthy);
        let bell = Arc::new(RelayBell::default());
        let actor = ToActor::new(commands);
        let handle = DeviceHandle::new(
            id.clone(),
            Arc::new(actor.clone()),
            qr_receiver,
            me_receiver,
            health_receiver,
            bell.clone(),
        );
        let task = tokio::spawn(restart_on_panic(id.clone(), move |after_crash| {
            let (context, id, qr_sender, me_sender, health_sender, queue, bell) = (
                context.clone(),
                id.clone(),
                qr_sender.clone(),
                me_sender.clone(),
                health_sender.clone(),
                queue.clone(),
                bell.clone(),
            );
            async move {
                let boot_reason = if after_crash {
                    "actor_restart"
                } else {
                    "daemon_restart"
                };
                match Actor::load(
                    context,
                    id.clone(),
                    qr_sender,
                    me_sender,
                    health_sender,
                    bell,
                )
                .await
                {
                    Ok(Some((actor, autostart))) => actor.run(queue, autostart, boot_reason).await,
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(device_id = %id, %error, "cannot load the device")
                    }
                }
            }
        }));
        self.devices().insert(
            handle.id.clone(),
            Supervised {
                handle,
                runs: Runs::Here { actor, task },
            },
        )
    }

    /// Stops every actor (each records its shutdown), all at once, each within
    /// [`SHUTDOWN_DEADLINE`], and forgets every device.
    pub(super) async fn shutdown(&self) {
        let all: Vec<Supervised> = self.devices().drain().map(|(_, s)| s).collect();
        futures_util::future::join_all(all.into_iter().map(|supervised| stop(Some(supervised))))
            .await;
    }
}

/// Stops the actor of `supervised`, if it runs here, and waits until it has, for at most
/// [`SHUTDOWN_DEADLINE`]; past it, the actor's task is aborted.
pub(super) async fn stop(supervised: Option<Supervised>) {
    let Some(Supervised {
        handle,
        runs: Runs::Here { actor, mut task },
    }) = supervised
    else {
        return;
    };
    let stopped = tokio::time::timeout(SHUTDOWN_DEADLINE, async {
        let _ = actor.command(Command::Shutdown).await;
        let _ = (&mut task).await;
    })
    .await;
    if stopped.is_err() {
        tracing::error!(device_id = %handle.id, deadline = ?SHUTDOWN_DEADLINE, "the device's actor did not stop in time; abandoned");
        task.abort();
    }
}

/// Runs the task that `attempt` makes until it ends without panicking. After a panic it makes
/// the task again, telling it so; the actor's command queue sits behind a mutex whose guard is
/// released by the unwinding, so the new actor picks up where the old one stopped.
async fn restart_on_panic<F, Fut>(id: DeviceId, mut attempt: F)
where
    F: FnMut(bool) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut after_crash = false;
    loop {
        match tokio::spawn(attempt(after_crash)).await {
            Err(crash) if crash.is_panic() => {
                tracing::error!(device_id = %id, "device actor crashed; restarting it");
                after_crash = true;
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_panicking_task_is_restarted_and_gets_the_queue_back() {
        let queue = Arc::new(tokio::sync::Mutex::new(0u32));
        let runs = Arc::new(AtomicU32::new(0));
        let (seen_queue, seen_runs) = (queue.clone(), runs.clone());
        restart_on_panic(DeviceId::parse("crashy").unwrap(), move |after_crash| {
            let (queue, runs) = (seen_queue.clone(), seen_runs.clone());
            async move {
                let mut held = queue.lock_owned().await;
                *held += 1;
                let run = runs.fetch_add(1, Ordering::SeqCst);
                assert_eq!(after_crash, run > 0);
                if run < 2 {
                    panic!("simulated crash while holding the queue");
                }
            }
        })
        .await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "two crashes, then a clean end"
        );
        assert_eq!(*queue.lock().await, 3, "each run got the queue back");
    }

    /// Every device's channels allocate room for 32 messages each when the device starts, so
    /// what a message takes inline is paid 32 times by every idle device: kept small, with the
    /// larger requests and reports boxed.
    #[test]
    fn what_a_device_is_sent_is_small_inline() {
        use crate::device::actor::{Command, Reply};
        use crate::device::upstream::UpstreamEvent;
        let command = std::mem::size_of::<(Command, Reply)>();
        let report = std::mem::size_of::<UpstreamEvent>();
        assert!(command <= 64, "a command takes {command} bytes inline");
        assert!(
            report <= 32,
            "an upstream report takes {report} bytes inline"
        );
    }
}
