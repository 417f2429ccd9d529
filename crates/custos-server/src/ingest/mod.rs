//! Verified ingest, independent of HTTP: a dock offers a signed manifest,
//! sends the ciphertext in resumable pieces, and asks to complete. The
//! server refuses what is bad (recording an integrity incident), keeps what
//! is good, stores it durably, and only then signs a receipt.

mod append;
mod complete;
mod gaps;
mod offer;

pub(crate) use complete::write_prefix;
pub use complete::{age_header_length, fuzz_upload_header, read_age_header};

use std::io::{BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;

use custos_audit::{AuditEvent, Outcome};
use custos_blobs::{BlobError, BlobStore};
use custos_catalog::Tombstone;
use custos_catalog::{Catalog, CatalogError, IncidentKind, NewIncident, Recording, Upload};
use custos_format::verify::{check_chain, digest_reader, ChainFinding};
use custos_format::{
    DeletionReceipt, Receipt, SignedDeletionReceipt, SignedManifest, SignedReceipt, VerifyingKey,
};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::audit::AuditLog;
use crate::error::Code;
use crate::keys::ServerKeys;
use crate::Clock;

/// A refusal or failure, with the stable code clients see.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("camera `{0}` is not enrolled")]
    UnknownCamera(String),
    #[error("camera `{0}` is revoked")]
    RevokedCamera(String),
    #[error("manifest refused: {0}")]
    MalformedManifest(String),
    #[error("the manifest's signature does not verify with the enrolled key of `{0}`")]
    BadSignature(String),
    #[error("the recording is encrypted to another key than this deployment's evidence key")]
    WrongEvidenceKey,
    #[error("sequence {sequence} of `{device}` does not link to its neighbour: {detail}")]
    BrokenChain {
        device: String,
        sequence: u64,
        detail: String,
    },
    #[error("recording replayed: {0}")]
    Replay(String),
    /// The recording was stored once and deleted for good: never again.
    #[error(
        "recording {0} was deleted at the end of its retention period; it is not stored again"
    )]
    RecordingDeleted(Uuid),
    #[error("no upload `{0}`")]
    UploadNotFound(Uuid),
    #[error("upload is at offset {current}, not {claimed}")]
    OffsetMismatch { current: u64, claimed: u64 },
    /// Another request is writing this upload now: one writer at a time,
    /// or two pieces at one offset would both be kept.
    #[error("upload is being written by another request (at offset {current})")]
    UploadBusy { current: u64 },
    #[error("upload would exceed the manifest's ciphertext length {length}")]
    TooLarge { length: u64 },
    #[error("upload incomplete: {have} of {length} bytes")]
    Incomplete { have: u64, length: u64 },
    #[error("the uploaded ciphertext does not match the manifest ({0})")]
    CiphertextMismatch(String),
    #[error("the server's storage is full")]
    StorageFull,
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

impl IngestError {
    /// Stable machine-readable code (docs/PROTOCOL.md).
    pub fn code(&self) -> Code {
        match self {
            Self::UnknownCamera(_) => Code::CameraUnknown,
            Self::RevokedCamera(_) => Code::CameraRevoked,
            Self::MalformedManifest(_) => Code::MalformedManifest,
            Self::BadSignature(_) => Code::BadSignature,
            Self::WrongEvidenceKey => Code::WrongEvidenceKey,
            Self::BrokenChain { .. } => Code::BrokenChain,
            Self::Replay(_) => Code::Replay,
            Self::RecordingDeleted(_) => Code::RecordingDeleted,
            Self::UploadNotFound(_) => Code::UploadNotFound,
            Self::OffsetMismatch { .. } => Code::OffsetMismatch,
            Self::UploadBusy { .. } => Code::UploadBusy,
            Self::TooLarge { .. } => Code::TooLarge,
            Self::Incomplete { .. } => Code::Incomplete,
            Self::CiphertextMismatch(_) => Code::CiphertextMismatch,
            Self::StorageFull => Code::StorageFull,
            Self::Unavailable(_) => Code::StorageUnavailable,
        }
    }

    /// True when re-sending the same recording can never succeed: the dock
    /// keeps it on the camera and reports it refused.
    pub fn is_permanent(&self) -> bool {
        !matches!(
            self,
            Self::OffsetMismatch { .. }
                | Self::UploadBusy { .. }
                | Self::Incomplete { .. }
                | Self::UploadNotFound(_)
                | Self::StorageFull
                | Self::Unavailable(_)
        )
    }
}

impl From<CatalogError> for IngestError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Full(_) => IngestError::StorageFull,
            e => IngestError::Unavailable(e.to_string()),
        }
    }
}

