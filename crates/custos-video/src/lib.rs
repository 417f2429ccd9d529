//! Frames from footage: reads a recording's MP4 — fragmented, as a Custos
//! camera writes it (one H.264 track, one fragment per GOP, each starting
//! with a keyframe), or progressive, as an Axis camera does (`mdat`, then a
//! `moov` whose sample tables say where each frame is) — finds the keyframe
//! at a given time, decodes it with openh264 and makes a small JPEG. Works on any `Read + Seek` — on the server that is
//! the decrypting reader, so nothing is written to disk.
//!
//! Input is untrusted (a damaged or forged recording must give an error,
//! never a panic or an allocation its size fields ask for).
#![forbid(unsafe_code)]

use std::io::{Read, Seek, SeekFrom};

use mp4_atom::{Atom, Codec, FourCC, Header, Moof, Moov, ReadAtom, ReadFrom};

mod shape;

/// Largest `moov`/`moof` read into memory: ours are under a kilobyte or two.
const MAX_METADATA_BOX: usize = 4 << 20;
/// Largest single frame accepted (a 4K keyframe at a high bitrate is a few MB).
const MAX_SAMPLE: usize = 32 << 20;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    #[error("reading the recording: {0}")]
    Io(#[from] std::io::Error),
    /// Not an MP4 a camera writes (fragmented or not), or damaged.
    #[error("not an MP4 with an H.264 or H.265 video track: {0}")]
    Format(String),
    /// The recording has no keyframe at or before that time.
    #[error("the recording has no frame at {at_millis} ms")]
    NoFrame { at_millis: u64 },
    #[error("decoding H.264: {0}")]
    Decode(String),
    #[error("encoding the thumbnail: {0}")]
    Encode(String),
}

fn format(what: impl std::fmt::Display) -> VideoError {
    VideoError::Format(what.to_string())
}

/// The video's codec. Custos cameras write H.264; Axis cameras may send
/// H.265, which is stored, played and verified but not decoded here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    H265,
}

/// What the init segment (`moov`) says about the video track.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    pub track_id: u32,
    pub codec: VideoCodec,
    /// Ticks per second of the track's timestamps.
    pub timescale: u32,
    pub width: u16,
    pub height: u16,
    /// Bytes in each NAL unit's length prefix (1, 2 or 4).
    pub length_size: u8,
    pub sps: Vec<Vec<u8>>,
    pub pps: Vec<Vec<u8>>,
    /// Whether its frames are shown in another order than they are
    /// decoded (a progressive MP4's composition offsets: B-frames).
    pub reordered: bool,
}

/// One keyframe, as Annex B bytes (start codes, SPS and PPS first) that a
/// decoder takes on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyframe {
    /// Its presentation time from the start of the recording.
    pub at_millis: u64,
    pub annex_b: Vec<u8>,
}

/// Where one frame of the track is, and when it is decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRef {
    /// In the track's timescale, from the start of the recording.
    pub decode_ticks: u64,
    pub duration_ticks: u64,
    pub offset: u64,
    pub size: u64,
}

/// Most frames accepted from one recording (a 12-hour shift at 60 fps).
const MAX_FRAMES: usize = 12 * 3600 * 60;

/// Whether Annex B bytes hold an IDR slice (NAL type 5).
pub fn is_keyframe(annex_b: &[u8]) -> bool {
    annex_b
        .windows(4)
        .any(|w| w[..3] == [0, 0, 1] && w[3] & 0x1f == 5)
}

/// An AVCC access unit (NAL units behind 4-byte big-endian lengths)
/// without its sequence and picture parameter sets (NAL types 7 and 8): an
/// MP4 keeps those in the init segment's `avcC` box, so samples carry
/// slices only (the camera's recordings and redacted copies alike). A length
/// that runs past the end keeps what is there.
pub fn strip_parameter_sets(avcc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(avcc.len());
    let mut i = 0;
    while i + 4 <= avcc.len() {
        let len = u32::from_be_bytes(avcc[i..i + 4].try_into().expect("4 bytes")) as usize;
        let end = (i + 4 + len).min(avcc.len());
        let nal_type = avcc.get(i + 4).map(|b| b & 0x1f).unwrap_or(0);
        if !matches!(nal_type, 7 | 8) {
            out.extend_from_slice(&avcc[i..end]);
        }
        i = end;
    }
    out
}

/// A decoded picture, 8-bit RGB, row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbFrame {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

