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
use crate::http::ApiError;
use crate::playback::ReadSeek;
use crate::Deployment;

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
        let (status, code) = match &e {
            AuthError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad-credentials"),
            AuthError::SlowDown { retry_after_secs } => {
                return ApiError::new(StatusCode::TOO_MANY_REQUESTS, "slow-down", e.to_string())
                    .retry_after(*retry_after_secs)
            }
            AuthError::NoSession => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AuthError::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            AuthError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
            AuthError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "authentication failed on the server side");
        }
        ApiError::new(status, code, e.to_string())
    }
}

pub fn unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "request failed on the server side");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the server could not do this now",
    )
}

/// A query string that did not parse: 400 with the parser's words.
fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid", e.body_text()))
}

/// A JSON body that did not parse or had unknown fields: 400.
pub(crate) fn json_body<T>(
    b: Result<Json<T>, axum::extract::rejection::JsonRejection>,
) -> Result<T, ApiError> {
    b.map(|Json(t)| t)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid", e.body_text()))
}

/// The case `id`, if it exists and is open (404 / 409 otherwise).
async fn open_case_named(d: &Deployment, id: &str) -> Result<custos_catalog::Case, ApiError> {
    match d.catalog.case(id).await.map_err(unavailable)? {
        Some(c) if c.closed_at.is_none() => Ok(c),
        Some(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "case-closed",
            "that case is closed",
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such case",
        )),
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
        StatusCode::FORBIDDEN,
        "subject-request-case",
        "a subject access request's case is handled by the privacy officer only",
    );
    Err(a.refused(d, event, answer).await)
}

fn client_of(parts: &Parts) -> String {
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
                StatusCode::FORBIDDEN,
                "password-change-required",
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
                    StatusCode::FORBIDDEN,
                    "forbidden",
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    name: String,
    password: String,
    code: String,
}

fn session_json(c: &Caller) -> serde_json::Value {
    serde_json::json!({
        "name": c.name,
        "role": c.role.as_str(),
        "officer_id": c.officer_id,
        "csrf_token": c.csrf_token,
        "idle_timeout_seconds": crate::auth::IDLE_TIMEOUT_MILLIS / 1000,
        "password_change_required": c.must_change_password,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    body: Result<Json<PasswordChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = json_body(body)?;
    let (current, new) = (
        zeroize::Zeroizing::new(body.current_password),
        zeroize::Zeroizing::new(body.new_password),
    );
    d.auth
        .change_password(&a.caller, &current, &new, &a.client)
        .await?;
    let caller = Caller {
        must_change_password: false,
        ..a.caller
    };
    Ok(Json(session_json(&caller)))
}

async fn sign_in(
    State(d): State<Arc<Deployment>>,
    source: crate::admission::Source,
    headers: axum::http::HeaderMap,
    body: Result<Json<SignIn>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let body = json_body(body)?;
    let device = cookie_in(&headers, crate::auth::DEVICE_COOKIE);
    let signed_in = d
        .auth
        .sign_in(
            &body.name,
            &body.password,
            &body.code,
            &source,
            device.as_deref(),
        )
        .await?;
    let mut json = session_json(&signed_in.caller);
    json["token"] = serde_json::Value::String(signed_in.token.to_string());
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict",
        signed_in.token.as_str()
    );
    Ok((
        axum::response::AppendHeaders([
            (header::SET_COOKIE, cookie),
            (header::SET_COOKIE, signed_in.device_cookie),
        ]),
        Json(json),
    )
        .into_response())
}

async fn session(a: Authenticated) -> Json<serde_json::Value> {
    Json(session_json(&a.caller))
}

async fn sign_out(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Response, ApiError> {
    d.auth.sign_out(&a.caller, &a.client).await?;
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
    Ok(([(header::SET_COOKIE, clear)], StatusCode::NO_CONTENT).into_response())
}

fn visible(scope: Scope, caller: &Caller, r: &custos_catalog::Recording) -> bool {
    match scope {
        Scope::All => true,
        Scope::OwnRecordings => caller.officer_id.is_some() && r.officer_id == caller.officer_id,
    }
}

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
                            StatusCode::BAD_REQUEST,
                            "invalid",
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
                    StatusCode::BAD_REQUEST,
                    "invalid",
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
                StatusCode::FORBIDDEN,
                "case-filter-not-allowed",
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

async fn recordings(
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
    /// `null` if the stored manifest does not parse (it did at ingest).
    pub manifest: Option<custos_format::Manifest>,
    pub manifest_sha256: String,
    pub ciphertext_sha256: String,
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
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such recording");
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
        manifest: custos_format::Manifest::from_canonical_bytes(&r.manifest).ok(),
        manifest_sha256: hex::encode(r.manifest_sha256),
        ciphertext_sha256: hex::encode(r.ciphertext_sha256),
        stored_at: r.stored_at,
        holds,
        incidents,
        more_incidents,
    })
}

