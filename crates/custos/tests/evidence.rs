//! Footage at the evidence server: played back only for a stated purpose
//! and an open case, audited before the first byte, decrypted on the fly
//! with HTTP ranges; deleted on time unless held, leaving a tombstone and a
//! blob no backup can open. Clock injected.

mod common;

use common::*;
use custos_keys::secrecy::SecretString;
use rand::Rng;

const DAY: i64 = 86_400_000;

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

/// The plaintext of a stored recording, decrypted independently of the
/// server's playback path: catalog header + blob, through the format crate.
fn plaintext(w: &World, r: &custos_catalog::Recording) -> Vec<u8> {
    let stored = std::fs::read(w.data.join("blobs").join(&r.blob_key)).unwrap();
    let mut file = r.age_header.clone();
    file.extend_from_slice(&stored[r.age_header.len()..]);
    let identity = custos_keys::EvidenceKeyStore::new(&w.data)
        .unseal(&SecretString::from(PASS.to_owned()))
        .unwrap();
    let signed = custos_format::SignedManifest::parse(&r.manifest, &r.manifest_signature).unwrap();
    let mut out = Vec::new();
    custos_format::verify::decrypt_recording(&signed, &file[..], &identity, &mut out).unwrap();
    out
}

async fn open_case(w: &World, token: &str, kind: &str) -> String {
    let answer = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(token),
            Some(serde_json::json!({"kind": kind, "label": "test case", "reference": "PV-2026-1"})),
            &[],
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.json());
    answer.json()["case_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playback_needs_purpose_and_open_case_is_audited_first_and_seeks() {
    let w = world().await;
    // Long enough to span several 64 KiB encryption chunks.
    let cam = w.camera("cam-p", 0, true).await;
    record_frames(&cam, 2, 450);
    let (report, _) = w.offload(&cam).await;
    assert_eq!(report.stored, 2);
    let recordings = w.server.deployment.catalog.recordings().await.unwrap();
    let r = &recordings[0];
    let expected = plaintext(&w, r);
    assert!(expected.len() > 3 * 65_536, "{} bytes", expected.len());

    let anna = w.add_user("anna", "reviewer", None).await;
    let officer = w.add_user("boa5", "officer", Some("boa-5")).await;
    let admin = w.add_user("root", "admin", None).await;
    let token = w.sign_in(&anna).await;
    let case = open_case(&w, &token, "complaint").await;
    let video = format!("/api/v1/recordings/{}/video", r.recording_id);

    // No purpose, a purpose not on the list, an unknown case: refused, audited.
    for (query, code) in [
        (String::new(), "purpose-required"),
        (format!("?case={case}"), "purpose-required"),
        (
            format!("?purpose=curiosity&case={case}"),
            "purpose-not-allowed",
        ),
        (
            "?purpose=complaint&case=no-such-case".to_string(),
            "case-unknown",
        ),
        // A real case the recording has nothing to do with (yet).
        (format!("?purpose=complaint&case={case}"), "not-attached"),
    ] {
        let answer = w
            .call("GET", &format!("{video}{query}"), Some(&token), None, &[])
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, code),
            "{query}"
        );
    }
    let refused = audit(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "recording.play" && e.outcome == custos_audit::Outcome::Refused)
        .count();
    assert_eq!(refused, 5);
    w.link(&token, &case, r.recording_id).await;
    // Roles that never see footage, whatever they state.
    let purpose = format!("?purpose=complaint&case={case}");
    for who in [&officer, &admin] {
        let t = w.sign_in(who).await;
        let answer = w
            .call("GET", &format!("{video}{purpose}"), Some(&t), None, &[])
            .await;
        assert_eq!((answer.status, answer.code().as_str()), (403, "forbidden"));
    }

    // The whole recording, then ranges: byte-exact against an independent decryption.
    let before = audit(&w).await.len();
    let whole = w
        .call("GET", &format!("{video}{purpose}"), Some(&token), None, &[])
        .await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), Some("video/mp4"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("cache-control"), Some("no-store"));
    assert!(
        whole.body == expected,
        "playback differs from the recording"
    );
    let entries = audit(&w).await;
    let played = &entries[before];
    assert_eq!(
        (
            played.action.as_str(),
            played.purpose.as_deref(),
            played.case.as_deref(),
            played.actor.as_str()
        ),
        (
            "recording.play",
            Some("complaint"),
            Some(case.as_str()),
            "user:anna"
        )
    );
    assert_eq!(
        played.object.as_deref(),
        Some(format!("recording:{}", r.recording_id).as_str())
    );
    let len = expected.len() as u64;
    let mut rng = rand::thread_rng();
    let mut ranges: Vec<(u64, u64)> = (0..12)
        .map(|_| {
            let a = rng.gen_range(0..len);
            (a, rng.gen_range(a..len.min(a + 200_000)))
        })
        .collect();
    ranges.extend([(0, 0), (len - 1, len - 1), (65_535, 65_536), (0, len - 1)]);
    for (a, b) in ranges {
        let answer = w
            .call(
                "GET",
                &format!("{video}{purpose}"),
                Some(&token),
                None,
                &[("range", &format!("bytes={a}-{b}"))],
            )
            .await;
        assert_eq!(answer.status, 206, "{a}-{b}");
        assert_eq!(
            answer.header("content-range"),
            Some(format!("bytes {a}-{b}/{len}").as_str())
        );
        assert!(
            answer.body == expected[a as usize..=b as usize],
            "bytes {a}-{b} differ"
        );
    }
    let suffix = w
        .call(
            "GET",
            &format!("{video}{purpose}"),
            Some(&token),
            None,
            &[("range", "bytes=-100")],
        )
        .await;
    assert!(suffix.body == expected[expected.len() - 100..]);
    for (range, status) in [
        (format!("bytes={len}-"), 416),
        ("bytes=0-1,5-6".into(), 400),
        ("pages=1-2".into(), 400),
    ] {
        let answer = w
            .call(
                "GET",
                &format!("{video}{purpose}"),
                Some(&token),
                None,
                &[("range", &range)],
            )
            .await;
        assert_eq!(answer.status, status, "{range}");
    }
    // ffprobe, an outside reader, sees H.264 video in what was played.
    let file = w.tmp.path().join("played.mp4");
    std::fs::write(&file, &whole.body).unwrap();
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "h264");
    // Unknown recordings and garbage ids: 404, still audited.
    for id in ["0190f0c4-0000-7000-8000-000000000001", "garbage"] {
        let answer = w
            .call(
                "GET",
                &format!("/api/v1/recordings/{id}/video{purpose}"),
                Some(&token),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, 404);
    }
    // A closed case opens nothing any more.
    let close = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/close"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(close.status, 200, "{}", close.json());
    let answer = w
        .call("GET", &format!("{video}{purpose}"), Some(&token), None, &[])
        .await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (409, "case-closed")
    );
}

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
    let case = open_case(&w, &token, "incident").await;
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

/// `ffmpeg` decodes `input` (a file) to RGB24: frame `n`, or the only picture.
fn ffmpeg_rgb(input: &std::path::Path, n: Option<usize>) -> Vec<u8> {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-v", "error", "-i"]).arg(input);
    if let Some(n) = n {
        cmd.args(["-vf", &format!("select=eq(n\\,{n})")]);
    }
    let out = cmd
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg must be installed (see ./test.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as f64)
        .sum::<f64>()
        / a.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnails_and_downloads_need_a_purpose_and_are_audited() {
    let w = world().await;
    // 91 frames (the stop takes effect at the next frame): keyframes at 0, 1, 2 and 3 s.
    let r = w.one_recording("cam-th", 90).await;
    let expected = plaintext(&w, &r);
    let mp4 = w.tmp.path().join("independent.mp4");
    std::fs::write(&mp4, &expected).unwrap();

    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let case = open_case(&w, &token, "complaint").await;
    w.link(&token, &case, r.recording_id).await;
    let base = format!("/api/v1/recordings/{}", r.recording_id);
    let purpose = format!("purpose=complaint&case={case}");

    // Without a purpose and case: refused and audited, for both.
    for (path, action) in [
        (format!("{base}/thumbnail"), "recording.thumbnail"),
        (format!("{base}/download"), "recording.download"),
    ] {
        let answer = w.call("GET", &path, Some(&token), None, &[]).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "purpose-required")
        );
        assert!(audit(&w)
            .await
            .iter()
            .any(|e| e.action == action && e.outcome == custos_audit::Outcome::Refused));
    }
    for bad in ["at=-1", "at=abc", "at=1e12", "at=NaN", "size=9"] {
        let answer = w
            .call(
                "GET",
                &format!("{base}/thumbnail?{purpose}&{bad}"),
                Some(&token),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, 400, "{bad}");
    }

    // The frame shown is the keyframe at or before `at`, the one ffmpeg
    // decodes from an independent decryption.
    for (at, frame, shown) in [("0", 0usize, "0"), ("2.5", 60, "2000")] {
        let answer = w
            .call(
                "GET",
                &format!("{base}/thumbnail?{purpose}&at={at}"),
                Some(&token),
                None,
                &[],
            )
            .await;
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(answer.header("content-type"), Some("image/jpeg"));
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        assert_eq!(answer.header("x-custos-frame-at-ms"), Some(shown));
        let jpeg = w.tmp.path().join(format!("thumb-{at}.jpg"));
        std::fs::write(&jpeg, &answer.body).unwrap();
        let thumb = ffmpeg_rgb(&jpeg, None);
        let same = mean_abs_diff(&thumb, &ffmpeg_rgb(&mp4, Some(frame)));
        let other = mean_abs_diff(&thumb, &ffmpeg_rgb(&mp4, Some(frame + 30)));
        assert!(
            same < 6.0 && other > same + 1.0,
            "at {at}: {same} vs {other}"
        );
    }
    let answer = w
        .call(
            "GET",
            &format!("{base}/thumbnail?{purpose}&at=999"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(
        answer.header("x-custos-frame-at-ms"),
        Some("3000"),
        "the last keyframe"
    );
    let thumbnails: Vec<_> = audit(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "recording.thumbnail" && e.outcome == custos_audit::Outcome::Ok)
        .collect();
    assert_eq!(thumbnails.len(), 3);
    assert_eq!(thumbnails[0].purpose.as_deref(), Some("complaint"));
    assert_eq!(thumbnails[0].case.as_deref(), Some(case.as_str()));

    // A download is the same bytes as a file to keep, audited as a download.
    let download = w
        .call(
            "GET",
            &format!("{base}/download?{purpose}"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(download.status, 200);
    assert_eq!(download.body, expected);
    assert_eq!(
        download.header("content-disposition"),
        Some(format!("attachment; filename=\"custos-{}.mp4\"", r.recording_id).as_str())
    );
    let log = audit(&w).await;
    let entry = log
        .iter()
        .find(|e| e.action == "recording.download" && e.outcome == custos_audit::Outcome::Ok)
        .expect("the download is audited");
    assert_eq!(entry.actor, "user:anna");
    assert!(
        !log.iter().any(|e| e.action == "recording.play"),
        "not a play"
    );

    // An admin never gets either.
    let root = w.add_user("root", "admin", None).await;
    let root = w.sign_in(&root).await;
    for path in [
        format!("{base}/thumbnail?{purpose}"),
        format!("{base}/download?{purpose}"),
    ] {
        let answer = w.call("GET", &path, Some(&root), None, &[]).await;
        assert_eq!((answer.status, answer.code().as_str()), (403, "forbidden"));
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_may_need_a_second_person_and_cases_are_checked() {
    let w = world_with(custos_access::Policy {
        hold_needs_second_approver: true,
        ..Default::default()
    })
    .await;
    let cam = w.camera("cam-h", 1, true).await;
    w.offload(&cam).await;
    let recording = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    let anna = w.add_user("anna", "reviewer", None).await;
    let bert = w.add_user("bert", "privacy-officer", None).await;
    let (ta, tb) = (w.sign_in(&anna).await, w.sign_in(&bert).await);
    let case = open_case(&w, &ta, "police-request").await;
    let hold = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&ta),
            Some(serde_json::json!({"recording_id": recording.recording_id, "reason": "PV requested"})),
            &[],
        )
        .await
        .json();
    assert!(hold["approved_at"].is_null());
    let approve = format!(
        "/api/v1/holds/{}/approve",
        hold["hold_id"].as_str().unwrap()
    );
    let own = w.call("POST", &approve, Some(&ta), None, &[]).await;
    assert_eq!((own.status, own.code().as_str()), (403, "four-eyes"));
    let second = w.call("POST", &approve, Some(&tb), None, &[]).await;
    assert_eq!(second.status, 200, "{}", second.json());
    assert_eq!(second.json()["approved_by"], "bert");
    assert_eq!(
        w.call("POST", &approve, Some(&tb), None, &[]).await.status,
        409
    );

    // Garbage and forgeries are refused clearly and leave nothing behind.
    for bad in [
        serde_json::json!({"kind": "party", "label": "x"}),
        serde_json::json!({"kind": "police-request", "label": "no PV number"}),
        serde_json::json!({"kind": "complaint", "label": ""}),
        serde_json::json!({"kind": "complaint", "label": "x", "case_id": "has spaces"}),
        serde_json::json!({"kind": "complaint", "label": "x", "extra": 1}),
        serde_json::json!([1, 2]),
    ] {
        let answer = w
            .call("POST", "/api/v1/cases", Some(&ta), Some(bad.clone()), &[])
            .await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.json());
    }
    let dup = w
        .call(
            "POST",
            "/api/v1/cases",
            Some(&ta),
            Some(serde_json::json!({"kind": "complaint", "label": "x", "case_id": case})),
            &[],
        )
        .await;
    assert_eq!(dup.status, 409);
    let no_rec = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&ta),
            Some(serde_json::json!({"recording_id": "0190f0c4-0000-7000-8000-000000000001", "reason": "x"})),
            &[],
        )
        .await;
    assert_eq!(no_rec.status, 404);
    let cases = w
        .call("GET", "/api/v1/cases", Some(&ta), None, &[])
        .await
        .json();
    assert_eq!(cases.as_array().unwrap().len(), 1);
    // A subject access request is due a month after it came in (its case
    // is the privacy officer's).
    let sar = open_case(&w, &tb, "subject-access-request").await;
    let got = w
        .call("GET", &format!("/api/v1/cases/{sar}"), Some(&tb), None, &[])
        .await
        .json();
    let opened =
        custos_format::UtcMillis::parse(got["case"]["opened_at"].as_str().unwrap()).unwrap();
    let due = custos_format::UtcMillis::parse(got["case"]["due_at"].as_str().unwrap()).unwrap();
    let days = (due.as_millis() - opened.as_millis()) / DAY;
    assert!((28..=31).contains(&days), "{days}");
    // One hold released before its case closes: audited, and the recording
    // then stays at least the grace period (7 days), never less.
    let release = format!(
        "/api/v1/holds/{}/release",
        hold["hold_id"].as_str().unwrap()
    );
    let before_release = w
        .server
        .deployment
        .catalog
        .recording(recording.recording_id)
        .await
        .unwrap()
        .unwrap();
    w.clock_offset
        .fetch_add(40 * DAY, std::sync::atomic::Ordering::SeqCst);
    let tb = w.sign_in(&bert).await;
    let grace_end = (w.server.deployment.clock)().plus_millis(7 * DAY);
    let released = w.call("POST", &release, Some(&tb), None, &[]).await;
    assert_eq!(released.status, 200, "{}", released.json());
    assert_eq!(released.json()["released_by"], "bert");
    assert_eq!(
        w.call("POST", &release, Some(&tb), None, &[]).await.status,
        409,
        "released once"
    );
    assert_eq!(
        w.call(
            "POST",
            "/api/v1/holds/not-a-uuid/release",
            Some(&tb),
            None,
            &[]
        )
        .await
        .status,
        404
    );
    let after = w
        .server
        .deployment
        .catalog
        .recording(recording.recording_id)
        .await
        .unwrap()
        .unwrap();
    assert!(after.delete_after >= grace_end && after.delete_after > before_release.delete_after);
    assert!(w.sweep((w.server.deployment.clock)()).await.deleted == 0);
    let releases: Vec<_> = audit(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "hold.release")
        .collect();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].case.as_deref(), Some(case.as_str()));
}

