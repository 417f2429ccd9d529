//! Moving a deployment's catalog from SQLite to PostgreSQL (`custos
//! migrate`). The two schemas have the same tables and row shapes (ADR
//! 0008), so every row is copied as it is; the audit log's search columns
//! are read from each entry. Rows already present are left alone, so an
//! interrupted import simply runs again. What was copied is then compared
//! table by table with a digest of every row.

use std::path::Path;

use custos_catalog::{CatalogError, Result};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqliteRow};
use sqlx::{Column, Row, TypeInfo, ValueRef};

use crate::PostgresCatalog;

/// Every table, parents before children (foreign keys), with its key.
pub const TABLES: &[(&str, &str)] = &[
    ("devices", "device_id"),
    ("docks", "dock_id"),
    ("chain_heads", "device_id"),
    ("recordings", "recording_id"),
    ("recording_facts", "recording_id"),
    ("uploads", "upload_id"),
    ("incidents", "id"),
    ("audit_checkpoints", "size"),
    ("audit_log", "idx"),
    ("footage_accesses", "first_idx"),
    ("statistics_weeks", "week"),
    ("week_recordings", "week, team"),
    ("week_delays", "week, team, hours"),
    ("week_stops", "week, team, stop_reason"),
    ("week_firmware", "week, team, firmware, device_id"),
    ("week_deletions", "week, team, reason, after_hold"),
    ("users", "name"),
    ("account_activations", "activation_id"),
    ("sessions", "token_sha256"),
    ("tombstones", "recording_id"),
    ("tombstone_blobs", "recording_id, blob_key"),
    ("cases", "case_id"),
    ("holds", "hold_id"),
    ("case_links", "case_id, recording_id"),
    ("export_requests", "request_id"),
    ("export_links", "link_id"),
    ("subject_requests", "case_id"),
    ("derivatives", "derivative_id"),
    ("settings", "key"),
    ("leases", "name"),
    ("axis_connections", "name"),
    ("axis_content_keys", "connection, key_id"),
    ("signed_video_checks", "recording_id"),
    ("axis_trails", "recording_id"),
    ("axis_signing_keys", "device_id"),
    ("axis_tokens", "token_sha256"),
    ("axis_containers", "connection, name"),
    ("axis_objects", "connection, container, name"),
    ("axis_pending_blobs", "blob_key"),
];

/// Rows copied per statement.
const ROWS_PER_INSERT: usize = 200;

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

fn unavailable(e: impl std::fmt::Display) -> CatalogError {
    CatalogError::Unavailable(e.to_string())
}

fn values(row: &SqliteRow) -> Result<Vec<(String, Value)>> {
    let mut out = Vec::with_capacity(row.columns().len());
    for column in row.columns() {
        let i = column.ordinal();
        let raw = row.try_get_raw(i).map_err(unavailable)?;
        let value = if raw.is_null() {
            Value::Null
        } else {
            match raw.type_info().name() {
                "INTEGER" => Value::Int(row.try_get(i).map_err(unavailable)?),
                "TEXT" => Value::Text(row.try_get(i).map_err(unavailable)?),
                "BLOB" => Value::Bytes(row.try_get(i).map_err(unavailable)?),
                other => {
                    return Err(CatalogError::Unavailable(format!(
                        "column {} has SQLite type {other}",
                        column.name()
                    )))
                }
            }
        };
        out.push((column.name().to_owned(), value));
    }
    Ok(out)
}

/// What a row is, for the comparison after the copy: its columns in order.
fn digest_row(digest: &mut Sha256, row: &[(String, Value)]) {
    for (name, value) in row {
        digest.update(name.as_bytes());
        match value {
            Value::Null => digest.update([0u8]),
            Value::Int(v) => {
                digest.update([1u8]);
                digest.update(v.to_be_bytes());
            }
            Value::Text(v) => {
                digest.update([2u8]);
                digest.update((v.len() as u64).to_be_bytes());
                digest.update(v.as_bytes());
            }
            Value::Bytes(v) => {
                digest.update([3u8]);
                digest.update((v.len() as u64).to_be_bytes());
                digest.update(v);
            }
        }
    }
}

