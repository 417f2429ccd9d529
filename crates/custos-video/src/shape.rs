//! The box tree of a `moov` or `moof`, checked before the mp4-atom crate
//! decodes it. mp4-atom sizes some vectors from counts in the input
//! (`Vec::with_capacity(count)`): a 200-byte `moov` with a `uncv` sample
//! entry once asked for 62 GB and aborted the process (found by the fuzzer,
//! fuzz/regressions/fmp4_read). A recording Custos reads is one it or its
//! cameras wrote, so only the boxes they write are let through, and mp4-atom
//! never sees the others.

/// Boxes that hold boxes, and what each may hold; anything else in them is
/// refused. `stsd` holds sample entries after a version, flags and count.
const CHILDREN: &[(&[u8; 4], &[&[u8; 4]])] = &[
    (b"moov", &[b"mvhd", b"trak", b"mvex"]),
    (b"trak", &[b"tkhd", b"mdia", b"edts"]),
    (b"edts", &[b"elst"]),
    (b"mdia", &[b"mdhd", b"hdlr", b"minf"]),
    (b"minf", &[b"vmhd", b"dinf", b"stbl"]),
    (b"dinf", &[b"dref"]),
    (
        b"stbl",
        &[
            b"stsd", b"stts", b"stsc", b"stsz", b"stco", b"co64", b"stss", b"ctts",
        ],
    ),
    (b"stsd", &[b"avc1", b"avc3", b"hvc1", b"hev1"]),
    (b"mvex", &[b"mehd", b"trex"]),
    (b"moof", &[b"mfhd", b"traf"]),
    (b"traf", &[b"tfhd", b"tfdt", b"trun"]),
];

/// Boxes a camera's MP4 may carry beside the track that say nothing about
/// its frames (an Axis camera's user data, padding): dropped from a `moov`
/// and its `trak`s before anything reads them ([`keep_known`]).
const IGNORED: &[&[u8; 4]] = &[b"udta", b"meta", b"free", b"skip"];

/// Nesting deeper than this is no recording of ours.
const MAX_DEPTH: usize = 8;
/// Samples in one `trun`: a fragment of ours is two seconds.
const MAX_TRUN_SAMPLES: u64 = 100_000;

/// Checks the body of a box of `kind` (its bytes after the header).
pub fn check(kind: &[u8; 4], body: &[u8]) -> Result<(), String> {
    check_in(kind, body, 0)
}

/// The handler of a `trak` body (`vide`, `soun`, …), from its `mdia`'s
/// `hdlr`.
fn handler(trak: &[u8]) -> Option<[u8; 4]> {
    let find = |bytes: &[u8], want: &[u8; 4]| -> Option<Vec<u8>> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let (kind, body, after) = next_box(rest).ok()?;
            if &kind == want {
                return Some(body.to_vec());
            }
            rest = after;
        }
        None
    };
    let hdlr = find(&find(trak, b"mdia")?, b"hdlr")?;
    hdlr.get(8..12)?.try_into().ok()
}

/// A `moov` body without the [`IGNORED`] boxes in it or in its `trak`s
/// (sizes rewritten), and without its tracks that are not video (an Axis
/// clip's sound): what is read is the one video track a player shows, so
/// a second one is refused.
pub fn keep_known(moov: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(moov.len());
    let mut rest = moov;
    let mut videos = 0;
    while !rest.is_empty() {
        let (kind, body, after) = next_box(rest)?;
        if &kind == b"trak" {
            if handler(body) != Some(*b"vide") {
                rest = after;
                continue;
            }
            videos += 1;
            if videos > 1 {
                return Err("more than one video track".into());
            }
        }
        if !IGNORED.contains(&&kind) {
            let body = if &kind == b"trak" {
                keep_known(body)?
            } else {
                body.to_vec()
            };
            let size = u32::try_from(body.len() + 8).map_err(|_| "a box too large")?;
            out.extend_from_slice(&size.to_be_bytes());
            out.extend_from_slice(&kind);
            out.extend_from_slice(&body);
        }
        rest = after;
    }
    Ok(out)
}

/// A sample table's entry count must be what its bytes hold: mp4-atom
/// reserves room for the count it reads (a progressive MP4's tables, where a
/// fragmented one's are empty).
fn check_table(kind: &[u8; 4], body: &[u8]) -> Result<(), String> {
    let (count_at, entry) = match kind {
        b"stts" | b"ctts" | b"co64" => (4, 8),
        b"stsc" => (4, 12),
        b"stco" | b"stss" => (4, 4),
        b"stsz" => {
            let sample_size = body.get(4..8).ok_or("stsz too short")?;
            let per_sample = if sample_size == [0; 4] { 4 } else { 0 };
            (8, per_sample)
        }
        _ => return Ok(()),
    };
    let count = body
        .get(count_at..count_at + 4)
        .ok_or_else(|| format!("{} too short", String::from_utf8_lossy(kind)))?;
    let count = u64::from(u32::from_be_bytes(count.try_into().expect("4 bytes")));
    if count > MAX_TABLE_ENTRIES || (count_at + 4) as u64 + count * entry != body.len() as u64 {
        return Err(format!(
            "a {} of {count} entries in {} bytes",
            String::from_utf8_lossy(kind),
            body.len()
        ));
    }
    Ok(())
}

/// Entries in one sample table: a day at 60 frames a second.
const MAX_TABLE_ENTRIES: u64 = 24 * 3600 * 60;

