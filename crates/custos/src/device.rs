use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use custos_camera::control::{self, Request};
use custos_camera::run::{RunOptions, SourceSpec};
use custos_camera::source::Pacing;
use custos_camera::storage::CameraConfig;
use custos_camera::CameraDir;

#[derive(Args, Clone)]
pub struct CameraDirArg {
    /// The camera's storage directory.
    #[arg(long)]
    pub dir: PathBuf,
}

#[derive(Subcommand)]
pub enum DeviceCommand {
    /// Create a camera: Ed25519 identity, storage, configuration.
    Init {
        #[command(flatten)]
        cam: CameraDirArg,
        #[arg(long)]
        device_id: String,
        /// The deployment's evidence recipient (`custos keys show`).
        #[arg(long)]
        evidence_key: String,
        /// Pre-record window, 0 to 120 s (e.g. 30s, 2m).
        #[arg(long, default_value = "30s", value_parser = parse_seconds)]
        prerecord: u32,
        /// Frame size WIDTHxHEIGHT.
        #[arg(long, default_value = "1280x720", value_parser = parse_size)]
        size: (u32, u32),
        #[arg(long, default_value_t = 30)]
        fps: u32,
        /// Target bitrate, e.g. 4M or 800k.
        #[arg(long, default_value = "4M", value_parser = parse_bitrate)]
        bitrate: u32,
        /// Simulated storage card size, e.g. 32G (default: the filesystem's free space).
        #[arg(long, value_parser = parse_bytes)]
        storage_capacity: Option<u64>,
        /// Touching the front display starts recording (as in Bocholt).
        #[arg(long)]
        display_triggers_recording: bool,
        /// Do not attach a simulated GPS track.
        #[arg(long)]
        no_gps: bool,
    },
    /// Check a camera out to an officer (the dock does this at shift start).
    Assign {
        #[command(flatten)]
        cam: CameraDirArg,
        /// Officer id; omit with --none to clear.
        #[arg(long, required_unless_present = "none")]
        officer: Option<String>,
        #[arg(long)]
        none: bool,
    },
    /// Run the camera: always on standby, recording only when triggered.
    Run {
        #[command(flatten)]
        cam: CameraDirArg,
        /// synthetic | file:PATH | v4l2:/dev/videoN
        #[arg(long, default_value = "synthetic")]
        source: SourceSpec,
        /// Pre-record window for this run (0-120 s) instead of the configured one.
        #[arg(long, value_parser = parse_seconds)]
        prerecord: Option<u32>,
        /// Run as fast as the CPU allows instead of in real time (simulation, tests).
        #[arg(long)]
        fast: bool,
        /// Stop after this many frames.
        #[arg(long)]
        frames: Option<u64>,
        /// Camera clock at the first frame (RFC 3339, UTC); default now.
        #[arg(long)]
        start_time: Option<String>,
    },
    /// Press a button on the running camera.
    Press {
        button: ButtonArg,
        #[command(flatten)]
        cam: CameraDirArg,
        /// Label for a bookmark.
        #[arg(long)]
        label: Option<String>,
    },
    /// Show the camera's state.
    Status {
        #[command(flatten)]
        cam: CameraDirArg,
        #[arg(long)]
        json: bool,
    },
    /// Pin the evidence server's receipt key (second step of enrollment):
    /// the camera will delete a recording only against receipts signed by it.
    Pin {
        #[command(flatten)]
        cam: CameraDirArg,
        /// 64 hex digits, printed by `custos enroll camera` and `custos serve`.
        #[arg(long)]
        server_key: String,
    },
    /// Stop the running agent cleanly (a recording in progress is finished).
    Shutdown {
        #[command(flatten)]
        cam: CameraDirArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ButtonArg {
    Record,
    Stop,
    Display,
    Bookmark,
}

pub fn parse_seconds(s: &str) -> Result<u32, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix('m') {
        (n, 60)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1)
    } else {
        (s, 1)
    };
    let value: u32 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s or 2m"))?;
    let secs = value.checked_mul(mult).ok_or("duration too large")?;
    if secs > 120 {
        return Err(format!("pre-record is 0 to 120 seconds, not {secs}"));
    }
    Ok(secs)
}

pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("`{s}` is not WIDTHxHEIGHT"))?;
    let w = w.parse().map_err(|_| format!("bad width in `{s}`"))?;
    let h = h.parse().map_err(|_| format!("bad height in `{s}`"))?;
    custos_camera::source::check_size(w, h).map_err(|e| e.to_string())?;
    Ok((w, h))
}

fn parse_scaled(s: &str, k: u64) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], k),
        Some('M') => (&s[..s.len() - 1], k * k),
        Some('G') => (&s[..s.len() - 1], k * k * k),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a number like 4M"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

pub fn parse_bitrate(s: &str) -> Result<u32, String> {
    u32::try_from(parse_scaled(s, 1000)?).map_err(|_| format!("`{s}` is too large"))
}

pub fn parse_bytes(s: &str) -> Result<u64, String> {
    parse_scaled(s, 1024)
}

