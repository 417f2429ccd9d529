//! Four-eyes export requests: one person asks, another approves, and only
//! an approved request's scope can be exported.

use super::*;

/// The approved request an export names: the caller's own, for this case,
/// approved by someone else, not yet used, and asking for exactly this.
pub(super) async fn approved_request(
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
