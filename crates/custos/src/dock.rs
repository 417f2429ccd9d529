//! `custos dock …`: check cameras out to officers, offload docked cameras.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use custos_camera::CameraDir;
use custos_dock::{CameraReport, Dock, DockConfig};

#[derive(Subcommand)]
pub enum DockCommand {
    /// Start of a shift: check a camera out to an officer.
    /// Without --officer the dock asks the server whom the camera is
    /// assigned to (a personal camera); a pool camera needs --officer.
    Checkout {
        #[arg(long)]
        camera: PathBuf,
        #[arg(long)]
        officer: Option<String>,
        /// The evidence server to ask (with --dock-id, --token-file, --server-cert).
        #[arg(long, requires_all = ["dock_id", "token_file", "server_cert"])]
        server: Option<String>,
        #[arg(long)]
        dock_id: Option<String>,
        #[arg(long)]
        token_file: Option<PathBuf>,
        #[arg(long)]
        server_cert: Option<PathBuf>,
    },
    /// Offload docked cameras to the evidence server; wipe each recording
    /// only against the server's receipt.
    Offload(OffloadArgs),
}

/// How a dock reaches the evidence server.
#[derive(Args)]
pub struct ServerArgs {
    /// The evidence server, https://HOST:PORT.
    #[arg(long)]
    server: String,
    #[arg(long)]
    dock_id: String,
    /// File holding the dock's token (from `custos enroll dock`).
    #[arg(long, env = "CUSTOS_DOCK_TOKEN_FILE")]
    token_file: PathBuf,
    /// The server's TLS certificate (PEM), pinned as the only trusted root.
    #[arg(long)]
    server_cert: PathBuf,
}

impl ServerArgs {
    fn dock(&self) -> Result<Dock> {
        let token = std::fs::read_to_string(&self.token_file)
            .with_context(|| format!("reading the dock token {}", self.token_file.display()))?
            .trim()
            .to_owned();
        let pem = std::fs::read_to_string(&self.server_cert).with_context(|| {
            format!(
                "reading the server certificate {}",
                self.server_cert.display()
            )
        })?;
        Dock::new(DockConfig {
            server: self.server.clone(),
            dock_id: self.dock_id.clone(),
            token,
            server_certificate_pem: pem,
        })
    }
}

#[derive(Args)]
pub struct OffloadArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Cameras offloaded at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Watch this directory: every camera directory in it is a docked camera.
    #[arg(long, conflicts_with = "cameras")]
    watch: Option<PathBuf>,
    /// Seconds between scans in --watch mode.
    #[arg(long, default_value_t = 10)]
    interval: u64,
    /// Camera directories to offload.
    cameras: Vec<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(command: DockCommand) -> Result<ExitCode> {
    match command {
        DockCommand::Checkout {
            camera,
            officer,
            server,
            dock_id,
            token_file,
            server_cert,
        } => {
            let cam = CameraDir::new(&camera);
            let server = match (server, dock_id, token_file, server_cert) {
                (Some(server), Some(dock_id), Some(token_file), Some(server_cert)) => {
                    Some(ServerArgs {
                        server,
                        dock_id,
                        token_file,
                        server_cert,
                    })
                }
                _ => None,
            };
            let officer = match (officer, server) {
                (Some(officer), _) => {
                    Dock::checkout(&cam, &officer)?;
                    officer
                }
                (None, Some(server)) => server.dock()?.checkout_assigned(&cam)?,
                (None, None) => bail!(
                    "name the officer (--officer), or let the server say whom the camera is assigned to (--server, --dock-id, --token-file, --server-cert)"
                ),
            };
            eprintln!("Camera checked out to officer {officer}");
            Ok(ExitCode::SUCCESS)
        }
        DockCommand::Offload(args) => offload(args),
    }
}

