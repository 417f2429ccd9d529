//! `custos demo`: the whole camera side in one command, on simulated
//! hardware. (The evidence server joins the demo with its own issue.)

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use custos_camera::camera::Button;
use custos_camera::display::SimulatedDisplay;
use custos_camera::source::{CaptureSource, Pacing, SyntheticSource};
use custos_camera::storage::CameraConfig;
use custos_camera::{Camera, CameraDir};
use custos_format::StopReason;
use custos_keys::secrecy::SecretString;
use custos_keys::EvidenceKeyStore;

const MARKER: &str = ".custos-demo";
const DEMO_PASSPHRASE: &str = "custos-demo-only";

#[derive(Args)]
pub struct DemoArgs {
    /// Directory for the demo deployment (re-created on each run).
    #[arg(long, default_value = "./custos-demo")]
    data: PathBuf,
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let root = args.data;
    if root.exists() {
        if !root.join(MARKER).exists() {
            bail!(
                "{} exists and is not a Custos demo directory; pass --data with a new path",
                root.display()
            );
        }
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("clearing the previous demo in {}", root.display()))?;
    }
    std::fs::create_dir_all(&root)?;
    std::fs::write(
        root.join(MARKER),
        b"created by `custos demo`; safe to delete\n",
    )?;

    println!("Custos demo in {}", root.display());
    let store = EvidenceKeyStore::new(root.join("server"));
    let recipient = store.init(
        &SecretString::from(DEMO_PASSPHRASE.to_owned()),
        custos_keys::DEFAULT_WORK_FACTOR,
    )?;
    println!("1. Evidence key created and sealed (demo passphrase: {DEMO_PASSPHRASE})");
    println!("   cameras encrypt to {recipient}");

    let cam_dir = CameraDir::new(root.join("camera-zuid-01"));
    let config = CameraConfig {
        device_id: "zuid-01".into(),
        evidence_recipient: recipient.to_string(),
        officer_id: Some("boa-1017".into()),
        prerecord_seconds: 30,
        width: 640,
        height: 360,
        fps: 30,
        bitrate_bps: 2_000_000,
        storage_capacity_bytes: None,
        display_triggers_recording: false,
        simulated_gps: true,
        server_receipt_key: None,
    };
    cam_dir.init(&config)?;
    println!("2. Camera zuid-01 enrolled on the camera side, checked out to officer boa-1017, pre-record 30 s");

    let start_us = custos_format::UtcMillis::now().as_millis() * 1000;
    let mut source =
        SyntheticSource::new(640, 360, 30, start_us, "zuid-01", Pacing::AsFastAsPossible)?;
    let mut camera = Camera::open(
        cam_dir.clone(),
        SimulatedDisplay::default(),
        source.describe(),
    )?;
    let mut feed = |camera: &mut Camera<SimulatedDisplay>, seconds: u64| -> Result<()> {
        for _ in 0..seconds * 30 {
            camera.on_frame(source.next_frame()?.context("source ended")?)?;
        }
        Ok(())
    };
    println!("3. A simulated shift (as fast as the CPU allows):");
    feed(&mut camera, 60)?;
    println!("   - 60 s on patrol, standby: pre-record in RAM only, nothing written");
    camera.press(Button::Display)?;
    feed(&mut camera, 5)?;
    println!("   - a discussion heats up: front display on, the person sees themself live");
    camera.press(Button::Record)?;
    feed(&mut camera, 1)?;
    println!("   - verbal warning, then RECORD: the last 30 s of pre-record open the recording");
    camera.press(Button::Bookmark {
        label: Some("aggression towards officer".into()),
    })?;
    feed(&mut camera, 20)?;
    camera.press(Button::Stop)?;
    camera.press(Button::Display)?;
    feed(&mut camera, 1)?;
    println!("   - 20 s later: bookmark set, STOP, display off");
    feed(&mut camera, 30)?;
    camera.press(Button::Record)?;
    feed(&mut camera, 12)?;
    camera.stop(StopReason::Shutdown)?;
    println!("   - a second, shorter incident; end of shift");
    drop(camera);

    println!("4. On the camera now (ciphertext and signed manifests only; it cannot play or delete them):");
    for p in cam_dir.pending_recordings()? {
        let size = std::fs::metadata(&p.ciphertext)?.len();
        println!("   {}  {} bytes", p.ciphertext.display(), size);
    }
    println!();
    println!("Check them, as a court's expert would:");
    println!(
        "   custos verify-recording --dir {}",
        cam_dir.root().display()
    );
    println!(
        "   CUSTOS_PASSPHRASE={DEMO_PASSPHRASE} custos verify-recording --dir {} --data {}",
        cam_dir.root().display(),
        root.join("server").display()
    );
    println!("Decrypt one with the standard age CLI (it asks for the demo passphrase):");
    println!(
        "   age -d -o identity.txt {}",
        store.sealed_path().display()
    );
    println!(
        "   age -d -i identity.txt -o recording.mp4 {}/<recording>.age",
        cam_dir.recordings_dir().display()
    );
    println!("Run the camera yourself: custos device run --dir {}  (then custos device press record --dir …)", cam_dir.root().display());
    Ok(ExitCode::SUCCESS)
}
