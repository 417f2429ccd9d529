use std::io::Cursor;

use super::*;

fn region(x: f32, y: f32, w: f32, h: f32) -> Region {
    Region { x, y, w, h }
}

fn track(kind: BoxKind, keyframes: &[(u64, Region)]) -> Track {
    Track {
        label: "person-1".into(),
        kind,
        keyframes: keyframes
            .iter()
            .map(|(at, r)| BoxKeyframe {
                at_millis: *at,
                region: *r,
            })
            .collect(),
    }
}

/// Mean absolute difference of horizontal neighbours in a rectangle of
/// the luma plane: texture, which a mosaic removes.
fn texture(p: &Picture, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> f64 {
    let mut sum = 0u64;
    let mut n = 0u64;
    for row in y0..y1 {
        for col in x0..x1 - 1 {
            let a = p.y[row * p.width + col] as i32;
            let b = p.y[row * p.width + col + 1] as i32;
            sum += (a - b).unsigned_abs() as u64;
            n += 1;
        }
    }
    sum as f64 / n as f64
}

/// PSNR of the luma in a rectangle, in dB.
fn psnr(a: &Picture, b: &Picture, (x0, y0, x1, y1): (usize, usize, usize, usize)) -> f64 {
    let mut sum = 0f64;
    let mut n = 0f64;
    for row in y0..y1 {
        for col in x0..x1 {
            let d = a.y[row * a.width + col] as f64 - b.y[row * b.width + col] as f64;
            sum += d * d;
            n += 1.0;
        }
    }
    let mse = sum / n;
    if mse == 0.0 {
        return 99.0;
    }
    10.0 * (255.0 * 255.0 / mse).log10()
}

#[test]
fn plans_are_checked_and_garbage_is_refused_with_the_part_named() {
    let good = Plan {
        tracks: vec![track(BoxKind::Pixelate, &[(0, region(0.1, 0.1, 0.2, 0.2))])],
        mute: vec![MuteRange {
            from_millis: 0,
            to_millis: 500,
        }],
    };
    good.check().unwrap();
    let json = serde_json::to_string(&good).unwrap();
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), good);
    let broken = |f: &dyn Fn(&mut Plan)| {
        let mut p = good.clone();
        f(&mut p);
        p.check().unwrap_err().to_string()
    };
    assert!(broken(&|p| p.tracks[0].keyframes[0].region.x = -0.1).contains("within the picture"));
    assert!(broken(&|p| p.tracks[0].keyframes[0].region.w = 0.95).contains("within the picture"));
    assert!(
        broken(&|p| p.tracks[0].keyframes[0].region.h = f32::NAN).contains("within the picture")
    );
    assert!(broken(&|p| p.tracks[0].keyframes[0].region.w = 0.0).contains("within the picture"));
    assert!(broken(&|p| p.tracks[0].keyframes.clear()).contains("no keyframe"));
    assert!(broken(&|p| p.tracks[0].label = " ".into()).contains("label"));
    assert!(broken(&|p| p.tracks[0].label = "x".repeat(65)).contains("label"));
    assert!(broken(&|p| {
        let k = p.tracks[0].keyframes[0];
        p.tracks[0].keyframes.push(k);
    })
    .contains("time order"));
    assert!(broken(&|p| p.mute[0].to_millis = 0).contains("mute"));
    assert!(broken(&|p| p.tracks = vec![p.tracks[0].clone(); MAX_TRACKS + 1]).contains("boxes"));
    for garbage in [
        "",
        "[3]",
        r#"{"tracks": 3}"#,
        r#"{"tracks": [{"label": "a", "kind": "erase", "keyframes": []}]}"#,
        r#"{"tracks": [], "extra": 1}"#,
        r#"{"tracks": [{"label": "a", "kind": "keep", "keyframes": [{"at_millis": -1, "x": 0, "y": 0, "w": 1, "h": 1}]}]}"#,
    ] {
        assert!(serde_json::from_str::<Plan>(garbage).is_err(), "{garbage}");
    }
}