/// A JPEG of one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    pub jpeg: Vec<u8>,
    pub width: usize,
    pub height: usize,
    /// The time of the keyframe shown (at or before the time asked for).
    pub at_millis: u64,
}

/// An MP4 opened for reading frames: fragmented (frames found fragment by
/// fragment) or progressive (every frame listed in the `moov`).
pub struct Fmp4<R> {
    reader: R,
    track: Track,
    /// Where the first fragment starts.
    fragments_from: u64,
    /// A progressive MP4's frames, in decode order, with whether each is a
    /// keyframe; `None` for a fragmented one.
    table: Option<Vec<(FrameRef, bool)>>,
}

fn read_header<R: Read>(r: &mut R) -> Result<Option<Header>, VideoError> {
    <Option<Header> as ReadFrom>::read_from(r).map_err(|e| match e {
        mp4_atom::Error::Io(io) => VideoError::Io(io),
        other => format(other),
    })
}

fn read_box<T: Atom + ReadAtom, R: Read>(h: &Header, r: &mut R) -> Result<T, VideoError> {
    let size = match h.size {
        Some(size) if size <= MAX_METADATA_BOX => size,
        _ => return Err(format(format!("{} box too large", h.kind))),
    };
    let mut body = Vec::with_capacity(size);
    r.take(size as u64).read_to_end(&mut body)?;
    if body.len() != size {
        return Err(format(format!(
            "the recording ends inside a {} box",
            h.kind
        )));
    }
    // What says nothing about frames (an Axis camera's `udta`) is left out
    // before anything reads the `moov`.
    let (body, h) = if h.kind == Moov::KIND {
        let kept = shape::keep_known(&body).map_err(format)?;
        let header = Header {
            kind: h.kind,
            size: Some(kept.len()),
        };
        (kept, header)
    } else {
        (body, *h)
    };
    shape::check(h.kind.as_ref(), &body).map_err(format)?;
    T::read_atom(&h, &mut std::io::Cursor::new(&body))
        .map_err(|e| format(format!("{}: {e}", h.kind)))
}

impl<R: Read + Seek> Fmp4<R> {
    /// Reads boxes up to the end of `moov`: the track's description.
    pub fn open(mut reader: R) -> Result<Self, VideoError> {
        reader.seek(SeekFrom::Start(0))?;
        loop {
            let Some(h) = read_header(&mut reader)? else {
                return Err(format("no moov box"));
            };
            if h.kind == Moov::KIND {
                let moov: Moov = read_box(&h, &mut reader)?;
                let track = track_of(&moov)?;
                let table = sample_table(&moov, &track)?;
                // Frames listed in the `moov` and fragments after it: a
                // reader of one would not see what a player shows of the
                // other.
                if table.is_some() && moov.mvex.is_some() {
                    return Err(format("a sample table and fragments both"));
                }
                let fragments_from = reader.stream_position()?;
                return Ok(Self {
                    reader,
                    track,
                    fragments_from,
                    table,
                });
            }
            // A progressive MP4 may keep its media (`mdat`) before the
            // `moov`; a fragment before it is no MP4 at all.
            if h.kind == Moof::KIND {
                return Err(format("a fragment before the moov box"));
            }
            skip(&mut reader, &h)?;
        }
    }

    pub fn track(&self) -> &Track {
        &self.track
    }

