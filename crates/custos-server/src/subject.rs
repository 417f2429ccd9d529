//! Data subjects' access requests (GDPR art. 15): the privacy officer takes
//! one in (who asked, how their identity was checked, when and where they
//! say they were filmed), the deadline runs one calendar month from receipt
//! (art. 12(3); extendable by two more with a reason), and a search by time,
//! place, officer and camera finds the candidate recordings — each of which
//! is then held for the request, so the retention clock cannot destroy what
//! was asked for while the request is open.
//!
//! The requester's name, contact and identity check are personal data: they
//! are stored for the privacy officer and never written to the audit log,
//! whose entries name the case instead.

use custos_access::Action;
use custos_audit::Outcome;
use custos_catalog::{Case, Place, RecordingQuery, SubjectRequest};
use custos_format::{SignedManifest, UtcMillis};
use uuid::Uuid;

use crate::api::{unavailable, Authenticated};
use crate::http::{ApiError, Code};
use crate::Deployment;

/// The purpose every access for a subject access request states.
pub const PURPOSE: &str = "subject-access-request";
/// The case kind of a subject access request.
pub const KIND: &str = "subject-access-request";
/// The longest window a requester may name: a search is for their
/// encounter, not a trawl.
pub const MAX_WINDOW_MILLIS: i64 = 31 * 86_400_000;
/// Recordings that started this long before the window may still reach
/// into it: a Custos camera's last at most a shift, an Axis camera's up to
/// the day its controller may report.
const LONGEST_RECORDING_MILLIS: i64 = custos_axis::recording::MAX_DURATION_MS;
/// A place's radius, in metres.
pub const RADIUS_M: std::ops::RangeInclusive<u32> = 10..=5_000;

/// `POST /api/v1/subject-requests`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubjectRequest {
    /// The case's id in the city's own register, if it has one.
    #[serde(default)]
    pub case_id: Option<String>,
    pub requester: String,
    #[serde(default)]
    pub contact: Option<String>,
    /// How the requester's identity was verified.
    pub identity_check: String,
    /// What they describe: the situation, their clothing, …
    pub description: String,
    pub window_from: UtcMillis,
    pub window_to: UtcMillis,
    #[serde(default)]
    pub place: Option<NewPlace>,
    /// When the request reached the city (default: now).
    #[serde(default)]
    pub received_at: Option<UtcMillis>,
}

/// A point in WGS 84 degrees and a radius in metres.
#[derive(Clone, Copy, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPlace {
    pub lat: f64,
    pub lon: f64,
    pub radius_m: u32,
}

/// A request with its case (and so its deadline).
#[derive(Clone, Debug, serde::Serialize)]
pub struct SubjectRequestView {
    pub case: Case,
    pub request: SubjectRequest,
    /// The latest deadline an extension may set: three months after receipt.
    pub latest_due_at: UtcMillis,
}

fn invalid(code: Code, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message.into())
}

fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(invalid(
            Code::Invalid,
            format!("{field} must be 1–{max} bytes of text without control characters"),
        ));
    }
    Ok(value.to_owned())
}

/// `n` calendar months after `t` (the same day of the month, or the
/// month's last day where it has none: 31 January + 1 month = 28 or 29
/// February), as the GDPR's deadlines count.
pub fn months_after(t: UtcMillis, n: u32) -> UtcMillis {
    let dt = t.to_offset_date_time();
    let months = i64::from(dt.year()) * 12 + i64::from(u8::from(dt.month()) - 1) + i64::from(n);
    let year = (months / 12) as i32;
    let month = time::Month::try_from((months % 12 + 1) as u8).expect("1 to 12");
    let day = dt.day().min(time::util::days_in_month(month, year));
    let date = time::Date::from_calendar_date(year, month, day).expect("a valid day");
    let moved = dt.replace_date(date);
    UtcMillis::from_millis((moved.unix_timestamp_nanos() / 1_000_000) as i64).expect("within range")
}

