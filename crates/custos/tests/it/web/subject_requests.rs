//! Subject access requests and redaction on the privacy officer's pages.

use super::*;

/// The privacy officer's pages for subject access requests: intake in the
/// deployment's zone (a form that does not parse says why), the list with
/// each deadline marked as it nears and passes, the request's page with
/// the search (thumbnails asked for with the request's purpose and case)
/// and the extension; nobody else sees any of it.
#[tokio::test]
async fn a_subject_access_request_is_taken_in_searched_and_extended_on_the_privacy_officers_pages()
{
    let w = world().await;
    let r = w.one_recording("cam-s", 20).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let mut p = Browser::new(&w, "en");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let list = p.get("/subject-requests").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("data-nav=\"subject-requests\""));
    let csrf = Browser::csrf(&list);
    // The recording's minute, as the form takes it (Europe/Amsterdam).
    let tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap();
    let local = |t: custos_format::UtcMillis| {
        jiff::Timestamp::from_millisecond(t.as_millis())
            .unwrap()
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M")
            .to_string()
    };
    let from = local(r.started_at.plus_millis(-120_000));
    let to = local(r.ended_at.plus_millis(120_000));
    let fields = |window_from: &str, lat: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("case_id", "SAR-web-1".to_owned()),
            ("requester", "Pieter de Vries".to_owned()),
            ("contact", String::new()),
            ("identity_check", "ID card shown at the desk".to_owned()),
            ("description", "blue jacket".to_owned()),
            ("window_from", window_from.to_owned()),
            ("window_to", to.clone()),
            ("lat", lat.to_owned()),
            ("lon", String::new()),
            ("radius_m", "250".to_owned()),
            ("received", String::new()),
        ]
    };
    async fn post(b: &mut Browser, path: &str, fields: Vec<(&'static str, String)>) -> Page {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post(path, &fields).await
    }
    for (window_from, lat, code) in [
        ("tomorrow", "", "error-bad-window"),
        (from.as_str(), "51,92", "error-bad-place"),
    ] {
        let refused = post(&mut p, "/subject-requests", fields(window_from, lat)).await;
        assert_eq!(refused.status, 400);
        assert!(
            refused.body.contains(&format!("data-error=\"{code}\"")),
            "{}",
            refused.body
        );
        // What was typed is shown again.
        assert!(refused.body.contains("value=\"Pieter de Vries\""));
    }
    let opened = post(&mut p, "/subject-requests", fields(&from, "")).await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    assert_eq!(
        opened.location.as_deref(),
        Some("/subject-requests/SAR-web-1")
    );
    let page = p.get("/subject-requests/SAR-web-1").await;
    assert!(page.body.contains("Pieter de Vries"));
    assert!(page.body.contains("data-state=\"open\""), "{}", page.body);

    // The search: the recording, with its thumbnail for this purpose and case.
    let found = post(
        &mut p,
        "/subject-requests/SAR-web-1/search",
        vec![
            ("csrf", csrf.clone()),
            ("officer", String::new()),
            ("camera", String::new()),
        ],
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(
        data_values(&found, "candidate"),
        [r.recording_id.to_string()]
    );
    let thumbnail = format!(
        "/api/v1/recordings/{}/thumbnail?purpose=subject-access-request&amp;case=SAR-web-1",
        r.recording_id
    );
    assert!(
        found.body.replace("&#x2f;", "/").contains(&thumbnail),
        "{}",
        found.body
    );
    let image = p.get(&thumbnail.replace("&amp;", "&")).await;
    assert_eq!(image.status, 200);
    assert_eq!(image.header("content-type"), Some("image/jpeg"));
    let none = post(
        &mut p,
        "/subject-requests/SAR-web-1/search",
        vec![
            ("csrf", csrf.clone()),
            ("officer", String::new()),
            ("camera", "cam-other".into()),
        ],
    )
    .await;
    assert!(none.body.contains("id=\"no-candidates\""));

    // The deadline as it nears, passes, and is extended.
    let list = p.get("/subject-requests").await;
    assert_eq!(data_values(&list, "subject-request"), ["SAR-web-1"]);
    assert!(list.body.contains("data-state=\"open\""));
    w.clock_offset
        .fetch_add(26 * 86_400_000, std::sync::atomic::Ordering::SeqCst);
    let mut p = Browser::new(&w, "nl");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let list = p.get("/subject-requests").await;
    assert!(
        list.body.contains("data-state=\"due-soon\""),
        "{}",
        list.body
    );
    assert!(list.body.contains("verloopt over"));
    // The landing page says so too, with counts and no names.
    let landing = p.get("/recordings").await;
    assert!(
        landing
            .body
            .contains("id=\"requests-due\" data-overdue=\"0\" data-soon=\"1\""),
        "{}",
        landing.body
    );
    assert!(!landing.body.contains("Pieter"));
    w.clock_offset
        .fetch_add(6 * 86_400_000, std::sync::atomic::Ordering::SeqCst);
    let mut p = Browser::new(&w, "de");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let list = p.get("/subject-requests").await;
    assert!(
        list.body.contains("data-state=\"overdue\""),
        "{}",
        list.body
    );
    let csrf = Browser::csrf(&list);
    let bad = post(
        &mut p,
        "/subject-requests/SAR-web-1/extend",
        vec![
            ("csrf", csrf.clone()),
            ("months", "5".into()),
            ("reason", "x".into()),
        ],
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("data-error=\"error-bad-extension\""));
    let extended = post(
        &mut p,
        "/subject-requests/SAR-web-1/extend",
        vec![
            ("csrf", csrf.clone()),
            ("months", "2".into()),
            ("reason", "viele Aufnahmen".into()),
        ],
    )
    .await;
    assert_eq!(extended.status, 303);
    let page = p.get("/subject-requests/SAR-web-1").await;
    assert!(page.body.contains("data-state=\"open\""), "{}", page.body);
    assert!(page.body.contains("viele Aufnahmen"));
    assert!(
        !page.body.contains("id=\"extend\""),
        "three months is the most"
    );
    let forged = post(
        &mut p,
        "/subject-requests/SAR-web-1/search",
        vec![
            ("csrf", "forged".into()),
            ("officer", String::new()),
            ("camera", String::new()),
        ],
    )
    .await;
    assert_eq!(forged.status, 403);

    // A reviewer sees none of it.
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &rita).await.status, 303);
    let home = b.get("/recordings").await;
    assert!(!home.body.contains("data-nav=\"subject-requests\""));
    assert!(!home.body.contains("id=\"requests-due\""));
    for path in ["/subject-requests", "/subject-requests/SAR-web-1"] {
        let page = b.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(!page.body.contains("Pieter"));
    }
}

