//! The recordings list (filters, pages), a recording's page (metadata, GPS
//! track, bookmarks, integrity, deletion, audit trail) and the player,
//! which asks for a purpose and a case before it shows any footage.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use custos_access::Action;
use custos_audit::Outcome;
use custos_catalog::RecordingQuery;
use custos_format::UtcMillis;
use custos_server::api;
use custos_server::http::Code;
use custos_server::Deployment;
use minijinja::value::Value;
use serde::Deserialize;

use crate::pages::with_base;
use crate::render::{self, url_encode};
use crate::Person;

pub const PAGE_SIZE: u64 = 25;

/// The list's filter form, as the browser sends it (every field may be empty).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListForm {
    /// `YYYY-MM-DD` in the deployment's zone, first day included.
    from: String,
    /// `YYYY-MM-DD`, last day included.
    to: String,
    officer: String,
    camera: String,
    /// `stored` or `stored-truncated`.
    status: String,
    case: String,
    /// `yes` or `no`.
    held: String,
    /// `1d` or `7d`: deleted within a day or a week unless held.
    due: String,
    /// 1-based.
    page: String,
}

impl ListForm {
    /// The form as a query string (to keep the filters across pages).
    fn query_string(&self, page: u64) -> String {
        let pairs = [
            ("from", &self.from),
            ("to", &self.to),
            ("officer", &self.officer),
            ("camera", &self.camera),
            ("status", &self.status),
            ("case", &self.case),
            ("held", &self.held),
            ("due", &self.due),
        ];
        let mut q: Vec<String> = pairs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect();
        q.push(format!("page={page}"));
        q.join("&")
    }
}

/// Midnight starting `date` in `tz`, as a UTC instant.
pub(crate) fn day_start(date: &str, tz: &jiff::tz::TimeZone) -> Option<UtcMillis> {
    let date: jiff::civil::Date = date.parse().ok()?;
    let zoned = date.to_zoned(tz.clone()).ok()?;
    UtcMillis::from_millis(zoned.timestamp().as_millisecond())
}

pub(crate) fn next_day_start(date: &str, tz: &jiff::tz::TimeZone) -> Option<UtcMillis> {
    let date: jiff::civil::Date = date.parse().ok()?;
    let zoned = date.tomorrow().ok()?.to_zoned(tz.clone()).ok()?;
    UtcMillis::from_millis(zoned.timestamp().as_millisecond())
}

/// What the form asks, as a catalog query; `Err(field)` names a field that
/// does not parse.
fn to_query(
    form: &ListForm,
    tz: &jiff::tz::TimeZone,
    now: UtcMillis,
) -> Result<RecordingQuery, &'static str> {
    let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let date =
        |s: &str, field: &'static str, f: fn(&str, &jiff::tz::TimeZone) -> Option<UtcMillis>| {
            if s.is_empty() {
                Ok(None)
            } else {
                f(s, tz).map(Some).ok_or(field)
            }
        };
    let page: u64 = if form.page.is_empty() {
        1
    } else {
        form.page
            .parse()
            .ok()
            .filter(|p| *p >= 1 && *p <= 1_000_000)
            .ok_or("page")?
    };
    Ok(RecordingQuery {
        started_from: date(&form.from, "from", day_start)?,
        started_before: date(&form.to, "to", next_day_start)?,
        officer_id: text(&form.officer),
        device_id: text(&form.camera),
        truncated: match form.status.as_str() {
            "" => None,
            "stored" => Some(false),
            "stored-truncated" => Some(true),
            _ => return Err("status"),
        },
        case_id: text(&form.case),
        held: match form.held.as_str() {
            "" => None,
            "yes" => Some(true),
            "no" => Some(false),
            _ => return Err("held"),
        },
        due_before: match form.due.as_str() {
            "" => None,
            "1d" => Some(now.plus_millis(86_400_000)),
            "7d" => Some(now.plus_millis(7 * 86_400_000)),
            _ => return Err("due"),
        },
        offset: (page - 1) * PAGE_SIZE,
        limit: PAGE_SIZE,
    })
}

/// Days and hours until `deadline`, for "deleted in …".
fn time_left(deadline: UtcMillis, now: UtcMillis) -> Value {
    let ms = deadline.as_millis() - now.as_millis();
    if ms <= 0 {
        return minijinja::context! { due => true, days => 0, hours => 0 };
    }
    let hours = ms / 3_600_000;
    minijinja::context! { due => false, days => hours / 24, hours => hours % 24 }
}

