//! Playback, thumbnails, downloads and face proposals: each needs a purpose and a case, and is audited.

use super::*;

/// Camera cam-p's first recording, long enough to span several 64 KiB
/// encryption chunks, and its plaintext decrypted independently; a
/// reviewer (anna) signed in with a complaint's case, an officer (boa5)
/// and an admin (root).
struct Playback {
    w: World,
    r: custos_catalog::Recording,
    expected: Vec<u8>,
    officer: Account,
    admin: Account,
    token: String,
    case: String,
    video: String,
    /// The query stating the purpose and the case.
    purpose: String,
}

async fn playback() -> Playback {
    let w = world().await;
    // Long enough to span several 64 KiB encryption chunks.
    let cam = w.camera("cam-p", 0, true).await;
    record_frames(&cam, 2, 450);
    let (report, _) = w.offload(&cam).await;
    assert_eq!(report.stored, 2);
    let recordings = w.server.deployment.catalog.recordings().await.unwrap();
    let r = recordings[0].clone();
    let expected = plaintext(&w, &r);
    assert!(expected.len() > 3 * 65_536, "{} bytes", expected.len());
    let anna = w.add_user("anna", "reviewer", None).await;
    let officer = w.add_user("boa5", "officer", Some("boa-5")).await;
    let admin = w.add_user("root", "admin", None).await;
    let token = w.sign_in(&anna).await;
    let case = w.with_case(&token, "complaint").await;
    let video = format!("/api/v1/recordings/{}/video", r.recording_id);
    let purpose = format!("?purpose=complaint&case={case}");
    Playback {
        w,
        r,
        expected,
        officer,
        admin,
        token,
        case,
        video,
        purpose,
    }
}

impl Playback {
    /// The recording linked to the case, so that it may be played for it.
    async fn linked(self) -> Self {
        self.w
            .link(&self.token, &self.case, self.r.recording_id)
            .await;
        self
    }

    /// Anna plays the recording for the case, asking for `range` if any.
    async fn play(&self, range: Option<&str>) -> Answer {
        let range: Vec<(&str, &str)> = range.map(|r| ("range", r)).into_iter().collect();
        let path = format!("{}{}", self.video, self.purpose);
        self.w
            .call("GET", &path, Some(&self.token), None, &range)
            .await
    }
}

/// No purpose, a purpose not on the list, an unknown case, a case the
/// recording has nothing to do with: refused, audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playback_without_a_purpose_on_the_list_and_a_case_of_its_own_is_refused_and_audited() {
    let p = playback().await;
    let Playback {
        w,
        token,
        case,
        video,
        ..
    } = &p;
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
            .call("GET", &format!("{video}{query}"), Some(token), None, &[])
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, code),
            "{query}"
        );
    }
    let refused = audit(w)
        .await
        .into_iter()
        .filter(|e| e.action == "recording.play" && e.outcome == custos_audit::Outcome::Refused)
        .count();
    assert_eq!(refused, 5);
}

/// Roles that never see footage, whatever they state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_and_an_admin_never_play_footage_whatever_they_state() {
    let p = playback().await.linked().await;
    let Playback {
        w,
        officer,
        admin,
        video,
        purpose,
        ..
    } = &p;
    for who in [officer, admin] {
        let t = w.sign_in(who).await;
        let answer = w
            .call("GET", &format!("{video}{purpose}"), Some(&t), None, &[])
            .await;
        assert_eq!((answer.status, answer.code().as_str()), (403, "forbidden"));
    }
}

/// The whole recording, byte-exact against an independent decryption, and
/// audited before the first byte with its purpose and case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_recording_plays_byte_exact_and_is_audited_with_purpose_and_case() {
    let p = playback().await.linked().await;
    let Playback {
        w,
        r,
        expected,
        case,
        ..
    } = &p;
    let before = audit(w).await.len();
    let whole = p.play(None).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("content-type"), Some("video/mp4"));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("cache-control"), Some("no-store"));
    assert!(
        whole.body == *expected,
        "playback differs from the recording"
    );
    let entries = audit(w).await;
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
}

