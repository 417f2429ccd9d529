//! Subject access requests and redaction on the privacy officer's pages.

use super::*;

/// A minute as the intake form takes it, in the deployment's zone
/// (Europe/Amsterdam).
fn amsterdam_minute(t: custos_format::UtcMillis) -> String {
    let tz = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap();
    jiff::Timestamp::from_millisecond(t.as_millis())
        .unwrap()
        .to_zoned(tz)
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

async fn post_fields(b: &mut Browser, path: &str, fields: Vec<(&'static str, String)>) -> Page {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(path, &fields).await
}

/// SAR-web-1's search on its page, sent with `csrf`, for `camera`.
async fn search(b: &mut Browser, csrf: &str, camera: &str) -> Page {
    let fields = vec![
        ("csrf", csrf.to_owned()),
        ("officer", String::new()),
        ("camera", camera.to_owned()),
    ];
    post_fields(b, "/subject-requests/SAR-web-1/search", fields).await
}

/// SAR-web-1's deadline extended on its page by `months`, for `reason`.
async fn extend(b: &mut Browser, csrf: &str, months: &str, reason: &str) -> Page {
    let fields = vec![
        ("csrf", csrf.to_owned()),
        ("months", months.to_owned()),
        ("reason", reason.to_owned()),
    ];
    post_fields(b, "/subject-requests/SAR-web-1/extend", fields).await
}

/// A recording from cam-s; a privacy officer (petra) signed in on the
/// pages, with the CSRF token of her list, and a reviewer (rita).
struct Intake {
    w: World,
    r: custos_catalog::Recording,
    petra: Account,
    rita: Account,
    /// Petra's browser.
    p: Browser,
    csrf: String,
}

async fn intake() -> Intake {
    let w = world().await;
    let r = w.one_recording("cam-s", 20).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let mut p = Browser::new(&w, "en");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let csrf = Browser::csrf(&p.get("/subject-requests").await);
    Intake {
        w,
        r,
        petra,
        rita,
        p,
        csrf,
    }
}

impl Intake {
    /// Two minutes before the recording, as the form takes it.
    fn from(&self) -> String {
        amsterdam_minute(self.r.started_at.plus_millis(-120_000))
    }

    /// The intake form for SAR-web-1 (until two minutes after the
    /// recording), from `window_from`, at latitude `lat`.
    fn fields(&self, window_from: &str, lat: &str) -> Vec<(&'static str, String)> {
        vec![
            ("csrf", self.csrf.clone()),
            ("case_id", "SAR-web-1".to_owned()),
            ("requester", "Pieter de Vries".to_owned()),
            ("contact", String::new()),
            ("identity_check", "ID card shown at the desk".to_owned()),
            ("description", "blue jacket".to_owned()),
            ("window_from", window_from.to_owned()),
            (
                "window_to",
                amsterdam_minute(self.r.ended_at.plus_millis(120_000)),
            ),
            ("lat", lat.to_owned()),
            ("lon", String::new()),
            ("radius_m", "250".to_owned()),
            ("received", String::new()),
        ]
    }

    /// The request taken in from the form, filled in right.
    async fn open(&mut self) -> Page {
        let fields = self.fields(&self.from(), "");
        post_fields(&mut self.p, "/subject-requests", fields).await
    }

    async fn opened(&mut self) {
        let opened = self.open().await;
        assert_eq!(opened.status, 303, "{}", opened.body);
    }

    /// `days` later, petra signed in anew in a browser of `lang`.
    async fn later(&self, days: i64, lang: &str) -> Browser {
        self.w
            .clock_offset
            .fetch_add(days * 86_400_000, std::sync::atomic::Ordering::SeqCst);
        let mut p = Browser::new(&self.w, lang);
        assert_eq!(p.sign_in(&self.w, &self.petra).await.status, 303);
        p
    }
}

/// The privacy officer's list is in her menu; an intake form that does not
/// parse (a window's start, a place) says why and shows what was typed.
#[tokio::test]
async fn a_subject_request_form_that_does_not_parse_says_why_and_keeps_what_was_typed() {
    let mut f = intake().await;
    let list = f.p.get("/subject-requests").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("data-nav=\"subject-requests\""));
    let from = f.from();
    for (window_from, lat, code) in [
        ("tomorrow", "", "error-bad-window"),
        (from.as_str(), "51,92", "error-bad-place"),
    ] {
        let fields = f.fields(window_from, lat);
        let refused = post_fields(&mut f.p, "/subject-requests", fields).await;
        assert_eq!(refused.status, 400);
        assert!(
            refused.body.contains(&format!("data-error=\"{code}\"")),
            "{}",
            refused.body
        );
        // What was typed is shown again.
        assert!(refused.body.contains("value=\"Pieter de Vries\""));
    }
}

/// A request taken in on the page, its window in the deployment's zone,
/// opens: its page names the requester, the request open.
#[tokio::test]
async fn a_subject_access_request_taken_in_on_the_page_opens_with_its_requester() {
    let mut f = intake().await;
    let opened = f.open().await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    assert_eq!(
        opened.location.as_deref(),
        Some("/subject-requests/SAR-web-1")
    );
    let page = f.p.get("/subject-requests/SAR-web-1").await;
    assert!(page.body.contains("Pieter de Vries"));
    assert!(page.body.contains("data-state=\"open\""), "{}", page.body);
}

/// The search: the recording, with its thumbnail asked for with this
/// purpose and case; another camera finds nothing.
#[tokio::test]
async fn a_requests_search_finds_its_recording_with_a_thumbnail_for_its_purpose_and_case() {
    let mut f = intake().await;
    f.opened().await;
    let r = &f.r;
    let found = search(&mut f.p, &f.csrf, "").await;
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
    let image = f.p.get(&thumbnail.replace("&amp;", "&")).await;
    assert_eq!(image.status, 200);
    assert_eq!(image.header("content-type"), Some("image/jpeg"));
    let none = search(&mut f.p, &f.csrf, "cam-other").await;
    assert!(none.body.contains("id=\"no-candidates\""));
}

/// The deadline as it nears: open, then due soon on the list (in Dutch)
/// and counted on the landing page, which names nobody.
#[tokio::test]
async fn a_requests_nearing_deadline_is_marked_on_the_list_and_counted_on_the_landing_page() {
    let mut f = intake().await;
    f.opened().await;
    let list = f.p.get("/subject-requests").await;
    assert_eq!(data_values(&list, "subject-request"), ["SAR-web-1"]);
    assert!(list.body.contains("data-state=\"open\""));
    let mut p = f.later(26, "nl").await;
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
}

/// Past its deadline the request is overdue; an extension beyond three
/// months is refused, one of two months with a reason reopens it and is
/// the last; a forged form is refused.
#[tokio::test]
async fn an_overdue_request_is_extended_once_with_a_reason_by_at_most_three_months() {
    let mut f = intake().await;
    f.opened().await;
    f.later(26, "nl").await;
    let mut p = f.later(6, "de").await;
    let list = p.get("/subject-requests").await;
    assert!(
        list.body.contains("data-state=\"overdue\""),
        "{}",
        list.body
    );
    let csrf = Browser::csrf(&list);
    let bad = extend(&mut p, &csrf, "5", "x").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("data-error=\"error-bad-extension\""));
    let extended = extend(&mut p, &csrf, "2", "viele Aufnahmen").await;
    assert_eq!(extended.status, 303);
    let page = p.get("/subject-requests/SAR-web-1").await;
    assert!(page.body.contains("data-state=\"open\""), "{}", page.body);
    assert!(page.body.contains("viele Aufnahmen"));
    assert!(
        !page.body.contains("id=\"extend\""),
        "three months is the most"
    );
    let forged = search(&mut p, "forged", "").await;
    assert_eq!(forged.status, 403);
}