/// One table's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableReport {
    pub table: &'static str,
    pub rows: u64,
    /// Rows the target had already (an earlier, interrupted run).
    pub already: u64,
}

/// Opens the SQLite catalog in `dir` read-only.
pub async fn open_sqlite(dir: &Path) -> Result<SqlitePool> {
    let file = dir.join("catalog.sqlite");
    if !file.exists() {
        return Err(CatalogError::Unavailable(format!(
            "{} does not exist",
            file.display()
        )));
    }
    let options = SqliteConnectOptions::new().filename(file).read_only(true);
    SqlitePool::connect_with(options).await.map_err(unavailable)
}

/// Copies every table of the SQLite catalog `source` into this one.
/// `progress` is told each table's name and rows done.
pub async fn import_sqlite(
    catalog: &PostgresCatalog,
    source: &SqlitePool,
    progress: &dyn Fn(&str, u64, u64),
) -> Result<Vec<TableReport>> {
    // A table this list does not know (one a later migration added)
    // would be left behind: refuse rather than lose it.
    let present: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name",
    )
    .fetch_all(source)
    .await
    .map_err(unavailable)?;
    if let Some(unknown) = present
        .iter()
        .find(|t| !TABLES.iter().any(|(known, _)| known == t))
    {
        return Err(CatalogError::Unavailable(format!(
            "the SQLite catalog has a table `{unknown}` that this version cannot move; nothing was copied"
        )));
    }
    let mut reports = Vec::new();
    for (table, key) in TABLES {
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(source)
            .await
            .map_err(unavailable)?;
        let rows = sqlx::query(&format!("SELECT * FROM {table} ORDER BY {key}"))
            .fetch_all(source)
            .await
            .map_err(unavailable)?;
        let mut report = TableReport {
            table,
            rows: 0,
            already: 0,
        };
        for part in rows.chunks(ROWS_PER_INSERT) {
            let part: Vec<Vec<(String, Value)>> = part.iter().map(values).collect::<Result<_>>()?;
            let inserted = insert_rows(catalog, table, &part).await?;
            report.rows += part.len() as u64;
            report.already += part.len() as u64 - inserted;
            progress(table, report.rows, total as u64);
        }
        if *table == "incidents" {
            // Later incidents continue after the copied ids.
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('incidents', 'id'), \
                 GREATEST((SELECT COALESCE(MAX(id), 0) FROM incidents), 1))",
            )
            .execute(catalog.pool())
            .await
            .map_err(unavailable)?;
        }
        reports.push(report);
    }
    Ok(reports)
}

async fn insert_rows(
    catalog: &PostgresCatalog,
    table: &str,
    rows: &[Vec<(String, Value)>],
) -> Result<u64> {
    let Some(first) = rows.first() else {
        return Ok(0);
    };
    let mut columns: Vec<String> = first.iter().map(|(n, _)| n.clone()).collect();
    // The audit log's search columns, from each entry.
    // (A SQLite catalog migrated before its 25th migration has none.)
    let audit = table == "audit_log" && !first.iter().any(|(n, _)| n == "at");
    if audit {
        columns.extend(
            [
                "at", "actor", "action", "outcome", "object", "case_id", "purpose",
            ]
            .map(str::to_owned),
        );
    }
    let mut insert =
        sqlx::QueryBuilder::new(format!("INSERT INTO {table} ({}) ", columns.join(", ")));
    let mut extras = Vec::with_capacity(rows.len());
    for row in rows {
        if audit {
            let bytes = match row.iter().find(|(n, _)| n == "entry") {
                Some((_, Value::Bytes(b))) => b,
                _ => return Err(unavailable("an audit row without its entry")),
            };
            let event = custos_audit::AuditEntry::parse(bytes)
                .map_err(|e| unavailable(format!("audit entry: {e}")))?
                .event;
            extras.push(vec![
                Value::Text(event.at.to_string()),
                Value::Text(event.actor),
                Value::Text(event.action),
                Value::Text(event.outcome.as_str().to_owned()),
                event.object.map_or(Value::Null, Value::Text),
                event.case.map_or(Value::Null, Value::Text),
                event.purpose.map_or(Value::Null, Value::Text),
            ]);
        } else {
            extras.push(Vec::new());
        }
    }
    insert.push_values(rows.iter().zip(&extras), |mut b, (row, extra)| {
        for value in row.iter().map(|(_, v)| v).chain(extra.iter()) {
            match value {
                // An untyped NULL: PostgreSQL gives it the column's type.
                Value::Null => b.push("NULL"),
                Value::Int(v) => b.push_bind(*v),
                Value::Text(v) => b.push_bind(v.clone()),
                Value::Bytes(v) => b.push_bind(v.clone()),
            };
        }
    });
    insert.push(" ON CONFLICT DO NOTHING");
    let done = insert
        .build()
        .execute(catalog.pool())
        .await
        .map_err(unavailable)?;
    Ok(done.rows_affected())
}

