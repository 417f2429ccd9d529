//! Evidence exports: a case's recordings as a package a court can check
//! without us (custos-export's format), encrypted with age to the recipient
//! before a byte leaves this process. The audit entries that say who
//! exported what, for which purpose, are durable before the package is
//! written, and are themselves in the package with their proofs.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::http::StatusCode;
use custos_access::Action;
use custos_audit::{AuditEntry, NoteVerifier, Outcome};
use custos_catalog::{Catalog, ExportRequest, Recording};
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
    catalog: &dyn Catalog,
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
            Neighbour::Manifest(r.manifest, r.manifest_signature)
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
    for recording in scope.recordings {
        gathered.push(gather(&*catalog, recording, &wanted).await.map_err(|e| {
            tracing::error!(error = %e, "a stored recording cannot be exported");
            ApiError::new(
                Code::Damaged,
                "a stored recording's records do not parse: see the integrity incidents",
            )
        })?);
    }
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
    for g in &gathered {
        events.push(
            a.event(d, "recording.export", Outcome::Ok)
                .object(format!("recording:{}", g.recording.recording_id))
                .purpose(&request.purpose, &case.case_id)
                .detail(&detail),
        );
    }
    d.audit.record_all(events).await.map_err(unavailable)?;

    // Each recording's trail, proven against the newest checkpoint (which
    // covers the entries just written: every batch is signed).
    let verifier = d.audit.verifier().clone();
    let (note, trails) = trails(&*catalog, &verifier, &gathered)
        .await
        .map_err(unavailable)?;
    let description = ExportDescription {
        format: EXPORT_FORMAT.into(),
        export_id,
        server_id: gathered[0].receipt.content().server_id.clone(),
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
        audit_tree_size: trails.first().map(|t| t.tree_size).unwrap_or_default(),
        recordings: gathered
            .iter()
            .map(|g| ExportedRecording {
                recording_id: g.recording.recording_id,
                device_id: g.recording.device_id.clone(),
                sequence: g.recording.sequence,
                officer_id: g.recording.officer_id.clone(),
                started_at: g.recording.started_at,
                ended_at: g.recording.ended_at,
                dir: recording_dir(&g.recording.device_id, g.recording.sequence),
            })
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
            .map(|g| g.recording.blob_key.clone())
            .collect(),
    };
    Ok(PreparedExport {
        export_id,
        file_name: format!("custos-export-{safe_case}-{export_id}.tar.age"),
        description,
        gathered,
        trails,
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

/// The approved request an export names: the caller's own, for this case,
/// approved by someone else, not yet used, and asking for exactly this.
async fn approved_request(
    d: &Deployment,
    a: &Authenticated,
    refusals: &Refusals<'_>,
    case_id: &str,
    id: Uuid,
    request: &NewExport,
) -> Result<ExportRequest, ApiError> {
    let found = d.catalog.export_request(id).await.map_err(unavailable)?;
    let Some(r) = found.filter(|r| r.case_id == case_id && r.requested_by == a.caller.name) else {
        return refusals
            .refuse(
                Code::RequestUnknown,
                "no such export request of yours for this case",
            )
            .await;
    };
    if r.approved_at.is_none() {
        return refusals
            .refuse(
                Code::NotApproved,
                "a second person has not approved that request yet",
            )
            .await;
    }
    if r.used_at.is_some() {
        return refusals
            .refuse(
                Code::RequestUsed,
                "that approval has been used for an export already",
            )
            .await;
    }
    let mut asked = request
        .recordings
        .clone()
        .unwrap_or_else(|| r.recordings.clone());
    asked.sort();
    asked.dedup();
    if r.purpose != request.purpose
        || r.recipient != request.recipient.trim()
        || asked != r.recordings
    {
        return refusals
            .refuse(
                Code::RequestMismatch,
                "the export must be what was approved: the same purpose, recipient and recordings",
            )
            .await;
    }
    Ok(r)
}

/// `POST /api/v1/cases/{id}/export-requests`: what would leave, for whom
/// and why, for a second person to approve.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewExportRequest {
    pub purpose: String,
    pub recipient: String,
    #[serde(default)]
    pub recordings: Option<Vec<Uuid>>,
}

pub async fn request_export(
    d: &Deployment,
    a: &Authenticated,
    case_id: &str,
    asked: NewExportRequest,
) -> Result<ExportRequest, ApiError> {
    let refusals = Refusals::new(d, a, "export.request", case_id, &asked.purpose);
    a.permit(d, Action::ExportFootage, "export.request", &refusals.object)
        .await?;
    let scope = check_scope(
        d,
        &refusals,
        case_id,
        &asked.purpose,
        &asked.recipient,
        asked.recordings,
    )
    .await?;
    let request = ExportRequest {
        request_id: Uuid::now_v7(),
        case_id: scope.case.case_id.clone(),
        purpose: asked.purpose.clone(),
        recipient: scope.recipient.clone(),
        recordings: scope.wanted,
        requested_by: a.caller.name.clone(),
        requested_at: (d.clock)(),
        approved_by: None,
        approved_at: None,
        used_at: None,
    };
    a.record(
        d,
        a.event(d, "export.request", Outcome::Ok)
            .object(&refusals.object)
            .purpose(&request.purpose, &request.case_id)
            .detail(format!(
                "request {} for {}: {} recordings",
                request.request_id,
                request.recipient,
                request.recordings.len()
            )),
    )
    .await?;
    d.catalog
        .add_export_request(&request)
        .await
        .map_err(unavailable)?;
    Ok(request)
}

/// The second pair of eyes: anyone who may export, but the requester.
pub async fn approve_export(
    d: &Deployment,
    a: &Authenticated,
    request_id: &str,
) -> Result<ExportRequest, ApiError> {
    let object = format!("export-request:{}", request_id.escape_default());
    a.permit(d, Action::ExportFootage, "export.approve", &object)
        .await?;
    let found = match request_id.parse::<Uuid>() {
        Ok(id) => d.catalog.export_request(id).await.map_err(unavailable)?,
        Err(_) => None,
    };
    let Some(request) = found else {
        return Err(ApiError::new(Code::NotFound, "no such export request"));
    };
    // A subject request's export (its recipient, its recordings) is the
    // privacy officer's to approve, before anything else is said of it.
    if let Some(case) = d
        .catalog
        .case(&request.case_id)
        .await
        .map_err(unavailable)?
    {
        crate::api::subject_case_guard(d, a, &case, "export.approve", &object).await?;
    }
    if request.requested_by == a.caller.name {
        let mut event = a
            .event(d, "export.approve", Outcome::Refused)
            .object(&object);
        event.case = Some(request.case_id.clone());
        let answer = ApiError::new(
            Code::FourEyes,
            "the requester cannot approve: an export needs a second person's approval",
        );
        return Err(a.refused(d, event, answer).await);
    }
    if request.approved_at.is_some() {
        return Err(ApiError::new(
            Code::NotPending,
            "that request is not awaiting approval",
        ));
    }
    match d
        .catalog
        .case(&request.case_id)
        .await
        .map_err(unavailable)?
    {
        Some(c) if c.closed_at.is_none() => {}
        _ => return Err(ApiError::new(Code::CaseClosed, "that case is closed")),
    }
    a.record(
        d,
        a.event(d, "export.approve", Outcome::Ok)
            .object(&object)
            .purpose(&request.purpose, &request.case_id)
            .detail(format!("for {}", request.recipient)),
    )
    .await?;
    d.catalog
        .approve_export_request(request.request_id, &a.caller.name, (d.clock)())
        .await
        .map_err(|_| ApiError::new(Code::NotPending, "that request is not awaiting approval"))?;
    d.catalog
        .export_request(request.request_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| unavailable("the request vanished"))
}

/// A case's export requests (who asked, for whom, approved, used).
pub async fn export_requests(
    d: &Deployment,
    a: &Authenticated,
    case_id: &str,
) -> Result<Vec<ExportRequest>, ApiError> {
    let object = format!("case:{}", case_id.escape_default());
    a.permit(d, Action::ExportFootage, "export.requests", &object)
        .await?;
    if let Some(case) = d.catalog.case(case_id).await.map_err(unavailable)? {
        crate::api::subject_case_guard(d, a, &case, "export.requests", &object).await?;
    }
    let requests = d
        .catalog
        .export_requests_for_case(case_id)
        .await
        .map_err(unavailable)?;
    a.ok(d, "export.requests", &object).await?;
    Ok(requests)
}

async fn gather(
    catalog: &dyn Catalog,
    recording: Recording,
    exported: &[Uuid],
) -> Result<Gathered> {
    let manifest = SignedManifest::parse(&recording.manifest, &recording.manifest_signature)?;
    let receipt = SignedReceipt::parse(&recording.receipt, &recording.receipt_signature)?;
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
    catalog: &dyn Catalog,
    verifier: &NoteVerifier,
    gathered: &[Gathered],
) -> Result<(String, Vec<RecordingAudit>)> {
    let (note, checkpoint, levels) = crate::audit::newest_tree(catalog, verifier).await?;
    let mut trails = Vec::new();
    for g in gathered {
        let rows = catalog
            .audit_entries_for_object(&format!("recording:{}", g.recording.recording_id), 100_000)
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

impl PreparedExport {
    /// Set when the package is to be kept for a download link.
    pub(crate) fn link_terms(&self) -> Option<LinkTerms> {
        self.link
    }

    /// Purpose, case and recipient.
    pub(crate) fn scope(&self) -> (String, String, String) {
        (
            self.purpose.clone(),
            self.case_id.clone(),
            self.recipient.clone(),
        )
    }

    /// The entry that says the package was not delivered whole.
    pub(crate) fn failed_event(&self) -> custos_audit::AuditEvent {
        self.failed.clone()
    }

    /// Writes the encrypted package to `out`; on a blocking thread inside
    /// the runtime (blob reads wait on it). A failure part-way leaves `out`
    /// without age's final chunk, which every decryptor refuses.
    pub fn write(self, d: &Deployment, out: Box<dyn Write + Send>) -> Result<ExportSummary> {
        write(d, tokio::runtime::Handle::current(), self, out)
    }
}

fn write(
    d: &Deployment,
    runtime: tokio::runtime::Handle,
    prepared: PreparedExport,
    out: Box<dyn Write + Send>,
) -> Result<ExportSummary> {
    let PreparedExport {
        description,
        gathered,
        trails,
        verifier,
        checkpoint_note,
        protection,
        language,
        time_zone,
        zone_name,
        derived,
        opens,
        ..
    } = prepared;
    let (description, gathered, trails, verifier) = (&description, &gathered, &trails, &verifier);
    let encryptor = match protection {
        Protection::Recipient(r) => {
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))?
        }
        Protection::Passphrase(p) => {
            // age would pick a work factor of about a second here: 2^20 on
            // this kind of machine, a GiB of memory per export. 2^16 is 64
            // MiB; the passphrases the CLI and the web UI make carry 125
            // random bits, which no work factor needs to stretch.
            let mut recipient = age::scrypt::Recipient::new(p);
            recipient.set_work_factor(SCRYPT_WORK_FACTOR);
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))?
        }
    };
    let encrypted = encryptor.wrap_output(std::io::BufWriter::with_capacity(1 << 20, out))?;
    let mtime = (description.created_at.as_millis() / 1000).max(0) as u64;
    let mut package = PackageWriter::new(TarSink::new(encrypted, mtime));
    let mut video_bytes = 0u64;
    let mut report_items = Vec::new();
    let mut parsed_trails = Vec::new();
    for trail in trails {
        parsed_trails.push(
            trail
                .entries
                .iter()
                .map(|e| AuditEntry::parse(e.entry.as_bytes()))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    for ((g, trail), entries) in gathered.iter().zip(trails).zip(parsed_trails) {
        let r = &g.recording;
        let dir = recording_dir(&r.device_id, r.sequence);
        let path = |name: &str| format!("{dir}/{name}");
        // The original: decrypted as it streams into the (encrypted) archive.
        let stored = crate::playback::StoredCiphertext::new(
            r.age_header.clone(),
            d.blobs.clone(),
            r.blob_key.clone(),
            r.ciphertext_length,
            runtime.clone(),
        );
        let length =
            crate::playback::plaintext_length(r.ciphertext_length, r.age_header.len() as u64)
                .context("the stored ciphertext has an impossible length")?;
        let identity = d.keys.evidence.identity(&opens, &r.blob_key)?;
        let decryptor =
            age::Decryptor::new_buffered(std::io::BufReader::with_capacity(1 << 20, stored))?;
        let mut plaintext = decryptor
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .context("the recording does not open with the evidence key")?;
        let video_sha256 = package.add_stream(&path(item::VIDEO), length, &mut plaintext)?;
        video_bytes += length;
        package.add_bytes(&path(item::MANIFEST), g.manifest.bytes())?;
        package.add_bytes(&path(item::MANIFEST_SIGNATURE), g.manifest.signature())?;
        package.add_bytes(&path(item::CAMERA_KEY), g.camera_pem.as_bytes())?;
        package.add_bytes(
            &path(item::ENROLLMENT),
            &serde_json::to_vec_pretty(&g.enrollment)?,
        )?;
        package.add_bytes(&path(item::RECEIPT), g.receipt.bytes())?;
        package.add_bytes(&path(item::RECEIPT_SIGNATURE), g.receipt.signature())?;
        package.add_bytes(&path(item::AUDIT), &serde_json::to_vec_pretty(trail)?)?;
        let mut noted = Vec::new();
        for (n, seq, manifest, signature, deleted) in [
            (
                &g.previous,
                r.sequence - 1,
                item::PREVIOUS_MANIFEST,
                item::PREVIOUS_SIGNATURE,
                item::PREVIOUS_DELETED,
            ),
            (
                &g.next,
                r.sequence + 1,
                item::NEXT_MANIFEST,
                item::NEXT_SIGNATURE,
                item::NEXT_DELETED,
            ),
        ] {
            noted.push(match n {
                Neighbour::None if seq == 0 => ReportNeighbour::First,
                Neighbour::None => ReportNeighbour::NotYet,
                Neighbour::InPackage => ReportNeighbour::InPackage,
                Neighbour::Manifest(m, s) => {
                    package.add_bytes(&path(manifest), m)?;
                    package.add_bytes(&path(signature), s)?;
                    ReportNeighbour::Signed
                }
                Neighbour::Deleted(t) => {
                    package.add_bytes(&path(deleted), &serde_json::to_vec_pretty(t)?)?;
                    ReportNeighbour::Deleted {
                        at: t.deleted_at,
                        reason: t.reason.clone(),
                    }
                }
            });
        }
        let next = noted.pop().expect("two sides");
        let previous = noted.pop().expect("two sides");
        report_items.push((g, video_sha256, length, previous, next, entries));
    }
    let mut derived_records = Vec::new();
    for (x, source) in &derived {
        let dir = derived_dir(x.derivative_id);
        let stored = crate::playback::StoredCiphertext::new(
            x.age_header.clone(),
            d.blobs.clone(),
            x.blob_key.clone(),
            x.ciphertext_length,
            runtime.clone(),
        );
        let identity = d.keys.evidence.identity(&opens, &x.blob_key)?;
        let decryptor =
            age::Decryptor::new_buffered(std::io::BufReader::with_capacity(1 << 20, stored))?;
        let mut plaintext = decryptor
            .decrypt(std::iter::once(identity as &dyn age::Identity))
            .context("a redacted copy does not open with the evidence key")?;
        let sha = package.add_stream(
            &format!("{dir}/{}", item::VIDEO),
            x.plaintext_length,
            &mut plaintext,
        )?;
        anyhow::ensure!(
            hex::encode(sha) == x.sha256,
            "redacted copy {} is not what was rendered",
            x.derivative_id
        );
        let record = DerivativeRecord {
            derivative_id: x.derivative_id,
            source_recording_id: source.recording_id,
            source_device_id: source.device_id.clone(),
            source_sequence: source.sequence,
            source_started_at: source.started_at,
            source_ended_at: source.ended_at,
            source_manifest_sha256: hex::encode(source.manifest_sha256),
            sha256: x.sha256.clone(),
            length: x.plaintext_length,
            frames: x.frames,
            plan: serde_json::from_str(&x.plan)?,
            made_by: x.created_by.clone(),
            made_at: x.created_at,
        };
        package.add_bytes(
            &format!("{dir}/{}", item::DERIVATIVE),
            &serde_json::to_vec_pretty(&record)?,
        )?;
        derived_records.push(record);
    }
    package.add_bytes(CHECKPOINT, checkpoint_note.as_bytes())?;
    package.add_bytes(LOG_KEY, format!("{}\n", verifier.to_vkey()).as_bytes())?;
    package.add_bytes(DESCRIPTION, &serde_json::to_vec_pretty(description)?)?;
    let server_key_sha256 = hex::encode(sha256(&d.keys.receipt_public().to_bytes()));
    let report = custos_export::report::render(&ReportInput {
        description,
        server_key_sha256,
        log_key: verifier.to_vkey(),
        recordings: report_items
            .into_iter()
            .map(
                |(g, video_sha256, video_length, previous, next, audit)| ReportRecording {
                    manifest: g.manifest.manifest(),
                    manifest_sha256: g.manifest.sha256(),
                    receipt: g.receipt.content(),
                    video_sha256,
                    video_length,
                    previous,
                    next,
                    audit,
                },
            )
            .collect(),
        derived: derived_records.iter().collect(),
        language,
        zone_name,
        format_time: &|t| local_time(&time_zone, t),
    });
    package.add_bytes(REPORT, report.as_bytes())?;
    let sink = package.finish(&d.keys.receipt)?;
    let encrypted = sink.finish()?;
    let mut buffered = encrypted.finish()?;
    buffered.flush()?;
    Ok(ExportSummary {
        export_id: description.export_id,
        recordings: gathered.len() + derived.len(),
        video_bytes,
    })
}

/// The export as asked: the package as the response, or kept for a
/// download link whose details are the response (`201`).
pub async fn deliver(
    d: Arc<Deployment>,
    a: &Authenticated,
    prepared: PreparedExport,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    if prepared.link_terms().is_some() {
        let created = crate::links::keep_for_link(d, a, prepared).await?;
        Ok((StatusCode::CREATED, axum::Json(created)).into_response())
    } else {
        respond(d, prepared)
    }
}

/// The package as an HTTP download, streamed as it is made: encrypted to
/// its recipient, so nothing readable is ever buffered or stored outside
/// the server. A failure part-way ends the body early (the client's copy
/// lacks age's last chunk and does not decrypt).
pub fn respond(
    d: Arc<Deployment>,
    prepared: PreparedExport,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::header;
    let (export_id, file_name) = (prepared.export_id, prepared.file_name.clone());
    let failed = prepared.failed.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    let writer = ChannelWriter { tx: tx.clone() };
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = prepared.write(&d, Box::new(writer)) {
            tracing::error!(error = %e, %export_id, "export failed part-way");
            // The log said the export was made; it must also say it was
            // not delivered whole, before the client sees the end.
            let went_away = e
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                || format!("{e:#}").contains("the client went away");
            let mut event = failed.detail(format!(
                "export {export_id} not delivered whole: {}",
                if went_away {
                    "the download was broken off"
                } else {
                    "a recording could not be read"
                }
            ));
            event.at = (d.clock)();
            if let Err(e) = runtime.block_on(d.audit.record(event)) {
                tracing::error!(error = %e, %export_id, "could not audit the failed export");
            }
            let _ = tx.blocking_send(Err(std::io::Error::other("export failed")));
        }
    });
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    axum::response::Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        )
        .header("custos-export-id", export_id.to_string())
        .header(header::CACHE_CONTROL, "no-store")
        .body(axum::body::Body::from_stream(body))
        .map_err(unavailable)
}