fn place(p: Option<NewPlace>) -> Result<Option<Place>, ApiError> {
    let Some(p) = p else { return Ok(None) };
    if !(-90.0..=90.0).contains(&p.lat) || !(-180.0..=180.0).contains(&p.lon) {
        return Err(invalid(
            Code::BadPlace,
            "place: lat must be −90 to 90 and lon −180 to 180 degrees",
        ));
    }
    if !RADIUS_M.contains(&p.radius_m) {
        return Err(invalid(
            Code::BadPlace,
            format!(
                "place: radius_m must be {} to {} metres",
                RADIUS_M.start(),
                RADIUS_M.end()
            ),
        ));
    }
    Ok(Some(Place {
        lat_e7: (p.lat * 1e7).round() as i64,
        lon_e7: (p.lon * 1e7).round() as i64,
        radius_m: p.radius_m,
    }))
}

/// Takes in a request: checked, its case opened with the deadline, audited
/// (naming the case, never the requester).
pub async fn open(
    d: &Deployment,
    a: &Authenticated,
    body: NewSubjectRequest,
) -> Result<SubjectRequestView, ApiError> {
    a.permit(
        d,
        Action::HandleSubjectRequests,
        "subject-request.open",
        "subject-requests",
    )
    .await?;
    let now = (d.clock)();
    let requester = text("requester", &body.requester, 200)?;
    let contact = body
        .contact
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(|c| text("contact", c, 500))
        .transpose()?;
    let identity_check = text("identity_check", &body.identity_check, 500)?;
    let description = text("description", &body.description, 2_000)?;
    if body.window_to <= body.window_from
        || body.window_to.as_millis() - body.window_from.as_millis() > MAX_WINDOW_MILLIS
    {
        return Err(invalid(
            Code::BadWindow,
            "window_to must come after window_from, at most 31 days later",
        ));
    }
    if body.window_from > now {
        return Err(invalid(Code::BadWindow, "the window lies in the future"));
    }
    let received_at = body.received_at.unwrap_or(now);
    if received_at > now || received_at.as_millis() < now.as_millis() - 366 * 86_400_000 {
        return Err(invalid(
            Code::BadReceived,
            "received_at must be within the last year and not in the future",
        ));
    }
    let place = place(body.place)?;
    let case_id = match body.case_id {
        Some(id) => {
            custos_format::manifest::check_identifier(&id)
                .map_err(|e| invalid(Code::Invalid, format!("case_id: {e}")))?;
            id
        }
        None => format!("sar-{}", &Uuid::now_v7().simple().to_string()[..12]),
    };
    let case = Case {
        case_id: case_id.clone(),
        kind: KIND.into(),
        reference: None,
        // The case list shows labels to reviewers: no name in it.
        label: "subject access request".into(),
        opened_by: a.caller.name.clone(),
        opened_at: now,
        due_at: Some(months_after(received_at, 1)),
        closed_by: None,
        closed_at: None,
    };
    let request = SubjectRequest {
        case_id: case_id.clone(),
        requester,
        contact,
        identity_check,
        description,
        window_from: body.window_from,
        window_to: body.window_to,
        place,
        received_at,
        extension_reason: None,
        extended_by: None,
        extended_at: None,
        delivered_export: None,
        delivered_at: None,
    };
    let event = |outcome| {
        let mut e = a
            .event(d, "subject-request.open", outcome)
            .object(format!("case:{case_id}"));
        e.case = Some(case_id.clone());
        e
    };
    if d.catalog
        .case(&case_id)
        .await
        .map_err(unavailable)?
        .is_some()
    {
        let exists = ApiError::new(Code::Exists, "a case with that id exists");
        return Err(a.refused(d, event(Outcome::Refused), exists).await);
    }
    a.record(
        d,
        event(Outcome::Ok).detail(format!(
            "due {}",
            case.due_at.expect("a request has a deadline")
        )),
    )
    .await?;
    d.catalog
        .open_subject_request(&case, &request)
        .await
        .map_err(|e| match e {
            custos_catalog::CatalogError::AlreadyExists { .. } => {
                ApiError::new(Code::Exists, "a case with that id exists")
            }
            e => unavailable(e),
        })?;
    Ok(SubjectRequestView {
        latest_due_at: months_after(received_at, 3),
        case,
        request,
    })
}

