//! The weekly cache. A year of recordings' facts and tombstones is read
//! once per week and kept per team in `week_*` tables, marked done in
//! `statistics_weeks`. Whatever changes a week's facts or tombstones
//! (committing or importing recordings, deleting them) drops the week's
//! mark in the same transaction ([`invalidate_weeks_sql`]); a page view then
//! reads the marked weeks from the cache and counts the rest live.

use super::*;

/// Drops the marks of the given weeks (Mondays), in the writer's transaction.
pub fn invalidate_weeks_sql(weeks: &[Day]) -> Statement {
    Statement {
        sql: format!(
            "DELETE FROM statistics_weeks WHERE week IN ({})",
            vec!["?"; weeks.len()].join(", ")
        ),
        binds: weeks.iter().map(|w| Bind::Int(*w)).collect(),
    }
}

/// The statements that count week `monday` into the cache.
pub fn fill_week_sql(monday: Day) -> Vec<Statement> {
    let (start, end) = (monday * DAY_MS, (monday + 7) * DAY_MS);
    let week = || vec![Bind::Int(monday), Bind::Int(start), Bind::Int(end)];
    let mut out: Vec<Statement> = [
        "week_recordings",
        "week_delays",
        "week_stops",
        "week_firmware",
        "week_deletions",
    ]
    .iter()
    .map(|t| Statement {
        sql: format!("DELETE FROM {t} WHERE week = ?"),
        binds: vec![Bind::Int(monday)],
    })
    .collect();
    out.push(Statement {
        sql: format!(
            "INSERT INTO week_recordings (week, team, recordings, recorded_ms, known, with_prerecord,
                                          with_display, display_activations, within_24h)
             SELECT ?, COALESCE(f.team, ''), {RECORDING_SUMS}
             FROM recording_facts f WHERE f.started_at >= ? AND f.started_at < ?
             GROUP BY COALESCE(f.team, '')
             ON CONFLICT DO NOTHING"
        ),
        binds: week(),
    });
    out.push(Statement {
        sql: "INSERT INTO week_delays (week, team, hours, n)
              SELECT ?, COALESCE(f.team, ''), (f.stored_at - f.ended_at) / 3600000, COUNT(*)
              FROM recording_facts f
              WHERE f.started_at >= ? AND f.started_at < ? AND f.stored_at IS NOT NULL
              GROUP BY COALESCE(f.team, ''), (f.stored_at - f.ended_at) / 3600000
              ON CONFLICT DO NOTHING"
            .into(),
        binds: week(),
    });
    out.push(Statement {
        sql: "INSERT INTO week_stops (week, team, stop_reason, n)
              SELECT ?, COALESCE(f.team, ''), f.stop_reason, COUNT(*)
              FROM recording_facts f
              WHERE f.started_at >= ? AND f.started_at < ? AND f.stop_reason IS NOT NULL
              GROUP BY COALESCE(f.team, ''), f.stop_reason
              ON CONFLICT DO NOTHING"
            .into(),
        binds: week(),
    });
    out.push(Statement {
        sql: "INSERT INTO week_firmware (week, team, firmware, device_id, n)
              SELECT ?, COALESCE(f.team, ''), COALESCE(f.firmware, ''), f.device_id, COUNT(*)
              FROM recording_facts f WHERE f.started_at >= ? AND f.started_at < ?
              GROUP BY COALESCE(f.team, ''), COALESCE(f.firmware, ''), f.device_id
              ON CONFLICT DO NOTHING"
            .into(),
        binds: week(),
    });
    out.push(Statement {
        sql: "INSERT INTO week_deletions (week, team, reason, after_hold, n)
              SELECT ?, COALESCE(f.team, ''), t.reason,
                     CAST(CASE WHEN EXISTS (SELECT 1 FROM holds h WHERE h.recording_id = t.recording_id) THEN 1 ELSE 0 END AS BIGINT),
                     COUNT(*)
              FROM tombstones t LEFT JOIN recording_facts f ON f.recording_id = t.recording_id
              WHERE t.deleted_at >= ? AND t.deleted_at < ?
              GROUP BY 2, 3, 4
              ON CONFLICT DO NOTHING"
            .into(),
        binds: week(),
    });
    out.push(Statement {
        sql: "INSERT INTO statistics_weeks (week) VALUES (?) ON CONFLICT DO NOTHING".into(),
        binds: vec![Bind::Int(monday)],
    });
    out
}

/// The whole weeks of the query that the cache may answer (Mondays): none
/// for a camera's or an officer's numbers, which their indexes answer.
pub fn cacheable_weeks(q: &StatisticsQuery) -> Vec<Day> {
    if q.device_id.is_some() || q.officer_id.is_some() {
        return Vec::new();
    }
    let (from, to) = (q.from.as_millis(), q.to.as_millis());
    let mut monday = monday_of(from);
    if monday * DAY_MS < from {
        monday += 7;
    }
    let mut out = Vec::new();
    while (monday + 7) * DAY_MS <= to {
        out.push(monday);
        monday += 7;
    }
    out
}

pub(super) fn marked_sql(weeks: &[Day]) -> Statement {
    Statement {
        sql: format!(
            "SELECT week AS day FROM statistics_weeks WHERE week IN ({})",
            vec!["?"; weeks.len()].join(", ")
        ),
        binds: weeks.iter().map(|w| Bind::Int(*w)).collect(),
    }
}

pub(super) async fn marked(runner: &mut dyn Runner, weeks: &[Day]) -> Result<Vec<Day>> {
    let mut out = Vec::new();
    // A few hundred placeholders at most per statement.
    for part in weeks.chunks(200) {
        for row in runner.rows(marked_sql(part)).await? {
            out.push(row.int("day")?);
        }
    }
    Ok(out)
}

/// Counts the query's cacheable weeks that are not in the cache yet into
/// it. Run in a writing transaction before [`compute`].
pub async fn fill_cache(runner: &mut dyn Runner, q: &StatisticsQuery) -> Result<usize> {
    let weeks = cacheable_weeks(q);
    if weeks.is_empty() {
        return Ok(0);
    }
    let done = marked(runner, &weeks).await?;
    let mut filled = 0;
    for w in weeks.iter().filter(|w| !done.contains(w)) {
        for statement in fill_week_sql(*w) {
            runner.execute(statement).await?;
        }
        filled += 1;
    }
    Ok(filled)
}

pub(super) fn cache_team(q: &StatisticsQuery, binds: &mut Vec<Bind>) -> String {
    match &q.team {
        Some(t) => {
            binds.push(Bind::Text(t.clone()));
            " AND c.team = ?".into()
        }
        None => String::new(),
    }
}

/// The cached weeks `from..=to` (Mondays) that are marked.
pub(super) fn cached_weeks(first: Day, last: Day) -> (String, Vec<Bind>) {
    (
        "c.week >= ? AND c.week <= ? AND c.week IN (SELECT week FROM statistics_weeks)".into(),
        vec![Bind::Int(first), Bind::Int(last)],
    )
}
