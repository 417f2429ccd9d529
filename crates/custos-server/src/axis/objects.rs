//! Objects: a clip, a key file, a bookmark, a GNSS trail, a user, a camera,
//! a system. Each `PUT` is received encrypted, its blob named as pending in
//! the catalog before it is written, and its row committed (unnaming it)
//! before `201`: a crash anywhere leaves either a stored object or a blob
//! the next start removes, never a blob nothing names.

use axum::http::{HeaderMap, StatusCode};
use custos_axis::metadata::{Carrier, Metadata};
use custos_axis::names::{Container, Object};
use custos_axis::recording::ClipFacts;
use custos_catalog::{AxisObject, CatalogError};
use futures::Stream;
use uuid::Uuid;

use super::receive::{self, Staged};
use super::store::{metadata, stored, Account, Head};
use super::Refusal;

/// The name an object is kept under: a user's or a system's UUID in its
/// one written form (so `Users/ABC…` and `Users/abc…` are one user).
fn object_name(object: &Object, raw: &str) -> String {
    match object {
        Object::User(id) | Object::SystemId(id) => id.to_string(),
        _ => raw.to_owned(),
    }
}

impl Account<'_> {
    /// A clip of a recording says when it ran; rejected content is taken
    /// whatever its metadata says (the spec: it is never refused).
    fn check_object(
        &self,
        container: &Container,
        object: &Object,
        meta: &Metadata,
    ) -> Result<(), Refusal> {
        if let (Container::Recording(_), Object::Clip { kind, .. }) = (container, object) {
            if meta.get("StartTime").is_some() || meta.get("StopTime").is_some() {
                ClipFacts::read(*kind, meta, (self.d.clock)())?;
            }
        }
        Ok(())
    }

    /// An object's container, open: `404` if there is none, `403` if it is
    /// complete.
    async fn open_container(&self, container: &Container) -> Result<(), Refusal> {
        let row = self.container(&container.name()).await?;
        if row.completed_at.is_some() {
            return Err(Refusal::Forbidden(
                "complete",
                "the recording is complete; nothing is added to it".into(),
            ));
        }
        Ok(())
    }

    /// Why the catalog would not take an object into `container` now: the
    /// connection was revoked, or the container completed, meanwhile.
    async fn closed(&self, container: &Container) -> Refusal {
        match self.d.catalog.axis_connection(self.name()).await {
            Ok(Some(c)) if c.revoked_at.is_none() => Refusal::Forbidden(
                "complete",
                format!("`{}` was completed meanwhile", container.name()),
            ),
            Ok(_) => Refusal::Unauthorized,
            Err(e) => e.into(),
        }
    }

    /// `PUT /v1/AUTH_x/<container>/<object>`: the bytes encrypted as they
    /// arrive, stored durably, and only then `201` with their MD5.
    pub async fn put_object<S, E>(
        &self,
        container: &Container,
        object: &Object,
        raw: &str,
        headers: &HeaderMap,
        body: S,
    ) -> Result<(StatusCode, String), Refusal>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        if matches!(object, Object::Capabilities | Object::Categories) {
            return Err(Refusal::Forbidden(
                "read-only",
                "Custos writes System/Capabilities.json and Categories.json itself".into(),
            ));
        }
        let meta = metadata(Carrier::Object, headers)?;
        self.check_object(container, object, &meta)?;
        let name = object_name(object, raw);
        self.open_container(container).await?;
        let staged = self.receive(headers, body).await?;
        if let Some(sent) = headers.get("etag").and_then(|v| v.to_str().ok()) {
            if !sent.trim_matches('"').eq_ignore_ascii_case(&staged.md5) {
                return Err(Refusal::ChecksumMismatch(staged.md5.clone()));
            }
        }
        if let Some(existing) = self.object_row(&container.name(), &name).await? {
            return self.again(container, &existing, &staged, &meta).await;
        }
        let blob_key = format!("axis/{}.age", Uuid::now_v7());
        let now = (self.d.clock)();
        self.d
            .catalog
            .add_axis_pending_blob(&blob_key, self.name(), now)
            .await?;
        custos_faults::crash_point("server:axis-before-blob");
        self.d.blobs.adopt_file(&blob_key, &staged.path).await?;
        custos_faults::crash_point("server:axis-after-blob");
        let row = AxisObject {
            connection: self.name().to_owned(),
            container: container.name(),
            name,
            metadata: meta.to_json(),
            length: staged.length,
            sha256: staged.sha256,
            md5: staged.md5.clone(),
            blob_key,
            age_header: staged.age_header.clone(),
            stored_at: now,
        };
        let committed = self.d.catalog.add_axis_object(&row).await;
        custos_faults::crash_point("server:axis-after-commit");
        match committed {
            Ok(()) => Ok((StatusCode::CREATED, row.md5)),
            Err(e) => self.not_committed(container, &row, &staged, &meta, e).await,
        }
    }

    /// The body, staged: within the largest object taken, the free space
    /// kept, and the uploads allowed at once, all and per connection.
    async fn receive<S, E>(&self, headers: &HeaderMap, body: S) -> Result<Staged, Refusal>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let settings = &self.dest.settings;
        let announced = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > settings.max_object_bytes) {
            return Err(Refusal::NeverStorable(
                "too-large",
                format!(
                    "an object is at most {} bytes here",
                    settings.max_object_bytes
                ),
            ));
        }
        let free = fs4::available_space(&self.dest.staging)?;
        if free
            < settings
                .reserve_bytes
                .saturating_add(announced.unwrap_or(0))
        {
            return Err(Refusal::Full);
        }
        let _permits = self.dest.permits(self.name())?;
        receive::receive(
            self.d.keys.recipient.clone(),
            receive::Limits {
                path: self.dest.staging.join(format!("{}.part", Uuid::now_v7())),
                max: settings.max_object_bytes,
                reserve: settings.reserve_bytes,
            },
            body,
        )
        .await
    }

    /// The catalog did not take the row. Only where that proves nothing
    /// was committed does the blob go (its pending name taken back first);
    /// after an error that may hide a commit (a connection lost during
    /// `COMMIT`), the pending name stays and the clean-up decides within
    /// the hour, and the controller sends the object again.
    async fn not_committed(
        &self,
        container: &Container,
        row: &AxisObject,
        staged: &Staged,
        meta: &Metadata,
        e: CatalogError,
    ) -> Result<(StatusCode, String), Refusal> {
        match e {
            CatalogError::AlreadyExists { .. } | CatalogError::NotFound { .. } => {
                self.discard(&row.blob_key).await;
                if let CatalogError::NotFound { .. } = e {
                    return Err(self.closed(container).await);
                }
                let existing = self
                    .object_row(&row.container, &row.name)
                    .await?
                    .ok_or_else(|| Refusal::Unavailable("object vanished".into()))?;
                self.again(container, &existing, staged, meta).await
            }
            // The clean-up took the pending name: it deletes the blob.
            CatalogError::Conflict(_) => Err(Refusal::Interrupted(
                "the object took too long to store".into(),
            )),
            other => Err(other.into()),
        }
    }

    /// Deletes a blob no row will name, if its pending name is still ours.
    async fn discard(&self, blob_key: &str) {
        match self.d.catalog.remove_axis_pending_blob(blob_key).await {
            Ok(true) => {
                if let Err(gone) = self.d.blobs.delete(blob_key).await {
                    tracing::error!(error = %gone, "an unneeded Axis blob stays");
                }
            }
            Ok(false) => {} // the clean-up has it
            Err(e) => tracing::error!(error = %e, "an unneeded Axis blob stays pending"),
        }
    }

    /// A second `PUT` of a stored object: the same bytes again (an answer
    /// that was lost) is fine, and its metadata is taken as Swift's `PUT`
    /// takes it; other bytes never replace evidence.
    async fn again(
        &self,
        container: &Container,
        existing: &AxisObject,
        staged: &Staged,
        meta: &Metadata,
    ) -> Result<(StatusCode, String), Refusal> {
        if existing.sha256 != staged.sha256 || existing.length != staged.length {
            return Err(Refusal::NeverStorable(
                "object-exists",
                "an object of this name is stored with other bytes; Custos keeps the first".into(),
            ));
        }
        if stored(&existing.metadata)? != *meta {
            self.set_metadata(container, &existing.name, meta).await?;
        }
        Ok((StatusCode::CREATED, existing.md5.clone()))
    }

    async fn set_metadata(
        &self,
        container: &Container,
        name: &str,
        meta: &Metadata,
    ) -> Result<(), Refusal> {
        match self
            .d
            .catalog
            .set_axis_object_metadata(self.name(), &container.name(), name, &meta.to_json())
            .await
        {
            Ok(()) => Ok(()),
            Err(CatalogError::NotFound { .. }) => Err(self.closed(container).await),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /v1/AUTH_x/<container>/<object>`: its metadata replaced (`202`).
    pub async fn post_object(
        &self,
        container: &Container,
        object: &Object,
        raw: &str,
        headers: &HeaderMap,
    ) -> Result<StatusCode, Refusal> {
        let meta = metadata(Carrier::Object, headers)?;
        self.check_object(container, object, &meta)?;
        let name = object_name(object, raw);
        self.open_container(container).await?;
        if self.object_row(&container.name(), &name).await?.is_none() {
            return Err(Refusal::NotFound(format!("object `{name}`")));
        }
        self.set_metadata(container, &name, &meta).await?;
        Ok(StatusCode::ACCEPTED)
    }

    /// `HEAD` of an object: its metadata, length and `Etag`.
    pub async fn head_object(
        &self,
        container: &Container,
        object: &Object,
        raw: &str,
    ) -> Result<(Head, u64, String), Refusal> {
        let name = object_name(object, raw);
        let row = self
            .object_row(&container.name(), &name)
            .await?
            .ok_or_else(|| Refusal::NotFound(format!("object `{name}`")))?;
        Ok((
            stored(&row.metadata)?.headers(Carrier::Object),
            row.length,
            row.md5,
        ))
    }
}
