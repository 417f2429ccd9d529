//! Deletion on time, retention categories, and what a hold keeps.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_on_time_keeps_what_is_held_and_shreds_the_key() {
    let w = world().await;
    let cam = w.camera("cam-r", 3, true).await;
    w.offload(&cam).await;
    let catalog = w.server.deployment.catalog.clone();
    let mut recordings = catalog.recordings().await.unwrap();
    recordings.sort_by_key(|r| r.sequence);
    let latest_end = recordings.iter().map(|r| r.ended_at).max().unwrap();
    let due = recordings.iter().map(|r| r.delete_after).max().unwrap();
    assert_eq!(due.as_millis(), latest_end.as_millis() + 28 * DAY);
    // A backup taken today holds copies of the blobs.
    let backups: Vec<Vec<u8>> = recordings
        .iter()
        .map(|r| std::fs::read(w.data.join("blobs").join(&r.blob_key)).unwrap())
        .collect();

    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let case = w.with_case(&token, "incident").await;
    let held = recordings[0].recording_id;
    let hold = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&token),
            Some(serde_json::json!({"recording_id": held, "reason": "incident on the Coolsingel"})),
            &[],
        )
        .await;
    assert_eq!(hold.status, 201, "{}", hold.json());

    let sweep = |at| w.sweep(at);
    // Day 27: everything kept.
    assert_eq!(sweep(latest_end.plus_millis(27 * DAY)).await.deleted, 0);
    assert_eq!(catalog.recordings().await.unwrap().len(), 3);
    // Day 28 + 1 h: the two unheld recordings are gone.
    let after = due.plus_millis(3_600_000);
    assert_eq!(sweep(after).await.deleted, 2);
    assert_eq!(sweep(after).await.deleted, 0, "idempotent");
    let left = catalog.recordings().await.unwrap();
    assert_eq!(
        left.iter().map(|r| r.recording_id).collect::<Vec<_>>(),
        vec![held]
    );
    let identity = custos_keys::EvidenceKeyStore::new(&w.data)
        .unseal(&SecretString::from(PASS.to_owned()))
        .unwrap();
    for (r, backup) in recordings.iter().zip(&backups).skip(1) {
        assert!(
            !w.data.join("blobs").join(&r.blob_key).exists(),
            "blob deleted"
        );
        let t = catalog.tombstone(r.recording_id).await.unwrap().unwrap();
        assert_eq!(
            (t.reason.as_str(), t.blob_deleted, t.ciphertext_sha256),
            ("retention-period", true, r.ciphertext_sha256)
        );
        // Crypto-shredded: the backup's copy opens with nothing, not even the evidence key.
        assert!(age::Decryptor::new(&backup[..]).is_err());
        let mut with_guess = b"age-encryption.org/v1\n".to_vec();
        with_guess.extend_from_slice(&backup[r.age_header.len()..]);
        assert!(age::Decryptor::new(&with_guess[..])
            .map(|d| d
                .decrypt(std::iter::once(&identity as &dyn age::Identity))
                .is_err())
            .unwrap_or(true));
    }
    let deletions = audit(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "recording.delete" && e.actor == "system:sweeper")
        .count();
    assert_eq!(deletions, 2);

    // Closing the case releases the hold: kept max(original, release + 7 days).
    w.set_time(after);
    let token = w.sign_in(&anna).await;
    let close = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/close"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(close.json()["released_holds"], 1);
    let kept_until = catalog.recording(held).await.unwrap().unwrap().delete_after;
    assert!(kept_until.as_millis() >= after.as_millis() + 7 * DAY);
    assert_eq!(sweep(after.plus_millis(6 * DAY)).await.deleted, 0);
    assert_eq!(sweep(kept_until.plus_millis(1)).await.deleted, 1);
    assert!(catalog.recordings().await.unwrap().is_empty());
    assert!(catalog.tombstone(held).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_categories_have_their_own_periods_and_the_privacy_officer_moves_recordings() {
    let mut retention = custos_server::retention::RetentionPolicy::new(28 * DAY);
    retention.categories.insert("training".into(), 2 * DAY);
    let w = world_with_retention(Default::default(), retention).await;
    let regular = w.camera("cam-std", 1, true).await;
    let trainer = w.camera("cam-train", 2, true).await;

    // The admin puts the training camera in its category (before it docks).
    let adam = w.add_user("adam", "admin", None).await;
    let admin = w.sign_in(&adam).await;
    let put_camera = |camera: &str, category: &str| {
        let (path, body) = (
            format!("/api/v1/devices/{camera}/retention"),
            serde_json::json!({ "category": category }),
        );
        let token = admin.clone();
        let w = &w;
        async move { w.call("PUT", &path, Some(&token), Some(body), &[]).await }
    };
    let moved = put_camera("cam-train", "training").await;
    assert_eq!(moved.status, 200, "{}", moved.json());
    assert_eq!(moved.json()["retention_category"], "training");
    let unknown = put_camera("cam-train", "forever").await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (400, "unknown-category".into())
    );
    assert_eq!(put_camera("cam-nope", "training").await.status, 404);
    w.offload(&regular).await;
    w.offload(&trainer).await;

    let catalog = w.server.deployment.catalog.clone();
    let all = catalog.recordings().await.unwrap();
    assert_eq!(all.len(), 3);
    for r in &all {
        let (category, period) = if r.device_id == "cam-train" {
            ("training", 2 * DAY)
        } else {
            ("standard", 28 * DAY)
        };
        assert_eq!(r.retention_category, category);
        assert_eq!(
            r.delete_after.as_millis(),
            r.ended_at.as_millis() + period,
            "{}",
            r.device_id
        );
    }
    let latest_end = all.iter().map(|r| r.ended_at).max().unwrap();
    let sweep = |at| {
        let w = &w;
        async move { w.sweep(at).await.deleted }
    };
    assert_eq!(sweep(latest_end.plus_millis(DAY)).await, 0, "day 1: kept");
    let day2 = latest_end.plus_millis(2 * DAY + 3_600_000);
    assert_eq!(
        sweep(day2).await,
        2,
        "the training recordings go after 2 days"
    );
    let left = catalog.recordings().await.unwrap();
    assert_eq!(left.len(), 1);
    let kept = &left[0];
    assert_eq!(kept.device_id, "cam-std");

    // Moving a recording is the privacy officer's, with a reason; the new
    // deadline counts from the recording's end.
    let path = format!("/api/v1/recordings/{}/retention", kept.recording_id);
    let body = serde_json::json!({"category": "training", "reason": "function test at the start of a shift"});
    let rita = w.add_user("rita", "reviewer", None).await;
    let reviewer = w.sign_in(&rita).await;
    let refused = w
        .call("PUT", &path, Some(&reviewer), Some(body.clone()), &[])
        .await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden".into()));
    let fg = w.add_user("fenna", "privacy-officer", None).await;
    let fg = w.sign_in(&fg).await;
    for (bad, code) in [
        (
            serde_json::json!({"category": "training", "reason": " "}),
            "invalid",
        ),
        (serde_json::json!({"category": "training"}), "invalid"),
        (
            serde_json::json!({"category": "forever", "reason": "x"}),
            "unknown-category",
        ),
        (
            serde_json::json!({"category": "training", "reason": "x", "extra": 1}),
            "invalid",
        ),
    ] {
        let answer = w
            .call("PUT", &path, Some(&fg), Some(bad.clone()), &[])
            .await;
        assert_eq!((answer.status, answer.code()), (400, code.into()), "{bad}");
    }
    let missing = w
        .call(
            "PUT",
            "/api/v1/recordings/0190f0c4-0000-7000-8000-000000000001/retention",
            Some(&fg),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        catalog
            .recording(kept.recording_id)
            .await
            .unwrap()
            .unwrap()
            .delete_after,
        kept.delete_after,
        "refusals change nothing"
    );
    let answer = w.call("PUT", &path, Some(&fg), Some(body), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.json());
    let now = catalog.recording(kept.recording_id).await.unwrap().unwrap();
    assert_eq!(now.retention_category, "training");
    assert_eq!(
        now.delete_after.as_millis(),
        kept.ended_at.as_millis() + 2 * DAY
    );
    let entry = audit(&w)
        .await
        .into_iter()
        .find(|e| e.action == "recording.retention" && e.outcome == custos_audit::Outcome::Ok)
        .expect("the move is audited");
    assert_eq!(entry.actor, "user:fenna");
    let detail = entry.detail.unwrap_or_default();
    assert!(
        detail.contains("standard -> training") && detail.contains("function test"),
        "{detail}"
    );
    assert_eq!(sweep(day2).await, 1, "its deadline has passed: next sweep");

    // Everyone signed in can read the periods.
    let periods = w
        .call("GET", "/api/v1/retention", Some(&reviewer), None, &[])
        .await;
    assert_eq!(periods.status, 200);
    assert_eq!(
        periods.json()["categories"],
        serde_json::json!([
            {"category": "standard", "period_seconds": 28 * 86_400},
            {"category": "training", "period_seconds": 2 * 86_400},
        ])
    );

    // A restart that no longer defines a camera's category refuses to start
    // rather than keep its recordings for some other period.
    let config = custos_server::ServerConfig {
        limits: test_limits(),
        storage: Default::default(),
        data: w.data.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        server_id: "test-city".into(),
        retention: custos_server::retention::RetentionPolicy::new(28 * DAY),
        policy: Default::default(),
    };
    let refused = custos_server::start(
        config,
        &SecretString::from(PASS.to_owned()),
        custos_server::system_clock(),
    )
    .await
    .err()
    .expect("refuses to start");
    let message = format!("{refused:#}");
    assert!(
        message.contains("cam-train") && message.contains("`training`"),
        "{message}"
    );
}
