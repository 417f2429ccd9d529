//! Evidence exports: a case's recordings as a package a court can check
//! without us (custos-export's format), encrypted with age to the recipient
//! before a byte leaves this process. The audit entries that say who
//! exported what, for which purpose, are durable before the package is
//! written, and are themselves in the package with their proofs.

mod axis;
mod delivery;
mod package;
mod request;

pub(crate) use delivery::ChannelWriter;
pub use delivery::{deliver, one_time_passphrase, prepare_subject_delivery, respond, NewDelivery};
use request::approved_request;
pub use request::{approve_export, export_requests, request_export, NewExportRequest};

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::http::StatusCode;
use custos_access::Action;
use custos_audit::{AuditEntry, NoteVerifier, Outcome};
use custos_catalog::stores::{AuditStore, DeviceStore, RecordingStore, RetentionStore};
use custos_catalog::{ExportRequest, Recording};
use custos_export::package::{PackageWriter, TarSink};
use custos_export::report::{Language, Neighbour as ReportNeighbour, ReportInput, ReportRecording};
use custos_export::*;
use custos_format::{sha256, SignedManifest, SignedReceipt};
use custos_keys::secrecy::SecretString;
use uuid::Uuid;

use crate::api::{unavailable, Authenticated};
use crate::http::{ApiError, Code};
use crate::Deployment;

/// How the package is protected on its way.
pub enum Protection {
    /// To the recipient's age public key (`age1…`).
    Recipient(age::x25519::Recipient),
    /// To a one-time passphrase handed over out of band.
    Passphrase(SecretString),
}

/// `POST /api/v1/cases/{id}/exports`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewExport {
    /// From the deployment's purpose list.
    pub purpose: String,
    /// Who receives it, in words (`Politie Rotterdam, PV 2026-0142`).
    pub recipient: String,
    /// Default: every recording secured for the case.
    #[serde(default)]
    pub recordings: Option<Vec<Uuid>>,
    /// Encrypt to this age public key (`age1…`) …
    #[serde(default)]
    pub age_recipient: Option<String>,
    /// … or to this one-time passphrase (at least 16 characters), handed
    /// to the recipient another way.
    #[serde(default)]
    pub passphrase: Option<String>,
    /// The approved request this export makes, where a second person must
    /// approve exports.
    #[serde(default)]
    pub request_id: Option<Uuid>,
    /// The chain-of-custody report's language: `nl`, `de` or `en` (default).
    #[serde(default)]
    pub language: Option<String>,
    /// The report's times in this zone (`Europe/Amsterdam`; default UTC).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Keep the (encrypted) package for a download link instead of
    /// answering with it.
    #[serde(default)]
    pub link: Option<NewLink>,
}

/// A download link's terms: how long it serves and how often.
#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// From 1 hour to the deployment's longest (default 7 days).
    pub valid_hours: u32,
    /// 1 to 10 downloads (default 3: a broken-off download may be retried).
    #[serde(default)]
    pub max_downloads: Option<u32>,
}

/// Downloads a link allows unless told otherwise, and at most.
pub const DEFAULT_LINK_DOWNLOADS: u32 = 3;
pub const MAX_LINK_DOWNLOADS: u32 = 10;

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Recipient(_) => "Recipient",
            Self::Passphrase(_) => "Passphrase",
        })
    }
}

/// Shortest one-time passphrase accepted (the CLI makes 26 random base32
/// characters, 130 bits).
pub const MIN_PASSPHRASE: usize = 16;

/// scrypt's log2(N) for passphrase-protected packages (see `write`).
pub const SCRYPT_WORK_FACTOR: u8 = 16;

#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportSummary {
    pub export_id: Uuid,
    pub recordings: usize,
    /// Plaintext bytes of video in the package.
    pub video_bytes: u64,
}

/// What is gathered from the catalog before anything is written.
struct Gathered {
    recording: Recording,
    manifest: SignedManifest,
    receipt: SignedReceipt,
    enrollment: EnrollmentRecord,
    camera_pem: String,
    previous: Neighbour,
    next: Neighbour,
}

enum Neighbour {
    None,
    InPackage,
    Manifest(Vec<u8>, Vec<u8>),
    Deleted(DeletedRecording),
}