    /// The keyframe that starts the fragment showing `at_millis` (or the
    /// last one, if the recording is shorter). Reads fragment headers from
    /// the start: cost grows with `at_millis`, one `moof` per fragment.
    pub fn keyframe_at(&mut self, at_millis: u64) -> Result<Keyframe, VideoError> {
        if let Some(table) = &self.table {
            let timescale = self.track.timescale as u64;
            let time = |f: &FrameRef| f.decode_ticks.saturating_mul(1000) / timescale;
            // The last keyframe at or before `at_millis`, or the first.
            let keyframes = || table.iter().filter(|(_, key)| *key).map(|(f, _)| f);
            let chosen = keyframes()
                .take_while(|f| time(f) <= at_millis)
                .last()
                .or_else(|| keyframes().next())
                .copied()
                .ok_or(VideoError::NoFrame { at_millis })?;
            let sample = self.read_sample(chosen.offset, chosen.size)?;
            return Ok(Keyframe {
                at_millis: time(&chosen),
                annex_b: self.to_annex_b(&sample)?,
            });
        }
        self.reader.seek(SeekFrom::Start(self.fragments_from))?;
        let mut best: Option<(u64, u64, u64)> = None; // (time, offset, size)
        loop {
            let start = self.reader.stream_position()?;
            let Some(h) = read_header(&mut self.reader)? else {
                break;
            };
            if h.kind != Moof::KIND {
                skip(&mut self.reader, &h)?;
                continue;
            }
            let moof: Moof = read_box(&h, &mut self.reader)?;
            let Some(traf) = moof
                .traf
                .iter()
                .find(|t| t.tfhd.track_id == self.track.track_id)
            else {
                continue;
            };
            let ticks = traf
                .tfdt
                .as_ref()
                .ok_or_else(|| format("fragment without tfdt"))?
                .base_media_decode_time;
            let time = ticks.saturating_mul(1000) / self.track.timescale as u64;
            if time > at_millis && best.is_some() {
                break;
            }
            let trun = traf
                .trun
                .first()
                .ok_or_else(|| format("fragment without trun"))?;
            let first = trun
                .entries
                .first()
                .ok_or_else(|| format("empty fragment"))?;
            let size = first
                .size
                .or(traf.tfhd.default_sample_size)
                .ok_or_else(|| format("sample without a size"))? as u64;
            let base = traf.tfhd.base_data_offset.unwrap_or(start);
            let offset = base
                .checked_add_signed(trun.data_offset.unwrap_or(0) as i64)
                .ok_or_else(|| format("sample offset out of range"))?;
            best = Some((time, offset, size));
            if time >= at_millis {
                break;
            }
        }
        let (time, offset, size) = best.ok_or(VideoError::NoFrame { at_millis })?;
        let sample = self.read_sample(offset, size)?;
        Ok(Keyframe {
            at_millis: time,
            annex_b: self.to_annex_b(&sample)?,
        })
    }

    /// Every frame of the track in decode order: where it is and when.
    /// Reads each fragment's header once; frames are then read one by one
    /// with [`frame`](Self::frame), so memory stays with one frame.
    pub fn frames(&mut self) -> Result<Vec<FrameRef>, VideoError> {
        if let Some(table) = &self.table {
            return Ok(table.iter().map(|(f, _)| *f).collect());
        }
        self.reader.seek(SeekFrom::Start(self.fragments_from))?;
        let mut frames = Vec::new();
        loop {
            let start = self.reader.stream_position()?;
            let Some(h) = read_header(&mut self.reader)? else {
                break;
            };
            if h.kind != Moof::KIND {
                skip(&mut self.reader, &h)?;
                continue;
            }
            let moof: Moof = read_box(&h, &mut self.reader)?;
            for traf in moof
                .traf
                .iter()
                .filter(|t| t.tfhd.track_id == self.track.track_id)
            {
                let mut ticks = traf
                    .tfdt
                    .as_ref()
                    .ok_or_else(|| format("fragment without tfdt"))?
                    .base_media_decode_time;
                let base = traf.tfhd.base_data_offset.unwrap_or(start);
                for trun in &traf.trun {
                    let mut offset = base
                        .checked_add_signed(trun.data_offset.unwrap_or(0) as i64)
                        .ok_or_else(|| format("sample offset out of range"))?;
                    for entry in &trun.entries {
                        let size = entry
                            .size
                            .or(traf.tfhd.default_sample_size)
                            .ok_or_else(|| format("sample without a size"))?
                            as u64;
                        let duration = entry
                            .duration
                            .or(traf.tfhd.default_sample_duration)
                            .ok_or_else(|| format("sample without a duration"))?
                            as u64;
                        if frames.len() >= MAX_FRAMES {
                            return Err(format("more frames than a recording can hold"));
                        }
                        frames.push(FrameRef {
                            decode_ticks: ticks,
                            duration_ticks: duration,
                            offset,
                            size,
                        });
                        ticks = ticks
                            .checked_add(duration)
                            .ok_or_else(|| format("time out of range"))?;
                        offset = offset
                            .checked_add(size)
                            .ok_or_else(|| format("sample offset out of range"))?;
                    }
                }
            }
        }
        Ok(frames)
    }

    /// One frame's bytes as stored: length-prefixed NAL units.
    pub fn frame(&mut self, frame: &FrameRef) -> Result<Vec<u8>, VideoError> {
        self.read_sample(frame.offset, frame.size)
    }

