//! Insiders: each role tries the detours around the access matrix that a
//! person in that role would try, and each is refused (issue 20). The
//! matrix itself is `access.rs`; these are the ways around it.

use crate::common::*;

/// A recording of officer boa-5, secured by a reviewer for a complaint
/// about that officer.
async fn complaint_about_boa_5(w: &World) -> (custos_catalog::Recording, String) {
    let r = w.one_recording("cam-a", 10).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let token = w.sign_in(&rita).await;
    let case = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(&token),
            Some(serde_json::json!({"kind": "complaint", "label": "Klacht over optreden boa-5"})),
            &[],
        )
        .await;
    assert_eq!(case.status, 201, "{}", case.json());
    let case_id = case.json()["case_id"].as_str().unwrap().to_owned();
    let held = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case_id}/holds"),
            Some(&token),
            Some(serde_json::json!({"recording_id": r.recording_id, "reason": "onderzoek naar boa-5"})),
            &[],
        )
        .await;
    assert_eq!(held.status, 201, "{}", held.json());
    (r, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_sees_that_a_recording_is_secured_never_by_whom_for_what_or_why() {
    let w = world().await;
    let (r, reviewer) = complaint_about_boa_5(&w).await;
    let olga = w.add_user("olga", "officer", Some("boa-5")).await;
    let officer = w.sign_in(&olga).await;
    let path = format!("/api/v1/recordings/{}", r.recording_id);

    let seen = w.call("GET", &path, Some(&officer), None, &[]).await;
    assert_eq!(seen.status, 200, "{}", seen.json());
    let body = seen.json();
    assert_eq!(body["held"], true, "the officer sees that it is secured");
    assert_eq!(body["holds"], serde_json::json!([]), "{body}");
    let text = String::from_utf8_lossy(&seen.body);
    for secret in ["Klacht", "onderzoek", "rita", "complaint"] {
        assert!(!text.contains(secret), "{secret} shown to the officer");
    }
    // The list says the same, and no more.
    let list = w
        .call("GET", "/api/v1/recordings", Some(&officer), None, &[])
        .await;
    assert_eq!(list.status, 200);
    let text = String::from_utf8_lossy(&list.body);
    assert!(text.contains(&r.recording_id.to_string()));
    for secret in ["Klacht", "onderzoek", "rita"] {
        assert!(!text.contains(secret), "{secret} in the officer's list");
    }

    // Nor can they find the case by filtering their list by it: the same
    // refusal whether the case exists or not.
    for case in [case_of(&w, &reviewer, r.recording_id).await, "K-0".into()] {
        let filtered = w
            .call(
                "GET",
                &format!("/api/v1/recordings?case={case}"),
                Some(&officer),
                None,
                &[],
            )
            .await;
        assert_eq!(
            (filtered.status, filtered.code().as_str()),
            (403, "case-filter-not-allowed")
        );
    }

    // The reviewer handling the case sees the hold in full.
    let seen = w.call("GET", &path, Some(&reviewer), None, &[]).await;
    assert_eq!(seen.status, 200);
    let holds = seen.json()["holds"].as_array().unwrap().clone();
    assert_eq!(holds.len(), 1);
    assert_eq!(holds[0]["reason"], "onderzoek naar boa-5");
    assert_eq!(holds[0]["placed_by"], "rita");
}

/// The case holding a recording, as its reviewer sees it.
async fn case_of(w: &World, token: &str, recording: uuid::Uuid) -> String {
    let seen = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{recording}"),
            Some(token),
            None,
            &[],
        )
        .await;
    seen.json()["holds"][0]["case_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A subject access request is the privacy officer's: a reviewer cannot
/// read, list, close, add to, release from, export from or watch footage
/// under its case, nor open one; each attempt is refused and audited.
/// Privacy officer petra's request SAR-9, whose search secured a recording,
/// with an export asked for the requester; reviewer rita, signed in.
struct Sar {
    w: World,
    r: custos_catalog::Recording,
    tp: String,
    tr: String,
    hold: uuid::Uuid,
    export_request: String,
}

async fn sar_9() -> Sar {
    let w = world().await;
    let r = w.one_recording("cam-s", 10).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let (tp, tr) = (w.sign_in(&petra).await, w.sign_in(&rita).await);
    w.searched_subject_request(&tp, "SAR-9", &r).await;
    let holds = w
        .server
        .deployment
        .catalog
        .holds_for_case("SAR-9")
        .await
        .unwrap();
    assert_eq!(holds.len(), 1, "the search secured the recording");
    let hold = holds[0].hold_id;
    // An export asked for by the privacy officer, for the requester.
    let asked = w
        .call(
            "POST",
            "/api/v1/cases/SAR-9/export-requests",
            Some(&tp),
            Some(serde_json::json!({"purpose": "subject-access-request",
                "recipient": "A. Visser, Dorpsstraat 1"})),
            &[],
        )
        .await;
    assert_eq!(asked.status, 201, "{}", asked.json());
    let export_request = asked.json()["request_id"].as_str().unwrap().to_owned();
    Sar {
        w,
        r,
        tp,
        tr,
        hold,
        export_request,
    }
}

impl Sar {
    /// Everything a reviewer might try under the request's case: each
    /// method, path and body.
    fn tries(&self) -> Vec<(&'static str, String, Option<serde_json::Value>)> {
        let (r, hold, export_request) = (&self.r, self.hold, &self.export_request);
        let video = format!(
            "/api/v1/recordings/{}/video?purpose=complaint&case=SAR-9",
            r.recording_id
        );
        vec![
            ("GET", "/api/v1/cases/SAR-9".into(), None),
            ("POST", "/api/v1/cases/SAR-9/close".into(), None),
            (
                "POST",
                "/api/v1/cases/SAR-9/holds".into(),
                Some(serde_json::json!({"recording_id": r.recording_id, "reason": "mine now"})),
            ),
            ("POST", format!("/api/v1/holds/{hold}/release"), None),
            ("GET", video.clone(), None),
            (
                "POST",
                "/api/v1/cases/SAR-9/exports".into(),
                Some(
                    serde_json::json!({"purpose": "complaint", "recipient": "me",
                    "passphrase": "a passphrase of some length"}),
                ),
            ),
            ("GET", "/api/v1/cases/SAR-9/export-links".into(), None),
            ("GET", "/api/v1/cases/SAR-9/export-requests".into(), None),
            (
                "POST",
                "/api/v1/cases".into(),
                Some(serde_json::json!({"kind": "subject-access-request", "label": "my own"})),
            ),
            (
                "POST",
                format!("/api/v1/export-requests/{export_request}/approve"),
                None,
            ),
        ]
    }

    /// The reviewer tries each of `tries()`: each method and path with
    /// its answer.
    async fn reviewer_tries(&self) -> Vec<(&'static str, String, Answer)> {
        let mut answers = Vec::new();
        for (method, path, body) in self.tries() {
            let answer = self.w.call(method, &path, Some(&self.tr), body, &[]).await;
            answers.push((method, path, answer));
        }
        answers
    }

    /// The recording's detail and its audit trail, as `token` sees them.
    async fn recording_and_trail(&self, token: &str) -> (Answer, Answer) {
        let path = format!("/api/v1/recordings/{}", self.r.recording_id);
        let detail = self.w.call("GET", &path, Some(token), None, &[]).await;
        let trail = self
            .w
            .call("GET", &format!("{path}/audit"), Some(token), None, &[])
            .await;
        (detail, trail)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_is_refused_every_action_under_a_subject_access_request_and_each_is_audited() {
    let s = sar_9().await;
    let w = &s.w;
    let before = audit_events(w).await.len();
    let tries = s.reviewer_tries().await;
    for (method, path, answer) in &tries {
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "subject-request-case"),
            "{method} {path}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    let refused: Vec<_> = audit_events(w).await[before..]
        .iter()
        .filter(|e| {
            e.outcome == custos_audit::Outcome::Refused
                && e.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("privacy officer only"))
        })
        .map(|e| e.action.clone())
        .collect();
    assert_eq!(
        refused.len(),
        tries.len(),
        "each refusal audited: {refused:?}"
    );
}

/// Nor through the recording: its holds, its trail and the list by case
/// leave the request out for a reviewer (after all of the reviewer's tries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recordings_holds_trail_and_case_filter_leave_a_subject_access_request_out_for_a_reviewer(
) {
    let s = sar_9().await;
    let (w, tr) = (&s.w, &s.tr);
    s.reviewer_tries().await;
    let (detail, trail) = s.recording_and_trail(tr).await;
    assert_eq!(detail.json()["holds"], serde_json::json!([]));
    assert_eq!(detail.json()["held"], true);
    assert_eq!(trail.status, 200);
    assert!(!String::from_utf8_lossy(&trail.body).contains("SAR-9"));
    let listed = w
        .call("GET", "/api/v1/recordings?case=SAR-9", Some(tr), None, &[])
        .await;
    assert_eq!(
        (listed.status, listed.code().as_str()),
        (403, "case-filter-not-allowed")
    );
}

/// The privacy officer sees all of it: the request's hold on the recording
/// and the request in its trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_privacy_officer_sees_the_subject_access_request_on_its_recording_and_in_its_trail() {
    let s = sar_9().await;
    s.reviewer_tries().await;
    let (detail, trail) = s.recording_and_trail(&s.tp).await;
    assert_eq!(detail.json()["holds"][0]["case_id"], "SAR-9");
    assert!(String::from_utf8_lossy(&trail.body).contains("SAR-9"));
}

/// Nothing the reviewer tried changed anything: the case is open, the hold
/// in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewers_tries_leave_a_subject_access_request_open_and_its_hold_in_force() {
    let s = sar_9().await;
    let w = &s.w;
    s.reviewer_tries().await;
    let case = w
        .server
        .deployment
        .catalog
        .case("SAR-9")
        .await
        .unwrap()
        .unwrap();
    assert!(case.closed_at.is_none());
    let holds = w
        .server
        .deployment
        .catalog
        .holds_for_case("SAR-9")
        .await
        .unwrap();
    assert_eq!(holds.len(), 1);
    assert!(holds[0].released_at.is_none());
}

