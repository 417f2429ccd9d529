//! An Axis recording's clips as one video (issue 23 point 3): the clips'
//! progressive MP4s, one after the other, as one fragmented MP4 whose
//! samples are the clips' own bytes, unchanged. Nothing is decoded or
//! encoded, and nothing is written anywhere: [`Joined`] is the layout of
//! that file — its header boxes are made when asked for, its samples are
//! read from the clips — so any byte range of it can be served without
//! making the rest (docs/FORMAT.md §14 gives the layout).
//!
//! The clips must agree: the same tracks (video and sound; other tracks
//! are left out), each with the same codec description byte for byte and
//! the same timescale. Clips that do not are refused, naming the first
//! that differs; they still play as parts.
#![forbid(unsafe_code)]

mod range;
mod tables;
mod write;

pub use range::{Cursor, Span};
pub use tables::{
    check_within, read_moov, tracks, tracks_within, Edit, Sample, Track, MAX_MOOV, MAX_SAMPLES,
    MAX_TRACKS,
};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    #[error("reading a clip: {0}")]
    Io(#[from] std::io::Error),
    /// Not a progressive MP4, or damaged.
    #[error("not a progressive MP4: {0}")]
    Format(String),
    /// Fragments already: not how an Axis camera writes a clip.
    #[error("a fragmented MP4, not a clip as Axis cameras write them")]
    Fragmented,
    /// The clips' tracks do not fit one file.
    #[error("clip {clip} does not fit the clips before it: {what}")]
    Differ { clip: usize, what: String },
    /// Nothing to join, or more than one file holds.
    #[error("{0}")]
    Shape(String),
}

/// Fragments a joined file holds at most: the `sidx` counts them in 16
/// bits. A fragment is a second or more, so this is over 18 hours.
pub const MAX_FRAGMENTS: usize = u16::MAX as usize;

/// A track of the joined file: the first clip's, which every clip matches.
#[derive(Clone, Debug)]
struct JoinedTrack {
    /// From 1, in the joined file.
    id: u32,
    model: Track,
    /// The track's samples, clip by clip.
    per_clip: Vec<Vec<Sample>>,
    /// Each clip's edit and where its last sample stops being shown.
    edits: Vec<Edit>,
    ends: Vec<u64>,
    /// The decode time of each clip's first sample in the joined file.
    base: Vec<u64>,
    /// The joined track's one edit: the media time shown first.
    shift: u64,
    /// The whole track's length, in its timescale.
    duration: u64,
}

/// One fragment: a clip's samples from one sync sample of the first video
/// track to the next (at least a second), and the other tracks' samples
/// of the same time.
#[derive(Clone, Debug)]
struct Fragment {
    clip: usize,
    /// Per joined track, the clip's samples it holds.
    samples: Vec<std::ops::Range<usize>>,
    /// Where it starts in the file.
    at: u64,
    moof: u64,
    mdat: u64,
    /// Per joined track, the decode time of its first sample in the
    /// joined timeline, in the track's timescale.
    decode: Vec<u64>,
    /// Whether it starts with a sync sample of the first video track.
    sap: bool,
}

/// A joined file's layout: its length, where each byte comes from.
#[derive(Clone, Debug)]
pub struct Joined {
    tracks: Vec<JoinedTrack>,
    fragments: Vec<Fragment>,
    /// `ftyp`, `moov` and `sidx`: the file's first bytes.
    head: Vec<u8>,
    length: u64,
    /// Where each clip starts in the joined timeline, in milliseconds.
    clip_starts: Vec<u64>,
    duration_millis: u64,
}

/// Where the bytes of a range come from, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Bytes of the joined file's own boxes.
    Made(&'a [u8]),
    /// `length` bytes of clip `clip` (from 0, in the order given to
    /// [`Joined::new`]) at `offset`.
    Clip {
        clip: usize,
        offset: u64,
        length: u64,
    },
}

