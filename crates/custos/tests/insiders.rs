//! Insiders: each role tries the detours around the access matrix that a
//! person in that role would try, and each is refused (issue 20). The
//! matrix itself is `access.rs`; these are the ways around it.

mod common;

use common::*;

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

async fn audit(w: &World) -> Vec<custos_audit::AuditEvent> {
    let rows = w
        .server
        .deployment
        .catalog
        .audit_entries(0, 1_000_000)
        .await
        .unwrap();
    rows.iter()
        .map(|r| custos_audit::AuditEntry::parse(&r.bytes).unwrap().event)
        .collect()
}

/// A subject access request is the privacy officer's: a reviewer cannot
/// read, list, close, add to, release from, export from or watch footage
/// under its case, nor open one; each attempt is refused and audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_cannot_touch_a_subject_access_request() {
    let w = world().await;
    let r = w.one_recording("cam-s", 10).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let (tp, tr) = (w.sign_in(&petra).await, w.sign_in(&rita).await);
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    let opened = w
        .call(
            "POST",
            "/api/v1/subject-requests",
            Some(&tp),
            Some(serde_json::json!({
                "case_id": "SAR-9", "requester": "A. Visser", "identity_check": "ID card",
                "description": "grey hoodie",
                "window_from": rfc(r.started_at.plus_millis(-1_000)),
                "window_to": rfc(r.ended_at),
            })),
            &[],
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.json());
    let found = w
        .call(
            "POST",
            "/api/v1/subject-requests/SAR-9/search",
            Some(&tp),
            Some(serde_json::json!({})),
            &[],
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.json());
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
    let before = audit(&w).await.len();

    let video = format!(
        "/api/v1/recordings/{}/video?purpose=complaint&case=SAR-9",
        r.recording_id
    );
    let tries: Vec<(&str, String, Option<serde_json::Value>)> = vec![
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
    ];
    for (method, path, body) in &tries {
        let answer = w.call(method, path, Some(&tr), body.clone(), &[]).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "subject-request-case"),
            "{method} {path}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    let refused: Vec<_> = audit(&w).await[before..]
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
    // Nor through the recording: its holds, its trail and the list by case
    // leave the request out for a reviewer.
    let detail = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{}", r.recording_id),
            Some(&tr),
            None,
            &[],
        )
        .await;
    assert_eq!(detail.json()["holds"], serde_json::json!([]));
    assert_eq!(detail.json()["held"], true);
    let trail = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{}/audit", r.recording_id),
            Some(&tr),
            None,
            &[],
        )
        .await;
    assert_eq!(trail.status, 200);
    assert!(!String::from_utf8_lossy(&trail.body).contains("SAR-9"));
    let listed = w
        .call("GET", "/api/v1/recordings?case=SAR-9", Some(&tr), None, &[])
        .await;
    assert_eq!(
        (listed.status, listed.code().as_str()),
        (403, "case-filter-not-allowed")
    );
    // The privacy officer sees all of it.
    let detail = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{}", r.recording_id),
            Some(&tp),
            None,
            &[],
        )
        .await;
    assert_eq!(detail.json()["holds"][0]["case_id"], "SAR-9");
    let trail = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{}/audit", r.recording_id),
            Some(&tp),
            None,
            &[],
        )
        .await;
    assert!(String::from_utf8_lossy(&trail.body).contains("SAR-9"));

    // Nothing changed: the case is open, the hold in force.
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
    // The list of cases does not show it to the reviewer; the privacy
    // officer sees and reads it.
    let listed = w.call("GET", "/api/v1/cases", Some(&tr), None, &[]).await;
    assert_eq!(listed.status, 200);
    assert!(!String::from_utf8_lossy(&listed.body).contains("SAR-9"));
    let listed = w.call("GET", "/api/v1/cases", Some(&tp), None, &[]).await;
    assert!(String::from_utf8_lossy(&listed.body).contains("SAR-9"));
    let read = w
        .call("GET", "/api/v1/cases/SAR-9", Some(&tp), None, &[])
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
        let before = audit(&w).await.len();
        let answer = w.call("GET", &path, Some(token), None, &[]).await;
        assert_eq!(answer.status, 200, "{path}");
        let wrote: Vec<_> = audit(&w).await[before..]
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

type Piece = Result<bytes::Bytes, std::io::Error>;