/// The list of cases does not show a subject access request to the
/// reviewer; the privacy officer sees and reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_of_cases_hides_a_subject_access_request_from_a_reviewer_not_the_privacy_officer()
{
    let s = sar_9().await;
    let (w, tp, tr) = (&s.w, &s.tp, &s.tr);
    s.reviewer_tries().await;
    let listed = w.call("GET", "/api/v1/cases", Some(tr), None, &[]).await;
    assert_eq!(listed.status, 200);
    assert!(!String::from_utf8_lossy(&listed.body).contains("SAR-9"));
    let listed = w.call("GET", "/api/v1/cases", Some(tp), None, &[]).await;
    assert!(String::from_utf8_lossy(&listed.body).contains("SAR-9"));
    let read = w
        .call("GET", "/api/v1/cases/SAR-9", Some(tp), None, &[])
        .await;
    assert_eq!(read.status, 200);
}

/// An export takes only recordings whose hold is in force: one awaiting
/// its second approver secures nothing yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_counts_only_holds_in_force() {
    let w = world_with(custos_access::Policy {
        hold_needs_second_approver: true,
        ..Default::default()
    })
    .await;
    let r = w.one_recording("cam-e", 10).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let rob = w.add_user("rob", "reviewer", None).await;
    let (tr, tb) = (w.sign_in(&rita).await, w.sign_in(&rob).await);
    let case = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(&tr),
            Some(serde_json::json!({"kind": "incident", "label": "export test"})),
            &[],
        )
        .await
        .json()["case_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let held = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&tr),
            Some(serde_json::json!({"recording_id": r.recording_id, "reason": "evidence"})),
            &[],
        )
        .await;
    assert_eq!(held.status, 201);
    let hold = held.json()["hold_id"].as_str().unwrap().to_owned();
    let export = |token: String| {
        let (w, case) = (&w, case.clone());
        async move {
            w.call(
                "POST",
                &format!("/api/v1/cases/{case}/exports"),
                Some(&token),
                Some(
                    serde_json::json!({"purpose": "investigation", "recipient": "Politie",
                    "passphrase": "a passphrase of some length"}),
                ),
                &[],
            )
            .await
        }
    };
    let pending = export(tr.clone()).await;
    assert_eq!(
        (pending.status, pending.code().as_str()),
        (409, "nothing-to-export"),
        "a pending hold secured the recording"
    );
    let approved = w
        .call(
            "POST",
            &format!("/api/v1/holds/{hold}/approve"),
            Some(&tb),
            None,
            &[],
        )
        .await;
    assert_eq!(approved.status, 200, "{}", approved.json());
    let done = export(tr.clone()).await;
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
}

