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
use custos_format::SignedReceipt;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use crate::error::{ApiError, Code};
use crate::ingest::{IngestError, Offer};
use crate::Deployment;

pub use custos_protocol::{OfferRequest, OfferResponse, UPLOAD_LENGTH, UPLOAD_OFFSET};

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
        .route(
            "/api/v1/dock/set-aside",
            post(crate::dock_reports::post_set_aside).layer(DefaultBodyLimit::max(1024 * 1024)),
        )
        .merge(crate::api::routes())
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(
            deployment.clone(),
            crate::edge::refuse_malformed,
        ))
        .layer(axum::middleware::from_fn(close_after_unread_body))
        .layer(axum::middleware::from_fn(crate::headers::secure_headers))
        .with_state(deployment)
}

/// Bodies up to this size (JSON, forms, an offer's manifest) are read whole
/// before any handler runs.
const READ_FIRST: u64 = 64 * 1024;

/// A request refused before its body was read leaves that body on the
/// socket, and closing a socket with unread data sends a reset that can
/// destroy the refusal before the client reads it (a `401` arrives as
/// "connection reset"). So small bodies are read first: the connection then
/// closes cleanly, or stays open. A larger body (an upload's piece) that a
/// refusal leaves unread still gets `Connection: close`, so the client does
/// not send its next request into a closing connection.
async fn close_after_unread_body(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    read_small_body_first(request, next, || {
        ApiError::new(Code::BadRequest, "the request body could not be read").into_response()
    })
    .await
}

/// [`close_after_unread_body`] with `unreadable` as the answer to a small
/// body that could not be read (the Axis listener answers in its own form).
pub(crate) async fn read_small_body_first(
    request: axum::extract::Request,
    next: axum::middleware::Next,
    unreadable: impl FnOnce() -> Response,
) -> Response {
    let length = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = request
        .headers()
        .contains_key(axum::http::header::TRANSFER_ENCODING);
    let (request, unread) = match length {
        Some(n) if n > 0 && n <= READ_FIRST && !chunked => {
            let (parts, body) = request.into_parts();
            match axum::body::to_bytes(body, READ_FIRST as usize).await {
                Ok(bytes) => (
                    axum::extract::Request::from_parts(parts, Body::from(bytes)),
                    false,
                ),
                Err(_) => {
                    let mut answer = unreadable();
                    answer.headers_mut().insert(
                        axum::http::header::CONNECTION,
                        HeaderValue::from_static("close"),
                    );
                    return answer;
                }
            }
        }
        Some(0) | None if !chunked => (request, false),
        _ => (request, true),
    };
    let mut response = next.run(request).await;
    if unread && (response.status().is_client_error() || response.status().is_server_error()) {
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

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        use IngestError::*;
        let code = e.code();
        if code.status().is_server_error() {
            tracing::error!(code = code.as_str(), error = %e, "ingest failed on the server side");
        }
        let answer = ApiError::new(code, e.to_string());
        match &e {
            OffsetMismatch { current, .. } | UploadBusy { current } => answer.at_offset(*current),
            Incomplete { have, .. } => answer.at_offset(*have),
            _ => answer,
        }
    }
}

/// An authenticated, enrolled, unrevoked dock.
pub struct DockAuth(pub String);

/// Longest dock token looked at (ours are 64 hex digits).
const MAX_DOCK_TOKEN_LEN: usize = 256;

