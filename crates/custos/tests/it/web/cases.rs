//! Cases and holds on their pages; exports and links from the case page.

use super::*;

#[tokio::test]
async fn cases_are_opened_recordings_secured_approved_by_a_second_person_released_and_closed() {
    let w = world_with(custos_access::Policy {
        hold_needs_second_approver: true,
        ..Default::default()
    })
    .await;
    let r = w.one_recording("cam-a", 20).await;
    let id = r.recording_id.to_string();
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &rita).await.status, 303);
    let cases = b.get("/cases").await;
    assert_eq!(cases.status, 200);
    assert!(cases.body.contains("data-nav=\"cases\""));
    let csrf = Browser::csrf(&cases);

    // Garbage, a missing reference and a forged form are refused, the form kept.
    let forged = b
        .post(
            "/cases",
            &[("csrf", "forged"), ("kind", "complaint"), ("label", "x")],
        )
        .await;
    assert_eq!(forged.status, 403);
    for (fields, status, code) in [
        (
            vec![("kind", "police-request"), ("label", "PV asked")],
            400,
            "error-reference-needed",
        ),
        (
            vec![("kind", "party"), ("label", "x")],
            400,
            "error-invalid",
        ),
        (
            vec![("kind", "complaint"), ("label", "")],
            400,
            "error-invalid",
        ),
        (
            vec![
                ("kind", "complaint"),
                ("label", "x"),
                ("case_id", "has spaces"),
            ],
            400,
            "error-invalid",
        ),
    ] {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields.iter().copied());
        let page = b.post("/cases", &all).await;
        assert_eq!(page.status, status, "{fields:?}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}: {}",
            page.body
        );
    }
    let kept = b
        .post(
            "/cases",
            &[
                ("csrf", &csrf),
                ("kind", "police-request"),
                ("label", "PV asked"),
            ],
        )
        .await;
    assert!(
        kept.body.contains("value=\"PV asked\""),
        "the form keeps what was typed"
    );
    assert!(w
        .server
        .deployment
        .catalog
        .cases()
        .await
        .unwrap()
        .is_empty());

    let opened = b
        .post(
            "/cases",
            &[
                ("csrf", &csrf),
                ("kind", "complaint"),
                ("label", "Complaint 2026-17"),
                ("case_id", "K-17"),
                ("reference", ""),
            ],
        )
        .await;
    assert_eq!(
        (opened.status, opened.location.as_deref()),
        (303, Some("/cases/K-17"))
    );
    let again = b
        .post(
            "/cases",
            &[
                ("csrf", &csrf),
                ("kind", "complaint"),
                ("label", "x"),
                ("case_id", "K-17"),
            ],
        )
        .await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains("data-error=\"error-exists\""));

    // Securing a recording: a bad number and an unknown one are the form's errors.
    for (recording, status, code) in [
        ("not-a-uuid", 400, "error-recording-id"),
        (
            "0190f0c4-0000-7000-8000-000000000001",
            404,
            "error-recording-not-found",
        ),
        (id.as_str(), 400, "error-invalid"),
    ] {
        let reason = if status == 400 && code == "error-invalid" {
            ""
        } else {
            "seen at the scene"
        };
        let page = b
            .post(
                "/cases/K-17/holds",
                &[
                    ("csrf", &csrf),
                    ("recording_id", recording),
                    ("reason", reason),
                ],
            )
            .await;
        assert_eq!(page.status, status, "{recording}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{recording}: {}",
            page.body
        );
    }
    let placed = b
        .post(
            "/cases/K-17/holds",
            &[
                ("csrf", &csrf),
                ("recording_id", &id),
                ("reason", "complaint about the stop"),
            ],
        )
        .await;
    assert_eq!(
        (placed.status, placed.location.as_deref()),
        (303, Some("/cases/K-17"))
    );
    let case = b.get("/cases/K-17").await;
    assert_eq!(data_values(&case, "state"), ["pending"]);
    assert!(
        !case.body.contains("/approve\""),
        "the placer is offered no approval"
    );
    let first_hold = data_values(&case, "hold").remove(0);

    // From the recording's page, a second hold for the same case.
    let page = b.get(&format!("/recordings/{id}")).await;
    assert!(page.body.contains("id=\"secure-recording\""));
    assert!(page.body.contains("<option value=\"K-17\">"));
    let secured = b
        .post(
            &format!("/recordings/{id}/secure"),
            &[("csrf", &csrf), ("case", "K-17"), ("reason", "second look")],
        )
        .await;
    assert_eq!(
        secured.location.as_deref(),
        Some(format!("/recordings/{id}").as_str())
    );
    let case = b.get("/cases/K-17").await;
    let holds = data_values(&case, "hold");
    assert_eq!(holds.len(), 2);
    let second_hold = holds[1].clone();
    // Approving one's own hold is refused (four eyes) and audited.
    let own = b
        .post(&format!("/holds/{first_hold}/approve"), &[("csrf", &csrf)])
        .await;
    assert_eq!(own.status, 403);
    assert!(own.body.contains("data-error=\"error-four-eyes\""));

    // The privacy officer approves the first, the reviewer releases the second.
    let mut p = Browser::new(&w, "nl");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let seen = p.get("/cases/K-17").await;
    assert!(seen.body.contains(&format!("/holds/{first_hold}/approve")));
    let approved = p
        .post(
            &format!("/holds/{first_hold}/approve"),
            &[("csrf", &Browser::csrf(&seen))],
        )
        .await;
    assert_eq!(
        (approved.status, approved.location.as_deref()),
        (303, Some("/cases/K-17"))
    );
    let released = b
        .post(&format!("/holds/{second_hold}/release"), &[("csrf", &csrf)])
        .await;
    assert_eq!(released.status, 303);
    let twice = b
        .post(&format!("/holds/{second_hold}/release"), &[("csrf", &csrf)])
        .await;
    assert_eq!(twice.status, 409);
    let case = b.get("/cases/K-17").await;
    assert_eq!(data_values(&case, "state"), ["in-force", "released"]);
    let held = b.get("/recordings?held=yes").await;
    assert!(held.body.contains(&format!("data-recording=\"{id}\"")));

    // The export: a one-time passphrase on the page, the package downloads.
    let case = b.get("/cases/K-17").await;
    assert!(case.body.contains("id=\"export\""), "{}", case.body);
    let passphrase = {
        let at = case.body.find("id=\"export-passphrase\">").unwrap() + 23;
        case.body[at..at + case.body[at..].find('<').unwrap()].to_owned()
    };
    assert_eq!(passphrase.len(), 29, "{passphrase}");
    assert_ne!(
        passphrase,
        {
            let again = b.get("/cases/K-17").await;
            let at = again.body.find("id=\"export-passphrase\">").unwrap() + 23;
            again.body[at..at + again.body[at..].find('<').unwrap()].to_owned()
        },
        "a new passphrase for every page"
    );
    for (fields, code) in [
        (
            vec![("recipient", ""), ("passphrase", passphrase.as_str())],
            "error-recipient-required",
        ),
        (
            vec![("recipient", "Politie"), ("passphrase", "short")],
            "error-protection-required",
        ),
        (
            vec![("recipient", "Politie"), ("age_recipient", "age1nonsense")],
            "error-bad-recipient-key",
        ),
    ] {
        let mut all = vec![("csrf", csrf.as_str()), ("purpose", "complaint")];
        all.extend(fields.iter().copied());
        let page = b.post("/cases/K-17/export", &all).await;
        assert_eq!(page.status, 400, "{fields:?}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}: {}",
            page.body
        );
    }
    let forged = b
        .post(
            "/cases/K-17/export",
            &[
                ("csrf", "forged"),
                ("purpose", "complaint"),
                ("recipient", "x"),
                ("passphrase", &passphrase),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    let download = b
        .post(
            "/cases/K-17/export",
            &[
                ("csrf", &csrf),
                ("purpose", "complaint"),
                ("recipient", "Politie Rotterdam"),
                ("passphrase", &passphrase),
                ("age_recipient", ""),
            ],
        )
        .await;
    assert_eq!(download.status, 200, "{}", download.body);
    assert!(download
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment; filename=\"custos-export-K-17-"));
    let tar = open_package(&download.raw, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    let verdict = custos_export::verify::verify(&contents, &Default::default());
    assert!(verdict.ok(), "{:?}", verdict.findings);
    assert!(contents
        .files
        .contains_key(&format!("recordings/cam-a-{:06}/video.mp4", r.sequence)));

    // Closing releases what is left; the forms are gone.
    let closed = b.post("/cases/K-17/close", &[("csrf", &csrf)]).await;
    assert_eq!(closed.status, 303);
    let case = b.get("/cases/K-17").await;
    assert_eq!(data_values(&case, "state"), ["released", "released"]);
    assert!(
        !case.body.contains("id=\"add-recording\"")
            && !case.body.contains("id=\"close-case\"")
            && !case.body.contains("id=\"export\"")
    );
    let late = b
        .post(
            "/cases/K-17/holds",
            &[
                ("csrf", &csrf),
                ("recording_id", &id),
                ("reason", "too late"),
            ],
        )
        .await;
    assert_eq!(late.status, 409);
    assert!(late.body.contains("data-error=\"error-case-closed\""));
    let list = b.get("/cases").await;
    assert_eq!(data_values(&list, "case"), ["K-17"]);
    assert!(list.body.contains("id=\"closed-cases\""));

    // Every step is the API's audit entry, under the API's action names.
    let entries = audit_actions(&w).await;
    let count = |action: &str, outcome: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action && e["outcome"] == outcome && e["case"] == "K-17")
            .count()
    };
    assert_eq!(count("case.open", "ok"), 1);
    assert_eq!(count("hold.place", "ok"), 2);
    assert_eq!(count("hold.approve", "ok"), 1);
    assert_eq!(count("hold.release", "ok"), 2);
    assert_eq!(count("case.close", "ok"), 1);
    assert_eq!(count("export.create", "ok"), 1);
    assert_eq!(count("export.create", "refused"), 3);
    assert_eq!(count("recording.export", "ok"), 1);
    assert!(entries.iter().any(|e| e["action"] == "hold.approve"
        && e["outcome"] == "refused"
        && e["actor"] == "user:rita"));

    // Neither an admin nor an auditor works on cases.
    for (name, role) in [("adam", "admin"), ("aude", "auditor")] {
        let who = w.add_user(name, role, None).await;
        let mut x = Browser::new(&w, "en");
        x.sign_in(&w, &who).await;
        let page = x.get("/cases").await;
        assert_eq!(page.status, 403, "{role}");
        assert!(!page.body.contains("data-nav=\"cases\""));
    }
}

