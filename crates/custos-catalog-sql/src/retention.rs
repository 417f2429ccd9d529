//! Deadlines, the sweep's due recordings, and tombstones.

use crate::*;

#[async_trait]
impl<D: Dialect> RetentionStore for SqlCatalog<D>
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
    async fn due_recordings(&self, now: UtcMillis, limit: u64) -> Result<Vec<Recording>> {
        let rows = sqlx::query(DUE_QUERY)
            .bind(ms(now))
            .bind(limit.min(i64::MAX as u64) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        rows.iter().map(Self::recording_row).collect()
    }

    async fn replace_with_tombstones(&self, tombstones: &[Tombstone]) -> Result<Vec<Uuid>> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        let mut replaced = Vec::with_capacity(tombstones.len());
        for t in tombstones {
            // An Axis recording's objects go with it: their blobs left to
            // delete, their rows (their age headers: the keys) and the
            // container's metadata. The container stays as a bare
            // `Complete`, so a controller sending it again is refused rather
            // than making the recording anew.
            let id = t.recording_id.to_string();
            for statement in [
                "INSERT INTO tombstone_blobs (recording_id, blob_key) \
                 SELECT r.recording_id, o.blob_key FROM recordings r JOIN axis_objects o \
                 ON o.connection = r.axis_connection AND o.container = r.axis_container \
                 WHERE r.recording_id = $1",
                "DELETE FROM axis_objects WHERE EXISTS (SELECT 1 FROM recordings r \
                 WHERE r.recording_id = $1 AND r.axis_connection = axis_objects.connection \
                 AND r.axis_container = axis_objects.container)",
                "UPDATE axis_containers SET metadata = '{\"status\":\"Complete\"}' \
                 WHERE recording_id = $1",
            ] {
                sqlx::query(statement)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail::<D>)?;
            }
            let done = sqlx::query("DELETE FROM recordings WHERE recording_id = $1")
                .bind(t.recording_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(fail::<D>)?;
            if D::rows_affected(&done) != 1 {
                continue;
            }
            // An upload row of the same recording would keep its age header
            // (the key) alive: it goes in the same transaction, and what its
            // what was read from it (its signed video's check, its GNSS trail).
            for statement in [
                "DELETE FROM uploads WHERE recording_id = $1",
                "DELETE FROM signed_video_checks WHERE recording_id = $1",
                "DELETE FROM axis_trails WHERE recording_id = $1",
            ] {
                sqlx::query(statement)
                    .bind(t.recording_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(fail::<D>)?;
            }
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
            .bind(t.blob_keys.first().map(String::as_str).unwrap_or(""))
            .bind(t.blob_deleted as i64)
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_error::<D>(e, "tombstone", t.recording_id.to_string()))?;
            replaced.push(t.recording_id);
        }
        Self::invalidate_weeks(&mut tx, tombstones.iter().map(|t| t.deleted_at)).await?;
        tx.commit().await.map_err(fail::<D>)?;
        Ok(replaced)
    }

    async fn tombstone(&self, recording_id: Uuid) -> Result<Option<Tombstone>> {
        let row = sqlx::query("SELECT * FROM tombstones WHERE recording_id = $1")
            .bind(recording_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        let Some(mut t) = row.as_ref().map(Self::tombstone_row).transpose()? else {
            return Ok(None);
        };
        t.blob_keys
            .extend(self.tombstone_blobs(recording_id).await?);
        Ok(Some(t))
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
            .map_err(fail::<D>)?;
        row.as_ref().map(Self::tombstone_row).transpose()
    }

    async fn tombstones_with_blob(&self) -> Result<Vec<Tombstone>> {
        let rows = sqlx::query("SELECT * FROM tombstones WHERE blob_deleted = 0")
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        let mut tombstones: Vec<Tombstone> = rows
            .iter()
            .map(Self::tombstone_row)
            .collect::<Result<_>>()?;
        for t in &mut tombstones {
            t.blob_keys
                .extend(self.tombstone_blobs(t.recording_id).await?);
        }
        Ok(tombstones)
    }

    async fn mark_blobs_deleted(&self, recording_ids: &[Uuid]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        for id in recording_ids {
            sqlx::query("UPDATE tombstones SET blob_deleted = 1 WHERE recording_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(fail::<D>)?;
            sqlx::query("DELETE FROM tombstone_blobs WHERE recording_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(fail::<D>)?;
        }
        tx.commit().await.map_err(fail::<D>)
    }

    async fn set_delete_after(&self, recording_id: Uuid, at: UtcMillis) -> Result<()> {
        sqlx::query("UPDATE recordings SET delete_after = $1 WHERE recording_id = $2")
            .bind(ms(at))
            .bind(recording_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        Ok(())
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
        .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "recording", recording_id)
    }
}