#[test]
fn a_box_moves_in_a_straight_line_between_its_keyframes() {
    let t = track(
        BoxKind::Pixelate,
        &[
            (1_000, region(0.0, 0.0, 0.2, 0.2)),
            (3_000, region(0.6, 0.4, 0.4, 0.2)),
        ],
    );
    assert_eq!(t.region_at(999), None, "not yet drawn");
    assert_eq!(t.region_at(1_000), Some(region(0.0, 0.0, 0.2, 0.2)));
    let mid = t.region_at(2_000).unwrap();
    for (got, want) in [(mid.x, 0.3), (mid.y, 0.2), (mid.w, 0.3), (mid.h, 0.2)] {
        assert!((got - want).abs() < 1e-6, "{mid:?}");
    }
    assert_eq!(t.region_at(3_000), Some(region(0.6, 0.4, 0.4, 0.2)));
    assert_eq!(t.region_at(3_001), None, "no longer drawn");
    let still = track(BoxKind::Keep, &[(500, region(0.5, 0.5, 0.1, 0.1))]);
    assert_eq!(still.region_at(499), None);
    assert_eq!(
        still.region_at(10_000_000),
        Some(region(0.5, 0.5, 0.1, 0.1))
    );
}

#[test]
fn inside_a_box_the_picture_is_gone_and_outside_it_is_as_it_was() {
    let original = synthetic_clip(320, 240, 15, 2).unwrap();
    let before = original.clone();
    let plan = Plan {
        tracks: vec![track(
            BoxKind::Pixelate,
            &[(0, region(0.25, 0.25, 0.5, 0.5))],
        )],
        mute: vec![],
    };
    let mut derived = Vec::new();
    let rendered = render(Cursor::new(&original), &plan, &mut derived).unwrap();
    assert_eq!(original, before, "the original is only read");
    assert_eq!(
        (rendered.frames, rendered.width, rendered.height),
        (30, 320, 240)
    );
    assert_eq!(rendered.bytes, derived.len() as u64);
    assert!(
        (1_900..=2_100).contains(&rendered.duration_millis),
        "{rendered:?}"
    );
    let a = decode_all(Cursor::new(&original)).unwrap();
    let b = decode_all(Cursor::new(&derived)).unwrap();
    assert_eq!(a.len(), 30);
    assert_eq!(
        b.len(),
        30,
        "every frame of the original is in the derived file"
    );
    // The box is 80..240 × 60..180 pixels; its inside, away from block edges.
    let inside = (88, 68, 232, 172);
    let outside = [
        (0, 0, 320, 50),
        (0, 190, 320, 240),
        (0, 0, 70, 240),
        (250, 0, 320, 240),
    ];
    for (n, (pa, pb)) in a.iter().zip(&b).enumerate() {
        let (ta, tb) = (texture(pa, inside), texture(pb, inside));
        assert!(
            tb < ta * 0.15,
            "frame {n}: texture inside {tb:.1} vs {ta:.1} in the original"
        );
        for rect in outside {
            let q = psnr(pa, pb, rect);
            assert!(q >= 30.0, "frame {n} {rect:?}: PSNR {q:.1} dB");
        }
    }
}

#[test]
fn keep_one_person_and_pixelate_everyone_else() {
    let original = synthetic_clip(320, 240, 15, 1).unwrap();
    let plan = Plan {
        tracks: vec![track(BoxKind::Keep, &[(0, region(0.25, 0.25, 0.5, 0.5))])],
        mute: vec![],
    };
    let mut derived = Vec::new();
    render(Cursor::new(&original), &plan, &mut derived).unwrap();
    let a = decode_all(Cursor::new(&original)).unwrap();
    let b = decode_all(Cursor::new(&derived)).unwrap();
    let kept = (84, 64, 236, 176);
    for (pa, pb) in a.iter().zip(&b) {
        assert!(psnr(pa, pb, kept) >= 30.0);
        for rect in [(0, 0, 320, 48), (0, 192, 320, 240)] {
            assert!(texture(pb, rect) < texture(pa, rect) * 0.2);
        }
    }
}

