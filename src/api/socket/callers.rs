//! One shared copy of each set of credentials the sockets connected with.
//!
//! A dashboard fleet connects thousands of sockets with the same API key (or tokens of the
//! same claims), and each socket keeps its credentials for its life: its events are checked
//! against them, and it is disconnected when they end or their key is revoked. Kept once per
//! socket, a [`Caller`] (its grants, their key, subject and sets of devices and scopes: six
//! allocations) was ~1.1 KiB of every idle connection's RSS, and every client event copied it
//! whole to check it. Shared, a socket holds a pointer, and an event's check copies that.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::api::auth::Caller;

/// Fewest shared callers kept before the ones no socket holds any more are let go.
const SWEEP_FLOOR: usize = 64;

#[derive(Default)]
pub(super) struct SharedCallers {
    known: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    callers: HashSet<Arc<Caller>>,
    /// How many were still held at the last sweep: the next comes when there are twice as
    /// many, so the callers no socket holds are at most as many as the held ones (or the
    /// floor), and sweeping costs a constant share of each call.
    held_at_sweep: usize,
}

impl SharedCallers {
    /// The shared copy of `caller`: the one another socket already holds if they are equal.
    pub(super) fn share(&self, caller: Caller) -> Arc<Caller> {
        let mut known = self.known.lock().expect("shared callers lock");
        if let Some(shared) = known.callers.get(&caller) {
            return shared.clone();
        }
        if known.callers.len() >= SWEEP_FLOOR.max(2 * known.held_at_sweep) {
            // Held only here: every socket that connected with it is gone.
            known.callers.retain(|shared| Arc::strong_count(shared) > 1);
            known.held_at_sweep = known.callers.len();
        }
        let shared = Arc::new(caller);
        known.callers.insert(shared.clone());
        shared
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.known
            .lock()
            .expect("shared callers lock")
            .callers
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::auth::{Grant, Scope};

    fn caller(key: &str, expires: Option<u64>) -> Caller {
        Caller {
            grants: vec![Grant {
                subject: "dashboard".into(),
                key: key.into(),
                devices: ["*".to_owned()].into(),
                scopes: [Scope::Read, Scope::Send].into(),
                expires,
                profile: None,
            }],
        }
    }

    #[test]
    fn equal_credentials_share_one_copy_and_different_ones_do_not() {
        let shared = SharedCallers::default();
        let first = shared.share(caller("key_1", None));
        let second = shared.share(caller("key_1", None));
        assert!(Arc::ptr_eq(&first, &second));
        let other_key = shared.share(caller("key_2", None));
        let other_end = shared.share(caller("key_1", Some(1_900_000_000)));
        assert!(!Arc::ptr_eq(&first, &other_key));
        assert!(!Arc::ptr_eq(&first, &other_end));
        assert_eq!(*other_end, caller("key_1", Some(1_900_000_000)));
    }

    #[test]
    fn callers_no_socket_holds_are_let_go() {
        let shared = SharedCallers::default();
        let held: Vec<_> = (0..10)
            .map(|n| shared.share(caller(&format!("held_{n}"), None)))
            .collect();
        for n in 0..1000 {
            drop(shared.share(caller(&format!("gone_{n}"), None)));
            assert!(shared.kept() <= SWEEP_FLOOR.max(2 * held.len()) + 1);
        }
        // The held ones were kept through every sweep: sharing them again finds them.
        for (n, first) in held.iter().enumerate() {
            let again = shared.share(caller(&format!("held_{n}"), None));
            assert!(Arc::ptr_eq(first, &again));
        }
    }
}
