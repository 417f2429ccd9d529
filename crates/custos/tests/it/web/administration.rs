//! Cameras, docks, retention and purposes on the admin's pages.

use super::*;

use custos_camera::CameraDir;

/// A form's fields, without its CSRF token.
type Form<'a> = Vec<(&'static str, &'a str)>;

/// An admin (adam) signed in in his browser on the device page
/// (`devices`), whose forms carry `csrf`; a camera (cam-p) set up but not
/// enrolled, and its public key.
struct Devices {
    w: World,
    b: Browser,
    devices: Page,
    csrf: String,
    cam: CameraDir,
    key: String,
}

async fn devices() -> Devices {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let mut b = Browser::new(&w, "en");
    b.sign_in(&w, &adam).await;
    let devices = b.get("/admin/devices").await;
    let csrf = Browser::csrf(&devices);
    let cam = w.camera("cam-p", 0, false).await;
    let key = cam.verifying_key().unwrap().to_hex();
    Devices {
        w,
        b,
        devices,
        csrf,
        cam,
        key,
    }
}

impl Devices {
    /// cam-p enrolled for officer boa-9 in team noord.
    async fn enrolled() -> Self {
        let mut d = devices().await;
        assert_eq!(d.enroll().await.status, 303);
        d
    }

    /// … and checked out by the dock to boa-9.
    async fn checked_out() -> Self {
        let d = Self::enrolled().await;
        assert_eq!(d.ask(d.cam.clone()).await, Ok("boa-9".to_owned()));
        d
    }

    /// … and back in the pool, in team zuid.
    async fn pooled() -> Self {
        let mut d = Self::checked_out().await;
        assert_eq!(d.pool().await.status, 303);
        d
    }

    /// Every step of the scenario, in order, as the tests below take them.
    async fn whole_story() -> Self {
        let mut d = devices().await;
        let key = d.key.clone();
        d.bad_enrollments(&key).await;
        d.enroll().await;
        d.enroll_again().await;
        let _ = d.ask(d.cam.clone()).await;
        d.pool().await;
        d.form(
            "/admin/devices/cameras/cam-p/settings",
            &[("team", "<b>zuid</b>")],
        )
        .await;
        let _ = d.ask(d.cam.clone()).await;
        d.form(
            "/admin/devices/cameras/cam-p/settings",
            &[("assigned_officer", "boa 9")],
        )
        .await;
        let _ = d.ask(d.w.camera("cam-x", 0, false).await).await;
        d.form("/admin/devices/cameras/cam-p/revoke", &[]).await;
        let _ = d.ask(d.cam.clone()).await;
        d.form("/admin/devices/cameras/cam-p/revoke", &[]).await;
        let token = shown_secret(&d.enroll_dock("dock-2").await, "token");
        d.whoami(&token).await;
        d.form("/admin/devices/docks/dock-2/revoke", &[]).await;
        d.whoami(&token).await;
        d.enroll_dock("dock 3").await;
        d
    }

    /// `fields` posted to `path` with adam's CSRF token first.
    async fn form(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend(fields.iter().copied());
        self.b.post(path, &all).await
    }

