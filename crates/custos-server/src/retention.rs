//! Retention: recordings whose period is over and that no hold keeps are
//! deleted — their key first (the age header, in the catalog: after that no
//! copy of the blob anywhere can be decrypted), then the blob — leaving a
//! content-free tombstone and an audit entry. Cost follows what is due (an
//! index on `delete_after`), not the size of the catalog. Crash-safe and
//! idempotent: a tombstone whose blob is not yet gone is finished next time.

use std::sync::Arc;

use custos_audit::{AuditEvent, NoteSigner, Outcome};
use custos_blobs::BlobStore;
use custos_catalog::{Catalog, CatalogError, Tombstone};
use custos_format::UtcMillis;

use crate::audit::{AuditError, AuditLog};

/// Recordings taken from the catalog per round.
const PAGE: u64 = 500;

/// Where the sweeper's audit entries go: the server's group-committing
/// writer, or (from the command line) straight into the catalog.
#[derive(Clone)]
pub enum AuditSink {
    Server(AuditLog),
    Direct {
        catalog: Arc<dyn Catalog>,
        signer: Arc<NoteSigner>,
    },
}

impl AuditSink {
    pub async fn record(&self, event: AuditEvent) -> Result<(), AuditError> {
        self.record_all(vec![event]).await
    }

    /// Several entries, durable together.
    pub async fn record_all(&self, events: Vec<AuditEvent>) -> Result<(), AuditError> {
        match self {
            Self::Server(log) => log.record_all(events).await,
            Self::Direct { catalog, signer } => crate::audit::append(&**catalog, signer, events)
                .await
                .map(|_| ()),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    /// Recordings deleted in this sweep.
    pub deleted: u64,
    /// Blobs of earlier, interrupted deletions removed now.
    pub finished_earlier: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Blobs(#[from] custos_blobs::BlobError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

pub async fn sweep(
    catalog: &dyn Catalog,
    blobs: &BlobStore,
    audit: &AuditSink,
    now: UtcMillis,
) -> Result<SweepReport, SweepError> {
    let mut report = SweepReport::default();
    let unfinished = catalog.tombstones_with_blob().await?;
    for t in &unfinished {
        blobs.delete(&t.blob_key).await?;
    }
    let ids: Vec<_> = unfinished.iter().map(|t| t.recording_id).collect();
    catalog.mark_blobs_deleted(&ids).await?;
    report.finished_earlier = ids.len() as u64;
    loop {
        let due = catalog.due_recordings(now, PAGE).await?;
        if due.is_empty() {
            break;
        }
        // One audit batch, one transaction and one blob pass per page: a
        // sweep of thousands pays a few fsyncs, not thousands.
        let events = due
            .iter()
            .map(|r| {
                AuditEvent::new(now, "system:sweeper", "recording.delete", Outcome::Ok)
                    .object(format!("recording:{}", r.recording_id))
                    .detail(format!("retention period ended {}", r.delete_after))
            })
            .collect();
        audit.record_all(events).await?;
        let tombstones: Vec<Tombstone> = due
            .iter()
            .map(|r| Tombstone {
                recording_id: r.recording_id,
                device_id: r.device_id.clone(),
                sequence: r.sequence,
                started_at: r.started_at,
                ended_at: r.ended_at,
                ciphertext_sha256: r.ciphertext_sha256,
                manifest_sha256: r.manifest_sha256,
                deleted_at: now,
                reason: "retention-period".into(),
                blob_key: r.blob_key.clone(),
                blob_deleted: false,
            })
            .collect();
        // Recordings deleted meanwhile by another sweeper are skipped.
        let replaced = catalog.replace_with_tombstones(&tombstones).await?;
        custos_faults::crash_point("sweeper:after-tombstones");
        for t in tombstones
            .iter()
            .filter(|t| replaced.contains(&t.recording_id))
        {
            blobs.delete(&t.blob_key).await?;
        }
        catalog.mark_blobs_deleted(&replaced).await?;
        report.deleted += replaced.len() as u64;
        if replaced.is_empty() {
            break;
        }
    }
    if report.deleted + report.finished_earlier > 0 {
        tracing::info!(
            deleted = report.deleted,
            finished = report.finished_earlier,
            "retention sweep"
        );
    }
    Ok(report)
}
