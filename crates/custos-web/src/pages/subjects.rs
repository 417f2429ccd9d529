//! Subject access requests, the privacy officer's pages: the list with
//! each deadline (overdue and nearly due ones marked), the intake form, and
//! a request's page with the extension form and the search for candidate
//! recordings (shown with thumbnails, asked for with the request's purpose
//! and case, so every one is audited). Times are read and shown in the
//! deployment's zone.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use custos_format::UtcMillis;
use custos_server::http::Code;
use custos_server::subject::{self, SubjectRequestView};
use custos_server::Deployment;
use minijinja::value::Value;
use serde::Deserialize;

use crate::pages::with_base;
use crate::render::{self, url_encode};
use crate::Person;

/// A request counts as nearly due this long before its deadline.
const NEARLY_DUE_MILLIS: i64 = 7 * 86_400_000;

fn row(view: &SubjectRequestView, now: UtcMillis) -> Value {
    let due = view.case.due_at.unwrap_or(now);
    let left = due.as_millis() - now.as_millis();
    let state = if view.case.closed_at.is_some() {
        "closed"
    } else if left < 0 {
        "overdue"
    } else if left <= NEARLY_DUE_MILLIS {
        "due-soon"
    } else {
        "open"
    };
    minijinja::context! {
        ..Value::from_serialize(view),
        ..minijinja::context! {
            state => state,
            // Whole days left, rounded up (0 on the deadline's day).
            days_left => (left.max(0) + 86_399_999) / 86_400_000,
        }
    }
}

/// For the privacy officer's landing page: how many open requests are
/// overdue or due within a week (counts only; nobody is named).
pub async fn due_soon(d: &Deployment, person: &Person) -> Option<Value> {
    if !person.may(d, custos_access::Action::HandleSubjectRequests) {
        return None;
    }
    let now = (d.clock)();
    let cases = d.catalog.cases().await.ok()?;
    let open = cases
        .iter()
        .filter(|c| c.kind == subject::KIND && c.closed_at.is_none());
    let (mut overdue, mut soon) = (0, 0);
    for c in open {
        match c.due_at {
            Some(due) if due <= now => overdue += 1,
            Some(due) if due.as_millis() - now.as_millis() <= NEARLY_DUE_MILLIS => soon += 1,
            _ => {}
        }
    }
    (overdue + soon > 0).then(|| minijinja::context! { overdue => overdue, soon => soon })
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct IntakeForm {
    csrf: String,
    case_id: String,
    requester: String,
    contact: String,
    identity_check: String,
    description: String,
    window_from: String,
    window_to: String,
    lat: String,
    lon: String,
    radius_m: String,
    received: String,
}

async fn list_page(
    d: &Deployment,
    person: &Person,
    status: StatusCode,
    error: Option<&str>,
    form: &IntakeForm,
) -> Response {
    let views = match subject::list(d, &person.who).await {
        Ok(v) => v,
        Err(e) => return person.error(d, e),
    };
    let now = (d.clock)();
    render::page(
        status,
        "subject_requests.html",
        with_base(
            person.base(d, "/subject-requests"),
            minijinja::context! {
                requests => views.iter().map(|v| row(v, now)).collect::<Vec<_>>(),
                error => error.map(|c| format!("error-{c}")),
                form => Value::from_serialize(FormEcho::from(form)),
            },
        ),
    )
}

/// What the intake form shows again after a refusal: never the CSRF token.
#[derive(serde::Serialize)]
struct FormEcho {
    case_id: String,
    requester: String,
    contact: String,
    identity_check: String,
    description: String,
    window_from: String,
    window_to: String,
    lat: String,
    lon: String,
    radius_m: String,
    received: String,
}

impl From<&IntakeForm> for FormEcho {
    fn from(f: &IntakeForm) -> Self {
        Self {
            case_id: f.case_id.clone(),
            requester: f.requester.clone(),
            contact: f.contact.clone(),
            identity_check: f.identity_check.clone(),
            description: f.description.clone(),
            window_from: f.window_from.clone(),
            window_to: f.window_to.clone(),
            lat: f.lat.clone(),
            lon: f.lon.clone(),
            radius_m: f.radius_m.clone(),
            received: f.received.clone(),
        }
    }
}

pub async fn list(State(d): State<Arc<Deployment>>, person: Person) -> Response {
    list_page(&d, &person, StatusCode::OK, None, &IntakeForm::default()).await
}

/// `2026-11-23T09:00` in the deployment's zone.
fn local_minute(s: &str, tz: &jiff::tz::TimeZone) -> Option<UtcMillis> {
    let t: jiff::civil::DateTime = s.trim().parse().ok()?;
    let zoned = t.to_zoned(tz.clone()).ok()?;
    UtcMillis::from_millis(zoned.timestamp().as_millisecond())
}

fn optional(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// The form as the API's request; `Err(code)` for what the form itself
/// cannot say (a time or number that does not parse).
fn intake(form: &IntakeForm, person: &Person) -> Result<subject::NewSubjectRequest, &'static str> {
    let tz = &person.config.time_zone;
    let window_from = local_minute(&form.window_from, tz).ok_or("bad-window")?;
    let window_to = local_minute(&form.window_to, tz).ok_or("bad-window")?;
    let received_at = match optional(&form.received) {
        None => None,
        Some(day) => Some(crate::pages::recordings::day_start(&day, tz).ok_or("bad-received")?),
    };
    let place = match (optional(&form.lat), optional(&form.lon)) {
        (None, None) => None,
        (Some(lat), Some(lon)) => Some(subject::NewPlace {
            lat: lat.replace(',', ".").parse().map_err(|_| "bad-place")?,
            lon: lon.replace(',', ".").parse().map_err(|_| "bad-place")?,
            radius_m: optional(&form.radius_m)
                .unwrap_or_else(|| "250".into())
                .parse()
                .map_err(|_| "bad-place")?,
        }),
        _ => return Err("bad-place"),
    };
    Ok(subject::NewSubjectRequest {
        case_id: optional(&form.case_id),
        requester: form.requester.clone(),
        contact: optional(&form.contact),
        identity_check: form.identity_check.clone(),
        description: form.description.clone(),
        window_from,
        window_to,
        place,
        received_at,
    })
}

pub async fn open(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Form<IntakeForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let request = match intake(&form, &person) {
        Ok(r) => r,
        Err(code) => {
            return list_page(&d, &person, StatusCode::BAD_REQUEST, Some(code), &form).await
        }
    };
    match subject::open(&d, &person.who, request).await {
        Ok(view) => Redirect::to(&format!(
            "/subject-requests/{}",
            url_encode(&view.case.case_id)
        ))
        .into_response(),
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            list_page(&d, &person, e.status(), Some(e.code().as_str()), &form).await
        }
        Err(e) => person.error(&d, e),
    }
}

