//! The evaluation statistics.

use crate::*;

#[async_trait]
impl<D: Dialect> StatisticsStore for SqlCatalog<D>
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
    async fn statistics_projection_differences(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(&statistics::projection_differences_sql())
            .fetch_one(&self.pool)
            .await
            .map_err(fail::<D>)?;
        u64::try_from(n).map_err(|_| rows::corrupt("a negative count"))
    }

    async fn statistics(
        &self,
        q: &statistics::StatisticsQuery,
    ) -> Result<statistics::StatisticsSources> {
        // Whole weeks not yet in the cache are counted into it first (a
        // writer's transaction), then everything is read in one snapshot.
        if !statistics::cacheable_weeks(q).is_empty() {
            let tx = D::begin_locked(&self.pool, Lock::Write)
                .await
                .map_err(fail::<D>)?;
            let mut runner = StatisticsRunner::<D>(tx);
            statistics::fill_cache(&mut runner, q).await?;
            runner.0.commit().await.map_err(fail::<D>)?;
        }
        let tx = self.pool.begin().await.map_err(fail::<D>)?;
        let mut runner = StatisticsRunner::<D>(tx);
        let sources = statistics::compute(&mut runner, q).await?;
        runner.0.commit().await.map_err(fail::<D>)?;
        Ok(sources)
    }
}

/// The statistics' statements, run in one transaction.
struct StatisticsRunner<D: Dialect>(sqlx::Transaction<'static, D::Db>);

/// The statement's SQL (numbered placeholders) with its values bound.
pub(crate) fn bound<'q, D: Dialect>(
    statement: &'q statistics::Statement,
    sql: &'q str,
) -> sqlx::query::Query<'q, D::Db, <D::Db as Database>::Arguments<'q>>
where
    for<'a> i64: sqlx::Encode<'a, D::Db> + sqlx::Type<D::Db>,
    for<'a> &'a str: sqlx::Encode<'a, D::Db> + sqlx::Type<D::Db>,
{
    let mut query = sqlx::query(sql);
    for bind in &statement.binds {
        query = match bind {
            statistics::Bind::Int(v) => query.bind(*v),
            statistics::Bind::Text(v) => query.bind(v.as_str()),
        };
    }
    query
}

/// A row copied out as the shared statistics code reads it.
fn owned<R: Row>(row: &R) -> statistics::OwnedRow
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    use sqlx::Column;
    statistics::OwnedRow(
        row.columns()
            .iter()
            .map(|c| {
                let name = c.name();
                let value = if let Ok(Some(v)) = row.try_get::<Option<i64>, _>(name) {
                    statistics::Value::Int(v)
                } else if let Ok(Some(v)) = row.try_get::<Option<String>, _>(name) {
                    statistics::Value::Text(v)
                } else {
                    statistics::Value::Null
                };
                (name.to_owned(), value)
            })
            .collect(),
    )
}

#[async_trait]
impl<D: Dialect> statistics::Runner for StatisticsRunner<D>
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
    async fn rows(
        &mut self,
        statement: statistics::Statement,
    ) -> Result<Vec<statistics::OwnedRow>> {
        let sql = statistics::numbered(&statement.sql);
        let rows = bound::<D>(&statement, &sql)
            .fetch_all(&mut *self.0)
            .await
            .map_err(fail::<D>)?;
        Ok(rows.iter().map(owned).collect())
    }

    async fn execute(&mut self, statement: statistics::Statement) -> Result<()> {
        let sql = statistics::numbered(&statement.sql);
        bound::<D>(&statement, &sql)
            .execute(&mut *self.0)
            .await
            .map_err(fail::<D>)?;
        Ok(())
    }
}
