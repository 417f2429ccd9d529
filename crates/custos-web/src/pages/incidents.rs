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
    /// The next page: incidents older than this id.
    before: Option<i64>,
}

/// Incidents on one page.
const PAGE: u64 = 100;

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
    let parsed_kind = custos_catalog::IncidentKind::parse(kind);
    let bad = !kind.is_empty() && parsed_kind.is_none();
    let query = custos_catalog::IncidentQuery {
        kind: parsed_kind,
        device_id: (!camera.is_empty()).then(|| camera.to_owned()),
        before_id: form.before,
        limit: PAGE + 1,
    };
    let mut incidents = if bad {
        Vec::new()
    } else {
        match api::search_incidents(&d, &person.who, &query).await {
            Ok(i) => i,
            Err(e) => return person.error(&d, e),
        }
    };
    let more = incidents.len() as u64 > PAGE;
    incidents.truncate(PAGE as usize);
    let rows: Vec<Value> = incidents.iter().map(Value::from_serialize).collect();
    let filters = format!("kind={}&camera={}", url_encode(kind), url_encode(camera));
    let here = format!("/incidents?{filters}");
    let older = more
        .then(|| {
            incidents
                .last()
                .map(|i| format!("/incidents?{filters}&before={}", i.id))
        })
        .flatten();
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
                rows => rows,
                older => older,
                kinds => kinds,
                form => minijinja::context! { kind => kind, camera => camera },
                bad_kind => bad,
                may_see_recordings => person.may(&d, Action::ListRecordings),
            },
        ),
    )
}
