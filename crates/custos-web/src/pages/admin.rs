//! Administration: people (add, unlock, reset password or MFA, disable),
//! cameras and docks (enroll, revoke, retention category, assigned
//! officer), and the deployment's settings. The admin manages; the privacy
//! officer may look at the list of people. Secrets made here (an initial
//! password, a TOTP secret, a dock's token) are shown once, on a page that
//! is never cached, and stored only as hashes or sealed.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use custos_access::{Action, Role};
use custos_server::api;
use custos_server::Deployment;
use minijinja::value::Value;
use serde::Deserialize;

use crate::pages::with_base;
use crate::render;
use crate::Person;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct UserForm {
    csrf: String,
    name: String,
    role: String,
    officer_id: String,
}

async fn users_page(
    d: &Deployment,
    person: &Person,
    status: StatusCode,
    error: Option<&str>,
    form: &UserForm,
) -> Response {
    let users = match api::list_users(d, &person.who).await {
        Ok(u) => u,
        Err(e) => return person.error(d, e),
    };
    let may_approve = person.may(d, Action::ApproveAccounts);
    let requests = if may_approve || person.may(d, Action::ManageUsers) {
        match custos_server::accounts::list(d, &person.who).await {
            Ok(list) => list,
            Err(e) => return person.error(d, e),
        }
    } else {
        Vec::new()
    };
    let now = (d.clock)();
    let requests: Vec<Value> = requests
        .iter()
        .map(|r| {
            let state = if r.rejected_at.is_some() {
                "rejected"
            } else if r.activated_at.is_some() {
                "activated"
            } else if r.approved_at.is_none() {
                "pending"
            } else if r.expires_at.is_some_and(|at| at <= now) {
                "expired"
            } else {
                "approved"
            };
            minijinja::context! {
                ..Value::from_serialize(r),
                ..minijinja::context! { state => state }
            }
        })
        .collect();
    let me = &person.who.caller.name;
    let rows: Vec<Value> = users
        .iter()
        .map(|u| {
            minijinja::context! {
                ..Value::from_serialize(u),
                ..minijinja::context! { me => &u.name == me }
            }
        })
        .collect();
    render::page(
        status,
        "users.html",
        with_base(
            person.base(d, "/admin/users"),
            minijinja::context! {
                users => rows,
                may_manage => person.may(d, Action::ManageUsers),
                may_approve => may_approve,
                requests => requests,
                roles => Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                error => error.map(|c| format!("error-{c}")),
                form => minijinja::context! {
                    name => form.name.clone(),
                    role => form.role.clone(),
                    officer_id => form.officer_id.clone(),
                },
            },
        ),
    )
}

pub async fn users(State(d): State<Arc<Deployment>>, person: Person) -> Response {
    users_page(&d, &person, StatusCode::OK, None, &UserForm::default()).await
}

/// A secret shown once: who it is for, what it is, and how to hand it over.
fn once_page(d: &Deployment, person: &Person, kind: &str, secret: Value) -> Response {
    render::page(
        StatusCode::OK,
        "secret.html",
        with_base(
            person.base(d, "/admin/users"),
            minijinja::context! { kind => kind, secret => secret },
        ),
    )
}

/// An account that can see footage: what happens next, and no credentials.
fn awaiting_page(
    d: &Deployment,
    person: &Person,
    request: &custos_catalog::Activation,
) -> Response {
    render::page(
        StatusCode::ACCEPTED,
        "awaiting.html",
        with_base(
            person.base(d, "/admin/users"),
            minijinja::context! { request => Value::from_serialize(request) },
        ),
    )
}

/// The privacy officer approves: the link, shown once.
pub async fn approve_activation(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    uri: axum::http::Uri,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Some(refusal) = checked(&person, form) {
        return refusal;
    }
    match custos_server::accounts::approve(&d, &person.who, &id).await {
        Ok(approved) => render::page(
            StatusCode::OK,
            "activation_link.html",
            with_base(
                person.base(&d, "/admin/users"),
                minijinja::context! {
                    activation => Value::from_serialize(&approved.activation),
                    link => format!("{}{}", super::origin(&headers, &uri), approved.link.as_str()),
                },
            ),
        ),
        Err(e) => person.error(&d, e),
    }
}

