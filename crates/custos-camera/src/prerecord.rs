//! The pre-record ring: the last N seconds of encoded video, in RAM only,
//! whole GOPs so a recording can start on a keyframe. Without a trigger its
//! contents are simply overwritten and dropped; nothing here ever reaches a
//! disk.

use std::collections::VecDeque;

use crate::encoder::EncodedFrame;

struct Gop {
    frames: Vec<EncodedFrame>,
    bytes: usize,
}

impl Gop {
    fn start_us(&self) -> i64 {
        self.frames[0].captured_at_us
    }
}

pub struct PrerecordRing {
    window_us: i64,
    /// Hard cap regardless of timestamps, against an encoder overshooting its bitrate.
    max_bytes: usize,
    gops: VecDeque<Gop>,
    bytes: usize,
}

impl PrerecordRing {
    pub fn new(window_seconds: u32, max_bytes: usize) -> Self {
        Self {
            window_us: window_seconds as i64 * 1_000_000,
            max_bytes,
            gops: VecDeque::new(),
            bytes: 0,
        }
    }

    pub fn enabled(&self) -> bool {
        self.window_us > 0
    }

    pub fn is_empty(&self) -> bool {
        self.gops.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Span of buffered video, from the oldest GOP's start to `now_us`.
    pub fn buffered_us(&self, now_us: i64) -> i64 {
        self.gops.front().map_or(0, |g| now_us - g.start_us())
    }

    pub fn push(&mut self, frame: EncodedFrame) {
        if !self.enabled() {
            return;
        }
        let now = frame.captured_at_us;
        let size = frame.avcc.len();
        if frame.keyframe {
            self.gops.push_back(Gop {
                frames: vec![frame],
                bytes: size,
            });
        } else if let Some(gop) = self.gops.back_mut() {
            gop.frames.push(frame);
            gop.bytes += size;
        } else {
            // A P-frame with no keyframe before it cannot start a recording.
            return;
        }
        self.bytes += size;
        // Keep only GOPs that start inside the window, and never more than
        // the byte cap; the GOP in progress always stays.
        while self.gops.len() > 1
            && (self.gops[0].start_us() < now - self.window_us || self.bytes > self.max_bytes)
        {
            let old = self.gops.pop_front().expect("len > 1");
            self.bytes -= old.bytes;
        }
    }

    /// Hands the buffered frames to a starting recording, oldest first.
    pub fn take(&mut self) -> Vec<EncodedFrame> {
        self.bytes = 0;
        self.gops.drain(..).flat_map(|g| g.frames).collect()
    }

    pub fn clear(&mut self) {
        self.gops.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(i: i64, keyframe: bool, size: usize) -> EncodedFrame {
        EncodedFrame {
            avcc: vec![0; size],
            keyframe,
            captured_at_us: i * 100_000,
        }
    }

    #[test]
    fn keeps_whole_gops_inside_the_window_and_drops_the_rest() {
        // 10 fps, GOP of 10 frames (1 s), window 3 s.
        let mut ring = PrerecordRing::new(3, usize::MAX);
        for i in 0..100 {
            ring.push(frame(i, i % 10 == 0, 100));
        }
        let frames = ring.take();
        assert!(frames[0].keyframe);
        let span = frames.last().unwrap().captured_at_us - frames[0].captured_at_us;
        // Last frame at 9.9 s; kept GOPs start at 7 s, 8 s, 9 s.
        assert_eq!(frames[0].captured_at_us, 7_000_000);
        assert_eq!(span, 2_900_000);
        assert_eq!(frames.len(), 30);
        assert!(ring.is_empty());
        assert_eq!(ring.bytes(), 0);
    }

    #[test]
    fn byte_cap_bounds_memory_and_zero_window_buffers_nothing() {
        let mut ring = PrerecordRing::new(100, 2_500);
        for i in 0..100 {
            ring.push(frame(i, i % 10 == 0, 100));
            assert!(ring.bytes() <= 2_500 + 1000, "{}", ring.bytes());
        }
        let mut off = PrerecordRing::new(0, usize::MAX);
        off.push(frame(0, true, 100));
        assert!(off.is_empty());
        // P-frames before any keyframe are useless and dropped.
        let mut ring = PrerecordRing::new(5, usize::MAX);
        ring.push(frame(0, false, 100));
        assert!(ring.is_empty());
    }
}
