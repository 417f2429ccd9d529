//! Cases, links and holds, and the guard that keeps a subject access
//! request's case the privacy officer's.

use super::*;

/// The case `id`, if it exists and is open (404 / 409 otherwise).
pub(crate) async fn open_case_named(
    d: &Deployment,
    id: &str,
) -> Result<custos_catalog::Case, ApiError> {
    match d.catalog.case(id).await.map_err(unavailable)? {
        Some(c) if c.closed_at.is_none() => Ok(c),
        Some(_) => Err(ApiError::new(Code::CaseClosed, "that case is closed")),
        None => Err(ApiError::new(Code::NotFound, "no such case")),
    }
}

/// Whether `case_id` names a subject access request's case that `a` may
/// not see (anyone but the privacy officer).
pub(crate) async fn hidden_subject_case(
    d: &Deployment,
    a: &Authenticated,
    case_id: &str,
) -> Result<bool, ApiError> {
    if a.caller.role == Role::PrivacyOfficer {
        return Ok(false);
    }
    Ok(d.catalog
        .case(case_id)
        .await
        .map_err(unavailable)?
        .is_some_and(|c| c.kind == crate::subject::KIND))
}

/// A subject access request is the privacy officer's (GDPR art. 38–39):
/// its case, its holds and the footage looked at for it are refused to
/// every other role, and the refusal is audited. Otherwise a reviewer could
/// close the request's case or release its holds (making footage the
/// request needs deletable) or export it unredacted.
pub(crate) async fn subject_case_guard(
    d: &Deployment,
    a: &Authenticated,
    case: &custos_catalog::Case,
    action: &str,
    object: &str,
) -> Result<(), ApiError> {
    if case.kind != crate::subject::KIND || a.caller.role == Role::PrivacyOfficer {
        return Ok(());
    }
    let event = a
        .event(d, action, Outcome::Refused)
        .object(object)
        .case_only(&case.case_id);
    let answer = ApiError::new(
        Code::SubjectRequestCase,
        "a subject access request's case is handled by the privacy officer only",
    );
    Err(a.refused(d, event, answer).await)
}

// ---- Cases and holds ----

pub(crate) const CASE_KINDS: [&str; 4] = [
    "incident",
    "complaint",
    "subject-access-request",
    "police-request",
];

/// A case to open, as the API and the case form give it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// The case's id in the city's own register, if it has one.
    #[serde(default)]
    pub case_id: Option<String>,
    pub kind: String,
    /// For police requests: the PV number or other external reference.
    #[serde(default)]
    pub reference: Option<String>,
    pub label: String,
}

pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty()
        || value.len() > max
        || value.chars().any(custos_audit::is_hostile_char)
    {
        return Err(ApiError::new(
            Code::Invalid,
            format!("{field} must be 1–{max} bytes of text without control characters"),
        ));
    }
    Ok(())
}

/// The kinds of case a deployment keeps.
pub fn case_kinds() -> &'static [&'static str] {
    &CASE_KINDS
}

pub async fn open_case(
    d: &Deployment,
    a: &Authenticated,
    body: NewCase,
) -> Result<custos_catalog::Case, ApiError> {
    a.permit(d, Action::ManageCases, "case.open", "cases")
        .await?;
    if !CASE_KINDS.contains(&body.kind.as_str()) {
        return Err(ApiError::new(
            Code::Invalid,
            format!("kind must be one of {}", CASE_KINDS.join(", ")),
        ));
    }
    if body.kind == crate::subject::KIND && a.caller.role != Role::PrivacyOfficer {
        let event = a.event(d, "case.open", Outcome::Refused).object("cases");
        let answer = ApiError::new(
            Code::SubjectRequestCase,
            "a subject access request's case is opened by the privacy officer only",
        );
        return Err(a.refused(d, event, answer).await);
    }
    check_text("label", &body.label, 200)?;
    if let Some(r) = &body.reference {
        check_text("reference", r, 100)?;
    }
    if body.kind == "police-request" && body.reference.is_none() {
        return Err(ApiError::new(
            Code::ReferenceNeeded,
            "a police request needs its external reference (e.g. the PV number)",
        ));
    }
    let case_id = match body.case_id {
        Some(id) => {
            custos_format::manifest::check_identifier(&id)
                .map_err(|e| ApiError::new(Code::Invalid, format!("case_id: {e}")))?;
            id
        }
        None => format!("case-{}", &Uuid::now_v7().simple().to_string()[..12]),
    };
    let exists = || ApiError::new(Code::Exists, "a case with that id exists");
    let refused = a
        .event(d, "case.open", Outcome::Refused)
        .object(format!("case:{case_id}"))
        .case_only(&case_id);
    if d.catalog
        .case(&case_id)
        .await
        .map_err(unavailable)?
        .is_some()
    {
        return Err(a.refused(d, refused, exists()).await);
    }
    let now = (d.clock)();
    // Opened without an intake: a month from now (the intake sets it from receipt).
    let due_at = (body.kind == crate::subject::KIND).then(|| crate::subject::months_after(now, 1));
    let case = custos_catalog::Case {
        case_id: case_id.clone(),
        kind: body.kind,
        reference: body.reference,
        label: body.label,
        opened_by: a.caller.name.clone(),
        opened_at: now,
        due_at,
        closed_by: None,
        closed_at: None,
    };
    a.record(
        d,
        a.event(d, "case.open", Outcome::Ok)
            .object(format!("case:{case_id}"))
            .case_only(&case_id)
            .detail(format!("kind {}", case.kind)),
    )
    .await?;
    match d.catalog.add_case(&case).await {
        Ok(()) => Ok(case),
        // Opened by someone else between the check and now: the entry above
        // is then followed by one saying it did not happen.
        Err(custos_catalog::CatalogError::AlreadyExists { .. }) => {
            let failed = a
                .event(d, "case.open", Outcome::Failed)
                .object(format!("case:{case_id}"))
                .case_only(&case_id);
            Err(a.refused(d, failed, exists()).await)
        }
        Err(e) => Err(unavailable(e)),
    }
}

