//! The JSON/HTTP face of ingest (docs/PROTOCOL.md). Every request is made by
//! an enrolled dock, authenticated with its bearer token.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use custos_audit::{AuditEvent, Outcome};
use custos_catalog::{IncidentKind, NewIncident};
use custos_format::SignedReceipt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::ingest::{IngestError, Offer};
use crate::Deployment;

pub const UPLOAD_OFFSET: &str = "upload-offset";
pub const UPLOAD_LENGTH: &str = "upload-length";

/// The server's routes, with `pages` (the web UI, from its own crate) beside them.
pub fn router(deployment: Arc<Deployment>, pages: Router<Arc<Deployment>>) -> Router {
    Router::new()
        .route(
            "/api/v1/health",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/api/v1/dock", get(whoami))
        .route(
            "/api/v1/openapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    include_str!("openapi.json"),
                )
            }),
        )
        .route(
            "/api/v1/uploads",
            post(offer).layer(DefaultBodyLimit::max(8 * 1024 * 1024)),
        )
        .route(
            "/api/v1/uploads/{id}",
            patch(append)
                .head(status)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/uploads/{id}/complete", post(complete))
        .merge(crate::api::routes())
        .merge(pages)
        .layer(axum::middleware::from_fn(close_after_unread_body))
        .with_state(deployment)
}

/// A request refused before its body was read leaves that body on the
/// connection, and the server then closes it. Saying so (`Connection: close`)
/// keeps clients from sending their next request into a closing connection.
async fn close_after_unread_body(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let has_body = request
        .headers()
        .contains_key(axum::http::header::CONTENT_LENGTH)
        && request.headers().get(axum::http::header::CONTENT_LENGTH)
            != Some(&HeaderValue::from_static("0"))
        || request
            .headers()
            .contains_key(axum::http::header::TRANSFER_ENCODING);
    let mut response = next.run(request).await;
    if has_body && (response.status().is_client_error() || response.status().is_server_error()) {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            HeaderValue::from_static("close"),
        );
    }
    response
}

/// Lets a dock check its own standing (enrolled, not revoked, right token).
async fn whoami(DockAuth(dock): DockAuth) -> Json<serde_json::Value> {
    Json(serde_json::json!({"dock_id": dock}))
}

/// An error as clients see it: a status and a stable code.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    offset: Option<u64>,
}

impl ApiError {
    /// The human-readable part of the answer.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable, machine-readable part (`forbidden`, `not-found`, …).
    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            offset: None,
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        use IngestError::*;
        let status = match &e {
            UnknownCamera(_) | RevokedCamera(_) => StatusCode::FORBIDDEN,
            MalformedManifest(_)
            | BadSignature(_)
            | WrongEvidenceKey
            | BrokenChain { .. }
            | CiphertextMismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Replay(_) | OffsetMismatch { .. } | Incomplete { .. } => StatusCode::CONFLICT,
            UploadNotFound(_) => StatusCode::NOT_FOUND,
            TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        };
        let offset = match &e {
            OffsetMismatch { current, .. } => Some(*current),
            Incomplete { have, .. } => Some(*have),
            _ => None,
        };
        if status.is_server_error() {
            tracing::error!(code = e.code(), error = %e, "ingest failed on the server side");
        }
        Self {
            status,
            code: e.code(),
            message: e.to_string(),
            offset,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(serde_json::json!({"error": {"code": self.code, "message": self.message}}));
        let mut response = (self.status, body).into_response();
        if let Some(offset) = self.offset {
            response
                .headers_mut()
                .insert(UPLOAD_OFFSET, HeaderValue::from(offset));
        }
        response
    }
}

/// An authenticated, enrolled, unrevoked dock.
pub struct DockAuth(pub String);

