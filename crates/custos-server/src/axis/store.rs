//! What each request of the Swift subset does to the catalog and the blob
//! store, on behalf of one connection. Nothing already stored is lost or
//! changed by a refusal: a recording's container is changed only while it
//! is open, an object is never replaced by other bytes, and
//! `Status=Complete` is taken only when the recording is whole.

use axum::http::{HeaderMap, StatusCode};
use custos_axis::metadata::{Carrier, Metadata};
use custos_axis::names::{Container, Object};
use custos_axis::recording::RecordingFacts;
use custos_catalog::{AxisContainer, AxisObject, CatalogError};
use uuid::Uuid;

use super::auth::Connection;
use super::{Destination, Refusal};
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

pub(super) fn stored(json: &str) -> Result<Metadata, Refusal> {
    Metadata::from_json(json)
        .map_err(|e| Refusal::Unavailable(format!("stored Axis metadata does not read: {e}")))
}

/// A recording untouched this long no longer counts as in transfer (the
/// controller gave up on it, after a `400` say).
const ACTIVE_MILLIS: i64 = 24 * 3_600_000;
/// Merges tried against concurrent updates of one container's metadata.
const MERGE_TRIES: usize = 8;

/// Metadata headers as `HEAD` gives them back.
pub(super) type Head = Vec<(String, String)>;

impl Account<'_> {
    pub(super) fn name(&self) -> &str {
        &self.connection.0
    }

    pub(super) async fn container(&self, name: &str) -> Result<AxisContainer, Refusal> {
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
        let now = (self.d.clock)();
        if let Container::Recording(_) = container {
            let since = now.plus_millis(-ACTIVE_MILLIS);
            let open = self
                .d
                .catalog
                .open_axis_containers(self.name(), since)
                .await?;
            if open >= self.dest.settings.open_containers {
                return Err(Refusal::Busy(format!(
                    "{open} recordings of this connection are in transfer"
                )));
            }
            if meta.is_complete() {
                self.check_whole(container, &meta).await?;
            }
        }
        let row = AxisContainer {
            connection: self.name().to_owned(),
            name: name.clone(),
            // Rejected content is kept apart until someone looks at it: it
            // becomes no recording by itself.
            recording_id: matches!(container, Container::Recording(_)).then(Uuid::now_v7),
            metadata: meta.to_json(),
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        match self.d.catalog.add_axis_container(&row).await {
            Ok(()) => Ok(StatusCode::CREATED),
            // Made by a request of the same moment: this one updates it.
            Err(CatalogError::AlreadyExists { .. }) => {
                let existing = self.container(&name).await?;
                self.update_container(container, existing, &meta).await?;
                Ok(StatusCode::ACCEPTED)
            }
            Err(e) => Err(e.into()),
        }
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

    /// `newer` merged into the container's metadata, as often as a
    /// concurrent update makes it necessary; a recording's `Complete`
    /// taken only when the recording is whole.
    async fn update_container(
        &self,
        container: &Container,
        mut existing: AxisContainer,
        newer: &Metadata,
    ) -> Result<(), Refusal> {
        for _ in 0..MERGE_TRIES {
            let old = stored(&existing.metadata)?;
            let mut merged = old.clone();
            merged.update(newer)?;
            if existing.completed_at.is_some() {
                // A repeated `Complete` (its answer lost) changes nothing and
                // is fine; anything else would change a finished recording.
                return if merged == old {
                    Ok(())
                } else {
                    Err(Refusal::Forbidden(
                        "complete",
                        "the recording is complete; nothing in it changes any more".into(),
                    ))
                };
            }
            if merged == old {
                return Ok(());
            }
            let now = (self.d.clock)();
            // Only a recording completes: `Status` on `Users` or `System` is
            // just a value, and they stay open for new users and systems.
            let completes = matches!(container, Container::Recording(_)) && merged.is_complete();
            let done = if completes {
                self.complete(container, &existing, &merged, now).await?
            } else {
                self.d
                    .catalog
                    .update_axis_container(
                        self.name(),
                        &existing.name,
                        &existing.metadata,
                        &merged.to_json(),
                        now,
                        None,
                    )
                    .await
            };
            match done {
                Ok(()) => return Ok(()),
                // Changed by a request of the same moment: read and merge again.
                Err(CatalogError::Conflict(_) | CatalogError::NotFound { .. }) => {
                    existing = self.container(&existing.name).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Refusal::Busy(
            "the container's metadata is being changed by other requests".into(),
        ))
    }

    /// A recording is complete only with a clip and with metadata that
    /// says when it was made, by whom and with what.
    async fn check_whole(
        &self,
        container: &Container,
        merged: &Metadata,
    ) -> Result<RecordingFacts, Refusal> {
        let Container::Recording(name) = container else {
            return Err(Refusal::Unavailable("only a recording completes".into()));
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
        Ok(RecordingFacts::read(name, merged, (self.d.clock)())?)
    }

    /// `Complete`: the container closes and, in the same transaction, the
    /// recording is made (and its camera, on its first recording). The
    /// inner result is the catalog's, for the caller to merge again on a
    /// conflict.
    async fn complete(
        &self,
        container: &Container,
        existing: &AxisContainer,
        merged: &Metadata,
        now: custos_format::UtcMillis,
    ) -> Result<Result<(), CatalogError>, Refusal> {
        let Container::Recording(name) = container else {
            return Err(Refusal::Unavailable("only a recording completes".into()));
        };
        let facts = self.check_whole(container, merged).await?;
        let objects = self
            .d
            .catalog
            .axis_objects(self.name(), &existing.name)
            .await?;
        let user = self.object_row("Users", &name.user.to_string()).await?;
        let camera = self.d.catalog.device(&name.serial).await?;
        // A camera an administrator revoked (lost, stolen) stores nothing
        // more; the controller keeps the recording for download.
        if camera
            .as_ref()
            .is_some_and(|c| c.kind == custos_catalog::DeviceKind::Axis && c.revoked_at.is_some())
        {
            return Err(Refusal::NeverStorable(
                "device-revoked",
                format!("camera `{}` was revoked in Custos", name.serial),
            ));
        }
        let completing = super::recordings::Completing {
            container: existing,
            merged,
            facts: &facts,
            objects: &objects,
            user: user.as_ref(),
            camera: camera.as_ref(),
        };
        let completion =
            super::recordings::completion(self.d, completing, now).ok_or_else(|| {
                Refusal::Unavailable("a recording's container has no recording id".into())
            })?;
        match self
            .d
            .catalog
            .complete_axis_recording(self.name(), &completion, now)
            .await
        {
            Ok(recording) => {
                tracing::info!(
                    device = %recording.device_id.escape_default(),
                    sequence = recording.sequence,
                    "Axis recording complete"
                );
                super::gaps::check(self.d, &recording).await;
                super::signed::check(self.d, &recording).await;
                super::trail::read(self.d, recording.recording_id).await;
                Ok(Ok(()))
            }
            Err(CatalogError::AlreadyExists { .. }) => Err(Refusal::NeverStorable(
                "device-clash",
                format!(
                    "camera `{}` is a Custos camera's id: an administrator must resolve the clash",
                    name.serial
                ),
            )),
            Err(e) => Ok(Err(e)),
        }
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
        Ok(headers)
    }

    pub(super) async fn object_row(
        &self,
        container: &str,
        name: &str,
    ) -> Result<Option<AxisObject>, Refusal> {
        Ok(self
            .d
            .catalog
            .axis_object(self.name(), container, name)
            .await?)
    }
}
