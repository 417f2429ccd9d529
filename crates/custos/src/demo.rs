//! `custos demo`: the whole chain in one command, on simulated hardware. An
//! evidence server on a fresh data directory, two cameras and a dock
//! enrolled, a shift with escalations, the cameras docked and wiped, one
//! person per role — then it serves the web UI until stopped.
//!
//! `custos demo code NAME` prints a demo person's current TOTP code, so
//! nobody needs an authenticator app to try it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use custos_access::Role;
use custos_camera::camera::Button;
use custos_camera::display::SimulatedDisplay;
use custos_camera::source::{CaptureSource, Pacing, SyntheticSource};
use custos_camera::storage::CameraConfig;
use custos_camera::{Camera, CameraDir};
use custos_dock::{Dock, DockConfig};
use custos_format::{StopReason, UtcMillis};
use custos_keys::secrecy::SecretString;
use custos_keys::EvidenceKeyStore;
use custos_server::admin::Admin;
use serde::{Deserialize, Serialize};

const MARKER: &str = ".custos-demo";
const DEMO_PASSPHRASE: &str = "custos-demo-only";
/// The demo people's passwords and TOTP secrets, for `custos demo code`.
/// A real deployment never writes these down: `custos users add` shows them once.
const LOGINS: &str = "demo-logins.json";

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DemoArgs {
    #[command(subcommand)]
    command: Option<DemoCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
struct RunArgs {
    /// Directory for the demo deployment (re-created on each run).
    #[arg(long, default_value = "./custos-demo")]
    data: PathBuf,
    /// Address the demo's evidence server listens on (TLS); port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The web UI's default language: nl, de or en.
    #[arg(long, default_value = "nl", value_parser = crate::server::parse_language)]
    language: custos_web::Lang,
    /// Set everything up, print it, and exit instead of serving.
    #[arg(long)]
    no_serve: bool,
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Print a demo person's current sign-in code (TOTP), e.g. `custos demo code reviewer`.
    Code {
        /// The demo person: officer, reviewer, privacy-officer, admin, auditor or evaluator.
        name: String,
        #[arg(long, default_value = "./custos-demo")]
        data: PathBuf,
    },
}

#[derive(Serialize, Deserialize)]
struct Login {
    name: String,
    role: String,
    password: String,
    totp_secret: String,
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    match args.command {
        Some(DemoCommand::Code { name, data }) => code(&data, &name),
        None => demo(args.run),
    }
}

fn code(data: &Path, name: &str) -> Result<ExitCode> {
    let path = data.join(LOGINS);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (is --data the directory `custos demo` made?)",
            path.display()
        )
    })?;
    let logins: Vec<Login> =
        serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))?;
    let Some(login) = logins.iter().find(|l| l.name == name) else {
        let names: Vec<&str> = logins.iter().map(|l| l.name.as_str()).collect();
        bail!("no demo person `{name}`; there are: {}", names.join(", "));
    };
    let code = custos_server::auth::totp_code(&login.totp_secret, UtcMillis::now())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{code}");
    Ok(ExitCode::SUCCESS)
}

/// One simulated camera and what happens to it during the shift.
struct DemoCamera {
    device_id: &'static str,
    officer_id: &'static str,
    prerecord_seconds: u32,
    shift: fn(&mut Shift) -> Result<Vec<String>>,
}

const CAMERAS: [DemoCamera; 2] = [
    DemoCamera {
        device_id: "zuid-01",
        officer_id: "boa-1017",
        prerecord_seconds: 30,
        shift: shift_zuid,
    },
    DemoCamera {
        device_id: "noord-02",
        officer_id: "boa-2044",
        prerecord_seconds: 15,
        shift: shift_noord,
    },
];

const FPS: u32 = 30;

struct Shift {
    camera: Camera<SimulatedDisplay>,
    source: SyntheticSource,
}

impl Shift {
    fn seconds(&mut self, seconds: u32) -> Result<()> {
        for _ in 0..seconds * FPS {
            let frame = self.source.next_frame()?.context("source ended")?;
            self.camera.on_frame(frame)?;
        }
        Ok(())
    }
}

fn shift_zuid(s: &mut Shift) -> Result<Vec<String>> {
    s.seconds(45)?;
    s.camera.press(Button::Display)?;
    s.seconds(5)?;
    s.camera.press(Button::Record)?;
    s.seconds(1)?;
    s.camera.press(Button::Bookmark {
        label: Some("aggression towards officer".into()),
    })?;
    s.seconds(20)?;
    s.camera.press(Button::Stop)?;
    s.camera.press(Button::Display)?;
    s.seconds(30)?;
    s.camera.press(Button::Record)?;
    s.seconds(12)?;
    s.camera.stop(StopReason::Shutdown)?;
    Ok(vec![
        "45 s on patrol, standby: pre-record in RAM only, nothing written".into(),
        "a discussion heats up: front display on, the person sees themself live".into(),
        "verbal warning, then RECORD: the last 30 s of pre-record open the recording".into(),
        "bookmark \"aggression towards officer\", 20 s later STOP, display off".into(),
        "a second, shorter incident; end of shift".into(),
    ])
}

