//! Access tokens end: a socket that connected with one is disconnected when it does, as a
//! request made with it is refused from then on. The client asks for a new token and connects
//! again with `lastSeq`, losing nothing.
//!
//! One task keeps every such socket in order of expiry, so a socket costs an entry in a map
//! rather than a timer of its own, and sockets that leave earlier are forgotten.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;
use socketioxide::SocketIo;
use tokio::sync::mpsc;

use crate::api::auth::{unix_now, Caller};
use crate::tasks::Tasks;

enum Change {
    Watch {
        ends: u64,
        sid: Sid,
        namespace: String,
    },
    Forget {
        ends: u64,
        sid: Sid,
    },
}

#[derive(Clone)]
pub struct Expiries {
    changes: mpsc::UnboundedSender<Change>,
}

impl Expiries {
    /// Starts the task, one of `tasks`, that disconnects sockets of `io` whose credentials
    /// have ended.
    pub fn start(io: SocketIo, tasks: &Tasks) -> Self {
        let (changes, received) = mpsc::unbounded_channel();
        tasks.spawn(disconnect_when_due(io, received));
        Self { changes }
    }

    /// Disconnects `socket` when the credentials it connected with end, if they do.
    pub fn watch(&self, socket: &SocketRef, caller: &Caller) {
        if let Some(ends) = caller.expires() {
            let _ = self.changes.send(Change::Watch {
                ends,
                sid: socket.id,
                namespace: socket.ns().to_owned(),
            });
        }
    }

    /// `socket` is gone: no need to disconnect it any more.
    pub fn forget(&self, socket: &SocketRef) {
        let ends = socket
            .extensions
            .get::<Arc<Caller>>()
            .and_then(|c| c.expires());
        if let Some(ends) = ends {
            let _ = self.changes.send(Change::Forget {
                ends,
                sid: socket.id,
            });
        }
    }
}

async fn disconnect_when_due(io: SocketIo, mut changes: mpsc::UnboundedReceiver<Change>) {
    let mut due: BTreeMap<(u64, Sid), String> = BTreeMap::new();
    loop {
        let next = due.first_key_value().map(|(&(ends, _), _)| ends);
        tokio::select! {
            change = changes.recv() => match change {
                Some(Change::Watch { ends, sid, namespace }) => {
                    due.insert((ends, sid), namespace);
                }
                Some(Change::Forget { ends, sid }) => {
                    due.remove(&(ends, sid));
                }
                None => return,
            },
            () = until(next.unwrap_or_default()), if next.is_some() => {
                let now = unix_now();
                while let Some(entry) = due.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let ((_, sid), namespace) = entry.remove_entry();
                    if let Some(socket) = io.of(namespace).and_then(|ns| ns.get_socket(sid)) {
                        tracing::debug!(%sid, "access token ended; disconnecting its socket");
                        super::session::disconnect(socket, "token_expired");
                    }
                }
            }
        }
    }
}

/// Sleeps until the wall clock reaches `ends` (unix seconds).
async fn until(ends: u64) {
    let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let left = (ends * 1000).saturating_sub(now);
    tokio::time::sleep(Duration::from_millis(left)).await;
}