/// A reviewer sees none of it: no menu entry, no deadlines, no list, no
/// request (after the request was taken in, went overdue and was extended).
#[tokio::test]
async fn a_reviewer_sees_no_subject_access_request_nor_its_deadline() {
    let mut f = intake().await;
    f.opened().await;
    f.later(26, "nl").await;
    let mut p = f.later(6, "de").await;
    let csrf = Browser::csrf(&p.get("/subject-requests").await);
    let extended = extend(&mut p, &csrf, "2", "viele Aufnahmen").await;
    assert_eq!(extended.status, 303);
    let mut b = Browser::new(&f.w, "en");
    assert_eq!(b.sign_in(&f.w, &f.rita).await.status, 303);
    let home = b.get("/recordings").await;
    assert!(!home.body.contains("data-nav=\"subject-requests\""));
    assert!(!home.body.contains("id=\"requests-due\""));
    for path in ["/subject-requests", "/subject-requests/SAR-web-1"] {
        let page = b.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(!page.body.contains("Pieter"));
    }
}

/// A subject access request `case` taken in over the API by `token`, of
/// `requester` (passport checked) describing `description`, for the
/// recording's time from a second before; then searched. Both answers.
async fn opened_and_searched(
    w: &World,
    token: &str,
    case: &str,
    (requester, description): (&str, &str),
    r: &custos_catalog::Recording,
) -> (Answer, Answer) {
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    let opened = w
        .call(
            "POST",
            "/api/v1/subject-requests",
            Some(token),
            Some(serde_json::json!({
                "case_id": case, "requester": requester, "identity_check": "passport",
                "description": description,
                "window_from": rfc(r.started_at.plus_millis(-1_000)),
                "window_to": rfc(r.ended_at),
            })),
            &[],
        )
        .await;
    let found = w
        .call(
            "POST",
            &format!("/api/v1/subject-requests/{case}/search"),
            Some(token),
            Some(serde_json::json!({})),
            &[],
        )
        .await;
    (opened, found)
}

