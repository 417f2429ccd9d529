//! The evaluation statistics (issue 9): charts and tables per ISO week for
//! the privacy officer, auditors and evaluators (an officer sees their own
//! numbers), a printable report for the council, and the CSV. All three
//! come from `custos_server::statistics::report`, as the API's JSON does.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use custos_server::statistics::{self, StatisticsAsked};
use custos_server::Deployment;
use custos_stats::{Report, Unit};
use minijinja::value::Value;
use serde::Deserialize;

use crate::i18n;
use crate::pages::with_base;
use crate::render::{self, url_encode};
use crate::Person;

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct StatisticsForm {
    from: String,
    to: String,
    team: String,
    camera: String,
}

impl StatisticsForm {
    fn asked(&self) -> StatisticsAsked {
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        StatisticsAsked {
            from: some(&self.from),
            to: some(&self.to),
            team: some(&self.team),
            camera: some(&self.camera),
        }
    }

    fn query_string(&self, report: &Report) -> String {
        format!(
            "from={}&to={}&team={}&camera={}",
            report.period.from,
            report.period.to,
            url_encode(self.team.trim()),
            url_encode(self.camera.trim())
        )
    }
}

/// Which tables get a chart, and of which rows: the headline series.
fn charted(table: &str, key: &str) -> bool {
    match table {
        "activations" | "recorded-minutes" => true,
        "prerecord" | "front-display" | "upload-delay" => {
            matches!(
                key,
                "with-prerecord" | "recordings-with-display" | "median-hours"
            )
        }
        "accesses" => true,
        _ => false,
    }
}

fn view(report: &Report) -> Value {
    let weeks = report
        .tables
        .first()
        .map(|t| t.columns.len().saturating_sub(1))
        .unwrap_or(0);
    let tables: Vec<Value> = report
        .tables
        .iter()
        .map(|t| {
            let weekly = t.columns.last().map(String::as_str) == Some("total");
            let week_labels: Vec<String> = if weekly {
                t.columns[..t.columns.len() - 1].to_vec()
            } else {
                Vec::new()
            };
            let rows: Vec<Value> = t
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    minijinja::context! {
                        key => r.key.clone(),
                        unit => match r.unit {
                            Unit::Count => "count",
                            Unit::Minutes => "minutes",
                            Unit::Percent => "percent",
                            Unit::Hours => "hours",
                            Unit::Days => "days",
                        },
                        cells => r.cells.iter().map(|c| c.text()).collect::<Vec<_>>(),
                        suppressed => r.cells.iter().map(|c| matches!(c, custos_stats::Cell::Suppressed(_))).collect::<Vec<_>>(),
                        chart_id => format!("chart-{}-{i}", t.id),
                        charted => weekly && charted(t.id, &r.key),
                    }
                })
                .collect();
            minijinja::context! {
                id => t.id,
                weekly => weekly,
                columns => t.columns.clone(),
                week_labels => week_labels,
                rows => rows,
            }
        })
        .collect();
    minijinja::context! {
        from => report.period.from.to_string(),
        to => report.period.to.to_string(),
        k => report.k,
        weeks => weeks,
        own => report.scope.officer_id.is_some(),
        team => report.scope.team.clone(),
        camera => report.scope.device_id.clone(),
        tables => tables,
    }
}

/// The charts, drawn here because their titles are in the page's language.
fn charts(person: &Person, report: &Report) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for t in &report.tables {
        if t.columns.last().map(String::as_str) != Some("total") {
            continue;
        }
        let weeks = &t.columns[..t.columns.len() - 1];
        for (i, r) in t.rows.iter().enumerate() {
            if !charted(t.id, &r.key) {
                continue;
            }
            let id = format!("chart-{}-{i}", t.id);
            let table = i18n::t(person.lang, &format!("stats-table-{}", t.id), None);
            let row_key = format!("stats-row-{}", r.key.replace('.', "-"));
            let row = if i18n::has(person.lang, &row_key) {
                i18n::t(person.lang, &row_key, None)
            } else {
                r.key.clone()
            };
            let title = format!("{table}: {row}");
            let description = i18n::t(person.lang, "stats-chart-description", None);
            out.push((
                id.clone(),
                minijinja::context! {
                    svg => custos_stats::svg::bar_chart(&id, &title, &description, weeks, r),
                    caption => row,
                },
            ));
        }
    }
    out
}

/// An evaluator reads the whole deployment only (no team or camera filter).
fn may_filter(person: &Person) -> bool {
    person.who.caller.role != custos_access::Role::Evaluator
}

