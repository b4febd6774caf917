//! Moving a daemon from SQLite to PostgreSQL (`devicebridge migrate --to postgres://…`): every
//! row of the SQLite database copied into an empty PostgreSQL one, table by table, in one
//! transaction, each table checked by its count of rows.
//!
//! The daemon is stopped meanwhile (what it would write during the copy would not be in it).
//! The SQLite database is first brought to this build's schema, as the daemon would at its
//! start, and read in one transaction, so the copy is of one moment. The rows go through
//! PostgreSQL's `COPY`, streamed from SQLite's, so a large journal is never held in memory.

use std::io::Write;
use std::path::Path;

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use super::{migrations, postgresql, StoreError, StoreResult};

/// One table copied, or being copied: its name and its rows so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub table: String,
    pub rows: u64,
    /// Whether the table is done; a long one is reported every [`PROGRESS_ROWS`] rows.
    pub done: bool,
}

/// How often a long table's copy is reported, in rows.
pub const PROGRESS_ROWS: u64 = 100_000;

/// Where the copy puts the bytes of the uploads SQLite's daemon kept as files.
#[derive(Debug, Clone, Copy)]
pub enum UploadBytes<'a> {
    /// Into the database (`upload_chunks`), from the files under this directory: every node
    /// of a cluster reads them there.
    IntoDatabase(&'a Path),
    /// Nowhere: they went into the bucket of `storage.media_url` before the copy.
    InBucket,
}

/// An upload SQLite's daemon recorded: its device, its id and its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedUpload {
    pub device: String,
    pub id: String,
    pub mime: String,
}

/// The SQLite database at `sqlite`, brought to this build's schema.
fn open_sqlite(sqlite: &Path) -> StoreResult<Connection> {
    if !sqlite.exists() {
        return Err(StoreError::Unreadable(format!(
            "there is no database at {}",
            sqlite.display()
        )));
    }
    let mut source = Connection::open(sqlite).map_err(|source| StoreError::Open {
        path: sqlite.to_owned(),
        source,
    })?;
    migrations::migrate(&mut source)?;
    Ok(source)
}

/// Every upload the SQLite database at `sqlite` records, for their bytes to be put where the
/// daemon on PostgreSQL will read them before the rows are copied.
pub fn sqlite_uploads(sqlite: &Path) -> StoreResult<Vec<RecordedUpload>> {
    recorded_uploads(&open_sqlite(sqlite)?)
}

/// The uploads `conn`, a SQLite database, records.
fn recorded_uploads(conn: &Connection) -> StoreResult<Vec<RecordedUpload>> {
    let mut statement = conn.prepare("SELECT device_id, id, mime FROM uploads")?;
    let uploads = statement
        .query_map([], |row| {
            Ok(RecordedUpload {
                device: row.get(0)?,
                id: row.get(1)?,
                mime: row.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(uploads)
}

/// Copies the SQLite database at `sqlite` into the empty PostgreSQL database at `url`,
/// telling `progress` of each table as it goes and when it is done. The daemon's token
/// signing secret, which on SQLite it keeps in a file, goes into the database with the rows,
/// so the tokens it issued stay good; the bytes of its uploads go where `uploads` says.
pub fn sqlite_to_postgres(
    sqlite: &Path,
    url: &str,
    token_secret: Option<&str>,
    uploads: UploadBytes<'_>,
    mut progress: impl FnMut(&Copied),
) -> StoreResult<Vec<Copied>> {
    let mut source = open_sqlite(sqlite)?;
    let mut target = postgres::Client::connect(url, postgres::NoTls)
        .map_err(|error| StoreError::Connect(postgresql::redacted(url), error))?;
    postgresql::migrate(&postgresql::connect(url)?)?;
    let tables = tables(&mut target)?;
    let reading = source.transaction()?;
    let mut writing = target.transaction()?;
    let mut copied = Vec::new();
    for (table, columns) in &tables {
        let rows = count(&mut writing, table)?;
        if rows > 0 {
            return Err(StoreError::Unreadable(format!(
                "the database at {} is not empty: table {table} has {rows} rows",
                postgresql::redacted(url)
            )));
        }
        // The cluster's own tables and columns (nodes, leases, delivery claims) start empty.
        let columns = sqlite_columns(&reading, table, columns)?;
        if columns.is_empty() {
            continue;
        }
        let done = Copied {
            table: table.clone(),
            rows: copy_table(&reading, &mut writing, table, &columns, &mut progress)?,
            done: true,
        };
        let landed = count(&mut writing, table)?;
        if landed != done.rows {
            return Err(StoreError::Unreadable(format!(
                "{table}: {} rows read, {landed} written",
                done.rows
            )));
        }
        progress(&done);
        copied.push(done);
    }
    if let UploadBytes::IntoDatabase(files) = uploads {
        let pieces = Copied {
            table: "upload_chunks".into(),
            rows: copy_uploads(&reading, &mut writing, files)?,
            done: true,
        };
        progress(&pieces);
        copied.push(pieces);
    }
    if let Some(secret) = token_secret {
        writing.execute(
            "INSERT INTO secrets (name, value) VALUES ('jwt', $1) ON CONFLICT (name) DO NOTHING",
            &[&secret],
        )?;
    }
    // Identity columns go on after the rows copied with their values.
    for (table, column) in [
        ("outbound_actions", "id"),
        ("simulator_inbox", "rowid"),
        ("device_seq", "num"),
    ] {
        writing.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
        ))?;
    }
    writing.commit()?;
    // The copy is the tables' first content: the planner gets statistics of it at once.
    target.batch_execute("ANALYZE")?;
    Ok(copied)
}

/// Copies the bytes of each upload SQLite records, its file under `dir`, into the pieces
/// PostgreSQL keeps them in; returns how many pieces. An upload whose file is gone (removed
/// by hand) is left as it was: it could not be sent from SQLite either.
fn copy_uploads(
    reading: &rusqlite::Transaction<'_>,
    writing: &mut postgres::Transaction<'_>,
    dir: &Path,
) -> StoreResult<u64> {
    let mut pieces = 0;
    for RecordedUpload { device, id, .. } in recorded_uploads(reading)? {
        let path = dir.join(&device).join(&id);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "an upload's file is unreadable; its bytes are not copied");
                continue;
            }
        };
        for (n, piece) in bytes.chunks(super::uploads::CHUNK_BYTES).enumerate() {
            writing.execute(
                "INSERT INTO upload_chunks (device_id, upload_id, n, data) VALUES ($1, $2, $3, $4)",
                &[&device, &id, &(n as i64), &piece],
            )?;
            pieces += 1;
        }
    }
    Ok(pieces)
}

