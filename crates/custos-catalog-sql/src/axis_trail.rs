//! Where Axis cameras were: each Axis recording's GNSS trail as read once
//! it completed, kept as JSON `[[at_ms, lat_e7, lon_e7], …]`.

use crate::*;

fn points_json(points: &[TrailPoint]) -> String {
    let rows: Vec<[i64; 3]> = points
        .iter()
        .map(|p| [p.at.as_millis(), i64::from(p.lat_e7), i64::from(p.lon_e7)])
        .collect();
    serde_json::to_string(&rows).expect("numbers serialise")
}

fn points_of(text: &str) -> Result<Vec<TrailPoint>> {
    let rows: Vec<[i64; 3]> =
        serde_json::from_str(text).map_err(|_| rows::corrupt("axis_trails.points"))?;
    rows.into_iter()
        .map(|[at, lat, lon]| {
            Ok(TrailPoint {
                at: rows::time(at)?,
                lat_e7: i32::try_from(lat).map_err(|_| rows::corrupt("axis_trails.points"))?,
                lon_e7: i32::try_from(lon).map_err(|_| rows::corrupt("axis_trails.points"))?,
            })
        })
        .collect()
}

#[async_trait]
impl<D: Dialect> AxisTrailStore for SqlCatalog<D>
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
    async fn add_axis_trail(&self, t: &AxisTrail) -> Result<bool> {
        // A recording deleted meanwhile gets no trail; a second reading
        // (two nodes at once) keeps the first.
        let done = sqlx::query(
            "INSERT INTO axis_trails (recording_id, outcome, points, detail, read_at) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS \
             (SELECT 1 FROM recordings WHERE recording_id = $1) \
             ON CONFLICT (recording_id) DO NOTHING",
        )
        .bind(t.recording_id.to_string())
        .bind(t.outcome.as_str())
        .bind(points_json(&t.points))
        .bind(t.detail.as_deref())
        .bind(ms(t.read_at))
        .execute(&self.pool)
        .await
        .map_err(fail::<D>)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn axis_trail(&self, recording_id: Uuid) -> Result<Option<AxisTrail>> {
        let row = sqlx::query("SELECT * FROM axis_trails WHERE recording_id = $1")
            .bind(recording_id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let r = Columns(&row);
        use custos_catalog::rows::SqlRow;
        Ok(Some(AxisTrail {
            recording_id: rows::uuid(&r.text("recording_id")?)?,
            outcome: TrailOutcome::parse(&r.text("outcome")?)
                .ok_or_else(|| rows::corrupt("axis_trails.outcome"))?,
            points: points_of(&r.text("points")?)?,
            detail: r.opt_text("detail")?,
            read_at: rows::time(r.int("read_at")?)?,
        }))
    }

    async fn unread_axis_trails(&self, limit: u64) -> Result<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT r.recording_id FROM recordings r WHERE r.origin = 'axis' AND NOT EXISTS \
             (SELECT 1 FROM axis_trails t WHERE t.recording_id = r.recording_id) \
             ORDER BY r.stored_at, r.recording_id LIMIT $1",
        )
        .bind(limit.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(fail::<D>)?;
        use custos_catalog::rows::SqlRow;
        rows.iter()
            .map(|r| rows::uuid(&Columns(r).text("recording_id")?))
            .collect()
    }
}