/// Debian's Chromium plays the decrypted stream in a `<video>` and seeks in
/// it (HTTP ranges, session cookie) — the way a reviewer watches footage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_plays_and_seeks_a_recording() {
    let w = world().await;
    let r = w.one_recording("cam-v", 150).await;
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let case = open_case(&w, &token, "complaint").await;
    w.link(&token, &case, r.recording_id).await;
    let video = format!(
        "/api/v1/recordings/{}/video?purpose=complaint&case={case}",
        r.recording_id
    );
    let before = audit(&w).await.len();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/play.mjs");
    let base = w.base();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(&script)
            .env("BASE", base)
            .env("TOKEN", token)
            .env("VIDEO", video)
            .output()
            .expect("node must be installed (see ./test.sh)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(result["ok"], true, "{result}");
    let duration = result["duration"].as_f64().unwrap();
    assert!(
        (duration - 5.0).abs() < 0.2,
        "150 frames at 30 fps: {duration}"
    );
    assert_eq!(result["size"], serde_json::json!([160, 120]));
    let (seeked, target) = (
        result["seekedTo"].as_f64().unwrap(),
        result["target"].as_f64().unwrap(),
    );
    assert!((seeked - target).abs() < 0.1, "{result}");
    assert!(result["readyState"].as_u64().unwrap() >= 2, "{result}");
    // The browser asked with ranges, and every request is in the audit log.
    let ranges = result["ranges"].as_array().unwrap();
    assert!(
        ranges
            .iter()
            .any(|r| r.as_str().is_some_and(|r| r.starts_with("bytes="))),
        "{result}"
    );
    let played = audit(&w).await[before..]
        .iter()
        .filter(|e| e.action == "recording.play" && e.outcome == custos_audit::Outcome::Ok)
        .count();
    assert!(
        played >= 1 && played <= ranges.len(),
        "{played} audited for {} requests",
        ranges.len()
    );
}

