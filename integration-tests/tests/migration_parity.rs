//! Every service's SQLite and PostgreSQL migrations define the same schema: the same tables,
//! columns (by name, nullability and a matching storage type), primary keys, unique
//! constraints, foreign keys and indexes (by name, columns, uniqueness and whether partial).
//! Each service's database gets the platform's tables (outbox, inbox) too, as on start, so
//! they are compared with every service. The key store's migrations (the same for every
//! service's key store) are compared too. sqlx's own `_sqlx_migrations` is left out.
//!
//! The migrations are applied as a service applies them: to a fresh SQLite file and to a
//! fresh schema of a fresh PostgreSQL database, which must be reachable (the test fails, it
//! never skips).

use std::collections::{BTreeMap, BTreeSet};

use ohjaus_platform::{
    db::{Db, Migrations},
    keyring,
};
use ohjaus_test_support::{Backend, Sandbox};
use sqlx::Row;

/// A service's name (its schema and file) and its migrations.
type Service = (&'static str, fn() -> Migrations);

/// Every service with a database. A new service is one line here.
const SERVICES: &[Service] = &[
    (ohjaus_tenants::SERVICE, ohjaus_tenants::migrations),
    (ohjaus_identity::SERVICE, ohjaus_identity::migrations),
    (ohjaus_workspaces::SERVICE, ohjaus_workspaces::migrations),
    (ohjaus_consent::SERVICE, ohjaus_consent::migrations),
    (ohjaus_forms::SERVICE, ohjaus_forms::migrations),
    (ohjaus_surveys::SERVICE, ohjaus_surveys::migrations),
    (ohjaus_retention::SERVICE, ohjaus_retention::migrations),
];

/// Deliberate differences between the dialects, each as the test reports it
/// (`<service>: <table>: <what>`) with the reason it is kept. An entry that no longer matches
/// fails the test, so the list never outlives the difference.
const ALLOWED: &[(&str, &str)] = &[];

/// The SQLite column type that stores each PostgreSQL type the migrations use, as the
/// services' queries bind and decode them with sqlx (uuid as 16 bytes, times as text, JSON as
/// text, booleans as 0/1).
const STORAGE: &[(&str, &str)] = &[
    ("uuid", "BLOB"),
    ("bytea", "BLOB"),
    ("text", "TEXT"),
    ("jsonb", "TEXT"),
    ("timestamp with time zone", "TEXT"),
    ("date", "TEXT"),
    ("bigint", "INTEGER"),
    ("integer", "INTEGER"),
    ("smallint", "INTEGER"),
    ("boolean", "INTEGER"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    nullable: bool,
    /// The SQLite type (declared, or the one that stores the PostgreSQL type).
    storage: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    columns: Vec<String>,
    target: String,
    target_columns: Vec<String>,
    on_delete: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Index {
    /// Key columns in order; an expression shows as `<expression>`.
    columns: Vec<String>,
    unique: bool,
    partial: bool,
}

#[derive(Debug, Default)]
struct Table {
    columns: BTreeMap<String, Column>,
    primary_key: Vec<String>,
    /// Column lists of UNIQUE constraints (their indexes are unnamed on SQLite).
    unique: BTreeSet<Vec<String>>,
    foreign_keys: BTreeSet<ForeignKey>,
    /// Indexes made by CREATE INDEX, by name.
    indexes: BTreeMap<String, Index>,
}

type Schema = BTreeMap<String, Table>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgresql_migrations_define_the_same_schema() {
    let sqlite = Sandbox::new(Backend::Embedded, "ohjaus_parity", &[]).await;
    let postgres = Sandbox::new(Backend::Server, "ohjaus_parity", &[]).await;
    let mut differences = Vec::new();
    let mut seen = Seen::default();
    for (service, migrations) in SERVICES {
        let mut schemas = Vec::new();
        for sandbox in [&sqlite, &postgres] {
            let db = sandbox.open(service, &migrations()).await;
            let schema = match &db {
                Db::Sqlite(pool) => sqlite_schema(pool).await,
                Db::Postgres(pool) => postgres_schema(pool).await,
            };
            db.close().await;
            seen.note(&schema, sandbox.backend, service);
            schemas.push(schema);
        }
        differences.extend(compare(&schemas[0], &schemas[1]).into_iter().map(|d| format!("{service}: {d}")));
    }
    seen.assert_complete();
    // The key store (the same migrations for every service's), applied as a service applies it.
    let mut schemas = Vec::new();
    for sandbox in [&sqlite, &postgres] {
        let db = keyring::connect(&sandbox.settings, "workspaces").await.unwrap();
        db.migrate_only(&keyring::migrations()).await.unwrap();
        let schema = match &db {
            Db::Sqlite(pool) => sqlite_schema(pool).await,
            Db::Postgres(pool) => postgres_schema(pool).await,
        };
        db.close().await;
        assert!(schema.get("data_keys").is_some_and(|t| !t.primary_key.is_empty()), "{:?}", schema.keys());
        schemas.push(schema);
    }
    differences.extend(compare(&schemas[0], &schemas[1]).into_iter().map(|d| format!("keyring: {d}")));

    let unexpected: Vec<&String> = differences.iter().filter(|d| !ALLOWED.iter().any(|(a, _)| a == d)).collect();
    let stale: Vec<&str> = ALLOWED.iter().map(|(a, _)| *a).filter(|a| !differences.iter().any(|d| d == a)).collect();
    assert!(
        unexpected.is_empty(),
        "the SQLite and PostgreSQL migrations differ (fix with a new migration pair, or allow-list a deliberate \
         difference with its reason):\n  {}",
        unexpected.iter().map(|d| d.as_str()).collect::<Vec<_>>().join("\n  ")
    );
    assert!(stale.is_empty(), "allow-listed differences that no longer exist:\n  {}", stale.join("\n  "));
}

/// A new service must not be forgotten here: the list is every target that owns a database.
#[test]
fn every_service_with_a_database_is_compared() {
    let targets: BTreeSet<&str> =
        ohjaus::Target::ALL.iter().filter(|t| t.spec().migrations().is_some()).map(|t| t.name()).collect();
    let compared: BTreeSet<&str> = SERVICES.iter().map(|(name, _)| *name).collect();
    assert_eq!(compared, targets);
}

/// What the introspection found in total per backend, so that a query that silently finds
/// nothing cannot make both sides equal and the test pass.
#[derive(Default)]
struct Seen {
    by_backend: BTreeMap<&'static str, Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    primary_keys: usize,
    unique: usize,
    foreign_keys: usize,
    indexes: usize,
}

impl Seen {
    fn note(&mut self, schema: &Schema, backend: Backend, service: &str) {
        for platform_table in ["outbox", "inbox", "parked_events"] {
            assert!(schema.contains_key(platform_table), "{service} on {backend:?} has no {platform_table} table");
        }
        let name = if backend == Backend::Embedded { "SQLite" } else { "PostgreSQL" };
        let counts = self.by_backend.entry(name).or_default();
        for table in schema.values() {
            counts.primary_keys += usize::from(!table.primary_key.is_empty());
            counts.unique += table.unique.len();
            counts.foreign_keys += table.foreign_keys.len();
            counts.indexes += table.indexes.len();
        }
    }

    fn assert_complete(&self) {
        assert_eq!(self.by_backend.len(), 2);
        for (backend, counts) in &self.by_backend {
            assert!(
                counts.primary_keys > 0 && counts.unique > 0 && counts.foreign_keys > 0 && counts.indexes > 0,
                "{backend}: found {counts:?}; the introspection misses something"
            );
        }
    }
}

/// Every difference between the SQLite schema `lite` and the PostgreSQL schema `pg`, as
/// `<table>: <what>`.
fn compare(lite: &Schema, pg: &Schema) -> Vec<String> {
    let mut found = Vec::new();
    for name in lite.keys().chain(pg.keys()).collect::<BTreeSet<_>>() {
        let (Some(a), Some(b)) = (lite.get(name), pg.get(name)) else {
            let only = if lite.contains_key(name) { "SQLite" } else { "PostgreSQL" };
            found.push(format!("{name}: table only on {only}"));
            continue;
        };
        let mut note = |what: String| found.push(format!("{name}: {what}"));
        for column in a.columns.keys().chain(b.columns.keys()).collect::<BTreeSet<_>>() {
            match (a.columns.get(column), b.columns.get(column)) {
                (Some(x), Some(y)) => {
                    if x.nullable != y.nullable {
                        note(format!(
                            "column {column}: {} on SQLite, {} on PostgreSQL",
                            nullability(x.nullable),
                            nullability(y.nullable)
                        ));
                    }
                    if x.storage != y.storage {
                        note(format!(
                            "column {column}: type {} on SQLite, stored as {} on PostgreSQL",
                            x.storage, y.storage
                        ));
                    }
                }
                (Some(_), None) => note(format!("column {column} only on SQLite")),
                (None, _) => note(format!("column {column} only on PostgreSQL")),
            }
        }
        if a.primary_key != b.primary_key {
            note(format!(
                "primary key ({}) on SQLite, ({}) on PostgreSQL",
                a.primary_key.join(", "),
                b.primary_key.join(", ")
            ));
        }
        for unique in a.unique.symmetric_difference(&b.unique) {
            let only = if a.unique.contains(unique) { "SQLite" } else { "PostgreSQL" };
            note(format!("unique ({}) only on {only}", unique.join(", ")));
        }
        for key in a.foreign_keys.symmetric_difference(&b.foreign_keys) {
            let only = if a.foreign_keys.contains(key) { "SQLite" } else { "PostgreSQL" };
            note(format!(
                "foreign key ({}) -> {} ({}) on delete {} only on {only}",
                key.columns.join(", "),
                key.target,
                key.target_columns.join(", "),
                key.on_delete
            ));
        }
        for index in a.indexes.keys().chain(b.indexes.keys()).collect::<BTreeSet<_>>() {
            match (a.indexes.get(index), b.indexes.get(index)) {
                (Some(x), Some(y)) if x != y => {
                    note(format!("index {index}: {} on SQLite, {} on PostgreSQL", describe(x), describe(y)))
                }
                (Some(_), Some(_)) => {}
                (Some(_), None) => note(format!("index {index} only on SQLite")),
                (None, _) => note(format!("index {index} only on PostgreSQL")),
            }
        }
    }
    found
}

fn nullability(nullable: bool) -> &'static str {
    if nullable { "nullable" } else { "not null" }
}

fn describe(index: &Index) -> String {
    let unique = if index.unique { "unique " } else { "" };
    let partial = if index.partial { " partial" } else { "" };
    format!("{unique}({}){partial}", index.columns.join(", "))
}

const EXPRESSION: &str = "<expression>";

async fn sqlite_schema(pool: &sqlx::SqlitePool) -> Schema {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for name in tables {
        let mut table = Table::default();
        let mut primary_key = Vec::new();
        for row in sqlx::query("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1)")
            .bind(&name)
            .fetch_all(pool)
            .await
            .unwrap()
        {
            let column: String = row.get("name");
            let pk: i64 = row.get("pk");
            // A SQLite primary key other than INTEGER PRIMARY KEY takes NULL unless the column
            // also says NOT NULL (a quirk SQLite keeps for compatibility); the services always
            // write their keys, and PostgreSQL's keys are NOT NULL, so keys count as NOT NULL.
            let nullable = row.get::<i64, _>("notnull") == 0 && pk == 0;
            table
                .columns
                .insert(column.clone(), Column { nullable, storage: row.get::<String, _>("type").to_uppercase() });
            if pk > 0 {
                primary_key.push((pk, column));
            }
        }
        primary_key.sort();
        table.primary_key = primary_key.into_iter().map(|(_, column)| column).collect();
        for row in sqlx::query("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)")
            .bind(&name)
            .fetch_all(pool)
            .await
            .unwrap()
        {
            let index: String = row.get("name");
            let columns: Vec<String> =
                sqlx::query_scalar::<_, Option<String>>("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(pool)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|column| column.unwrap_or_else(|| EXPRESSION.to_owned()))
                    .collect();
            match row.get::<String, _>("origin").as_str() {
                // The primary key's index; the key itself is compared above.
                "pk" => {}
                "u" => {
                    table.unique.insert(columns);
                }
                _ => {
                    let unique = row.get::<i64, _>("unique") != 0;
                    let partial = row.get::<i64, _>("partial") != 0;
                    table.indexes.insert(index, Index { columns, unique, partial });
                }
            }
        }
        let mut keys: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for row in sqlx::query(
            "SELECT id, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
        )
        .bind(&name)
        .fetch_all(pool)
        .await
        .unwrap()
        {
            let key = keys.entry(row.get("id")).or_insert_with(|| ForeignKey {
                columns: Vec::new(),
                target: row.get("table"),
                target_columns: Vec::new(),
                on_delete: row.get("on_delete"),
            });
            key.columns.push(row.get("from"));
            // `REFERENCES t` without columns means t's primary key; resolved below.
            key.target_columns.extend(row.get::<Option<String>, _>("to"));
        }
        table.foreign_keys = keys.into_values().collect();
        schema.insert(name, table);
    }
    let primary_keys: BTreeMap<String, Vec<String>> =
        schema.iter().map(|(name, table)| (name.clone(), table.primary_key.clone())).collect();
    for table in schema.values_mut() {
        table.foreign_keys = std::mem::take(&mut table.foreign_keys)
            .into_iter()
            .map(|mut key| {
                if key.target_columns.is_empty() {
                    key.target_columns = primary_keys.get(&key.target).cloned().unwrap_or_default();
                }
                key
            })
            .collect();
    }
    schema
}

async fn postgres_schema(pool: &sqlx::PgPool) -> Schema {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema: Schema = tables.into_iter().map(|name| (name, Table::default())).collect();

    for row in sqlx::query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name,
                is_nullable::text AS is_nullable, data_type::text AS data_type
         FROM information_schema.columns WHERE table_schema = current_schema()",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    {
        let Some(table) = schema.get_mut(&row.get::<String, _>("table_name")) else { continue };
        let data_type: String = row.get("data_type");
        let storage = STORAGE
            .iter()
            .find(|(pg, _)| *pg == data_type)
            .map(|(_, lite)| (*lite).to_owned())
            .unwrap_or_else(|| panic!("PostgreSQL type {data_type} has no SQLite storage in STORAGE; add it"));
        let nullable = row.get::<String, _>("is_nullable") == "YES";
        table.columns.insert(row.get("column_name"), Column { nullable, storage });
    }

    // Every index of the schema's tables with its key columns, and the constraint it backs.
    for row in sqlx::query(
        "SELECT t.relname::text AS table_name, i.relname::text AS index_name,
                ix.indisunique AS is_unique, ix.indpred IS NOT NULL AS partial,
                COALESCE((SELECT c.contype::text FROM pg_constraint c
                          WHERE c.conindid = ix.indexrelid AND c.conrelid = ix.indrelid
                            AND c.contype IN ('p', 'u', 'x')), '') AS backs,
                ARRAY(SELECT COALESCE(a.attname::text, '<expression>')
                      FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
                      LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
                      WHERE k.position <= ix.indnkeyatts
                      ORDER BY k.position) AS columns
         FROM pg_index ix
         JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE n.nspname = current_schema()",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    {
        let Some(table) = schema.get_mut(&row.get::<String, _>("table_name")) else { continue };
        let columns: Vec<String> = row.get("columns");
        match row.get::<String, _>("backs").as_str() {
            "p" => table.primary_key = columns,
            "u" => {
                table.unique.insert(columns);
            }
            _ => {
                let index = Index { columns, unique: row.get("is_unique"), partial: row.get("partial") };
                table.indexes.insert(row.get("index_name"), index);
            }
        }
    }

    for row in sqlx::query(
        "SELECT t.relname::text AS table_name, f.relname::text AS target,
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, position)
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                      ORDER BY k.position) AS columns,
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, position)
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
                      ORDER BY k.position) AS target_columns,
                c.confdeltype::text AS on_delete
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_class f ON f.oid = c.confrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE c.contype = 'f' AND n.nspname = current_schema()",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    {
        let Some(table) = schema.get_mut(&row.get::<String, _>("table_name")) else { continue };
        // pg_constraint's codes, in the words SQLite's pragma uses.
        let on_delete = match row.get::<String, _>("on_delete").as_str() {
            "a" => "NO ACTION",
            "r" => "RESTRICT",
            "c" => "CASCADE",
            "n" => "SET NULL",
            "d" => "SET DEFAULT",
            other => panic!("unknown ON DELETE action {other}"),
        };
        table.foreign_keys.insert(ForeignKey {
            columns: row.get("columns"),
            target: row.get("target"),
            target_columns: row.get("target_columns"),
            on_delete: on_delete.to_owned(),
        });
    }
    schema
}
