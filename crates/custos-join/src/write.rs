//! The joined file's own boxes (ISO/IEC 14496-12): its head (`ftyp`, a
//! `moov` whose tracks hold no samples but the first clip's sample
//! descriptions, `mvex`, and a `sidx` indexing every fragment so a player
//! can seek without reading them all) and each fragment's `moof` and
//! `mdat` header. Sizes are computed before the boxes are made
//! ([`moof_size`]) so the whole layout is known without making it.

use crate::{Fragment, Joined};

/// The movie's timescale: milliseconds.
const MOVIE_TIMESCALE: u32 = 1000;
/// `trun` flags: data offset, and each sample's duration, size and flags;
/// its composition offset where a fragment's track has any.
const TRUN_DATA_OFFSET: u32 = 0x1;
const TRUN_DURATION: u32 = 0x100;
const TRUN_SIZE: u32 = 0x200;
const TRUN_FLAGS: u32 = 0x400;
const TRUN_CTS: u32 = 0x800;
/// `tfhd`: sample data offsets count from the `moof`'s first byte.
const TFHD_BASE_IS_MOOF: u32 = 0x02_0000;
/// Sample flags: depends on no other sample (a sync sample), or depends on
/// others and is no sync sample.
const SYNC: u32 = 0x0200_0000;
const NOT_SYNC: u32 = 0x0101_0000;
/// The identity matrix of `mvhd` and `tkhd`.
const MATRIX: [u32; 9] = [0x1_0000, 0, 0, 0, 0x1_0000, 0, 0, 0, 0x4000_0000];

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&(body.len() as u32 + 8).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(body);
    out
}

/// A full box's version and flags.
fn full(version: u8, flags: u32) -> Vec<u8> {
    let mut out = flags.to_be_bytes().to_vec();
    out[0] = version;
    out
}