fn pieces(chunks: Vec<&'static [u8]>) -> futures::stream::Iter<std::vec::IntoIter<Piece>> {
    futures::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok(bytes::Bytes::from_static(c)))
            .collect::<Vec<_>>(),
    )
}

/// An upload belongs to the dock sending it: another dock can neither
/// learn where it stands, nor write to it, nor complete it; two writes at
/// once are not both kept; a camera moved to another dock mid-upload takes
/// its upload along, and the dock it left can no longer write to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_bound_to_its_dock_and_written_by_one_request_at_a_time() {
    use custos_server::ingest::Offer;
    use futures::StreamExt;
    let w = world().await;
    let d = &w.server.deployment;
    let cam = w.camera("cam-u", 1, true).await;
    let paths = &cam.pending_recordings().unwrap()[0];
    let manifest = std::fs::read(&paths.manifest).unwrap();
    let signature = std::fs::read(&paths.signature).unwrap();
    let ciphertext = std::fs::read(&paths.ciphertext).unwrap();
    let ciphertext: &'static [u8] = Box::leak(ciphertext.into_boxed_slice());
    let (a, b) = ("dock-a", "dock-b");
    let Offer::Upload {
        upload_id, length, ..
    } = d.ingest.offer(a, &manifest, &signature).await.unwrap()
    else {
        panic!("expected an upload")
    };
    assert_eq!(length, ciphertext.len() as u64);
    let half = ciphertext.len() / 2;

    // Another dock: the upload does not exist for it.
    assert_eq!(
        d.ingest.status(b, upload_id).await.unwrap_err().code(),
        "upload-not-found"
    );
    let err = d
        .ingest
        .append(b, upload_id, 0, pieces(vec![&ciphertext[..half]]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "upload-not-found");
    assert_eq!(
        d.ingest.complete(b, upload_id).await.unwrap_err().code(),
        "upload-not-found"
    );
    assert_eq!(d.ingest.status(a, upload_id).await.unwrap(), (0, length));

    // Two writes at offset 0 at once: the second is told the upload is busy.
    let (release, held) = futures::channel::oneshot::channel::<()>();
    let first_piece: &'static [u8] = &ciphertext[..half];
    let slow = futures::stream::once(async move {
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(first_piece))
    })
    .chain(futures::stream::once(async move {
        let _ = held.await;
        Ok::<_, std::io::Error>(bytes::Bytes::new())
    }))
    .boxed();
    let ingest = &d.ingest;
    let first = ingest.append(a, upload_id, 0, slow);
    let second = async {
        // Let the first request claim the upload and write its piece.
        for _ in 0..1000 {
            if ingest.status(a, upload_id).await.unwrap().0 > 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        let busy = ingest
            .append(a, upload_id, 0, pieces(vec![&ciphertext[..half]]))
            .await;
        let _ = release.send(());
        busy
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap(), half as u64);
    assert_eq!(second.unwrap_err().code(), "upload-busy");
    assert_eq!(
        d.ingest.status(a, upload_id).await.unwrap(),
        (half as u64, length),
        "only one of the two writes was kept"
    );

    // The camera moves to dock B: the upload goes with it, at its offset.
    match d.ingest.offer(b, &manifest, &signature).await.unwrap() {
        Offer::Upload {
            upload_id: moved,
            offset,
            ..
        } => assert_eq!((moved, offset), (upload_id, half as u64)),
        other => panic!("{other:?}"),
    }
    let err = d
        .ingest
        .append(a, upload_id, half as u64, pieces(vec![&ciphertext[half..]]))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        "upload-not-found",
        "the dock it left cannot write"
    );
    d.ingest
        .append(b, upload_id, half as u64, pieces(vec![&ciphertext[half..]]))
        .await
        .unwrap();
    let receipt = d.ingest.complete(b, upload_id).await.unwrap();
    assert_eq!(receipt.receipt().ciphertext_length, length);
    let moved: Vec<_> = audit(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "upload.move")
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].detail.as_deref(), Some("from dock dock-a"));
}

