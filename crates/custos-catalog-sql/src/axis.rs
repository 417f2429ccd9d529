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

    async fn add_axis_content_key(&self, k: &AxisContentKey) -> Result<()> {
        // One statement: a revocation is either before it (nothing added)
        // or after it (the key stays, unused).
        let done = sqlx::query(
            "INSERT INTO axis_content_keys (connection, key_id, public_pem, sealed, created_at) \
             SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM axis_connections \
             WHERE name = $1 AND revoked_at IS NULL)",
        )
        .bind(&k.connection)
        .bind(&k.key_id)
        .bind(&k.public_pem)
        .bind(&k.sealed)
        .bind(ms(k.created_at))
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error::<D>(e, "Axis content key", k.key_id.clone()))?;
        found(D::rows_affected(&done), "Axis connection", &k.connection)
    }

    async fn axis_content_keys(&self, connection: &str) -> Result<Vec<AxisContentKey>> {
        let rows = sqlx::query(
            "SELECT * FROM axis_content_keys WHERE connection = $1 ORDER BY created_at, key_id",
        )
        .bind(connection)
        .fetch_all(&self.pool)
        .await
        .map_err(fail::<D>)?;
        rows.iter()
            .map(|r| rows::axis_content_key(&Columns(r)))
            .collect()
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

    async fn add_axis_container(&self, c: &AxisContainer) -> Result<()> {
        sqlx::query(
            "INSERT INTO axis_containers (connection, name, recording_id, metadata, \
             created_at, updated_at, completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.connection)
        .bind(&c.name)
        .bind(c.recording_id.map(|u| u.to_string()))
        .bind(&c.metadata)
        .bind(ms(c.created_at))
        .bind(ms(c.updated_at))
        .bind(c.completed_at.map(ms))
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error::<D>(e, "Axis container", c.name.clone()))?;
        Ok(())
    }

    async fn axis_container(&self, connection: &str, name: &str) -> Result<Option<AxisContainer>> {
        let row = sqlx::query("SELECT * FROM axis_containers WHERE connection = $1 AND name = $2")
            .bind(connection)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(fail::<D>)?;
        row.as_ref()
            .map(|r| rows::axis_container(&Columns(r)))
            .transpose()
    }

    async fn update_axis_container(
        &self,
        connection: &str,
        name: &str,
        expected: &str,
        metadata: &str,
        at: UtcMillis,
        completed_at: Option<UtcMillis>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE axis_containers SET metadata = $1, updated_at = $2, completed_at = $3 \
             WHERE connection = $4 AND name = $5 AND completed_at IS NULL AND metadata = $6",
        )
        .bind(metadata)
        .bind(ms(at))
        .bind(completed_at.map(ms))
        .bind(connection)
        .bind(name)
        .bind(expected)
        .execute(&self.pool)
        .await
        .map_err(fail::<D>)?;
        if D::rows_affected(&done) == 1 {
            return Ok(());
        }
        match self.axis_container(connection, name).await? {
            Some(c) if c.completed_at.is_none() => Err(CatalogError::Conflict(format!(
                "Axis container `{name}` changed meanwhile"
            ))),
            _ => Err(CatalogError::NotFound {
                what: "open Axis container",
                id: name.to_owned(),
            }),
        }
    }

    async fn complete_axis_recording(
        &self,
        connection: &str,
        c: &AxisCompletion,
        at: UtcMillis,
    ) -> Result<Recording> {
        let Some(axis) = c.recording.axis() else {
            return Err(CatalogError::Conflict(
                "an Axis container completes an Axis recording only".into(),
            ));
        };
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        let done = sqlx::query(
            "UPDATE axis_containers SET metadata = $1, updated_at = $2, completed_at = $2 \
             WHERE connection = $3 AND name = $4 AND completed_at IS NULL AND metadata = $5 \
             AND recording_id = $6",
        )
        .bind(&c.metadata)
        .bind(ms(at))
        .bind(connection)
        .bind(&axis.container)
        .bind(&c.expected)
        .bind(c.recording.recording_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        if D::rows_affected(&done) != 1 {
            drop(tx);
            return Err(
                match self.axis_container(connection, &axis.container).await? {
                    Some(k) if k.completed_at.is_none() => CatalogError::Conflict(format!(
                        "Axis container `{}` changed meanwhile",
                        axis.container
                    )),
                    _ => CatalogError::NotFound {
                        what: "open Axis container",
                        id: axis.container.clone(),
                    },
                },
            );
        }
        // The objects as they are now the container is locked: one stored
        // (or one's metadata changed) after the caller read them would be
        // left out of the digest the recording and its tombstone keep, and
        // of the retention its bookmarks set.
        let mut objects =
            sqlx::query("SELECT * FROM axis_objects WHERE connection = $1 AND container = $2")
                .bind(connection)
                .bind(&axis.container)
                .fetch_all(&mut *tx)
                .await
                .map_err(fail::<D>)?
                .iter()
                .map(|r| rows::axis_object(&Columns(r)))
                .collect::<Result<Vec<_>>>()?;
        let mut seen = c.objects.clone();
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        seen.sort_by(|a, b| a.name.cmp(&b.name));
        if objects != seen
            || custos_catalog::axis_content_digest(&objects) != axis.content_sha256
            || objects.iter().map(|o| o.length).sum::<u64>() != axis.length
        {
            return Err(CatalogError::Conflict(format!(
                "an object arrived in Axis container `{}` meanwhile",
                axis.container
            )));
        }
        let found: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT kind, revoked_at FROM devices WHERE device_id = $1")
                .bind(&c.device.device_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(fail::<D>)?;
        let (kind, revoked) = found.unzip();
        match kind.as_deref() {
            None => {
                let d = &c.device;
                sqlx::query(
                    "INSERT INTO devices (device_id, public_key, enrolled_at, revoked_at, \
                     retention_category, assigned_officer, team, kind) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&d.device_id)
                .bind(&d.public_key)
                .bind(ms(d.enrolled_at))
                .bind(d.revoked_at.map(ms))
                .bind(&d.retention_category)
                .bind(&d.assigned_officer)
                .bind(&d.team)
                .bind(DeviceKind::Axis.as_str())
                .execute(&mut *tx)
                .await
                // A camera made by a completion of the same moment: the
                // caller tries again and finds it.
                .map_err(|e| {
                    match insert_error::<D>(e, "camera", d.device_id.clone()) {
                        CatalogError::AlreadyExists { id, .. } => {
                            CatalogError::Conflict(format!("camera `{id}` was made meanwhile"))
                        }
                        other => other,
                    }
                })?;
            }
            // Revoked meanwhile: the caller reads the camera again and
            // refuses.
            Some(k) if k == DeviceKind::Axis.as_str() && revoked.flatten().is_some() => {
                return Err(CatalogError::NotFound {
                    what: "Axis camera not revoked",
                    id: c.device.device_id.clone(),
                })
            }
            Some(k) if k == DeviceKind::Axis.as_str() => {}
            Some(_) => {
                return Err(CatalogError::AlreadyExists {
                    what: "camera of another kind",
                    id: c.device.device_id.clone(),
                })
            }
        }
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(s) FROM (SELECT MAX(sequence) AS s FROM recordings WHERE device_id = $1 \
             UNION ALL SELECT MAX(sequence) AS s FROM tombstones WHERE device_id = $1) AS t",
        )
        .bind(&c.device.device_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        let mut recording = c.recording.clone();
        recording.sequence = last.unwrap_or(0) as u64 + 1;
        Self::insert_recording(&mut tx, &recording)
            .await
            .map_err(|e| match e {
                // Another completion of this camera took the sequence.
                CatalogError::AlreadyExists { id, .. } => {
                    CatalogError::Conflict(format!("recording {id} raced another"))
                }
                other => other,
            })?;
        let f = &c.facts;
        sqlx::query(
            "INSERT INTO recording_facts (recording_id, device_id, team, officer_id, started_at, \
             ended_at, stored_at, prerecord_ms, display_activations, trigger, stop_reason, firmware, \
             truncated) SELECT $1, $2, d.team, $3, $4, $5, $6, $7, NULL, $8, $9, $10, $11 \
             FROM devices d WHERE d.device_id = $2",
        )
        .bind(recording.recording_id.to_string())
        .bind(&recording.device_id)
        .bind(&recording.officer_id)
        .bind(ms(recording.started_at))
        .bind(ms(recording.ended_at))
        .bind(ms(recording.stored_at))
        .bind(f.prerecord_ms)
        .bind(&f.trigger)
        .bind(&f.stop_reason)
        .bind(&f.firmware)
        .bind(recording.truncated as i64)
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        Self::invalidate_weeks(&mut tx, std::iter::once(recording.started_at)).await?;
        tx.commit().await.map_err(fail::<D>)?;
        Ok(recording)
    }

    async fn stale_axis_containers(
        &self,
        before: UtcMillis,
        limit: u64,
    ) -> Result<Vec<AxisContainer>> {
        let rows = sqlx::query(
            "SELECT * FROM axis_containers WHERE completed_at IS NULL AND updated_at < $1 \
             ORDER BY updated_at, connection, name LIMIT $2",
        )
        .bind(ms(before))
        .bind(limit.min(i64::MAX as u64) as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(fail::<D>)?;
        rows.iter()
            .map(|r| rows::axis_container(&Columns(r)))
            .collect()
    }

    async fn remove_axis_container(
        &self,
        c: &AxisContainer,
        pending_at: UtcMillis,
    ) -> Result<Vec<String>> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        // Still as read, and locked against an object arriving meanwhile.
        let same = sqlx::query(
            "UPDATE axis_containers SET updated_at = updated_at WHERE connection = $1 \
             AND name = $2 AND completed_at IS NULL AND updated_at = $3",
        )
        .bind(&c.connection)
        .bind(&c.name)
        .bind(ms(c.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        found(D::rows_affected(&same), "unchanged Axis container", &c.name)?;
        let blobs: Vec<String> = sqlx::query_scalar(
            "SELECT blob_key FROM axis_objects WHERE connection = $1 AND container = $2 \
             ORDER BY blob_key",
        )
        .bind(&c.connection)
        .bind(&c.name)
        .fetch_all(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        for key in &blobs {
            sqlx::query(
                "INSERT INTO axis_pending_blobs (blob_key, connection, created_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(key)
            .bind(&c.connection)
            .bind(ms(pending_at))
            .execute(&mut *tx)
            .await
            .map_err(|e| insert_error::<D>(e, "pending Axis blob", key.clone()))?;
        }
        for statement in [
            "DELETE FROM axis_objects WHERE connection = $1 AND container = $2",
            "DELETE FROM axis_containers WHERE connection = $1 AND name = $2",
        ] {
            sqlx::query(statement)
                .bind(&c.connection)
                .bind(&c.name)
                .execute(&mut *tx)
                .await
                .map_err(fail::<D>)?;
        }
        tx.commit().await.map_err(fail::<D>)?;
        Ok(blobs)
    }

    async fn open_axis_containers(&self, connection: &str, active_since: UtcMillis) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM axis_containers WHERE connection = $1 \
             AND recording_id IS NOT NULL AND completed_at IS NULL AND updated_at >= $2",
        )
        .bind(connection)
        .bind(ms(active_since))
        .fetch_one(&self.pool)
        .await
        .map_err(fail::<D>)?;
        Ok(n as u64)
    }

    async fn add_axis_pending_blob(
        &self,
        blob_key: &str,
        connection: &str,
        at: UtcMillis,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO axis_pending_blobs (blob_key, connection, created_at) VALUES ($1, $2, $3)",
        )
        .bind(blob_key)
        .bind(connection)
        .bind(ms(at))
        .execute(&self.pool)
        .await
        .map_err(|e| insert_error::<D>(e, "pending Axis blob", blob_key))?;
        Ok(())
    }

    async fn axis_pending_blobs(&self, before: UtcMillis) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT blob_key FROM axis_pending_blobs WHERE created_at < $1 ORDER BY blob_key",
        )
        .bind(ms(before))
        .fetch_all(&self.pool)
        .await
        .map_err(fail::<D>)
    }

    async fn remove_axis_pending_blob(&self, blob_key: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM axis_pending_blobs WHERE blob_key = $1")
            .bind(blob_key)
            .execute(&self.pool)
            .await
            .map_err(fail::<D>)?;
        Ok(D::rows_affected(&done) == 1)
    }

    async fn add_axis_object(&self, o: &AxisObject) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        lock_open_container::<D>(&mut tx, &o.connection, &o.container, Some(o.stored_at)).await?;
        sqlx::query(
            "INSERT INTO axis_objects (connection, container, name, metadata, length, sha256, \
             md5, blob_key, age_header, stored_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&o.connection)
        .bind(&o.container)
        .bind(&o.name)
        .bind(&o.metadata)
        .bind(o.length as i64)
        .bind(hex::encode(o.sha256))
        .bind(&o.md5)
        .bind(&o.blob_key)
        .bind(&o.age_header)
        .bind(ms(o.stored_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| insert_error::<D>(e, "Axis object", o.name.clone()))?;
        let unnamed = sqlx::query("DELETE FROM axis_pending_blobs WHERE blob_key = $1")
            .bind(&o.blob_key)
            .execute(&mut *tx)
            .await
            .map_err(fail::<D>)?;
        if D::rows_affected(&unnamed) != 1 {
            // The clean-up took the name: the blob is being deleted.
            return Err(CatalogError::Conflict(format!(
                "blob `{}` is no longer pending",
                o.blob_key
            )));
        }
        tx.commit().await.map_err(fail::<D>)
    }

    async fn axis_object(
        &self,
        connection: &str,
        container: &str,
        name: &str,
    ) -> Result<Option<AxisObject>> {
        let row = sqlx::query(
            "SELECT * FROM axis_objects WHERE connection = $1 AND container = $2 AND name = $3",
        )
        .bind(connection)
        .bind(container)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(fail::<D>)?;
        row.as_ref()
            .map(|r| rows::axis_object(&Columns(r)))
            .transpose()
    }

    async fn axis_objects(&self, connection: &str, container: &str) -> Result<Vec<AxisObject>> {
        let rows = sqlx::query(
            "SELECT * FROM axis_objects WHERE connection = $1 AND container = $2 ORDER BY name",
        )
        .bind(connection)
        .bind(container)
        .fetch_all(&self.pool)
        .await
        .map_err(fail::<D>)?;
        rows.iter()
            .map(|r| rows::axis_object(&Columns(r)))
            .collect()
    }

    async fn set_axis_object_metadata(
        &self,
        connection: &str,
        container: &str,
        name: &str,
        metadata: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(fail::<D>)?;
        lock_open_container::<D>(&mut tx, connection, container, None).await?;
        let done = sqlx::query(
            "UPDATE axis_objects SET metadata = $1 WHERE connection = $2 AND container = $3 \
             AND name = $4",
        )
        .bind(metadata)
        .bind(connection)
        .bind(container)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(fail::<D>)?;
        found(D::rows_affected(&done), "Axis object", name)?;
        tx.commit().await.map_err(fail::<D>)
    }
}

/// Takes the row lock of an open container of a connection not revoked,
/// inside `tx` (marking it changed at `at`, if given): a `Complete` (an
/// UPDATE of the same row) then waits for this transaction or this one for
/// it, and PostgreSQL re-reads the row after the wait, so nothing lands in
/// a container that completed first.
async fn lock_open_container<D: Dialect>(
    tx: &mut sqlx::Transaction<'_, D::Db>,
    connection: &str,
    container: &str,
    at: Option<UtcMillis>,
) -> Result<()>
where
    for<'c> &'c mut <D::Db as Database>::Connection: sqlx::Executor<'c, Database = D::Db>,
    for<'q> <D::Db as Database>::Arguments<'q>: sqlx::IntoArguments<'q, D::Db>,
    for<'q> &'q str: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
    for<'q> Option<i64>: sqlx::Encode<'q, D::Db> + sqlx::Type<D::Db>,
{
    let done = sqlx::query(
        "UPDATE axis_containers SET updated_at = COALESCE($3, updated_at) WHERE connection = $1 \
         AND name = $2 AND completed_at IS NULL AND EXISTS (SELECT 1 FROM axis_connections \
         WHERE name = $1 AND revoked_at IS NULL)",
    )
    .bind(connection)
    .bind(container)
    .bind(at.map(ms))
    .execute(&mut **tx)
    .await
    .map_err(fail::<D>)?;
    found(D::rows_affected(&done), "open Axis container", container)
}
