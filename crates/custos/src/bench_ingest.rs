//! P2: one large recording through dock → server (TLS on loopback), against
//! `cp` of the same bytes onto the same disk, in the same run.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use custos_camera::storage::CameraConfig;
use custos_camera::CameraDir;
use custos_dock::{Dock, DockConfig};
use custos_format::*;
use custos_keys::secrecy::SecretString;

use crate::bench::noise;

pub(crate) const PASS: &str = "bench-ingest";

pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

pub fn run(
    size: u64,
    dir: Option<PathBuf>,
    storage: crate::bench_storage::BenchStorage,
) -> Result<ExitCode> {
    let tmp = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
    let data = tmp.path().join("server");
    let store = custos_keys::EvidenceKeyStore::new(&data);
    let recipient = store.init(&SecretString::from(PASS.to_owned()), 10)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let storage = rt.block_on(storage.prepare(&data, "ingest"))?;

    // A camera with one recording of `size` ciphertext bytes.
    let cam = bench_camera(&tmp.path().join("cam"), "bench-cam", "boa-1", &recipient)?;
    eprintln!(
        "writing a {:.2} GiB recording…",
        size as f64 / (1u64 << 30) as f64
    );
    let signed = synthetic_recording(&cam, &recipient, size, 7)?;
    let ciphertext = signed.manifest().ciphertext.clone();
    let paths = cam.recording_paths(1, &signed.manifest().recording_id);

    // Reference: cp of the same bytes to the server's disk, made durable.
    let copy = data.join("cp-reference.age");
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"cp "$1" "$2" && sync "$2""#)
        .arg("sh")
        .arg(&paths.ciphertext)
        .arg(&copy)
        .status()?;
    let cp_s = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("cp failed");
    }
    std::fs::remove_file(&copy)?;
    // On S3, a second reference: the same bytes put straight into the same
    // store by object_store, the best any server in front of it could do.
    let direct_put_s = match storage.config.blobs {
        None => None,
        Some(_) => {
            let blobs = storage.config.open_blobs(&data)?;
            let started = Instant::now();
            rt.block_on(blobs.put_file("reference/direct-put.age", &paths.ciphertext))?;
            let elapsed = started.elapsed().as_secs_f64();
            rt.block_on(blobs.delete("reference/direct-put.age"))?;
            Some(elapsed)
        }
    };

    // The server, as its own process so its memory is its own.
    let (mut server, port) = spawn_server(&data)?;
    let token = rt.block_on(async {
        let admin = custos_server::admin::Admin::open(&data).await?;
        admin
            .enroll_camera("bench-cam", &cam.verifying_key()?)
            .await?;
        anyhow::Ok(admin.enroll_dock("bench-dock").await?.token)
    })?;
    crate::device::pin(
        cam.root(),
        &custos_server::keys::receipt_public_key(&data)?.to_hex(),
    )?;
    let rss_before = peak_rss_kib(server.id()).unwrap_or(0);
    let dock = Dock::new(DockConfig {
        server: format!("https://localhost:{port}"),
        dock_id: "bench-dock".into(),
        token,
        server_certificate_pem: std::fs::read_to_string(data.join("tls/cert.pem"))?,
    })?;
    let started = Instant::now();
    let last_piece = std::sync::Mutex::new(started);
    let (receipt, _) = dock.upload_recording(&cam, &paths, &|_| {
        *last_piece.lock().expect("lock") = Instant::now()
    })?;
    let ingest_s = started.elapsed().as_secs_f64();
    let sending_s = last_piece
        .lock()
        .expect("lock")
        .duration_since(started)
        .as_secs_f64();
    let rss_peak = peak_rss_kib(server.id()).unwrap_or(0);
    let started = Instant::now();
    custos_camera::wipe::wipe(&cam, &paths, &receipt)?;
    let wipe_s = started.elapsed().as_secs_f64();
    let _ = server.kill();
    let _ = server.wait();
    let backend = storage.describe();
    rt.block_on(storage.remove(&data))?;
    let mb = ciphertext.length as f64 / 1e6;
    let ratio = cp_s / ingest_s;
    println!(
        "P2 ingest of one {:.2} GiB recording, dock -> server over TLS on loopback, stored in {backend}",
        ciphertext.length as f64 / (1u64 << 30) as f64
    );
    println!(
        "  cp + sync of the same bytes      {cp_s:7.2} s  {:7.1} MB/s",
        mb / cp_s
    );
    if let Some(put_s) = direct_put_s {
        println!(
            "  direct put to the same S3 store  {put_s:7.2} s  {:7.1} MB/s  (ratio ingest / put {:.2}x)",
            mb / put_s,
            put_s / ingest_s
        );
    }
    println!(
        "  dock -> server, verified, stored {ingest_s:7.2} s  {:7.1} MB/s",
        mb / ingest_s
    );
    println!("  ratio ingest / cp                {ratio:7.2}x   (goal >= 0.8x)");
    println!(
        "    of which offer + sending       {sending_s:7.2} s; verify + store + receipt {:.2} s",
        ingest_s - sending_s
    );
    println!("  then the camera's wipe           {wipe_s:7.2} s  (re-hashes its copy before deleting it)");
    println!(
        "  server peak RSS                  {:7.1} MiB (before upload {:.1} MiB; goal <= 256 MiB)",
        rss_peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );
    println!(
        "{}",
        serde_json::json!({"bench": "ingest", "storage": backend, "bytes": ciphertext.length, "cp_s": cp_s, "direct_put_s": direct_put_s, "ingest_s": ingest_s, "wipe_s": wipe_s, "ratio": ratio, "server_peak_rss_kib": rss_peak})
    );
    Ok(ExitCode::SUCCESS)
}

