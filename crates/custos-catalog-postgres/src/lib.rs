//! The catalog on PostgreSQL, for deployments with several server nodes.
//! The SQL itself is `custos-catalog-sql`'s, shared with SQLite (one story
//! test runs against both); this crate holds what differs: connecting, its
//! migrations (`migrations/`, applied in order at connect, under an
//! advisory lock so that nodes starting together migrate once), advisory
//! locks, error codes, JSON extraction, and the import from SQLite.
#![forbid(unsafe_code)]

pub mod import;

use custos_catalog::{CatalogError, Result};
pub use custos_catalog_sql::SqlCatalog;
use custos_catalog_sql::{Dialect, Lock, DUE_QUERY};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_leases.sql")),
    (3, include_str!("../migrations/0003_truncated_index.sql")),
    (
        4,
        include_str!("../migrations/0004_delete_after_covering.sql"),
    ),
    (5, include_str!("../migrations/0005_export_requests.sql")),
    (6, include_str!("../migrations/0006_export_links.sql")),
    (7, include_str!("../migrations/0007_subject_requests.sql")),
    (8, include_str!("../migrations/0008_derivatives.sql")),
    (9, include_str!("../migrations/0009_subject_deliveries.sql")),
    (10, include_str!("../migrations/0010_statistics.sql")),
    (11, include_str!("../migrations/0011_admission.sql")),
    (12, include_str!("../migrations/0012_deletion_final.sql")),
    (13, include_str!("../migrations/0013_case_links.sql")),
    (14, include_str!("../migrations/0014_activations.sql")),
    (15, include_str!("../migrations/0015_unnamed_incidents.sql")),
    (16, include_str!("../migrations/0016_axis_connections.sql")),
    (17, include_str!("../migrations/0017_axis_containers.sql")),
    (18, include_str!("../migrations/0018_axis_recordings.sql")),
    (19, include_str!("../migrations/0019_axis_content_keys.sql")),
    (20, include_str!("../migrations/0020_signed_video.sql")),
    (21, include_str!("../migrations/0021_axis_trails.sql")),
];

/// Held while migrating, so that nodes starting together migrate once.
const MIGRATION_LOCK: i64 = 0x0063_7573_746f_7301; // "custos" 01
/// Held while appending to the audit log: one Merkle log for all nodes.
const AUDIT_LOCK: i64 = 0x0063_7573_746f_7302; // "custos" 02
/// Sightings of incidents: the look and the insert of one fact.
const INCIDENT_LOCK: i64 = 0x0063_7573_746f_7303; // "custos" 03

/// PostgreSQL, as [`SqlCatalog`] speaks it.
pub struct Postgres;

/// The catalog on PostgreSQL.
pub type PostgresCatalog = SqlCatalog<Postgres>;

impl Dialect for Postgres {
    type Db = sqlx::Postgres;
    const NAME: &'static str = "postgres";
    const MIGRATIONS_TABLE: &'static str = "CREATE TABLE IF NOT EXISTS schema_migrations \
        (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)";
    /// A committed recording's facts for the statistics, read from its
    /// signed manifest (migration 0010 fills them for recordings committed before).
    const FACTS_INSERT: &'static str = "INSERT INTO recording_facts
SELECT r.recording_id, r.device_id, d.team, r.officer_id, r.started_at, r.ended_at, r.stored_at,
       (r.m->>'prerecord_included_ms')::BIGINT,
       (SELECT COUNT(*) FROM jsonb_array_elements(r.m->'display_events') e WHERE (e->>'on')::BOOLEAN),
       r.m->>'trigger', r.m->>'stop_reason', r.m->>'firmware',
       r.truncated
FROM (SELECT *, convert_from(manifest, 'UTF8')::jsonb AS m FROM recordings WHERE recording_id = $1) r
LEFT JOIN devices d ON d.device_id = r.device_id";

    const NUMBERED_PLACEHOLDERS: bool = true;

    fn migrations() -> &'static [(i64, &'static str)] {
        MIGRATIONS
    }

    async fn begin_locked(
        pool: &PgPool,
        lock: Lock,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let mut tx = pool.begin().await?;
        let key = match lock {
            Lock::Migration => MIGRATION_LOCK,
            Lock::Audit => AUDIT_LOCK,
            Lock::Incident => INCIDENT_LOCK,
            // MVCC: a reading writer needs no lock of its own.
            Lock::Write => return Ok(tx),
        };
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(key)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    fn is_disk_full(e: &sqlx::Error) -> bool {
        // SQLSTATE 53100 disk_full (53000 insufficient_resources is an outage).
        matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c == "53100"))
    }

    fn rows_affected(done: &sqlx::postgres::PgQueryResult) -> u64 {
        done.rows_affected()
    }
}

fn unavailable(e: impl std::fmt::Display) -> CatalogError {
    CatalogError::Unavailable(e.to_string())
}

/// A schema name that is safe to put in SQL as it is.
fn check_schema(schema: &str) -> Result<()> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CatalogError::Unavailable(format!(
            "schema `{}`: 1-63 of a-z 0-9 _",
            schema.escape_default()
        )))
    }
}

/// Connects to `url` (`postgres://user@host/db`) and migrates.
pub async fn connect(url: &str) -> Result<PostgresCatalog> {
    connect_with(url.parse().map_err(unavailable)?).await
}

/// Connects with every table in `schema` (made if missing): several
/// deployments, or tests, side by side in one database.
pub async fn connect_in_schema(url: &str, schema: &str) -> Result<PostgresCatalog> {
    check_schema(schema)?;
    let options: PgConnectOptions = url.parse().map_err(unavailable)?;
    let setup = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .map_err(unavailable)?;
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(&setup)
        .await
        .map_err(unavailable)?;
    setup.close().await;
    connect_with(options.options([("search_path", schema)])).await
}

async fn connect_with(options: PgConnectOptions) -> Result<PostgresCatalog> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(unavailable)?;
    SqlCatalog::migrated(pool).await
}

/// Drops `schema` and everything in it (a benchmark's scratch catalog).
pub async fn drop_schema(catalog: PostgresCatalog, schema: &str) -> Result<()> {
    check_schema(schema)?;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(catalog.pool())
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Updates the planner's statistics and the visibility map after a bulk
/// load (`custos migrate`, benchmarks); autovacuum does it in time.
pub async fn vacuum_analyze(catalog: &PostgresCatalog) -> Result<()> {
    sqlx::query("VACUUM ANALYZE")
        .execute(catalog.pool())
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// PostgreSQL's plan for the sweeper's query: shows it searches an index
/// rather than scanning the catalog.
pub async fn due_query_plan(catalog: &PostgresCatalog) -> Result<Vec<String>> {
    let rows = sqlx::query(&format!("EXPLAIN {DUE_QUERY}"))
        .bind(0i64)
        .bind(500i64)
        .fetch_all(catalog.pool())
        .await
        .map_err(unavailable)?;
    Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}
