//! What each request of the Swift subset does to the catalog and the blob
//! store, on behalf of one connection. Nothing already stored is lost or
//! changed by a refusal: a recording's container is changed only while it
//! is open, an object is never replaced by other bytes, and
//! `Status=Complete` is taken only when the recording is whole.

use axum::http::{HeaderMap, StatusCode};
use custos_axis::metadata::{Carrier, Metadata};
use custos_axis::names::{Container, Object};
use custos_axis::recording::{ClipFacts, RecordingFacts};
use custos_catalog::{AxisContainer, AxisObject, CatalogError};
use futures::Stream;
use uuid::Uuid;

use super::auth::Connection;
use super::{receive, Destination, Refusal};
use crate::Deployment;

/// One authenticated request's view: its connection, and nothing else's.
pub(super) struct Account<'a> {
    pub d: &'a Deployment,
    pub dest: &'a Destination,
    pub connection: &'a Connection,
}

/// The metadata among `headers` for `carrier`.
pub(super) fn metadata(carrier: Carrier, headers: &HeaderMap) -> Result<Metadata, Refusal> {
    let pairs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    Ok(Metadata::from_headers(carrier, pairs)?)
}

/// The name an object is kept under: a user's or a system's UUID in its
/// one written form (so `Users/ABC…` and `Users/abc…` are one user).
fn object_name(object: &Object, raw: &str) -> String {
    match object {
        Object::User(id) | Object::SystemId(id) => id.to_string(),
        _ => raw.to_owned(),
    }
}

fn stored(json: &str) -> Result<Metadata, Refusal> {
    Metadata::from_json(json)
        .map_err(|e| Refusal::Unavailable(format!("stored Axis metadata does not read: {e}")))
}

/// A container's metadata and what it returns for `HEAD`.
pub(super) struct Head {
    pub headers: Vec<(String, String)>,
}