/// A purpose is bound to its case: a reviewer who opens a case with any
/// label cannot play, thumbnail, download or look for faces in a recording
/// that has nothing to do with it; only once the recording is attached to
/// the case (a hold, or a link with its reason, audited) is it seen for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purpose_is_bound_to_a_case_the_recording_is_attached_to() {
    let w = world().await;
    let r = w.one_recording("cam-p", 30).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let rob = w.add_user("rob", "reviewer", None).await;
    let (tr, tb) = (w.sign_in(&rita).await, w.sign_in(&rob).await);
    let case = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(&tr),
            Some(serde_json::json!({"kind": "incident", "label": "anything at all"})),
            &[],
        )
        .await
        .json()["case_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let q = format!("purpose=complaint&case={case}");
    let base = format!("/api/v1/recordings/{}", r.recording_id);
    let footage = [
        format!("{base}/video?{q}"),
        format!("{base}/thumbnail?{q}"),
        format!("{base}/download?{q}"),
        format!("{base}/faces?{q}"),
    ];
    let before = audit(&w).await.len();
    for path in &footage {
        let answer = w.call("GET", path, Some(&tr), None, &[]).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "not-attached"),
            "{path}"
        );
        assert!(answer.body.len() < 1_000, "no footage in a refusal");
    }
    let refused = audit(&w).await[before..]
        .iter()
        .filter(|e| e.outcome == custos_audit::Outcome::Refused)
        .count();
    assert_eq!(refused, footage.len(), "each refusal is audited");

    // Linking: bad input gets a clear answer and links nothing.
    let link = |token: String, case: String, body: serde_json::Value| {
        let w = &w;
        async move {
            w.call(
                "POST",
                &format!("/api/v1/cases/{case}/recordings"),
                Some(&token),
                Some(body),
                &[],
            )
            .await
        }
    };
    let id = r.recording_id.to_string();
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
    let none = w.server.deployment.catalog.case_links(&case).await.unwrap();
    assert!(none.is_empty(), "{none:?}");

    // Linked with a reason: audited (without the reason, which may name
    // people), shown with the case, and the footage is seen for it — by
    // any reviewer working on the case.
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
    let entries: Vec<_> = audit(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "case.link" && e.outcome == custos_audit::Outcome::Ok)
        .collect();
    assert_eq!(entries.len(), 1, "linking again links nothing: {entries:?}");
    assert_eq!(
        entries[0].object.as_deref(),
        Some(format!("recording:{id}").as_str())
    );
    assert_eq!(entries[0].case.as_deref(), Some(case.as_str()));
    assert!(entries
        .iter()
        .all(|e| !format!("{e:?}").contains("complainant")));
    let read = w
        .call(
            "GET",
            &format!("/api/v1/cases/{case}"),
            Some(&tb),
            None,
            &[],
        )
        .await;
    assert_eq!(read.json()["links"][0]["recording_id"], id.as_str());
    for (token, path) in [(&tr, &footage[0]), (&tb, &footage[0]), (&tr, &footage[1])] {
        let answer = w.call("GET", path, Some(token), None, &[]).await;
        assert_eq!(answer.status, 200, "{path}");
    }
    // Another case still does not reach it.
    let other = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(&tb),
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
            Some(&tb),
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
            Some(&tb),
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

