//! The joined file against its clips: made here by hand (a picture track
//! and a sound track in interleaved chunks, as a camera writes them) and
//! read back box by box. The server's tests play real clips made by
//! ffmpeg through ffprobe and ffmpeg.

use super::*;
use std::io::Cursor;

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().unwrap())
}

/// A track to write: handler, timescale, each sample's (size, duration,
/// sync, composition offset), and its sample entry's bytes.
struct Spec {
    handler: &'static [u8; 4],
    timescale: u32,
    samples: Vec<(u32, u32, bool, i32)>,
    entry: Vec<u8>,
    /// An edit list: an empty edit of this many milliseconds (if not 0),
    /// then one from this media time.
    edit: Option<(u32, u32)>,
}

fn video(frames: usize, entry: &[u8]) -> Spec {
    Spec {
        handler: b"vide",
        timescale: 10_000,
        // 10 a second, a sync sample each second, sizes all different.
        samples: (0..frames)
            .map(|i| (300 + (i as u32 * 7) % 50, 1000, i % 10 == 0, 0))
            .collect(),
        entry: entry.to_vec(),
        edit: None,
    }
}

fn sound(frames: usize) -> Spec {
    Spec {
        handler: b"soun",
        timescale: 48_000,
        samples: (0..frames)
            .map(|i| (20 + i as u32 % 9, 1024, true, 0))
            .collect(),
        entry: b"mp4a-config".to_vec(),
        edit: None,
    }
}

