//! The audit log: entries, checkpoints, proofs, and its own check.

use super::*;

pub(crate) async fn audit_checkpoint(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Json<serde_json::Value>, ApiError> {
    a.permit(&d, Action::ReadAudit, "audit.checkpoint", "audit-log")
        .await?;
    a.ok(&d, "audit.checkpoint", "audit-log").await?;
    let tip = d.catalog.audit_tip().await.map_err(unavailable)?;
    Ok(Json(serde_json::json!({
        "log_key": d.audit.verifier().to_vkey(),
        "checkpoint": tip.map(|t| t.checkpoint.note),
    })))
}

/// Audit entries an [`custos_catalog::AuditQuery`] selects (newest first
/// unless asked otherwise), and how many match; reading them is audited.
pub async fn search_audit(
    d: &Deployment,
    a: &Authenticated,
    q: custos_catalog::AuditQuery,
) -> Result<(Vec<serde_json::Value>, u64), ApiError> {
    a.permit(d, Action::ReadAudit, "audit.read", "audit-log")
        .await?;
    a.record(
        d,
        a.event(d, "audit.read", Outcome::Ok)
            .object("audit-log")
            .detail("search"),
    )
    .await?;
    let (rows, total) = d.catalog.search_audit(&q).await.map_err(unavailable)?;
    Ok((entries_json(&rows)?, total))
}

/// The log's newest signed checkpoint, opened with the log's key.
#[derive(serde::Serialize)]
pub struct AuditStatus {
    /// The signed-note verifier key (`origin+keyid+key`).
    pub log_key: String,
    /// The checkpoint as stored (a C2SP signed note), if the log has entries.
    pub note: Option<String>,
    pub size: u64,
    pub root: Option<String>,
    /// The note's signature verifies with `log_key`.
    pub signature_valid: bool,
}

pub async fn audit_status(d: &Deployment, a: &Authenticated) -> Result<AuditStatus, ApiError> {
    a.permit(d, Action::ReadAudit, "audit.checkpoint", "audit-log")
        .await?;
    a.ok(d, "audit.checkpoint", "audit-log").await?;
    let tip = d.catalog.audit_tip().await.map_err(unavailable)?;
    let note = tip.map(|t| t.checkpoint.note);
    let opened = note.as_deref().map(|n| d.audit.verifier().open(n));
    let (size, root, valid) = match &opened {
        Some(Ok(c)) => (c.size, Some(hex::encode(c.root)), true),
        Some(Err(_)) | None => (0, None, false),
    };
    Ok(AuditStatus {
        log_key: d.audit.verifier().to_vkey(),
        note,
        size,
        root,
        signature_valid: valid,
    })
}

/// The whole log recomputed against every signed checkpoint, as `custos
/// audit verify` does: the verified log, or the first finding.
pub async fn verify_audit_log(
    d: &Deployment,
    a: &Authenticated,
) -> Result<Result<custos_audit::VerifiedLog, custos_audit::Tampering>, ApiError> {
    a.permit(d, Action::ReadAudit, "audit.verify", "audit-log")
        .await?;
    a.ok(d, "audit.verify", "audit-log").await?;
    crate::audit::verify_stored(&*d.catalog, d.audit.verifier())
        .await
        .map_err(unavailable)
}

/// Starts an export of the entries a query selects: permitted and audited
/// here, before the first row leaves; the caller then pages through
/// `d.catalog.search_audit` itself (an export may be long).
pub async fn begin_audit_export(
    d: &Deployment,
    a: &Authenticated,
    format: &str,
) -> Result<(), ApiError> {
    a.permit(d, Action::ReadAudit, "audit.export", "audit-log")
        .await?;
    a.record(
        d,
        a.event(d, "audit.export", Outcome::Ok)
            .object("audit-log")
            .detail(format!("format {format}")),
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntriesQuery {
    #[serde(default)]
    from: u64,
    #[serde(default = "default_limit")]
    limit: u64,
}

pub(crate) fn default_limit() -> u64 {
    100
}

pub(crate) async fn audit_entries(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    q: Result<Query<EntriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    a.permit(&d, Action::ReadAudit, "audit.read", "audit-log")
        .await?;
    let q = query(q)?;
    a.record(
        &d,
        a.event(&d, "audit.read", Outcome::Ok)
            .object("audit-log")
            .detail(format!("from {}", q.from)),
    )
    .await?;
    let rows = d
        .catalog
        .audit_entries(q.from, q.limit.clamp(1, 1000))
        .await
        .map_err(unavailable)?;
    entries_json(&rows).map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InclusionQuery {
    index: u64,
    size: u64,
}

pub(crate) async fn inclusion_proof(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    q: Result<Query<InclusionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    a.permit(&d, Action::ReadAudit, "audit.proof", "audit-log")
        .await?;
    let q = query(q)?;
    let leaves = proof_leaves(&d, q.size).await?;
    let proof = custos_audit::merkle::Levels::new(leaves)
        .inclusion_proof(q.index as usize)
        .ok_or_else(|| ApiError::new(Code::Invalid, "index must be below size"))?;
    a.ok(&d, "audit.proof", "audit-log").await?;
    Ok(Json(serde_json::json!({
        "index": q.index,
        "size": q.size,
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    from: u64,
    to: u64,
}

pub(crate) async fn consistency_proof(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    q: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    a.permit(&d, Action::ReadAudit, "audit.proof", "audit-log")
        .await?;
    let q = query(q)?;
    let leaves = proof_leaves(&d, q.to).await?;
    let proof = custos_audit::merkle::consistency_proof(q.from as usize, &leaves)
        .ok_or_else(|| ApiError::new(Code::Invalid, "from must not exceed to"))?;
    a.ok(&d, "audit.proof", "audit-log").await?;
    Ok(Json(serde_json::json!({
        "from": q.from,
        "to": q.to,
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    })))
}

/// Leaves for a proof at `size`, which must be a size some checkpoint signed.
pub(crate) async fn proof_leaves(
    d: &Deployment,
    size: u64,
) -> Result<Vec<custos_audit::Hash>, ApiError> {
    if d.catalog
        .audit_checkpoint(size)
        .await
        .map_err(unavailable)?
        .is_none()
    {
        return Err(ApiError::new(
            Code::NoCheckpoint,
            "no signed checkpoint of that size",
        ));
    }
    d.catalog.audit_leaf_hashes(size).await.map_err(unavailable)
}