/// Compares every table with the source: the same rows, column by
/// column (the audit log's search columns aside). `Ok(())` or the first
/// table that differs.
pub async fn compare_with_sqlite(catalog: &PostgresCatalog, source: &SqlitePool) -> Result<()> {
    for (table, key) in TABLES {
        // The audit log may have grown since the copy (the migration's
        // own entry): the copied part must be the source's. A
        // checkpoint's frontier is kept only at the tip, so it is
        // compared by size and signed note.
        let select = if *table == "audit_checkpoints" {
            "size, note"
        } else {
            "*"
        };
        let theirs = sqlx::query(&format!("SELECT {select} FROM {table} ORDER BY {key}"))
            .fetch_all(source)
            .await
            .map_err(unavailable)?;
        let copied_part = match *table {
            "audit_log" => format!(" WHERE idx < {}", theirs.len()),
            "audit_checkpoints" => {
                let largest: i64 = theirs.last().map(|r| r.get("size")).unwrap_or(0);
                format!(" WHERE size <= {largest}")
            }
            _ => String::new(),
        };
        let mut columns: Vec<String> = Vec::new();
        let mut source_digest = Sha256::new();
        for row in &theirs {
            let values = values(row)?;
            if columns.is_empty() {
                columns = values.iter().map(|(n, _)| n.clone()).collect();
            }
            digest_row(&mut source_digest, &values);
        }
        let mut target_digest = Sha256::new();
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}{copied_part}"))
            .fetch_one(catalog.pool())
            .await
            .map_err(unavailable)?;
        if count as usize != theirs.len() {
            return Err(CatalogError::Conflict(format!(
                "{table}: {} rows in SQLite, {count} in PostgreSQL",
                theirs.len()
            )));
        }
        if !columns.is_empty() {
            // SQLite orders text bytewise; so does the C collation.
            let order = if matches!(*key, "id" | "idx" | "size") {
                key.to_string()
            } else {
                format!("{key} COLLATE \"C\"")
            };
            let ours = sqlx::query(&format!(
                "SELECT {} FROM {table}{copied_part} ORDER BY {order}",
                columns.join(", ")
            ))
            .fetch_all(catalog.pool())
            .await
            .map_err(unavailable)?;
            for row in &ours {
                let mut values = Vec::with_capacity(columns.len());
                for (i, name) in columns.iter().enumerate() {
                    let raw = row.try_get_raw(i).map_err(unavailable)?;
                    let value = if raw.is_null() {
                        Value::Null
                    } else {
                        match raw.type_info().name() {
                            "INT8" | "INT4" => Value::Int(row.try_get(i).map_err(unavailable)?),
                            "TEXT" => Value::Text(row.try_get(i).map_err(unavailable)?),
                            "BYTEA" => Value::Bytes(row.try_get(i).map_err(unavailable)?),
                            other => {
                                return Err(unavailable(format!("{table}.{name} has type {other}")))
                            }
                        }
                    };
                    values.push((name.clone(), value));
                }
                digest_row(&mut target_digest, &values);
            }
        }
        if source_digest.finalize() != target_digest.finalize() {
            return Err(CatalogError::Conflict(format!(
                "{table}: the rows differ from SQLite's"
            )));
        }
    }
    Ok(())
}
