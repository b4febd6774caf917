//! What the nodes of a cluster share in PostgreSQL (SPEC §10): the nodes themselves, each
//! renewing its row while it runs, and the device leases, which say which node runs each
//! device (its owner) and under which epoch.
//!
//! Times here are the database's clock, in milliseconds since the Unix epoch: nodes compare
//! leases by one clock, whatever theirs say. A node keeps its own, monotonic, measure of how
//! long its leases last (see `device::ownership`), which no frozen process can outlive.
//!
//! These statements run outside the group commit ([`Store::coordinate`]): a renewal must not
//! wait behind a queue of writes, or a busy node would lose its devices.

pub(super) mod notices;

use super::sql::{params, Conn};
use super::{Store, StoreError, StoreResult, Tx};
use crate::model::DeviceId;

/// The database's clock, in milliseconds.
macro_rules! now_ms {
    () => {
        "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT"
    };
}

/// A device's lease as this node holds it: the epoch its writes are fenced by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub device: DeviceId,
    pub epoch: i64,
}

/// A node as the others see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    pub id: String,
    pub url: String,
    /// When it last renewed its row, in the database's milliseconds.
    pub last_seen_ms: i64,
    /// Renewed within a lease's length, and not leaving.
    pub alive: bool,
    /// Devices whose live lease it holds.
    pub devices: i64,
}

/// A device's lease: its owner while the lease is live, and its epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub device: DeviceId,
    pub owner: Option<String>,
    pub epoch: i64,
}

/// Where a device runs: the owner's id and the URL the other nodes reach it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub node: String,
    pub url: String,
    pub epoch: i64,
}

