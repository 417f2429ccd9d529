//! Verified ingest, independent of HTTP: a dock offers a signed manifest,
//! sends the ciphertext in resumable pieces, and asks to complete. The
//! server refuses what is bad (recording an integrity incident), keeps what
//! is good, stores it durably, and only then signs a receipt.

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

    /// A dock offers a recording: its manifest and the camera's signature.
    pub async fn offer(
        &self,
        dock: &str,
        manifest: &[u8],
        signature: &[u8],
    ) -> Result<Offer, IngestError> {
        let result = self.offer_inner(dock, manifest, signature).await;
        let target = SignedManifest::parse(manifest, signature)
            .map(|m| format!("recording:{}", m.manifest().recording_id))
            .unwrap_or_else(|_| "(unparsable manifest)".into());
        match &result {
            Ok(Offer::Stored(_)) => {
                self.audit(
                    dock,
                    "ingest.offer",
                    target,
                    Outcome::Ok,
                    "already stored".into(),
                )
                .await
            }
            Ok(Offer::Deleted(_)) => {
                self.audit(
                    dock,
                    "ingest.offer",
                    target,
                    Outcome::Refused,
                    "recording-deleted: answered with a deletion receipt".into(),
                )
                .await
            }
            Ok(Offer::Upload { offset, .. }) => {
                self.audit(
                    dock,
                    "ingest.offer",
                    target,
                    Outcome::Ok,
                    format!("upload from {offset}"),
                )
                .await
            }
            Err(e) => {
                self.audit(
                    dock,
                    "ingest.offer",
                    target,
                    Outcome::Refused,
                    e.code().as_str().into(),
                )
                .await
            }
        }
        result
    }

    async fn offer_inner(
        &self,
        dock: &str,
        manifest: &[u8],
        signature: &[u8],
    ) -> Result<Offer, IngestError> {
        let signed = match SignedManifest::parse(manifest, signature) {
            Ok(s) => s,
            Err(e) => {
                // It names no recording the server can trust; the hash of
                // what was offered makes the same bytes docked again the
                // same incident, counted, not a new one per docking.
                let offered = hex::encode(&Sha256::digest(manifest)[..8]);
                self.incident(
                    IncidentKind::MalformedManifest,
                    dock,
                    None,
                    None,
                    format!("manifest sha256 {offered}…: {e}"),
                )
                .await;
                return Err(IngestError::MalformedManifest(e.to_string()));
            }
        };
        let m = signed.manifest();
        let device = match self.catalog.device(&m.device_id).await? {
            Some(d) if d.revoked_at.is_none() => d,
            found => {
                let revoked = found.is_some();
                let what = if revoked {
                    "revoked camera"
                } else {
                    "unknown camera"
                };
                self.incident(
                    IncidentKind::UnknownOrRevoked,
                    dock,
                    Some(&signed),
                    None,
                    what.into(),
                )
                .await;
                return Err(if revoked {
                    IngestError::RevokedCamera(m.device_id.clone())
                } else {
                    IngestError::UnknownCamera(m.device_id.clone())
                });
            }
        };
        let key = VerifyingKey::from_hex(&device.public_key)
            .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        if signed.verify(&key).is_err() {
            self.incident(
                IncidentKind::BadSignature,
                dock,
                Some(&signed),
                None,
                "signature does not verify".into(),
            )
            .await;
            return Err(IngestError::BadSignature(m.device_id.clone()));
        }
        // A validly signed manifest says how far the camera got: numbers
        // before it that never arrived are a gap now, whatever becomes of
        // this recording's payload.
        self.gap_seen(dock, &signed).await?;
        if m.encryption.recipient != self.keys.recipient.to_string() {
            self.incident(
                IncidentKind::WrongEvidenceKey,
                dock,
                Some(&signed),
                None,
                format!("encrypted to {}", m.encryption.recipient),
            )
            .await;
            return Err(IngestError::WrongEvidenceKey);
        }
        // Seen before: the same bytes get the same receipt; other bytes are a replay.
        if let Some(existing) = self.catalog.recording(m.recording_id).await? {
            return self.same_or_replay(dock, &signed, existing).await;
        }
        if let Some(existing) = self
            .catalog
            .recording_by_sequence(&m.device_id, m.sequence)
            .await?
        {
            return self.same_or_replay(dock, &signed, existing).await;
        }
        // Deleted is final: a copy that comes back after the retention sweep
        // (a dock died before the receipt reached the camera, a camera was
        // copied) is refused before a byte is stored, or the deleted key
        // would be stored again and the crypto-shredding undone. Looked for
        // after the recording: a sweep only turns a recording into a
        // tombstone, so none can slip between the two reads unseen.
        if let Some(t) = self.catalog.tombstone(m.recording_id).await? {
            return self.deleted_or_replay(dock, &signed, t).await;
        }
        if let Some(t) = self
            .catalog
            .tombstone_by_sequence(&m.device_id, m.sequence)
            .await?
        {
            return self.deleted_or_replay(dock, &signed, t).await;
        }
        self.check_links(dock, &signed).await?;
        if let Some(upload) = self.catalog.upload_for_recording(m.recording_id).await? {
            if upload.manifest != manifest {
                self.incident(
                    IncidentKind::Replay,
                    dock,
                    Some(&signed),
                    None,
                    "a different manifest for a recording being uploaded".into(),
                )
                .await;
                return Err(IngestError::Replay(
                    "another manifest with this recording id is being uploaded".into(),
                ));
            }
            // The camera moved to this dock mid-upload: the upload moves
            // with it, and the dock it left can no longer write to it.
            if upload.dock_id != dock {
                self.catalog.move_upload(upload.upload_id, dock).await?;
                self.audit(
                    dock,
                    "upload.move",
                    format!("upload:{}", upload.upload_id),
                    Outcome::Ok,
                    format!("from dock {}", upload.dock_id),
                )
                .await;
            }
            let offset = tokio::fs::metadata(self.staging_path(upload.upload_id))
                .await
                .map(|md| md.len())
                .unwrap_or(0);
            return Ok(Offer::Upload {
                upload_id: upload.upload_id,
                offset,
                length: m.ciphertext.length,
            });
        }
        let upload = Upload {
            upload_id: Uuid::now_v7(),
            recording_id: m.recording_id,
            device_id: m.device_id.clone(),
            sequence: m.sequence,
            manifest: manifest.to_vec(),
            manifest_signature: signature.to_vec(),
            dock_id: dock.into(),
            created_at: (self.clock)(),
            age_header: None,
        };
        // The staging file exists before the row that names it.
        tokio::fs::File::create(self.staging_path(upload.upload_id)).await?;
        match self.catalog.create_upload(&upload).await {
            Ok(()) => Ok(Offer::Upload {
                upload_id: upload.upload_id,
                offset: 0,
                length: m.ciphertext.length,
            }),
            // Two docks offered the same recording at once: join the other upload.
            Err(CatalogError::AlreadyExists { .. }) => {
                let _ = tokio::fs::remove_file(self.staging_path(upload.upload_id)).await;
                Box::pin(self.offer_inner(dock, manifest, signature)).await
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn same_or_replay(
        &self,
        dock: &str,
        signed: &SignedManifest,
        existing: Recording,
    ) -> Result<Offer, IngestError> {
        if existing.manifest == signed.bytes() {
            let receipt = SignedReceipt::parse(&existing.receipt, &existing.receipt_signature)
                .map_err(|e| IngestError::Unavailable(format!("stored receipt: {e}")))?;
            return Ok(Offer::Stored(Box::new(receipt)));
        }
        let detail = format!(
            "sequence {} / recording {} already stored with other content",
            signed.manifest().sequence,
            signed.manifest().recording_id
        );
        self.incident(
            IncidentKind::Replay,
            dock,
            Some(signed),
            None,
            detail.clone(),
        )
        .await;
        Err(IngestError::Replay(detail))
    }

    /// An offer of a deleted recording: the same manifest gets a deletion
    /// receipt (and an incident: a copy existed outside the server); any
    /// other manifest under its id or sequence is a replay.
    async fn deleted_or_replay(
        &self,
        dock: &str,
        signed: &SignedManifest,
        tombstone: Tombstone,
    ) -> Result<Offer, IngestError> {
        let m = signed.manifest();
        if tombstone.manifest_sha256 != signed.sha256() {
            let detail = format!(
                "sequence {} / recording {} was deleted and had other content",
                m.sequence, m.recording_id
            );
            self.incident(
                IncidentKind::Replay,
                dock,
                Some(signed),
                None,
                detail.clone(),
            )
            .await;
            return Err(IngestError::Replay(detail));
        }
        self.incident(
            IncidentKind::DeletedOffered,
            dock,
            Some(signed),
            None,
            format!(
                "deleted at {} ({}); a copy was offered again and wiped",
                tombstone.deleted_at, tombstone.reason
            ),
        )
        .await;
        // Tombstone reasons are identifiers; anything else still gets a
        // receipt the format accepts, so the camera can let go.
        let reason = if custos_format::manifest::check_identifier(&tombstone.reason).is_ok() {
            tombstone.reason.as_str()
        } else {
            "deleted"
        };
        let receipt = SignedDeletionReceipt::sign(
            DeletionReceipt::for_manifest(signed, tombstone.deleted_at, reason, &self.server_id),
            &self.keys.receipt,
        )
        .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        Ok(Offer::Deleted(Box::new(receipt)))
    }

    /// The manifest must link to a stored predecessor and be linked to by a
    /// stored successor. Missing neighbours are gaps, recorded at commit.
    async fn check_links(&self, dock: &str, signed: &SignedManifest) -> Result<(), IngestError> {
        let m = signed.manifest();
        let broken = |detail: String| IngestError::BrokenChain {
            device: m.device_id.clone(),
            sequence: m.sequence,
            detail,
        };
        if m.sequence > 1 {
            if let Some(prev) = self
                .catalog
                .recording_by_sequence(&m.device_id, m.sequence - 1)
                .await?
            {
                if check_chain(
                    Some((prev.sequence, prev.manifest_sha256)),
                    std::slice::from_ref(signed),
                )
                .contains(&ChainFinding::BrokenLink {
                    sequence: m.sequence,
                }) {
                    let e = broken("does not name the stored predecessor's manifest hash".into());
                    self.incident(
                        IncidentKind::BrokenChain,
                        dock,
                        Some(signed),
                        None,
                        e.to_string(),
                    )
                    .await;
                    return Err(e);
                }
            }
        }
        if let Some(next) = self
            .catalog
            .recording_by_sequence(&m.device_id, m.sequence + 1)
            .await?
        {
            let next = SignedManifest::parse(&next.manifest, &next.manifest_signature)
                .map_err(|e| IngestError::Unavailable(format!("stored manifest: {e}")))?;
            if next.manifest().previous_manifest_sha256 != signed.sha256() {
                let e = broken("the stored successor names another predecessor".into());
                self.incident(
                    IncidentKind::BrokenChain,
                    dock,
                    Some(signed),
                    None,
                    e.to_string(),
                )
                .await;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Where an upload stands: (offset, length). Only the dock sending it
    /// learns it; to any other the upload does not exist.
    pub async fn status(&self, dock: &str, upload_id: Uuid) -> Result<(u64, u64), IngestError> {
        let upload = self.upload_of(dock, upload_id).await?;
        let length = parse_stored(&upload)?.manifest().ciphertext.length;
        Ok((self.staged_length(upload_id).await, length))
    }

    async fn upload_of(&self, dock: &str, upload_id: Uuid) -> Result<Upload, IngestError> {
        self.catalog
            .upload(upload_id)
            .await?
            .filter(|u| u.dock_id == dock)
            .ok_or(IngestError::UploadNotFound(upload_id))
    }

    async fn staged_length(&self, upload_id: Uuid) -> u64 {
        tokio::fs::metadata(self.staging_path(upload_id))
            .await
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// One request at a time writes or completes an upload.
    async fn claim(&self, upload_id: Uuid) -> Result<Writing<'_>, IngestError> {
        let claimed = self
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(upload_id);
        if !claimed {
            return Err(IngestError::UploadBusy {
                current: self.staged_length(upload_id).await,
            });
        }
        Ok(Writing {
            ingest: self,
            upload_id,
        })
    }

    /// Appends a piece of ciphertext at `offset`. Whatever arrives before a
    /// connection breaks is kept, so the next try resumes after it.
    pub async fn append<S, E>(
        &self,
        dock: &str,
        upload_id: Uuid,
        offset: u64,
        mut body: S,
    ) -> Result<u64, IngestError>
    where
        S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        // Whose it is first: another dock learns nothing, not even "busy".
        self.upload_of(dock, upload_id).await?;
        let _writing = self.claim(upload_id).await?;
        let (current, length) = self.status(dock, upload_id).await?;
        if current != offset {
            return Err(IngestError::OffsetMismatch {
                current,
                claimed: offset,
            });
        }
        // Hash as the bytes arrive, so completing needs no second read; the
        // state is kept only while it matches the staged bytes exactly.
        let hasher = {
            let mut hashers = self
                .hashers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match hashers.remove(&upload_id) {
                Some((at, h)) if at == current => Some(h),
                _ if current == 0 => Some(Sha256::new()),
                _ => None,
            }
        };
        // Hashing and writing run on their own thread, fed the received
        // buffers without copying: the connection task only decrypts and frames.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(32);
        let path = self.staging_path(upload_id);
        let writer =
            tokio::task::spawn_blocking(move || -> (std::io::Result<()>, Option<Sha256>) {
                use std::io::Write;
                let mut hasher = hasher;
                // Created if missing: a crash may have moved it into blob storage
                // before the catalog row was committed; the upload then starts over.
                let file = match std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                {
                    Ok(f) => f,
                    Err(e) => return (Err(e), None),
                };
                // 256 KiB per upload in flight keeps memory bounded at a shift change.
                let mut file = std::io::BufWriter::with_capacity(256 << 10, file);
                while let Some(chunk) = rx.blocking_recv() {
                    if custos_faults::disk_full("ingest:staging") {
                        return (Err(std::io::ErrorKind::StorageFull.into()), None);
                    }
                    if let Err(e) = file.write_all(&chunk) {
                        return (Err(e), None);
                    }
                    if let Some(h) = &mut hasher {
                        h.update(&chunk);
                    }
                    custos_faults::crash_point("server:append");
                }
                (file.flush(), hasher)
            });
        let mut position = current;
        let mut writer_failed = false;
        let outcome = loop {
            let Some(chunk) = body.next().await else {
                break Ok(());
            };
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => break Err(IngestError::Unavailable(format!("upload interrupted: {e}"))),
            };
            if position + chunk.len() as u64 > length {
                break Err(IngestError::TooLarge { length });
            }
            position += chunk.len() as u64;
            // Once the writer has failed (a full disk, say), the rest of the
            // body is read and dropped, never more than the manifest's
            // length: a server that stops reading resets the connection, and
            // the dock would hear a broken pipe instead of `507
            // storage-full` (the fault bench found it on a real full disk).
            if !writer_failed && tx.send(chunk).await.is_err() {
                writer_failed = true; // its error is reported below
            }
        };
        drop(tx);
        let (written, hasher) = writer
            .await
            .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        match (outcome, written) {
            (Ok(()), Ok(())) => {
                if let Some(h) = hasher {
                    self.hashers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(upload_id, (position, h));
                }
                Ok(position)
            }
            (_, Err(e)) => Err(e.into()),
            (Err(e), Ok(())) => Err(e),
        }
    }

    /// Verifies the whole ciphertext, stores it durably, commits the catalog
    /// row, and signs the receipt — in that order.
    pub async fn complete(
        &self,
        dock: &str,
        upload_id: Uuid,
    ) -> Result<SignedReceipt, IngestError> {
        let result = self.complete_inner(dock, upload_id).await;
        let outcome = if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Refused
        };
        // A stored recording's entry names the recording, so its trail
        // (and an export's extract of it) shows when it arrived; a refusal
        // names the upload, which may belong to no recording at all.
        let (object, detail) = match &result {
            Ok(signed) => (
                format!("recording:{}", signed.receipt().recording_id),
                format!("upload {upload_id}"),
            ),
            Err(e) => (format!("upload:{upload_id}"), e.code().as_str().to_owned()),
        };
        self.audit(dock, "ingest.complete", object, outcome, detail)
            .await;
        result
    }

    async fn complete_inner(
        &self,
        dock: &str,
        upload_id: Uuid,
    ) -> Result<SignedReceipt, IngestError> {
        let upload = self.upload_of(dock, upload_id).await?;
        let _writing = self.claim(upload_id).await?;
        let signed = parse_stored(&upload)?;
        let m = signed.manifest().clone();
        // Deleted while this upload waited (or begun before this check
        // existed): nothing of it is kept.
        if self.catalog.tombstone(m.recording_id).await?.is_some() {
            self.discard(upload_id).await?;
            return Err(IngestError::RecordingDeleted(m.recording_id));
        }
        let staging = self.staging_path(upload_id);
        let have = tokio::fs::metadata(&staging)
            .await
            .map(|md| md.len())
            .unwrap_or(0);
        if have < m.ciphertext.length {
            return Err(IngestError::Incomplete {
                have,
                length: m.ciphertext.length,
            });
        }
        // A crash after the header was moved out of the staged file: put it
        // back, so the file is again exactly what the camera sent.
        if let Some(header) = upload.age_header.clone() {
            let path = staging.clone();
            tokio::task::spawn_blocking(move || write_prefix(&path, &header))
                .await
                .map_err(|e| IngestError::Unavailable(e.to_string()))??;
        }
        // Hash and header check off the async threads: a recording can be gigabytes.
        let keys = self.keys.clone();
        let path = staging.clone();
        let truncated = m.truncated;
        let hashed = self
            .hashers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&upload_id)
            .filter(|(at, _)| *at == have)
            .map(|(at, h)| (at, <[u8; 32]>::from(h.finalize())));
        let (length, sha256, opens) = tokio::task::spawn_blocking(
            move || -> std::io::Result<(u64, [u8; 32], Result<(), String>)> {
                // Hashed while arriving, unless the server restarted meanwhile.
                let (length, sha256) = match hashed {
                    Some(done) => done,
                    None => digest_reader(BufReader::new(std::fs::File::open(&path)?))?,
                };
                let opens = if length == 0 && truncated {
                    Ok(()) // power was lost before the first byte
                } else {
                    keys.evidence.check_opens(&path, !truncated)
                };
                Ok((length, sha256, opens))
            },
        )
        .await
        .map_err(|e| IngestError::Unavailable(e.to_string()))??;
        if length != m.ciphertext.length || sha256 != m.ciphertext.sha256 {
            let detail = if length != m.ciphertext.length {
                "length differs"
            } else {
                "SHA-256 differs"
            };
            self.incident(
                IncidentKind::CiphertextMismatch,
                dock,
                Some(&signed),
                None,
                detail.into(),
            )
            .await;
            self.discard(upload_id).await?;
            return Err(IngestError::CiphertextMismatch(detail.into()));
        }
        if let Err(e) = opens {
            self.incident(
                IncidentKind::WrongEvidenceKey,
                dock,
                Some(&signed),
                None,
                e.clone(),
            )
            .await;
            self.discard(upload_id).await?;
            return Err(IngestError::WrongEvidenceKey);
        }
        // Crypto-shredding: the age header (the wrapped file key) goes into
        // the catalog and is zeroed in the blob, so deleting one catalog row
        // makes every copy of the blob unreadable. Saved in the upload row
        // first, so a crash in between loses nothing.
        let age_header = match upload.age_header.clone() {
            Some(h) => h,
            None => {
                let path = staging.clone();
                let header = tokio::task::spawn_blocking(move || read_age_header(&path))
                    .await
                    .map_err(|e| IngestError::Unavailable(e.to_string()))??;
                self.catalog
                    .set_upload_age_header(upload_id, &header)
                    .await?;
                header
            }
        };
        {
            let (path, zeros) = (staging.clone(), vec![0u8; age_header.len()]);
            tokio::task::spawn_blocking(move || write_prefix(&path, &zeros))
                .await
                .map_err(|e| IngestError::Unavailable(e.to_string()))??;
        }
        custos_faults::crash_point("server:header-moved");
        let blob_key = format!("{}/{:08}-{}.age", m.device_id, m.sequence, m.recording_id);
        custos_faults::crash_point("server:before-blob");
        self.blobs.adopt_file(&blob_key, &staging).await?;
        custos_faults::crash_point("server:after-blob");
        let stored_at = (self.clock)();
        let (retention_category, retention_millis) = self.retention_for(&m.device_id).await?;
        let receipt = SignedReceipt::sign(
            Receipt::for_manifest(&signed, stored_at, &self.server_id),
            &self.keys.receipt,
        )
        .map_err(|e| IngestError::Unavailable(e.to_string()))?;
        let recording = Recording {
            recording_id: m.recording_id,
            device_id: m.device_id.clone(),
            sequence: m.sequence,
            officer_id: m.officer_id.clone(),
            started_at: m.started_at,
            ended_at: m.ended_at,
            truncated: m.truncated,
            ciphertext_sha256: m.ciphertext.sha256,
            ciphertext_length: m.ciphertext.length,
            manifest: signed.bytes().to_vec(),
            manifest_signature: signed.signature().to_vec(),
            manifest_sha256: signed.sha256(),
            blob_key,
            stored_at,
            receipt: receipt.bytes().to_vec(),
            receipt_signature: receipt.signature().to_vec(),
            delete_after: m.ended_at.plus_millis(retention_millis),
            age_header,
            retention_category,
        };
        match self
            .catalog
            .commit_recording(&recording, Some(upload_id))
            .await
        {
            Ok(()) => {}
            Err(CatalogError::AlreadyExists { .. }) => {
                // Completed concurrently by another request: that receipt stands.
                let stored = self
                    .catalog
                    .recording(m.recording_id)
                    .await?
                    .ok_or_else(|| IngestError::Unavailable("recording vanished".into()))?;
                let _ = tokio::fs::remove_file(&staging).await;
                return SignedReceipt::parse(&stored.receipt, &stored.receipt_signature)
                    .map_err(|e| IngestError::Unavailable(e.to_string()));
            }
            Err(e) => {
                // Deleted between the check above and the commit: the blob
                // just written must go again, with the upload row that holds
                // its header.
                if self.catalog.tombstone(m.recording_id).await?.is_some() {
                    self.blobs.delete(&recording.blob_key).await?;
                    self.discard(upload_id).await?;
                    return Err(IngestError::RecordingDeleted(m.recording_id));
                }
                return Err(e.into());
            }
        }
        custos_faults::crash_point("server:after-commit");
        let _ = tokio::fs::remove_file(&staging).await;
        tracing::info!(device = %m.device_id, sequence = m.sequence, bytes = length, "recording stored");
        Ok(receipt)
    }

    /// A dock set `signed`'s recording aside on the camera (its copy there
    /// is damaged, unreadable or does not match its receipt): one incident
    /// per recording, however often it is reported.
    /// Unlike the incidents ingest records on its way, the report's answer
    /// says whether it was recorded: a failure here is the dock's to hear.
    pub async fn report_set_aside(
        &self,
        dock: &str,
        signed: &SignedManifest,
        detail: &str,
    ) -> Result<(), IngestError> {
        let m = signed.manifest();
        let at = (self.clock)();
        let event = AuditEvent::new(at, format!("dock:{dock}"), "dock.set-aside", Outcome::Ok)
            .object(format!("recording:{}", m.recording_id))
            .detail(detail.split(':').next().unwrap_or(""));
        self.audit.record(event).await.map_err(|e| match e {
            crate::audit::AuditError::Full(_) => IngestError::StorageFull,
            e => IngestError::Unavailable(e.to_string()),
        })?;
        let incident = NewIncident {
            kind: IncidentKind::SetAsideOnCamera,
            device_id: Some(m.device_id.clone()),
            dock_id: Some(dock.to_owned()),
            sequence: Some(m.sequence),
            recording_id: Some(m.recording_id),
            detail: detail.to_owned(),
        };
        self.catalog.sight_incident(&incident, at).await?;
        tracing::warn!("recording set aside on the camera");
        // Its signed manifest says how far the camera got, as an offer's does.
        self.gap_seen(dock, signed).await
    }

    /// Records a gap when `signed` (validly signed by its enrolled camera)
    /// comes after sequence numbers the server has never stored: each named
    /// missing, or refused (with why) where an incident says the recording
    /// was offered and refused, or not at all where it was deleted. One
    /// incident per arriving recording, however often it is offered. Only
    /// refused numbers are no gap.
    async fn gap_seen(&self, dock: &str, signed: &SignedManifest) -> Result<(), IngestError> {
        let m = signed.manifest();
        let head = self
            .catalog
            .chain_head(&m.device_id)
            .await?
            .map_or(0, |h| h.sequence);
        if m.sequence <= head + 1 {
            return Ok(());
        }
        let (mut missing, mut refused, mut set_aside) = (Vec::new(), Vec::new(), Vec::new());
        let last = m.sequence - 1;
        // A camera's key could sign any number: at most this many are
        // looked at one by one, the rest are named as a range.
        let first = head + 1;
        let looked = last.min(first.saturating_add(MAX_GAP_LOOKUPS - 1));
        for s in first..=looked {
            if self
                .catalog
                .recording_by_sequence(&m.device_id, s)
                .await?
                .is_some()
                || self
                    .catalog
                    .tombstone_by_sequence(&m.device_id, s)
                    .await?
                    .is_some()
            {
                continue;
            }
            let known = self
                .catalog
                .incidents_for_recording(Uuid::nil(), &m.device_id, s, 20)
                .await?;
            let about = |i: &&custos_catalog::Incident| i.sequence == Some(s);
            if let Some(i) = known.iter().filter(about).find(|i| i.kind.is_refusal()) {
                refused.push(format!("{s} ({})", i.kind.as_str()));
            } else if known
                .iter()
                .filter(about)
                .any(|i| i.kind == IncidentKind::SetAsideOnCamera)
            {
                set_aside.push(s);
            } else {
                missing.push(s);
            }
        }
        // Refused numbers alone are no gap: the server saw them, and each
        // has its incident. Anything else not stored is, named for what it
        // is: a dock's word that it set a recording aside does not make its
        // absence less of a gap.
        let unlooked = (looked < last).then(|| looked + 1);
        let Some(from) = [missing.first(), set_aside.first(), unlooked.as_ref()]
            .into_iter()
            .flatten()
            .min()
            .copied()
        else {
            return Ok(());
        };
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("missing {}", runs(&missing).join(", ")));
        }
        if !set_aside.is_empty() {
            parts.push(format!(
                "set aside on the camera {}",
                runs(&set_aside).join(", ")
            ));
        }
        if !refused.is_empty() {
            parts.push(format!("refused {}", refused.join(", ")));
        }
        if let Some(first) = unlooked {
            parts.push(format!("{first}..={last} not looked at"));
        }
        parts.push(format!("before {}", m.sequence));
        let text = parts.join("; ");
        // About the first number not stored, so the same gap seen again from
        // a later recording is the same incident, counted.
        let gap = NewIncident {
            kind: IncidentKind::Gap,
            device_id: Some(m.device_id.clone()),
            dock_id: Some(dock.to_owned()),
            sequence: Some(from),
            recording_id: None,
            detail: text,
        };
        self.record_incident(dock, gap).await;
        Ok(())
    }

    async fn discard(&self, upload_id: Uuid) -> Result<(), IngestError> {
        self.catalog.delete_upload(upload_id).await?;
        let _ = tokio::fs::remove_file(self.staging_path(upload_id)).await;
        Ok(())
    }
}

