//! Where the daemon keeps its state: the database, the data directory, and how long the
//! journal keeps events.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Persistent state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// Holds the SQLite file `devicebridge.db` and generated secrets, so a
    /// single directory is all that needs backing up.
    pub data_dir: PathBuf,
    /// Where the database is: `sqlite:` (the file `devicebridge.db` in `data_dir`) or a
    /// PostgreSQL URL, `postgres://user:password@host:port/database`, shared by every node of
    /// a cluster.
    pub url: String,
    /// SQLite durability/speed trade-off.
    pub synchronous: Synchronous,
    /// How large SQLite's write-ahead log may grow under a sustained load before the writer
    /// pauses a moment so that it can start over (see `store::run_checkpointer`).
    pub wal_limit_mb: u64,
    /// How long files uploaded to send are kept (see `device::uploads`).
    pub upload_retention_days: u64,
    /// An S3-compatible bucket for uploaded files, `s3://bucket/optional/prefix`, which every
    /// node of a cluster reads: unset, they are files in `data_dir` (one daemon) or rows of
    /// the PostgreSQL store (a cluster). Its client reads the `AWS_*` variables and the URL's
    /// query (see `device::uploads::bucket`).
    pub media_url: Option<String>,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            url: "sqlite:".into(),
            synchronous: Synchronous::Full,
            wal_limit_mb: 16,
            upload_retention_days: 30,
            media_url: None,
        }
    }
}

/// How a PostgreSQL URL starts.
pub const POSTGRES_SCHEMES: [&str; 2] = ["postgres://", "postgresql://"];

impl StorageSettings {
    /// The PostgreSQL URL of [`url`](Self::url), if it names one rather than SQLite.
    pub fn postgres_url(&self) -> Option<&str> {
        POSTGRES_SCHEMES
            .iter()
            .any(|scheme| self.url.starts_with(scheme))
            .then_some(self.url.as_str())
    }

    /// Path of the SQLite database inside [`data_dir`](Self::data_dir).
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("devicebridge.db")
    }
}

/// SQLite `synchronous` pragma. Only the two modes that are safe with WAL are
/// offered: `full` survives power loss, `normal` may lose the latest commits
/// on power loss but never corrupts the database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    #[default]
    Full,
    Normal,
}

/// Event journal retention; an event is pruned when either bound is exceeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalSettings {
    pub retention_events: u64,
    pub retention_secs: u64,
    /// How often the retention bounds are applied.
    pub prune_interval_secs: u64,
}

impl Default for JournalSettings {
    fn default() -> Self {
        Self {
            retention_events: 100_000,
            retention_secs: 86_400,
            prune_interval_secs: 60,
        }
    }
}
