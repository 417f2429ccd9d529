//! Integrity incidents for the privacy officer, the auditor and the admin:
//! recordings missing from a camera's sequence, broken chains, signatures
//! that do not verify, replays, footage that does not match its manifest.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use custos_access::Action;
use custos_server::api;
use custos_server::Deployment;
use minijinja::value::Value;
use serde::Deserialize;

use crate::pages::with_base;
use crate::render::{self, url_encode};
use crate::Person;

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct IncidentForm {
    kind: String,
    camera: String,
}

pub async fn list(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Query<IncidentForm>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let form = form.map(|Query(f)| f).unwrap_or_default();
    let kinds: Vec<&str> = custos_catalog::IncidentKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    let (kind, camera) = (form.kind.trim(), form.camera.trim());
    let bad = !kind.is_empty() && !kinds.contains(&kind);
    let incidents = match api::list_incidents(&d, &person.who).await {
        Ok(i) => i,
        Err(e) => return person.error(&d, e),
    };
    // Newest first; the catalog gives them in the order they were found.
    let rows: Vec<Value> = incidents
        .iter()
        .rev()
        .filter(|i| kind.is_empty() || i.kind.as_str() == kind)
        .filter(|i| camera.is_empty() || i.device_id.as_deref() == Some(camera))
        .map(Value::from_serialize)
        .collect();
    let here = format!(
        "/incidents?kind={}&camera={}",
        url_encode(kind),
        url_encode(camera)
    );
    render::page(
        if bad {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "incidents.html",
        with_base(
            person.base(&d, &here),
            minijinja::context! {
                rows => if bad { Vec::new() } else { rows },
                total => incidents.len(),
                kinds => kinds,
                form => minijinja::context! { kind => kind, camera => camera },
                bad_kind => bad,
                may_see_recordings => person.may(&d, Action::ListRecordings),
            },
        ),
    )
}