/// A progressive MP4 (`ftyp`, `mdat`, `moov`) of `tracks`, their samples
/// in chunks of five taken in turn from each track; each sample's bytes
/// say which track, which sample and which byte they are.
fn clip(tracks: &[Spec], tag: u8) -> (Vec<u8>, Vec<Vec<Vec<u8>>>) {
    let ftyp = boxed(b"ftyp", b"isom\0\0\0\0isom");
    let mut data = Vec::new();
    let mut chunk_offsets: Vec<Vec<u64>> = vec![Vec::new(); tracks.len()];
    let mut bytes: Vec<Vec<Vec<u8>>> = vec![Vec::new(); tracks.len()];
    let data_start = (ftyp.len() + 8) as u64;
    let chunks = tracks
        .iter()
        .map(|t| t.samples.len().div_ceil(5))
        .max()
        .unwrap();
    for c in 0..chunks {
        for (t, spec) in tracks.iter().enumerate() {
            let in_chunk = spec.samples.iter().enumerate().skip(c * 5).take(5);
            if in_chunk.len() == 0 {
                continue;
            }
            chunk_offsets[t].push(data_start + data.len() as u64);
            for (i, (size, ..)) in in_chunk {
                let sample: Vec<u8> = (0..*size)
                    .map(|b| {
                        tag ^ (t as u8).wrapping_mul(101) ^ (i as u8).wrapping_mul(31) ^ b as u8
                    })
                    .collect();
                data.extend_from_slice(&sample);
                bytes[t].push(sample);
            }
        }
    }
    let mdat = boxed(b"mdat", &data);
    let mut mvhd = [0u8; 100];
    mvhd[12..16].copy_from_slice(&1000u32.to_be_bytes());
    let mut moov = boxed(b"mvhd", &mvhd);
    for (t, spec) in tracks.iter().enumerate() {
        let mut tkhd = vec![0u8; 84];
        tkhd[12..16].copy_from_slice(&(t as u32 + 1).to_be_bytes());
        tkhd[76..80].copy_from_slice(&(320u32 << 16).to_be_bytes());
        tkhd[80..84].copy_from_slice(&(240u32 << 16).to_be_bytes());
        let mut mdhd = vec![0u8; 24];
        mdhd[12..16].copy_from_slice(&spec.timescale.to_be_bytes());
        mdhd[20..22].copy_from_slice(&0x55c4u16.to_be_bytes());
        let mut hdlr = vec![0u8; 8];
        hdlr.extend_from_slice(spec.handler);
        hdlr.extend_from_slice(&[0; 12]);
        hdlr.extend_from_slice(b"Track\0");
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend(boxed(b"avc1", &spec.entry));
        let table = |entries: Vec<Vec<u8>>| {
            let mut b = vec![0u8; 4];
            b.extend((entries.len() as u32).to_be_bytes());
            b.extend(entries.concat());
            b
        };
        let mut stts = Vec::new();
        for (_, d, ..) in &spec.samples {
            stts.push([1u32.to_be_bytes(), d.to_be_bytes()].concat());
        }
        let mut stsz = vec![0u8; 8];
        stsz.extend((spec.samples.len() as u32).to_be_bytes());
        for (s, ..) in &spec.samples {
            stsz.extend(s.to_be_bytes());
        }
        let stsc = table(vec![[1u32, 5, 1]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect()]);
        let stco = table(
            chunk_offsets[t]
                .iter()
                .map(|o| (*o as u32).to_be_bytes().to_vec())
                .collect(),
        );
        let stss = table(
            spec.samples
                .iter()
                .enumerate()
                .filter(|(_, s)| s.2)
                .map(|(i, _)| (i as u32 + 1).to_be_bytes().to_vec())
                .collect(),
        );
        let mut stbl = [
            boxed(b"stsd", &stsd),
            boxed(b"stts", &table(stts)),
            boxed(b"stsc", &stsc),
            boxed(b"stsz", &stsz),
            boxed(b"stco", &stco),
            boxed(b"stss", &stss),
        ]
        .concat();
        if spec.samples.iter().any(|s| s.3 != 0) {
            let mut ctts = vec![1u8, 0, 0, 0];
            ctts.extend((spec.samples.len() as u32).to_be_bytes());
            for s in &spec.samples {
                ctts.extend(1u32.to_be_bytes());
                ctts.extend(s.3.to_be_bytes());
            }
            stbl.extend(boxed(b"ctts", &ctts));
        }
        let minf = [
            boxed(b"vmhd", &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]),
            boxed(b"stbl", &stbl),
        ]
        .concat();
        let mdia = [
            boxed(b"mdhd", &mdhd),
            boxed(b"hdlr", &hdlr),
            boxed(b"minf", &minf),
        ]
        .concat();
        let edts = match spec.edit {
            None => Vec::new(),
            Some((delay, media_time)) => {
                let mut elst = vec![0u8; 4];
                let entries: Vec<(u32, i32)> = if delay > 0 {
                    vec![(delay, -1), (3000, media_time as i32)]
                } else {
                    vec![(3000, media_time as i32)]
                };
                elst.extend((entries.len() as u32).to_be_bytes());
                for (d, m) in entries {
                    elst.extend(d.to_be_bytes());
                    elst.extend(m.to_be_bytes());
                    elst.extend(0x1_0000u32.to_be_bytes());
                }
                boxed(b"edts", &boxed(b"elst", &elst))
            }
        };
        moov.extend(boxed(
            b"trak",
            &[boxed(b"tkhd", &tkhd), edts, boxed(b"mdia", &mdia)].concat(),
        ));
        moov.extend(boxed(b"udta", b"camera's own"));
    }
    ([ftyp, mdat, boxed(b"moov", &moov)].concat(), bytes)
}

fn tracks_of(file: &[u8]) -> Vec<Track> {
    tracks(&read_moov(&mut Cursor::new(file)).unwrap()).unwrap()
}

/// The joined file's bytes `start..=end`, from the clips' bytes.
fn read(j: &Joined, clips: &[Vec<u8>], start: u64, end: u64) -> Vec<u8> {
    let mut out = Vec::new();
    j.read_range(start, end, |p| {
        match p {
            Piece::Made(b) => out.extend_from_slice(b),
            Piece::Clip {
                clip,
                offset,
                length,
            } => out.extend_from_slice(&clips[clip][offset as usize..(offset + length) as usize]),
        }
        Ok::<(), ()>(())
    })
    .unwrap();
    out
}

/// Every box directly in `bytes`: its type and its body.
fn top(mut bytes: &[u8]) -> Vec<([u8; 4], &[u8], usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while !bytes.is_empty() {
        let (kind, body, after) = tables::next_box(bytes).unwrap();
        out.push((kind, body, at));
        at += bytes.len() - after.len();
        bytes = after;
    }
    out
}