async fn recording(
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
        let answer = ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such recording");
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
fn entries_json(rows: &[custos_catalog::StoredEntry]) -> Result<Vec<serde_json::Value>, ApiError> {
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

async fn recording_audit(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    recording_trail(&d, &a, &id).await.map(Json)
}

/// A page of incidents: those after id `after`, oldest first.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IncidentPage {
    #[serde(default)]
    pub after: i64,
    #[serde(default = "default_incident_limit")]
    pub limit: u64,
}

fn default_incident_limit() -> u64 {
    100
}

/// Incidents per page at most.
pub const MAX_INCIDENT_PAGE: u64 = 1000;

/// Integrity incidents (gaps, broken chains, bad signatures, refused
/// credentials counted per source and hour, …), oldest first, a page at a
/// time (the next one starts after the last id).
pub async fn list_incidents(
    d: &Deployment,
    a: &Authenticated,
    page: &IncidentPage,
) -> Result<Vec<custos_catalog::Incident>, ApiError> {
    a.permit(d, Action::ListIncidents, "incidents.list", "incidents")
        .await?;
    if !(1..=MAX_INCIDENT_PAGE).contains(&page.limit) || page.after < 0 {
        let answer = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("limit must be 1–{MAX_INCIDENT_PAGE} and after at least 0"),
        );
        let event = a
            .event(d, "incidents.list", Outcome::Refused)
            .object("incidents");
        return Err(a.refused(d, event, answer).await);
    }
    a.ok(d, "incidents.list", "incidents").await?;
    d.catalog
        .incidents_page(page.after, page.limit)
        .await
        .map_err(unavailable)
}

/// Incidents newest first, narrowed by kind and camera (the web UI's list).
pub async fn search_incidents(
    d: &Deployment,
    a: &Authenticated,
    query: &custos_catalog::IncidentQuery,
) -> Result<Vec<custos_catalog::Incident>, ApiError> {
    a.permit(d, Action::ListIncidents, "incidents.list", "incidents")
        .await?;
    a.ok(d, "incidents.list", "incidents").await?;
    d.catalog.search_incidents(query).await.map_err(unavailable)
}

async fn incidents(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    page: Result<Query<IncidentPage>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<custos_catalog::Incident>>, ApiError> {
    list_incidents(&d, &a, &query(page)?).await.map(Json)
}

async fn audit_checkpoint(
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
struct EntriesQuery {
    #[serde(default)]
    from: u64,
    #[serde(default = "default_limit")]
    limit: u64,
}

fn default_limit() -> u64 {
    100
}

async fn audit_entries(
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
struct InclusionQuery {
    index: u64,
    size: u64,
}

async fn inclusion_proof(
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
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "index must be below size",
            )
        })?;
    a.ok(&d, "audit.proof", "audit-log").await?;
    Ok(Json(serde_json::json!({
        "index": q.index,
        "size": q.size,
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyQuery {
    from: u64,
    to: u64,
}

async fn consistency_proof(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    q: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    a.permit(&d, Action::ReadAudit, "audit.proof", "audit-log")
        .await?;
    let q = query(q)?;
    let leaves = proof_leaves(&d, q.to).await?;
    let proof =
        custos_audit::merkle::consistency_proof(q.from as usize, &leaves).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "from must not exceed to",
            )
        })?;
    a.ok(&d, "audit.proof", "audit-log").await?;
    Ok(Json(serde_json::json!({
        "from": q.from,
        "to": q.to,
        "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
    })))
}

/// Leaves for a proof at `size`, which must be a size some checkpoint signed.
async fn proof_leaves(d: &Deployment, size: u64) -> Result<Vec<custos_audit::Hash>, ApiError> {
    if d.catalog
        .audit_checkpoint(size)
        .await
        .map_err(unavailable)?
        .is_none()
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no-checkpoint",
            "no signed checkpoint of that size",
        ));
    }
    d.catalog.audit_leaf_hashes(size).await.map_err(unavailable)
}

pub async fn list_users(
    d: &Deployment,
    a: &Authenticated,
) -> Result<Vec<crate::admin::UserSummary>, ApiError> {
    a.permit(d, Action::ListUsers, "users.list", "users")
        .await?;
    a.ok(d, "users.list", "users").await?;
    let now = (d.clock)();
    Ok(d.catalog
        .users()
        .await
        .map_err(unavailable)?
        .iter()
        .map(|u| crate::admin::UserSummary::of(u, now))
        .collect())
}