#[test]
fn a_moving_box_follows_its_keyframes_frame_by_frame() {
    let original = synthetic_clip(320, 240, 10, 2).unwrap();
    // Left third at 0 s, right third at 1.9 s.
    let plan = Plan {
        tracks: vec![track(
            BoxKind::Pixelate,
            &[
                (0, region(0.0, 0.3, 0.3, 0.4)),
                (1_900, region(0.7, 0.3, 0.3, 0.4)),
            ],
        )],
        mute: vec![],
    };
    let mut derived = Vec::new();
    render(Cursor::new(&original), &plan, &mut derived).unwrap();
    let a = decode_all(Cursor::new(&original)).unwrap();
    let b = decode_all(Cursor::new(&derived)).unwrap();
    let left = (8, 80, 88, 160);
    let right = (232, 80, 312, 160);
    // First frame: left hidden, right as it was; last frame: the other way.
    assert!(texture(&b[0], left) < texture(&a[0], left) * 0.15);
    assert!(psnr(&a[0], &b[0], right) >= 30.0);
    let last = b.len() - 1;
    assert!(texture(&b[last], right) < texture(&a[last], right) * 0.15);
    assert!(psnr(&a[last], &b[last], left) >= 30.0);
}

#[test]
fn damaged_or_foreign_input_is_an_error_never_a_panic() {
    let original = synthetic_clip(160, 120, 10, 1).unwrap();
    let plan = Plan::default();
    for bad in [
        Vec::new(),
        b"not an mp4 at all".to_vec(),
        original[..original.len() / 2].to_vec(),
        original[..40].to_vec(),
    ] {
        assert!(
            render(Cursor::new(&bad), &plan, &mut Vec::new()).is_err(),
            "{} bytes",
            bad.len()
        );
    }
    // A plan that does not check is refused before anything is read.
    let bad_plan = Plan {
        tracks: vec![track(BoxKind::Keep, &[])],
        mute: vec![],
    };
    assert!(matches!(
        render(Cursor::new(&original), &bad_plan, &mut Vec::new()),
        Err(RedactError::Plan(_))
    ));
    // Flipped bytes inside a frame: an error or a (damaged) render, never a panic.
    let mut flipped = original.clone();
    let at = flipped.len() - 200;
    for b in &mut flipped[at..at + 50] {
        *b ^= 0x5a;
    }
    let _ = render(Cursor::new(&flipped), &plan, &mut Vec::new());
}

#[test]
fn a_derived_copy_carries_one_video_track_and_no_sound() {
    use mp4_atom::{Any, ReadFrom};
    let original = synthetic_clip(160, 120, 10, 1).unwrap();
    let plan = Plan {
        tracks: vec![],
        mute: vec![MuteRange {
            from_millis: 0,
            to_millis: 500,
        }],
    };
    let mut derived = Vec::new();
    render(Cursor::new(&original), &plan, &mut derived).unwrap();
    let mut reader = Cursor::new(&derived);
    let mut moov = None;
    while let Ok(atom) = Any::read_from(&mut reader) {
        if let Any::Moov(m) = atom {
            moov = Some(m);
            break;
        }
    }
    let moov = moov.expect("a moov box");
    assert_eq!(moov.trak.len(), 1);
    assert_eq!(
        moov.trak[0].mdia.hdlr.handler,
        mp4_atom::FourCC::new(b"vide")
    );
}

