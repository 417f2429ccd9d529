//! Integrity incidents and refused credentials (admission).

use crate::*;

#[async_trait]
impl<D: Dialect> IncidentStore for SqlCatalog<D>
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
    async fn add_incident(&self, i: &NewIncident, at: UtcMillis) -> Result<i64> {
        Self::insert_incident(&self.pool, i, at).await
    }

    async fn sight_incident(&self, i: &NewIncident, at: UtcMillis) -> Result<i64> {
        let query = match (&i.device_id, i.sequence, &i.dock_id) {
            (Some(device), Some(sequence), _) => {
                sqlx::query_scalar::<_, i64>(admission::SIGHT_INCIDENT_SQL)
                    .bind(i.kind.as_str())
                    .bind(device.as_str())
                    .bind(sequence as i64)
                    .bind(ms(at))
                    .bind(i.detail.as_str())
            }
            (None, None, Some(dock)) if i.recording_id.is_none() => {
                sqlx::query_scalar::<_, i64>(admission::SIGHT_UNNAMED_INCIDENT_SQL)
                    .bind(i.kind.as_str())
                    .bind(dock.as_str())
                    .bind(i.detail.as_str())
                    .bind(ms(at))
            }
            _ => return self.add_incident(i, at).await,
        };
        // The look and the insert in one transaction under the write lock:
        // two sightings of one fact at once must make one row, not two.
        let mut tx = D::begin_locked(&self.pool, Lock::Incident)
            .await
            .map_err(fail::<D>)?;
        let id = match query.fetch_optional(&mut *tx).await.map_err(fail::<D>)? {
            Some(id) => id,
            None => Self::insert_incident(&mut *tx, i, at).await?,
        };
        tx.commit().await.map_err(fail::<D>)?;
        Ok(id)
    }

    async fn count_refused_credential(
        &self,
        i: &NewIncident,
        source: &str,
        window_start: UtcMillis,
        (first, last): (UtcMillis, UtcMillis),
        count: u64,
    ) -> Result<i64> {
        sqlx::query_scalar(admission::COUNT_REFUSED_CREDENTIAL_SQL)
            .bind(ms(first))
            .bind(i.kind.as_str())
            .bind(&i.device_id)
            .bind(&i.dock_id)
            .bind(&i.detail)
            .bind(source)
            .bind(ms(window_start))
            .bind(count.min(i64::MAX as u64) as i64)
            .bind(ms(last))
            .fetch_one(&self.pool)
            .await
            .map_err(fail::<D>)
    }

    async fn incidents_page(&self, after_id: i64, limit: u64) -> Result<Vec<Incident>> {
        let rows = sqlx::query(admission::INCIDENTS_PAGE_SQL)
            .bind(after_id)
            .bind(limit.min(i64::MAX as u64) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        rows.iter().map(|r| rows::incident(&Columns(r))).collect()
    }

    async fn search_incidents(&self, q: &IncidentQuery) -> Result<Vec<Incident>> {
        let rows = sqlx::query(admission::SEARCH_INCIDENTS_SQL)
            .bind(q.kind.map(|k| k.as_str()))
            .bind(&q.device_id)
            .bind(q.before_id.unwrap_or(i64::MAX))
            .bind(q.limit.min(i64::MAX as u64) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        rows.iter().map(|r| rows::incident(&Columns(r))).collect()
    }

    async fn incidents_for_recording(
        &self,
        recording_id: Uuid,
        device_id: &str,
        sequence: u64,
        limit: u64,
    ) -> Result<Vec<Incident>> {
        let rows = sqlx::query(admission::INCIDENTS_FOR_RECORDING_SQL)
            .bind(recording_id.to_string())
            .bind(device_id)
            .bind(sequence as i64)
            .bind(limit.min(i64::MAX as u64) as i64)
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        rows.iter().map(|r| rows::incident(&Columns(r))).collect()
    }
}
