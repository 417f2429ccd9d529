//! The catalog's SQL, written once (ADR 0016). [`SqlCatalog`] implements
//! every store of `custos_catalog` for any database a [`Dialect`] describes;
//! the backend crates (`custos-catalog-sqlite`, `custos-catalog-postgres`)
//! hold only what truly differs: connecting, migrations, locks, the error
//! codes and a JSON extraction.
//!
//! Every query uses `$N` placeholders, which sqlx's SQLite driver maps by
//! number as PostgreSQL does. A query lives in the file of its store:
//! `devices.rs` for [`DeviceStore`], `audit.rs` for [`AuditStore`], and so on.
//! Three families of SQL are `custos_catalog`'s own, as text both backends
//! run (and unit tests there read): the statistics' counting and weekly
//! cache (`custos_catalog::statistics`), the account activations
//! (`custos_catalog::activations`) and the sign-in and incident admission
//! (`custos_catalog::admission`); the store files here execute them.
#![forbid(unsafe_code)]

mod audit;
mod axis;
mod axis_trail;
mod cases;
mod devices;
mod exports;
mod incidents;
mod leases;
mod recordings;
mod retention;
mod sessions;
mod signed_video;
mod statement;
mod stats;
mod subjects;
mod users;

use std::future::Future;
use std::marker::PhantomData;

pub(crate) use async_trait::async_trait;
pub(crate) use custos_catalog::rows::{self, hash, ms, time};
pub(crate) use custos_catalog::*;
pub(crate) use custos_format::UtcMillis;
pub(crate) use sqlx::{Database, Row};
use statement::Statement;
pub(crate) use uuid::Uuid;

/// What a transaction must hold before it reads what it will change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Applying migrations: nodes starting together migrate once.
    Migration,
    /// Appending to the audit log: one Merkle tree for all writers.
    Audit,
    /// Sighting an incident: the look and the insert of one fact.
    Incident,
    /// A writer that reads first (the statistics cache): SQLite takes its
    /// write lock at the start rather than failing to upgrade later.
    Write,
}

/// What differs between the databases, and nothing else.
pub trait Dialect: Send + Sync + 'static {
    type Db: Database;
    /// `sqlite`, `postgres`.
    const NAME: &'static str;
    /// `CREATE TABLE IF NOT EXISTS schema_migrations …` in this database's types.
    const MIGRATIONS_TABLE: &'static str;
    /// Inserts the statistics' facts of the recording `$1` from its signed
    /// manifest (JSON is read differently by each database).
    const FACTS_INSERT: &'static str;
    /// Whether SQL built at run time numbers its placeholders (`$1`) or
    /// leaves them positional (`?`). Fixed queries use `$N` on both.
    const NUMBERED_PLACEHOLDERS: bool;

    /// This backend's migrations, `(version, SQL)` in order.
    fn migrations() -> &'static [(i64, &'static str)];
    /// A transaction that holds `lock` until it ends.
    fn begin_locked(
        pool: &sqlx::Pool<Self::Db>,
        lock: Lock,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
    /// The database's disk (or quota) is full.
    fn is_disk_full(e: &sqlx::Error) -> bool;
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;
}

/// The catalog on the database `D` describes.
pub struct SqlCatalog<D: Dialect> {
    pool: sqlx::Pool<D::Db>,
    dialect: PhantomData<D>,
}

/// Audit rows per INSERT statement (10 parameters each; SQLite allows
/// 32,766 a statement, PostgreSQL 65,535).
const AUDIT_ROWS_PER_INSERT: usize = 500;

/// The sweeper's query (its plan is checked: it must search an index).
pub const DUE_QUERY: &str = "SELECT * FROM recordings r WHERE r.delete_after <= $1 \
     AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.recording_id = r.recording_id AND h.released_at IS NULL) \
     ORDER BY r.delete_after LIMIT $2";

impl<D: Dialect> SqlCatalog<D> {
    /// The pool, for what only one backend does (its maintenance commands).
    pub fn pool(&self) -> &sqlx::Pool<D::Db> {
        &self.pool
    }
}

/// Maps a database error: a full disk is [`CatalogError::Full`] (a dock
/// waits for room), anything else an outage.
fn fail<D: Dialect>(e: sqlx::Error) -> CatalogError {
    if D::is_disk_full(&e) {
        CatalogError::Full(e.to_string())
    } else {
        CatalogError::Unavailable(e.to_string())
    }
}

/// An UPDATE that touched no row: the thing it names does not exist.
fn found(affected: u64, what: &'static str, id: impl ToString) -> Result<()> {
    if affected == 0 {
        return Err(CatalogError::NotFound {
            what,
            id: id.to_string(),
        });
    }
    Ok(())
}

/// An INSERT failure: a duplicate key is the caller's conflict, anything
/// else an outage.
fn insert_error<D: Dialect>(e: sqlx::Error, what: &'static str, id: impl ToString) -> CatalogError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => CatalogError::AlreadyExists {
            what,
            id: id.to_string(),
        },
        _ => fail::<D>(e),
    }
}