/// Camera directories directly inside `dir`.
pub fn docked_cameras(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.join("camera.json").is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn offload(args: OffloadArgs) -> Result<ExitCode> {
    let dock = Arc::new(args.server.dock()?);
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    loop {
        let cameras = match &args.watch {
            Some(dir) => docked_cameras(dir)?,
            None => args.cameras.clone(),
        };
        if cameras.is_empty() && args.watch.is_none() {
            bail!("no cameras given (pass camera directories or --watch DIR)");
        }
        let reports = offload_all(&dock, cameras, args.concurrency.max(1));
        let mut failed = false;
        for (path, report) in &reports {
            match report {
                Ok(r) => {
                    failed |=
                        r.interrupted.is_some() || !r.refused.is_empty() || !r.set_aside.is_empty();
                    if !args.json {
                        eprintln!(
                            "{}: {} stored, {} already stored, {} deleted on the server, {} wiped, {} refused, {} set aside on the camera{}{}",
                            r.device_id,
                            r.stored,
                            r.already_stored,
                            r.deleted_on_server,
                            r.wiped,
                            r.refused.len(),
                            r.set_aside.len(),
                            r.set_aside
                                .iter()
                                .map(|(stem, code)| format!(" ({stem}: {code})"))
                                .collect::<String>(),
                            r.interrupted
                                .as_deref()
                                .map(|e| format!("; interrupted: {e}"))
                                .unwrap_or_default()
                        );
                    }
                    tracing::info!(camera = %r.device_id, stored = r.stored, wiped = r.wiped, refused = r.refused.len(), "camera offloaded");
                }
                Err(e) => {
                    failed = true;
                    eprintln!("{}: {e:#}", path.display());
                }
            }
        }
        if args.json {
            let list: Vec<_> = reports
                .iter()
                .map(|(p, r)| match r {
                    Ok(r) => serde_json::to_value(r).unwrap_or_default(),
                    Err(e) => serde_json::json!({"camera": p, "error": format!("{e:#}")}),
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        if args.watch.is_none() {
            return Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            });
        }
        for _ in 0..args.interval * 10 {
            if stop.load(Ordering::Relaxed) {
                return Ok(ExitCode::SUCCESS);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

pub(crate) type Outcome = (PathBuf, Result<CameraReport>);

/// Offloads cameras with at most `concurrency` at a time; a progress bar per
/// camera on a terminal, structured logs otherwise.
pub(crate) fn offload_all(
    dock: &Arc<Dock>,
    cameras: Vec<PathBuf>,
    concurrency: usize,
) -> Vec<Outcome> {
    let queue = Arc::new(Mutex::new(cameras.into_iter().collect::<VecDeque<_>>()));
    let results = Arc::new(Mutex::new(Vec::new()));
    let bars = std::io::stderr()
        .is_terminal()
        .then(indicatif::MultiProgress::new);
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            let (queue, results, dock, bars) =
                (queue.clone(), results.clone(), dock.clone(), bars.clone());
            s.spawn(move || loop {
                let Some(path) = queue.lock().expect("queue").pop_front() else {
                    return;
                };
                let cam = CameraDir::new(&path);
                let total: u64 = cam
                    .pending_recordings()
                    .map(|p| {
                        p.iter()
                            .filter_map(|r| std::fs::metadata(&r.ciphertext).ok())
                            .map(|m| m.len())
                            .sum()
                    })
                    .unwrap_or(0);
                let bar = bars.as_ref().map(|m| {
                    let bar = m.add(indicatif::ProgressBar::new(total));
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                        )
                        .expect("valid template")
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(
                        path.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    );
                    bar
                });
                let report = dock.offload(&cam, &|n| {
                    if let Some(bar) = &bar {
                        bar.inc(n);
                    }
                });
                if let Some(bar) = bar {
                    bar.finish();
                }
                results.lock().expect("results").push((path, report));
            });
        }
    });
    let mut out = std::mem::take(&mut *results.lock().expect("results"));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