pub(crate) async fn post_case(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    body: Result<Json<NewCase>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<custos_catalog::Case>), ApiError> {
    a.permit(&d, Action::ManageCases, "case.open", "cases")
        .await?;
    let case = open_case(&d, &a, json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(case)))
}

pub(crate) trait CaseOnly {
    fn case_only(self, case: &str) -> Self;
}

impl CaseOnly for AuditEvent {
    fn case_only(mut self, case: &str) -> Self {
        self.case = Some(case.to_owned());
        self
    }
}

pub async fn list_cases(
    d: &Deployment,
    a: &Authenticated,
) -> Result<Vec<custos_catalog::Case>, ApiError> {
    a.permit(d, Action::ManageCases, "cases.list", "cases")
        .await?;
    a.ok(d, "cases.list", "cases").await?;
    let mut cases = d.catalog.cases().await.map_err(unavailable)?;
    // Subject access requests are listed for the privacy officer only.
    if a.caller.role != Role::PrivacyOfficer {
        cases.retain(|c| c.kind != crate::subject::KIND);
    }
    Ok(cases)
}

pub(crate) async fn cases(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Json<Vec<custos_catalog::Case>>, ApiError> {
    list_cases(&d, &a).await.map(Json)
}

/// A case and every hold ever placed for it (read is audited).
pub async fn case_with_holds(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
) -> Result<(custos_catalog::Case, Vec<custos_catalog::Hold>), ApiError> {
    let object = format!("case:{}", id.escape_default());
    a.permit(d, Action::ManageCases, "case.read", &object)
        .await?;
    let case = d.catalog.case(id).await.map_err(unavailable)?;
    let Some(case) = case else {
        return Err(ApiError::new(Code::NotFound, "no such case"));
    };
    subject_case_guard(d, a, &case, "case.read", &object).await?;
    a.ok(d, "case.read", &object).await?;
    let holds = d.catalog.holds_for_case(id).await.map_err(unavailable)?;
    Ok((case, holds))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    pub recording_id: Uuid,
    pub reason: String,
}

/// Attaches a recording to a case for viewing, with the reason, before
/// anyone plays, thumbnails or downloads it for that case. Audited
/// `case.link`. Linking twice keeps the first link (and says so).
pub async fn link_recording(
    d: &Deployment,
    a: &Authenticated,
    case_id: &str,
    body: NewLink,
) -> Result<(bool, custos_catalog::CaseLink), ApiError> {
    let object = format!("case:{}", case_id.escape_default());
    a.permit(d, Action::ManageCases, "case.link", &object)
        .await?;
    check_text("reason", &body.reason, 500)?;
    let case = open_case_named(d, case_id).await?;
    subject_case_guard(d, a, &case, "case.link", &object).await?;
    let recording_object = format!("recording:{}", body.recording_id);
    let found = d
        .catalog
        .recording(body.recording_id)
        .await
        .map_err(unavailable)?;
    if found.is_none() {
        let event = a
            .event(d, "case.link", Outcome::Failed)
            .object(&recording_object)
            .case_only(case_id);
        let answer = ApiError::new(Code::RecordingNotFound, "no such recording");
        return Err(a.refused(d, event, answer).await);
    }
    // Linked already: the first link stands and is answered, which shows
    // who linked it and why, so the asking is on record too.
    if let Some(first) = d
        .catalog
        .case_links(case_id)
        .await
        .map_err(unavailable)?
        .into_iter()
        .find(|l| l.recording_id == body.recording_id)
    {
        a.record(
            d,
            a.event(d, "case.link", Outcome::Ok)
                .object(&recording_object)
                .case_only(case_id)
                .detail("linked already"),
        )
        .await?;
        return Ok((false, first));
    }
    let link = custos_catalog::CaseLink {
        case_id: case_id.to_owned(),
        recording_id: body.recording_id,
        reason: body.reason,
        linked_by: a.caller.name.clone(),
        linked_at: (d.clock)(),
    };
    a.record(
        d,
        a.event(d, "case.link", Outcome::Ok)
            .object(&recording_object)
            .case_only(case_id),
    )
    .await?;
    let new = d.catalog.link_recording(&link).await.map_err(unavailable)?;
    if new {
        return Ok((true, link));
    }
    let first = d
        .catalog
        .case_links(case_id)
        .await
        .map_err(unavailable)?
        .into_iter()
        .find(|l| l.recording_id == link.recording_id)
        .ok_or_else(|| unavailable("link vanished"))?;
    Ok((false, first))
}

pub(crate) async fn post_link(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(case_id): Path<String>,
    body: Result<Json<NewLink>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<custos_catalog::CaseLink>), ApiError> {
    let (new, link) = link_recording(&d, &a, &case_id, json_body(body)?).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(link)))
}

