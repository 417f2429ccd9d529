//! A progressive MP4's tracks as its `moov` lists them (ISO/IEC 14496-12
//! §8.3–8.7): for each track, what a player needs to know of it (its
//! sample description, kept byte for byte) and where each of its samples
//! is, how long it lasts and whether it is a sync sample.
//!
//! Input is untrusted: every count is checked against the bytes that hold
//! it before anything is allocated for it, so a forged table gets an
//! error, never an allocation its counts ask for.

use std::io::{Read, Seek, SeekFrom};

use crate::JoinError;

/// Largest `moov` read: an hour's clip at 30 frames and 47 sound frames a
/// second lists under 3 MB of tables.
pub const MAX_MOOV: u64 = 64 << 20;
/// Samples accepted in one clip, all its tracks together, and in a joined
/// file: twelve hours at 100 a second (picture at 50 frames and sound at
/// 48 kHz in 1,024-sample frames come to 97). Each costs 24 bytes while a
/// range is served.
pub const MAX_SAMPLES: usize = 12 * 3600 * 100;

/// One sample of a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Where its bytes are in the clip.
    pub offset: u64,
    pub size: u32,
    /// In the track's timescale.
    pub duration: u32,
    /// Composition minus decode time (B-frames), in the track's timescale.
    pub cts_offset: i32,
    pub sync: bool,
}

/// A track of a clip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    /// `vide`, `soun`, …
    pub handler: [u8; 4],
    pub timescale: u32,
    /// ISO 639-2/T, packed as `mdhd` packs it.
    pub language: u16,
    /// The `tkhd`'s width and height (16.16 fixed point) and volume (8.8).
    pub width: u32,
    pub height: u32,
    pub volume: u16,
    /// The `hdlr` box's body, byte for byte (it names the track).
    pub hdlr: Vec<u8>,
    /// The media header box (`vmhd`, `smhd`, …), whole.
    pub media_header: Vec<u8>,
    /// The `stsd` box, whole: the codec and its configuration, byte for
    /// byte as the camera wrote it.
    pub stsd: Vec<u8>,
    pub samples: Vec<Sample>,
    /// What its edit list says of where it starts.
    pub edit: Edit,
}

/// The part of a track's edit list (`elst`, ISO/IEC 14496-12 §8.6.6)
/// that says where it starts, in the track's timescale: a delay before
/// its first sample is shown (leading empty edits), and how much of its
/// media is skipped (the first edit's media time: an AAC encoder's
/// priming samples, or the composition offset of B-frames). Later edits
/// (cuts inside a clip, another rate) are not followed: cameras write a
/// clip whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Edit {
    pub delay: u64,
    pub skip: u64,
}

impl Track {
    /// The sum of its samples' durations, in its timescale.
    pub fn duration(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.duration)).sum()
    }

    /// Where its last sample stops being shown, in its media time (after
    /// the last decoded one, with B-frames).
    pub fn presentation_end(&self) -> u64 {
        let mut decode = 0i128;
        let mut end = 0i128;
        for s in &self.samples {
            let shown = decode + i128::from(s.cts_offset) + i128::from(s.duration);
            end = end.max(shown);
            decode += i128::from(s.duration);
        }
        u64::try_from(end.max(decode)).unwrap_or(u64::MAX)
    }
}

/// A box's type, its body, and the bytes after it.
type Split<'a> = ([u8; 4], &'a [u8], &'a [u8]);

/// The next box in `bytes`.
pub(crate) fn next_box(bytes: &[u8]) -> Result<Split<'_>, JoinError> {
    let head = bytes
        .get(..8)
        .ok_or_else(|| bad("a box header is cut off"))?;
    let size32 = be32(&head[..4]);
    let kind: [u8; 4] = head[4..8].try_into().expect("4 bytes");
    let (size, header) = match size32 {
        0 => (bytes.len() as u64, 8),
        1 => {
            let large = bytes
                .get(8..16)
                .ok_or_else(|| bad("a box header is cut off"))?;
            (u64::from_be_bytes(large.try_into().expect("8 bytes")), 16)
        }
        n => (u64::from(n), 8),
    };
    if size < header as u64 || size > bytes.len() as u64 {
        return Err(bad(format!(
            "the size of a `{}` box does not fit",
            name(&kind)
        )));
    }
    let size = size as usize;
    Ok((kind, &bytes[header..size], &bytes[size..]))
}

