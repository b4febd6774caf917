//! One schema, written twice: SQLite's (`migrations`) and PostgreSQL's (`postgresql`) are each
//! written by hand, in their own types, and every statement of the store runs on both. This
//! opens a fresh store on each, reads back what its migrations made from the database's own
//! catalog (`sqlite_master` and its pragmas; `information_schema` and `pg_index`), and holds
//! the two to the same tables, columns (in order, with their types, `NOT NULL` and defaults),
//! primary keys and indexes (their columns and order, uniqueness, and what a partial index
//! covers), but for what only one of them must have, listed below with why.
//!
//! Types are compared as the store reads and writes them: `INTEGER` is PostgreSQL's `BIGINT`,
//! `TEXT` its `TEXT`, `BLOB` its `BYTEA`. Index names are not compared (PostgreSQL names those
//! of its constraints itself, and no statement names an index), nor collations (PostgreSQL's
//! text columns that are compared or sorted are `COLLATE "C"`, SQLite's compare bytes), nor
//! `CHECK` constraints.

use std::collections::{BTreeMap, BTreeSet};

use super::{Backend, Db};
use crate::store::sql::{params, Conn};
use crate::store::StoreResult;

/// Tables and columns only PostgreSQL has, with why.
const POSTGRES_ONLY: &[(&str, &str)] = &[
    (
        "schema_version",
        "the schema's version, which SQLite keeps in `PRAGMA user_version`",
    ),
    (
        "nodes",
        "a cluster's nodes: a cluster runs on PostgreSQL only",
    ),
    ("leases", "which node runs each device, in a cluster"),
    (
        "upload_chunks",
        "the bytes of uploaded files, which a cluster's nodes share; a single node keeps them \
         as files in its data directory",
    ),
    (
        "webhook_deliveries.claimed_by",
        "the node that claimed a delivery to send it, in a cluster",
    ),
    (
        "webhook_deliveries.claimed_until",
        "how long that claim holds, in a cluster",
    ),
    (
        "sinks.claimed_by",
        "the node that publishes a sink's events, in a cluster",
    ),
    (
        "sinks.claimed_until",
        "how long that claim holds, in a cluster",
    ),
    (
        "messages.words",
        "the words of a message's text, for search, with their GIN index; SQLite keeps them in \
         its FTS5 table `message_words` (a virtual table, whose tables are not compared)",
    ),
    (
        "simulator_inbox.rowid",
        "SQLite gives the table a row number of its own, which the inbox is read in order of; \
         PostgreSQL has none, so it is declared",
    ),
];

/// Facts about a column or an index that differ, as `(SQLite's, PostgreSQL's, why)`.
const DIFFERENT: &[(&str, &str, &str)] = &[
    (
        "messages: index (device, chat_id)",
        "messages: index (device, chat_id, id)",
        "SQLite's index ends with each row's number, which orders a chat's messages there \
         (`messages::STORED_ORDER`); PostgreSQL's rows have none, and its index names the id",
    ),
    (
        "messages: index (device) where 'queued' 'retrying' relay_status",
        "messages: index (device, id) where 'queued' 'retrying' relay_status",
        "the relay queue's order, as a chat's above",
    ),
    (
        "device_seq.num: integer",
        "device_seq.num: integer not null default nextval('device_nums'::regclass)",
        "SQLite's `ALTER TABLE … ADD COLUMN` cannot add a `NOT NULL` column without a default; \
     every row got its number in the step that added it, and every insert gives one. On \
     PostgreSQL the numbers come from a sequence, so that nodes journaling for new devices \
     at once do not take the same",
    ),
];

/// A column as its catalog describes it.
struct Column {
    name: String,
    /// `integer`, `text` or `bytes`, or the catalog's own name for anything else.
    kind: String,
    not_null: bool,
    default: Option<String>,
}

/// An index other than a primary key's.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    /// Its columns in order, each followed by ` DESC` if it sorts so.
    columns: Vec<String>,
    unique: bool,
    /// What a partial index covers: the columns and the values its condition names, in order
    /// of their text (the two databases write the same condition differently).
    covers: Option<Vec<String>>,
}

#[derive(Default)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    indexes: BTreeSet<Index>,
}

type Schema = BTreeMap<String, Table>;

/// The tables of the database `conn` is on, as its catalog has them.
fn schema(conn: &Conn) -> StoreResult<Schema> {
    let names = match conn.is_postgres() {
        false => conn.query_all(
            // Virtual tables (the FTS5 search index) and their shadow tables are left out.
            "SELECT name FROM pragma_table_list
             WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'",
            params![],
            |row| row.get::<String>(0),
        )?,
        true => conn.query_all(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            params![],
            |row| row.get::<String>(0),
        )?,
    };
    names
        .into_iter()
        .map(|name| {
            let table = match conn.is_postgres() {
                false => sqlite_table(conn, &name)?,
                true => postgres_table(conn, &name)?,
            };
            Ok((name, table))
        })
        .collect()
}