/// Runs `custos verify` on a package; its exit code and what it printed.
fn verify_package(package: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
        .arg("verify")
        .arg(package)
        .args(extra)
        .env("CUSTOS_EXPORT_PASSPHRASE", EXPORT_PASS)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

const EXPORT_PASS: &str = "TEST7-PASS7-PHRAS-EFORX-PORTS";

/// Copies a directory tree (the tests' way to tamper with a copy).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_verifies_offline_and_any_change_is_named() {
    let w = world().await;
    let cam = w.camera("cam-x", 3, true).await;
    w.offload(&cam).await;
    let mut recordings = w.server.deployment.catalog.recordings().await.unwrap();
    recordings.sort_by_key(|r| r.sequence);
    assert_eq!(recordings.len(), 3);
    let rita = w.add_user("rita", "reviewer", None).await;
    let adam = w.add_user("adam", "admin", None).await;
    let (tr, ta) = (w.sign_in(&rita).await, w.sign_in(&adam).await);
    let case = open_case(&w, &tr, "police-request").await;
    // #1 and #3 are secured; #2 (between them) is not and must not be exported.
    for r in [&recordings[0], &recordings[2]] {
        let hold = w
            .call(
                "POST",
                &format!("/api/v1/cases/{case}/holds"),
                Some(&tr),
                Some(serde_json::json!({"recording_id": r.recording_id, "reason": "PV"})),
                &[],
            )
            .await;
        assert_eq!(hold.status, 201, "{}", hold.json());
    }
    // Someone played #1 for the case before: the package must show it.
    let played = w
        .call(
            "GET",
            &format!(
                "/api/v1/recordings/{}/video?purpose=investigation&case={case}",
                recordings[0].recording_id
            ),
            Some(&tr),
            None,
            &[("range", "bytes=0-99")],
        )
        .await;
    assert_eq!(played.status, 206);
    let old_checkpoint = w
        .call(
            "GET",
            "/api/v1/audit/checkpoint",
            Some(&w.sign_in(&w.add_user("otto", "auditor", None).await).await),
            None,
            &[],
        )
        .await;
    assert_eq!(old_checkpoint.status, 200);
    let path = format!("/api/v1/cases/{case}/exports");
    let request = |extra: serde_json::Value| {
        let mut body = serde_json::json!({"purpose": "investigation", "recipient": "Politie Rotterdam, PV-2026-1"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };

    // Refused, audited, and nothing written.
    let before = audit(&w).await.len();
    for (token, body, status, code) in [
        (
            &ta,
            request(serde_json::json!({"passphrase": EXPORT_PASS})),
            403,
            "forbidden",
        ),
        (
            &tr,
            request(serde_json::json!({"passphrase": EXPORT_PASS, "purpose": "curiosity"})),
            403,
            "purpose-not-allowed",
        ),
        (
            &tr,
            request(serde_json::json!({})),
            400,
            "protection-required",
        ),
        (
            &tr,
            request(serde_json::json!({"passphrase": "short"})),
            400,
            "protection-required",
        ),
        (
            &tr,
            request(serde_json::json!({"age_recipient": "age1notakey"})),
            400,
            "bad-recipient-key",
        ),
        (
            &tr,
            request(serde_json::json!({"passphrase": EXPORT_PASS, "recipient": " "})),
            400,
            "recipient-required",
        ),
        (
            &tr,
            request(
                serde_json::json!({"passphrase": EXPORT_PASS, "recordings": [recordings[1].recording_id]}),
            ),
            409,
            "not-secured",
        ),
        (
            &tr,
            request(
                serde_json::json!({"passphrase": EXPORT_PASS, "time_zone": "Mars/Olympus_Mons"}),
            ),
            400,
            "bad-time-zone",
        ),
    ] {
        let answer = w
            .call("POST", &path, Some(token), Some(body.clone()), &[])
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{body}"
        );
    }
    let refusals = audit(&w).await;
    assert_eq!(refusals.len(), before + 8);
    assert!(refusals[before..]
        .iter()
        .all(|e| e.action == "export.create" && e.outcome == custos_audit::Outcome::Refused));
    for garbage in [
        serde_json::json!([1]),
        serde_json::json!({"purpose": "investigation"}),
        request(serde_json::json!({"passphrase": EXPORT_PASS, "extra": 1})),
    ] {
        let answer = w
            .call("POST", &path, Some(&tr), Some(garbage.clone()), &[])
            .await;
        assert_eq!(answer.status, 400, "{garbage}");
    }
    let unknown = w
        .call(
            "POST",
            "/api/v1/cases/no-such-case/exports",
            Some(&tr),
            Some(request(serde_json::json!({"passphrase": EXPORT_PASS}))),
            &[],
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (403, "case-unknown")
    );

    // The export: age-encrypted to a one-time passphrase.
    let answer = w
        .call(
            "POST",
            &path,
            Some(&tr),
            Some(request(serde_json::json!({"passphrase": EXPORT_PASS}))),
            &[],
        )
        .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(answer.body.starts_with(b"age-encryption.org/v1"));
    let export_id = answer.header("custos-export-id").unwrap().to_owned();
    let events = audit(&w).await;
    let made: Vec<_> = events
        .iter()
        .filter(|e| e.detail.as_deref().is_some_and(|d| d.contains(&export_id)))
        .collect();
    assert_eq!(made.len(), 3, "one entry for the export, one per recording");
    assert!(made
        .iter()
        .all(|e| e.purpose.as_deref() == Some("investigation")
            && e.case.as_deref() == Some(case.as_str())));
    let tmp = tempfile::tempdir().unwrap();
    let delivered = tmp.path().join("package.tar.age");
    std::fs::write(&delivered, &answer.body).unwrap();

    // As delivered: custos verify opens it with the passphrase and passes.
    let server_pem = tmp.path().join("server.pem");
    std::fs::write(
        &server_pem,
        w.server.deployment.keys.receipt_public().to_pem(),
    )
    .unwrap();
    let log_key = w.server.deployment.audit.verifier().to_vkey();
    let (code, out) = verify_package(
        &delivered,
        &[
            "--server-key",
            server_pem.to_str().unwrap(),
            "--log-key",
            &log_key,
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("VERDICT: the package is complete"), "{out}");
    for item in [
        "recording cam-x #1",
        "recording cam-x #3",
        "audit checkpoint",
        "SHA256SUMS.sig",
    ] {
        assert!(out.contains(&format!("ok   {item}")), "{item}: {out}");
    }
    assert!(out.contains("the camera's first recording"), "{out}");
    assert!(
        out.contains("next recording #2 links to it (camera-signed)"),
        "{out}"
    );
    // A wrong passphrase, a damaged or cut-off file: clear errors, no verdict.
    let wrong = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["verify"])
        .arg(&delivered)
        .env("CUSTOS_EXPORT_PASSPHRASE", "not the passphrase at all")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("passphrase does not open"));
    let mut cut = answer.body.clone();
    cut.truncate(cut.len() - 1000);
    let cut_path = tmp.path().join("cut.tar.age");
    std::fs::write(&cut_path, &cut).unwrap();
    assert_eq!(verify_package(&cut_path, &[]).0, 2);
    let mut flipped = answer.body.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    let flipped_path = tmp.path().join("flipped.tar.age");
    std::fs::write(&flipped_path, &flipped).unwrap();
    assert_eq!(verify_package(&flipped_path, &[]).0, 2);

    // Decrypted and unpacked: the videos are the originals, byte for byte.
    let tar = open_package(&answer.body, EXPORT_PASS);
    let tar_path = tmp.path().join("package.tar");
    std::fs::write(&tar_path, &tar).unwrap();
    assert_eq!(verify_package(&tar_path, &[]).0, 0);
    let good = tmp.path().join("good");
    std::fs::create_dir(&good).unwrap();
    assert!(std::process::Command::new("tar")
        .arg("-xmf")
        .arg(&tar_path)
        .arg("-C")
        .arg(&good)
        .status()
        .unwrap()
        .success());
    for r in [&recordings[0], &recordings[2]] {
        let video =
            std::fs::read(good.join(format!("recordings/cam-x-{:06}/video.mp4", r.sequence)))
                .unwrap();
        assert_eq!(video, plaintext(&w, r));
    }
    assert!(!good.join("recordings/cam-x-000002").exists());
    let report = std::fs::read_to_string(good.join("report.html")).unwrap();
    assert!(report.contains("<html lang=\"en\">") && report.contains("Chain-of-custody report"));
    assert!(
        report.contains("All times: UTC.") && report.contains(" UTC (+00:00)"),
        "{report}"
    );
    assert!(
        report.contains("next recording #2: its signed manifest is included"),
        "{report}"
    );
    assert!(
        report.contains("recording.play")
            && report.contains("recording.export")
            && report.contains("PV-2026-1")
    );
    let (code, out) = verify_package(&good, &["--server-key", server_pem.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");

    // The same checks with standard tools alone (docs/VERIFY.md).
    let standard = |dir: &std::path::Path| {
        std::process::Command::new("sh")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../docs/verify-export-with-standard-tools.sh"
            ))
            .arg(dir)
            .output()
            .unwrap()
    };
    let checked = standard(&good);
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(String::from_utf8_lossy(&checked.stdout).contains(&format!(
        "server key SHA-256 (compare with the published one): {}",
        hex::encode(custos_format::sha256(
            &w.server.deployment.keys.receipt_public().to_bytes()
        ))
    )));

    // Any single change fails, naming what changed.
    let video1 = "recordings/cam-x-000001/video.mp4";
    let manifest3 = "recordings/cam-x-000003/manifest.json";
    let audit1 = "recordings/cam-x-000001/audit.json";
    type Change = Box<dyn Fn(&std::path::Path)>;
    let changes: Vec<(&str, Change, &str)> = vec![
        (
            "a byte of a video",
            Box::new(move |d| {
                let p = d.join(video1);
                let mut b = std::fs::read(&p).unwrap();
                b[1000] ^= 0x20;
                std::fs::write(p, b).unwrap();
            }),
            video1,
        ),
        (
            "a manifest field",
            Box::new(move |d| {
                let p = d.join(manifest3);
                let t = std::fs::read_to_string(&p).unwrap();
                std::fs::write(p, t.replacen("\"sequence\":3", "\"sequence\":4", 1)).unwrap();
            }),
            manifest3,
        ),
        (
            "an audit entry removed",
            Box::new(move |d| {
                let p = d.join(audit1);
                let mut a: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                a["entries"].as_array_mut().unwrap().remove(0);
                std::fs::write(p, serde_json::to_vec_pretty(&a).unwrap()).unwrap();
            }),
            audit1,
        ),
        (
            "a file added",
            Box::new(|d| {
                std::fs::write(d.join("recordings/cam-x-000001/extra.mp4"), b"x").unwrap()
            }),
            "recordings/cam-x-000001/extra.mp4",
        ),
        (
            "a file removed",
            Box::new(|d| {
                std::fs::remove_file(d.join("recordings/cam-x-000003/receipt.sig")).unwrap()
            }),
            "recordings/cam-x-000003/receipt.sig",
        ),
    ];
    let old_note = old_checkpoint.json()["checkpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!old_note.is_empty(), "{}", old_checkpoint.json());
    let mut changes = changes;
    changes.push((
        "the checkpoint swapped for an older one",
        Box::new(move |d| std::fs::write(d.join("audit/checkpoint.txt"), &old_note).unwrap()),
        "audit/checkpoint.txt",
    ));
    for (n, (what, change, item)) in changes.iter().enumerate() {
        let copy = tmp.path().join(format!("bad-{n}"));
        copy_tree(&good, &copy);
        change(&copy);
        let (code, out) = verify_package(&copy, &[]);
        assert_eq!(code, 1, "{what}: {out}");
        assert!(
            out.contains(&format!("FAIL {item}")),
            "{what} should name {item}: {out}"
        );
        assert!(out.contains("VERDICT: NOT VERIFIED"), "{what}: {out}");
        let checked = standard(&copy);
        assert!(!checked.status.success(), "standard tools passed {what}");
    }

    // A forger who changes a video and re-signs SHA256SUMS with a key of
    // their own: the receipts betray them, and so does the published key.
    let forged = tmp.path().join("forged");
    copy_tree(&good, &forged);
    {
        let p = forged.join(video1);
        let mut b = std::fs::read(&p).unwrap();
        b[2000] ^= 1;
        std::fs::write(&p, &b).unwrap();
        let key = custos_format::SigningKey::generate();
        std::fs::write(forged.join("server.pub.pem"), key.verifying_key().to_pem()).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("find . -type f ! -name 'SHA256SUMS*' | sed 's|^\\./||' | sort | xargs sha256sum")
            .current_dir(&forged)
            .output()
            .unwrap();
        std::fs::write(forged.join("SHA256SUMS"), &out.stdout).unwrap();
        std::fs::write(forged.join("SHA256SUMS.sig"), key.sign(&out.stdout)).unwrap();
    }
    let (code, out) = verify_package(&forged, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("not the server's signature of receipt.json"),
        "{out}"
    );
    let (code, out) = verify_package(&forged, &["--server-key", server_pem.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL server.pub.pem: not the server key you named"),
        "{out}"
    );
    assert!(!standard(&forged).status.success());

    // To the recipient's age key: the standard age CLI opens it.
    let key = age::x25519::Identity::generate();
    let key_file = tmp.path().join("police.key");
    std::fs::write(
        &key_file,
        format!(
            "{}\n",
            custos_keys::secrecy::ExposeSecret::expose_secret(&key.to_string())
        ),
    )
    .unwrap();
    let answer = w
        .call(
            "POST",
            &path,
            Some(&tr),
            Some(request(serde_json::json!({"age_recipient": key.to_public().to_string(), "recordings": [recordings[2].recording_id]}))),
            &[],
        )
        .await;
    assert_eq!(answer.status, 200);
    let to_key = tmp.path().join("to-key.tar.age");
    std::fs::write(&to_key, &answer.body).unwrap();
    let opened = tmp.path().join("to-key.tar");
    let age_cli = std::process::Command::new("age")
        .args(["-d", "-i"])
        .arg(&key_file)
        .arg("-o")
        .arg(&opened)
        .arg(&to_key)
        .output()
        .unwrap();
    assert!(
        age_cli.status.success(),
        "{}",
        String::from_utf8_lossy(&age_cli.stderr)
    );
    let (code, out) = verify_package(&opened, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok   recording cam-x #3") && !out.contains("recording cam-x #1"),
        "{out}"
    );
    let (code, out) = verify_package(&to_key, &["--identity", key_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_may_need_a_second_persons_approval_and_is_then_exactly_what_was_approved() {
    let w = world_with(custos_access::Policy {
        export_needs_second_approver: true,
        ..Default::default()
    })
    .await;
    let cam = w.camera("cam-y", 2, true).await;
    w.offload(&cam).await;
    let mut recordings = w.server.deployment.catalog.recordings().await.unwrap();
    recordings.sort_by_key(|r| r.sequence);
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let (tr, tp) = (w.sign_in(&rita).await, w.sign_in(&petra).await);
    let case = open_case(&w, &tr, "police-request").await;
    for r in &recordings {
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
    }
    let exports = format!("/api/v1/cases/{case}/exports");
    let requests = format!("/api/v1/cases/{case}/export-requests");
    let body = |extra: serde_json::Value| {
        let mut b = serde_json::json!({"purpose": "investigation", "recipient": "OM Rotterdam", "passphrase": EXPORT_PASS});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let direct = w
        .call(
            "POST",
            &exports,
            Some(&tr),
            Some(body(serde_json::json!({}))),
            &[],
        )
        .await;
    assert_eq!(
        (direct.status, direct.code().as_str()),
        (409, "approval-required")
    );

    // Asking: only what could be exported may be asked for.
    for (asked, status, code) in [
        (
            serde_json::json!({"purpose": "curiosity", "recipient": "OM"}),
            403,
            "purpose-not-allowed",
        ),
        (
            serde_json::json!({"purpose": "investigation", "recipient": ""}),
            400,
            "recipient-required",
        ),
        (
            serde_json::json!({"purpose": "investigation", "recipient": "OM", "recordings": [uuid::Uuid::now_v7()]}),
            409,
            "not-secured",
        ),
    ] {
        let answer = w
            .call("POST", &requests, Some(&tr), Some(asked.clone()), &[])
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{asked}"
        );
    }
    let asked = w
        .call(
            "POST",
            &requests,
            Some(&tr),
            Some(serde_json::json!({"purpose": "investigation", "recipient": "OM Rotterdam", "recordings": [recordings[0].recording_id]})),
            &[],
        )
        .await;
    assert_eq!(asked.status, 201, "{}", asked.json());
    let request_id = asked.json()["request_id"].as_str().unwrap().to_owned();
    let approve = format!("/api/v1/export-requests/{request_id}/approve");
    let unapproved = w
        .call("POST", &exports, Some(&tr), Some(body(serde_json::json!({"request_id": request_id, "recordings": [recordings[0].recording_id]}))), &[])
        .await;
    assert_eq!(
        (unapproved.status, unapproved.code().as_str()),
        (409, "not-approved")
    );
    let own = w.call("POST", &approve, Some(&tr), None, &[]).await;
    assert_eq!((own.status, own.code().as_str()), (403, "four-eyes"));
    let approved = w.call("POST", &approve, Some(&tp), None, &[]).await;
    assert_eq!(approved.status, 200, "{}", approved.json());
    assert_eq!(approved.json()["approved_by"], "petra");
    assert_eq!(
        w.call("POST", &approve, Some(&tp), None, &[]).await.status,
        409
    );
    assert_eq!(
        w.call(
            "POST",
            "/api/v1/export-requests/nonsense/approve",
            Some(&tp),
            None,
            &[]
        )
        .await
        .status,
        404
    );

    // Only the requester makes it, and only exactly what was approved.
    let by_other = w
        .call(
            "POST",
            &exports,
            Some(&tp),
            Some(body(serde_json::json!({"request_id": request_id}))),
            &[],
        )
        .await;
    assert_eq!(
        (by_other.status, by_other.code().as_str()),
        (404, "request-unknown")
    );
    for changed in [
        serde_json::json!({"request_id": request_id, "recipient": "someone else"}),
        serde_json::json!({"request_id": request_id, "purpose": "complaint"}),
        serde_json::json!({"request_id": request_id, "recordings": [recordings[0].recording_id, recordings[1].recording_id]}),
    ] {
        let answer = w
            .call(
                "POST",
                &exports,
                Some(&tr),
                Some(body(changed.clone())),
                &[],
            )
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (409, "request-mismatch"),
            "{changed}"
        );
    }
    let made = w
        .call(
            "POST",
            &exports,
            Some(&tr),
            Some(body(serde_json::json!({"request_id": request_id}))),
            &[],
        )
        .await;
    assert_eq!(made.status, 200, "{}", String::from_utf8_lossy(&made.body));
    let again = w
        .call(
            "POST",
            &exports,
            Some(&tr),
            Some(body(serde_json::json!({"request_id": request_id}))),
            &[],
        )
        .await;
    assert_eq!((again.status, again.code().as_str()), (409, "request-used"));
    let tmp = tempfile::tempdir().unwrap();
    let package = tmp.path().join("approved.tar.age");
    std::fs::write(&package, &made.body).unwrap();
    let (code, out) = verify_package(&package, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("approved by petra"), "{out}");
    assert!(
        out.contains("recording cam-y #1") && !out.contains("recording cam-y #2"),
        "{out}"
    );

    let listed = w.call("GET", &requests, Some(&tr), None, &[]).await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(!listed[0]["used_at"].is_null());
    let events = audit(&w).await;
    let count = |action: &str, outcome: custos_audit::Outcome| {
        events
            .iter()
            .filter(|e| e.action == action && e.outcome == outcome)
            .count()
    };
    assert_eq!(count("export.request", custos_audit::Outcome::Ok), 1);
    assert_eq!(count("export.request", custos_audit::Outcome::Refused), 3);
    assert_eq!(count("export.approve", custos_audit::Outcome::Ok), 1);
    assert_eq!(count("export.approve", custos_audit::Outcome::Refused), 1);
    assert_eq!(count("export.create", custos_audit::Outcome::Ok), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_that_cannot_be_made_whole_is_cut_off_and_audited_as_failed() {
    let w = world().await;
    let cam = w.camera("cam-z", 1, true).await;
    w.offload(&cam).await;
    let recording = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    let rita = w.add_user("rita", "reviewer", None).await;
    let tr = w.sign_in(&rita).await;
    let case = open_case(&w, &tr, "incident").await;
    let hold = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&tr),
            Some(serde_json::json!({"recording_id": recording.recording_id, "reason": "x"})),
            &[],
        )
        .await;
    assert_eq!(hold.status, 201);
    // The stored ciphertext is damaged after the checks (a disk fault).
    let blob = w.data.join("blobs").join(&recording.blob_key);
    let mut bytes = std::fs::read(&blob).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 1;
    std::fs::write(&blob, &bytes).unwrap();
    let agent = agent(&w);
    let url = format!("{}/api/v1/cases/{case}/exports", w.base());
    let (status, body) = tokio::task::spawn_blocking(move || {
        let mut response = agent
            .post(&url)
            .header("authorization", &format!("Bearer {tr}"))
            .send_json(serde_json::json!({"purpose": "investigation", "recipient": "OM", "passphrase": EXPORT_PASS}))
            .unwrap();
        let mut body = Vec::new();
        // The body breaks off: reading it ends in an error or short.
        let _ = std::io::Read::read_to_end(&mut response.body_mut().as_reader(), &mut body);
        (response.status().as_u16(), body)
    })
    .await
    .unwrap();
    assert_eq!(
        status, 200,
        "the checks passed; the failure comes while writing"
    );
    // What arrived does not open: age's last chunk never came.
    let identity = age::scrypt::Identity::new(SecretString::from(EXPORT_PASS.to_owned()));
    let opened = age::Decryptor::new(&body[..]).ok().and_then(|d| {
        let mut reader = d
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .ok()?;
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut out).ok()
    });
    assert!(opened.is_none(), "a broken-off package must not decrypt");
    // The log says it was not delivered whole: durable before the body ended.
    let failed: Vec<_> = audit(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "export.create" && e.outcome == custos_audit::Outcome::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("not delivered whole"));
    assert_eq!(failed[0].case.as_deref(), Some(case.as_str()));
    assert_eq!(failed[0].role.as_deref(), Some("reviewer"));
}

/// Download links: the package is kept encrypted for its recipient, served
/// without an account to whoever holds the link until it expires, is used
/// up or is revoked; every download — refused or broken off too — is in
/// the audit log with the export's purpose and case; the package leaves
/// the blob store when the link closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_link_serves_until_it_expires_is_used_up_or_revoked_and_every_download_is_audited(
) {
    let w = world().await;
    let cam = w.camera("cam-l", 2, true).await;
    w.offload(&cam).await;
    let recordings = w.server.deployment.catalog.recordings().await.unwrap();
    let rita = w.add_user("rita", "reviewer", None).await;
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let adam = w.add_user("adam", "admin", None).await;
    let (tr, tp, ta) = (
        w.sign_in(&rita).await,
        w.sign_in(&petra).await,
        w.sign_in(&adam).await,
    );
    let case = open_case(&w, &tr, "police-request").await;
    for r in &recordings {
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
    }
    let exports = format!("/api/v1/cases/{case}/exports");
    let with_link = |link: serde_json::Value| {
        serde_json::json!({"purpose": "investigation", "recipient": "Politie Rotterdam",
            "passphrase": EXPORT_PASS, "link": link})
    };
    let kept = || {
        let dir = w.data.join("blobs").join("exports");
        std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
    };

    // Terms out of bounds: refused with a reason, audited, nothing kept.
    for link in [
        serde_json::json!({"valid_hours": 0}),
        serde_json::json!({"valid_hours": 7 * 24 + 1}),
        serde_json::json!({"valid_hours": 24, "max_downloads": 0}),
        serde_json::json!({"valid_hours": 24, "max_downloads": 11}),
    ] {
        let answer = w
            .call(
                "POST",
                &exports,
                Some(&tr),
                Some(with_link(link.clone())),
                &[],
            )
            .await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (400, Some("bad-link")),
            "{link}"
        );
    }
    for garbage in [
        serde_json::json!({"valid_hours": "24"}),
        serde_json::json!({"valid_hours": -1}),
        serde_json::json!({"valid_hours": 24, "extra": true}),
        serde_json::json!("24h"),
    ] {
        let answer = w
            .call(
                "POST",
                &exports,
                Some(&tr),
                Some(with_link(garbage.clone())),
                &[],
            )
            .await;
        assert_eq!(answer.status, 400, "{garbage}");
    }
    let refused = audit(&w)
        .await
        .into_iter()
        .filter(|e| {
            e.action == "export.create"
                && e.outcome == custos_audit::Outcome::Refused
                && e.detail
                    .as_deref()
                    .is_some_and(|d| d.contains("download link"))
        })
        .count();
    assert_eq!(refused, 4);
    assert_eq!(kept(), 0);

    // A link for two downloads over two days.
    let created = w
        .call(
            "POST",
            &exports,
            Some(&tr),
            Some(with_link(
                serde_json::json!({"valid_hours": 48, "max_downloads": 2}),
            )),
            &[],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json());
    let link = created.json();
    let page = link["page"].as_str().unwrap().to_owned();
    let path = link["path"].as_str().unwrap().to_owned();
    let token = path.strip_prefix("/api/v1/downloads/").unwrap().to_owned();
    assert_eq!(page, format!("/download/{token}"));
    assert_eq!(token.len(), 64);
    let link_id: uuid::Uuid = link["link_id"].as_str().unwrap().parse().unwrap();
    let export_id = link["export_id"].as_str().unwrap().to_owned();
    assert_eq!(link["max_downloads"], 2);
    assert_eq!(link["downloads"], 0);
    assert!(
        link.get("token_sha256").is_none() && link.get("blob_key").is_none(),
        "{link}"
    );
    // Kept encrypted, under its export's name; the token itself is nowhere.
    let stored = std::fs::read(
        w.data
            .join("blobs/exports")
            .join(format!("{export_id}.tar.age")),
    )
    .unwrap();
    assert!(stored.starts_with(b"age-encryption.org/v1"));
    assert_eq!(link["size"], stored.len() as u64);
    assert_eq!(
        link["package_sha256"].as_str().unwrap(),
        hex::encode(custos_format::sha256(&stored))
    );
    let row = w
        .server
        .deployment
        .catalog
        .export_link(link_id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(row.token_sha256, token);
    assert!(audit(&w)
        .await
        .iter()
        .all(|e| !serde_json::to_string(e).unwrap().contains(&token)));
    let made = audit(&w)
        .await
        .into_iter()
        .find(|e| e.action == "export-link.create")
        .unwrap();
    assert_eq!(
        (
            made.actor.as_str(),
            made.purpose.as_deref(),
            made.case.as_deref()
        ),
        ("user:rita", Some("investigation"), Some(case.as_str()))
    );
    assert_eq!(made.object, Some(format!("export:{export_id}")));

    // The case lists it for those who may export (no token), not for an admin.
    let links = w
        .call(
            "GET",
            &format!("/api/v1/cases/{case}/export-links"),
            Some(&tp),
            None,
            &[],
        )
        .await;
    assert_eq!(links.status, 200);
    assert_eq!(links.json()[0]["link_id"], link_id.to_string());
    assert!(!String::from_utf8_lossy(&links.body).contains(&token));
    assert_eq!(
        w.call(
            "GET",
            &format!("/api/v1/cases/{case}/export-links"),
            Some(&ta),
            None,
            &[]
        )
        .await
        .status,
        403
    );

    // The recipient's page says what the package is; looking is not downloading.
    let landing = w.call("GET", &page, None, None, &[]).await;
    assert_eq!(landing.status, 200);
    // (minijinja writes `/` in attributes as `&#x2f;`; browsers read it back.)
    let html = String::from_utf8_lossy(&landing.body).replace("&#x2f;", "/");
    assert!(html.contains(link["package_sha256"].as_str().unwrap()));
    assert!(html.contains(&format!("action=\"{path}\"")));
    assert_eq!(landing.header("referrer-policy"), Some("no-referrer"));

    // Downloads, without an account: the package, whole and verifiable.
    let downloads_before = audit(&w).await.len();
    let first = w.call("POST", &path, None, None, &[]).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, stored);
    assert_eq!(
        first.header("custos-package-sha256"),
        link["package_sha256"].as_str()
    );
    let tmp = tempfile::tempdir().unwrap();
    let delivered = tmp.path().join("package.tar.age");
    std::fs::write(&delivered, &first.body).unwrap();
    let (code, out) = verify_package(&delivered, &[]);
    assert_eq!(code, 0, "{out}");
    let events = audit(&w).await;
    let downloaded: Vec<_> = events[downloads_before..]
        .iter()
        .filter(|e| e.action == "export.download")
        .collect();
    assert_eq!(downloaded.len(), 1);
    assert_eq!(
        (
            downloaded[0].actor.clone(),
            downloaded[0].outcome,
            downloaded[0].purpose.as_deref(),
            downloaded[0].case.as_deref(),
            downloaded[0].client.as_deref(),
            downloaded[0].object.clone(),
        ),
        (
            format!("link:{link_id}"),
            custos_audit::Outcome::Ok,
            Some("investigation"),
            Some(case.as_str()),
            Some("127.0.0.1"),
            Some(format!("export:{export_id}")),
        )
    );
    assert!(downloaded[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("download 1 of 2"));
    assert_eq!(w.call("POST", &path, None, None, &[]).await.status, 200);
    // Used up: refused, audited, and the page says so.
    let third = w.call("POST", &path, None, None, &[]).await;
    assert_eq!(
        (third.status, third.json()["error"]["code"].as_str()),
        (410, Some("link-used-up"))
    );
    let landing = w.call("GET", &page, None, None, &[]).await;
    assert_eq!(landing.status, 410);
    assert!(String::from_utf8_lossy(&landing.body).contains("data-state=\"used-up\""));

    // Garbage, truncated and forged tokens name no link: 404, audited, nothing counted.
    let mut forged = token.clone().into_bytes();
    forged[10] = if forged[10] == b'0' { b'1' } else { b'0' };
    let forged = String::from_utf8(forged).unwrap();
    let before = audit(&w).await.len();
    for bad in [
        "x".to_owned(),
        token[..63].to_owned(),
        token.to_uppercase(),
        forged,
        row.token_sha256.clone(),
    ] {
        let answer = w
            .call("POST", &format!("/api/v1/downloads/{bad}"), None, None, &[])
            .await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (404, Some("link-unknown")),
            "{bad}"
        );
        assert_eq!(
            w.call("GET", &format!("/download/{bad}"), None, None, &[])
                .await
                .status,
            404
        );
    }
    // No token at all: refused at the edge, before any lookup, and audited.
    for bad in [format!("{token}0"), "%00".to_owned()] {
        let answer = w
            .call("POST", &format!("/api/v1/downloads/{bad}"), None, None, &[])
            .await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (400, Some("malformed-request")),
            "{bad}"
        );
        assert_eq!(
            w.call("GET", &format!("/download/{bad}"), None, None, &[])
                .await
                .status,
            400
        );
    }
    let entries = audit(&w).await[before..].to_vec();
    let unknown: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "export.download")
        .cloned()
        .collect();
    assert_eq!(unknown.len(), 5);
    let malformed = entries
        .iter()
        .filter(|e| e.action == "request.refused" && e.actor == "anonymous")
        .count();
    assert_eq!(malformed, 4, "each refused at the edge is on record");
    assert!(unknown.iter().all(|e| e.actor == "anonymous"
        && e.outcome == custos_audit::Outcome::Refused
        && e.case.is_none()));
    let row = w
        .server
        .deployment
        .catalog
        .export_link(link_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.downloads, 2);

    // A link for one hour: an hour later it serves no more.
    let make = |hours: u32, tr: String| {
        let w = &w;
        let exports = exports.clone();
        async move {
            let answer = w
                .call(
                    "POST",
                    &exports,
                    Some(&tr),
                    Some(with_link(serde_json::json!({"valid_hours": hours}))),
                    &[],
                )
                .await;
            assert_eq!(answer.status, 201, "{}", answer.json());
            answer.json()
        }
    };
    let short = make(1, tr.clone()).await;
    let short_path = short["path"].as_str().unwrap().to_owned();
    assert_eq!(short["max_downloads"], 3, "three downloads unless told");
    w.clock_offset
        .fetch_add(3_600_000, std::sync::atomic::Ordering::SeqCst);
    let late = w.call("POST", &short_path, None, None, &[]).await;
    assert_eq!(
        (late.status, late.json()["error"]["code"].as_str()),
        (410, Some("link-expired"))
    );
    // An hour idle ended the sessions: sign in again.
    let (tr, tp, ta) = (
        w.sign_in(&rita).await,
        w.sign_in(&petra).await,
        w.sign_in(&adam).await,
    );

    // Revoked by the privacy officer: at once, and the package goes with it.
    let revocable = make(24, tr.clone()).await;
    let revocable_id = revocable["link_id"].as_str().unwrap().to_owned();
    let revocable_blob = w.data.join("blobs/exports").join(format!(
        "{}.tar.age",
        revocable["export_id"].as_str().unwrap()
    ));
    assert!(revocable_blob.exists());
    let revoke = format!("/api/v1/export-links/{revocable_id}/revoke");
    assert_eq!(
        w.call("POST", &revoke, Some(&ta), None, &[]).await.status,
        403
    );
    let revoked = w.call("POST", &revoke, Some(&tp), None, &[]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.json());
    assert_eq!(revoked.json()["revoked_by"], "petra");
    assert!(!revocable_blob.exists());
    assert_eq!(
        w.call("POST", &revoke, Some(&tr), None, &[]).await.status,
        409
    );
    for id in ["nonsense", "0190f0c4-0000-7000-8000-000000000001"] {
        let answer = w
            .call(
                "POST",
                &format!("/api/v1/export-links/{id}/revoke"),
                Some(&tr),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, 404, "{id}");
    }
    let gone = w
        .call("POST", revocable["path"].as_str().unwrap(), None, None, &[])
        .await;
    assert_eq!(
        (gone.status, gone.json()["error"]["code"].as_str()),
        (410, Some("link-revoked"))
    );
    let revocation = audit(&w)
        .await
        .into_iter()
        .find(|e| e.action == "export-link.revoke" && e.outcome == custos_audit::Outcome::Ok)
        .unwrap();
    assert_eq!(
        (
            revocation.actor.as_str(),
            revocation.role.as_deref(),
            revocation.case.as_deref()
        ),
        ("user:petra", Some("privacy-officer"), Some(case.as_str()))
    );

    // A kept package that is damaged (cut short) on disk: the download
    // breaks off and the log says so.
    let damaged = make(24, tr.clone()).await;
    let damaged_blob = w.data.join("blobs/exports").join(format!(
        "{}.tar.age",
        damaged["export_id"].as_str().unwrap()
    ));
    let bytes = std::fs::read(&damaged_blob).unwrap();
    std::fs::write(&damaged_blob, &bytes[..bytes.len() / 2]).unwrap();
    let agent = agent(&w);
    let url = format!("{}{}", w.base(), damaged["path"].as_str().unwrap());
    let (status, received) = tokio::task::spawn_blocking(move || {
        let mut response = agent.post(&url).send_empty().unwrap();
        let mut body = Vec::new();
        let read = std::io::Read::read_to_end(&mut response.body_mut().as_reader(), &mut body);
        (response.status().as_u16(), read.map(|_| body.len()))
    })
    .await
    .unwrap();
    assert_eq!(
        status, 200,
        "the link served; the failure comes while sending"
    );
    assert!(
        received.is_err(),
        "the body breaks off instead of ending short: {received:?}"
    );
    // Durable before the body broke off.
    let failed: Vec<_> = audit(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "export.download" && e.outcome == custos_audit::Outcome::Failed)
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "a broken-off download is audited as failed"
    );
    assert!(failed[0].detail.as_deref().unwrap().contains("broken off"));
    assert_eq!(failed[0].case.as_deref(), Some(case.as_str()));

    // The sweeper removes what can no longer serve: the expired link's
    // package now, the others once their time is up.
    let report = w.sweep(w.now()).await;
    assert_eq!(report.links_closed, 1, "the one-hour link");
    assert_eq!(kept(), 2, "the two-download link and the damaged one");
    let report = w.sweep(w.now().plus_millis(48 * 3_600_000)).await;
    assert_eq!(report.links_closed, 2);
    assert_eq!(kept(), 0);
    assert_eq!(
        w.sweep(w.now().plus_millis(96 * 3_600_000))
            .await
            .links_closed,
        0
    );
    let removals = audit(&w)
        .await
        .into_iter()
        .filter(|e| e.action == "export-link.remove")
        .count();
    assert_eq!(removals, 3);
    let listed = w
        .call(
            "GET",
            &format!("/api/v1/cases/{case}/export-links"),
            Some(&tr),
            None,
            &[],
        )
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 4);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|l| !l["removed_at"].is_null()));
}