async fn page(d: &Deployment, person: &Person, form: StatisticsForm, printable: bool) -> Response {
    let report = match statistics::report(d, &person.who, &form.asked()).await {
        Ok(r) => r,
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            return render::page(
                StatusCode::BAD_REQUEST,
                "statistics.html",
                with_base(
                    person.base(d, "/statistics"),
                    minijinja::context! {
                        may_filter => may_filter(person),
                        error => e.code().as_str(),
                        form => minijinja::context! {
                            from => form.from, to => form.to, team => form.team, camera => form.camera,
                        },
                    },
                ),
            );
        }
        Err(e) => return person.error(d, e),
    };
    let query = form.query_string(&report);
    let charts: std::collections::BTreeMap<String, Value> =
        charts(person, &report).into_iter().collect();
    render::page(
        StatusCode::OK,
        "statistics.html",
        with_base(
            person.base(d, &format!("/statistics?{query}")),
            minijinja::context! {
                printable => printable,
                may_filter => may_filter(person),
                report => view(&report),
                charts => Value::from_serialize(&charts),
                query => query,
                form => minijinja::context! {
                    from => report.period.from.to_string(),
                    to => report.period.to.to_string(),
                    team => form.team.trim(),
                    camera => form.camera.trim(),
                },
            },
        ),
    )
}

fn form_of(
    form: Result<Query<StatisticsForm>, axum::extract::rejection::QueryRejection>,
) -> StatisticsForm {
    form.map(|Query(f)| f).unwrap_or_default()
}

pub async fn view_page(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Query<StatisticsForm>, axum::extract::rejection::QueryRejection>,
) -> Response {
    page(&d, &person, form_of(form), false).await
}

/// The council's report: the same numbers, with what each one counts, laid
/// out for paper (the browser's print dialog makes the PDF).
pub async fn report_page(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Query<StatisticsForm>, axum::extract::rejection::QueryRejection>,
) -> Response {
    page(&d, &person, form_of(form), true).await
}

pub async fn export_csv(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Query<StatisticsForm>, axum::extract::rejection::QueryRejection>,
) -> Response {
    match statistics::report(&d, &person.who, &form_of(form).asked()).await {
        Ok(report) => statistics::csv_response(&report),
        Err(e) => person.error(&d, e),
    }
}

#[cfg(test)]
mod tests {
    use custos_catalog::statistics::*;
    use custos_format::UtcMillis;

    use crate::i18n::{has, Lang};

    /// Every table and fixed row of a full report has its words in each
    /// language (the template builds these keys at run time).
    #[test]
    fn every_table_and_row_is_named_in_every_language() {
        let day = 20_759;
        let kind = |k: &str| KindDay {
            day,
            kind: k.into(),
            count: 9,
        };
        let sources = StatisticsSources {
            recordings: vec![RecordingDay {
                day,
                recordings: 9,
                ..Default::default()
            }],
            holds: vec![kind("incident")],
            accesses: ["investigation", "complaint", "subject-access-request"]
                .iter()
                .map(|p| AccessDay {
                    day,
                    purpose: Some((*p).into()),
                    outcome: "ok".into(),
                    accesses: 9,
                })
                .chain([AccessDay {
                    day,
                    purpose: None,
                    outcome: "refused".into(),
                    accesses: 9,
                }])
                .collect(),
            incidents: custos_catalog::IncidentKind::ALL
                .iter()
                .map(|k| kind(k.as_str()))
                .collect(),
            stop_reasons: vec![kind("storage-full"), kind("power-loss")],
            upload_failures: vec![kind("ingest.offer")],
            firmware: vec![FirmwareUse {
                firmware: None,
                cameras: 1,
                recordings: 9,
            }],
            subject_requests: vec![SubjectRequestTimes {
                received_at: UtcMillis::from_millis(day * 86_400_000).unwrap(),
                due_at: None,
                delivered_at: None,
            }],
            ..Default::default()
        };
        let period = custos_stats::Period::parse("2026-11-02", "2026-11-08").unwrap();
        let report = custos_stats::build(period, custos_stats::Scope::default(), 5, &sources);
        assert_eq!(report.tables.len(), 13);
        for lang in Lang::ALL {
            for t in &report.tables {
                for key in [
                    format!("stats-table-{}", t.id),
                    format!("stats-about-{}", t.id),
                ] {
                    assert!(has(lang, &key), "{}: {key}", lang.code());
                }
                for r in &t.rows {
                    let key = format!("stats-row-{}", r.key.replace('.', "-"));
                    let incident = format!("incident-{}", r.key);
                    assert!(
                        has(lang, &key) || has(lang, &incident),
                        "{}: {key}",
                        lang.code()
                    );
                }
                if !t.columns.contains(&"total".to_string()) {
                    for c in &t.columns {
                        assert!(has(lang, &format!("stats-col-{c}")), "{}: {c}", lang.code());
                    }
                }
            }
        }
    }
}
