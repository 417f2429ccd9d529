//! The agent: a capture thread, a control-socket thread and the camera loop,
//! joined by one bounded channel. The bound gives backpressure, so a source
//! running faster than real time can never outrun the camera's clock.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use custos_format::StopReason;

use crate::camera::{Button, Camera};
use crate::control::{parse_request, Request, Response, MAX_REQUEST_BYTES};
use crate::display::SimulatedDisplay;
use crate::recorder::recover;
use crate::source::{CaptureSource, FfmpegSource, Pacing, RawFrame, SyntheticSource};
use crate::storage::CameraDir;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    Synthetic,
    File(String),
    V4l2(String),
}

impl std::str::FromStr for SourceSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "synthetic" {
            Ok(Self::Synthetic)
        } else if let Some(p) = s.strip_prefix("file:") {
            Ok(Self::File(p.to_owned()))
        } else if let Some(d) = s.strip_prefix("v4l2:") {
            Ok(Self::V4l2(d.to_owned()))
        } else {
            Err(format!(
                "unknown source `{s}`: use synthetic, file:PATH or v4l2:/dev/videoN"
            ))
        }
    }
}

pub struct RunOptions {
    pub source: SourceSpec,
    pub pacing: Pacing,
    /// Stop after this many frames (tests, benchmarks).
    pub frame_limit: Option<u64>,
    /// Camera clock at the first frame, µs since the epoch; default now.
    pub start_time_us: Option<i64>,
    /// Pre-record window for this run instead of the configured one.
    pub prerecord_seconds: Option<u32>,
}

enum Event {
    Frame(RawFrame),
    SourceEnded,
    SourceFailed(String),
    Command(Request, mpsc::Sender<Response>),
}

pub struct RunSummary {
    pub recovered: usize,
    pub recordings: usize,
}

