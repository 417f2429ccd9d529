//! The catalog on SQLite: one file in the data directory, WAL mode, its own
//! migrations (`migrations/`, applied in order at open). The SQL itself is
//! `custos-catalog-sql`'s, shared with PostgreSQL; this crate holds what
//! differs: connecting, migrations, locks, error codes, JSON extraction.
#![forbid(unsafe_code)]

use std::future::Future;
use std::path::Path;
use std::str::FromStr;

use custos_catalog::{CatalogError, Result};
pub use custos_catalog_sql::SqlCatalog;
use custos_catalog_sql::{Dialect, Lock, DUE_QUERY};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Row;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_audit_log.sql")),
    (3, include_str!("../migrations/0003_users.sql")),
    (
        4,
        include_str!("../migrations/0004_cases_holds_retention.sql"),
    ),
    (
        5,
        include_str!("../migrations/0005_retention_categories.sql"),
    ),
    (6, include_str!("../migrations/0006_password_change.sql")),
    (7, include_str!("../migrations/0007_audit_tip_frontier.sql")),
    (8, include_str!("../migrations/0008_search.sql")),
    (9, include_str!("../migrations/0009_assigned_officer.sql")),
    (10, include_str!("../migrations/0010_settings.sql")),
    (11, include_str!("../migrations/0011_leases.sql")),
    (12, include_str!("../migrations/0012_truncated_index.sql")),
    (
        13,
        include_str!("../migrations/0013_delete_after_covering.sql"),
    ),
    (14, include_str!("../migrations/0014_export_requests.sql")),
    (15, include_str!("../migrations/0015_export_links.sql")),
    (16, include_str!("../migrations/0016_subject_requests.sql")),
    (17, include_str!("../migrations/0017_derivatives.sql")),
    (
        18,
        include_str!("../migrations/0018_subject_deliveries.sql"),
    ),
    (19, include_str!("../migrations/0019_statistics.sql")),
    (20, include_str!("../migrations/0020_admission.sql")),
    (21, include_str!("../migrations/0021_deletion_final.sql")),
    (22, include_str!("../migrations/0022_case_links.sql")),
    (23, include_str!("../migrations/0023_activations.sql")),
    (24, include_str!("../migrations/0024_unnamed_incidents.sql")),
    (25, include_str!("../migrations/0025_audit_columns.sql")),
    (26, include_str!("../migrations/0026_axis_connections.sql")),
    (27, include_str!("../migrations/0027_axis_containers.sql")),
    (28, include_str!("../migrations/0028_axis_recordings.sql")),
    (29, include_str!("../migrations/0029_axis_content_keys.sql")),
    (30, include_str!("../migrations/0030_signed_video.sql")),
    (31, include_str!("../migrations/0031_axis_trails.sql")),
];

/// SQLite, as [`SqlCatalog`] speaks it.
pub struct Sqlite;

/// The catalog on SQLite.
pub type SqliteCatalog = SqlCatalog<Sqlite>;

impl Dialect for Sqlite {
    type Db = sqlx::Sqlite;
    const NAME: &'static str = "sqlite";
    const MIGRATIONS_TABLE: &'static str = "CREATE TABLE IF NOT EXISTS schema_migrations \
        (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)";
    /// A committed recording's facts for the statistics, read from its
    /// signed manifest (migration 0019 fills them for recordings committed before).
    const FACTS_INSERT: &'static str = "INSERT INTO recording_facts
SELECT r.recording_id, r.device_id, d.team, r.officer_id, r.started_at, r.ended_at, r.stored_at,
       json_extract(r.m, '$.prerecord_included_ms'),
       (SELECT COUNT(*) FROM json_each(r.m, '$.display_events') WHERE json_extract(value, '$.on') = 1),
       json_extract(r.m, '$.trigger'), json_extract(r.m, '$.stop_reason'), json_extract(r.m, '$.firmware'),
       r.truncated
FROM (SELECT *, CAST(manifest AS TEXT) AS m FROM recordings WHERE recording_id = $1) r
LEFT JOIN devices d ON d.device_id = r.device_id";

    const NUMBERED_PLACEHOLDERS: bool = false;