fn shift_noord(s: &mut Shift) -> Result<Vec<String>> {
    s.seconds(20)?;
    s.camera.press(Button::Record)?;
    s.seconds(3)?;
    s.camera.press(Button::Bookmark {
        label: Some("person refuses to identify".into()),
    })?;
    s.seconds(15)?;
    s.camera.press(Button::Stop)?;
    s.seconds(2)?;
    s.camera.stop(StopReason::Shutdown)?;
    Ok(vec![
        "20 s standby, then RECORD with 15 s of pre-record".into(),
        "bookmark \"person refuses to identify\", STOP; end of shift".into(),
    ])
}

/// The demo's people: one per role.
const PEOPLE: [(&str, Role, Option<&str>); 6] = [
    ("officer", Role::Officer, Some("boa-1017")),
    ("reviewer", Role::Reviewer, None),
    ("privacy-officer", Role::PrivacyOfficer, None),
    ("admin", Role::Admin, None),
    ("auditor", Role::Auditor, None),
    ("evaluator", Role::Evaluator, None),
];

fn prepare(root: &Path) -> Result<()> {
    if root.exists() {
        if !root.join(MARKER).exists() {
            bail!(
                "{} exists and is not a Custos demo directory; pass --data with a new path",
                root.display()
            );
        }
        std::fs::remove_dir_all(root)
            .with_context(|| format!("clearing the previous demo in {}", root.display()))?;
    }
    std::fs::create_dir_all(root)?;
    std::fs::write(
        root.join(MARKER),
        b"created by `custos demo`; safe to delete\n",
    )?;
    Ok(())
}

