//! Capture sources: where raw frames come from. Every source yields I420
//! frames of the camera's configured size with a capture timestamp; the
//! timestamps are the camera's clock, so a source that runs faster than real
//! time makes the whole camera run faster than real time (tests, benchmarks).

use std::io::Read;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::font::draw_text;

/// One uncompressed frame, I420 (Y plane, then U, then V at half resolution).
pub struct RawFrame {
    pub data: Vec<u8>,
    pub width: usize,
    pub height: usize,
    /// Capture time, microseconds since the Unix epoch (UTC).
    pub captured_at_us: i64,
}

impl RawFrame {
    pub fn planes(&self) -> (&[u8], &[u8], &[u8]) {
        let y = self.width * self.height;
        let c = y / 4;
        (
            &self.data[..y],
            &self.data[y..y + c],
            &self.data[y + c..y + 2 * c],
        )
    }
}

/// How a source spaces its frames in wall-clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// One frame per 1/fps of real time: a real camera.
    RealTime,
    /// As fast as the machine allows; timestamps still advance 1/fps per frame.
    AsFastAsPossible,
}

pub trait CaptureSource: Send {
    /// The next frame, or `None` when the source has ended (a replayed file
    /// that does not loop, a disconnected camera).
    fn next_frame(&mut self) -> Result<Option<RawFrame>>;
    fn describe(&self) -> String;
}

/// Frame `n`'s timestamp on a clock that started at `start_us`.
fn frame_time_us(start_us: i64, n: u64, fps: u32) -> i64 {
    start_us + (n as i64 * 1_000_000) / fps as i64
}

struct Pacer {
    pacing: Pacing,
    started: Instant,
    fps: u32,
}