/// A column of the PostgreSQL schema.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    /// Whether PostgreSQL holds it as bytes (`BYTEA`).
    is_bytes: bool,
}

/// The tables of the PostgreSQL schema with their columns, in order; the migrations' own
/// bookkeeping left out.
fn tables(client: &mut postgres::Client) -> StoreResult<Vec<(String, Vec<Column>)>> {
    let rows = client.query(
        "SELECT table_name::text, column_name::text, data_type = 'bytea'
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name <> 'schema_version'
         ORDER BY table_name, ordinal_position",
        &[],
    )?;
    let mut tables: Vec<(String, Vec<Column>)> = Vec::new();
    for row in rows {
        let table: String = row.get(0);
        let column = Column {
            name: row.get(1),
            is_bytes: row.get(2),
        };
        match tables.last_mut() {
            Some((last, columns)) if *last == table => columns.push(column),
            _ => tables.push((table, vec![column])),
        }
    }
    Ok(tables)
}

/// Those of `columns` that SQLite's `table` has (none when it has no such table).
fn sqlite_columns(
    sqlite: &Connection,
    table: &str,
    columns: &[Column],
) -> StoreResult<Vec<Column>> {
    let mut statement = sqlite.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let known: Vec<String> = statement
        .query_map([table], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(columns
        .iter()
        .filter(|column| known.contains(&column.name))
        .cloned()
        .collect())
}

fn count(client: &mut postgres::Transaction<'_>, table: &str) -> StoreResult<u64> {
    let count: i64 = client
        .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
        .get(0);
    Ok(count as u64)
}

/// Streams `table`'s rows from SQLite into PostgreSQL's `COPY`, as CSV.
fn copy_table(
    source: &Connection,
    target: &mut postgres::Transaction<'_>,
    table: &str,
    columns: &[Column],
    progress: &mut impl FnMut(&Copied),
) -> StoreResult<u64> {
    let list = columns
        .iter()
        .map(|column| column.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut select = source.prepare(&format!("SELECT {list} FROM {table}"))?;
    let mut rows = select.query([])?;
    let mut writer = target.copy_in(&format!(
        "COPY {table} ({list}) FROM STDIN WITH (FORMAT csv)"
    ))?;
    let mut copied = 0;
    let mut line = String::new();
    while let Some(row) = rows.next()? {
        line.clear();
        for (index, column) in columns.iter().enumerate() {
            if index > 0 {
                line.push(',');
            }
            csv_field(&mut line, row.get_ref(index)?, column.is_bytes);
        }
        line.push('\n');
        writer
            .write_all(line.as_bytes())
            .map_err(|error| StoreError::Unreadable(format!("copying {table}: {error}")))?;
        copied += 1;
        if copied % PROGRESS_ROWS == 0 {
            progress(&Copied {
                table: table.to_owned(),
                rows: copied,
                done: false,
            });
        }
    }
    writer.finish()?;
    Ok(copied)
}

/// One value as a CSV field: `NULL` is an empty field, text is always quoted (so an empty
/// text is not taken for `NULL`). A value PostgreSQL holds as bytes goes in its hex form
/// (`\x…`), whether SQLite held it as bytes or as text (a journal row written before rows
/// were packed): as text, PostgreSQL would read its backslashes as escapes.
fn csv_field(line: &mut String, value: ValueRef<'_>, is_bytes: bool) {
    match value {
        ValueRef::Null => {}
        ValueRef::Integer(number) => line.push_str(&number.to_string()),
        ValueRef::Real(number) => line.push_str(&number.to_string()),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) if is_bytes => {
            line.push_str("\\x");
            line.push_str(&hex::encode(bytes));
        }
        ValueRef::Text(text) | ValueRef::Blob(text) => {
            line.push('"');
            line.push_str(&String::from_utf8_lossy(text).replace('"', "\"\""));
            line.push('"');
        }
    }
}