pub(crate) async fn case(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (case, holds) = case_with_holds(&d, &a, &id).await?;
    let links = d.catalog.case_links(&id).await.map_err(unavailable)?;
    Ok(Json(
        serde_json::json!({"case": case, "holds": holds, "links": links}),
    ))
}

/// A released recording stays at least the grace period, never less than
/// its original period.
pub(crate) async fn keep_for_grace(d: &Deployment, recording_id: Uuid) -> Result<(), ApiError> {
    let grace_until = (d.clock)().plus_millis(d.policy().hold_release_grace_millis);
    if let Some(r) = d
        .catalog
        .recording(recording_id)
        .await
        .map_err(unavailable)?
    {
        if r.delete_after < grace_until {
            d.catalog
                .set_delete_after(r.recording_id, grace_until)
                .await
                .map_err(unavailable)?;
        }
    }
    Ok(())
}

/// Closes a case and releases its holds; returns how many it released.
pub async fn close_case(d: &Deployment, a: &Authenticated, id: &str) -> Result<usize, ApiError> {
    let object = format!("case:{}", id.escape_default());
    a.permit(d, Action::ManageCases, "case.close", &object)
        .await?;
    let now = (d.clock)();
    let case = open_case_named(d, id).await?;
    subject_case_guard(d, a, &case, "case.close", &object).await?;
    // A subject access request's closing says what was delivered.
    let delivered = match d.catalog.subject_request(id).await.map_err(unavailable)? {
        Some(r) => Some(match (r.delivered_export, r.delivered_at) {
            (Some(export), Some(at)) => format!("answered: export {export} made {at}"),
            _ => "closed without an answer delivered".to_owned(),
        }),
        None => None,
    };
    let mut closing = a
        .event(d, "case.close", Outcome::Ok)
        .object(&object)
        .case_only(id);
    if let Some(delivered) = delivered {
        closing = closing.detail(delivered);
    }
    a.record(d, closing).await?;
    let released = d
        .catalog
        .close_case(id, &a.caller.name, now)
        .await
        .map_err(unavailable)?;
    for hold in &released {
        let hold_object = format!("recording:{}", hold.recording_id);
        a.record(
            d,
            a.event(d, "hold.release", Outcome::Ok)
                .object(&hold_object)
                .case_only(id),
        )
        .await?;
        keep_for_grace(d, hold.recording_id).await?;
    }
    Ok(released.len())
}

