//! Retention categories and moving one recording to another.

use super::*;

// ---- Retention categories ----

/// A category this deployment defines, or 400 naming the ones it does.
pub(crate) fn known_category(d: &Deployment, category: &str) -> Result<i64, ApiError> {
    d.retention().period(category).ok_or_else(|| {
        ApiError::new(
            Code::UnknownCategory,
            format!(
                "no retention category `{}` here (defined: {})",
                category.escape_default(),
                d.retention().describe()
            ),
        )
    })
}

pub(crate) async fn retention_policy(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Json<serde_json::Value>, ApiError> {
    // Everyone signed in may know how long recordings are kept.
    a.ok(&d, "retention.read", "retention").await?;
    let mut categories = vec![serde_json::json!({
        "category": crate::retention::STANDARD_CATEGORY,
        "period_seconds": d.retention().default_millis / 1000,
    })];
    categories.extend(d.retention().categories.iter().map(
        |(name, period)| serde_json::json!({"category": name, "period_seconds": period / 1000}),
    ));
    Ok(Json(serde_json::json!({
        "categories": categories,
        "hold_release_grace_seconds": d.policy().hold_release_grace_millis / 1000,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordingRetention {
    category: String,
    /// Why: kept in the audit log.
    reason: String,
}

pub(crate) async fn set_recording_retention(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<RecordingRetention>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::admin::RecordingSummary>, ApiError> {
    let object = format!("recording:{}", id.escape_default());
    a.permit(&d, Action::SetRetention, "recording.retention", &object)
        .await?;
    let body = json_body(body)?;
    let reason = body.reason.trim();
    if reason.is_empty()
        || reason.chars().count() > 500
        || reason.chars().any(custos_audit::is_hostile_char)
    {
        return Err(ApiError::new(
            Code::Invalid,
            "a reason of 1–500 characters without control characters is required",
        ));
    }
    let period = known_category(&d, &body.category)?;
    let not_found = || ApiError::new(Code::NotFound, "no such recording");
    let recording = match id.parse::<Uuid>() {
        Ok(uuid) => d.catalog.recording(uuid).await.map_err(unavailable)?,
        Err(_) => None,
    };
    let Some(r) = recording else {
        let event = a
            .event(&d, "recording.retention", Outcome::Failed)
            .object(&object);
        return Err(a.refused(&d, event, not_found()).await);
    };
    // The new period counts from the recording's end; a released hold's
    // grace still stands. A deadline already past means the next sweep.
    let mut deadline = r.ended_at.plus_millis(period);
    let holds = d
        .catalog
        .holds_for_recording(r.recording_id)
        .await
        .map_err(unavailable)?;
    for hold in &holds {
        if let Some(released) = hold.released_at {
            deadline = deadline.max(released.plus_millis(d.policy().hold_release_grace_millis));
        }
    }
    let held = holds.iter().any(|h| h.released_at.is_none());
    a.record(
        &d,
        a.event(&d, "recording.retention", Outcome::Ok)
            .object(&object)
            .detail(format!(
                "category {} -> {}; delete after {deadline} (was {}); reason: {reason}",
                r.retention_category, body.category, r.delete_after
            )),
    )
    .await?;
    d.catalog
        .set_recording_retention(r.recording_id, &body.category, deadline)
        .await
        .map_err(unavailable)?;
    let updated = d
        .catalog
        .recording(r.recording_id)
        .await
        .map_err(unavailable)?
        .ok_or_else(not_found)?;
    Ok(Json(crate::admin::RecordingSummary::of(&updated, held)))
}