/// Separation of duties: the admin creates or resets an account that can
/// see footage only with the privacy officer's approval, and its password
/// and TOTP secret reach the person alone, through a one-time link. The
/// admin never holds credentials that open footage. Existing accounts and
/// accounts that cannot see footage work as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_never_holds_the_credentials_of_an_account_that_sees_footage() {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let (ta, tp) = (w.sign_in(&adam).await, w.sign_in(&petra).await);
    let tr = w.sign_in(&rita).await;

    // The admin asks for a reviewer: a request, no credentials.
    let asked = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&ta),
            Some(serde_json::json!({"name": "robin", "role": "reviewer"})),
            &[],
        )
        .await;
    assert_eq!(asked.status, 202, "{}", asked.json());
    let body = asked.json();
    assert_eq!(body["status"], "awaiting-approval");
    for secret in ["password", "totp", "otpauth", "token"] {
        assert!(!body.to_string().contains(secret), "{secret} in {body}");
    }
    let request = body["activation_id"].as_str().unwrap().to_owned();
    assert!(w
        .server
        .deployment
        .catalog
        .user("robin")
        .await
        .unwrap()
        .is_none());
    let twice = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&ta),
            Some(serde_json::json!({"name": "robin", "role": "privacy-officer"})),
            &[],
        )
        .await;
    assert_eq!(
        (twice.status, twice.code().as_str()),
        (409, "awaiting-approval")
    );
    // An officer account too: the deployment may let officers see their
    // own footage at any time. Nor can the admin make a second account
    // with an officer's id (it would list that officer's recordings).
    let officer = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&ta),
            Some(serde_json::json!({"name": "ouda", "role": "officer", "officer_id": "boa-9"})),
            &[],
        )
        .await;
    assert_eq!(officer.status, 202, "{}", officer.json());
    w.add_user("olga", "officer", Some("boa-5")).await;
    for role in ["officer", "auditor"] {
        let twin = w
            .call(
                "POST",
                "/api/v1/users",
                Some(&ta),
                Some(serde_json::json!({"name": "twin", "role": role, "officer_id": "boa-5"})),
                &[],
            )
            .await;
        assert_eq!(
            (twin.status, twin.code().as_str()),
            (409, "officer-id-taken"),
            "{role}"
        );
    }
    // Accounts that cannot see footage: as before.
    let auditor = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&ta),
            Some(serde_json::json!({"name": "otto", "role": "auditor"})),
            &[],
        )
        .await;
    assert_eq!(auditor.status, 201);
    assert!(auditor.json()["initial_password"].is_string());

    // Only the privacy officer decides, never the admin or anyone else.
    let approve = format!("/api/v1/activations/{request}/approve");
    for token in [&ta, &tr] {
        let answer = w.call("POST", &approve, Some(token), None, &[]).await;
        assert_eq!((answer.status, answer.code().as_str()), (403, "forbidden"));
    }
    for bad in ["nonsense", "0190f0c4-0000-7000-8000-000000000001"] {
        let answer = w
            .call(
                "POST",
                &format!("/api/v1/activations/{bad}/approve"),
                Some(&tp),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, 404, "{bad}");
    }
    let listed = w
        .call("GET", "/api/v1/activations", Some(&ta), None, &[])
        .await;
    assert_eq!(listed.status, 200);
    assert!(!listed.json().to_string().contains("token"));
    let approved = w.call("POST", &approve, Some(&tp), None, &[]).await;
    assert_eq!(approved.status, 200, "{}", approved.json());
    let link = approved.json()["activation_link"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = link.strip_prefix("/activate/").unwrap().to_owned();
    assert_eq!(token.len(), 64);
    let again = w.call("POST", &approve, Some(&tp), None, &[]).await;
    assert_eq!((again.status, again.code().as_str()), (409, "not-pending"));
    // Nobody can sign in to it before its person has used the link.
    let code = custos_server::auth::totp_code("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", w.now()).unwrap();
    let tried = w
        .call(
            "POST",
            "/api/v1/session",
            None,
            Some(serde_json::json!({"name": "robin", "password": "", "code": code})),
            &[],
        )
        .await;
    assert_eq!(tried.status, 401);

    // The link: garbage and forgeries are refused and change nothing.
    let activate = |token: String, password: &str| {
        let (w, password) = (&w, password.to_owned());
        async move {
            w.call(
                "POST",
                "/api/v1/activate",
                None,
                Some(serde_json::json!({"token": token, "password": password})),
                &[],
            )
            .await
        }
    };
    for forged in [
        String::new(),
        "x".repeat(64),
        token.to_uppercase(),
        token[..63].to_owned(),
        format!("{token}0"),
        format!(
            "{}{}",
            &token[..63],
            if token.ends_with('0') { '1' } else { '0' }
        ),
        "../../etc/passwd".into(),
        "a".repeat(100_000),
    ] {
        let answer = activate(forged.clone(), "a long enough password").await;
        assert_eq!(answer.status, 404, "{}", forged.len());
    }
    for weak in ["short", "robin-is-my-password"] {
        let answer = activate(token.clone(), weak).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (400, "invalid"),
            "{weak}"
        );
    }
    let done = activate(token.clone(), "correct horse battery staple").await;
    assert_eq!(done.status, 200, "{}", done.json());
    let secret = done.json()["totp_secret"].as_str().unwrap().to_owned();
    let used = activate(token.clone(), "another good password").await;
    assert_eq!(used.status, 404, "a link works once");
    let robin = Account {
        name: "robin".into(),
        password: "correct horse battery staple".into(),
        secret,
    };
    let tb = w.sign_in(&robin).await;
    let me = w.call("GET", "/api/v1/session", Some(&tb), None, &[]).await;
    assert_eq!(me.json()["role"], "reviewer");

    // A reset of an existing reviewer: her credentials work until the
    // privacy officer approves, then stop, and her sessions end.
    let reset = w
        .call(
            "POST",
            "/api/v1/users/rita/reset-password",
            Some(&ta),
            None,
            &[],
        )
        .await;
    assert_eq!(reset.status, 202, "{}", reset.json());
    assert!(!reset.json().to_string().contains("initial_password"));
    let mfa = w
        .call("POST", "/api/v1/users/rita/reset-mfa", Some(&ta), None, &[])
        .await;
    assert_eq!(
        (mfa.status, mfa.code().as_str()),
        (409, "awaiting-approval")
    );
    assert_eq!(
        w.call("GET", "/api/v1/session", Some(&tr), None, &[])
            .await
            .status,
        200
    );
    let reset_id = reset.json()["activation_id"].as_str().unwrap().to_owned();
    let approved = w
        .call(
            "POST",
            &format!("/api/v1/activations/{reset_id}/approve"),
            Some(&tp),
            None,
            &[],
        )
        .await;
    assert_eq!(approved.status, 200);
    assert_eq!(
        w.call("GET", "/api/v1/session", Some(&tr), None, &[])
            .await
            .status,
        401,
        "her sessions ended"
    );
    // The link expires after 72 hours.
    w.clock_offset
        .fetch_add(73 * 3_600_000, std::sync::atomic::Ordering::SeqCst);
    let link = approved.json()["activation_link"]
        .as_str()
        .unwrap()
        .to_owned();
    let late = activate(
        link.strip_prefix("/activate/").unwrap().to_owned(),
        "a new long password",
    )
    .await;
    assert_eq!((late.status, late.code().as_str()), (410, "expired"));

    // A refused request changes nothing and cannot be approved later (new
    // sessions: three days have passed).
    let (ta, tp) = (w.sign_in(&adam).await, w.sign_in(&petra).await);
    let asked = w
        .call(
            "POST",
            "/api/v1/users",
            Some(&ta),
            Some(serde_json::json!({"name": "mallory", "role": "privacy-officer"})),
            &[],
        )
        .await;
    let id = asked.json()["activation_id"].as_str().unwrap().to_owned();
    let refused = w
        .call(
            "POST",
            &format!("/api/v1/activations/{id}/reject"),
            Some(&tp),
            None,
            &[],
        )
        .await;
    assert_eq!(refused.status, 200);
    let late = w
        .call(
            "POST",
            &format!("/api/v1/activations/{id}/approve"),
            Some(&tp),
            None,
            &[],
        )
        .await;
    assert_eq!(late.code(), "not-pending");
    assert!(w
        .server
        .deployment
        .catalog
        .user("mallory")
        .await
        .unwrap()
        .is_none());

    // The audit log tells the story, and holds neither tokens nor passwords.
    let entries = audit(&w).await;
    for action in ["user.add", "user.approve", "user.reject", "user.activate"] {
        assert!(entries.iter().any(|e| e.action == action), "{action}");
    }
    let text = format!("{entries:?}");
    assert!(!text.contains(&token) && !text.contains("correct horse"));
}

