//! Evaluation statistics (issue 9) against a scripted scenario: two teams'
//! cameras record, docks offload, reviewers play and secure, an export is
//! made, a subject access request comes in, retention deletes. Every number
//! of the report is then checked against the script: unsuppressed through
//! `custos stats --min-count 1 --json` on the data directory, suppressed
//! through the API as an evaluator, per team, and an officer's own; the
//! CSV says what the JSON says; refusals and readings are audited.

use crate::common::*;
use custos_camera::camera::Button;
use custos_camera::display::SimulatedDisplay;
use custos_camera::source::{CaptureSource, Pacing, SyntheticSource};
use custos_camera::{Camera, CameraDir};
use custos_dock::Dock;
use custos_format::UtcMillis;

const DAY: i64 = 86_400_000;

/// `n` recordings of 30 frames, each after 40 frames of standby (kept as
/// pre-record when the camera keeps any), the front display switched on
/// and off during the first `display` of them.
fn shift(dir: &CameraDir, n: usize, display: usize) {
    let mut source = SyntheticSource::new(
        160,
        120,
        30,
        1_795_424_400_000_000,
        "x",
        Pacing::AsFastAsPossible,
    )
    .unwrap();
    let mut cam = Camera::open(dir.clone(), SimulatedDisplay::default(), "test".into()).unwrap();
    let mut feed = |cam: &mut Camera<SimulatedDisplay>, frames: usize| {
        for _ in 0..frames {
            cam.on_frame(source.next_frame().unwrap().unwrap()).unwrap();
        }
    };
    for i in 0..n {
        feed(&mut cam, 40);
        cam.press(Button::Record).unwrap();
        feed(&mut cam, 10);
        if i < display {
            cam.press(Button::Display).unwrap();
            feed(&mut cam, 5);
            cam.press(Button::Display).unwrap();
        }
        feed(&mut cam, 15);
        cam.press(Button::Stop).unwrap();
        feed(&mut cam, 1);
    }
}

fn table<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("no table {id}"))
}

/// A row's cells as text: numbers without a fraction as integers.
fn cells(report: &serde_json::Value, id: &str, key: &str) -> Vec<String> {
    table(report, id)["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {id}/{key}: {}", table(report, id)))["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match c {
            serde_json::Value::Number(n) if n.as_f64().unwrap().fract() == 0.0 => {
                format!("{}", n.as_f64().unwrap() as i64)
            }
            serde_json::Value::Number(n) => format!("{}", n.as_f64().unwrap()),
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => panic!("{other}"),
        })
        .collect()
}

fn cli_stats(w: &World, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
        .arg("stats")
        .arg("--data")
        .arg(&w.data)
        .args(args)
        .output()
        .unwrap()
}

/// The script, played: two teams' cameras, readings of footage, a hold,
/// an export, a subject access request, the sweep; then the period to read
/// (the weeks from the recordings to the deletions) and its columns.
struct Scenario {
    w: World,
    stored: Vec<custos_catalog::Recording>,
    delay_hours: Vec<i64>,
    period: custos_stats::Period,
    from: String,
    to: String,
    /// The week recorded, the week deleted, and how many weeks.
    rec: usize,
    del: usize,
    total: usize,
    reviewer: Account,
    privacy: Account,
    evaluator: Account,
    officer: Account,
    admin_person: Account,
}

/// Everyone signed in again once the period's weeks are over.
struct Tokens {
    tr: String,
    tp: String,
    te: String,
    t_officer: String,
    ta: String,
}

/// Two teams' cameras, offloaded at 10:00 on the day the synthetic footage
/// was made: noord's six recordings, then zuid's two.
async fn scenario_recordings(w: &World) -> Vec<custos_catalog::Recording> {
    let admin = w.admin().await;
    // Two teams: noord's camera keeps a second of pre-record, zuid's none.
    let mut cameras = Vec::new();
    for (name, team, officer, prerecord) in [
        ("cam-n", "noord", "boa-5", 1),
        ("cam-z", "zuid", "boa-7", 0),
    ] {
        let dir = w.camera(name, 0, true).await;
        admin.set_camera_team(name, team).await.unwrap();
        let mut config = dir.load_config().unwrap();
        config.prerecord_seconds = prerecord;
        dir.save_config(&config).unwrap();
        Dock::checkout(&dir, officer).unwrap();
        cameras.push(dir);
    }
    shift(&cameras[0], 6, 2);
    shift(&cameras[1], 2, 0);
    // The docks offload at a time the script fixes: 10:00 on the day the
    // synthetic footage was made (2026-11-23).
    w.set_time(UtcMillis::from_millis(1_795_424_400_000 + 5 * 3_600_000 + 40 * 60_000).unwrap());
    for cam in &cameras {
        w.offload(cam).await;
    }
    let d = &w.server.deployment;
    let mut stored = d.catalog.recordings().await.unwrap();
    stored.sort_by_key(|r| (r.device_id.clone(), r.sequence));
    assert_eq!(stored.len(), 8);
    stored
}

