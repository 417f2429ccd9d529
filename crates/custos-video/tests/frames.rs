//! Frames from a real camera recording (test-vectors/synthetic-320x240.mp4:
//! 3.47 s of the synthetic source, one fragment per second), checked
//! against ffmpeg decoding the same file; and damaged input.

use std::io::Cursor;
use std::process::Command;

use custos_video::{decode, thumbnail, Fmp4, VideoError};
use rand::{Rng, SeedableRng};

fn sample() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test-vectors/synthetic-320x240.mp4"
    ))
    .unwrap()
}

/// Frame `n` as ffmpeg decodes it, RGB24.
fn ffmpeg_frame(n: usize) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../test-vectors/synthetic-320x240.mp4"
        ))
        .args(["-vf", &format!("select=eq(n\\,{n})"), "-frames:v", "1"])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
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

#[test]
fn keyframes_are_found_by_time_and_decode_like_ffmpeg() {
    let mut mp4 = Fmp4::open(Cursor::new(sample())).unwrap();
    let track = mp4.track().clone();
    assert_eq!(
        (track.width, track.height, track.timescale),
        (320, 240, 90_000)
    );
    assert!(!track.sps.is_empty() && !track.pps.is_empty());
    // One fragment per second, each opening with a keyframe.
    for (asked, found) in [
        (0, 0),
        (999, 0),
        (1000, 1000),
        (1500, 1000),
        (2000, 2000),
        (3400, 3000),
        (999_999, 3000),
    ] {
        assert_eq!(mp4.keyframe_at(asked).unwrap().at_millis, found, "{asked}");
    }
    for (at, frame_number) in [(0u64, 0usize), (2000, 60)] {
        let decoded = decode(&mp4.keyframe_at(at).unwrap()).unwrap();
        assert_eq!((decoded.width, decoded.height), (320, 240));
        let reference = ffmpeg_frame(frame_number);
        let diff = mean_abs_diff(&decoded.rgb, &reference);
        // Same picture; only the YUV → RGB arithmetic differs.
        assert!(diff < 3.0, "frame {frame_number}: mean difference {diff}");
        // And not some other frame: the burnt-in clock and the moving box differ.
        let other = ffmpeg_frame(frame_number + 30);
        assert!(mean_abs_diff(&decoded.rgb, &other) > diff + 0.5);
    }
}

#[test]
fn thumbnails_are_small_jpegs_of_the_right_frame() {
    let t = thumbnail(Cursor::new(sample()), 2500, 160).unwrap();
    assert_eq!((t.width, t.height, t.at_millis), (160, 120, 2000));
    assert_eq!(&t.jpeg[..2], &[0xFF, 0xD8]);
    assert_eq!(&t.jpeg[t.jpeg.len() - 2..], &[0xFF, 0xD9]);
    assert!(t.jpeg.len() < 20_000, "{}", t.jpeg.len());
    // ffprobe agrees it is a 160×120 JPEG.
    let path = std::env::temp_dir().join(format!("custos-thumb-{}.jpg", std::process::id()));
    std::fs::write(&path, &t.jpeg).unwrap();
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).trim(),
        "mjpeg,160,120"
    );
    // Never scaled up.
    assert_eq!(
        thumbnail(Cursor::new(sample()), 0, 4000).unwrap().width,
        320
    );
}