impl Account<'_> {
    fn name(&self) -> &str {
        &self.connection.0
    }

    async fn container(&self, name: &str) -> Result<AxisContainer, Refusal> {
        self.d
            .catalog
            .axis_container(self.name(), name)
            .await?
            .ok_or_else(|| Refusal::NotFound(format!("container `{name}`")))
    }

    /// `PUT /v1/AUTH_x/<container>`: `201` made, `202` already there (its
    /// metadata updated as a `POST` would).
    pub async fn put_container(
        &self,
        container: &Container,
        headers: &HeaderMap,
    ) -> Result<StatusCode, Refusal> {
        let meta = metadata(Carrier::Container, headers)?;
        let name = container.name();
        if let Some(existing) = self.d.catalog.axis_container(self.name(), &name).await? {
            self.update_container(container, existing, &meta).await?;
            return Ok(StatusCode::ACCEPTED);
        }
        if let Container::Recording(r) = container {
            let user = r.user.to_string();
            if self.object_row("Users", &user).await?.is_none() {
                return Err(Refusal::NeverStorable(
                    "unknown-user",
                    format!("no user `{user}` was registered under Users"),
                ));
            }
            if self.object_row("Devices", &r.serial).await?.is_none() {
                return Err(Refusal::NeverStorable(
                    "unknown-device",
                    format!("no camera `{}` was registered under Devices", r.serial),
                ));
            }
        }
        if container.is_recording() {
            let open = self.d.catalog.open_axis_containers(self.name()).await?;
            if open >= self.dest.settings.open_containers {
                return Err(Refusal::Busy(format!(
                    "{open} recordings of this connection are in transfer"
                )));
            }
        }
        if meta.is_complete() {
            self.check_whole(container, &meta).await?;
        }
        let now = (self.d.clock)();
        let row = AxisContainer {
            connection: self.name().to_owned(),
            name: name.clone(),
            recording_id: container.is_recording().then(Uuid::now_v7),
            metadata: meta.to_json(),
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        match self.d.catalog.add_axis_container(&row).await {
            Ok(()) => {}
            // Made by a request of the same moment: this one updates it.
            Err(CatalogError::AlreadyExists { .. }) => {
                let existing = self.container(&name).await?;
                self.update_container(container, existing, &meta).await?;
                return Ok(StatusCode::ACCEPTED);
            }
            Err(e) => return Err(e.into()),
        }
        if meta.is_complete() {
            let now = (self.d.clock)();
            self.d
                .catalog
                .update_axis_container(self.name(), &name, &row.metadata, now, Some(now))
                .await?;
        }
        Ok(StatusCode::CREATED)
    }

    /// `POST /v1/AUTH_x/<container>`: its metadata updated (`204`);
    /// `Status=Complete` ends a recording that is whole.
    pub async fn post_container(
        &self,
        container: &Container,
        headers: &HeaderMap,
    ) -> Result<StatusCode, Refusal> {
        let meta = metadata(Carrier::Container, headers)?;
        let existing = self.container(&container.name()).await?;
        self.update_container(container, existing, &meta).await?;
        Ok(StatusCode::NO_CONTENT)
    }

    async fn update_container(
        &self,
        container: &Container,
        existing: AxisContainer,
        newer: &Metadata,
    ) -> Result<(), Refusal> {
        let old = stored(&existing.metadata)?;
        let mut merged = old.clone();
        merged.update(newer)?;
        if existing.completed_at.is_some() {
            // A repeated `Complete` (its answer lost) changes nothing and is
            // fine; anything else would change a finished recording.
            return if merged == old {
                Ok(())
            } else {
                Err(Refusal::Forbidden(
                    "complete",
                    "the recording is complete; nothing in it changes any more".into(),
                ))
            };
        }
        let now = (self.d.clock)();
        let completed_at = if merged.is_complete() {
            self.check_whole(container, &merged).await?;
            Some(now)
        } else {
            None
        };
        match self
            .d
            .catalog
            .update_axis_container(
                self.name(),
                &existing.name,
                &merged.to_json(),
                now,
                completed_at,
            )
            .await
        {
            Ok(()) => Ok(()),
            // Completed by a request of the same moment.
            Err(CatalogError::NotFound { .. }) => Err(Refusal::Forbidden(
                "complete",
                "the recording was completed meanwhile".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// A recording is complete only with a clip and with metadata that
    /// says when it was made, by whom and with what.
    async fn check_whole(&self, container: &Container, merged: &Metadata) -> Result<(), Refusal> {
        let Container::Recording(name) = container else {
            return Ok(());
        };
        let objects = self
            .d
            .catalog
            .axis_objects(self.name(), &container.name())
            .await?;
        let clips = objects
            .iter()
            .filter(|o| matches!(Object::parse(container, &o.name), Ok(Object::Clip { .. })))
            .count();
        if clips == 0 {
            return Err(Refusal::NeverStorable(
                "no-clips",
                "a recording is complete only with at least one clip".into(),
            ));
        }
        RecordingFacts::read(name, merged, (self.d.clock)())?;
        Ok(())
    }

    pub async fn head_container(&self, container: &Container) -> Result<Head, Refusal> {
        let row = self.container(&container.name()).await?;
        let mut headers = stored(&row.metadata)?.headers(Carrier::Container);
        let count = self
            .d
            .catalog
            .axis_objects(self.name(), &row.name)
            .await?
            .len();
        headers.push(("X-Container-Object-Count".into(), count.to_string()));
        Ok(Head { headers })
    }

    async fn object_row(&self, container: &str, name: &str) -> Result<Option<AxisObject>, Refusal> {
        Ok(self
            .d
            .catalog
            .axis_object(self.name(), container, name)
            .await?)
    }

    /// An object's container, open: `404` if there is none, `403` if it is
    /// complete.
    async fn open_container(&self, container: &Container) -> Result<AxisContainer, Refusal> {
        let row = self.container(&container.name()).await?;
        if row.completed_at.is_some() {
            return Err(Refusal::Forbidden(
                "complete",
                "the recording is complete; nothing is added to it".into(),
            ));
        }
        Ok(row)
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
        if let Object::Clip { kind, .. } = object {
            if meta.get("StartTime").is_some() || meta.get("StopTime").is_some() {
                ClipFacts::read(*kind, &meta, (self.d.clock)())?;
            }
        }
        let name = object_name(object, raw);
        self.open_container(container).await?;
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
        let _permit = self.dest.uploads.clone().try_acquire_owned().map_err(|_| {
            Refusal::Busy(format!(
                "{} objects are being received",
                settings.uploads_at_once
            ))
        })?;
        let staged = receive::receive(
            self.d.keys.recipient.clone(),
            self.dest.staging.join(format!("{}.part", Uuid::now_v7())),
            settings.max_object_bytes,
            body,
        )
        .await?;
        if let Some(sent) = headers.get("etag").and_then(|v| v.to_str().ok()) {
            if !sent.trim_matches('"').eq_ignore_ascii_case(&staged.md5) {
                return Err(Refusal::ChecksumMismatch(staged.md5.clone()));
            }
        }
        if let Some(existing) = self.object_row(&container.name(), &name).await? {
            return same_bytes(&existing, &staged);
        }
        let blob_key = format!("axis/{}.age", Uuid::now_v7());
        custos_faults::crash_point("server:axis-before-blob");
        self.d.blobs.adopt_file(&blob_key, &staged.path).await?;
        let row = AxisObject {
            connection: self.name().to_owned(),
            container: container.name(),
            name,
            metadata: meta.to_json(),
            length: staged.length,
            sha256: staged.sha256,
            md5: staged.md5.clone(),
            blob_key: blob_key.clone(),
            age_header: staged.age_header.clone(),
            stored_at: (self.d.clock)(),
        };
        match self.d.catalog.add_axis_object(&row).await {
            Ok(()) => Ok((StatusCode::CREATED, staged.md5.clone())),
            Err(e) => {
                // Nothing names the blob: it goes, and the refusal says why.
                let _ = self.d.blobs.delete(&blob_key).await;
                match e {
                    CatalogError::AlreadyExists { .. } => {
                        let existing = self
                            .object_row(&row.container, &row.name)
                            .await?
                            .ok_or_else(|| Refusal::Unavailable("object vanished".into()))?;
                        same_bytes(&existing, &staged)
                    }
                    CatalogError::NotFound { .. } => Err(Refusal::Forbidden(
                        "complete",
                        "the recording was completed while the object arrived".into(),
                    )),
                    other => Err(other.into()),
                }
            }
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
        let name = object_name(object, raw);
        self.open_container(container).await?;
        if self.object_row(&container.name(), &name).await?.is_none() {
            return Err(Refusal::NotFound(format!("object `{name}`")));
        }
        match self
            .d
            .catalog
            .set_axis_object_metadata(self.name(), &container.name(), &name, &meta.to_json())
            .await
        {
            Ok(()) => Ok(StatusCode::ACCEPTED),
            Err(CatalogError::NotFound { .. }) => Err(Refusal::Forbidden(
                "complete",
                "the recording was completed meanwhile".into(),
            )),
            Err(e) => Err(e.into()),
        }
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
            Head {
                headers: stored(&row.metadata)?.headers(Carrier::Object),
            },
            row.length,
            row.md5,
        ))
    }
}

/// A second `PUT` of a stored object: the same bytes again (an answer that
/// was lost) is fine; other bytes never replace evidence.
fn same_bytes(
    existing: &AxisObject,
    staged: &receive::Staged,
) -> Result<(StatusCode, String), Refusal> {
    if existing.sha256 == staged.sha256 && existing.length == staged.length {
        Ok((StatusCode::CREATED, existing.md5.clone()))
    } else {
        Err(Refusal::NeverStorable(
            "object-exists",
            "an object of this name is stored with other bytes; Custos keeps the first".into(),
        ))
    }
}