/// Reading who received footage, which exports were asked for and which
/// redacted copies exist leaves an entry naming the case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_links_export_requests_and_redacted_copies_is_audited() {
    let w = world().await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let (tr, tp) = (w.sign_in(&rita).await, w.sign_in(&petra).await);
    let case = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(&tr),
            Some(serde_json::json!({"kind": "incident", "label": "reads"})),
            &[],
        )
        .await
        .json()["case_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = w.now();
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    let opened = w
        .call(
            "POST",
            "/api/v1/subject-requests",
            Some(&tp),
            Some(serde_json::json!({
                "case_id": "SAR-R", "requester": "B. de Vries", "identity_check": "passport",
                "description": "red coat",
                "window_from": rfc(now.plus_millis(-60_000)), "window_to": rfc(now),
            })),
            &[],
        )
        .await;
    assert_eq!(opened.status, 201);
    for (token, path, action, object) in [
        (
            &tr,
            format!("/api/v1/cases/{case}/export-links"),
            "export-link.list",
            format!("case:{case}"),
        ),
        (
            &tr,
            format!("/api/v1/cases/{case}/export-requests"),
            "export.requests",
            format!("case:{case}"),
        ),
        (
            &tp,
            "/api/v1/subject-requests/SAR-R/derivatives".to_owned(),
            "derivative.list",
            "case:SAR-R".to_owned(),
        ),
    ] {
        let before = audit_events(&w).await.len();
        let answer = w.call("GET", &path, Some(token), None, &[]).await;
        assert_eq!(answer.status, 200, "{path}");
        let wrote: Vec<_> = audit_events(&w).await[before..]
            .iter()
            .filter(|e| {
                e.action == action
                    && e.outcome == custos_audit::Outcome::Ok
                    && e.object.as_deref() == Some(object.as_str())
            })
            .cloned()
            .collect();
        assert_eq!(wrote.len(), 1, "{path}: {wrote:?}");
    }
}

