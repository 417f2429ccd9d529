//! Export requests and approvals, derivatives, download links.

use crate::*;

#[async_trait]
impl<D: Dialect> ExportStore for SqlCatalog<D>
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
        .map_err(|e| insert_error::<D>(e, "export request", x.request_id.to_string()))?;
        Ok(())
    }

    async fn export_request(&self, request_id: Uuid) -> Result<Option<ExportRequest>> {
        let row = sqlx::query("SELECT * FROM export_requests WHERE request_id = $1")
            .bind(request_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
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
        .map_err(fail::<D>)?;
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
        .map_err(fail::<D>)?;
        if D::rows_affected(&done) != 1 {
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
        .map_err(fail::<D>)?;
        if D::rows_affected(&done) != 1 {
            return Err(CatalogError::NotFound {
                what: "approved, unused export request",
                id: request_id.to_string(),
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
        .map_err(|e| insert_error::<D>(e, "derivative", x.derivative_id.to_string()))?;
        Ok(())
    }

    async fn derivative(&self, derivative_id: Uuid) -> Result<Option<Derivative>> {
        let row = sqlx::query("SELECT * FROM derivatives WHERE derivative_id = $1")
            .bind(derivative_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
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
        .map_err(fail::<D>)?;
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
        .map_err(fail::<D>)?;
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
        .map_err(fail::<D>)?;
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
        .map_err(|e| insert_error::<D>(e, "export link", x.link_id.to_string()))?;
        Ok(())
    }

    async fn export_link(&self, link_id: Uuid) -> Result<Option<ExportLink>> {
        let row = sqlx::query("SELECT * FROM export_links WHERE link_id = $1")
            .bind(link_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.as_ref()
            .map(|r| rows::export_link(&Columns(r)))
            .transpose()
    }

    async fn export_link_by_token(&self, token_sha256: &str) -> Result<Option<ExportLink>> {
        let row = sqlx::query("SELECT * FROM export_links WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
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
        .map_err(fail::<D>)?;
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
        .map_err(fail::<D>)?;
        Ok(D::rows_affected(&done) == 1)
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
        .map_err(fail::<D>)?;
        if D::rows_affected(&done) != 1 {
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
        .map_err(fail::<D>)?;
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
        .map_err(fail::<D>)?;
        Ok(())
    }
}