async fn neighbour(
    catalog: &(impl RecordingStore + RetentionStore + ?Sized),
    device: &str,
    sequence: u64,
    exported: &[Uuid],
) -> Result<Neighbour> {
    if sequence == 0 {
        return Ok(Neighbour::None);
    }
    if let Some(r) = catalog.recording_by_sequence(device, sequence).await? {
        return Ok(if exported.contains(&r.recording_id) {
            Neighbour::InPackage
        } else {
            match r.provenance {
                custos_catalog::Provenance::Camera(c) => {
                    Neighbour::Manifest(c.manifest, c.manifest_signature)
                }
                custos_catalog::Provenance::Axis(_) => Neighbour::None,
            }
        });
    }
    if let Some(t) = catalog.tombstone_by_sequence(device, sequence).await? {
        return Ok(Neighbour::Deleted(DeletedRecording {
            recording_id: t.recording_id,
            device_id: t.device_id,
            sequence: t.sequence,
            started_at: t.started_at,
            ended_at: t.ended_at,
            manifest_sha256: hex::encode(t.manifest_sha256),
            deleted_at: t.deleted_at,
            reason: t.reason,
        }));
    }
    Ok(Neighbour::None)
}

/// An export that passed every check and is in the audit log; `write`
/// produces it. Made only by [`prepare`] and [`prepare_subject_delivery`];
/// it carries the grant that opens the recordings and copies it names.
pub struct PreparedExport {
    pub export_id: Uuid,
    pub file_name: String,
    description: ExportDescription,
    gathered: Vec<Gathered>,
    trails: Vec<RecordingAudit>,
    /// Axis recordings, with their trails.
    axis: Vec<axis::GatheredAxis>,
    axis_trails: Vec<RecordingAudit>,
    verifier: NoteVerifier,
    checkpoint_note: String,
    protection: Protection,
    language: Language,
    time_zone: jiff::tz::TimeZone,
    zone_name: String,
    /// The entry written if the package is not delivered whole.
    failed: custos_audit::AuditEvent,
    /// Kept for a download link rather than answered with.
    link: Option<LinkTerms>,
    purpose: String,
    case_id: String,
    recipient: String,
    /// Redacted copies, each with its source recording.
    derived: Vec<(custos_catalog::Derivative, Recording)>,
    /// The grant that opens exactly the recordings and copies above.
    opens: ExportGrant,
}

/// What an export that passed its checks may decrypt: the blobs of the
/// recordings and redacted copies it names. Made only by [`prepare`] and
/// [`prepare_subject_delivery`], after their checks and audit entries.
struct ExportGrant {
    blob_keys: Vec<String>,
}