#[test]
fn damaged_recordings_give_errors_not_panics() {
    let good = sample();
    // Garbage.
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for len in [0usize, 1, 7, 8, 100, 5000] {
        let garbage: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        assert!(thumbnail(Cursor::new(garbage), 0, 160).is_err(), "{len}");
    }
    // Every truncation of the init segment and the first fragment's header.
    for cut in 0..1300 {
        assert!(
            thumbnail(Cursor::new(good[..cut].to_vec()), 0, 160).is_err(),
            "cut at {cut}"
        );
    }
    // Cut inside the last fragment: earlier keyframes still come out; the
    // cut one is an error, never a panic.
    let cut = good.len() - 5000;
    let mut mp4 = Fmp4::open(Cursor::new(good[..cut].to_vec())).unwrap();
    assert_eq!(mp4.keyframe_at(1000).unwrap().at_millis, 1000);
    let _ = mp4.keyframe_at(999_999);
    // A box that claims to be huge is refused without allocating it.
    let mut huge = good.clone();
    let moov = 28; // after the 28-byte ftyp
    assert_eq!(&huge[moov + 4..moov + 8], b"moov");
    huge[moov..moov + 4].copy_from_slice(&0xFFFF_FFF0u32.to_be_bytes());
    assert!(matches!(
        Fmp4::open(Cursor::new(huge)),
        Err(VideoError::Format(_))
    ));
    // Bit flips anywhere in the metadata and the first frame: any answer but a panic.
    for _ in 0..2000 {
        let mut bad = good.clone();
        let i = rng.gen_range(0..9000);
        bad[i] ^= 1 << rng.gen_range(0..8);
        let _ = thumbnail(Cursor::new(bad), rng.gen_range(0..4000), 160);
    }
    // Not H.264 / no video: a forged moov whose handler is not "vide".
    let mut no_video = good.clone();
    let hdlr = no_video.windows(4).position(|w| w == b"vide").unwrap();
    no_video[hdlr..hdlr + 4].copy_from_slice(b"soun");
    assert!(matches!(
        Fmp4::open(Cursor::new(no_video)),
        Err(VideoError::Format(_))
    ));
}

fn nal(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut unit = ((body.len() + 1) as u32).to_be_bytes().to_vec();
    unit.push(0x60 | kind);
    unit.extend_from_slice(body);
    unit
}

#[test]
fn samples_keep_their_slices_and_lose_their_parameter_sets() {
    let (sps, pps, sei, idr) = (
        nal(7, &[0x42, 0, 0x1e]),
        nal(8, &[0xce, 0x38]),
        nal(6, &[5, 1, 0]),
        nal(5, &[0x88, 0x84, 0x21]),
    );
    let unit = [sps.clone(), pps.clone(), sei.clone(), idr.clone()].concat();
    assert_eq!(
        custos_video::strip_parameter_sets(&unit),
        [sei.clone(), idr.clone()].concat()
    );
    // Nothing to strip: the same bytes.
    let slices = [sei.clone(), idr.clone()].concat();
    assert_eq!(custos_video::strip_parameter_sets(&slices), slices);
    // Garbage and truncations: never a panic, never bytes that were not there.
    assert!(custos_video::strip_parameter_sets(&[]).is_empty());
    assert!(custos_video::strip_parameter_sets(&[0, 0, 1]).is_empty());
    let cut = &unit[..unit.len() - 2];
    assert_eq!(
        custos_video::strip_parameter_sets(cut),
        [sei.clone(), idr[..idr.len() - 2].to_vec()].concat(),
        "a length that runs past the end keeps what is there"
    );
    let huge = [&[0xff, 0xff, 0xff, 0xff, 0x65][..], &[1, 2, 3]].concat();
    assert_eq!(custos_video::strip_parameter_sets(&huge), huge);
    let only_sps_cut = &sps[..sps.len() - 1];
    assert!(custos_video::strip_parameter_sets(only_sps_cut).is_empty());
}

/// What the fuzzer found: a `moov` with a sample entry mp4-atom would size
/// from its input (62 GB) is refused before mp4-atom reads it
/// (fuzz/regressions/fmp4_read/uncv-allocation).
#[test]
fn the_fuzzers_finding_is_refused_before_mp4_atom_reads_it() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/regressions/fmp4_read"
    );
    let input = std::fs::read(format!("{dir}/uncv-allocation")).unwrap();
    let Err(e) = custos_video::Fmp4::open(std::io::Cursor::new(input)) else {
        panic!("the uncv recording opened")
    };
    assert!(e.to_string().contains("` box in `"), "{e}");
}

/// A box whose size reads as negative once sent the reader back to the same
/// box for ever (fuzz/regressions/fmp4_read/box-size-backwards): now an
/// error, reached in one pass.
#[test]
fn a_box_size_that_would_seek_backwards_is_refused() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/regressions/fmp4_read"
    );
    let input = std::fs::read(format!("{dir}/box-size-backwards")).unwrap();
    let mut mp4 = custos_video::Fmp4::open(std::io::Cursor::new(input)).unwrap();
    let e = mp4.keyframe_at(u64::MAX).map(|k| k.at_millis).unwrap_err();
    assert!(e.to_string().contains("larger than any file"), "{e}");
}