/// The reviewer (`tr`) opens a complaint, plays noord's first recording
/// (`first`) three times (ranges) and its thumbnail: one access. The
/// privacy officer (`tp`) plays it for an investigation: a second. An admin
/// (`ta`) is refused. A hold for the complaint on it, and an export.
async fn scenario_casework(w: &World, tr: &str, tp: &str, ta: &str, first: uuid::Uuid) {
    let case = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(tr),
            Some(serde_json::json!({"kind": "complaint", "label": "statistics story"})),
            &[],
        )
        .await
        .json()["case_id"]
        .as_str()
        .unwrap()
        .to_owned();
    w.link(tr, &case, first).await;
    for range in ["bytes=0-99", "bytes=100-199", "bytes=200-299"] {
        let a = w
            .call(
                "GET",
                &format!("/api/v1/recordings/{first}/video?purpose=complaint&case={case}"),
                Some(tr),
                None,
                &[("range", range)],
            )
            .await;
        assert_eq!(a.status, 206);
    }
    let thumb = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{first}/thumbnail?purpose=complaint&case={case}"),
            Some(tr),
            None,
            &[],
        )
        .await;
    assert_eq!(thumb.status, 200);
    let inv = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{first}/video?purpose=investigation&case={case}"),
            Some(tp),
            None,
            &[("range", "bytes=0-9")],
        )
        .await;
    assert_eq!(inv.status, 206);
    let refused = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{first}/video?purpose=complaint&case={case}"),
            Some(ta),
            None,
            &[],
        )
        .await;
    assert_eq!(refused.status, 403);
    scenario_hold_and_export(w, tr, &case, first).await;
}

async fn scenario_hold_and_export(w: &World, tr: &str, case: &str, first: uuid::Uuid) {
    // A hold for the complaint on noord's first recording, and an export.
    let held = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(tr),
            Some(serde_json::json!({"recording_id": first, "reason": "complaint"})),
            &[],
        )
        .await;
    assert_eq!(held.status, 201);
    let export = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/exports"),
            Some(tr),
            Some(serde_json::json!({"purpose": "complaint", "recipient": "Ombudsman", "passphrase": "correct horse battery staple 42"})),
            &[],
        )
        .await;
    assert_eq!(
        export.status,
        200,
        "{}",
        String::from_utf8_lossy(&export.body)
    );
}

/// A subject access request, received the same day, about the first
/// recording's time.
async fn scenario_subject_request(w: &World, tp: &str, first: &custos_catalog::Recording) {
    let rfc = |t: UtcMillis| serde_json::to_value(t).unwrap();
    let request = w
        .call(
            "POST",
            "/api/v1/subject-requests",
            Some(tp),
            Some(serde_json::json!({
                "requester": "Johanna Jansen",
                "identity_check": "passport shown at the desk",
                "description": "red coat",
                "window_from": rfc(first.started_at.plus_millis(-60_000)),
                "window_to": rfc(first.ended_at.plus_millis(60_000)),
                "received_at": rfc(w.now()),
            })),
            &[],
        )
        .await;
    assert_eq!(request.status, 201, "{}", request.json());
}

