//! Frames from a progressive MP4 (as an Axis body-worn camera writes it:
//! `mdat`, then a `moov` with sample tables and user data), made here by
//! ffmpeg — an encoder and muxer nobody here wrote — and checked against
//! ffmpeg decoding the same file; with the `moov` first too, and damaged.

use std::io::Cursor;
use std::process::Command;

use custos_video::{decode, thumbnail, Fmp4};

/// 3 s at 10 frames a second, a keyframe each second; `moov` last unless
/// `faststart`.
fn progressive(dir: &std::path::Path, faststart: bool) -> (std::path::PathBuf, Vec<u8>) {
    let name = if faststart { "fast.mp4" } else { "prog.mp4" };
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=10",
        "-t",
        "3",
        "-c:v",
        "libx264",
        "-g",
        "10",
        "-pix_fmt",
        "yuv420p",
        "-metadata",
        "title=Axis W110",
    ];
    if faststart {
        args.extend(["-movflags", "+faststart"]);
    }
    let bytes = ffmpeg_to(dir, name, &args);
    (dir.join(name), bytes)
}

fn ffmpeg_frame(path: &std::path::Path, n: usize) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vf", &format!("select=eq(n\\,{n})"), "-frames:v", "1"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
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

/// The top-level boxes of an MP4, in order.
fn boxes(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        at += size.max(8);
    }
    out
}

#[test]
fn keyframes_and_frames_of_a_progressive_mp4_are_found_and_decode_like_ffmpeg() {
    let tmp = tempfile::tempdir().unwrap();
    for faststart in [false, true] {
        let (path, bytes) = progressive(tmp.path(), faststart);
        let order = boxes(&bytes);
        let (moov, mdat) = (
            order.iter().position(|b| b == "moov").unwrap(),
            order.iter().position(|b| b == "mdat").unwrap(),
        );
        assert_eq!(moov < mdat, faststart, "{order:?}");
        let mut mp4 = Fmp4::open(Cursor::new(bytes.clone())).unwrap();
        assert_eq!((mp4.track().width, mp4.track().height), (320, 240));
        for (asked, found) in [
            (0, 0),
            (999, 0),
            (1000, 1000),
            (2500, 2000),
            (999_999, 2000),
        ] {
            assert_eq!(mp4.keyframe_at(asked).unwrap().at_millis, found, "{asked}");
        }
        for (at, n) in [(0u64, 0usize), (2000, 20)] {
            let decoded = decode(&mp4.keyframe_at(at).unwrap()).unwrap();
            let diff = mean_abs_diff(&decoded.rgb, &ffmpeg_frame(&path, n));
            assert!(diff < 3.0, "frame {n}: {diff}");
            assert!(mean_abs_diff(&decoded.rgb, &ffmpeg_frame(&path, n + 5)) > diff + 0.5);
        }
        // Every frame is where the tables say: thirty, each a whole access
        // unit, in time order.
        let frames = mp4.frames().unwrap();
        assert_eq!(frames.len(), 30);
        assert!(frames
            .windows(2)
            .all(|w| w[0].decode_ticks < w[1].decode_ticks));
        for f in &frames {
            let sample = mp4.frame(f).unwrap();
            assert!(!mp4.annex_b(&sample).unwrap().is_empty());
        }
        let still = thumbnail(Cursor::new(bytes), 1500, 160).unwrap();
        assert_eq!((still.width, still.at_millis), (160, 1000));
        assert!(still.jpeg.starts_with(&[0xff, 0xd8]));
    }
}

#[test]
fn a_damaged_progressive_mp4_is_an_error_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, bytes) = progressive(tmp.path(), false);
    // Cut anywhere, or a byte flipped anywhere in the moov: an answer,
    // never a panic (the fuzzer tries the rest).
    let moov_at = bytes.windows(4).position(|w| w == b"moov").unwrap() - 4;
    for cut in [0, 10, moov_at, moov_at + 100, bytes.len() - 1] {
        if let Ok(mut mp4) = Fmp4::open(Cursor::new(bytes[..cut].to_vec())) {
            let _ = mp4.keyframe_at(1000);
        }
    }
    for at in moov_at..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0xff;
        if let Ok(mut mp4) = Fmp4::open(Cursor::new(flipped)) {
            let _ = mp4.keyframe_at(1000);
            if let Ok(frames) = mp4.frames() {
                for f in frames.iter().take(3) {
                    let _ = mp4.frame(f);
                }
            }
        }
    }
    // A sizes table claiming more entries than its bytes hold is refused
    // before anything reserves room for them.
    let stsz = bytes.windows(4).position(|w| w == b"stsz").unwrap();
    let mut lying = bytes.clone();
    lying[stsz + 12..stsz + 16].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(Fmp4::open(Cursor::new(lying)).is_err());
}

fn ffmpeg_to(dir: &std::path::Path, name: &str, args: &[&str]) -> Vec<u8> {
    let path = dir.join(name);
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .arg(&path)
        .output()
        .expect("ffmpeg must be installed (see ./test.sh)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(path).unwrap()
}

/// A camera's clip with sound, as an Axis body-worn camera records: its
/// video track is read and its sound left alone; a file with two video
/// tracks, or with both a sample table and fragments, is refused (a reader
/// of one would not see what a player shows of the other).
#[test]
fn sound_is_left_alone_and_a_second_picture_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let video = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=10"];
    let x264 = ["-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p"];
    let with_sound = ffmpeg_to(
        tmp.path(),
        "sound.mp4",
        &[
            &video[..],
            &["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"],
            &["-t", "3"],
            &x264,
            &["-c:a", "aac", "-shortest"],
        ]
        .concat(),
    );
    let mut mp4 = Fmp4::open(Cursor::new(&with_sound)).unwrap();
    assert_eq!(mp4.frames().unwrap().len(), 30);
    assert!(thumbnail(Cursor::new(&with_sound), 1000, 160).is_ok());

    let two = ffmpeg_to(
        tmp.path(),
        "two.mp4",
        &[
            &video[..],
            &["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10"],
            &["-t", "1", "-map", "0:v", "-map", "1:v"],
            &x264,
        ]
        .concat(),
    );
    let refused = Fmp4::open(Cursor::new(&two)).err().unwrap().to_string();
    assert!(refused.contains("more than one video track"), "{refused}");
}

/// Frames shown in another order than decoded (B-frames: composition
/// offsets in the sample table) are said, so a reader that takes pictures
/// in decode order can refuse them; Axis cameras write none.
#[test]
fn b_frames_are_said_and_their_absence_too() {
    let tmp = tempfile::tempdir().unwrap();
    let base = [
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=10",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-g",
        "10",
        "-pix_fmt",
        "yuv420p",
    ];
    for (name, bframes, reordered) in [("b.mp4", "2", true), ("nob.mp4", "0", false)] {
        let bytes = ffmpeg_to(tmp.path(), name, &[&base[..], &["-bf", bframes]].concat());
        let mp4 = Fmp4::open(Cursor::new(&bytes)).unwrap();
        assert_eq!(mp4.track().reordered, reordered, "{name}");
    }
    // The signed-video framework's files, made by Axis cameras: none.
    for name in ["signed_test_h264.mp4", "signed_test_h265.mp4"] {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../test-vectors/signed-video/"
        );
        let bytes = std::fs::read(format!("{path}{name}")).unwrap();
        assert!(
            !Fmp4::open(Cursor::new(&bytes)).unwrap().track().reordered,
            "{name}"
        );
    }
}
