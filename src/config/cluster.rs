//! This node's place among the daemons that share one PostgreSQL database.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// This node's place in a cluster: several daemons sharing one PostgreSQL database (SPEC §10).
/// Ignored on SQLite, where the one daemon runs every device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// The node's name in the cluster; empty: `<host name>-<process id>`, new at each start.
    pub node_id: String,
    /// Where the other nodes reach this one to carry a device's commands to it; empty: the
    /// node's `server.public_url`.
    pub advertise_url: String,
    /// How long a node holds a device without renewing its lease. A node that stops renewing
    /// (it died, froze or lost the database) loses its devices to the others after this.
    pub lease_secs: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            node_id: String::new(),
            advertise_url: String::new(),
            lease_secs: 10,
        }
    }
}

impl ClusterSettings {
    /// [`node_id`](Self::node_id), or the host's name and the process id when it is empty.
    pub fn node_id(&self) -> String {
        if !self.node_id.is_empty() {
            return self.node_id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "node".to_owned());
        format!("{host}-{}", std::process::id())
    }

    /// [`advertise_url`](Self::advertise_url); when it is empty, the address the node is
    /// `bound` to if that is a loopback one (the only way to reach it, without the doubt of a
    /// `localhost` that may name IPv6's loopback first), else `public_url`.
    pub fn advertise_url(&self, public_url: &str, bound: SocketAddr) -> String {
        if !self.advertise_url.is_empty() {
            return self.advertise_url.trim_end_matches('/').to_owned();
        }
        match bound.ip().is_loopback() {
            true => format!("http://{bound}"),
            false => public_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
}
