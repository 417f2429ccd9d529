//! Against the signed-video framework's own test files
//! (test-vectors/signed-video, from AxisCommunications/
//! signed-video-framework-examples, MIT), whose verdicts the framework's
//! C validator gives too (docs/SIGNED-VIDEO.md §6), and against each of
//! them altered in the ways an attacker would.

use std::io::Cursor;

use super::*;

fn vector(name: &str) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test-vectors/signed-video/"
    );
    std::fs::read(format!("{path}{name}")).unwrap()
}

fn mp4(bytes: &[u8]) -> Report {
    verify_mp4(Cursor::new(bytes), Options::default()).unwrap()
}

/// GOPs as (counter, first, last, frames, missing, failure, bad).
type Row = (
    u32,
    Option<u64>,
    Option<u64>,
    u32,
    u32,
    Option<Failure>,
    Vec<u64>,
);

fn rows(r: &Report) -> Vec<Row> {
    r.gops
        .iter()
        .map(|g| {
            (
                g.counter,
                g.first,
                g.last,
                g.frames,
                g.missing,
                g.failure,
                g.bad.clone(),
            )
        })
        .collect()
}

const H264_KEY: &str = "ea33cacb09f48954df012c0f787dd242271c916a5257e30ed943c287d1874ec4";

#[test]
fn the_signed_h264_file_is_authentic_gop_by_gop() {
    let r = mp4(&vector("signed_test_h264.mp4"));
    assert_eq!(r.outcome(), Outcome::Authentic, "{r:?}");
    assert_eq!(r.scheme, Some(Scheme::Current));
    assert_eq!(r.codec, Some(Codec::H264));
    assert_eq!(r.signer.as_deref(), Some("2.0.3"));
    assert_eq!(r.key_sha256.as_deref(), Some(H264_KEY));
    assert_eq!(r.frames, 256);
    assert_eq!(r.unsigned_frames, 0);
    assert_eq!(
        rows(&r),
        [
            (1, Some(0), Some(61), 62, 0, None, vec![]),
            (2, Some(62), Some(123), 62, 0, None, vec![]),
            (3, Some(124), Some(185), 62, 0, None, vec![]),
            (4, Some(186), Some(247), 62, 0, None, vec![]),
            // The signer's last SEI has a stale GOP hash: its hash list
            // signs the last 8 frames.
            (5, Some(248), Some(255), 8, 0, None, vec![]),
        ]
    );
    let product = r.product.unwrap();
    assert_eq!(product.manufacturer, "Signed Video Framework");
    assert_eq!(product.firmware_version, "v2.0.3");
    assert!(r.problems.is_empty() && !r.attestation);
}

