//! The recordings list, a recording's page, and the player's questions.

use super::*;

/// Two recordings, from cam-a and cam-b; a reviewer (rita) signed in on
/// the pages.
struct TwoRecordings {
    w: World,
    first: custos_catalog::Recording,
    second: custos_catalog::Recording,
    /// Rita's browser.
    b: Browser,
}

async fn two_recordings() -> TwoRecordings {
    let w = world().await;
    let first = w.one_recording("cam-a", 20).await;
    let second = w.one_recording("cam-b", 20).await;
    let reviewer = w.add_user("rita", "reviewer", None).await;
    let mut b = Browser::new(&w, "en-GB,en;q=0.9");
    assert_eq!(b.sign_in(&w, &reviewer).await.status, 303);
    TwoRecordings {
        w,
        first,
        second,
        b,
    }
}

/// The list, unfiltered: both recordings, each with a play button.
#[tokio::test]
async fn the_recordings_list_shows_a_reviewer_every_recording_to_play() {
    let TwoRecordings {
        first,
        second,
        mut b,
        ..
    } = two_recordings().await;
    let all = b.get("/recordings").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.count("<tr data-recording="), 2);
    assert!(all.body.contains("Recordings 1–2 of 2."), "{}", all.body);
    // Both listed (their order is the catalog story's to test), both playable for a reviewer.
    assert!(all.body.contains(&second.recording_id.to_string()));
    assert!(all.body.contains(&first.recording_id.to_string()));
    assert_eq!(all.count("class=\"button play\""), 2);
}

/// Each filter narrows the list: camera (and stays filled in), status,
/// held, due for deletion, and a time window.
#[tokio::test]
async fn the_recordings_list_filters_by_camera_status_hold_deletion_and_time() {
    let TwoRecordings { second, mut b, .. } = two_recordings().await;
    let only_b = b.get("/recordings?camera=cam-b").await;
    assert_eq!(only_b.count("<tr data-recording="), 1);
    assert!(only_b.body.contains(&second.recording_id.to_string()));
    assert!(
        only_b.body.contains("value=\"cam-b\""),
        "the filter stays filled in"
    );
    let none = b.get("/recordings?status=stored-truncated").await;
    assert_eq!(none.count("<tr data-recording="), 0);
    assert!(none.body.contains("No recordings match."));
    let held = b.get("/recordings?held=yes").await;
    assert_eq!(held.count("<tr data-recording="), 0);
    let due = b.get("/recordings?due=7d").await;
    assert_eq!(due.count("<tr data-recording="), 0, "28 days to go");
    let today = b.get("/recordings?from=2020-01-01&to=2099-12-31").await;
    assert_eq!(today.count("<tr data-recording="), 2);
    let past = b.get("/recordings?to=2020-01-01").await;
    assert_eq!(past.count("<tr data-recording="), 0);
}

/// Garbage in a filter is named and lists nothing; a control character is
/// refused at the edge; a page past the last is empty, not an error.
#[tokio::test]
async fn a_bad_recordings_filter_is_named_and_a_page_past_the_last_is_empty() {
    let TwoRecordings { mut b, .. } = two_recordings().await;
    // Garbage in a filter: named, nothing listed, nothing lost.
    for (query, field) in [
        ("from=yesterday", "from"),
        ("due=forever", "due"),
        ("page=0", "page"),
        ("status=bogus", "status"),
    ] {
        let page = b.get(&format!("/recordings?{query}")).await;
        assert_eq!(page.status, 400, "{query}");
        assert!(
            page.body
                .contains(&format!("data-error=\"filter-{field}\"")),
            "{query}"
        );
    }
    // A control character never reaches the page: refused at the edge.
    let page = b.get("/recordings?status=%00").await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("query parameter 1"), "{}", page.body);
    // Beyond the last page: an empty page, not an error.
    let far = b.get("/recordings?page=9").await;
    assert_eq!((far.status, far.count("<tr data-recording=")), (200, 0));
}

