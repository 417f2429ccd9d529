//! Evaluation statistics (issue 9, ADR 0011): the catalog's per-day
//! sources turned into weekly tables for a pilot's evaluation, with small
//! counts suppressed so that no officer or citizen can be singled out.
//! The same [`Report`] is the page, the council's printable report, the CSV
//! and `custos stats --json`: one computation, four views.
#![forbid(unsafe_code)]

pub mod svg;

use std::collections::BTreeMap;

use custos_catalog::statistics::{Day, StatisticsQuery, StatisticsSources};
use custos_format::UtcMillis;
use jiff::civil::Date;
use serde::{Serialize, Serializer};

/// The default suppression threshold: a count of 1 to 4 is shown as "< 5".
pub const DEFAULT_K: u64 = 5;

/// The longest period one report covers: a pilot's evaluation year, and a
/// bit (councils ask for 12 months; a leap year plus a partial week).
pub const MAX_DAYS: i64 = 400;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PeriodError {
    #[error("`{0}` is not a date (YYYY-MM-DD)")]
    NotADate(String),
    #[error("the period ends before it starts")]
    Backwards,
    #[error("the period is longer than {MAX_DAYS} days")]
    TooLong,
}

/// Whole UTC days, both ends included, as people name a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    #[serde(serialize_with = "iso_date")]
    pub from: Date,
    /// The last day counted.
    #[serde(serialize_with = "iso_date")]
    pub to: Date,
}

fn iso_date<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(d)
}

fn day_number(d: Date) -> Day {
    i64::from(
        d.since(jiff::civil::date(1970, 1, 1))
            .expect("dates after 1970")
            .get_days(),
    )
}

fn date_of(day: Day) -> Date {
    jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(day))
        .expect("a day of the catalog")
}

impl Period {
    pub fn parse(from: &str, to: &str) -> Result<Period, PeriodError> {
        let date = |s: &str| -> Result<Date, PeriodError> {
            let s = s.trim();
            if s.len() != 10 {
                return Err(PeriodError::NotADate(s.chars().take(40).collect()));
            }
            let d: Date = s
                .parse()
                .map_err(|_| PeriodError::NotADate(s.chars().take(40).collect()))?;
            if d.year() < 1970 || d.year() > 9998 {
                return Err(PeriodError::NotADate(s.to_owned()));
            }
            Ok(d)
        };
        Period::new(date(from)?, date(to)?)
    }

    pub fn new(from: Date, to: Date) -> Result<Period, PeriodError> {
        if to < from {
            return Err(PeriodError::Backwards);
        }
        if day_number(to) - day_number(from) + 1 > MAX_DAYS {
            return Err(PeriodError::TooLong);
        }
        Ok(Period { from, to })
    }

    /// The period widened to whole ISO weeks (Monday to Sunday): the
    /// buckets every non-officer report is counted in, so that two reports
    /// never differ by part of a week.
    pub fn whole_weeks(&self) -> Period {
        let from = day_number(self.from);
        let to = day_number(self.to);
        let monday = |day: Day| day - (day + 3).rem_euclid(7);
        Period {
            from: date_of(monday(from)),
            to: date_of(monday(to) + 6),
        }
    }

    /// The period cut at the end of the last week closed by `today` (the
    /// Sunday before this week's Monday): a week still being counted would
    /// give its new recordings away to two readings a day apart. `None` if
    /// no closed week is left.
    pub fn closed_by(&self, today: UtcMillis) -> Option<Period> {
        let day = today.as_millis().div_euclid(86_400_000);
        let last_sunday = day - (day + 3).rem_euclid(7) - 1;
        let to = day_number(self.to).min(last_sunday);
        (to >= day_number(self.from)).then(|| Period {
            from: self.from,
            to: date_of(to),
        })
    }

    /// The last `days` days up to and including `today`.
    pub fn ending(today: UtcMillis, days: i64) -> Period {
        let to = date_of(today.as_millis().div_euclid(86_400_000));
        let from = date_of(day_number(to) - days.clamp(1, MAX_DAYS) + 1);
        Period { from, to }
    }

