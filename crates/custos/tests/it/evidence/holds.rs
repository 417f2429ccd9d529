//! Holds and their second person; cases checked.

use super::*;

/// A deployment where a hold needs a second person: one docked recording,
/// a reviewer (anna) and a privacy officer (bert) signed in, a police
/// request's case of anna's, and anna's hold on the recording for it.
struct HoldCase {
    w: World,
    recording: custos_catalog::Recording,
    bert: Account,
    ta: String,
    tb: String,
    case: String,
    /// The hold as its creation answered.
    hold: serde_json::Value,
}

async fn hold_case() -> HoldCase {
    let w = world_with(custos_access::Policy {
        hold_needs_second_approver: true,
        ..Default::default()
    })
    .await;
    let cam = w.camera("cam-h", 1, true).await;
    w.offload(&cam).await;
    let recording = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    let anna = w.add_user("anna", "reviewer", None).await;
    let bert = w.add_user("bert", "privacy-officer", None).await;
    let (ta, tb) = (w.sign_in(&anna).await, w.sign_in(&bert).await);
    let case = w.with_case(&ta, "police-request").await;
    let hold = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&ta),
            Some(serde_json::json!({"recording_id": recording.recording_id, "reason": "PV requested"})),
            &[],
        )
        .await
        .json();
    HoldCase {
        w,
        recording,
        bert,
        ta,
        tb,
        case,
        hold,
    }
}

impl HoldCase {
    /// `/api/v1/holds/{id}/{action}` for the fixture's hold.
    fn hold_path(&self, action: &str) -> String {
        format!(
            "/api/v1/holds/{}/{action}",
            self.hold["hold_id"].as_str().unwrap()
        )
    }

    /// The hold, approved by bert.
    async fn approved(&self) {
        let second = self
            .w
            .call(
                "POST",
                &self.hold_path("approve"),
                Some(&self.tb),
                None,
                &[],
            )
            .await;
        assert_eq!(second.status, 200, "{}", second.json());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_waits_for_a_second_person_who_is_not_the_one_who_asked() {
    let c = hold_case().await;
    let (w, hold, ta, tb) = (&c.w, &c.hold, c.ta.clone(), c.tb.clone());
    assert!(hold["approved_at"].is_null());
    let approve = c.hold_path("approve");
    let own = w.call("POST", &approve, Some(&ta), None, &[]).await;
    assert_eq!((own.status, own.code().as_str()), (403, "four-eyes"));
    let second = w.call("POST", &approve, Some(&tb), None, &[]).await;
    assert_eq!(second.status, 200, "{}", second.json());
    assert_eq!(second.json()["approved_by"], "bert");
    assert_eq!(
        w.call("POST", &approve, Some(&tb), None, &[]).await.status,
        409
    );
}

/// Garbage and forgeries are refused clearly and leave nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_duplicate_cases_and_holds_on_unknown_recordings_are_refused_and_leave_nothing() {
    let HoldCase { w, ta, case, .. } = &hold_case().await;
    for bad in [
        serde_json::json!({"kind": "party", "label": "x"}),
        serde_json::json!({"kind": "police-request", "label": "no PV number"}),
        serde_json::json!({"kind": "complaint", "label": ""}),
        serde_json::json!({"kind": "complaint", "label": "x", "case_id": "has spaces"}),
        serde_json::json!({"kind": "complaint", "label": "x", "extra": 1}),
        serde_json::json!([1, 2]),
    ] {
        let answer = w
            .call("POST", "/api/v1/cases", Some(ta), Some(bad.clone()), &[])
            .await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.json());
    }
    let dup = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(ta),
            Some(serde_json::json!({"kind": "complaint", "label": "x", "case_id": case})),
            &[],
        )
        .await;
    assert_eq!(dup.status, 409);
    let no_rec = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(ta),
            Some(serde_json::json!({"recording_id": "0190f0c4-0000-7000-8000-000000000001", "reason": "x"})),
            &[],
        )
        .await;
    assert_eq!(no_rec.status, 404);
    let cases = w
        .call("GET", "/api/v1/cases", Some(ta), None, &[])
        .await
        .json();
    assert_eq!(cases.as_array().unwrap().len(), 1);
}

/// A subject access request is due a month after it came in (its case
/// is the privacy officer's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_access_request_is_due_a_month_after_it_came_in() {
    let HoldCase { w, tb, .. } = &hold_case().await;
    let sar = w.with_case(tb, "subject-access-request").await;
    let got = w
        .call("GET", &format!("/api/v1/cases/{sar}"), Some(tb), None, &[])
        .await
        .json();
    let opened =
        custos_format::UtcMillis::parse(got["case"]["opened_at"].as_str().unwrap()).unwrap();
    let due = custos_format::UtcMillis::parse(got["case"]["due_at"].as_str().unwrap()).unwrap();
    let days = (due.as_millis() - opened.as_millis()) / DAY;
    assert!((28..=31).contains(&days), "{days}");
}

/// One hold released before its case closes: audited, and the recording
/// then stays at least the grace period (7 days), never less.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_released_early_is_audited_and_the_recording_then_stays_at_least_a_grace_period() {
    let c = hold_case().await;
    c.approved().await;
    let HoldCase {
        w,
        recording,
        bert,
        case,
        ..
    } = &c;
    let release = c.hold_path("release");
    let catalog = &w.server.deployment.catalog;
    let before_release = catalog
        .recording(recording.recording_id)
        .await
        .unwrap()
        .unwrap();
    w.clock_offset
        .fetch_add(40 * DAY, std::sync::atomic::Ordering::SeqCst);
    let tb = w.sign_in(bert).await;
    let grace_end = (w.server.deployment.clock)().plus_millis(7 * DAY);
    let released = w.call("POST", &release, Some(&tb), None, &[]).await;
    assert_eq!(released.status, 200, "{}", released.json());
    assert_eq!(released.json()["released_by"], "bert");
    assert_eq!(
        w.call("POST", &release, Some(&tb), None, &[]).await.status,
        409,
        "released once"
    );
    assert_eq!(
        w.call(
            "POST",
            "/api/v1/holds/not-a-uuid/release",
            Some(&tb),
            None,
            &[]
        )
        .await
        .status,
        404
    );
    let after = catalog
        .recording(recording.recording_id)
        .await
        .unwrap()
        .unwrap();
    assert!(after.delete_after >= grace_end && after.delete_after > before_release.delete_after);
    assert!(w.sweep((w.server.deployment.clock)()).await.deleted == 0);
    let releases: Vec<_> = audit(w)
        .await
        .into_iter()
        .filter(|e| e.action == "hold.release")
        .collect();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].case.as_deref(), Some(case.as_str()));
}
