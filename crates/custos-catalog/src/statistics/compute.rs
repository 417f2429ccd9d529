//! The counting itself: whole weeks from the cache, the rest live, merged
//! into one set of sources.

use super::*;

/// Everything the statistics count, for `q`: whole weeks from the cache
/// where marked, the rest (the period's ends, weeks just changed, and any
/// camera's or officer's numbers) counted live. One transaction.
pub async fn compute(runner: &mut dyn Runner, q: &StatisticsQuery) -> Result<StatisticsSources> {
    let weeks = cacheable_weeks(q);
    let cached = if weeks.is_empty() {
        Vec::new()
    } else {
        let mut m = marked(runner, &weeks).await?;
        m.sort();
        m
    };
    // The stretches of time the cache does not answer.
    let mut live: Vec<StatisticsQuery> = Vec::new();
    let mut at = q.from.as_millis();
    for w in &cached {
        if w * DAY_MS > at {
            live.push(part(q, at, w * DAY_MS));
        }
        at = (w + 7) * DAY_MS;
    }
    if at < q.to.as_millis() {
        live.push(part(q, at, q.to.as_millis()));
    }

    let mut s = StatisticsSources::default();
    let mut firmware: Vec<(String, String, u64)> = Vec::new();
    if let (Some(first), Some(last)) = (cached.first(), cached.last()) {
        let (weeks_sql, week_binds) = cached_weeks(*first, *last);
        let mut binds = week_binds.clone();
        let team = cache_team(q, &mut binds);
        s.recordings.extend(Reader::recordings(
            &runner
                .rows(Statement {
                    sql: format!(
                        "SELECT c.week AS day, CAST(SUM(c.recordings) AS BIGINT) AS recordings,
                           CAST(SUM(c.recorded_ms) AS BIGINT) AS recorded_ms, CAST(SUM(c.known) AS BIGINT) AS known,
                           CAST(SUM(c.with_prerecord) AS BIGINT) AS with_prerecord,
                           CAST(SUM(c.with_display) AS BIGINT) AS with_display,
                           CAST(SUM(c.display_activations) AS BIGINT) AS display_activations,
                           CAST(SUM(c.within_24h) AS BIGINT) AS within_24h
                         FROM week_recordings c WHERE {weeks_sql}{team} GROUP BY c.week"
                    ),
                    binds: binds.clone(),
                })
                .await?,
        )?);
        s.upload_delays.extend(Reader::upload_delays(
            &runner
                .rows(Statement {
                    sql: format!(
                        "SELECT c.week AS day, c.hours AS hours, CAST(SUM(c.n) AS BIGINT) AS n
                         FROM week_delays c WHERE {weeks_sql}{team} GROUP BY c.week, c.hours"
                    ),
                    binds: binds.clone(),
                })
                .await?,
        )?);
        s.stop_reasons.extend(Reader::kinds(
            &runner
                .rows(Statement {
                    sql: format!(
                        "SELECT c.week AS day, c.stop_reason AS kind, CAST(SUM(c.n) AS BIGINT) AS n
                         FROM week_stops c WHERE {weeks_sql}{team} GROUP BY c.week, c.stop_reason"
                    ),
                    binds: binds.clone(),
                })
                .await?,
        )?);
        firmware.extend(Reader::firmware_rows(
            &runner
                .rows(Statement {
                    sql: format!(
                        "SELECT c.firmware AS firmware, c.device_id AS device_id, CAST(SUM(c.n) AS BIGINT) AS n
                         FROM week_firmware c WHERE {weeks_sql}{team} GROUP BY c.firmware, c.device_id"
                    ),
                    binds: binds.clone(),
                })
                .await?,
        )?);
        s.deletions.extend(Reader::deletions(
            &runner
                .rows(Statement {
                    sql: format!(
                        "SELECT c.week AS day, c.reason AS kind, c.after_hold AS after_hold, CAST(SUM(c.n) AS BIGINT) AS n
                         FROM week_deletions c WHERE {weeks_sql}{team} GROUP BY c.week, c.reason, c.after_hold"
                    ),
                    binds,
                })
                .await?,
        )?);
    }
    for l in &live {
        s.recordings
            .extend(Reader::recordings(&runner.rows(recordings_sql(l)).await?)?);
        s.upload_delays.extend(Reader::upload_delays(
            &runner.rows(upload_delays_sql(l)).await?,
        )?);
        s.stop_reasons
            .extend(Reader::kinds(&runner.rows(stop_reasons_sql(l)).await?)?);
        firmware.extend(Reader::firmware_rows(&runner.rows(firmware_sql(l)).await?)?);
        s.deletions
            .extend(Reader::deletions(&runner.rows(deletions_sql(l)).await?)?);
    }
    s.firmware = merge_firmware(firmware);
    s.holds = Reader::kinds(&runner.rows(holds_sql(q)).await?)?;
    s.accesses = Reader::accesses(&runner.rows(accesses_sql(q)).await?)?;
    // An officer's own numbers are about their recordings only.
    if q.officer_id.is_none() {
        s.exports = Reader::actions(&runner.rows(exports_sql(q)).await?)?;
        s.incidents = Reader::kinds(&runner.rows(incidents_sql(q)).await?)?;
        s.upload_failures = Reader::dated_kinds(&runner.rows(upload_failures_sql(q)).await?)?;
        s.subject_requests =
            Reader::subject_requests(&runner.rows(subject_requests_sql(q)).await?)?;
    }
    normalise(&mut s);
    Ok(s)
}