impl Store {
    /// Runs cluster coordination statements on a connection of their own, each committing
    /// by itself (see the module's documentation).
    pub async fn coordinate<R, F>(&self, op: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: Fn(&Conn) -> StoreResult<R> + Send + 'static,
    {
        super::run_on(self.coordination.clone(), op).await
    }
}

/// Says that node `node` runs, reachable at `url`, and is leaving (handing its devices over)
/// or not.
pub fn heartbeat(conn: &Conn, node: &str, url: &str, leaving: bool) -> StoreResult<()> {
    conn.execute(
        concat!(
            "INSERT INTO nodes (id, url, started_at, last_seen, leaving) VALUES (?1, ?2, ",
            now_ms!(),
            ", ",
            now_ms!(),
            ", ?3)
             ON CONFLICT (id) DO UPDATE SET url = excluded.url,
                 last_seen = excluded.last_seen, leaving = excluded.leaving"
        ),
        params![node, url, i64::from(leaving)],
    )?;
    Ok(())
}

/// Extends every live lease `node` holds by `lease_ms`, and returns them: a lease it held
/// that is not returned has lapsed (and may be another node's already).
pub fn renew(conn: &Conn, node: &str, lease_ms: i64) -> StoreResult<Vec<Held>> {
    conn.query_all(
        concat!(
            "UPDATE leases SET expires_at = ",
            now_ms!(),
            " + ?2 WHERE owner = ?1 AND expires_at > ",
            now_ms!(),
            " RETURNING device_id, epoch"
        ),
        params![node, lease_ms],
        held,
    )
}

/// Takes up to `most` devices that no node holds (never leased, released, or whose owner's
/// lease lapsed) for `node`, each under a new epoch. Nodes claiming together take different
/// devices: a lease row one of them is taking is skipped by the others, and so is one that a
/// write of its owner is checking (see `Tx::check_fence`), until that write commits.
pub fn claim(conn: &Conn, node: &str, lease_ms: i64, most: i64) -> StoreResult<Vec<Held>> {
    if most <= 0 {
        return Ok(Vec::new());
    }
    let mut taken = conn.query_all(
        concat!(
            "INSERT INTO leases (device_id, owner, epoch, expires_at)
             SELECT id, ?1, 1, ",
            now_ms!(),
            " + ?2 FROM devices WHERE id NOT IN (SELECT device_id FROM leases)
             ORDER BY id LIMIT ?3
             ON CONFLICT (device_id) DO NOTHING
             RETURNING device_id, epoch"
        ),
        params![node, lease_ms, most],
        held,
    )?;
    let left = most - taken.len() as i64;
    if left > 0 {
        taken.extend(conn.query_all(
            concat!(
                "UPDATE leases SET owner = ?1, epoch = epoch + 1, expires_at = ",
                now_ms!(),
                " + ?2 WHERE device_id IN (
                     SELECT device_id FROM leases
                     WHERE (owner IS NULL OR expires_at <= ",
                now_ms!(),
                ") AND device_id IN (SELECT id FROM devices)
                     ORDER BY device_id LIMIT ?3 FOR UPDATE SKIP LOCKED)
                 RETURNING device_id, epoch"
            ),
            params![node, lease_ms, left],
            held,
        )?);
    }
    Ok(taken)
}

/// Lets go of `device` at once, so that another node takes it over at its next claim.
pub fn release(conn: &Conn, node: &str, device: &DeviceId) -> StoreResult<()> {
    conn.execute(
        "UPDATE leases SET owner = NULL, expires_at = 0 WHERE device_id = ?1 AND owner = ?2",
        params![device.as_str(), node],
    )?;
    Ok(())
}

/// Lets go of every lease `node` holds: those of an earlier run under the same node id.
pub fn release_all(conn: &Conn, node: &str) -> StoreResult<()> {
    conn.execute(
        "UPDATE leases SET owner = NULL, expires_at = 0 WHERE owner = ?1",
        params![node],
    )?;
    Ok(())
}

/// How many devices there are, and how many nodes are alive to share them (at least one:
/// the caller).
pub fn fleet_size(conn: &Conn, lease_ms: i64) -> StoreResult<(i64, i64)> {
    conn.query_one(
        concat!(
            "SELECT (SELECT COUNT(*) FROM devices),
                    (SELECT COUNT(*) FROM nodes WHERE leaving = 0 AND last_seen > ",
            now_ms!(),
            " - ?1)"
        ),
        params![lease_ms],
        |row| Ok((row.get(0)?, row.get::<i64>(1)?.max(1))),
    )
}

/// Every node that ever ran on the database, with whether it is alive and how many devices
/// it holds.
pub fn nodes(conn: &Conn, lease_ms: i64) -> StoreResult<Vec<NodeRow>> {
    conn.query_all(
        concat!(
            "SELECT n.id, n.url, n.last_seen,
                    CASE WHEN n.leaving = 0 AND n.last_seen > ",
            now_ms!(),
            " - ?1 THEN 1 ELSE 0 END,
                    (SELECT COUNT(*) FROM leases l WHERE l.owner = n.id AND l.expires_at > ",
            now_ms!(),
            ")
             FROM nodes n ORDER BY n.id"
        ),
        params![lease_ms],
        |row| {
            Ok(NodeRow {
                id: row.get(0)?,
                url: row.get(1)?,
                last_seen_ms: row.get(2)?,
                alive: row.get::<i64>(3)? == 1,
                devices: row.get(4)?,
            })
        },
    )
}

/// Every device's lease; a lapsed lease has no owner.
pub fn leases(conn: &Conn) -> StoreResult<Vec<LeaseRow>> {
    conn.query_all(
        concat!(
            "SELECT d.id, CASE WHEN l.expires_at > ",
            now_ms!(),
            " THEN l.owner END, COALESCE(l.epoch, 0)
             FROM devices d LEFT JOIN leases l ON l.device_id = d.id ORDER BY d.id"
        ),
        params![],
        |row| {
            Ok(LeaseRow {
                device: device_id(row.get(0)?)?,
                owner: row.get(1)?,
                epoch: row.get(2)?,
            })
        },
    )
}

/// The node that holds `device`'s live lease, if one does.
pub fn owner(conn: &Conn, device: &DeviceId) -> StoreResult<Option<Owner>> {
    conn.query_opt(
        concat!(
            "SELECT l.owner, n.url, l.epoch FROM leases l JOIN nodes n ON n.id = l.owner
             WHERE l.device_id = ?1 AND l.expires_at > ",
            now_ms!()
        ),
        params![device.as_str()],
        |row| {
            Ok(Owner {
                node: row.get(0)?,
                url: row.get(1)?,
                epoch: row.get(2)?,
            })
        },
    )
}

/// Claims webhook delivery `delivery` for `node` for `hold_ms`, unless another node holds a
/// live claim on it: each delivery is attempted by one node at a time, and by another once a
/// claim runs out (its node died mid-attempt). Whether this node has it.
pub fn claim_delivery(conn: &Conn, delivery: &str, node: &str, hold_ms: i64) -> StoreResult<bool> {
    claim_row(
        conn,
        "webhook_deliveries",
        "status IN ('pending', 'retrying')",
        delivery,
        node,
        hold_ms,
    )
}

/// Claims event sink `sink` for `node` for `hold_ms`, unless another node holds a live claim
/// on it: one node publishes a sink's events at a time, and another takes over once a claim
/// runs out (its node died or froze). Whether this node has it.
pub fn claim_sink(conn: &Conn, sink: &str, node: &str, hold_ms: i64) -> StoreResult<bool> {
    claim_row(conn, "sinks", "enabled = 1", sink, node, hold_ms)
}

/// Claims row `id` of `table` (one with `claimed_by` and `claimed_until`, whose rows also
/// meet `condition`) for `node` until `hold_ms` from now, unless another node's claim on it
/// is still live; a row another node is claiming at this moment is skipped, not waited for.
fn claim_row(
    conn: &Conn,
    table: &str,
    condition: &str,
    id: &str,
    node: &str,
    hold_ms: i64,
) -> StoreResult<bool> {
    let now = now_ms!();
    let claimed = conn.query_opt(
        &format!(
            "UPDATE {table} SET claimed_by = ?2, claimed_until = {now} + ?3 WHERE id IN (
                 SELECT id FROM {table}
                 WHERE id = ?1 AND {condition}
                 AND (claimed_until IS NULL OR claimed_until < {now} OR claimed_by = ?2)
                 FOR UPDATE SKIP LOCKED)
             RETURNING id"
        ),
        params![id, node, hold_ms],
        |row| row.get::<String>(0),
    )?;
    Ok(claimed.is_some())
}

/// The owner of a device's writes: the node and the epoch of its lease.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fence {
    pub device: DeviceId,
    pub node: String,
    pub epoch: i64,
}

impl Tx<'_> {
    /// Refuses the write unless `fence` still names the device's live lease. The lease row
    /// stays locked until the commit, so no node takes the device over in between; a device is
    /// checked once per group commit.
    ///
    /// The lock is `FOR KEY SHARE`, the weakest: it holds off a takeover, whose claim locks the
    /// rows it takes `FOR UPDATE` (and skips this one), but not the owner's own renewal, which
    /// updates every lease of the node in one statement. With `FOR SHARE` a renewal that had
    /// locked one lease and waited for another would deadlock with a group commit that
    /// checked the second and then wanted the first.
    pub(super) fn check_fence(&mut self, fence: &Fence) -> StoreResult<()> {
        if self.fences_checked.contains(fence) {
            return Ok(());
        }
        let held = self.conn.exists(
            concat!(
                "SELECT 1 FROM leases WHERE device_id = ?1 AND owner = ?2 AND epoch = ?3
                 AND expires_at > ",
                now_ms!(),
                " FOR KEY SHARE"
            ),
            params![fence.device.as_str(), fence.node, fence.epoch],
        )?;
        if !held {
            return Err(StoreError::Fenced(fence.device.to_string()));
        }
        self.fences_checked.insert(fence.clone());
        Ok(())
    }

