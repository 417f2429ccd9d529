//! Cases: open one, secure recordings for it (holds), approve a colleague's
//! hold, release one, close the case. Every form calls the API's own
//! operation, so the policy, the four-eyes rule and the audit entries are
//! the API's.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use custos_access::Action;
use custos_server::api::{self, NewCase, NewHold};
use custos_server::http::{ApiError, Code};
use custos_server::Deployment;
use minijinja::value::Value;
use serde::Deserialize;

use crate::pages::with_base;
use crate::render::{self, url_encode};
use crate::Person;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct CaseForm {
    csrf: String,
    kind: String,
    label: String,
    reference: String,
    case_id: String,
}

fn case_row(c: &custos_catalog::Case) -> Value {
    Value::from_serialize(c)
}

async fn list_page(
    d: &Deployment,
    person: &Person,
    status: StatusCode,
    error: Option<&str>,
    form: &CaseForm,
) -> Response {
    let cases = match api::list_cases(d, &person.who).await {
        Ok(c) => c,
        Err(e) => return person.error(d, e),
    };
    let (open, closed): (Vec<_>, Vec<_>) = cases.iter().partition(|c| c.closed_at.is_none());
    render::page(
        status,
        "cases.html",
        with_base(
            person.base(d, "/cases"),
            minijinja::context! {
                open => open.iter().map(|c| case_row(c)).collect::<Vec<_>>(),
                closed => closed.iter().map(|c| case_row(c)).collect::<Vec<_>>(),
                kinds => api::case_kinds(),
                error => error.map(|c| format!("error-{c}")),
                form => minijinja::context! {
                    kind => form.kind.clone(),
                    label => form.label.clone(),
                    reference => form.reference.clone(),
                    case_id => form.case_id.clone(),
                },
            },
        ),
    )
}

pub async fn list(State(d): State<Arc<Deployment>>, person: Person) -> Response {
    list_page(&d, &person, StatusCode::OK, None, &CaseForm::default()).await
}

