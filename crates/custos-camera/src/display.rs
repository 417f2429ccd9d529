//! The front display: shows the person in front of the camera their own live
//! image, to de-escalate. It is fed live frames only, straight from the
//! capture source; nothing recorded can reach it, because the camera holds no
//! key that could decrypt a recording.

use crate::source::RawFrame;

pub trait FrontDisplay: Send {
    fn show_live(&mut self, frame: &RawFrame);
    fn switched(&mut self, on: bool);
    /// Frames shown since start (for status and tests).
    fn frames_shown(&self) -> u64;
}

/// A display for cameras without a screen (simulation, tests): counts what it
/// was shown and keeps nothing — writing frames anywhere would put plaintext
/// footage on storage.
#[derive(Default)]
pub struct SimulatedDisplay {
    pub frames_shown: u64,
    pub last_shown_at_us: Option<i64>,
    pub activations: u64,
}

impl FrontDisplay for SimulatedDisplay {
    fn show_live(&mut self, frame: &RawFrame) {
        self.frames_shown += 1;
        self.last_shown_at_us = Some(frame.captured_at_us);
    }

    fn switched(&mut self, on: bool) {
        if on {
            self.activations += 1;
        }
    }

    fn frames_shown(&self) -> u64 {
        self.frames_shown
    }
}