/// Each track's samples as the joined file says they are: (track id,
/// decode time, bytes, sync).
fn samples_of(file: &[u8]) -> Vec<(u32, u64, Vec<u8>, bool)> {
    let mut out = Vec::new();
    for (kind, body, at) in top(file) {
        if &kind != b"moof" {
            continue;
        }
        for (kind, traf, _) in top(body) {
            if &kind != b"traf" {
                continue;
            }
            let boxes = top(traf);
            let tfhd = boxes.iter().find(|b| &b.0 == b"tfhd").unwrap().1;
            let tfdt = boxes.iter().find(|b| &b.0 == b"tfdt").unwrap().1;
            let trun = boxes.iter().find(|b| &b.0 == b"trun").unwrap().1;
            assert_eq!(be32(tfhd) & 0xff_ffff, 0x02_0000, "offsets from the moof");
            let id = be32(&tfhd[4..]);
            let mut time = u64::from_be_bytes(tfdt[4..12].try_into().unwrap());
            let flags = be32(trun) & 0xff_ffff;
            let per = if flags & 0x800 != 0 { 16 } else { 12 };
            let count = be32(&trun[4..]) as usize;
            let mut offset = at + be32(&trun[8..]) as usize;
            for e in trun[12..].chunks(per).take(count) {
                let (duration, size) = (be32(e) as u64, be32(&e[4..]) as usize);
                out.push((
                    id,
                    time,
                    file[offset..offset + size].to_vec(),
                    be32(&e[8..]) == 0x0200_0000,
                ));
                time += duration;
                offset += size;
            }
        }
    }
    out
}

#[test]
fn joined_clips_hold_every_sample_unchanged_one_clip_after_the_other() {
    let (a, a_bytes) = clip(&[video(35, b"config"), sound(160)], 1);
    let (b, b_bytes) = clip(&[video(20, b"config"), sound(90)], 2);
    let j = Joined::new(vec![tracks_of(&a), tracks_of(&b)]).unwrap();
    let clips = [a, b];
    let whole = read(&j, &clips, 0, j.length() - 1);
    assert_eq!(whole.len() as u64, j.length());
    // Clip a: video 3.5 s, sound 160 × 1024 / 48000 = 3.413 s.
    assert_eq!(j.clip_starts_millis(), [0, 3500]);
    assert_eq!(j.duration_millis(), 5500);
    let kinds: Vec<[u8; 4]> = top(&whole).iter().map(|b| b.0).collect();
    assert_eq!(&kinds[..3], [*b"ftyp", *b"moov", *b"sidx"]);
    assert_eq!(
        kinds.iter().filter(|k| *k == b"moof").count(),
        j.fragment_count()
    );
    // Fragments a second at least, cut at sync samples: 4 + 2.
    assert_eq!(j.fragment_count(), 6);
    let got = samples_of(&whole);
    for (track, timescale, per_clip_duration) in [(1u32, 10_000u64, 1000u64), (2, 48_000, 1024)] {
        let mine: Vec<_> = got.iter().filter(|s| s.0 == track).collect();
        let t = track as usize - 1;
        let expected: Vec<&Vec<u8>> = a_bytes[t].iter().chain(&b_bytes[t]).collect();
        assert_eq!(mine.len(), expected.len(), "track {track}");
        for (s, e) in mine.iter().zip(&expected) {
            assert_eq!(&&s.2, e, "track {track}: a sample's bytes");
        }
        // Clip b starts at 3.5 s in every track.
        let first_of_b = mine[a_bytes[t].len()].1;
        assert_eq!(first_of_b, 3500 * timescale / 1000, "track {track}");
        assert_eq!(mine[1].1 - mine[0].1, per_clip_duration);
    }
    // Sync samples stay sync samples.
    let syncs: Vec<bool> = got.iter().filter(|s| s.0 == 1).map(|s| s.3).collect();
    let expected: Vec<bool> = (0..35).chain(0..20).map(|i| i % 10 == 0).collect();
    assert_eq!(syncs, expected);
    // The sample description is the first clip's, byte for byte.
    let moov = top(&whole)[1].1;
    assert!(moov.windows(6).any(|w| w == b"config"));
    assert!(
        !moov.windows(12).any(|w| w == b"camera's own"),
        "udta left out"
    );
}