/// A recording's page: metadata, integrity, the time to its deletion, and
/// its trail; an id that is not one, or of no recording, is not found.
#[tokio::test]
async fn a_recordings_page_shows_its_hash_camera_deletion_and_trail() {
    let TwoRecordings {
        w, first, mut b, ..
    } = two_recordings().await;
    let id = first.recording_id.to_string();
    let page = b.get(&format!("/recordings/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .body
        .contains(&hex_of(&first.camera().unwrap().ciphertext_sha256)));
    assert!(page.body.contains("cam-a"));
    let deletion = &page.body[page.body.find("id=\"deletion\"").unwrap()..][..200];
    let left = |now: custos_format::UtcMillis| {
        let hours = (first.delete_after.as_millis() - now.as_millis()) / 3_600_000;
        format!("in {} days, {} h", hours / 24, hours % 24)
    };
    assert!(
        deletion.contains(&left(w.now())),
        "time left: {deletion} vs {}",
        left(w.now())
    );
    assert!(page.body.contains("id=\"trail\""));
    // The trail shows the reads before this one: ingest, then this page's metadata read.
    assert!(
        page.body.contains("<code>recording.metadata</code>"),
        "{}",
        page.body
    );
    for bad in ["not-a-uuid", "0190f0c4-0000-7000-8000-000000000001"] {
        let page = b.get(&format!("/recordings/{bad}")).await;
        assert_eq!(page.status, 404, "{bad}");
        assert!(page.body.contains("data-error=\"error-not-found\""));
    }
}

/// An officer sees their own recordings only: none of these, and no page
/// (so no trail) of another's.
#[tokio::test]
async fn an_officer_sees_neither_the_recordings_nor_the_page_of_another() {
    let TwoRecordings { w, first, .. } = two_recordings().await;
    let id = first.recording_id.to_string();
    let officer = w.add_user("otto", "officer", Some("boa-9")).await;
    let mut o = Browser::new(&w, "en");
    assert_eq!(o.sign_in(&w, &officer).await.status, 303);
    let list = o.get("/recordings").await;
    assert_eq!(list.count("<tr data-recording="), 0, "not their recordings");
    assert_eq!(list.count("class=\"button play\""), 0);
    let page = o.get(&format!("/recordings/{id}")).await;
    assert_eq!(page.status, 404);
}

/// A recording from cam-a and a complaint case (not linked to it); the
/// reviewer who opened the case (rita) signed in on the pages.
struct PlayerCase {
    w: World,
    id: String,
    case: String,
    /// Rita's browser.
    b: Browser,
}

async fn player_case() -> PlayerCase {
    let w = world().await;
    let r = w.one_recording("cam-a", 20).await;
    let id = r.recording_id.to_string();
    let reviewer = w.add_user("rita", "reviewer", None).await;
    let token = w.sign_in(&reviewer).await;
    let case = w
        .with_case_labelled(&token, "complaint", "complaint 17")
        .await;
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &reviewer).await.status, 303);
    PlayerCase { w, id, case, b }
}

impl PlayerCase {
    /// The player's address for a complaint, for the case.
    fn player(&self) -> String {
        format!(
            "/recordings/{}/play?purpose=complaint&case={}",
            self.id, self.case
        )
    }

    /// The player's page for the case before the recording is linked to it.
    async fn unlinked(&mut self) -> Page {
        let player = self.player();
        self.b.get(&player).await
    }

    /// The form that links the recording to the case, sent with `csrf`
    /// and `reason`.
    async fn link(&mut self, csrf: &str, reason: &str) -> Page {
        let path = format!("/recordings/{}/link", self.id);
        let fields = [
            ("csrf", csrf),
            ("purpose", "complaint"),
            ("case", &self.case),
            ("reason", reason),
        ];
        self.b.post(&path, &fields).await
    }

    /// The recording linked to the case from the player's page, with a reason.
    async fn linked(&mut self) -> Page {
        let csrf = Browser::csrf(&self.unlinked().await);
        self.link(&csrf, "the complaint names this shift").await
    }
}

/// Asked to play, the page asks for a purpose (the complaint's) and offers
/// the open cases; no footage yet.
#[tokio::test]
async fn the_player_shows_no_footage_before_a_purpose_and_offers_the_open_cases() {
    let PlayerCase {
        id, case, mut b, ..
    } = player_case().await;
    let ask = b.get(&format!("/recordings/{id}/play")).await;
    assert_eq!(ask.status, 200);
    assert!(!ask.body.contains("<video"), "no footage before a purpose");
    assert!(ask.body.contains("name=\"purpose\" value=\"complaint\""));
    assert!(
        ask.body.contains(&format!("<option value=\"{case}\"")),
        "open cases offered"
    );
}