async fn users(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Json<Vec<crate::admin::UserSummary>>, ApiError> {
    list_users(&d, &a).await.map(Json)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub officer_id: Option<String>,
}

/// A new account. One that cannot see footage gets its enrollment (initial
/// password, TOTP secret), shown once to the admin who hands it over in
/// person; one that can is a request for the privacy officer
/// ([`crate::accounts`]).
pub async fn add_user(
    d: &Deployment,
    a: &Authenticated,
    body: NewUser,
) -> Result<Credentials<crate::auth::Enrollment>, ApiError> {
    a.permit(d, Action::ManageUsers, "user.add", "users")
        .await?;
    let role = Role::parse(&body.role)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid", "unknown role"))?;
    if crate::accounts::sees_footage(d, role) {
        crate::auth::check_user_name(&body.name)?;
        if let Some(officer) = &body.officer_id {
            custos_format::manifest::check_identifier(officer).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    format!("officer_id: {e}"),
                )
            })?;
        }
        if d.catalog
            .user(&body.name)
            .await
            .map_err(unavailable)?
            .is_some()
        {
            let event = a
                .event(d, "user.add", Outcome::Refused)
                .object(format!("user:{}", body.name));
            let answer = ApiError::new(StatusCode::CONFLICT, "exists", "that user exists");
            return Err(a.refused(d, event, answer).await);
        }
        let request =
            crate::accounts::request(d, a, "user.add", "add", &body.name, role, body.officer_id)
                .await?;
        return Ok(Credentials::AwaitingApproval(Box::new(request)));
    }
    let (user, enrollment) = d
        .auth
        .new_user(&body.name, role, body.officer_id, "custos", (d.clock)())
        .await?;
    let object = format!("user:{}", user.name);
    let exists = || ApiError::new(StatusCode::CONFLICT, "exists", "that user exists");
    if d.catalog
        .user(&user.name)
        .await
        .map_err(unavailable)?
        .is_some()
    {
        let event = a.event(d, "user.add", Outcome::Refused).object(&object);
        return Err(a.refused(d, event, exists()).await);
    }
    a.record(
        d,
        a.event(d, "user.add", Outcome::Ok)
            .object(&object)
            .detail(format!("role {}", role.as_str())),
    )
    .await?;
    match d.catalog.add_user(&user).await {
        Ok(()) => Ok(Credentials::Shown(enrollment)),
        Err(custos_catalog::CatalogError::AlreadyExists { .. }) => {
            let event = a.event(d, "user.add", Outcome::Failed).object(&object);
            Err(a.refused(d, event, exists()).await)
        }
        Err(e) => Err(unavailable(e)),
    }
}

async fn post_user(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    body: Result<Json<NewUser>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    a.permit(&d, Action::ManageUsers, "user.add", "users")
        .await?;
    match add_user(&d, &a, json_body(body)?).await? {
        Credentials::Shown(enrollment) => Ok((
            StatusCode::CREATED,
            Json(serde_json::json!({
                "name": enrollment.name,
                "role": enrollment.role.as_str(),
                "initial_password": enrollment.password.as_str(),
                "totp_secret": enrollment.totp_secret.as_str(),
                "otpauth_uri": enrollment.otpauth_uri.as_str(),
            })),
        )),
        Credentials::AwaitingApproval(request) => Ok(awaiting(&request)),
    }
}

/// `202`: a request for the privacy officer, and no credentials.
fn awaiting(request: &custos_catalog::Activation) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "name": request.user_name,
            "role": request.role,
            "status": "awaiting-approval",
            "activation_id": request.activation_id,
        })),
    )
}

/// Permits `action` on a user who exists (404 otherwise), then audits it.
async fn on_user(
    d: &Deployment,
    a: &Authenticated,
    name: &str,
    audit_action: &str,
) -> Result<custos_catalog::User, ApiError> {
    let object = format!("user:{}", name.escape_default());
    a.permit(d, Action::ManageUsers, audit_action, &object)
        .await?;
    let Some(user) = d.catalog.user(name).await.map_err(unavailable)? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such user",
        ));
    };
    a.ok(d, audit_action, &object).await?;
    Ok(user)
}

pub async fn unlock_user(d: &Deployment, a: &Authenticated, name: &str) -> Result<(), ApiError> {
    let user = on_user(d, a, name, "user.unlock").await?;
    d.catalog
        .set_login_state(name, 0, None, user.totp_last_step)
        .await
        .map_err(unavailable)
}