impl FromRequestParts<Arc<Deployment>> for DockAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, d: &Arc<Deployment>) -> Result<Self, ApiError> {
        let unauthorized = || {
            ApiError::new(
                Code::Unauthorized,
                "a dock token is required: Authorization: Bearer DOCK_ID:TOKEN",
            )
        };
        let source = crate::admission::source_of(parts);
        let Some(value) = parts.headers.get("authorization") else {
            return Err(unauthorized());
        };
        // Credentials that are not text are refused like a malformed id:
        // on record, as an excerpt. Text that is no dock credential at all
        // (a person's session token) is simply not one.
        let Ok(value) = value.to_str() else {
            let shown = String::from_utf8_lossy(value.as_bytes());
            refuse_dock(d, &shown, &source, "malformed dock credentials").await?;
            return Err(malformed_credentials());
        };
        let (dock_id, token) = value
            .strip_prefix("Bearer ")
            .and_then(|t| t.split_once(':'))
            .ok_or_else(unauthorized)?;
        // A dock id that is no identifier is never looked up, nor kept as
        // given: its refusal and incident hold an excerpt.
        if custos_format::manifest::check_identifier(dock_id).is_err()
            || token.len() > MAX_DOCK_TOKEN_LEN
        {
            refuse_dock(d, dock_id, &source, "malformed dock credentials").await?;
            return Err(malformed_credentials());
        }
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
            refuse_dock(d, dock_id, &source, reason).await?;
            return Err(if reason == "revoked dock" {
                ApiError::new(Code::DockRevoked, "this dock is revoked")
            } else {
                unauthorized()
            });
        }
        Ok(DockAuth(dock_id.to_owned()))
    }
}

fn malformed_credentials() -> ApiError {
    ApiError::new(
        Code::MalformedRequest,
        "expected Authorization: Bearer DOCK_ID:TOKEN, the id 1-64 of A-Z a-z 0-9 . _ - \
         starting alphanumeric, the token at most 256 bytes",
    )
}

/// A refused dock credential: audited (the dock id as an excerpt), and
/// counted into its source's incident for the hour rather than a row each
/// (written once a second, `refusals.rs`).
async fn refuse_dock(
    d: &Deployment,
    dock_id: &str,
    source: &crate::admission::Source,
    reason: &'static str,
) -> Result<(), ApiError> {
    let now = (d.ingest_clock())();
    let dock = custos_audit::excerpt(dock_id);
    let event = AuditEvent::new(
        now,
        format!("dock:{dock}"),
        "dock.authenticate",
        Outcome::Refused,
    )
    .client(source.address())
    .detail(reason);
    if d.auth.refusal_audit.admit(source, now) {
        d.audit
            .record(event)
            .await
            .map_err(crate::api::unavailable)?;
    }
    d.refusals
        .count(&*d.catalog, source.group(), reason, dock, now)
        .await;
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
            Code::BadRequest,
            format!("expected {{manifest, signature}}: {e}"),
        )
    })?;
    let signature = hex::decode(&request.signature)
        .map_err(|_| ApiError::new(Code::BadRequest, "signature is not hex"))?;
    Ok(Json(
        match d
            .ingest
            .offer(&dock, request.manifest.as_bytes(), &signature)
            .await?
        {
            Offer::Stored(receipt) => receipt_response(&receipt),
            Offer::Deleted(receipt) => OfferResponse::Deleted {
                receipt: String::from_utf8_lossy(receipt.bytes()).into_owned(),
                receipt_signature: hex::encode(receipt.signature()),
            },
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

/// An upload's id from the path: a UUID, else `400` in the API's own shape.
fn upload_id(
    path: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<Uuid, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|_| ApiError::new(Code::Invalid, "an upload id is a UUID"))
}

async fn status(
    State(d): State<Arc<Deployment>>,
    DockAuth(dock): DockAuth,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<(StatusCode, HeaderMap), ApiError> {
    let id = upload_id(id)?;
    let (offset, length) = d.ingest.status(&dock, id).await?;
    Ok((StatusCode::NO_CONTENT, upload_headers(offset, Some(length))))
}

async fn append(
    State(d): State<Arc<Deployment>>,
    DockAuth(dock): DockAuth,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, HeaderMap), ApiError> {
    let id = upload_id(id)?;
    let offset = headers
        .get(UPLOAD_OFFSET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| ApiError::new(Code::BadRequest, "Upload-Offset header required"))?;
    let new_offset = d
        .ingest
        .append(&dock, id, offset, body.into_data_stream())
        .await?;
    Ok((StatusCode::NO_CONTENT, upload_headers(new_offset, None)))
}

async fn complete(
    State(d): State<Arc<Deployment>>,
    DockAuth(dock): DockAuth,
    id: Result<Path<Uuid>, axum::extract::rejection::PathRejection>,
) -> Result<Json<OfferResponse>, ApiError> {
    let id = upload_id(id)?;
    let receipt = d.ingest.complete(&dock, id).await?;
    Ok(Json(receipt_response(&receipt)))
}