pub(crate) async fn post_close_case(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let released = close_case(&d, &a, &id).await?;
    Ok(Json(
        serde_json::json!({"case_id": id, "released_holds": released}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    pub recording_id: Uuid,
    pub reason: String,
}

/// Keeps a recording for a case past its deletion date; with four eyes it
/// is in force only once someone else approves it.
pub async fn place_hold(
    d: &Deployment,
    a: &Authenticated,
    case_id: &str,
    body: NewHold,
) -> Result<custos_catalog::Hold, ApiError> {
    let object = format!("case:{}", case_id.escape_default());
    a.permit(d, Action::PlaceHold, "hold.place", &object)
        .await?;
    check_text("reason", &body.reason, 500)?;
    let case = open_case_named(d, case_id).await?;
    subject_case_guard(d, a, &case, "hold.place", &object).await?;
    if d.catalog
        .recording(body.recording_id)
        .await
        .map_err(unavailable)?
        .is_none()
    {
        return Err(ApiError::new(Code::RecordingNotFound, "no such recording"));
    }
    let now = (d.clock)();
    let needs_approval = d.policy().hold_needs_second_approver;
    let hold = custos_catalog::Hold {
        hold_id: Uuid::now_v7(),
        case_id: case_id.to_owned(),
        recording_id: body.recording_id,
        reason: body.reason,
        placed_by: a.caller.name.clone(),
        placed_at: now,
        approved_by: (!needs_approval).then(|| a.caller.name.clone()),
        approved_at: (!needs_approval).then_some(now),
        released_by: None,
        released_at: None,
    };
    a.record(
        d,
        a.event(d, "hold.place", Outcome::Ok)
            .object(format!("recording:{}", hold.recording_id))
            .case_only(case_id)
            .detail(if needs_approval {
                "awaiting a second approver"
            } else {
                "in force"
            }),
    )
    .await?;
    d.catalog.add_hold(&hold).await.map_err(unavailable)?;
    Ok(hold)
}

pub(crate) async fn post_hold(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(case_id): Path<String>,
    body: Result<Json<NewHold>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<custos_catalog::Hold>), ApiError> {
    let object = format!("case:{}", case_id.escape_default());
    a.permit(&d, Action::PlaceHold, "hold.place", &object)
        .await?;
    let hold = place_hold(&d, &a, &case_id, json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(hold)))
}

pub(crate) async fn hold_named(d: &Deployment, id: &str) -> Result<custos_catalog::Hold, ApiError> {
    let hold = match id.parse::<Uuid>() {
        Ok(uuid) => d.catalog.hold(uuid).await.map_err(unavailable)?,
        Err(_) => None,
    };
    hold.ok_or_else(|| ApiError::new(Code::NotFound, "no such hold"))
}

/// The second pair of eyes: anyone permitted but the placer.
pub async fn approve_hold(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
) -> Result<custos_catalog::Hold, ApiError> {
    let object = format!("hold:{}", id.escape_default());
    a.permit(d, Action::ApproveHold, "hold.approve", &object)
        .await?;
    let hold = hold_named(d, id).await?;
    if let Some(case) = d.catalog.case(&hold.case_id).await.map_err(unavailable)? {
        subject_case_guard(d, a, &case, "hold.approve", &object).await?;
    }
    if hold.placed_by == a.caller.name {
        let event = a.event(d, "hold.approve", Outcome::Refused).object(&object);
        let answer = ApiError::new(
            Code::FourEyes,
            "the placer cannot approve: a hold needs a second person's approval",
        );
        return Err(a.refused(d, event, answer).await);
    }
    if hold.approved_at.is_some() || hold.released_at.is_some() {
        return Err(ApiError::new(
            Code::NotPending,
            "that hold is not awaiting approval",
        ));
    }
    let now = (d.clock)();
    a.record(
        d,
        a.event(d, "hold.approve", Outcome::Ok)
            .object(&object)
            .case_only(&hold.case_id),
    )
    .await?;
    d.catalog
        .approve_hold(hold.hold_id, &a.caller.name, now)
        .await
        .map_err(unavailable)?;
    d.catalog
        .hold(hold.hold_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| unavailable("hold vanished"))
}

pub(crate) async fn post_approve_hold(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<custos_catalog::Hold>, ApiError> {
    approve_hold(&d, &a, &id).await.map(Json)
}

/// Ends one hold before its case closes (a recording wrongly added, a
/// complaint withdrawn). The recording then stays at least the grace period.
pub async fn release_hold(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
) -> Result<custos_catalog::Hold, ApiError> {
    let object = format!("hold:{}", id.escape_default());
    a.permit(d, Action::PlaceHold, "hold.release", &object)
        .await?;
    let hold = hold_named(d, id).await?;
    if let Some(case) = d.catalog.case(&hold.case_id).await.map_err(unavailable)? {
        subject_case_guard(d, a, &case, "hold.release", &object).await?;
    }
    if hold.released_at.is_some() {
        return Err(ApiError::new(
            Code::Released,
            "that hold was released already",
        ));
    }
    let now = (d.clock)();
    a.record(
        d,
        a.event(d, "hold.release", Outcome::Ok)
            .object(format!("recording:{}", hold.recording_id))
            .case_only(&hold.case_id)
            .detail(format!("hold {}", hold.hold_id)),
    )
    .await?;
    d.catalog
        .release_hold(hold.hold_id, &a.caller.name, now)
        .await
        .map_err(unavailable)?;
    keep_for_grace(d, hold.recording_id).await?;
    d.catalog
        .hold(hold.hold_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(|| unavailable("hold vanished"))
}

pub(crate) async fn post_release_hold(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<custos_catalog::Hold>, ApiError> {
    release_hold(&d, &a, &id).await.map(Json)
}
