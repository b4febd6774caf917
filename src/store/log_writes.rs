//! The writer's writes to SQLite's write-ahead log, gathered into one write a commit.
//!
//! SQLite writes each page of a commit to the log as two writes of its own: the frame's
//! 24-byte header, then the page. A group commit of the writer holds ~120 pages, so ~240
//! `pwrite` calls, and writing them was a fifth of the writer's time; gathered, a sixth
//! (docs/performance.md, send). This module is a SQLite VFS that is the system's own for
//! every file but the log, and for the log keeps consecutive writes in memory until SQLite
//! needs them in the file: before it syncs the log, reads it, asks its size, truncates or
//! closes it, and before it takes or releases a lock on the log's index. With
//! `synchronous = FULL` a commit syncs the log before it publishes itself in the index, so a
//! commit's pages are in the file before its sync, and the sync before any other connection
//! can see it; a commit whose pages cannot be written fails at its sync, as it would at the
//! write. With `synchronous = NORMAL` there is no sync to fail a commit, so the writer then
//! opens the database through the system's VFS (see `Store::open_sqlite`).
//!
//! Only the writer's connection opens the database through it; readers and the checkpointer
//! use the system's VFS, and since this one hands locking and the log's index to it
//! unchanged, all of them share the same locks.
//!
//! On the writer's thread, once it has called [`defer_syncs`], a commit's sync writes what is
//! gathered and leaves the sync itself owed ([`owed_sync`]): the writer hands it to the
//! syncer (see [`super::syncer`]), which syncs while the writer runs the next batch, and
//! answers and publishes a batch only once the log is synced. Other connections see a commit
//! before it is synced, as with `synchronous = NORMAL`; no write is acknowledged and no event
//! emitted before. The first sync of a log file it opens is always the system's own: it
//! also syncs the directory that holds the file. Checkpoints run on other connections,
//! through the system's VFS, and sync the whole log before they copy it.

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_void, CStr};
use std::fs::File;
use std::sync::{Arc, OnceLock};

use rusqlite::ffi;

/// The name the writer's connection asks for.
pub(super) const VFS: &str = "devicebridge-log-writes";
const VFS_NAME: &CStr = c"devicebridge-log-writes";

/// Writes gathered beyond this many bytes are written at once: a large commit (many large
/// messages) keeps at most this much in memory.
const MOST_GATHERED: usize = 4 << 20;

/// The most handed to the system's VFS in one write.
const PIECE: usize = 64 << 10;

/// The system's VFS, which does the work.
struct System(*mut ffi::sqlite3_vfs);
// SAFETY: SQLite's VFS objects are registered once and live as long as the process; their
// methods may be called from any thread.
unsafe impl Send for System {}
unsafe impl Sync for System {}

static SYSTEM: OnceLock<Result<System, c_int>> = OnceLock::new();

/// Registers the VFS, once per process; an error is SQLite's code.
pub(super) fn register() -> Result<(), c_int> {
    SYSTEM
        .get_or_init(|| {
            // SAFETY: the default VFS lives as long as the process; ours is leaked, so it does
            // too, as `sqlite3_vfs_register` requires.
            unsafe {
                let system = ffi::sqlite3_vfs_find(std::ptr::null());
                if system.is_null() {
                    return Err(ffi::SQLITE_ERROR);
                }
                let mut ours = *system;
                ours.zName = VFS_NAME.as_ptr();
                ours.pNext = std::ptr::null_mut();
                // Room for a log file; any other is the system's own, and takes less.
                ours.szOsFile = (INNER_AT + (*system).szOsFile as usize) as c_int;
                ours.xOpen = Some(open);
                let rc = ffi::sqlite3_vfs_register(Box::into_raw(Box::new(ours)), 0);
                match rc {
                    ffi::SQLITE_OK => Ok(System(system)),
                    rc => Err(rc),
                }
            }
        })
        .as_ref()
        .map(drop)
        .map_err(|rc| *rc)
}

/// A log file: SQLite's handle, what is gathered, how its syncs are done, then the system's
/// file.
#[repr(C)]
struct LogFile {
    base: ffi::sqlite3_file,
    gathered: *mut Gathered,
    syncs: *mut Syncs,
}