/// A purpose is bound to its case: a reviewer who opens a case with any
/// label cannot play, thumbnail, download or look for faces in a recording
/// that has nothing to do with it; only once the recording is attached to
/// the case (a hold, or a link with its reason, audited) is it seen for it.
/// One recording; an incident case opened by reviewer rita, to which the
/// recording is not attached; a second reviewer, rob.
struct Attach {
    w: World,
    tr: String,
    tb: String,
    case: String,
    /// The recording's footage routes, asked for a complaint and the case.
    footage: [String; 4],
    base: String,
    id: String,
}

async fn attach() -> Attach {
    let w = world().await;
    let r = w.docked_recording().await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let rob = w.add_user("rob", "reviewer", None).await;
    let (tr, tb) = (w.sign_in(&rita).await, w.sign_in(&rob).await);
    let case = w
        .with_case_labelled(&tr, "incident", "anything at all")
        .await;
    let q = format!("purpose=complaint&case={case}");
    let base = format!("/api/v1/recordings/{}", r.recording_id);
    let footage = [
        format!("{base}/video?{q}"),
        format!("{base}/thumbnail?{q}"),
        format!("{base}/download?{q}"),
        format!("{base}/faces?{q}"),
    ];
    Attach {
        id: r.recording_id.to_string(),
        w,
        tr,
        tb,
        case,
        footage,
        base,
    }
}

