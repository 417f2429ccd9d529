use custos_catalog::statistics::*;

use super::*;

fn period() -> Period {
    // Monday 2026-11-02 to Sunday 2026-11-22: weeks 45, 46 and 47.
    Period::parse("2026-11-02", "2026-11-22").unwrap()
}

const W45: Day = 20_759;

fn recordings(per_week: [u64; 3]) -> Vec<RecordingDay> {
    per_week
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| RecordingDay {
            day: W45 + 7 * i as i64 + 2,
            recordings: *n,
            recorded_ms: n * 90_000,
            known: *n,
            with_prerecord: n / 2,
            with_display: n / 3,
            display_activations: n / 3 * 2,
            uploaded_within_24h: *n,
        })
        .collect()
}

fn row<'a>(r: &'a Report, table: &str, key: &str) -> &'a Row {
    r.table(table)
        .unwrap()
        .rows
        .iter()
        .find(|row| row.key == key)
        .unwrap_or_else(|| panic!("{table}/{key}"))
}

fn texts(row: &Row) -> Vec<String> {
    row.cells.iter().map(Cell::text).collect()
}

#[test]
fn periods_are_whole_days_and_bad_ones_are_named() {
    let p = period();
    assert_eq!(p.weeks(), ["2026-W45", "2026-W46", "2026-W47"]);
    let q = p.query();
    assert_eq!(q.from.to_string(), "2026-11-02T00:00:00.000Z");
    assert_eq!(
        q.to.to_string(),
        "2026-11-23T00:00:00.000Z",
        "the last day is counted whole"
    );
    // ISO weeks across a year's end.
    assert_eq!(
        Period::parse("2026-12-28", "2027-01-04").unwrap().weeks(),
        ["2026-W53", "2027-W01"]
    );
    for (from, to, error) in [
        ("2026-11-02", "2026-11-01", PeriodError::Backwards),
        ("2025-01-01", "2026-12-31", PeriodError::TooLong),
        (
            "2026-11-2",
            "2026-11-22",
            PeriodError::NotADate("2026-11-2".into()),
        ),
        (
            "garbage",
            "2026-11-22",
            PeriodError::NotADate("garbage".into()),
        ),
        (
            "2026-02-30",
            "2026-03-01",
            PeriodError::NotADate("2026-02-30".into()),
        ),
        (
            "1969-12-31",
            "1970-01-01",
            PeriodError::NotADate("1969-12-31".into()),
        ),
        (
            "2026-11-02'; DROP",
            "2026-11-22",
            PeriodError::NotADate("2026-11-02'; DROP".into()),
        ),
    ] {
        assert_eq!(Period::parse(from, to), Err(error), "{from} {to}");
    }
    let ending = Period::ending(UtcMillis::from_millis(W45 * 86_400_000 + 5).unwrap(), 7);
    assert_eq!(
        (ending.from.to_string(), ending.to.to_string()),
        ("2026-10-27".into(), "2026-11-02".into())
    );
}

