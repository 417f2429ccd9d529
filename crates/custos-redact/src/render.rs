//! Rendering a plan into a derived MP4: every frame of every part decoded,
//! redacted at its moment of the recording, and encoded again into one
//! fragmented MP4.

use std::collections::VecDeque;
use std::io::{Read, Seek, Write};

use custos_video::{Fmp4, FrameRef, VideoCodec, VideoError};
use muxide::codec::h264::{annexb_to_avcc, extract_avc_config};
use muxide::fragmented::{FragmentConfig, FragmentedMuxer};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    UsageType,
};
use openh264::formats::YUVSlices;
use openh264::OpenH264API;
use serde::Serialize;

use crate::{Picture, Plan, RedactError};

/// What a render made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub frames: u64,
    pub width: usize,
    pub height: usize,
    pub duration_millis: u64,
    /// Bytes of the derived MP4.
    pub bytes: u64,
}

/// One original of a derived file (an Axis recording has one per clip):
/// where it starts in the recording, which is the time the plan's
/// keyframes are in, and how to open it. Parts are opened one at a time,
/// in order, so only one is ever decrypted at once.
pub struct Source<F> {
    pub offset_millis: u64,
    pub open: F,
}

/// Counts what passes through, for [`Rendered::bytes`].
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Counting<W> {
    fn put(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(data)?;
        self.bytes += data.len() as u64;
        Ok(())
    }
}

/// Makes the derived MP4 of `original` (one H.264 track, as cameras write
/// it) with the plan applied to every frame, in the same timing and
/// fragments (one per keyframe of the original).
pub fn render<R: Read + Seek, W: Write>(
    original: R,
    plan: &Plan,
    out: W,
) -> Result<Rendered, RedactError> {
    render_parts(
        [Source {
            offset_millis: 0,
            open: move || Ok(original),
        }],
        plan,
        out,
    )
}

/// Makes one derived MP4 of several originals, in order: the parts of one
/// recording. Each frame is redacted at its moment of the recording (its
/// part's offset plus its own time in the part); in the derived file the
/// parts follow one another, so a gap between two parts is not in it.
/// Every part must be H.264 of the first's picture size; anything else is
/// [`RedactError::Unsupported`], naming the part.
pub fn render_parts<R, F, W>(
    parts: impl IntoIterator<Item = Source<F>>,
    plan: &Plan,
    out: W,
) -> Result<Rendered, RedactError>
where
    R: Read + Seek,
    F: FnOnce() -> Result<R, RedactError>,
    W: Write,
{
    plan.check()?;
    let mut encoding: Option<Encoding<W>> = None;
    let mut out = Some(out);
    for (index, part) in parts.into_iter().enumerate() {
        let name = || format!("part {}", index + 1);
        let mut mp4 = Fmp4::open((part.open)()?)?;
        let track = mp4.track().clone();
        if track.codec != VideoCodec::H264 {
            return Err(RedactError::Unsupported(format!(
                "{} is H.265: only H.264 is decoded here",
                name()
            )));
        }
        // Pictures must come out in the order frames go in (each takes the
        // next frame's moment): refused outright, not left to whether the
        // decoder happens to fail on them.
        if track.reordered {
            return Err(RedactError::Unsupported(format!(
                "{} has B-frames (frames shown in another order than decoded)",
                name()
            )));
        }
        let frames = mp4.frames()?;
        let (width, height) = (track.width as usize, track.height as usize);
        if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
            return Err(VideoError::Format(format!("a {width}×{height} picture")).into());
        }
        let timescale = u64::from(track.timescale.max(1));
        let e = match &mut encoding {
            Some(e) => {
                if (e.width, e.height) != (width, height) {
                    return Err(RedactError::Unsupported(format!(
                        "{} is {width}×{height}, the first part {}×{}: one derived file has one picture size",
                        name(),
                        e.width,
                        e.height
                    )));
                }
                e
            }
            None => encoding.insert(Encoding::new(
                &track,
                &frames,
                out.take().expect("taken once"),
            )?),
        };
        e.part(&mut mp4, &frames, timescale, part.offset_millis, plan)?;
    }
    match encoding {
        Some(e) => e.finish(),
        None => Err(VideoError::Format("nothing to render: no part".into()).into()),
    }
}

