//! A person filmed by an Axis camera gets their footage with others made
//! unrecognisable (issue 23 point 3, subject access requests): the
//! recording's clips — made here by ffmpeg, as a camera writes them,
//! encrypted by the camera or not — are redacted into one copy, each frame
//! at its moment of the recording; what cannot be decoded here is refused
//! with its reason and keeps nothing.

use std::process::Command;

use crate::axis_encryption::{camera, put};
use crate::axis_swift::*;
use crate::common::*;

/// The recording starts here; its clips start at its start and 4 s later
/// (a second's gap, as when the camera closes one file and opens the next).
const START: i64 = 1_787_485_620;
pub(crate) const CLIP_1: &str = "1787485620_1.mp4";
pub(crate) const CLIP_2: &str = "1787485624_1.mp4";
const CASE: &str = "SAR-AX";

/// A three-second clip at 10 frames a second, a keyframe each second, in
/// the progressive MP4 shape an Axis camera writes; `extra` are more of
/// ffmpeg's arguments (another codec, size or container).
pub(crate) fn clip(size: &str, codec: &[&str], format: &str) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(format!("clip.{format}"));
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=10"))
        .args(["-t", "3", "-g", "10", "-pix_fmt", "yuv420p"])
        .args(codec)
        .arg(&path)
        .output()
        .expect("ffmpeg (see ./test.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(path).unwrap()
}

/// H.264 as Axis cameras write it: no B-frames (openh264, which decodes
/// here, does not take them).
pub(crate) const H264: &[&str] = &["-c:v", "libx264", "-bf", "0"];

/// A clip to upload: name, `mp4` or `mkv`, bytes, key file.
pub(crate) type Clip<'a> = (&'a str, &'a str, &'a [u8], Option<&'a [u8]>);

