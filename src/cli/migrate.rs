//! `devicebridge migrate --to postgres://…`: copies the SQLite database `serve` would open
//! into PostgreSQL, a line per table.

use super::MigrateArgs;
use crate::app;
use crate::config::{self, Sources};

/// Runs the copy; the exit code says how it went (2: the arguments or the configuration are
/// wrong, 1: the copy failed and nothing was written).
pub async fn copy_to_postgres(migrate: MigrateArgs) -> i32 {
    let settings = match config::load(
        &Sources::from_process(),
        &migrate.from.overrides(),
        app::SETTINGS_CHECKS,
    ) {
        Ok(settings) => settings,
        Err(problems) => {
            eprintln!("devicebridge: the configuration has problems:\n{problems}");
            return 2;
        }
    };
    let target = config::StorageSettings {
        url: migrate.to.clone(),
        ..settings.storage.clone()
    };
    let Some(url) = target.postgres_url().map(str::to_owned) else {
        eprintln!("devicebridge: --to must be a PostgreSQL URL (postgres://user:password@host:port/database)");
        return 2;
    };
    let sqlite = settings.storage.database_path();
    let secret = match &settings.auth.jwt_secret {
        Some(_) => None,
        None => std::fs::read_to_string(settings.storage.data_dir.join("jwt-secret"))
            .ok()
            .map(|secret| secret.trim().to_owned()),
    };
    let uploads = settings.storage.data_dir.join("uploads");
    println!("copying {} into PostgreSQL", sqlite.display());
    // The `postgres` client blocks on a runtime of its own, which it may not do on this one.
    let copied = tokio::task::spawn_blocking(move || {
        crate::store::copy::sqlite_to_postgres(
            &sqlite,
            &url,
            secret.as_deref(),
            &uploads,
            |table| {
                let so_far = if table.done { "" } else { " so far" };
                println!("  {:<24} {} rows{so_far}", table.table, table.rows);
            },
        )
    })
    .await;
    match copied {
        Ok(Ok(tables)) => {
            let rows: u64 = tables.iter().map(|table| table.rows).sum();
            println!(
                "copied {rows} rows in {} tables; start the daemon with storage.url set to the \
                 database (it keeps using {} for its secrets)",
                tables.len(),
                settings.storage.data_dir.display()
            );
            0
        }
        Ok(Err(error)) => {
            eprintln!("devicebridge: the copy failed, nothing was written: {error}");
            1
        }
        Err(panicked) => std::panic::resume_unwind(panicked.into_panic()),
    }
}