/// A purpose without a case, a case without a purpose, a purpose the role
/// may not use, a case that does not exist: each refused with its reason,
/// without footage, and in the audit log; nothing played.
#[tokio::test]
async fn the_player_refuses_a_missing_or_disallowed_purpose_or_an_unknown_case_and_audits_each() {
    let PlayerCase {
        w, id, case, mut b, ..
    } = player_case().await;
    for (query, code) in [
        ("purpose=complaint".to_owned(), "error-purpose-required"),
        (format!("case={case}"), "error-purpose-required"),
        (
            format!("purpose=curiosity&case={case}"),
            "error-purpose-not-allowed",
        ),
        (
            "purpose=complaint&case=no-such-case".to_owned(),
            "error-case-unknown",
        ),
    ] {
        let page = b.get(&format!("/recordings/{id}/play?{query}")).await;
        assert_eq!(page.status, 403, "{query}");
        assert!(
            page.body.contains(&format!("data-error=\"{code}\"")),
            "{query}: {}",
            page.body
        );
        assert!(!page.body.contains("<video"), "{query}");
    }
    let before = audit_actions(&w).await;
    assert!(before.iter().all(|e| e["action"] != "recording.play"));
    let refused = before
        .iter()
        .filter(|e| e["action"] == "recording.player" && e["outcome"] == "refused")
        .count();
    assert_eq!(refused, 4, "every refused attempt is in the audit log");
}

/// A real case the recording is not attached to: the page asks for the
/// link and its reason (audited), and nothing of the footage is shown.
/// Without a reason, or with a forged form: refused, nothing linked.
#[tokio::test]
async fn for_a_case_it_is_not_linked_to_the_player_asks_for_the_link_and_refuses_one_without_reason(
) {
    let mut f = player_case().await;
    let id = f.id.clone();
    let unlinked = f.unlinked().await;
    assert_eq!(unlinked.status, 403);
    assert!(unlinked.body.contains("data-error=\"error-not-attached\""));
    assert!(unlinked
        .body
        .contains(&format!("action=\"/recordings/{id}/link\"")));
    assert!(!unlinked.body.contains("<video"));
    let csrf = Browser::csrf(&unlinked);
    let empty = f.link(&csrf, " ").await;
    assert_eq!(empty.status, 400, "{}", empty.body);
    let forged = f.link("forged", "x").await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(f
        .w
        .server
        .deployment
        .catalog
        .case_links(&f.case)
        .await
        .unwrap()
        .is_empty());
}

/// Linked with a reason: back to the player for the case, and the link
/// says why and who made it.
#[tokio::test]
async fn a_link_made_with_a_reason_keeps_who_and_why_and_returns_to_the_player() {
    let mut f = player_case().await;
    let (id, case) = (f.id.clone(), f.case.clone());
    let linked = f.linked().await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    assert_eq!(
        linked.header("location"),
        Some(format!("/recordings/{id}/play?purpose=complaint&case={case}").as_str())
    );
    let links =
        f.w.server
            .deployment
            .catalog
            .case_links(&case)
            .await
            .unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0].reason.as_str(), links[0].linked_by.as_str()),
        ("the complaint names this shift", "rita")
    );
}

/// Once linked, the player shows the video for the purpose and case, the
/// opening is audited with both, and the browser's <video> plays with the
/// session cookie.
#[tokio::test]
async fn the_player_of_a_linked_recording_is_audited_with_its_purpose_and_the_video_plays() {
    let mut f = player_case().await;
    let (id, case) = (f.id.clone(), f.case.clone());
    let linked = f.linked().await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    let player = f.b.get(&f.player()).await;
    assert_eq!(player.status, 200, "{}", player.body);
    let src = format!("/api/v1/recordings/{id}/video?purpose=complaint&case={case}");
    assert!(
        unescape(&player.body).contains(&format!("src=\"{src}\"")),
        "{}",
        player.body
    );
    let opened = audit_actions(&f.w).await;
    let entry = opened
        .iter()
        .find(|e| e["action"] == "recording.player" && e["outcome"] == "ok")
        .expect("opening the player is audited");
    assert_eq!(entry["purpose"], "complaint");
    assert_eq!(entry["case"].as_str(), Some(case.as_str()));
    assert_eq!(entry["object"], format!("recording:{id}"));

    // The browser's <video> asks with the session cookie.
    let video = f.b.get(&src).await;
    assert_eq!(video.status, 200);
    assert_eq!(video.header("content-type"), Some("video/mp4"));
}

