//! The audit log for the privacy officer and the auditor: the newest signed
//! checkpoint, a check of the whole log on request, entries filtered by
//! who, what, outcome, object, case, purpose and day, and a CSV export of
//! what the filters select. Reading, checking and exporting are each
//! audited by the API's operations.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use custos_catalog::AuditQuery;
use custos_server::api;
use custos_server::Deployment;
use minijinja::value::Value;
use serde::Deserialize;

use crate::pages::recordings::{day_start, next_day_start};
use crate::pages::with_base;
use crate::render::{self, url_encode};
use crate::Person;

pub const PAGE_SIZE: u64 = 50;
/// Rows fetched per round trip while an export streams.
const EXPORT_PAGE: u64 = 2_000;
pub const OUTCOMES: [&str; 3] = ["ok", "refused", "failed"];

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct AuditForm {
    from: String,
    to: String,
    /// A user name (`anna`) or a whole actor (`dock:dock-1`).
    actor: String,
    /// An action, or a family ending in a dot (`hold.`).
    action: String,
    outcome: String,
    /// `recording:UUID`, `case:K-1`, … or a bare recording number.
    object: String,
    case: String,
    purpose: String,
    page: String,
}

impl AuditForm {
    fn values(&self) -> [(&'static str, &String); 8] {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("actor", &self.actor),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("object", &self.object),
            ("case", &self.case),
            ("purpose", &self.purpose),
        ]
    }

    /// The filters as a query string, without the page.
    fn filters(&self) -> String {
        self.values()
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn with_page(&self, page: u64) -> String {
        let filters = self.filters();
        if filters.is_empty() {
            format!("page={page}")
        } else {
            format!("{filters}&page={page}")
        }
    }
}

/// The form as a catalog query; `Err(field)` names what does not parse.
fn to_query(form: &AuditForm, tz: &jiff::tz::TimeZone) -> Result<AuditQuery, &'static str> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let page: u64 = if form.page.is_empty() {
        1
    } else {
        form.page
            .parse()
            .ok()
            .filter(|p| (1..=1_000_000).contains(p))
            .ok_or("page")?
    };
    let day = |s: &str, field, f: fn(&str, &jiff::tz::TimeZone) -> Option<_>| {
        if s.is_empty() {
            Ok(None)
        } else {
            f(s, tz).map(Some).ok_or(field)
        }
    };
    let outcome = text(&form.outcome);
    if outcome.as_deref().is_some_and(|o| !OUTCOMES.contains(&o)) {
        return Err("outcome");
    }
    Ok(AuditQuery {
        from: day(&form.from, "from", day_start)?,
        before: day(&form.to, "to", next_day_start)?,
        // A bare name is a person; `dock:…`, `system:…` are named whole.
        actor: text(&form.actor).map(|a| {
            if a.contains(':') {
                a
            } else {
                format!("user:{a}")
            }
        }),
        action: text(&form.action),
        outcome,
        object: text(&form.object).map(|o| {
            if o.parse::<uuid::Uuid>().is_ok() {
                format!("recording:{o}")
            } else {
                o
            }
        }),
        case: text(&form.case),
        purpose: text(&form.purpose),
        oldest_first: false,
        offset: (page - 1) * PAGE_SIZE,
        limit: PAGE_SIZE,
    })
}

/// An entry for the table, with a link where it names a recording.
fn row(r: &serde_json::Value) -> Value {
    let recording = r["entry"]["object"]
        .as_str()
        .and_then(|o| o.strip_prefix("recording:"))
        .filter(|id| id.parse::<uuid::Uuid>().is_ok())
        .map(str::to_owned);
    minijinja::context! {
        ..Value::from_serialize(r),
        ..minijinja::context! { recording => recording }
    }
}

fn form_values(form: &AuditForm) -> Value {
    Value::from_iter(form.values().iter().map(|(k, v)| (*k, (*v).clone())))
}

async fn audit_page(
    d: &Deployment,
    person: &Person,
    form: &AuditForm,
    verification: Option<Value>,
) -> Response {
    let here = format!("/audit?{}", form.with_page(1));
    let status = match api::audit_status(d, &person.who).await {
        Ok(s) => s,
        Err(e) => return person.error(d, e),
    };
    let (query, bad_field) = match to_query(form, &person.config.time_zone) {
        Ok(q) => (Some(q), None),
        Err(field) => (None, Some(field)),
    };
    let (rows, total, page) = match query {
        Some(q) => {
            let page = q.offset / PAGE_SIZE + 1;
            match api::search_audit(d, &person.who, q).await {
                Ok((rows, total)) => (rows, total, page),
                Err(e) => return person.error(d, e),
            }
        }
        None => (Vec::new(), 0, 1),
    };
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let filters = form.filters();
    render::page(
        if bad_field.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "audit.html",
        with_base(
            person.base(d, &here),
            minijinja::context! {
                status => Value::from_serialize(&status),
                verification => verification,
                form => form_values(form),
                bad_field => bad_field,
                outcomes => OUTCOMES,
                purposes => d.policy().purposes.clone(),
                rows => rows.iter().map(row).collect::<Vec<_>>(),
                total => total,
                page => page,
                pages => pages,
                prev => (page > 1).then(|| format!("/audit?{}", form.with_page(page - 1))),
                next => (page < pages).then(|| format!("/audit?{}", form.with_page(page + 1))),
                export => format!("/audit/export.csv{}{}", if filters.is_empty() { "" } else { "?" }, filters),
            },
        ),
    )
}