/// `custos export` for scripts: a package to a file, or a download link;
/// refusals are the server's words, and no file is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_command_writes_a_package_or_makes_a_link_and_refusals_leave_nothing() {
    let w = world().await;
    let cam = w.camera("cam-c", 1, true).await;
    w.offload(&cam).await;
    let recording = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .remove(0);
    let rita = w.add_user("rita", "reviewer", None).await;
    let tr = w.sign_in(&rita).await;
    let case = open_case(&w, &tr, "incident").await;
    let hold = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/holds"),
            Some(&tr),
            Some(serde_json::json!({"recording_id": recording.recording_id, "reason": "x"})),
            &[],
        )
        .await;
    assert_eq!(hold.status, 201);
    let tmp = tempfile::tempdir().unwrap();
    let cert = tmp.path().join("server.pem");
    std::fs::write(&cert, &w.server.certificate_pem).unwrap();
    let (base, token) = (w.base(), tr.clone());
    let export = move |extra: Vec<String>| {
        let (cert, base, token, case) = (cert.clone(), base.clone(), token.clone(), case.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_custos"))
                    .arg("export")
                    .args(["--server", &base, "--case", &case, "--for", "OM Rotterdam"])
                    .arg("--server-cert")
                    .arg(&cert)
                    .env("CUSTOS_TOKEN", &token)
                    .args(extra)
                    .stdin(std::process::Stdio::null())
                    .output()
                    .unwrap();
                (
                    out.status.code().unwrap_or(-1),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            })
            .await
            .unwrap()
        }
    };
    let passphrase_in = |stdout: &str| {
        let marker = "One-time passphrase (shown only now): ";
        let at = stdout.find(marker).unwrap() + marker.len();
        stdout[at..at + stdout[at..].find('\n').unwrap()].to_owned()
    };
    let file = tmp.path().join("package.tar.age");
    let s = |v: &str| v.to_owned();
    let path = file.to_str().unwrap().to_owned();

    // A package to a file, opened with the passphrase printed once.
    let (code, stdout, stderr) = export(vec![
        s("--purpose"),
        s("investigation"),
        s("--out"),
        path.clone(),
    ])
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let passphrase = passphrase_in(&stdout);
    let package = std::fs::read(&file).unwrap();
    let tar = open_package(&package, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    assert!(custos_export::verify::verify(&contents, &Default::default()).ok());

    // An existing file is never overwritten, and the server is not asked.
    let exports_before = audit(&w)
        .await
        .iter()
        .filter(|e| e.action == "export.create")
        .count();
    let (code, _, stderr) = export(vec![
        s("--purpose"),
        s("investigation"),
        s("--out"),
        path.clone(),
    ])
    .await;
    assert_ne!(code, 0);
    assert!(stderr.contains("must not exist yet"), "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), package);
    assert_eq!(
        audit(&w)
            .await
            .iter()
            .filter(|e| e.action == "export.create")
            .count(),
        exports_before
    );

    // Refusals: the server's reason, and no file left behind.
    let other = tmp
        .path()
        .join("other.tar.age")
        .to_str()
        .unwrap()
        .to_owned();
    for (extra, words) in [
        (
            vec![s("--purpose"), s("curiosity"), s("--out"), other.clone()],
            "not on this deployment's list",
        ),
        (
            vec![
                s("--purpose"),
                s("investigation"),
                s("--to"),
                s("age1nonsense"),
                s("--out"),
                other.clone(),
            ],
            "age public key",
        ),
        (
            vec![
                s("--purpose"),
                s("investigation"),
                s("--link-hours"),
                s("100000"),
            ],
            "download link is valid from 1 to 168 hours",
        ),
    ] {
        let (code, stdout, stderr) = export(extra.clone()).await;
        assert_ne!(code, 0, "{extra:?}: {stdout}");
        assert!(stderr.contains("the server refused the export"), "{stderr}");
        assert!(stderr.contains(words), "{extra:?}: {stderr}");
        assert!(!std::path::Path::new(&other).exists());
    }
    // Arguments that do not go together are refused before anything happens.
    let (code, _, stderr) = export(vec![
        s("--purpose"),
        s("investigation"),
        s("--out"),
        other.clone(),
        s("--link-downloads"),
        s("2"),
    ])
    .await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("--link-downloads goes with --link-hours"),
        "{stderr}"
    );
    assert!(!std::path::Path::new(&other).exists());
    for extra in [
        vec![s("--purpose"), s("investigation")],
        vec![
            s("--purpose"),
            s("investigation"),
            s("--out"),
            other.clone(),
            s("--link-hours"),
            s("24"),
        ],
    ] {
        let (code, _, stderr) = export(extra.clone()).await;
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert!(stderr.contains("Usage: custos export"), "{stderr}");
        assert!(!std::path::Path::new(&other).exists());
    }

    // A download link, printed once; it serves the package.
    let (code, stdout, stderr) = export(vec![
        s("--purpose"),
        s("investigation"),
        s("--link-hours"),
        s("24"),
        s("--link-downloads"),
        s("1"),
    ])
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let url = {
        let at = stdout.find("Download link (shown only now): ").unwrap() + 32;
        stdout[at..at + stdout[at..].find('\n').unwrap()].to_owned()
    };
    let token = url
        .strip_prefix(&format!("{}/download/", w.base()))
        .unwrap_or_else(|| panic!("{url}"))
        .to_owned();
    let passphrase = passphrase_in(&stdout);
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
    let tar = open_package(&fetched.body, &passphrase);
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    assert!(custos_export::verify::verify(&contents, &Default::default()).ok());
}