    /// A stored frame as Annex B for a decoder: start codes, and the
    /// parameter sets before a keyframe.
    pub fn annex_b(&self, sample: &[u8]) -> Result<Vec<u8>, VideoError> {
        let with_sets = self.to_annex_b(sample)?;
        if is_keyframe(&with_sets) {
            return Ok(with_sets);
        }
        let sets: usize = self
            .track
            .sps
            .iter()
            .chain(&self.track.pps)
            .map(|s| s.len() + 4)
            .sum();
        Ok(with_sets[sets..].to_vec())
    }

    fn read_sample(&mut self, offset: u64, size: u64) -> Result<Vec<u8>, VideoError> {
        if size == 0 || size > MAX_SAMPLE as u64 {
            return Err(format(format!("implausible frame size {size}")));
        }
        self.reader.seek(SeekFrom::Start(offset))?;
        let mut sample = Vec::new();
        (&mut self.reader).take(size).read_to_end(&mut sample)?;
        if sample.len() as u64 != size {
            return Err(format("the recording ends inside a frame"));
        }
        Ok(sample)
    }

    /// Length-prefixed NAL units → start codes, parameter sets first.
    fn to_annex_b(&self, sample: &[u8]) -> Result<Vec<u8>, VideoError> {
        const START: [u8; 4] = [0, 0, 0, 1];
        let mut out = Vec::with_capacity(sample.len() + 256);
        for set in self.track.sps.iter().chain(&self.track.pps) {
            out.extend_from_slice(&START);
            out.extend_from_slice(set);
        }
        let n = self.track.length_size as usize;
        let mut rest = sample;
        while !rest.is_empty() {
            if rest.len() < n {
                return Err(format("torn NAL length"));
            }
            let length = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            rest = &rest[n..];
            if length == 0 || length > rest.len() {
                return Err(format("NAL unit longer than its frame"));
            }
            out.extend_from_slice(&START);
            out.extend_from_slice(&rest[..length]);
            rest = &rest[length..];
        }
        Ok(out)
    }
}

/// Fuzz entry point (`fuzz/fuzz_targets/fmp4_read.rs`): any bytes as a
/// recording's plaintext give a track, frames and keyframes, or an error —
/// never a panic, an endless loop or an allocation beyond the limits above.
#[doc(hidden)]
pub fn fuzz_fmp4(data: &[u8]) {
    let Ok(mut mp4) = Fmp4::open(std::io::Cursor::new(data)) else {
        return;
    };
    for at in [0, 1_000, u64::MAX] {
        let _ = mp4.keyframe_at(at);
    }
    if let Ok(frames) = mp4.frames() {
        for frame in frames.iter().take(16) {
            if let Ok(sample) = mp4.frame(frame) {
                let _ = mp4.annex_b(&sample);
            }
        }
    }
}

/// Past a box's body, forward only: a size of 2^64 − 256 once read as −256
/// sent the reader back to the same box for ever (found by the fuzzer,
/// fuzz/regressions/fmp4_read/box-size-backwards).
fn skip<R: Seek>(reader: &mut R, h: &Header) -> Result<(), VideoError> {
    let size = h
        .size
        .ok_or_else(|| format(format!("{} box runs to the end", h.kind)))?;
    let forward =
        i64::try_from(size).map_err(|_| format(format!("{} box larger than any file", h.kind)))?;
    reader.seek(SeekFrom::Current(forward))?;
    Ok(())
}