pub async fn view(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Query<AuditForm>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let form = form.map(|Query(f)| f).unwrap_or_default();
    audit_page(&d, &person, &form, None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct VerifyForm {
    csrf: String,
}

/// Recomputes the whole log against its signed checkpoints, now.
pub async fn verify(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Form<VerifyForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(answer) = person.posted(form, |f| &f.csrf) {
        return answer;
    }
    let verification = match api::verify_audit_log(&d, &person.who).await {
        Ok(Ok(log)) => minijinja::context! {
            ok => true,
            size => log.size,
            checkpoints => log.checkpoints,
        },
        Ok(Err(finding)) => minijinja::context! {
            ok => false,
            finding => finding.to_string(),
            first_bad => finding.first_bad_entry(),
        },
        Err(e) => return person.error(&d, e),
    };
    audit_page(&d, &person, &AuditForm::default(), Some(verification)).await
}

/// The entries the filters select, oldest first, as CSV (streamed).
pub async fn export_csv(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Query<AuditForm>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let form = form.map(|Query(f)| f).unwrap_or_default();
    let mut query = match to_query(&form, &person.config.time_zone) {
        Ok(q) => q,
        Err(_) => return render::error_page(person.lang, StatusCode::BAD_REQUEST, "invalid", None),
    };
    if let Err(e) = api::begin_audit_export(&d, &person.who, "csv").await {
        return person.error(&d, e);
    }
    query.oldest_first = true;
    query.offset = 0;
    query.limit = EXPORT_PAGE;
    let header = futures::stream::once(async {
        Ok::<_, std::io::Error>(format!("{}\r\n", custos_audit::csv::CSV_HEADER))
    });
    let rows = futures::stream::try_unfold(Some((d.clone(), query)), |state| async move {
        let Some((d, mut query)) = state else {
            return Ok(None);
        };
        let (rows, _) = d
            .catalog
            .search_audit(&query)
            .await
            .map_err(std::io::Error::other)?;
        let mut chunk = String::new();
        for row in &rows {
            chunk.push_str(&custos_audit::csv::csv_row(&row.bytes).map_err(std::io::Error::other)?);
            chunk.push_str("\r\n");
        }
        let more = rows.len() as u64 == query.limit;
        query.offset += query.limit;
        Ok(Some((chunk, more.then_some((d, query)))))
    });
    let name = format!(
        "custos-audit-{}.csv",
        jiff::Timestamp::from_millisecond((d.clock)().as_millis())
            .map(|t| t
                .to_zoned(person.config.time_zone.clone())
                .strftime("%Y%m%d-%H%M")
                .to_string())
            .unwrap_or_else(|_| "export".into())
    );
    let mut response = Body::from_stream(futures::StreamExt::chain(header, rows)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_as_people_type_it() {
        let tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap();
        let id = "0190f0c4-0000-7000-8000-000000000001";
        let q = to_query(
            &AuditForm {
                from: "2026-11-24".into(),
                actor: "anna".into(),
                action: "hold.".into(),
                object: id.into(),
                page: "2".into(),
                ..Default::default()
            },
            &tz,
        )
        .unwrap();
        assert_eq!(q.from.unwrap().to_string(), "2026-11-23T23:00:00.000Z");
        assert_eq!(q.actor.as_deref(), Some("user:anna"));
        assert_eq!(q.action.as_deref(), Some("hold."));
        assert_eq!(q.object, Some(format!("recording:{id}")));
        assert_eq!((q.offset, q.limit), (PAGE_SIZE, PAGE_SIZE));
        let q = to_query(
            &AuditForm {
                actor: "dock:dock-1".into(),
                object: "case:K-1".into(),
                ..Default::default()
            },
            &tz,
        )
        .unwrap();
        assert_eq!(q.actor.as_deref(), Some("dock:dock-1"));
        assert_eq!(q.object.as_deref(), Some("case:K-1"));
        for (form, field) in [
            (
                AuditForm {
                    from: "yesterday".into(),
                    ..Default::default()
                },
                "from",
            ),
            (
                AuditForm {
                    to: "2026-13-01".into(),
                    ..Default::default()
                },
                "to",
            ),
            (
                AuditForm {
                    outcome: "maybe".into(),
                    ..Default::default()
                },
                "outcome",
            ),
            (
                AuditForm {
                    page: "0".into(),
                    ..Default::default()
                },
                "page",
            ),
        ] {
            assert_eq!(to_query(&form, &tz).err(), Some(field));
        }
    }
}