async fn request_page(
    d: &Deployment,
    person: &Person,
    view: SubjectRequestView,
    status: StatusCode,
    error: Option<&str>,
    candidates: Option<Vec<subject::Candidate>>,
) -> Response {
    let now = (d.clock)();
    let case_id = view.case.case_id.clone();
    let derivatives = match custos_server::redaction::list(d, &person.who, &case_id).await {
        Ok(list) => list,
        Err(e) => return person.error(d, e),
    };
    let held: Vec<String> = match d.catalog.holds_for_case(&case_id).await {
        Ok(holds) => holds
            .into_iter()
            .filter(|h| h.released_at.is_none())
            .map(|h| h.recording_id.to_string())
            .collect(),
        Err(e) => return person.error(d, custos_server::api::unavailable(e)),
    };
    render::page(
        status,
        "subject_request.html",
        with_base(
            person.base(d, &format!("/subject-requests/{}", url_encode(&case_id))),
            minijinja::context! {
                r => row(&view, now),
                may_extend => view.case.closed_at.is_none() && view.case.due_at < Some(view.latest_due_at),
                candidates => candidates.map(|c| c.iter().map(Value::from_serialize).collect::<Vec<_>>()),
                derivatives => derivatives.iter().filter(|x| x.deleted_at.is_none()).map(Value::from_serialize).collect::<Vec<_>>(),
                held => held,
                // Made for this page only, as on the case page's export form.
                passphrase => custos_server::export::one_time_passphrase().to_string(),
                link_max_hours => d.policy().export_link_max_millis / 3_600_000,
                link_hours => (d.policy().export_link_max_millis / 3_600_000).min(72),
                purpose => subject::PURPOSE,
                error => error.map(|c| format!("error-{c}")),
            },
        ),
    )
}

