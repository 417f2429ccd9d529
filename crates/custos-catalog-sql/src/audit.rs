//! The audit log: entries, checkpoints, search.

use crate::statement::Statement;
use crate::*;

#[async_trait]
impl<D: Dialect> AuditStore for SqlCatalog<D>
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
    async fn audit_tip(&self) -> Result<Option<AuditTip>> {
        let row = sqlx::query(
            "SELECT size, note, frontier FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(fail::<D>)?;
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
        let mut tx = D::begin_locked(&self.pool, Lock::Audit)
            .await
            .map_err(fail::<D>)?;
        let size: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(size), 0) FROM audit_checkpoints")
            .fetch_one(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        if size as u64 != expected_size {
            return Err(CatalogError::Conflict(format!(
                "audit log has {size} entries, expected {expected_size}"
            )));
        }
        // Only the newest checkpoint keeps the tree's frontier.
        sqlx::query("UPDATE audit_checkpoints SET frontier = $1 WHERE size = $2")
            .bind(Vec::<u8>::new())
            .bind(size)
            .execute(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        sqlx::query("INSERT INTO audit_checkpoints (size, note, frontier) VALUES ($1, $2, $3)")
            .bind(checkpoint.size as i64)
            .bind(&checkpoint.note)
            .bind(frontier)
            .execute(&mut *tx)
            .await
            .map_err(fail::<D>)?;
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
            let mut insert = Statement::new::<D>(
                "INSERT INTO audit_log (idx, entry, leaf_hash, at, actor, action, outcome, object, case_id, purpose)",
            );
            insert.push_values(part, |(row, event)| {
                vec![
                    (row.index as i64).into(),
                    row.bytes.clone().into(),
                    row.leaf_hash.to_vec().into(),
                    event.at.to_string().into(),
                    event.actor.clone().into(),
                    event.action.clone().into(),
                    event.outcome.as_str().into(),
                    event.object.clone().into(),
                    event.case.clone().into(),
                    event.purpose.clone().into(),
                ]
            });
            insert
                .query::<D::Db>()
                .execute(&mut *tx)
                .await
                .map_err(fail::<D>)?;
        }
        // The statistics' projection of these entries, in the same transaction.
        sqlx::query(&statistics::numbered(&statistics::project_accesses_sql()))
            .bind(expected_size as i64)
            .bind((expected_size + rows.len() as u64) as i64)
            .execute(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        tx.commit().await.map_err(fail::<D>)
    }

    async fn audit_entries(&self, from: u64, limit: u64) -> Result<Vec<StoredEntry>> {
        let rows = sqlx::query(
            "SELECT idx, entry, leaf_hash FROM audit_log WHERE idx >= $1 ORDER BY idx LIMIT $2",
        )
        .bind(from as i64)
        .bind(limit.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(fail::<D>)?;
        rows.iter().map(Self::stored_entry).collect()
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
        .map_err(fail::<D>)?;
        rows.iter().map(Self::stored_entry).collect()
    }

    async fn search_audit(&self, q: &AuditQuery) -> Result<(Vec<StoredEntry>, u64)> {
        fn narrow(b: &mut Statement, q: &AuditQuery) {
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
                b.push(&format!(" AND {} >= ", field("at")))
                    .push_bind(t.to_string());
            }
            if let Some(t) = q.before {
                b.push(&format!(" AND {} < ", field("at")))
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
                    b.push(&format!(" AND {} = ", field(name)))
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
                    b.push(&format!(" AND {} LIKE ", field("action")))
                        .push_bind(format!("{escaped}%"))
                        .push(" ESCAPE '\\'");
                }
                Some(action) => {
                    b.push(&format!(" AND {} = ", field("action")))
                        .push_bind(action.clone());
                }
                None => {}
            }
        }
        let mut count = Statement::new::<D>("SELECT COUNT(*) FROM audit_log");
        narrow(&mut count, q);
        let total: i64 = count
            .query_scalar::<D::Db, i64>()
            .fetch_one(&self.pool)
            .await
            .map_err(fail::<D>)?;
        let mut page = Statement::new::<D>("SELECT idx, entry, leaf_hash FROM audit_log");
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
            .query::<D::Db>()
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        let rows = rows
            .iter()
            .map(Self::stored_entry)
            .collect::<Result<Vec<_>>>()?;
        Ok((rows, total as u64))
    }

    async fn audit_leaf_hashes(&self, size: u64) -> Result<Vec<Hash>> {
        let rows: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT leaf_hash FROM audit_log WHERE idx < $1 ORDER BY idx")
                .bind(size as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(fail::<D>)?;
        rows.into_iter()
            .map(|h| h.try_into().map_err(|_| rows::corrupt("leaf hash")))
            .collect()
    }

    async fn audit_checkpoints(&self) -> Result<Vec<StoredCheckpoint>> {
        let rows = sqlx::query("SELECT size, note FROM audit_checkpoints ORDER BY size")
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
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
            .map_err(fail::<D>)?;
        Ok(row.map(|r| StoredCheckpoint {
            size: r.get::<i64, _>("size") as u64,
            note: r.get("note"),
        }))
    }
}
