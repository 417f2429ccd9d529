//! An Axis recording's clips play as one video from the API (issue 23
//! point 3): `/joined` makes one fragmented MP4 of the clips, with ranges,
//! each sample the clip's own bytes. ffprobe and ffmpeg, which nobody here
//! wrote, count its packets, compare their checksums with the clips' and
//! decode it; what cannot be joined is refused with its reason, audited,
//! and leaves the clips playing as parts.

use std::path::Path;
use std::process::Command;

use crate::axis_encryption::{camera, reviewer};
use crate::axis_redaction::{clip, recording, CLIP_1, CLIP_2, H264};
use crate::axis_swift::*;
use crate::common::*;

/// A three-second clip with picture (10 frames a second, H.264 with
/// B-frames, as x264 makes it by default) and sound (AAC, 48 kHz), as a
/// camera with a microphone writes it.
fn clip_with_sound(size: &str) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("clip.mp4");
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=10"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", "3", "-g", "10", "-pix_fmt", "yuv420p"])
        .args(["-c:v", "libx264", "-c:a", "aac", "-shortest"])
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

fn tool(program: &str, args: &[&str], file: &Path) -> String {
    let out = Command::new(program)
        .args(["-v", "error"])
        .args(args.iter().take_while(|a| **a != "FILE"))
        .arg(file)
        .args(args.iter().skip_while(|a| **a != "FILE").skip(1))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "{program} {args:?} complained"
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The checksum of each packet's data of one kind (`v` or `a`), as ffmpeg
/// reads them without decoding (side data, such as the samples an edit
/// list skips, has its own checksum after it).
fn packet_sums(file: &Path, kind: &str) -> Vec<String> {
    let map = format!("0:{kind}");
    tool(
        "ffmpeg",
        &[
            "-i", "FILE", "-map", &map, "-c", "copy", "-f", "framemd5", "-",
        ],
        file,
    )
    .lines()
    .filter(|l| !l.starts_with('#'))
    .map(|l| l.split(',').nth(5).unwrap().trim().to_owned())
    .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

async fn joined(
    w: &World,
    token: &str,
    id: uuid::Uuid,
    query: &str,
    headers: &[(&str, &str)],
) -> Answer {
    w.call(
        "GET",
        &format!("/api/v1/recordings/{id}/joined?{query}"),
        Some(token),
        None,
        headers,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_axis_recordings_clips_play_as_one_video_each_sample_unchanged() {
    let (one, two) = (clip_with_sound("320x240"), clip_with_sound("320x240"));
    let s = scu().await;
    let w = &s.w;
    // Sent out of order: the recording's order is the clips' times.
    let id = recording(
        &s,
        &[(CLIP_2, "mp4", &two, None), (CLIP_1, "mp4", &one, None)],
    )
    .await;
    let (token, case) = reviewer(w, id).await;
    let query = format!("purpose=complaint&case={case}");

    let got = joined(w, &token, id, &query, &[]).await;
    assert_eq!(got.status, 200, "{}", got.json());
    assert_eq!(got.header("content-type"), Some("video/mp4"));
    assert_eq!(got.header("accept-ranges"), Some("bytes"));
    assert_eq!(got.header("cache-control"), Some("no-store"));
    // The first clip lasts 3 s (its sound a little longer, as AAC pads).
    let starts = got.header("custos-clip-starts").unwrap().to_owned();
    let second: u64 = starts.strip_prefix("0,").unwrap().parse().unwrap();
    assert!((3000..3100).contains(&second), "{starts}");

    let tmp = tempfile::tempdir().unwrap();
    let whole = write(tmp.path(), "joined.mp4", &got.body);
    let (a, b) = (
        write(tmp.path(), "1.mp4", &one),
        write(tmp.path(), "2.mp4", &two),
    );
    // Every packet of both clips, in order, byte for byte.
    for kind in ["v", "a"] {
        let mut expected = packet_sums(&a, kind);
        expected.extend(packet_sums(&b, kind));
        assert!(expected.len() > 40, "{kind}: {}", expected.len());
        assert_eq!(packet_sums(&whole, kind), expected, "{kind}");
    }
    // Decoded whole without a complaint, and as long as both clips.
    tool("ffmpeg", &["-i", "FILE", "-f", "null", "-"], &whole);
    let duration: f64 = tool(
        "ffprobe",
        &["-show_entries", "format=duration", "-of", "csv=p=0", "FILE"],
        &whole,
    )
    .trim()
    .parse()
    .unwrap();
    assert!((5.9..6.3).contains(&duration), "{duration}");
    // Each clip's edit lists are followed: picture and sound start at 0,
    // and the second clip's first frame is shown where it starts.
    let start_times = tool(
        "ffprobe",
        &[
            "-show_entries",
            "stream=codec_type,start_time",
            "-of",
            "csv=p=0",
            "FILE",
        ],
        &whole,
    );
    // The sound's first packet is the encoder's priming, before 0 as in
    // the clip itself (`-1024` in its framemd5).
    let starts_at: Vec<(String, f64)> = start_times
        .lines()
        .map(|l| {
            let (kind, at) = l.split_once(',').unwrap();
            (kind.to_owned(), at.trim_end_matches(',').parse().unwrap())
        })
        .collect();
    assert_eq!(starts_at[0], ("video".to_owned(), 0.0), "{start_times}");
    assert_eq!(starts_at[1].0, "audio");
    assert!(
        (-1024.0 / 48000.0 - 1e-6..=0.0).contains(&starts_at[1].1),
        "{start_times}"
    );
    let shown: Vec<f64> = tool(
        "ffprobe",
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
            "FILE",
        ],
        &whole,
    )
    .lines()
    .filter(|l| !l.trim().is_empty())
    .map(|l| l.trim().trim_end_matches(',').parse().unwrap())
    .collect();
    assert_eq!(shown.len(), 60);
    assert!(shown.windows(2).all(|w| w[0] < w[1]), "{shown:?}");
    assert!(
        (shown[30] - second as f64 / 1000.0).abs() < 0.002,
        "{shown:?}"
    );
    // A frame of the second clip, found by time: ffmpeg seeks in it.
    let frame = tmp.path().join("at-4.5.png");
    tool(
        "ffmpeg",
        &[
            "-ss",
            "4.5",
            "-i",
            "FILE",
            "-frames:v",
            "1",
            frame.to_str().unwrap(),
        ],
        &whole,
    );
    assert!(std::fs::metadata(&frame).unwrap().len() > 1000);

    // Ranges are the same bytes as the whole.
    let n = got.body.len();
    for (range, from, to) in [
        ("bytes=0-99", 0, 99),
        ("bytes=1000-70000", 1000, 70_000),
        (&format!("bytes={}-", n - 10) as &str, n - 10, n - 1),
        ("bytes=-5", n - 5, n - 1),
    ] {
        let part = joined(w, &token, id, &query, &[("range", range)]).await;
        assert_eq!(part.status, 206, "{range}");
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes {from}-{to}/{n}").as_str())
        );
        assert!(part.body == got.body[from..=to], "{range}");
    }
    let beyond = joined(w, &token, id, &query, &[("range", &format!("bytes={n}-"))]).await;
    assert_eq!(beyond.status, 416);
    assert_eq!(
        beyond.header("content-range"),
        Some(format!("bytes */{n}").as_str())
    );
    for bad in ["bytes=5-1", "bytes=0-1,4-5", "items=0-1", "bytes=x-"] {
        let answer = joined(w, &token, id, &query, &[("range", bad)]).await;
        assert_eq!(answer.status, 400, "{bad}");
    }

    // Each play is on record: who, which recording, purpose, case, bytes.
    let plays: Vec<_> = audit_events(w)
        .await
        .into_iter()
        .filter(|e| {
            e.action == "recording.play" && e.object.as_deref() == Some(&format!("recording:{id}"))
        })
        .collect();
    // The whole file and four ranges; a range past the end or one not
    // understood sends no byte and is not an access, as for `/video`.
    assert_eq!(plays.len(), 5, "{plays:#?}");
    assert!(plays.iter().all(|e| e.actor == "user:anna"));
    assert!(plays[0]
        .detail
        .as_deref()
        .unwrap()
        .starts_with(&format!("all 2 clips joined, bytes 0-{} of {n}", n - 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clips_the_camera_encrypted_are_joined_decrypted() {
    let (one, two) = (clip("320x240", H264, "mp4"), clip("320x240", H264, "mp4"));
    let s = scu().await;
    let w = &s.w;
    let (public_pem, key_id) = w.admin().await.add_axis_content_key("scu-1").await.unwrap();
    let (c1, k1) = camera(&one, [0x21; 32], &public_pem, Some(&key_id));
    let id = recording(
        &s,
        &[(CLIP_1, "mp4", &c1, Some(&k1)), (CLIP_2, "mp4", &two, None)],
    )
    .await;
    let (token, case) = reviewer(w, id).await;
    let got = joined(
        w,
        &token,
        id,
        &format!("purpose=complaint&case={case}"),
        &[],
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.json());
    let tmp = tempfile::tempdir().unwrap();
    let whole = write(tmp.path(), "joined.mp4", &got.body);
    let mut expected = packet_sums(&write(tmp.path(), "1.mp4", &one), "v");
    expected.extend(packet_sums(&write(tmp.path(), "2.mp4", &two), "v"));
    assert_eq!(expected.len(), 60);
    assert_eq!(packet_sums(&whole, "v"), expected);
}

/// Nothing is decoded: clips this server cannot decode (H.265, here Axis'
/// own signed test file) join as well as any.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_clips_are_joined_without_being_decoded() {
    let h265 = crate::axis_signed::vector("signed_test_h265.mp4");
    let s = scu().await;
    let w = &s.w;
    let id = recording(
        &s,
        &[(CLIP_1, "mp4", &h265, None), (CLIP_2, "mp4", &h265, None)],
    )
    .await;
    let (token, case) = reviewer(w, id).await;
    let got = joined(
        w,
        &token,
        id,
        &format!("purpose=complaint&case={case}"),
        &[],
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.json());
    let tmp = tempfile::tempdir().unwrap();
    let whole = write(tmp.path(), "joined.mp4", &got.body);
    let once = packet_sums(&write(tmp.path(), "clip.mp4", &h265), "v");
    assert!(once.len() > 10);
    assert_eq!(packet_sums(&whole, "v"), [once.clone(), once].concat());
    let codec = tool(
        "ffprobe",
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
            "FILE",
        ],
        &whole,
    );
    assert_eq!(codec.trim(), "hevc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_who_may_play_the_recording_gets_it_joined() {
    let (one, two) = (clip("320x240", H264, "mp4"), clip("320x240", H264, "mp4"));
    let s = scu().await;
    let w = &s.w;
    let id = recording(
        &s,
        &[(CLIP_1, "mp4", &one, None), (CLIP_2, "mp4", &two, None)],
    )
    .await;
    let (token, case) = reviewer(w, id).await;
    let query = format!("purpose=complaint&case={case}");
    let before = audit_events(w).await.len();

    // No one signed in; a forged token.
    let outsider = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{id}/joined?{query}"),
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(outsider.status, 401);
    assert_eq!(joined(w, "forged.token", id, &query, &[]).await.status, 401);
    // Roles that see no footage (an officer reviews nothing by default).
    for role in ["admin", "auditor"] {
        let who = w.add_user(&format!("x-{role}"), role, None).await;
        let t = w.sign_in(&who).await;
        let answer = joined(w, &t, id, &query, &[]).await;
        assert_eq!(answer.status, 403, "{role}: {}", answer.json());
    }
    let officer = w.add_user("x-officer", "officer", Some("BOA-99")).await;
    let t = w.sign_in(&officer).await;
    assert_eq!(joined(w, &t, id, &query, &[]).await.status, 403);
    // Without a purpose or case, another case, a purpose off the list, a
    // part (the joined video is every part), garbage.
    let other = w.with_case(&token, "complaint").await;
    for (q, status) in [
        (String::new(), 403),
        (format!("purpose=complaint&case={other}"), 403),
        (format!("purpose=curiosity&case={case}"), 403),
        (format!("{query}&part=1"), 400),
        (format!("{query}&part=x"), 400),
        (format!("{query}&joined=%00"), 400),
    ] {
        let answer = joined(w, &token, id, &q, &[]).await;
        assert_eq!(answer.status, status, "{q}: {}", answer.json());
    }
    let unknown = joined(w, &token, uuid::Uuid::nil(), &query, &[]).await;
    assert_eq!(unknown.status, 404);
    let refused = audit_events(w).await.len() - before;
    assert!(refused >= 8, "refusals on record: {refused}");
    // None of that changed anything: it still plays.
    assert_eq!(joined(w, &token, id, &query, &[]).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clips_that_cannot_be_joined_are_refused_with_the_reason_and_still_play_as_parts() {
    let small = clip("320x240", H264, "mp4");
    let cases: [(&str, Vec<u8>, &str, &str); 3] = [
        (
            "another picture size",
            clip("640x480", H264, "mp4"),
            "mp4",
            "differs from the clips before it",
        ),
        (
            "a Matroska clip",
            clip("320x240", H264, "mkv"),
            "mkv",
            "Matroska",
        ),
        (
            "no MP4 at all",
            b"\0\0\0\x10ftypjunkjunk garbage".to_vec(),
            "mp4",
            "not a progressive MP4",
        ),
    ];
    for (what, second, kind, says) in cases {
        let s = scu().await;
        let w = &s.w;
        let second_name = format!("1787485624_1.{kind}");
        let id = recording(
            &s,
            &[
                (CLIP_1, "mp4", &small, None),
                (&second_name, kind, &second, None),
            ],
        )
        .await;
        let (token, case) = reviewer(w, id).await;
        let query = format!("purpose=complaint&case={case}");
        let answer = joined(w, &token, id, &query, &[]).await;
        assert_eq!(answer.status, 422, "{what}: {}", answer.json());
        assert_eq!(answer.code(), "undecodable", "{what}");
        let message = answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            message.contains("clip 1 (1787485624_1."),
            "{what}: {message}"
        );
        assert!(message.contains(says), "{what}: {message}");
        assert!(
            message.contains("play the clips as parts"),
            "{what}: {message}"
        );
        let failed = audit_events(w)
            .await
            .into_iter()
            .rfind(|e| e.action == "recording.play")
            .unwrap();
        assert_eq!(failed.outcome, custos_audit::Outcome::Failed, "{what}");
        // Each clip still plays on its own, byte for byte.
        for (part, bytes) in [(0, &small), (1, &second)] {
            let played = w
                .call(
                    "GET",
                    &format!("/api/v1/recordings/{id}/video?{query}&part={part}"),
                    Some(&token),
                    None,
                    &[],
                )
                .await;
            assert_eq!(played.status, 200, "{what}");
            assert!(&played.body == bytes, "{what}: part {part}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custos_cameras_recording_joined_is_its_one_recording() {
    let w = world().await;
    let recording = w.one_recording("cam-joined", 30).await;
    let id = recording.recording_id;
    let (token, case) = reviewer(&w, id).await;
    let query = format!("purpose=complaint&case={case}");
    let played = w
        .call(
            "GET",
            &format!("/api/v1/recordings/{id}/video?{query}"),
            Some(&token),
            None,
            &[],
        )
        .await;
    assert_eq!(played.status, 200);
    let got = joined(&w, &token, id, &query, &[]).await;
    assert_eq!(got.status, 200);
    assert!(got.body == played.body);
}

/// tests/browser/joined.mjs: Chromium, whose MP4 reader and decoders
/// nobody here wrote, plays the joined video (picture with B-frames and
/// sound) from 2.5 s across the second clip's start, and seeks into the
/// second clip, fetching it by ranges through the purpose-bound URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_plays_the_joined_video_across_the_clips_and_seeks_in_it() {
    let (one, two) = (clip_with_sound("320x240"), clip_with_sound("320x240"));
    let s = scu().await;
    let w = &s.w;
    let id = recording(
        &s,
        &[(CLIP_1, "mp4", &one, None), (CLIP_2, "mp4", &two, None)],
    )
    .await;
    let (token, case) = reviewer(w, id).await;
    let query = format!("purpose=complaint&case={case}");
    let seen = browser(
        "joined.mjs",
        vars([
            ("BASE", &w.base()),
            ("TOKEN", &token),
            ("PAGE", &format!("/recordings/{id}/play?{query}")),
            ("VIDEO", &format!("/api/v1/recordings/{id}/joined?{query}")),
        ]),
    )
    .await;
    assert_eq!(seen["ok"], true, "{seen}");
    let duration = seen["loaded"]["duration"].as_f64().unwrap();
    assert!((5.9..6.3).contains(&duration), "{seen}");
    assert_eq!(seen["loaded"]["width"], 320, "{seen}");
    assert!(seen["across"]["time"].as_f64().unwrap() > 3.5, "{seen}");
    assert_eq!(
        seen["seeked"]["ready"].as_u64().map(|r| r >= 2),
        Some(true),
        "{seen}"
    );
    assert!(!seen["ranges"].as_array().unwrap().is_empty(), "{seen}");
    // Each fetch is on record as all the clips joined.
    let joined_plays = audit_events(w)
        .await
        .into_iter()
        .filter(|e| {
            e.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("all 2 clips joined"))
        })
        .count();
    assert!(joined_plays >= 1);
}
