//! Cases, holds and the recordings linked to a case.

use crate::*;

#[async_trait]
impl<D: Dialect> CaseStore for SqlCatalog<D>
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
    async fn add_case(&self, c: &Case) -> Result<()> {
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
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error::<D>(e, "case", c.case_id.clone()))?;
        Ok(())
    }

    async fn case(&self, case_id: &str) -> Result<Option<Case>> {
        let row = sqlx::query("SELECT * FROM cases WHERE case_id = $1")
            .bind(case_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.as_ref().map(Self::case_row).transpose()
    }

    async fn cases(&self) -> Result<Vec<Case>> {
        let rows = sqlx::query("SELECT * FROM cases ORDER BY opened_at, case_id")
            .fetch_all(&self.pool)
            .await
            .map_err(fail::<D>)?;
        rows.iter().map(Self::case_row).collect()
    }

    async fn close_case(&self, case_id: &str, by: &str, at: UtcMillis) -> Result<Vec<Hold>> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        let done = sqlx::query(
            "UPDATE cases SET closed_by = $1, closed_at = $2 WHERE case_id = $3 AND closed_at IS NULL",
        )
        .bind(by)
        .bind(ms(at))
        .bind(case_id)
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        if D::rows_affected(&done) != 1 {
            return Err(CatalogError::NotFound {
                what: "open case",
                id: case_id.into(),
            });
        }
        let rows = sqlx::query("SELECT * FROM holds WHERE case_id = $1 AND released_at IS NULL")
            .bind(case_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        sqlx::query("UPDATE holds SET released_by = $1, released_at = $2 WHERE case_id = $3 AND released_at IS NULL")
            .bind(by)
            .bind(ms(at))
            .bind(case_id)
            .execute(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        tx.commit().await.map_err(fail::<D>)?;
        rows.iter()
            .map(|r| {
                let mut h = Self::hold_row(r)?;
                h.released_by = Some(by.into());
                h.released_at = Some(at);
                Ok(h)
            })
            .collect()
    }

    async fn add_hold(&self, h: &Hold) -> Result<()> {
        sqlx::query(
            "INSERT INTO holds (hold_id, case_id, recording_id, reason, placed_by, placed_at, \
             approved_by, approved_at, released_by, released_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(h.hold_id.to_string())
        .bind(&h.case_id)
        .bind(h.recording_id.to_string())
        .bind(&h.reason)
        .bind(&h.placed_by)
        .bind(ms(h.placed_at))
        .bind(&h.approved_by)
        .bind(h.approved_at.map(ms))
        .bind(&h.released_by)
        .bind(h.released_at.map(ms))
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error::<D>(e, "hold", h.hold_id.to_string()))?;
        Ok(())
    }

    async fn hold(&self, hold_id: Uuid) -> Result<Option<Hold>> {
        let row = sqlx::query("SELECT * FROM holds WHERE hold_id = $1")
            .bind(hold_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.as_ref().map(Self::hold_row).transpose()
    }

    async fn approve_hold(&self, hold_id: Uuid, by: &str, at: UtcMillis) -> Result<()> {
        let done = sqlx::query(
            "UPDATE holds SET approved_by = $1, approved_at = $2 \
             WHERE hold_id = $3 AND approved_at IS NULL AND released_at IS NULL",
        )
        .bind(by)
        .bind(ms(at))
        .bind(hold_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(fail::<D>)?;
        if D::rows_affected(&done) != 1 {
            return Err(CatalogError::NotFound {
                what: "hold awaiting approval",
                id: hold_id.to_string(),
            });
        }
        Ok(())
    }

    async fn release_hold(&self, hold_id: Uuid, by: &str, at: UtcMillis) -> Result<()> {
        let done = sqlx::query(
            "UPDATE holds SET released_by = $1, released_at = $2 \
             WHERE hold_id = $3 AND released_at IS NULL",
        )
        .bind(by)
        .bind(ms(at))
        .bind(hold_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(fail::<D>)?;
        if D::rows_affected(&done) != 1 {
            return Err(CatalogError::NotFound {
                what: "hold in force",
                id: hold_id.to_string(),
            });
        }
        Ok(())
    }

    async fn holds_for_recording(&self, recording_id: Uuid) -> Result<Vec<Hold>> {
        let rows =
            sqlx::query("SELECT * FROM holds WHERE recording_id = $1 ORDER BY placed_at, hold_id")
                .bind(recording_id.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(fail::<D>)?;
        rows.iter().map(Self::hold_row).collect()
    }

    async fn holds_for_case(&self, case_id: &str) -> Result<Vec<Hold>> {
        let rows =
            sqlx::query("SELECT * FROM holds WHERE case_id = $1 ORDER BY placed_at, hold_id")
                .bind(case_id)
                .fetch_all(&self.pool)
                .await
                .map_err(fail::<D>)?;
        rows.iter().map(Self::hold_row).collect()
    }

    async fn case_and_recording(
        &self,
        case_id: &str,
        recording_id: Uuid,
    ) -> Result<CaseAndRecording> {
        // The tables share no column names; `case_attached` is neither's.
        let row = sqlx::query(
            "SELECT c.*, r.*, (EXISTS (SELECT 1 FROM holds h WHERE h.case_id = $1 AND h.recording_id = $2) \
             OR EXISTS (SELECT 1 FROM case_links l WHERE l.case_id = $1 AND l.recording_id = $2)) \
             AS case_attached FROM (SELECT 1) AS one LEFT JOIN cases c ON c.case_id = $1 \
             LEFT JOIN recordings r ON r.recording_id = $2",
        )
        .bind(case_id)
        .bind(recording_id.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(fail::<D>)?;
        let case = match row.get::<Option<String>, _>("case_id") {
            Some(_) => Some(Self::case_row(&row)?),
            None => None,
        };
        let recording = match row.get::<Option<String>, _>("recording_id") {
            Some(_) => Some(Self::recording_row(&row)?),
            None => None,
        };
        Ok(CaseAndRecording {
            case,
            recording,
            attached: row.get::<bool, _>("case_attached"),
        })
    }

    async fn link_recording(&self, l: &CaseLink) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO case_links (case_id, recording_id, reason, linked_by, linked_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id, recording_id) DO NOTHING",
        )
        .bind(&l.case_id)
        .bind(l.recording_id.to_string())
        .bind(&l.reason)
        .bind(&l.linked_by)
        .bind(ms(l.linked_at))
        .execute(&self.pool)
        .await
        .map_err(fail::<D>)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn case_links(&self, case_id: &str) -> Result<Vec<CaseLink>> {
        let rows = sqlx::query(
            "SELECT * FROM case_links WHERE case_id = $1 ORDER BY linked_at, recording_id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await
        .map_err(fail::<D>)?;
        rows.iter().map(Self::case_link_row).collect()
    }
}