async fn post_unlock_user(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    unlock_user(&d, &a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new initial password for someone who forgot theirs: shown once to the
/// admin, replaced at the next sign-in; the person's sessions end. For an
/// account that can see footage: a request for the privacy officer, after
/// which the person sets their own through a link.
pub async fn reset_password(
    d: &Deployment,
    a: &Authenticated,
    name: &str,
) -> Result<Credentials<zeroize::Zeroizing<String>>, ApiError> {
    let user = on_user(d, a, name, "user.password-reset").await?;
    if let Some(request) = reset_request(d, a, &user, "user.password-reset").await? {
        return Ok(Credentials::AwaitingApproval(Box::new(request)));
    }
    Ok(Credentials::Shown(
        d.auth.reset_password(name, (d.clock)()).await?,
    ))
}

/// For an account that can see footage, a reset is a request.
async fn reset_request(
    d: &Deployment,
    a: &Authenticated,
    user: &custos_catalog::User,
    audit_action: &str,
) -> Result<Option<custos_catalog::Activation>, ApiError> {
    let Some(role) = Role::parse(&user.role) else {
        return Ok(None);
    };
    if !crate::accounts::sees_footage(d, role) {
        return Ok(None);
    }
    crate::accounts::request(
        d,
        a,
        audit_action,
        "reset",
        &user.name,
        role,
        user.officer_id.clone(),
    )
    .await
    .map(Some)
}

async fn post_reset_password(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    match reset_password(&d, &a, &name).await? {
        Credentials::Shown(password) => Ok((
            StatusCode::OK,
            Json(serde_json::json!({
                "name": name,
                "initial_password": password.as_str(),
                "password_change_required": true,
            })),
        )),
        Credentials::AwaitingApproval(request) => Ok(awaiting(&request)),
    }
}

/// Someone who left: they can no longer sign in, their sessions end. The
/// account stays, so the audit log's names keep meaning someone.
pub async fn disable_user(d: &Deployment, a: &Authenticated, name: &str) -> Result<(), ApiError> {
    let object = format!("user:{}", name.escape_default());
    a.permit(d, Action::ManageUsers, "user.disable", &object)
        .await?;
    if a.caller.name == name {
        let event = a.event(d, "user.disable", Outcome::Refused).object(&object);
        let answer = ApiError::new(
            StatusCode::CONFLICT,
            "self",
            "an administrator cannot disable their own account",
        );
        return Err(a.refused(d, event, answer).await);
    }
    on_user(d, a, name, "user.disable").await?;
    d.catalog
        .disable_user(name, (d.clock)())
        .await
        .map_err(unavailable)
}

async fn post_disable_user(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    disable_user(&d, &a, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A lost or replaced phone: a new TOTP secret (shown once), the old one
/// stops working, every session of the person ends.
pub async fn reset_mfa(
    d: &Deployment,
    a: &Authenticated,
    name: &str,
) -> Result<Credentials<crate::auth::NewTotp>, ApiError> {
    let user = on_user(d, a, name, "user.mfa-reset").await?;
    if let Some(request) = reset_request(d, a, &user, "user.mfa-reset").await? {
        return Ok(Credentials::AwaitingApproval(Box::new(request)));
    }
    let totp = crate::auth::new_totp_secret(name, &d.keys.recipient, "custos")?;
    d.catalog
        .reset_totp(name, &totp.sealed, (d.clock)())
        .await
        .map_err(unavailable)?;
    Ok(Credentials::Shown(totp))
}

async fn post_reset_mfa(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    match reset_mfa(&d, &a, &name).await? {
        Credentials::Shown(totp) => Ok((
            StatusCode::OK,
            Json(serde_json::json!({
                "name": name,
                "totp_secret": totp.secret.as_str(),
                "otpauth_uri": totp.otpauth_uri.as_str(),
            })),
        )),
        Credentials::AwaitingApproval(request) => Ok(awaiting(&request)),
    }
}

async fn get_activations(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Json<Vec<custos_catalog::Activation>>, ApiError> {
    Ok(Json(crate::accounts::list(&d, &a).await?))
}

async fn post_approve_activation(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let approved = crate::accounts::approve(&d, &a, &id).await?;
    Ok(Json(serde_json::json!({
        "activation": approved.activation,
        "activation_link": approved.link.as_str(),
    })))
}

async fn post_reject_activation(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<custos_catalog::Activation>, ApiError> {
    Ok(Json(crate::accounts::reject(&d, &a, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activate {
    token: String,
    password: String,
}

/// `POST /api/v1/activate`: the person, not signed in, with their link's
/// token and the password they chose.
async fn post_activate(
    State(d): State<Arc<Deployment>>,
    source: crate::admission::Source,
    body: Result<Json<Activate>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = json_body(body)?;
    let done = crate::accounts::activate(&d, &body.token, &body.password, &source).await?;
    Ok(Json(serde_json::json!({
        "name": done.name,
        "role": done.role.as_str(),
        "totp_secret": done.totp.secret.as_str(),
        "otpauth_uri": done.totp.otpauth_uri.as_str(),
    })))
}

// ---- Retention categories ----

/// A category this deployment defines, or 400 naming the ones it does.
pub(crate) fn known_category(d: &Deployment, category: &str) -> Result<i64, ApiError> {
    d.retention().period(category).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown-category",
            format!(
                "no retention category `{}` here (defined: {})",
                category.escape_default(),
                d.retention().describe()
            ),
        )
    })
}

async fn retention_policy(
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
struct RecordingRetention {
    category: String,
    /// Why: kept in the audit log.
    reason: String,
}

async fn set_recording_retention(
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
            StatusCode::BAD_REQUEST,
            "invalid",
            "a reason of 1–500 characters without control characters is required",
        ));
    }
    let period = known_category(&d, &body.category)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such recording");
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

// ---- Footage: purpose-bound, audited before the first byte ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PurposeQuery {
    purpose: Option<String>,
    case: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThumbnailQuery {
    purpose: Option<String>,
    case: Option<String>,
    /// Seconds from the start of the recording (default 0).
    at: Option<f64>,
}

impl Authenticated {
    /// Everything before footage (or anything derived from it) is touched:
    /// the role; a purpose from the deployment's list and an open case (a
    /// missing or wrong one is refused and audited); and the recording as
    /// this caller may see it (a miss is audited). The case and the
    /// recording are read together: every play of every range asks.
    pub async fn footage(
        &self,
        d: &Deployment,
        id: &str,
        purpose: Option<&str>,
        case: Option<&str>,
        audit_action: &str,
    ) -> Result<Footage, ApiError> {
        let object = format!("recording:{}", id.escape_default());
        let scope = self
            .permit(d, Action::AccessFootage, audit_action, &object)
            .await?;
        let refuse = |why: &'static str, code: &'static str| {
            let object = object.clone();
            async move {
                self.record(
                    d,
                    self.event(d, audit_action, Outcome::Refused)
                        .object(&object)
                        .detail(why),
                )
                .await?;
                Err::<Footage, ApiError>(ApiError::new(StatusCode::FORBIDDEN, code, why))
            }
        };
        let (Some(purpose), Some(case_id)) = (purpose, case) else {
            return refuse("a purpose and a case are required", "purpose-required").await;
        };
        if !d.policy().allows_purpose(purpose) {
            return refuse(
                "that purpose is not on this deployment's list",
                "purpose-not-allowed",
            )
            .await;
        }
        let custos_catalog::CaseAndRecording {
            case,
            recording,
            attached,
        } = match id.parse::<Uuid>() {
            Ok(uuid) => d
                .catalog
                .case_and_recording(case_id, uuid)
                .await
                .map_err(unavailable)?,
            Err(_) => custos_catalog::CaseAndRecording {
                case: d.catalog.case(case_id).await.map_err(unavailable)?,
                recording: None,
                attached: false,
            },
        };
        // An officer (self-review) learns nothing about cases from the
        // refusal: one answer whether the case is unknown, closed, a
        // subject request's or not holding this recording.
        if scope == Scope::OwnRecordings
            && !matches!(&case, Some(c) if c.closed_at.is_none() && c.kind != crate::subject::KIND && attached)
        {
            return refuse("no such case for this recording", "case-unknown").await;
        }
        match case {
            Some(c) if c.closed_at.is_none() => {
                subject_case_guard(d, self, &c, audit_action, &object).await?;
            }
            Some(_) => return refuse("that case is closed", "case-closed").await,
            None => return refuse("no such case", "case-unknown").await,
        }
        let (purpose, case) = (purpose.to_owned(), case_id.to_owned());
        let Some(recording) = recording.filter(|r| visible(scope, &self.caller, r)) else {
            let event = self
                .event(d, audit_action, Outcome::Failed)
                .object(&object)
                .purpose(&purpose, &case);
            let answer = ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such recording");
            return Err(self.refused(d, event, answer).await);
        };
        // The purpose is the case's, not the viewer's say-so: the recording
        // must have been attached to the case (a hold, or a link with its
        // reason) before anyone looks at it for that case.
        if !attached {
            let event = self
                .event(d, audit_action, Outcome::Refused)
                .object(&object)
                .purpose(&purpose, &case);
            let answer = ApiError::new(
                StatusCode::FORBIDDEN,
                "not-attached",
                "the recording is not attached to that case: secure it for the case, or link it to the case with a reason, first",
            );
            return Err(self.refused(d, event, answer).await);
        }
        Ok(Footage {
            recording,
            object,
            purpose,
            case,
        })
    }
}

/// A recording someone may touch now, and why.
pub struct Footage {
    pub recording: custos_catalog::Recording,
    pub object: String,
    pub purpose: String,
    pub case: String,
}

impl Footage {
    /// Read + Seek over the plaintext, decrypted on the fly. On a blocking thread only.
    fn plaintext(
        &self,
        d: &Deployment,
    ) -> impl FnOnce() -> std::io::Result<Box<dyn ReadSeek>> + Send + 'static {
        crate::playback::decrypting_reader(
            d,
            self.recording.age_header.clone(),
            self.recording.blob_key.clone(),
            self.recording.ciphertext_length,
        )
    }
}

async fn video(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    q: Result<Query<PurposeQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let footage = a
        .footage(
            &d,
            &id,
            q.purpose.as_deref(),
            q.case.as_deref(),
            "recording.play",
        )
        .await?;
    stream_footage(&d, &a, footage, &headers, "recording.play", None).await
}

/// The same bytes as playback, as a file to keep: audited apart, because a
/// download leaves the server.
async fn download(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    q: Result<Query<PurposeQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let footage = a
        .footage(
            &d,
            &id,
            q.purpose.as_deref(),
            q.case.as_deref(),
            "recording.download",
        )
        .await?;
    let name = format!(
        "attachment; filename=\"custos-{}.mp4\"",
        footage.recording.recording_id
    );
    stream_footage(&d, &a, footage, &headers, "recording.download", Some(name)).await
}

async fn stream_footage(
    d: &Deployment,
    a: &Authenticated,
    footage: Footage,
    headers: &axum::http::HeaderMap,
    audit_action: &str,
    disposition: Option<String>,
) -> Result<Response, ApiError> {
    let recording = &footage.recording;
    let length = crate::playback::plaintext_length(
        recording.ciphertext_length,
        recording.age_header.len() as u64,
    )
    .ok_or_else(|| unavailable("stored recording has an impossible length"))?;
    let range = match headers.get(header::RANGE).map(|v| v.to_str().unwrap_or("")) {
        None => None,
        Some(h) => match crate::playback::parse_range(h, length) {
            Ok(r) => Some(r),
            Err(crate::playback::RangeError::Unsatisfiable) => {
                return Ok((
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{length}"))],
                )
                    .into_response())
            }
            Err(crate::playback::RangeError::Malformed) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "unsupported Range header",
                ))
            }
        },
    };
    let (start, end) = match range {
        Some(r) => (r.start, r.end),
        None if length == 0 => (0, 0),
        None => (0, length - 1),
    };
    let count = if length == 0 { 0 } else { end - start + 1 };
    // The entry is durable before the first byte leaves.
    a.record(
        d,
        a.event(d, audit_action, Outcome::Ok)
            .object(&footage.object)
            .purpose(&footage.purpose, &footage.case)
            .detail(format!("bytes {start}-{end} of {length}")),
    )
    .await?;
    let source = crate::playback::CiphertextSource::open(&d.blobs, &recording.blob_key);
    let body = if count == 0 {
        axum::body::Body::empty()
    } else {
        let payload = match d.payloads.get(recording.recording_id) {
            Some(p) => p,
            None => {
                let opened = crate::playback::open_payload(
                    &recording.age_header,
                    &source,
                    recording.ciphertext_length,
                    &d.keys.evidence,
                )
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "a stored recording does not open");
                    unavailable(e)
                })?;
                let opened = Arc::new(opened);
                d.payloads.put(recording.recording_id, opened.clone());
                opened
            }
        };
        let stream = crate::playback::plaintext_range(payload, source, start, end);
        axum::body::Body::from_stream(futures::StreamExt::inspect(stream, |item| {
            if let Err(e) = item {
                tracing::error!(error = %e, "playback failed");
            }
        }))
    };
    let mut response = Response::builder()
        .status(if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        })
        .header(header::CONTENT_TYPE, "video/mp4")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, count)
        .header(header::CACHE_CONTROL, "no-store");
    if range.is_some() {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{end}/{length}"),
        );
    }
    if let Some(disposition) = disposition {
        response = response.header(header::CONTENT_DISPOSITION, disposition);
    }
    response.body(body).map_err(unavailable)
}