impl From<BlobError> for IngestError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Io(io) => io.into(),
            other => IngestError::Unavailable(other.to_string()),
        }
    }
}

impl From<std::io::Error> for IngestError {
    fn from(e: std::io::Error) -> Self {
        if custos_blobs::is_out_of_space(&e) {
            IngestError::StorageFull
        } else {
            IngestError::Unavailable(e.to_string())
        }
    }
}

/// What a dock learns when it offers a recording.
#[derive(Debug)]
pub enum Offer {
    /// Already stored: here is its receipt (identical to the first one).
    Stored(Box<SignedReceipt>),
    /// Stored once and deleted for good: nothing is stored, and this
    /// receipt lets the camera wipe its copy.
    Deleted(Box<SignedDeletionReceipt>),
    /// Send the ciphertext from `offset` (0, or where an earlier try stopped).
    Upload {
        upload_id: Uuid,
        offset: u64,
        length: u64,
    },
}

pub struct Ingest {
    catalog: Arc<dyn Catalog>,
    blobs: BlobStore,
    staging: PathBuf,
    keys: Arc<ServerKeys>,
    server_id: String,
    settings: Arc<crate::settings::LiveSettings>,
    clock: Clock,
    audit: AuditLog,
    /// SHA-256 state of uploads in progress: (bytes hashed, state).
    hashers: std::sync::Mutex<std::collections::HashMap<Uuid, (u64, Sha256)>>,
    /// Uploads a request is writing or completing now.
    writing: std::sync::Mutex<std::collections::HashSet<Uuid>>,
    /// Staging files found without an upload row at the last maintenance
    /// round: removed if still without one at the next.
    orphans: std::sync::Mutex<std::collections::HashSet<Uuid>>,
}

/// Where and under which rules ingest works.
pub struct IngestSettings {
    /// Partial uploads live here until they are complete.
    pub staging: PathBuf,
    pub server_id: String,
    /// Retention periods as they are when each recording arrives.
    pub settings: Arc<crate::settings::LiveSettings>,
    pub clock: Clock,
}