pub(super) fn part(q: &StatisticsQuery, from: i64, to: i64) -> StatisticsQuery {
    StatisticsQuery {
        from: UtcMillis::from_millis(from).expect("within the query"),
        to: UtcMillis::from_millis(to).expect("within the query"),
        ..q.clone()
    }
}

/// Cameras counted once per firmware over the whole period.
pub(super) fn merge_firmware(rows: Vec<(String, String, u64)>) -> Vec<FirmwareUse> {
    let mut by: std::collections::BTreeMap<String, (std::collections::BTreeSet<String>, u64)> =
        Default::default();
    for (firmware, device, n) in rows {
        let e = by.entry(firmware).or_default();
        e.0.insert(device);
        e.1 += n;
    }
    by.into_iter()
        .map(|(firmware, (devices, n))| FirmwareUse {
            firmware: Some(firmware).filter(|f| !f.is_empty()),
            cameras: devices.len() as u64,
            recordings: n,
        })
        .collect()
}

/// One row per week and key: the cache's and the live parts merged (a week
/// is either cached or live, but a live stretch's week may meet a cached
/// neighbour's only at its edge), in order.
pub(super) fn normalise(s: &mut StatisticsSources) {
    let mut recordings: std::collections::BTreeMap<Day, RecordingDay> = Default::default();
    for r in s.recordings.drain(..) {
        let e = recordings.entry(r.day).or_insert_with(|| RecordingDay {
            day: r.day,
            ..Default::default()
        });
        e.recordings += r.recordings;
        e.recorded_ms += r.recorded_ms;
        e.known += r.known;
        e.with_prerecord += r.with_prerecord;
        e.with_display += r.with_display;
        e.display_activations += r.display_activations;
        e.uploaded_within_24h += r.uploaded_within_24h;
    }
    s.recordings = recordings.into_values().collect();
    let mut delays: std::collections::BTreeMap<(Day, i64), u64> = Default::default();
    for d in s.upload_delays.drain(..) {
        *delays.entry((d.day, d.hours)).or_default() += d.recordings;
    }
    s.upload_delays = delays
        .into_iter()
        .map(|((day, hours), recordings)| UploadDelay {
            day,
            hours,
            recordings,
        })
        .collect();
    let mut stops: std::collections::BTreeMap<(Day, String), u64> = Default::default();
    for k in s.stop_reasons.drain(..) {
        *stops.entry((k.day, k.kind)).or_default() += k.count;
    }
    s.stop_reasons = stops
        .into_iter()
        .map(|((day, kind), count)| KindDay { day, kind, count })
        .collect();
    let mut deletions: std::collections::BTreeMap<(Day, String, bool), u64> = Default::default();
    for d in s.deletions.drain(..) {
        *deletions
            .entry((d.day, d.reason, d.after_hold))
            .or_default() += d.count;
    }
    s.deletions = deletions
        .into_iter()
        .map(|((day, reason, after_hold), count)| DeletionDay {
            day,
            reason,
            after_hold,
            count,
        })
        .collect();
}

pub(super) fn count(r: &impl SqlRow, column: &str) -> Result<u64> {
    u64::try_from(r.int(column)?).map_err(|_| corrupt("negative count"))
}

pub(super) fn date_day(r: &impl SqlRow) -> Result<Day> {
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

    pub fn firmware_rows(rows: &[impl SqlRow]) -> Result<Vec<(String, String, u64)>> {
        rows.iter()
            .map(|r| Ok((r.text("firmware")?, r.text("device_id")?, count(r, "n")?)))
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