/// A data subject's access request: taken in by the privacy officer (the
/// requester's details never reach the audit log), due one calendar month
/// after receipt and extendable by two with a reason; the search finds the
/// recordings that overlap the window and pass the place (or cannot be
/// placed), holds them so retention cannot destroy them, and leaves out
/// the rest — which retention then deletes as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_access_request_is_taken_in_due_in_a_month_and_finds_footage_by_time_and_place() {
    let w = world().await;
    // Three cameras: one walking near the place, one 3 km away, one without GPS.
    for (name, start) in [
        ("cam-near", Some([519_220_000_i64, 44_790_000_i64])),
        ("cam-far", Some([519_490_000, 44_790_000])),
        ("cam-nogps", None),
    ] {
        let cam = w.camera(name, 0, true).await;
        let mut config = cam.load_config().unwrap();
        config.simulated_gps = start.is_some();
        config.simulated_gps_start = start;
        cam.save_config(&config).unwrap();
        record_frames(&cam, 1, 30);
        w.offload(&cam).await;
    }
    let recordings = w.server.deployment.catalog.recordings().await.unwrap();
    let id_of = |device: &str| {
        recordings
            .iter()
            .find(|r| r.device_id == device)
            .unwrap()
            .recording_id
    };
    let earliest = recordings.iter().map(|r| r.started_at).min().unwrap();
    let latest = recordings.iter().map(|r| r.ended_at).max().unwrap();
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let adam = w.add_user("adam", "admin", None).await;
    let (tp, tr, ta) = (
        w.sign_in(&petra).await,
        w.sign_in(&rita).await,
        w.sign_in(&adam).await,
    );
    let received = w.now().plus_millis(-3 * DAY);
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    let intake = |extra: serde_json::Value| {
        let mut body = serde_json::json!({
            "requester": "Johanna Jansen",
            "contact": "j.jansen@example.nl",
            "identity_check": "passport shown at the Stadswinkel, no copy kept",
            "description": "red coat, spoken to about cycling on the pavement",
            "window_from": rfc(earliest.plus_millis(-60_000)),
            "window_to": rfc(latest.plus_millis(60_000)),
            "place": {"lat": 51.9222, "lon": 4.4790, "radius_m": 300},
            "received_at": rfc(received),
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let open = |token: String, body: serde_json::Value| {
        let w = &w;
        async move {
            w.call(
                "POST",
                "/api/v1/subject-requests",
                Some(&token),
                Some(body),
                &[],
            )
            .await
        }
    };

    // Only the privacy officer takes requests in.
    for token in [&tr, &ta] {
        assert_eq!(
            open(token.clone(), intake(serde_json::json!({})))
                .await
                .status,
            403
        );
    }
    assert_eq!(
        w.call(
            "POST",
            "/api/v1/subject-requests",
            None,
            Some(intake(serde_json::json!({}))),
            &[]
        )
        .await
        .status,
        401
    );
    // Bad input: a reason each, nothing opened.
    for (extra, code) in [
        (serde_json::json!({"requester": " "}), "invalid"),
        (serde_json::json!({"identity_check": ""}), "invalid"),
        (serde_json::json!({"description": "a\u{0}b"}), "invalid"),
        (
            serde_json::json!({"window_from": rfc(latest), "window_to": rfc(earliest)}),
            "bad-window",
        ),
        (
            serde_json::json!({"window_from": rfc(earliest.plus_millis(-40 * DAY)), "window_to": rfc(latest)}),
            "bad-window",
        ),
        (
            serde_json::json!({"window_from": rfc(w.now().plus_millis(DAY)), "window_to": rfc(w.now().plus_millis(2 * DAY))}),
            "bad-window",
        ),
        (
            serde_json::json!({"place": {"lat": 51.9, "lon": 4.4, "radius_m": 5}}),
            "bad-place",
        ),
        (
            serde_json::json!({"place": {"lat": 91.0, "lon": 4.4, "radius_m": 100}}),
            "bad-place",
        ),
        (
            serde_json::json!({"received_at": rfc(w.now().plus_millis(DAY))}),
            "bad-received",
        ),
        (
            serde_json::json!({"received_at": rfc(w.now().plus_millis(-400 * DAY))}),
            "bad-received",
        ),
        (
            serde_json::json!({"case_id": "no spaces allowed"}),
            "invalid",
        ),
        (serde_json::json!({"window_from": "yesterday"}), "invalid"),
        (serde_json::json!({"requester": null}), "invalid"),
        (serde_json::json!({"surplus": 1}), "invalid"),
    ] {
        let answer = open(tp.clone(), intake(extra.clone())).await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (400, Some(code)),
            "{extra}"
        );
    }
    assert!(w
        .server
        .deployment
        .catalog
        .cases()
        .await
        .unwrap()
        .is_empty());

    let opened = open(
        tp.clone(),
        intake(serde_json::json!({"case_id": "SAR-2026-7"})),
    )
    .await;
    assert_eq!(opened.status, 201, "{}", opened.json());
    let view = opened.json();
    assert_eq!(view["case"]["kind"], "subject-access-request");
    assert_eq!(view["case"]["label"], "subject access request");
    assert_eq!(
        view["case"]["due_at"],
        rfc(custos_server::subject::months_after(received, 1))
    );
    assert_eq!(
        view["latest_due_at"],
        rfc(custos_server::subject::months_after(received, 3))
    );
    assert_eq!(view["request"]["requester"], "Johanna Jansen");
    assert_eq!(view["request"]["place"]["radius_m"], 300);
    assert_eq!(
        open(
            tp.clone(),
            intake(serde_json::json!({"case_id": "SAR-2026-7"}))
        )
        .await
        .status,
        409
    );
    let case = "SAR-2026-7";
    let base = format!("/api/v1/subject-requests/{case}");
    assert_eq!(w.call("GET", &base, Some(&tr), None, &[]).await.status, 403);
    let read = w.call("GET", &base, Some(&tp), None, &[]).await;
    assert_eq!(read.status, 200);
    assert_eq!(
        read.json()["request"]["identity_check"],
        view["request"]["identity_check"]
    );
    assert_eq!(
        w.call(
            "GET",
            "/api/v1/subject-requests/K-none",
            Some(&tp),
            None,
            &[]
        )
        .await
        .status,
        404
    );

    // The search: the near camera and the one that cannot be placed; held.
    let search = format!("{base}/search");
    assert_eq!(
        w.call("POST", &search, Some(&tr), Some(serde_json::json!({})), &[])
            .await
            .status,
        403
    );
    let found = w
        .call("POST", &search, Some(&tp), Some(serde_json::json!({})), &[])
        .await;
    assert_eq!(found.status, 200, "{}", found.json());
    let mut devices: Vec<(String, bool, bool)> = found
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["device_id"].as_str().unwrap().to_owned(),
                c["location_known"].as_bool().unwrap(),
                c["distance_m"].as_u64().is_some_and(|m| m <= 300),
            )
        })
        .collect();
    devices.sort();
    assert_eq!(
        devices,
        [
            ("cam-near".to_owned(), true, true),
            ("cam-nogps".to_owned(), false, false)
        ]
    );
    let holds = w
        .server
        .deployment
        .catalog
        .holds_for_case(case)
        .await
        .unwrap();
    assert_eq!(holds.len(), 2);
    assert!(holds
        .iter()
        .all(|h| h.approved_at.is_some() && h.released_at.is_none()));
    // Searching again holds nothing twice; narrowing by camera.
    let again = w
        .call(
            "POST",
            &search,
            Some(&tp),
            Some(serde_json::json!({"device_id": "cam-nogps"})),
            &[],
        )
        .await;
    assert_eq!(again.json().as_array().unwrap().len(), 1);
    assert_eq!(
        again.json()[0]["recording_id"],
        id_of("cam-nogps").to_string()
    );
    assert_eq!(
        w.server
            .deployment
            .catalog
            .holds_for_case(case)
            .await
            .unwrap()
            .len(),
        2
    );
    for bad in [
        serde_json::json!({"device_id": ""}),
        serde_json::json!({"camera": "x"}),
    ] {
        assert_eq!(
            w.call("POST", &search, Some(&tp), Some(bad.clone()), &[])
                .await
                .status,
            400,
            "{bad}"
        );
    }
    // A window before any recording finds nothing (and holds nothing).
    let empty = open(
        tp.clone(),
        intake(serde_json::json!({
            "case_id": "SAR-2026-8",
            "window_from": rfc(earliest.plus_millis(-3 * 3_600_000 * 24)),
            "window_to": rfc(earliest.plus_millis(-2 * 3_600_000 * 24)),
            "place": null,
        })),
    )
    .await;
    assert_eq!(empty.status, 201);
    let none = w
        .call(
            "POST",
            "/api/v1/subject-requests/SAR-2026-8/search",
            Some(&tp),
            Some(serde_json::json!({})),
            &[],
        )
        .await;
    assert_eq!(none.json(), serde_json::json!([]));

    // The retention clock: what the request holds stays, the rest goes.
    let report = w.sweep(w.now().plus_millis(60 * DAY)).await;
    assert_eq!(report.deleted, 1);
    let left: Vec<String> = w
        .server
        .deployment
        .catalog
        .recordings()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.device_id)
        .collect();
    assert!(
        !left.contains(&"cam-far".to_owned()) && left.len() == 2,
        "{left:?}"
    );

    // The deadline: extended once by up to two months, with a reason.
    let extend = format!("{base}/extend");
    for (body, status) in [
        (
            serde_json::json!({"months": 3, "reason": "many recordings"}),
            400,
        ),
        (
            serde_json::json!({"months": 0, "reason": "many recordings"}),
            400,
        ),
        (serde_json::json!({"months": 2, "reason": " "}), 400),
        (serde_json::json!({"months": 2}), 400),
    ] {
        assert_eq!(
            w.call("POST", &extend, Some(&tp), Some(body.clone()), &[])
                .await
                .status,
            status,
            "{body}"
        );
    }
    assert_eq!(
        w.call(
            "POST",
            &extend,
            Some(&tr),
            Some(serde_json::json!({"months": 1, "reason": "x"})),
            &[]
        )
        .await
        .status,
        403
    );
    let extended = w
        .call(
            "POST",
            &extend,
            Some(&tp),
            Some(serde_json::json!({"months": 2, "reason": "forty recordings to redact by hand"})),
            &[],
        )
        .await;
    assert_eq!(extended.status, 200, "{}", extended.json());
    assert_eq!(
        extended.json()["case"]["due_at"],
        rfc(custos_server::subject::months_after(received, 3))
    );
    assert_eq!(extended.json()["request"]["extended_by"], "petra");
    let shorter = w
        .call(
            "POST",
            &extend,
            Some(&tp),
            Some(serde_json::json!({"months": 1, "reason": "x"})),
            &[],
        )
        .await;
    assert_eq!(
        (shorter.status, shorter.json()["error"]["code"].as_str()),
        (409, Some("not-later"))
    );

    // The audit log names the case and the purpose, never the requester.
    let entries = audit(&w).await;
    let text = serde_json::to_string(&entries).unwrap();
    for secret in [
        "Johanna",
        "Jansen",
        "j.jansen@example.nl",
        "passport",
        "red coat",
        "forty recordings",
    ] {
        assert!(!text.contains(secret), "{secret} in the audit log");
    }
    let searched: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "subject-request.search" && e.case.as_deref() == Some(case))
        .collect();
    assert_eq!(searched.len(), 2);
    assert!(searched
        .iter()
        .all(|e| e.purpose.as_deref() == Some("subject-access-request")));
    for action in [
        "subject-request.open",
        "subject-request.read",
        "subject-request.extend",
    ] {
        assert!(
            entries.iter().any(|e| e.action == action
                && e.case.as_deref() == Some(case)
                && e.outcome == custos_audit::Outcome::Ok),
            "{action}"
        );
    }
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == "hold.place" && e.case.as_deref() == Some(case))
            .count(),
        2
    );

    // Closed: nothing more is searched or extended.
    let closed = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/close"),
            Some(&tp),
            None,
            &[],
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.json());
    assert_eq!(
        w.call("POST", &search, Some(&tp), Some(serde_json::json!({})), &[])
            .await
            .status,
        409
    );
    assert_eq!(
        w.call(
            "POST",
            &extend,
            Some(&tp),
            Some(serde_json::json!({"months": 2, "reason": "x"})),
            &[]
        )
        .await
        .status,
        409
    );
}