    /// The catalog's half-open query for this period.
    pub fn query(&self) -> StatisticsQuery {
        let ms = |d: Date| UtcMillis::from_millis(day_number(d) * 86_400_000).expect("in range");
        StatisticsQuery {
            from: ms(self.from),
            to: ms(self
                .to
                .checked_add(jiff::Span::new().days(1))
                .expect("in range")),
            team: None,
            device_id: None,
            officer_id: None,
        }
    }

    /// The ISO weeks the period touches, in order (`2026-W45`).
    pub fn weeks(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut day = day_number(self.from);
        while day <= day_number(self.to) {
            let w = week_of(day);
            if out.last() != Some(&w) {
                out.push(w);
            }
            day += 1;
        }
        out
    }
}

/// A day's ISO week, as `2026-W45`.
pub fn week_of(day: Day) -> String {
    let iso = date_of(day).iso_week_date();
    format!("{:04}-W{:02}", iso.year(), iso.week())
}

/// One number of a table. Serialised as the number, or as the text `"<5"`
/// when suppressed, or `null` when there is nothing to say (a share of none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell {
    Shown(f64),
    Suppressed(u64),
    Empty,
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Shown(v) => s.serialize_f64(*v),
            Cell::Suppressed(k) => s.serialize_str(&format!("<{k}")),
            Cell::Empty => s.serialize_none(),
        }
    }
}

impl Cell {
    /// As the CSV and the page show it.
    pub fn text(&self) -> String {
        match self {
            Cell::Shown(v) if v.fract() == 0.0 => format!("{v:.0}"),
            Cell::Shown(v) => format!("{v:.1}"),
            Cell::Suppressed(k) => format!("<{k}"),
            Cell::Empty => String::new(),
        }
    }

    pub fn value(&self) -> Option<f64> {
        match self {
            Cell::Shown(v) => Some(*v),
            _ => None,
        }
    }
}

/// What a table's numbers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    Count,
    Minutes,
    Percent,
    Hours,
    Days,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// A stable name (`recordings`, `complaint`, `storage-full`, …); the
    /// page translates it.
    pub key: String,
    pub unit: Unit,
    /// One per column of the table.
    pub cells: Vec<Cell>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Table {
    /// A stable name (`activations`, `accesses`, …).
    pub id: &'static str,
    /// The weeks and `total`, or (firmware) `cameras` and `recordings`.
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// Whose numbers: the filters applied, and whether small counts are hidden.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Scope {
    pub team: Option<String>,
    pub device_id: Option<String>,
    /// Set for an officer's own numbers (never suppressed: they are theirs).
    pub officer_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub period: Period,
    pub scope: Scope,
    /// Counts from 1 to k − 1 are suppressed (1: nothing is).
    pub k: u64,
    pub tables: Vec<Table>,
}

/// A weekly series before suppression: per week, the value and how many
/// people's events it is made of (`n`, which decides suppression).
#[derive(Clone, Debug)]
struct Series {
    key: String,
    unit: Unit,
    values: Vec<Option<f64>>,
    n: Vec<u64>,
    total: Option<f64>,
    total_n: u64,
}

impl Series {
    fn new(key: &str, unit: Unit, weeks: usize) -> Series {
        Series {
            key: key.to_owned(),
            unit,
            values: vec![None; weeks],
            n: vec![0; weeks],
            total: None,
            total_n: 0,
        }
    }

    /// A count per week: the value is its own `n`.
    fn counts(key: &str, counts: &[u64]) -> Series {
        let mut s = Series::new(key, Unit::Count, counts.len());
        for (i, c) in counts.iter().enumerate() {
            s.values[i] = Some(*c as f64);
            s.n[i] = *c;
        }
        let total: u64 = counts.iter().sum();
        s.total = Some(total as f64);
        s.total_n = total;
        s
    }
}