/// An upload claimed by one request; released when the request ends,
/// however it ends.
struct Writing<'a> {
    ingest: &'a Ingest,
    upload_id: Uuid,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        self.ingest
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.upload_id);
    }
}

/// How many sequence numbers of one gap are looked up one by one.
const MAX_GAP_LOOKUPS: u64 = 1000;

/// `[2, 3, 4, 7]` as `["2..=4", "7"]`.
fn runs(numbers: &[u64]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        let mut end = start;
        while i + 1 < numbers.len() && numbers[i + 1] == end + 1 {
            i += 1;
            end = numbers[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}..={end}")
        });
        i += 1;
    }
    out
}

fn parse_stored(upload: &Upload) -> Result<SignedManifest, IngestError> {
    SignedManifest::parse(&upload.manifest, &upload.manifest_signature)
        .map_err(|e| IngestError::Unavailable(format!("stored manifest: {e}")))
}

/// The age header opens with the evidence key (and, for a complete
/// recording, its first chunk authenticates).
/// The age header's bytes: from the start to the end of its `--- MAC` line
/// (age-encryption.org/v1). Empty for an empty file (power lost at once).
pub fn read_age_header(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut start = Vec::with_capacity(4096);
    std::fs::File::open(path)?
        .take(64 * 1024)
        .read_to_end(&mut start)?;
    if start.is_empty() {
        return Ok(start);
    }
    age_header_length(&start)
        .map(|n| start[..n].to_vec())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no age header"))
}

