//! The catalog on PostgreSQL, for deployments with several server nodes:
//! the same contract as the SQLite catalog (one story test runs against
//! both), its own migrations (`migrations/`, applied in order at connect,
//! under an advisory lock so that nodes starting together migrate once).
#![forbid(unsafe_code)]

pub mod import;

use async_trait::async_trait;
use custos_catalog::activations;
use custos_catalog::rows::{self, hash, ms, time};
use custos_catalog::*;
use custos_format::UtcMillis;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};
use uuid::Uuid;

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
];

/// Held while migrating, so that nodes starting together migrate once.
const MIGRATION_LOCK: i64 = 0x0063_7573_746f_7301; // "custos" 01
/// Held while appending to the audit log: one Merkle log for all nodes.
const AUDIT_LOCK: i64 = 0x0063_7573_746f_7302; // "custos" 02
/// Sightings of incidents: the look and the insert of one fact.
const INCIDENT_LOCK: i64 = 0x0063_7573_746f_7303; // "custos" 03

/// Audit rows per INSERT statement (10 parameters each; PostgreSQL allows 65,535).
const AUDIT_ROWS_PER_INSERT: usize = 500;

/// Due recordings that no unreleased hold keeps: by index on `delete_after`.
const DUE_QUERY: &str = "SELECT * FROM recordings r WHERE r.delete_after <= $1 \
     AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.recording_id = r.recording_id AND h.released_at IS NULL) \
     ORDER BY r.delete_after LIMIT $2";

pub struct PostgresCatalog {
    pool: PgPool,
}

fn unavailable(e: sqlx::Error) -> CatalogError {
    // SQLSTATE 53100 disk_full (53000 insufficient_resources is an outage).
    let full = match &e {
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c == "53100"),
        _ => false,
    };
    if full {
        CatalogError::Full(e.to_string())
    } else {
        CatalogError::Unavailable(e.to_string())
    }
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

impl PostgresCatalog {
    /// Connects to `url` (`postgres://user@host/db`) and migrates.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url.parse().map_err(unavailable)?).await
    }

    /// Connects with every table in `schema` (made if missing): several
    /// deployments, or tests, side by side in one database.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self> {
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
        Self::connect_with(options.options([("search_path", schema)])).await
    }

    async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        let this = Self { pool };
        this.migrate().await?;
        Ok(this)
    }

    /// Many recordings in one transaction (benchmarks, migrations from
    /// another system); no chain heads, no uploads.
    pub async fn import_recordings(&self, recordings: &[Recording]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        // 19 parameters a row: 1,000 rows stay under PostgreSQL's 65,535.
        for part in recordings.chunks(1000) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO recordings (recording_id, device_id, sequence, officer_id, started_at, ended_at, truncated, \
                 ciphertext_sha256, ciphertext_length, manifest, manifest_signature, manifest_sha256, blob_key, stored_at, \
                 receipt, receipt_signature, delete_after, age_header, retention_category) ",
            );
            insert.push_values(part, |mut b, r| {
                b.push_bind(r.recording_id.to_string())
                    .push_bind(&r.device_id)
                    .push_bind(r.sequence as i64)
                    .push_bind(&r.officer_id)
                    .push_bind(ms(r.started_at))
                    .push_bind(ms(r.ended_at))
                    .push_bind(r.truncated as i64)
                    .push_bind(hex::encode(r.ciphertext_sha256))
                    .push_bind(r.ciphertext_length as i64)
                    .push_bind(&r.manifest)
                    .push_bind(&r.manifest_signature)
                    .push_bind(hex::encode(r.manifest_sha256))
                    .push_bind(&r.blob_key)
                    .push_bind(ms(r.stored_at))
                    .push_bind(&r.receipt)
                    .push_bind(&r.receipt_signature)
                    .push_bind(ms(r.delete_after))
                    .push_bind(&r.age_header)
                    .push_bind(&r.retention_category);
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        let ids: Vec<String> = recordings
            .iter()
            .map(|r| r.recording_id.to_string())
            .collect();
        sqlx::query(&FACTS_INSERT.replace("recording_id = $1", "recording_id = ANY($1)"))
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        invalidate_weeks(&mut tx, recordings.iter().map(|r| r.started_at)).await?;
        tx.commit().await.map_err(unavailable)
    }

    /// Drops `schema` and everything in it (a benchmark's scratch catalog).
    pub async fn drop_schema(self, schema: &str) -> Result<()> {
        check_schema(schema)?;
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Updates the planner's statistics and the visibility map after a bulk
    /// load (`custos migrate`, benchmarks); autovacuum does it in time.
    pub async fn vacuum_analyze(&self) -> Result<()> {
        sqlx::query("VACUUM ANALYZE")
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// PostgreSQL's plan for the sweeper's query: shows it searches an
    /// index rather than scanning the catalog.
    pub async fn due_query_plan(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(&format!("EXPLAIN {DUE_QUERY}"))
            .bind(0i64)
            .bind(500i64)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }

    async fn migrate(&self) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?;
        for (version, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(UtcMillis::now().as_millis())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }
}

/// One recording row, inside the caller's transaction.
async fn insert_recording(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    r: &Recording,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO recordings (recording_id, device_id, sequence, officer_id, started_at, ended_at, truncated,
           ciphertext_sha256, ciphertext_length, manifest, manifest_signature, manifest_sha256, blob_key, stored_at,
           receipt, receipt_signature, delete_after, age_header, retention_category)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
    )
    .bind(r.recording_id.to_string())
    .bind(&r.device_id)
    .bind(r.sequence as i64)
    .bind(&r.officer_id)
    .bind(ms(r.started_at))
    .bind(ms(r.ended_at))
    .bind(r.truncated as i64)
    .bind(hex::encode(r.ciphertext_sha256))
    .bind(r.ciphertext_length as i64)
    .bind(&r.manifest)
    .bind(&r.manifest_signature)
    .bind(hex::encode(r.manifest_sha256))
    .bind(&r.blob_key)
    .bind(ms(r.stored_at))
    .bind(&r.receipt)
    .bind(&r.receipt_signature)
    .bind(ms(r.delete_after))
    .bind(&r.age_header)
    .bind(&r.retention_category)
    .execute(&mut **tx)
    .await
    .map_err(|e| insert_error(e, "recording", r.recording_id.to_string()))?;
    Ok(())
}

/// An UPDATE that touched no row: the thing it names does not exist.
fn found(
    done: &sqlx::postgres::PgQueryResult,
    what: &'static str,
    id: impl ToString,
) -> Result<()> {
    if done.rows_affected() == 0 {
        return Err(CatalogError::NotFound {
            what,
            id: id.to_string(),
        });
    }
    Ok(())
}

/// An INSERT failure: a duplicate key is the caller's conflict, anything
/// else an outage.
fn insert_error(e: sqlx::Error, what: &'static str, id: impl ToString) -> CatalogError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => CatalogError::AlreadyExists {
            what,
            id: id.to_string(),
        },
        _ => unavailable(e),
    }
}

/// A committed recording's facts for the statistics, read from its signed
/// manifest (migration 0010 fills them for recordings committed before).
const FACTS_INSERT: &str = "INSERT INTO recording_facts
SELECT r.recording_id, r.device_id, d.team, r.officer_id, r.started_at, r.ended_at, r.stored_at,
       (r.m->>'prerecord_included_ms')::BIGINT,
       (SELECT COUNT(*) FROM jsonb_array_elements(r.m->'display_events') e WHERE (e->>'on')::BOOLEAN),
       r.m->>'trigger', r.m->>'stop_reason', r.m->>'firmware',
       r.truncated
FROM (SELECT *, convert_from(manifest, 'UTF8')::jsonb AS m FROM recordings WHERE recording_id = $1) r
LEFT JOIN devices d ON d.device_id = r.device_id";

/// The statistics' statements run in one transaction of this backend.
struct StatisticsRunner<'t>(sqlx::Transaction<'t, sqlx::Postgres>);

