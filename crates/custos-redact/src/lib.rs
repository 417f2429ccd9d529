//! Redaction for subject access requests: a [`Plan`] says what to make
//! unrecognisable — boxes that follow people over time (interpolated between
//! the keyframes a reviewer sets), or "keep this person, pixelate everyone
//! else" — and [`render`] makes a derived MP4 from an original: every frame
//! decoded, pixelated where the plan says, and encoded again, in process with
//! openh264. The original is only read. The derived file is a new item with
//! its own hash; the caller encrypts and stores it.
//!
//! Pixelation replaces each block with its mean (a mosaic of blocks at
//! least 16 pixels and a fifth of the box's smaller side): what is inside
//! is gone from the derived file, not hidden under a layer.
#![forbid(unsafe_code)]

use std::io::{Read, Seek};

use custos_video::{Fmp4, VideoError};
use muxide::codec::h264::{annexb_to_avcc, extract_avc_config};
use muxide::fragmented::{FragmentConfig, FragmentedMuxer};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};
use openh264::OpenH264API;
use serde::{Deserialize, Serialize};

/// Most boxes in one plan, and keyframes in all of them.
pub const MAX_TRACKS: usize = 200;
pub const MAX_KEYFRAMES: usize = 20_000;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedactError {
    /// The plan itself is wrong: says which part.
    #[error("redaction plan: {0}")]
    Plan(String),
    #[error(transparent)]
    Video(#[from] VideoError),
    #[error("decoding H.264: {0}")]
    Decode(String),
    #[error("encoding H.264: {0}")]
    Encode(String),
    #[error("writing the MP4: {0}")]
    Write(#[from] std::io::Error),
    /// Video this renderer does not take (a codec, a change of picture
    /// size between parts): says which part and why.
    #[error("cannot be redacted here: {0}")]
    Unsupported(String),
}

fn plan_error(what: impl Into<String>) -> RedactError {
    RedactError::Plan(what.into())
}

/// A rectangle in fractions of the picture (0 to 1 from the top left), so a
/// plan drawn on a scaled-down frame fits the full-size one.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

/// Where a box is at one moment of the recording.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxKeyframe {
    pub at_millis: u64,
    #[serde(flatten)]
    pub region: Region,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoxKind {
    /// Pixelate inside the box (someone else, a number plate).
    Pixelate,
    /// Keep inside the box, pixelate the rest of the picture (the requester).
    Keep,
}

/// A box that follows something over time. It is drawn from its first
/// keyframe to its last, moving in a straight line between keyframes; a box
/// with one keyframe stays where it is to the end of the recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    /// The reviewer's name for it (`person-2`, `plate`), up to 64 characters.
    pub label: String,
    pub kind: BoxKind,
    pub keyframes: Vec<BoxKeyframe>,
}

/// A span of the recording whose sound is removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuteRange {
    pub from_millis: u64,
    pub to_millis: u64,
}

/// What to make unrecognisable in one recording.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(default)]
    pub tracks: Vec<Track>,
    /// Sound to remove. Custos cameras record no sound today, so a derived
    /// file has none; the ranges are kept with the plan for when they do.
    #[serde(default)]
    pub mute: Vec<MuteRange>,
}