impl Pacer {
    fn wait_for(&self, n: u64) {
        if self.pacing == Pacing::RealTime {
            let due = self.started + Duration::from_micros(n * 1_000_000 / self.fps as u64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }
}

/// A moving test pattern with the capture time and device id burnt in:
/// needs nothing installed, and anyone viewing a decrypted recording can see
/// which camera made it and when.
pub struct SyntheticSource {
    width: usize,
    height: usize,
    fps: u32,
    start_us: i64,
    frame: u64,
    label: String,
    pacer: Pacer,
    /// Stop after this many frames (tests); `None` runs forever.
    limit: Option<u64>,
}

impl SyntheticSource {
    pub fn new(
        width: u32,
        height: u32,
        fps: u32,
        start_us: i64,
        device_id: &str,
        pacing: Pacing,
    ) -> Result<Self> {
        check_size(width, height)?;
        Ok(Self {
            width: width as usize,
            height: height as usize,
            fps,
            start_us,
            frame: 0,
            label: format!("{device_id} CUSTOS SYNTHETIC"),
            pacer: Pacer {
                pacing,
                started: Instant::now(),
                fps,
            },
            limit: None,
        })
    }

    pub fn with_limit(mut self, frames: u64) -> Self {
        self.limit = Some(frames);
        self
    }
}

pub fn check_size(width: u32, height: u32) -> Result<()> {
    if width < 16
        || height < 16
        || width > 7680
        || height > 4320
        || !width.is_multiple_of(2)
        || !height.is_multiple_of(2)
    {
        bail!("frame size {width}x{height} unsupported: even sizes from 16x16 to 7680x4320");
    }
    Ok(())
}

impl CaptureSource for SyntheticSource {
    fn next_frame(&mut self) -> Result<Option<RawFrame>> {
        if self.limit.is_some_and(|l| self.frame >= l) {
            return Ok(None);
        }
        let n = self.frame;
        self.pacer.wait_for(n);
        self.frame += 1;
        let (w, h) = (self.width, self.height);
        let mut data = vec![0u8; w * h * 3 / 2];
        // Eight scrolling colour bars (BT.601 limited-range YUV).
        const BARS: [(u8, u8, u8); 8] = [
            (235, 128, 128),
            (210, 16, 146),
            (170, 166, 16),
            (145, 54, 34),
            (106, 202, 222),
            (81, 90, 240),
            (41, 240, 110),
            (16, 128, 128),
        ];
        let shift = (n as usize * 4) % w;
        let bar_of = |x: usize| BARS[((x + shift) % w) * 8 / w];
        let (luma, chroma) = data.split_at_mut(w * h);
        for y in 0..h {
            let row = &mut luma[y * w..(y + 1) * w];
            for (x, px) in row.iter_mut().enumerate() {
                *px = bar_of(x).0;
            }
        }
        let (u_plane, v_plane) = chroma.split_at_mut(w * h / 4);
        for cy in 0..h / 2 {
            for cx in 0..w / 2 {
                let (_, u, v) = bar_of(cx * 2);
                u_plane[cy * w / 2 + cx] = u;
                v_plane[cy * w / 2 + cx] = v;
            }
        }
        // A box bouncing across the frame gives the encoder real motion.
        let size = (h / 6).max(4);
        let span_x = w - size;
        let span_y = h - size;
        let px = (n as usize * 7) % (2 * span_x);
        let py = (n as usize * 5) % (2 * span_y);
        let bx = if px < span_x { px } else { 2 * span_x - px };
        let by = if py < span_y { py } else { 2 * span_y - py };
        for y in by..by + size {
            luma[y * w + bx..y * w + bx + size].fill(235);
        }
        let captured_at_us = frame_time_us(self.start_us, n, self.fps);
        let clock = custos_format::UtcMillis::from_millis(captured_at_us / 1000)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let scale = (h / 120).max(1);
        draw_text(luma, w, h, scale * 2, scale * 2, scale, &clock);
        draw_text(luma, w, h, scale * 2, scale * 12, scale, &self.label);
        Ok(Some(RawFrame {
            data,
            width: w,
            height: h,
            captured_at_us,
        }))
    }

    fn describe(&self) -> String {
        format!("synthetic {}x{}@{}", self.width, self.height, self.fps)
    }
}

/// Frames decoded by ffmpeg: `file:` replays an MP4 (looping, so the camera
/// stays "on"), `v4l2:` reads a real camera on a Linux board.
pub struct FfmpegSource {
    child: Child,
    stdout: ChildStdout,
    width: usize,
    height: usize,
    fps: u32,
    start_us: i64,
    frame: u64,
    pacer: Pacer,
    wall_clock: bool,
    what: String,
}

impl FfmpegSource {
    pub fn file(
        path: &str,
        width: u32,
        height: u32,
        fps: u32,
        start_us: i64,
        pacing: Pacing,
        looped: bool,
    ) -> Result<Self> {
        if !std::path::Path::new(path).is_file() {
            bail!("file source {path}: no such file");
        }
        let mut args: Vec<String> = vec![
            "-hide_banner".into(),
            "-loglevel".into(),
            "error".into(),
            "-nostdin".into(),
        ];
        if looped {
            args.extend(["-stream_loop".into(), "-1".into()]);
        }
        args.extend(["-i".into(), path.into()]);
        Self::spawn(
            args,
            width,
            height,
            fps,
            start_us,
            pacing,
            false,
            format!("file:{path}"),
        )
    }

    pub fn v4l2(device: &str, width: u32, height: u32, fps: u32) -> Result<Self> {
        let args = vec![
            "-hide_banner".into(),
            "-loglevel".into(),
            "error".into(),
            "-nostdin".into(),
            "-f".into(),
            "v4l2".into(),
            "-framerate".into(),
            fps.to_string(),
            "-video_size".into(),
            format!("{width}x{height}"),
            "-i".into(),
            device.into(),
        ];
        // A real camera paces itself; its frames are stamped on arrival.
        Self::spawn(
            args,
            width,
            height,
            fps,
            0,
            Pacing::AsFastAsPossible,
            true,
            format!("v4l2:{device}"),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn(
        mut args: Vec<String>,
        width: u32,
        height: u32,
        fps: u32,
        start_us: i64,
        pacing: Pacing,
        wall_clock: bool,
        what: String,
    ) -> Result<Self> {
        check_size(width, height)?;
        args.extend([
            "-an".into(),
            "-vf".into(),
            format!("scale={width}:{height},fps={fps}"),
            "-pix_fmt".into(),
            "yuv420p".into(),
            "-f".into(),
            "rawvideo".into(),
            "pipe:1".into(),
        ]);
        let mut child = Command::new("ffmpeg")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("the file: and v4l2: sources need ffmpeg installed (the synthetic source needs nothing)")?;
        let stdout = child.stdout.take().expect("piped");
        Ok(Self {
            child,
            stdout,
            width: width as usize,
            height: height as usize,
            fps,
            start_us,
            frame: 0,
            pacer: Pacer {
                pacing,
                started: Instant::now(),
                fps,
            },
            wall_clock,
            what,
        })
    }
}

impl CaptureSource for FfmpegSource {
    fn next_frame(&mut self) -> Result<Option<RawFrame>> {
        let n = self.frame;
        self.pacer.wait_for(n);
        let mut data = vec![0u8; self.width * self.height * 3 / 2];
        let mut filled = 0;
        while filled < data.len() {
            match self.stdout.read(&mut data[filled..])? {
                0 if filled == 0 => return Ok(None),
                0 => bail!("{}: stream ended inside a frame", self.what),
                k => filled += k,
            }
        }
        self.frame += 1;
        let captured_at_us = if self.wall_clock {
            custos_format::UtcMillis::now().as_millis() * 1000
        } else {
            frame_time_us(self.start_us, n, self.fps)
        };
        Ok(Some(RawFrame {
            data,
            width: self.width,
            height: self.height,
            captured_at_us,
        }))
    }

    fn describe(&self) -> String {
        self.what.clone()
    }
}

impl Drop for FfmpegSource {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