fn bound<'q>(
    statement: &'q statistics::Statement,
    sql: &'q str,
) -> sqlx::query::Query<'q, sqlx::Postgres, <sqlx::Postgres as sqlx::Database>::Arguments<'q>> {
    let mut query = sqlx::query(sql);
    for bind in &statement.binds {
        query = match bind {
            statistics::Bind::Int(v) => query.bind(*v),
            statistics::Bind::Text(v) => query.bind(v.as_str()),
        };
    }
    query
}

/// A row copied out as the shared statistics code reads it.
fn owned(row: &PgRow) -> statistics::OwnedRow {
    use sqlx::Column;
    statistics::OwnedRow(
        row.columns()
            .iter()
            .map(|c| {
                let name = c.name();
                let value = if let Ok(Some(v)) = row.try_get::<Option<i64>, _>(name) {
                    statistics::Value::Int(v)
                } else if let Ok(Some(v)) = row.try_get::<Option<String>, _>(name) {
                    statistics::Value::Text(v)
                } else {
                    statistics::Value::Null
                };
                (name.to_owned(), value)
            })
            .collect(),
    )
}

#[async_trait]
impl statistics::Runner for StatisticsRunner<'_> {
    async fn rows(
        &mut self,
        statement: statistics::Statement,
    ) -> Result<Vec<statistics::OwnedRow>> {
        let sql = statistics::numbered(&statement.sql);
        let rows = bound(&statement, &sql)
            .fetch_all(&mut *self.0)
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(owned).collect())
    }

    async fn execute(&mut self, statement: statistics::Statement) -> Result<()> {
        let sql = statistics::numbered(&statement.sql);
        bound(&statement, &sql)
            .execute(&mut *self.0)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// Drops the statistics cache's marks of the weeks these times fall in.
async fn invalidate_weeks(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    times: impl Iterator<Item = UtcMillis>,
) -> Result<()> {
    let mut weeks: Vec<i64> = times
        .map(|t| statistics::monday_of(t.as_millis()))
        .collect();
    weeks.sort_unstable();
    weeks.dedup();
    for part in weeks.chunks(500) {
        let statement = statistics::invalidate_weeks_sql(part);
        let sql = statistics::numbered(&statement.sql);
        bound(&statement, &sql)
            .execute(&mut **tx)
            .await
            .map_err(unavailable)?;
    }
    Ok(())
}

/// A row of this backend, as the shared readers (`custos_catalog::rows`) take it.
struct Columns<'a>(&'a PgRow);

impl rows::SqlRow for Columns<'_> {
    fn int(&self, column: &str) -> Result<i64> {
        self.0.try_get(column).map_err(|_| rows::corrupt(column))
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.0.try_get(column).map_err(|_| rows::corrupt(column))
    }
    fn text(&self, column: &str) -> Result<String> {
        self.0.try_get(column).map_err(|_| rows::corrupt(column))
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.0.try_get(column).map_err(|_| rows::corrupt(column))
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>> {
        self.0.try_get(column).map_err(|_| rows::corrupt(column))
    }
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>> {
        self.0.try_get(column).map_err(|_| rows::corrupt(column))
    }
}

fn device_row(r: &PgRow) -> Result<Device> {
    rows::device(&Columns(r))
}
fn dock_row(r: &PgRow) -> Result<Dock> {
    rows::dock(&Columns(r))
}
fn stored_entry(r: &PgRow) -> Result<StoredEntry> {
    rows::stored_entry(&Columns(r))
}
fn recording_row(r: &PgRow) -> Result<Recording> {
    rows::recording(&Columns(r))
}
fn user_row(r: &PgRow) -> Result<User> {
    rows::user(&Columns(r))
}
fn tombstone_row(r: &PgRow) -> Result<Tombstone> {
    rows::tombstone(&Columns(r))
}
fn case_row(r: &PgRow) -> Result<Case> {
    rows::case(&Columns(r))
}
fn activation_row(r: &PgRow) -> Result<Activation> {
    rows::activation(&Columns(r))
}
fn case_link_row(r: &PgRow) -> Result<CaseLink> {
    rows::case_link(&Columns(r))
}
fn hold_row(r: &PgRow) -> Result<Hold> {
    rows::hold(&Columns(r))
}
fn upload_row(r: &PgRow) -> Result<Upload> {
    rows::upload(&Columns(r))
}
fn opt_time(r: &PgRow, column: &str) -> Result<Option<UtcMillis>> {
    rows::opt_time(&Columns(r), column)
}

#[async_trait]
impl Catalog for PostgresCatalog {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn add_device(&self, d: &Device) -> Result<()> {
        sqlx::query("INSERT INTO devices (device_id, public_key, enrolled_at, revoked_at, retention_category, assigned_officer, team) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&d.device_id)
            .bind(&d.public_key)
            .bind(ms(d.enrolled_at))
            .bind(d.revoked_at.map(ms))
            .bind(&d.retention_category)
            .bind(&d.assigned_officer)
            .bind(&d.team)
            .execute(&self.pool)
            .await
            .map_err(|e| insert_error(e, "camera", d.device_id.clone()))?;
        Ok(())
    }

    async fn device(&self, device_id: &str) -> Result<Option<Device>> {
        sqlx::query("SELECT * FROM devices WHERE device_id = $1")
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(device_row)
            .transpose()
    }

