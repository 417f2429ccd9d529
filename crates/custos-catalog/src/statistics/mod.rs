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

mod cache;
mod compute;

pub use cache::*;
pub use compute::*;

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

const DAY_MS: i64 = 86_400_000;

/// The Monday (a [`Day`]) of the UTC week of `millis`, as
/// [`week_of_millis`] computes it in SQL.
pub fn monday_of(millis: i64) -> Day {
    (millis.div_euclid(DAY_MS) + 3).div_euclid(7) * 7 - 3
}

/// A value bound to a `?`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind {
    Int(i64),
    Text(String),
}

/// One statement of the statistics, `?` placeholders, and its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    pub binds: Vec<Bind>,
}

/// A row as the statistics read it, owned (the backends copy their rows in).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedRow(pub Vec<(String, Value)>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl OwnedRow {
    fn get(&self, column: &str) -> Result<&Value> {
        self.0
            .iter()
            .find(|(n, _)| n == column)
            .map(|(_, v)| v)
            .ok_or_else(|| corrupt(column))
    }
}

impl SqlRow for OwnedRow {
    fn int(&self, column: &str) -> Result<i64> {
        match self.get(column)? {
            Value::Int(v) => Ok(*v),
            _ => Err(corrupt(column)),
        }
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        match self.get(column)? {
            Value::Int(v) => Ok(Some(*v)),
            Value::Null => Ok(None),
            _ => Err(corrupt(column)),
        }
    }
    fn text(&self, column: &str) -> Result<String> {
        match self.get(column)? {
            Value::Text(v) => Ok(v.clone()),
            _ => Err(corrupt(column)),
        }
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        match self.get(column)? {
            Value::Text(v) => Ok(Some(v.clone())),
            Value::Null => Ok(None),
            _ => Err(corrupt(column)),
        }
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>> {
        Err(corrupt(column))
    }
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>> {
        Err(corrupt(column))
    }
}

/// How a backend runs the statistics' statements: in one transaction.
#[async_trait::async_trait]
pub trait Runner: Send {
    async fn rows(&mut self, statement: Statement) -> Result<Vec<OwnedRow>>;
    async fn execute(&mut self, statement: Statement) -> Result<()>;
}

/// The facts filter: only the filters asked for, so that the catalog's
/// indexes on camera and officer are used.
fn filter(q: &StatisticsQuery, binds: &mut Vec<Bind>) -> String {
    let mut out = String::new();
    for (column, value) in [
        ("f.team", &q.team),
        ("f.device_id", &q.device_id),
        ("f.officer_id", &q.officer_id),
    ] {
        if let Some(v) = value {
            out.push_str(&format!(" AND {column} = ?"));
            binds.push(Bind::Text(v.clone()));
        }
    }
    out
}

fn range(q: &StatisticsQuery) -> Vec<Bind> {
    vec![Bind::Int(q.from.as_millis()), Bind::Int(q.to.as_millis())]
}

fn text_range(q: &StatisticsQuery) -> Vec<Bind> {
    vec![Bind::Text(q.from.to_string()), Bind::Text(q.to.to_string())]
}

fn day_range(q: &StatisticsQuery) -> Vec<Bind> {
    vec![
        Bind::Text(q.from.to_string()[..10].to_owned()),
        Bind::Text(q.to.to_string()[..10].to_owned()),
    ]
}

/// The columns of a week's recordings, summed: shared by the live query
/// and the cache.
const RECORDING_SUMS: &str = "COUNT(*) AS recordings,
       CAST(COALESCE(SUM(f.ended_at - f.started_at), 0) AS BIGINT) AS recorded_ms,
       CAST(COALESCE(SUM(CASE WHEN f.stored_at IS NULL THEN 0 ELSE 1 END), 0) AS BIGINT) AS known,
       CAST(COALESCE(SUM(CASE WHEN f.prerecord_ms > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS with_prerecord,
       CAST(COALESCE(SUM(CASE WHEN f.display_activations > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) AS with_display,
       CAST(COALESCE(SUM(f.display_activations), 0) AS BIGINT) AS display_activations,
       CAST(COALESCE(SUM(CASE WHEN f.stored_at - f.ended_at <= 86400000 THEN 1 ELSE 0 END), 0) AS BIGINT) AS within_24h";

pub fn recordings_sql(q: &StatisticsQuery) -> Statement {
    let mut binds = range(q);
    let f = filter(q, &mut binds);
    Statement {
        sql: format!(
            "SELECT {week} AS day, {RECORDING_SUMS}
             FROM recording_facts f
             WHERE f.started_at >= ? AND f.started_at < ?{f}
             GROUP BY 1 ORDER BY 1",
            week = week_of_millis("f.started_at")
        ),
        binds,
    }
}

pub fn upload_delays_sql(q: &StatisticsQuery) -> Statement {
    let mut binds = range(q);
    let f = filter(q, &mut binds);
    Statement {
        sql: format!(
            "SELECT {week} AS day, (f.stored_at - f.ended_at) / 3600000 AS hours, COUNT(*) AS n
             FROM recording_facts f
             WHERE f.started_at >= ? AND f.started_at < ? AND f.stored_at IS NOT NULL{f}
             GROUP BY 1, 2 ORDER BY 1, 2",
            week = week_of_millis("f.started_at")
        ),
        binds,
    }
}

pub fn stop_reasons_sql(q: &StatisticsQuery) -> Statement {
    let mut binds = range(q);
    let f = filter(q, &mut binds);
    Statement {
        sql: format!(
            "SELECT {week} AS day, f.stop_reason AS kind, COUNT(*) AS n
             FROM recording_facts f
             WHERE f.started_at >= ? AND f.started_at < ? AND f.stop_reason IS NOT NULL{f}
             GROUP BY 1, 2 ORDER BY 1, 2",
            week = week_of_millis("f.started_at")
        ),
        binds,
    }
}

/// Recordings per firmware and camera (cameras are counted once per
/// period, so the distinct count is made after weeks are merged).
pub fn firmware_sql(q: &StatisticsQuery) -> Statement {
    let mut binds = range(q);
    let f = filter(q, &mut binds);
    Statement {
        sql: format!(
            "SELECT COALESCE(f.firmware, '') AS firmware, f.device_id AS device_id, COUNT(*) AS n
             FROM recording_facts f
             WHERE f.started_at >= ? AND f.started_at < ?{f}
             GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        binds,
    }
}

pub fn deletions_sql(q: &StatisticsQuery) -> Statement {
    let mut binds = range(q);
    let f = filter(q, &mut binds);
    // With a filter the facts drive (by their camera, officer or team
    // index); without, the tombstones by deletion time.
    let join = if f.is_empty() { "LEFT JOIN" } else { "JOIN" };
    Statement {
        sql: format!(
            "SELECT {week} AS day, t.reason AS kind,
               CAST(CASE WHEN EXISTS (SELECT 1 FROM holds h WHERE h.recording_id = t.recording_id) THEN 1 ELSE 0 END AS BIGINT) AS after_hold,
               COUNT(*) AS n
             FROM tombstones t {join} recording_facts f ON f.recording_id = t.recording_id
             WHERE t.deleted_at >= ? AND t.deleted_at < ?{f}
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            week = week_of_millis("t.deleted_at")
        ),
        binds,
    }
}

pub fn holds_sql(q: &StatisticsQuery) -> Statement {
    let mut binds = range(q);
    let f = filter(q, &mut binds);
    Statement {
        sql: format!(
            "SELECT {week} AS day, c.kind AS kind, COUNT(*) AS n
             FROM holds h JOIN cases c ON c.case_id = h.case_id
             LEFT JOIN recording_facts f ON f.recording_id = h.recording_id
             WHERE h.placed_at >= ? AND h.placed_at < ?{f}
             GROUP BY 1, 2 ORDER BY 1, 2",
            week = week_of_millis("h.placed_at")
        ),
        binds,
    }
}

/// Accesses come from `footage_accesses`, the log's projection of one row
/// per person, recording, purpose, case and day ([`project_accesses_sql`]).
pub fn accesses_sql(q: &StatisticsQuery) -> Statement {
    let mut binds = day_range(q);
    // The projection carries each access's recording's team, camera and
    // officer: no join.
    let f = filter(q, &mut binds).replace(" f.", " p.");
    Statement {
        sql: format!(
            "SELECT p.day AS date, NULLIF(p.purpose, '') AS purpose, p.outcome AS outcome, COUNT(*) AS n
             FROM footage_accesses p
             WHERE p.day >= ? AND p.day < ?{f}
             GROUP BY p.day, p.purpose, p.outcome ORDER BY 1, 2, 3"
        ),
        binds,
    }
}

/// Adds the accesses among the entries `from..to` (indexes) to
/// `footage_accesses`; run by `append_audit` in the transaction that
/// appends them, so the projection never lags the log. The action is
/// compared as `action || ''` so that SQLite reads the new entries by
/// index number, not every footage entry of the log by the action index
/// (which made appends ten times slower, P4).
pub fn project_accesses_sql() -> String {
    format!(
        "INSERT INTO footage_accesses (day, actor, object, purpose, case_id, outcome,
                                       team, device_id, officer_id, first_idx)
         SELECT substr(a.at, 1, 10), a.actor, COALESCE(a.object, ''), COALESCE(a.purpose, ''),
                COALESCE(a.case_id, ''), a.outcome, f.team, f.device_id, f.officer_id, a.idx
         FROM audit_facts a LEFT JOIN recording_facts f ON f.recording_id = substr(a.object, 11)
         WHERE a.idx >= ? AND a.idx < ? AND (a.action || '') IN ({})
         ORDER BY a.idx
         ON CONFLICT DO NOTHING",
        quoted(&FOOTAGE_ACTIONS)
    )
}

pub fn exports_sql(q: &StatisticsQuery) -> Statement {
    Statement {
        sql: format!(
            "SELECT substr(a.at, 1, 10) AS date, a.action AS action, a.outcome AS outcome, a.purpose AS purpose, COUNT(*) AS n
             FROM audit_facts a
             WHERE a.action IN ({}) AND a.outcome IN ('ok', 'refused', 'failed')
               AND a.at >= ? AND a.at < ?
             GROUP BY substr(a.at, 1, 10), a.action, a.outcome, a.purpose ORDER BY 1, 2, 3, 4",
            quoted(&EXPORT_ACTIONS)
        ),
        binds: text_range(q),
    }
}

/// Incidents name a camera (or a dock): the team and camera filters apply
/// through the camera; an officer's own numbers have none.
pub fn incidents_sql(q: &StatisticsQuery) -> Statement {
    let mut binds = range(q);
    let mut f = String::new();
    if let Some(t) = &q.team {
        f.push_str(" AND d.team = ?");
        binds.push(Bind::Text(t.clone()));
    }
    if let Some(c) = &q.device_id {
        f.push_str(" AND i.device_id = ?");
        binds.push(Bind::Text(c.clone()));
    }
    Statement {
        sql: format!(
            "SELECT {week} AS day, i.kind AS kind, COUNT(*) AS n
             FROM incidents i LEFT JOIN devices d ON d.device_id = i.device_id
             WHERE i.at >= ? AND i.at < ?{f}
             GROUP BY 1, 2 ORDER BY 1, 2",
            week = week_of_millis("i.at")
        ),
        binds,
    }
}

pub fn upload_failures_sql(q: &StatisticsQuery) -> Statement {
    Statement {
        sql: format!(
            "SELECT substr(a.at, 1, 10) AS date, a.action AS kind, COUNT(*) AS n
             FROM audit_facts a
             WHERE a.action IN ({}) AND a.outcome IN ('failed', 'refused') AND a.at >= ? AND a.at < ?
             GROUP BY substr(a.at, 1, 10), a.action ORDER BY 1, 2",
            quoted(&UPLOAD_ACTIONS)
        ),
        binds: text_range(q),
    }
}

pub fn subject_requests_sql(q: &StatisticsQuery) -> Statement {
    Statement {
        sql:
            "SELECT s.received_at AS received_at, c.due_at AS due_at, s.delivered_at AS delivered_at
             FROM subject_requests s JOIN cases c ON c.case_id = s.case_id
             WHERE s.received_at >= ? AND s.received_at < ?
             ORDER BY 1"
                .to_owned(),
        binds: range(q),
    }
}

/// How many rows `footage_accesses` and the log's own accesses differ by
/// (both ways): 0 unless someone changed the table behind the log's back.
/// No parameters; reads every footage entry (for `custos audit verify`).
pub fn projection_differences_sql() -> String {
    let from_log = format!(
        "SELECT substr(a.at, 1, 10), a.actor, COALESCE(a.object, ''), COALESCE(a.purpose, ''),
                COALESCE(a.case_id, ''), a.outcome
         FROM audit_facts a WHERE a.action IN ({})",
        quoted(&FOOTAGE_ACTIONS)
    );
    let table = "SELECT day, actor, object, purpose, case_id, outcome FROM footage_accesses";
    format!(
        "SELECT CAST((SELECT COUNT(*) FROM ({table} EXCEPT {from_log}) extra)
                   + (SELECT COUNT(*) FROM ({from_log} EXCEPT {table}) missing) AS BIGINT) AS n"
    )
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

    fn query(team: Option<&str>, device: Option<&str>, officer: Option<&str>) -> StatisticsQuery {
        StatisticsQuery {
            from: UtcMillis::from_millis(20_759 * DAY_MS + 5).unwrap(),
            to: UtcMillis::from_millis(20_780 * DAY_MS).unwrap(),
            team: team.map(str::to_owned),
            device_id: device.map(str::to_owned),
            officer_id: officer.map(str::to_owned),
        }
    }

    #[test]
    fn placeholders_are_numbered_in_order_and_each_has_its_value() {
        assert_eq!(
            numbered("a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
        for q in [
            query(None, None, None),
            query(Some("noord"), None, None),
            query(Some("noord"), Some("cam-1"), Some("boa-1")),
        ] {
            let mut all = vec![
                recordings_sql(&q),
                upload_delays_sql(&q),
                stop_reasons_sql(&q),
                firmware_sql(&q),
                deletions_sql(&q),
                holds_sql(&q),
                accesses_sql(&q),
                exports_sql(&q),
                incidents_sql(&q),
                upload_failures_sql(&q),
                subject_requests_sql(&q),
                invalidate_weeks_sql(&[1, 8]),
            ];
            all.extend(fill_week_sql(20_759));
            for s in all {
                assert_eq!(s.sql.matches('?').count(), s.binds.len(), "{}", s.sql);
            }
        }
    }

    #[test]
    fn weeks_start_on_monday_and_only_whole_ones_are_cached() {
        // 1970-01-05 and 2026-11-02 were Mondays; 2026-11-08 a Sunday.
        assert_eq!(monday_of(4 * DAY_MS), 4);
        assert_eq!(monday_of(20_759 * DAY_MS + 1), 20_759);
        assert_eq!(monday_of(20_765 * DAY_MS + DAY_MS - 1), 20_759);
        assert_eq!(monday_of(20_766 * DAY_MS), 20_766);
        // From just after Monday 20 759 to Monday 20 780 (exclusive): the
        // first week is partial, the next two whole.
        assert_eq!(cacheable_weeks(&query(None, None, None)), [20_766, 20_773]);
        assert_eq!(
            cacheable_weeks(&query(Some("noord"), None, None)),
            [20_766, 20_773]
        );
        // A camera's or an officer's numbers are counted from their index.
        assert!(cacheable_weeks(&query(None, Some("cam-1"), None)).is_empty());
        assert!(cacheable_weeks(&query(None, None, Some("boa-1"))).is_empty());
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
