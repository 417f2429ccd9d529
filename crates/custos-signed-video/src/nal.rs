//! NAL units as the signed-video framework sees them: which are pictures
//! (hashed), which start a GOP, which are SEI (maybe its own), and the
//! bytes it hashes (docs/SIGNED-VIDEO.md §1–§3.1).

/// The two codecs Axis cameras sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    H264,
    H265,
}

/// What the framework makes of one NAL unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// An intra picture that may start a GOP (H.264 IDR; H.265 BLA, IDR,
    /// CRA).
    Intra,
    /// Any other picture the framework hashes.
    Picture,
    /// A SEI: the framework's own if it carries its UUID.
    Sei,
    /// A picture the framework does not hash, though a decoder may show
    /// it: H.264 data partitions and extension slices, H.265 RADL, RASL,
    /// TSA and STSA pictures, and a picture whose header the framework
    /// calls invalid. Counted: a clip with one is not wholly signed.
    Unprotected,
    /// Parameter sets, delimiters, other SEI kinds.
    Ignored,
}

impl Codec {
    /// Bytes of the NAL unit header.
    pub fn header_len(self) -> usize {
        match self {
            Codec::H264 => 1,
            Codec::H265 => 2,
        }
    }

    /// Class of `nal` (trailing zero bytes already stripped) and whether it
    /// is its picture's first slice. A header the framework calls invalid
    /// is [`Class::Ignored`], as the framework leaves it out of every hash.
    pub fn classify(self, nal: &[u8]) -> (Class, bool) {
        let Some(&first) = nal.first() else {
            return (Class::Ignored, false);
        };
        let forbidden = first & 0x80 != 0;
        match self {
            Codec::H264 => {
                let kind = first & 0x1f;
                let reference = first & 0x60 != 0;
                let primary = nal.get(1).is_some_and(|b| b & 0x80 != 0);
                match kind {
                    1..=5 | 20 | 21 if forbidden => (Class::Unprotected, false),
                    5 if reference => (Class::Intra, primary),
                    1 => (Class::Picture, primary),
                    2..=5 | 20 | 21 => (Class::Unprotected, false),
                    6 if !reference && !forbidden => (Class::Sei, false),
                    _ => (Class::Ignored, false),
                }
            }
            Codec::H265 => {
                let kind = (first >> 1) & 0x3f;
                let picture = kind <= 21;
                let valid = !forbidden && nal.get(1).is_some_and(|b| b & 0x07 != 0);
                if !valid {
                    let class = if picture {
                        Class::Unprotected
                    } else {
                        Class::Ignored
                    };
                    return (class, false);
                }
                let primary = nal.get(2).is_some_and(|b| b & 0x80 != 0);
                match kind {
                    16..=21 => (Class::Intra, primary),
                    0 | 1 => (Class::Picture, primary),
                    2..=15 => (Class::Unprotected, false),
                    39 | 40 => (Class::Sei, false),
                    _ => (Class::Ignored, false),
                }
            }
        }
    }
}

/// `nal` without the zero bytes a muxer may append: the framework strips
/// them before hashing or parsing (ffmpeg leaves one after almost every
/// H.265 NAL unit; no hash matches with it).
pub fn trimmed(nal: &[u8]) -> &[u8] {
    let end = nal.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    &nal[..end]
}

/// `escaped` without its emulation-prevention bytes (a `03` after two
/// zero bytes of output), and for each output byte the input offset it
/// came from, plus one past the end.
pub fn unescape(escaped: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::with_capacity(escaped.len());
    let mut from = Vec::with_capacity(escaped.len() + 1);
    let mut zeros = 0;
    for (i, &b) in escaped.iter().enumerate() {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
        from.push(i);
    }
    from.push(escaped.len());
    (out, from)
}

/// The NAL units of an Annex B byte stream (start codes `00 00 01` or
/// `00 00 00 01`), without their start codes.
pub fn annex_b(stream: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut units = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        // The next start code's zeros (two or three) are not this unit's:
        // trailing zeros are stripped before use anyway.
        let end = starts.get(n + 1).map_or(stream.len(), |next| next - 3);
        units.push(&stream[start..end.max(start)]);
    }
    units
}