const NANOS: u128 = 1_000_000_000;

fn too_long() -> JoinError {
    JoinError::Shape("the clips are longer than a file's times hold".into())
}

impl Joined {
    /// The layout of `clips` (each clip's tracks, from [`tracks`]) joined
    /// in the order given: each clip starts where the one before ends, the
    /// end being its longest track's.
    pub fn new(clips: Vec<Vec<Track>>) -> Result<Self, JoinError> {
        let kept = |tracks: Vec<Track>| -> Vec<Track> {
            tracks
                .into_iter()
                .filter(|t| matches!(&t.handler, b"vide" | b"soun"))
                .collect()
        };
        let mut clips = clips.into_iter().map(kept);
        let first = clips
            .next()
            .ok_or_else(|| JoinError::Shape("no clip to join".into()))?;
        if !first.iter().any(|t| &t.handler == b"vide") {
            return Err(JoinError::Differ {
                clip: 0,
                what: "it has no video track".into(),
            });
        }
        let mut tracks: Vec<JoinedTrack> = first
            .into_iter()
            .enumerate()
            .map(|(i, mut t)| JoinedTrack {
                id: i as u32 + 1,
                edits: vec![t.edit],
                ends: vec![t.presentation_end()],
                per_clip: vec![std::mem::take(&mut t.samples)],
                model: t,
                base: Vec::new(),
                shift: 0,
                duration: 0,
            })
            .collect();
        for (i, clip) in clips.enumerate() {
            let clip_no = i + 1;
            if clip.len() != tracks.len() {
                return Err(JoinError::Differ {
                    clip: clip_no,
                    what: format!("{} tracks, not {}", clip.len(), tracks.len()),
                });
            }
            for (joined, t) in tracks.iter_mut().zip(clip) {
                let m = &joined.model;
                let what = if t.handler != m.handler {
                    Some("its tracks are of other kinds")
                } else if t.timescale != m.timescale {
                    Some("a track's timescale")
                } else if t.stsd != m.stsd {
                    Some("a track's codec or its configuration (picture size, parameter sets)")
                } else {
                    None
                };
                if let Some(what) = what {
                    return Err(JoinError::Differ {
                        clip: clip_no,
                        what: what.into(),
                    });
                }
                joined.edits.push(t.edit);
                joined.ends.push(t.presentation_end());
                joined.per_clip.push(t.samples);
            }
        }
        let total: usize = tracks.iter().flat_map(|t| &t.per_clip).map(Vec::len).sum();
        if total > MAX_SAMPLES {
            return Err(JoinError::Shape(format!(
                "more than {MAX_SAMPLES} samples in all"
            )));
        }
        let clip_count = tracks[0].per_clip.len();
        // Each track's one edit skips what the clip that skips most
        // (beyond its delay) skips, so no clip's first decode time is
        // before the file's start.
        for t in &mut tracks {
            t.shift = t
                .edits
                .iter()
                .map(|e| e.skip.saturating_sub(e.delay))
                .max()
                .unwrap_or(0);
        }
        // Clip k is shown from `elapsed`: in each track, its sample at its
        // own skipped media time is shown then (after its delay). It lasts
        // until its longest track stops being shown, and long enough that
        // the next clip's first decode time (its skip before its start)
        // does not fall among this one's.
        let mut clip_starts = Vec::with_capacity(clip_count);
        let mut elapsed: u128 = 0;
        for k in 0..clip_count {
            // Nanoseconds since the first clip's start: a file of over 584
            // years is no recording.
            if elapsed > u128::from(u64::MAX) {
                return Err(too_long());
            }
            clip_starts.push((elapsed / 1_000_000) as u64);
            let mut longest = 0u128;
            for t in &mut tracks {
                let ts = u128::from(t.model.timescale);
                let e = t.edits[k];
                let start = elapsed * ts / NANOS;
                let decode = start + u128::from(t.shift) + u128::from(e.delay) - u128::from(e.skip);
                let decoded: u128 = t.per_clip[k].iter().map(|s| u128::from(s.duration)).sum();
                // Every decode time of the clip fits the file's 64 bits.
                u64::try_from(decode + decoded).map_err(|_| too_long())?;
                t.base.push(decode as u64);
                let shown = (u128::from(t.ends[k]) + u128::from(e.delay))
                    .saturating_sub(u128::from(e.skip));
                let next = t
                    .edits
                    .get(k + 1)
                    .map_or(0, |n| n.skip.saturating_sub(n.delay));
                let room = (decoded + u128::from(e.delay) + u128::from(next))
                    .saturating_sub(u128::from(e.skip));
                longest = longest.max((shown.max(room) * NANOS).div_ceil(ts));
            }
            elapsed += longest;
        }
        if elapsed > u128::from(u64::MAX) {
            return Err(too_long());
        }
        for t in &mut tracks {
            t.duration = u64::try_from(elapsed * u128::from(t.model.timescale) / NANOS)
                .map_err(|_| too_long())?;
            // The `sidx` gives the first shown time: media time `shift` plus
            // the first clip's delay.
            t.shift.checked_add(t.edits[0].delay).ok_or_else(too_long)?;
        }
        let duration_millis = (elapsed / 1_000_000) as u64;
        let mut joined = Self {
            tracks,
            fragments: Vec::new(),
            head: Vec::new(),
            length: 0,
            clip_starts,
            duration_millis,
        };
        joined.fragments = joined.cut()?;
        joined.head = write::head(&joined);
        let mut at = joined.head.len() as u64;
        for f in &mut joined.fragments {
            f.at = at;
            at += f.moof + f.mdat;
        }
        joined.length = at;
        Ok(joined)
    }