/// Face proposals for one frame (the keyframe at or before `at` seconds),
/// for the redaction editor: derived from footage, so purpose-bound and
/// audited like a thumbnail. Boxes in fractions of the picture.
async fn faces(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    q: Result<Query<ThumbnailQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (at_millis, faces) = from_frame(&d, &a, &id, q, "recording.faces", |plain, at| {
        let mut mp4 = custos_video::Fmp4::open(plain)?;
        let keyframe = mp4.keyframe_at(at)?;
        let frame = custos_video::decode(&keyframe)?;
        let luma: Vec<u8> = frame
            .rgb
            .chunks_exact(3)
            .map(|p| ((77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) >> 8) as u8)
            .collect();
        let faces = custos_faces::FaceDetector::new().detect(&luma, frame.width, frame.height);
        Ok((keyframe.at_millis, faces))
    })
    .await?;
    Ok(Json(serde_json::json!({
        "at_millis": at_millis,
        "faces": faces,
    })))
}

/// What thumbnails and face proposals share: `at` checked, the footage
/// checks (purpose, case), the audit entry before anything is decoded,
/// `work` on the decrypted recording on a blocking thread, and its
/// failures as answers.
async fn from_frame<T: Send + 'static>(
    d: &Deployment,
    a: &Authenticated,
    id: &str,
    q: Result<Query<ThumbnailQuery>, axum::extract::rejection::QueryRejection>,
    action: &str,
    work: impl FnOnce(Box<dyn ReadSeek>, u64) -> Result<T, custos_video::VideoError> + Send + 'static,
) -> Result<T, ApiError> {
    let q = query(q)?;
    let at_millis = match q.at {
        None => 0,
        Some(s) if s.is_finite() && (0.0..=7.0 * 86_400.0).contains(&s) => (s * 1000.0) as u64,
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "`at` is seconds from the start of the recording",
            ))
        }
    };
    let footage = a
        .footage(d, id, q.purpose.as_deref(), q.case.as_deref(), action)
        .await?;
    a.record(
        d,
        a.event(d, action, Outcome::Ok)
            .object(&footage.object)
            .purpose(&footage.purpose, &footage.case)
            .detail(format!("frame at {at_millis} ms")),
    )
    .await?;
    let open = footage.plaintext(d);
    let done = tokio::task::spawn_blocking(move || {
        let plain = open().map_err(custos_video::VideoError::Io)?;
        work(plain, at_millis)
    })
    .await
    .map_err(unavailable)?;
    match done {
        Ok(t) => Ok(t),
        Err(custos_video::VideoError::NoFrame { .. }) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no-frame",
            "the recording has no frame there",
        )),
        Err(custos_video::VideoError::Io(e)) => Err(unavailable(e)),
        Err(e) => {
            tracing::warn!(error = %e, action, "a frame of a stored recording failed");
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "undecodable",
                "this recording's video could not be decoded",
            ))
        }
    }
}