#[test]
fn small_counts_are_suppressed_and_cannot_be_had_by_subtraction() {
    let sources = StatisticsSources {
        recordings: recordings([12, 3, 20]),
        ..Default::default()
    };
    let r = build(period(), Scope::default(), 5, &sources);
    // Week 46 has 3: hidden, and with it the total (35 − 12 − 20 would
    // give it back). Every number shown is a sum of shown weeks.
    assert_eq!(
        texts(row(&r, "activations", "recordings")),
        ["12", "<5", "20", "<5"]
    );
    // Minutes follow the recordings they are made of.
    assert_eq!(
        texts(row(&r, "recorded-minutes", "minutes")),
        ["18", "<5", "30", "<5"]
    );
    // A share is hidden where its part or whole is a small count, and the
    // period's share where a week's is.
    assert_eq!(
        texts(row(&r, "prerecord", "share")),
        ["50", "<5", "50", "<5"]
    );
    // Nothing is a small count at k = 1 (an officer's own numbers).
    let own = build(
        period(),
        Scope {
            officer_id: Some("boa-1".into()),
            ..Default::default()
        },
        5,
        &sources,
    );
    assert_eq!(own.k, 1);
    assert_eq!(
        texts(row(&own, "activations", "recordings")),
        ["12", "3", "20", "35"]
    );
    assert!(own.table("exports").is_none() && own.table("subject-requests").is_none());
    assert!(
        own.table("holds").is_none() && own.table("accesses").is_none(),
        "an officer does not learn what others did about their recordings"
    );
    // Two small weeks; a small total hides itself.
    let r = build(
        period(),
        Scope::default(),
        5,
        &StatisticsSources {
            recordings: recordings([2, 0, 1]),
            ..Default::default()
        },
    );
    assert_eq!(
        texts(row(&r, "activations", "recordings")),
        ["<5", "0", "<5", "<5"]
    );
    // The threshold is the deployment's.
    let r = build(
        period(),
        Scope::default(),
        13,
        &StatisticsSources {
            recordings: recordings([12, 30, 20]),
            ..Default::default()
        },
    );
    assert_eq!(
        texts(row(&r, "activations", "recordings")),
        ["<13", "30", "20", "<13"]
    );
    // Periods widen to whole ISO weeks, so a report never counts part of
    // a week: a Wednesday-to-Tuesday period is counted Monday to Sunday.
    let odd = Period::parse("2026-11-04", "2026-11-17").unwrap();
    let whole = odd.whole_weeks();
    assert_eq!(
        (whole.from.to_string(), whole.to.to_string()),
        ("2026-11-02".into(), "2026-11-22".into())
    );
    assert_eq!(whole.weeks(), odd.weeks());
    assert_eq!(period().whole_weeks(), period());
    // A week still being counted is left out: read on the Wednesday of
    // week 47, the period ends on the Sunday of week 46.
    let wednesday = UtcMillis::from_millis((W45 + 16) * 86_400_000 + 5).unwrap();
    let closed = period().closed_by(wednesday).unwrap();
    assert_eq!(closed.to.to_string(), "2026-11-15");
    assert_eq!(closed.weeks(), ["2026-W45", "2026-W46"]);
    let monday45 = UtcMillis::from_millis(W45 * 86_400_000).unwrap();
    assert_eq!(period().closed_by(monday45), None, "no closed week yet");
    let sunday = Period::parse("2026-11-08", "2026-11-08")
        .unwrap()
        .whole_weeks();
    assert_eq!(
        (sunday.from.to_string(), sunday.to.to_string()),
        ("2026-11-02".into(), "2026-11-08".into())
    );
}

#[test]
fn medians_and_shares_come_from_the_days_of_their_week() {
    let delays = vec![
        UploadDelay {
            day: W45,
            hours: 1,
            recordings: 3,
        },
        UploadDelay {
            day: W45 + 1,
            hours: 30,
            recordings: 2,
        },
        UploadDelay {
            day: W45 + 7,
            hours: 2,
            recordings: 6,
        },
        // Outside the period: not counted.
        UploadDelay {
            day: W45 + 30,
            hours: 99,
            recordings: 50,
        },
    ];
    let r = build(
        period(),
        Scope::default(),
        1,
        &StatisticsSources {
            upload_delays: delays,
            ..Default::default()
        },
    );
    // Week 45: 1,1,1,30,30 → 1; week 46: 2; all: 1×3, 2×6, 30×2 → the 6th of 11 is 2.
    assert_eq!(
        texts(row(&r, "upload-delay", "median-hours")),
        ["1", "2", "", "2"]
    );
    assert_eq!(median(vec![(4, 1), (1, 1)]), Some((2.5, 2)));
    assert_eq!(median(vec![]), None);
}