fn summary_row(
    s: &custos_server::admin::RecordingSummary,
    now: UtcMillis,
    may_play: bool,
) -> Value {
    minijinja::context! {
        ..Value::from_serialize(s),
        ..minijinja::context! {
            duration_s => (s.ended_at.as_millis() - s.started_at.as_millis()) / 1000,
            left => time_left(s.delete_after, now),
            may_play => may_play,
        }
    }
}

pub async fn list(
    State(d): State<Arc<Deployment>>,
    person: Person,
    form: Result<Query<ListForm>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let form = form.map(|Query(f)| f).unwrap_or_default();
    let now = (d.clock)();
    let here = format!("/recordings?{}", form.query_string(1));
    let query = match to_query(&form, &person.config.time_zone, now) {
        Ok(q) => q,
        Err(field) => {
            return render::page(
                StatusCode::BAD_REQUEST,
                "recordings.html",
                with_base(
                    person.base(&d, &here),
                    minijinja::context! {
                        form => Value::from_serialize(form_values(&form)),
                        bad_field => field,
                        rows => Vec::<Value>::new(),
                        total => 0, page => 1, pages => 1, first => 0, last => 0,
                        prev => (), next => (),
                    },
                ),
            )
        }
    };
    let page = query.offset / PAGE_SIZE + 1;
    let list = match api::list_recordings(&d, &person.who, query).await {
        Ok(l) => l,
        Err(e) => return person.error(&d, e),
    };
    let may_play = person.may(&d, Action::AccessFootage);
    let rows: Vec<Value> = list
        .recordings
        .iter()
        .map(|s| summary_row(s, now, may_play))
        .collect();
    let pages = list.total.div_ceil(PAGE_SIZE).max(1);
    let first = if list.total == 0 {
        0
    } else {
        (page - 1) * PAGE_SIZE + 1
    };
    let last = ((page - 1) * PAGE_SIZE + rows.len() as u64).min(list.total);
    let due = crate::pages::subjects::due_soon(&d, &person).await;
    render::page(
        StatusCode::OK,
        "recordings.html",
        with_base(
            person.base(&d, &here),
            minijinja::context! {
                requests_due => due,
                form => Value::from_serialize(form_values(&form)),
                bad_field => (),
                rows => rows,
                total => list.total,
                page => page,
                pages => pages,
                first => first,
                last => last,
                prev => (page > 1).then(|| format!("/recordings?{}", form.query_string(page - 1))),
                next => (page < pages).then(|| format!("/recordings?{}", form.query_string(page + 1))),
            },
        ),
    )
}

fn form_values(f: &ListForm) -> std::collections::BTreeMap<&'static str, String> {
    [
        ("from", &f.from),
        ("to", &f.to),
        ("officer", &f.officer),
        ("camera", &f.camera),
        ("status", &f.status),
        ("case", &f.case),
        ("held", &f.held),
        ("due", &f.due),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.clone()))
    .collect()
}