#[test]
fn any_range_is_the_same_bytes_as_the_whole_file() {
    let (a, _) = clip(&[video(35, b"config"), sound(160)], 1);
    let (b, _) = clip(&[video(20, b"config"), sound(90)], 2);
    let j = Joined::new(vec![tracks_of(&a), tracks_of(&b)]).unwrap();
    let clips = [a, b];
    let n = j.length();
    let whole = read(&j, &clips, 0, n - 1);
    let mut edges = vec![0, 1, n / 3, n / 2, n - 2, n - 1];
    for (_, _, at) in top(&whole) {
        edges.extend([at as u64, (at as u64).saturating_sub(1), at as u64 + 9]);
    }
    for &s in &edges {
        for &e in &edges {
            if s <= e && e < n {
                assert_eq!(
                    read(&j, &clips, s, e),
                    &whole[s as usize..=e as usize],
                    "{s}..={e}"
                );
            }
        }
    }
    assert!(read(&j, &clips, n, n + 5).is_empty());
    assert_eq!(read(&j, &clips, n - 1, u64::MAX), &whole[n as usize - 1..]);
}

#[test]
fn composition_offsets_are_carried_signed() {
    let mut v = video(12, b"config");
    for (i, s) in v.samples.iter_mut().enumerate() {
        s.3 = if i % 2 == 0 { 2000 } else { -1000 };
    }
    let (a, _) = clip(&[v], 1);
    let j = Joined::new(vec![tracks_of(&a)]).unwrap();
    let whole = read(&j, &[a], 0, j.length() - 1);
    let moof = top(&whole).into_iter().find(|b| &b.0 == b"moof").unwrap().1;
    let traf = top(moof).into_iter().find(|b| &b.0 == b"traf").unwrap().1;
    let trun = top(traf).into_iter().find(|b| &b.0 == b"trun").unwrap().1;
    assert_eq!(trun[0], 1, "version 1: signed");
    assert_eq!(be32(trun) & 0x800, 0x800);
    assert_eq!(be32(&trun[12 + 12..]) as i32, 2000);
    assert_eq!(be32(&trun[12 + 16 + 12..]) as i32, -1000);
}

#[test]
fn clips_that_do_not_fit_together_are_refused_naming_the_first() {
    let (a, _) = clip(&[video(10, b"config"), sound(10)], 1);
    let (other_config, _) = clip(&[video(10, b"CONFIG"), sound(10)], 2);
    let (no_sound, _) = clip(&[video(10, b"config")], 3);
    let (sound_only, _) = clip(&[sound(10)], 4);
    let differ =
        |clips: Vec<&Vec<u8>>| match Joined::new(clips.iter().map(|c| tracks_of(c)).collect()) {
            Err(JoinError::Differ { clip, what }) => (clip, what),
            other => panic!("{other:?}"),
        };
    assert_eq!(differ(vec![&a, &a, &other_config]).0, 2);
    assert!(differ(vec![&a, &other_config]).1.contains("codec"));
    assert!(differ(vec![&a, &no_sound]).1.contains("tracks"));
    assert_eq!(differ(vec![&sound_only]).0, 0);
    assert!(matches!(Joined::new(vec![]), Err(JoinError::Shape(_))));
}