impl crate::keys::Grant for ExportGrant {
    fn covers(&self, blob_key: &str) -> bool {
        self.blob_keys.iter().any(|k| k == blob_key)
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct LinkTerms {
    pub(crate) valid_millis: i64,
    pub(crate) max_downloads: u32,
}

/// Checks the request against the policy and the case, and audits it: one
/// entry for the export, one per recording (so each recording's own trail
/// shows that it left, for whom and why), durable before anything is
/// written. Refusals are audited too.
pub async fn prepare(
    d: &Arc<Deployment>,
    a: &Authenticated,
    case_id: &str,
    request: NewExport,
) -> Result<PreparedExport, ApiError> {
    let refusals = Refusals::new(d, a, "export.create", case_id, &request.purpose);
    a.permit(d, Action::ExportFootage, "export.create", &refusals.object)
        .await?;
    // Where a second person must approve, the export is the approved
    // request's, exactly: same case, purpose, recipient and recordings.
    let approved = match request.request_id {
        Some(id) => Some(approved_request(d, a, &refusals, case_id, id, &request).await?),
        None if d.policy().export_needs_second_approver => {
            return refusals
                .refuse(Code::ApprovalRequired,
                    "this deployment exports only what a second person approved: ask for approval first (POST /api/v1/cases/{id}/export-requests)",
                )
                .await
        }
        None => None,
    };
    let recordings = match &approved {
        Some(r) => Some(r.recordings.clone()),
        None => request.recordings.clone(),
    };
    let scope = check_scope(
        d,
        &refusals,
        case_id,
        &request.purpose,
        &request.recipient,
        recordings,
    )
    .await?;
    let Terms {
        protection,
        link,
        zone_name,
        time_zone,
    } = terms(
        d,
        &refusals,
        request.age_recipient.clone(),
        request.passphrase,
        request.link,
        request.time_zone.clone(),
    )
    .await?;
    let catalog = d.catalog.clone();
    let (case, wanted, recipient) = (scope.case, scope.wanted, scope.recipient);
    let object = refusals.object.clone();
    let mut gathered = Vec::new();
    let mut axis_gathered = Vec::new();
    let damaged = |e: anyhow::Error| {
        tracing::error!(error = %e, "a stored recording cannot be exported");
        ApiError::new(
            Code::Damaged,
            "a stored recording's records do not parse: see the integrity incidents",
        )
    };
    for recording in scope.recordings {
        if recording.axis().is_some() {
            axis_gathered.push(axis::gather(&*catalog, recording).await.map_err(damaged)?);
        } else {
            gathered.push(
                gather(&*catalog, recording, &wanted)
                    .await
                    .map_err(damaged)?,
            );
        }
    }
    axis_gathered.sort_by(|x, y| {
        (&x.recording.device_id, x.recording.sequence)
            .cmp(&(&y.recording.device_id, y.recording.sequence))
    });
    gathered.sort_by(|x, y| {
        (&x.recording.device_id, x.recording.sequence)
            .cmp(&(&y.recording.device_id, y.recording.sequence))
    });
    // An approval serves one export: spent before anything is written.
    if let Some(r) = &approved {
        if d.catalog
            .use_export_request(r.request_id, (d.clock)())
            .await
            .is_err()
        {
            return refusals
                .refuse(
                    Code::RequestUsed,
                    "that approval has been used for an export already",
                )
                .await;
        }
    }
    let export_id = Uuid::now_v7();
    let detail = format!("export {export_id} for {recipient}");
    let mut events = vec![a
        .event(d, "export.create", Outcome::Ok)
        .object(&object)
        .purpose(&request.purpose, &case.case_id)
        .detail(&detail)];
    let exported: Vec<Uuid> = gathered
        .iter()
        .map(|g| g.recording.recording_id)
        .chain(axis_gathered.iter().map(|g| g.recording.recording_id))
        .collect();
    for id in &exported {
        events.push(
            a.event(d, "recording.export", Outcome::Ok)
                .object(format!("recording:{id}"))
                .purpose(&request.purpose, &case.case_id)
                .detail(&detail),
        );
    }
    d.audit.record_all(events).await.map_err(unavailable)?;

    // Each recording's trail, proven against the newest checkpoint (which
    // covers the entries just written: every batch is signed).
    let verifier = d.audit.verifier().clone();
    let (note, mut trails) = trails(&*catalog, &verifier, &exported)
        .await
        .map_err(unavailable)?;
    let axis_trails = trails.split_off(gathered.len());
    let description = ExportDescription {
        format: EXPORT_FORMAT.into(),
        export_id,
        server_id: d.ingest.server_id().to_owned(),
        created_at: (d.clock)(),
        created_by: a.caller.name.clone(),
        approved_by: approved.and_then(|r| r.approved_by),
        purpose: request.purpose.clone(),
        case: ExportCase {
            case_id: case.case_id.clone(),
            kind: case.kind.clone(),
            reference: case.reference.clone(),
            label: case.label.clone(),
        },
        recipient: recipient.to_owned(),
        derived: Vec::new(),
        audit_tree_size: trails
            .first()
            .or(axis_trails.first())
            .map(|t| t.tree_size)
            .unwrap_or_default(),
        recordings: gathered
            .iter()
            .map(|g| listed(&g.recording, recording_dir))
            .collect(),
        axis_recordings: axis_gathered
            .iter()
            .map(|g| listed(&g.recording, custos_export::axis::axis_dir))
            .collect(),
    };
    let safe_case: String = case
        .case_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let opens = ExportGrant {
        blob_keys: gathered
            .iter()
            .filter_map(|g| g.recording.camera().map(|c| c.blob_key.clone()))
            .chain(
                axis_gathered
                    .iter()
                    .flat_map(|g| g.objects.iter().map(|o| o.blob_key.clone())),
            )
            .collect(),
    };
    Ok(PreparedExport {
        export_id,
        file_name: format!("custos-export-{safe_case}-{export_id}.tar.age"),
        description,
        gathered,
        trails,
        axis: axis_gathered,
        axis_trails,
        verifier,
        checkpoint_note: note,
        protection,
        language: Language::from_code(request.language.as_deref().unwrap_or("en")),
        time_zone,
        zone_name,
        failed: a
            .event(d, "export.create", Outcome::Failed)
            .object(&object)
            .purpose(&request.purpose, &case.case_id),
        link,
        purpose: request.purpose.clone(),
        case_id: case.case_id.clone(),
        recipient: recipient.to_owned(),
        derived: Vec::new(),
        opens,
    })
}

/// How a package is protected and delivered, checked (refusals audited).
struct Terms {
    protection: Protection,
    link: Option<LinkTerms>,
    zone_name: String,
    time_zone: jiff::tz::TimeZone,
}

async fn terms(
    d: &Deployment,
    refusals: &Refusals<'_>,
    age_recipient: Option<String>,
    passphrase: Option<String>,
    link: Option<NewLink>,
    time_zone: Option<String>,
) -> Result<Terms, ApiError> {
    let protection = match (&age_recipient, passphrase) {
        (Some(r), None) => match r.trim().parse::<age::x25519::Recipient>() {
            Ok(r) => Protection::Recipient(r),
            Err(_) => {
                return refusals
                    .refuse(Code::BadRecipientKey,
                        "age_recipient is not an age public key (age1…)",
                    )
                    .await
            }
        },
        (None, Some(p)) if p.chars().count() >= MIN_PASSPHRASE => {
            Protection::Passphrase(SecretString::from(p))
        }
        _ => {
            return refusals
                .refuse(Code::ProtectionRequired,
                    format!("give either age_recipient or a passphrase of at least {MIN_PASSPHRASE} characters"),
                )
                .await
        }
    };
    let link = match link {
        None => None,
        Some(l) => {
            let longest = d.policy().export_link_max_millis;
            let downloads = l.max_downloads.unwrap_or(DEFAULT_LINK_DOWNLOADS);
            let valid_millis = i64::from(l.valid_hours) * 3_600_000;
            if l.valid_hours == 0 || valid_millis > longest {
                return refusals
                    .refuse(
                        Code::BadLink,
                        format!(
                            "a download link is valid from 1 to {} hours here",
                            longest / 3_600_000
                        ),
                    )
                    .await;
            }
            if downloads == 0 || downloads > MAX_LINK_DOWNLOADS {
                return refusals
                    .refuse(
                        Code::BadLink,
                        format!("a download link allows 1 to {MAX_LINK_DOWNLOADS} downloads"),
                    )
                    .await;
            }
            Some(LinkTerms {
                valid_millis,
                max_downloads: downloads,
            })
        }
    };
    let zone_name = time_zone.unwrap_or_else(|| "UTC".into());
    let Ok(time_zone) = jiff::tz::TimeZone::get(&zone_name) else {
        return refusals
            .refuse(
                Code::BadTimeZone,
                "time_zone is not an IANA time zone (Europe/Amsterdam, …)",
            )
            .await;
    };
    Ok(Terms {
        protection,
        link,
        zone_name,
        time_zone,
    })
}

/// Refusals of one export operation, audited under its action with the
/// case and purpose asked for, where they can be written down as given (an
/// auditor filters by case).
struct Refusals<'a> {
    d: &'a Deployment,
    a: &'a Authenticated,
    action: &'static str,
    object: String,
    case: Option<String>,
    purpose: Option<String>,
}

impl<'a> Refusals<'a> {
    fn new(
        d: &'a Deployment,
        a: &'a Authenticated,
        action: &'static str,
        case_id: &str,
        purpose: &str,
    ) -> Self {
        let plausible =
            |s: &str| !s.is_empty() && s.len() <= 200 && !s.chars().any(char::is_control);
        Self {
            d,
            a,
            action,
            object: format!("case:{}", case_id.escape_default()),
            case: plausible(case_id).then(|| case_id.to_owned()),
            purpose: plausible(purpose).then(|| purpose.to_owned()),
        }
    }