/// Small-count suppression for one row: a cell made of 1 to k − 1 events
/// is hidden, and so is the row's total whenever any of its cells is. A
/// week is the same fixed bucket in every report (periods are whole ISO
/// weeks), so every number shown is a sum of shown weeks: no difference
/// of two reports, or of a total and its weeks, gives a hidden one (issue
/// 20). Zero is shown: it singles nobody out.
fn suppress(series: &Series, k: u64, with_total: bool) -> Row {
    let small = |n: u64| n > 0 && n < k;
    let hidden: Vec<bool> = series.n.iter().map(|&n| small(n)).collect();
    let total_hidden = small(series.total_n) || hidden.iter().any(|h| *h);
    let cell = |value: Option<f64>, hide: bool| match value {
        _ if hide => Cell::Suppressed(k),
        Some(v) => Cell::Shown((v * 10.0).round() / 10.0),
        None => Cell::Empty,
    };
    let mut cells: Vec<Cell> = series
        .values
        .iter()
        .zip(&hidden)
        .map(|(v, h)| cell(*v, *h))
        .collect();
    if with_total {
        cells.push(cell(series.total, total_hidden));
    }
    Row {
        key: series.key.clone(),
        unit: series.unit,
        cells,
    }
}

/// A share in percent, hidden where its numerator or denominator is.
fn share(key: &str, part: &[u64], whole: &[u64], k: u64) -> Row {
    let small = |n: u64| n > 0 && n < k;
    let pct = |p: u64, w: u64| {
        if w == 0 {
            Cell::Empty
        } else if small(p) || small(w) {
            Cell::Suppressed(k)
        } else {
            Cell::Shown((p as f64 * 1000.0 / w as f64).round() / 10.0)
        }
    };
    let mut cells: Vec<Cell> = part.iter().zip(whole).map(|(p, w)| pct(*p, *w)).collect();
    // The whole period's share is hidden where a week's is (as totals are).
    let any_hidden = cells.iter().any(|c| matches!(c, Cell::Suppressed(_)));
    cells.push(if any_hidden {
        Cell::Suppressed(k)
    } else {
        pct(part.iter().sum(), whole.iter().sum())
    });
    Row {
        key: key.to_owned(),
        unit: Unit::Percent,
        cells,
    }
}

/// The median of a weighted list of (value, count), and how many.
fn median(mut values: Vec<(i64, u64)>) -> Option<(f64, u64)> {
    values.sort();
    let n: u64 = values.iter().map(|(_, c)| c).sum();
    if n == 0 {
        return None;
    }
    let middle = |rank: u64| {
        let mut seen = 0;
        for (v, c) in &values {
            seen += c;
            if seen > rank {
                return *v as f64;
            }
        }
        unreachable!("rank below the total")
    };
    let m = if n % 2 == 1 {
        middle(n / 2)
    } else {
        (middle(n / 2 - 1) + middle(n / 2)) / 2.0
    };
    Some((m, n))
}

