//! The API for people (`/api/v1/session`, `/recordings`, `/incidents`,
//! `/audit/…`, `/users`, `/devices`). Every handler asks the policy module
//! ([`custos_access::decide`]) before it acts, and every call — allowed or
//! refused — is in the audit log before the response leaves.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use custos_access::{Action, Role, Scope};

pub use crate::accounts::Credentials;
use custos_audit::{AuditEvent, Outcome};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{AuthError, Caller};
use crate::http::{ApiError, Code};
use crate::playback::ReadSeek;
use crate::Deployment;

mod audit;
mod cases;
mod exports;
mod footage;
mod incidents;
mod joined;
mod recordings;
mod retention;
mod session;
mod streams;
mod subjects;
mod users;

pub use audit::*;
pub use cases::*;
pub(crate) use exports::*;
pub use footage::*;
pub use incidents::*;
pub(crate) use joined::*;
pub use recordings::*;
pub(crate) use retention::*;
pub(crate) use session::*;
pub(crate) use streams::*;
pub(crate) use subjects::*;
pub use users::*;

/// `__Host-`: the browser keeps it only as set here (Secure, `Path=/`, no
/// `Domain`), so no other host of the city's domain can plant or overwrite it.
pub const SESSION_COOKIE: &str = "__Host-custos_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn routes() -> Router<Arc<Deployment>> {
    Router::new()
        .route(
            "/api/v1/session",
            post(sign_in).get(session).delete(sign_out),
        )
        .route("/api/v1/session/password", post(change_password))
        .route("/api/v1/recordings", get(recordings))
        .route("/api/v1/recordings/{id}", get(recording))
        .route("/api/v1/recordings/{id}/video", get(video))
        .route("/api/v1/recordings/{id}/joined", get(joined))
        .route("/api/v1/recordings/{id}/download", get(download))
        .route("/api/v1/recordings/{id}/thumbnail", get(thumbnail))
        .route("/api/v1/recordings/{id}/faces", get(faces))
        .route("/api/v1/recordings/{id}/audit", get(recording_audit))
        .route(
            "/api/v1/recordings/{id}/retention",
            put(set_recording_retention),
        )
        .route("/api/v1/cases", get(cases).post(post_case))
        .route("/api/v1/cases/{id}", get(case))
        .route("/api/v1/cases/{id}/close", post(post_close_case))
        .route("/api/v1/cases/{id}/holds", post(post_hold))
        .route("/api/v1/cases/{id}/recordings", post(post_link))
        .route("/api/v1/cases/{id}/exports", post(post_export))
        .route(
            "/api/v1/cases/{id}/export-requests",
            get(get_export_requests).post(post_export_request),
        )
        .route(
            "/api/v1/export-requests/{id}/approve",
            post(post_approve_export),
        )
        .route("/api/v1/cases/{id}/export-links", get(get_export_links))
        .route("/api/v1/export-links/{id}/revoke", post(post_revoke_link))
        .route("/api/v1/downloads/{token}", post(post_download))
        .route(
            "/api/v1/subject-requests",
            get(get_subject_requests).post(post_subject_request),
        )
        .route("/api/v1/subject-requests/{id}", get(get_subject_request))
        .route(
            "/api/v1/subject-requests/{id}/extend",
            post(post_extend_subject_request),
        )
        .route(
            "/api/v1/subject-requests/{id}/search",
            post(post_search_subject_request),
        )
        .route(
            "/api/v1/subject-requests/{id}/derivatives",
            get(get_derivatives).post(post_derivative),
        )
        .route("/api/v1/derivatives/{id}/video", get(derivative_video))
        .route(
            "/api/v1/subject-requests/{id}/delivery",
            post(post_subject_delivery),
        )
        .route("/api/v1/holds/{id}/approve", post(post_approve_hold))
        .route("/api/v1/holds/{id}/release", post(post_release_hold))
        .route("/api/v1/incidents", get(incidents))
        .route("/api/v1/audit/checkpoint", get(audit_checkpoint))
        .route("/api/v1/audit/entries", get(audit_entries))
        .route("/api/v1/audit/proofs/inclusion", get(inclusion_proof))
        .route("/api/v1/audit/proofs/consistency", get(consistency_proof))
        .route("/api/v1/users", get(users).post(post_user))
        .route("/api/v1/users/{name}/unlock", post(post_unlock_user))
        .route(
            "/api/v1/users/{name}/reset-password",
            post(post_reset_password),
        )
        .route("/api/v1/users/{name}/disable", post(post_disable_user))
        .route("/api/v1/users/{name}/reset-mfa", post(post_reset_mfa))
        .route("/api/v1/activations", get(get_activations))
        .route(
            "/api/v1/activations/{id}/approve",
            post(post_approve_activation),
        )
        .route(
            "/api/v1/activations/{id}/reject",
            post(post_reject_activation),
        )
        .route("/api/v1/activate", post(post_activate))
        .route("/api/v1/retention", get(retention_policy))
        .merge(crate::fleet::routes())
        .merge(crate::settings::api::routes())
        .merge(crate::statistics::routes())
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let code = match &e {
            AuthError::BadCredentials => Code::BadCredentials,
            AuthError::SlowDown { retry_after_secs } => {
                return ApiError::new(Code::SlowDown, e.to_string()).retry_after(*retry_after_secs)
            }
            AuthError::NoSession => Code::Unauthorized,
            AuthError::Csrf => Code::Csrf,
            AuthError::Invalid(_) => Code::Invalid,
            AuthError::Unavailable(_) => Code::Unavailable,
        };
        if code.status().is_server_error() {
            tracing::error!(error = %e, "authentication failed on the server side");
        }
        ApiError::new(code, e.to_string())
    }
}