impl Plan {
    /// Every rule a plan must follow, with the first broken one named.
    pub fn check(&self) -> Result<(), RedactError> {
        if self.tracks.len() > MAX_TRACKS {
            return Err(plan_error(format!("more than {MAX_TRACKS} boxes")));
        }
        let keyframes: usize = self.tracks.iter().map(|t| t.keyframes.len()).sum();
        if keyframes > MAX_KEYFRAMES {
            return Err(plan_error(format!("more than {MAX_KEYFRAMES} keyframes")));
        }
        for (i, t) in self.tracks.iter().enumerate() {
            let name = format!("box {} ({})", i + 1, t.label.escape_default());
            if t.label.trim().is_empty()
                || t.label.chars().count() > 64
                || t.label.chars().any(char::is_control)
            {
                return Err(plan_error(format!(
                    "box {}: a label of 1 to 64 characters",
                    i + 1
                )));
            }
            if t.keyframes.is_empty() {
                return Err(plan_error(format!("{name}: no keyframe")));
            }
            if !t
                .keyframes
                .windows(2)
                .all(|k| k[0].at_millis < k[1].at_millis)
            {
                return Err(plan_error(format!(
                    "{name}: keyframes must be in time order, one per moment"
                )));
            }
            for k in &t.keyframes {
                let r = k.region;
                let finite = [r.x, r.y, r.w, r.h].iter().all(|v| v.is_finite());
                if !finite
                    || r.x < 0.0
                    || r.y < 0.0
                    || r.w <= 0.0
                    || r.h <= 0.0
                    || r.x + r.w > 1.0 + 1e-6
                    || r.y + r.h > 1.0 + 1e-6
                {
                    return Err(plan_error(format!(
                        "{name} at {} ms: the box must lie within the picture",
                        k.at_millis
                    )));
                }
            }
        }
        for m in &self.mute {
            if m.from_millis >= m.to_millis {
                return Err(plan_error("a mute range must end after it starts"));
            }
        }
        Ok(())
    }

    /// The boxes at `at_millis`, by kind.
    pub fn boxes_at(&self, at_millis: u64) -> Vec<(BoxKind, Region)> {
        self.tracks
            .iter()
            .filter_map(|t| t.region_at(at_millis).map(|r| (t.kind, r)))
            .collect()
    }

    fn has_keep(&self) -> bool {
        self.tracks.iter().any(|t| t.kind == BoxKind::Keep)
    }
}

impl Track {
    /// Where the box is at `at_millis`, if it is drawn then.
    pub fn region_at(&self, at_millis: u64) -> Option<Region> {
        let first = self.keyframes.first()?;
        if at_millis < first.at_millis {
            return None;
        }
        if self.keyframes.len() == 1 {
            return Some(first.region);
        }
        let next = self
            .keyframes
            .iter()
            .position(|k| k.at_millis >= at_millis)?;
        let b = self.keyframes[next];
        if next == 0 || b.at_millis == at_millis {
            return Some(b.region);
        }
        let a = self.keyframes[next - 1];
        let f = (at_millis - a.at_millis) as f32 / (b.at_millis - a.at_millis) as f32;
        let mix = |p: f32, q: f32| p + (q - p) * f;
        Some(Region {
            x: mix(a.region.x, b.region.x),
            y: mix(a.region.y, b.region.y),
            w: mix(a.region.w, b.region.w),
            h: mix(a.region.h, b.region.h),
        })
    }
}