    /// Enrollments of cam-p (whose public key is `key`) the form refuses:
    /// each form, the error it should get, and the answer.
    async fn bad_enrollments<'a>(&mut self, key: &'a str) -> Vec<(Form<'a>, &'static str, Page)> {
        let mut refused = Vec::new();
        for (fields, code) in [
            (
                vec![("device_id", "cam-p"), ("public_key", "zz")],
                "error-bad-key",
            ),
            (
                vec![("device_id", "cam p"), ("public_key", key)],
                "error-invalid",
            ),
            (
                vec![
                    ("device_id", "cam-p"),
                    ("public_key", key),
                    ("retention_category", "forever"),
                ],
                "error-unknown-category",
            ),
        ] {
            let page = self.form("/admin/devices/cameras", &fields).await;
            refused.push((fields, code, page));
        }
        refused
    }

    async fn enroll(&mut self) -> Page {
        let key = self.key.clone();
        self.form(
            "/admin/devices/cameras",
            &[
                ("device_id", "cam-p"),
                ("public_key", &key),
                ("retention_category", "standard"),
                ("assigned_officer", "boa-9"),
                ("team", "noord"),
            ],
        )
        .await
    }

    async fn enroll_again(&mut self) -> Page {
        let key = self.key.clone();
        self.form(
            "/admin/devices/cameras",
            &[("device_id", "cam-p"), ("public_key", &key)],
        )
        .await
    }

    /// cam-p back in the pool (no officer), moved to team zuid.
    async fn pool(&mut self) -> Page {
        self.form(
            "/admin/devices/cameras/cam-p/settings",
            &[
                ("retention_category", "standard"),
                ("assigned_officer", ""),
                ("team", "zuid"),
            ],
        )
        .await
    }

    async fn team_of(&self, id: &str) -> Option<String> {
        let catalog = &self.w.server.deployment.catalog;
        catalog.device(id).await.unwrap().unwrap().team
    }

    /// The dock checking `cam` out asks the server whose it is: the
    /// officer, or why not.
    async fn ask(&self, cam: CameraDir) -> Result<String, String> {
        let config = self.w.dock_config.clone();
        tokio::task::spawn_blocking(move || {
            custos_dock::Dock::new(config)
                .unwrap()
                .checkout_assigned(&cam)
                .map_err(|e| format!("{e:#}"))
        })
        .await
        .unwrap()
    }

    async fn enroll_dock(&mut self, dock_id: &str) -> Page {
        self.form("/admin/devices/docks", &[("dock_id", dock_id)])
            .await
    }

    /// Dock-2 with `token` asks the server who it is: the status.
    async fn whoami(&self, token: &str) -> u16 {
        self.w
            .call(
                "GET",
                "/api/v1/dock",
                Some(&format!("dock-2:{token}")),
                None,
                &[],
            )
            .await
            .status
    }
}

/// The device page lists the world's own dock; bad enrollments are
/// refused with a reason; a camera is enrolled with its officer and team,
/// once.
#[tokio::test]
async fn an_admin_enrolls_a_camera_with_its_officer_and_team_once() {
    let mut d = devices().await;
    let page = &d.devices;
    assert_eq!(page.status, 200);
    // The world's own dock is listed.
    assert_eq!(data_values(page, "dock"), ["dock-1"]);
    let key = d.key.clone();
    for (fields, code, refused) in d.bad_enrollments(&key).await {
        assert_eq!(refused.status, 400, "{fields:?}");
        assert!(
            refused.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}"
        );
    }
    let enrolled = d.enroll().await;
    assert_eq!(enrolled.status, 303);
    assert_eq!(d.team_of("cam-p").await.as_deref(), Some("noord"));
    let twice = d.enroll_again().await;
    assert_eq!(twice.status, 409);
}

/// A dock checking the camera out asks the server whose it is, and sets
/// the camera to that officer.
#[tokio::test]
async fn a_dock_checking_out_an_enrolled_camera_is_told_its_officer() {
    let d = Devices::enrolled().await;
    let cam = &d.cam;
    assert_eq!(d.ask(cam.clone()).await, Ok("boa-9".to_owned()));
    assert_eq!(
        cam.load_config().unwrap().officer_id.as_deref(),
        Some("boa-9")
    );
}

/// Back to the pool: the dock needs to be told an officer. The team
/// changes too and is audited; a bad team or officer changes nothing, and
/// a camera the server does not know is not handed out.
#[tokio::test]
async fn a_camera_back_in_the_pool_needs_an_officer_from_the_dock_and_changes_team() {
    let mut d = Devices::checked_out().await;
    let pooled = d.pool().await;
    assert_eq!(pooled.status, 303);
    // The team changed too, and was audited (the officer as well).
    assert_eq!(d.team_of("cam-p").await.as_deref(), Some("zuid"));
    let teams: Vec<_> = audit_actions(&d.w)
        .await
        .into_iter()
        .filter(|e| e["action"] == "camera.team")
        .map(|e| e["detail"].clone())
        .collect();
    assert_eq!(teams, [serde_json::json!("team zuid")]);
    let bad_team = d
        .form(
            "/admin/devices/cameras/cam-p/settings",
            &[("team", "<b>zuid</b>")],
        )
        .await;
    assert_eq!(bad_team.status, 400);
    assert_eq!(d.team_of("cam-p").await.as_deref(), Some("zuid"));
    let cam = &d.cam;
    assert!(d
        .ask(cam.clone())
        .await
        .unwrap_err()
        .contains("pool camera"));
    let bad = d
        .form(
            "/admin/devices/cameras/cam-p/settings",
            &[("assigned_officer", "boa 9")],
        )
        .await;
    assert_eq!(bad.status, 400);
    let unknown = d.w.camera("cam-x", 0, false).await;
    assert!(d
        .ask(unknown)
        .await
        .unwrap_err()
        .contains("does not know camera cam-x"));
}