fn sqlite_table(conn: &Conn, table: &str) -> StoreResult<Table> {
    let columns = conn.query_all(
        r#"SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid"#,
        params![table],
        |row| {
            let declared: String = row.get(1)?;
            let kind = match declared.as_str() {
                // A `BIGINT` column has SQLite's integer affinity, as an `INTEGER` one.
                "INTEGER" | "BIGINT" => "integer".to_owned(),
                "TEXT" => "text".to_owned(),
                "BLOB" => "bytes".to_owned(),
                other => other.to_owned(),
            };
            Ok((
                Column {
                    name: row.get(0)?,
                    kind,
                    not_null: row.get::<i64>(2)? == 1,
                    default: row.get(3)?,
                },
                row.get::<i64>(4)?,
            ))
        },
    )?;
    let mut primary_key: Vec<(i64, String)> = columns
        .iter()
        .filter(|(_, position)| *position > 0)
        .map(|(column, position)| (*position, column.name.clone()))
        .collect();
    primary_key.sort();
    let listed = conn.query_all(
        r#"SELECT list.name, list."unique", list.origin, master.sql
           FROM pragma_index_list(?1) AS list
           LEFT JOIN sqlite_master AS master ON master.name = list.name"#,
        params![table],
        |row| {
            Ok((
                row.get::<String>(0)?,
                row.get::<i64>(1)? == 1,
                row.get::<String>(2)?,
                row.get::<Option<String>>(3)?,
            ))
        },
    )?;
    let column_names: Vec<String> = columns.iter().map(|(c, _)| c.name.clone()).collect();
    let mut indexes = BTreeSet::new();
    for (name, unique, origin, sql) in listed {
        if origin == "pk" {
            continue;
        }
        let columns = conn.query_all(
            r#"SELECT name, "desc" FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno"#,
            params![name],
            |row| {
                let name: String = row.get(0)?;
                Ok(match row.get::<i64>(1)? {
                    1 => format!("{name} DESC"),
                    _ => name,
                })
            },
        )?;
        let condition = sql
            .as_deref()
            .and_then(|sql| sql.split_once(" WHERE "))
            .map(|(_, c)| c);
        indexes.insert(Index {
            columns,
            unique,
            covers: condition.map(|condition| covered(condition, &column_names)),
        });
    }
    Ok(Table {
        columns: columns.into_iter().map(|(column, _)| column).collect(),
        primary_key: primary_key.into_iter().map(|(_, name)| name).collect(),
        indexes,
    })
}

fn postgres_table(conn: &Conn, table: &str) -> StoreResult<Table> {
    let columns = conn.query_all(
        "SELECT column_name::text, data_type::text, is_nullable::text, column_default::text
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = ?1
         ORDER BY ordinal_position",
        params![table],
        |row| {
            let kind: String = row.get(1)?;
            let kind = match kind.as_str() {
                "bigint" => "integer".to_owned(),
                "bytea" => "bytes".to_owned(),
                _ => kind,
            };
            let default: Option<String> = row.get(3)?;
            Ok(Column {
                name: row.get(0)?,
                kind,
                not_null: row.get::<String>(2)? == "NO",
                // PostgreSQL writes a constant's type after it: `'offline'::text`.
                default: default.map(|text| match text.strip_suffix("::text") {
                    Some(constant) if constant.starts_with('\'') => constant.to_owned(),
                    _ => text,
                }),
            })
        },
    )?;
    let primary_key = conn.query_all(
        "SELECT a.attname::text
         FROM pg_index AS i JOIN pg_attribute AS a
             ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
         WHERE i.indrelid = ?1::text::regclass AND i.indisprimary
         ORDER BY array_position(i.indkey::int2[], a.attnum)",
        params![table],
        |row| row.get::<String>(0),
    )?;
    let listed = conn.query_all(
        "SELECT pg_get_indexdef(indexrelid), indisunique::int::int8,
             pg_get_expr(indpred, indrelid)
         FROM pg_index WHERE indrelid = ?1::text::regclass AND NOT indisprimary",
        params![table],
        |row| {
            Ok((
                row.get::<String>(0)?,
                row.get::<i64>(1)? == 1,
                row.get::<Option<String>>(2)?,
            ))
        },
    )?;
    let column_names: Vec<String> = columns.iter().map(|column| column.name.clone()).collect();
    let indexes = listed
        .into_iter()
        .map(|(definition, unique, condition)| Index {
            columns: indexed_columns(&definition),
            unique,
            covers: condition.map(|condition| covered(&condition, &column_names)),
        })
        .collect();
    Ok(Table {
        columns,
        primary_key,
        indexes,
    })
}

/// The columns of PostgreSQL's definition of an index:
/// `CREATE INDEX chats_by_activity ON public.chats USING btree (device_id, updated_at DESC, id DESC)`.
fn indexed_columns(definition: &str) -> Vec<String> {
    let (_, method_and_list) = definition
        .split_once(" USING ")
        .unwrap_or_else(|| panic!("an index's method: {definition}"));
    let (_, listed) = method_and_list
        .split_once(" (")
        .unwrap_or_else(|| panic!("an index's columns: {definition}"));
    let listed = &listed[..listed.find(')').expect("the list's end")];
    listed.split(", ").map(str::to_owned).collect()
}