/// Ranges, random and at the edges of the encryption chunks, byte-exact;
/// a suffix range; ranges past the end or of another unit are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_of_a_recording_play_byte_exact_and_bad_ranges_are_refused() {
    let p = playback().await.linked().await;
    let expected = &p.expected;
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
        let answer = p.play(Some(&format!("bytes={a}-{b}"))).await;
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
    let suffix = p.play(Some("bytes=-100")).await;
    assert!(suffix.body == expected[expected.len() - 100..]);
    for (range, status) in [
        (format!("bytes={len}-"), 416),
        ("bytes=0-1,5-6".into(), 400),
        ("pages=1-2".into(), 400),
    ] {
        let answer = p.play(Some(&range)).await;
        assert_eq!(answer.status, status, "{range}");
    }
}

/// ffprobe, an outside reader, sees H.264 video in what was played.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_reader_sees_h264_video_in_what_was_played() {
    let p = playback().await.linked().await;
    let whole = p.play(None).await;
    let file = p.w.tmp.path().join("played.mp4");
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
}

/// Unknown recordings and garbage ids: 404, still audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_recordings_and_garbage_ids_are_not_found() {
    let p = playback().await.linked().await;
    let Playback {
        w, token, purpose, ..
    } = &p;
    for id in ["0190f0c4-0000-7000-8000-000000000001", "garbage"] {
        let answer = w
            .call(
                "GET",
                &format!("/api/v1/recordings/{id}/video{purpose}"),
                Some(token),
                None,
                &[],
            )
            .await;
        assert_eq!(answer.status, 404);
    }
}

/// A closed case opens nothing any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_case_opens_no_footage_any_more() {
    let p = playback().await.linked().await;
    let Playback { w, token, case, .. } = &p;
    let close = w
        .call(
            "POST",
            &format!("/api/v1/cases/{case}/close"),
            Some(token),
            None,
            &[],
        )
        .await;
    assert_eq!(close.status, 200, "{}", close.json());
    let answer = p.play(None).await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (409, "case-closed")
    );
}

/// Camera cam-th's recording of 91 frames (the stop takes effect at the
/// next frame: keyframes at 0, 1, 2 and 3 s), its plaintext as an mp4 file
/// of its own; a reviewer (anna) signed in, the recording linked to her
/// complaint's case.
struct Stills {
    w: World,
    r: custos_catalog::Recording,
    expected: Vec<u8>,
    mp4: std::path::PathBuf,
    token: String,
    case: String,
    base: String,
    /// The query's purpose and case.
    purpose: String,
}

async fn stills() -> Stills {
    let w = world().await;
    // 91 frames (the stop takes effect at the next frame): keyframes at 0, 1, 2 and 3 s.
    let r = w.one_recording("cam-th", 90).await;
    let expected = plaintext(&w, &r);
    let mp4 = w.tmp.path().join("independent.mp4");
    std::fs::write(&mp4, &expected).unwrap();
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let case = w.with_case(&token, "complaint").await;
    w.link(&token, &case, r.recording_id).await;
    let base = format!("/api/v1/recordings/{}", r.recording_id);
    let purpose = format!("purpose=complaint&case={case}");
    Stills {
        w,
        r,
        expected,
        mp4,
        token,
        case,
        base,
        purpose,
    }
}

impl Stills {
    /// Anna asks for `path`.
    async fn get(&self, path: &str) -> Answer {
        self.w.call("GET", path, Some(&self.token), None, &[]).await
    }
}

/// Without a purpose and case: refused and audited, for both; a thumbnail
/// at a time or of a size that makes no sense is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnails_and_downloads_without_purpose_or_with_bad_parameters_are_refused_and_audited() {
    let s = stills().await;
    let Stills {
        w, base, purpose, ..
    } = &s;
    for (path, action) in [
        (format!("{base}/thumbnail"), "recording.thumbnail"),
        (format!("{base}/download"), "recording.download"),
    ] {
        let answer = s.get(&path).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "purpose-required")
        );
        assert!(audit(w)
            .await
            .iter()
            .any(|e| e.action == action && e.outcome == custos_audit::Outcome::Refused));
    }
    for bad in ["at=-1", "at=abc", "at=1e12", "at=NaN", "size=9"] {
        let answer = s.get(&format!("{base}/thumbnail?{purpose}&{bad}")).await;
        assert_eq!(answer.status, 400, "{bad}");
    }
}