pub async fn reject_activation(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Some(refusal) = checked(&person, form) {
        return refusal;
    }
    match custos_server::accounts::reject(&d, &person.who, &id).await {
        Ok(_) => Redirect::to("/admin/users").into_response(),
        Err(e) => person.error(&d, e),
    }
}

pub async fn add_user(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Form<UserForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let new = api::NewUser {
        name: form.name.trim().to_owned(),
        role: form.role.clone(),
        officer_id: Some(form.officer_id.trim().to_owned()).filter(|o| !o.is_empty()),
    };
    match api::add_user(&d, &person.who, new).await {
        Ok(api::Credentials::AwaitingApproval(request)) => awaiting_page(&d, &person, &request),
        Ok(api::Credentials::Shown(e)) => once_page(
            &d,
            &person,
            "enrollment",
            minijinja::context! {
                name => e.name,
                role => e.role.as_str(),
                password => e.password.as_str(),
                totp_secret => e.totp_secret.as_str(),
                otpauth_uri => e.otpauth_uri.as_str(),
            },
        ),
        Err(e) if e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT => {
            users_page(&d, &person, e.status(), Some(e.code().as_str()), &form).await
        }
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActionForm {
    csrf: String,
}

fn checked(
    person: &Person,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Option<Response> {
    let Ok(Form(form)) = form else {
        return Some(render::error_page(
            person.lang,
            StatusCode::BAD_REQUEST,
            "invalid",
            None,
        ));
    };
    person.csrf_refusal(&form.csrf)
}

pub async fn unlock_user(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(name): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Some(refusal) = checked(&person, form) {
        return refusal;
    }
    match api::unlock_user(&d, &person.who, &name).await {
        Ok(()) => Redirect::to("/admin/users").into_response(),
        Err(e) => person.error(&d, e),
    }
}

pub async fn disable_user(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(name): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Some(refusal) = checked(&person, form) {
        return refusal;
    }
    match api::disable_user(&d, &person.who, &name).await {
        Ok(()) => Redirect::to("/admin/users").into_response(),
        Err(e) => person.error(&d, e),
    }
}

pub async fn reset_password(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(name): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Some(refusal) = checked(&person, form) {
        return refusal;
    }
    match api::reset_password(&d, &person.who, &name).await {
        Ok(api::Credentials::AwaitingApproval(request)) => awaiting_page(&d, &person, &request),
        Ok(api::Credentials::Shown(password)) => once_page(
            &d,
            &person,
            "password",
            minijinja::context! { name => name, password => password.as_str() },
        ),
        Err(e) => person.error(&d, e),
    }
}

pub async fn reset_mfa(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(name): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Some(refusal) = checked(&person, form) {
        return refusal;
    }
    match api::reset_mfa(&d, &person.who, &name).await {
        Ok(api::Credentials::AwaitingApproval(request)) => awaiting_page(&d, &person, &request),
        Ok(api::Credentials::Shown(totp)) => once_page(
            &d,
            &person,
            "mfa",
            minijinja::context! {
                name => name,
                totp_secret => totp.secret.as_str(),
                otpauth_uri => totp.otpauth_uri.as_str(),
            },
        ),
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct CameraForm {
    csrf: String,
    device_id: String,
    public_key: String,
    retention_category: String,
    assigned_officer: String,
    team: String,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct DockForm {
    csrf: String,
    dock_id: String,
}

async fn devices_page(
    d: &Deployment,
    person: &Person,
    status: StatusCode,
    error: Option<&str>,
    camera: &CameraForm,
    dock: &DockForm,
) -> Response {
    let devices = match custos_server::fleet::list_devices(d, &person.who).await {
        Ok(v) => v,
        Err(e) => return person.error(d, e),
    };
    let docks = match custos_server::fleet::list_docks(d, &person.who).await {
        Ok(v) => v,
        Err(e) => return person.error(d, e),
    };
    render::page(
        status,
        "devices.html",
        with_base(
            person.base(d, "/admin/devices"),
            minijinja::context! {
                cameras => Value::from_serialize(&devices),
                docks => Value::from_serialize(&docks),
                categories => d.retention().categories_with_periods(),
                error => error.map(|c| format!("error-{c}")),
                camera => minijinja::context! {
                    device_id => camera.device_id.clone(),
                    public_key => camera.public_key.clone(),
                    retention_category => camera.retention_category.clone(),
                    assigned_officer => camera.assigned_officer.clone(),
                    team => camera.team.clone(),
                },
                dock => minijinja::context! { dock_id => dock.dock_id.clone() },
            },
        ),
    )
}

pub async fn devices(State(d): State<Arc<Deployment>>, person: Person) -> Response {
    devices_page(
        &d,
        &person,
        StatusCode::OK,
        None,
        &CameraForm::default(),
        &DockForm::default(),
    )
    .await
}

fn optional(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A refusal the form can fix is shown with the form kept.
fn fixable(e: &custos_server::http::ApiError) -> bool {
    e.status() == StatusCode::BAD_REQUEST || e.status() == StatusCode::CONFLICT
}

pub async fn enroll_camera(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Form<CameraForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let new = custos_server::fleet::NewCamera {
        device_id: form.device_id.trim().to_owned(),
        public_key: form.public_key.trim().to_owned(),
        retention_category: optional(&form.retention_category),
        assigned_officer: optional(&form.assigned_officer),
        team: optional(&form.team),
    };
    match custos_server::fleet::enroll_camera(&d, &person.who, new).await {
        Ok(_) => Redirect::to("/admin/devices").into_response(),
        Err(e) if fixable(&e) => {
            devices_page(
                &d,
                &person,
                e.status(),
                Some(e.code().as_str()),
                &form,
                &DockForm::default(),
            )
            .await
        }
        Err(e) => person.error(&d, e),
    }
}

pub async fn revoke_camera(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Some(refusal) = checked(&person, form) {
        return refusal;
    }
    match custos_server::fleet::revoke_camera(&d, &person.who, &id).await {
        Ok(()) => Redirect::to("/admin/devices").into_response(),
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CameraSettingsForm {
    csrf: String,
    retention_category: String,
    assigned_officer: String,
    team: String,
}

/// A camera's retention category, assigned officer and team, from its row.
pub async fn camera_settings(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<CameraSettingsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let device = match custos_server::fleet::list_devices(&d, &person.who).await {
        Ok(all) => all.into_iter().find(|c| c.device_id == id),
        Err(e) => return person.error(&d, e),
    };
    let Some(device) = device else {
        return render::error_page(person.lang, StatusCode::NOT_FOUND, "not-found", None);
    };
    // Only what changed is changed (and audited).
    let category = form.retention_category.trim();
    if !category.is_empty() && category != device.retention_category {
        if let Err(e) =
            custos_server::fleet::set_camera_retention(&d, &person.who, &id, category).await
        {
            return person.error(&d, e);
        }
    }
    let officer = optional(&form.assigned_officer);
    if officer != device.assigned_officer {
        if let Err(e) =
            custos_server::fleet::assign_officer(&d, &person.who, &id, officer.as_deref()).await
        {
            return person.error(&d, e);
        }
    }
    let team = optional(&form.team);
    if team != device.team {
        if let Err(e) =
            custos_server::fleet::set_camera_team(&d, &person.who, &id, team.as_deref()).await
        {
            return person.error(&d, e);
        }
    }
    Redirect::to("/admin/devices").into_response()
}

pub async fn enroll_dock(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Form<DockForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let new = custos_server::fleet::NewDock {
        dock_id: form.dock_id.trim().to_owned(),
    };
    match custos_server::fleet::enroll_dock(&d, &person.who, new).await {
        Ok(credential) => once_page(
            &d,
            &person,
            "dock",
            minijinja::context! { dock_id => credential.dock_id, token => credential.token },
        ),
        Err(e) if fixable(&e) => {
            devices_page(
                &d,
                &person,
                e.status(),
                Some(e.code().as_str()),
                &CameraForm::default(),
                &form,
            )
            .await
        }
        Err(e) => person.error(&d, e),
    }
}

pub async fn revoke_dock(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Form<ActionForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Some(refusal) = checked(&person, form) {
        return refusal;
    }
    match custos_server::fleet::revoke_dock(&d, &person.who, &id).await {
        Ok(()) => Redirect::to("/admin/devices").into_response(),
        Err(e) => person.error(&d, e),
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct SettingsForm {
    csrf: String,
    retention: String,
    /// One `name=period` per line.
    categories: String,
    /// One purpose per line.
    purposes: String,
}

impl SettingsForm {
    fn of(s: &custos_server::settings::Settings) -> Self {
        Self {
            csrf: String::new(),
            retention: s.retention.clone(),
            categories: s
                .categories
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            purposes: s.purposes.join("\n"),
        }
    }

    /// The form as settings; `Err(line)` for a category line without `=`.
    fn settings(&self) -> Result<custos_server::settings::Settings, String> {
        let lines = |s: &str| -> Vec<String> {
            s.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let mut categories = std::collections::BTreeMap::new();
        for line in lines(&self.categories) {
            let (name, period) = line.split_once('=').ok_or_else(|| line.clone())?;
            categories.insert(name.trim().to_owned(), period.trim().to_owned());
        }
        Ok(custos_server::settings::Settings {
            retention: self.retention.trim().to_owned(),
            categories,
            purposes: lines(&self.purposes),
        })
    }
}

async fn settings_page(
    d: &Deployment,
    person: &Person,
    status: StatusCode,
    error: Option<(&str, String)>,
    form: Option<&SettingsForm>,
    saved: bool,
) -> Response {
    let current = match custos_server::settings::api::read_settings(d, &person.who).await {
        Ok(s) => s,
        Err(e) => return person.error(d, e),
    };
    let shown = form.cloned().unwrap_or_else(|| SettingsForm::of(&current));
    let policy = d.policy();
    render::page(
        status,
        "settings.html",
        with_base(
            person.base(d, "/admin/settings"),
            minijinja::context! {
                current => Value::from_serialize(&current),
                may_change => person.may(d, Action::ManageSettings),
                form => minijinja::context! {
                    retention => shown.retention,
                    categories => shown.categories,
                    purposes => shown.purposes,
                },
                error => error.as_ref().map(|(code, _)| format!("error-{code}")),
                error_detail => error.map(|(_, message)| message),
                saved => saved,
                policy => minijinja::context! {
                    officer_self_review => policy.officer_self_review,
                    four_eyes => policy.hold_needs_second_approver,
                    grace_days => policy.hold_release_grace_millis / 86_400_000,
                },
            },
        ),
    )
}

pub async fn settings(
    State(d): State<Arc<Deployment>>,
    person: Person,
    q: axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let saved = q.get("saved").is_some();
    settings_page(&d, &person, StatusCode::OK, None, None, saved).await
}

pub async fn change_settings(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Form<SettingsForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let settings = match form.settings() {
        Ok(s) => s,
        Err(line) => {
            return settings_page(
                &d,
                &person,
                StatusCode::BAD_REQUEST,
                Some(("bad-category", line)),
                Some(&form),
                false,
            )
            .await
        }
    };
    match custos_server::settings::api::change_settings(&d, &person.who, settings).await {
        Ok(_) => Redirect::to("/admin/settings?saved=1").into_response(),
        Err(e) if fixable(&e) => {
            let code = e.code().as_str();
            let message = e.message().to_owned();
            settings_page(
                &d,
                &person,
                e.status(),
                Some((code, message)),
                Some(&form),
                false,
            )
            .await
        }
        Err(e) => person.error(&d, e),
    }
}
