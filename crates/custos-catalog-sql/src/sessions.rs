//! Signed-in sessions.

use crate::*;

#[async_trait]
impl<D: Dialect> SessionStore for SqlCatalog<D>
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
        .map_err(fail::<D>)?;
        Ok(())
    }

    async fn session(&self, token_sha256: &str) -> Result<Option<Session>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE token_sha256 = $1")
            .bind(token_sha256)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
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

    async fn session_with_user(&self, token_sha256: &str) -> Result<Option<(Session, User)>> {
        let row = sqlx::query(
            "SELECT s.token_sha256, s.user_name, s.csrf_token, s.created_at AS session_created_at, \
             s.last_seen, s.ended_at, u.* FROM sessions s JOIN users u ON u.name = s.user_name \
             WHERE s.token_sha256 = $1",
        )
        .bind(token_sha256)
        .fetch_optional(&self.pool)
        .await
        .map_err(fail::<D>)?;
        row.map(|r| {
            let session = Session {
                token_sha256: r.get("token_sha256"),
                user_name: r.get("user_name"),
                csrf_token: r.get("csrf_token"),
                created_at: time(r.get("session_created_at"))?,
                last_seen: time(r.get("last_seen"))?,
                ended_at: Self::opt_time(&r, "ended_at")?,
            };
            Ok((session, Self::user_row(&r)?))
        })
        .transpose()
    }

    async fn touch_session(&self, token_sha256: &str, at: UtcMillis) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET last_seen = CASE WHEN last_seen > $1 THEN last_seen ELSE $1 END WHERE token_sha256 = $2",
        )
        .bind(ms(at))
        .bind(token_sha256)
        .execute(&self.pool)
        .await
        .map_err(fail::<D>)?;
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
        .map_err(fail::<D>)?;
        Ok(())
    }
}