/// A box's whole bytes (header included) and its body.
type Whole<'a> = (&'a [u8], &'a [u8]);

/// Each box directly in `bytes`: its type, its whole bytes (header
/// included) and its body.
fn boxes(mut bytes: &[u8]) -> Result<Vec<([u8; 4], Whole<'_>)>, JoinError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (kind, body, after) = next_box(bytes)?;
        let whole = &bytes[..bytes.len() - after.len()];
        out.push((kind, (whole, body)));
        bytes = after;
    }
    Ok(out)
}

fn child<'a>(bytes: &'a [u8], kind: &[u8; 4], parent: &str) -> Result<&'a [u8], JoinError> {
    optional(bytes, kind)?
        .map(|(_, body)| body)
        .ok_or_else(|| bad(format!("a `{parent}` without a `{}`", name(kind))))
}

fn optional<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Result<Option<Whole<'a>>, JoinError> {
    Ok(boxes(bytes)?
        .into_iter()
        .find(|(k, _)| k == kind)
        .map(|(_, found)| found))
}

pub(crate) fn name(kind: &[u8; 4]) -> String {
    String::from_utf8_lossy(kind).escape_default().to_string()
}

fn bad(what: impl Into<String>) -> JoinError {
    JoinError::Format(what.into())
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes(b[..2].try_into().expect("2 bytes"))
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}

fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

fn field<'a>(body: &'a [u8], at: usize, len: usize, of: &str) -> Result<&'a [u8], JoinError> {
    body.get(at..at + len)
        .ok_or_else(|| bad(format!("`{of}` too short")))
}

/// A full box's table: its entries of `entry` bytes after the version,
/// flags, `skip` more bytes and the entry count. The count must be what
/// the bytes hold.
fn table<'a>(
    body: &'a [u8],
    skip: usize,
    entry: usize,
    of: &str,
) -> Result<Vec<&'a [u8]>, JoinError> {
    let count = be32(field(body, 4 + skip, 4, of)?) as usize;
    let entries = &body[8 + skip..];
    if count > MAX_SAMPLES || count.saturating_mul(entry) != entries.len() {
        return Err(bad(format!(
            "a `{of}` of {count} entries in {} bytes",
            entries.len()
        )));
    }
    Ok(entries.chunks_exact(entry).collect())
}

/// Finds the `moov` of the MP4 in `reader` and returns its body. A clip
/// with fragments (`moof`, or `mvex` in the `moov`) is not what Axis
/// cameras write, and is refused.
pub fn read_moov<R: Read + Seek>(reader: &mut R) -> Result<Vec<u8>, JoinError> {
    // Boxes are checked against the clip's length before a seek past
    // them: a decrypting reader may refuse a seek past its end as its own
    // failure, where this is the clip's.
    let length = reader.seek(SeekFrom::End(0))?;
    let mut at = reader.seek(SeekFrom::Start(0))?;
    loop {
        if at == length {
            return Err(bad("no `moov` box"));
        }
        let mut head = [0u8; 16];
        let n = read_up_to(reader, &mut head[..8])?;
        if n == 0 {
            return Err(bad("no `moov` box"));
        }
        if n < 8 {
            return Err(bad("a box header is cut off"));
        }
        let kind: [u8; 4] = head[4..8].try_into().expect("4 bytes");
        let (size, header) = match be32(&head[..4]) {
            1 => {
                if read_up_to(reader, &mut head[8..16])? < 8 {
                    return Err(bad("a box header is cut off"));
                }
                (be64(&head[8..16]), 16)
            }
            0 => return Err(bad(format!("a `{}` box runs to the end", name(&kind)))),
            n => (u64::from(n), 8),
        };
        if size < header {
            return Err(bad(format!(
                "the size of a `{}` box does not fit",
                name(&kind)
            )));
        }
        if &kind == b"moof" {
            return Err(JoinError::Fragmented);
        }
        if &kind == b"moov" {
            if size - header > MAX_MOOV {
                return Err(bad("a `moov` box too large"));
            }
            let mut body = Vec::new();
            reader.take(size - header).read_to_end(&mut body)?;
            if body.len() as u64 != size - header {
                return Err(bad("the clip ends inside its `moov` box"));
            }
            return Ok(body);
        }
        at = at
            .checked_add(size)
            .filter(|end| *end <= length)
            .ok_or_else(|| {
                bad(format!(
                    "a `{}` box runs past the end of the clip",
                    name(&kind)
                ))
            })?;
        reader.seek(SeekFrom::Start(at))?;
    }
}

fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Checks that every sample of `tracks` lies within a clip of `length`
/// bytes and that no two samples share a byte: the tables are the clip's
/// word, its bytes are what is there. A table naming the same bytes a
/// million times would make a joined file terabytes long from a small
/// clip.
pub fn check_within(tracks: &[Track], length: u64) -> Result<(), JoinError> {
    let mut spans: Vec<(u64, u64)> =
        Vec::with_capacity(tracks.iter().map(|t| t.samples.len()).sum());
    for s in tracks.iter().flat_map(|t| &t.samples) {
        let end = s
            .offset
            .checked_add(u64::from(s.size))
            .filter(|e| *e <= length)
            .ok_or_else(|| bad("a sample past the end of the clip"))?;
        spans.push((s.offset, end));
    }
    spans.sort_unstable();
    if spans.windows(2).any(|w| w[1].0 < w[0].1) {
        return Err(bad("two samples share bytes"));
    }
    Ok(())
}

/// Tracks in one clip at most: an Axis clip has a picture, perhaps sound
/// and metadata. Every fragment of the joined file keeps a range per
/// track, so a clip of thousands of empty tracks would cost gigabytes.
pub const MAX_TRACKS: usize = 16;

/// Every track of a `moov` body, in the order it lists them.
pub fn tracks(moov: &[u8]) -> Result<Vec<Track>, JoinError> {
    tracks_within(moov, MAX_SAMPLES)
}

/// [`tracks`], refused as soon as the tracks hold more than `budget`
/// samples: what the clips before it left of [`MAX_SAMPLES`], so a
/// recording's clips never hold more in memory than the joined file may.
pub fn tracks_within(moov: &[u8], budget: usize) -> Result<Vec<Track>, JoinError> {
    let all = boxes(moov)?;
    if all.iter().any(|(k, _)| k == b"mvex") {
        return Err(JoinError::Fragmented);
    }
    let mvhd = child(moov, b"mvhd", "moov")?;
    let at = if field(mvhd, 0, 1, "mvhd")?[0] == 1 {
        20
    } else {
        12
    };
    let movie_timescale = be32(field(mvhd, at, 4, "mvhd")?);
    let traks: Vec<&[u8]> = all
        .iter()
        .filter(|(k, _)| k == b"trak")
        .map(|(_, (_, body))| *body)
        .collect();
    if traks.len() > MAX_TRACKS {
        return Err(bad(format!("more than {MAX_TRACKS} tracks")));
    }
    let mut out: Vec<Track> = Vec::with_capacity(traks.len());
    let mut left = budget;
    for body in traks {
        let t = track(body, movie_timescale, left)?;
        left -= t.samples.len();
        out.push(t);
    }
    Ok(out)
}

/// A track's start from its edit list: leading empty edits (a delay, in
/// the movie's timescale) and the first edit's media time.
fn edit(trak: &[u8], movie_timescale: u32, timescale: u32) -> Result<Edit, JoinError> {
    let Some((_, edts)) = optional(trak, b"edts")? else {
        return Ok(Edit::default());
    };
    let Some((_, elst)) = optional(edts, b"elst")? else {
        return Ok(Edit::default());
    };
    let v1 = field(elst, 0, 1, "elst")?[0] == 1;
    let mut delay = 0u128;
    for e in table(elst, 0, if v1 { 20 } else { 12 }, "elst")? {
        let (duration, media_time) = if v1 {
            (u128::from(be64(e)), be64(&e[8..]) as i64)
        } else {
            (u128::from(be32(e)), i64::from(be32(&e[4..]) as i32))
        };
        match media_time {
            -1 => delay += duration,
            m if m >= 0 => {
                if movie_timescale == 0 && delay > 0 {
                    return Err(bad("an edit list in a movie of timescale 0"));
                }
                let delay = delay * u128::from(timescale) / u128::from(movie_timescale.max(1));
                return Ok(Edit {
                    delay: u64::try_from(delay).map_err(|_| bad("an edit too long"))?,
                    skip: m as u64,
                });
            }
            _ => return Err(bad("an edit's media time before the start")),
        }
    }
    Ok(Edit::default())
}

