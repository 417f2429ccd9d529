//! Deletion on time, retention categories, and what a hold keeps.

use super::*;

/// Camera cam-r's three recordings, due 28 days after the latest ends, and
/// a backup of their blobs taken today; a reviewer (anna) holds the first
/// for an incident's case.
struct Retained {
    w: World,
    recordings: Vec<custos_catalog::Recording>,
    backups: Vec<Vec<u8>>,
    latest_end: custos_format::UtcMillis,
    due: custos_format::UtcMillis,
    anna: Account,
    case: String,
    held: uuid::Uuid,
}

async fn retained() -> Retained {
    let w = world().await;
    let cam = w.camera("cam-r", 3, true).await;
    w.offload(&cam).await;
    let mut recordings = w.server.deployment.catalog.recordings().await.unwrap();
    recordings.sort_by_key(|r| r.sequence);
    let latest_end = recordings.iter().map(|r| r.ended_at).max().unwrap();
    let due = recordings.iter().map(|r| r.delete_after).max().unwrap();
    // A backup taken today holds copies of the blobs.
    let backups: Vec<Vec<u8>> = recordings
        .iter()
        .map(|r| std::fs::read(w.data.join("blobs").join(&r.camera().unwrap().blob_key)).unwrap())
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
    Retained {
        w,
        recordings,
        backups,
        latest_end,
        due,
        anna,
        case,
        held,
    }
}

impl Retained {
    /// An hour after the recordings were due.
    fn after(&self) -> custos_format::UtcMillis {
        self.due.plus_millis(3_600_000)
    }