pub fn run(command: DeviceCommand) -> Result<ExitCode> {
    match command {
        DeviceCommand::Init {
            cam,
            device_id,
            evidence_key,
            prerecord,
            size,
            fps,
            bitrate,
            storage_capacity,
            display_triggers_recording,
            no_gps,
        } => {
            let dir = CameraDir::new(&cam.dir);
            let config = CameraConfig {
                device_id,
                evidence_recipient: evidence_key.trim().to_owned(),
                officer_id: None,
                prerecord_seconds: prerecord,
                width: size.0,
                height: size.1,
                fps,
                bitrate_bps: bitrate,
                storage_capacity_bytes: storage_capacity,
                display_triggers_recording,
                simulated_gps: !no_gps,
                simulated_gps_start: None,
                server_receipt_key: None,
            };
            let public = dir.init(&config)?;
            eprintln!(
                "Camera {} created in {}",
                config.device_id,
                cam.dir.display()
            );
            eprintln!(
                "Register its public key with the server: {}",
                dir.public_key_path().display()
            );
            println!("{}", public.to_hex());
        }
        DeviceCommand::Assign { cam, officer, none } => {
            let dir = CameraDir::new(&cam.dir);
            let mut config = dir.load_config()?;
            config.officer_id = if none { None } else { officer };
            dir.save_config(&config)?;
            match &config.officer_id {
                Some(o) => eprintln!("Camera {} checked out to officer {o}", config.device_id),
                None => eprintln!("Camera {} has no officer", config.device_id),
            }
        }
        DeviceCommand::Run {
            cam,
            source,
            prerecord,
            fast,
            frames,
            start_time,
        } => {
            let dir = CameraDir::new(&cam.dir);
            let start_time_us = start_time
                .map(|s| {
                    time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
                        .map(|t| (t.unix_timestamp_nanos() / 1000) as i64)
                        .with_context(|| format!("--start-time `{s}` is not RFC 3339"))
                })
                .transpose()?;
            let shutdown = Arc::new(AtomicBool::new(false));
            for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                signal_hook::flag::register(signal, shutdown.clone())?;
            }
            let options = RunOptions {
                source,
                pacing: if fast {
                    Pacing::AsFastAsPossible
                } else {
                    Pacing::RealTime
                },
                frame_limit: frames,
                start_time_us,
                prerecord_seconds: prerecord,
            };
            let summary = custos_camera::run::run(&dir, options, shutdown)?;
            eprintln!(
                "Camera stopped: {} recording(s) made, {} recovered after power loss",
                summary.recordings, summary.recovered
            );
        }
        DeviceCommand::Press { button, cam, label } => {
            let request = match button {
                ButtonArg::Record => Request::Record,
                ButtonArg::Stop => Request::Stop,
                ButtonArg::Display => Request::Display,
                ButtonArg::Bookmark => Request::Bookmark { label },
            };
            let response = control::send(&CameraDir::new(&cam.dir), &request)?;
            if !response.ok {
                bail!("{}", response.error.unwrap_or_else(|| "refused".into()));
            }
            if let Some(status) = response.status {
                println!("{}", serde_json::to_string(&status)?);
            }
        }
        DeviceCommand::Status { cam, json } => {
            let dir = CameraDir::new(&cam.dir);
            let status = match control::send(&dir, &Request::Status) {
                Ok(r) if r.ok => r.status.context("status missing from answer")?,
                Ok(r) => bail!("{}", r.error.unwrap_or_default()),
                Err(_) => custos_camera::camera::offline_status(&dir)?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!("camera        {}", status.device_id);
                println!(
                    "officer       {}",
                    status.officer_id.as_deref().unwrap_or("(none)")
                );
                println!("state         {:?}", status.state);
                println!(
                    "display       {}",
                    if status.display { "on" } else { "off" }
                );
                println!(
                    "pending       {} recording(s), {} bytes",
                    status.pending_offload, status.pending_offload_bytes
                );
                println!(
                    "free          {} bytes{}",
                    status.free_bytes,
                    if status.storage_full { " (FULL)" } else { "" }
                );
                println!("battery       {}%", status.battery_percent);
                println!(
                    "pre-record    {} s (buffered {} ms)",
                    status.prerecord_seconds, status.prerecord_buffered_ms
                );
                if let Some(e) = status.last_error {
                    println!("last error    {e}");
                }
            }
        }
        DeviceCommand::Pin { cam, server_key } => {
            pin(&cam.dir, &server_key)?;
            eprintln!("Server receipt key pinned");
        }
        DeviceCommand::Shutdown { cam } => {
            let response = control::send(&CameraDir::new(&cam.dir), &Request::Shutdown)?;
            if !response.ok {
                bail!("{}", response.error.unwrap_or_default());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Pins a server receipt key into a camera's configuration.
pub fn pin(dir: &std::path::Path, server_key: &str) -> Result<()> {
    let key = custos_format::VerifyingKey::from_hex(server_key)
        .context("--server-key is not an Ed25519 key in hex")?;
    let cam = CameraDir::new(dir);
    let mut config = cam.load_config()?;
    if let Some(existing) = &config.server_receipt_key {
        if existing != &key.to_hex() {
            bail!("camera {} is already pinned to another server key; re-enrolling a camera to a new server is a deliberate act: edit camera.json", config.device_id);
        }
    }
    config.server_receipt_key = Some(key.to_hex());
    cam.save_config(&config)
}