#[tokio::test]
async fn an_export_is_asked_for_approved_by_a_colleague_and_then_made_from_the_case_page() {
    let w = world_with(custos_access::Policy {
        export_needs_second_approver: true,
        ..Default::default()
    })
    .await;
    let r = w.one_recording("cam-e", 20).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tr = w.sign_in(&rita).await;
    let case = w
        .with_case_labelled(&tr, "complaint", "export with four eyes")
        .await;
    let hold = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&tr),
            Some(serde_json::json!({"recording_id": r.recording_id, "reason": "PV"})),
            &[],
        )
        .await;
    assert_eq!(hold.status, 201);
    let here = format!("/cases/{case}");
    let mut b = Browser::new(&w, "nl");
    assert_eq!(b.sign_in(&w, &rita).await.status, 303);
    let page = b.get(&here).await;
    assert!(page.body.contains("id=\"ask-export\""), "{}", page.body);
    assert!(!page.body.contains("id=\"export\""), "no direct export");
    let csrf = Browser::csrf(&page);
    let direct = b
        .post(
            &format!("{here}/export"),
            &[
                ("csrf", &csrf),
                ("purpose", "complaint"),
                ("recipient", "OM"),
                ("passphrase", "ABCDE-FGHJK-LMNPQ-RSTUV-WXYZ2"),
            ],
        )
        .await;
    assert_eq!(direct.status, 409);
    assert!(direct
        .body
        .contains("data-error=\"error-approval-required\""));
    let asked = b
        .post(
            &format!("{here}/export-requests"),
            &[
                ("csrf", &csrf),
                ("purpose", "complaint"),
                ("recipient", "OM Rotterdam"),
            ],
        )
        .await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    let page = b.get(&here).await;
    assert_eq!(
        data_values(&page, "state").last().map(String::as_str),
        Some("pending")
    );
    let request_id = data_values(&page, "export-request").remove(0);
    assert!(!page
        .body
        .contains(&format!("/export-requests/{request_id}/approve")));

    let mut p = Browser::new(&w, "de");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let seen = p.get(&here).await;
    assert!(seen
        .body
        .contains(&format!("/export-requests/{request_id}/approve")));
    let approved = p
        .post(
            &format!("/export-requests/{request_id}/approve"),
            &[("csrf", &Browser::csrf(&seen))],
        )
        .await;
    assert_eq!(
        (approved.status, approved.location.as_deref()),
        (303, Some(here.as_str()))
    );
    assert!(
        !p.get(&here)
            .await
            .body
            .contains(&format!("id=\"make-{request_id}\"")),
        "only the requester makes it"
    );

    let page = b.get(&here).await;
    assert!(
        page.body.contains(&format!("id=\"make-{request_id}\"")),
        "{}",
        page.body
    );
    let passphrase = {
        let at = page.body.find("id=\"export-passphrase\">").unwrap() + 23;
        page.body[at..at + page.body[at..].find('<').unwrap()].to_owned()
    };
    let download = b
        .post(
            &format!("{here}/export"),
            &[
                ("csrf", &csrf),
                ("request_id", &request_id),
                ("purpose", "complaint"),
                ("recipient", "OM Rotterdam"),
                ("passphrase", &passphrase),
                ("age_recipient", ""),
            ],
        )
        .await;
    assert_eq!(download.status, 200, "{}", download.body);
    let tar = open_package(&download.raw, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    let verdict = custos_export::verify::verify(&contents, &Default::default());
    assert!(verdict.ok(), "{:?}", verdict.findings);
    let description: serde_json::Value =
        serde_json::from_slice(contents.bytes("export.json").unwrap()).unwrap();
    assert_eq!(description["approved_by"], "petra");
    // The report is in the reviewer's language (rita works in Dutch).
    let report = String::from_utf8(contents.bytes("report.html").unwrap().to_vec()).unwrap();
    assert!(
        report.contains("<html lang=\"nl\">") && report.contains("Rapport bewijsketen"),
        "{report}"
    );
    assert!(report.contains("goedgekeurd door petra"), "{report}");
    // … and the deployment's time zone, with the offset.
    assert!(
        report.contains("Alle tijden: Europe/Amsterdam."),
        "{report}"
    );
    assert!(
        report.contains(" CET (+01:00)") || report.contains(" CEST (+02:00)"),
        "{report}"
    );
    let page = b.get(&here).await;
    assert_eq!(
        data_values(&page, "state").last().map(String::as_str),
        Some("used")
    );
    assert!(!page.body.contains(&format!("id=\"make-{request_id}\"")));
}

