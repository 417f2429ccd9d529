//! Retention: recordings whose period is over and that no hold keeps are
//! deleted — their key first (the age header, in the catalog: after that no
//! copy of the blob anywhere can be decrypted), then the blob — leaving a
//! content-free tombstone and an audit entry. Cost follows what is due (an
//! index on `delete_after`), not the size of the catalog. Crash-safe and
//! idempotent: a tombstone whose blob is not yet gone is finished next time.

use std::sync::Arc;

use custos_audit::{AuditEvent, NoteSigner, Outcome};
use custos_blobs::BlobStore;
use custos_catalog::{
    Catalog, CatalogError, ExportStore, IncidentKind, IncidentStore, NewIncident, RetentionStore,
    Tombstone,
};
use custos_format::UtcMillis;

use crate::audit::{AuditError, AuditLog};

pub use custos_catalog::STANDARD_CATEGORY;

/// The deployment's retention periods: the default (category `standard`)
/// and named categories with their own (a training camera kept 2 days, a
/// team whose DPIA allows 14). A recording's deadline is its end plus its
/// category's period, fixed when it arrives or is moved; changing a period
/// later applies to recordings that arrive or move after the change (a
/// promise made to the people filmed is not stretched after the fact).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub default_millis: i64,
    pub categories: std::collections::BTreeMap<String, i64>,
}

impl RetentionPolicy {
    pub fn new(default_millis: i64) -> Self {
        Self {
            default_millis,
            categories: Default::default(),
        }
    }

    /// The period of `category`; `None` for a category this deployment does not define.
    pub fn period(&self, category: &str) -> Option<i64> {
        if category == STANDARD_CATEGORY {
            return Some(self.default_millis);
        }
        self.categories.get(category).copied()
    }

    /// Every category with its period (`28d`, `72h`), the standard one first.
    pub fn categories_with_periods(&self) -> Vec<(String, String)> {
        std::iter::once((STANDARD_CATEGORY.to_owned(), self.default_millis))
            .chain(self.categories.iter().map(|(n, p)| (n.clone(), *p)))
            .map(|(name, period)| (name, describe_period(period)))
            .collect()
    }

    /// `standard 28d, training 2d`: for the start-up audit entry and errors.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!(
            "{STANDARD_CATEGORY} {}",
            describe_period(self.default_millis)
        )];
        parts.extend(
            self.categories
                .iter()
                .map(|(name, period)| format!("{name} {}", describe_period(*period))),
        );
        parts.join(", ")
    }
}

fn describe_period(millis: i64) -> String {
    match millis {
        m if m % 86_400_000 == 0 => format!("{}d", m / 86_400_000),
        m if m % 3_600_000 == 0 => format!("{}h", m / 3_600_000),
        m => format!("{}m", m / 60_000),
    }
}

