//! H.264 encoding with openh264, in process. Keyframes are placed by the
//! camera (every GOP, and on demand when recording starts without
//! pre-record), so fragments and the pre-record ring line up with GOPs.

use anyhow::{bail, Context, Result};
use muxide::codec::h264::{annexb_to_avcc, extract_avc_config, AvcConfig};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    UsageType,
};
use openh264::formats::YUVSlices;
use openh264::OpenH264API;

use crate::source::RawFrame;

/// One encoded frame in MP4 sample form (4-byte NAL lengths, no parameter sets).
#[derive(Clone)]
pub struct EncodedFrame {
    pub avcc: Vec<u8>,
    pub keyframe: bool,
    pub captured_at_us: i64,
}

pub struct VideoEncoder {
    encoder: Encoder,
    config: Option<AvcConfig>,
    width: usize,
    height: usize,
}

impl VideoEncoder {
    pub fn new(width: u32, height: u32, fps: u32, bitrate_bps: u32) -> Result<Self> {
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            .rate_control_mode(RateControlMode::Bitrate)
            .usage_type(UsageType::CameraVideoRealTime)
            // Rate control may drop a frame to hold the bitrate (and so the
            // storage budget); timestamps come from capture, so the file stays
            // correctly timed.
            .skip_frames(true)
            .scene_change_detect(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            .num_threads(1);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .context("starting the H.264 encoder")?;
        Ok(Self {
            encoder,
            config: None,
            width: width as usize,
            height: height as usize,
        })
    }

    /// SPS/PPS, known after the first keyframe.
    pub fn avc_config(&self) -> Option<&AvcConfig> {
        self.config.as_ref()
    }

    pub fn encode(
        &mut self,
        frame: &RawFrame,
        force_keyframe: bool,
    ) -> Result<Option<EncodedFrame>> {
        if frame.width != self.width || frame.height != self.height {
            bail!(
                "frame is {}x{}, encoder expects {}x{}",
                frame.width,
                frame.height,
                self.width,
                self.height
            );
        }
        if force_keyframe {
            self.encoder.force_intra_frame();
        }
        let (y, u, v) = frame.planes();
        let yuv = YUVSlices::new(
            (y, u, v),
            (self.width, self.height),
            (self.width, self.width / 2, self.width / 2),
        );
        let bitstream = self.encoder.encode(&yuv).context("encoding a frame")?;
        let keyframe = matches!(bitstream.frame_type(), FrameType::IDR);
        if matches!(bitstream.frame_type(), FrameType::Skip | FrameType::Invalid) {
            return Ok(None);
        }
        let annexb = bitstream.to_vec();
        if keyframe && self.config.is_none() {
            self.config = extract_avc_config(&annexb);
        }
        // Parameter sets live in the init segment; samples carry slices only.
        let avcc = custos_video::strip_parameter_sets(&annexb_to_avcc(&annexb));
        Ok(Some(EncodedFrame {
            avcc,
            keyframe,
            captured_at_us: frame.captured_at_us,
        }))
    }
}