#[tokio::test]
async fn an_admin_sees_no_footage_and_the_language_follows_the_choice() {
    let w = world().await;
    let r = w.one_recording("cam-a", 20).await;
    let admin = w.add_user("adam", "admin", None).await;
    let mut b = Browser::new(&w, "en");
    assert_eq!(b.sign_in(&w, &admin).await.status, 303);
    let list = b.get("/recordings").await;
    assert_eq!(list.status, 403);
    assert!(list.body.contains("data-error=\"error-forbidden\""));
    assert!(
        !list.body.contains("data-nav=\"recordings\""),
        "no menu entry either"
    );
    let play = b.get(&format!("/recordings/{}/play", r.recording_id)).await;
    assert_eq!(play.status, 403);
    assert!(!play.body.contains("name=\"purpose\""));
    let video = b
        .get(&format!(
            "/api/v1/recordings/{}/video?purpose=complaint&case=x",
            r.recording_id
        ))
        .await;
    assert_eq!(video.status, 403);

    // The language: the browser's, then the switch's, remembered.
    let mut anon = Browser::new(&w, "de-DE,de;q=0.9,en;q=0.5");
    let login = anon.get("/login").await;
    assert!(login.body.contains("<html lang=\"de\">"));
    assert!(login.body.contains(">Anmelden</button>"));
    let switch = anon.get("/language?set=nl&back=%2Flogin").await;
    assert_eq!(
        (switch.status, switch.location.as_deref()),
        (303, Some("/login"))
    );
    assert!(switch.cookies[0].starts_with("custos_lang=nl"));
    let login = anon.get("/login").await;
    assert!(login.body.contains("<html lang=\"nl\">"));
    assert!(login.body.contains(">Aanmelden</button>"));
    assert!(login.body.contains("Gebruikersnaam"));
    // Only local pages to come back to; only languages we have.
    let away = anon
        .get("/language?set=en&back=https%3A%2F%2Fevil.example%2F")
        .await;
    assert_eq!(away.location.as_deref(), Some("/"));
    for bad in ["/language?set=fr", "/language", "/language?set="] {
        assert_eq!(anon.get(bad).await.status, 400, "{bad}");
    }
    // No browser preference, no cookie: the deployment's default (Dutch).
    let mut plain = Browser::new(&w, "");
    assert!(plain
        .get("/login")
        .await
        .body
        .contains("<html lang=\"nl\">"));
}

/// The four people of the Chromium visit, each signing in once there.
struct UiPeople {
    reviewer: Account,
    admin: Account,
    auditor: Account,
    evaluator: Account,
}

/// tests/browser/ui.mjs run in Chromium against `w`: what it saw, and the
/// directory its screenshots are in.
async fn ui_in_chromium(
    w: &World,
    people: &UiPeople,
    recording: &str,
    case: &str,
) -> (serde_json::Value, std::path::PathBuf) {
    // Codes for the server's (shifted) clock; each person signs in once.
    w.clock_offset
        .fetch_add(30_000, std::sync::atomic::Ordering::SeqCst);
    let code = |a: &Account| custos_server::auth::totp_code(&a.secret, w.now()).unwrap();
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut env = crate::common::vars([("BASE", &w.base())]);
    for (role, a) in [
        ("REVIEWER", &people.reviewer),
        ("ADMIN", &people.admin),
        ("AUDITOR", &people.auditor),
        ("EVALUATOR", &people.evaluator),
    ] {
        env.extend(crate::common::vars([
            (role, &a.name),
            (&format!("{role}_PASSWORD"), &a.password),
            (&format!("{role}_CODE"), &code(a)),
        ]));
    }
    env.extend(crate::common::vars([
        ("RECORDING", &recording),
        ("CASE", &case),
        ("SHOTS", &shots),
    ]));
    let seen = crate::common::browser("ui.mjs", env).await;
    (seen, shots)
}