/// tests/browser/redact.mjs in Chromium: `petra` signs in and edits the
/// request `case`'s recording (`faces`: with face proposals). What the
/// script saw.
async fn redact_in_chromium(
    w: &World,
    petra: &Account,
    case: &str,
    recording: &custos_catalog::Recording,
    faces: bool,
) -> serde_json::Value {
    w.clock_offset
        .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut env = crate::common::vars([
        ("BASE", &w.base()),
        ("NAME", &petra.name),
        ("PASSWORD", &petra.password),
        (
            "CODE",
            &custos_server::auth::totp_code(&petra.secret, w.now()).unwrap(),
        ),
        ("CASE", &case),
        ("RECORDING", &recording.recording_id.to_string()),
    ]);
    if faces {
        env.extend(crate::common::vars([("FACES", &"1")]));
    }
    env.extend(crate::common::vars([("SHOTS", &shots)]));
    crate::common::browser("redact.mjs", env).await
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
    let who = ("B. Bakker", "green scarf");
    let (opened, found) = opened_and_searched(&w, &tp, "SAR-E", who, &r).await;
    assert_eq!(opened.status, 201);
    assert_eq!(found.json().as_array().unwrap().len(), 1);
    let seen = redact_in_chromium(&w, &petra, "SAR-E", &r, false).await;
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

/// A request SAR-W opened and searched over the API for a recording from
/// cam-w; its privacy officer (petra) signed in on the pages.
struct Redaction {
    w: World,
    r: custos_catalog::Recording,
    /// Petra's browser.
    p: Browser,
    /// The redaction editor's page for the recording.
    editor_path: String,
}

async fn redaction() -> Redaction {
    let w = world().await;
    let r = w.one_recording("cam-w", 30).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tp = w.sign_in(&petra).await;
    let (opened, found) = opened_and_searched(&w, &tp, "SAR-W", ("D. de Boer", "cap"), &r).await;
    assert_eq!(opened.status, 201);
    assert_eq!(found.status, 200);
    let mut p = Browser::new(&w, "en");
    assert_eq!(p.sign_in(&w, &petra).await.status, 303);
    let editor_path = format!(
        "/subject-requests/SAR-W/recordings/{}/redact",
        r.recording_id
    );
    Redaction {
        w,
        r,
        p,
        editor_path,
    }
}

/// A plan that pixelates one box from the start.
const PLAN: &str = r#"{"tracks":[{"label":"p","kind":"pixelate","keyframes":[{"at_millis":0,"x":0.2,"y":0.2,"w":0.3,"h":0.3}]}]}"#;

/// The passphrase the request's page proposes for the delivery.
fn deliver_passphrase(page: &Page) -> String {
    let at = page.body.find("id=\"deliver-passphrase\">").unwrap() + 24;
    page.body[at..at + page.body[at..].find('<').unwrap()].to_owned()
}

impl Redaction {
    /// The editor's form sent with `csrf` and `plan`.
    async fn send_plan(&mut self, csrf: &str, plan: &str) -> Page {
        let path = self.editor_path.clone();
        self.p.post(&path, &[("csrf", csrf), ("plan", plan)]).await
    }

    /// The copy made from [`PLAN`]: the form's CSRF token and the
    /// passphrase the request's page proposes.
    async fn redacted(&mut self) -> (String, String) {
        let path = self.editor_path.clone();
        let csrf = Browser::csrf(&self.p.get(&path).await);
        let made = self.send_plan(&csrf, PLAN).await;
        assert_eq!(made.status, 303, "{}", made.body);
        let page = self.p.get("/subject-requests/SAR-W").await;
        (csrf, deliver_passphrase(&page))
    }

    /// The request answered with the copy, `delivery` being "download" or "link".
    async fn deliver(&mut self, csrf: &str, passphrase: &str, delivery: &str) -> Page {
        let fields = [
            ("csrf", csrf),
            ("passphrase", passphrase),
            ("age_recipient", ""),
            ("delivery", delivery),
            ("link_hours", "24"),
        ];
        self.p
            .post("/subject-requests/SAR-W/delivery", &fields)
            .await
    }
}

/// Without the editor's script: the request's page offers the recording
/// found for redaction and nothing to deliver yet; the editor loads its
/// script, which is served as JavaScript.
#[tokio::test]
async fn a_request_offers_its_recording_for_redaction_in_an_editor_with_its_script() {
    let mut f = redaction().await;
    let page = f.p.get("/subject-requests/SAR-W").await;
    assert_eq!(data_values(&page, "redact"), [f.r.recording_id.to_string()]);
    assert!(
        !page.body.contains("id=\"deliver\""),
        "nothing to deliver yet"
    );
    let editor = f.p.get(&f.editor_path).await;
    assert_eq!(editor.status, 200);
    assert!(editor
        .body
        .replace("&#x2f;", "/")
        .contains("<script src=\"/static/redact.js\" defer></script>"));
    let script = f.p.get("/static/redact.js").await;
    assert_eq!(script.status, 200);
    assert!(script
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
}

/// A broken plan written into the editor's form is refused with the reason.
#[tokio::test]
async fn a_broken_redaction_plan_written_into_the_form_is_refused_with_the_reason() {
    let mut f = redaction().await;
    let editor = f.p.get(&f.editor_path).await;
    let csrf = Browser::csrf(&editor);
    let refused = f.send_plan(&csrf, r#"{"tracks": [{"label": "x"}]}"#).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body.contains("data-error=\"error-bad-plan\""),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("id=\"plan-detail\""));
}

/// A plan written into the editor's form makes the copy; the request's
/// page lists it and offers to deliver it.
#[tokio::test]
async fn a_redaction_plan_written_into_the_form_makes_a_copy_to_deliver() {
    let mut f = redaction().await;
    let editor = f.p.get(&f.editor_path).await;
    let csrf = Browser::csrf(&editor);
    let made = f.send_plan(&csrf, PLAN).await;
    assert_eq!(made.status, 303, "{}", made.body);
    assert_eq!(
        made.location.as_deref(),
        Some("/subject-requests/SAR-W#derivatives")
    );
    let page = f.p.get("/subject-requests/SAR-W").await;
    assert_eq!(data_values(&page, "derivative").len(), 1);
    assert!(page.body.contains("id=\"deliver\""));
    assert!(!deliver_passphrase(&page).is_empty());
}

/// Downloaded now: the package holds the copy (no original footage) and
/// verifies.
#[tokio::test]
async fn a_redacted_copy_downloaded_now_verifies_and_holds_no_original_recording() {
    let mut f = redaction().await;
    let (csrf, passphrase) = f.redacted().await;
    let package = f.deliver(&csrf, &passphrase, "download").await;
    assert_eq!(package.status, 200, "{}", package.body);
    let tar = open_package(&package.raw, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    assert!(custos_export::verify::verify(&contents, &Default::default()).ok());
    assert!(contents.files.keys().all(|f| !f.starts_with("recordings/")));
    let report = String::from_utf8(contents.bytes("report.html").unwrap().to_vec()).unwrap();
    assert!(report.contains("Redacted copy"));
}

/// Or a link for one download, without an account; the request is then
/// delivered.
#[tokio::test]
async fn a_redacted_copy_sent_as_a_link_downloads_once_and_the_request_is_delivered() {
    let mut f = redaction().await;
    let (csrf, passphrase) = f.redacted().await;
    let linked = f.deliver(&csrf, &passphrase, "link").await;
    assert_eq!(linked.status, 201, "{}", linked.body);
    let unescaped = linked.body.replace("&#x2f;", "/");
    assert!(unescaped.contains("href=\"/subject-requests/SAR-W\""));
    let at = unescaped.find("id=\"link-url\">").unwrap() + 14;
    let url = &unescaped[at..at + unescaped[at..].find('<').unwrap()];
    let token = url.rsplit('/').next().unwrap();
    let download = format!("/api/v1/downloads/{token}");
    let fetched = f.w.call("POST", &download, None, None, &[]).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(
        f.w.call("POST", &download, None, None, &[]).await.status,
        410,
        "one download"
    );
    let page = f.p.get("/subject-requests/SAR-W").await;
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
    let (opened, _) = opened_and_searched(&w, &tp, "SAR-G", ("E. Jong", "-"), &r).await;
    assert_eq!(opened.status, 201);
    let seen = redact_in_chromium(&w, &petra, "SAR-G", &r, true).await;
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
