//! Cameras, docks, retention and purposes on the admin's pages.

use super::*;

#[tokio::test]
async fn an_admin_enrolls_assigns_and_revokes_cameras_and_docks_and_the_dock_follows() {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let mut b = Browser::new(&w, "en");
    b.sign_in(&w, &adam).await;
    let page = b.get("/admin/devices").await;
    assert_eq!(page.status, 200);
    let csrf = Browser::csrf(&page);
    // The world's own dock is listed.
    assert_eq!(data_values(&page, "dock"), ["dock-1"]);

    let cam = w.camera("cam-p", 0, false).await;
    let key = cam.verifying_key().unwrap().to_hex();
    for (fields, code) in [
        (
            vec![("device_id", "cam-p"), ("public_key", "zz")],
            "error-bad-key",
        ),
        (
            vec![("device_id", "cam p"), ("public_key", key.as_str())],
            "error-invalid",
        ),
        (
            vec![
                ("device_id", "cam-p"),
                ("public_key", key.as_str()),
                ("retention_category", "forever"),
            ],
            "error-unknown-category",
        ),
    ] {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields.iter().copied());
        let refused = b.post("/admin/devices/cameras", &all).await;
        assert_eq!(refused.status, 400, "{fields:?}");
        assert!(
            refused.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}"
        );
    }
    let enrolled = b
        .post(
            "/admin/devices/cameras",
            &[
                ("csrf", &csrf),
                ("device_id", "cam-p"),
                ("public_key", &key),
                ("retention_category", "standard"),
                ("assigned_officer", "boa-9"),
                ("team", "noord"),
            ],
        )
        .await;
    assert_eq!(enrolled.status, 303);
    let catalog = &w.server.deployment.catalog;
    let team_of = |id: &'static str| async move { catalog.device(id).await.unwrap().unwrap().team };
    assert_eq!(team_of("cam-p").await.as_deref(), Some("noord"));
    let twice = b
        .post(
            "/admin/devices/cameras",
            &[
                ("csrf", &csrf),
                ("device_id", "cam-p"),
                ("public_key", &key),
            ],
        )
        .await;
    assert_eq!(twice.status, 409);

    // A dock checking the camera out asks the server whose it is.
    let dock_config = w.dock_config.clone();
    let ask = |cam: custos_camera::CameraDir| {
        let config = dock_config.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                custos_dock::Dock::new(config)
                    .unwrap()
                    .checkout_assigned(&cam)
                    .map_err(|e| format!("{e:#}"))
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(ask(cam.clone()).await, Ok("boa-9".to_owned()));
    assert_eq!(
        cam.load_config().unwrap().officer_id.as_deref(),
        Some("boa-9")
    );
    // Back to the pool: the dock needs to be told an officer.
    let pooled = b
        .post(
            "/admin/devices/cameras/cam-p/settings",
            &[
                ("csrf", &csrf),
                ("retention_category", "standard"),
                ("assigned_officer", ""),
                ("team", "zuid"),
            ],
        )
        .await;
    assert_eq!(pooled.status, 303);
    // The team changed too, and was audited (the officer as well).
    assert_eq!(team_of("cam-p").await.as_deref(), Some("zuid"));
    let teams: Vec<_> = audit_actions(&w)
        .await
        .into_iter()
        .filter(|e| e["action"] == "camera.team")
        .map(|e| e["detail"].clone())
        .collect();
    assert_eq!(teams, [serde_json::json!("team zuid")]);
    let bad_team = b
        .post(
            "/admin/devices/cameras/cam-p/settings",
            &[("csrf", &csrf), ("team", "<b>zuid</b>")],
        )
        .await;
    assert_eq!(bad_team.status, 400);
    assert_eq!(team_of("cam-p").await.as_deref(), Some("zuid"));
    assert!(ask(cam.clone()).await.unwrap_err().contains("pool camera"));
    let bad = b
        .post(
            "/admin/devices/cameras/cam-p/settings",
            &[("csrf", &csrf), ("assigned_officer", "boa 9")],
        )
        .await;
    assert_eq!(bad.status, 400);
    let unknown = w.camera("cam-x", 0, false).await;
    assert!(ask(unknown)
        .await
        .unwrap_err()
        .contains("does not know camera cam-x"));
    // Revoked: the dock will not hand it out.
    assert_eq!(
        b.post("/admin/devices/cameras/cam-p/revoke", &[("csrf", &csrf)])
            .await
            .status,
        303
    );
    assert!(ask(cam.clone()).await.unwrap_err().contains("revoked"));
    let page = b.get("/admin/devices").await;
    assert!(page
        .body
        .contains("data-camera=\"cam-p\" data-state=\"revoked\""));
    assert_eq!(
        b.post("/admin/devices/cameras/cam-p/revoke", &[("csrf", &csrf)])
            .await
            .status,
        409
    );

    // A new dock: its token is shown once and works until revoked.
    let dock = b
        .post(
            "/admin/devices/docks",
            &[("csrf", &csrf), ("dock_id", "dock-2")],
        )
        .await;
    assert_eq!(dock.status, 200);
    let token = shown_secret(&dock, "token");
    let whoami = |token: String| {
        let w = &w;
        async move {
            w.call(
                "GET",
                "/api/v1/dock",
                Some(&format!("dock-2:{token}")),
                None,
                &[],
            )
            .await
            .status
        }
    };
    assert_eq!(whoami(token.clone()).await, 200);
    assert_eq!(
        b.post("/admin/devices/docks/dock-2/revoke", &[("csrf", &csrf)])
            .await
            .status,
        303
    );
    assert_eq!(whoami(token).await, 403, "a revoked dock is refused");
    let bad_dock = b
        .post(
            "/admin/devices/docks",
            &[("csrf", &csrf), ("dock_id", "dock 3")],
        )
        .await;
    assert_eq!(bad_dock.status, 400);

    let entries = audit_actions(&w).await;
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

#[tokio::test]
async fn an_admin_changes_retention_and_purposes_which_apply_to_new_recordings_and_survive_a_restart(
) {
    let w = world().await;
    let adam = w.add_user("adam", "admin", None).await;
    let mut b = Browser::new(&w, "en");
    b.sign_in(&w, &adam).await;
    let page = b.get("/admin/settings").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("data-setting=\"retention\">28d<"),
        "{}",
        page.body
    );
    let csrf = Browser::csrf(&page);
    let save = |retention: &str, categories: &str, purposes: &str| {
        vec![
            ("csrf".to_owned(), csrf.clone()),
            ("retention".to_owned(), retention.to_owned()),
            ("categories".to_owned(), categories.to_owned()),
            ("purposes".to_owned(), purposes.to_owned()),
        ]
    };
    for (fields, status, code) in [
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
    ] {
        let answer = post_settings(&mut b, fields.clone()).await;
        assert_eq!(answer.status, status, "{fields:?}");
        assert!(
            answer.body.contains(&format!("data-error=\"{code}\"")),
            "{fields:?}: {}",
            answer.body
        );
        assert!(!answer.body.contains("<script>\n"), "escaped");
    }
    assert_eq!(w.server.deployment.retention().default_millis, 28 * DAY);

    let saved = post_settings(
        &mut b,
        save(
            "72h",
            "training=2d",
            "investigation\ncomplaint\npolice-request",
        ),
    )
    .await;
    assert_eq!(
        (saved.status, saved.location.as_deref()),
        (303, Some("/admin/settings?saved=1"))
    );
    let page = b.get("/admin/settings?saved=1").await;
    assert!(page.body.contains("data-saved=\"yes\""));
    // 72 hours are shown as the 3 days they are.
    assert!(page.body.contains("data-setting=\"retention\">3d<"));
    assert!(page.body.contains("data-setting=\"category-training\">2d<"));

    // A recording that arrives now gets the new period; the purpose list is the new one.
    let r = w.one_recording("cam-n", 10).await;
    assert_eq!(
        r.delete_after.as_millis() - r.ended_at.as_millis(),
        72 * 3_600_000
    );
    let rita = w.add_user("rita", "reviewer", None).await;
    let token = w.sign_in(&rita).await;
    let case = w
        .with_case_labelled(&token, "complaint", "complaint 9")
        .await;
    let mut rb = Browser::new(&w, "en");
    rb.sign_in(&w, &rita).await;
    let ask = rb
        .get(&format!("/recordings/{}/play", r.recording_id))
        .await;
    assert!(ask.body.contains("value=\"police-request\""));
    assert!(!ask.body.contains("value=\"subject-access-request\""));
    let old_purpose = w
        .call(
            "GET",
            &format!(
                "/api/v1/recordings/{}/video?purpose=subject-access-request&case={case}",
                r.recording_id
            ),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(
        (old_purpose.status, old_purpose.code().as_str()),
        (403, "purpose-not-allowed")
    );

    // A category a camera is in cannot be removed.
    let devices = b.get("/admin/devices").await;
    let moved = b
        .post(
            "/admin/devices/cameras/cam-n/settings",
            &[
                ("csrf", &Browser::csrf(&devices)),
                ("retention_category", "training"),
            ],
        )
        .await;
    assert_eq!(moved.status, 303);
    let in_use = post_settings(&mut b, save("72h", "", "complaint")).await;
    assert_eq!(in_use.status, 409);
    assert!(in_use.body.contains("data-error=\"error-category-in-use\""));
    assert!(w.server.deployment.retention().period("training").is_some());

    // The privacy officer and the auditor see the settings; only the admin changes them.
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let mut p = Browser::new(&w, "en");
    p.sign_in(&w, &petra).await;
    let seen = p.get("/admin/settings").await;
    assert_eq!(seen.status, 200);
    assert!(!seen.body.contains("id=\"change-settings\""));
    let refused = p
        .post(
            "/admin/settings",
            &[
                ("csrf", &Browser::csrf(&seen)),
                ("retention", "365d"),
                ("purposes", "complaint"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(rb.get("/admin/settings").await.status, 403);

    let changes: Vec<_> = audit_actions(&w)
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

    // A restart (a second server on the same data, started with the old
    // flags) runs with the saved settings and says so.
    let again = custos_server::start(
        custos_server::ServerConfig {
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