/// A redacted copy for a subject access request: made from a recording the
/// request holds, stored encrypted like recordings (its key in the catalog,
/// zeros in the blob), played only for its request, with its own hash; the
/// original is untouched; a render that fails leaves nothing; the copy goes
/// when its source goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redacted_copy_is_made_for_a_request_played_for_it_and_deleted_with_its_source() {
    let w = world().await;
    let cam = w.camera("cam-r", 0, true).await;
    record_frames(&cam, 2, 45);
    w.offload(&cam).await;
    let mut recordings = w.server.deployment.catalog.recordings().await.unwrap();
    recordings.sort_by_key(|r| r.sequence);
    let (source, other) = (recordings[0].clone(), recordings[1].clone());
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
                "case_id": "SAR-R", "requester": "A. Visser", "identity_check": "ID card",
                "description": "grey hoodie",
                "window_from": rfc(source.started_at.plus_millis(-1_000)),
                "window_to": rfc(source.ended_at),
            })),
            &[],
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.json());
    let found = w
        .call(
            "POST",
            "/api/v1/subject-requests/SAR-R/search",
            Some(&tp),
            Some(serde_json::json!({})),
            &[],
        )
        .await;
    let held: Vec<String> = found
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["recording_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(held.contains(&source.recording_id.to_string()));
    assert!(!held.contains(&other.recording_id.to_string()), "{held:?}");
    let source_blob = w.data.join("blobs").join(&source.blob_key);
    let source_before = std::fs::read(&source_blob).unwrap();
    let plan = serde_json::json!({"tracks": [{"label": "passer-by", "kind": "pixelate",
        "keyframes": [{"at_millis": 0, "x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}]}]});
    let derivatives = "/api/v1/subject-requests/SAR-R/derivatives";

    // Refused: the wrong role, a broken plan, a recording not held for it.
    let make = |token: String, body: serde_json::Value| {
        let w = &w;
        async move {
            w.call("POST", derivatives, Some(&token), Some(body), &[])
                .await
        }
    };
    assert_eq!(
        make(
            tr.clone(),
            serde_json::json!({"recording_id": source.recording_id, "plan": plan})
        )
        .await
        .status,
        403
    );
    for (body, status, code) in [
        (
            serde_json::json!({"recording_id": source.recording_id, "plan": {"tracks": [{"label": "x", "kind": "pixelate", "keyframes": [{"at_millis": 0, "x": 0.9, "y": 0.0, "w": 0.5, "h": 0.5}]}]}}),
            400,
            "bad-plan",
        ),
        (
            serde_json::json!({"recording_id": source.recording_id, "plan": {"tracks": "none"}}),
            400,
            "invalid",
        ),
        (
            serde_json::json!({"recording_id": other.recording_id, "plan": plan}),
            409,
            "not-held",
        ),
        (
            serde_json::json!({"recording_id": "0190f0c4-0000-7000-8000-000000000001", "plan": plan}),
            409,
            "not-held",
        ),
    ] {
        let answer = make(tp.clone(), body.clone()).await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
    }

    let made = make(
        tp.clone(),
        serde_json::json!({"recording_id": source.recording_id, "plan": plan}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.json());
    let derivative = made.json();
    let id = derivative["derivative_id"].as_str().unwrap().to_owned();
    assert_eq!(derivative["recording_id"], source.recording_id.to_string());
    let frames = derivative["frames"].as_u64().unwrap();
    assert!((45..=47).contains(&frames), "{frames}");
    assert!(derivative.get("age_header").is_none() && derivative.get("blob_key").is_none());
    assert_eq!(
        std::fs::read(&source_blob).unwrap(),
        source_before,
        "the original is only read"
    );
    // Stored as recordings are: no key in the blob, nothing readable.
    let stored = std::fs::read(w.data.join("blobs/derived").join(format!("{id}.age"))).unwrap();
    let row = w
        .server
        .deployment
        .catalog
        .derivative(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(row.age_header.starts_with(b"age-encryption.org/v1\n"));
    assert!(stored[..row.age_header.len()].iter().all(|b| *b == 0));
    assert!(!stored.windows(4).any(|w| w == b"moof" || w == b"ftyp"));
    assert_eq!(
        w.call("GET", derivatives, Some(&tp), None, &[])
            .await
            .json()[0]["derivative_id"],
        id.as_str()
    );

    // Played for its request only: the derived MP4, whose hash is recorded.
    let video = format!("/api/v1/derivatives/{id}/video");
    for (query, status) in [
        ("", 403),
        ("?purpose=complaint&case=SAR-R", 403),
        ("?purpose=subject-access-request&case=K-other", 403),
    ] {
        assert_eq!(
            w.call("GET", &format!("{video}{query}"), Some(&tp), None, &[])
                .await
                .status,
            status,
            "{query}"
        );
    }
    let good = format!("{video}?purpose=subject-access-request&case=SAR-R");
    assert_eq!(w.call("GET", &good, Some(&tr), None, &[]).await.status, 403);
    assert_eq!(
        w.call(
            "GET",
            "/api/v1/derivatives/nonsense/video?purpose=subject-access-request&case=SAR-R",
            Some(&tp),
            None,
            &[]
        )
        .await
        .status,
        404
    );
    let played = w.call("GET", &good, Some(&tp), None, &[]).await;
    assert_eq!(played.status, 200);
    assert_eq!(
        hex::encode(custos_format::sha256(&played.body)),
        derivative["sha256"].as_str().unwrap()
    );
    assert_eq!(
        played.body.len() as u64,
        derivative["plaintext_length"].as_u64().unwrap()
    );
    let part = w
        .call("GET", &good, Some(&tp), None, &[("range", "bytes=10-109")])
        .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, played.body[10..110]);
    assert_eq!(
        w.call(
            "GET",
            &good,
            Some(&tp),
            None,
            &[("range", "bytes=999999999-")]
        )
        .await
        .status,
        416
    );
    // Inside the box the picture is gone; outside it is as it was.
    let original = custos_redact::decode_all(std::io::Cursor::new(plaintext(&w, &source))).unwrap();
    let redacted = custos_redact::decode_all(std::io::Cursor::new(&played.body)).unwrap();
    assert_eq!(original.len(), redacted.len());
    assert_eq!(
        original.len() as u64,
        frames,
        "one derived frame per original frame"
    );
    let (width, height) = (original[0].width, original[0].height);
    let mean_diff = |a: &custos_redact::Picture,
                     b: &custos_redact::Picture,
                     x0: usize,
                     y0: usize,
                     x1: usize,
                     y1: usize| {
        let mut sum = 0f64;
        for row in y0..y1 {
            for col in x0..x1 {
                sum += (a.y[row * width + col] as f64 - b.y[row * width + col] as f64).abs();
            }
        }
        sum / ((x1 - x0) * (y1 - y0)) as f64
    };
    // The box (0.25..0.75 of 160×120) is 40..120 × 30..90: a mosaic of
    // 16-pixel blocks from (40, 30). Inside each block (away from its
    // edges, where the encoder rings) the derived picture is flat; the
    // original's scrolling colour bars are not.
    let block_range = |p: &custos_redact::Picture| {
        let mut total = 0f64;
        let mut blocks = 0f64;
        for by in [30, 46, 62] {
            for bx in [40, 56, 72, 88, 104] {
                let mut lo = 255u8;
                let mut hi = 0u8;
                for row in by + 3..by + 13 {
                    for col in bx + 3..bx + 13 {
                        let v = p.y[row * width + col];
                        lo = lo.min(v);
                        hi = hi.max(v);
                    }
                }
                total += f64::from(hi - lo);
                blocks += 1.0;
            }
        }
        total / blocks
    };
    let frames_n = original.len() as f64;
    let before: f64 = original.iter().map(block_range).sum::<f64>() / frames_n;
    let after: f64 = redacted.iter().map(block_range).sum::<f64>() / frames_n;
    assert!(
        after < 10.0 && before > after * 2.0 + 10.0,
        "inside the box, range within a block: {after:.1} derived vs {before:.1} original"
    );
    assert_eq!(height, 120);
    for (a, b) in original.iter().zip(&redacted) {
        assert!(mean_diff(a, b, 0, 0, width, 24) < 6.0, "above the box");
    }

    // The log: made for the request, before the original was read; played for it.
    let entries = audit(&w).await;
    let redacts: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "recording.redact")
        .collect();
    assert!(redacts
        .iter()
        .any(|e| e.outcome == custos_audit::Outcome::Ok
            && e.purpose.as_deref() == Some("subject-access-request")
            && e.case.as_deref() == Some("SAR-R")
            && e.object.as_deref() == Some(format!("recording:{}", source.recording_id).as_str())));
    assert!(entries
        .iter()
        .any(|e| e.action == "derivative.play" && e.outcome == custos_audit::Outcome::Refused));
    assert!(entries.iter().any(|e| e.action == "derivative.play"
        && e.outcome == custos_audit::Outcome::Ok
        && e.case.as_deref() == Some("SAR-R")));

    // A source that no longer decrypts: the render fails, audited, nothing kept.
    let mut damaged = source_before.clone();
    let at = damaged.len() - 100;
    damaged[at] ^= 1;
    std::fs::write(&source_blob, &damaged).unwrap();
    let failed = make(
        tp.clone(),
        serde_json::json!({"recording_id": source.recording_id, "plan": plan}),
    )
    .await;
    assert_eq!(
        (failed.status, failed.json()["error"]["code"].as_str()),
        (422, Some("render-failed"))
    );
    std::fs::write(&source_blob, &source_before).unwrap();
    assert_eq!(
        std::fs::read_dir(w.data.join("blobs/derived"))
            .unwrap()
            .count(),
        1
    );
    assert!(std::fs::read_dir(w.data.join("staging"))
        .unwrap()
        .all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("derived-")));
    assert!(audit(&w)
        .await
        .iter()
        .any(|e| e.action == "recording.redact" && e.outcome == custos_audit::Outcome::Failed));

    // Closed, released, and past retention: source and copy go together.
    let closed = w
        .call("POST", "/api/v1/cases/SAR-R/close", Some(&tp), None, &[])
        .await;
    assert_eq!(closed.status, 200);
    let report = w.sweep(w.now().plus_millis(90 * DAY)).await;
    assert_eq!((report.deleted, report.derivatives_deleted), (2, 1));
    assert_eq!(
        std::fs::read_dir(w.data.join("blobs/derived"))
            .unwrap()
            .count(),
        0
    );
    let row = w
        .server
        .deployment
        .catalog
        .derivative(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(row.deleted_at.is_some() && row.age_header.is_empty());
    assert!(audit(&w)
        .await
        .iter()
        .any(|e| e.action == "derivative.delete"));
    assert_eq!(
        w.sweep(w.now().plus_millis(91 * DAY))
            .await
            .derivatives_deleted,
        0
    );
}

/// The answer to a subject access request: an export package holding only
/// the request's redacted copies (no original, no neighbour, no audit
/// trail, no requester's name), encrypted to a passphrase or kept for a
/// one-download link, verifiable offline; the request records it, and its
/// closing says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_answered_with_only_its_redacted_copies_and_the_package_verifies() {
    let w = world().await;
    let cam = w.camera("cam-q", 0, true).await;
    record_frames(&cam, 2, 30);
    w.offload(&cam).await;
    let mut recordings = w.server.deployment.catalog.recordings().await.unwrap();
    recordings.sort_by_key(|r| r.sequence);
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let rita = w.add_user("rita", "reviewer", None).await;
    let (tp, tr) = (w.sign_in(&petra).await, w.sign_in(&rita).await);
    let rfc = |t: custos_format::UtcMillis| serde_json::to_value(t).unwrap();
    for case in ["SAR-D", "SAR-EMPTY"] {
        let opened = w
            .call(
                "POST",
                "/api/v1/subject-requests",
                Some(&tp),
                Some(serde_json::json!({
                    "case_id": case, "requester": "Cornelia Visser", "identity_check": "passport",
                    "description": "yellow bag",
                    "window_from": rfc(recordings[0].started_at.plus_millis(-1_000)),
                    "window_to": rfc(recordings[1].ended_at),
                })),
                &[],
            )
            .await;
        assert_eq!(opened.status, 201);
        let found = w
            .call(
                "POST",
                &format!("/api/v1/subject-requests/{case}/search"),
                Some(&tp),
                Some(serde_json::json!({})),
                &[],
            )
            .await;
        assert_eq!(found.status, 200);
    }
    let made = w
        .call(
            "POST",
            "/api/v1/subject-requests/SAR-D/derivatives",
            Some(&tp),
            Some(serde_json::json!({"recording_id": recordings[0].recording_id, "plan": {"tracks": [
                {"label": "p", "kind": "pixelate", "keyframes": [{"at_millis": 0, "x": 0.5, "y": 0.5, "w": 0.5, "h": 0.5}]}]}})),
            &[],
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.json());
    let derivative = made.json();
    let delivery = "/api/v1/subject-requests/SAR-D/delivery";
    let with = |extra: serde_json::Value| {
        let mut body = serde_json::json!({"passphrase": EXPORT_PASS});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };

    // Refused: another role, no protection, a copy of something else, nothing to give.
    assert_eq!(
        w.call(
            "POST",
            delivery,
            Some(&tr),
            Some(with(serde_json::json!({}))),
            &[]
        )
        .await
        .status,
        403
    );
    for (path, body, status, code) in [
        (
            delivery,
            with(serde_json::json!({"passphrase": null})),
            400,
            "protection-required",
        ),
        (
            delivery,
            with(serde_json::json!({"derivatives": ["0190f0c4-0000-7000-8000-000000000001"]})),
            409,
            "not-a-copy",
        ),
        (
            "/api/v1/subject-requests/SAR-EMPTY/delivery",
            with(serde_json::json!({})),
            409,
            "nothing-to-deliver",
        ),
        (
            "/api/v1/subject-requests/K-none/delivery",
            with(serde_json::json!({})),
            404,
            "not-found",
        ),
        (
            delivery,
            with(serde_json::json!({"link": {"valid_hours": 0}})),
            400,
            "bad-link",
        ),
    ] {
        let answer = w
            .call("POST", path, Some(&tp), Some(body.clone()), &[])
            .await;
        assert_eq!(
            (answer.status, answer.json()["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} {body}"
        );
    }

    let answer = w
        .call(
            "POST",
            delivery,
            Some(&tp),
            Some(with(serde_json::json!({"language": "nl"}))),
            &[],
        )
        .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let export_id = answer.header("custos-export-id").unwrap().to_owned();
    let tar = open_package(&answer.body, EXPORT_PASS);
    assert!(
        !tar.windows(7).any(|w| w == b"Visser ") && !tar.windows(6).any(|w| w == b"Visser"),
        "the requester's name is nowhere in the package"
    );
    let contents = custos_export::read::Contents::from_tar(&tar[..]).unwrap();
    let verdict = custos_export::verify::verify(&contents, &Default::default());
    assert!(verdict.ok(), "{:?}", verdict.findings);
    let id = derivative["derivative_id"].as_str().unwrap();
    let mut paths: Vec<&str> = contents.files.keys().map(String::as_str).collect();
    paths.sort();
    assert!(
        paths.iter().all(|p| !p.starts_with("recordings/")),
        "{paths:?}"
    );
    assert!(
        paths.contains(&format!("derived/{id}/video.mp4").as_str()),
        "{paths:?}"
    );
    assert!(paths.contains(&format!("derived/{id}/derivative.json").as_str()));
    let description: serde_json::Value =
        serde_json::from_slice(contents.bytes("export.json").unwrap()).unwrap();
    assert_eq!(
        description["recipient"],
        "the data subject of request SAR-D"
    );
    assert_eq!(description["purpose"], "subject-access-request");
    assert_eq!(description["derived"].as_array().unwrap().len(), 1);
    assert_eq!(description["recordings"], serde_json::json!([]));
    let record: serde_json::Value = serde_json::from_slice(
        contents
            .bytes(&format!("derived/{id}/derivative.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(record["sha256"], derivative["sha256"]);
    assert_eq!(
        record["source_recording_id"],
        recordings[0].recording_id.to_string()
    );
    assert_eq!(
        record["source_manifest_sha256"],
        hex::encode(recordings[0].manifest_sha256)
    );
    let report = String::from_utf8(contents.bytes("report.html").unwrap().to_vec()).unwrap();
    assert!(report.contains("Geanonimiseerde kopie"), "{report}");
    // Any change to the copy is named.
    let mut changed = contents.clone();
    changed
        .files
        .get_mut(&format!("derived/{id}/video.mp4"))
        .unwrap()
        .sha256[0] ^= 1;
    let verdict = custos_export::verify::verify(&changed, &Default::default());
    assert!(!verdict.ok());
    assert!(
        verdict
            .findings
            .iter()
            .any(|f| !f.ok && f.item == format!("derived/{id}/video.mp4")),
        "{:?}",
        verdict.findings
    );
    // And the offline verifier agrees on the delivered file.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("answer.tar.age");
    std::fs::write(&file, &answer.body).unwrap();
    let (code, out) = verify_package(&file, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("redacted copy {id}")), "{out}");
    // … and so do standard tools alone (docs/VERIFY.md).
    let unpacked = tmp.path().join("answer");
    std::fs::create_dir(&unpacked).unwrap();
    std::fs::write(tmp.path().join("answer.tar"), &tar).unwrap();
    assert!(std::process::Command::new("tar")
        .arg("-xmf")
        .arg(tmp.path().join("answer.tar"))
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap()
        .success());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/verify-export-with-standard-tools.sh"
    );
    let checked = std::process::Command::new("sh")
        .arg(script)
        .arg(&unpacked)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stdout).into_owned()
        + &String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{said}");
    assert!(
        said.contains("redacted copy, SHA-256 as recorded"),
        "{said}"
    );
    // A changed copy fails there too (its hash no longer as listed).
    let video = unpacked.join(format!("derived/{id}/video.mp4"));
    let mut bytes = std::fs::read(&video).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&video, &bytes).unwrap();
    assert!(!std::process::Command::new("sh")
        .arg(script)
        .arg(&unpacked)
        .output()
        .unwrap()
        .status
        .success());

    // A view-once link by default.
    let linked = w
        .call(
            "POST",
            delivery,
            Some(&tp),
            Some(with(serde_json::json!({"link": {"valid_hours": 48}}))),
            &[],
        )
        .await;
    assert_eq!(linked.status, 201, "{}", linked.json());
    assert_eq!(linked.json()["max_downloads"], 1);
    let path = linked.json()["path"].as_str().unwrap().to_owned();
    assert_eq!(w.call("POST", &path, None, None, &[]).await.status, 200);
    assert_eq!(w.call("POST", &path, None, None, &[]).await.status, 410);

    // The request records its latest answer; its closing says so.
    let view = w
        .call(
            "GET",
            "/api/v1/subject-requests/SAR-D",
            Some(&tp),
            None,
            &[],
        )
        .await
        .json();
    assert_eq!(
        view["request"]["delivered_export"],
        linked.json()["export_id"]
    );
    assert_ne!(view["request"]["delivered_export"], export_id.as_str());
    let closed = w
        .call("POST", "/api/v1/cases/SAR-D/close", Some(&tp), None, &[])
        .await;
    assert_eq!(closed.status, 200);
    let entries = audit(&w).await;
    let closing = entries
        .iter()
        .find(|e| e.action == "case.close" && e.case.as_deref() == Some("SAR-D"))
        .unwrap();
    assert!(
        closing
            .detail
            .as_deref()
            .unwrap()
            .starts_with("answered: export "),
        "{closing:?}"
    );
    assert_eq!(
        entries
            .iter()
            .filter(
                |e| e.action == "subject-request.deliver" && e.outcome == custos_audit::Outcome::Ok
            )
            .count(),
        2
    );
    assert!(entries.iter().any(|e| e.action == "derivative.export"
        && e.object.as_deref() == Some(format!("derivative:{id}").as_str())));
    assert!(!serde_json::to_string(&entries).unwrap().contains("Visser"));
}

/// Face proposals for the redaction editor: on a recording of the labelled
/// clip, the faces of the frame asked for are found (where the labels say),
/// only with a purpose and a case, and every ask is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faces_are_proposed_on_a_frame_for_a_purpose_and_audited() {
    let w = world().await;
    let cam = w.camera("cam-f", 0, true).await;
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
    let rita = w.add_user("rita", "reviewer", None).await;
    let adam = w.add_user("adam", "admin", None).await;
    let (tr, ta) = (w.sign_in(&rita).await, w.sign_in(&adam).await);
    let case = open_case(&w, &tr, "complaint").await;
    w.link(&tr, &case, r.recording_id).await;
    let path = |q: &str| format!("/api/v1/recordings/{}/faces{q}", r.recording_id);
    for (token, q, status) in [
        (&tr, String::new(), 403),
        (&tr, "?purpose=curiosity&case=x".to_owned(), 403),
        (&ta, format!("?purpose=complaint&case={case}"), 403),
        (&tr, format!("?purpose=complaint&case={case}&at=-1"), 400),
        (&tr, format!("?purpose=complaint&case={case}&at=soon"), 400),
    ] {
        assert_eq!(
            w.call("GET", &path(&q), Some(token), None, &[])
                .await
                .status,
            status,
            "{q}"
        );
    }
    let labels: serde_json::Value =
        serde_json::from_slice(include_bytes!("../../custos-faces/testdata/clip.json")).unwrap();
    let mut shown = Vec::new();
    for at in [0, 3] {
        let answer = w
            .call(
                "GET",
                &path(&format!("?purpose=complaint&case={case}&at={at}")),
                Some(&tr),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.json());
        let body = answer.json();
        // The keyframe at or before `at` (the camera's GOP decides which):
        // frame n of the recording shows clip frame n / 10 (30 fps).
        let at_millis = body["at_millis"].as_u64().unwrap();
        assert!(at_millis <= at * 1000);
        let clip_frame = (at_millis * 30 / 1000 / 10) as usize;
        shown.push(clip_frame);
        let found: Vec<custos_faces::Face> = body["faces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| custos_faces::Face {
                x: f["x"].as_f64().unwrap() as f32,
                y: f["y"].as_f64().unwrap() as f32,
                w: f["w"].as_f64().unwrap() as f32,
                h: f["h"].as_f64().unwrap() as f32,
                score: f["score"].as_f64().unwrap(),
            })
            .collect();
        let truth: Vec<custos_faces::Face> = labels["frames"][clip_frame]["faces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| custos_faces::Face {
                x: l["x"].as_f64().unwrap() as f32 / 480.0,
                y: l["y"].as_f64().unwrap() as f32 / 270.0,
                w: l["w"].as_f64().unwrap() as f32 / 480.0,
                h: l["h"].as_f64().unwrap() as f32 / 270.0,
                score: 0.0,
            })
            .collect();
        let (hits, proposed, labelled) = custos_faces::score(&found, &truth, 0.3);
        assert_eq!(labelled, 5);
        assert!(
            hits >= 4 && hits == proposed,
            "frame {clip_frame}: {hits} of {proposed} proposals on {labelled} faces"
        );
    }
    let entries = audit(&w).await;
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.action == "recording.faces" && e.outcome == custos_audit::Outcome::Ok)
            .count(),
        2
    );
    assert!(entries.iter().any(|e| e.action == "recording.faces"
        && e.outcome == custos_audit::Outcome::Refused
        && e.actor == "user:adam"));
}