/// A row of either database, as the shared readers (`custos_catalog::rows`) take it.
struct Columns<'a, R>(&'a R);

impl<R: Row> rows::SqlRow for Columns<'_, R>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
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

#[async_trait]
impl<D: Dialect> Catalog for SqlCatalog<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: sqlx::Executor<'c, Database = D::Db>,
    for<'q> <D::Db as Database>::Arguments<'q>: sqlx::IntoArguments<'q, D::Db>,
    for<'c> &'c str: sqlx::ColumnIndex<<D::Db as Database>::Row>,
    usize: sqlx::ColumnIndex<<D::Db as Database>::Row>,
    for<'q> i64: sqlx::Encode<'q, D::Db> + sqlx::Decode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> String: sqlx::Encode<'q, D::Db> + sqlx::Decode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Vec<u8>: sqlx::Encode<'q, D::Db> + sqlx::Decode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> bool: sqlx::Decode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> &'q str: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> &'q [u8]: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Option<i64>: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Option<String>: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Option<Vec<u8>>: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Option<&'q [u8]>: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
{
    fn backend(&self) -> &'static str {
        D::NAME
    }
}

/// What the stores share: migrating, row readers, and the writes more than
/// one store makes inside its own transaction.
impl<D: Dialect> SqlCatalog<D>
where
    for<'c> &'c mut <D::Db as Database>::Connection: sqlx::Executor<'c, Database = D::Db>,
    for<'q> <D::Db as Database>::Arguments<'q>: sqlx::IntoArguments<'q, D::Db>,
    for<'c> &'c str: sqlx::ColumnIndex<<D::Db as Database>::Row>,
    usize: sqlx::ColumnIndex<<D::Db as Database>::Row>,
    for<'q> i64: sqlx::Encode<'q, D::Db> + sqlx::Decode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> String: sqlx::Encode<'q, D::Db> + sqlx::Decode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Vec<u8>: sqlx::Encode<'q, D::Db> + sqlx::Decode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> bool: sqlx::Decode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> &'q str: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> &'q [u8]: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Option<i64>: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Option<String>: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Option<Vec<u8>>: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Option<&'q [u8]>: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
{
    /// The catalog on `pool`, migrated to this version.
    pub async fn migrated(pool: sqlx::Pool<D::Db>) -> Result<Self> {
        let this = Self {
            pool,
            dialect: PhantomData,
        };
        this.migrate().await?;
        Ok(this)
    }

    async fn migrate(&self) -> Result<()> {
        let mut tx = D::begin_locked(&self.pool, Lock::Migration)
            .await
            .map_err(fail::<D>)?;
        sqlx::query(D::MIGRATIONS_TABLE)
            .execute(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        for (version, sql) in D::migrations() {
            if applied.contains(version) {
                continue;
            }
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(fail::<D>)?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(*version)
                .bind(UtcMillis::now().as_millis())
                .execute(&mut *tx)
                .await
                .map_err(fail::<D>)?;
        }
        tx.commit().await.map_err(fail::<D>)
    }

    /// Many recordings in one transaction (benchmarks, migrations from
    /// another system); no chain heads, no uploads. Custos cameras' only: an
    /// Axis recording comes with its container (`complete_axis_recording`).
    pub async fn import_recordings(&self, recordings: &[Recording]) -> Result<()> {
        if let Some(r) = recordings.iter().find(|r| r.camera().is_none()) {
            return Err(CatalogError::Conflict(format!(
                "recording {} is not a Custos camera's: it is imported with its Axis container",
                r.recording_id
            )));
        }
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        // 22 parameters a row: 1,000 rows stay under both databases' limits.
        for part in recordings.chunks(1000) {
            let mut insert = Statement::new::<D>(RECORDING_INSERT);
            insert.push_values(part, recording_values);
            insert
                .query::<D::Db>()
                .execute(&mut *tx)
                .await
                .map_err(|e| insert_error::<D>(e, "recording", "(import)"))?;
            // Their statistics' facts, as a commit writes them, in one statement.
            let (head, tail) = D::FACTS_INSERT
                .split_once("recording_id = $1")
                .expect("FACTS_INSERT names its recording as `recording_id = $1`");
            let mut facts = Statement::new::<D>(head);
            facts.push("recording_id IN (");
            for (i, r) in part.iter().enumerate() {
                if i > 0 {
                    facts.push(", ");
                }
                facts.push_bind(r.recording_id.to_string());
            }
            facts.push(")").push(tail);
            facts
                .query::<D::Db>()
                .execute(&mut *tx)
                .await
                .map_err(fail::<D>)?;
        }
        Self::invalidate_weeks(&mut tx, recordings.iter().map(|r| r.started_at)).await?;
        tx.commit().await.map_err(fail::<D>)
    }

    /// One recording row, inside the caller's transaction.
    /// The blobs a deleted Axis recording's objects left, by key.
    async fn tombstone_blobs(&self, recording_id: Uuid) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT blob_key FROM tombstone_blobs WHERE recording_id = $1 ORDER BY blob_key",
        )
        .bind(recording_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(fail::<D>)
    }

    async fn insert_recording(tx: &mut sqlx::Transaction<'_, D::Db>, r: &Recording) -> Result<()> {
        let mut insert = Statement::new::<D>(RECORDING_INSERT);
        insert.push_values(std::slice::from_ref(r), recording_values);
        insert
            .query::<D::Db>()
            .execute(&mut **tx)
            .await
            .map_err(|e| insert_error::<D>(e, "recording", r.recording_id.to_string()))?;
        Ok(())
    }

    /// Drops the statistics cache's marks of the weeks these times fall in.
    async fn invalidate_weeks(
        tx: &mut sqlx::Transaction<'_, D::Db>,
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
            stats::bound::<D>(&statement, &sql)
                .execute(&mut **tx)
                .await
                .map_err(fail::<D>)?;
        }
        Ok(())
    }

    fn device_row(r: &<D::Db as Database>::Row) -> Result<Device> {
        rows::device(&Columns(r))
    }
    fn dock_row(r: &<D::Db as Database>::Row) -> Result<Dock> {
        rows::dock(&Columns(r))
    }
    fn stored_entry(r: &<D::Db as Database>::Row) -> Result<StoredEntry> {
        rows::stored_entry(&Columns(r))
    }
    fn recording_row(r: &<D::Db as Database>::Row) -> Result<Recording> {
        rows::recording(&Columns(r))
    }
    fn user_row(r: &<D::Db as Database>::Row) -> Result<User> {
        rows::user(&Columns(r))
    }
    fn tombstone_row(r: &<D::Db as Database>::Row) -> Result<Tombstone> {
        rows::tombstone(&Columns(r))
    }
    fn case_row(r: &<D::Db as Database>::Row) -> Result<Case> {
        rows::case(&Columns(r))
    }
    fn activation_row(r: &<D::Db as Database>::Row) -> Result<Activation> {
        rows::activation(&Columns(r))
    }
    fn case_link_row(r: &<D::Db as Database>::Row) -> Result<CaseLink> {
        rows::case_link(&Columns(r))
    }
    fn hold_row(r: &<D::Db as Database>::Row) -> Result<Hold> {
        rows::hold(&Columns(r))
    }
    fn upload_row(r: &<D::Db as Database>::Row) -> Result<Upload> {
        rows::upload(&Columns(r))
    }
    fn opt_time(r: &<D::Db as Database>::Row, column: &str) -> Result<Option<UtcMillis>> {
        rows::opt_time(&Columns(r), column)
    }

    async fn insert_incident<'e, E: sqlx::Executor<'e, Database = D::Db>>(
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
            .map_err(fail::<D>)
    }
}