/// Widest thumbnail served.
const THUMBNAIL_WIDTH: usize = 320;

/// A still of the keyframe at (or just before) `at` seconds: derived from
/// footage, so it needs a purpose and a case and is audited like playback.
async fn thumbnail(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    q: Result<Query<ThumbnailQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let thumbnail = from_frame(&d, &a, &id, q, "recording.thumbnail", |plain, at| {
        custos_video::thumbnail(plain, at, THUMBNAIL_WIDTH)
    })
    .await?;
    Response::builder()
        .header(header::CONTENT_TYPE, "image/jpeg")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-custos-frame-at-ms", thumbnail.at_millis)
        .body(axum::body::Body::from(thumbnail.jpeg))
        .map_err(unavailable)
}

// ---- Cases and holds ----

const CASE_KINDS: [&str; 4] = [
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

fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty()
        || value.len() > max
        || value.chars().any(custos_audit::is_hostile_char)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid",
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
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("kind must be one of {}", CASE_KINDS.join(", ")),
        ));
    }
    if body.kind == crate::subject::KIND && a.caller.role != Role::PrivacyOfficer {
        let event = a.event(d, "case.open", Outcome::Refused).object("cases");
        let answer = ApiError::new(
            StatusCode::FORBIDDEN,
            "subject-request-case",
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
            StatusCode::BAD_REQUEST,
            "reference-needed",
            "a police request needs its external reference (e.g. the PV number)",
        ));
    }
    let case_id = match body.case_id {
        Some(id) => {
            custos_format::manifest::check_identifier(&id).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid", format!("case_id: {e}"))
            })?;
            id
        }
        None => format!("case-{}", &Uuid::now_v7().simple().to_string()[..12]),
    };
    let exists = || ApiError::new(StatusCode::CONFLICT, "exists", "a case with that id exists");
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