    async fn revoke_device(&self, device_id: &str, at: UtcMillis) -> Result<()> {
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, $1) WHERE device_id = $2",
        )
        .bind(ms(at))
        .bind(device_id)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        found(&done, "camera", device_id)
    }

    async fn devices(&self) -> Result<Vec<Device>> {
        sqlx::query("SELECT * FROM devices ORDER BY device_id")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(device_row)
            .collect()
    }

    async fn chain_head(&self, device_id: &str) -> Result<Option<ChainHead>> {
        let row =
            sqlx::query("SELECT sequence, manifest_sha256 FROM chain_heads WHERE device_id = $1")
                .bind(device_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
        row.map(|r| {
            Ok(ChainHead {
                sequence: r.get::<i64, _>("sequence") as u64,
                manifest_sha256: hash(r.get("manifest_sha256"))?,
            })
        })
        .transpose()
    }

    async fn add_dock(&self, d: &Dock) -> Result<()> {
        sqlx::query("INSERT INTO docks (dock_id, token_sha256, enrolled_at, revoked_at) VALUES ($1, $2, $3, $4)")
            .bind(&d.dock_id)
            .bind(&d.token_sha256)
            .bind(ms(d.enrolled_at))
            .bind(d.revoked_at.map(ms))
            .execute(&self.pool)
            .await
            .map_err(|e| insert_error(e, "dock", d.dock_id.clone()))?;
        Ok(())
    }

    async fn dock(&self, dock_id: &str) -> Result<Option<Dock>> {
        let row = sqlx::query("SELECT * FROM docks WHERE dock_id = $1")
            .bind(dock_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(dock_row).transpose()
    }

    async fn revoke_dock(&self, dock_id: &str, at: UtcMillis) -> Result<()> {
        let done = sqlx::query(
            "UPDATE docks SET revoked_at = COALESCE(revoked_at, $1) WHERE dock_id = $2",
        )
        .bind(ms(at))
        .bind(dock_id)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        found(&done, "dock", dock_id)
    }

    async fn create_upload(&self, u: &Upload) -> Result<()> {
        sqlx::query(
            "INSERT INTO uploads (upload_id, recording_id, device_id, sequence, manifest, manifest_signature, dock_id, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(u.upload_id.to_string())
        .bind(u.recording_id.to_string())
        .bind(&u.device_id)
        .bind(u.sequence as i64)
        .bind(&u.manifest)
        .bind(&u.manifest_signature)
        .bind(&u.dock_id)
        .bind(ms(u.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error(e, "upload for recording", u.recording_id.to_string()))?;
        Ok(())
    }

    async fn upload(&self, upload_id: Uuid) -> Result<Option<Upload>> {
        sqlx::query("SELECT * FROM uploads WHERE upload_id = $1")
            .bind(upload_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(upload_row)
            .transpose()
    }

    async fn upload_for_recording(&self, recording_id: Uuid) -> Result<Option<Upload>> {
        sqlx::query("SELECT * FROM uploads WHERE recording_id = $1")
            .bind(recording_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(upload_row)
            .transpose()
    }

    async fn delete_upload(&self, upload_id: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE upload_id = $1")
            .bind(upload_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn commit_recording(&self, r: &Recording, upload_id: Option<Uuid>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        insert_recording(&mut tx, r).await?;
        sqlx::query(FACTS_INSERT)
            .bind(r.recording_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        invalidate_weeks(&mut tx, std::iter::once(r.started_at)).await?;
        sqlx::query(
            "INSERT INTO chain_heads (device_id, sequence, manifest_sha256) VALUES ($1, $2, $3)
             ON CONFLICT (device_id) DO UPDATE SET sequence = excluded.sequence, manifest_sha256 = excluded.manifest_sha256
             WHERE excluded.sequence > chain_heads.sequence",
        )
        .bind(&r.device_id)
        .bind(r.sequence as i64)
        .bind(hex::encode(r.manifest_sha256))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        if let Some(id) = upload_id {
            sqlx::query("DELETE FROM uploads WHERE upload_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn recording(&self, recording_id: Uuid) -> Result<Option<Recording>> {
        sqlx::query("SELECT * FROM recordings WHERE recording_id = $1")
            .bind(recording_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(recording_row)
            .transpose()
    }

    async fn recording_by_sequence(
        &self,
        device_id: &str,
        sequence: u64,
    ) -> Result<Option<Recording>> {
        sqlx::query("SELECT * FROM recordings WHERE device_id = $1 AND sequence = $2")
            .bind(device_id)
            .bind(sequence as i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .as_ref()
            .map(recording_row)
            .transpose()
    }

    async fn recordings(&self) -> Result<Vec<Recording>> {
        sqlx::query("SELECT * FROM recordings ORDER BY device_id, sequence")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?
            .iter()
            .map(recording_row)
            .collect()
    }

    async fn search_recordings(&self, q: &RecordingQuery) -> Result<RecordingPage> {
        // One WHERE clause for the page and its count.
        fn narrow(b: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>, q: &RecordingQuery) {
            b.push(" WHERE 1 = 1");
            if let Some(t) = q.started_from {
                b.push(" AND r.started_at >= ").push_bind(ms(t));
            }
            if let Some(t) = q.started_before {
                b.push(" AND r.started_at < ").push_bind(ms(t));
            }
            if let Some(o) = &q.officer_id {
                b.push(" AND r.officer_id = ").push_bind(o.clone());
            }
            if let Some(dv) = &q.device_id {
                b.push(" AND r.device_id = ").push_bind(dv.clone());
            }
            if let Some(t) = q.truncated {
                b.push(" AND r.truncated = ").push_bind(t as i64);
            }
            if let Some(c) = &q.case_id {
                // Driven from the holds (few) by their case index, not
                // probed once per recording (many).
                b.push(
                    " AND r.recording_id IN (SELECT h.recording_id FROM holds h WHERE h.case_id = ",
                )
                .push_bind(c.clone())
                .push(")");
            }
            let held = "r.recording_id IN (SELECT h.recording_id FROM holds h WHERE h.released_at IS NULL)";
            match q.held {
                Some(true) => {
                    b.push(" AND ").push(held);
                }
                Some(false) => {
                    b.push(" AND NOT ").push(held);
                }
                None => {}
            }
            if let Some(t) = q.due_before {
                b.push(" AND r.delete_after < ")
                    .push_bind(ms(t))
                    .push(" AND NOT ")
                    .push(held);
            }
        }
        let mut count = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM recordings r");
        narrow(&mut count, q);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        let mut page = sqlx::QueryBuilder::new(
            "SELECT r.*, CASE WHEN EXISTS (SELECT 1 FROM holds h WHERE h.recording_id = r.recording_id \
             AND h.released_at IS NULL) THEN 1::int8 ELSE 0::int8 END AS held FROM recordings r",
        );
        narrow(&mut page, q);
        // "Deleted soon" lists what goes first first; everything else newest first.
        page.push(if q.due_before.is_some() {
            " ORDER BY r.delete_after, r.recording_id LIMIT "
        } else {
            " ORDER BY r.started_at DESC, r.recording_id DESC LIMIT "
        })
        .push_bind(q.limit.min(1000) as i64)
        .push(" OFFSET ")
        .push_bind(q.offset.min(i64::MAX as u64) as i64);
        let rows = page
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(RecordingPage {
            recordings: rows
                .iter()
                .map(|r| Ok((recording_row(r)?, r.get::<i64, _>("held") != 0)))
                .collect::<Result<_>>()?,
            total: total as u64,
        })
    }

    async fn add_incident(&self, i: &NewIncident, at: UtcMillis) -> Result<i64> {
        insert_incident(&self.pool, i, at).await
    }

    async fn sight_incident(&self, i: &NewIncident, at: UtcMillis) -> Result<i64> {
        let query = match (&i.device_id, i.sequence, &i.dock_id) {
            (Some(device), Some(sequence), _) => {
                sqlx::query_scalar::<_, i64>(admission::SIGHT_INCIDENT_SQL)
                    .bind(i.kind.as_str())
                    .bind(device.as_str())
                    .bind(sequence as i64)
                    .bind(ms(at))
                    .bind(i.detail.as_str())
            }
            (None, None, Some(dock)) if i.recording_id.is_none() => {
                sqlx::query_scalar::<_, i64>(admission::SIGHT_UNNAMED_INCIDENT_SQL)
                    .bind(i.kind.as_str())
                    .bind(dock.as_str())
                    .bind(i.detail.as_str())
                    .bind(ms(at))
            }
            _ => return self.add_incident(i, at).await,
        };
        // The look and the insert in one transaction under the write lock:
        // two sightings of one fact at once must make one row, not two.
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(INCIDENT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let id = match query.fetch_optional(&mut *tx).await.map_err(unavailable)? {
            Some(id) => id,
            None => insert_incident(&mut *tx, i, at).await?,
        };
        tx.commit().await.map_err(unavailable)?;
        Ok(id)
    }

    async fn count_refused_credential(
        &self,
        i: &NewIncident,
        source: &str,
        window_start: UtcMillis,
        (first, last): (UtcMillis, UtcMillis),
        count: u64,
    ) -> Result<i64> {
        sqlx::query_scalar(admission::COUNT_REFUSED_CREDENTIAL_SQL)
            .bind(ms(first))
            .bind(i.kind.as_str())
            .bind(&i.device_id)
            .bind(&i.dock_id)
            .bind(&i.detail)
            .bind(source)
            .bind(ms(window_start))
            .bind(count.min(i64::MAX as u64) as i64)
            .bind(ms(last))
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn incidents_page(&self, after_id: i64, limit: u64) -> Result<Vec<Incident>> {
        let rows = sqlx::query(admission::INCIDENTS_PAGE_SQL)
            .bind(after_id)
            .bind(limit.min(i64::MAX as u64) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(|r| rows::incident(&Columns(r))).collect()
    }

    async fn search_incidents(&self, q: &IncidentQuery) -> Result<Vec<Incident>> {
        let rows = sqlx::query(admission::SEARCH_INCIDENTS_SQL)
            .bind(q.kind.map(|k| k.as_str()))
            .bind(&q.device_id)
            .bind(q.before_id.unwrap_or(i64::MAX))
            .bind(q.limit.min(i64::MAX as u64) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(|r| rows::incident(&Columns(r))).collect()
    }

    async fn incidents_for_recording(
        &self,
        recording_id: Uuid,
        device_id: &str,
        sequence: u64,
        limit: u64,
    ) -> Result<Vec<Incident>> {
        let rows = sqlx::query(admission::INCIDENTS_FOR_RECORDING_SQL)
            .bind(recording_id.to_string())
            .bind(device_id)
            .bind(sequence as i64)
            .bind(limit.min(i64::MAX as u64) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(|r| rows::incident(&Columns(r))).collect()
    }

    async fn set_upload_age_header(&self, upload_id: Uuid, header: &[u8]) -> Result<()> {
        sqlx::query("UPDATE uploads SET age_header = $1 WHERE upload_id = $2")
            .bind(header)
            .bind(upload_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn move_upload(&self, upload_id: Uuid, dock_id: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE uploads SET dock_id = $1 WHERE upload_id = $2")
            .bind(dock_id)
            .bind(upload_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn due_recordings(&self, now: UtcMillis, limit: u64) -> Result<Vec<Recording>> {
        let rows = sqlx::query(DUE_QUERY)
            .bind(ms(now))
            .bind(limit.min(i64::MAX as u64) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(recording_row).collect()
    }

    async fn replace_with_tombstones(&self, tombstones: &[Tombstone]) -> Result<Vec<Uuid>> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let mut replaced = Vec::with_capacity(tombstones.len());
        for t in tombstones {
            let done = sqlx::query("DELETE FROM recordings WHERE recording_id = $1")
                .bind(t.recording_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
            if done.rows_affected() != 1 {
                continue;
            }
            // An upload row of the same recording would keep its age header
            // (the key) alive: it goes in the same transaction.
            sqlx::query("DELETE FROM uploads WHERE recording_id = $1")
                .bind(t.recording_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
            sqlx::query(
                "INSERT INTO tombstones (recording_id, device_id, sequence, started_at, ended_at, \
                 ciphertext_sha256, manifest_sha256, deleted_at, reason, blob_key, blob_deleted) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(t.recording_id.to_string())
            .bind(&t.device_id)
            .bind(t.sequence as i64)
            .bind(ms(t.started_at))
            .bind(ms(t.ended_at))
            .bind(hex::encode(t.ciphertext_sha256))
            .bind(hex::encode(t.manifest_sha256))
            .bind(ms(t.deleted_at))
            .bind(&t.reason)
            .bind(&t.blob_key)
            .bind(t.blob_deleted as i64)
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_error(e, "tombstone", t.recording_id.to_string()))?;
            replaced.push(t.recording_id);
        }
        invalidate_weeks(&mut tx, tombstones.iter().map(|t| t.deleted_at)).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(replaced)
    }

    async fn tombstone(&self, recording_id: Uuid) -> Result<Option<Tombstone>> {
        let row = sqlx::query("SELECT * FROM tombstones WHERE recording_id = $1")
            .bind(recording_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(tombstone_row).transpose()
    }

    async fn tombstone_by_sequence(
        &self,
        device_id: &str,
        sequence: u64,
    ) -> Result<Option<Tombstone>> {
        let row = sqlx::query("SELECT * FROM tombstones WHERE device_id = $1 AND sequence = $2")
            .bind(device_id)
            .bind(sequence as i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(tombstone_row).transpose()
    }

    async fn tombstones_with_blob(&self) -> Result<Vec<Tombstone>> {
        let rows = sqlx::query("SELECT * FROM tombstones WHERE blob_deleted = 0")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(tombstone_row).collect()
    }

    async fn mark_blobs_deleted(&self, recording_ids: &[Uuid]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        for id in recording_ids {
            sqlx::query("UPDATE tombstones SET blob_deleted = 1 WHERE recording_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn assign_officer(&self, device_id: &str, officer_id: Option<&str>) -> Result<()> {
        let done = sqlx::query("UPDATE devices SET assigned_officer = $1 WHERE device_id = $2")
            .bind(officer_id)
            .bind(device_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        found(&done, "camera", device_id)
    }

    async fn set_device_team(&self, device_id: &str, team: Option<&str>) -> Result<()> {
        let done = sqlx::query("UPDATE devices SET team = $1 WHERE device_id = $2")
            .bind(team)
            .bind(device_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        found(&done, "camera", device_id)
    }

    async fn statistics_projection_differences(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(&statistics::projection_differences_sql())
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        u64::try_from(n).map_err(|_| rows::corrupt("a negative count"))
    }

    async fn statistics(
        &self,
        q: &statistics::StatisticsQuery,
    ) -> Result<statistics::StatisticsSources> {
        // Whole weeks not yet in the cache are counted into it first (a
        // writer's transaction), then everything is read in one snapshot.
        if !statistics::cacheable_weeks(q).is_empty() {
            let tx = self.pool.begin().await.map_err(unavailable)?;
            let mut runner = StatisticsRunner(tx);
            statistics::fill_cache(&mut runner, q).await?;
            runner.0.commit().await.map_err(unavailable)?;
        }
        let tx = self.pool.begin().await.map_err(unavailable)?;
        let mut runner = StatisticsRunner(tx);
        let sources = statistics::compute(&mut runner, q).await?;
        runner.0.commit().await.map_err(unavailable)?;
        Ok(sources)
    }

    async fn setting(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)
    }

    async fn set_setting(&self, key: &str, value: &str, at: UtcMillis) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value, changed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at",
        )
        .bind(key)
        .bind(value)
        .bind(ms(at))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn take_lease(
        &self,
        name: &str,
        holder: &str,
        now: UtcMillis,
        until: UtcMillis,
    ) -> Result<bool> {
        // Taken when free, expired, or already this holder's (renewal).
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(ms(until))
        .bind(ms(now))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn lease(&self, name: &str) -> Result<Option<(String, UtcMillis)>> {
        let row = sqlx::query("SELECT holder, expires_at FROM leases WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| Ok((r.get("holder"), time(r.get("expires_at"))?)))
            .transpose()
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn docks(&self) -> Result<Vec<Dock>> {
        let rows = sqlx::query("SELECT * FROM docks ORDER BY dock_id")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(dock_row).collect()
    }

    async fn set_device_retention_category(&self, device_id: &str, category: &str) -> Result<()> {
        let done = sqlx::query("UPDATE devices SET retention_category = $1 WHERE device_id = $2")
            .bind(category)
            .bind(device_id)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        found(&done, "camera", device_id)
    }

    async fn set_recording_retention(
        &self,
        recording_id: Uuid,
        category: &str,
        delete_after: UtcMillis,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE recordings SET retention_category = $1, delete_after = $2 WHERE recording_id = $3",
        )
        .bind(category)
        .bind(ms(delete_after))
        .bind(recording_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        found(&done, "recording", recording_id)
    }

    async fn set_delete_after(&self, recording_id: Uuid, at: UtcMillis) -> Result<()> {
        sqlx::query("UPDATE recordings SET delete_after = $1 WHERE recording_id = $2")
            .bind(ms(at))
            .bind(recording_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn add_case(&self, c: &Case) -> Result<()> {
        sqlx::query(
            "INSERT INTO cases (case_id, kind, reference, label, opened_by, opened_at, due_at, closed_by, closed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.case_id)
        .bind(&c.kind)
        .bind(&c.reference)
        .bind(&c.label)
        .bind(&c.opened_by)
        .bind(ms(c.opened_at))
        .bind(c.due_at.map(ms))
        .bind(&c.closed_by)
        .bind(c.closed_at.map(ms))
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error(e, "case", c.case_id.clone()))?;
        Ok(())
    }

    async fn case(&self, case_id: &str) -> Result<Option<Case>> {
        let row = sqlx::query("SELECT * FROM cases WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(case_row).transpose()
    }

    async fn cases(&self) -> Result<Vec<Case>> {
        let rows = sqlx::query("SELECT * FROM cases ORDER BY opened_at, case_id")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(case_row).collect()
    }

    async fn close_case(&self, case_id: &str, by: &str, at: UtcMillis) -> Result<Vec<Hold>> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let done = sqlx::query(
            "UPDATE cases SET closed_by = $1, closed_at = $2 WHERE case_id = $3 AND closed_at IS NULL",
        )
        .bind(by)
        .bind(ms(at))
        .bind(case_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        if done.rows_affected() != 1 {
            return Err(CatalogError::NotFound {
                what: "open case",
                id: case_id.into(),
            });
        }
        let rows = sqlx::query("SELECT * FROM holds WHERE case_id = $1 AND released_at IS NULL")
            .bind(case_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("UPDATE holds SET released_by = $1, released_at = $2 WHERE case_id = $3 AND released_at IS NULL")
            .bind(by)
            .bind(ms(at))
            .bind(case_id)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                let mut h = hold_row(r)?;
                h.released_by = Some(by.into());
                h.released_at = Some(at);
                Ok(h)
            })
            .collect()
    }

    async fn add_hold(&self, h: &Hold) -> Result<()> {
        sqlx::query(
            "INSERT INTO holds (hold_id, case_id, recording_id, reason, placed_by, placed_at, \
             approved_by, approved_at, released_by, released_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(h.hold_id.to_string())
        .bind(&h.case_id)
        .bind(h.recording_id.to_string())
        .bind(&h.reason)
        .bind(&h.placed_by)
        .bind(ms(h.placed_at))
        .bind(&h.approved_by)
        .bind(h.approved_at.map(ms))
        .bind(&h.released_by)
        .bind(h.released_at.map(ms))
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error(e, "hold", h.hold_id.to_string()))?;
        Ok(())
    }

    async fn hold(&self, hold_id: Uuid) -> Result<Option<Hold>> {
        let row = sqlx::query("SELECT * FROM holds WHERE hold_id = $1")
            .bind(hold_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(hold_row).transpose()
    }

    async fn approve_hold(&self, hold_id: Uuid, by: &str, at: UtcMillis) -> Result<()> {
        let done = sqlx::query(
            "UPDATE holds SET approved_by = $1, approved_at = $2 \
             WHERE hold_id = $3 AND approved_at IS NULL AND released_at IS NULL",
        )
        .bind(by)
        .bind(ms(at))
        .bind(hold_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if done.rows_affected() != 1 {
            return Err(CatalogError::NotFound {
                what: "hold awaiting approval",
                id: hold_id.to_string(),
            });
        }
        Ok(())
    }

    async fn release_hold(&self, hold_id: Uuid, by: &str, at: UtcMillis) -> Result<()> {
        let done = sqlx::query(
            "UPDATE holds SET released_by = $1, released_at = $2 \
             WHERE hold_id = $3 AND released_at IS NULL",
        )
        .bind(by)
        .bind(ms(at))
        .bind(hold_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if done.rows_affected() != 1 {
            return Err(CatalogError::NotFound {
                what: "hold in force",
                id: hold_id.to_string(),
            });
        }
        Ok(())
    }

    async fn holds_for_recording(&self, recording_id: Uuid) -> Result<Vec<Hold>> {
        let rows =
            sqlx::query("SELECT * FROM holds WHERE recording_id = $1 ORDER BY placed_at, hold_id")
                .bind(recording_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
        rows.iter().map(hold_row).collect()
    }

    async fn holds_for_case(&self, case_id: &str) -> Result<Vec<Hold>> {
        let rows =
            sqlx::query("SELECT * FROM holds WHERE case_id = $1 ORDER BY placed_at, hold_id")
                .bind(case_id)
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
        rows.iter().map(hold_row).collect()
    }

    async fn add_export_request(&self, x: &ExportRequest) -> Result<()> {
        sqlx::query(
            "INSERT INTO export_requests (request_id, case_id, purpose, recipient, recordings, \
             requested_by, requested_at, approved_by, approved_at, used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(x.request_id.to_string())
        .bind(&x.case_id)
        .bind(&x.purpose)
        .bind(&x.recipient)
        .bind(rows::export_request_recordings(x))
        .bind(&x.requested_by)
        .bind(ms(x.requested_at))
        .bind(&x.approved_by)
        .bind(x.approved_at.map(ms))
        .bind(x.used_at.map(ms))
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error(e, "export request", x.request_id.to_string()))?;
        Ok(())
    }

    async fn export_request(&self, request_id: Uuid) -> Result<Option<ExportRequest>> {
        let row = sqlx::query("SELECT * FROM export_requests WHERE request_id = $1")
            .bind(request_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref()
            .map(|r| rows::export_request(&Columns(r)))
            .transpose()
    }

    async fn export_requests_for_case(&self, case_id: &str) -> Result<Vec<ExportRequest>> {
        let found = sqlx::query(
            "SELECT * FROM export_requests WHERE case_id = $1 ORDER BY requested_at, request_id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        found
            .iter()
            .map(|r| rows::export_request(&Columns(r)))
            .collect()
    }

    async fn approve_export_request(
        &self,
        request_id: Uuid,
        by: &str,
        at: UtcMillis,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE export_requests SET approved_by = $1, approved_at = $2 \
             WHERE request_id = $3 AND approved_at IS NULL",
        )
        .bind(by)
        .bind(ms(at))
        .bind(request_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if done.rows_affected() != 1 {
            return Err(CatalogError::NotFound {
                what: "export request awaiting approval",
                id: request_id.to_string(),
            });
        }
        Ok(())
    }

    async fn use_export_request(&self, request_id: Uuid, at: UtcMillis) -> Result<()> {
        let done = sqlx::query(
            "UPDATE export_requests SET used_at = $1 \
             WHERE request_id = $2 AND approved_at IS NOT NULL AND used_at IS NULL",
        )
        .bind(ms(at))
        .bind(request_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if done.rows_affected() != 1 {
            return Err(CatalogError::NotFound {
                what: "approved, unused export request",
                id: request_id.to_string(),
            });
        }
        Ok(())
    }

    async fn open_subject_request(&self, c: &Case, x: &SubjectRequest) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query(
            "INSERT INTO cases (case_id, kind, reference, label, opened_by, opened_at, due_at, closed_by, closed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.case_id)
        .bind(&c.kind)
        .bind(&c.reference)
        .bind(&c.label)
        .bind(&c.opened_by)
        .bind(ms(c.opened_at))
        .bind(c.due_at.map(ms))
        .bind(&c.closed_by)
        .bind(c.closed_at.map(ms))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "case", c.case_id.clone()))?;
        sqlx::query(
            "INSERT INTO subject_requests (case_id, requester, contact, identity_check, description, \
             window_from, window_to, place_lat_e7, place_lon_e7, place_radius_m, received_at, \
             extension_reason, extended_by, extended_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&x.case_id)
        .bind(&x.requester)
        .bind(&x.contact)
        .bind(&x.identity_check)
        .bind(&x.description)
        .bind(ms(x.window_from))
        .bind(ms(x.window_to))
        .bind(x.place.map(|p| p.lat_e7))
        .bind(x.place.map(|p| p.lon_e7))
        .bind(x.place.map(|p| i64::from(p.radius_m)))
        .bind(ms(x.received_at))
        .bind(&x.extension_reason)
        .bind(&x.extended_by)
        .bind(x.extended_at.map(ms))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error(e, "subject request", x.case_id.clone()))?;
        tx.commit().await.map_err(unavailable)?;
        Ok(())
    }

    async fn subject_request(&self, case_id: &str) -> Result<Option<SubjectRequest>> {
        let row = sqlx::query("SELECT * FROM subject_requests WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref()
            .map(|r| rows::subject_request(&Columns(r)))
            .transpose()
    }

    async fn extend_subject_request(
        &self,
        case_id: &str,
        due_at: UtcMillis,
        reason: &str,
        by: &str,
        at: UtcMillis,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let moved = sqlx::query(
            "UPDATE cases SET due_at = $1 WHERE case_id = $2 AND closed_at IS NULL \
             AND EXISTS (SELECT 1 FROM subject_requests s WHERE s.case_id = cases.case_id)",
        )
        .bind(ms(due_at))
        .bind(case_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        if moved.rows_affected() != 1 {
            return Err(CatalogError::NotFound {
                what: "open subject access request",
                id: case_id.to_owned(),
            });
        }
        sqlx::query(
            "UPDATE subject_requests SET extension_reason = $1, extended_by = $2, extended_at = $3 \
             WHERE case_id = $4",
        )
        .bind(reason)
        .bind(by)
        .bind(ms(at))
        .bind(case_id)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(())
    }

    async fn record_subject_delivery(
        &self,
        case_id: &str,
        export_id: Uuid,
        at: UtcMillis,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE subject_requests SET delivered_export = $1, delivered_at = $2 WHERE case_id = $3",
        )
        .bind(export_id.to_string())
        .bind(ms(at))
        .bind(case_id)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if done.rows_affected() != 1 {
            return Err(CatalogError::NotFound {
                what: "subject access request",
                id: case_id.to_owned(),
            });
        }
        Ok(())
    }

    async fn add_derivative(&self, x: &Derivative) -> Result<()> {
        let int = |v: u64| {
            i64::try_from(v).map_err(|_| CatalogError::Unavailable("size out of range".into()))
        };
        sqlx::query(
            "INSERT INTO derivatives (derivative_id, recording_id, case_id, plan, sha256, \
             plaintext_length, age_header, blob_key, ciphertext_length, frames, created_by, \
             created_at, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(x.derivative_id.to_string())
        .bind(x.recording_id.to_string())
        .bind(&x.case_id)
        .bind(&x.plan)
        .bind(&x.sha256)
        .bind(int(x.plaintext_length)?)
        .bind(&x.age_header)
        .bind(&x.blob_key)
        .bind(int(x.ciphertext_length)?)
        .bind(int(x.frames)?)
        .bind(&x.created_by)
        .bind(ms(x.created_at))
        .bind(x.deleted_at.map(ms))
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error(e, "derivative", x.derivative_id.to_string()))?;
        Ok(())
    }

    async fn derivative(&self, derivative_id: Uuid) -> Result<Option<Derivative>> {
        let row = sqlx::query("SELECT * FROM derivatives WHERE derivative_id = $1")
            .bind(derivative_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref()
            .map(|r| rows::derivative(&Columns(r)))
            .transpose()
    }

    async fn derivatives_for_case(&self, case_id: &str) -> Result<Vec<Derivative>> {
        let found = sqlx::query(
            "SELECT * FROM derivatives WHERE case_id = $1 ORDER BY created_at, derivative_id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        found
            .iter()
            .map(|r| rows::derivative(&Columns(r)))
            .collect()
    }

    async fn orphaned_derivatives(&self, limit: u64) -> Result<Vec<Derivative>> {
        let found = sqlx::query(
            "SELECT d.* FROM derivatives d WHERE d.deleted_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM recordings r WHERE r.recording_id = d.recording_id) \
             ORDER BY d.created_at LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        found
            .iter()
            .map(|r| rows::derivative(&Columns(r)))
            .collect()
    }

    async fn delete_derivative(&self, derivative_id: Uuid, at: UtcMillis) -> Result<()> {
        sqlx::query(
            "UPDATE derivatives SET age_header = NULL, deleted_at = $1 \
             WHERE derivative_id = $2 AND deleted_at IS NULL",
        )
        .bind(ms(at))
        .bind(derivative_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn add_export_link(&self, x: &ExportLink) -> Result<()> {
        sqlx::query(
            "INSERT INTO export_links (link_id, export_id, case_id, purpose, recipient, \
             token_sha256, blob_key, file_name, size, package_sha256, created_by, created_at, \
             expires_at, max_downloads, downloads, revoked_by, revoked_at, removed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(x.link_id.to_string())
        .bind(x.export_id.to_string())
        .bind(&x.case_id)
        .bind(&x.purpose)
        .bind(&x.recipient)
        .bind(&x.token_sha256)
        .bind(&x.blob_key)
        .bind(&x.file_name)
        .bind(i64::try_from(x.size).map_err(|_| CatalogError::Unavailable("package too large".into()))?)
        .bind(&x.package_sha256)
        .bind(&x.created_by)
        .bind(ms(x.created_at))
        .bind(ms(x.expires_at))
        .bind(i64::from(x.max_downloads))
        .bind(i64::from(x.downloads))
        .bind(&x.revoked_by)
        .bind(x.revoked_at.map(ms))
        .bind(x.removed_at.map(ms))
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error(e, "export link", x.link_id.to_string()))?;
        Ok(())
    }

    async fn export_link(&self, link_id: Uuid) -> Result<Option<ExportLink>> {
        let row = sqlx::query("SELECT * FROM export_links WHERE link_id = $1")
            .bind(link_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref()
            .map(|r| rows::export_link(&Columns(r)))
            .transpose()
    }

    async fn export_link_by_token(&self, token_sha256: &str) -> Result<Option<ExportLink>> {
        let row = sqlx::query("SELECT * FROM export_links WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref()
            .map(|r| rows::export_link(&Columns(r)))
            .transpose()
    }

    async fn export_links_for_case(&self, case_id: &str) -> Result<Vec<ExportLink>> {
        let found = sqlx::query(
            "SELECT * FROM export_links WHERE case_id = $1 ORDER BY created_at, link_id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        found
            .iter()
            .map(|r| rows::export_link(&Columns(r)))
            .collect()
    }

    async fn claim_export_download(&self, link_id: Uuid, at: UtcMillis) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE export_links SET downloads = downloads + 1 \
             WHERE link_id = $1 AND revoked_at IS NULL AND removed_at IS NULL \
             AND expires_at > $2 AND downloads < max_downloads",
        )
        .bind(link_id.to_string())
        .bind(ms(at))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_export_link(&self, link_id: Uuid, by: &str, at: UtcMillis) -> Result<()> {
        let done = sqlx::query(
            "UPDATE export_links SET revoked_by = $1, revoked_at = $2 \
             WHERE link_id = $3 AND revoked_at IS NULL",
        )
        .bind(by)
        .bind(ms(at))
        .bind(link_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if done.rows_affected() != 1 {
            return Err(CatalogError::NotFound {
                what: "download link not yet revoked",
                id: link_id.to_string(),
            });
        }
        Ok(())
    }

    async fn export_links_to_remove(&self, now: UtcMillis, limit: u64) -> Result<Vec<ExportLink>> {
        let found = sqlx::query(
            "SELECT * FROM export_links WHERE removed_at IS NULL \
             AND (expires_at <= $1 OR revoked_at IS NOT NULL) ORDER BY expires_at LIMIT $2",
        )
        .bind(ms(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        found
            .iter()
            .map(|r| rows::export_link(&Columns(r)))
            .collect()
    }

    async fn mark_export_link_removed(&self, link_id: Uuid, at: UtcMillis) -> Result<()> {
        sqlx::query(
            "UPDATE export_links SET removed_at = $1 WHERE link_id = $2 AND removed_at IS NULL",
        )
        .bind(ms(at))
        .bind(link_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn uploads_begun_before(&self, before: UtcMillis) -> Result<Vec<Upload>> {
        let rows = sqlx::query("SELECT * FROM uploads WHERE created_at < $1 ORDER BY created_at")
            .bind(ms(before))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(upload_row).collect()
    }

    async fn add_user(&self, u: &User) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO users (name, role, officer_id, password_hash, totp_secret_sealed, \
             failed_attempts, locked_until, totp_last_step, created_at, disabled_at, password_must_change) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&u.name)
        .bind(&u.role)
        .bind(&u.officer_id)
        .bind(&u.password_hash)
        .bind(&u.totp_secret_sealed)
        .bind(u.failed_attempts as i64)
        .bind(u.locked_until.map(ms))
        .bind(u.totp_last_step)
        .bind(ms(u.created_at))
        .bind(u.disabled_at.map(ms))
        .bind(u.password_must_change as i64)
        .execute(&self.pool)
        .await;
        match result {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(CatalogError::AlreadyExists {
                    what: "user",
                    id: u.name.clone(),
                })
            }
            other => other.map(|_| ()).map_err(unavailable),
        }
    }

    async fn user(&self, name: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(user_row).transpose()
    }

    async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(user_row).collect()
    }

    async fn count_failed_sign_in(
        &self,
        name: &str,
        at: UtcMillis,
        backoff: &SignInBackoff,
    ) -> Result<Option<(u32, Option<UtcMillis>)>> {
        let sql = if *backoff == SignInBackoff::DEFAULT {
            std::borrow::Cow::Borrowed(SignInBackoff::default_failure_sql())
        } else {
            std::borrow::Cow::Owned(backoff.failure_sql())
        };
        let row: Option<(i64, Option<i64>)> = sqlx::query_as(&sql)
            .bind(name)
            .bind(ms(at))
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|(failed, until)| {
            Ok((
                failed.clamp(0, u32::MAX as i64) as u32,
                until.map(time).transpose()?,
            ))
        })
        .transpose()
    }

    async fn claim_sign_in_attempt(
        &self,
        name: &str,
        at: UtcMillis,
        hold_until: UtcMillis,
    ) -> Result<bool> {
        let done = sqlx::query(admission::CLAIM_ATTEMPT_SQL)
            .bind(name)
            .bind(ms(at))
            .bind(ms(hold_until))
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn accept_sign_in(&self, name: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(admission::ACCEPT_SIGN_IN_SQL)
            .bind(name)
            .bind(step)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_login_state(
        &self,
        name: &str,
        failed_attempts: u32,
        locked_until: Option<UtcMillis>,
        totp_last_step: Option<i64>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE users SET failed_attempts = $1, locked_until = $2, totp_last_step = $3 WHERE name = $4",
        )
        .bind(failed_attempts as i64)
        .bind(locked_until.map(ms))
        .bind(totp_last_step)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        found(&done, "user", name)
    }

    async fn set_password(
        &self,
        name: &str,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
        at: UtcMillis,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, password_must_change = $2, failed_attempts = 0, locked_until = NULL WHERE name = $3",
        )
        .bind(password_hash)
        .bind(must_change as i64)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        found(&done, "user", name)?;
        sqlx::query(
            "UPDATE sessions SET ended_at = $1 WHERE user_name = $2 AND ended_at IS NULL AND token_sha256 != $3",
        )
        .bind(ms(at))
        .bind(name)
        .bind(keep_session.unwrap_or(""))
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn disable_user(&self, name: &str, at: UtcMillis) -> Result<()> {
        let done =
            sqlx::query("UPDATE users SET disabled_at = COALESCE(disabled_at, $1) WHERE name = $2")
                .bind(ms(at))
                .bind(name)
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
        found(&done, "user", name)?;
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE user_name = $2 AND ended_at IS NULL")
            .bind(ms(at))
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn reset_totp(&self, name: &str, totp_secret_sealed: &[u8], at: UtcMillis) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let done = sqlx::query(
            "UPDATE users SET totp_secret_sealed = $1, totp_last_step = NULL, \
             failed_attempts = 0, locked_until = NULL WHERE name = $2",
        )
        .bind(totp_secret_sealed)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        found(&done, "user", name)?;
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE user_name = $2 AND ended_at IS NULL")
            .bind(ms(at))
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(())
    }

    async fn add_session(&self, s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_sha256, user_name, csrf_token, created_at, last_seen, ended_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.token_sha256)
        .bind(&s.user_name)
        .bind(&s.csrf_token)
        .bind(ms(s.created_at))
        .bind(ms(s.last_seen))
        .bind(s.ended_at.map(ms))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn case_and_recording(
        &self,
        case_id: &str,
        recording_id: Uuid,
    ) -> Result<CaseAndRecording> {
        // The tables share no column names; `case_attached` is neither's.
        let row = sqlx::query(
            "SELECT c.*, r.*, (EXISTS (SELECT 1 FROM holds h WHERE h.case_id = $1 AND h.recording_id = $2) \
             OR EXISTS (SELECT 1 FROM case_links l WHERE l.case_id = $1 AND l.recording_id = $2)) \
             AS case_attached FROM (SELECT 1) AS one LEFT JOIN cases c ON c.case_id = $1 \
             LEFT JOIN recordings r ON r.recording_id = $2",
        )
        .bind(case_id)
        .bind(recording_id.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        let case = match row.get::<Option<String>, _>("case_id") {
            Some(_) => Some(case_row(&row)?),
            None => None,
        };
        let recording = match row.get::<Option<String>, _>("recording_id") {
            Some(_) => Some(recording_row(&row)?),
            None => None,
        };
        Ok(CaseAndRecording {
            case,
            recording,
            attached: row.get::<bool, _>("case_attached"),
        })
    }

    async fn add_activation(&self, a: &Activation) -> Result<()> {
        sqlx::query(activations::INSERT_SQL)
            .bind(a.activation_id.to_string())
            .bind(&a.user_name)
            .bind(&a.kind)
            .bind(&a.role)
            .bind(&a.officer_id)
            .bind(&a.requested_by)
            .bind(ms(a.requested_at))
            .execute(&self.pool)
            .await
            .map_err(|e| insert_error(e, "activation", a.activation_id.to_string()))?;
        Ok(())
    }

    async fn activation(&self, id: Uuid) -> Result<Option<Activation>> {
        let row = sqlx::query(activations::BY_ID_SQL)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(activation_row).transpose()
    }

    async fn activation_by_token(&self, token_sha256: &str) -> Result<Option<Activation>> {
        let row = sqlx::query(activations::BY_TOKEN_SQL)
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.as_ref().map(activation_row).transpose()
    }

    async fn activations(&self) -> Result<Vec<Activation>> {
        let rows = sqlx::query(activations::LIST_SQL)
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter().map(activation_row).collect()
    }

    async fn open_activations_for(&self, name: &str, now: UtcMillis) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(activations::OPEN_FOR_NAME_SQL)
            .bind(name)
            .bind(ms(now))
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(n as u64)
    }

    async fn approve_activation(
        &self,
        id: Uuid,
        by: &str,
        at: UtcMillis,
        token_sha256: &str,
        expires_at: UtcMillis,
    ) -> Result<bool> {
        let done = sqlx::query(activations::APPROVE_SQL)
            .bind(id.to_string())
            .bind(by)
            .bind(ms(at))
            .bind(token_sha256)
            .bind(ms(expires_at))
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn reject_activation(&self, id: Uuid, by: &str, at: UtcMillis) -> Result<bool> {
        let done = sqlx::query(activations::REJECT_SQL)
            .bind(id.to_string())
            .bind(by)
            .bind(ms(at))
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_activation(&self, id: Uuid, at: UtcMillis) -> Result<bool> {
        let done = sqlx::query(activations::FINISH_SQL)
            .bind(id.to_string())
            .bind(ms(at))
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn link_recording(&self, l: &CaseLink) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO case_links (case_id, recording_id, reason, linked_by, linked_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id, recording_id) DO NOTHING",
        )
        .bind(&l.case_id)
        .bind(l.recording_id.to_string())
        .bind(&l.reason)
        .bind(&l.linked_by)
        .bind(ms(l.linked_at))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn case_links(&self, case_id: &str) -> Result<Vec<CaseLink>> {
        let rows = sqlx::query(
            "SELECT * FROM case_links WHERE case_id = $1 ORDER BY linked_at, recording_id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(case_link_row).collect()
    }

    async fn session_with_user(&self, token_sha256: &str) -> Result<Option<(Session, User)>> {
        let row = sqlx::query(
            "SELECT s.token_sha256, s.user_name, s.csrf_token, s.created_at AS session_created_at, \
             s.last_seen, s.ended_at, u.* FROM sessions s JOIN users u ON u.name = s.user_name \
             WHERE s.token_sha256 = $1",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.map(|r| {
            let session = Session {
                token_sha256: r.get("token_sha256"),
                user_name: r.get("user_name"),
                csrf_token: r.get("csrf_token"),
                created_at: time(r.get("session_created_at"))?,
                last_seen: time(r.get("last_seen"))?,
                ended_at: opt_time(&r, "ended_at")?,
            };
            Ok((session, user_row(&r)?))
        })
        .transpose()
    }

    async fn session(&self, token_sha256: &str) -> Result<Option<Session>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|r| {
            Ok(Session {
                token_sha256: r.get("token_sha256"),
                user_name: r.get("user_name"),
                csrf_token: r.get("csrf_token"),
                created_at: time(r.get("created_at"))?,
                last_seen: time(r.get("last_seen"))?,
                ended_at: r.get::<Option<i64>, _>("ended_at").map(time).transpose()?,
            })
        })
        .transpose()
    }

    async fn touch_session(&self, token_sha256: &str, at: UtcMillis) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET last_seen = GREATEST(last_seen, $1) WHERE token_sha256 = $2",
        )
        .bind(ms(at))
        .bind(token_sha256)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn end_session(&self, token_sha256: &str, at: UtcMillis) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET ended_at = COALESCE(ended_at, $1) WHERE token_sha256 = $2",
        )
        .bind(ms(at))
        .bind(token_sha256)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn audit_tip(&self) -> Result<Option<AuditTip>> {
        let row = sqlx::query(
            "SELECT size, note, frontier FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(row.map(|r| AuditTip {
            checkpoint: StoredCheckpoint {
                size: r.get::<i64, _>("size") as u64,
                note: r.get("note"),
            },
            frontier: r.get("frontier"),
        }))
    }

    async fn append_audit(
        &self,
        expected_size: u64,
        rows: &[StoredEntry],
        checkpoint: &StoredCheckpoint,
        frontier: &[u8],
    ) -> Result<()> {
        // Every node appends under one lock: the log stays one Merkle tree,
        // and a batch built on an old tip is refused, never interleaved.
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let size: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(size), 0) FROM audit_checkpoints")
            .fetch_one(&mut *tx)
            .await
            .map_err(unavailable)?;
        if size as u64 != expected_size {
            return Err(CatalogError::Conflict(format!(
                "audit log has {size} entries, expected {expected_size}"
            )));
        }
        // Only the newest checkpoint keeps the tree's frontier.
        sqlx::query("UPDATE audit_checkpoints SET frontier = ''::bytea WHERE size = $1")
            .bind(size)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        sqlx::query("INSERT INTO audit_checkpoints (size, note, frontier) VALUES ($1, $2, $3)")
            .bind(checkpoint.size as i64)
            .bind(&checkpoint.note)
            .bind(frontier)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        // The search columns are read from the entry itself.
        let mut fields = Vec::with_capacity(rows.len());
        for row in rows {
            let entry = custos_audit::AuditEntry::parse(&row.bytes).map_err(|e| {
                CatalogError::Unavailable(format!("audit entry {}: {e}", row.index))
            })?;
            fields.push(entry.event);
        }
        let rows: Vec<_> = rows.iter().zip(&fields).collect();
        for part in rows.chunks(AUDIT_ROWS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO audit_log (idx, entry, leaf_hash, at, actor, action, outcome, object, case_id, purpose) ",
            );
            insert.push_values(part, |mut values, (row, event)| {
                values
                    .push_bind(row.index as i64)
                    .push_bind(&row.bytes)
                    .push_bind(&row.leaf_hash[..])
                    .push_bind(event.at.to_string())
                    .push_bind(&event.actor)
                    .push_bind(&event.action)
                    .push_bind(event.outcome.as_str())
                    .push_bind(&event.object)
                    .push_bind(&event.case)
                    .push_bind(&event.purpose);
            });
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
        }
        // The statistics' projection of these entries, in the same transaction.
        sqlx::query(&statistics::numbered(&statistics::project_accesses_sql()))
            .bind(expected_size as i64)
            .bind((expected_size + rows.len() as u64) as i64)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn audit_entries_for_object(&self, object: &str, limit: u64) -> Result<Vec<StoredEntry>> {
        let rows = sqlx::query(
            "SELECT idx, entry, leaf_hash FROM audit_log \
             WHERE object = $1 ORDER BY idx LIMIT $2",
        )
        .bind(object)
        .bind(limit.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(stored_entry).collect()
    }

    async fn search_audit(&self, q: &AuditQuery) -> Result<(Vec<StoredEntry>, u64)> {
        fn narrow(b: &mut sqlx::QueryBuilder<'_, sqlx::Postgres>, q: &AuditQuery) {
            // Copies of the entry's fields; `at` is a fixed-width RFC 3339
            // string, so comparing it as text compares the instants.
            let field = |f: &str| {
                if f == "case" {
                    "case_id".to_owned()
                } else {
                    f.to_owned()
                }
            };
            b.push(" WHERE 1 = 1");
            if let Some(t) = q.from {
                b.push(format!(" AND {} >= ", field("at")))
                    .push_bind(t.to_string());
            }
            if let Some(t) = q.before {
                b.push(format!(" AND {} < ", field("at")))
                    .push_bind(t.to_string());
            }
            for (name, value) in [
                ("actor", &q.actor),
                ("outcome", &q.outcome),
                ("object", &q.object),
                ("case", &q.case),
                ("purpose", &q.purpose),
            ] {
                if let Some(v) = value {
                    b.push(format!(" AND {} = ", field(name)))
                        .push_bind(v.clone());
                }
            }
            match &q.action {
                Some(family) if family.ends_with('.') => {
                    // A prefix, with LIKE's wildcards taken literally.
                    let escaped = family
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    b.push(format!(" AND {} LIKE ", field("action")))
                        .push_bind(format!("{escaped}%"))
                        .push(" ESCAPE '\\'");
                }
                Some(action) => {
                    b.push(format!(" AND {} = ", field("action")))
                        .push_bind(action.clone());
                }
                None => {}
            }
        }
        let mut count = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM audit_log");
        narrow(&mut count, q);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(unavailable)?;
        let mut page = sqlx::QueryBuilder::new("SELECT idx, entry, leaf_hash FROM audit_log");
        narrow(&mut page, q);
        page.push(if q.oldest_first {
            " ORDER BY idx LIMIT "
        } else {
            " ORDER BY idx DESC LIMIT "
        })
        .push_bind(q.limit.min(10_000) as i64)
        .push(" OFFSET ")
        .push_bind(q.offset.min(i64::MAX as u64) as i64);
        let rows = page
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let rows = rows.iter().map(stored_entry).collect::<Result<Vec<_>>>()?;
        Ok((rows, total as u64))
    }

    async fn audit_entries(&self, from: u64, limit: u64) -> Result<Vec<StoredEntry>> {
        let rows = sqlx::query(
            "SELECT idx, entry, leaf_hash FROM audit_log WHERE idx >= $1 ORDER BY idx LIMIT $2",
        )
        .bind(from as i64)
        .bind(limit.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(stored_entry).collect()
    }

    async fn audit_leaf_hashes(&self, size: u64) -> Result<Vec<Hash>> {
        let rows: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT leaf_hash FROM audit_log WHERE idx < $1 ORDER BY idx")
                .bind(size as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(unavailable)?;
        rows.into_iter()
            .map(|h| h.try_into().map_err(|_| rows::corrupt("leaf hash")))
            .collect()
    }

    async fn audit_checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        let rows = sqlx::query("SELECT size, note FROM audit_checkpoints ORDER BY size")
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(rows
            .iter()
            .map(|r| StoredCheckpoint {
                size: r.get::<i64, _>("size") as u64,
                note: r.get("note"),
            })
            .collect())
    }

    async fn audit_checkpoint(&self, size: u64) -> Result<Option<StoredCheckpoint>> {
        let row = sqlx::query("SELECT size, note FROM audit_checkpoints WHERE size = $1")
            .bind(size as i64)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(row.map(|r| StoredCheckpoint {
            size: r.get::<i64, _>("size") as u64,
            note: r.get("note"),
        }))
    }
}

async fn insert_incident<'e, E: sqlx::Executor<'e, Database = sqlx::Postgres>>(
    executor: E,
    i: &NewIncident,
    at: UtcMillis,
) -> Result<i64> {
    sqlx::query_scalar(admission::INSERT_INCIDENT_SQL)
        .bind(ms(at))
        .bind(i.kind.as_str())
        .bind(&i.device_id)
        .bind(&i.dock_id)
        .bind(i.sequence.map(|s| s as i64))
        .bind(i.recording_id.map(|u| u.to_string()))
        .bind(&i.detail)
        .fetch_one(executor)
        .await
        .map_err(unavailable)
}
