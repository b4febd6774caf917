//! A node of a cluster, wired (SPEC §10): the lease keeper, and what the node does when another
//! node's commits reach its bus.

use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::bus::{DeviceChange, EventBus};
use crate::device::DeviceManager;
use crate::tasks::Tasks;

/// The key the nodes present to each other when one carries a device's request to its owner:
/// derived from the token signing key they share in the database, so it needs no setting and
/// no node without the database knows it.
pub(super) fn key(token_secret: &str) -> String {
    let digest = Sha256::digest(format!("devicebridge cluster\n{token_secret}"));
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The node's part in the cluster while it runs.
pub(super) struct Node {
    keeper: JoinHandle<()>,
    stop: CancellationToken,
    followers: Tasks,
}

impl Node {
    /// Starts keeping the node's leases, following the other nodes' events, and giving a
    /// device defined or removed on another node its handle here, or taking it away (the
    /// socket hub opens and closes its namespace as it hears of it).
    pub(super) fn start(devices: &DeviceManager, bus: &EventBus) -> Option<Self> {
        let remote = devices.remote()?.clone();
        let stop = CancellationToken::new();
        let keeper = tokio::spawn(
            remote
                .ownership()
                .clone()
                .keep(remote.clone(), stop.clone()),
        );
        bus.hear_remote_first(move |event| remote.heard(event));
        let followers = Tasks::default();
        let mut changes = bus.subscribe_device_changes();
        let devices = devices.clone();
        followers.spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match changes.recv().await {
                    Ok(committed) => {
                        for change in committed.iter() {
                            match change {
                                DeviceChange::Defined(id) => devices.adopt(id),
                                DeviceChange::Removed(id) => devices.forget(id).await,
                            }
                        }
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Some(Self {
            keeper,
            stop,
            followers,
        })
    }

    /// Hands the node's devices over to the others and stops following them.
    pub(super) async fn leave(self) {
        self.stop.cancel();
        let _ = self.keeper.await;
        self.followers.stop("cluster followers").await;
    }
}