#[test]
fn fragments_and_damage_are_refused_never_panic_nor_over_allocate() {
    let (a, _) = clip(&[video(20, b"config"), sound(30)], 1);
    // A fragment after the header: not a clip as Axis writes them.
    let fragmented = [a.clone(), boxed(b"moof", &[0; 8])].concat();
    let mut moof_first = boxed(b"ftyp", b"iso6");
    moof_first.extend(boxed(b"moof", &[0; 8]));
    assert!(matches!(
        read_moov(&mut Cursor::new(&moof_first)),
        Err(JoinError::Fragmented)
    ));
    assert!(
        read_moov(&mut Cursor::new(&fragmented)).is_ok(),
        "the moov comes first"
    );
    let with_mvex = boxed(b"mvex", &[]);
    assert!(matches!(tracks(&with_mvex), Err(JoinError::Fragmented)));
    // No moov; a box running to the end; a size smaller than a header.
    assert!(read_moov(&mut Cursor::new(b"")).is_err());
    assert!(read_moov(&mut Cursor::new(&boxed(b"free", &[0; 9]))).is_err());
    assert!(read_moov(&mut Cursor::new(&[0, 0, 0, 0, b'm', b'd', b'a', b't'])).is_err());
    assert!(read_moov(&mut Cursor::new(&[0, 0, 0, 3, b'm', b'o', b'o', b'v'])).is_err());
    // A moov claiming 4 GiB in a short file.
    assert!(read_moov(&mut Cursor::new(&[
        0xff, 0xff, 0xff, 0xff, b'm', b'o', b'o', b'v', 1
    ]))
    .is_err());
    // Every truncation and many single-byte changes of a real moov give
    // tracks or an error.
    let moov = read_moov(&mut Cursor::new(&a)).unwrap();
    for cut in 0..moov.len() {
        let _ = tracks(&moov[..cut]);
    }
    for at in 0..moov.len() {
        for v in [0u8, 0xff, 0x7f, 1] {
            let mut m = moov.clone();
            m[at] = v;
            if let Ok(t) = tracks(&m) {
                let _ = Joined::new(vec![t.clone(), t]);
            }
        }
    }
    // Samples past the clip's end, or sharing bytes.
    let t = tracks(&moov).unwrap();
    let end = t
        .iter()
        .flat_map(|t| &t.samples)
        .map(|s| s.offset + u64::from(s.size))
        .max()
        .unwrap();
    assert!(check_within(&t, end).is_ok());
    let e = check_within(&t, end - 1).unwrap_err().to_string();
    assert!(e.contains("past the end"), "{e}");
    let mut shared = t.clone();
    shared[1].samples[3].offset = shared[0].samples[0].offset + 1;
    let e = check_within(&shared, a.len() as u64)
        .unwrap_err()
        .to_string();
    assert!(e.contains("share"), "{e}");
    // A sample table claiming four billion entries in a few bytes.
    let forged = {
        let mut stsz = vec![0u8; 8];
        stsz.extend(u32::MAX.to_be_bytes());
        stsz
    };
    let at = moov.windows(4).position(|w| w == b"stsz").unwrap() + 4;
    let mut m = moov.clone();
    m[at..at + 12].copy_from_slice(&forged);
    let e = tracks(&m).unwrap_err().to_string();
    assert!(e.contains("stsz"), "{e}");
}

/// Each clip's edit list is followed: its skipped media (an encoder's
/// priming, B-frames' delay) is decoded before the clip's start and not
/// shown, its delay kept, and the joined track's one edit skips the same.
#[test]
fn each_clips_edit_list_is_followed_and_decode_times_never_overlap() {
    let with_b_frames = |frames: usize| {
        let mut v = video(frames, b"config");
        for s in &mut v.samples {
            s.3 = 2000;
        }
        v.edit = Some((0, 2000));
        v
    };
    let primed = |frames: usize, delay: u32| {
        let mut a = sound(frames);
        a.edit = Some((delay, 1024));
        a
    };
    let (a, _) = clip(&[with_b_frames(35), primed(160, 0)], 1);
    // The second clip's sound starts 100 ms after its picture.
    let (b, _) = clip(&[with_b_frames(20), primed(90, 100)], 2);
    let ta = tracks_of(&a);
    assert_eq!(
        ta[1].edit,
        Edit {
            delay: 0,
            skip: 1024
        }
    );
    assert_eq!(
        tracks_of(&b)[1].edit,
        Edit {
            delay: 4800,
            skip: 1024
        }
    );
    let j = Joined::new(vec![ta, tracks_of(&b)]).unwrap();
    assert_eq!(j.clip_starts_millis(), [0, 3500]);
    let clips = [a, b];
    let whole = read(&j, &clips, 0, j.length() - 1);
    // The joined tracks' edits: from media time 2000 and 1024.
    let moov = top(&whole)[1].1;
    let media_times: Vec<i64> = top(moov)
        .into_iter()
        .filter(|b| &b.0 == b"trak")
        .map(|(_, trak, _)| {
            let edts = top(trak).into_iter().find(|b| &b.0 == b"edts").unwrap().1;
            let elst = top(edts)[0].1;
            assert_eq!(be32(&elst[4..]), 1, "one edit");
            i64::from_be_bytes(elst[16..24].try_into().unwrap())
        })
        .collect();
    assert_eq!(media_times, [2000, 1024]);
    let got = samples_of(&whole);
    let first = |track: u32, nth: usize| got.iter().filter(|s| s.0 == track).nth(nth).unwrap().1;
    // Picture: clip b's first frame decoded at 3.5 s, shown at 3.5 s
    // (decode 35,000 + composition offset 2,000 − the edit's 2,000).
    assert_eq!((first(1, 0), first(1, 35)), (0, 35_000));
    // Sound: clip a's priming decoded from 0, so its first shown sample is
    // at 0; clip b's first shown sample at 3.5 s + its 100 ms delay.
    assert_eq!(first(2, 0), 0);
    assert_eq!(first(2, 160), 168_000 + 4_800);
    // Decode times only ever grow, in every track.
    for track in [1, 2] {
        let times: Vec<u64> = got.iter().filter(|s| s.0 == track).map(|s| s.1).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "track {track}");
    }
    // The sidx's earliest presentation: the picture's edit.
    let sidx = top(&whole)[2].1;
    assert_eq!(u64::from_be_bytes(sidx[12..20].try_into().unwrap()), 2000);
}