/// One decoded picture, I420, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl Picture {
    fn from_decoded(d: &openh264::decoder::DecodedYUV<'_>) -> Self {
        let (width, height) = d.dimensions();
        let (sy, su, sv) = d.strides();
        let copy = |plane: &[u8], stride: usize, w: usize, h: usize| {
            let mut out = Vec::with_capacity(w * h);
            for row in 0..h {
                out.extend_from_slice(&plane[row * stride..row * stride + w]);
            }
            out
        };
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        Self {
            width,
            height,
            y: copy(d.y(), sy, width, height),
            u: copy(d.u(), su, cw, ch),
            v: copy(d.v(), sv, cw, ch),
        }
    }

    /// The box in whole pixels, clamped to the picture; even-aligned so the
    /// colour planes cover it exactly.
    fn pixels(&self, r: Region) -> (usize, usize, usize, usize) {
        let px = |f: f32, n: usize| ((f.clamp(0.0, 1.0) * n as f32) as usize).min(n);
        let x0 = px(r.x, self.width) & !1;
        let y0 = px(r.y, self.height) & !1;
        let x1 = (px(r.x + r.w, self.width).div_ceil(2) * 2).min(self.width);
        let y1 = (px(r.y + r.h, self.height).div_ceil(2) * 2).min(self.height);
        (x0, y0, x1.max(x0), y1.max(y0))
    }

    /// Replaces each block of the rectangle with its mean, in all planes.
    fn pixelate(&mut self, (x0, y0, x1, y1): (usize, usize, usize, usize)) {
        if x1 <= x0 || y1 <= y0 {
            return;
        }
        let block = ((x1 - x0).min(y1 - y0) / 5).max(16) & !1;
        let width = self.width;
        mosaic(&mut self.y, width, (x0, y0, x1, y1), block);
        let cw = self.width.div_ceil(2);
        let chroma = (x0 / 2, y0 / 2, x1.div_ceil(2), y1.div_ceil(2));
        mosaic(&mut self.u, cw, chroma, block / 2);
        mosaic(&mut self.v, cw, chroma, block / 2);
    }

    fn copy_rect_from(&mut self, other: &Picture, (x0, y0, x1, y1): (usize, usize, usize, usize)) {
        let copy = |to: &mut [u8],
                    from: &[u8],
                    stride: usize,
                    (x0, y0, x1, y1): (usize, usize, usize, usize)| {
            for row in y0..y1 {
                to[row * stride + x0..row * stride + x1]
                    .copy_from_slice(&from[row * stride + x0..row * stride + x1]);
            }
        };
        copy(&mut self.y, &other.y, self.width, (x0, y0, x1, y1));
        let cw = self.width.div_ceil(2);
        let chroma = (x0 / 2, y0 / 2, x1.div_ceil(2), y1.div_ceil(2));
        copy(&mut self.u, &other.u, cw, chroma);
        copy(&mut self.v, &other.v, cw, chroma);
    }

    /// Applies the plan's boxes at `at_millis`. Where the plan keeps
    /// someone, everything outside the kept boxes is pixelated — also in
    /// frames where no kept box is drawn: when in doubt, hide.
    pub fn redact(&mut self, plan: &Plan, at_millis: u64) {
        let boxes = plan.boxes_at(at_millis);
        if plan.has_keep() {
            let original = self.clone();
            self.pixelate((0, 0, self.width, self.height));
            for (_, r) in boxes.iter().filter(|(k, _)| *k == BoxKind::Keep) {
                let rect = self.pixels(*r);
                self.copy_rect_from(&original, rect);
            }
        }
        for (_, r) in boxes.iter().filter(|(k, _)| *k == BoxKind::Pixelate) {
            let rect = self.pixels(*r);
            self.pixelate(rect);
        }
    }
}

fn mosaic(
    plane: &mut [u8],
    stride: usize,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
    block: usize,
) {
    let block = block.max(1);
    let mut by = y0;
    while by < y1 {
        let ey = (by + block).min(y1);
        let mut bx = x0;
        while bx < x1 {
            let ex = (bx + block).min(x1);
            let mut sum = 0u32;
            for row in by..ey {
                sum += plane[row * stride + bx..row * stride + ex]
                    .iter()
                    .map(|v| *v as u32)
                    .sum::<u32>();
            }
            let mean = (sum / ((ey - by) * (ex - bx)) as u32) as u8;
            for row in by..ey {
                plane[row * stride + bx..row * stride + ex].fill(mean);
            }
            bx = ex;
        }
        by = ey;
    }
}

mod render;
pub use render::{render, render_parts, Rendered, Source};