    /// Forgets a removed device's lease.
    pub(super) fn delete_lease(&mut self, device: &DeviceId) -> StoreResult<()> {
        if self.conn.is_postgres() {
            self.execute(
                "DELETE FROM leases WHERE device_id = ?1",
                params![device.as_str()],
            )?;
        }
        Ok(())
    }
}

fn held(row: &super::sql::Row<'_>) -> StoreResult<Held> {
    Ok(Held {
        device: device_id(row.get(0)?)?,
        epoch: row.get(1)?,
    })
}

fn device_id(text: String) -> StoreResult<DeviceId> {
    DeviceId::parse(&text).map_err(|_| StoreError::Unreadable(format!("device id {text:?}")))
}

/// The cluster's tables, the claims on webhook deliveries, and the devices' journal numbers
/// drawn from a sequence: the third step of PostgreSQL's schema.
pub(super) const SCHEMA: &str = r#"
    CREATE TABLE nodes (
        id TEXT COLLATE "C" PRIMARY KEY,
        url TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        leaving BIGINT NOT NULL DEFAULT 0
    );
    CREATE TABLE leases (
        device_id TEXT COLLATE "C" PRIMARY KEY,
        owner TEXT COLLATE "C",
        epoch BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX leases_by_owner ON leases (owner);
    ALTER TABLE webhook_deliveries ADD COLUMN claimed_by TEXT COLLATE "C";
    ALTER TABLE webhook_deliveries ADD COLUMN claimed_until BIGINT;
    CREATE SEQUENCE device_nums OWNED BY device_seq.num;
    SELECT setval('device_nums', COALESCE((SELECT MAX(num) FROM device_seq), 0) + 1, false);
    ALTER TABLE device_seq ALTER COLUMN num SET DEFAULT nextval('device_nums');
"#;
