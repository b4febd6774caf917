//! What the hub missed while it could not keep up with the bus, worked out from the store.
//!
//! Devices defined or removed and keys revoked reach the hub as bus messages, one a commit,
//! kept for a few hundred commits (`bus`). A hub that could not run for longer (a stalled
//! host, a burst of commits) is told how many it missed, not which: it reads what the store
//! holds now and does what the missed messages would have done, so that no device stays
//! without its namespace and no revoked key keeps its connections.

use std::collections::HashSet;

use super::SocketHub;
use crate::bus::DeviceChange;
use crate::model::DeviceId;
use crate::store;

/// The changes that bring the namespaces `open` here to the devices `stored`: every stored
/// device defined again (one edited meanwhile is announced with its new definition; opening
/// an open namespace does nothing), every open one the store no longer has removed.
fn missed_device_changes(open: &HashSet<DeviceId>, stored: Vec<DeviceId>) -> Vec<DeviceChange> {
    let kept: HashSet<&DeviceId> = stored.iter().collect();
    let gone: Vec<_> = open
        .iter()
        .filter(|id| !kept.contains(id))
        .cloned()
        .map(DeviceChange::Removed)
        .collect();
    gone.into_iter()
        .chain(stored.into_iter().map(DeviceChange::Defined))
        .collect()
}

impl SocketHub {
    /// Opens, closes and announces the devices as the store has them, after device changes
    /// were missed. The namespaces open are read before the store, so that a device opened in
    /// between is not taken for one removed.
    pub(super) async fn catch_up_devices(&self) {
        let open: HashSet<DeviceId> = self.inner.fanouts.devices().into_iter().collect();
        let stored = self.inner.store.read(store::devices::ids).await;
        match stored {
            Ok(stored) => {
                self.apply_device_changes(&missed_device_changes(&open, stored))
                    .await
            }
            Err(error) => {
                tracing::error!(%error, "the devices could not be read to catch up with the changes missed; restart to open their namespaces");
            }
        }
    }

    /// Closes the connections of every key revoked, after revocations were missed: a key
    /// stays revoked, so closing those of a key revoked long ago closes nothing.
    pub(super) async fn catch_up_revocations(&self) {
        match self.inner.store.read(store::keys::revoked_ids).await {
            Ok(revoked) => self.disconnect_keys(&revoked.into_iter().collect::<Vec<_>>()),
            Err(error) => {
                tracing::error!(%error, "the keys could not be read to catch up with the revocations missed; restart to close their connections");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<DeviceId> {
        names.iter().map(|n| DeviceId::parse(n).unwrap()).collect()
    }

    #[test]
    fn devices_missed_are_opened_and_announced_and_those_gone_closed() {
        let open: HashSet<_> = ids(&["kept", "removed"]).into_iter().collect();
        let changes = missed_device_changes(&open, ids(&["kept", "created"]));
        assert_eq!(
            changes,
            [
                DeviceChange::Removed(ids(&["removed"])[0].clone()),
                DeviceChange::Defined(ids(&["kept"])[0].clone()),
                DeviceChange::Defined(ids(&["created"])[0].clone()),
            ]
        );
    }
}