    /// The fragments: each clip cut at the first video track's sync
    /// samples, a second apart at least; the other tracks' samples go with
    /// the fragment in whose time they start.
    fn cut(&self) -> Result<Vec<Fragment>, JoinError> {
        let driver = self
            .tracks
            .iter()
            .position(|t| &t.model.handler == b"vide")
            .expect("checked in new");
        let ts = u128::from(self.tracks[driver].model.timescale);
        let mut out = Vec::new();
        for clip in 0..self.tracks[0].per_clip.len() {
            let video = &self.tracks[driver].per_clip[clip];
            // Fragment starts, as indices into the driving track, and each
            // of its samples' decode time in the clip.
            let mut starts = vec![0usize];
            let mut times = Vec::with_capacity(video.len() + 1);
            let (mut since, mut ticks) = (0u128, 0u128);
            for (i, s) in video.iter().enumerate() {
                times.push(ticks);
                if i > 0 && s.sync && since >= ts {
                    starts.push(i);
                    since = 0;
                }
                since += u128::from(s.duration);
                ticks += u128::from(s.duration);
            }
            times.push(ticks);
            // Per track: the next sample to place and its time in the clip.
            let mut next = vec![(0usize, 0u128); self.tracks.len()];
            for (n, from) in starts.iter().enumerate() {
                let to = starts.get(n + 1).copied().unwrap_or(video.len());
                let last = n + 1 == starts.len();
                // The fragment's end, in nanoseconds of the clip.
                let end = times[to] * NANOS / ts;
                let mut ranges = Vec::with_capacity(self.tracks.len());
                let mut decode = Vec::with_capacity(self.tracks.len());
                for (t, track) in self.tracks.iter().enumerate() {
                    let samples = &track.per_clip[clip];
                    let scale = u128::from(track.model.timescale);
                    let (begin, begin_ticks) = next[t];
                    let (mut i, mut at) = (begin, begin_ticks);
                    while i < samples.len()
                        && (last
                            || (t == driver && i < to)
                            || (t != driver && at * NANOS / scale < end))
                    {
                        at += u128::from(samples[i].duration);
                        i += 1;
                    }
                    next[t] = (i, at);
                    ranges.push(begin..i);
                    decode.push(track.base[clip] + begin_ticks as u64);
                }
                let fragment = Fragment {
                    clip,
                    moof: write::moof_size(self, clip, &ranges),
                    mdat: 8 + self.data_size(clip, &ranges),
                    samples: ranges,
                    decode,
                    at: 0,
                    sap: video.get(*from).is_some_and(|s| s.sync),
                };
                // `trun` data offsets are signed 32 bits, and a `sidx`
                // reference's size is 31.
                if fragment.moof + fragment.mdat > i32::MAX as u64 {
                    return Err(JoinError::Shape(
                        "a fragment over 2 GiB (a sync sample at least every 2 GiB is needed)"
                            .into(),
                    ));
                }
                if fragment.samples.iter().all(|r| r.is_empty()) {
                    continue;
                }
                out.push(fragment);
                if out.len() > MAX_FRAGMENTS {
                    return Err(JoinError::Shape(format!(
                        "more than {MAX_FRAGMENTS} fragments"
                    )));
                }
            }
        }
        Ok(out)
    }