pub fn unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "request failed on the server side");
    ApiError::new(Code::Unavailable, "the server could not do this now")
}

/// A query string that did not parse: 400 with the parser's words.
pub(crate) fn query<T>(
    q: Result<Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::new(Code::Invalid, e.body_text()))
}

/// A JSON body that did not parse or had unknown fields: 400.
pub(crate) fn json_body<T>(
    b: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    b.map(|Json(t)| t)
        .map_err(|e| ApiError::new(Code::Invalid, e.body_text()))
}

pub(crate) fn client_of(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The client's address, for the audit log.
pub struct Client(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_of(parts)))
    }
}

/// A signed-in person: `Authorization: Bearer TOKEN` (scripts), or the
/// session cookie (browsers), which for anything but reads also needs the
/// session's CSRF token in `X-CSRF-Token`.
pub struct Authenticated {
    pub caller: Caller,
    pub client: String,
}

/// The value of the cookie `name`, if the request has it.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    cookie_in(&parts.headers, name)
}

/// The value of the cookie `name` among `headers`.
pub fn cookie_in(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

impl FromRequestParts<Arc<Deployment>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, d: &Arc<Deployment>) -> Result<Self, ApiError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let (token, from_cookie) = match (bearer, cookie(parts, SESSION_COOKIE)) {
            (Some(t), _) => (t, false),
            (None, Some(t)) => (t, true),
            (None, None) => return Err(AuthError::NoSession.into()),
        };
        let caller = d.auth.caller(&token).await?;
        // Until a password someone else set is replaced, the session is for
        // replacing it and nothing else.
        let session_path = matches!(
            parts.uri.path(),
            "/api/v1/session" | "/api/v1/session/password"
        );
        if caller.must_change_password && !session_path {
            return Err(ApiError::new(
                Code::PasswordChangeRequired,
                "replace the initial password first (POST /api/v1/session/password)",
            ));
        }
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if from_cookie && !safe {
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !crate::auth::constant_time_eq(presented.as_bytes(), caller.csrf_token.as_bytes()) {
                return Err(AuthError::Csrf.into());
            }
        }
        Ok(Self {
            caller,
            client: client_of(parts),
        })
    }
}

impl Authenticated {
    pub fn event(&self, d: &Deployment, action: &str, outcome: Outcome) -> AuditEvent {
        AuditEvent::new((d.clock)(), self.caller.actor(), action, outcome)
            .role(self.caller.role.as_str())
            .client(&self.client)
    }

    /// Asks the policy; a refusal is audited and answered 403.
    pub async fn permit(
        &self,
        d: &Deployment,
        action: Action,
        audit_action: &str,
        object: &str,
    ) -> Result<Scope, ApiError> {
        match d.settings.decide(self.caller.role, action) {
            Ok(scope) => Ok(scope),
            Err(_) => {
                self.record(
                    d,
                    self.event(d, audit_action, Outcome::Refused)
                        .object(object)
                        .detail("not permitted for this role"),
                )
                .await?;
                Err(ApiError::new(
                    Code::Forbidden,
                    format!("a {} may not do this", self.caller.role.as_str()),
                ))
            }
        }
    }

    /// Writes an audit entry; if that fails, the operation does not happen.
    pub async fn record(&self, d: &Deployment, event: AuditEvent) -> Result<(), ApiError> {
        d.audit.record(event).await.map(|_| ()).map_err(unavailable)
    }

    /// Audits an operation that did not happen (`Refused` or `Failed`, with
    /// the answer's message as the detail), then gives the answer to return.
    pub async fn refused(&self, d: &Deployment, event: AuditEvent, answer: ApiError) -> ApiError {
        match self.record(d, event.detail(answer.message())).await {
            Ok(()) => answer,
            Err(outage) => outage,
        }
    }

    pub async fn ok(&self, d: &Deployment, action: &str, object: &str) -> Result<(), ApiError> {
        self.record(d, self.event(d, action, Outcome::Ok).object(object))
            .await
    }
}

pub(crate) fn visible(scope: Scope, caller: &Caller, r: &custos_catalog::Recording) -> bool {
    match scope {
        Scope::All => true,
        Scope::OwnRecordings => caller.officer_id.is_some() && r.officer_id == caller.officer_id,
    }
}
