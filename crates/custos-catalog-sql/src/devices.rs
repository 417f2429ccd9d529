//! Cameras and docks: enrolment, revocation, assignment, chain heads.

use crate::*;

#[async_trait]
impl<D: Dialect> DeviceStore for SqlCatalog<D>
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
    async fn add_device(&self, d: &Device) -> Result<()> {
        sqlx::query("INSERT INTO devices (device_id, public_key, enrolled_at, revoked_at, retention_category, assigned_officer, team, kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&d.device_id)
            .bind(&d.public_key)
            .bind(ms(d.enrolled_at))
            .bind(d.revoked_at.map(ms))
            .bind(&d.retention_category)
            .bind(&d.assigned_officer)
            .bind(&d.team)
            .bind(d.kind.as_str())
            .execute(&self.pool)
            .await
            .map_err(|e| insert_error::<D>(e, "camera", d.device_id.clone()))?;
        Ok(())
    }

    async fn device(&self, device_id: &str) -> Result<Option<Device>> {
        sqlx::query("SELECT * FROM devices WHERE device_id = $1")
            .bind(device_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?
            .as_ref()
            .map(Self::device_row)
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
        .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "camera", device_id)
    }

    async fn devices(&self) -> Result<Vec<Device>> {
        sqlx::query("SELECT * FROM devices ORDER BY device_id")
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?
            .iter()
            .map(Self::device_row)
            .collect()
    }

    async fn chain_head(&self, device_id: &str) -> Result<Option<ChainHead>> {
        let row =
            sqlx::query("SELECT sequence, manifest_sha256 FROM chain_heads WHERE device_id = $1")
                .bind(device_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(fail::<D>)?;
        row.map(|r| {
            Ok(ChainHead {
                sequence: r.get::<i64, _>("sequence") as u64,
                manifest_sha256: hash(&r.get::<String, _>("manifest_sha256"))?,
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
            .map_err(|e| insert_error::<D>(e, "dock", d.dock_id.clone()))?;
        Ok(())
    }

    async fn dock(&self, dock_id: &str) -> Result<Option<Dock>> {
        let row = sqlx::query("SELECT * FROM docks WHERE dock_id = $1")
            .bind(dock_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.as_ref().map(Self::dock_row).transpose()
    }

    async fn revoke_dock(&self, dock_id: &str, at: UtcMillis) -> Result<()> {
        let done = sqlx::query(
            "UPDATE docks SET revoked_at = COALESCE(revoked_at, $1) WHERE dock_id = $2",
        )
        .bind(ms(at))
        .bind(dock_id)
        .execute(&self.pool)
        .await
        .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "dock", dock_id)
    }

    async fn docks(&self) -> Result<Vec<Dock>> {
        let rows = sqlx::query("SELECT * FROM docks ORDER BY dock_id")
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        rows.iter().map(Self::dock_row).collect()
    }

    async fn assign_officer(&self, device_id: &str, officer_id: Option<&str>) -> Result<()> {
        let done = sqlx::query("UPDATE devices SET assigned_officer = $1 WHERE device_id = $2")
            .bind(officer_id)
            .bind(device_id)
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "camera", device_id)
    }

    async fn set_device_team(&self, device_id: &str, team: Option<&str>) -> Result<()> {
        let done = sqlx::query("UPDATE devices SET team = $1 WHERE device_id = $2")
            .bind(team)
            .bind(device_id)
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "camera", device_id)
    }

    async fn set_device_retention_category(&self, device_id: &str, category: &str) -> Result<()> {
        let done = sqlx::query("UPDATE devices SET retention_category = $1 WHERE device_id = $2")
            .bind(category)
            .bind(device_id)
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "camera", device_id)
    }
}
