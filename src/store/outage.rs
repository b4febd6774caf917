//! Storage outages: stretches of time in which the database cannot be written, because the
//! disk is full, the file or its directory went read-only, writing fails with an I/O error, or
//! the PostgreSQL server cannot be reached or refuses writes.
//!
//! Such a failure is the storage's, not the write's: the same write succeeds once the disk has
//! room again, so callers are answered `storage_unavailable` (try again later) rather than
//! `internal`. During an outage every write fails, possibly thousands a second; the log gets
//! one error when the outage begins and one line when a commit succeeds again, instead of a
//! line per write that an operator would have to scroll past to find the cause.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use std::io::ErrorKind;

use rusqlite::ErrorCode;

use super::StoreError;

impl StoreError {
    /// Whether this is a failure to write the database at all (see the module's
    /// documentation), as opposed to a failure of one write.
    pub fn is_unwritable(&self) -> bool {
        match self {
            StoreError::Unwritable(_) => true,
            StoreError::Sqlite(error) => is_unwritable(error),
            StoreError::Postgres(error) => is_unreachable(error),
            StoreError::Connect(..) => true,
            _ => false,
        }
    }
}

/// Whether SQLite failed because it cannot write its files: `SQLITE_FULL`, `SQLITE_READONLY`,
/// `SQLITE_IOERR` (which a write past the file size limit, `EFBIG`, also gives) or
/// `SQLITE_CANTOPEN` (the log or its index cannot be created).
pub(super) fn is_unwritable(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(
            ErrorCode::DiskFull
                | ErrorCode::ReadOnly
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
        )
    )
}

/// Whether PostgreSQL failed as a server rather than for one statement: the connection is
/// gone (the server stopped, the network failed), or the server is out of room, shutting down
/// or read-only (a standby).
fn is_unreachable(error: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    let refused = [
        SqlState::DISK_FULL,
        SqlState::INSUFFICIENT_RESOURCES,
        SqlState::OUT_OF_MEMORY,
        SqlState::READ_ONLY_SQL_TRANSACTION,
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
    ];
    error.is_closed()
        || error.code().is_some_and(|code| refused.contains(code))
        || std::error::Error::source(error).is_some_and(|source| source.is::<std::io::Error>())
}

/// Whether writing a file of the data directory (an upload) failed because the disk cannot
/// take it: full, over a quota or the file size limit, or read-only.
pub fn is_unwritable_file(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::StorageFull
            | ErrorKind::QuotaExceeded
            | ErrorKind::FileTooLarge
            | ErrorKind::ReadOnlyFilesystem
    )
}

/// How many bytes the filesystem holding `path` has free for the daemon (`statvfs`'s blocks
/// available to unprivileged processes); `None` where that cannot be told.
fn free_bytes(path: &std::path::Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: `path` is a NUL-terminated string and `stats` a `statvfs` for the call to
        // fill in; both outlive it.
        let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)] // the fields' widths differ between platforms
        Some((stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Whether an outage is under way; shared by the store's writer and checkpointer threads,
/// both of which write the database's files.
#[derive(Clone, Default)]
pub(super) struct Outage(Arc<Watch>);

#[derive(Default)]
struct Watch {
    on: AtomicBool,
    /// The room the disk must have for the outage to be over, where the database is a file.
    room: Option<Room>,
}

/// The disk holding `dir` must keep `bytes` free (see [`Outage::keep_free`]).
struct Room {
    dir: PathBuf,
    bytes: AtomicU64,
}

impl Outage {
    /// The outage of a database in `dir`, whose disk may fill up.
    pub(super) fn on_disk(dir: PathBuf) -> Outage {
        Outage(Arc::new(Watch {
            on: AtomicBool::new(false),
            room: Some(Room {
                dir,
                bytes: AtomicU64::new(0),
            }),
        }))
    }

    /// From now on, the database's disk counts as full while it has less than `bytes` free.
    pub(super) fn keep_free(&self, bytes: u64) {
        if let Some(room) = &self.0.room {
            room.bytes.store(bytes, Ordering::Release);
        }
    }

    /// Whether the database's disk has less free than [`Outage::keep_free`] asked.
    pub(super) fn lacks_room(&self) -> bool {
        self.0.room.as_ref().is_some_and(|room| {
            free_bytes(&room.dir).is_some_and(|free| free < room.bytes.load(Ordering::Acquire))
        })
    }

    /// A write or checkpoint failed because the database cannot be written: the first such
    /// failure of an outage is logged, with its cause.
    pub(super) fn failed(&self, cause: &dyn std::fmt::Display) {
        if !self.0.on.swap(true, Ordering::AcqRel) {
            tracing::error!(
                %cause,
                "the database cannot be written (disk full, read-only or failing): writes are \
                 answered `storage_unavailable` and /ready fails until one succeeds"
            );
        }
    }

    /// A commit that changed rows succeeded, so it wrote to the disk: the outage, if there was
    /// one, is over, unless the disk is still short of room. A disk that filled up takes small
    /// commits (the readiness check's row, a short message) long before the largest requests
    /// fit again, and the daemon's log, often on the same disk, could not take the line saying
    /// it is over. Called after every such commit, so the usual case is one load.
    pub(super) fn committed(&self) {
        if self.0.on.load(Ordering::Acquire)
            && !self.lacks_room()
            && self.0.on.swap(false, Ordering::AcqRel)
        {
            tracing::info!("the database can be written again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_lasts_while_the_disk_lacks_room_even_if_commits_succeed() {
        let outage = Outage::on_disk(std::env::temp_dir());
        outage.failed(&"disk full");
        outage.keep_free(u64::MAX);
        assert!(outage.lacks_room());
        outage.committed();
        assert!(
            outage.0.on.load(Ordering::Acquire),
            "over while the disk lacks room"
        );
        outage.keep_free(0);
        assert!(!outage.lacks_room());
        outage.committed();
        assert!(
            !outage.0.on.load(Ordering::Acquire),
            "not over once there is room"
        );
    }

    #[test]
    fn a_database_that_is_not_a_file_never_lacks_room() {
        let outage = Outage::default();
        outage.keep_free(u64::MAX);
        assert!(!outage.lacks_room());
    }
}