pub async fn detail(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
) -> Response {
    match subject::get(&d, &person.who, &id).await {
        Ok(view) => request_page(&d, &person, view, StatusCode::OK, None, None).await,
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ExtendForm {
    csrf: String,
    months: String,
    reason: String,
}

pub async fn extend(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<ExtendForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let body = subject::Extension {
        months: form.months.trim().parse().unwrap_or(0),
        reason: form.reason.clone(),
    };
    match subject::extend(&d, &person.who, &id, body).await {
        Ok(_) => Redirect::to(&format!("/subject-requests/{}", url_encode(&id))).into_response(),
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            match subject::get(&d, &person.who, &id).await {
                Ok(view) => {
                    request_page(&d, &person, view, e.status(), Some(e.code().as_str()), None).await
                }
                Err(e) => person.error(&d, e),
            }
        }
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchForm {
    csrf: String,
    officer: String,
    camera: String,
}

/// The search, and the request's page with what it found.
pub async fn search(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<SearchForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let body = subject::Search {
        officer_id: optional(&form.officer),
        device_id: optional(&form.camera),
    };
    let found = subject::search(&d, &person.who, &id, body).await;
    let view = match subject::get(&d, &person.who, &id).await {
        Ok(v) => v,
        Err(e) => return person.error(&d, e),
    };
    match found {
        Ok(candidates) => {
            request_page(&d, &person, view, StatusCode::OK, None, Some(candidates)).await
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            request_page(&d, &person, view, e.status(), Some(e.code().as_str()), None).await
        }
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RedactForm {
    csrf: String,
    plan: String,
}

async fn editor_page(
    d: &Deployment,
    person: &Person,
    case_id: &str,
    recording_id: &str,
    status: StatusCode,
    error: Option<(&str, Option<String>)>,
    plan: &str,
) -> Response {
    if let Err(e) = subject::get(d, &person.who, case_id).await {
        return person.error(d, e);
    }
    let recording = match recording_id.parse::<uuid::Uuid>() {
        Ok(id) => d.catalog.recording(id).await.ok().flatten(),
        Err(_) => None,
    };
    let Some(recording) = recording else {
        return person.error(
            d,
            custos_server::http::ApiError::new(Code::RecordingNotFound, "no such recording"),
        );
    };
    let seconds = (recording.ended_at.as_millis() - recording.started_at.as_millis()).max(0) / 1000;
    render::page(
        status,
        "redact.html",
        with_base(
            person.base(
                d,
                &format!(
                    "/subject-requests/{}/recordings/{}/redact",
                    url_encode(case_id),
                    recording.recording_id
                ),
            ),
            minijinja::context! {
                case_id => case_id,
                recording => minijinja::context! { recording_id => recording.recording_id.to_string() },
                seconds => seconds,
                purpose => subject::PURPOSE,
                plan => plan,
                error => error.as_ref().map(|(c, _)| format!("error-{c}")),
                detail => error.and_then(|(_, detail)| detail),
            },
        ),
    )
}

/// The editor: a frame, boxes drawn on it, the plan in the form.
pub async fn editor(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path((case_id, recording_id)): Path<(String, String)>,
) -> Response {
    editor_page(
        &d,
        &person,
        &case_id,
        &recording_id,
        StatusCode::OK,
        None,
        "",
    )
    .await
}

/// Renders the plan into a redacted copy, then back to the request.
pub async fn make_copy(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path((case_id, recording_id)): Path<(String, String)>,
    form: Result<Form<RedactForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let again = |code: &'static str, detail: Option<String>| {
        let (d, person, case_id, recording_id, plan) =
            (&d, &person, &case_id, &recording_id, form.plan.clone());
        async move {
            editor_page(
                d,
                person,
                case_id,
                recording_id,
                StatusCode::BAD_REQUEST,
                Some((code, detail)),
                &plan,
            )
            .await
        }
    };
    let plan: custos_redact::Plan = match serde_json::from_str(&form.plan) {
        Ok(p) => p,
        Err(e) => return again("bad-plan", Some(e.to_string())).await,
    };
    let Ok(recording) = recording_id.parse::<uuid::Uuid>() else {
        return again("not-held", None).await;
    };
    let body = custos_server::redaction::NewDerivative {
        recording_id: recording,
        plan,
    };
    match custos_server::redaction::create(&d, &person.who, &case_id, body).await {
        Ok(_) => Redirect::to(&format!(
            "/subject-requests/{}#derivatives",
            url_encode(&case_id)
        ))
        .into_response(),
        Err(e) if e.status().is_client_error() && e.status() != StatusCode::FORBIDDEN => {
            again(e.code().as_str(), Some(e.message().to_owned())).await
        }
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeliveryForm {
    csrf: String,
    passphrase: String,
    age_recipient: String,
    /// `download` (default) or `link`.
    delivery: String,
    link_hours: String,
}

/// The answer: downloaded now, or kept for a one-download link shown once.
pub async fn deliver(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
    form: Result<Form<DeliveryForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let age_recipient = optional(&form.age_recipient);
    let link = form.delivery == "link";
    let request = custos_server::export::NewDelivery {
        derivatives: None,
        passphrase: age_recipient.is_none().then(|| form.passphrase.clone()),
        age_recipient,
        link: link.then(|| custos_server::export::NewLink {
            valid_hours: form.link_hours.trim().parse().unwrap_or(0),
            max_downloads: Some(1),
        }),
        language: Some(person.lang.code().to_owned()),
        time_zone: Some(person.config.time_zone_name.clone()),
    };
    let prepared = match custos_server::export::prepare_subject_delivery(
        &d,
        &person.who,
        &id,
        request,
    )
    .await
    {
        Ok(p) => p,
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            return match subject::get(&d, &person.who, &id).await {
                Ok(view) => {
                    request_page(&d, &person, view, e.status(), Some(e.code().as_str()), None).await
                }
                Err(e) => person.error(&d, e),
            }
        }
        Err(e) => return person.error(&d, e),
    };
    if !link {
        return match custos_server::export::respond(d.clone(), prepared) {
            Ok(r) => r,
            Err(e) => person.error(&d, e),
        };
    }
    let created = match custos_server::links::keep_for_link(d.clone(), &person.who, prepared).await
    {
        Ok(c) => c,
        Err(e) => return person.error(&d, e),
    };
    crate::pages::link_page(
        &d,
        &person,
        &headers,
        &uri,
        format!("/subject-requests/{}", url_encode(&id)),
        &created,
        form.age_recipient
            .trim()
            .is_empty()
            .then(|| form.passphrase.clone()),
    )
}