pub(crate) async fn request_named(
    d: &Deployment,
    a: &Authenticated,
    case_id: &str,
    action: &str,
) -> Result<SubjectRequestView, ApiError> {
    let object = format!("case:{}", case_id.escape_default());
    a.permit(d, Action::HandleSubjectRequests, action, &object)
        .await?;
    let case = d.catalog.case(case_id).await.map_err(unavailable)?;
    let request = d
        .catalog
        .subject_request(case_id)
        .await
        .map_err(unavailable)?;
    match (case, request) {
        (Some(case), Some(request)) => Ok(SubjectRequestView {
            latest_due_at: months_after(request.received_at, 3),
            case,
            request,
        }),
        _ => Err(ApiError::new(
            Code::NotFound,
            "no subject access request for that case",
        )),
    }
}

/// Every request with its case, open ones first by deadline, for the
/// privacy officer's list (audited as one read).
pub async fn list(d: &Deployment, a: &Authenticated) -> Result<Vec<SubjectRequestView>, ApiError> {
    a.permit(
        d,
        Action::HandleSubjectRequests,
        "subject-request.list",
        "subject-requests",
    )
    .await?;
    let mut views = Vec::new();
    for case in d.catalog.cases().await.map_err(unavailable)? {
        if case.kind != KIND {
            continue;
        }
        if let Some(request) = d
            .catalog
            .subject_request(&case.case_id)
            .await
            .map_err(unavailable)?
        {
            views.push(SubjectRequestView {
                latest_due_at: months_after(request.received_at, 3),
                case,
                request,
            });
        }
    }
    views.sort_by_key(|v| (v.case.closed_at.is_some(), v.case.due_at));
    a.ok(d, "subject-request.list", "subject-requests").await?;
    Ok(views)
}

/// `GET /api/v1/subject-requests/{case}`: the request, for the privacy
/// officer; the reading is audited (the requester's data was seen).
pub async fn get(
    d: &Deployment,
    a: &Authenticated,
    case_id: &str,
) -> Result<SubjectRequestView, ApiError> {
    let view = request_named(d, a, case_id, "subject-request.read").await?;
    let mut event = a
        .event(d, "subject-request.read", Outcome::Ok)
        .object(format!("case:{case_id}"));
    event.case = Some(case_id.to_owned());
    a.record(d, event).await?;
    Ok(view)
}

/// `POST /api/v1/subject-requests/{case}/extend`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// 1 or 2 further months after the first (art. 12(3)).
    pub months: u32,
    /// Given to the requester, as art. 12(3) asks.
    pub reason: String,
}

pub async fn extend(
    d: &Deployment,
    a: &Authenticated,
    case_id: &str,
    body: Extension,
) -> Result<SubjectRequestView, ApiError> {
    let view = request_named(d, a, case_id, "subject-request.extend").await?;
    if view.case.closed_at.is_some() {
        return Err(ApiError::new(Code::CaseClosed, "that request is closed"));
    }
    if !(1..=2).contains(&body.months) {
        return Err(invalid(
            Code::BadExtension,
            "an extension is 1 or 2 further months",
        ));
    }
    let reason = text("reason", &body.reason, 500)?;
    let due = months_after(view.request.received_at, 1 + body.months);
    if Some(due) <= view.case.due_at {
        return Err(ApiError::new(
            Code::NotLater,
            "the deadline is that late already",
        ));
    }
    let mut event = a
        .event(d, "subject-request.extend", Outcome::Ok)
        .object(format!("case:{case_id}"))
        .detail(format!("due {due}"));
    event.case = Some(case_id.to_owned());
    a.record(d, event).await?;
    d.catalog
        .extend_subject_request(case_id, due, &reason, &a.caller.name, (d.clock)())
        .await
        .map_err(unavailable)?;
    request_named(d, a, case_id, "subject-request.extend").await
}