/// WCAG 2.1 AA basics (tests/browser/a11y.mjs): the checker finds each
/// kind of fault on a page made to have them, and none on ours.
fn assert_accessible(seen: &serde_json::Value) {
    let selftest: Vec<String> = serde_json::from_value(seen["a11y_selftest"].clone()).unwrap();
    for fault in [
        "h1 elements",
        "used 2 times",
        "has no label",
        "has no alt",
        "<svg> without",
        "has no accessible name",
        "contrast",
        "focus not visible on <button>",
    ] {
        assert!(
            selftest.iter().any(|p| p.contains(fault)),
            "the checker misses {fault:?}: {selftest:?}"
        );
    }
    let pages = seen["a11y"].as_object().unwrap();
    assert_eq!(pages.len(), 20, "{pages:?}");
    for (page, checked) in pages {
        assert_eq!(checked["problems"], serde_json::json!([]), "{page}");
        // Each page was looked at: its text, and a keyboard walk through it.
        assert!(checked["texts"].as_u64().unwrap() >= 5, "{page}: {checked}");
        assert!(checked["stops"].as_u64().unwrap() >= 2, "{page}: {checked}");
    }
    // The forms were among what was checked.
    assert!(pages["login-en"]["controls"].as_u64().unwrap() >= 3);
    assert!(pages["case-de"]["controls"].as_u64().unwrap() >= 5);
    assert!(pages["link-en"]["controls"].as_u64().unwrap() >= 5);
}

/// The export link made in the browser, and used by a recipient in another.
fn assert_export_link_used(seen: &serde_json::Value) {
    assert_eq!(seen["link_path"], "/download/TOKEN");
    assert_eq!(seen["link_passphrase"].as_str().unwrap().len(), 29);
    assert_eq!(seen["landing_title"], "Bewijspakket");
    assert_eq!(seen["downloaded_sha256_matches"], true);
    assert_eq!(seen["downloaded_is_age"], true);
    assert_eq!(seen["downloads_left"], "1");
    assert!(
        seen["downloaded_name"]
            .as_str()
            .unwrap()
            .ends_with("-ID.tar.age"),
        "{seen}"
    );
}

/// The reviewer's visit: sign-in, the list, the recording, the purpose
/// prompt, playback and seeking, the languages, the keyboard's first stop.
fn assert_reviewers_visit(seen: &serde_json::Value, recording: &str, case: &str) {
    assert_eq!(seen["rita_redirected_to"], "/login");
    assert_eq!(seen["after_sign_in"], "/recordings");
    assert_eq!(seen["rows"], 1);
    assert_eq!(seen["nav_en"], "Recordings");
    assert_eq!(seen["detail_path"], format!("/recordings/{recording}"));
    assert_eq!(seen["detail_has_trail"], true);
    assert_eq!(
        seen["video_before_purpose"], 0,
        "no player before a purpose"
    );
    assert_eq!(
        seen["still_asking"], true,
        "the form cannot be sent unanswered"
    );
    assert_eq!(
        seen["player_query"],
        format!("?purpose=complaint&case={case}")
    );
    let played = &seen["played"];
    assert!(
        (played["duration"].as_f64().unwrap() - 5.0).abs() < 0.2,
        "{seen}"
    );
    assert!(
        played["advanced"].as_f64().unwrap() > 0.2,
        "currentTime advances: {seen}"
    );
    assert!(
        (played["seekedTo"].as_f64().unwrap() - played["target"].as_f64().unwrap()).abs() < 0.1,
        "{seen}"
    );
    assert_eq!(seen["lang_nl"], "nl");
    assert_eq!(seen["nav_nl"], "Opnamen");
    assert_eq!(seen["nav_de"], "Aufnahmen");
    assert_eq!(seen["first_tab"], "skip");
}