/// The case page keeps a package for a download link: the link is shown
/// once, the recipient opens it without an account (looking downloads
/// nothing), downloads with the button, and the reviewer sees it counted
/// and revokes it; the recipient's page then says so.
#[tokio::test]
async fn an_export_link_is_made_on_the_case_page_used_by_the_recipient_and_revoked() {
    let w = world().await;
    let r = w.one_recording("cam-k", 20).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let tr = w.sign_in(&rita).await;
    let case = w
        .with_case_labelled(&tr, "complaint", "export by link")
        .await;
    let hold = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&tr),
            Some(serde_json::json!({"recording_id": r.recording_id, "reason": "PV"})),
            &[],
        )
        .await;
    assert_eq!(hold.status, 201);
    let here = format!("/cases/{case}");
    let mut b = Browser::new(&w, "de");
    assert_eq!(b.sign_in(&w, &rita).await.status, 303);
    let page = b.get(&here).await;
    assert!(page.body.contains("name=\"delivery\" value=\"link\""));
    assert!(!page.body.contains("id=\"export-links\""), "no links yet");
    let csrf = Browser::csrf(&page);
    let passphrase = {
        let at = page.body.find("id=\"export-passphrase\">").unwrap() + 23;
        page.body[at..at + page.body[at..].find('<').unwrap()].to_owned()
    };
    let form = |hours: &'static str, downloads: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("purpose", "investigation".to_owned()),
            ("recipient", "Staatsanwaltschaft Münster".to_owned()),
            ("passphrase", passphrase.clone()),
            ("age_recipient", String::new()),
            ("delivery", "link".to_owned()),
            ("link_hours", hours.to_owned()),
            ("link_downloads", downloads.to_owned()),
        ]
    };
    let export = format!("{here}/export");
    async fn post(b: &mut Browser, path: &str, fields: Vec<(&'static str, String)>) -> Page {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post(path, &fields).await
    }
    for (hours, downloads) in [
        ("0", "3"),
        ("9999", "3"),
        ("24", "0"),
        ("24", "eleven"),
        ("", ""),
    ] {
        let refused = post(&mut b, &export, form(hours, downloads)).await;
        assert_eq!(refused.status, 400, "{hours} {downloads}");
        assert!(
            refused.body.contains("data-error=\"error-bad-link\""),
            "{}",
            refused.body
        );
    }
    let made = post(&mut b, &export, form("24", "1")).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let unescaped = made.body.replace("&#x2f;", "/");
    let url = {
        let at = unescaped.find("id=\"link-url\">").unwrap() + 14;
        unescaped[at..at + unescaped[at..].find('<').unwrap()].to_owned()
    };
    let page_path = url.strip_prefix(&w.base()).unwrap().to_owned();
    assert!(page_path.starts_with("/download/"), "{url}");
    assert!(unescaped.contains(&format!("id=\"link-passphrase\">{passphrase}<")));
    assert!(made.body.contains("Download-Link erstellt"), "in German");

    // The recipient, with no account: the page first, then the button.
    let mut recipient = Browser::new(&w, "nl");
    let landing = recipient.get(&page_path).await;
    assert_eq!(landing.status, 200);
    assert!(landing.body.contains("Bewijspakket"), "{}", landing.body);
    let action = {
        let body = landing.body.replace("&#x2f;", "/");
        let at = body.find("<form method=\"post\" action=\"").unwrap() + 28;
        body[at..at + body[at..].find('"').unwrap()].to_owned()
    };
    assert!(action.starts_with("/api/v1/downloads/"), "{action}");
    let package = recipient.post(&action, &[]).await;
    assert_eq!(package.status, 200);
    let tar = open_package(&package.raw, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    assert!(custos_export::verify::verify(&contents, &Default::default()).ok());
    // One download allowed: the page now says it is used up.
    let used = recipient.get(&page_path).await;
    assert_eq!(used.status, 410);
    assert!(used.body.contains("data-state=\"used-up\""));

    // The reviewer sees it counted and revokes it; the page says revoked.
    let page = b.get(&here).await;
    assert_eq!(data_values(&page, "export-link").len(), 1);
    assert!(page.body.contains("1 / 1"), "{}", page.body);
    let link_id = data_values(&page, "export-link").remove(0);
    let revoked = b
        .post(
            &format!("/export-links/{link_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, 303);
    let page = b.get(&here).await;
    assert!(page.body.contains(&format!(
        "data-export-link=\"{link_id}\" data-state=\"revoked\""
    )));
    assert!(!page
        .body
        .contains(&format!("/export-links/{link_id}/revoke")));
    let gone = recipient.get(&page_path).await;
    assert_eq!(gone.status, 410);
    assert!(gone.body.contains("data-state=\"revoked\""));
    let forged = b
        .post(
            &format!("/export-links/{link_id}/revoke"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(forged.status, 403);

    let entries = audit_actions(&w).await;
    let count = |action: &str, outcome: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action && e["outcome"] == outcome)
            .count()
    };
    assert_eq!(count("export-link.create", "ok"), 1);
    assert_eq!(count("export.download", "ok"), 1);
    assert_eq!(count("export-link.revoke", "ok"), 1);
    assert_eq!(count("export.create", "refused"), 5);
}