/// Builds the report from the catalog's sources. `k` is the suppression
/// threshold; an officer's own numbers are built with `k = 1`.
pub fn build(period: Period, scope: Scope, k: u64, s: &StatisticsSources) -> Report {
    let k = if scope.officer_id.is_some() {
        1
    } else {
        k.max(1)
    };
    let weeks = period.weeks();
    let index: BTreeMap<&str, usize> = weeks
        .iter()
        .enumerate()
        .map(|(i, w)| (w.as_str(), i))
        .collect();
    let w = |day: Day| -> Option<usize> { index.get(week_of(day).as_str()).copied() };
    let n = weeks.len();
    let mut columns = weeks.clone();
    columns.push("total".into());
    let zeros = || vec![0u64; n];
    let mut tables = Vec::new();
    let table = |id: &'static str, rows: Vec<Row>| Table {
        id,
        columns: columns.clone(),
        rows,
    };
    // A weekly count per key, in the order the keys are first given.
    let by_key = |items: &mut dyn Iterator<Item = (Day, String, u64)>, keys: &[&str]| {
        let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for key in keys {
            out.insert((*key).to_owned(), zeros());
        }
        for (day, key, count) in items {
            if let Some(i) = w(day) {
                out.entry(key).or_insert_with(zeros)[i] += count;
            }
        }
        out
    };

    // Recordings: activations, minutes, pre-record, the front display.
    let mut recordings = zeros();
    let mut minutes = Series::new("minutes", Unit::Minutes, n);
    let mut known = zeros();
    let mut prerecord = zeros();
    let mut with_display = zeros();
    let mut display = zeros();
    let mut within_24h = zeros();
    let mut recorded_ms = vec![0u64; n];
    for r in &s.recordings {
        let Some(i) = w(r.day) else { continue };
        recordings[i] += r.recordings;
        recorded_ms[i] += r.recorded_ms;
        known[i] += r.known;
        prerecord[i] += r.with_prerecord;
        with_display[i] += r.with_display;
        display[i] += r.display_activations;
        within_24h[i] += r.uploaded_within_24h;
    }
    for i in 0..n {
        minutes.values[i] = Some(recorded_ms[i] as f64 / 60_000.0);
        minutes.n[i] = recordings[i];
    }
    minutes.total = Some(recorded_ms.iter().sum::<u64>() as f64 / 60_000.0);
    minutes.total_n = recordings.iter().sum();
    tables.push(table(
        "activations",
        vec![suppress(
            &Series::counts("recordings", &recordings),
            k,
            true,
        )],
    ));
    tables.push(table("recorded-minutes", vec![suppress(&minutes, k, true)]));
    tables.push(table(
        "prerecord",
        vec![
            suppress(&Series::counts("with-prerecord", &prerecord), k, true),
            share("share", &prerecord, &known, k),
        ],
    ));
    let mut activations = Series::counts("display-activations", &display);
    // How many recordings the activations come from decides, not how many times.
    activations.n = with_display.clone();
    activations.total_n = with_display.iter().sum();
    tables.push(table(
        "front-display",
        vec![
            suppress(
                &Series::counts("recordings-with-display", &with_display),
                k,
                true,
            ),
            suppress(&activations, k, true),
        ],
    ));

    // From the end of a recording to its storage on the server.
    let mut delays: Vec<Vec<(i64, u64)>> = vec![Vec::new(); n];
    for d in &s.upload_delays {
        if let Some(i) = w(d.day) {
            delays[i].push((d.hours, d.recordings));
        }
    }
    let mut median_hours = Series::new("median-hours", Unit::Hours, n);
    for (i, list) in delays.iter().enumerate() {
        if let Some((m, count)) = median(list.clone()) {
            median_hours.values[i] = Some(m);
            median_hours.n[i] = count;
        }
    }
    if let Some((m, count)) = median(delays.concat()) {
        median_hours.total = Some(m);
        median_hours.total_n = count;
    }
    tables.push(table(
        "upload-delay",
        vec![
            suppress(&median_hours, k, true),
            share("within-24h", &within_24h, &known, k),
        ],
    ));

    // Holds per case kind and accesses per purpose: what others do about a
    // recording, which an officer's own view leaves out (an officer does
    // not learn that a complaint or a subject request concerns them).
    if scope.officer_id.is_none() {
        // Holds per case kind.
        let holds = by_key(
            &mut s.holds.iter().map(|h| (h.day, h.kind.clone(), h.count)),
            &[
                "incident",
                "complaint",
                "subject-access-request",
                "police-request",
            ],
        );
        tables.push(table(
            "holds",
            holds
                .iter()
                .map(|(key, counts)| suppress(&Series::counts(key, counts), k, true))
                .collect(),
        ));

        // Accesses per purpose; refused attempts in one row of their own.
        let accesses = by_key(
            &mut s.accesses.iter().map(|a| {
                let key = if a.outcome == "ok" {
                    a.purpose.clone().unwrap_or_else(|| "none".into())
                } else {
                    "refused".into()
                };
                (a.day, key, a.accesses)
            }),
            &[],
        );
        tables.push(table(
            "accesses",
            accesses
                .iter()
                .map(|(key, counts)| suppress(&Series::counts(key, counts), k, true))
                .collect(),
        ));
    }

    if scope.officer_id.is_none() {
        let exports = by_key(
            &mut s
                .exports
                .iter()
                .filter(|e| e.outcome == "ok")
                .map(|e| (e.day, e.action.clone(), e.count)),
            &[
                "export.create",
                "export.download",
                "subject-request.deliver",
            ],
        );
        tables.push(table(
            "exports",
            exports
                .iter()
                .map(|(key, counts)| suppress(&Series::counts(key, counts), k, true))
                .collect(),
        ));

        // Subject access requests, by the week they were received.
        let mut received = zeros();
        let mut answered = zeros();
        let mut in_time = zeros();
        let mut turnaround: Vec<Vec<(i64, u64)>> = vec![Vec::new(); n];
        for r in &s.subject_requests {
            let Some(i) = w(r.received_at.as_millis().div_euclid(86_400_000)) else {
                continue;
            };
            received[i] += 1;
            if let Some(done) = r.delivered_at {
                answered[i] += 1;
                if r.due_at.is_none_or(|due| done <= due) {
                    in_time[i] += 1;
                }
                let days = (done.as_millis() - r.received_at.as_millis()).div_euclid(86_400_000);
                turnaround[i].push((days, 1));
            }
        }
        let mut median_days = Series::new("median-days-to-answer", Unit::Days, n);
        for (i, list) in turnaround.iter().enumerate() {
            if let Some((m, count)) = median(list.clone()) {
                median_days.values[i] = Some(m);
                median_days.n[i] = count;
            }
        }
        if let Some((m, count)) = median(turnaround.concat()) {
            median_days.total = Some(m);
            median_days.total_n = count;
        }
        tables.push(table(
            "subject-requests",
            vec![
                suppress(&Series::counts("received", &received), k, true),
                suppress(&Series::counts("answered", &answered), k, true),
                share("answered-within-month", &in_time, &answered, k),
                suppress(&median_days, k, true),
            ],
        ));
    }

    // Deletions: on schedule, or after a hold kept the recording longer.
    let mut on_schedule = zeros();
    let mut after_hold = zeros();
    for d in &s.deletions {
        if let Some(i) = w(d.day) {
            if d.after_hold {
                after_hold[i] += d.count;
            } else {
                on_schedule[i] += d.count;
            }
        }
    }
    tables.push(table(
        "deletions",
        vec![
            suppress(&Series::counts("on-schedule", &on_schedule), k, true),
            suppress(&Series::counts("after-hold", &after_hold), k, true),
        ],
    ));

    // Integrity incidents and camera health are about devices, not people:
    // not suppressed.
    if scope.officer_id.is_none() {
        let incidents = by_key(
            &mut s.incidents.iter().map(|i| (i.day, i.kind.clone(), i.count)),
            &[],
        );
        tables.push(table(
            "incidents",
            incidents
                .iter()
                .map(|(key, counts)| suppress(&Series::counts(key, counts), 1, true))
                .collect(),
        ));
    }
    let mut health = by_key(
        &mut s
            .stop_reasons
            .iter()
            .filter(|r| r.kind == "storage-full" || r.kind == "power-loss")
            .map(|r| (r.day, format!("stopped-{}", r.kind), r.count)),
        &["stopped-storage-full", "stopped-power-loss"],
    );
    if scope.officer_id.is_none() {
        let failures = health.entry("upload-failures".into()).or_insert_with(zeros);
        for f in &s.upload_failures {
            if let Some(i) = w(f.day) {
                failures[i] += f.count;
            }
        }
    }
    tables.push(table(
        "camera-health",
        health
            .iter()
            .map(|(key, counts)| suppress(&Series::counts(key, counts), 1, true))
            .collect(),
    ));
    tables.push(Table {
        id: "firmware",
        columns: vec!["cameras".into(), "recordings".into()],
        rows: s
            .firmware
            .iter()
            .map(|f| Row {
                key: f.firmware.clone().unwrap_or_else(|| "unknown".into()),
                unit: Unit::Count,
                // Recordings per version would add up to the period's
                // recordings, a total hidden when a week is: for a reading
                // with suppression, only the cameras are counted.
                cells: vec![
                    Cell::Shown(f.cameras as f64),
                    if k > 1 {
                        Cell::Suppressed(k)
                    } else {
                        Cell::Shown(f.recordings as f64)
                    },
                ],
            })
            .collect(),
    });
    Report {
        period,
        scope,
        k,
        tables,
    }
}

impl Report {
    pub fn table(&self, id: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.id == id)
    }

    /// One line per number: `table,row,column,value` (the value as shown:
    /// a number, `<5`, or empty). Every field is a fixed name, a week, a
    /// purpose or a team name an administrator chose (identifiers: no
    /// commas, quotes or formula characters).
    pub fn csv(&self) -> String {
        let mut out = String::from("table,row,column,value\n");
        for t in &self.tables {
            for r in &t.rows {
                for (column, cell) in t.columns.iter().zip(&r.cells) {
                    out.push_str(&format!("{},{},{},{}\n", t.id, r.key, column, cell.text()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