fn check_in(kind: &[u8; 4], body: &[u8], depth: usize) -> Result<(), String> {
    if kind == b"trun" {
        return check_trun(body);
    }
    check_table(kind, body)?;
    let Some((_, allowed)) = CHILDREN.iter().find(|(k, _)| *k == kind) else {
        return Ok(());
    };
    if depth > MAX_DEPTH {
        return Err("boxes nested too deep".into());
    }
    let mut rest = if kind == b"stsd" {
        body.get(8..).ok_or("stsd too short")?
    } else {
        body
    };
    while !rest.is_empty() {
        let (child, child_body, after) = next_box(rest)?;
        if !allowed.contains(&&child) {
            return Err(format!(
                "a `{}` box in `{}`",
                String::from_utf8_lossy(&child).escape_default(),
                String::from_utf8_lossy(kind)
            ));
        }
        // Sample entries are read by mp4-atom's avc1 and hvc1 decoders as a
        // whole.
        if kind != b"stsd" {
            check_in(&child, child_body, depth + 1)?;
        }
        rest = after;
    }
    Ok(())
}

/// A `trun` whose samples have no fields of their own lets mp4-atom loop
/// once per claimed sample (up to four billion), pushing empty entries:
/// its sample count must be what its bytes hold.
fn check_trun(body: &[u8]) -> Result<(), String> {
    let head = body.get(..8).ok_or("trun too short")?;
    let flags = u32::from_be_bytes(head[..4].try_into().expect("4 bytes")) & 0x00ff_ffff;
    let samples = u64::from(u32::from_be_bytes(head[4..8].try_into().expect("4 bytes")));
    let optional = 4 * (u64::from(flags & 0x1 != 0) + u64::from(flags & 0x4 != 0));
    let per_sample = 4 * [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|bit| flags & **bit != 0)
        .count() as u64;
    let needed = 8 + optional + samples * per_sample;
    if samples > MAX_TRUN_SAMPLES || needed != body.len() as u64 {
        return Err(format!(
            "a trun of {samples} samples in {} bytes",
            body.len()
        ));
    }
    Ok(())
}

/// A box's type, its body, and the bytes after it.
type Split<'a> = ([u8; 4], &'a [u8], &'a [u8]);

/// The next box in `bytes`.
fn next_box(bytes: &[u8]) -> Result<Split<'_>, String> {
    let head = bytes.get(..8).ok_or("a box header is cut off")?;
    let size32 = u32::from_be_bytes(head[..4].try_into().expect("4 bytes"));
    let kind: [u8; 4] = head[4..8].try_into().expect("4 bytes");
    let (size, header) = match size32 {
        0 => (bytes.len() as u64, 8),
        1 => {
            let large = bytes.get(8..16).ok_or("a box header is cut off")?;
            (u64::from_be_bytes(large.try_into().expect("8 bytes")), 16)
        }
        n => (u64::from(n), 8),
    };
    if size < header as u64 || size > bytes.len() as u64 {
        return Err("a box's size does not fit".into());
    }
    let size = size as usize;
    Ok((kind, &bytes[header..size], &bytes[size..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn our_own_boxes_pass_and_others_are_refused() {
        let stsd = |entry: &[u8; 4]| {
            let mut body = vec![0u8; 8];
            body.extend(boxed(entry, &[0u8; 90]));
            boxed(b"stsd", &body)
        };
        let moov = |entry| {
            let stbl = boxed(b"stbl", &[stsd(entry), boxed(b"stts", &[0; 8])].concat());
            let minf = boxed(b"minf", &[boxed(b"vmhd", &[0; 12]), stbl].concat());
            let mdia = boxed(b"mdia", &[boxed(b"mdhd", &[0; 24]), minf].concat());
            [boxed(b"mvhd", &[0; 100]), boxed(b"trak", &mdia)].concat()
        };
        assert_eq!(check(b"moov", &moov(b"avc1")), Ok(()));
        assert!(check(b"moov", &moov(b"uncv")).unwrap_err().contains("uncv"));
        // H.265, as Axis cameras may send it, passes; other codecs do not.
        assert_eq!(check(b"moov", &moov(b"hvc1")), Ok(()));
        assert_eq!(check(b"moov", &moov(b"hev1")), Ok(()));
        assert!(check(b"moov", &moov(b"vp09")).unwrap_err().contains("vp09"));
        let with_udta = [moov(b"avc1"), boxed(b"udta", &[0; 4])].concat();
        assert!(check(b"moov", &with_udta).is_err());
        // Sizes that do not fit, cut-off headers, nothing at all.
        let mut wrong = moov(b"avc1");
        wrong[0] = 0xff;
        assert!(check(b"moov", &wrong).is_err());
        assert!(check(b"moov", &[0, 0, 0]).is_err());
        assert!(check(b"moov", &[0, 0, 0, 4, b'm', b'v', b'h', b'd']).is_err());
        assert_eq!(check(b"moov", &[]), Ok(()));
        let traf = boxed(
            b"traf",
            &[boxed(b"tfhd", &[0; 8]), boxed(b"saiz", &[0; 9])].concat(),
        );
        assert!(check(b"moof", &traf).unwrap_err().contains("saiz"));
        // A trun's sample count must be what its bytes hold.
        let trun = |flags: u32, samples: u32, extra: usize| {
            let mut body = flags.to_be_bytes().to_vec();
            body.extend(samples.to_be_bytes());
            body.extend(vec![0u8; extra]);
            boxed(b"traf", &boxed(b"trun", &body))
        };
        // A data offset, then each sample's size and flags: 4 + 3 × 8 bytes.
        assert_eq!(check(b"moof", &trun(0x601, 3, 28)), Ok(()));
        assert!(check(b"moof", &trun(0x601, 3, 27)).is_err());
        assert!(check(b"moof", &trun(0x000, u32::MAX, 0)).is_err());
        assert!(check(b"moof", &trun(0x100, 200_000, 800_000)).is_err());
    }
}