/// Revoked: the dock will not hand the camera out, the device page says
/// so, and it cannot be revoked twice.
#[tokio::test]
async fn a_revoked_camera_is_not_handed_out_by_the_dock() {
    let mut d = Devices::pooled().await;
    assert_eq!(
        d.form("/admin/devices/cameras/cam-p/revoke", &[])
            .await
            .status,
        303
    );
    let cam = &d.cam;
    assert!(d.ask(cam.clone()).await.unwrap_err().contains("revoked"));
    let page = d.b.get("/admin/devices").await;
    assert!(page
        .body
        .contains("data-camera=\"cam-p\" data-state=\"revoked\""));
    assert_eq!(
        d.form("/admin/devices/cameras/cam-p/revoke", &[])
            .await
            .status,
        409
    );
}

/// A new dock: its token is shown once and works until revoked; a bad
/// dock id is refused.
#[tokio::test]
async fn a_new_docks_token_is_shown_once_and_works_until_revoked() {
    let mut d = devices().await;
    let dock = d.enroll_dock("dock-2").await;
    assert_eq!(dock.status, 200);
    let token = shown_secret(&dock, "token");
    assert_eq!(d.whoami(&token).await, 200);
    assert_eq!(
        d.form("/admin/devices/docks/dock-2/revoke", &[])
            .await
            .status,
        303
    );
    assert_eq!(d.whoami(&token).await, 403, "a revoked dock is refused");
    let bad_dock = d.enroll_dock("dock 3").await;
    assert_eq!(bad_dock.status, 400);
}

/// The admin's enrollments, assignments and revocations are audited as
/// his, and the dock's lookups as the dock's.
#[tokio::test]
async fn the_admins_device_changes_and_the_docks_lookups_are_audited() {
    let d = Devices::whole_story().await;
    let entries = audit_actions(&d.w).await;
    for (action, object) in [
        ("camera.enroll", "camera:cam-p"),
        ("camera.officer", "camera:cam-p"),
        ("camera.revoke", "camera:cam-p"),
        ("dock.enroll", "dock:dock-2"),
        ("dock.revoke", "dock:dock-2"),
    ] {
        assert!(
            entries.iter().any(|e| e["action"] == action
                && e["object"] == object
                && e["actor"] == "user:adam"),
            "{action}"
        );
    }
    assert!(entries
        .iter()
        .any(|e| e["action"] == "camera.lookup" && e["actor"] == "dock:dock-1"));
}

/// An admin (adam) signed in in his browser on the settings page
/// (`page`), whose form carries `csrf`.
struct Settings {
    w: World,
    b: Browser,
    page: Page,
    csrf: String,
}

async fn settings() -> Settings {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let mut b = Browser::new(&w, "en");
    b.sign_in(&w, &adam).await;
    let page = b.get("/admin/settings").await;
    let csrf = Browser::csrf(&page);
    Settings { w, b, page, csrf }
}

/// Rita, a reviewer, signed in over the API and in her browser, with a
/// case of hers: her token, the case and her browser.
async fn rita(w: &World) -> (String, String, Browser) {
    let rita = w.add_user("rita", "reviewer", None).await;
    let token = w.sign_in(&rita).await;
    let case = w
        .with_case_labelled(&token, "complaint", "complaint 9")
        .await;
    let mut rb = Browser::new(w, "en");
    rb.sign_in(w, &rita).await;
    (token, case, rb)
}

impl Settings {
    /// New settings saved: 72 hours, a training category, three purposes.
    async fn saved() -> Self {
        let mut s = settings().await;
        let saved = s.save_new().await;
        assert_eq!(saved.status, 303, "{}", saved.body);
        s
    }

    /// Every step of the scenario, in order, as the tests below take them.
    async fn whole_story() -> Self {
        let mut s = settings().await;
        s.bad_saves().await;
        s.save_new().await;
        s.b.get("/admin/settings?saved=1").await;
        let r = s.w.one_recording("cam-n", 10).await;
        let (token, case, mut rb) = rita(&s.w).await;
        rb.get(&format!("/recordings/{}/play", r.recording_id))
            .await;
        old_purpose(&s.w, &token, &case, &r).await;
        s.move_to_training().await;
        s.remove_training().await;
        let (mut p, seen) = s.petra().await;
        petra_changes(&mut p, &seen).await;
        rb.get("/admin/settings").await;
        s
    }