/// `POST /api/v1/subject-requests/{case}/search`: narrows beyond the
/// request's own window and place.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    #[serde(default)]
    pub officer_id: Option<String>,
    #[serde(default)]
    pub device_id: Option<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Candidate {
    pub recording_id: Uuid,
    pub device_id: String,
    pub officer_id: Option<String>,
    pub started_at: UtcMillis,
    pub ended_at: UtcMillis,
    /// Metres from the request's place to the nearest GPS point, where
    /// both are known.
    pub distance_m: Option<u32>,
    /// `false`: the recording has no GPS track, so it cannot be ruled out
    /// by place and is listed.
    pub location_known: bool,
    /// A hold for this request keeps it (placed now, or before).
    pub held: bool,
}

/// Metres between two points on the WGS 84 mean sphere (haversine).
pub fn distance_m(lat1_e7: i64, lon1_e7: i64, lat2_e7: i64, lon2_e7: i64) -> f64 {
    const R: f64 = 6_371_008.8;
    let rad = |e7: i64| (e7 as f64 / 1e7).to_radians();
    let (p1, p2) = (rad(lat1_e7), rad(lat2_e7));
    let dp = p2 - p1;
    let dl = rad(lon2_e7) - rad(lon1_e7);
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

/// Where a recording's camera was: a Custos camera's positions from its
/// signed manifest, an Axis camera's from its GNSS trail as read when the
/// recording completed (none while unread, or if it came without one or
/// did not read: the place is unknown, as a camera's without a fix).
async fn positions(
    d: &Deployment,
    r: &custos_catalog::Recording,
) -> Result<Vec<(i64, i64)>, ApiError> {
    if r.axis().is_some() {
        let trail = d
            .catalog
            .axis_trail(r.recording_id)
            .await
            .map_err(unavailable)?;
        return Ok(trail
            .filter(|t| t.outcome == custos_catalog::TrailOutcome::Read)
            .map(|t| {
                t.points
                    .iter()
                    .map(|p| (i64::from(p.lat_e7), i64::from(p.lon_e7)))
                    .collect()
            })
            .unwrap_or_default());
    }
    let camera = r.camera().ok_or_else(|| unavailable("not a camera's"))?;
    let manifest =
        SignedManifest::parse(&camera.manifest, &camera.manifest_signature).map_err(|e| {
            tracing::error!(error = %e, "a stored manifest does not parse");
            unavailable("a stored manifest does not parse")
        })?;
    Ok(manifest
        .manifest()
        .gps
        .iter()
        .map(|g| (g.lat_e7, g.lon_e7))
        .collect())
}

/// The recordings that may show the requester: they overlap the window,
/// match the officer and camera asked for, and pass within the radius of
/// the place (or have no GPS track). Each is held for the request (in
/// force at once, whatever the deployment's four-eyes rule for holds: the
/// law forbids destroying what a pending request asks for). Audited with
/// purpose `subject-access-request` before the list is returned.
pub async fn search(
    d: &Deployment,
    a: &Authenticated,
    case_id: &str,
    body: Search,
) -> Result<Vec<Candidate>, ApiError> {
    let view = request_named(d, a, case_id, "subject-request.search").await?;
    if view.case.closed_at.is_some() {
        return Err(ApiError::new(Code::CaseClosed, "that request is closed"));
    }
    let request = &view.request;
    for (field, value) in [
        ("officer_id", &body.officer_id),
        ("device_id", &body.device_id),
    ] {
        if let Some(v) = value {
            text(field, v, 100)?;
        }
    }
    let mut found = Vec::new();
    let mut offset = 0;
    loop {
        let page = d
            .catalog
            .search_recordings(&RecordingQuery {
                started_from: Some(request.window_from.plus_millis(-LONGEST_RECORDING_MILLIS)),
                started_before: Some(request.window_to),
                officer_id: body.officer_id.clone(),
                device_id: body.device_id.clone(),
                offset,
                limit: 1_000,
                ..Default::default()
            })
            .await
            .map_err(unavailable)?;
        let count = page.recordings.len() as u64;
        for (r, _held) in page.recordings {
            if r.ended_at < request.window_from {
                continue;
            }
            let (distance, known) = match &request.place {
                None => (None, false),
                Some(p) => {
                    let nearest = positions(d, &r)
                        .await?
                        .into_iter()
                        .map(|(lat_e7, lon_e7)| distance_m(p.lat_e7, p.lon_e7, lat_e7, lon_e7))
                        .fold(None, |best: Option<f64>, x| {
                            Some(best.map_or(x, |b| b.min(x)))
                        });
                    match nearest {
                        Some(m) if m > f64::from(p.radius_m) => continue,
                        Some(m) => (Some(m.round() as u32), true),
                        None => (None, false),
                    }
                }
            };
            found.push((r, distance, known));
        }
        if count < 1_000 {
            break;
        }
        offset += count;
    }
    let mut event = a
        .event(d, "subject-request.search", Outcome::Ok)
        .object(format!("case:{case_id}"))
        .detail(format!("{} candidates", found.len()));
    event.purpose = Some(PURPOSE.into());
    event.case = Some(case_id.to_owned());
    a.record(d, event).await?;

    let held_already: Vec<Uuid> = d
        .catalog
        .holds_for_case(case_id)
        .await
        .map_err(unavailable)?
        .into_iter()
        .filter(|h| h.released_at.is_none())
        .map(|h| h.recording_id)
        .collect();
    let now = (d.clock)();
    let mut candidates = Vec::new();
    for (r, distance_m, location_known) in found {
        if !held_already.contains(&r.recording_id) {
            let hold = custos_catalog::Hold {
                hold_id: Uuid::now_v7(),
                case_id: case_id.to_owned(),
                recording_id: r.recording_id,
                reason: "subject access request: a candidate recording".into(),
                placed_by: a.caller.name.clone(),
                placed_at: now,
                approved_by: Some(a.caller.name.clone()),
                approved_at: Some(now),
                released_by: None,
                released_at: None,
            };
            let mut event = a
                .event(d, "hold.place", Outcome::Ok)
                .object(format!("recording:{}", r.recording_id))
                .detail("in force: a candidate for a subject access request");
            event.case = Some(case_id.to_owned());
            a.record(d, event).await?;
            d.catalog.add_hold(&hold).await.map_err(unavailable)?;
        }
        candidates.push(Candidate {
            recording_id: r.recording_id,
            device_id: r.device_id,
            officer_id: r.officer_id,
            started_at: r.started_at,
            ended_at: r.ended_at,
            distance_m,
            location_known,
            held: true,
        });
    }
    Ok(candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> UtcMillis {
        serde_json::from_value(serde_json::Value::String(s.into())).unwrap()
    }

    #[test]
    fn a_month_is_a_calendar_month_clamped_to_the_months_end() {
        for (from, n, to) in [
            ("2026-01-15T09:30:00.000Z", 1, "2026-02-15T09:30:00.000Z"),
            ("2026-01-31T23:00:00.000Z", 1, "2026-02-28T23:00:00.000Z"),
            ("2028-01-31T08:00:00.000Z", 1, "2028-02-29T08:00:00.000Z"),
            ("2026-03-31T08:00:00.000Z", 1, "2026-04-30T08:00:00.000Z"),
            ("2026-12-10T08:00:00.000Z", 1, "2027-01-10T08:00:00.000Z"),
            ("2026-11-30T08:00:00.000Z", 3, "2027-02-28T08:00:00.000Z"),
            ("2026-10-31T08:00:00.000Z", 2, "2026-12-31T08:00:00.000Z"),
            ("2026-05-01T00:00:00.000Z", 0, "2026-05-01T00:00:00.000Z"),
        ] {
            assert_eq!(months_after(at(from), n), at(to), "{from} + {n}");
        }
    }

    #[test]
    fn distances_on_the_sphere() {
        // Rotterdam Centraal to the Erasmusbrug: about 2.0 km.
        let d = distance_m(519_249_000, 44_688_000, 519_093_000, 44_868_000);
        assert!((1_900.0..2_200.0).contains(&d), "{d}");
        assert_eq!(distance_m(1, 2, 1, 2), 0.0);
        // 1e-5 degree of latitude is about 1.11 m.
        let d = distance_m(519_000_000, 44_000_000, 519_000_100, 44_000_000);
        assert!((1.0..1.3).contains(&d), "{d}");
        // Across the antimeridian, not around the world.
        let d = distance_m(0, 1_799_999_000, 0, -1_799_999_000);
        assert!(d < 30.0, "{d}");
    }
}