/// How a log's syncs are done.
struct Syncs {
    /// The same file opened again, for the syncer to sync; `None` if it could not be opened
    /// (the log is then synced by SQLite's own call, as without this VFS).
    file: Option<Arc<File>>,
    /// Whether the system's sync has run once, directory included.
    synced_once: bool,
}

thread_local! {
    /// Whether this thread's commits leave their sync owed (the writer's, see [`defer_syncs`]).
    static DEFERRING: Cell<bool> = const { Cell::new(false) };
    /// The log whose sync this thread owes.
    static OWED: RefCell<Option<Arc<File>>> = const { RefCell::new(None) };
}

/// From now on, the calling thread's commits through this VFS leave the log's sync owed, to
/// be taken with [`owed_sync`].
pub(super) fn defer_syncs() {
    DEFERRING.set(true);
}

/// From now on, the calling thread's commits sync the log again; a sync still owed is done now.
pub(super) fn stop_deferring() -> std::io::Result<()> {
    DEFERRING.set(false);
    owed_sync().map_or(Ok(()), |log| log.sync_data())
}

/// The log whose sync the calling thread owes since this was last called, if any.
pub(super) fn owed_sync() -> Option<Arc<File>> {
    OWED.take()
}

/// Where the system's file starts inside a [`LogFile`], aligned for it.
const INNER_AT: usize = std::mem::size_of::<LogFile>().next_multiple_of(16);

/// Consecutive writes not handed to the file yet: `bytes`, to be written at `at`.
#[derive(Default)]
struct Gathered {
    at: i64,
    bytes: Vec<u8>,
}

fn system() -> *mut ffi::sqlite3_vfs {
    match SYSTEM.get() {
        Some(Ok(System(system))) => *system,
        _ => unreachable!("the VFS opens files only once registered"),
    }
}

/// The system's file inside `file`.
unsafe fn inner(file: *mut ffi::sqlite3_file) -> *mut ffi::sqlite3_file {
    file.cast::<u8>().add(INNER_AT).cast()
}

unsafe fn methods(file: *mut ffi::sqlite3_file) -> &'static ffi::sqlite3_io_methods {
    &*(*file).pMethods
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let system = system();
    let system_open = (*system).xOpen.expect("a VFS opens files");
    if flags & ffi::SQLITE_OPEN_WAL == 0 {
        return system_open(system, name, file, flags, out_flags);
    }
    let log = file.cast::<LogFile>();
    (*log).base.pMethods = std::ptr::null();
    (*log).gathered = std::ptr::null_mut();
    (*log).syncs = std::ptr::null_mut();
    let rc = system_open(system, name, inner(file), flags, out_flags);
    if rc == ffi::SQLITE_OK {
        (*log).gathered = Box::into_raw(Box::default());
        (*log).syncs = Box::into_raw(Box::new(Syncs {
            file: opened_again(name).map(Arc::new),
            synced_once: false,
        }));
        (*log).base.pMethods = &LOG_METHODS;
    }
    rc
}

/// The log SQLite just opened, opened again for reading only: enough to sync it.
unsafe fn opened_again(name: ffi::sqlite3_filename) -> Option<File> {
    use std::os::unix::ffi::OsStrExt;
    if name.is_null() {
        return None;
    }
    let path = std::ffi::OsStr::from_bytes(CStr::from_ptr(name).to_bytes());
    File::open(path).ok()
}

/// A commit's sync: what is gathered is written, and the sync is done, or left owed on a
/// thread that defers them.
unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let rc = write_gathered(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let syncs = &mut *(*file.cast::<LogFile>()).syncs;
    if let (true, true, Some(log)) = (DEFERRING.get(), syncs.synced_once, &syncs.file) {
        OWED.set(Some(log.clone()));
        return ffi::SQLITE_OK;
    }
    let inner = inner(file);
    let rc = (methods(inner).xSync.expect("a file is synced"))(inner, flags);
    syncs.synced_once |= rc == ffi::SQLITE_OK;
    rc
}