    /// The settings form with these values and the page's CSRF token.
    fn save(&self, retention: &str, categories: &str, purposes: &str) -> Vec<(String, String)> {
        vec![
            ("csrf".to_owned(), self.csrf.clone()),
            ("retention".to_owned(), retention.to_owned()),
            ("categories".to_owned(), categories.to_owned()),
            ("purposes".to_owned(), purposes.to_owned()),
        ]
    }

    /// Settings the form refuses: each form, the status and error it
    /// should get, and the answer.
    async fn bad_saves(&mut self) -> Vec<(Vec<(String, String)>, u16, &'static str, Page)> {
        let save = |r, c, p| self.save(r, c, p);
        let forms = [
            (save("forever", "", "complaint"), 400, "error-bad-period"),
            (save("30m", "", "complaint"), 400, "error-bad-period"),
            (save("28d", "oops", "complaint"), 400, "error-bad-category"),
            (
                save("28d", "Training=2d", "complaint"),
                400,
                "error-bad-category",
            ),
            (save("28d", "", ""), 400, "error-bad-purposes"),
            (
                save("28d", "", "complaint\ncomplaint"),
                400,
                "error-bad-purposes",
            ),
            (save("28d", "", "<script>"), 400, "error-bad-purposes"),
        ];
        let mut refused = Vec::new();
        for (fields, status, code) in forms {
            let answer = post_settings(&mut self.b, fields.clone()).await;
            refused.push((fields, status, code, answer));
        }
        refused
    }

    async fn save_new(&mut self) -> Page {
        let fields = self.save(
            "72h",
            "training=2d",
            "investigation\ncomplaint\npolice-request",
        );
        post_settings(&mut self.b, fields).await
    }

    /// Camera cam-n moved to the training category.
    async fn move_to_training(&mut self) -> Page {
        let devices = self.b.get("/admin/devices").await;
        self.b
            .post(
                "/admin/devices/cameras/cam-n/settings",
                &[
                    ("csrf", &Browser::csrf(&devices)),
                    ("retention_category", "training"),
                ],
            )
            .await
    }

    /// The settings saved without the training category.
    async fn remove_training(&mut self) -> Page {
        let fields = self.save("72h", "", "complaint");
        post_settings(&mut self.b, fields).await
    }

    /// Petra, a privacy officer, signed in, and the settings page she sees.
    async fn petra(&self) -> (Browser, Page) {
        let petra = self.w.add_user("petra", "privacy-officer", None).await;
        let mut p = Browser::new(&self.w, "en");
        p.sign_in(&self.w, &petra).await;
        let seen = p.get("/admin/settings").await;
        (p, seen)
    }
}

/// Rita plays `r` for `case` under a purpose that was allowed before.
async fn old_purpose(w: &World, token: &str, case: &str, r: &custos_catalog::Recording) -> Answer {
    w.call(
        "GET",
        &format!(
            "/api/v1/recordings/{}/video?purpose=subject-access-request&case={case}",
            r.recording_id
        ),
        Some(token),
        None,
        &[],
    )
    .await
}

/// Petra posts new settings from the page she saw (`seen`).
async fn petra_changes(p: &mut Browser, seen: &Page) -> Page {
    p.post(
        "/admin/settings",
        &[
            ("csrf", &Browser::csrf(seen)),
            ("retention", "365d"),
            ("purposes", "complaint"),
        ],
    )
    .await
}

/// Bad periods, categories and purposes are refused with a reason (and
/// escaped), and the retention stays as it was.
#[tokio::test]
async fn bad_retention_categories_and_purposes_are_refused_and_change_nothing() {
    let mut s = settings().await;
    let page = &s.page;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-setting=\"retention\">28d<"),
        "{}",
        page.body
    );
    for (fields, status, code, answer) in s.bad_saves().await {
        assert_eq!(answer.status, status, "{fields:?}");
        assert!(
            answer.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}: {}",
            answer.body
        );
        assert!(!answer.body.contains("<script>\n"), "escaped");
    }
    let w = &s.w;
    assert_eq!(w.server.deployment.retention().default_millis, 28 * DAY);
}

/// The admin saves a period, a category and purposes; the page says so and
/// shows 72 hours as the 3 days they are.
#[tokio::test]
async fn an_admin_saves_retention_categories_and_purposes_and_the_page_shows_them() {
    let mut s = settings().await;
    let saved = s.save_new().await;
    assert_eq!(
        (saved.status, saved.location.as_deref()),
        (303, Some("/admin/settings?saved=1"))
    );
    let page = s.b.get("/admin/settings?saved=1").await;
    assert!(page.body.contains("data-saved=\"yes\""));
    // 72 hours are shown as the 3 days they are.
    assert!(page.body.contains("data-setting=\"retention\">3d<"));
    assert!(page.body.contains("data-setting=\"category-training\">2d<"));
}