/// Statistics resist differencing: an evaluator who asks for overlapping
/// periods (aligned to weeks or not) and tries to filter by one camera
/// learns nothing below k. Every number shown is a sum of weeks that are
/// themselves shown, so no subtraction of shown numbers gives a hidden one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_give_an_evaluator_nothing_below_k_by_subtraction() {
    const DAY: i64 = 86_400_000;
    let w = world().await;
    let template = w.one_recording("cam-d", 10).await;
    // Three weeks before the camera's (all closed by the server's clock):
    // 6, 7 and 2 recordings (the last below k = 5).
    let day = template.started_at.as_millis().div_euclid(DAY);
    let monday = day - (day + 3).rem_euclid(7);
    let weeks = [monday - 21, monday - 14, monday - 7];
    let mut sequence = 100;
    for (week, count) in weeks.iter().zip([6, 7, 2]) {
        for i in 0..count {
            sequence += 1;
            let mut r = template.clone();
            r.recording_id = uuid::Uuid::now_v7();
            r.sequence = sequence;
            r.started_at = custos_format::UtcMillis::from_millis(
                week * DAY + 2 * DAY + 3_600_000 + i * 60_000,
            )
            .unwrap();
            r.ended_at = r.started_at.plus_millis(10_000);
            r.blob_key = format!("cam-d/crafted-{sequence}.age");
            w.server
                .deployment
                .catalog
                .commit_recording(&r, None)
                .await
                .unwrap();
        }
    }
    let eva = w.add_user("eva", "evaluator", None).await;
    let te = w.sign_in(&eva).await;
    let date = |d: i64| {
        custos_format::UtcMillis::from_millis(d * DAY)
            .unwrap()
            .to_string()[..10]
            .to_owned()
    };
    let read = |from: i64, to: i64, extra: &'static str| {
        let (w, te) = (&w, te.clone());
        let path = format!(
            "/api/v1/statistics?from={}&to={}{extra}",
            date(from),
            date(to)
        );
        async move { w.call("GET", &path, Some(&te), None, &[]).await }
    };
    for filter in ["&camera=cam-d", "&team=noord"] {
        let answer = read(weeks[0], weeks[2] + 6, filter).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "filter-not-allowed"),
            "{filter}"
        );
    }
    // Periods that overlap, start and end mid-week, or take one week.
    let mut shown_totals = Vec::new();
    for (from, to) in [
        (weeks[0], weeks[2] + 6),
        (weeks[0], weeks[1] + 6),
        (weeks[1], weeks[2] + 6),
        (weeks[2], weeks[2] + 6),
        (weeks[0] + 2, weeks[2] + 1),
        (weeks[2] + 1, weeks[2] + 2),
        (weeks[1] + 3, weeks[1] + 3),
        (weeks[0], weeks[0] + 6),
        // Into the camera's own week.
        (weeks[0], monday + 3),
    ] {
        let answer = read(from, to, "").await;
        assert_eq!(answer.status, 200, "{}", answer.json());
        let report = answer.json();
        for table in report["tables"].as_array().unwrap() {
            let columns = table["columns"].as_array().unwrap();
            if columns.last() != Some(&serde_json::json!("total")) {
                continue;
            }
            for row in table["rows"].as_array().unwrap() {
                let cells = row["cells"].as_array().unwrap();
                let (total, weekly) = cells.split_last().unwrap();
                if !total.is_number() || row["unit"] != "count" {
                    continue;
                }
                assert!(
                    weekly.iter().all(|c| c.is_number()),
                    "a shown total over a hidden week: {} {}",
                    table["id"],
                    row
                );
                let sum: f64 = weekly.iter().map(|c| c.as_f64().unwrap()).sum();
                assert_eq!(total.as_f64().unwrap(), sum, "{} {row}", table["id"]);
            }
        }
        let activations = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "activations")
            .unwrap()
            .clone();
        let columns: Vec<String> = activations["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        let cells = activations["rows"][0]["cells"].as_array().unwrap().clone();
        // The weeks the period touches, counted whole: the same numbers in
        // every reading; the small week always hidden.
        for (column, cell) in columns.iter().zip(&cells) {
            let week = custos_stats::week_of(weeks[2]);
            if *column == week {
                assert_eq!(cell, "<5", "{column}");
            } else if *column == custos_stats::week_of(weeks[0]) {
                assert_eq!(cell, 6.0, "{column}");
            } else if *column == custos_stats::week_of(weeks[1]) {
                assert_eq!(cell, 7.0, "{column}");
            }
        }
        if let Some(total) = cells.last().and_then(|c| c.as_f64()) {
            shown_totals.push(total);
        }
    }
    // A period of nothing but the week the server is in is refused.
    let today = w.now().as_millis().div_euclid(DAY);
    let this_monday = today - (today + 3).rem_euclid(7);
    let open = read(this_monday, this_monday + 6, "").await;
    assert_eq!((open.status, open.code().as_str()), (400, "bad-period"));
    // What the evaluator can combine: 6, 7 and 13, never anything with the 2.
    shown_totals.sort_by(f64::total_cmp);
    shown_totals.dedup();
    assert_eq!(shown_totals, [6.0, 7.0, 13.0]);
    for a in &shown_totals {
        for b in &shown_totals {
            assert_ne!((a - b).abs(), 2.0);
        }
    }
}