/// Two parts (an Axis recording's clips) with a second between them: one
/// copy, the second part's frames after the first's, each frame redacted
/// at its moment of the recording: a box from 1.5 s leaves the first part
/// (0–1 s) as it was and hides the second (from 2 s) from its first frame.
#[test]
fn parts_become_one_copy_each_frame_redacted_at_its_moment_of_the_recording() {
    let (one, two) = (
        synthetic_clip(160, 120, 10, 1).unwrap(),
        synthetic_clip(160, 120, 10, 1).unwrap(),
    );
    let plan = Plan {
        tracks: vec![track(
            BoxKind::Pixelate,
            &[(1_500, region(0.25, 0.25, 0.5, 0.5))],
        )],
        mute: vec![],
    };
    let opened = std::cell::RefCell::new(Vec::new());
    let parts = [(0, &one), (2_000, &two)].map(|(offset_millis, bytes)| {
        let opened = &opened;
        Source {
            offset_millis,
            open: move || {
                opened.borrow_mut().push(offset_millis);
                Ok(Cursor::new(bytes))
            },
        }
    });
    let mut derived = Vec::new();
    let rendered = render_parts(parts, &plan, &mut derived).unwrap();
    assert_eq!(
        opened.into_inner(),
        [0, 2_000],
        "each part opened once, in order"
    );
    assert_eq!(rendered.frames, 20);
    assert!(
        (1_900..=2_100).contains(&rendered.duration_millis),
        "the parts follow one another in the copy: {rendered:?}"
    );
    let (a, b, copy) = (
        decode_all(Cursor::new(&one)).unwrap(),
        decode_all(Cursor::new(&two)).unwrap(),
        decode_all(Cursor::new(&derived)).unwrap(),
    );
    assert_eq!(copy.len(), 20);
    let inside = (44, 34, 116, 86);
    for (n, (pa, pc)) in a.iter().zip(&copy[..10]).enumerate() {
        assert!(
            psnr(pa, pc, (0, 0, 160, 120)) >= 30.0,
            "first part, frame {n}"
        );
    }
    for (n, (pb, pc)) in b.iter().zip(&copy[10..]).enumerate() {
        assert!(
            texture(pc, inside) < texture(pb, inside) * 0.15,
            "second part, frame {n}"
        );
    }
}

/// Parts this renderer cannot put in one copy are refused, naming the
/// part; a part that does not open stops the render with its own error;
/// no part at all is an error, not an empty file.
#[test]
fn parts_of_another_size_unopenable_or_none_are_refused() {
    let (small, large) = (
        synthetic_clip(160, 120, 10, 1).unwrap(),
        synthetic_clip(320, 240, 10, 1).unwrap(),
    );
    let plan = Plan::default();
    let parts = [(0, &small), (1_000, &large)].map(|(offset_millis, bytes)| Source {
        offset_millis,
        open: move || Ok(Cursor::new(bytes)),
    });
    match render_parts(parts, &plan, &mut Vec::new()) {
        Err(RedactError::Unsupported(why)) => {
            assert_eq!(
                why,
                "part 2 is 320×240, the first part 160×120: one derived file has one picture size"
            )
        }
        other => panic!("{other:?}"),
    }
    let failing = [
        Source {
            offset_millis: 0,
            open: Box::new(|| Ok(Cursor::new(small.clone())))
                as Box<dyn FnOnce() -> Result<Cursor<Vec<u8>>, RedactError>>,
        },
        Source {
            offset_millis: 1_000,
            open: Box::new(|| {
                Err(VideoError::Io(std::io::Error::other("the store is down")).into())
            }),
        },
    ];
    match render_parts(failing, &plan, &mut Vec::new()) {
        Err(RedactError::Video(VideoError::Io(e))) => {
            assert_eq!(e.to_string(), "the store is down")
        }
        other => panic!("{other:?}"),
    }
    type Opens = fn() -> Result<Cursor<Vec<u8>>, RedactError>;
    let none: [Source<Opens>; 0] = [];
    assert!(render_parts(none, &plan, &mut Vec::new()).is_err());
}

/// Hostile times in a part (a fragment dated before the one before it,
/// or near the end of time) end the render with an error or render it,
/// never a panic or an overflow.
#[test]
fn fragments_dated_backwards_or_at_the_end_of_time_never_panic() {
    let original = synthetic_clip(160, 120, 10, 3).unwrap();
    let at: Vec<usize> = original
        .windows(4)
        .enumerate()
        .filter(|(_, w)| w == b"tfdt")
        .map(|(i, _)| i)
        .collect();
    assert!(at.len() >= 3, "a fragment per second");
    for base in [0u64, u64::MAX - 5, u64::MAX / 3] {
        let mut hostile = original.clone();
        // tfdt: type, version (1: a 64-bit time), flags, then the time.
        let t = at[1] + 4;
        assert_eq!(hostile[t], 1, "version 1");
        hostile[t + 4..t + 12].copy_from_slice(&base.to_be_bytes());
        let two = [hostile.clone(), hostile].map(|bytes| Source {
            offset_millis: u64::MAX - 1,
            open: move || Ok(Cursor::new(bytes)),
        });
        let _ = render_parts(two, &Plan::default(), &mut Vec::new());
    }
}
