//! Secrets every daemon of one database must agree on: the access tokens' signing key, so a
//! token issued by one daemon is good on every other (SPEC §10). On PostgreSQL they are kept
//! here; a daemon on SQLite keeps its own in its data directory instead (see `api::auth`).

use super::sql::params;
use super::{StoreResult, Tx};

impl Tx<'_> {
    /// The secret named `name`, made with `make` and kept if there is none yet. Daemons that
    /// start together race to keep theirs: the first commit wins, and every daemon reads it.
    pub fn shared_secret(
        &mut self,
        name: &str,
        make: impl FnOnce() -> String,
    ) -> StoreResult<String> {
        self.execute(
            "INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            params![name, make()],
        )?;
        self.query_row(
            "SELECT value FROM secrets WHERE name = ?1",
            params![name],
            |row| row.get(0),
        )
    }
}
