//! `devicebridge migrate --to postgres://…`: copies the SQLite database `serve` would open
//! into PostgreSQL, a line per table.

use std::path::Path;

use super::MigrateArgs;
use crate::app;
use crate::config::{self, Sources};
use crate::device::uploads::put_files_in_bucket;
use crate::store::copy::{sqlite_uploads, UploadBytes};

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
    let files = settings.storage.data_dir.join("uploads");
    if let Some(media_url) = &settings.storage.media_url {
        if let Err(problem) = put_in_bucket(media_url, &sqlite, &settings.storage.data_dir).await {
            eprintln!(
                "devicebridge: the copy failed, nothing was written to the database: {problem}"
            );
            return 1;
        }
    }
    let in_bucket = settings.storage.media_url.is_some();
    println!("copying {} into PostgreSQL", sqlite.display());
    // The `postgres` client blocks on a runtime of its own, which it may not do on this one.
    let copied = tokio::task::spawn_blocking(move || {
        crate::store::copy::sqlite_to_postgres(
            &sqlite,
            &url,
            secret.as_deref(),
            match in_bucket {
                true => UploadBytes::InBucket,
                false => UploadBytes::IntoDatabase(&files),
            },
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

/// With `storage.media_url` set, the daemon on PostgreSQL reads uploads from its bucket: the
/// files of SQLite's uploads are put there first, a line every hundred and one at the end.
async fn put_in_bucket(media_url: &str, sqlite: &Path, data_dir: &Path) -> Result<(), String> {
    let path = sqlite.to_owned();
    let uploads = tokio::task::spawn_blocking(move || sqlite_uploads(&path))
        .await
        .map_err(|panicked| panicked.to_string())?
        .map_err(|error| error.to_string())?;
    println!(
        "putting {} uploaded files into the media bucket",
        uploads.len()
    );
    let put = put_files_in_bucket(media_url, data_dir, &uploads, |put| {
        if put % 100 == 0 {
            println!("  {:<24} {put} files so far", "media bucket");
        }
    })
    .await
    .map_err(|error| error.to_string())?;
    println!("  {:<24} {put} files", "media bucket");
    Ok(())
}