fn track(trak: &[u8], movie_timescale: u32, budget: usize) -> Result<Track, JoinError> {
    let tkhd = child(trak, b"tkhd", "trak")?;
    // Version 1 widens the times and the duration to 64 bits; width and
    // height are the last 8 bytes either way, volume 12 bytes before them.
    let tail = tkhd
        .len()
        .checked_sub(8)
        .filter(|t| *t >= 40)
        .ok_or_else(|| bad("`tkhd` too short"))?;
    let (width, height) = (be32(&tkhd[tail..]), be32(&tkhd[tail + 4..]));
    let volume = be16(&tkhd[tail - 40..]);
    let mdia = child(trak, b"mdia", "trak")?;
    let mdhd = child(mdia, b"mdhd", "mdia")?;
    let version = *field(mdhd, 0, 1, "mdhd")?.first().expect("1 byte");
    let (timescale_at, language_at) = if version == 1 { (20, 32) } else { (12, 20) };
    let timescale = be32(field(mdhd, timescale_at, 4, "mdhd")?);
    if timescale == 0 {
        return Err(bad("a track of timescale 0"));
    }
    let language = be16(field(mdhd, language_at, 2, "mdhd")?);
    let hdlr = child(mdia, b"hdlr", "mdia")?;
    let handler: [u8; 4] = field(hdlr, 8, 4, "hdlr")?.try_into().expect("4 bytes");
    let minf = child(mdia, b"minf", "mdia")?;
    let media_header = boxes(minf)?
        .into_iter()
        .find(|(k, _)| matches!(k, b"vmhd" | b"smhd" | b"sthd" | b"nmhd" | b"hmhd"))
        .map(|(_, (whole, _))| whole.to_vec())
        .ok_or_else(|| bad("a `minf` without a media header"))?;
    let stbl = child(minf, b"stbl", "minf")?;
    let (stsd, stsd_body) =
        optional(stbl, b"stsd")?.ok_or_else(|| bad("a `stbl` without a `stsd`"))?;
    // One sample description: each sample of the joined file is bound to
    // the first (`trex`), so a clip that switches between several is
    // refused, not joined wrongly.
    if be32(field(stsd_body, 4, 4, "stsd")?) != 1 {
        return Err(bad("a track of more than one sample description"));
    }
    Ok(Track {
        edit: edit(trak, movie_timescale, timescale)?,
        handler,
        timescale,
        language,
        width,
        height,
        volume,
        hdlr: hdlr.to_vec(),
        media_header,
        stsd: stsd.to_vec(),
        samples: samples(stbl, budget)?,
    })
}

