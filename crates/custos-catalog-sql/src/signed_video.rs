//! What the checks of Axis recordings' signed video found, and the keys
//! Axis cameras sign with (docs/SIGNED-VIDEO.md).

use custos_catalog::rows::SqlRow;

use crate::*;

#[async_trait]
impl<D: Dialect> SignedVideoStore for SqlCatalog<D>
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
    async fn add_signed_video_check(&self, c: &SignedVideoCheck) -> Result<bool> {
        // A recording deleted meanwhile gets no check; a second check (two
        // nodes at once) keeps the first.
        let done = sqlx::query(
            "INSERT INTO signed_video_checks (recording_id, outcome, report, key_sha256, checked_at) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS \
             (SELECT 1 FROM recordings WHERE recording_id = $1) \
             ON CONFLICT (recording_id) DO NOTHING",
        )
        .bind(c.recording_id.to_string())
        .bind(&c.outcome)
        .bind(&c.report)
        .bind(c.key_sha256.as_deref())
        .bind(ms(c.checked_at))
        .execute(&self.pool)
        .await
        .map_err(fail::<D>)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn signed_video_check(&self, recording_id: Uuid) -> Result<Option<SignedVideoCheck>> {
        let row = sqlx::query("SELECT * FROM signed_video_checks WHERE recording_id = $1")
            .bind(recording_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.map(|r| rows::signed_video_check(&Columns(&r)))
            .transpose()
    }

    async fn unchecked_axis_recordings(&self, limit: u64) -> Result<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT r.recording_id FROM recordings r WHERE r.origin = 'axis' AND NOT EXISTS \
             (SELECT 1 FROM signed_video_checks c WHERE c.recording_id = r.recording_id) \
             ORDER BY r.stored_at, r.recording_id LIMIT $1",
        )
        .bind(limit.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(fail::<D>)?;
        rows.iter()
            .map(|r| rows::uuid(&Columns(r).text("recording_id")?))
            .collect()
    }

    async fn pin_axis_signing_key(
        &self,
        device_id: &str,
        key_sha256: &str,
        at: UtcMillis,
    ) -> Result<String> {
        sqlx::query(
            "INSERT INTO axis_signing_keys (device_id, key_sha256, pinned_at) VALUES ($1, $2, $3) \
             ON CONFLICT (device_id) DO NOTHING",
        )
        .bind(device_id)
        .bind(key_sha256)
        .bind(ms(at))
        .execute(&self.pool)
        .await
        .map_err(fail::<D>)?;
        self.axis_signing_key(device_id)
            .await?
            .ok_or_else(|| rows::corrupt("axis_signing_keys"))
    }

    async fn axis_signing_keys(&self) -> Result<Vec<(String, String, UtcMillis)>> {
        let rows = sqlx::query("SELECT * FROM axis_signing_keys ORDER BY device_id")
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        rows.iter()
            .map(|r| {
                let r = Columns(r);
                Ok((
                    r.text("device_id")?,
                    r.text("key_sha256")?,
                    rows::time(r.int("pinned_at")?)?,
                ))
            })
            .collect()
    }

    async fn forget_axis_signing_key(&self, device_id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM axis_signing_keys WHERE device_id = $1")
            .bind(device_id)
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "pinned signing key", device_id)
    }

    async fn axis_signing_key(&self, device_id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT key_sha256 FROM axis_signing_keys WHERE device_id = $1")
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.map(|r| Columns(&r).text("key_sha256")).transpose()
    }
}