/// Decodes every frame of an MP4 (tests and benchmarks compare pictures).
pub fn decode_all<R: Read + Seek>(mp4: R) -> Result<Vec<Picture>, RedactError> {
    let mut mp4 = Fmp4::open(mp4)?;
    let frames = mp4.frames()?;
    let mut decoder =
        openh264::decoder::Decoder::new().map_err(|e| RedactError::Decode(e.to_string()))?;
    let mut pictures = Vec::with_capacity(frames.len());
    for f in &frames {
        let stored = mp4.frame(f)?;
        let annex_b = mp4.annex_b(&stored)?;
        if let Some(d) = decoder
            .decode(&annex_b)
            .map_err(|e| RedactError::Decode(e.to_string()))?
        {
            pictures.push(Picture::from_decoded(&d));
        }
    }
    for d in decoder
        .flush_remaining()
        .map_err(|e| RedactError::Decode(e.to_string()))?
    {
        pictures.push(Picture::from_decoded(&d));
    }
    Ok(pictures)
}

/// A test clip: `seconds` of `width`×`height` at `fps`, fine texture that
/// moves (so a mosaic is plain to measure), keyframes every second, in the
/// fragmented MP4 shape cameras write. For tests and `custos bench redact`.
pub fn synthetic_clip(
    width: usize,
    height: usize,
    fps: u32,
    seconds: u32,
) -> Result<Vec<u8>, RedactError> {
    let timescale = 90_000u32;
    let config = EncoderConfig::new()
        .bitrate(BitRate::from_bps(
            (width * height * fps as usize / 8) as u32,
        ))
        .max_frame_rate(FrameRate::from_hz(fps as f32))
        .rate_control_mode(RateControlMode::Bitrate)
        .usage_type(UsageType::CameraVideoRealTime)
        .skip_frames(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(0))
        .num_threads(2);
    let mut encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| RedactError::Encode(e.to_string()))?;
    let mut out = Vec::new();
    let mut muxer: Option<FragmentedMuxer> = None;
    let (cw, ch) = (width / 2, height / 2);
    for n in 0..(fps * seconds) as usize {
        let mut y = vec![0u8; width * height];
        for row in 0..height {
            for col in 0..width {
                // A fine checkerboard under a slow diagonal ramp, drifting.
                let c = ((col + n) / 4 + row / 4) % 2;
                let ramp = ((col + row + 3 * n) % 256) as u8 / 2;
                y[row * width + col] = if c == 0 { 40 + ramp } else { 200 - ramp / 2 };
            }
        }
        let u: Vec<u8> = (0..cw * ch)
            .map(|i| (96 + (i % cw) * 64 / cw) as u8)
            .collect();
        let v: Vec<u8> = (0..cw * ch)
            .map(|i| (160 - (i / cw) * 64 / ch) as u8)
            .collect();
        if n % fps as usize == 0 {
            encoder.force_intra_frame();
        }
        let bitstream = encoder
            .encode(&YUVSlices::new(
                (&y, &u, &v),
                (width, height),
                (width, cw, cw),
            ))
            .map_err(|e| RedactError::Encode(e.to_string()))?;
        let intra = matches!(bitstream.frame_type(), FrameType::IDR);
        let encoded = bitstream.to_vec();
        if muxer.is_none() {
            let avc = extract_avc_config(&encoded)
                .ok_or_else(|| RedactError::Encode("no parameter sets".into()))?;
            let mut fc = FragmentConfig::new(width as u32, height as u32, timescale);
            fc.sps = avc.sps.clone();
            fc.pps = avc.pps.clone();
            let mut m = FragmentedMuxer::new(fc).map_err(|e| RedactError::Encode(e.to_string()))?;
            out.extend_from_slice(&m.init_segment());
            muxer = Some(m);
        }
        let m = muxer.as_mut().expect("made above");
        if intra && n > 0 {
            if let Some(s) = m.flush_segment() {
                out.extend_from_slice(&s);
            }
        }
        let dts = n as u64 * timescale as u64 / fps as u64;
        m.write_video(
            dts,
            dts,
            &custos_video::strip_parameter_sets(&annexb_to_avcc(&encoded)),
            intra,
        )
        .map_err(|e| RedactError::Encode(e.to_string()))?;
    }
    if let Some(m) = muxer.as_mut() {
        if let Some(s) = m.flush_segment() {
            out.extend_from_slice(&s);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
