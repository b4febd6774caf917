//! Storage outages: stretches of time in which the database cannot be written, because the
//! disk is full, the file or its directory went read-only, writing fails with an I/O error, or
//! the PostgreSQL server cannot be reached or refuses writes.
//!
//! Such a failure is the storage's, not the write's: the same write succeeds once the disk has
//! room again, so callers are answered `storage_unavailable` (try again later) rather than
//! `internal`. During an outage every write fails, possibly thousands a second; the log gets
//! one error when the outage begins and one line when a commit succeeds again, instead of a
//! line per write that an operator would have to scroll past to find the cause.

use std::sync::atomic::{AtomicBool, Ordering};
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
pub fn free_bytes(path: &std::path::Path) -> Option<u64> {
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
pub(super) struct Outage(Arc<AtomicBool>);

impl Outage {
    /// A write or checkpoint failed because the database cannot be written: the first such
    /// failure of an outage is logged, with its cause.
    pub(super) fn failed(&self, cause: &dyn std::fmt::Display) {
        if !self.0.swap(true, Ordering::AcqRel) {
            tracing::error!(
                %cause,
                "the database cannot be written (disk full, read-only or failing): writes are \
                 answered `storage_unavailable` and /ready fails until one succeeds"
            );
        }
    }

    /// A commit that changed rows succeeded, so it wrote to the disk: the outage, if there was
    /// one, is over. Called after every such commit, so the usual case is one load.
    pub(super) fn committed(&self) {
        if self.0.load(Ordering::Acquire) && self.0.swap(false, Ordering::AcqRel) {
            tracing::info!("the database can be written again");
        }
    }
}