/// Writes what is gathered, if anything, in pieces the system's VFS takes whole (its writes
/// are of at most 128 KiB less a byte). What failed to be written is dropped with the error:
/// SQLite rolls the commit back, and writes its frames again from where the log's last commit
/// ends.
unsafe fn write_gathered(file: *mut ffi::sqlite3_file) -> c_int {
    let gathered = &mut *(*file.cast::<LogFile>()).gathered;
    let inner = inner(file);
    let write = methods(inner).xWrite.expect("a file is written");
    let mut rc = ffi::SQLITE_OK;
    let mut at = gathered.at;
    for piece in gathered.bytes.chunks(PIECE) {
        rc = write(inner, piece.as_ptr().cast(), piece.len() as c_int, at);
        if rc != ffi::SQLITE_OK {
            break;
        }
        at += piece.len() as i64;
    }
    gathered.bytes.clear();
    rc
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let gathered = &mut *(*file.cast::<LogFile>()).gathered;
    let data = std::slice::from_raw_parts(data.cast::<u8>(), amount as usize);
    let end = gathered.at + gathered.bytes.len() as i64;
    if offset == end && !gathered.bytes.is_empty() {
        gathered.bytes.extend_from_slice(data);
    } else {
        // Anywhere else (a frame written again, a new log's first bytes): what is gathered
        // goes first, so that the later write lands over it as it would have.
        let rc = write_gathered(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        let gathered = &mut *(*file.cast::<LogFile>()).gathered;
        gathered.at = offset;
        gathered.bytes.extend_from_slice(data);
    }
    let gathered = &*(*file.cast::<LogFile>()).gathered;
    match gathered.bytes.len() > MOST_GATHERED {
        true => write_gathered(file),
        false => ffi::SQLITE_OK,
    }
}

/// Defines a method of the log that writes what is gathered, then does what the system's
/// does.
macro_rules! after_gathered {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*)) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> c_int {
            let rc = write_gathered(file);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
            let inner = inner(file);
            (methods(inner).$method.expect("the system's file has the method"))(inner, $($arg),*)
        }
    };
}

/// Defines a method of the log that the system's file does alone.
macro_rules! passed_on {
    ($name:ident, $method:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        unsafe extern "C" fn $name(file: *mut ffi::sqlite3_file, $($arg: $ty),*) -> $ret {
            let inner = inner(file);
            (methods(inner).$method.expect("the system's file has the method"))(inner, $($arg),*)
        }
    };
}

after_gathered!(read, xRead, (data: *mut c_void, amount: c_int, offset: i64));
after_gathered!(truncate, xTruncate, (size: i64));
after_gathered!(file_size, xFileSize, (size: *mut i64));
after_gathered!(file_control, xFileControl, (op: c_int, arg: *mut c_void));
after_gathered!(fetch, xFetch, (offset: i64, amount: c_int, pointer: *mut *mut c_void));
passed_on!(lock, xLock, (level: c_int) -> c_int);
passed_on!(unlock, xUnlock, (level: c_int) -> c_int);
passed_on!(check_reserved_lock, xCheckReservedLock, (out: *mut c_int) -> c_int);
passed_on!(sector_size, xSectorSize, () -> c_int);
passed_on!(device_characteristics, xDeviceCharacteristics, () -> c_int);
passed_on!(shm_map, xShmMap, (page: c_int, size: c_int, extend: c_int, pointer: *mut *mut c_void) -> c_int);
passed_on!(shm_unmap, xShmUnmap, (delete: c_int) -> c_int);
passed_on!(unfetch, xUnfetch, (offset: i64, pointer: *mut c_void) -> c_int);

passed_on!(shm_barrier, xShmBarrier, () -> ());

/// A write transaction ends by releasing the log's write lock. A commit's pages were written
/// at its sync; what is left is a rolled-back transaction's, written as SQLite would have
/// written it (its frames are never part of the log), before anyone else may write the log.
/// A failure to write them loses nothing, and the lock must be released regardless.
unsafe extern "C" fn shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    count: c_int,
    flags: c_int,
) -> c_int {
    let _ = write_gathered(file);
    let inner = inner(file);
    (methods(inner)
        .xShmLock
        .expect("the system's file has the method"))(inner, offset, count, flags)
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let written = write_gathered(file);
    let log = file.cast::<LogFile>();
    drop(Box::from_raw((*log).gathered));
    (*log).gathered = std::ptr::null_mut();
    drop(Box::from_raw((*log).syncs));
    (*log).syncs = std::ptr::null_mut();
    let inner = inner(file);
    let closed = (methods(inner).xClose.expect("a file is closed"))(inner);
    match written {
        ffi::SQLITE_OK => closed,
        failed => failed,
    }
}