/// A track's samples from its sample tables: sizes (`stsz`), chunks and
/// their offsets (`stsc`, `stco`/`co64`), durations (`stts`), composition
/// offsets (`ctts`) and sync samples (`stss`; none means every sample is
/// one).
fn samples(stbl: &[u8], budget: usize) -> Result<Vec<Sample>, JoinError> {
    if optional(stbl, b"stz2")?.is_some() {
        return Err(bad("compact sample sizes (`stz2`)"));
    }
    let stsz = child(stbl, b"stsz", "stbl")?;
    let uniform = be32(field(stsz, 4, 4, "stsz")?);
    let sizes: Vec<u32> = if uniform != 0 {
        let count = be32(field(stsz, 8, 4, "stsz")?) as usize;
        if stsz.len() != 12 {
            return Err(bad(format!("a `stsz` of {count} samples")));
        }
        if count > budget {
            return Err(bad(format!("more than {MAX_SAMPLES} samples")));
        }
        vec![uniform; count]
    } else {
        let sizes = table(stsz, 4, 4, "stsz")?;
        if sizes.len() > budget {
            return Err(bad(format!("more than {MAX_SAMPLES} samples")));
        }
        sizes.into_iter().map(be32).collect()
    };
    let chunks: Vec<u64> = match (optional(stbl, b"stco")?, optional(stbl, b"co64")?) {
        (Some((_, stco)), _) => table(stco, 0, 4, "stco")?
            .into_iter()
            .map(|e| u64::from(be32(e)))
            .collect(),
        (None, Some((_, co64))) => table(co64, 0, 8, "co64")?.into_iter().map(be64).collect(),
        (None, None) => return Err(bad("a `stbl` without chunk offsets")),
    };
    let runs: Vec<(u32, u32)> = table(child(stbl, b"stsc", "stbl")?, 0, 12, "stsc")?
        .into_iter()
        .map(|e| {
            if be32(&e[8..]) != 1 {
                return Err(bad("a chunk of another sample description than the first"));
            }
            Ok((be32(e), be32(&e[4..])))
        })
        .collect::<Result<_, _>>()?;
    let mut offsets = Vec::with_capacity(sizes.len());
    let mut run = 0usize;
    for (i, chunk) in chunks.iter().enumerate() {
        if offsets.len() == sizes.len() {
            break;
        }
        let number = i as u64 + 1;
        while runs
            .get(run + 1)
            .is_some_and(|next| u64::from(next.0) <= number)
        {
            run += 1;
        }
        let (first, per_chunk) = *runs
            .get(run)
            .ok_or_else(|| bad("a chunk before the first sample-to-chunk run"))?;
        if u64::from(first) > number {
            return Err(bad("a chunk before the first sample-to-chunk run"));
        }
        let mut at = *chunk;
        for _ in 0..per_chunk {
            let Some(size) = sizes.get(offsets.len()) else {
                break;
            };
            offsets.push(at);
            at = at
                .checked_add(u64::from(*size))
                .ok_or_else(|| bad("a sample offset out of range"))?;
        }
    }
    if offsets.len() != sizes.len() {
        return Err(bad("the chunks hold fewer samples than the sizes list"));
    }
    let mut durations = Vec::with_capacity(sizes.len());
    for e in table(child(stbl, b"stts", "stbl")?, 0, 8, "stts")? {
        let (count, delta) = (be32(e), be32(&e[4..]));
        let take = (count as usize).min(sizes.len() - durations.len());
        durations.extend(std::iter::repeat_n(delta, take));
    }
    // A table cut short: the samples it leaves out last no time.
    durations.resize(sizes.len(), 0);
    let mut cts = Vec::new();
    if let Some((_, ctts)) = optional(stbl, b"ctts")? {
        let signed = ctts.first() == Some(&1);
        for e in table(ctts, 0, 8, "ctts")? {
            let (count, raw) = (be32(e), be32(&e[4..]));
            let offset = if signed {
                raw as i32
            } else {
                i32::try_from(raw).map_err(|_| bad("a composition offset out of range"))?
            };
            let take = (count as usize).min(sizes.len() - cts.len());
            cts.extend(std::iter::repeat_n(offset, take));
        }
    }
    cts.resize(sizes.len(), 0);
    let sync: Option<Vec<u32>> = optional(stbl, b"stss")?
        .map(|(_, stss)| table(stss, 0, 4, "stss"))
        .transpose()?
        .map(|entries| entries.into_iter().map(be32).collect());
    let mut is_sync = vec![sync.is_none(); sizes.len()];
    for number in sync.iter().flatten() {
        if let Some(s) = (*number as usize)
            .checked_sub(1)
            .and_then(|i| is_sync.get_mut(i))
        {
            *s = true;
        }
    }
    Ok(sizes
        .into_iter()
        .zip(offsets)
        .zip(durations)
        .zip(cts)
        .zip(is_sync)
        .map(|((((size, offset), duration), cts_offset), sync)| Sample {
            offset,
            size,
            duration,
            cts_offset,
            sync,
        })
        .collect())
}