    fn migrations() -> &'static [(i64, &'static str)] {
        MIGRATIONS
    }

    fn begin_locked(
        pool: &sqlx::SqlitePool,
        _lock: Lock,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send
    {
        // IMMEDIATE takes the one write lock before the first read, so that
        // two processes (the server, an operator's CLI) never both act on
        // what they read: every lock is the same lock here.
        pool.begin_with("BEGIN IMMEDIATE")
    }

    fn is_disk_full(e: &sqlx::Error) -> bool {
        // SQLITE_FULL (13), or the file system's own out-of-space.
        match e {
            sqlx::Error::Database(db) => db.code().is_some_and(|c| c == "13"),
            sqlx::Error::Io(io) => {
                matches!(
                    io.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
                ) || matches!(io.raw_os_error(), Some(28) | Some(122))
            }
            _ => false,
        }
    }

    fn rows_affected(done: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        done.rows_affected()
    }
}

fn unavailable(e: impl std::fmt::Display) -> CatalogError {
    CatalogError::Unavailable(e.to_string())
}

/// Opens (creating if needed) `catalog.sqlite` in `dir` and migrates it.
pub async fn open(dir: &Path) -> Result<SqliteCatalog> {
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(unavailable)?
        .filename(dir.join("catalog.sqlite"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a committed row survives a power cut, as a receipt promises.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // Deleted rows (a shredded recording's key) are overwritten, not left in free pages.
        .pragma("secure_delete", "ON")
        .busy_timeout(std::time::Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        // sqlx pings a pooled connection before lending it out, to catch
        // a server that hung up. An in-process database cannot hang up,
        // and the ping is one more wake-up of the connection's thread on
        // every query (P3: two of a range request's hops).
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .map_err(unavailable)?;
    SqlCatalog::migrated(pool).await
}

/// Moves the write-ahead log into the database file (SQLite does this as
/// it goes; after a bulk import, a benchmark asks for it at once).
pub async fn checkpoint(catalog: &SqliteCatalog) -> Result<()> {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(catalog.pool())
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// SQLite's plan for the sweeper's query: shows it searches an index
/// rather than scanning the catalog.
pub async fn due_query_plan(catalog: &SqliteCatalog) -> Result<Vec<String>> {
    let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {DUE_QUERY}"))
        .bind(0i64)
        .bind(500i64)
        .fetch_all(catalog.pool())
        .await
        .map_err(unavailable)?;
    Ok(rows.iter().map(|r| r.get::<String, _>("detail")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use custos_catalog::stores::*;
    use custos_catalog::CatalogError;
    use custos_format::UtcMillis;

    #[tokio::test]
    async fn only_the_newest_checkpoint_keeps_a_frontier_and_stale_batches_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = open(dir.path()).await.unwrap();
        let key = custos_format::SigningKey::from_seed(&[9; 32]);
        let signer = custos_audit::NoteSigner::new("test.example/audit", key).unwrap();
        let mut frontier = custos_audit::Frontier::new();
        let event = |i: i64| {
            custos_audit::AuditEvent::new(
                UtcMillis::from_millis(1_795_424_400_000 + i).unwrap(),
                "system:test",
                "test.append",
                custos_audit::Outcome::Ok,
            )
        };
        for batch in 0..4 {
            let size = frontier.size();
            let (rows, checkpoint) = custos_audit::append_batch(
                &mut frontier,
                (0..3).map(|i| event(batch * 3 + i)),
                &signer,
            )
            .unwrap();
            catalog
                .append_audit(size, &rows, &checkpoint, &frontier.to_bytes())
                .await
                .unwrap();
            // A batch built on the old tip is refused and leaves nothing behind.
            if size > 0 {
                let mut stale = custos_audit::Frontier::new();
                let (rows, checkpoint) =
                    custos_audit::append_batch(&mut stale, std::iter::once(event(99)), &signer)
                        .unwrap();
                assert!(matches!(
                    catalog
                        .append_audit(0, &rows, &checkpoint, &stale.to_bytes())
                        .await,
                    Err(CatalogError::Conflict(_))
                ));
            }
        }
        let with_frontier: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM audit_checkpoints WHERE length(frontier) > 0")
                .fetch_one(catalog.pool())
                .await
                .unwrap();
        assert_eq!(with_frontier, 1);
        let tip = catalog.audit_tip().await.unwrap().unwrap();
        assert_eq!(tip.checkpoint.size, 12);
        assert_eq!(
            custos_audit::Frontier::from_bytes(&tip.frontier),
            Some(frontier)
        );
        assert_eq!(catalog.audit_entries(0, 100).await.unwrap().len(), 12);
        assert_eq!(catalog.audit_checkpoints().await.unwrap().len(), 4);
    }
}