fn optional(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

pub async fn open(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Form<CaseForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let new = NewCase {
        case_id: optional(&form.case_id),
        kind: form.kind.clone(),
        reference: optional(&form.reference),
        label: form.label.trim().to_owned(),
    };
    match api::open_case(&d, &person.who, new).await {
        Ok(case) => Redirect::to(&format!("/cases/{}", url_encode(&case.case_id))).into_response(),
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            list_page(&d, &person, e.status(), Some(e.code().as_str()), &form).await
        }
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct HoldForm {
    csrf: String,
    recording_id: String,
    reason: String,
}

async fn case_page(
    d: &Deployment,
    person: &Person,
    id: &str,
    status: StatusCode,
    error: Option<&str>,
    hold_form: &HoldForm,
) -> Response {
    let (case, holds) = match api::case_with_holds(d, &person.who, id).await {
        Ok(c) => c,
        Err(e) => return person.error(d, e),
    };
    let me = &person.who.caller.name;
    let may_approve = person.may(d, Action::ApproveHold);
    let may_hold = person.may(d, Action::PlaceHold);
    let secured = holds.iter().filter(|h| h.released_at.is_none()).count();
    let may_export =
        person.may(d, Action::ExportFootage) && case.closed_at.is_none() && secured > 0;
    let four_eyes_exports = d.policy().export_needs_second_approver;
    let requests: Vec<Value> = if person.may(d, Action::ExportFootage) && four_eyes_exports {
        match custos_server::export::export_requests(d, &person.who, &case.case_id).await {
            Ok(list) => list
                .iter()
                .map(|r| {
                    let mine = &r.requested_by == me;
                    minijinja::context! {
                        ..Value::from_serialize(r),
                        ..minijinja::context! {
                            count => r.recordings.len(),
                            may_approve => may_export && !mine && r.approved_at.is_none(),
                            may_make => may_export && mine && r.approved_at.is_some() && r.used_at.is_none(),
                        }
                    }
                })
                .collect(),
            Err(e) => return person.error(d, e),
        }
    } else {
        Vec::new()
    };
    let now = (d.clock)();
    let links: Vec<Value> = if person.may(d, Action::ExportFootage) {
        match custos_server::links::links_for_case(d, &person.who, &case.case_id).await {
            Ok(list) => list
                .iter()
                .map(|l| {
                    let closed = l.closed(now);
                    minijinja::context! {
                        ..Value::from_serialize(l),
                        ..minijinja::context! {
                            state => closed.map(|c| c.as_str()).unwrap_or("serving"),
                            may_revoke => l.revoked_at.is_none() && l.removed_at.is_none(),
                        }
                    }
                })
                .collect(),
            Err(e) => return person.error(d, e),
        }
    } else {
        Vec::new()
    };
    let rows: Vec<Value> = holds
        .iter()
        .map(|h| {
            let pending = h.approved_at.is_none() && h.released_at.is_none();
            minijinja::context! {
                ..Value::from_serialize(h),
                ..minijinja::context! {
                    pending => pending,
                    may_approve => pending && may_approve && &h.placed_by != me,
                    may_release => h.released_at.is_none() && may_hold,
                }
            }
        })
        .collect();
    let here = format!("/cases/{}", url_encode(&case.case_id));
    render::page(
        status,
        "case.html",
        with_base(
            person.base(d, &here),
            minijinja::context! {
                case => case_row(&case),
                holds => rows,
                may_hold => may_hold && case.closed_at.is_none(),
                may_close => case.closed_at.is_none(),
                four_eyes => d.policy().hold_needs_second_approver,
                grace_days => d.policy().hold_release_grace_millis / 86_400_000,
                may_export => may_export,
                four_eyes_exports => four_eyes_exports,
                export_requests => requests,
                export_links => links,
                link_max_hours => d.policy().export_link_max_millis / 3_600_000,
                link_hours => (d.policy().export_link_max_millis / 3_600_000).min(72),
                max_downloads => custos_server::export::MAX_LINK_DOWNLOADS,
                default_downloads => custos_server::export::DEFAULT_LINK_DOWNLOADS,
                secured => secured,
                purposes => d.policy().purposes,
                // Made for this page only; it goes with the form, so the
                // reviewer can pass on exactly what encrypted the package.
                passphrase => may_export.then(|| custos_server::export::one_time_passphrase().to_string()),
                error => error.map(|c| format!("error-{c}")),
                form => minijinja::context! {
                    recording_id => hold_form.recording_id.clone(),
                    reason => hold_form.reason.clone(),
                },
            },
        ),
    )
}

pub async fn detail(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
) -> Response {
    case_page(&d, &person, &id, StatusCode::OK, None, &HoldForm::default()).await
}

/// A refusal the hold form can fix (a bad field, an unknown recording) is
/// answered on the case's page with the form kept; anything else (no such
/// case, not permitted) on an error page.
fn shown_on_the_page(e: &ApiError) -> bool {
    e.status() == StatusCode::BAD_REQUEST || e.code() == Code::RecordingNotFound
}

pub async fn place_hold(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<HoldForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let Ok(recording_id) = form.recording_id.trim().parse() else {
        return case_page(
            &d,
            &person,
            &id,
            StatusCode::BAD_REQUEST,
            Some("recording-id"),
            &form,
        )
        .await;
    };
    let hold = NewHold {
        recording_id,
        reason: form.reason.trim().to_owned(),
    };
    match api::place_hold(&d, &person.who, &id, hold).await {
        Ok(_) => Redirect::to(&format!("/cases/{}", url_encode(&id))).into_response(),
        Err(e) if shown_on_the_page(&e) => {
            case_page(&d, &person, &id, e.status(), Some(e.code().as_str()), &form).await
        }
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActionForm {
    csrf: String,
}

/// Approve or release a hold, then back to its case.
async fn on_hold(
    d: &Deployment,
    person: &Person,
    id: &str,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
    approve: bool,
) -> Response {
    if let Err(answer) = person.posted(form, |f| &f.csrf) {
        return answer;
    }
    let done = if approve {
        api::approve_hold(d, &person.who, id).await
    } else {
        api::release_hold(d, &person.who, id).await
    };
    match done {
        Ok(hold) => Redirect::to(&format!("/cases/{}", url_encode(&hold.case_id))).into_response(),
        Err(e) => person.error(d, e),
    }
}

pub async fn approve_hold(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    on_hold(&d, &person, &id, form, true).await
}

pub async fn release_hold(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    on_hold(&d, &person, &id, form, false).await
}

pub async fn close(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(answer) = person.posted(form, |f| &f.csrf) {
        return answer;
    }
    match api::close_case(&d, &person.who, &id).await {
        Ok(_) => Redirect::to(&format!("/cases/{}", url_encode(&id))).into_response(),
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SecureForm {
    csrf: String,
    case: String,
    reason: String,
}

/// From a recording's page: secure it for a chosen open case.
pub async fn secure_recording(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<SecureForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let Ok(recording_id) = id.parse() else {
        return render::error_page(person.lang, StatusCode::NOT_FOUND, "not-found", None);
    };
    let hold = NewHold {
        recording_id,
        reason: form.reason.trim().to_owned(),
    };
    match api::place_hold(&d, &person.who, form.case.trim(), hold).await {
        Ok(hold) => Redirect::to(&format!("/recordings/{}", hold.recording_id)).into_response(),
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ExportForm {
    csrf: String,
    purpose: String,
    recipient: String,
    age_recipient: String,
    passphrase: String,
    request_id: String,
    /// `download` (default) or `link`.
    delivery: String,
    link_hours: String,
    link_downloads: String,
}

/// The export: the browser downloads the package as it is made, or it is
/// kept for a download link the next page shows once. With an age key
/// given, the package is for that key only; otherwise for the passphrase
/// the page showed.
pub async fn export(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
    form: Result<Form<ExportForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let age_recipient = optional(&form.age_recipient);
    let request = custos_server::export::NewExport {
        purpose: form.purpose.clone(),
        recipient: form.recipient.clone(),
        recordings: None,
        passphrase: age_recipient.is_none().then(|| form.passphrase.clone()),
        age_recipient,
        request_id: form.request_id.trim().parse().ok(),
        // The report in the reviewer's language and the deployment's zone.
        language: Some(person.lang.code().to_owned()),
        time_zone: Some(person.config.time_zone_name.clone()),
        link: (form.delivery == "link").then(|| custos_server::export::NewLink {
            // Unparsable numbers become 0, which the export refuses as bad-link.
            valid_hours: form.link_hours.trim().parse().unwrap_or(0),
            max_downloads: Some(form.link_downloads.trim().parse().unwrap_or(0)),
        }),
    };
    let prepared = match custos_server::export::prepare(&d, &person.who, &id, request).await {
        Ok(p) => p,
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            return case_page(
                &d,
                &person,
                &id,
                e.status(),
                Some(e.code().as_str()),
                &HoldForm::default(),
            )
            .await
        }
        Err(e) => return person.error(&d, e),
    };
    if form.delivery != "link" {
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
        format!("/cases/{}", url_encode(&id)),
        &created,
        form.age_recipient
            .trim()
            .is_empty()
            .then(|| form.passphrase.clone()),
    )
}

/// A download link revoked, then back to its case.
pub async fn revoke_link(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(answer) = person.posted(form, |f| &f.csrf) {
        return answer;
    }
    match custos_server::links::revoke(&d, &person.who, &id).await {
        Ok(l) => Redirect::to(&format!("/cases/{}", url_encode(&l.case_id))).into_response(),
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ExportRequestForm {
    csrf: String,
    purpose: String,
    recipient: String,
}

/// Where exports need a second person: ask for one (what, for whom, why).
pub async fn request_export(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<ExportRequestForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let asked = custos_server::export::NewExportRequest {
        purpose: form.purpose.clone(),
        recipient: form.recipient.clone(),
        recordings: None,
    };
    match custos_server::export::request_export(&d, &person.who, &id, asked).await {
        Ok(_) => Redirect::to(&format!("/cases/{}", url_encode(&id))).into_response(),
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            case_page(
                &d,
                &person,
                &id,
                e.status(),
                Some(e.code().as_str()),
                &HoldForm::default(),
            )
            .await
        }
        Err(e) => person.error(&d, e),
    }
}

/// A colleague's export request approved (never one's own), then back to
/// its case.
pub async fn approve_export(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(answer) = person.posted(form, |f| &f.csrf) {
        return answer;
    }
    match custos_server::export::approve_export(&d, &person.who, &id).await {
        Ok(r) => Redirect::to(&format!("/cases/{}", url_encode(&r.case_id))).into_response(),
        Err(e) => person.error(&d, e),
    }
}
