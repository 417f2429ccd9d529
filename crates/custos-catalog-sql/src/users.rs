//! Accounts, their sign-in state, and account activations.

use crate::*;

#[async_trait]
impl<D: Dialect> UserStore for SqlCatalog<D>
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
            other => other.map(|_| ()).map_err(fail::<D>),
        }
    }

    async fn user(&self, name: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.as_ref().map(Self::user_row).transpose()
    }

    async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        rows.iter().map(Self::user_row).collect()
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
            .map_err(fail::<D>)?;
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
            .map_err(fail::<D>)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn accept_sign_in(&self, name: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(admission::ACCEPT_SIGN_IN_SQL)
            .bind(name)
            .bind(step)
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        Ok(D::rows_affected(&done) == 1)
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
        .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "user", name)
    }

    async fn set_password(
        &self,
        name: &str,
        password_hash: &str,
        must_change: bool,
        keep_session: Option<&str>,
        at: UtcMillis,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, password_must_change = $2, failed_attempts = 0, locked_until = NULL WHERE name = $3",
        )
        .bind(password_hash)
        .bind(must_change as i64)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "user", name)?;
        sqlx::query(
            "UPDATE sessions SET ended_at = $1 WHERE user_name = $2 AND ended_at IS NULL AND token_sha256 != $3",
        )
        .bind(ms(at))
        .bind(name)
        .bind(keep_session.unwrap_or(""))
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        tx.commit().await.map_err(fail::<D>)
    }

    async fn disable_user(&self, name: &str, at: UtcMillis) -> Result<()> {
        let done =
            sqlx::query("UPDATE users SET disabled_at = COALESCE(disabled_at, $1) WHERE name = $2")
                .bind(ms(at))
                .bind(name)
                .execute(&self.pool)
                .await
                .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "user", name)?;
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE user_name = $2 AND ended_at IS NULL")
            .bind(ms(at))
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        Ok(())
    }

    async fn reset_totp(&self, name: &str, totp_secret_sealed: &[u8], at: UtcMillis) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        let done = sqlx::query(
            "UPDATE users SET totp_secret_sealed = $1, totp_last_step = NULL, \
             failed_attempts = 0, locked_until = NULL WHERE name = $2",
        )
        .bind(totp_secret_sealed)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "user", name)?;
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE user_name = $2 AND ended_at IS NULL")
            .bind(ms(at))
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        tx.commit().await.map_err(fail::<D>)?;
        Ok(())
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
            .map_err(|e| insert_error::<D>(e, "activation", a.activation_id.to_string()))?;
        Ok(())
    }

    async fn activation(&self, id: Uuid) -> Result<Option<Activation>> {
        let row = sqlx::query(activations::BY_ID_SQL)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.as_ref().map(Self::activation_row).transpose()
    }

    async fn activation_by_token(&self, token_sha256: &str) -> Result<Option<Activation>> {
        let row = sqlx::query(activations::BY_TOKEN_SQL)
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.as_ref().map(Self::activation_row).transpose()
    }

    async fn activations(&self) -> Result<Vec<Activation>> {
        let rows = sqlx::query(activations::LIST_SQL)
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        rows.iter().map(Self::activation_row).collect()
    }

    async fn open_activations_for(&self, name: &str, now: UtcMillis) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(activations::OPEN_FOR_NAME_SQL)
            .bind(name)
            .bind(ms(now))
            .fetch_one(&self.pool)
            .await
            .map_err(fail::<D>)?;
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
            .map_err(fail::<D>)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn reject_activation(&self, id: Uuid, by: &str, at: UtcMillis) -> Result<bool> {
        let done = sqlx::query(activations::REJECT_SQL)
            .bind(id.to_string())
            .bind(by)
            .bind(ms(at))
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn finish_activation(&self, id: Uuid, at: UtcMillis) -> Result<bool> {
        let done = sqlx::query(activations::FINISH_SQL)
            .bind(id.to_string())
            .bind(ms(at))
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        Ok(D::rows_affected(&done) == 1)
    }
}