/// A progressive MP4's frames from its video track's sample tables
/// (ISO/IEC 14496-12 §8.6–8.7): sizes (`stsz`), chunks and their offsets
/// (`stsc`, `stco`/`co64`), durations (`stts`) and keyframes (`stss`; none
/// means every frame is one). `None` when the tables are empty: the frames
/// are in fragments.
fn sample_table(moov: &Moov, track: &Track) -> Result<Option<Vec<(FrameRef, bool)>>, VideoError> {
    use mp4_atom::StszSamples;
    let trak = moov
        .trak
        .iter()
        .find(|t| t.tkhd.track_id == track.track_id)
        .ok_or_else(|| format("no video track"))?;
    let stbl = &trak.mdia.minf.stbl;
    let sizes: Vec<u64> = match &stbl.stsz.samples {
        StszSamples::Identical { count, size } => {
            if *count as usize > MAX_FRAMES {
                return Err(format("more frames than a recording can hold"));
            }
            vec![*size as u64; *count as usize]
        }
        StszSamples::Different { sizes } => sizes.iter().map(|s| *s as u64).collect(),
    };
    if sizes.is_empty() {
        return Ok(None);
    }
    if sizes.len() > MAX_FRAMES {
        return Err(format("more frames than a recording can hold"));
    }
    let chunks: Vec<u64> = match (&stbl.stco, &stbl.co64) {
        (Some(stco), _) => stco.entries.iter().map(|o| *o as u64).collect(),
        (None, Some(co64)) => co64.entries.clone(),
        (None, None) => return Err(format("sample table without chunk offsets")),
    };
    // Each chunk's sample count, from the runs `stsc` gives (first chunk
    // numbered from 1).
    let runs = &stbl.stsc.entries;
    let mut offsets = Vec::with_capacity(sizes.len());
    let mut sample = 0usize;
    let mut run = 0usize;
    for (i, chunk_offset) in chunks.iter().enumerate() {
        if sample == sizes.len() {
            break;
        }
        let number = i as u64 + 1;
        // Runs in order of their first chunk: one pass over both lists.
        while runs
            .get(run + 1)
            .is_some_and(|next| u64::from(next.first_chunk) <= number)
        {
            run += 1;
        }
        let current = runs
            .get(run)
            .filter(|r| u64::from(r.first_chunk) <= number)
            .ok_or_else(|| format("a chunk before the first sample-to-chunk run"))?;
        let per_chunk = current.samples_per_chunk as usize;
        let mut at = *chunk_offset;
        for _ in 0..per_chunk {
            let Some(size) = sizes.get(sample) else {
                break;
            };
            offsets.push(at);
            at = at
                .checked_add(*size)
                .ok_or_else(|| format("sample offset out of range"))?;
            sample += 1;
        }
    }
    if offsets.len() != sizes.len() {
        return Err(format("the chunks hold fewer samples than the sizes list"));
    }
    let mut durations = Vec::with_capacity(sizes.len());
    for run in &stbl.stts.entries {
        for _ in 0..run.sample_count {
            if durations.len() == sizes.len() {
                break;
            }
            durations.push(run.sample_delta as u64);
        }
    }
    // A missing duration (a table cut short) counts as none.
    durations.resize(sizes.len(), 0);
    let sync: Option<std::collections::BTreeSet<u32>> = stbl
        .stss
        .as_ref()
        .map(|s| s.entries.iter().copied().collect());
    let mut ticks = 0u64;
    let mut table = Vec::with_capacity(sizes.len());
    for (i, ((size, offset), duration)) in sizes.iter().zip(offsets).zip(durations).enumerate() {
        let key = sync.as_ref().is_none_or(|s| s.contains(&(i as u32 + 1)));
        table.push((
            FrameRef {
                decode_ticks: ticks,
                duration_ticks: duration,
                offset,
                size: *size,
            },
            key,
        ));
        ticks = ticks
            .checked_add(duration)
            .ok_or_else(|| format("time out of range"))?;
    }
    Ok(Some(table))
}

fn track_of(moov: &Moov) -> Result<Track, VideoError> {
    let trak = moov
        .trak
        .iter()
        .find(|t| t.mdia.hdlr.handler == FourCC::new(b"vide"))
        .ok_or_else(|| format("no video track"))?;
    let timescale = trak.mdia.mdhd.timescale;
    if timescale == 0 {
        return Err(format("timescale 0"));
    }
    let (codec, visual, length_size, sps, pps) = trak
        .mdia
        .minf
        .stbl
        .stsd
        .codecs
        .iter()
        .find_map(|c| match c {
            Codec::Avc1(a) => Some((
                VideoCodec::H264,
                &a.visual,
                a.avcc.length_size,
                a.avcc.sequence_parameter_sets.clone(),
                a.avcc.picture_parameter_sets.clone(),
            )),
            Codec::Hvc1(mp4_atom::Hvc1 { visual, hvcc, .. })
            | Codec::Hev1(mp4_atom::Hev1 { visual, hvcc, .. }) => {
                // VPS and SPS go first, PPS after, as a decoder wants them.
                let sets = |kinds: &[u8]| {
                    hvcc.arrays
                        .iter()
                        .filter(|a| kinds.contains(&a.nal_unit_type))
                        .flat_map(|a| a.nalus.clone())
                        .collect::<Vec<_>>()
                };
                Some((
                    VideoCodec::H265,
                    visual,
                    hvcc.length_size_minus_one + 1,
                    sets(&[32, 33]),
                    sets(&[34]),
                ))
            }
            _ => None,
        })
        .ok_or_else(|| format("the video track is neither H.264 nor H.265"))?;
    if !matches!(length_size, 1 | 2 | 4) {
        return Err(format("NAL length size not 1, 2 or 4"));
    }
    Ok(Track {
        track_id: trak.tkhd.track_id,
        codec,
        timescale,
        width: visual.width,
        height: visual.height,
        length_size,
        sps,
        pps,
        reordered: trak
            .mdia
            .minf
            .stbl
            .ctts
            .as_ref()
            .is_some_and(|c| c.entries.iter().any(|e| e.sample_offset != 0)),
    })
}