/// A recording of the registered camera whose clips are `clips` (name,
/// MP4 or Matroska, bytes, key file if the camera encrypted it), each
/// three seconds from the time its name starts with; completed 7 s after
/// its start.
pub(crate) async fn recording(s: &Scu, clips: &[Clip<'_>]) -> uuid::Uuid {
    s.registered().await;
    // Triggered at the time the container's name gives.
    let (start, trigger) = (START.to_string(), (START + 6).to_string());
    let made = s
        .send(
            "PUT",
            RECORDING,
            &[
                ("X-Container-Meta-Starttime", &start),
                ("X-Container-Meta-Triggerontime", &trigger),
            ],
            b"",
        )
        .await;
    assert_eq!(made.status, Some(201), "{}", made.head);
    for (name, kind, bytes, key_file) in clips {
        let from: i64 = name[..10].parse().unwrap();
        let (a, b) = (from.to_string(), (from + 3).to_string());
        put(
            s,
            name,
            &[
                ("X-Object-Meta-Containertype", kind),
                ("X-Object-Meta-Starttime", &a),
                ("X-Object-Meta-Stoptime", &b),
            ],
            bytes,
        )
        .await;
        if let Some(key_file) = key_file {
            let key = format!("{}.key", &name[..name.len() - 4]);
            put(
                s,
                &key,
                &[
                    ("X-Object-Meta-Filetype", "key"),
                    ("X-Object-Meta-Starttime", &a),
                ],
                key_file,
            )
            .await;
        }
    }
    let stop = (START + 7).to_string();
    let done = s
        .send(
            "POST",
            RECORDING,
            &[
                ("X-Container-Meta-Status", "Complete"),
                ("X-Container-Meta-Stoptime", &stop),
            ],
            b"",
        )
        .await;
    assert_eq!(done.status, Some(204), "{}", reason(&done));
    s.w.server.deployment.catalog.recordings().await.unwrap()[0].recording_id
}

/// The privacy officer's token, with a request whose search held the
/// recording.
async fn request_holding(w: &World, id: uuid::Uuid) -> String {
    let petra = w.add_user("petra", "privacy-officer", None).await;
    let tp = w.sign_in(&petra).await;
    let found =
        crate::axis_places::searched(w, &tp, CASE, (START, START + 7), serde_json::Value::Null)
            .await;
    assert_eq!(found[0]["recording_id"], id.to_string());
    tp
}

/// A box over the middle of the picture from 3.5 s into the recording to
/// its end: after the first clip ends (3 s), before the second starts (4 s).
fn plan() -> serde_json::Value {
    serde_json::json!({"tracks": [{"label": "passer-by", "kind": "pixelate",
        "keyframes": [{"at_millis": 3500, "x": 0.25, "y": 0.25, "w": 0.5, "h": 0.5}]}]})
}

async fn redact(w: &World, token: &str, id: uuid::Uuid) -> Answer {
    w.call(
        "POST",
        &format!("/api/v1/subject-requests/{CASE}/derivatives"),
        Some(token),
        Some(serde_json::json!({"recording_id": id, "plan": plan()})),
        &[],
    )
    .await
}

/// Mean absolute luma difference of two pictures within a rectangle.
fn diff_in(
    a: &custos_redact::Picture,
    b: &custos_redact::Picture,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
) -> f64 {
    let mut sum = 0f64;
    for row in y0..y1 {
        for col in x0..x1 {
            let i = row * a.width + col;
            sum += (a.y[i] as f64 - b.y[i] as f64).abs();
        }
    }
    sum / ((x1 - x0) * (y1 - y0)) as f64
}

/// The box (320×240: 80..240 × 60..180), a little inside its edges, and
/// the picture above it.
const BOX: (usize, usize, usize, usize) = (84, 64, 236, 176);
const ABOVE: (usize, usize, usize, usize) = (0, 0, 320, 52);

/// Checks the copy against the two clips: one frame per frame of both,
/// the first clip's as it was (the box starts after it), the second's
/// pixelated in the box from its first frame (it starts at 4 s, after the
/// box's 3.5 s, though it follows the first clip directly in the copy).
fn check_copy(copy: &[u8], originals: [&[u8]; 2]) {
    let redacted = custos_redact::decode_all(std::io::Cursor::new(copy)).unwrap();
    let first = custos_redact::decode_all(std::io::Cursor::new(originals[0])).unwrap();
    let second = custos_redact::decode_all(std::io::Cursor::new(originals[1])).unwrap();
    assert_eq!((first.len(), second.len()), (30, 30));
    assert_eq!(redacted.len(), 60, "one derived frame per original frame");
    for (i, (a, b)) in first.iter().zip(&redacted[..30]).enumerate() {
        let (inside, above) = (diff_in(a, b, BOX), diff_in(a, b, ABOVE));
        assert!(
            inside < 3.0 && above < 3.0,
            "frame {i} of the first clip changed: {inside:.1} in the box, {above:.1} above it"
        );
    }
    for (i, (a, b)) in second.iter().zip(&redacted[30..]).enumerate() {
        let (inside, above) = (diff_in(a, b, BOX), diff_in(a, b, ABOVE));
        assert!(
            inside > 8.0 && above < 3.0,
            "frame {i} of the second clip: {inside:.1} in the box, {above:.1} above it"
        );
    }
}

/// The copy as the privacy officer plays it for the request.
async fn played(w: &World, token: &str, derivative: &serde_json::Value) -> Vec<u8> {
    let id = derivative["derivative_id"].as_str().unwrap();
    let got = w
        .call(
            "GET",
            &format!("/api/v1/derivatives/{id}/video?purpose=subject-access-request&case={CASE}"),
            Some(token),
            None,
            &[],
        )
        .await;
    assert_eq!(got.status, 200);
    got.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_axis_recordings_clips_become_one_redacted_copy_each_frame_at_its_time() {
    let (one, two) = (clip("320x240", H264, "mp4"), clip("320x240", H264, "mp4"));
    let s = scu().await;
    let w = &s.w;
    let id = recording(
        &s,
        &[(CLIP_2, "mp4", &two, None), (CLIP_1, "mp4", &one, None)],
    )
    .await;
    let tp = request_holding(w, id).await;

    // Neither a reviewer nor an officer makes one.
    for role in ["reviewer", "officer"] {
        let who = w.add_user(&format!("x-{role}"), role, Some("BOA-7")).await;
        let t = w.sign_in(&who).await;
        assert_eq!(redact(w, &t, id).await.status, 403, "{role}");
    }

    let made = redact(w, &tp, id).await;
    assert_eq!(made.status, 201, "{}", made.json());
    let derivative = made.json();
    assert_eq!(derivative["frames"], 60);
    let copy = played(w, &tp, &derivative).await;
    assert_eq!(
        derivative["sha256"],
        hex::encode(sha2::Digest::finalize(sha2::Digest::chain_update(
            sha2::Sha256::default(),
            &copy
        )))
    );
    check_copy(&copy, [&one, &two]);

    // On record before the originals were read, naming the request.
    let entries: Vec<_> = audit_events(w)
        .await
        .into_iter()
        .filter(|e| e.action == "recording.redact" && e.actor == "user:petra")
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].case.as_deref(), Some(CASE));
    assert_eq!(
        entries[0].object.as_deref(),
        Some(format!("recording:{id}").as_str())
    );

    // The editor's frames are at the recording's times: without a part,
    // `at` finds the clip that holds it and answers in recording time.
    for (at, part_at, shown) in [
        ("2.5", None, "2000"),
        ("4.5", None, "4000"),
        ("0.5", Some(1), "0"),
    ] {
        let mut q = format!("purpose=subject-access-request&case={CASE}&at={at}");
        if let Some(p) = part_at {
            q.push_str(&format!("&part={p}"));
        }
        let still = w
            .call(
                "GET",
                &format!("/api/v1/recordings/{id}/thumbnail?{q}"),
                Some(&tp),
                None,
                &[],
            )
            .await;
        assert_eq!(
            still.status,
            200,
            "{at}: {}",
            String::from_utf8_lossy(&still.body)
        );
        assert_eq!(still.header("x-custos-frame-at-ms"), Some(shown), "{at}");
    }
    let faces = w
        .call(
            "GET",
            &format!(
                "/api/v1/recordings/{id}/faces?purpose=subject-access-request&case={CASE}&at=5.2"
            ),
            Some(&tp),
            None,
            &[],
        )
        .await;
    assert_eq!(faces.status, 200);
    assert_eq!(faces.json()["at_millis"], 5000);
    let details: Vec<String> = audit_events(w)
        .await
        .into_iter()
        .filter(|e| e.action == "recording.thumbnail")
        .filter_map(|e| e.detail)
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.starts_with("clip 1 (1787485624_1.mp4), frame at 500 ms")),
        "the clip seen is on record: {details:?}"
    );
}

