//! Axis system controllers' connections and their tokens (ADR 0017).

use crate::*;

#[async_trait]
impl<D: Dialect> AxisStore for SqlCatalog<D>
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
    async fn add_axis_connection(&self, c: &AxisConnection) -> Result<()> {
        sqlx::query(
            "INSERT INTO axis_connections (name, key_sha256, created_at, rotated_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&c.name)
        .bind(&c.key_sha256)
        .bind(ms(c.created_at))
        .bind(c.rotated_at.map(ms))
        .bind(c.revoked_at.map(ms))
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error::<D>(e, "Axis connection", c.name.clone()))?;
        Ok(())
    }

    async fn axis_connection(&self, name: &str) -> Result<Option<AxisConnection>> {
        let row = sqlx::query("SELECT * FROM axis_connections WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.as_ref()
            .map(|r| rows::axis_connection(&Columns(r)))
            .transpose()
    }

    async fn axis_connections(&self) -> Result<Vec<AxisConnection>> {
        let rows = sqlx::query("SELECT * FROM axis_connections ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        rows.iter()
            .map(|r| rows::axis_connection(&Columns(r)))
            .collect()
    }

    async fn rotate_axis_connection(
        &self,
        name: &str,
        key_sha256: &str,
        at: UtcMillis,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        let done = sqlx::query(
            "UPDATE axis_connections SET key_sha256 = $1, rotated_at = $2 \
             WHERE name = $3 AND revoked_at IS NULL",
        )
        .bind(key_sha256)
        .bind(ms(at))
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "Axis connection", name)?;
        sqlx::query("DELETE FROM axis_tokens WHERE connection = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        tx.commit().await.map_err(fail::<D>)
    }

    async fn revoke_axis_connection(&self, name: &str, at: UtcMillis) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        let done = sqlx::query(
            "UPDATE axis_connections SET revoked_at = COALESCE(revoked_at, $1) WHERE name = $2",
        )
        .bind(ms(at))
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "Axis connection", name)?;
        sqlx::query("DELETE FROM axis_tokens WHERE connection = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        tx.commit().await.map_err(fail::<D>)
    }

    async fn add_axis_token(&self, t: &AxisToken, now: UtcMillis) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        sqlx::query("DELETE FROM axis_tokens WHERE expires_at <= $1")
            .bind(ms(now))
            .execute(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        let done = sqlx::query(
            "INSERT INTO axis_tokens (token_sha256, connection, expires_at) \
             SELECT $1, name, $2 FROM axis_connections WHERE name = $3 AND revoked_at IS NULL",
        )
        .bind(&t.token_sha256)
        .bind(ms(t.expires_at))
        .bind(&t.connection)
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error::<D>(e, "Axis token", "(a token)"))?;
        found(D::rows_affected(&done), "Axis connection", &t.connection)?;
        tx.commit().await.map_err(fail::<D>)
    }

    async fn axis_token(
        &self,
        token_sha256: &str,
        now: UtcMillis,
    ) -> Result<Option<AxisConnection>> {
        let row = sqlx::query(
            "SELECT c.* FROM axis_tokens t JOIN axis_connections c ON c.name = t.connection \
             WHERE t.token_sha256 = $1 AND t.expires_at > $2 AND c.revoked_at IS NULL",
        )
        .bind(token_sha256)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(fail::<D>)?;
        row.as_ref()
            .map(|r| rows::axis_connection(&Columns(r)))
            .transpose()
    }
}