/// The redaction editor in Chromium: a privacy officer drags a box on one
/// frame, steps two seconds on and drags it again, makes the copy, and the
/// request's page plays it. The plan the browser sent is the plan stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_draws_a_box_that_follows_a_person_and_renders_the_redacted_copy() {
    let w = world().await;
    let r = w.one_recording("cam-e", 150).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tp = w.sign_in(&petra).await;
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    let opened = w
        .call(
            "POST",
            "/api/v1/subject-requests",
            Some(&tp),
            Some(serde_json::json!({
                "case_id": "SAR-E", "requester": "B. Bakker", "identity_check": "passport",
                "description": "green scarf",
                "window_from": rfc(r.started_at.plus_millis(-1_000)),
                "window_to": rfc(r.ended_at),
            })),
            &[],
        )
        .await;
    assert_eq!(opened.status, 201);
    let found = w
        .call(
            "POST",
            "/api/v1/subject-requests/SAR-E/search",
            Some(&tp),
            Some(serde_json::json!({})),
            &[],
        )
        .await;
    assert_eq!(found.json().as_array().unwrap().len(), 1);
    w.clock_offset
        .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/redact.mjs");
    let mut command = std::process::Command::new("node");
    command
        .arg(&script)
        .env("BASE", w.base())
        .env("NAME", &petra.name)
        .env("PASSWORD", &petra.password)
        .env(
            "CODE",
            custos_server::auth::totp_code(&petra.secret, w.now()).unwrap(),
        )
        .env("CASE", "SAR-E")
        .env("RECORDING", r.recording_id.to_string())
        .env("SHOTS", &shots);
    let out = tokio::task::spawn_blocking(move || command.output().expect("node (see ./test.sh)"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(seen["ok"], true, "{seen}");
    assert!(seen.get("page_error").is_none(), "{seen}");
    assert_eq!(seen["keyframes_after_first"], "1");
    assert_eq!(seen["keyframes"], "2");
    assert_eq!(seen["mutes"], "1");
    assert!(seen["second_frame_at"].as_u64().unwrap() >= 2000, "{seen}");
    assert_eq!(seen["after_render"], "/subject-requests/SAR-E");
    assert_eq!(seen["derivatives"], 1);
    let duration = seen["duration"].as_f64().unwrap();
    assert!((4.0..6.0).contains(&duration), "the copy plays: {seen}");
    // What the browser drew is what was stored and rendered.
    let stored = w
        .server
        .deployment
        .catalog
        .derivatives_for_case("SAR-E")
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    let plan: custos_redact::Plan = serde_json::from_str(&stored[0].plan).unwrap();
    assert_eq!(plan, serde_json::from_value(seen["plan"].clone()).unwrap());
    assert_eq!(plan.tracks.len(), 1);
    assert_eq!(
        plan.mute,
        [custos_redact::MuteRange {
            from_millis: 1000,
            to_millis: 2500
        }]
    );
    let keyframes = &plan.tracks[0].keyframes;
    assert_eq!(keyframes.len(), 2);
    assert_eq!(keyframes[0].at_millis, 0);
    assert!(
        keyframes[1].region.x > keyframes[0].region.x + 0.3,
        "{keyframes:?}"
    );
    for k in keyframes {
        assert!((0.25..0.35).contains(&k.region.w), "{k:?}");
        assert!((0.45..0.55).contains(&k.region.h), "{k:?}");
    }
    assert!(
        (150..=151).contains(&stored[0].frames),
        "{}",
        stored[0].frames
    );
}

/// Without the editor's script: a plan written into the form makes the
/// copy (a broken one is refused with the reason); the request's page then
/// answers the request — downloaded now, or as a one-download link.
#[tokio::test]
async fn a_request_is_redacted_and_answered_from_the_privacy_officers_pages() {
    let w = world().await;
    let r = w.one_recording("cam-w", 30).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tp = w.sign_in(&petra).await;
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    assert_eq!(
        w.call(
            "POST",
            "/api/v1/subject-requests",
            Some(&tp),
            Some(serde_json::json!({
                "case_id": "SAR-W", "requester": "D. de Boer", "identity_check": "passport",
                "description": "cap", "window_from": rfc(r.started_at.plus_millis(-1_000)),
                "window_to": rfc(r.ended_at),
            })),
            &[],
        )
        .await
        .status,
        201
    );
    assert_eq!(
        w.call(
            "POST",
            "/api/v1/subject-requests/SAR-W/search",
            Some(&tp),
            Some(serde_json::json!({})),
            &[]
        )
        .await
        .status,
        200
    );
    let mut p = Browser::new(&w, "en");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let page = p.get("/subject-requests/SAR-W").await;
    assert_eq!(data_values(&page, "redact"), [r.recording_id.to_string()]);
    assert!(
        !page.body.contains("id=\"deliver\""),
        "nothing to deliver yet"
    );
    let editor_path = format!(
        "/subject-requests/SAR-W/recordings/{}/redact",
        r.recording_id
    );
    let editor = p.get(&editor_path).await;
    assert_eq!(editor.status, 200);
    assert!(editor
        .body
        .replace("&#x2f;", "/")
        .contains("<script src=\"/static/redact.js\" defer></script>"));
    let script = p.get("/static/redact.js").await;
    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    let csrf = Browser::csrf(&editor);
    let refused = p
        .post(
            &editor_path,
            &[("csrf", &csrf), ("plan", r#"{"tracks": [{"label": "x"}]}"#)],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("data-error=\"error-bad-plan\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("id=\"plan-detail\""));
    let plan = r#"{"tracks":[{"label":"p","kind":"pixelate","keyframes":[{"at_millis":0,"x":0.2,"y":0.2,"w":0.3,"h":0.3}]}]}"#;
    let made = p
        .post(&editor_path, &[("csrf", &csrf), ("plan", plan)])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert_eq!(
        made.location.as_deref(),
        Some("/subject-requests/SAR-W#derivatives")
    );
    let page = p.get("/subject-requests/SAR-W").await;
    assert_eq!(data_values(&page, "derivative").len(), 1);
    assert!(page.body.contains("id=\"deliver\""));
    let passphrase = {
        let at = page.body.find("id=\"deliver-passphrase\">").unwrap() + 24;
        page.body[at..at + page.body[at..].find('<').unwrap()].to_owned()
    };

    // Downloaded now: the package holds the copy and verifies.
    let package = p
        .post(
            "/subject-requests/SAR-W/delivery",
            &[
                ("csrf", &csrf),
                ("passphrase", &passphrase),
                ("age_recipient", ""),
                ("delivery", "download"),
                ("link_hours", "24"),
            ],
        )
        .await;
    assert_eq!(package.status, 200, "{}", package.body);
    let tar = open_package(&package.raw, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    assert!(custos_export::verify::verify(&contents, &Default::default()).ok());
    assert!(contents.files.keys().all(|f| !f.starts_with("recordings/")));
    let report = String::from_utf8(contents.bytes("report.html").unwrap().to_vec()).unwrap();
    assert!(report.contains("Redacted copy"));
    // Or a link for one download.
    let linked = p
        .post(
            "/subject-requests/SAR-W/delivery",
            &[
                ("csrf", &csrf),
                ("passphrase", &passphrase),
                ("age_recipient", ""),
                ("delivery", "link"),
                ("link_hours", "24"),
            ],
        )
        .await;
    assert_eq!(linked.status, 201, "{}", linked.body);
    let unescaped = linked.body.replace("&#x2f;", "/");
    assert!(unescaped.contains("href=\"/subject-requests/SAR-W\""));
    let at = unescaped.find("id=\"link-url\">").unwrap() + 14;
    let url = &unescaped[at..at + unescaped[at..].find('<').unwrap()];
    let token = url.rsplit('/').next().unwrap();
    let fetched = w
        .call(
            "POST",
            &format!("/api/v1/downloads/{token}"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(fetched.status, 200);
    assert_eq!(
        w.call(
            "POST",
            &format!("/api/v1/downloads/{token}"),
            None,
            None,
            &[]
        )
        .await
        .status,
        410,
        "one download"
    );
    let page = p.get("/subject-requests/SAR-W").await;
    assert!(page.body.contains("id=\"delivered\""));
}

/// Face proposals in the editor, in Chromium: on a recording of the
/// labelled face clip, the privacy officer asks for proposals, clicks one,
/// and the copy is made with that face's box.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_proposes_faces_and_a_clicked_one_is_redacted() {
    let w = world().await;
    let cam = w.camera("cam-g", 0, true).await;
    record_face_clip(&cam);
    w.offload(&cam).await;
    let r = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tp = w.sign_in(&petra).await;
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    let opened = w
        .call(
            "POST",
            "/api/v1/subject-requests",
            Some(&tp),
            Some(serde_json::json!({
                "case_id": "SAR-G", "requester": "E. Jong", "identity_check": "passport",
                "description": "-", "window_from": rfc(r.started_at.plus_millis(-1_000)),
                "window_to": rfc(r.ended_at),
            })),
            &[],
        )
        .await;
    assert_eq!(opened.status, 201);
    w.call(
        "POST",
        "/api/v1/subject-requests/SAR-G/search",
        Some(&tp),
        Some(serde_json::json!({})),
        &[],
    )
    .await;
    w.clock_offset
        .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/redact.mjs");
    let mut command = std::process::Command::new("node");
    command
        .arg(&script)
        .env("BASE", w.base())
        .env("NAME", &petra.name)
        .env("PASSWORD", &petra.password)
        .env(
            "CODE",
            custos_server::auth::totp_code(&petra.secret, w.now()).unwrap(),
        )
        .env("CASE", "SAR-G")
        .env("RECORDING", r.recording_id.to_string())
        .env("FACES", "1")
        .env("SHOTS", &shots);
    let out = tokio::task::spawn_blocking(move || command.output().expect("node (see ./test.sh)"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let seen: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(seen["ok"], true, "{seen}");
    assert!(seen["proposals"].as_u64().unwrap() >= 4, "{seen}");
    assert_eq!(seen["keyframes"], "1", "{seen}");
    assert_eq!(
        seen["proposals_left"].as_u64().unwrap(),
        seen["proposals"].as_u64().unwrap() - 1
    );
    assert_eq!(seen["after_render"], "/subject-requests/SAR-G");
    assert_eq!(seen["derivatives"], 1);
    let stored = w
        .server
        .deployment
        .catalog
        .derivatives_for_case("SAR-G")
        .await
        .unwrap();
    let plan: custos_redact::Plan = serde_json::from_str(&stored[0].plan).unwrap();
    assert_eq!(plan.tracks.len(), 1);
    assert_eq!(plan.tracks[0].kind, custos_redact::BoxKind::Pixelate);
    let k = plan.tracks[0].keyframes[0];
    let accepted = &seen["accepted"];
    assert_eq!(k.at_millis, 0);
    assert!((k.region.x - accepted["x"].as_f64().unwrap() as f32).abs() < 1e-4);
    assert!((k.region.w - accepted["w"].as_f64().unwrap() as f32).abs() < 1e-4);
}