/// The length-prefixed NAL units of one MP4 sample.
pub fn length_prefixed(sample: &[u8], length_size: u8) -> Result<Vec<&[u8]>, &'static str> {
    let n = usize::from(length_size);
    let mut units = Vec::new();
    let mut rest = sample;
    while !rest.is_empty() {
        if rest.len() < n {
            return Err("a NAL length cut off");
        }
        let length = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        rest = &rest[n..];
        if length > rest.len() {
            return Err("a NAL unit longer than its sample");
        }
        units.push(&rest[..length]);
        rest = &rest[length..];
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulation_prevention_is_removed_and_mapped_back() {
        let (out, from) = unescape(&[0xaa, 0, 0, 3, 0, 0, 0, 3, 1, 3]);
        assert_eq!(out, [0xaa, 0, 0, 0, 0, 0, 1, 3]);
        assert_eq!(from, [0, 1, 2, 4, 5, 6, 8, 9, 10]);
    }

    #[test]
    fn classes_follow_the_framework() {
        assert_eq!(Codec::H264.classify(&[0x65, 0x88]), (Class::Intra, true));
        assert_eq!(Codec::H264.classify(&[0x41, 0x9a]), (Class::Picture, true));
        assert_eq!(Codec::H264.classify(&[0x41, 0x1a]), (Class::Picture, false));
        assert_eq!(Codec::H264.classify(&[0x06, 5]), (Class::Sei, false));
        // A SEI with nal_ref_idc set: invalid, ignored. An IDR without it,
        // a data partition, a slice with the forbidden bit: pictures the
        // framework does not hash.
        assert_eq!(Codec::H264.classify(&[0x26, 5]).0, Class::Ignored);
        assert_eq!(Codec::H264.classify(&[0x05, 0x88]).0, Class::Unprotected);
        assert_eq!(Codec::H264.classify(&[0x22, 0x88]).0, Class::Unprotected);
        assert_eq!(Codec::H264.classify(&[0xe5, 0x88]).0, Class::Unprotected);
        assert_eq!(Codec::H264.classify(&[0x67]).0, Class::Ignored);
        assert_eq!(Codec::H264.classify(&[0x09, 0x10]).0, Class::Ignored);
        assert_eq!(Codec::H265.classify(&[0x28, 1, 0xaf]), (Class::Intra, true));
        assert_eq!(
            Codec::H265.classify(&[0x02, 1, 0x80]),
            (Class::Picture, true)
        );
        assert_eq!(Codec::H265.classify(&[0x4e, 1, 5]), (Class::Sei, false));
        assert_eq!(Codec::H265.classify(&[0x4e, 0, 5]).0, Class::Ignored);
        // RASL (type 8), and a picture whose temporal id is 0: unprotected.
        assert_eq!(Codec::H265.classify(&[0x10, 1, 0x80]).0, Class::Unprotected);
        assert_eq!(Codec::H265.classify(&[0x02, 0, 0x80]).0, Class::Unprotected);
        assert_eq!(Codec::H265.classify(&[0x40, 1]).0, Class::Ignored);
        assert_eq!(Codec::H265.classify(&[]).0, Class::Ignored);
    }

    #[test]
    fn units_are_split_whatever_the_framing() {
        assert_eq!(
            annex_b(&[0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 0, 0, 0, 1, 0x65]),
            [&[0x67, 1][..], &[0x68, 0], &[0x65]]
        );
        assert_eq!(annex_b(&[1, 2, 3]), Vec::<&[u8]>::new());
        assert_eq!(
            length_prefixed(&[0, 2, 0x65, 1, 0, 1, 0x41], 2).unwrap(),
            [&[0x65, 1][..], &[0x41]]
        );
        assert!(length_prefixed(&[0, 9, 0x65], 2).is_err());
        assert!(length_prefixed(&[0, 0, 0], 2).is_err());
        assert_eq!(trimmed(&[0x65, 0, 1, 0, 0]), [0x65, 0, 1]);
        assert_eq!(trimmed(&[0, 0]), [0u8; 0]);
    }
}