/// What an index's condition covers: the table's columns and the constants it names.
fn covered(condition: &str, columns: &[String]) -> Vec<String> {
    let mut named = Vec::new();
    let mut rest = condition;
    while let Some(start) = rest.find(|c: char| c == '\'' || c.is_alphanumeric() || c == '_') {
        rest = &rest[start..];
        let end = match rest.strip_prefix('\'') {
            Some(quoted) => quoted.find('\'').map_or(rest.len(), |at| at + 2),
            None => rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len()),
        };
        let word = &rest[..end];
        let constant = word.starts_with('\'') || word.chars().all(|c| c.is_ascii_digit());
        if constant || columns.iter().any(|column| column == word) {
            named.push(word.to_owned());
        }
        rest = &rest[end..];
    }
    named.sort();
    named
}

/// The schema as one line per fact, with what only PostgreSQL has left out.
fn facts(schema: &Schema) -> BTreeSet<String> {
    let postgres_only = |name: &str| POSTGRES_ONLY.iter().any(|(only, _)| *only == name);
    let mut facts = BTreeSet::new();
    for (name, table) in schema.iter().filter(|(name, _)| !postgres_only(name)) {
        let columns: Vec<&Column> = table
            .columns
            .iter()
            .filter(|column| !postgres_only(&format!("{name}.{}", column.name)))
            .collect();
        let list: Vec<&str> = columns.iter().map(|column| column.name.as_str()).collect();
        facts.insert(format!("{name}: columns {}", list.join(", ")));
        let key: Vec<&str> = table
            .primary_key
            .iter()
            .filter(|column| !postgres_only(&format!("{name}.{column}")))
            .map(String::as_str)
            .collect();
        facts.insert(format!("{name}: primary key ({})", key.join(", ")));
        for column in columns {
            // A primary key's columns are never null: PostgreSQL says so, SQLite (but for an
            // integer key) does not, though the store never writes a null key.
            let not_null = column.not_null || table.primary_key.contains(&column.name);
            let mut fact = format!("{name}.{}: {}", column.name, column.kind);
            if not_null {
                fact.push_str(" not null");
            }
            if let Some(default) = &column.default {
                fact.push_str(&format!(" default {default}"));
            }
            facts.insert(fact);
        }
        let on_compared_columns = |index: &&Index| {
            !index
                .columns
                .iter()
                .any(|column| postgres_only(&format!("{name}.{column}")))
        };
        for index in table.indexes.iter().filter(on_compared_columns) {
            let unique = if index.unique { "unique " } else { "" };
            let mut fact = format!("{name}: {unique}index ({})", index.columns.join(", "));
            if let Some(covers) = &index.covers {
                fact.push_str(&format!(" where {}", covers.join(" ")));
            }
            facts.insert(fact);
        }
    }
    facts
}

/// A fresh store's schema on `backend`.
async fn fresh(backend: Backend) -> Schema {
    let db = Db::new(backend);
    let (store, _bus) = db.open();
    store.read(schema).await.unwrap()
}

#[tokio::test]
async fn sqlite_and_postgresql_have_one_schema() {
    let sqlite = facts(&fresh(Backend::Sqlite).await);
    let postgres = fresh(Backend::Postgres).await;
    for (only, _) in POSTGRES_ONLY {
        let (table, column) = only.split_once('.').unwrap_or((only, ""));
        let found = postgres.get(table).is_some_and(|found| {
            column.is_empty() || found.columns.iter().any(|known| known.name == column)
        });
        assert!(
            found,
            "{only} is listed as PostgreSQL's own, and it has none"
        );
    }
    let postgres = facts(&postgres);
    let mut only_sqlite: BTreeSet<&String> = sqlite.difference(&postgres).collect();
    let mut only_postgres: BTreeSet<&String> = postgres.difference(&sqlite).collect();
    for (in_sqlite, in_postgres, _) in DIFFERENT {
        assert!(
            only_sqlite.remove(&in_sqlite.to_string())
                && only_postgres.remove(&in_postgres.to_string()),
            "a listed difference is not (or no longer) one: {in_sqlite} / {in_postgres}"
        );
    }
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the schemas differ:\nonly SQLite has\n  {}\nonly PostgreSQL has\n  {}",
        only_sqlite
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  "),
        only_postgres
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    assert!(
        sqlite.len() > 100,
        "{} facts: is the catalog read?",
        sqlite.len()
    );
}

#[test]
fn a_conditions_columns_and_constants_are_what_it_covers() {
    let columns = ["relay_status".to_owned(), "ack".to_owned()];
    let sqlite = covered("relay_status = 'sent' AND ack = 0", &columns);
    let postgres = covered("((relay_status = 'sent'::text) AND (ack = 0))", &columns);
    assert_eq!(sqlite, ["'sent'", "0", "ack", "relay_status"]);
    assert_eq!(postgres, sqlite);
    assert_eq!(
        covered(
            "(relay_status = ANY (ARRAY['queued'::text, 'retrying'::text]))",
            &columns
        ),
        covered("relay_status IN ('queued', 'retrying')", &columns)
    );
}