    async fn refuse<T>(&self, code: Code, why: impl Into<String>) -> Result<T, ApiError> {
        let mut event = self
            .a
            .event(self.d, self.action, Outcome::Refused)
            .object(&self.object);
        event.case = self.case.clone();
        event.purpose = self.purpose.clone();
        Err(self
            .a
            .refused(self.d, event, ApiError::new(code, why.into()))
            .await)
    }
}

/// What an export, or a request for one, may take out: checked.
struct Scope {
    case: custos_catalog::Case,
    recipient: String,
    /// Sorted, each once.
    wanted: Vec<Uuid>,
    recordings: Vec<Recording>,
}

/// The purpose is on the list, the recipient is named, the case is open,
/// and every recording asked for (default: all) is secured for it.
async fn check_scope(
    d: &Deployment,
    refusals: &Refusals<'_>,
    case_id: &str,
    purpose: &str,
    recipient: &str,
    recordings: Option<Vec<Uuid>>,
) -> Result<Scope, ApiError> {
    if !d.policy().allows_purpose(purpose) {
        return refusals
            .refuse(
                Code::PurposeNotAllowed,
                "that purpose is not on this deployment's list",
            )
            .await;
    }
    let recipient = recipient.trim();
    if recipient.is_empty() || recipient.len() > 200 || recipient.chars().any(char::is_control) {
        return refusals
            .refuse(
                Code::RecipientRequired,
                "say who receives the package (1 to 200 characters)",
            )
            .await;
    }
    let catalog = &d.catalog;
    let case = match catalog.case(case_id).await.map_err(unavailable)? {
        Some(c) if c.closed_at.is_none() => c,
        Some(_) => {
            return refusals
                .refuse(Code::CaseClosed, "that case is closed")
                .await
        }
        None => return refusals.refuse(Code::CaseUnknown, "no such case").await,
    };
    if case.kind == crate::subject::KIND
        && refusals.a.caller.role != custos_access::Role::PrivacyOfficer
    {
        return refusals
            .refuse(
                Code::SubjectRequestCase,
                "a subject access request's case is handled by the privacy officer only",
            )
            .await;
    }
    // Only holds in force secure a recording: one still awaiting its
    // second approver does not.
    let held: Vec<Uuid> = catalog
        .holds_for_case(&case.case_id)
        .await
        .map_err(unavailable)?
        .into_iter()
        .filter(|h| h.released_at.is_none() && h.approved_at.is_some())
        .map(|h| h.recording_id)
        .collect();
    let mut wanted = recordings.unwrap_or_else(|| held.clone());
    wanted.sort();
    wanted.dedup();
    if wanted.is_empty() {
        return refusals
            .refuse(
                Code::NothingToExport,
                "no recording is secured for this case",
            )
            .await;
    }
    let mut found = Vec::new();
    for id in &wanted {
        match catalog.recording(*id).await.map_err(unavailable)? {
            Some(r) if held.contains(id) => found.push(r),
            _ => {
                return refusals
                    .refuse(
                        Code::NotSecured,
                        format!("recording {id} is not secured for this case"),
                    )
                    .await
            }
        }
    }
    Ok(Scope {
        case,
        recipient: recipient.to_owned(),
        wanted,
        recordings: found,
    })
}

/// A recording as `export.json` lists it, in the directory `dir` names.
fn listed(r: &Recording, dir: fn(&str, u64) -> String) -> ExportedRecording {
    ExportedRecording {
        recording_id: r.recording_id,
        device_id: r.device_id.clone(),
        sequence: r.sequence,
        officer_id: r.officer_id.clone(),
        started_at: r.started_at,
        ended_at: r.ended_at,
        dir: dir(&r.device_id, r.sequence),
    }
}

async fn gather(
    catalog: &(impl DeviceStore + RecordingStore + RetentionStore + ?Sized),
    recording: Recording,
    exported: &[Uuid],
) -> Result<Gathered> {
    let camera = recording
        .camera()
        .context("an Axis recording is not exported by this version")?;
    let manifest = SignedManifest::parse(&camera.manifest, &camera.manifest_signature)?;
    let receipt = SignedReceipt::parse(&camera.receipt, &camera.receipt_signature)?;
    let device = catalog
        .device(&recording.device_id)
        .await?
        .context("the recording's camera is not enrolled")?;
    let key = custos_format::VerifyingKey::from_hex(&device.public_key)?;
    let previous = neighbour(
        catalog,
        &recording.device_id,
        recording.sequence - 1,
        exported,
    )
    .await?;
    let next = neighbour(
        catalog,
        &recording.device_id,
        recording.sequence + 1,
        exported,
    )
    .await?;
    Ok(Gathered {
        enrollment: EnrollmentRecord {
            device_id: device.device_id.clone(),
            public_key: key.to_hex(),
            enrolled_at: device.enrolled_at,
            revoked_at: device.revoked_at,
        },
        camera_pem: key.to_pem(),
        recording,
        manifest,
        receipt,
        previous,
        next,
    })
}

/// Each recording's audit entries with their inclusion proofs: all of them,
/// those of a subject access request too (ADR 0014: a court needs every
/// access, and an entry cannot be shortened without breaking its proof).
async fn trails(
    catalog: &(impl AuditStore + ?Sized),
    verifier: &NoteVerifier,
    recordings: &[Uuid],
) -> Result<(String, Vec<RecordingAudit>)> {
    let (note, checkpoint, levels) = crate::audit::newest_tree(catalog, verifier).await?;
    let mut trails = Vec::new();
    for id in recordings {
        let rows = catalog
            .audit_entries_for_object(&format!("recording:{id}"), 100_000)
            .await?;
        let entries = rows
            .into_iter()
            .filter(|r| r.index < checkpoint.size)
            .map(|row| crate::audit::prove(&levels, row))
            .collect::<Result<Vec<_>>>()?;
        trails.push(RecordingAudit {
            tree_size: checkpoint.size,
            entries,
        });
    }
    Ok((note, trails))
}