/// The administrator (no footage; the hold, people, cameras, retention),
/// the auditor (the whole log checked) and the evaluator's statistics:
/// charts, the deployment's k, the one recording of this story (a small
/// count, hidden), report and CSV.
fn assert_admin_auditor_and_evaluator(seen: &serde_json::Value) {
    assert_eq!(seen["admin_status_text"], "error-forbidden");
    assert_eq!(seen["admin_play_buttons"], 0);
    assert_eq!(seen["admin_video_status"], 403);
    assert_eq!(seen["hold_states"], serde_json::json!(["in-force"]));
    assert_eq!(seen["admin_users"], 4);
    assert_eq!(seen["enrollment_shown"], true);
    assert_eq!(seen["admin_cameras"], 1);
    assert_eq!(seen["admin_retention"], "28d");
    assert_eq!(seen["auditor_landed"], "/audit");
    assert_eq!(seen["auditor_signature"], "valid");
    assert_eq!(seen["auditor_verified"], 1);
    assert_eq!(seen["evaluator_landed"], "/statistics");
    assert!(seen["evaluator_charts"].as_u64().unwrap() >= 5, "{seen}");
    assert_eq!(seen["evaluator_k"], "5");
    assert_eq!(seen["evaluator_activations"], "<5");
    assert_eq!(seen["evaluator_csv"]["status"], 200);
    assert_eq!(seen["evaluator_csv"]["type"], "text/csv; charset=utf-8");
    assert_eq!(seen["evaluator_csv"]["first"], "table,row,column,value");
    assert_eq!(seen["report_title"], "Evaluatierapport bodycams");
    assert_eq!(seen["report_nav_printed"], false, "the menu is not printed");
}

/// A screenshot of each main page, in `shots`.
fn assert_screenshots(shots: &std::path::Path) {
    for name in [
        "login-en",
        "recordings-en",
        "recording-en",
        "purpose-en",
        "player-en",
        "recordings-nl",
        "recording-de",
        "admin-refused-en",
        "case-de",
        "users-en",
        "devices-en",
        "settings-en",
        "audit-nl",
        "statistics-nl",
        "report-nl",
    ] {
        let png = std::fs::read(shots.join(format!("{name}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{name}");
    }
}

/// The UI in Debian's Chromium (playwright-core drives it): sign-in with a
/// TOTP code, the list, a recording, the purpose prompt that blocks the
/// player, playback and seeking, the language switch, the keyboard's first
/// stop, and an administrator who gets no footage; then a hold placed from
/// the case page, the administrator's pages (a person added from the
/// keyboard) and an auditor who checks the whole audit log. Screenshots of
/// the main pages land in `target/tmp/screenshots/` (the README shows some).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_signs_in_asks_the_purpose_plays_and_switches_language() {
    let w = world().await;
    let r = w.one_recording("cam-v", 150).await;
    let people = UiPeople {
        reviewer: w.add_user("rita", "reviewer", None).await,
        admin: w.add_user("adam", "admin", None).await,
        auditor: w.add_user("aude", "auditor", None).await,
        evaluator: w.add_user("eva", "evaluator", None).await,
    };
    let token = w.sign_in(&people.reviewer).await;
    let case = w
        .with_case_labelled(&token, "complaint", "complaint about a stop")
        .await;
    let recording = r.recording_id.to_string();
    let (seen, shots) = ui_in_chromium(&w, &people, &recording, &case).await;
    assert_eq!(seen["ok"], true, "{seen}");
    assert_eq!(seen["asked_to_link"], true, "{seen}");
    assert_accessible(&seen);
    assert_export_link_used(&seen);
    assert_reviewers_visit(&seen, &recording, &case);
    assert_admin_auditor_and_evaluator(&seen);
    assert_screenshots(&shots);
    // The whole visit is in the audit log: the player opened with its purpose, then plays.
    let entries = audit_actions(&w).await;
    let opened = entries
        .iter()
        .position(|e| e["action"] == "recording.player" && e["outcome"] == "ok")
        .expect("player audited");
    assert_eq!(entries[opened]["purpose"], "complaint");
    assert!(entries[opened..]
        .iter()
        .any(|e| e["action"] == "recording.play" && e["outcome"] == "ok"));
}
