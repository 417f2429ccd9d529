//! Subject access requests: taken in, searched, answered with redacted copies.

use super::*;

/// A data subject's access request: taken in by the privacy officer (the
/// requester's details never reach the audit log), due one calendar month
/// after receipt and extendable by two with a reason; the search finds the
/// recordings that overlap the window and pass the place (or cannot be
/// placed), holds them so retention cannot destroy them, and leaves out
/// the rest — which retention then deletes as usual.
/// Three cameras that docked: one walking near the place asked about, one
/// 3 km away, one without GPS; a privacy officer (petra), a reviewer
/// (rita) and an admin (adam), signed in; a request received three days ago.
struct Sar {
    w: World,
    recordings: Vec<custos_catalog::Recording>,
    earliest: custos_format::UtcMillis,
    latest: custos_format::UtcMillis,
    received: custos_format::UtcMillis,
    tp: String,
    tr: String,
    ta: String,
}

fn rfc(t: custos_format::UtcMillis) -> serde_json::Value {
    serde_json::to_value(t).unwrap()
}

async fn sar() -> Sar {
    let w = world().await;
    // Three cameras: one walking near the place, one 3 km away, one without GPS.
    for (name, start) in [
        ("cam-near", Some([519_220_000_i64, 44_790_000_i64])),
        ("cam-far", Some([519_490_000, 44_790_000])),
        ("cam-nogps", None),
    ] {
        let cam = w.camera(name, 0, true).await;
        let mut config = cam.load_config().unwrap();
        config.simulated_gps = start.is_some();
        config.simulated_gps_start = start;
        cam.save_config(&config).unwrap();
        record_frames(&cam, 1, 30);
        w.offload(&cam).await;
    }
    let recordings = w.server.deployment.catalog.recordings().await.unwrap();
    let earliest = recordings.iter().map(|r| r.started_at).min().unwrap();
    let latest = recordings.iter().map(|r| r.ended_at).max().unwrap();
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let adam = w.add_user("adam", "admin", None).await;
    let (tp, tr, ta) = (
        w.sign_in(&petra).await,
        w.sign_in(&rita).await,
        w.sign_in(&adam).await,
    );
    Sar {
        received: w.now().plus_millis(-3 * DAY),
        w,
        recordings,
        earliest,
        latest,
        tp,
        tr,
        ta,
    }
}

impl Sar {
    fn id_of(&self, device: &str) -> uuid::Uuid {
        self.recordings
            .iter()
            .find(|r| r.device_id == device)
            .unwrap()
            .recording_id
    }

