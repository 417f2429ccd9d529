//! The page an activation link opens, for a person without a session yet:
//! whose account it sets up, a password to choose, then their own TOTP
//! secret, shown once. Opening the page changes nothing (mail scanners and
//! link previews fetch links): only the form's `POST` uses the link.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use custos_server::Deployment;
use serde::Deserialize;

use crate::render;
use crate::Lang;

fn page(lang: Lang, status: StatusCode, token: &str, context: minijinja::Value) -> Response {
    render::page(
        status,
        "activate.html",
        minijinja::context! {
            lang => lang.code(),
            languages => render::languages(),
            tz => "UTC",
            here => format!("/activate/{token}"),
            person => (),
            action => format!("/activate/{token}"),
            ..context
        },
    )
}

pub async fn form(
    State(d): State<Arc<Deployment>>,
    lang: Lang,
    Path(token): Path<String>,
) -> Response {
    match custos_server::accounts::look_up(&d, &token).await {
        Ok(request) => page(
            lang,
            StatusCode::OK,
            &token,
            minijinja::context! { request => minijinja::Value::from_serialize(&request) },
        ),
        Err(e) => page(
            lang,
            e.status(),
            &token,
            minijinja::context! { error => format!("error-{}", e.code()) },
        ),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActivateForm {
    password: String,
}

pub async fn submit(
    State(d): State<Arc<Deployment>>,
    lang: Lang,
    source: custos_server::admission::Source,
    Path(token): Path<String>,
    form: Result<Form<ActivateForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let password = form.map(|Form(f)| f.password).unwrap_or_default();
    match custos_server::accounts::activate(&d, &token, &password, &source).await {
        Ok(done) => page(
            lang,
            StatusCode::OK,
            &token,
            minijinja::context! { done => minijinja::context! {
                name => done.name,
                totp_secret => done.totp.secret.as_str(),
                otpauth_uri => done.totp.otpauth_uri.as_str(),
            } },
        ),
        Err(e) => {
            // A weak password: the form again, with why.
            let request = custos_server::accounts::look_up(&d, &token).await.ok();
            page(
                lang,
                e.status(),
                &token,
                minijinja::context! {
                    error => format!("error-{}", e.code()),
                    request => request.as_ref().map(minijinja::Value::from_serialize),
                },
            )
        }
    }
}