async fn scenario() -> Scenario {
    let w = world().await;
    let stored = scenario_recordings(&w).await;

    let week = |t: UtcMillis| custos_stats::week_of(t.as_millis().div_euclid(DAY));
    let recorded_in = week(stored[0].started_at);
    assert!(stored.iter().all(|r| week(r.started_at) == recorded_in));
    let delay_hours: Vec<i64> = stored
        .iter()
        .map(|r| (r.stored_at.as_millis() - r.ended_at.as_millis()) / 3_600_000)
        .collect();

    // People.
    let reviewer = w.add_user("rita", "reviewer", None).await;
    let privacy = w.add_user("pia", "privacy-officer", None).await;
    let evaluator = w.add_user("eva", "evaluator", None).await;
    let officer = w.add_user("olaf", "officer", Some("boa-7")).await;
    let admin_person = w.add_user("adam", "admin", None).await;
    let tr = w.sign_in(&reviewer).await;
    let tp = w.sign_in(&privacy).await;
    let ta = w.sign_in(&admin_person).await;

    let first = stored
        .iter()
        .find(|r| r.device_id == "cam-n")
        .unwrap()
        .recording_id;
    scenario_casework(&w, &tr, &tp, &ta, first).await;
    scenario_subject_request(&w, &tp, &stored[0]).await;
    // Retention: 29 days on, all but the held recording are deleted.
    let sweep_at = stored[0].delete_after.plus_millis(DAY);
    let swept = w.sweep(sweep_at).await;
    assert_eq!(swept.deleted, 7);
    let deleted_in = week(sweep_at);

    // The period: the week recorded to the week of the deletions.
    let from = custos_format::UtcMillis::from_millis(stored[0].started_at.as_millis() - 7 * DAY)
        .unwrap()
        .to_string()[..10]
        .to_owned();
    let to = sweep_at.to_string()[..10].to_owned();
    // Whole ISO weeks, as every non-officer reading is counted.
    let period = custos_stats::Period::parse(&from, &to)
        .unwrap()
        .whole_weeks();
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let weeks = period.weeks();
    let column = |w: &str| weeks.iter().position(|x| x == w).unwrap();
    let (rec, del, total) = (column(&recorded_in), column(&deleted_in), weeks.len());
    Scenario {
        w,
        stored,
        delay_hours,
        period,
        from,
        to,
        rec,
        del,
        total,
        reviewer,
        privacy,
        evaluator,
        officer,
        admin_person,
    }
}

impl Scenario {
    /// A weekly row: `value` in week `at`, zero elsewhere, then the total.
    fn row(&self, at: usize, value: &str, zero: &str, total_value: &str) -> Vec<String> {
        let mut v = vec![zero.to_owned(); self.total];
        v[at] = value.to_owned();
        v.push(total_value.to_owned());
        v
    }

    /// As the deployment shows them: read once the weeks are over (a week
    /// still open is never counted), by people who sign in again then.
    async fn after_the_weeks(&self) -> Tokens {
        let w = &self.w;
        let sunday = self.period.query().to.as_millis();
        w.set_time(custos_format::UtcMillis::from_millis(sunday + DAY).unwrap());
        Tokens {
            tr: w.sign_in(&self.reviewer).await,
            tp: w.sign_in(&self.privacy).await,
            te: w.sign_in(&self.evaluator).await,
            t_officer: w.sign_in(&self.officer).await,
            ta: w.sign_in(&self.admin_person).await,
        }
    }
}