/// Clips the camera encrypted are opened with their key files for the
/// copy, through the same grant, and make the same copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clips_the_camera_encrypted_are_redacted_like_any_other() {
    let (one, two) = (clip("320x240", H264, "mp4"), clip("320x240", H264, "mp4"));
    let s = scu().await;
    let w = &s.w;
    let (public_pem, key_id) = w.admin().await.add_axis_content_key("scu-1").await.unwrap();
    let (c1, k1) = camera(&one, [0x21; 32], &public_pem, Some(&key_id));
    let (c2, k2) = camera(&two, [0x42; 32], &public_pem, Some(&key_id));
    let id = recording(
        &s,
        &[
            (CLIP_1, "mp4", &c1, Some(&k1)),
            (CLIP_2, "mp4", &c2, Some(&k2)),
        ],
    )
    .await;
    let tp = request_holding(w, id).await;
    let made = redact(w, &tp, id).await;
    assert_eq!(made.status, 201, "{}", made.json());
    check_copy(&played(w, &tp, &made.json()).await, [&one, &two]);
}

/// What this server cannot decode is refused with its reason, and keeps
/// nothing: a Matroska clip before anything is read (and before an access
/// is recorded), an H.265 clip or clips of two sizes once read (recorded
/// as a failed access); the staging area is left empty, no copy is listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clips_that_cannot_be_decoded_here_are_refused_with_the_reason_and_keep_nothing() {
    let good = clip("320x240", H264, "mp4");
    let cases: [(&str, Vec<u8>, &str, &str, bool); 4] = [
        (
            "matroska",
            clip("320x240", H264, "mkv"),
            "mkv",
            "clip 1787485624_1.mkv of this recording is Matroska",
            false,
        ),
        (
            "h265",
            // Axis' own H.265 test file (signed-video framework).
            crate::axis_signed::vector("signed_test_h265.mp4"),
            "mp4",
            "part 2 is H.265",
            true,
        ),
        (
            "size",
            clip("160x120", H264, "mp4"),
            "mp4",
            "part 2 is 160×120, the first part 320×240",
            true,
        ),
        (
            "b-frames",
            clip("320x240", &["-c:v", "libx264", "-bf", "2"], "mp4"),
            "mp4",
            "part 2 has B-frames",
            true,
        ),
    ];
    for (what, second, kind, reason, read) in cases {
        let s = scu().await;
        let w = &s.w;
        let second_name = format!("1787485624_1.{kind}");
        let id = recording(
            &s,
            &[
                (CLIP_1, "mp4", &good, None),
                (&second_name, kind, &second, None),
            ],
        )
        .await;
        let tp = request_holding(w, id).await;
        let refused = redact(w, &tp, id).await;
        assert_eq!(refused.status, 422, "{what}: {}", refused.json());
        assert_eq!(refused.code(), "undecodable", "{what}");
        let message = refused.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(reason), "{what}: {message}");
        let outcomes: Vec<String> = audit_events(w)
            .await
            .into_iter()
            .filter(|e| e.action == "recording.redact")
            .map(|e| e.outcome.as_str().to_owned())
            .collect();
        let expected: &[&str] = if read { &["ok", "failed"] } else { &[] };
        assert_eq!(outcomes, expected, "{what}");
        let listed = w
            .call(
                "GET",
                &format!("/api/v1/subject-requests/{CASE}/derivatives"),
                Some(&tp),
                None,
                &[],
            )
            .await;
        assert_eq!(listed.json(), serde_json::json!([]), "{what}");
        let staged: Vec<_> = std::fs::read_dir(w.data.join("staging"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            !staged
                .iter()
                .any(|n| n.to_string_lossy().starts_with("derived-")),
            "{what}: {staged:?}"
        );
        // The recording and its clips are untouched: a good request after
        // still plays the first clip.
        let (token, case) = crate::axis_encryption::reviewer(w, id).await;
        let first = w
            .call(
                "GET",
                &format!("/api/v1/recordings/{id}/video?purpose=complaint&case={case}&part=0"),
                Some(&token),
                None,
                &[],
            )
            .await;
        assert_eq!(first.status, 200, "{what}");
        assert!(first.body == good, "{what}");
    }
}