#[test]
fn the_modified_frame_fails_its_gop_and_only_it() {
    let r = mp4(&vector("signed_test_h264_modified_frame_137.mp4"));
    assert_eq!(r.outcome(), Outcome::Altered);
    assert_eq!(r.scheme, Some(Scheme::Legacy));
    assert_eq!(r.signer.as_deref(), Some("1.0.0"));
    let failing: Vec<_> = r.gops.iter().filter(|g| g.failure.is_some()).collect();
    assert_eq!(failing.len(), 1);
    assert_eq!(
        (
            failing[0].counter,
            failing[0].first,
            failing[0].last,
            failing[0].failure,
            &failing[0].bad[..]
        ),
        (4, Some(124), Some(186), Some(Failure::Frames), &[137][..])
    );
    assert_eq!(
        r.first_failure().unwrap(),
        "GOP 4 (frames 124–186): frame 137 is not the frame that was signed"
    );
    // Every other GOP holds, the last one too (the framework's validator
    // leaves it pending; a closed file is checked to its end).
    assert_eq!(
        r.gops.iter().map(|g| g.counter).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(r.gops[5].frames, 8);
    assert_eq!(r.unsigned_frames, 0);
}

#[test]
fn the_signed_h265_file_is_authentic_with_its_muxers_trailing_zeros() {
    let r = mp4(&vector("signed_test_h265.mp4"));
    assert_eq!(r.outcome(), Outcome::Authentic, "{r:?}");
    assert_eq!(
        (r.codec, r.scheme),
        (Some(Codec::H265), Some(Scheme::Legacy))
    );
    assert_eq!(r.frames, 302);
    assert_eq!(
        r.gops
            .iter()
            .map(|g| (g.counter, g.frames))
            .collect::<Vec<_>>(),
        [(1, 1), (2, 63), (3, 63), (4, 63), (5, 63), (6, 54)]
    );
    assert_eq!(
        r.key_sha256.as_deref(),
        Some("655d82d9c71cfac7a009582d1cc02b966cb91c64d74b49689f35945379ba38f5")
    );
}

#[test]
fn a_real_axis_cameras_stream_verifies_and_its_tail_is_unsigned() {
    let r = verify_annex_b(
        Codec::H264,
        &vector("signed_vendor_axis.h264"),
        Options::default(),
    );
    // The excerpt ends 18 frames after the last SEI: signed as far as it
    // goes, and said to be incomplete rather than authentic.
    assert_eq!(r.outcome(), Outcome::Incomplete, "{r:?}");
    assert_eq!(r.unsigned_frames, 18);
    assert_eq!(r.frames, 50);
    assert_eq!(r.signer.as_deref(), Some("1.1.18"));
    assert!(r.gops.iter().all(|g| g.failure.is_none()));
    assert_eq!(
        r.gops
            .iter()
            .map(|g| (g.counter, g.frames))
            .collect::<Vec<_>>(),
        [(1, 1), (2, 33)]
    );
    let product = r.product.clone().unwrap();
    assert_eq!(
        (
            product.manufacturer.as_str(),
            product.serial_number.as_str()
        ),
        ("Axis Communications AB", "B8A44F27E6D1")
    );
    assert!(r.attestation);
}

#[test]
fn an_unsigned_file_is_unsigned() {
    let r = mp4(&vector("test_h264.mp4"));
    assert_eq!(r.outcome(), Outcome::Unsigned);
    assert_eq!((r.frames, r.unsigned_frames), (256, 256));
    assert!(r.gops.is_empty() && r.problems.is_empty());
}

// ---- the signed H.264 file altered ------------------------------------

/// The file's samples (offset, size) from its own sample table, so an
/// alteration lands where a frame is.
fn samples(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut mp4 = custos_video::Fmp4::open(Cursor::new(bytes)).unwrap();
    mp4.frames()
        .unwrap()
        .iter()
        .map(|f| (f.offset as usize, f.size as usize))
        .collect()
}

fn flip(bytes: &[u8], sample: usize, at: usize) -> Vec<u8> {
    let (offset, size) = samples(bytes)[sample];
    assert!(at < size);
    let mut altered = bytes.to_vec();
    altered[offset + at] ^= 0x01;
    altered
}

#[test]
fn one_bit_in_a_p_frame_fails_that_frame_only() {
    let original = vector("signed_test_h264.mp4");
    let r = mp4(&flip(&original, 137, 10));
    assert_eq!(r.outcome(), Outcome::Altered);
    assert_eq!(
        r.gops
            .iter()
            .map(|g| (g.counter, g.failure, g.bad.clone()))
            .collect::<Vec<_>>(),
        [
            (1, None, vec![]),
            (2, None, vec![]),
            (3, Some(Failure::Frames), vec![137]),
            (4, None, vec![]),
            (5, None, vec![]),
        ]
    );
}

#[test]
fn one_bit_in_an_i_frame_fails_its_gop_and_the_link_from_the_next() {
    let original = vector("signed_test_h264.mp4");
    let r = mp4(&flip(&original, 124, 40));
    assert_eq!(r.outcome(), Outcome::Altered);
    // Every P-frame's hash is chained to its I-frame's.
    assert_eq!(r.gops[2].failure, Some(Failure::Frames));
    assert_eq!(r.gops[2].bad, (124..=185).collect::<Vec<u64>>());
    // The next GOP's SEI names the original I-frame as its predecessor.
    assert_eq!(r.gops[3].failure, Some(Failure::Link));
    assert_eq!(r.gops[3].bad, [186]);
    assert!(r.gops[0].failure.is_none() && r.gops[1].failure.is_none());
}

#[test]
fn a_changed_hash_list_or_signature_fails_the_signature() {
    let original = vector("signed_test_h264.mp4");
    // Sample 125 holds the SEI of GOP 2 first: a byte deep in its hash
    // list, then one of its signature.
    for at in [4 + 0x300, 4 + 0x980] {
        let r = mp4(&flip(&original, 125, at));
        assert_eq!(r.outcome(), Outcome::Altered, "byte {at}");
        assert_eq!(r.gops[1].failure, Some(Failure::Signature), "byte {at}");
        assert_eq!(r.gops[1].bad.len(), 62);
        assert!(r
            .gops
            .iter()
            .enumerate()
            .all(|(i, g)| i == 1 || g.failure.is_none()));
    }
}

/// The file with its samples rewritten by `edit` (sizes kept, so the
/// sample table stays true): sample `i` becomes `edit(i, bytes)`.
fn with_samples(bytes: &[u8], edit: impl Fn(usize, &[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for (i, (offset, size)) in samples(bytes).into_iter().enumerate() {
        let new = edit(i, &bytes[offset..offset + size]);
        assert_eq!(new.len(), size);
        out[offset..offset + size].copy_from_slice(&new);
    }
    out
}

/// A sample's NAL units turned into a filler NAL unit (type 12, which no
/// hash covers) of the same size: the frame is gone from the stream.
fn as_filler(sample: &[u8]) -> Vec<u8> {
    let mut out = sample.to_vec();
    out[4] = 0x0c;
    // One NAL unit spanning the sample.
    let len = (sample.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out
}

#[test]
fn a_frame_taken_out_fails_its_gop_as_missing() {
    let original = vector("signed_test_h264.mp4");
    let cut = with_samples(
        &original,
        |i, s| {
            if i == 100 {
                as_filler(s)
            } else {
                s.to_vec()
            }
        },
    );
    let r = mp4(&cut);
    // A stored file lacking a frame its camera signed is not that file.
    assert_eq!(r.outcome(), Outcome::Altered, "{r:?}");
    assert_eq!(
        (r.gops[1].missing, r.gops[1].failure),
        (1, Some(Failure::Missing))
    );
    assert_eq!(r.gops[1].frames, 61);
    assert_eq!(
        r.first_failure().unwrap(),
        "GOP 2 (frames 62–123): 1 signed frame is not in the clip"
    );
}

#[test]
fn a_removed_signature_leaves_its_gop_unsigned_and_said_so() {
    let original = vector("signed_test_h264.mp4");
    // Sample 125 is [SEI, P]: the SEI becomes filler, the P-frame stays.
    let (_, _) = samples(&original)[125];
    let gone = with_samples(&original, |i, s| {
        if i != 125 {
            return s.to_vec();
        }
        let mut out = s.to_vec();
        out[4] = 0x0c;
        out
    });
    let r = mp4(&gone);
    assert_eq!(r.outcome(), Outcome::Altered);
    assert_eq!(
        r.gops
            .iter()
            .map(|g| (g.counter, g.failure))
            .collect::<Vec<_>>(),
        [
            (1, None),
            (2, Some(Failure::SeiMissing)),
            (3, None),
            (4, None),
            (5, None),
        ]
    );
    assert_eq!((r.gops[1].first, r.gops[1].last), (Some(62), Some(123)));
    assert_eq!(
        r.first_failure().unwrap(),
        "GOP 2 (frames 62–123): its signature never came"
    );
}

#[test]
fn a_picture_no_signature_covers_makes_the_clip_incomplete() {
    // A P-frame turned into a data partition (type 2), or an IDR without
    // its reference bit: the framework hashes neither, a decoder may show
    // them. The frame they replace is missing (altered); they are counted.
    let original = vector("signed_test_h264.mp4");
    for header in [0x22u8, 0x05] {
        let r = mp4(&with_samples(&original, |i, s| {
            let mut s = s.to_vec();
            if i == 100 {
                s[4] = header;
            }
            s
        }));
        assert_eq!(r.outcome(), Outcome::Altered, "{header:#x}: {r:?}");
        assert_eq!(r.unprotected_units, 1);
        assert_eq!(r.gops[1].failure, Some(Failure::Missing));
    }
    // Added to a whole stream, beside its signed frames: not authentic.
    let mut stream = units(&original);
    stream.insert(100, (999, vec![0x22, 0x88, 0x84, 0x10]));
    let r = verify_annex_b(Codec::H264, &annex_b(&stream), Options::default());
    assert_eq!(r.unprotected_units, 1);
    assert_eq!(r.outcome(), Outcome::Incomplete, "{r:?}");
}

#[test]
fn swapped_frames_fail() {
    let original = vector("signed_test_h264.mp4");
    let table = samples(&original);
    let (a, b) = (table[70], table[71]);
    let mut swapped = original.clone();
    // Swap the two frames' bytes where they are the same size; else swap
    // the first bytes of their slices, which is a change just the same.
    let n = a.1.min(b.1);
    let (x, y) = (
        original[a.0..a.0 + n].to_vec(),
        original[b.0..b.0 + n].to_vec(),
    );
    if a.1 == b.1 {
        swapped[a.0..a.0 + n].copy_from_slice(&y);
        swapped[b.0..b.0 + n].copy_from_slice(&x);
    } else {
        swapped[a.0 + 5..a.0 + n].copy_from_slice(&y[5..n]);
        swapped[b.0 + 5..b.0 + n].copy_from_slice(&x[5..n]);
    }
    let r = mp4(&swapped);
    assert_eq!(r.outcome(), Outcome::Altered);
    assert_eq!(r.gops[1].failure, Some(Failure::Frames));
}

#[test]
fn a_pinned_key_refuses_another_cameras_stream() {
    let original = vector("signed_test_h264.mp4");
    let pinned = |hex_key: &str| Options {
        pinned_key_sha256: Some(hex::decode(hex_key).unwrap().try_into().unwrap()),
    };
    let own = verify_mp4(Cursor::new(&original), pinned(H264_KEY)).unwrap();
    assert_eq!(own.outcome(), Outcome::Authentic);
    let other = verify_mp4(
        Cursor::new(&original),
        pinned("655d82d9c71cfac7a009582d1cc02b966cb91c64d74b49689f35945379ba38f5"),
    )
    .unwrap();
    assert_eq!(other.outcome(), Outcome::Altered);
    assert!(other.gops.iter().all(|g| g.failure == Some(Failure::Key)));
}

#[test]
fn a_key_swapped_in_the_stream_fails_the_signature() {
    // The modified file's SEIs carry another key than the original's:
    // one SEI of it put into the original is signed by a stranger.
    let original = vector("signed_test_h264.mp4");
    let r = mp4(&with_samples(&original, |i, s| {
        let mut s = s.to_vec();
        if i == 125 {
            // Flip one bit inside the PEM key text of the SEI.
            s[4 + 0x40] ^= 0x02;
        }
        s
    }));
    assert_eq!(r.outcome(), Outcome::Altered);
    assert!(matches!(
        r.gops[1].failure,
        Some(Failure::Key | Failure::Signature)
    ));
}

#[test]
fn garbage_truncations_and_random_damage_never_panic_and_never_pass() {
    use rand::{Rng, SeedableRng};
    let original = vector("signed_test_h264.mp4");
    let mut rng = rand::rngs::StdRng::seed_from_u64(23);
    // Truncated anywhere in its boxes or frames: an error or a report,
    // never a pass of the whole. (Past its last frame are only boxes
    // that say nothing of the video.)
    let table = samples(&original);
    let media_end = table.iter().map(|(o, s)| o + s).max().unwrap();
    assert!(media_end <= original.len());
    for cut in (0..media_end).step_by(9_973).chain([media_end - 1]) {
        if let Ok(r) = verify_mp4(Cursor::new(&original[..cut]), Options::default()) {
            assert_ne!(r.outcome(), Outcome::Authentic, "cut at {cut}");
        }
    }
    // Random bytes flipped inside the media: never authentic.
    for _ in 0..60 {
        let (offset, size) = table[rng.gen_range(0..table.len())];
        let mut damaged = original.clone();
        let at = offset + rng.gen_range(4..size);
        damaged[at] ^= 1 << rng.gen_range(0..8);
        let r = mp4(&damaged);
        assert_ne!(r.outcome(), Outcome::Authentic, "byte {at}");
    }
    // Annex B garbage of every kind: a report, no panic.
    for len in [0, 1, 3, 4, 100, 5000] {
        let noise: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        for codec in [Codec::H264, Codec::H265] {
            let _ = verify_annex_b(codec, &noise, Options::default());
        }
    }
}

#[test]
fn hostile_seis_are_problems_not_panics() {
    let sei = |body: &[u8]| {
        let mut nal = vec![0x06, 0x05, (16 + body.len()) as u8];
        nal.extend_from_slice(&sei::UUID);
        nal.extend_from_slice(body);
        nal.push(0x80);
        let mut stream = vec![0, 0, 0, 1];
        stream.extend_from_slice(&nal);
        stream
    };
    for (body, expect) in [
        (&[0x80, 0x42, 0x00][..], "unsupported TLV tag 66"),
        (&[0x80, 0x01, 0x20, 0x01][..], "cut off"),
        (&[0x80, 0x01, 0x02, 0x09, 0x00][..], "unknown version"),
        (
            &[0x80, 0x04, 0x00, 0x01, 0x01, 0x04, 0x00, 0x01, 0x01][..],
            "twice",
        ),
        (
            &[0x80, 0x05, 0x00, 0x05, 0x02, 0x00, 0x00, 0x40, 0x00][..],
            "longer than its TLV",
        ),
    ] {
        let r = verify_annex_b(Codec::H264, &sei(body), Options::default());
        assert_eq!(r.outcome(), Outcome::Unverifiable, "{body:?}");
        assert!(
            r.problems.iter().any(|p| p.contains(expect)),
            "{body:?}: {:?}",
            r.problems
        );
    }
    // A signed-video SEI claiming more payload than it has.
    let mut nal = vec![0, 0, 1, 0x06, 0x05, 0xff, 0x20];
    nal.extend_from_slice(&sei::UUID);
    nal.push(0xb0);
    let r = verify_annex_b(Codec::H264, &nal, Options::default());
    assert_eq!(r.outcome(), Outcome::Unverifiable);
    // ONVIF Media Signing is named, not called unsigned.
    let mut onvif = vec![0, 0, 1, 0x06, 0x05, 0x11];
    onvif.extend_from_slice(&sei::ONVIF_UUID);
    onvif.push(0x80);
    let r = verify_annex_b(Codec::H264, &onvif, Options::default());
    assert!(r.onvif);
    assert_eq!(r.outcome(), Outcome::Unverifiable);
}

/// The file's NAL units in stream order, each with its sample.
fn units(bytes: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut mp4 = custos_video::Fmp4::open(Cursor::new(bytes)).unwrap();
    let n = mp4.track().length_size;
    let mut out = Vec::new();
    for (i, f) in mp4.frames().unwrap().iter().enumerate() {
        let sample = mp4.frame(f).unwrap();
        for unit in nal::length_prefixed(&sample, n).unwrap() {
            out.push((i, unit.to_vec()));
        }
    }
    out
}

fn annex_b(units: &[(usize, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (_, u) in units {
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(u);
    }
    out
}

fn is_sei(unit: &[u8]) -> bool {
    unit[0] & 0x1f == 6
}

#[test]
fn a_gop_cut_out_with_its_signatures_kept_fails() {
    // GOP 3's pictures (samples 124–185) gone, every SEI kept: its SEI
    // signs frames that are not there, and GOP 4 links to an I-frame that
    // is not the last one seen.
    let all = units(&vector("signed_test_h264.mp4"));
    let cut: Vec<_> = all
        .iter()
        .filter(|(i, u)| is_sei(u) || !(124..=185).contains(i))
        .cloned()
        .collect();
    let r = verify_annex_b(Codec::H264, &annex_b(&cut), Options::default());
    assert_eq!(r.outcome(), Outcome::Altered, "{r:?}");
    assert_eq!(r.gops[2].counter, 3);
    assert!(r.gops[2].failure.is_some(), "{r:?}");
    // With GOP 3's and GOP 4's SEIs moved before I-frame 186 (each alone,
    // as an editor would put them), GOP 3's SEI covers nothing.
    let mut moved: Vec<_> = all
        .iter()
        .filter(|(i, u)| !is_sei(u) && !(124..=185).contains(i))
        .cloned()
        .collect();
    let sei = |sample: usize| {
        all.iter()
            .find(|(i, u)| *i == sample && is_sei(u))
            .unwrap()
            .clone()
    };
    let at = moved.iter().position(|(i, _)| *i == 186).unwrap();
    moved.insert(at, sei(187));
    moved.insert(at, sei(125));
    moved.insert(moved.iter().position(|(i, _)| *i == 62).unwrap(), sei(63));
    let r = verify_annex_b(Codec::H264, &annex_b(&moved), Options::default());
    assert_eq!(r.outcome(), Outcome::Altered, "{r:?}");
    let gop3 = r.gops.iter().find(|g| g.counter == 3).unwrap();
    assert_eq!(
        (gop3.frames, gop3.missing, gop3.failure),
        (0, 62, Some(Failure::Missing))
    );
}

#[test]
fn a_gop_replayed_or_spliced_from_elsewhere_fails() {
    let all = units(&vector("signed_test_h264.mp4"));
    // GOP 1 (its pictures and its SEI, counter 1) again after GOP 4.
    let before_end: Vec<_> = all.iter().filter(|(i, _)| *i < 248).cloned().collect();
    let gop1: Vec<_> = all
        .iter()
        .filter(|(i, u)| (*i <= 61 && !is_sei(u)) || (*i == 63 && is_sei(u)))
        .cloned()
        .collect();
    let replayed = [before_end, gop1].concat();
    let r = verify_annex_b(Codec::H264, &annex_b(&replayed), Options::default());
    assert_eq!(r.outcome(), Outcome::Altered, "{r:?}");
    let last = r.gops.last().unwrap();
    assert_eq!(last.counter, 1);
    assert_eq!(last.failure, Some(Failure::Sequence));
    // GOP 2's SEI twice in a row, its frames once.
    let mut twice = all.clone();
    let sei2 = all
        .iter()
        .find(|(i, u)| *i == 125 && is_sei(u))
        .unwrap()
        .clone();
    let at = twice
        .iter()
        .position(|(i, u)| *i == 125 && is_sei(u))
        .unwrap();
    twice.insert(at + 1, sei2);
    let r = verify_annex_b(Codec::H264, &annex_b(&twice), Options::default());
    assert_eq!(r.outcome(), Outcome::Altered, "{r:?}");
}

#[test]
fn a_flood_of_pictures_without_signatures_is_counted_not_kept() {
    // 120,000 one-slice pictures and no SEI: counted, held in bounded
    // memory (at most MAX_WAITING hashes), unsigned.
    let mut stream = Vec::with_capacity(120_000 * 8);
    for i in 0..120_000u32 {
        stream.extend_from_slice(&[0, 0, 1, 0x41, 0x9a]);
        stream.extend_from_slice(&i.to_be_bytes());
    }
    let r = verify_annex_b(Codec::H264, &stream, Options::default());
    assert_eq!(r.outcome(), Outcome::Unsigned);
    assert_eq!((r.frames, r.unsigned_frames), (120_000, 120_000));
}