static LOG_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    /// Everything in `t`, as the connection reads it: its rows' count and their bytes.
    fn contents(conn: &Connection) -> (i64, Vec<u8>) {
        let count = conn
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap();
        let mut statement = conn.prepare("SELECT body FROM t ORDER BY id").unwrap();
        let bytes = statement
            .query_map([], |row| row.get::<_, Vec<u8>>(0))
            .unwrap()
            .flat_map(Result::unwrap)
            .collect();
        (count, bytes)
    }

    /// On a thread that defers syncs, a commit leaves the sync of its log owed, naming the
    /// log's file; on a thread that does not, nothing is owed. Stopping deferral syncs what is
    /// owed.
    #[test]
    fn a_deferring_thread_owes_its_commits_syncs() {
        register().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deferred.db");
        let path_for_thread = path.clone();
        std::thread::spawn(move || {
            let writer =
                Connection::open_with_flags_and_vfs(&path_for_thread, OpenFlags::default(), VFS)
                    .unwrap();
            writer.pragma_update(None, "journal_mode", "WAL").unwrap();
            writer.pragma_update(None, "synchronous", "FULL").unwrap();
            defer_syncs();
            writer
                .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY)")
                .unwrap();
            assert!(
                owed_sync().is_some(),
                "the first commit's sync was not owed"
            );
            writer.execute("INSERT INTO t (id) VALUES (1)", []).unwrap();
            let log = owed_sync().expect("a commit owes its sync");
            let logged = std::fs::metadata(path_for_thread.with_extension("db-wal")).unwrap();
            assert_eq!(log.metadata().unwrap().len(), logged.len());
            assert!(owed_sync().is_none(), "owed twice");
            writer.execute("INSERT INTO t (id) VALUES (2)", []).unwrap();
            stop_deferring().unwrap();
            assert!(owed_sync().is_none(), "still owed once deferral is off");
            writer.execute("INSERT INTO t (id) VALUES (3)", []).unwrap();
            assert!(owed_sync().is_none(), "owed without deferral");
        })
        .join()
        .unwrap();
        let reader = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let count: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 3);
    }

    /// A commit larger than a piece and than what is gathered at most, whose pages spill to
    /// the log before it commits and are written there again (a page cache of ten pages),
    /// then a rolled-back transaction and a small commit: another connection, through the
    /// system's VFS, reads the same as the writer, and finds the database whole.
    #[test]
    fn what_is_committed_through_it_reads_back_whole_through_the_system() {
        register().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gathered.db");
        let mut writer =
            Connection::open_with_flags_and_vfs(&path, OpenFlags::default(), VFS).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        writer.pragma_update(None, "synchronous", "FULL").unwrap();
        writer.pragma_update(None, "cache_size", 10).unwrap();
        writer
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
            .unwrap();
        let body = |n: usize| -> Vec<u8> { (0..3_000).map(|i| (i * 7 + n * 13) as u8).collect() };
        let tx = writer.transaction().unwrap();
        for n in 0..2_000 {
            tx.execute("INSERT INTO t (id, body) VALUES (?1, ?2)", (n, body(n)))
                .unwrap();
        }
        for n in (0..2_000).step_by(7) {
            tx.execute("UPDATE t SET body = ?2 WHERE id = ?1", (n, body(n + 1)))
                .unwrap();
        }
        tx.commit().unwrap();
        let tx = writer.transaction().unwrap();
        tx.execute("DELETE FROM t WHERE id < 1000", []).unwrap();
        tx.rollback().unwrap();
        writer
            .execute("INSERT INTO t (id, body) VALUES (2000, x'00ff')", [])
            .unwrap();

        let reader = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let check: String = reader
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let (count, bytes) = contents(&reader);
        assert_eq!(count, 2_001);
        assert_eq!((count, bytes), contents(&writer));
        let log = std::fs::metadata(dir.path().join("gathered.db-wal")).unwrap();
        assert!(
            log.len() > MOST_GATHERED as u64,
            "the log holds {} bytes",
            log.len()
        );
    }
}