/// Runs the camera until `shutdown` is set, a `shutdown` request arrives or
/// the source ends. A recording in progress is finished cleanly.
pub fn run(dir: &CameraDir, options: RunOptions, shutdown: Arc<AtomicBool>) -> Result<RunSummary> {
    let config = dir.load_config()?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.lock_path())?;
    if lock.try_lock().is_err() {
        bail!("camera {} is already running", config.device_id);
    }
    let key = dir.signing_key()?;
    let recovered = recover(dir, &key)?;
    for r in &recovered {
        tracing::warn!(
            sequence = r.sequence,
            bytes = r.ciphertext_length,
            "finalised a recording cut off by power loss"
        );
    }
    drop(key);
    let wiped = crate::wipe::finish_interrupted_wipes(dir)?;
    if wiped > 0 {
        tracing::info!(
            recordings = wiped,
            "completed wipes interrupted by power loss"
        );
    }

    let start_us = options
        .start_time_us
        .unwrap_or_else(|| custos_format::UtcMillis::now().as_millis() * 1000);
    let mut source: Box<dyn CaptureSource> = match &options.source {
        SourceSpec::Synthetic => {
            let s = SyntheticSource::new(
                config.width,
                config.height,
                config.fps,
                start_us,
                &config.device_id,
                options.pacing,
            )?;
            Box::new(match options.frame_limit {
                Some(n) => s.with_limit(n),
                None => s,
            })
        }
        SourceSpec::File(p) => Box::new(FfmpegSource::file(
            p,
            config.width,
            config.height,
            config.fps,
            start_us,
            options.pacing,
            options.frame_limit.is_none(),
        )?),
        SourceSpec::V4l2(d) => Box::new(FfmpegSource::v4l2(
            d,
            config.width,
            config.height,
            config.fps,
        )?),
    };
    let mut camera = Camera::open(dir.clone(), SimulatedDisplay::default(), source.describe())?;
    if let Some(seconds) = options.prerecord_seconds {
        camera.set_prerecord_seconds(seconds)?;
    }

    let (tx, rx) = mpsc::sync_channel::<Event>(4);
    let frame_limit = options.frame_limit;
    let capture_tx = tx.clone();
    let capture_stop = shutdown.clone();
    let capture = std::thread::Builder::new()
        .name("capture".into())
        .spawn(move || {
            let mut n = 0u64;
            while !capture_stop.load(Ordering::Relaxed) {
                if frame_limit.is_some_and(|l| n >= l) {
                    let _ = capture_tx.send(Event::SourceEnded);
                    return;
                }
                match source.next_frame() {
                    Ok(Some(f)) => {
                        n += 1;
                        if capture_tx.send(Event::Frame(f)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {
                        let _ = capture_tx.send(Event::SourceEnded);
                        return;
                    }
                    Err(e) => {
                        let _ = capture_tx.send(Event::SourceFailed(format!("{e:#}")));
                        return;
                    }
                }
            }
        })?;

    let socket_path = dir.control_socket();
    let _ = std::fs::remove_file(&socket_path);
    let listener = UnixListener::bind(&socket_path)
        .with_context(|| format!("binding {}", socket_path.display()))?;
    let control_stop = shutdown.clone();
    let control = std::thread::Builder::new()
        .name("control".into())
        .spawn(move || serve_control(listener, tx, control_stop))?;

    let mut recordings = 0usize;
    let result = camera_loop(&mut camera, &rx, &shutdown, &mut recordings);
    let stopped = camera.stop(StopReason::Shutdown);
    shutdown.store(true, Ordering::Relaxed);
    // Wake the control thread out of accept() and let the capture thread see the flag.
    let _ = UnixStream::connect(&socket_path);
    drop(rx);
    let _ = control.join();
    let _ = capture.join();
    let _ = std::fs::remove_file(&socket_path);
    let end_reason = result?;
    stopped?;
    tracing::info!(reason = end_reason, "camera stopped");
    recordings += camera.take_finished().len();
    Ok(RunSummary {
        recovered: recovered.len(),
        recordings,
    })
}

fn camera_loop(
    camera: &mut Camera<SimulatedDisplay>,
    rx: &Receiver<Event>,
    shutdown: &AtomicBool,
    finished_count: &mut usize,
) -> Result<&'static str> {
    // Replies to presses that take effect on the next frame.
    let mut waiting: Vec<mpsc::Sender<Response>> = Vec::new();
    loop {
        if shutdown.load(Ordering::Relaxed) {
            return Ok("signal");
        }
        let event = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Ok("source gone"),
        };
        match event {
            Event::Frame(frame) => {
                camera.on_frame(frame)?;
                if !waiting.is_empty() {
                    let response = status_response(camera);
                    for w in waiting.drain(..) {
                        let _ = w.send(response.clone());
                    }
                }
                *finished_count += camera.take_finished().len();
            }
            Event::SourceEnded => {
                camera.stop(StopReason::SourceEnded)?;
                *finished_count += camera.take_finished().len();
                tracing::info!(recordings = finished_count, "source ended");
                return Ok("source ended");
            }
            Event::SourceFailed(e) => {
                camera.stop(StopReason::SourceEnded)?;
                bail!("capture source failed: {e}");
            }
            Event::Command(request, reply) => match request {
                Request::Status => {
                    let _ = reply.send(status_response(camera));
                }
                Request::Shutdown => {
                    camera.stop(StopReason::Shutdown)?;
                    let _ = reply.send(status_response(camera));
                    return Ok("shutdown requested");
                }
                other => {
                    let button = other.button().expect("buttons only");
                    let takes_a_frame = matches!(button, Button::Record | Button::Stop);
                    match camera.press(button) {
                        Err(e) => {
                            let _ = reply.send(Response {
                                ok: false,
                                error: Some(e.to_string()),
                                status: camera.status().ok(),
                            });
                        }
                        Ok(()) if takes_a_frame => waiting.push(reply),
                        Ok(()) => {
                            let _ = reply.send(status_response(camera));
                        }
                    }
                }
            },
        }
    }
}

fn status_response(camera: &Camera<SimulatedDisplay>) -> Response {
    match camera.status() {
        Ok(status) => Response {
            ok: true,
            error: None,
            status: Some(status),
        },
        Err(e) => Response {
            ok: false,
            error: Some(format!("{e:#}")),
            status: None,
        },
    }
}

fn serve_control(listener: UnixListener, tx: SyncSender<Event>, stop: Arc<AtomicBool>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut line = String::new();
        let read = BufReader::new((&stream).take(MAX_REQUEST_BYTES)).read_line(&mut line);
        let response = match read {
            Err(e) => Response {
                ok: false,
                error: Some(format!("bad request: {e}")),
                status: None,
            },
            Ok(_) => match parse_request(&line) {
                Err(e) => Response {
                    ok: false,
                    error: Some(e),
                    status: None,
                },
                Ok(request) => {
                    let (reply_tx, reply_rx) = mpsc::channel();
                    if tx.send(Event::Command(request, reply_tx)).is_err() {
                        return;
                    }
                    reply_rx
                        .recv_timeout(Duration::from_secs(20))
                        .unwrap_or(Response {
                            ok: false,
                            error: Some("the camera did not answer in time".into()),
                            status: None,
                        })
                }
            },
        };
        let mut writer = &stream;
        let _ = writer.write_all(
            format!("{}\n", serde_json::to_string(&response).unwrap_or_default()).as_bytes(),
        );
    }
}
