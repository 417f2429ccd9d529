//! The camera as a state machine driven by frames and button presses.
//!
//! Time comes only from the frames' capture timestamps, so the same code
//! runs a real camera in real time and a simulated one as fast as the CPU
//! allows, and tests decide exactly when each press lands.

use anyhow::{Context, Result};
use custos_format::{
    Bookmark, DisplayEvent, GpsPoint, SignedManifest, SigningKey, StopReason, Trigger, UtcMillis,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::display::FrontDisplay;
use crate::encoder::VideoEncoder;
use crate::prerecord::PrerecordRing;
use crate::recorder::{to_millis, ActiveRecording, FragmentError, StartParams, MIN_FREE_TO_RECORD};
use crate::source::RawFrame;
use crate::storage::{CameraConfig, CameraDir};

/// One GOP, and so one MP4 fragment, per second: a power cut loses at most that.
pub const GOP_MS: u64 = 1000;
const GPS_INTERVAL_US: i64 = 5_000_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "button", rename_all = "kebab-case")]
pub enum Button {
    Record,
    Stop,
    Display,
    Bookmark { label: Option<String> },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PressError {
    #[error("storage is full: dock the camera to offload its recordings")]
    StorageFull,
    #[error("not recording")]
    NotRecording,
    #[error("bookmark label too long or has control characters")]
    BadLabel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Standby,
    Recording,
    Off,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingStatus {
    pub recording_id: Uuid,
    pub sequence: u64,
    pub triggered_at: UtcMillis,
    pub fragments_written: u64,
    pub ciphertext_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub device_id: String,
    pub officer_id: Option<String>,
    pub state: State,
    pub display: bool,
    pub recording: Option<RecordingStatus>,
    pub pending_offload: usize,
    pub pending_offload_bytes: u64,
    /// Recordings the server refused (integrity incident): kept, never wiped.
    pub refused_by_server: usize,
    pub free_bytes: u64,
    pub storage_full: bool,
    pub battery_percent: u8,
    pub prerecord_seconds: u32,
    pub prerecord_buffered_ms: i64,
    pub prerecord_buffered_bytes: usize,
    pub camera_time: Option<UtcMillis>,
    pub source: String,
    pub display_frames_shown: u64,
    pub last_error: Option<String>,
}

/// Offline status, read from the camera directory when no agent runs.
pub fn offline_status(dir: &CameraDir) -> Result<Status> {
    let config = dir.load_config()?;
    let pending = dir.pending_recordings()?;
    let pending_bytes = pending
        .iter()
        .filter_map(|p| std::fs::metadata(&p.ciphertext).ok())
        .map(|m| m.len())
        .sum();
    let free = dir.free_bytes(&config)?;
    Ok(Status {
        device_id: config.device_id.clone(),
        officer_id: config.officer_id.clone(),
        state: State::Off,
        display: false,
        recording: None,
        pending_offload: pending.len(),
        pending_offload_bytes: pending_bytes,
        refused_by_server: pending.iter().filter(|p| p.refused.exists()).count(),
        free_bytes: free,
        storage_full: free < MIN_FREE_TO_RECORD,
        battery_percent: 100,
        prerecord_seconds: config.prerecord_seconds,
        prerecord_buffered_ms: 0,
        prerecord_buffered_bytes: 0,
        camera_time: None,
        source: "none (agent not running)".into(),
        display_frames_shown: 0,
        last_error: None,
    })
}

pub struct Camera<D: FrontDisplay> {
    dir: CameraDir,
    config: CameraConfig,
    key: SigningKey,
    encoder: VideoEncoder,
    ring: PrerecordRing,
    recording: Option<ActiveRecording>,
    display: D,
    display_on: bool,
    frames_since_keyframe: u64,
    force_keyframe: bool,
    pending_start: Option<Trigger>,
    pending_stop: bool,
    first_frame_us: Option<i64>,
    last_frame_us: Option<i64>,
    recording_us: i64,
    display_us: i64,
    last_gps_us: Option<i64>,
    storage_full: bool,
    last_error: Option<String>,
    source: String,
    finished: Vec<SignedManifest>,
}

impl<D: FrontDisplay> Camera<D> {
    pub fn open(dir: CameraDir, display: D, source: String) -> Result<Self> {
        let config = dir.load_config()?;
        let key = dir.signing_key()?;
        let encoder =
            VideoEncoder::new(config.width, config.height, config.fps, config.bitrate_bps)?;
        // The ring may hold the window plus one GOP; twice the nominal bitrate
        // caps it should the encoder overshoot.
        let max_bytes =
            (config.bitrate_bps as usize / 8) * (config.prerecord_seconds as usize + 1) * 2;
        let ring = PrerecordRing::new(config.prerecord_seconds, max_bytes);
        let storage_full = dir.free_bytes(&config)? < MIN_FREE_TO_RECORD;
        Ok(Self {
            dir,
            config,
            key,
            encoder,
            ring,
            recording: None,
            display,
            display_on: false,
            frames_since_keyframe: 0,
            force_keyframe: true,
            pending_start: None,
            pending_stop: false,
            first_frame_us: None,
            last_frame_us: None,
            recording_us: 0,
            display_us: 0,
            last_gps_us: None,
            storage_full,
            last_error: None,
            source,
            finished: Vec::new(),
        })
    }

    /// Overrides the configured pre-record window for this session only.
    pub fn set_prerecord_seconds(&mut self, seconds: u32) -> Result<()> {
        anyhow::ensure!(
            seconds <= 120,
            "pre-record is 0 to 120 seconds, not {seconds}"
        );
        self.config.prerecord_seconds = seconds;
        let max_bytes = (self.config.bitrate_bps as usize / 8) * (seconds as usize + 1) * 2;
        self.ring = PrerecordRing::new(seconds, max_bytes);
        Ok(())
    }

    pub fn display(&self) -> &D {
        &self.display
    }

    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Manifests of recordings finished since the last call.
    pub fn take_finished(&mut self) -> Vec<SignedManifest> {
        std::mem::take(&mut self.finished)
    }

    fn now_us(&self) -> i64 {
        self.last_frame_us.unwrap_or(0)
    }

    /// A button press. Effects that need video (starting, stopping) land on
    /// the next frame; everything else at once.
    pub fn press(&mut self, button: Button) -> Result<(), PressError> {
        match button {
            Button::Record => self.request_start(Trigger::RecordButton),
            Button::Stop => {
                if self.recording.is_none() && self.pending_start.is_none() {
                    return Err(PressError::NotRecording);
                }
                self.pending_stop = true;
                Ok(())
            }
            Button::Display => {
                self.display_on = !self.display_on;
                self.display.switched(self.display_on);
                let event = DisplayEvent {
                    at: to_millis(self.now_us()),
                    on: self.display_on,
                };
                if let Some(rec) = &mut self.recording {
                    rec.add_display_event(event);
                }
                if self.display_on && self.config.display_triggers_recording {
                    self.request_start(Trigger::DisplayTouch)?;
                }
                Ok(())
            }
            Button::Bookmark { label } => {
                if label
                    .as_ref()
                    .is_some_and(|l| l.chars().count() > 200 || l.chars().any(char::is_control))
                {
                    return Err(PressError::BadLabel);
                }
                let at = to_millis(self.now_us());
                match &mut self.recording {
                    Some(rec) => {
                        rec.add_bookmark(Bookmark {
                            at: at.max(rec.triggered_at()),
                            label,
                        });
                        Ok(())
                    }
                    None => Err(PressError::NotRecording),
                }
            }
        }
    }

    fn request_start(&mut self, trigger: Trigger) -> Result<(), PressError> {
        if self.recording.is_some() || self.pending_start.is_some() {
            return Ok(());
        }
        if self.storage_full {
            // Space may have come back since (the dock offloaded and wiped).
            if self
                .dir
                .free_bytes(&self.config)
                .is_ok_and(|free| free >= MIN_FREE_TO_RECORD)
            {
                self.storage_full = false;
                self.last_error = None;
            } else {
                return Err(PressError::StorageFull);
            }
        }
        self.pending_start = Some(trigger);
        self.pending_stop = false;
        if self.ring.is_empty() {
            self.force_keyframe = true;
        }
        Ok(())
    }

    /// Processes one captured frame.
    pub fn on_frame(&mut self, frame: RawFrame) -> Result<()> {
        let now = frame.captured_at_us;
        if let Some(prev) = self.last_frame_us {
            let dt = (now - prev).max(0);
            if self.recording.is_some() {
                self.recording_us += dt;
            }
            if self.display_on {
                self.display_us += dt;
            }
        }
        self.first_frame_us.get_or_insert(now);
        self.last_frame_us = Some(now);
        if self.display_on {
            self.display.show_live(&frame);
        }
        let gop_frames = (self.config.fps as u64 * GOP_MS / 1000).max(1);
        let want_keyframe = self.force_keyframe || self.frames_since_keyframe >= gop_frames;
        let Some(encoded) = self.encoder.encode(&frame, want_keyframe)? else {
            return Ok(());
        };
        drop(frame);
        if encoded.keyframe {
            self.frames_since_keyframe = 1;
            self.force_keyframe = false;
        } else {
            self.frames_since_keyframe += 1;
        }

        if let Some(trigger) = self.pending_start {
            if self.ring.is_empty() && !encoded.keyframe {
                self.force_keyframe = true;
                return Ok(());
            }
            self.pending_start = None;
            let mut first_frames = self.ring.take();
            first_frames.push(encoded);
            let avc = self
                .encoder
                .avc_config()
                .context("no keyframe seen yet")?
                .clone();
            let config = self.config_for_new_recording();
            match ActiveRecording::start(
                &self.dir,
                &config,
                StartParams {
                    trigger,
                    triggered_at_us: now,
                    first_frames,
                    avc: &avc,
                },
            ) {
                Ok(rec) => {
                    self.recording = Some(rec);
                    self.last_gps_us = None;
                    if self.display_on {
                        let event = DisplayEvent {
                            at: to_millis(now),
                            on: true,
                        };
                        self.recording
                            .as_mut()
                            .expect("just set")
                            .add_display_event(event);
                    }
                }
                Err(FragmentError::StorageFull) => self.mark_storage_full(),
                Err(FragmentError::Other(e)) => {
                    self.last_error = Some(format!("{e:#}"));
                    return Err(e);
                }
            }
        } else if let Some(rec) = &mut self.recording {
            match rec.push(encoded) {
                Ok(()) => {}
                Err(FragmentError::StorageFull) => {
                    self.mark_storage_full();
                    self.stop(StopReason::StorageFull)?;
                }
                Err(FragmentError::Other(e)) => return Err(e),
            }
        } else {
            self.ring.push(encoded);
        }

        if self.config.simulated_gps {
            if let Some(rec) = &mut self.recording {
                if self.last_gps_us.is_none_or(|t| now - t >= GPS_INTERVAL_US) {
                    self.last_gps_us = Some(now);
                    rec.add_gps(simulated_fix(
                        now,
                        self.first_frame_us.unwrap_or(now),
                        self.config
                            .simulated_gps_start
                            .unwrap_or(SIMULATED_GPS_START),
                    ));
                }
            }
        }
        if self.pending_stop && self.recording.is_some() {
            self.pending_stop = false;
            self.stop(StopReason::StopButton)?;
        }
        Ok(())
    }

    /// The officer may have been re-assigned since the agent started.
    fn config_for_new_recording(&mut self) -> CameraConfig {
        if let Ok(fresh) = self.dir.load_config() {
            self.config.officer_id = fresh.officer_id;
        }
        self.config.clone()
    }

    fn mark_storage_full(&mut self) {
        self.storage_full = true;
        self.last_error = Some(PressError::StorageFull.to_string());
        tracing::warn!(device = %self.config.device_id, "storage full; recording refused until offload");
    }

    /// Finishes the recording in progress, if any.
    pub fn stop(&mut self, reason: StopReason) -> Result<()> {
        if let Some(rec) = self.recording.take() {
            let signed = rec.finish(reason, &self.key)?;
            tracing::info!(
                sequence = signed.manifest().sequence,
                duration_ms = signed.manifest().duration_ms(),
                reason = ?signed.manifest().stop_reason,
                "recording finished"
            );
            if signed.manifest().stop_reason == StopReason::StorageFull {
                self.mark_storage_full();
            }
            self.finished.push(signed);
        }
        self.pending_start = None;
        self.pending_stop = false;
        Ok(())
    }

    pub fn status(&self) -> Result<Status> {
        let pending = self.dir.pending_recordings()?;
        let pending_bytes = pending
            .iter()
            .filter_map(|p| std::fs::metadata(&p.ciphertext).ok())
            .map(|m| m.len())
            .sum();
        let now = self.now_us();
        let standby_us = self.first_frame_us.map_or(0, |f| now - f) - self.recording_us;
        // A simple discharge model: 8 %/h on standby, 25 %/h recording, +5 %/h display.
        let used = standby_us as f64 / 3.6e9 * 8.0
            + self.recording_us as f64 / 3.6e9 * 25.0
            + self.display_us as f64 / 3.6e9 * 5.0;
        Ok(Status {
            device_id: self.config.device_id.clone(),
            officer_id: self
                .dir
                .load_config()
                .map(|c| c.officer_id)
                .unwrap_or(self.config.officer_id.clone()),
            state: if self.recording.is_some() {
                State::Recording
            } else {
                State::Standby
            },
            display: self.display_on,
            recording: self.recording.as_ref().map(|r| RecordingStatus {
                recording_id: r.recording_id(),
                sequence: r.sequence(),
                triggered_at: r.triggered_at(),
                fragments_written: r.fragments_written(),
                ciphertext_bytes: r.ciphertext_bytes(),
            }),
            pending_offload: pending.len(),
            pending_offload_bytes: pending_bytes,
            refused_by_server: pending.iter().filter(|p| p.refused.exists()).count(),
            free_bytes: self.dir.free_bytes(&self.config)?,
            storage_full: self.storage_full,
            battery_percent: (100.0 - used).clamp(0.0, 100.0) as u8,
            prerecord_seconds: self.config.prerecord_seconds,
            prerecord_buffered_ms: self.ring.buffered_us(now) / 1000,
            prerecord_buffered_bytes: self.ring.bytes(),
            camera_time: self.last_frame_us.map(to_millis),
            source: self.source.clone(),
            display_frames_shown: self.display.frames_shown(),
            last_error: self.last_error.clone(),
        })
    }
}

/// Where a synthetic camera's walk starts unless configured: south of the Maas.
const SIMULATED_GPS_START: [i64; 2] = [518_850_000, 44_930_000];

/// A walking officer: a fix every five seconds.
fn simulated_fix(now_us: i64, origin_us: i64, start: [i64; 2]) -> GpsPoint {
    let seconds = (now_us - origin_us).max(0) / 1_000_000;
    GpsPoint {
        at: UtcMillis::from_millis(now_us / 1000).unwrap_or(to_millis(0)),
        // ~1.3 m/s east, a little north: 1e-7 degree is about 1 cm.
        lat_e7: start[0] + seconds * 30,
        lon_e7: start[1] + seconds * 190,
        accuracy_m: 5,
    }
}