/// A range read part by part (as the server does, a thread only per
/// read) is the same bytes as read in one go.
#[test]
fn a_range_read_part_by_part_is_the_same_as_in_one_go() {
    let (a, _) = clip(&[video(35, b"config"), sound(160)], 1);
    let (b, _) = clip(&[video(20, b"config"), sound(90)], 2);
    let j = Joined::new(vec![tracks_of(&a), tracks_of(&b)]).unwrap();
    let clips = [a, b];
    let n = j.length();
    for (start, end) in [
        (0, n - 1),
        (5, 900),
        (n / 2, n - 3),
        (n - 1, n + 10),
        (n, n + 1),
    ] {
        let mut c = j.cursor(start, end);
        let mut got = Vec::new();
        let mut parts = 0;
        while let Some(spans) = j.next_part(&mut c) {
            parts += 1;
            for s in spans {
                match s {
                    Span::Made(b) => got.extend(b),
                    Span::Clip {
                        clip,
                        offset,
                        length,
                    } => got.extend_from_slice(
                        &clips[clip][offset as usize..(offset + length) as usize],
                    ),
                }
            }
        }
        assert_eq!(got, read(&j, &clips, start, end), "{start}..={end}");
        assert!(parts <= j.fragment_count() + 1);
    }
}

/// What would make the joined file cost more than its clips is refused
/// before it is built: too many tracks or samples, several sample
/// descriptions, edits whose times overflow.
#[test]
fn hostile_shapes_are_refused_before_they_cost_anything() {
    let (a, _) = clip(&[video(20, b"config"), sound(30)], 1);
    let moov = read_moov(&mut Cursor::new(&a)).unwrap();
    // A budget the clip exceeds.
    let e = tracks_within(&moov, 49).unwrap_err().to_string();
    assert!(e.contains("samples"), "{e}");
    assert_eq!(tracks_within(&moov, 50).unwrap().len(), 2);
    // Seventeen tracks.
    let many: Vec<Spec> = (0..17).map(|_| sound(1)).collect();
    let (m, _) = clip(&many, 1);
    let e = tracks(&read_moov(&mut Cursor::new(&m)).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("tracks"), "{e}");
    // Two sample descriptions, or a chunk of the second.
    let mut two = moov.clone();
    let at = two.windows(4).position(|w| w == b"stsd").unwrap() + 4;
    two[at + 7] = 2;
    assert!(tracks(&two)
        .unwrap_err()
        .to_string()
        .contains("sample description"));
    let mut second = moov.clone();
    let at = second.windows(4).position(|w| w == b"stsc").unwrap() + 4;
    second[at + 8 + 11] = 2;
    assert!(tracks(&second)
        .unwrap_err()
        .to_string()
        .contains("sample description"));
    // Edits of 2^63 ticks in one clip and nearly 2^64 in the next: times
    // the file cannot hold, refused rather than wrapped.
    let mut x = tracks_of(&a);
    let mut y = x.clone();
    x[0].edit = Edit {
        delay: 0,
        skip: 1 << 63,
    };
    y[0].edit = Edit {
        delay: u64::MAX - 5,
        skip: 0,
    };
    assert!(matches!(
        Joined::new(vec![x.clone(), y]),
        Err(JoinError::Shape(_))
    ));
    x[1].edit = Edit {
        delay: u64::MAX,
        skip: 0,
    };
    assert!(Joined::new(vec![x]).is_err());
}