/// One synthetic recording of `size` ciphertext bytes on `cam`, chained after
/// its current head; returns the signed manifest.
pub(crate) fn synthetic_recording(
    cam: &CameraDir,
    recipient: &age::x25519::Recipient,
    size: u64,
    seed: u64,
) -> Result<SignedManifest> {
    use custos_camera::storage::ChainHead;
    let mut state = cam.load_state()?;
    let sequence = state.next_sequence;
    let t0 =
        UtcMillis::from_millis(1_795_424_400_000 + sequence as i64 * 120_000).context("time")?;
    let id = uuid::Uuid::now_v7();
    let paths = cam.recording_paths(sequence, &id);
    let file =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&paths.ciphertext)?);
    let mut writer = RecordingWriter::new(file, recipient)?;
    let plaintext_target = (size / AGE_ENCRYPTED_CHUNK_SIZE * AGE_CHUNK_SIZE).max(1);
    let block = noise((plaintext_target as usize).min(8 << 20), seed);
    let mut written = 0u64;
    while written < plaintext_target {
        let n = block.len().min((plaintext_target - written) as usize);
        writer.append(&block[..n])?;
        written += n as u64;
    }
    let (mut file, ciphertext, plaintext) = writer.finish()?;
    file.flush()?;
    let config = cam.load_config()?;
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        recording_id: id,
        device_id: config.device_id.clone(),
        sequence,
        previous_manifest_sha256: state.head_hash()?,
        officer_id: config.officer_id.clone(),
        started_at: t0,
        triggered_at: t0,
        ended_at: t0.plus_millis(60_000),
        trigger: Trigger::RecordButton,
        stop_reason: StopReason::StopButton,
        prerecord_seconds: 0,
        prerecord_included_ms: 0,
        video: VideoParams {
            codec: "h264".into(),
            container: "fmp4".into(),
            width: 1920,
            height: 1080,
            fps: 30,
            max_fragment_ms: 1000,
        },
        gps: vec![],
        bookmarks: vec![],
        display_events: vec![],
        encryption: Encryption {
            scheme: "age-v1".into(),
            recipient: recipient.to_string(),
        },
        ciphertext,
        plaintext: Some(plaintext),
        firmware: "bench".into(),
        truncated: false,
    };
    let signed = SignedManifest::sign(manifest, &cam.signing_key()?)?;
    std::fs::write(&paths.signature, signed.signature())?;
    std::fs::write(&paths.manifest, signed.bytes())?;
    state.next_sequence = sequence + 1;
    state.head = Some(ChainHead {
        sequence,
        manifest_sha256: hex::encode(signed.sha256()),
    });
    cam.save_state(&state)?;
    Ok(signed)
}

/// A camera for the server benchmarks: 1080p30 at 8 Mbit/s, no pre-record,
/// worn by `officer`, encrypting to `recipient`.
pub(crate) fn bench_camera(
    root: &std::path::Path,
    device_id: &str,
    officer: &str,
    recipient: &age::x25519::Recipient,
) -> Result<CameraDir> {
    let cam = CameraDir::new(root);
    cam.init(&CameraConfig {
        device_id: device_id.into(),
        evidence_recipient: recipient.to_string(),
        officer_id: Some(officer.into()),
        prerecord_seconds: 0,
        width: 1920,
        height: 1080,
        fps: 30,
        bitrate_bps: 8_000_000,
        storage_capacity_bytes: None,
        display_triggers_recording: false,
        simulated_gps: false,
        simulated_gps_start: None,
        server_receipt_key: None,
    })?;
    Ok(cam)
}

/// Starts `custos serve` on port 0 for `data`; returns the child and its port.
pub(crate) fn spawn_server(data: &std::path::Path) -> Result<(std::process::Child, u16)> {
    spawn_server_with(data, &[])
}

