//! Uploads in progress and committed recordings (ingest and the recordings list).

use crate::statement::Statement;
use crate::*;

#[async_trait]
impl<D: Dialect> RecordingStore for SqlCatalog<D>
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
        .map_err(|e| insert_error::<D>(e, "upload for recording", u.recording_id.to_string()))?;
        Ok(())
    }

    async fn upload(&self, upload_id: Uuid) -> Result<Option<Upload>> {
        sqlx::query("SELECT * FROM uploads WHERE upload_id = $1")
            .bind(upload_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?
            .as_ref()
            .map(Self::upload_row)
            .transpose()
    }

    async fn upload_for_recording(&self, recording_id: Uuid) -> Result<Option<Upload>> {
        sqlx::query("SELECT * FROM uploads WHERE recording_id = $1")
            .bind(recording_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?
            .as_ref()
            .map(Self::upload_row)
            .transpose()
    }

    async fn delete_upload(&self, upload_id: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM uploads WHERE upload_id = $1")
            .bind(upload_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        Ok(())
    }

    async fn set_upload_age_header(&self, upload_id: Uuid, header: &[u8]) -> Result<()> {
        sqlx::query("UPDATE uploads SET age_header = $1 WHERE upload_id = $2")
            .bind(header)
            .bind(upload_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        Ok(())
    }

    async fn move_upload(&self, upload_id: Uuid, dock_id: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE uploads SET dock_id = $1 WHERE upload_id = $2")
            .bind(dock_id)
            .bind(upload_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn uploads_begun_before(&self, before: UtcMillis) -> Result<Vec<Upload>> {
        let rows = sqlx::query("SELECT * FROM uploads WHERE created_at < $1 ORDER BY created_at")
            .bind(ms(before))
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        rows.iter().map(Self::upload_row).collect()
    }

    async fn commit_recording(&self, r: &Recording, upload_id: Option<Uuid>) -> Result<()> {
        let Some(camera) = r.camera() else {
            return Err(CatalogError::Conflict(format!(
                "recording {} is not a Custos camera's: an Axis recording is made by its container's Complete",
                r.recording_id
            )));
        };
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        Self::insert_recording(&mut tx, r).await?;
        sqlx::query(D::FACTS_INSERT)
            .bind(r.recording_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        Self::invalidate_weeks(&mut tx, std::iter::once(r.started_at)).await?;
        sqlx::query(
            "INSERT INTO chain_heads (device_id, sequence, manifest_sha256) VALUES ($1, $2, $3)
             ON CONFLICT (device_id) DO UPDATE SET sequence = excluded.sequence, manifest_sha256 = excluded.manifest_sha256
             WHERE excluded.sequence > chain_heads.sequence",
        )
        .bind(&r.device_id)
        .bind(r.sequence as i64)
        .bind(hex::encode(camera.manifest_sha256))
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        if let Some(id) = upload_id {
            sqlx::query("DELETE FROM uploads WHERE upload_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(fail::<D>)?;
        }
        tx.commit().await.map_err(fail::<D>)
    }

    async fn recording(&self, recording_id: Uuid) -> Result<Option<Recording>> {
        sqlx::query("SELECT * FROM recordings WHERE recording_id = $1")
            .bind(recording_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?
            .as_ref()
            .map(Self::recording_row)
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
            .map_err(fail::<D>)?
            .as_ref()
            .map(Self::recording_row)
            .transpose()
    }

    async fn recordings(&self) -> Result<Vec<Recording>> {
        sqlx::query("SELECT * FROM recordings ORDER BY device_id, sequence")
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?
            .iter()
            .map(Self::recording_row)
            .collect()
    }

    async fn search_recordings(&self, q: &RecordingQuery) -> Result<RecordingPage> {
        // One WHERE clause for the page and its count.
        fn narrow(b: &mut Statement, q: &RecordingQuery) {
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
        let mut count = Statement::new::<D>("SELECT COUNT(*) FROM recordings r");
        narrow(&mut count, q);
        let total: i64 = count
            .query_scalar::<D::Db, i64>()
            .fetch_one(&self.pool)
            .await
            .map_err(fail::<D>)?;
        let mut page = Statement::new::<D>(
            "SELECT r.*, CASE WHEN EXISTS (SELECT 1 FROM holds h WHERE h.recording_id = r.recording_id \
             AND h.released_at IS NULL) THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS held FROM recordings r",
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
            .query::<D::Db>()
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        Ok(RecordingPage {
            recordings: rows
                .iter()
                .map(|r| Ok((Self::recording_row(r)?, r.get::<i64, _>("held") != 0)))
                .collect::<Result<_>>()?,
            total: total as u64,
        })
    }
}