fn matrix() -> Vec<u8> {
    MATRIX.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// `ftyp`, `moov` and `sidx`.
pub(crate) fn head(j: &Joined) -> Vec<u8> {
    let mut ftyp = b"iso6".to_vec();
    ftyp.extend_from_slice(&0u32.to_be_bytes());
    for brand in [b"iso6", b"iso5", b"isom", b"mp41"] {
        ftyp.extend_from_slice(brand);
    }
    let mut out = boxed(b"ftyp", &ftyp);
    out.extend(moov(j));
    out.extend(sidx(j));
    out
}

fn moov(j: &Joined) -> Vec<u8> {
    let mut mvhd = full(1, 0);
    mvhd.extend_from_slice(&[0; 16]); // creation and modification: unknown
    mvhd.extend_from_slice(&MOVIE_TIMESCALE.to_be_bytes());
    mvhd.extend_from_slice(&j.duration_millis.to_be_bytes());
    mvhd.extend_from_slice(&0x1_0000u32.to_be_bytes()); // rate 1.0
    mvhd.extend_from_slice(&0x100u16.to_be_bytes()); // volume 1.0
    mvhd.extend_from_slice(&[0; 10]);
    mvhd.extend(matrix());
    mvhd.extend_from_slice(&[0; 24]);
    mvhd.extend_from_slice(&(j.tracks.len() as u32 + 1).to_be_bytes());
    let mut body = boxed(b"mvhd", &mvhd);
    for t in &j.tracks {
        body.extend(trak(j, t));
    }
    let mut mehd = full(1, 0);
    mehd.extend_from_slice(&j.duration_millis.to_be_bytes());
    let mut mvex = boxed(b"mehd", &mehd);
    for t in &j.tracks {
        let mut trex = full(0, 0);
        trex.extend_from_slice(&t.id.to_be_bytes());
        trex.extend_from_slice(&1u32.to_be_bytes()); // the one sample description
        trex.extend_from_slice(&[0; 12]);
        mvex.extend(boxed(b"trex", &trex));
    }
    body.extend(boxed(b"mvex", &mvex));
    boxed(b"moov", &body)
}

fn trak(j: &Joined, t: &crate::JoinedTrack) -> Vec<u8> {
    let m = &t.model;
    let mut tkhd = full(1, 0x3); // enabled, in the movie
    tkhd.extend_from_slice(&[0; 16]);
    tkhd.extend_from_slice(&t.id.to_be_bytes());
    tkhd.extend_from_slice(&[0; 4]);
    tkhd.extend_from_slice(&j.duration_millis.to_be_bytes());
    tkhd.extend_from_slice(&[0; 8]);
    tkhd.extend_from_slice(&[0; 4]); // layer, alternate group
    tkhd.extend_from_slice(&m.volume.to_be_bytes());
    tkhd.extend_from_slice(&[0; 2]);
    tkhd.extend(matrix());
    tkhd.extend_from_slice(&m.width.to_be_bytes());
    tkhd.extend_from_slice(&m.height.to_be_bytes());
    let mut mdhd = full(1, 0);
    mdhd.extend_from_slice(&[0; 16]);
    mdhd.extend_from_slice(&m.timescale.to_be_bytes());
    mdhd.extend_from_slice(&t.duration.to_be_bytes());
    mdhd.extend_from_slice(&m.language.to_be_bytes());
    mdhd.extend_from_slice(&[0; 2]);
    let empty = |kind: &[u8; 4], extra: usize| {
        let mut b = full(0, 0);
        b.extend(vec![0; extra + 4]);
        boxed(kind, &b)
    };
    let stbl = [
        m.stsd.clone(),
        empty(b"stts", 0),
        empty(b"stsc", 0),
        empty(b"stsz", 4),
        empty(b"stco", 0),
    ]
    .concat();
    let mut dref = full(0, 0);
    dref.extend_from_slice(&1u32.to_be_bytes());
    dref.extend(boxed(b"url ", &full(0, 1))); // the data is in this file
    let minf = [
        m.media_header.clone(),
        boxed(b"dinf", &boxed(b"dref", &dref)),
        boxed(b"stbl", &stbl),
    ]
    .concat();
    let mdia = [
        boxed(b"mdhd", &mdhd),
        boxed(b"hdlr", &m.hdlr),
        boxed(b"minf", &minf),
    ]
    .concat();
    // One edit: the track is shown from its media time `shift` on, for
    // the whole file (so a clip's skipped samples, an encoder's priming or
    // B-frames' delay, are decoded but not shown).
    let edts = if t.shift > 0 {
        let mut elst = full(1, 0);
        elst.extend_from_slice(&1u32.to_be_bytes());
        elst.extend_from_slice(&j.duration_millis.to_be_bytes());
        elst.extend_from_slice(&(t.shift as i64).to_be_bytes());
        elst.extend_from_slice(&0x1_0000u32.to_be_bytes()); // rate 1.0
        boxed(b"edts", &boxed(b"elst", &elst))
    } else {
        Vec::new()
    };
    boxed(
        b"trak",
        &[boxed(b"tkhd", &tkhd), edts, boxed(b"mdia", &mdia)].concat(),
    )
}

/// One reference per fragment, timed by the first video track.
fn sidx(j: &Joined) -> Vec<u8> {
    let driver = j
        .tracks
        .iter()
        .position(|t| &t.model.handler == b"vide")
        .expect("a video track");
    let track = &j.tracks[driver];
    let mut body = full(1, 0);
    body.extend_from_slice(&track.id.to_be_bytes());
    body.extend_from_slice(&track.model.timescale.to_be_bytes());
    // The first clip's first sample shown, in the track's media time.
    let earliest = track
        .shift
        .saturating_add(track.edits.first().map_or(0, |e| e.delay));
    body.extend_from_slice(&earliest.to_be_bytes());
    body.extend_from_slice(&0u64.to_be_bytes()); // fragments follow at once
    body.extend_from_slice(&[0; 2]);
    body.extend_from_slice(&(j.fragments.len() as u16).to_be_bytes());
    for (n, f) in j.fragments.iter().enumerate() {
        let next = j
            .fragments
            .get(n + 1)
            .map_or(track.duration, |g| g.decode[driver]);
        let duration = next
            .saturating_sub(f.decode[driver])
            .min(u64::from(u32::MAX));
        body.extend_from_slice(&((f.moof + f.mdat) as u32).to_be_bytes());
        body.extend_from_slice(&(duration as u32).to_be_bytes());
        let sap = if f.sap { 0x9000_0000u32 } else { 0 }; // starts with SAP type 1
        body.extend_from_slice(&sap.to_be_bytes());
    }
    boxed(b"sidx", &body)
}

/// Whether a fragment's samples of a track need composition offsets.
fn has_cts(samples: &[crate::Sample]) -> bool {
    samples.iter().any(|s| s.cts_offset != 0)
}

fn trun_size(samples: &[crate::Sample]) -> u64 {
    let per = if has_cts(samples) { 16 } else { 12 };
    8 + 4 + 4 + 4 + per * samples.len() as u64
}

/// The `moof` of a fragment of `clip` holding `ranges` of each track.
pub(crate) fn moof_size(j: &Joined, clip: usize, ranges: &[std::ops::Range<usize>]) -> u64 {
    let trafs: u64 = j
        .tracks
        .iter()
        .zip(ranges)
        .filter(|(_, r)| !r.is_empty())
        .map(|(t, r)| 8 + 16 + 20 + trun_size(&t.per_clip[clip][r.clone()]))
        .sum();
    8 + 16 + trafs
}

/// A fragment's `moof` and its `mdat`'s header: what comes before its
/// samples, which follow track by track.
pub(crate) fn moof_and_mdat_header(j: &Joined, f: &Fragment) -> Vec<u8> {
    let sequence = j.fragments.partition_point(|g| g.at < f.at) as u32 + 1;
    let mut mfhd = full(0, 0);
    mfhd.extend_from_slice(&sequence.to_be_bytes());
    let mut body = boxed(b"mfhd", &mfhd);
    let mut data_offset = f.moof + 8;
    for ((t, range), decode) in j.tracks.iter().zip(&f.samples).zip(&f.decode) {
        let samples = &t.per_clip[f.clip][range.clone()];
        if samples.is_empty() {
            continue;
        }
        let mut tfhd = full(0, TFHD_BASE_IS_MOOF);
        tfhd.extend_from_slice(&t.id.to_be_bytes());
        let mut tfdt = full(1, 0);
        tfdt.extend_from_slice(&decode.to_be_bytes());
        let cts = has_cts(samples);
        let flags = TRUN_DATA_OFFSET
            | TRUN_DURATION
            | TRUN_SIZE
            | TRUN_FLAGS
            | if cts { TRUN_CTS } else { 0 };
        // Version 1: composition offsets are signed.
        let mut trun = full(u8::from(cts), flags);
        trun.extend_from_slice(&(samples.len() as u32).to_be_bytes());
        trun.extend_from_slice(&(data_offset as u32).to_be_bytes());
        for s in samples {
            trun.extend_from_slice(&s.duration.to_be_bytes());
            trun.extend_from_slice(&s.size.to_be_bytes());
            trun.extend_from_slice(&if s.sync { SYNC } else { NOT_SYNC }.to_be_bytes());
            if cts {
                trun.extend_from_slice(&s.cts_offset.to_be_bytes());
            }
        }
        data_offset += samples.iter().map(|s| u64::from(s.size)).sum::<u64>();
        let traf = [
            boxed(b"tfhd", &tfhd),
            boxed(b"tfdt", &tfdt),
            boxed(b"trun", &trun),
        ]
        .concat();
        body.extend(boxed(b"traf", &traf));
    }
    let mut out = boxed(b"moof", &body);
    debug_assert_eq!(out.len() as u64, f.moof);
    out.extend_from_slice(&(f.mdat as u32).to_be_bytes());
    out.extend_from_slice(b"mdat");
    out
}
