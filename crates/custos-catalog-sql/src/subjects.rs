//! Subject access requests and their deadlines.

use crate::*;

#[async_trait]
impl<D: Dialect> SubjectRequestStore for SqlCatalog<D>
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
    async fn open_subject_request(&self, c: &Case, x: &SubjectRequest) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        sqlx::query(
            "INSERT INTO cases (case_id, kind, reference, label, opened_by, opened_at, due_at, closed_by, closed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.case_id)
        .bind(&c.kind)
        .bind(&c.reference)
        .bind(&c.label)
        .bind(&c.opened_by)
        .bind(ms(c.opened_at))
        .bind(c.due_at.map(ms))
        .bind(&c.closed_by)
        .bind(c.closed_at.map(ms))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error::<D>(e, "case", c.case_id.clone()))?;
        sqlx::query(
            "INSERT INTO subject_requests (case_id, requester, contact, identity_check, description, \
             window_from, window_to, place_lat_e7, place_lon_e7, place_radius_m, received_at, \
             extension_reason, extended_by, extended_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&x.case_id)
        .bind(&x.requester)
        .bind(&x.contact)
        .bind(&x.identity_check)
        .bind(&x.description)
        .bind(ms(x.window_from))
        .bind(ms(x.window_to))
        .bind(x.place.map(|p| p.lat_e7))
        .bind(x.place.map(|p| p.lon_e7))
        .bind(x.place.map(|p| i64::from(p.radius_m)))
        .bind(ms(x.received_at))
        .bind(&x.extension_reason)
        .bind(&x.extended_by)
        .bind(x.extended_at.map(ms))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error::<D>(e, "subject request", x.case_id.clone()))?;
        tx.commit().await.map_err(fail::<D>)?;
        Ok(())
    }

    async fn subject_request(&self, case_id: &str) -> Result<Option<SubjectRequest>> {
        let row = sqlx::query("SELECT * FROM subject_requests WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.as_ref()
            .map(|r| rows::subject_request(&Columns(r)))
            .transpose()
    }

    async fn extend_subject_request(
        &self,
        case_id: &str,
        due_at: UtcMillis,
        reason: &str,
        by: &str,
        at: UtcMillis,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        let moved = sqlx::query(
            "UPDATE cases SET due_at = $1 WHERE case_id = $2 AND closed_at IS NULL \
             AND EXISTS (SELECT 1 FROM subject_requests s WHERE s.case_id = cases.case_id)",
        )
        .bind(ms(due_at))
        .bind(case_id)
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        if D::rows_affected(&moved) != 1 {
            return Err(CatalogError::NotFound {
                what: "open subject access request",
                id: case_id.to_owned(),
            });
        }
        sqlx::query(
            "UPDATE subject_requests SET extension_reason = $1, extended_by = $2, extended_at = $3 \
             WHERE case_id = $4",
        )
        .bind(reason)
        .bind(by)
        .bind(ms(at))
        .bind(case_id)
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        tx.commit().await.map_err(fail::<D>)?;
        Ok(())
    }

    async fn record_subject_delivery(
        &self,
        case_id: &str,
        export_id: Uuid,
        at: UtcMillis,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE subject_requests SET delivered_export = $1, delivered_at = $2 WHERE case_id = $3",
        )
        .bind(export_id.to_string())
        .bind(ms(at))
        .bind(case_id)
        .execute(&self.pool)
        .await
        .map_err(fail::<D>)?;
        if D::rows_affected(&done) != 1 {
            return Err(CatalogError::NotFound {
                what: "subject access request",
                id: case_id.to_owned(),
            });
        }
        Ok(())
    }
}
