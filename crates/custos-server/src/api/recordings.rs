//! Recordings' metadata: the list with its filters, one recording's
//! detail, and its audit trail.

use super::*;

/// `GET /recordings` filters; every one optional. Times are RFC 3339.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RecordingFilter {
    /// Started at or after.
    pub from: Option<String>,
    /// Started before.
    pub to: Option<String>,
    pub officer: Option<String>,
    pub camera: Option<String>,
    /// `stored` or `stored-truncated`.
    pub status: Option<String>,
    pub case: Option<String>,
    pub held: Option<bool>,
    /// Deleted by the sweeper before this moment unless held.
    pub due_before: Option<String>,
    #[serde(default)]
    pub offset: u64,
    /// Default and maximum 1,000.
    pub limit: Option<u64>,
}

impl RecordingFilter {
    pub fn to_query(&self) -> Result<custos_catalog::RecordingQuery, ApiError> {
        let time = |name: &str,
                    v: &Option<String>|
         -> Result<Option<custos_format::UtcMillis>, ApiError> {
            v.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| {
                    custos_format::UtcMillis::parse(s).ok_or_else(|| {
                        ApiError::new(
                            Code::Invalid,
                            format!("`{name}` must be an RFC 3339 time (2026-11-24T08:00:00Z)"),
                        )
                    })
                })
                .transpose()
        };
        let text = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let truncated = match self.status.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some("stored") => Some(false),
            Some("stored-truncated") => Some(true),
            Some(_) => {
                return Err(ApiError::new(
                    Code::Invalid,
                    "`status` is `stored` or `stored-truncated`",
                ))
            }
        };
        Ok(custos_catalog::RecordingQuery {
            started_from: time("from", &self.from)?,
            started_before: time("to", &self.to)?,
            officer_id: text(&self.officer),
            device_id: text(&self.camera),
            truncated,
            case_id: text(&self.case),
            held: self.held,
            due_before: time("due_before", &self.due_before)?,
            offset: self.offset,
            limit: self.limit.unwrap_or(1000).clamp(1, 1000),
        })
    }
}

/// One page of recordings as a caller may see them.
pub struct RecordingList {
    pub recordings: Vec<crate::admin::RecordingSummary>,
    pub total: u64,
}

/// Lists recordings (an officer: their own only). Audited with the filter's shape.
pub async fn list_recordings(
    d: &Deployment,
    a: &Authenticated,
    mut query: custos_catalog::RecordingQuery,
) -> Result<RecordingList, ApiError> {
    let scope = a
        .permit(d, Action::ListRecordings, "recordings.list", "recordings")
        .await?;
    if let Some(case_id) = query.case_id.clone() {
        // An officer does not learn which case holds their recordings; no
        // one but the privacy officer lists a subject request's candidates.
        let refused = scope == Scope::OwnRecordings || hidden_subject_case(d, a, &case_id).await?;
        if refused {
            let event = a
                .event(d, "recordings.list", Outcome::Refused)
                .object("recordings")
                .case_only(&case_id);
            let answer = ApiError::new(
                Code::CaseFilterNotAllowed,
                "this role may not list recordings by that case",
            );
            return Err(a.refused(d, event, answer).await);
        }
    }
    if scope == Scope::OwnRecordings {
        // An officer without an officer id has no recordings.
        query.officer_id = Some(match (&a.caller.officer_id, &query.officer_id) {
            (Some(own), Some(asked)) if own != asked => String::new(),
            (Some(own), _) => own.clone(),
            (None, _) => String::new(),
        });
    }
    a.ok(d, "recordings.list", "recordings").await?;
    let page = d
        .catalog
        .search_recordings(&query)
        .await
        .map_err(unavailable)?;
    Ok(RecordingList {
        recordings: page
            .recordings
            .iter()
            .map(|(r, held)| crate::admin::RecordingSummary::of(r, *held))
            .collect(),
        total: page.total,
    })
}

pub(crate) async fn recordings(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    q: Result<Query<RecordingFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let query = query(q)?.to_query()?;
    let list = list_recordings(&d, &a, query).await?;
    Ok((
        [("x-total-count", list.total.to_string())],
        Json(list.recordings),
    )
        .into_response())
}

/// A recording's metadata for someone who may see it: the summary, its
/// manifest (times, trigger, pre-record, GPS track, bookmarks, display use,
/// hashes), its holds and integrity incidents.
#[derive(serde::Serialize)]
pub struct RecordingDetail {
    #[serde(flatten)]
    pub summary: crate::admin::RecordingSummary,
    /// A Custos camera's signed manifest; `null` for an Axis recording, or
    /// if the stored manifest does not parse (it did at ingest).
    pub manifest: Option<custos_format::Manifest>,
    /// A camera's manifest's SHA-256; an Axis recording's completed
    /// metadata's (docs/AXIS.md).
    pub manifest_sha256: String,
    /// A camera's ciphertext's SHA-256; an Axis recording's content digest.
    pub ciphertext_sha256: String,
    /// What the Axis system controller said of it, and its clips; `null`
    /// for a Custos camera's recording.
    pub axis: Option<crate::axis::recordings::AxisDetail>,
    pub stored_at: custos_format::UtcMillis,
    /// Empty for an officer, who sees only `held` (secured or not).
    pub holds: Vec<custos_catalog::Hold>,
    /// Incidents that name this recording or its place in the camera's
    /// sequence, oldest first: the first [`RECORDING_INCIDENTS`].
    pub incidents: Vec<custos_catalog::Incident>,
    /// There are more than these (`GET /api/v1/incidents` pages through all).
    pub more_incidents: bool,
}