    fn data_size(&self, clip: usize, ranges: &[std::ops::Range<usize>]) -> u64 {
        self.tracks
            .iter()
            .zip(ranges)
            .flat_map(|(t, r)| t.per_clip[clip][r.clone()].iter())
            .map(|s| u64::from(s.size))
            .sum()
    }

    /// The joined file's length in bytes.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Its length in time.
    pub fn duration_millis(&self) -> u64 {
        self.duration_millis
    }

    /// Where each clip starts in the joined file's timeline.
    pub fn clip_starts_millis(&self) -> &[u64] {
        &self.clip_starts
    }

    /// How many fragments the file has.
    pub fn fragment_count(&self) -> usize {
        self.fragments.len()
    }
}

/// Fuzz entry point (`fuzz/fuzz_targets/join_clips.rs`): the bytes as two
/// clips (split where the first byte says) give their tracks and a joined
/// file of both (or of the one that reads, twice), whose every byte comes
/// from the file's own boxes or from inside its clip; or an error. Never a
/// panic, nor an allocation beyond the limits above.
#[doc(hidden)]
pub fn fuzz_join(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let at = rest.len() * usize::from(first) / 256;
    let read = |clip: &[u8]| -> Option<Vec<Track>> {
        let moov = read_moov(&mut std::io::Cursor::new(clip)).ok()?;
        let tracks = tracks(&moov).ok()?;
        check_within(&tracks, clip.len() as u64).ok()?;
        Some(tracks)
    };
    let clips: Vec<&[u8]> = match (read(&rest[..at]), read(&rest[at..])) {
        (Some(_), Some(_)) => vec![&rest[..at], &rest[at..]],
        (Some(_), None) => vec![&rest[..at], &rest[..at]],
        (None, Some(_)) => vec![&rest[at..], &rest[at..]],
        (None, None) => return,
    };
    let Ok(joined) = Joined::new(clips.iter().map(|c| read(c).expect("read above")).collect())
    else {
        return;
    };
    // The first and last megabyte (a joined file is never longer than its
    // clips and its boxes, but the clips may be long).
    let n = joined.length();
    for (start, end) in [(0, 1 << 20), (n.saturating_sub(1 << 20), n - 1)] {
        let mut total = 0u64;
        let read = joined.read_range(start, end, |p| {
            total += match p {
                Piece::Made(b) => b.len() as u64,
                Piece::Clip {
                    clip,
                    offset,
                    length,
                } => {
                    assert!(
                        offset + length <= clips[clip].len() as u64,
                        "a piece past its clip"
                    );
                    length
                }
            };
            Ok::<(), ()>(())
        });
        assert!(read.is_ok());
        assert_eq!(total, end.min(n - 1) - start + 1);
    }
}

#[cfg(test)]
mod tests;