const RECORDING_INSERT: &str = "INSERT INTO recordings (recording_id, device_id, sequence, officer_id, \
     started_at, ended_at, truncated, ciphertext_sha256, ciphertext_length, manifest, manifest_signature, \
     manifest_sha256, blob_key, stored_at, receipt, receipt_signature, delete_after, age_header, \
     retention_category, origin, axis_connection, axis_container)";

/// A recording's row, in `RECORDING_INSERT`'s order. An Axis recording
/// leaves the camera's columns empty and keeps its digests where a
/// camera's are (docs/AXIS.md).
fn recording_values(r: &Recording) -> Vec<statement::Value> {
    let mut row: Vec<statement::Value> = vec![
        r.recording_id.to_string().into(),
        r.device_id.clone().into(),
        (r.sequence as i64).into(),
        r.officer_id.clone().into(),
        ms(r.started_at).into(),
        ms(r.ended_at).into(),
        (r.truncated as i64).into(),
    ];
    let proof: [statement::Value; 11] = match &r.provenance {
        Provenance::Camera(c) => [
            hex::encode(c.ciphertext_sha256).into(),
            (c.ciphertext_length as i64).into(),
            c.manifest.clone().into(),
            c.manifest_signature.clone().into(),
            hex::encode(c.manifest_sha256).into(),
            c.blob_key.clone().into(),
            ms(r.stored_at).into(),
            c.receipt.clone().into(),
            c.receipt_signature.clone().into(),
            ms(r.delete_after).into(),
            Some(c.age_header.clone()).into(),
        ],
        Provenance::Axis(a) => [
            hex::encode(a.content_sha256).into(),
            (a.length as i64).into(),
            Vec::new().into(),
            Vec::new().into(),
            hex::encode(a.metadata_sha256).into(),
            String::new().into(),
            ms(r.stored_at).into(),
            Vec::new().into(),
            Vec::new().into(),
            ms(r.delete_after).into(),
            None::<Vec<u8>>.into(),
        ],
    };
    row.extend(proof);
    row.push(r.retention_category.clone().into());
    let (origin, connection, container) = match &r.provenance {
        Provenance::Camera(_) => ("camera", None, None),
        Provenance::Axis(a) => (
            "axis",
            Some(a.connection.clone()),
            Some(a.container.clone()),
        ),
    };
    row.push(origin.into());
    row.push(connection.into());
    row.push(container.into());
    row
}