impl FromRequestParts<Arc<Deployment>> for DockAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, d: &Arc<Deployment>) -> Result<Self, ApiError> {
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a dock token is required: Authorization: Bearer DOCK_ID:TOKEN",
            )
        };
        let value = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(unauthorized)?;
        let (dock_id, token) = value
            .strip_prefix("Bearer ")
            .and_then(|t| t.split_once(':'))
            .ok_or_else(unauthorized)?;
        let dock = d
            .catalog
            .dock(dock_id)
            .await
            .map_err(|e| ApiError::from(IngestError::from(e)))?;
        let presented = hex::encode(Sha256::digest(token.as_bytes()));
        let refusal = match &dock {
            None => Some("unknown dock"),
            Some(dock) if !constant_time_eq(dock.token_sha256.as_bytes(), presented.as_bytes()) => {
                Some("wrong dock token")
            }
            Some(dock) if dock.revoked_at.is_some() => Some("revoked dock"),
            Some(_) => None,
        };
        if let Some(reason) = refusal {
            let now = (d.ingest_clock())();
            let event = AuditEvent::new(
                now,
                format!("dock:{dock_id}"),
                "dock.authenticate",
                Outcome::Refused,
            )
            .detail(reason);
            if let Err(e) = d.audit.record(event).await {
                tracing::error!(error = %e, "could not write an audit entry");
            }
            let incident = NewIncident {
                kind: IncidentKind::UnknownOrRevoked,
                device_id: None,
                dock_id: Some(dock_id.into()),
                sequence: None,
                recording_id: None,
                detail: reason.into(),
            };
            let _ = d.catalog.add_incident(&incident, now).await;
            return Err(if reason == "revoked dock" {
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "dock-revoked",
                    "this dock is revoked",
                )
            } else {
                unauthorized()
            });
        }
        Ok(DockAuth(dock_id.to_owned()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    /// The manifest's exact text.
    pub manifest: String,
    /// The camera's signature, 128 hex digits.
    pub signature: String,
}

#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum OfferResponse {
    Stored {
        receipt: String,
        receipt_signature: String,
    },
    Upload {
        upload_id: Uuid,
        offset: u64,
        length: u64,
    },
}

pub fn receipt_response(r: &SignedReceipt) -> OfferResponse {
    OfferResponse::Stored {
        receipt: String::from_utf8_lossy(r.bytes()).into_owned(),
        receipt_signature: hex::encode(r.signature()),
    }
}

async fn offer(
    State(d): State<Arc<Deployment>>,
    DockAuth(dock): DockAuth,
    body: axum::body::Bytes,
) -> Result<Json<OfferResponse>, ApiError> {
    let request: OfferRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!("expected {{manifest, signature}}: {e}"),
        )
    })?;
    let signature = hex::decode(&request.signature).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "signature is not hex",
        )
    })?;
    Ok(Json(
        match d
            .ingest
            .offer(&dock, request.manifest.as_bytes(), &signature)
            .await?
        {
            Offer::Stored(receipt) => receipt_response(&receipt),
            Offer::Upload {
                upload_id,
                offset,
                length,
            } => OfferResponse::Upload {
                upload_id,
                offset,
                length,
            },
        },
    ))
}

fn upload_headers(offset: u64, length: Option<u64>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(UPLOAD_OFFSET, HeaderValue::from(offset));
    if let Some(length) = length {
        headers.insert(UPLOAD_LENGTH, HeaderValue::from(length));
    }
    headers
}

async fn status(
    State(d): State<Arc<Deployment>>,
    _dock: DockAuth,
    Path(id): Path<Uuid>,
) -> Result<(StatusCode, HeaderMap), ApiError> {
    let (offset, length) = d.ingest.status(id).await?;
    Ok((StatusCode::NO_CONTENT, upload_headers(offset, Some(length))))
}

async fn append(
    State(d): State<Arc<Deployment>>,
    _dock: DockAuth,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, HeaderMap), ApiError> {
    let offset = headers
        .get(UPLOAD_OFFSET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Upload-Offset header required",
            )
        })?;
    let new_offset = d.ingest.append(id, offset, body.into_data_stream()).await?;
    Ok((StatusCode::NO_CONTENT, upload_headers(new_offset, None)))
}

async fn complete(
    State(d): State<Arc<Deployment>>,
    DockAuth(dock): DockAuth,
    Path(id): Path<Uuid>,
) -> Result<Json<OfferResponse>, ApiError> {
    let receipt = d.ingest.complete(&dock, id).await?;
    Ok(Json(receipt_response(&receipt)))
}