/// The GPS track as an SVG polyline's points in a 320×200 box (north up),
/// with the track's extent; `None` without two distinct points.
fn gps_track(points: &[custos_format::manifest::GpsPoint]) -> Option<Value> {
    if points.len() < 2 {
        return None;
    }
    let lats = points.iter().map(|p| p.lat_e7);
    let lons = points.iter().map(|p| p.lon_e7);
    let (lat_min, lat_max) = (lats.clone().min()?, lats.max()?);
    let (lon_min, lon_max) = (lons.clone().min()?, lons.max()?);
    let span = (lat_max - lat_min).max(lon_max - lon_min).max(1) as f64;
    let (w, h, pad) = (320.0, 200.0, 10.0);
    let scale = ((w - 2.0 * pad) / span).min((h - 2.0 * pad) / span);
    let polyline = points
        .iter()
        .map(|p| {
            let x = pad + (p.lon_e7 - lon_min) as f64 * scale;
            let y = h - pad - (p.lat_e7 - lat_min) as f64 * scale;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let deg = |e7: i64| format!("{:.5}", e7 as f64 / 1e7);
    let (first, last) = (points.first()?, points.last()?);
    Some(minijinja::context! {
        polyline => polyline,
        start => format!("{}, {}", deg(first.lat_e7), deg(first.lon_e7)),
        end => format!("{}, {}", deg(last.lat_e7), deg(last.lon_e7)),
        count => points.len(),
    })
}

/// An Axis recording's track, from its GNSS trail as read.
fn axis_track(axis: Option<&custos_server::axis::recordings::AxisDetail>) -> Option<Value> {
    let points: Vec<custos_format::manifest::GpsPoint> = axis?
        .gnss
        .as_ref()?
        .positions
        .iter()
        .map(|p| custos_format::manifest::GpsPoint {
            at: p.at,
            lat_e7: i64::from(p.lat_e7),
            lon_e7: i64::from(p.lon_e7),
            accuracy_m: 0,
        })
        .collect();
    gps_track(&points)
}

pub async fn detail(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
) -> Response {
    let detail = match api::recording_detail(&d, &person.who, &id).await {
        Ok(r) => r,
        Err(e) => return person.error(&d, e),
    };
    let now = (d.clock)();
    let trail = if person.may(&d, Action::ReadRecordingTrail) {
        match api::recording_trail(&d, &person.who, &id).await {
            Ok(t) => Some(
                t.into_iter()
                    .map(|e| e["entry"].clone())
                    .collect::<Vec<_>>(),
            ),
            Err(e) => return person.error(&d, e),
        }
    } else {
        None
    };
    let started = detail.summary.started_at.as_millis();
    let offset_s = |at: UtcMillis| (at.as_millis() - started) / 1000;
    let manifest = detail.manifest.as_ref();
    let mut bookmarks: Vec<Value> = manifest
        .map(|m| {
            m.bookmarks
                .iter()
                .map(|b| minijinja::context! { at => b.at, offset_s => offset_s(b.at), label => b.label })
                .collect()
        })
        .unwrap_or_default();
    // An Axis recording's bookmarks: when (the spec's `StartTime`, epoch
    // seconds) and what (a category's name, or the bookmark's own).
    if let Some(axis) = &detail.axis {
        for b in &axis.bookmarks {
            let at = b
                .get("starttime")
                .and_then(|t| t.parse::<i64>().ok())
                .and_then(|t| UtcMillis::from_millis(t.saturating_mul(1000)));
            let label = b.get("categoryname").or(b.get("name")).cloned();
            bookmarks.push(minijinja::context! {
                at => at,
                offset_s => at.map(offset_s).unwrap_or(0),
                label => label,
            });
        }
    }
    let axis_prebuffer_s = detail
        .axis
        .as_ref()
        .map(|a| (a.trigger_on.as_millis() - started).max(0) / 1000);
    let display: Vec<Value> = manifest
        .map(|m| {
            m.display_events
                .iter()
                .map(|e| minijinja::context! { at => e.at, offset_s => offset_s(e.at), on => e.on })
                .collect()
        })
        .unwrap_or_default();
    let may_play = person.may(&d, Action::AccessFootage);
    let secure = if person.may(&d, Action::PlaceHold) {
        match open_cases(&d, &person).await {
            Ok(cases) => Some(minijinja::context! { cases => cases }),
            Err(e) => return person.error(&d, e),
        }
    } else {
        None
    };
    let here = format!("/recordings/{}", detail.summary.recording_id);
    render::page(
        StatusCode::OK,
        "recording.html",
        with_base(
            person.base(&d, &here),
            minijinja::context! {
                r => summary_row(&detail.summary, now, may_play),
                manifest => manifest.map(Value::from_serialize),
                manifest_sha256 => detail.manifest_sha256,
                ciphertext_sha256 => detail.ciphertext_sha256,
                stored_at => detail.stored_at,
                gps => manifest.map_or_else(|| axis_track(detail.axis.as_ref()), |m| gps_track(&m.gps)),
                axis => detail.axis.as_ref().map(Value::from_serialize),
                axis_prebuffer_s => axis_prebuffer_s,
                bookmarks => bookmarks,
                display => display,
                holds => Value::from_serialize(&detail.holds),
                incidents => Value::from_serialize(&detail.incidents),
                trail => trail.map(|t| Value::from_serialize(&t)),
                secure => secure,
            },
        ),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PlayForm {
    purpose: String,
    case: String,
    /// An Axis recording's clip, from 0.
    part: Option<usize>,
}

pub async fn play(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<Query<PlayForm>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let form = form.map(|Query(f)| f).unwrap_or_default();
    let here = format!("/recordings/{}/play", url_encode(&id));
    let (purpose, case) = (form.purpose.trim(), form.case.trim());
    if purpose.is_empty() && case.is_empty() {
        // Nothing asked yet: the question, and nothing of the footage.
        if !person.may(&d, Action::AccessFootage) {
            return person.error(
                &d,
                custos_server::http::ApiError::new(Code::Forbidden, "not permitted"),
            );
        }
        return purpose_page(&d, &person, &id, &here, StatusCode::OK, None, &form).await;
    }
    let opened = person
        .who
        .footage(
            &d,
            &id,
            Some(purpose).filter(|p| !p.is_empty()),
            Some(case).filter(|c| !c.is_empty()),
            form.part,
            "recording.player",
        )
        .await;
    let footage = match opened {
        Ok(f) => f,
        Err(e)
            if matches!(
                e.code(),
                Code::PurposeRequired
                    | Code::PurposeNotAllowed
                    | Code::CaseUnknown
                    | Code::CaseClosed
                    | Code::NotAttached
                    | Code::SubjectRequestCase
            ) =>
        {
            // A missing or wrong purpose or case (already audited): ask again.
            return purpose_page(&d, &person, &id, &here, e.status(), Some(e.code()), &form).await;
        }
        Err(e) => return person.error(&d, e),
    };
    let event = footage.event(&d, &person.who, "recording.player", Outcome::Ok);
    if let Err(e) = person.who.record(&d, event).await {
        return person.error(&d, e);
    }
    // An Axis recording's clip is named; a camera's one part needs no name.
    let video = format!(
        "/api/v1/recordings/{}/video?purpose={}&case={}{}",
        footage.recording().recording_id,
        url_encode(footage.purpose()),
        url_encode(footage.case()),
        match footage.part().clip {
            Some(_) => format!("&part={}", footage.part().index),
            None => String::new(),
        }
    );
    // An Axis recording's clips, each its own link (one video plays at a
    // time, with ranges), and for the player's script the clips' video
    // URLs with where each starts in the recording, to play them as one.
    let all = match custos_server::parts::parts(&*d.catalog, footage.recording()).await {
        Ok(all) if all.len() > 1 => all,
        Ok(_) => Vec::new(),
        Err(e) => return person.error(&d, custos_server::api::unavailable(e)),
    };
    let parts: Vec<String> = all
        .iter()
        .map(|p| {
            format!(
                "{here}?purpose={}&case={}&part={}",
                url_encode(footage.purpose()),
                url_encode(footage.case()),
                p.index
            )
        })
        .collect();
    let offsets = custos_server::parts::offsets(footage.recording(), &all);
    let sequence: Vec<serde_json::Value> = all
        .iter()
        .zip(offsets)
        .map(|(p, offset_ms)| {
            serde_json::json!({
                "src": format!(
                    "/api/v1/recordings/{}/video?purpose={}&case={}&part={}",
                    footage.recording().recording_id,
                    url_encode(footage.purpose()),
                    url_encode(footage.case()),
                    p.index
                ),
                "offset_ms": offset_ms,
            })
        })
        .collect();
    let length_ms = (footage.recording().ended_at.as_millis()
        - footage.recording().started_at.as_millis())
    .max(0);
    render::page(
        StatusCode::OK,
        "player.html",
        with_base(
            person.base(&d, &here),
            minijinja::context! {
                recording_id => footage.recording().recording_id.to_string(),
                device_id => footage.recording().device_id.clone(),
                started_at => footage.recording().started_at,
                purpose => footage.purpose(),
                case => footage.case(),
                video => video,
                part => footage.part().index,
                parts => parts,
                sequence => (!sequence.is_empty()).then(|| serde_json::Value::from(sequence).to_string()),
                length_ms => length_ms,
            },
        ),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LinkForm {
    csrf: String,
    purpose: String,
    case: String,
    reason: String,
}

/// Links the recording to the case with the reason given, then opens the
/// player for that purpose and case (the purpose page offers this when
/// the recording is not attached to the case yet).
pub async fn link(
    State(d): State<Arc<Deployment>>,
    person: Person,
    Path(id): Path<String>,
    form: Result<axum::Form<LinkForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let form = match person.posted(form, |f| &f.csrf) {
        Ok(f) => f,
        Err(answer) => return answer,
    };
    let Ok(recording_id) = id.parse() else {
        return render::error_page(person.lang, StatusCode::NOT_FOUND, "not-found", None);
    };
    let body = api::NewLink {
        recording_id,
        reason: form.reason.trim().to_owned(),
    };
    match api::link_recording(&d, &person.who, form.case.trim(), body).await {
        Ok(_) => axum::response::Redirect::to(&format!(
            "/recordings/{recording_id}/play?purpose={}&case={}",
            url_encode(form.purpose.trim()),
            url_encode(form.case.trim())
        ))
        .into_response(),
        Err(e) => person.error(&d, e),
    }
}

async fn purpose_page(
    d: &Deployment,
    person: &Person,
    id: &str,
    here: &str,
    status: StatusCode,
    error: Option<Code>,
    form: &PlayForm,
) -> Response {
    // Open cases to choose from, where this role may list them.
    let cases: Vec<Value> = if person.may(d, Action::ManageCases) {
        match open_cases(d, person).await {
            Ok(cases) => cases,
            Err(e) => return person.error(d, e),
        }
    } else {
        Vec::new()
    };
    render::page(
        status,
        "purpose.html",
        with_base(
            person.base(d, here),
            minijinja::context! {
                recording_id => id,
                purposes => d.policy().purposes.clone(),
                cases => cases,
                chosen_purpose => form.purpose.clone(),
                chosen_case => form.case.clone(),
                error => error.map(|c| format!("error-{c}")),
                // Not attached to that case: offer to link it, with a reason.
                may_link => error == Some(Code::NotAttached),
            },
        ),
    )
}

/// The open cases, to choose one from (listing them is audited).
async fn open_cases(
    d: &Deployment,
    person: &Person,
) -> Result<Vec<Value>, custos_server::http::ApiError> {
    Ok(api::list_cases(d, &person.who)
        .await?
        .iter()
        .filter(|c| c.closed_at.is_none())
        .map(|c| minijinja::context! { case_id => c.case_id, label => c.label, kind => c.kind })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_filter_are_whole_days_in_the_deployments_zone() {
        let tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap();
        let now = UtcMillis::parse("2026-11-24T12:00:00.000Z").unwrap();
        let form = ListForm {
            from: "2026-11-01".into(),
            to: "2026-11-24".into(),
            due: "7d".into(),
            page: "3".into(),
            ..Default::default()
        };
        let q = to_query(&form, &tz, now).unwrap();
        assert_eq!(
            q.started_from.unwrap().to_string(),
            "2026-10-31T23:00:00.000Z"
        );
        assert_eq!(
            q.started_before.unwrap().to_string(),
            "2026-11-24T23:00:00.000Z"
        );
        assert_eq!(
            q.due_before.unwrap().to_string(),
            "2026-12-01T12:00:00.000Z"
        );
        assert_eq!((q.offset, q.limit), (50, PAGE_SIZE));
        // Summer time: midnight is 22:00 UTC.
        let summer = ListForm {
            from: "2026-07-01".into(),
            ..Default::default()
        };
        let q = to_query(&summer, &tz, now).unwrap();
        assert_eq!(
            q.started_from.unwrap().to_string(),
            "2026-06-30T22:00:00.000Z"
        );
    }

    #[test]
    fn a_filter_that_does_not_parse_is_named() {
        let tz = jiff::tz::TimeZone::UTC;
        let now = UtcMillis::parse("2026-11-24T12:00:00.000Z").unwrap();
        for (form, field) in [
            (
                ListForm {
                    from: "24-11-2026".into(),
                    ..Default::default()
                },
                "from",
            ),
            (
                ListForm {
                    to: "2026-02-30".into(),
                    ..Default::default()
                },
                "to",
            ),
            (
                ListForm {
                    status: "deleted".into(),
                    ..Default::default()
                },
                "status",
            ),
            (
                ListForm {
                    held: "maybe".into(),
                    ..Default::default()
                },
                "held",
            ),
            (
                ListForm {
                    due: "1y".into(),
                    ..Default::default()
                },
                "due",
            ),
            (
                ListForm {
                    page: "0".into(),
                    ..Default::default()
                },
                "page",
            ),
            (
                ListForm {
                    page: "x".into(),
                    ..Default::default()
                },
                "page",
            ),
        ] {
            assert_eq!(to_query(&form, &tz, now).err(), Some(field));
        }
    }

    #[test]
    fn the_track_fits_its_box_north_up() {
        let p = |lat: i64, lon: i64| custos_format::manifest::GpsPoint {
            at: UtcMillis::from_millis(0).unwrap(),
            lat_e7: lat,
            lon_e7: lon,
            accuracy_m: 5,
        };
        let track = gps_track(&[p(519_000_000, 44_000_000), p(519_010_000, 44_010_000)]).unwrap();
        let polyline = track.get_attr("polyline").unwrap().to_string();
        // South-west corner bottom left, north-east top right.
        assert_eq!(polyline, "10.0,190.0 190.0,10.0");
        assert_eq!(
            track.get_attr("start").unwrap().to_string(),
            "51.90000, 4.40000"
        );
        assert!(gps_track(&[p(1, 1)]).is_none());
    }
}
