//! What the evaluation statistics read from the catalog (issue 9, ADR 0011):
//! counts per UTC day, before weeks, percentages and small-count
//! suppression are applied (crate `custos-stats`). Two sources only: the
//! recordings' facts (a projection of each signed manifest, kept after the
//! recording is deleted) and the audit log's entries, read through the
//! `audit_facts` view. Both backends run the SQL below as it is; PostgreSQL
//! numbers the `?` placeholders ([`numbered`]).

use custos_format::UtcMillis;
use serde::Serialize;

use crate::rows::{corrupt, opt_time, time, SqlRow};
use crate::Result;

/// Which part of the deployment to count. `from`..`to` is half-open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatisticsQuery {
    pub from: UtcMillis,
    pub to: UtcMillis,
    /// A team or district (a camera attribute, copied to each recording).
    pub team: Option<String>,
    pub device_id: Option<String>,
    /// An officer's own numbers: only their recordings and what was done with them.
    pub officer_id: Option<String>,
}

/// Days are counted since 1970-01-01 (UTC). Sources with times in
/// milliseconds are grouped by ISO week in SQL ([`week_of_millis`]) and
/// report the week's Monday: a year is 53 groups, not 365.
pub type Day = i64;

/// SQL for the Monday (a [`Day`]) of the UTC week of `column` (epoch ms):
/// 1970-01-05 was a Monday, day 4, so weeks start where `day + 3` is a
/// multiple of 7.
fn week_of_millis(column: &str) -> String {
    format!("((({column}) / 86400000 + 3) / 7) * 7 - 3")
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecordingDay {
    pub day: Day,
    pub recordings: u64,
    pub recorded_ms: u64,
    /// Recordings whose manifest facts are known (not deleted before
    /// statistics were kept): the denominator of the shares below.
    pub known: u64,
    pub with_prerecord: u64,
    pub with_display: u64,
    pub display_activations: u64,
    pub uploaded_within_24h: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UploadDelay {
    pub day: Day,
    /// Whole hours from the recording's end to its storage on the server.
    pub hours: i64,
    pub recordings: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KindDay {
    pub day: Day,
    /// A stop reason, a case kind, an incident kind, a tombstone reason, …
    pub kind: String,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessDay {
    pub day: Day,
    pub purpose: Option<String>,
    /// `ok` or `refused` (or `failed`).
    pub outcome: String,
    /// Distinct (person, recording, purpose, case) on that day: one viewing
    /// is one access, however many range requests the player made.
    pub accesses: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionDay {
    pub day: Day,
    pub action: String,
    pub outcome: String,
    pub purpose: Option<String>,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeletionDay {
    pub day: Day,
    pub reason: String,
    /// The recording was held for a case at some time before it was deleted.
    pub after_hold: bool,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FirmwareUse {
    /// `None`: facts of recordings deleted before statistics were kept.
    pub firmware: Option<String>,
    pub cameras: u64,
    pub recordings: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubjectRequestTimes {
    pub received_at: UtcMillis,
    pub due_at: Option<UtcMillis>,
    pub delivered_at: Option<UtcMillis>,
}

/// Everything the statistics page is computed from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatisticsSources {
    pub recordings: Vec<RecordingDay>,
    pub upload_delays: Vec<UploadDelay>,
    pub stop_reasons: Vec<KindDay>,
    pub firmware: Vec<FirmwareUse>,
    /// Holds placed, per case kind.
    pub holds: Vec<KindDay>,
    pub accesses: Vec<AccessDay>,
    /// Exports made and downloaded, subject access answers delivered.
    pub exports: Vec<ActionDay>,
    pub deletions: Vec<DeletionDay>,
    /// Integrity incidents per kind (not for an officer's own numbers).
    pub incidents: Vec<KindDay>,
    /// Failed or refused uploads and abandoned uploads, per action.
    pub upload_failures: Vec<KindDay>,
    /// Received in the period (not for an officer's own numbers).
    pub subject_requests: Vec<SubjectRequestTimes>,
}

/// Audit actions that touch footage or something derived from it: an access.
pub const FOOTAGE_ACTIONS: [&str; 8] = [
    "recording.player",
    "recording.play",
    "recording.download",
    "recording.thumbnail",
    "recording.faces",
    "recording.redact",
    "recording.export",
    "derivative.play",
];

/// Audit actions counted as exports.
pub const EXPORT_ACTIONS: [&str; 3] = [
    "export.create",
    "export.download",
    "subject-request.deliver",
];

/// Audit actions whose failures are upload failures.
pub const UPLOAD_ACTIONS: [&str; 4] = [
    "dock.authenticate",
    "ingest.offer",
    "ingest.complete",
    "upload.expire",
];

fn quoted(list: &[&str]) -> String {
    list.iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The filter on `recording_facts f`: six parameters, team, team, device,
/// device, officer, officer.
const FACT_FILTER: &str = "(CAST(? AS TEXT) IS NULL OR f.team = ?) \
     AND (CAST(? AS TEXT) IS NULL OR f.device_id = ?) \
     AND (CAST(? AS TEXT) IS NULL OR f.officer_id = ?)";

/// The statistics' SQL, `?` placeholders. Each statement names its
/// parameters in [`Statement::params`].
pub struct Statement {
    pub sql: String,
    pub params: &'static [Param],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    FromMillis,
    ToMillis,
    /// The period's ends as audit entry times (RFC 3339 text, which sorts).
    FromText,
    ToText,
    /// The period's ends as dates (`YYYY-MM-DD`).
    FromDay,
    ToDay,
    /// The six parameters of the facts filter.
    Filter,
    /// Its first four: team and camera.
    CameraFilter,
}

impl Param {
    pub fn count(self) -> usize {
        match self {
            Param::Filter => 6,
            Param::CameraFilter => 4,
            _ => 1,
        }
    }
}

use Param::*;

pub fn recordings_sql() -> Statement {
    Statement {
        sql: format!(
            "SELECT {week} AS day, COUNT(*) AS recordings,
               CAST(COALESCE(SUM(f.ended_at - f.started_at), 0) AS BIGINT) AS recorded_ms,
               CAST(COALESCE(SUM(CASE WHEN f.stored_at IS NULL THEN 0 ELSE 1 END), 0) AS BIGINT) AS known,
               CAST(COALESCE(SUM(CASE WHEN f.prerecord_ms > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS with_prerecord,
               CAST(COALESCE(SUM(CASE WHEN f.display_activations > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS with_display,
               CAST(COALESCE(SUM(f.display_activations), 0) AS BIGINT) AS display_activations,
               CAST(COALESCE(SUM(CASE WHEN f.stored_at - f.ended_at <= 86400000 THEN 1 ELSE 0 END), 0) AS BIGINT) AS within_24h
             FROM recording_facts f
             WHERE f.started_at >= ? AND f.started_at < ? AND {FACT_FILTER}
             GROUP BY 1 ORDER BY 1",
            week = week_of_millis("f.started_at")
        ),
        params: &[FromMillis, ToMillis, Filter],
    }
}

pub fn upload_delays_sql() -> Statement {
    Statement {
        sql: format!(
            "SELECT {week} AS day, (f.stored_at - f.ended_at) / 3600000 AS hours, COUNT(*) AS n
             FROM recording_facts f
             WHERE f.started_at >= ? AND f.started_at < ? AND f.stored_at IS NOT NULL AND {FACT_FILTER}
             GROUP BY 1, 2 ORDER BY 1, 2",
            week = week_of_millis("f.started_at")
        ),
        params: &[FromMillis, ToMillis, Filter],
    }
}

pub fn stop_reasons_sql() -> Statement {
    Statement {
        sql: format!(
            "SELECT {week} AS day, f.stop_reason AS kind, COUNT(*) AS n
             FROM recording_facts f
             WHERE f.started_at >= ? AND f.started_at < ? AND f.stop_reason IS NOT NULL AND {FACT_FILTER}
             GROUP BY 1, 2 ORDER BY 1, 2",
            week = week_of_millis("f.started_at")
        ),
        params: &[FromMillis, ToMillis, Filter],
    }
}

pub fn firmware_sql() -> Statement {
    Statement {
        sql: format!(
            "SELECT f.firmware AS firmware, COUNT(DISTINCT f.device_id) AS cameras, COUNT(*) AS n
             FROM recording_facts f
             WHERE f.started_at >= ? AND f.started_at < ? AND {FACT_FILTER}
             GROUP BY f.firmware ORDER BY 1"
        ),
        params: &[FromMillis, ToMillis, Filter],
    }
}

pub fn holds_sql() -> Statement {
    Statement {
        sql: format!(
            "SELECT {week} AS day, c.kind AS kind, COUNT(*) AS n
             FROM holds h JOIN cases c ON c.case_id = h.case_id
             LEFT JOIN recording_facts f ON f.recording_id = h.recording_id
             WHERE h.placed_at >= ? AND h.placed_at < ? AND {FACT_FILTER}
             GROUP BY 1, 2 ORDER BY 1, 2",
            week = week_of_millis("h.placed_at")
        ),
        params: &[FromMillis, ToMillis, Filter],
    }
}

/// Accesses come from `footage_accesses`, the log's projection of one row
/// per person, recording, purpose, case and day ([`project_accesses_sql`]).
pub fn accesses_sql() -> Statement {
    Statement {
        sql: format!(
            "SELECT p.day AS date, NULLIF(p.purpose, '') AS purpose, p.outcome AS outcome, COUNT(*) AS n
             FROM footage_accesses p LEFT JOIN recording_facts f ON f.recording_id = substr(p.object, 11)
             WHERE p.day >= ? AND p.day < ? AND {FACT_FILTER}
             GROUP BY p.day, p.purpose, p.outcome ORDER BY 1, 2, 3"
        ),
        params: &[FromDay, ToDay, Filter],
    }
}

/// Adds the accesses among the entries `from..to` (indexes) to
/// `footage_accesses`; run by `append_audit` in the transaction that
/// appends them, so the projection never lags the log.
pub fn project_accesses_sql() -> String {
    format!(
        "INSERT INTO footage_accesses (day, actor, object, purpose, case_id, outcome, first_idx)
         SELECT substr(a.at, 1, 10), a.actor, COALESCE(a.object, ''), COALESCE(a.purpose, ''),
                COALESCE(a.case_id, ''), a.outcome, a.idx
         FROM audit_facts a
         WHERE a.idx >= ? AND a.idx < ? AND a.action IN ({})
         ORDER BY a.idx
         ON CONFLICT DO NOTHING",
        quoted(&FOOTAGE_ACTIONS)
    )
}

pub fn exports_sql() -> Statement {
    Statement {
        sql: format!(
            "SELECT substr(a.at, 1, 10) AS date, a.action AS action, a.outcome AS outcome, a.purpose AS purpose, COUNT(*) AS n
             FROM audit_facts a
             WHERE a.action IN ({}) AND a.outcome IN ('ok', 'refused', 'failed')
               AND a.at >= ? AND a.at < ?
             GROUP BY substr(a.at, 1, 10), a.action, a.outcome, a.purpose ORDER BY 1, 2, 3, 4",
            quoted(&EXPORT_ACTIONS)
        ),
        params: &[FromText, ToText],
    }
}

pub fn deletions_sql() -> Statement {
    Statement {
        sql: format!(
            "SELECT {week} AS day, t.reason AS kind,
               CAST(CASE WHEN EXISTS (SELECT 1 FROM holds h WHERE h.recording_id = t.recording_id) THEN 1 ELSE 0 END AS BIGINT) AS after_hold,
               COUNT(*) AS n
             FROM tombstones t LEFT JOIN recording_facts f ON f.recording_id = t.recording_id
             WHERE t.deleted_at >= ? AND t.deleted_at < ? AND {FACT_FILTER}
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            week = week_of_millis("t.deleted_at")
        ),
        params: &[FromMillis, ToMillis, Filter],
    }
}

/// Incidents name a camera (or a dock): the team and camera filters apply
/// through the camera; an officer's own numbers have none.
pub fn incidents_sql() -> Statement {
    Statement {
        sql: format!(
            "SELECT {week} AS day, i.kind AS kind, COUNT(*) AS n
             FROM incidents i LEFT JOIN devices d ON d.device_id = i.device_id
             WHERE i.at >= ? AND i.at < ?
               AND (CAST(? AS TEXT) IS NULL OR d.team = ?)
               AND (CAST(? AS TEXT) IS NULL OR i.device_id = ?)
             GROUP BY 1, 2 ORDER BY 1, 2",
            week = week_of_millis("i.at")
        ),
        params: &[FromMillis, ToMillis, CameraFilter],
    }
}

pub fn upload_failures_sql() -> Statement {
    Statement {
        sql: format!(
            "SELECT substr(a.at, 1, 10) AS date, a.action AS kind, COUNT(*) AS n
             FROM audit_facts a
             WHERE a.action IN ({}) AND a.outcome IN ('failed', 'refused') AND a.at >= ? AND a.at < ?
             GROUP BY substr(a.at, 1, 10), a.action ORDER BY 1, 2",
            quoted(&UPLOAD_ACTIONS)
        ),
        params: &[FromText, ToText],
    }
}

pub fn subject_requests_sql() -> Statement {
    Statement {
        sql:
            "SELECT s.received_at AS received_at, c.due_at AS due_at, s.delivered_at AS delivered_at
             FROM subject_requests s JOIN cases c ON c.case_id = s.case_id
             WHERE s.received_at >= ? AND s.received_at < ?
             ORDER BY 1"
                .to_owned(),
        params: &[FromMillis, ToMillis],
    }
}

/// The parameters of a statement, in order, as the backends bind them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind {
    Int(i64),
    Text(Option<String>),
}

impl StatisticsQuery {
    pub fn binds(&self, params: &[Param]) -> Vec<Bind> {
        let mut out = Vec::new();
        for p in params {
            match p {
                FromMillis => out.push(Bind::Int(self.from.as_millis())),
                ToMillis => out.push(Bind::Int(self.to.as_millis())),
                FromText => out.push(Bind::Text(Some(self.from.to_string()))),
                ToText => out.push(Bind::Text(Some(self.to.to_string()))),
                FromDay => out.push(Bind::Text(Some(self.from.to_string()[..10].to_owned()))),
                ToDay => out.push(Bind::Text(Some(self.to.to_string()[..10].to_owned()))),
                Filter | CameraFilter => {
                    let mut pairs = vec![&self.team, &self.device_id];
                    if *p == Filter {
                        pairs.push(&self.officer_id);
                    }
                    for v in pairs {
                        out.push(Bind::Text(v.clone()));
                        out.push(Bind::Text(v.clone()));
                    }
                }
            }
        }
        out
    }
}

fn count(r: &impl SqlRow, column: &str) -> Result<u64> {
    u64::try_from(r.int(column)?).map_err(|_| corrupt("negative count"))
}

fn date_day(r: &impl SqlRow) -> Result<Day> {
    day_of_date_text(&r.text("date")?).ok_or_else(|| corrupt("audit entry time"))
}

/// Reads each statement's rows (the backends run them, in the order of
/// [`StatisticsSources`]'s fields) into the sources.
pub struct Reader;

impl Reader {
    pub fn recordings(rows: &[impl SqlRow]) -> Result<Vec<RecordingDay>> {
        rows.iter()
            .map(|r| {
                Ok(RecordingDay {
                    day: r.int("day")?,
                    recordings: count(r, "recordings")?,
                    recorded_ms: count(r, "recorded_ms")?,
                    known: count(r, "known")?,
                    with_prerecord: count(r, "with_prerecord")?,
                    with_display: count(r, "with_display")?,
                    display_activations: count(r, "display_activations")?,
                    uploaded_within_24h: count(r, "within_24h")?,
                })
            })
            .collect()
    }

    pub fn upload_delays(rows: &[impl SqlRow]) -> Result<Vec<UploadDelay>> {
        rows.iter()
            .map(|r| {
                Ok(UploadDelay {
                    day: r.int("day")?,
                    hours: r.int("hours")?,
                    recordings: count(r, "n")?,
                })
            })
            .collect()
    }

    pub fn kinds(rows: &[impl SqlRow]) -> Result<Vec<KindDay>> {
        rows.iter()
            .map(|r| {
                Ok(KindDay {
                    day: r.int("day")?,
                    kind: r.text("kind")?,
                    count: count(r, "n")?,
                })
            })
            .collect()
    }

    pub fn dated_kinds(rows: &[impl SqlRow]) -> Result<Vec<KindDay>> {
        rows.iter()
            .map(|r| {
                Ok(KindDay {
                    day: date_day(r)?,
                    kind: r.text("kind")?,
                    count: count(r, "n")?,
                })
            })
            .collect()
    }

    pub fn firmware(rows: &[impl SqlRow]) -> Result<Vec<FirmwareUse>> {
        rows.iter()
            .map(|r| {
                Ok(FirmwareUse {
                    firmware: r.opt_text("firmware")?,
                    cameras: count(r, "cameras")?,
                    recordings: count(r, "n")?,
                })
            })
            .collect()
    }

    /// Sorted here: the backends place NULL purposes apart.
    pub fn accesses(rows: &[impl SqlRow]) -> Result<Vec<AccessDay>> {
        let mut out: Vec<AccessDay> = rows
            .iter()
            .map(|r| {
                Ok(AccessDay {
                    day: date_day(r)?,
                    purpose: r.opt_text("purpose")?,
                    outcome: r.text("outcome")?,
                    accesses: count(r, "n")?,
                })
            })
            .collect::<Result<_>>()?;
        out.sort_by(|a, b| (a.day, &a.purpose, &a.outcome).cmp(&(b.day, &b.purpose, &b.outcome)));
        Ok(out)
    }

    pub fn actions(rows: &[impl SqlRow]) -> Result<Vec<ActionDay>> {
        let mut out: Vec<ActionDay> = rows
            .iter()
            .map(|r| {
                Ok(ActionDay {
                    day: date_day(r)?,
                    action: r.text("action")?,
                    outcome: r.text("outcome")?,
                    purpose: r.opt_text("purpose")?,
                    count: count(r, "n")?,
                })
            })
            .collect::<Result<_>>()?;
        out.sort_by(|a, b| {
            (a.day, &a.action, &a.outcome, &a.purpose)
                .cmp(&(b.day, &b.action, &b.outcome, &b.purpose))
        });
        Ok(out)
    }

    pub fn deletions(rows: &[impl SqlRow]) -> Result<Vec<DeletionDay>> {
        rows.iter()
            .map(|r| {
                Ok(DeletionDay {
                    day: r.int("day")?,
                    reason: r.text("kind")?,
                    after_hold: r.int("after_hold")? != 0,
                    count: count(r, "n")?,
                })
            })
            .collect()
    }

    pub fn subject_requests(rows: &[impl SqlRow]) -> Result<Vec<SubjectRequestTimes>> {
        rows.iter()
            .map(|r| {
                Ok(SubjectRequestTimes {
                    received_at: time(r.int("received_at")?)?,
                    due_at: opt_time(r, "due_at")?,
                    delivered_at: opt_time(r, "delivered_at")?,
                })
            })
            .collect()
    }
}

/// `?` placeholders numbered `$1`, `$2`, … for PostgreSQL. The statements
/// above have no `?` inside string literals.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// The day of an audit entry's `at` (its first ten characters, `YYYY-MM-DD`).
pub fn day_of_date_text(text: &str) -> Option<Day> {
    let date: jiff::civil::Date = text.get(..10)?.parse().ok()?;
    Some(
        date.since(jiff::civil::date(1970, 1, 1))
            .ok()?
            .get_days()
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            numbered("a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
        for s in [
            recordings_sql(),
            accesses_sql(),
            incidents_sql(),
            subject_requests_sql(),
        ] {
            let wanted: usize = s.params.iter().map(|p| p.count()).sum();
            assert_eq!(s.sql.matches('?').count(), wanted, "{}", s.sql);
        }
    }

    #[test]
    fn audit_dates_become_days() {
        assert_eq!(day_of_date_text("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(day_of_date_text("2026-11-24T21:00:00.000Z"), Some(20_781));
        assert_eq!(day_of_date_text("2026-11-24"), Some(20_781));
        for bad in ["", "2026-13-01", "garbage!!!", "2026-11"] {
            assert_eq!(day_of_date_text(bad), None, "{bad}");
        }
    }
}