fn demo(args: RunArgs) -> Result<ExitCode> {
    let began = Instant::now();
    let root = args.data;
    prepare(&root)?;
    let data = root.join("server");
    let out = &mut std::io::stdout().lock();
    writeln!(out, "Custos demo in {}", root.display())?;
    let recipient = EvidenceKeyStore::new(&data).init(
        &SecretString::from(DEMO_PASSPHRASE.to_owned()),
        custos_keys::DEFAULT_WORK_FACTOR,
    )?;
    writeln!(
        out,
        "1. Evidence key created and sealed (demo passphrase: {DEMO_PASSPHRASE})"
    )?;
    writeln!(out, "   cameras encrypt to {recipient}")?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let web = custos_web::WebConfig::new("Europe/Amsterdam", args.language)
        .map_err(anyhow::Error::msg)?;
    let server = runtime
        .block_on(custos_server::start_with_pages(
            custos_server::ServerConfig {
                axis: None,
                limits: Default::default(),
                storage: Default::default(),
                data: data.clone(),
                listen: args.listen,
                tls: None,
                server_id: "custos-demo".into(),
                retention: custos_server::retention::RetentionPolicy::new(28 * 86_400_000),
                policy: custos_access::Policy {
                    hold_needs_second_approver: true,
                    ..Default::default()
                },
            },
            &SecretString::from(DEMO_PASSPHRASE.to_owned()),
            custos_server::system_clock(),
            custos_web::routes(web),
        ))
        .with_context(|| {
            format!(
                "starting the evidence server on {} (another port: --listen 127.0.0.1:0)",
                args.listen
            )
        })?;
    let url = format!("https://{}", server.addr);
    writeln!(
        out,
        "2. Evidence server on {url}: 28-day retention, purposes investigation, complaint, subject-access-request; holds need a second person"
    )?;

    let admin = runtime.block_on(Admin::open(&data))?;
    let receipt_key = custos_server::keys::receipt_public_key(&data)?.to_hex();
    let mut cameras = Vec::new();
    for c in &CAMERAS {
        let dir = CameraDir::new(root.join(format!("camera-{}", c.device_id)));
        dir.init(&CameraConfig {
            device_id: c.device_id.into(),
            evidence_recipient: recipient.to_string(),
            officer_id: None,
            prerecord_seconds: c.prerecord_seconds,
            width: 640,
            height: 360,
            fps: FPS,
            bitrate_bps: 1_500_000,
            storage_capacity_bytes: None,
            display_triggers_recording: false,
            simulated_gps: true,
            simulated_gps_start: None,
            server_receipt_key: Some(receipt_key.clone()),
        })?;
        runtime.block_on(admin.enroll_camera(c.device_id, &dir.verifying_key()?))?;
        // zuid-01 serves district zuid: the statistics can be asked per team.
        let team = c.device_id.split('-').next().unwrap_or("centrum");
        runtime.block_on(admin.set_camera_team(c.device_id, team))?;
        Dock::checkout(&dir, c.officer_id)?;
        cameras.push(dir);
    }
    let credential = runtime.block_on(admin.enroll_dock("dock-stadhuis"))?;
    writeln!(
        out,
        "3. Cameras zuid-01 (officer boa-1017) and noord-02 (officer boa-2044) and dock-stadhuis enrolled; the cameras pin the server's receipt key"
    )?;

    // The two cameras' shifts run side by side, as fast as the CPU allows.
    let start_us = UtcMillis::now().as_millis() * 1000;
    let stories = std::thread::scope(|scope| {
        let handles: Vec<_> = CAMERAS
            .iter()
            .zip(&cameras)
            .map(|(c, dir)| {
                scope.spawn(move || -> Result<Vec<String>> {
                    let source = SyntheticSource::new(
                        640,
                        360,
                        FPS,
                        start_us,
                        c.device_id,
                        Pacing::AsFastAsPossible,
                    )?;
                    let camera =
                        Camera::open(dir.clone(), SimulatedDisplay::default(), source.describe())?;
                    let mut shift = Shift { camera, source };
                    (c.shift)(&mut shift)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a camera thread panicked"))
            .collect::<Result<Vec<_>>>()
    })?;
    writeln!(out, "4. A simulated shift:")?;
    for (c, story) in CAMERAS.iter().zip(stories) {
        for line in story {
            writeln!(out, "   {}: {line}", c.device_id)?;
        }
    }
    for (c, dir) in CAMERAS.iter().zip(&cameras) {
        let pending = dir.pending_recordings()?;
        let bytes: u64 = pending
            .iter()
            .map(|p| {
                std::fs::metadata(&p.ciphertext)
                    .map(|m| m.len())
                    .unwrap_or(0)
            })
            .sum();
        writeln!(
            out,
            "   {} holds {} encrypted recording(s) ({bytes} bytes); it cannot play or delete them",
            c.device_id,
            pending.len()
        )?;
    }

    let dock = Dock::new(DockConfig {
        server: format!("https://localhost:{}", server.addr.port()),
        dock_id: credential.dock_id,
        token: credential.token,
        server_certificate_pem: server.certificate_pem.clone(),
    })?;
    writeln!(out, "5. Docked at dock-stadhuis:")?;
    for (c, dir) in CAMERAS.iter().zip(&cameras) {
        let report = dock.offload(dir, &|_| {})?;
        if report.stored + report.already_stored == 0
            || !report.refused.is_empty()
            || report.interrupted.is_some()
        {
            bail!(
                "offloading {} did not complete: {} refused, {:?}",
                c.device_id,
                report.refused.len(),
                report.interrupted
            );
        }
        writeln!(
            out,
            "   {}: {} stored and verified by the server (signed receipts), {} wiped from the camera",
            c.device_id, report.stored, report.wiped
        )?;
    }

    let mut logins = Vec::new();
    for (name, role, officer) in PEOPLE {
        let enrollment =
            runtime.block_on(admin.add_user(name, role, officer.map(str::to_owned)))?;
        // The demo skips the forced change of the initial password.
        runtime.block_on(
            admin.catalog().set_password(
                name,
                &custos_server::auth::hash_password(&enrollment.password)
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                false,
                None,
                UtcMillis::now(),
            ),
        )?;
        logins.push(Login {
            name: name.into(),
            role: role.as_str().into(),
            password: enrollment.password.to_string(),
            totp_secret: enrollment.totp_secret.to_string(),
        });
    }
    write_private(&root.join(LOGINS), &serde_json::to_vec_pretty(&logins)?)?;
    writeln!(
        out,
        "6. One person per role (the officer is boa-1017; the admin never sees footage):"
    )?;
    writeln!(
        out,
        "   {:<16} {:<16} {:<22} TOTP secret",
        "user", "role", "password"
    )?;
    for l in &logins {
        writeln!(
            out,
            "   {:<16} {:<16} {:<22} {}",
            l.name, l.role, l.password, l.totp_secret
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Sign in at {url}/login (a self-signed certificate: accept it in the browser)."
    )?;
    writeln!(
        out,
        "The code for the second step: `custos demo code reviewer --data {}` (or add the secret to an authenticator app).",
        root.display()
    )?;
    writeln!(
        out,
        "Then: open a case, link a recording to it (the player asks) and play it, place a hold and approve it as the privacy officer, read the audit log as the auditor, see the statistics as the evaluator."
    )?;
    writeln!(
        out,
        "Check the audit log as an outsider would: custos audit verify --data {}",
        data.display()
    )?;
    writeln!(out, "Ready in {:.1} s.", began.elapsed().as_secs_f64())?;
    out.flush()?;
    if args.no_serve {
        runtime.block_on(server.shutdown());
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "Serving until Ctrl-C.")?;
    out.flush()?;
    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        server.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A file only its owner reads: it holds the demo people's secrets.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}