/// Unsuppressed, from the data directory: the cameras' activity.
async fn unsuppressed_activity(s: &Scenario) {
    let Scenario {
        w,
        stored,
        delay_hours,
        from,
        to,
        ..
    } = s;
    let rec = s.rec;
    let row =
        |at: usize, value: &str, zero: &str, total_value: &str| s.row(at, value, zero, total_value);

    let out = cli_stats(
        w,
        &["--from", from, "--to", to, "--min-count", "1", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all["k"], 1);
    assert_eq!(
        cells(&all, "activations", "recordings"),
        row(rec, "8", "0", "8")
    );
    let minutes: f64 = stored
        .iter()
        .map(|r| (r.ended_at.as_millis() - r.started_at.as_millis()) as f64)
        .sum::<f64>()
        / 60_000.0;
    let minutes = format!("{}", (minutes * 10.0).round() / 10.0);
    assert_eq!(
        cells(&all, "recorded-minutes", "minutes"),
        row(rec, &minutes, "0", &minutes)
    );
    assert_eq!(
        cells(&all, "prerecord", "with-prerecord"),
        row(rec, "6", "0", "6")
    );
    assert_eq!(cells(&all, "prerecord", "share"), row(rec, "75", "", "75"));
    assert_eq!(
        cells(&all, "front-display", "recordings-with-display"),
        row(rec, "2", "0", "2")
    );
    assert_eq!(
        cells(&all, "front-display", "display-activations"),
        row(rec, "2", "0", "2")
    );
    let mut sorted = delay_hours.clone();
    sorted.sort();
    let median = format!("{}", (sorted[3] + sorted[4]) as f64 / 2.0);
    assert_eq!(
        cells(&all, "upload-delay", "median-hours"),
        row(rec, &median, "", &median)
    );
    let within: usize = delay_hours.iter().filter(|h| **h < 24).count();
    assert_eq!(
        within, 8,
        "the script offloads within hours: {delay_hours:?}"
    );
    assert_eq!(
        cells(&all, "upload-delay", "within-24h"),
        row(rec, "100", "", "100")
    );
}

/// Unsuppressed: holds, accesses, exports, requests, deletions, health.
async fn unsuppressed_casework(s: &Scenario) {
    let Scenario { w, from, to, .. } = s;
    let rec = s.rec;
    let del = s.del;
    let row =
        |at: usize, value: &str, zero: &str, total_value: &str| s.row(at, value, zero, total_value);

    let out = cli_stats(
        w,
        &["--from", from, "--to", to, "--min-count", "1", "--json"],
    );
    assert!(out.status.success());
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cells(&all, "holds", "complaint"), row(rec, "1", "0", "1"));
    assert_eq!(cells(&all, "holds", "incident"), row(rec, "0", "0", "0"));
    assert_eq!(
        cells(&all, "accesses", "complaint"),
        row(rec, "1", "0", "1")
    );
    assert_eq!(
        cells(&all, "accesses", "investigation"),
        row(rec, "1", "0", "1")
    );
    assert_eq!(cells(&all, "accesses", "refused"), row(rec, "1", "0", "1"));
    assert_eq!(
        cells(&all, "exports", "export.create"),
        row(rec, "1", "0", "1")
    );
    assert_eq!(
        cells(&all, "exports", "export.download"),
        row(rec, "0", "0", "0")
    );
    assert_eq!(
        cells(&all, "subject-requests", "received"),
        row(rec, "1", "0", "1")
    );
    assert_eq!(
        cells(&all, "subject-requests", "answered"),
        row(rec, "0", "0", "0")
    );
    assert_eq!(
        cells(&all, "deletions", "on-schedule"),
        row(del, "7", "0", "7")
    );
    assert_eq!(
        cells(&all, "deletions", "after-hold"),
        row(del, "0", "0", "0")
    );
    assert!(table(&all, "incidents")["rows"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        cells(&all, "camera-health", "stopped-power-loss"),
        row(rec, "0", "0", "0")
    );
    assert_eq!(
        cells(&all, "camera-health", "upload-failures"),
        row(rec, "0", "0", "0")
    );
    assert_eq!(
        table(&all, "firmware")["rows"][0]["cells"],
        serde_json::json!([2.0, 8.0])
    );
}

/// The evaluator's view (k = 5): its JSON.
async fn evaluator_view(s: &Scenario, t: &Tokens) -> serde_json::Value {
    let Scenario { w, from, to, .. } = s;
    let rec = s.rec;
    let del = s.del;
    let row =
        |at: usize, value: &str, zero: &str, total_value: &str| s.row(at, value, zero, total_value);
    let query = format!("from={from}&to={to}");
    let Tokens { te, .. } = t;

    let api = w
        .call(
            "GET",
            &format!("/api/v1/statistics?{query}"),
            Some(te),
            None,
            &[],
        )
        .await;
    assert_eq!(api.status, 200, "{}", api.json());
    let shown = api.json();
    assert_eq!(shown["k"], 5);
    assert_eq!(
        cells(&shown, "activations", "recordings"),
        row(rec, "8", "0", "8")
    );
    assert_eq!(
        cells(&shown, "prerecord", "with-prerecord"),
        row(rec, "6", "0", "6")
    );
    assert_eq!(
        cells(&shown, "front-display", "recordings-with-display"),
        row(rec, "<5", "0", "<5")
    );
    assert_eq!(
        cells(&shown, "accesses", "complaint"),
        row(rec, "<5", "0", "<5")
    );
    assert_eq!(
        cells(&shown, "holds", "complaint"),
        row(rec, "<5", "0", "<5")
    );
    assert_eq!(
        cells(&shown, "deletions", "on-schedule"),
        row(del, "7", "0", "7")
    );
    shown
}

/// A team: noord's six (its median from its own recordings), for the
/// privacy officer; an evaluator reads the whole deployment only.
async fn team_reading(s: &Scenario, t: &Tokens) {
    let Scenario { w, from, to, .. } = s;
    let rec = s.rec;
    let del = s.del;
    let row =
        |at: usize, value: &str, zero: &str, total_value: &str| s.row(at, value, zero, total_value);
    let query = format!("from={from}&to={to}");
    let Tokens { tp, te, .. } = t;

    for filter in ["team=noord", "camera=cam-a"] {
        let refused = w
            .call(
                "GET",
                &format!("/api/v1/statistics?{query}&{filter}"),
                Some(te),
                None,
                &[],
            )
            .await;
        assert_eq!(
            (refused.status, refused.code().as_str()),
            (403, "filter-not-allowed"),
            "{filter}"
        );
    }
    let team = w
        .call(
            "GET",
            &format!("/api/v1/statistics?{query}&team=noord"),
            Some(tp),
            None,
            &[],
        )
        .await
        .json();
    assert_eq!(
        cells(&team, "activations", "recordings"),
        row(rec, "6", "0", "6")
    );
    assert_eq!(
        cells(&team, "prerecord", "share"),
        row(rec, "100", "", "100")
    );
    assert_eq!(
        cells(&team, "deletions", "on-schedule"),
        row(del, "5", "0", "5")
    );
}

/// The CSV says the same as the JSON, number for number.
async fn csv_reading(s: &Scenario, t: &Tokens) {
    let Scenario { w, from, to, .. } = s;
    let query = format!("from={from}&to={to}");
    let Tokens { te, .. } = t;

    let shown = evaluator_view(s, t).await;
    let csv = w
        .call(
            "GET",
            &format!("/api/v1/statistics/csv?{query}"),
            Some(te),
            None,
            &[],
        )
        .await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let csv = String::from_utf8(csv.body).unwrap();
    let mut numbers = 0;
    for t in shown["tables"].as_array().unwrap() {
        let id = t["id"].as_str().unwrap();
        for r in t["rows"].as_array().unwrap() {
            let key = r["key"].as_str().unwrap();
            for (c, text) in t["columns"]
                .as_array()
                .unwrap()
                .iter()
                .zip(cells(&shown, id, key))
            {
                let line = format!("{id},{key},{},{text}", c.as_str().unwrap());
                assert!(csv.lines().any(|l| l == line), "{line} not in the CSV");
                numbers += 1;
            }
        }
    }
    assert_eq!(csv.lines().count(), numbers + 1);
}

/// An officer sees their own numbers (zuid's two), unsuppressed, and not
/// what others did.
async fn officer_reading(s: &Scenario, t: &Tokens) {
    let Scenario { w, from, to, .. } = s;
    let rec = s.rec;
    let row =
        |at: usize, value: &str, zero: &str, total_value: &str| s.row(at, value, zero, total_value);
    let query = format!("from={from}&to={to}");
    let Tokens { t_officer, .. } = t;

    let own = w
        .call(
            "GET",
            &format!("/api/v1/statistics?{query}"),
            Some(t_officer),
            None,
            &[],
        )
        .await
        .json();
    assert_eq!(own["k"], 1);
    assert_eq!(own["scope"]["officer_id"], "boa-7");
    assert_eq!(
        cells(&own, "activations", "recordings"),
        row(rec, "2", "0", "2")
    );

    let own_tables: Vec<_> = own["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    // Nor what others did about their recordings: holds by case kind and
    // accesses by purpose would tell them a complaint concerns them.
    for other in [
        "exports",
        "subject-requests",
        "incidents",
        "holds",
        "accesses",
    ] {
        assert!(!own_tables.contains(&serde_json::json!(other)), "{other}");
    }
}

/// Reviewers and admins are refused; bad periods and filters are named.
async fn refused_readings(s: &Scenario, t: &Tokens) {
    let Scenario { w, .. } = s;
    let Tokens { tr, tp, ta, .. } = t;

    for token in [&tr, &ta] {
        let a = w
            .call("GET", "/api/v1/statistics", Some(token), None, &[])
            .await;
        assert_eq!(a.status, 403);
    }
    for (bad, code) in [
        ("from=2026-11-30&to=2026-11-01", "bad-period"),
        ("from=2025-01-01&to=2026-12-31", "bad-period"),
        ("from=2026-11-01", "bad-period"),
        ("from=yesterday&to=today", "bad-period"),
        ("from=2026-11-01&to=2026-11-30&team=no%20rd", "bad-filter"),
        (
            "from=2026-11-01&to=2026-11-30&camera=%3Cscript%3E",
            "bad-filter",
        ),
        ("from=2026-11-01&to=2026-11-30&officer=boa-5", "bad-request"),
    ] {
        let a = w
            .call(
                "GET",
                &format!("/api/v1/statistics?{bad}"),
                Some(tp),
                None,
                &[],
            )
            .await;
        assert_eq!((a.status, a.code()), (400, code.to_owned()), "{bad}");
    }
}

#[tokio::test]
async fn unsuppressed_numbers_from_the_data_directory_follow_the_script() {
    let s = scenario().await;
    unsuppressed_activity(&s).await;
    unsuppressed_casework(&s).await;
}

#[tokio::test]
async fn the_evaluator_sees_the_numbers_with_small_counts_suppressed() {
    let s = scenario().await;
    let t = s.after_the_weeks().await;
    evaluator_view(&s, &t).await;
}

#[tokio::test]
async fn a_team_is_read_by_the_privacy_officer_and_not_by_an_evaluator() {
    let s = scenario().await;
    let t = s.after_the_weeks().await;
    team_reading(&s, &t).await;
}

#[tokio::test]
async fn the_csv_says_what_the_json_says_number_for_number() {
    let s = scenario().await;
    let t = s.after_the_weeks().await;
    csv_reading(&s, &t).await;
}

#[tokio::test]
async fn an_officer_sees_their_own_numbers_and_not_what_others_did() {
    let s = scenario().await;
    let t = s.after_the_weeks().await;
    officer_reading(&s, &t).await;
}

#[tokio::test]
async fn reviewers_and_admins_are_refused_and_bad_periods_and_filters_named() {
    let s = scenario().await;
    let t = s.after_the_weeks().await;
    refused_readings(&s, &t).await;
}

/// Every reading is in the audit log with its period and filters; the
/// refusals too.
#[tokio::test]
async fn every_reading_and_every_refusal_is_in_the_audit_log() {
    let s = scenario().await;
    unsuppressed_activity(&s).await;
    let t = s.after_the_weeks().await;
    team_reading(&s, &t).await;
    officer_reading(&s, &t).await;
    refused_readings(&s, &t).await;
    let Scenario { w, from, to, .. } = &s;
    let d = &w.server.deployment;
    let entries: Vec<serde_json::Value> = d
        .catalog
        .audit_entries(0, 100_000)
        .await
        .unwrap()
        .iter()
        .map(|e| serde_json::from_slice(&e.bytes).unwrap())
        .collect();
    let reads: Vec<_> = entries
        .iter()
        .filter(|e| e["action"] == "statistics.read")
        .collect();
    assert!(reads.iter().any(|e| e["actor"] == "user:pia"
        && e["outcome"] == "ok"
        && e["detail"] == format!("{from}..{to} team noord")));
    assert!(reads
        .iter()
        .any(|e| e["actor"] == "system:cli" && e["detail"] == format!("{from}..{to}")));
    assert!(reads
        .iter()
        .any(|e| e["actor"] == "user:olaf" && e["detail"] == format!("{from}..{to} own")));
    assert_eq!(
        reads.iter().filter(|e| e["outcome"] == "refused").count(),
        2 + 2 + 6,
        "two roles refused, an evaluator's two filters, six bad requests (the unknown field is the query parser's)"
    );
}

#[tokio::test]
async fn the_cli_prints_a_table_and_refuses_bad_arguments() {
    let s = scenario().await;
    let Scenario { w, from, to, .. } = &s;
    let text = cli_stats(w, &["--from", from, "--to", to]);
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("counts below 5 suppressed") && text.contains("\nactivations\n"),
        "{text}"
    );
    for bad in [
        vec!["--from", "2026-11-30", "--to", "2026-11-01"],
        vec!["--from", "2026-11-01"],
        vec![
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--team",
            "a b",
        ],
        vec![
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--min-count",
            "0",
        ],
        vec![
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--json",
            "--csv",
        ],
    ] {
        let out = cli_stats(w, &bad);
        assert!(!out.status.success(), "{bad:?}");
        assert!(
            !String::from_utf8_lossy(&out.stderr).trim().is_empty(),
            "{bad:?}"
        );
    }
}
