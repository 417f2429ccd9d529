//! A dock's report of a recording it set aside on the camera: the camera's
//! copy is damaged or unreadable, or does not match its receipt. The
//! recording's signed manifest names it, so the report is about a real
//! recording of an enrolled camera; it is one incident per recording,
//! however often a docking reports it again, and a gap before a later
//! recording names it set aside, not missing.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use custos_audit::{AuditEvent, Outcome};
use custos_format::{SignedManifest, VerifyingKey};
use custos_protocol::{SetAsideReport, SET_ASIDE_CODES as CODES};

use crate::api::unavailable;
use crate::http::{ApiError, Code, DockAuth};
use crate::Deployment;

/// At most this much of the dock's own words is kept.
const MAX_DETAIL: usize = 200;

/// `POST /api/v1/dock/set-aside` (dock token) → `202 {"status": "recorded"}`.
pub(crate) async fn post_set_aside(
    State(d): State<Arc<Deployment>>,
    DockAuth(dock): DockAuth,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let refuse = |answer: ApiError| {
        let d = d.clone();
        let dock = dock.clone();
        async move {
            let event = AuditEvent::new(
                (d.clock)(),
                format!("dock:{dock}"),
                "dock.set-aside",
                Outcome::Refused,
            )
            .object(format!("dock:{dock}"))
            .detail(answer.code().as_str());
            match d.audit.record(event).await {
                Ok(_) => answer,
                Err(e) => unavailable(e),
            }
        }
    };
    let report: SetAsideReport = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let answer = ApiError::new(
                Code::BadRequest,
                format!("expected {{manifest, signature, code, detail}}: {e}"),
            );
            return Err(refuse(answer).await);
        }
    };
    if !CODES.contains(&report.code.as_str()) {
        let answer = ApiError::new(Code::Invalid, format!("code: one of {}", CODES.join(", ")));
        return Err(refuse(answer).await);
    }
    let Ok(signature) = hex::decode(&report.signature) else {
        let answer = ApiError::new(Code::BadRequest, "signature is not hex");
        return Err(refuse(answer).await);
    };
    let signed = match SignedManifest::parse(report.manifest.as_bytes(), &signature) {
        Ok(s) => s,
        Err(e) => {
            let answer = ApiError::new(Code::MalformedManifest, format!("the manifest: {e}"));
            return Err(refuse(answer).await);
        }
    };
    let m = signed.manifest();
    let device = d
        .catalog
        .device(&m.device_id)
        .await
        .map_err(unavailable)?
        .filter(|x| x.revoked_at.is_none());
    let Some(device) = device else {
        let answer = ApiError::new(
            Code::CameraUnknown,
            "no such camera is enrolled (or it is revoked)",
        );
        return Err(refuse(answer).await);
    };
    let key = VerifyingKey::from_hex(&device.public_key).map_err(unavailable)?;
    if signed.verify(&key).is_err() {
        let answer = ApiError::new(
            Code::BadSignature,
            "the manifest's signature does not verify with the camera's key",
        );
        return Err(refuse(answer).await);
    }
    // The dock's words are kept as a bounded, plain excerpt.
    let detail: String = report
        .detail
        .chars()
        .filter(|c| !c.is_control() && !custos_audit::is_hostile_char(*c))
        .take(MAX_DETAIL)
        .collect();
    d.ingest
        .report_set_aside(&dock, &signed, &format!("{}: {detail}", report.code))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"status": "recorded"})),
    ))
}
