//! The device layer of a cluster (several daemons on one PostgreSQL database): which node runs
//! which device, and how the others reach it.
//!
//! - [`ownership`]: the lease keeper, which takes devices up to a fair share, renews their
//!   leases, and hands them over on shutdown;
//! - `leased`: the upstream a leased actor uses, each call claimed under the lease first;
//! - [`Remote`]: the node's devices, run here while it holds their leases and followed from
//!   the owner's events otherwise;
//! - `owners`: requests, pairing scans and upstream webhook deliveries carried to the owner
//!   over the nodes' internal routes.

mod leased;
mod owners;
pub mod ownership;
mod remote;

pub use owners::{ForwardedWebhook, CARRIED_ROUTE, SCAN_PATH, WEBHOOK_ROUTE};
pub use ownership::Ownership;
pub use remote::Remote;