impl Attach {
    async fn link(&self, token: String, case: String, body: serde_json::Value) -> Answer {
        self.w
            .call(
                "POST",
                &format!("/api/v1/cases/{case}/recordings"),
                Some(&token),
                Some(body),
                &[],
            )
            .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn footage_is_refused_for_a_case_the_recording_is_not_attached_to_and_each_refusal_is_audited(
) {
    let a = attach().await;
    let Attach { w, tr, footage, .. } = &a;
    let before = audit_events(w).await.len();
    for path in footage {
        let answer = w.call("GET", path, Some(tr), None, &[]).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "not-attached"),
            "{path}"
        );
        assert!(answer.body.len() < 1_000, "no footage in a refusal");
    }
    let refused = audit_events(w).await[before..]
        .iter()
        .filter(|e| e.outcome == custos_audit::Outcome::Refused)
        .count();
    assert_eq!(refused, footage.len(), "each refusal is audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linking_refuses_bad_input_unknown_cases_and_other_roles_and_links_nothing() {
    let a = attach().await;
    let Attach {
        w, tr, case, id, ..
    } = &a;
    let link = |token: String, case: String, body: serde_json::Value| a.link(token, case, body);
    for (body, status, code) in [
        (
            serde_json::json!({"recording_id": id, "reason": " "}),
            400,
            "invalid",
        ),
        (
            serde_json::json!({"recording_id": id, "reason": "x".repeat(501)}),
            400,
            "invalid",
        ),
        (
            serde_json::json!({"recording_id": id, "reason": "evil\u{202e}txt"}),
            400,
            "invalid",
        ),
        (serde_json::json!({"recording_id": id}), 400, "invalid"),
        (
            serde_json::json!({"recording_id": "not-a-uuid", "reason": "x"}),
            400,
            "invalid",
        ),
        (
            serde_json::json!({"recording_id": id, "reason": "x", "extra": 1}),
            400,
            "invalid",
        ),
        (
            serde_json::json!({"recording_id": uuid::Uuid::now_v7(), "reason": "x"}),
            404,
            "recording-not-found",
        ),
    ] {
        let answer = link(tr.clone(), case.clone(), body.clone()).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{body}"
        );
    }
    let unknown = link(
        tr.clone(),
        "no-such-case".into(),
        serde_json::json!({"recording_id": id, "reason": "x"}),
    )
    .await;
    assert_eq!(unknown.status, 404);
    for role in ["officer", "admin", "auditor", "evaluator"] {
        let who = w
            .add_user(
                &format!("x-{role}"),
                role,
                Some("boa-1").filter(|_| role == "officer"),
            )
            .await;
        let token = w.sign_in(&who).await;
        let answer = link(
            token,
            case.clone(),
            serde_json::json!({"recording_id": id, "reason": "x"}),
        )
        .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "forbidden"),
            "{role}"
        );
    }
    let none = w.server.deployment.catalog.case_links(case).await.unwrap();
    assert!(none.is_empty(), "{none:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_with_a_reason_is_audited_without_it_and_opens_the_footage_to_the_cases_reviewers() {
    let a = attach().await;
    let Attach {
        w,
        tr,
        tb,
        case,
        footage,
        id,
        ..
    } = &a;
    let link = |token: String, case: String, body: serde_json::Value| a.link(token, case, body);
    let made = link(
        tr.clone(),
        case.clone(),
        serde_json::json!({"recording_id": id, "reason": "the complainant names this stop"}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.json());
    let again = link(
        tb.clone(),
        case.clone(),
        serde_json::json!({"recording_id": id, "reason": "another reason"}),
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["reason"], "the complainant names this stop");
    assert_eq!(again.json()["linked_by"], "rita");
    let entries: Vec<_> = audit_events(w)
        .await
        .into_iter()
        .filter(|e| e.action == "case.link" && e.outcome == custos_audit::Outcome::Ok)
        .collect();
    // Linking again links nothing, but it was answered with the first
    // link (who made it, why): that reading is on record.
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0].detail, None);
    assert_eq!(entries[1].actor, "user:rob");
    assert_eq!(entries[1].detail.as_deref(), Some("linked already"));
    assert_eq!(
        entries[0].object.as_deref(),
        Some(format!("recording:{id}").as_str())
    );
    assert_eq!(entries[0].case.as_deref(), Some(case.as_str()));
    assert!(entries
        .iter()
        .all(|e| !format!("{e:?}").contains("complainant")));
    let read = w
        .call("GET", &format!("/api/v1/cases/{case}"), Some(tb), None, &[])
        .await;
    assert_eq!(read.json()["links"][0]["recording_id"], id.as_str());
    for (token, path) in [(&tr, &footage[0]), (&tb, &footage[0]), (&tr, &footage[1])] {
        let answer = w.call("GET", path, Some(token), None, &[]).await;
        assert_eq!(answer.status, 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_case_does_not_reach_a_linked_recording_and_a_closed_case_links_nothing() {
    let a = attach().await;
    let Attach {
        w,
        tr,
        tb,
        case,
        base,
        id,
        ..
    } = &a;
    let link = |token: String, case: String, body: serde_json::Value| a.link(token, case, body);
    let made = link(
        tr.clone(),
        case.clone(),
        serde_json::json!({"recording_id": id, "reason": "the complainant names this stop"}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.json());
    let other = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(tb),
            Some(serde_json::json!({"kind": "complaint", "label": "unrelated"})),
            &[],
        )
        .await
        .json()["case_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = w
        .call(
            "GET",
            &format!("{base}/video?purpose=complaint&case={other}"),
            Some(tb),
            None,
            &[],
        )
        .await;
    assert_eq!(answer.code(), "not-attached");
    // A closed case links nothing more.
    let closed = w
        .call(
            "POST",
            &format!("/api/v1/cases/{other}/close"),
            Some(tb),
            None,
            &[],
        )
        .await;
    assert_eq!(closed.status, 200);
    let late = link(
        tb.clone(),
        other.clone(),
        serde_json::json!({"recording_id": id, "reason": "x"}),
    )
    .await;
    assert_eq!((late.status, late.code().as_str()), (409, "case-closed"));
}

/// Privacy officer petra's subject access request SAR-X, whose search
/// secured `r` too: how many audit entries are about `r` under it.
async fn sar_x_secures(w: &World, r: &custos_catalog::Recording) -> usize {
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tp = w.sign_in(&petra).await;
    w.searched_subject_request(&tp, "SAR-X", r).await;
    let about_the_request = audit_events(w)
        .await
        .into_iter()
        .filter(|e| {
            e.case.as_deref() == Some("SAR-X")
                && e.object.as_deref() == Some(format!("recording:{}", r.recording_id).as_str())
        })
        .count();
    assert!(about_the_request >= 1, "the search secured the recording");
    about_the_request
}

/// An export package opened with `passphrase` and unpacked under the
/// world's directory: the package's tar and the directory.
fn unpack(w: &World, package: &[u8], passphrase: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = w.tmp.path().join("unpacked");
    std::fs::create_dir(&dir).unwrap();
    let tar = dir.join("package.tar");
    std::fs::write(&tar, open_package(package, passphrase)).unwrap();
    assert!(std::process::Command::new("tar")
        .arg("-xmf")
        .arg(&tar)
        .arg("-C")
        .arg(&dir)
        .status()
        .unwrap()
        .success());
    (tar, dir)
}

/// A recording secured both for a complaint and for someone's subject access
/// request goes to the police with every entry about it, the request's too
/// (ADR 0014): a court needs every access, and an entry cannot be shortened
/// without breaking its proof. The package verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_carries_every_entry_about_its_recording_a_subject_requests_too() {
    let w = world().await;
    let (r, tr) = complaint_about_boa_5(&w).await;
    let case = case_of(&w, &tr, r.recording_id).await;
    let about_the_request = sar_x_secures(&w, &r).await;

    let passphrase = "a passphrase of some length";
    let made = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/exports"),
            Some(&tr),
            Some(
                serde_json::json!({"purpose": "complaint", "recipient": "Politie",
                "passphrase": passphrase}),
            ),
            &[],
        )
        .await;
    assert_eq!(made.status, 200, "{}", String::from_utf8_lossy(&made.body));
    let (tar, dir) = unpack(&w, &made.body, passphrase);
    let trail = std::fs::read_to_string(dir.join(format!(
        "recordings/{}-{:06}/audit.json",
        r.device_id, r.sequence
    )))
    .unwrap();
    let trail: serde_json::Value = serde_json::from_str(&trail).unwrap();
    let entries = trail["entries"].as_array().unwrap();
    let of_the_request = entries
        .iter()
        .filter(|e| e["entry"].as_str().unwrap().contains("\"SAR-X\""))
        .count();
    assert_eq!(of_the_request, about_the_request, "{trail}");
    let on_server = audit_events(&w)
        .await
        .into_iter()
        .filter(|e| e.object.as_deref() == Some(format!("recording:{}", r.recording_id).as_str()))
        .count();
    assert_eq!(entries.len(), on_server, "every entry about the recording");
    // The requester's name is in no entry (only the case id is).
    assert!(!trail.to_string().contains("Visser"));
    // The package verifies.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
        .arg("verify")
        .arg(&tar)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
}
