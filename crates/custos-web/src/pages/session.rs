//! Signing in (password + TOTP), replacing an initial password, signing
//! out, and the language switch.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use custos_server::admission::Source;
use custos_server::api::SESSION_COOKIE;
use custos_server::auth::AuthError;
use custos_server::Deployment;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::pages::with_base;
use crate::render::{self, local_path};
use crate::{cross_site, Lang, Person, LANGUAGE_COOKIE};

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

fn login_page(
    lang: Lang,
    status: StatusCode,
    next: &str,
    name: &str,
    error: Option<&str>,
) -> Response {
    render::page(
        status,
        "login.html",
        minijinja::context! {
            lang => lang.code(),
            languages => render::languages(),
            tz => "UTC",
            here => format!("/login?next={}", render::url_encode(next)),
            person => (),
            next => next,
            name => name,
            error => error,
        },
    )
}

pub async fn login_form(
    lang: Lang,
    q: Result<Query<Next>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let next = local_path(q.as_ref().ok().and_then(|q| q.next.as_deref()));
    login_page(lang, StatusCode::OK, &next, "", None)
}

#[derive(Deserialize)]
pub struct SignIn {
    name: String,
    password: Zeroizing<String>,
    code: String,
    next: Option<String>,
}

pub async fn login(
    State(d): State<Arc<Deployment>>,
    lang: Lang,
    source: Source,
    headers: HeaderMap,
    form: Result<Form<SignIn>, axum::extract::rejection::FormRejection>,
) -> Response {
    if cross_site(&headers) {
        return render::error_page(lang, StatusCode::FORBIDDEN, "csrf", None);
    }
    let Ok(Form(form)) = form else {
        return login_page(
            lang,
            StatusCode::BAD_REQUEST,
            "/recordings",
            "",
            Some("error-bad-credentials"),
        );
    };
    let next = local_path(form.next.as_deref());
    let device = custos_server::api::cookie_in(&headers, custos_server::auth::DEVICE_COOKIE);
    let signed_in = d
        .auth
        .sign_in(
            form.name.trim(),
            &form.password,
            form.code.trim(),
            &source,
            device.as_deref(),
        )
        .await;
    let signed_in = match signed_in {
        Ok(s) => s,
        Err(e) => {
            let (status, key) = match e {
                AuthError::SlowDown { .. } => (StatusCode::TOO_MANY_REQUESTS, "error-slow-down"),
                AuthError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "error-unavailable"),
                // Which of name, password or code was wrong is not said.
                _ => (StatusCode::UNAUTHORIZED, "error-bad-credentials"),
            };
            let mut page = login_page(lang, status, &next, form.name.trim(), Some(key));
            if let AuthError::SlowDown { retry_after_secs } = e {
                page.headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_secs.into());
            }
            return page;
        }
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict",
        signed_in.token.as_str()
    );
    let to = if signed_in.caller.must_change_password {
        "/password".to_owned()
    } else {
        next
    };
    (
        axum::response::AppendHeaders([
            (header::SET_COOKIE, cookie),
            (header::SET_COOKIE, signed_in.device_cookie),
        ]),
        Redirect::to(&to),
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub async fn logout(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Some(refused) = person.csrf_refusal(&form.csrf) {
        return refused;
    }
    if let Err(e) = d
        .auth
        .sign_out(&person.who.caller, &person.who.client)
        .await
    {
        return person.error(&d, e.into());
    }
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response()
}

fn password_page(
    d: &Deployment,
    person: &Person,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    render::page(
        status,
        "password.html",
        with_base(
            person.base(d, "/password"),
            minijinja::context! {
                required => person.who.caller.must_change_password,
                error => error,
            },
        ),
    )
}

pub async fn password_form(State(d): State<Arc<Deployment>>, person: Person) -> Response {
    password_page(&d, &person, StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct PasswordChange {
    csrf: String,
    current: Zeroizing<String>,
    new: Zeroizing<String>,
    repeat: Zeroizing<String>,
}

pub async fn change_password(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Form<PasswordChange>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return password_page(
            &d,
            &person,
            StatusCode::BAD_REQUEST,
            Some("error-password-rules"),
        );
    };
    if let Some(refused) = person.csrf_refusal(&form.csrf) {
        return refused;
    }
    if *form.new != *form.repeat {
        return password_page(
            &d,
            &person,
            StatusCode::BAD_REQUEST,
            Some("error-password-mismatch"),
        );
    }
    let changed = d
        .auth
        .change_password(
            &person.who.caller,
            &form.current,
            &form.new,
            &person.who.client,
        )
        .await;
    match changed {
        Ok(()) => Redirect::to("/").into_response(),
        Err(AuthError::BadCredentials) => password_page(
            &d,
            &person,
            StatusCode::UNAUTHORIZED,
            Some("error-current-password"),
        ),
        Err(AuthError::Invalid(_)) => password_page(
            &d,
            &person,
            StatusCode::BAD_REQUEST,
            Some("error-password-rules"),
        ),
        Err(e) => person.error(&d, e.into()),
    }
}

#[derive(Deserialize)]
pub struct LanguageChoice {
    set: String,
    back: Option<String>,
}

/// `GET /language?set=de&back=/recordings`: remembers the choice for a year.
pub async fn language(
    lang: Lang,
    q: Result<Query<LanguageChoice>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = q else {
        return render::error_page(lang, StatusCode::BAD_REQUEST, "invalid", None);
    };
    let Some(chosen) = Lang::parse(&q.set) else {
        return render::error_page(lang, StatusCode::BAD_REQUEST, "invalid", None);
    };
    let cookie = format!(
        "{LANGUAGE_COOKIE}={}; Path=/; Secure; SameSite=Lax; Max-Age=31536000",
        chosen.code()
    );
    (
        [(header::SET_COOKIE, cookie)],
        Redirect::to(&local_path(q.back.as_deref())),
    )
        .into_response()
}