#[test]
fn every_source_lands_in_its_table_and_the_csv_says_the_same() {
    let sources = StatisticsSources {
        recordings: recordings([10, 10, 10]),
        holds: vec![KindDay {
            day: W45,
            kind: "complaint".into(),
            count: 6,
        }],
        accesses: vec![
            AccessDay {
                day: W45,
                purpose: Some("complaint".into()),
                outcome: "ok".into(),
                accesses: 7,
            },
            AccessDay {
                day: W45 + 8,
                purpose: Some("complaint".into()),
                outcome: "ok".into(),
                accesses: 5,
            },
            AccessDay {
                day: W45 + 8,
                purpose: None,
                outcome: "refused".into(),
                accesses: 2,
            },
        ],
        exports: vec![
            ActionDay {
                day: W45,
                action: "export.create".into(),
                outcome: "ok".into(),
                purpose: None,
                count: 5,
            },
            ActionDay {
                day: W45,
                action: "export.create".into(),
                outcome: "refused".into(),
                purpose: None,
                count: 9,
            },
        ],
        deletions: vec![
            DeletionDay {
                day: W45 + 15,
                reason: "retention-period".into(),
                after_hold: false,
                count: 40,
            },
            DeletionDay {
                day: W45 + 15,
                reason: "retention-period".into(),
                after_hold: true,
                count: 6,
            },
        ],
        incidents: vec![KindDay {
            day: W45 + 3,
            kind: "gap".into(),
            count: 1,
        }],
        stop_reasons: vec![KindDay {
            day: W45 + 3,
            kind: "power-loss".into(),
            count: 2,
        }],
        upload_failures: vec![KindDay {
            day: W45 + 4,
            kind: "ingest.complete".into(),
            count: 1,
        }],
        firmware: vec![FirmwareUse {
            firmware: Some("1.2.0".into()),
            cameras: 3,
            recordings: 30,
        }],
        subject_requests: vec![
            SubjectRequestTimes {
                received_at: UtcMillis::from_millis(W45 * 86_400_000).unwrap(),
                due_at: Some(UtcMillis::from_millis((W45 + 30) * 86_400_000).unwrap()),
                delivered_at: Some(UtcMillis::from_millis((W45 + 12) * 86_400_000).unwrap()),
            };
            6
        ],
        ..Default::default()
    };
    let r = build(period(), Scope::default(), 5, &sources);
    assert_eq!(texts(row(&r, "holds", "complaint")), ["6", "0", "0", "6"]);
    assert_eq!(
        texts(row(&r, "holds", "police-request")),
        ["0", "0", "0", "0"]
    );
    assert_eq!(
        texts(row(&r, "accesses", "complaint")),
        ["7", "5", "0", "12"]
    );
    assert_eq!(
        texts(row(&r, "accesses", "refused")),
        ["0", "<5", "0", "<5"]
    );
    assert_eq!(
        texts(row(&r, "exports", "export.create")),
        ["5", "0", "0", "5"],
        "refused exports are not exports"
    );
    assert_eq!(
        texts(row(&r, "deletions", "on-schedule")),
        ["0", "0", "40", "40"]
    );
    assert_eq!(
        texts(row(&r, "deletions", "after-hold")),
        ["0", "0", "6", "6"]
    );
    // Devices, not people: shown as they are.
    assert_eq!(texts(row(&r, "incidents", "gap")), ["1", "0", "0", "1"]);
    assert_eq!(
        texts(row(&r, "camera-health", "stopped-power-loss")),
        ["2", "0", "0", "2"]
    );
    assert_eq!(
        texts(row(&r, "camera-health", "upload-failures")),
        ["1", "0", "0", "1"]
    );
    // Recordings per firmware would add up to a hidden total: cameras only.
    assert_eq!(texts(row(&r, "firmware", "1.2.0")), ["3", "<5"]);
    assert_eq!(
        texts(row(&r, "subject-requests", "received")),
        ["6", "0", "0", "6"]
    );
    assert_eq!(
        texts(row(&r, "subject-requests", "answered-within-month")),
        ["100", "", "", "100"]
    );
    assert_eq!(
        texts(row(&r, "subject-requests", "median-days-to-answer")),
        ["12", "", "", "12"]
    );
    // 6 activations a week, but from 3 recordings: few people, hidden,
    // and so is the total (another period's total would give a week back).
    assert_eq!(
        texts(row(&r, "front-display", "display-activations")),
        ["<5", "<5", "<5", "<5"]
    );
    let csv = r.csv();
    assert!(csv.starts_with("table,row,column,value\n"));
    assert!(csv.contains("\naccesses,refused,2026-W46,<5\n"));
    assert!(csv.contains("\nactivations,recordings,total,30\n"));
    assert!(csv.contains("\nfirmware,1.2.0,cameras,3\n"));
    let cells: usize = r
        .tables
        .iter()
        .map(|t| t.rows.len() * t.columns.len())
        .sum();
    assert_eq!(csv.lines().count(), cells + 1, "one line per number");
    // JSON: numbers, "<5" or null.
    let json = serde_json::to_value(&r).unwrap();
    let refused = &json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "accesses")
        .unwrap()["rows"];
    assert!(refused
        .as_array()
        .unwrap()
        .iter()
        .any(|row| row["cells"] == serde_json::json!([0.0, "<5", 0.0, "<5"])));
    assert_eq!(json["period"]["from"], "2026-11-02");
}