/// Length of the age header at the start of `bytes`, if complete.
pub fn age_header_length(bytes: &[u8]) -> Option<usize> {
    if !bytes.starts_with(b"age-encryption.org/v1\n") {
        return None;
    }
    let mac_line = bytes.windows(5).position(|w| w == b"\n--- ")? + 1;
    let end = bytes[mac_line..].iter().position(|&b| b == b'\n')?;
    Some(mac_line + end + 1)
}

/// Fuzz entry point (`fuzz/fuzz_targets/upload_header.rs`): the first bytes
/// of an upload, as ingest reads them — the age header's extent, then the
/// header opened with the age crate and with our own reader (against the
/// test vectors' evidence identity) — give an error, never a panic.
#[doc(hidden)]
pub fn fuzz_upload_header(data: &[u8]) {
    use std::str::FromStr;
    let identity = age::x25519::Identity::from_str(
        "AGE-SECRET-KEY-1ZQZ2V7TN60W3KG0EVYS0DKAYQPWKKNSZ920EPE6UFL25VK8SXK2SSULX4U",
    )
    .expect("a valid identity");
    let Some(length) = age_header_length(data) else {
        return;
    };
    if let Ok(decryptor) = age::Decryptor::new(data) {
        if let Ok(mut reader) = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity))
        {
            let mut first = [0u8; 64];
            let _ = reader.read(&mut first);
        }
    }
    let mut nonce = [0u8; custos_format::payload::PAYLOAD_NONCE];
    let rest = &data[length..];
    let n = rest.len().min(nonce.len());
    nonce[..n].copy_from_slice(&rest[..n]);
    let _ = custos_format::payload::Payload::open(
        &data[..length],
        &nonce,
        data.len() as u64,
        &identity,
    );
}

/// Overwrites the first bytes of a file in place, durably.
fn write_prefix(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if bytes.is_empty() {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_are_named_as_runs() {
        assert_eq!(super::runs(&[]), Vec::<String>::new());
        assert_eq!(super::runs(&[5]), ["5"]);
        assert_eq!(super::runs(&[2, 3, 4, 7, 9, 10]), ["2..=4", "7", "9..=10"]);
    }
}
