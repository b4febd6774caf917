//! Waiting on what raises no event a test can subscribe to: a server the test started taking
//! connections on its port (or no longer), an object store's listing, a daemon in another
//! process as its REST API shows it. What changes inside an in-process daemon is awaited on its
//! change counter instead ([`super::TestDaemon::wait_until`]).

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

/// How often what is awaited is looked at.
const EVERY: Duration = Duration::from_millis(50);

/// Looks with `look` now and every [`EVERY`] after, until it finds something; panics with
/// `what` and the last thing `look` saw once `within` has passed.
pub async fn until<T, F, Fut>(what: &str, within: Duration, mut look: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    let mut every = tokio::time::interval(EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match look().await {
            Ok(found) => return found,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what} (last seen: {seen})"
            ),
        }
    }
}

/// Whether something takes TCP connections at `address` now.
pub async fn listening(address: &str) -> bool {
    tokio::net::TcpStream::connect(address).await.is_ok()
}

/// Waits until something takes TCP connections at `address`, within `within`.
pub async fn opened(address: &str, within: Duration) {
    until_listening(address, true, within).await
}

/// Waits until nothing takes TCP connections at `address`, within `within`.
pub async fn closed(address: &str, within: Duration) {
    until_listening(address, false, within).await
}

async fn until_listening(address: &str, wanted: bool, within: Duration) {
    let what = match wanted {
        true => format!("{address} to open"),
        false => format!("{address} to close"),
    };
    until(&what, within, || async {
        match listening(address).await == wanted {
            true => Ok(()),
            false => Err(format!("listening: {}", !wanted)),
        }
    })
    .await
}