    /// The request as taken in, with `extra`'s fields set (or, when null, left out).
    fn intake(&self, extra: serde_json::Value) -> serde_json::Value {
        let (earliest, latest, received) = (self.earliest, self.latest, self.received);
        let mut body = serde_json::json!({
            "requester": "Johanna Jansen",
            "contact": "j.jansen@example.nl",
            "identity_check": "passport shown at the Stadswinkel, no copy kept",
            "description": "red coat, spoken to about cycling on the pavement",
            "window_from": rfc(earliest.plus_millis(-60_000)),
            "window_to": rfc(latest.plus_millis(60_000)),
            "place": {"lat": 51.9222, "lon": 4.4790, "radius_m": 300},
            "received_at": rfc(received),
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    }

    async fn open(&self, token: String, body: serde_json::Value) -> Answer {
        self.w
            .call(
                "POST",
                "/api/v1/subject-requests",
                Some(&token),
                Some(body),
                &[],
            )
            .await
    }

    /// Request SAR-2026-7, opened by petra.
    async fn opened(&self) -> serde_json::Value {
        let opened = self
            .open(
                self.tp.clone(),
                self.intake(serde_json::json!({"case_id": "SAR-2026-7"})),
            )
            .await;
        assert_eq!(opened.status, 201, "{}", opened.json());
        opened.json()
    }

    /// Request SAR-2026-7, opened and searched by petra.
    async fn searched(&self) {
        self.opened().await;
        let found = self
            .w
            .call(
                "POST",
                "/api/v1/subject-requests/SAR-2026-7/search",
                Some(&self.tp),
                Some(serde_json::json!({})),
                &[],
            )
            .await;
        assert_eq!(found.status, 200, "{}", found.json());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_privacy_officer_takes_a_subject_access_request_in() {
    let s = sar().await;
    let w = &s.w;
    let tr = s.tr.clone();
    let ta = s.ta.clone();
    let intake = |extra: serde_json::Value| s.intake(extra);
    let open = |token: String, body: serde_json::Value| s.open(token, body);
    // Only the privacy officer takes requests in.
    for token in [&tr, &ta] {
        assert_eq!(
            open(token.clone(), intake(serde_json::json!({})))
                .await
                .status,
            403
        );
    }
    assert_eq!(
        w.call(
            "POST",
            "/api/v1/subject-requests",
            None,
            Some(intake(serde_json::json!({}))),
            &[]
        )
        .await
        .status,
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_intake_gets_a_reason_each_and_opens_nothing() {
    let s = sar().await;
    let w = &s.w;
    let tp = s.tp.clone();
    let earliest = s.earliest;
    let latest = s.latest;
    let intake = |extra: serde_json::Value| s.intake(extra);
    let open = |token: String, body: serde_json::Value| s.open(token, body);
    // Bad input: a reason each, nothing opened.
    for (extra, code) in [
        (serde_json::json!({"requester": " "}), "invalid"),
        (serde_json::json!({"identity_check": ""}), "invalid"),
        (serde_json::json!({"description": "a\u{0}b"}), "invalid"),
        (
            serde_json::json!({"window_from": rfc(latest), "window_to": rfc(earliest)}),
            "bad-window",
        ),
        (
            serde_json::json!({"window_from": rfc(earliest.plus_millis(-40 * DAY)), "window_to": rfc(latest)}),
            "bad-window",
        ),
        (
            serde_json::json!({"window_from": rfc(w.now().plus_millis(DAY)), "window_to": rfc(w.now().plus_millis(2 * DAY))}),
            "bad-window",
        ),
        (
            serde_json::json!({"place": {"lat": 51.9, "lon": 4.4, "radius_m": 5}}),
            "bad-place",
        ),
        (
            serde_json::json!({"place": {"lat": 91.0, "lon": 4.4, "radius_m": 100}}),
            "bad-place",
        ),
        (
            serde_json::json!({"received_at": rfc(w.now().plus_millis(DAY))}),
            "bad-received",
        ),
        (
            serde_json::json!({"received_at": rfc(w.now().plus_millis(-400 * DAY))}),
            "bad-received",
        ),
        (
            serde_json::json!({"case_id": "no spaces allowed"}),
            "invalid",
        ),
        (serde_json::json!({"window_from": "yesterday"}), "invalid"),
        (serde_json::json!({"requester": null}), "invalid"),
        (serde_json::json!({"surplus": 1}), "invalid"),
    ] {
        let answer = open(tp.clone(), intake(extra.clone())).await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (400, Some(code)),
            "{extra}"
        );
    }
    assert!(w
        .server
        .deployment
        .catalog
        .cases()
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_opens_its_case_due_in_a_month_read_only_by_the_privacy_officer() {
    let s = sar().await;
    let w = &s.w;
    let tp = s.tp.clone();
    let tr = s.tr.clone();
    let received = s.received;
    let intake = |extra: serde_json::Value| s.intake(extra);
    let open = |token: String, body: serde_json::Value| s.open(token, body);
    let case = "SAR-2026-7";
    let base = format!("/api/v1/subject-requests/{case}");
    let opened = open(
        tp.clone(),
        intake(serde_json::json!({"case_id": "SAR-2026-7"})),
    )
    .await;
    assert_eq!(opened.status, 201, "{}", opened.json());
    let view = opened.json();
    assert_eq!(view["case"]["kind"], "subject-access-request");
    assert_eq!(view["case"]["label"], "subject access request");
    assert_eq!(
        view["case"]["due_at"],
        rfc(custos_server::subject::months_after(received, 1))
    );
    assert_eq!(
        view["latest_due_at"],
        rfc(custos_server::subject::months_after(received, 3))
    );
    assert_eq!(view["request"]["requester"], "Johanna Jansen");
    assert_eq!(view["request"]["place"]["radius_m"], 300);
    assert_eq!(
        open(
            tp.clone(),
            intake(serde_json::json!({"case_id": "SAR-2026-7"}))
        )
        .await
        .status,
        409
    );
    assert_eq!(w.call("GET", &base, Some(&tr), None, &[]).await.status, 403);
    let read = w.call("GET", &base, Some(&tp), None, &[]).await;
    assert_eq!(read.status, 200);
    assert_eq!(
        read.json()["request"]["identity_check"],
        view["request"]["identity_check"]
    );
    assert_eq!(
        w.call(
            "GET",
            "/api/v1/subject-requests/K-none",
            Some(&tp),
            None,
            &[]
        )
        .await
        .status,
        404
    );
}

/// The search finds the near camera and the one that cannot be placed,
/// and holds what it found; a reviewer may not search.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_finds_footage_by_time_and_place_and_holds_it() {
    let s = sar().await;
    let w = &s.w;
    let tp = s.tp.clone();
    let tr = s.tr.clone();
    let case = "SAR-2026-7";
    let base = format!("/api/v1/subject-requests/{case}");
    s.opened().await;
    // The search: the near camera and the one that cannot be placed; held.
    let search = format!("{base}/search");
    assert_eq!(
        w.call("POST", &search, Some(&tr), Some(serde_json::json!({})), &[])
            .await
            .status,
        403
    );
    let found = w
        .call("POST", &search, Some(&tp), Some(serde_json::json!({})), &[])
        .await;
    assert_eq!(found.status, 200, "{}", found.json());
    let mut devices: Vec<(String, bool, bool)> = found
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["device_id"].as_str().unwrap().to_owned(),
                c["location_known"].as_bool().unwrap(),
                c["distance_m"].as_u64().is_some_and(|m| m <= 300),
            )
        })
        .collect();
    devices.sort();
    assert_eq!(
        devices,
        [
            ("cam-near".to_owned(), true, true),
            ("cam-nogps".to_owned(), false, false)
        ]
    );
    let holds = w
        .server
        .deployment
        .catalog
        .holds_for_case(case)
        .await
        .unwrap();
    assert_eq!(holds.len(), 2);
    assert!(holds
        .iter()
        .all(|h| h.approved_at.is_some() && h.released_at.is_none()));
}

/// Searching again holds nothing twice; narrowing by camera; a search
/// asked for with garbage is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searching_again_holds_nothing_twice_and_narrows_by_camera() {
    let s = sar().await;
    let w = &s.w;
    let tp = s.tp.clone();
    let case = "SAR-2026-7";
    let search = format!("/api/v1/subject-requests/{case}/search");
    s.searched().await;
    let again = w
        .call(
            "POST",
            &search,
            Some(&tp),
            Some(serde_json::json!({"device_id": "cam-nogps"})),
            &[],
        )
        .await;
    assert_eq!(again.json().as_array().unwrap().len(), 1);
    assert_eq!(
        again.json()[0]["recording_id"],
        s.id_of("cam-nogps").to_string()
    );
    assert_eq!(
        w.server
            .deployment
            .catalog
            .holds_for_case(case)
            .await
            .unwrap()
            .len(),
        2
    );
    for bad in [
        serde_json::json!({"device_id": ""}),
        serde_json::json!({"camera": "x"}),
    ] {
        assert_eq!(
            w.call("POST", &search, Some(&tp), Some(bad.clone()), &[])
                .await
                .status,
            400,
            "{bad}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_before_any_recording_finds_nothing_and_holds_nothing() {
    let s = sar().await;
    let w = &s.w;
    let tp = s.tp.clone();
    let earliest = s.earliest;
    let intake = |extra: serde_json::Value| s.intake(extra);
    let open = |token: String, body: serde_json::Value| s.open(token, body);
    // A window before any recording finds nothing (and holds nothing).
    let empty = open(
        tp.clone(),
        intake(serde_json::json!({
            "case_id": "SAR-2026-8",
            "window_from": rfc(earliest.plus_millis(-3 * 3_600_000 * 24)),
            "window_to": rfc(earliest.plus_millis(-2 * 3_600_000 * 24)),
            "place": null,
        })),
    )
    .await;
    assert_eq!(empty.status, 201);
    let none = w
        .call(
            "POST",
            "/api/v1/subject-requests/SAR-2026-8/search",
            Some(&tp),
            Some(serde_json::json!({})),
            &[],
        )
        .await;
    assert_eq!(none.json(), serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_request_holds_stays_while_the_rest_is_deleted_on_time() {
    let s = sar().await;
    let w = &s.w;
    s.searched().await;
    // The retention clock: what the request holds stays, the rest goes.
    let report = w.sweep(w.now().plus_millis(60 * DAY)).await;
    assert_eq!(report.deleted, 1);
    let left: Vec<String> = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.device_id)
        .collect();
    assert!(
        !left.contains(&"cam-far".to_owned()) && left.len() == 2,
        "{left:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_is_extended_once_by_up_to_two_months_with_a_reason() {
    let s = sar().await;
    let w = &s.w;
    let tp = s.tp.clone();
    let tr = s.tr.clone();
    let received = s.received;
    let case = "SAR-2026-7";
    let base = format!("/api/v1/subject-requests/{case}");
    s.opened().await;
    // The deadline: extended once by up to two months, with a reason.
    let extend = format!("{base}/extend");
    for (body, status) in [
        (
            serde_json::json!({"months": 3, "reason": "many recordings"}),
            400,
        ),
        (
            serde_json::json!({"months": 0, "reason": "many recordings"}),
            400,
        ),
        (serde_json::json!({"months": 2, "reason": " "}), 400),
        (serde_json::json!({"months": 2}), 400),
    ] {
        assert_eq!(
            w.call("POST", &extend, Some(&tp), Some(body.clone()), &[])
                .await
                .status,
            status,
            "{body}"
        );
    }
    assert_eq!(
        w.call(
            "POST",
            &extend,
            Some(&tr),
            Some(serde_json::json!({"months": 1, "reason": "x"})),
            &[]
        )
        .await
        .status,
        403
    );
    let extended = w
        .call(
            "POST",
            &extend,
            Some(&tp),
            Some(serde_json::json!({"months": 2, "reason": "forty recordings to redact by hand"})),
            &[],
        )
        .await;
    assert_eq!(extended.status, 200, "{}", extended.json());
    assert_eq!(
        extended.json()["case"]["due_at"],
        rfc(custos_server::subject::months_after(received, 3))
    );
    assert_eq!(extended.json()["request"]["extended_by"], "petra");
    let shorter = w
        .call(
            "POST",
            &extend,
            Some(&tp),
            Some(serde_json::json!({"months": 1, "reason": "x"})),
            &[],
        )
        .await;
    assert_eq!(
        (shorter.status, shorter.json()["error"]["code"].as_str()),
        (409, Some("not-later"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_names_the_case_and_the_purpose_never_the_requester() {
    let s = sar().await;
    let w = &s.w;
    let tp = s.tp.clone();
    let case = "SAR-2026-7";
    let base = format!("/api/v1/subject-requests/{case}");
    s.searched().await;
    assert_eq!(w.call("GET", &base, Some(&tp), None, &[]).await.status, 200);
    let again = w
        .call(
            "POST",
            &format!("{base}/search"),
            Some(&tp),
            Some(serde_json::json!({"device_id": "cam-nogps"})),
            &[],
        )
        .await;
    assert_eq!(again.status, 200);
    let extended = w
        .call(
            "POST",
            &format!("{base}/extend"),
            Some(&tp),
            Some(serde_json::json!({"months": 2, "reason": "forty recordings to redact by hand"})),
            &[],
        )
        .await;
    assert_eq!(extended.status, 200);
    // The audit log names the case and the purpose, never the requester.
    let entries = audit(w).await;
    let text = serde_json::to_string(&entries).unwrap();
    for secret in [
        "Johanna",
        "Jansen",
        "j.jansen@example.nl",
        "passport",
        "red coat",
        "forty recordings",
    ] {
        assert!(!text.contains(secret), "{secret} in the audit log");
    }
    let searched: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "subject-request.search" && e.case.as_deref() == Some(case))
        .collect();
    assert_eq!(searched.len(), 2);
    assert!(searched
        .iter()
        .all(|e| e.purpose.as_deref() == Some("subject-access-request")));
    for action in [
        "subject-request.open",
        "subject-request.read",
        "subject-request.extend",
    ] {
        assert!(
            entries.iter().any(|e| e.action == action
                && e.case.as_deref() == Some(case)
                && e.outcome == custos_audit::Outcome::Ok),
            "{action}"
        );
    }
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == "hold.place" && e.case.as_deref() == Some(case))
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_request_is_neither_searched_nor_extended() {
    let s = sar().await;
    let w = &s.w;
    let tp = s.tp.clone();
    let case = "SAR-2026-7";
    let base = format!("/api/v1/subject-requests/{case}");
    s.opened().await;
    let search = format!("{base}/search");
    let extend = format!("{base}/extend");
    // Closed: nothing more is searched or extended.
    let closed = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/close"),
            Some(&tp),
            None,
            &[],
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.json());
    assert_eq!(
        w.call("POST", &search, Some(&tp), Some(serde_json::json!({})), &[])
            .await
            .status,
        409
    );
    assert_eq!(
        w.call(
            "POST",
            &extend,
            Some(&tp),
            Some(serde_json::json!({"months": 2, "reason": "x"})),
            &[]
        )
        .await
        .status,
        409
    );
}

/// A redacted copy for a subject access request: made from a recording the
/// request holds, stored encrypted like recordings (its key in the catalog,
/// zeros in the blob), played only for its request, with its own hash; the
/// original is untouched; a render that fails leaves nothing; the copy goes
/// when its source goes.
/// Camera cam-r's two recordings; a subject access request (SAR-R) whose
/// window holds the first (`source`) and not the second (`other`); a
/// privacy officer (petra) and a reviewer (rita) signed in; a plan that
/// pixelates the middle of the picture.
struct Redaction {
    w: World,
    source: custos_catalog::Recording,
    other: custos_catalog::Recording,
    tp: String,
    tr: String,
    source_blob: std::path::PathBuf,
    source_before: Vec<u8>,
    plan: serde_json::Value,
}

const DERIVATIVES: &str = "/api/v1/subject-requests/SAR-R/derivatives";

async fn redaction() -> Redaction {
    let w = world().await;
    let cam = w.camera("cam-r", 0, true).await;
    record_frames(&cam, 2, 45);
    w.offload(&cam).await;
    let mut recordings = w.server.deployment.catalog.recordings().await.unwrap();
    recordings.sort_by_key(|r| r.sequence);
    let (source, other) = (recordings[0].clone(), recordings[1].clone());
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let (tp, tr) = (w.sign_in(&petra).await, w.sign_in(&rita).await);
    let found = w.searched_subject_request(&tp, "SAR-R", &source).await;
    let held: Vec<String> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["recording_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(held.contains(&source.recording_id.to_string()));
    assert!(!held.contains(&other.recording_id.to_string()), "{held:?}");
    let source_blob = w
        .data
        .join("blobs")
        .join(&source.camera().unwrap().blob_key);
    let source_before = std::fs::read(&source_blob).unwrap();
    let plan = serde_json::json!({"tracks": [{"label": "passer-by", "kind": "pixelate",
        "keyframes": [{"at_millis": 0, "x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}]}]});
    Redaction {
        w,
        source,
        other,
        tp,
        tr,
        source_blob,
        source_before,
        plan,
    }
}

impl Redaction {
    async fn make(&self, token: String, body: serde_json::Value) -> Answer {
        self.w
            .call("POST", DERIVATIVES, Some(&token), Some(body), &[])
            .await
    }

    /// A redacted copy of `source` by the plan, made by petra.
    async fn made(&self) -> serde_json::Value {
        let made = self
            .make(
                self.tp.clone(),
                serde_json::json!({"recording_id": self.source.recording_id, "plan": self.plan}),
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.json());
        made.json()
    }

    /// The copy played for its request, whole.
    async fn played(&self, id: &str) -> Answer {
        let good =
            format!("/api/v1/derivatives/{id}/video?purpose=subject-access-request&case=SAR-R");
        let played = self.w.call("GET", &good, Some(&self.tp), None, &[]).await;
        assert_eq!(played.status, 200);
        played
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacted_copy_is_refused_to_the_wrong_role_a_broken_plan_and_a_recording_not_held() {
    let r = redaction().await;
    let Redaction {
        source,
        other,
        tp,
        tr,
        plan,
        ..
    } = &r;
    let make = |token: String, body: serde_json::Value| r.make(token, body);
    assert_eq!(
        make(
            tr.clone(),
            serde_json::json!({"recording_id": source.recording_id, "plan": plan})
        )
        .await
        .status,
        403
    );
    for (body, status, code) in [
        (
            serde_json::json!({"recording_id": source.recording_id, "plan": {"tracks": [{"label": "x", "kind": "pixelate", "keyframes": [{"at_millis": 0, "x": 0.9, "y": 0.0, "w": 0.5, "h": 0.5}]}]}}),
            400,
            "bad-plan",
        ),
        (
            serde_json::json!({"recording_id": source.recording_id, "plan": {"tracks": "none"}}),
            400,
            "invalid",
        ),
        (
            serde_json::json!({"recording_id": other.recording_id, "plan": plan}),
            409,
            "not-held",
        ),
        (
            serde_json::json!({"recording_id": "0190f0c4-0000-7000-8000-000000000001", "plan": plan}),
            409,
            "not-held",
        ),
    ] {
        let answer = make(tp.clone(), body.clone()).await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacted_copy_is_stored_as_recordings_are_and_the_original_is_only_read() {
    let r = redaction().await;
    let Redaction {
        w,
        source,
        tp,
        source_blob,
        source_before,
        plan,
        ..
    } = &r;
    let derivatives = DERIVATIVES;
    let make = |token: String, body: serde_json::Value| r.make(token, body);
    let made = make(
        tp.clone(),
        serde_json::json!({"recording_id": source.recording_id, "plan": plan}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.json());
    let derivative = made.json();
    let id = derivative["derivative_id"].as_str().unwrap().to_owned();
    assert_eq!(derivative["recording_id"], source.recording_id.to_string());
    let frames = derivative["frames"].as_u64().unwrap();
    assert!((45..=47).contains(&frames), "{frames}");
    assert!(derivative.get("age_header").is_none() && derivative.get("blob_key").is_none());
    assert_eq!(
        std::fs::read(source_blob).unwrap(),
        *source_before,
        "the original is only read"
    );
    // Stored as recordings are: no key in the blob, nothing readable.
    let stored = std::fs::read(w.data.join("blobs/derived").join(format!("{id}.age"))).unwrap();
    let row = w
        .server
        .deployment
        .catalog
        .derivative(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(row.age_header.starts_with(b"age-encryption.org/v1\n"));
    assert!(stored[..row.age_header.len()].iter().all(|b| *b == 0));
    assert!(!stored.windows(4).any(|w| w == b"moof" || w == b"ftyp"));
    assert_eq!(
        w.call("GET", derivatives, Some(tp), None, &[]).await.json()[0]["derivative_id"],
        id.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacted_copy_is_played_for_its_request_only_and_its_hash_is_recorded() {
    let r = redaction().await;
    let Redaction { w, tp, tr, .. } = &r;
    let derivative = r.made().await;
    let id = derivative["derivative_id"].as_str().unwrap().to_owned();
    let video = format!("/api/v1/derivatives/{id}/video");
    for (query, status) in [
        ("", 403),
        ("?purpose=complaint&case=SAR-R", 403),
        ("?purpose=subject-access-request&case=K-other", 403),
    ] {
        assert_eq!(
            w.call("GET", &format!("{video}{query}"), Some(tp), None, &[])
                .await
                .status,
            status,
            "{query}"
        );
    }
    let good = format!("{video}?purpose=subject-access-request&case=SAR-R");
    assert_eq!(w.call("GET", &good, Some(tr), None, &[]).await.status, 403);
    assert_eq!(
        w.call(
            "GET",
            "/api/v1/derivatives/nonsense/video?purpose=subject-access-request&case=SAR-R",
            Some(tp),
            None,
            &[]
        )
        .await
        .status,
        404
    );
    let played = w.call("GET", &good, Some(tp), None, &[]).await;
    assert_eq!(played.status, 200);
    assert_eq!(
        hex::encode(custos_format::sha256(&played.body)),
        derivative["sha256"].as_str().unwrap()
    );
    assert_eq!(
        played.body.len() as u64,
        derivative["plaintext_length"].as_u64().unwrap()
    );
    let part = w
        .call("GET", &good, Some(tp), None, &[("range", "bytes=10-109")])
        .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, played.body[10..110]);
    assert_eq!(
        w.call(
            "GET",
            &good,
            Some(tp),
            None,
            &[("range", "bytes=999999999-")]
        )
        .await
        .status,
        416
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_the_box_the_picture_is_gone_and_outside_it_is_as_it_was() {
    let r = redaction().await;
    let Redaction { w, source, .. } = &r;
    let derivative = r.made().await;
    let frames = derivative["frames"].as_u64().unwrap();
    let played = r
        .played(derivative["derivative_id"].as_str().unwrap())
        .await;
    let original = custos_redact::decode_all(std::io::Cursor::new(plaintext(w, source))).unwrap();
    let redacted = custos_redact::decode_all(std::io::Cursor::new(&played.body)).unwrap();
    assert_eq!(original.len(), redacted.len());
    assert_eq!(
        original.len() as u64,
        frames,
        "one derived frame per original frame"
    );
    let (width, height) = (original[0].width, original[0].height);
    let mean_diff = |a: &custos_redact::Picture,
                     b: &custos_redact::Picture,
                     x0: usize,
                     y0: usize,
                     x1: usize,
                     y1: usize| {
        let mut sum = 0f64;
        for row in y0..y1 {
            for col in x0..x1 {
                sum += (a.y[row * width + col] as f64 - b.y[row * width + col] as f64).abs();
            }
        }
        sum / ((x1 - x0) * (y1 - y0)) as f64
    };
    // The box (0.25..0.75 of 160×120) is 40..120 × 30..90: a mosaic of
    // 16-pixel blocks from (40, 30). Inside each block (away from its
    // edges, where the encoder rings) the derived picture is flat; the
    // original's scrolling colour bars are not.
    let block_range = |p: &custos_redact::Picture| {
        let mut total = 0f64;
        let mut blocks = 0f64;
        for by in [30, 46, 62] {
            for bx in [40, 56, 72, 88, 104] {
                let mut lo = 255u8;
                let mut hi = 0u8;
                for row in by + 3..by + 13 {
                    for col in bx + 3..bx + 13 {
                        let v = p.y[row * width + col];
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
                total += f64::from(hi - lo);
                blocks += 1.0;
            }
        }
        total / blocks
    };
    let frames_n = original.len() as f64;
    let before: f64 = original.iter().map(block_range).sum::<f64>() / frames_n;
    let after: f64 = redacted.iter().map(block_range).sum::<f64>() / frames_n;
    assert!(
        after < 10.0 && before > after * 2.0 + 10.0,
        "inside the box, range within a block: {after:.1} derived vs {before:.1} original"
    );
    assert_eq!(height, 120);
    for (a, b) in original.iter().zip(&redacted) {
        assert!(mean_diff(a, b, 0, 0, width, 24) < 6.0, "above the box");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_says_the_copy_was_made_for_the_request_and_played_for_it() {
    let r = redaction().await;
    let Redaction { w, source, tp, .. } = &r;
    let derivative = r.made().await;
    let id = derivative["derivative_id"].as_str().unwrap();
    let refused = w
        .call(
            "GET",
            &format!("/api/v1/derivatives/{id}/video?purpose=complaint&case=SAR-R"),
            Some(tp),
            None,
            &[],
        )
        .await;
    assert_eq!(refused.status, 403);
    r.played(id).await;
    let entries = audit(w).await;
    let redacts: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "recording.redact")
        .collect();
    assert!(redacts
        .iter()
        .any(|e| e.outcome == custos_audit::Outcome::Ok
            && e.purpose.as_deref() == Some("subject-access-request")
            && e.case.as_deref() == Some("SAR-R")
            && e.object.as_deref() == Some(format!("recording:{}", source.recording_id).as_str())));
    assert!(entries
        .iter()
        .any(|e| e.action == "derivative.play" && e.outcome == custos_audit::Outcome::Refused));
    assert!(entries.iter().any(|e| e.action == "derivative.play"
        && e.outcome == custos_audit::Outcome::Ok
        && e.case.as_deref() == Some("SAR-R")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_no_longer_decrypts_fails_the_render_audited_and_keeps_nothing() {
    let r = redaction().await;
    let Redaction {
        w,
        source,
        tp,
        source_blob,
        source_before,
        plan,
        ..
    } = &r;
    let make = |token: String, body: serde_json::Value| r.make(token, body);
    r.made().await;
    let mut damaged = source_before.clone();
    let at = damaged.len() - 100;
    damaged[at] ^= 1;
    std::fs::write(source_blob, &damaged).unwrap();
    let failed = make(
        tp.clone(),
        serde_json::json!({"recording_id": source.recording_id, "plan": plan}),
    )
    .await;
    assert_eq!(
        (failed.status, failed.json()["error"]["code"].as_str()),
        (422, Some("render-failed"))
    );
    std::fs::write(source_blob, source_before).unwrap();
    assert_eq!(
        std::fs::read_dir(w.data.join("blobs/derived"))
            .unwrap()
            .count(),
        1
    );
    assert!(std::fs::read_dir(w.data.join("staging"))
        .unwrap()
        .all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("derived-")));
    assert!(audit(w)
        .await
        .iter()
        .any(|e| e.action == "recording.redact" && e.outcome == custos_audit::Outcome::Failed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_and_copy_are_deleted_together_once_the_case_is_closed_and_time_is_up() {
    let r = redaction().await;
    let Redaction { w, tp, .. } = &r;
    let derivative = r.made().await;
    let id = derivative["derivative_id"].as_str().unwrap().to_owned();
    let closed = w
        .call("POST", "/api/v1/cases/SAR-R/close", Some(tp), None, &[])
        .await;
    assert_eq!(closed.status, 200);
    let report = w.sweep(w.now().plus_millis(90 * DAY)).await;
    assert_eq!((report.deleted, report.derivatives_deleted), (2, 1));
    assert_eq!(
        std::fs::read_dir(w.data.join("blobs/derived"))
            .unwrap()
            .count(),
        0
    );
    let row = w
        .server
        .deployment
        .catalog
        .derivative(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(row.deleted_at.is_some() && row.age_header.is_empty());
    assert!(audit(w)
        .await
        .iter()
        .any(|e| e.action == "derivative.delete"));
    assert_eq!(
        w.sweep(w.now().plus_millis(91 * DAY))
            .await
            .derivatives_deleted,
        0
    );
}

/// The answer to a subject access request: an export package holding only
/// the request's redacted copies (no original, no neighbour, no audit
/// trail, no requester's name), encrypted to a passphrase or kept for a
/// one-download link, verifiable offline; the request records it, and its
/// closing says so.
/// Camera cam-q's two recordings; two subject access requests whose
/// searches held them (SAR-D, and SAR-EMPTY, which gets no copy); a
/// redacted copy of the first for SAR-D; a privacy officer (petra) and a
/// reviewer (rita) signed in.
struct Answering {
    w: World,
    recordings: Vec<custos_catalog::Recording>,
    tp: String,
    tr: String,
    derivative: serde_json::Value,
}

const DELIVERY: &str = "/api/v1/subject-requests/SAR-D/delivery";

/// A delivery's body: the passphrase, with `extra`'s fields set (or, when
/// null, left out).
fn with(extra: serde_json::Value) -> serde_json::Value {
    let mut body = serde_json::json!({"passphrase": EXPORT_PASS});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            body.as_object_mut().unwrap().remove(k);
        } else {
            body[k] = v.clone();
        }
    }
    body
}

async fn answering() -> Answering {
    let w = world().await;
    let cam = w.camera("cam-q", 0, true).await;
    record_frames(&cam, 2, 30);
    w.offload(&cam).await;
    let mut recordings = w.server.deployment.catalog.recordings().await.unwrap();
    recordings.sort_by_key(|r| r.sequence);
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let (tp, tr) = (w.sign_in(&petra).await, w.sign_in(&rita).await);
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    for case in ["SAR-D", "SAR-EMPTY"] {
        let opened = w
            .call(
                "POST",
                "/api/v1/subject-requests",
                Some(&tp),
                Some(serde_json::json!({
                    "case_id": case, "requester": "Cornelia Visser", "identity_check": "passport",
                    "description": "yellow bag",
                    "window_from": rfc(recordings[0].started_at.plus_millis(-1_000)),
                    "window_to": rfc(recordings[1].ended_at),
                })),
                &[],
            )
            .await;
        assert_eq!(opened.status, 201);
        let found = w
            .call(
                "POST",
                &format!("/api/v1/subject-requests/{case}/search"),
                Some(&tp),
                Some(serde_json::json!({})),
                &[],
            )
            .await;
        assert_eq!(found.status, 200);
    }
    let made = w
        .call(
            "POST",
            "/api/v1/subject-requests/SAR-D/derivatives",
            Some(&tp),
            Some(serde_json::json!({"recording_id": recordings[0].recording_id, "plan": {"tracks": [
                {"label": "p", "kind": "pixelate", "keyframes": [{"at_millis": 0, "x": 0.5, "y": 0.5, "w": 0.5, "h": 0.5}]}]}})),
            &[],
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.json());
    let derivative = made.json();
    Answering {
        w,
        recordings,
        tp,
        tr,
        derivative,
    }
}

impl Answering {
    /// SAR-D answered in Dutch, to a passphrase.
    async fn delivered(&self) -> Answer {
        let answer = self
            .w
            .call(
                "POST",
                DELIVERY,
                Some(&self.tp),
                Some(with(serde_json::json!({"language": "nl"}))),
                &[],
            )
            .await;
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        answer
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_is_refused_to_another_role_without_protection_and_with_nothing_to_give() {
    let a = answering().await;
    let Answering { w, tp, tr, .. } = &a;
    let delivery = DELIVERY;
    assert_eq!(
        w.call(
            "POST",
            delivery,
            Some(tr),
            Some(with(serde_json::json!({}))),
            &[]
        )
        .await
        .status,
        403
    );
    for (path, body, status, code) in [
        (
            delivery,
            with(serde_json::json!({"passphrase": null})),
            400,
            "protection-required",
        ),
        (
            delivery,
            with(serde_json::json!({"derivatives": ["0190f0c4-0000-7000-8000-000000000001"]})),
            409,
            "not-a-copy",
        ),
        (
            "/api/v1/subject-requests/SAR-EMPTY/delivery",
            with(serde_json::json!({})),
            409,
            "nothing-to-deliver",
        ),
        (
            "/api/v1/subject-requests/K-none/delivery",
            with(serde_json::json!({})),
            404,
            "not-found",
        ),
        (
            delivery,
            with(serde_json::json!({"link": {"valid_hours": 0}})),
            400,
            "bad-link",
        ),
    ] {
        let answer = w
            .call("POST", path, Some(tp), Some(body.clone()), &[])
            .await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answer_holds_only_the_redacted_copies_names_no_requester_and_verifies() {
    let a = answering().await;
    let Answering {
        recordings,
        derivative,
        ..
    } = &a;
    let answer = a.delivered().await;
    let tar = open_package(&answer.body, EXPORT_PASS);
    assert!(
        !tar.windows(7).any(|w| w == b"Visser ") && !tar.windows(6).any(|w| w == b"Visser"),
        "the requester's name is nowhere in the package"
    );
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    let verdict = custos_export::verify::verify(&contents, &Default::default());
    assert!(verdict.ok(), "{:?}", verdict.findings);
    let id = derivative["derivative_id"].as_str().unwrap();
    let mut paths: Vec<&str> = contents.files.keys().map(String::as_str).collect();
    paths.sort();
    assert!(
        paths.iter().all(|p| !p.starts_with("recordings/")),
        "{paths:?}"
    );
    assert!(
        paths.contains(&format!("derived/{id}/video.mp4").as_str()),
        "{paths:?}"
    );
    assert!(paths.contains(&format!("derived/{id}/derivative.json").as_str()));
    let description: serde_json::Value =
        serde_json::from_slice(contents.bytes("export.json").unwrap()).unwrap();
    assert_eq!(
        description["recipient"],
        "the data subject of request SAR-D"
    );
    assert_eq!(description["purpose"], "subject-access-request");
    assert_eq!(description["derived"].as_array().unwrap().len(), 1);
    assert_eq!(description["recordings"], serde_json::json!([]));
    let record: serde_json::Value = serde_json::from_slice(
        contents
            .bytes(&format!("derived/{id}/derivative.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["sha256"], derivative["sha256"]);
    assert_eq!(
        record["source_recording_id"],
        recordings[0].recording_id.to_string()
    );
    assert_eq!(
        record["source_manifest_sha256"],
        hex::encode(recordings[0].camera().unwrap().manifest_sha256)
    );
    let report = String::from_utf8(contents.bytes("report.html").unwrap().to_vec()).unwrap();
    assert!(report.contains("Geanonimiseerde kopie"), "{report}");
    // Any change to the copy is named.
    let mut changed = contents.clone();
    changed
        .files
        .get_mut(&format!("derived/{id}/video.mp4"))
        .unwrap()
        .sha256[0] ^= 1;
    let verdict = custos_export::verify::verify(&changed, &Default::default());
    assert!(!verdict.ok());
    assert!(
        verdict
            .findings
            .iter()
            .any(|f| !f.ok && f.item == format!("derived/{id}/video.mp4")),
        "{:?}",
        verdict.findings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivered_answer_verifies_offline_and_with_standard_tools_alone() {
    let a = answering().await;
    let answer = a.delivered().await;
    let tar = open_package(&answer.body, EXPORT_PASS);
    let id = a.derivative["derivative_id"].as_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("answer.tar.age");
    std::fs::write(&file, &answer.body).unwrap();
    let (code, out) = verify_package(&file, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("redacted copy {id}")), "{out}");
    // … and so do standard tools alone (docs/VERIFY.md).
    let unpacked = tmp.path().join("answer");
    std::fs::create_dir(&unpacked).unwrap();
    std::fs::write(tmp.path().join("answer.tar"), &tar).unwrap();
    assert!(std::process::Command::new("tar")
        .arg("-xmf")
        .arg(tmp.path().join("answer.tar"))
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap()
        .success());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/verify-export-with-standard-tools.sh"
    );
    let checked = std::process::Command::new("sh")
        .arg(script)
        .arg(&unpacked)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stdout).into_owned()
        + &String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{said}");
    assert!(
        said.contains("redacted copy, SHA-256 as recorded"),
        "{said}"
    );
    // A changed copy fails there too (its hash no longer as listed).
    let video = unpacked.join(format!("derived/{id}/video.mp4"));
    let mut bytes = std::fs::read(&video).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&video, &bytes).unwrap();
    assert!(!std::process::Command::new("sh")
        .arg(script)
        .arg(&unpacked)
        .output()
        .unwrap()
        .status
        .success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_by_link_is_view_once_and_the_request_records_its_latest_answer() {
    let a = answering().await;
    let Answering {
        w, tp, derivative, ..
    } = &a;
    let delivery = DELIVERY;
    let answer = a.delivered().await;
    let export_id = answer.header("custos-export-id").unwrap().to_owned();
    let id = derivative["derivative_id"].as_str().unwrap();
    let linked = w
        .call(
            "POST",
            delivery,
            Some(tp),
            Some(with(serde_json::json!({"link": {"valid_hours": 48}}))),
            &[],
        )
        .await;
    assert_eq!(linked.status, 201, "{}", linked.json());
    assert_eq!(linked.json()["max_downloads"], 1);
    let path = linked.json()["path"].as_str().unwrap().to_owned();
    assert_eq!(w.call("POST", &path, None, None, &[]).await.status, 200);
    assert_eq!(w.call("POST", &path, None, None, &[]).await.status, 410);

    // The request records its latest answer; its closing says so.
    let view = w
        .call("GET", "/api/v1/subject-requests/SAR-D", Some(tp), None, &[])
        .await
        .json();
    assert_eq!(
        view["request"]["delivered_export"],
        linked.json()["export_id"]
    );
    assert_ne!(view["request"]["delivered_export"], export_id.as_str());
    let closed = w
        .call("POST", "/api/v1/cases/SAR-D/close", Some(tp), None, &[])
        .await;
    assert_eq!(closed.status, 200);
    let entries = audit(w).await;
    let closing = entries
        .iter()
        .find(|e| e.action == "case.close" && e.case.as_deref() == Some("SAR-D"))
        .unwrap();
    assert!(
        closing
            .detail
            .as_deref()
            .unwrap()
            .starts_with("answered: export "),
        "{closing:?}"
    );
    assert_eq!(
        entries
            .iter()
            .filter(
                |e| e.action == "subject-request.deliver" && e.outcome == custos_audit::Outcome::Ok
            )
            .count(),
        2
    );
    assert!(entries.iter().any(|e| e.action == "derivative.export"
        && e.object.as_deref() == Some(format!("derivative:{id}").as_str())));
    assert!(!serde_json::to_string(&entries).unwrap().contains("Visser"));
}