/// Incidents shown with a recording at most.
pub const RECORDING_INCIDENTS: u64 = 50;

pub async fn recording_detail(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
) -> Result<RecordingDetail, ApiError> {
    let object = format!("recording:{}", id.escape_default());
    let scope = a
        .permit(d, Action::ListRecordings, "recording.metadata", &object)
        .await?;
    let not_found = || ApiError::new(Code::NotFound, "no such recording");
    let r = match id.parse::<Uuid>() {
        Ok(uuid) => d.catalog.recording(uuid).await.map_err(unavailable)?,
        Err(_) => None,
    };
    // Someone else's recording is, for an officer, no recording at all.
    let Some(r) = r.filter(|r| visible(scope, &a.caller, r)) else {
        let event = a
            .event(d, "recording.metadata", Outcome::Failed)
            .object(&object);
        return Err(a.refused(d, event, not_found()).await);
    };
    a.ok(d, "recording.metadata", &object).await?;
    let holds = d
        .catalog
        .holds_for_recording(r.recording_id)
        .await
        .map_err(unavailable)?;
    let held = holds.iter().any(|h| h.released_at.is_none());
    // An officer sees that their recording is secured, never by whom, for
    // which case or why: an investigation (a complaint, a subject's
    // request) about them is not theirs to follow.
    let holds = match scope {
        Scope::All => {
            // A subject request's holds are the privacy officer's to see.
            let mut shown = Vec::with_capacity(holds.len());
            for h in holds {
                if !hidden_subject_case(d, a, &h.case_id).await? {
                    shown.push(h);
                }
            }
            shown
        }
        Scope::OwnRecordings => Vec::new(),
    };
    let mut incidents = d
        .catalog
        .incidents_for_recording(
            r.recording_id,
            &r.device_id,
            r.sequence,
            RECORDING_INCIDENTS + 1,
        )
        .await
        .map_err(unavailable)?;
    let more_incidents = incidents.len() as u64 > RECORDING_INCIDENTS;
    incidents.truncate(RECORDING_INCIDENTS as usize);
    Ok(RecordingDetail {
        summary: crate::admin::RecordingSummary::of(&r, held),
        manifest: r
            .camera()
            .and_then(|c| custos_format::Manifest::from_canonical_bytes(&c.manifest).ok()),
        manifest_sha256: hex::encode(match &r.provenance {
            custos_catalog::Provenance::Camera(c) => c.manifest_sha256,
            custos_catalog::Provenance::Axis(a) => a.metadata_sha256,
        }),
        ciphertext_sha256: hex::encode(match &r.provenance {
            custos_catalog::Provenance::Camera(c) => c.ciphertext_sha256,
            custos_catalog::Provenance::Axis(a) => a.content_sha256,
        }),
        axis: match r.axis() {
            Some(a) => Some(crate::axis::recordings::detail(d, r.recording_id, a).await?),
            None => None,
        },
        stored_at: r.stored_at,
        holds,
        incidents,
        more_incidents,
    })
}

pub(crate) async fn recording(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<RecordingDetail>, ApiError> {
    recording_detail(&d, &a, &id).await.map(Json)
}

/// Entries naming one recording, oldest first (at most 1,000).
pub async fn recording_trail(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let object = format!("recording:{}", id.escape_default());
    a.permit(d, Action::ReadRecordingTrail, "recording.trail", &object)
        .await?;
    let known = match id.parse::<Uuid>() {
        Ok(uuid) => {
            d.catalog
                .recording(uuid)
                .await
                .map_err(unavailable)?
                .is_some()
                || d.catalog
                    .tombstone(uuid)
                    .await
                    .map_err(unavailable)?
                    .is_some()
        }
        Err(_) => false,
    };
    if !known {
        let event = a
            .event(d, "recording.trail", Outcome::Failed)
            .object(&object);
        let answer = ApiError::new(Code::NotFound, "no such recording");
        return Err(a.refused(d, event, answer).await);
    }
    // Read first, then audited: the trail shown does not include this read.
    let rows = d
        .catalog
        .audit_entries_for_object(&object, 1000)
        .await
        .map_err(unavailable)?;
    a.ok(d, "recording.trail", &object).await?;
    // Entries made for a subject request show who asked about whom: the
    // privacy officer's to see (others see that the trail leaves them out).
    let mut kinds: std::collections::HashMap<String, bool> = Default::default();
    let mut shown = Vec::with_capacity(rows.len());
    for row in rows {
        let case = custos_audit::AuditEntry::parse(&row.bytes)
            .ok()
            .and_then(|e| e.event.case);
        if let Some(case) = case {
            let hidden = match kinds.get(&case) {
                Some(h) => *h,
                None => {
                    let h = hidden_subject_case(d, a, &case).await?;
                    kinds.insert(case, h);
                    h
                }
            };
            if hidden {
                continue;
            }
        }
        shown.push(row);
    }
    entries_json(&shown)
}

/// Stored audit entries as the API gives them: index, entry, leaf hash.
pub(crate) fn entries_json(
    rows: &[custos_catalog::StoredEntry],
) -> Result<Vec<serde_json::Value>, ApiError> {
    rows.iter()
        .map(|r| {
            let entry: serde_json::Value = serde_json::from_slice(&r.bytes).map_err(unavailable)?;
            Ok(serde_json::json!({
                "index": r.index,
                "entry": entry,
                "leaf_hash": hex::encode(r.leaf_hash),
            }))
        })
        .collect()
}

pub(crate) async fn recording_audit(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    recording_trail(&d, &a, &id).await.map(Json)
}