/// A blocking writer whose bytes become a stream (a response body, a blob).
pub(crate) struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>,
}

impl ChannelWriter {
    pub(crate) fn new(tx: tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>) -> Self {
        Self { tx }
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(bytes::Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A one-time passphrase: 25 characters of base32 from the OS's generator
/// (125 bits) in groups of five, easy to read out over the phone.
pub fn one_time_passphrase() -> zeroize::Zeroizing<String> {
    use rand::RngCore;
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = zeroize::Zeroizing::new([0u8; 25]);
    rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
    let groups: Vec<String> = bytes
        .chunks(5)
        .map(|c| {
            c.iter()
                .map(|b| ALPHABET[(*b & 31) as usize] as char)
                .collect()
        })
        .collect();
    zeroize::Zeroizing::new(groups.join("-"))
}

/// `2026-11-24 17:15:44 CET (+01:00)`: a moment as the report's reader
/// knows it, with its offset, so it converts back without doubt.
fn local_time(zone: &jiff::tz::TimeZone, at: custos_format::UtcMillis) -> String {
    match jiff::Timestamp::from_millisecond(at.as_millis()) {
        Ok(t) => t
            .to_zoned(zone.clone())
            .strftime("%Y-%m-%d %H:%M:%S %Z (%:z)")
            .to_string(),
        Err(_) => at.to_string(),
    }
}

/// `POST /api/v1/subject-requests/{case}/delivery`: the answer to a data
/// subject's access request, as an export package (FORMAT.md §12) holding
/// only the request's redacted copies.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDelivery {
    /// Default: every redacted copy made for the request.
    #[serde(default)]
    pub derivatives: Option<Vec<Uuid>>,
    #[serde(default)]
    pub age_recipient: Option<String>,
    #[serde(default)]
    pub passphrase: Option<String>,
    /// A download link instead of the package (default one download).
    #[serde(default)]
    pub link: Option<NewLink>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// Checks and audits a delivery (one entry for the request, one per copy,
/// durable before anything is written) and records it on the request. The
/// package names no requester: its recipient is "the data subject of
/// request CASE"; no original, neighbour or audit trail goes in.
pub async fn prepare_subject_delivery(
    d: &Arc<Deployment>,
    a: &Authenticated,
    case_id: &str,
    request: NewDelivery,
) -> Result<PreparedExport, ApiError> {
    let purpose = crate::subject::PURPOSE;
    let refusals = Refusals::new(d, a, "subject-request.deliver", case_id, purpose);
    a.permit(
        d,
        Action::HandleSubjectRequests,
        "subject-request.deliver",
        &refusals.object,
    )
    .await?;
    let case = match d.catalog.case(case_id).await.map_err(unavailable)? {
        Some(c) if c.kind == crate::subject::KIND && c.closed_at.is_none() => c,
        Some(c) if c.kind == crate::subject::KIND => {
            return refusals
                .refuse(Code::CaseClosed, "that request is closed")
                .await
        }
        _ => {
            return refusals
                .refuse(Code::NotFound, "no subject access request for that case")
                .await
        }
    };
    let live: Vec<custos_catalog::Derivative> = d
        .catalog
        .derivatives_for_case(case_id)
        .await
        .map_err(unavailable)?
        .into_iter()
        .filter(|x| x.deleted_at.is_none())
        .collect();
    let chosen: Vec<custos_catalog::Derivative> = match &request.derivatives {
        None => live,
        Some(ids) => {
            let mut wanted = ids.clone();
            wanted.sort();
            wanted.dedup();
            let found: Vec<_> = live
                .into_iter()
                .filter(|x| wanted.contains(&x.derivative_id))
                .collect();
            if found.len() != wanted.len() {
                return refusals
                    .refuse(
                        Code::NotACopy,
                        "one of those is not a redacted copy of this request",
                    )
                    .await;
            }
            found
        }
    };
    if chosen.is_empty() {
        return refusals
            .refuse(
                Code::NothingToDeliver,
                "make a redacted copy first: the answer holds only redacted copies",
            )
            .await;
    }
    let mut derived = Vec::new();
    for x in chosen {
        match d
            .catalog
            .recording(x.recording_id)
            .await
            .map_err(unavailable)?
        {
            Some(source) => derived.push((x, source)),
            None => {
                return refusals
                    .refuse(
                        Code::SourceGone,
                        "the recording a copy was made from has been deleted",
                    )
                    .await
            }
        }
    }
    let Terms {
        protection,
        link,
        zone_name,
        time_zone,
    } = terms(
        d,
        &refusals,
        request.age_recipient,
        request.passphrase,
        request.link.map(|l| NewLink {
            max_downloads: l.max_downloads.or(Some(1)),
            ..l
        }),
        request.time_zone,
    )
    .await?;
    let export_id = Uuid::now_v7();
    let recipient = format!("the data subject of request {case_id}");
    let mut events = vec![a
        .event(d, "subject-request.deliver", Outcome::Ok)
        .object(&refusals.object)
        .purpose(purpose, case_id)
        .detail(format!(
            "export {export_id}: {} redacted copies",
            derived.len()
        ))];
    for (x, _) in &derived {
        events.push(
            a.event(d, "derivative.export", Outcome::Ok)
                .object(format!("derivative:{}", x.derivative_id))
                .purpose(purpose, case_id)
                .detail(format!("export {export_id}")),
        );
    }
    d.audit.record_all(events).await.map_err(unavailable)?;
    d.catalog
        .record_subject_delivery(case_id, export_id, (d.clock)())
        .await
        .map_err(unavailable)?;
    let verifier = d.audit.verifier().clone();
    let (note, checkpoint, _) = crate::audit::newest_tree(&*d.catalog, &verifier)
        .await
        .map_err(unavailable)?;
    let description = ExportDescription {
        format: EXPORT_FORMAT.into(),
        export_id,
        server_id: d.ingest.server_id().to_owned(),
        created_at: (d.clock)(),
        created_by: a.caller.name.clone(),
        approved_by: None,
        purpose: purpose.into(),
        case: ExportCase {
            case_id: case.case_id.clone(),
            kind: case.kind.clone(),
            reference: None,
            label: case.label.clone(),
        },
        recipient: recipient.clone(),
        audit_tree_size: checkpoint.size,
        recordings: Vec::new(),
        derived: derived
            .iter()
            .map(|(x, _)| ExportedDerivative {
                derivative_id: x.derivative_id,
                source_recording_id: x.recording_id,
                sha256: x.sha256.clone(),
                dir: derived_dir(x.derivative_id),
            })
            .collect(),
    };
    let safe_case: String = case_id
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
        blob_keys: derived.iter().map(|(x, _)| x.blob_key.clone()).collect(),
    };
    Ok(PreparedExport {
        export_id,
        file_name: format!("custos-access-{safe_case}-{export_id}.tar.age"),
        description,
        gathered: Vec::new(),
        trails: Vec::new(),
        verifier,
        checkpoint_note: note,
        protection,
        language: Language::from_code(request.language.as_deref().unwrap_or("en")),
        time_zone,
        zone_name,
        failed: a
            .event(d, "subject-request.deliver", Outcome::Failed)
            .object(&refusals.object)
            .purpose(purpose, case_id),
        link,
        purpose: purpose.into(),
        case_id: case_id.to_owned(),
        recipient,
        derived,
        opens,
    })
}