/// A category's name: 1–40 of `a-z`, `0-9`, `-`, starting with a letter.
pub fn check_category_name(name: &str) -> Result<(), String> {
    let ok = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}`: a retention category is 1–40 of a-z, 0-9 and -, starting with a letter",
            name.escape_default()
        ))
    }
}

/// `training=2d` as given to `--retention-category`.
pub fn parse_category(s: &str) -> Result<(String, i64), String> {
    let (name, period) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected NAME=PERIOD, e.g. training=2d"))?;
    check_category_name(name)?;
    if name == STANDARD_CATEGORY {
        return Err(format!(
            "`{STANDARD_CATEGORY}` is the default period: set it with --retention"
        ));
    }
    Ok((name.to_owned(), crate::parse_period(period)?))
}

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
    /// Export packages kept for download links that expired or were revoked.
    pub links_closed: u64,
    /// Redacted copies deleted because their source recording was.
    pub derivatives_deleted: u64,
}

/// Every blob a tombstone left (a blob already gone is fine: the sweep may
/// be finishing an earlier one's work).
async fn delete_blobs(
    blobs: &BlobStore,
    t: &custos_catalog::Tombstone,
) -> Result<(), custos_blobs::BlobError> {
    for key in &t.blob_keys {
        blobs.delete(key).await?;
    }
    Ok(())
}

/// A recording the sweep could not finish: an incident (the privacy
/// officer sees it) and an audit entry, then the sweep goes on.
async fn sweep_failed(
    catalog: &(impl IncidentStore + ?Sized),
    audit: &AuditSink,
    now: UtcMillis,
    t: &Tombstone,
    why: &str,
) -> Result<(), SweepError> {
    tracing::error!(error = %why, "the retention sweep could not delete a recording");
    let incident = NewIncident {
        kind: IncidentKind::SweepFailed,
        device_id: Some(t.device_id.clone()),
        dock_id: None,
        sequence: Some(t.sequence),
        recording_id: Some(t.recording_id),
        detail: why.to_owned(),
    };
    audit
        .record(
            AuditEvent::new(now, "system:sweeper", "recording.delete", Outcome::Failed)
                .object(format!("recording:{}", t.recording_id))
                .detail(why.to_owned()),
        )
        .await?;
    // One incident per recording, not one per round while a store is down.
    let known = catalog
        .incidents_for_recording(t.recording_id, &t.device_id, t.sequence, 1_000)
        .await?
        .iter()
        .any(|i| i.kind == IncidentKind::SweepFailed && i.recording_id == Some(t.recording_id));
    if !known {
        catalog.add_incident(&incident, now).await?;
    }
    Ok(())
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

/// What the sweeper may touch: deadlines and tombstones, the incidents it
/// raises, the download links and redacted copies it closes. Not people,
/// sessions or cases; its audit entries go through the [`AuditSink`].
pub trait SweepStores: RetentionStore + IncidentStore + ExportStore {}
impl<T: RetentionStore + IncidentStore + ExportStore + ?Sized> SweepStores for T {}

pub async fn sweep(
    catalog: &(impl SweepStores + ?Sized),
    blobs: &BlobStore,
    audit: &AuditSink,
    now: UtcMillis,
) -> Result<SweepReport, SweepError> {
    let mut report = SweepReport::default();
    // One recording that cannot be deleted (a row the catalog refuses, a
    // blob the store will not delete) is recorded as an incident and left
    // for the next sweep; it never keeps the others past their time.
    let unfinished = catalog.tombstones_with_blob().await?;
    let mut finished = Vec::with_capacity(unfinished.len());
    for t in &unfinished {
        match delete_blobs(blobs, t).await {
            Ok(()) => finished.push(t.recording_id),
            Err(e) => sweep_failed(catalog, audit, now, t, &format!("blob: {e}")).await?,
        }
    }
    catalog.mark_blobs_deleted(&finished).await?;
    report.finished_earlier = finished.len() as u64;
    let mut failed = std::collections::HashSet::new();
    loop {
        let due: Vec<_> = catalog
            .due_recordings(now, PAGE)
            .await?
            .into_iter()
            .filter(|r| !failed.contains(&r.recording_id))
            .collect();
        if due.is_empty() {
            break;
        }
        let failed_before = failed.len();
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
            .map(|r| r.tombstone(now, "retention-period"))
            .collect();
        // Recordings deleted meanwhile by another sweeper are skipped. A
        // page the catalog refuses is retried one by one, to find the row.
        let replaced = match catalog.replace_with_tombstones(&tombstones).await {
            Ok(replaced) => replaced,
            Err(_) => {
                let mut replaced = Vec::new();
                for t in &tombstones {
                    match catalog
                        .replace_with_tombstones(std::slice::from_ref(t))
                        .await
                    {
                        Ok(one) => replaced.extend(one),
                        Err(e) => {
                            failed.insert(t.recording_id);
                            sweep_failed(catalog, audit, now, t, &format!("catalog: {e}")).await?;
                        }
                    }
                }
                replaced
            }
        };
        custos_faults::crash_point("sweeper:after-tombstones");
        let mut gone = Vec::with_capacity(replaced.len());
        let replaced_set: std::collections::HashSet<_> = replaced.iter().copied().collect();
        let mut left = Vec::with_capacity(replaced.len());
        for t in tombstones
            .iter()
            .filter(|t| replaced_set.contains(&t.recording_id))
        {
            // Read back: an Axis recording's objects' blobs were named by
            // the catalog as it deleted them.
            if t.blob_keys.is_empty() {
                if let Some(stored) = catalog.tombstone(t.recording_id).await? {
                    left.push(stored);
                }
            } else {
                left.push(t.clone());
            }
        }
        for t in &left {
            // The key is already gone with the row: a blob left behind is
            // unreadable, and finished by the next sweep.
            match delete_blobs(blobs, t).await {
                Ok(()) => gone.push(t.recording_id),
                Err(e) => sweep_failed(catalog, audit, now, t, &format!("blob: {e}")).await?,
            }
        }
        catalog.mark_blobs_deleted(&gone).await?;
        report.deleted += replaced.len() as u64;
        if replaced.is_empty() && failed.len() == failed_before {
            break;
        }
    }
    // A redacted copy lives only as long as its source.
    report.derivatives_deleted =
        crate::redaction::sweep_orphans(catalog, blobs, audit, now).await?;
    // Packages kept for download links leave once their link cannot serve.
    loop {
        let closed = catalog.export_links_to_remove(now, PAGE).await?;
        if closed.is_empty() {
            break;
        }
        let events = closed
            .iter()
            .map(|l| {
                AuditEvent::new(now, "system:sweeper", "export-link.remove", Outcome::Ok)
                    .object(format!("export:{}", l.export_id))
                    .purpose(&l.purpose, &l.case_id)
                    .detail(format!(
                        "link {} {}: package removed after {} of {} downloads",
                        l.link_id,
                        if l.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "expired"
                        },
                        l.downloads,
                        l.max_downloads
                    ))
            })
            .collect();
        audit.record_all(events).await?;
        for l in &closed {
            blobs.delete(&l.blob_key).await?;
            catalog.mark_export_link_removed(l.link_id, now).await?;
        }
        report.links_closed += closed.len() as u64;
    }
    if report.deleted + report.finished_earlier + report.links_closed + report.derivatives_deleted
        > 0
    {
        tracing::info!(
            deleted = report.deleted,
            finished = report.finished_earlier,
            links = report.links_closed,
            "retention sweep"
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_parse_strictly_and_standard_is_the_default() {
        assert_eq!(
            parse_category("training=2d"),
            Ok(("training".into(), 2 * 86_400_000))
        );
        assert_eq!(
            parse_category("team-zuid=14d"),
            Ok(("team-zuid".into(), 14 * 86_400_000))
        );
        for bad in [
            "training",
            "=2d",
            "training=",
            "training=2w",
            "training=-2d",
            "Training=2d",
            "2fast=2d",
            "train ing=2d",
            "standard=14d",
            &format!("{}=1d", "a".repeat(41)),
        ] {
            assert!(parse_category(bad).is_err(), "{bad}");
        }
        let mut policy = RetentionPolicy::new(28 * 86_400_000);
        policy.categories.insert("training".into(), 2 * 86_400_000);
        policy.categories.insert("bocholt".into(), 36 * 3_600_000);
        assert_eq!(policy.period(STANDARD_CATEGORY), Some(28 * 86_400_000));
        assert_eq!(policy.period("training"), Some(2 * 86_400_000));
        assert_eq!(policy.period("nope"), None);
        assert_eq!(policy.describe(), "standard 28d, bocholt 36h, training 2d");
    }
}
