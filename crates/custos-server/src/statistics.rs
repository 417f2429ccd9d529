//! The evaluation statistics over the API (issue 9, ADR 0011):
//! `GET /api/v1/statistics` (JSON) and `GET /api/v1/statistics/csv`, with
//! `from` and `to` (whole UTC days, both counted), and optionally `team` and
//! `camera`. The privacy officer, auditors and evaluators see every camera
//! with small counts suppressed; an officer sees their own numbers. Each
//! reading is audited, with the period and filters as its detail.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use custos_access::{Action, Scope};
use custos_audit::Outcome;
use custos_stats::{Period, Report};
use serde::Deserialize;

use crate::api::{unavailable, Authenticated};
use crate::http::{ApiError, Code};
use crate::Deployment;

pub fn routes() -> Router<Arc<Deployment>> {
    Router::new()
        .route("/api/v1/statistics", get(get_json))
        .route("/api/v1/statistics/csv", get(get_csv))
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// What is asked: the period and, optionally, a team and a camera.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatisticsAsked {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub camera: Option<String>,
}

/// The report for `asked`, as this person may see it. Without a period:
/// the last 12 weeks up to today.
pub async fn report(
    d: &Deployment,
    a: &Authenticated,
    asked: &StatisticsAsked,
) -> Result<Report, ApiError> {
    let scope = a
        .permit(d, Action::ReadStatistics, "statistics.read", "statistics")
        .await?;
    let bad = |message: String| ApiError::new(Code::BadPeriod, message);
    let refuse = |answer: ApiError| async move {
        let event = a
            .event(d, "statistics.read", Outcome::Refused)
            .object("statistics");
        Err(a.refused(d, event, answer).await)
    };
    let period = match (nonempty(&asked.from), nonempty(&asked.to)) {
        (None, None) => Period::ending((d.clock)(), 84),
        (Some(from), Some(to)) => match Period::parse(from, to) {
            Ok(p) => p,
            Err(e) => return refuse(bad(e.to_string())).await,
        },
        _ => return refuse(bad("give both `from` and `to`, or neither".into())).await,
    };
    // Counted in whole ISO weeks (fixed buckets) for everyone but an
    // officer looking at their own: two readings never differ by part of a
    // week, so no subtraction of readings yields a hidden count.
    // And only weeks already closed: a week still being counted, read on
    // two days, would give away what came in between.
    let period = if scope == Scope::All {
        match period.whole_weeks().closed_by((d.clock)()) {
            Some(p) => p,
            None => return refuse(bad(
                "the period has no closed week yet: statistics count whole weeks that have ended"
                    .into(),
            ))
            .await,
        }
    } else {
        period
    };
    // An evaluator sees the deployment as a whole: a team or camera (often
    // one officer) filter, subtracted from the whole, would give back what
    // suppression hides. Those who may filter see the audit log anyway.
    if a.caller.role == custos_access::Role::Evaluator
        && (nonempty(&asked.team).is_some() || nonempty(&asked.camera).is_some())
    {
        let answer = ApiError::new(Code::FilterNotAllowed,
            "an evaluator reads the statistics of the whole deployment, without team or camera filters",
        );
        return refuse(answer).await;
    }
    let mut filter = custos_stats::Scope::default();
    for (field, value, slot) in [
        ("team", nonempty(&asked.team), &mut filter.team),
        ("camera", nonempty(&asked.camera), &mut filter.device_id),
    ] {
        if let Some(v) = value {
            if custos_format::manifest::check_identifier(v).is_err() {
                let answer = ApiError::new(
                    Code::BadFilter,
                    format!("`{field}` must be an identifier (letters, digits, . _ -)"),
                );
                return refuse(answer).await;
            }
            *slot = Some(v.to_owned());
        }
    }
    if scope == Scope::OwnRecordings {
        match &a.caller.officer_id {
            Some(id) => filter.officer_id = Some(id.clone()),
            None => {
                let answer = ApiError::new(
                    Code::Forbidden,
                    "this officer account has no officer id: it has no numbers of its own",
                );
                return refuse(answer).await;
            }
        }
    }
    let mut query = period.query();
    query.team = filter.team.clone();
    query.device_id = filter.device_id.clone();
    query.officer_id = filter.officer_id.clone();
    // Audited before anything is read: when, what period, which filters.
    a.record(
        d,
        a.event(d, "statistics.read", Outcome::Ok)
            .object("statistics")
            .detail(reading_detail(&period, &filter)),
    )
    .await?;
    let sources = d.catalog.statistics(&query).await.map_err(unavailable)?;
    Ok(custos_stats::build(
        period,
        filter,
        d.policy().statistics_min_count,
        &sources,
    ))
}

/// A reading's audit detail: `FROM..TO[ team T][ camera C][ own]`.
pub fn reading_detail(period: &Period, scope: &custos_stats::Scope) -> String {
    let mut out = format!("{}..{}", period.from, period.to);
    if let Some(t) = &scope.team {
        out.push_str(&format!(" team {t}"));
    }
    if let Some(c) = &scope.device_id {
        out.push_str(&format!(" camera {c}"));
    }
    if scope.officer_id.is_some() {
        out.push_str(" own");
    }
    out
}

async fn get_json(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    asked: Result<Query<StatisticsAsked>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Report>, ApiError> {
    let asked = query(asked)?;
    report(&d, &a, &asked).await.map(Json)
}

async fn get_csv(
    State(d): State<Arc<Deployment>>,
    a: Authenticated,
    asked: Result<Query<StatisticsAsked>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let asked = query(asked)?;
    let report = report(&d, &a, &asked).await?;
    Ok(csv_response(&report))
}

/// The CSV as a download named after its period.
pub fn csv_response(report: &Report) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"custos-statistics-{}-{}.csv\"",
                    report.period.from, report.period.to
                ),
            ),
        ],
        report.csv(),
    )
        .into_response()
}

fn query(
    asked: Result<Query<StatisticsAsked>, axum::extract::rejection::QueryRejection>,
) -> Result<StatisticsAsked, ApiError> {
    asked
        .map(|Query(q)| q)
        .map_err(|e| ApiError::new(Code::BadRequest, format!("query: {}", e.body_text())))
}