/// Decodes one keyframe.
pub fn decode(keyframe: &Keyframe) -> Result<RgbFrame, VideoError> {
    let fail = |e: openh264::Error| VideoError::Decode(e.to_string());
    let mut decoder = openh264::decoder::Decoder::new().map_err(fail)?;
    if let Some(picture) = decoder.decode(&keyframe.annex_b).map_err(fail)? {
        return Ok(rgb_of(&picture));
    }
    // The decoder may hold the picture back until flushed.
    let rest = decoder.flush_remaining().map_err(fail)?;
    rest.first()
        .map(rgb_of)
        .ok_or_else(|| VideoError::Decode("no picture in the keyframe".into()))
}

fn rgb_of(picture: &openh264::decoder::DecodedYUV<'_>) -> RgbFrame {
    use openh264::formats::YUVSource;
    let (width, height) = picture.dimensions();
    let mut rgb = vec![0u8; width * height * 3];
    picture.write_rgb8(&mut rgb);
    RgbFrame { width, height, rgb }
}

impl RgbFrame {
    /// Scaled down (never up) to at most `max_width`, keeping the aspect
    /// ratio; each output pixel is the mean of the input pixels it covers.
    pub fn scaled_to_width(&self, max_width: usize) -> RgbFrame {
        if self.width <= max_width || max_width == 0 {
            return self.clone();
        }
        let width = max_width;
        let height = (self.height * width / self.width).max(1);
        let mut rgb = vec![0u8; width * height * 3];
        for y in 0..height {
            let (y0, y1) = (
                y * self.height / height,
                ((y + 1) * self.height / height).max(y * self.height / height + 1),
            );
            for x in 0..width {
                let (x0, x1) = (
                    x * self.width / width,
                    ((x + 1) * self.width / width).max(x * self.width / width + 1),
                );
                let mut sum = [0u32; 3];
                for sy in y0..y1 {
                    let row = &self.rgb[(sy * self.width + x0) * 3..(sy * self.width + x1) * 3];
                    for pixel in row.chunks_exact(3) {
                        for (total, value) in sum.iter_mut().zip(pixel) {
                            *total += *value as u32;
                        }
                    }
                }
                let count = ((y1 - y0) * (x1 - x0)) as u32;
                let o = (y * width + x) * 3;
                for (out, total) in rgb[o..o + 3].iter_mut().zip(sum) {
                    *out = (total / count) as u8;
                }
            }
        }
        RgbFrame { width, height, rgb }
    }

    pub fn to_jpeg(&self, quality: u8) -> Result<Vec<u8>, VideoError> {
        let (w, h) = (
            u16::try_from(self.width).map_err(|_| VideoError::Encode("too wide".into()))?,
            u16::try_from(self.height).map_err(|_| VideoError::Encode("too tall".into()))?,
        );
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, quality)
            .encode(&self.rgb, w, h, jpeg_encoder::ColorType::Rgb)
            .map_err(|e| VideoError::Encode(e.to_string()))?;
        Ok(out)
    }
}

/// The thumbnail of the keyframe at or before `at_millis`, at most `max_width` wide.
pub fn thumbnail<R: Read + Seek>(
    reader: R,
    at_millis: u64,
    max_width: usize,
) -> Result<Thumbnail, VideoError> {
    let mut mp4 = Fmp4::open(reader)?;
    let keyframe = mp4.keyframe_at(at_millis)?;
    let frame = decode(&keyframe)?.scaled_to_width(max_width);
    Ok(Thumbnail {
        jpeg: frame.to_jpeg(80)?,
        width: frame.width,
        height: frame.height,
        at_millis: keyframe.at_millis,
    })
}