impl Ingest {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        blobs: BlobStore,
        keys: Arc<ServerKeys>,
        audit: AuditLog,
        settings: IngestSettings,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.staging)?;
        Ok(Self {
            catalog,
            blobs,
            staging: settings.staging,
            keys,
            server_id: settings.server_id,
            settings: settings.settings,
            clock: settings.clock,
            audit,
            hashers: Default::default(),
            writing: Default::default(),
            orphans: Default::default(),
        })
    }

    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// The camera's retention category and its period. A category the
    /// running server does not define (set from the command line while it
    /// runs) gets the default period; a restart refuses to start until the
    /// deployment defines it.
    async fn retention_for(&self, device_id: &str) -> Result<(String, i64), IngestError> {
        let category = self
            .catalog
            .device(device_id)
            .await?
            .map(|d| d.retention_category)
            .unwrap_or_else(|| crate::retention::STANDARD_CATEGORY.into());
        let retention = self.settings.retention();
        match retention.period(&category) {
            Some(period) => Ok((category, period)),
            None => {
                tracing::warn!(
                    category = %category.escape_default(),
                    "camera in an undefined retention category: default period used"
                );
                Ok((
                    crate::retention::STANDARD_CATEGORY.into(),
                    retention.default_millis,
                ))
            }
        }
    }

    pub fn receipt_public(&self) -> VerifyingKey {
        self.keys.receipt_public()
    }

    /// Forgets uploads begun more than `max_age_millis` ago and never
    /// completed: their partial files would otherwise stay forever. Safe,
    /// because a camera keeps a recording until it holds a receipt; a later
    /// docking offers it again from the start.
    pub async fn expire_abandoned(&self, max_age_millis: i64) -> Result<usize, IngestError> {
        let now = (self.clock)();
        let stale = self
            .catalog
            .uploads_begun_before(now.plus_millis(-max_age_millis))
            .await?;
        for upload in &stale {
            let event = AuditEvent::new(now, "system:server", "upload.expire", Outcome::Ok)
                .object(format!("upload:{}", upload.upload_id))
                .detail(format!(
                    "begun {} by dock {}",
                    upload.created_at, upload.dock_id
                ));
            if let Err(e) = self.audit.record(event).await {
                tracing::error!(error = %e, "could not write an audit entry");
            }
            self.catalog.delete_upload(upload.upload_id).await?;
            match std::fs::remove_file(self.staging_path(upload.upload_id)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            self.hashers
                .lock()
                .expect("hasher map poisoned")
                .remove(&upload.upload_id);
        }
        if !stale.is_empty() {
            tracing::info!(count = stale.len(), "abandoned uploads expired");
        }
        self.remove_orphaned_staging().await?;
        Ok(stale.len())
    }

    /// At start, before this node takes requests, no staging file can be
    /// waiting for its row: every one no upload names goes at once (a
    /// kill -9 between creating the file and committing its row leaves one).
    pub async fn remove_orphaned_staging_at_start(&self) -> Result<usize, IngestError> {
        // Two rounds back to back: nothing can be created in between.
        self.remove_orphaned_staging().await?;
        self.remove_orphaned_staging().await
    }

    /// Staging files no upload row names any more (their row went with a
    /// deleted recording, or a crash came between the two) still hold a
    /// recording's age header, i.e. its key: they go. A file is created
    /// just before its row, so one is removed only when it was orphaned at
    /// the previous round too. Returns how many were removed.
    pub async fn remove_orphaned_staging(&self) -> Result<usize, IngestError> {
        let mut found = std::collections::HashSet::new();
        let mut entries = tokio::fs::read_dir(&self.staging).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some(id) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".part"))
                .and_then(|n| Uuid::parse_str(n).ok())
            else {
                continue;
            };
            if self.catalog.upload(id).await?.is_none() {
                found.insert(id);
            }
        }
        let earlier = std::mem::replace(
            &mut *self
                .orphans
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            found.clone(),
        );
        let mut removed = 0;
        for id in found.intersection(&earlier) {
            match tokio::fs::remove_file(self.staging_path(*id)).await {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            self.hashers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(id);
        }
        if removed > 0 {
            let event = AuditEvent::new(
                (self.clock)(),
                "system:server",
                "upload.orphans-remove",
                Outcome::Ok,
            )
            .detail(format!("{removed} staging files without an upload"));
            if let Err(e) = self.audit.record(event).await {
                tracing::error!(error = %e, "could not write an audit entry");
            }
            tracing::info!(count = removed, "orphaned staging files removed");
        }
        Ok(removed)
    }

    /// This deployment's name in receipts and packages.
    pub fn server_id(&self) -> &str {
        &self.server_id
    }

    /// Where files are staged before they become blobs (ciphertext only).
    pub fn staging_dir(&self) -> &std::path::Path {
        &self.staging
    }

    fn staging_path(&self, upload_id: Uuid) -> PathBuf {
        self.staging.join(format!("{upload_id}.part"))
    }

    async fn incident(
        &self,
        kind: IncidentKind,
        dock: &str,
        m: Option<&SignedManifest>,
        device: Option<&str>,
        detail: String,
    ) {
        let incident = NewIncident {
            kind,
            device_id: m
                .map(|m| m.manifest().device_id.clone())
                .or(device.map(str::to_owned)),
            dock_id: Some(dock.to_owned()),
            sequence: m.map(|m| m.manifest().sequence),
            recording_id: m.map(|m| m.manifest().recording_id),
            detail,
        };
        self.record_incident(dock, incident).await;
    }

    async fn record_incident(&self, dock: &str, incident: NewIncident) {
        let kind = incident.kind;
        let at = (self.clock)();
        let object = match (&incident.recording_id, &incident.device_id) {
            (Some(r), _) => format!("recording:{r}"),
            (None, Some(d)) => format!("camera:{d}"),
            (None, None) => format!("dock:{dock}"),
        };
        let event = AuditEvent::new(at, format!("dock:{dock}"), "incident.record", Outcome::Ok)
            .object(object)
            .detail(kind.as_str());
        if let Err(e) = self.audit.record(event).await {
            tracing::error!(error = %e, "could not write an audit entry");
        }
        // A refused recording is offered again at every docking: one
        // incident per kind and recording, counting its sightings.
        if let Err(e) = self.catalog.sight_incident(&incident, at).await {
            tracing::error!(error = %e, "could not record an integrity incident");
        }
        tracing::warn!(kind = kind.as_str(), "integrity incident");
    }

    /// Ingest goes on when the audit log cannot be written: refusing would
    /// only keep footage longer on a camera. The failure is logged loudly.
    async fn audit(
        &self,
        dock: &str,
        action: &str,
        object: String,
        outcome: Outcome,
        detail: String,
    ) {
        let mut event =
            AuditEvent::new((self.clock)(), format!("dock:{dock}"), action, outcome).object(object);
        if !detail.is_empty() {
            event = event.detail(detail);
        }
        if let Err(e) = self.audit.record(event).await {
            tracing::error!(error = %e, "could not write an audit entry");
        }
    }
}

fn parse_stored(upload: &Upload) -> Result<SignedManifest, IngestError> {
    SignedManifest::parse(&upload.manifest, &upload.manifest_signature)
        .map_err(|e| IngestError::Unavailable(format!("stored manifest: {e}")))
}