    /// The sweeps of day 27 and of an hour after the due time, done.
    async fn swept(&self) {
        self.w.sweep(self.latest_end.plus_millis(27 * DAY)).await;
        assert_eq!(self.w.sweep(self.after()).await.deleted, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_kept_until_their_day_and_then_all_but_the_held_one_go_once() {
    let c = retained().await;
    let Retained {
        w,
        latest_end,
        due,
        held,
        ..
    } = &c;
    let (catalog, held) = (w.server.deployment.catalog.clone(), *held);
    assert_eq!(due.as_millis(), latest_end.as_millis() + 28 * DAY);
    let sweep = |at| w.sweep(at);
    // Day 27: everything kept.
    assert_eq!(sweep(latest_end.plus_millis(27 * DAY)).await.deleted, 0);
    assert_eq!(catalog.recordings().await.unwrap().len(), 3);
    // Day 28 + 1 h: the two unheld recordings are gone.
    let after = c.after();
    assert_eq!(sweep(after).await.deleted, 2);
    assert_eq!(sweep(after).await.deleted, 0, "idempotent");
    let left = catalog.recordings().await.unwrap();
    assert_eq!(
        left.iter().map(|r| r.recording_id).collect::<Vec<_>>(),
        vec![held]
    );
}

/// What the sweep deleted leaves a tombstone, no blob, and backups that
/// open with nothing, not even the evidence key; each deletion is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_recording_leaves_a_tombstone_and_a_backup_no_key_can_open() {
    let c = retained().await;
    c.swept().await;
    let Retained {
        w,
        recordings,
        backups,
        ..
    } = &c;
    let catalog = w.server.deployment.catalog.clone();
    let identity = custos_keys::EvidenceKeyStore::new(&w.data)
        .unseal(&SecretString::from(PASS.to_owned()))
        .unwrap();
    for (r, backup) in recordings.iter().zip(backups).skip(1) {
        assert!(
            !w.data
                .join("blobs")
                .join(&r.camera().unwrap().blob_key)
                .exists(),
            "blob deleted"
        );
        let t = catalog.tombstone(r.recording_id).await.unwrap().unwrap();
        assert_eq!(
            (t.reason.as_str(), t.blob_deleted, t.ciphertext_sha256),
            (
                "retention-period",
                true,
                r.camera().unwrap().ciphertext_sha256
            )
        );
        // Crypto-shredded: the backup's copy opens with nothing, not even the evidence key.
        assert!(age::Decryptor::new(&backup[..]).is_err());
        let mut with_guess = b"age-encryption.org/v1\n".to_vec();
        with_guess.extend_from_slice(&backup[r.camera().unwrap().age_header.len()..]);
        assert!(age::Decryptor::new(&with_guess[..])
            .map(|d| d
                .decrypt(std::iter::once(&identity as &dyn age::Identity))
                .is_err())
            .unwrap_or(true));
    }
    let deletions = audit(w)
        .await
        .into_iter()
        .filter(|e| e.action == "recording.delete" && e.actor == "system:sweeper")
        .count();
    assert_eq!(deletions, 2);
}

/// Closing the case releases the hold: kept max(original, release + 7 days).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_case_releases_the_hold_and_the_held_recording_goes_a_week_later() {
    let c = retained().await;
    c.swept().await;
    let Retained {
        w,
        anna,
        case,
        held,
        ..
    } = &c;
    let (catalog, held, after) = (w.server.deployment.catalog.clone(), *held, c.after());
    let sweep = |at| w.sweep(at);
    w.set_time(after);
    let token = w.sign_in(anna).await;
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

/// Retention categories: training for two days, standard for 28; a camera
/// (cam-std, one recording) and a training camera (cam-train, two) not yet
/// docked; an admin (adam) signed in.
struct Categories {
    w: World,
    admin: String,
    regular: custos_camera::CameraDir,
    trainer: custos_camera::CameraDir,
}

async fn categories() -> Categories {
    let mut retention = custos_server::retention::RetentionPolicy::new(28 * DAY);
    retention.categories.insert("training".into(), 2 * DAY);
    let w = world_with_retention(Default::default(), retention).await;
    let regular = w.camera("cam-std", 1, true).await;
    let trainer = w.camera("cam-train", 2, true).await;
    let adam = w.add_user("adam", "admin", None).await;
    let admin = w.sign_in(&adam).await;
    Categories {
        w,
        admin,
        regular,
        trainer,
    }
}

/// Moving cam-std's recording to training, for the privacy officer.
const MOVE: &str = "function test at the start of a shift";

impl Categories {
    /// The admin puts `camera` in `category`: the answer.
    async fn put_camera(&self, camera: &str, category: &str) -> Answer {
        let (path, body) = (
            format!("/api/v1/devices/{camera}/retention"),
            serde_json::json!({ "category": category }),
        );
        self.w
            .call("PUT", &path, Some(&self.admin), Some(body), &[])
            .await
    }

    /// The training camera put in its category, then both cameras docked.
    async fn docked(&self) {
        assert_eq!(self.put_camera("cam-train", "training").await.status, 200);
        self.w.offload(&self.regular).await;
        self.w.offload(&self.trainer).await;
    }

    /// Recordings deleted by a sweep at `at`.
    async fn sweep(&self, at: custos_format::UtcMillis) -> u64 {
        self.w.sweep(at).await.deleted
    }

    /// Docked and swept two days and an hour after the latest recording
    /// ended: cam-std's recording, the one left, and the time of that sweep.
    async fn training_deleted(&self) -> (custos_catalog::Recording, custos_format::UtcMillis) {
        self.docked().await;
        let catalog = &self.w.server.deployment.catalog;
        let all = catalog.recordings().await.unwrap();
        let latest_end = all.iter().map(|r| r.ended_at).max().unwrap();
        let day2 = latest_end.plus_millis(2 * DAY + 3_600_000);
        assert_eq!(self.sweep(day2).await, 2);
        let mut left = catalog.recordings().await.unwrap();
        assert_eq!(left.len(), 1);
        (left.remove(0), day2)
    }

    /// Someone of `role` named `name`, signed in.
    async fn token(&self, name: &str, role: &str) -> String {
        let account = self.w.add_user(name, role, None).await;
        self.w.sign_in(&account).await
    }
}

/// The admin puts the training camera in its category (before it docks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_puts_a_camera_in_a_known_retention_category() {
    let c = categories().await;
    let put_camera = |camera: &'static str, category: &'static str| c.put_camera(camera, category);
    let moved = put_camera("cam-train", "training").await;
    assert_eq!(moved.status, 200, "{}", moved.json());
    assert_eq!(moved.json()["retention_category"], "training");
    let unknown = put_camera("cam-train", "forever").await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (400, "unknown-category".into())
    );
    assert_eq!(put_camera("cam-nope", "training").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_retention_category_has_its_own_period_and_the_sweep_keeps_to_it() {
    let c = categories().await;
    c.docked().await;
    let catalog = c.w.server.deployment.catalog.clone();
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
    let sweep = |at| c.sweep(at);
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
}

/// Moving a recording is the privacy officer's, with a reason: anyone
/// else, a bad reason or category, an unknown recording change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_privacy_officer_moves_a_recording_with_a_reason_and_refusals_change_nothing() {
    let c = categories().await;
    let (kept, _) = c.training_deleted().await;
    let (w, catalog) = (&c.w, c.w.server.deployment.catalog.clone());
    let path = format!("/api/v1/recordings/{}/retention", kept.recording_id);
    let body = serde_json::json!({"category": "training", "reason": MOVE});
    let reviewer = c.token("rita", "reviewer").await;
    let refused = w
        .call("PUT", &path, Some(&reviewer), Some(body.clone()), &[])
        .await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden".into()));
    let fg = c.token("fenna", "privacy-officer").await;
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
}

/// The new deadline counts from the recording's end; the move is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_moved_by_the_privacy_officer_gets_the_new_period_and_the_move_is_audited() {
    let c = categories().await;
    let (kept, day2) = c.training_deleted().await;
    let (w, catalog) = (&c.w, c.w.server.deployment.catalog.clone());
    let path = format!("/api/v1/recordings/{}/retention", kept.recording_id);
    let body = serde_json::json!({"category": "training", "reason": MOVE});
    let fg = c.token("fenna", "privacy-officer").await;
    let answer = w.call("PUT", &path, Some(&fg), Some(body), &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.json());
    let now = catalog.recording(kept.recording_id).await.unwrap().unwrap();
    assert_eq!(now.retention_category, "training");
    assert_eq!(
        now.delete_after.as_millis(),
        kept.ended_at.as_millis() + 2 * DAY
    );
    let entry = audit(w)
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
    let sweep = |at| c.sweep(at);
    assert_eq!(sweep(day2).await, 1, "its deadline has passed: next sweep");
}

/// Everyone signed in can read the periods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_signed_in_can_read_the_retention_periods() {
    let c = categories().await;
    let reviewer = c.token("rita", "reviewer").await;
    let periods =
        c.w.call("GET", "/api/v1/retention", Some(&reviewer), None, &[])
            .await;
    assert_eq!(periods.status, 200);
    assert_eq!(
        periods.json()["categories"],
        serde_json::json!([
            {"category": "standard", "period_seconds": 28 * 86_400},
            {"category": "training", "period_seconds": 2 * 86_400},
        ])
    );
}

/// A restart that no longer defines a camera's category refuses to start
/// rather than keep its recordings for some other period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_that_no_longer_defines_a_cameras_category_refuses_to_start() {
    let c = categories().await;
    c.training_deleted().await;
    let config = custos_server::ServerConfig {
        axis: None,
        limits: test_limits(),
        storage: Default::default(),
        data: c.w.data.clone(),
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