async fn post_case(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    body: Result<Json<NewCase>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<custos_catalog::Case>), ApiError> {
    a.permit(&d, Action::ManageCases, "case.open", "cases")
        .await?;
    let case = open_case(&d, &a, json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(case)))
}

trait CaseOnly {
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

async fn cases(
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
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such case",
        ));
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
        let answer = ApiError::new(
            StatusCode::NOT_FOUND,
            "recording-not-found",
            "no such recording",
        );
        return Err(a.refused(d, event, answer).await);
    }
    // Linked already: the first link stands, and nothing new happened.
    if let Some(first) = d
        .catalog
        .case_links(case_id)
        .await
        .map_err(unavailable)?
        .into_iter()
        .find(|l| l.recording_id == body.recording_id)
    {
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

async fn post_link(
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

async fn case(
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
async fn keep_for_grace(d: &Deployment, recording_id: Uuid) -> Result<(), ApiError> {
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

async fn post_close_case(
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
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "recording-not-found",
            "no such recording",
        ));
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

async fn post_hold(
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

/// `POST /api/v1/cases/{id}/exports`: see [`crate::export`].
async fn post_export(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(case_id): Path<String>,
    body: Result<Json<crate::export::NewExport>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let prepared = crate::export::prepare(&d, &a, &case_id, json_body(body)?).await?;
    crate::export::deliver(d, &a, prepared).await
}

async fn get_export_links(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(case_id): Path<String>,
) -> Result<Json<Vec<custos_catalog::ExportLink>>, ApiError> {
    Ok(Json(crate::links::links_for_case(&d, &a, &case_id).await?))
}

async fn post_revoke_link(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<custos_catalog::ExportLink>, ApiError> {
    Ok(Json(crate::links::revoke(&d, &a, &id).await?))
}

async fn post_subject_request(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    body: Result<Json<crate::subject::NewSubjectRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<crate::subject::SubjectRequestView>), ApiError> {
    a.permit(
        &d,
        Action::HandleSubjectRequests,
        "subject-request.open",
        "subject-requests",
    )
    .await?;
    let view = crate::subject::open(&d, &a, json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn get_subject_requests(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
) -> Result<Json<Vec<crate::subject::SubjectRequestView>>, ApiError> {
    Ok(Json(crate::subject::list(&d, &a).await?))
}

async fn get_subject_request(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<crate::subject::SubjectRequestView>, ApiError> {
    Ok(Json(crate::subject::get(&d, &a, &id).await?))
}

async fn post_extend_subject_request(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<crate::subject::Extension>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<crate::subject::SubjectRequestView>, ApiError> {
    let object = format!("case:{}", id.escape_default());
    a.permit(
        &d,
        Action::HandleSubjectRequests,
        "subject-request.extend",
        &object,
    )
    .await?;
    Ok(Json(
        crate::subject::extend(&d, &a, &id, json_body(body)?).await?,
    ))
}

async fn post_search_subject_request(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<crate::subject::Search>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Vec<crate::subject::Candidate>>, ApiError> {
    let object = format!("case:{}", id.escape_default());
    a.permit(
        &d,
        Action::HandleSubjectRequests,
        "subject-request.search",
        &object,
    )
    .await?;
    Ok(Json(
        crate::subject::search(&d, &a, &id, json_body(body)?).await?,
    ))
}

async fn post_derivative(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<crate::redaction::NewDerivative>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<custos_catalog::Derivative>), ApiError> {
    let object = format!("case:{}", id.escape_default());
    a.permit(
        &d,
        Action::HandleSubjectRequests,
        "recording.redact",
        &object,
    )
    .await?;
    let made = crate::redaction::create(&d, &a, &id, json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(made)))
}

/// The answer to a request: see [`crate::export::prepare_subject_delivery`].
async fn post_subject_delivery(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    body: Result<Json<crate::export::NewDelivery>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let object = format!("case:{}", id.escape_default());
    a.permit(
        &d,
        Action::HandleSubjectRequests,
        "subject-request.deliver",
        &object,
    )
    .await?;
    let prepared = crate::export::prepare_subject_delivery(&d, &a, &id, json_body(body)?).await?;
    crate::export::deliver(d, &a, prepared).await
}

async fn get_derivatives(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<custos_catalog::Derivative>>, ApiError> {
    Ok(Json(crate::redaction::list(&d, &a, &id).await?))
}

async fn derivative_video(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
    q: Result<Query<PurposeQuery>, axum::extract::rejection::QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    crate::redaction::video(
        &d,
        &a,
        &id,
        q.purpose.as_deref(),
        q.case.as_deref(),
        range.as_deref(),
    )
    .await
}

/// `POST /api/v1/downloads/{token}`: no session; the token is the key.
async fn post_download(
    State(d): State<Arc<Deployment>>,
    Client(client): Client,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    crate::links::download(&d, &client, &token).await
}

async fn post_export_request(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(case_id): Path<String>,
    body: Result<Json<crate::export::NewExportRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<custos_catalog::ExportRequest>), ApiError> {
    let request = crate::export::request_export(&d, &a, &case_id, json_body(body)?).await?;
    Ok((StatusCode::CREATED, Json(request)))
}

async fn get_export_requests(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(case_id): Path<String>,
) -> Result<Json<Vec<custos_catalog::ExportRequest>>, ApiError> {
    Ok(Json(
        crate::export::export_requests(&d, &a, &case_id).await?,
    ))
}

async fn post_approve_export(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<custos_catalog::ExportRequest>, ApiError> {
    Ok(Json(crate::export::approve_export(&d, &a, &id).await?))
}

async fn hold_named(d: &Deployment, id: &str) -> Result<custos_catalog::Hold, ApiError> {
    let hold = match id.parse::<Uuid>() {
        Ok(uuid) => d.catalog.hold(uuid).await.map_err(unavailable)?,
        Err(_) => None,
    };
    hold.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not-found", "no such hold"))
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
            StatusCode::FORBIDDEN,
            "four-eyes",
            "the placer cannot approve: a hold needs a second person's approval",
        );
        return Err(a.refused(d, event, answer).await);
    }
    if hold.approved_at.is_some() || hold.released_at.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not-pending",
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

async fn post_approve_hold(
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
            StatusCode::CONFLICT,
            "released",
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

async fn post_release_hold(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<custos_catalog::Hold>, ApiError> {
    release_hold(&d, &a, &id).await.map(Json)
}