/// [`spawn_server`] with more environment (a fault to inject, say).
pub(crate) fn spawn_server_with(
    data: &std::path::Path,
    env: &[(&str, &str)],
) -> Result<(std::process::Child, u16)> {
    let (server, ports) =
        spawn_server_saying(data, env, &[], &["Custos evidence server on https://"])?;
    Ok((server, ports[0]))
}

/// `custos serve` with `args` added, once it has said each of `lines`
/// (in order), each followed by the address it listens on: their ports.
pub(crate) fn spawn_server_saying(
    data: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
    lines: &[&str],
) -> Result<(std::process::Child, Vec<u16>)> {
    let mut server = Command::new(std::env::current_exe()?)
        .envs(env.iter().copied())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(args)
        .env("CUSTOS_PASSPHRASE", PASS)
        .env("CUSTOS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut said = BufReader::new(server.stderr.take().context("stderr")?).lines();
    let mut ports = Vec::new();
    for wanted in lines {
        let port: u16 = loop {
            let line = said.next().context("the server exited")??;
            if let Some(addr) = line.trim_start().strip_prefix(wanted) {
                let addr = addr.split('/').next().unwrap_or(addr);
                break addr.rsplit(':').next().context("port")?.parse()?;
            }
        };
        ports.push(port);
    }
    std::thread::spawn(move || for _ in said {});
    Ok((server, ports))
}

pub fn shift_change(
    cameras: usize,
    recordings: usize,
    size: u64,
    concurrency: usize,
    dir: Option<PathBuf>,
) -> Result<ExitCode> {
    let tmp = tempfile::tempdir_in(dir.unwrap_or_else(std::env::temp_dir))?;
    let data = tmp.path().join("server");
    let recipient =
        custos_keys::EvidenceKeyStore::new(&data).init(&SecretString::from(PASS.to_owned()), 10)?;
    let (mut server, port) = spawn_server(&data)?;
    let receipt_key = custos_server::keys::receipt_public_key(&data)?.to_hex();
    eprintln!("preparing {cameras} cameras with {recordings} recordings of {size} bytes each…");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let admin = rt.block_on(custos_server::admin::Admin::open(&data))?;
    let mut dirs = Vec::new();
    for c in 0..cameras {
        let cam = bench_camera(
            &tmp.path().join(format!("cam-{c:04}")),
            &format!("cam-{c:04}"),
            &format!("boa-{c:04}"),
            &recipient,
        )?;
        rt.block_on(admin.enroll_camera(&format!("cam-{c:04}"), &cam.verifying_key()?))?;
        crate::device::pin(cam.root(), &receipt_key)?;
        for r in 0..recordings {
            synthetic_recording(&cam, &recipient, size, (c * recordings + r) as u64 + 1)?;
        }
        dirs.push(cam.root().to_owned());
    }
    let token = rt.block_on(admin.enroll_dock("shift-dock"))?.token;
    let latencies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let dock = std::sync::Arc::new(
        Dock::new(DockConfig {
            server: format!("https://localhost:{port}"),
            dock_id: "shift-dock".into(),
            token,
            server_certificate_pem: std::fs::read_to_string(data.join("tls/cert.pem"))?,
        })?
        .record_latencies(latencies.clone()),
    );
    let started = Instant::now();
    let outcomes = crate::dock::offload_all(&dock, dirs, concurrency);
    let total_s = started.elapsed().as_secs_f64();
    let rss = peak_rss_kib(server.id()).unwrap_or(0);
    let _ = server.kill();
    let _ = server.wait();
    let mut errors = 0;
    let mut stored = 0;
    for (path, outcome) in &outcomes {
        match outcome {
            Ok(r) if r.interrupted.is_none() && r.refused.is_empty() && r.wiped == recordings => {
                stored += r.stored
            }
            Ok(r) => {
                errors += 1;
                eprintln!("{}: {r:?}", path.display());
            }
            Err(e) => {
                errors += 1;
                eprintln!("{}: {e:#}", path.display());
            }
        }
    }
    let mut l: Vec<f64> = latencies
        .lock()
        .expect("latencies")
        .iter()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    l.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    };
    println!("Shift change: {cameras} cameras x {recordings} recordings of {size} B, {concurrency} at once");
    println!("  total                 {total_s:8.2} s   ({} recordings stored, {errors} cameras with errors)", stored);
    println!("  requests              {:8}", l.len());
    println!(
        "  latency p50 / p99     {:8.1} / {:.1} ms  (dock-side: request sent to answer)",
        pct(0.5),
        pct(0.99)
    );
    println!("  server peak RSS       {:8.1} MiB", rss as f64 / 1024.0);
    println!(
        "{}",
        serde_json::json!({"bench": "shift-change", "cameras": cameras, "recordings": recordings, "size": size,
            "concurrency": concurrency, "total_s": total_s, "stored": stored, "errors": errors,
            "p50_ms": pct(0.5), "p99_ms": pct(0.99), "server_peak_rss_kib": rss})
    );
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