/// A frame waiting for its picture: the decoder may give pictures later
/// than their frames (and in presentation order), so each picture takes
/// the next waiting moment.
struct Waiting {
    at_millis: u64,
    keyframe: bool,
}

/// The derived file as it is made.
struct Encoding<W> {
    encoder: Encoder,
    muxer: Option<FragmentedMuxer>,
    out: Counting<W>,
    width: usize,
    height: usize,
    /// The derived file's timescale: the first part's.
    timescale: u64,
    /// Where the next part starts in the derived file, in its timescale.
    next_dts: u64,
    in_fragment: u32,
    written: u64,
}

/// `ticks` of timescale `from` in timescale `to`, saturating.
fn rescale(ticks: u64, to: u64, from: u64) -> u64 {
    u64::try_from(u128::from(ticks) * u128::from(to) / u128::from(from.max(1))).unwrap_or(u64::MAX)
}

fn encode_fail(e: openh264::Error) -> RedactError {
    RedactError::Encode(e.to_string())
}

fn decode_fail(e: openh264::Error) -> RedactError {
    RedactError::Decode(e.to_string())
}

impl<W: Write> Encoding<W> {
    /// An encoder set from the first part: its frame rate, and its bitrate
    /// with a margin (mosaics cost little, the rest should look as it did).
    fn new(track: &custos_video::Track, frames: &[FrameRef], out: W) -> Result<Self, RedactError> {
        let timescale = u64::from(track.timescale.max(1));
        let total_ticks = frames
            .iter()
            .fold(0u64, |a, f| a.saturating_add(f.duration_ticks));
        let total_bytes = frames.iter().fold(0u64, |a, f| a.saturating_add(f.size));
        let fps = if total_ticks > 0 {
            (frames.len() as f64 * timescale as f64 / total_ticks as f64).clamp(1.0, 120.0)
        } else {
            30.0
        };
        let bitrate = if total_ticks > 0 {
            (total_bytes as f64 * 8.0 * timescale as f64 / total_ticks as f64 * 1.25) as u32
        } else {
            1_000_000
        }
        .max(200_000);
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bitrate))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            .rate_control_mode(RateControlMode::Bitrate)
            .usage_type(UsageType::CameraVideoRealTime)
            // Every frame of the original has one in the derived file.
            .skip_frames(false)
            .scene_change_detect(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            .num_threads(2);
        Ok(Self {
            encoder: Encoder::with_api_config(OpenH264API::from_source(), config)
                .map_err(encode_fail)?,
            muxer: None,
            out: Counting {
                inner: out,
                bytes: 0,
            },
            width: track.width as usize,
            height: track.height as usize,
            timescale,
            next_dts: 0,
            in_fragment: 0,
            written: 0,
        })
    }

    /// Decodes, redacts and encodes every frame of one part.
    fn part<R: Read + Seek>(
        &mut self,
        mp4: &mut Fmp4<R>,
        frames: &[FrameRef],
        timescale: u64,
        offset_millis: u64,
        plan: &Plan,
    ) -> Result<(), RedactError> {
        // A fresh decoder: a part's parameter sets are its own.
        let mut decoder = openh264::decoder::Decoder::new().map_err(decode_fail)?;
        let mut waiting = VecDeque::new();
        // The part's frames keep their spacing, moved to follow the part
        // before; the plan is asked at the recording's time.
        let first_ticks = frames.first().map_or(0, |f| f.decode_ticks);
        let start_dts = self.next_dts;
        let mut end_dts = start_dts;
        let mut dts_of = Vec::with_capacity(frames.len());
        for frame in frames {
            // A hostile file's times may go backwards or be huge: the
            // muxer refuses a time that goes back, never a panic here.
            let in_part = frame.decode_ticks.saturating_sub(first_ticks);
            let dts = start_dts.saturating_add(rescale(in_part, self.timescale, timescale));
            end_dts =
                dts.saturating_add(rescale(frame.duration_ticks, self.timescale, timescale).max(1));
            dts_of.push(dts);
        }
        let mut dts_iter = dts_of.into_iter();
        for frame in frames {
            let stored = mp4.frame(frame)?;
            let annex_b = mp4.annex_b(&stored)?;
            waiting.push_back(Waiting {
                at_millis: offset_millis
                    .saturating_add(frame.decode_ticks.saturating_mul(1000) / timescale),
                keyframe: custos_video::is_keyframe(&annex_b),
            });
            let picture = decoder
                .decode(&annex_b)
                .map_err(decode_fail)?
                .map(|d| Picture::from_decoded(&d));
            if let Some(picture) = picture {
                let next = waiting.pop_front().expect("pushed above");
                let dts = dts_iter.next().expect("one per frame");
                self.put(picture, next, dts, plan)?;
            }
        }
        let rest: Vec<Picture> = decoder
            .flush_remaining()
            .map_err(decode_fail)?
            .iter()
            .map(Picture::from_decoded)
            .collect();
        for picture in rest {
            let Some(next) = waiting.pop_front() else {
                return Err(RedactError::Decode(
                    "the decoder gave more pictures than frames".into(),
                ));
            };
            let dts = dts_iter.next().expect("one per frame");
            self.put(picture, next, dts, plan)?;
        }
        if let Some(lost) = waiting.front() {
            return Err(RedactError::Decode(format!(
                "{} frames from {} ms on gave no picture",
                waiting.len(),
                lost.at_millis
            )));
        }
        self.next_dts = end_dts;
        Ok(())
    }

    fn put(
        &mut self,
        mut picture: Picture,
        at: Waiting,
        dts: u64,
        plan: &Plan,
    ) -> Result<(), RedactError> {
        let (width, height) = (self.width, self.height);
        if (picture.width, picture.height) != (width, height) {
            return Err(RedactError::Decode("the picture changed size".into()));
        }
        picture.redact(plan, at.at_millis);
        if at.keyframe || self.muxer.is_none() {
            self.encoder.force_intra_frame();
        }
        let yuv = YUVSlices::new(
            (&picture.y, &picture.u, &picture.v),
            (width, height),
            (width, width.div_ceil(2), width.div_ceil(2)),
        );
        let bitstream = self.encoder.encode(&yuv).map_err(encode_fail)?;
        let intra = matches!(bitstream.frame_type(), FrameType::IDR);
        if matches!(bitstream.frame_type(), FrameType::Skip | FrameType::Invalid) {
            return Err(RedactError::Encode(format!(
                "the encoder dropped the frame at {} ms",
                at.at_millis
            )));
        }
        let encoded = bitstream.to_vec();
        if self.muxer.is_none() {
            let avc = extract_avc_config(&encoded)
                .ok_or_else(|| RedactError::Encode("no parameter sets".into()))?;
            let mut config =
                FragmentConfig::new(width as u32, height as u32, self.timescale as u32);
            config.sps = avc.sps.clone();
            config.pps = avc.pps.clone();
            let mut m = FragmentedMuxer::new(config)
                .map_err(|e| RedactError::Encode(format!("muxer: {e}")))?;
            self.out.put(&m.init_segment())?;
            self.muxer = Some(m);
        }
        let m = self.muxer.as_mut().expect("made above");
        if intra && self.in_fragment > 0 {
            if let Some(segment) = m.flush_segment() {
                self.out.put(&segment)?;
            }
            self.in_fragment = 0;
        }
        let sample = custos_video::strip_parameter_sets(&annexb_to_avcc(&encoded));
        m.write_video(dts, dts, &sample, intra)
            .map_err(|e| RedactError::Encode(format!("muxing: {e}")))?;
        self.in_fragment += 1;
        self.written += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<Rendered, RedactError> {
        if let Some(m) = self.muxer.as_mut() {
            if let Some(segment) = m.flush_segment() {
                self.out.put(&segment)?;
            }
        }
        self.out.inner.flush()?;
        Ok(Rendered {
            frames: self.written,
            width: self.width,
            height: self.height,
            duration_millis: rescale(self.next_dts, 1000, self.timescale),
            bytes: self.out.bytes,
        })
    }
}