/// A recording that arrives now gets the new period; the purpose list is
/// the new one, and a purpose no longer on it is refused.
#[tokio::test]
async fn new_recordings_get_the_new_period_and_only_the_new_purposes_are_offered() {
    let s = Settings::saved().await;
    let w = &s.w;
    let r = w.one_recording("cam-n", 10).await;
    assert_eq!(
        r.delete_after.as_millis() - r.ended_at.as_millis(),
        72 * 3_600_000
    );
    let (token, case, mut rb) = rita(w).await;
    let ask = rb
        .get(&format!("/recordings/{}/play", r.recording_id))
        .await;
    assert!(ask.body.contains("value=\"police-request\""));
    assert!(!ask.body.contains("value=\"subject-access-request\""));
    let old_purpose = old_purpose(w, &token, &case, &r).await;
    assert_eq!(
        (old_purpose.status, old_purpose.code().as_str()),
        (403, "purpose-not-allowed")
    );
}

/// A category a camera is in cannot be removed.
#[tokio::test]
async fn a_retention_category_a_camera_is_in_cannot_be_removed() {
    let mut s = Settings::saved().await;
    s.w.one_recording("cam-n", 10).await;
    let moved = s.move_to_training().await;
    assert_eq!(moved.status, 303);
    let in_use = s.remove_training().await;
    assert_eq!(in_use.status, 409);
    assert!(in_use.body.contains("data-error=\"error-category-in-use\""));
    let w = &s.w;
    assert!(w.server.deployment.retention().period("training").is_some());
}

/// The privacy officer sees the settings but cannot change them; a
/// reviewer is refused the page.
#[tokio::test]
async fn only_the_admin_changes_the_settings_the_privacy_officer_sees_them() {
    let s = Settings::saved().await;
    let (_, _, mut rb) = rita(&s.w).await;
    let (mut p, seen) = s.petra().await;
    assert_eq!(seen.status, 200);
    assert!(!seen.body.contains("id=\"change-settings\""));
    let refused = petra_changes(&mut p, &seen).await;
    assert_eq!(refused.status, 403);
    assert_eq!(rb.get("/admin/settings").await.status, 403);
}

/// The one change is audited with what it changed from and to; the
/// admin's refused changes are audited too.
#[tokio::test]
async fn a_settings_change_is_audited_with_what_it_changed_and_refusals_too() {
    let s = Settings::whole_story().await;
    let changes: Vec<_> = audit_actions(&s.w)
        .await
        .into_iter()
        .filter(|e| e["action"] == "settings.change")
        .collect();
    let ok: Vec<_> = changes.iter().filter(|e| e["outcome"] == "ok").collect();
    assert_eq!(ok.len(), 1);
    let detail = ok[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("standard 28d -> standard 3d, training 2d"),
        "{detail}"
    );
    assert!(
        detail.contains("-> investigation,complaint,police-request"),
        "{detail}"
    );
    assert!(changes
        .iter()
        .any(|e| e["outcome"] == "refused" && e["actor"] == "user:adam"));
}

/// A restart (a second server on the same data, started with the old
/// flags) runs with the saved settings and says so.
#[tokio::test]
async fn saved_settings_survive_a_restart_with_the_old_flags_which_says_so() {
    let Settings { w, .. } = Settings::saved().await;
    let again = custos_server::start(
        custos_server::ServerConfig {
            axis: None,
            limits: test_limits(),
            storage: Default::default(),
            data: w.data.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: None,
            server_id: "test-city".into(),
            retention: custos_server::retention::RetentionPolicy::new(28 * DAY),
            policy: Default::default(),
        },
        &custos_keys::secrecy::SecretString::from(PASS.to_owned()),
        custos_server::system_clock(),
    )
    .await
    .unwrap();
    assert_eq!(again.deployment.retention().default_millis, 72 * 3_600_000);
    assert_eq!(
        again.deployment.policy().purposes,
        ["investigation", "complaint", "police-request"]
    );
    let starts: Vec<_> = audit_actions(&w)
        .await
        .into_iter()
        .filter(|e| e["action"] == "server.start")
        .collect();
    assert!(starts.last().unwrap()["detail"]
        .as_str()
        .unwrap()
        .contains("(saved by an administrator)"));
    again.shutdown().await;
}
