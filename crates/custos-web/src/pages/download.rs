//! The page a download link opens, for a recipient without an account:
//! what the package is (name, size, SHA-256, how long the link serves)
//! and a button that downloads it. Opening the page downloads nothing —
//! mail scanners and link previews fetch links — so only the button's
//! `POST` counts as, and is audited as, a download.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use custos_server::Deployment;

use crate::render;
use crate::{Lang, WebConfig};

pub async fn landing(
    State(d): State<Arc<Deployment>>,
    lang: Lang,
    config: Option<Extension<Arc<WebConfig>>>,
    Path(token): Path<String>,
) -> Response {
    let facts = match custos_server::links::facts(&d, &token).await {
        Ok(f) => f,
        Err(_) => {
            return render::error_page(lang, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None)
        }
    };
    let tz = config
        .map(|Extension(c)| c.time_zone_name.clone())
        .unwrap_or_else(|| "UTC".into());
    let status = match &facts {
        None => StatusCode::NOT_FOUND,
        Some(f) if f.closed.is_some() => StatusCode::GONE,
        Some(_) => StatusCode::OK,
    };
    render::page(
        status,
        "download.html",
        minijinja::context! {
            lang => lang.code(),
            languages => render::languages(),
            tz => tz,
            // The language switch comes back here (same origin).
            here => format!("/download/{token}"),
            person => (),
            facts => facts.as_ref().map(minijinja::Value::from_serialize),
            closed => facts.as_ref().and_then(|f| f.closed).map(|c| c.as_str()),
            action => format!("{}{token}", custos_server::links::DOWNLOAD_PATH),
        },
    )
}