/// The frame shown is the keyframe at or before `at`, the one ffmpeg
/// decodes from an independent decryption; each thumbnail is audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thumbnail_is_the_keyframe_at_or_before_the_time_asked_and_is_audited() {
    let s = stills().await;
    let Stills {
        w,
        mp4,
        case,
        base,
        purpose,
        ..
    } = &s;
    for (at, frame, shown) in [("0", 0usize, "0"), ("2.5", 60, "2000")] {
        let answer = s.get(&format!("{base}/thumbnail?{purpose}&at={at}")).await;
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
        let same = mean_abs_diff(&thumb, &ffmpeg_rgb(mp4, Some(frame)));
        let other = mean_abs_diff(&thumb, &ffmpeg_rgb(mp4, Some(frame + 30)));
        assert!(
            same < 6.0 && other > same + 1.0,
            "at {at}: {same} vs {other}"
        );
    }
    let answer = s.get(&format!("{base}/thumbnail?{purpose}&at=999")).await;
    assert_eq!(
        answer.header("x-custos-frame-at-ms"),
        Some("3000"),
        "the last keyframe"
    );
    let thumbnails: Vec<_> = audit(w)
        .await
        .into_iter()
        .filter(|e| e.action == "recording.thumbnail" && e.outcome == custos_audit::Outcome::Ok)
        .collect();
    assert_eq!(thumbnails.len(), 3);
    assert_eq!(thumbnails[0].purpose.as_deref(), Some("complaint"));
    assert_eq!(thumbnails[0].case.as_deref(), Some(case.as_str()));
}

/// A download is the same bytes as a file to keep, audited as a download.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_is_the_recording_as_a_file_to_keep_audited_as_a_download_not_a_play() {
    let s = stills().await;
    let Stills {
        w,
        r,
        expected,
        base,
        purpose,
        ..
    } = &s;
    let download = s.get(&format!("{base}/download?{purpose}")).await;
    assert_eq!(download.status, 200);
    assert_eq!(download.body, *expected);
    assert_eq!(
        download.header("content-disposition"),
        Some(format!("attachment; filename=\"custos-{}.mp4\"", r.recording_id).as_str())
    );
    let log = audit(w).await;
    let entry = log
        .iter()
        .find(|e| e.action == "recording.download" && e.outcome == custos_audit::Outcome::Ok)
        .expect("the download is audited");
    assert_eq!(entry.actor, "user:anna");
    assert!(
        !log.iter().any(|e| e.action == "recording.play"),
        "not a play"
    );
}

/// An admin never gets either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_gets_neither_a_thumbnail_nor_a_download() {
    let s = stills().await;
    let Stills {
        w, base, purpose, ..
    } = &s;
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

/// Debian's Chromium plays the decrypted stream in a `<video>` and seeks in
/// it (HTTP ranges, session cookie) — the way a reviewer watches footage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_plays_and_seeks_a_recording() {
    let w = world().await;
    let r = w.one_recording("cam-v", 150).await;
    let anna = w.add_user("anna", "reviewer", None).await;
    let token = w.sign_in(&anna).await;
    let case = w.with_case(&token, "complaint").await;
    w.link(&token, &case, r.recording_id).await;
    let video = format!(
        "/api/v1/recordings/{}/video?purpose=complaint&case={case}",
        r.recording_id
    );
    let before = audit(&w).await.len();
    let result = crate::common::browser(
        "play.mjs",
        crate::common::vars([("BASE", &w.base()), ("TOKEN", &token), ("VIDEO", &video)]),
    )
    .await;
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

/// The faces a proposal answer names (as fractions of the frame).
fn proposed_faces(body: &serde_json::Value) -> Vec<custos_faces::Face> {
    body["faces"]
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
        .collect()
}

/// The faces labelled on frame `clip_frame` of the clip (480×270 pixels),
/// as fractions of the frame.
fn labelled_faces(labels: &serde_json::Value, clip_frame: usize) -> Vec<custos_faces::Face> {
    labels["frames"][clip_frame]["faces"]
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
        .collect()
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
    let case = w.with_case(&tr, "complaint").await;
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
    let labels: serde_json::Value = serde_json::from_slice(include_bytes!(
        "../../../../custos-faces/testdata/clip.json"
    ))
    .unwrap();
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
        let found = proposed_faces(&body);
        let truth = labelled_faces(&labels, clip_frame);
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
